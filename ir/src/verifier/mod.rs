//! The verifier: is a module well-formed TTIR, with the types and shapes
//! Triton's (and MLIR's) op definitions require?
//!
//! [`verify`] runs three passes over the module and reports every problem,
//! each located at the op it concerns (TTIR `file:line:col` plus the Python
//! source line from the op's `loc`), ordered by position:
//!
//! 1. [`structure`]: regions, blocks and terminators are where they belong;
//!    symbols are unique; branches stay in their region.
//! 2. Every op: the types it defines are well formed ([`type_validity`]),
//!    then its own rule, by family: [`func_call`], [`tt_shape`],
//!    [`tt_memory`], [`tt_compute`], [`arith_math`], [`scf_cf`], [`misc`].
//! 3. [`dominance`]: every use sees a definition (SSA scoping and
//!    dominance; `tt.func` bodies are isolated from above).
//!
//! Rules assume nothing about their input beyond what they check, so a
//! malformed module yields diagnostics, never a panic.

mod arith_math;
mod dominance;
mod func_call;
mod map_elementwise;
mod misc;
mod op_context;
mod scf_cf;
mod shapes;
mod structure;
mod tt_compute;
mod tt_memory;
mod tt_shape;
mod type_validity;

#[cfg(test)]
mod test_builder;

use cranelift_entity::SecondaryMap;

use crate::diagnostic::Diagnostic;
use crate::entities::Op;
use crate::module::Module;
use crate::opcode::Opcode;

use arith_math::{Cast, Elem};
use op_context::{Check, OpCx};

pub use type_validity::MAX_TENSOR_ELEMENTS;

/// Checks `module`; on failure returns every problem found, ordered by their
/// position in the TTIR text.
pub fn verify(module: &Module) -> Result<(), Vec<Diagnostic>> {
    let mut report = Report::new(module);
    structure::check(module, &mut report);
    module.walk(&mut |op| {
        if let Err(message) = values_exist(module, op) {
            report.error(op, message);
        } else if let Err(message) = type_validity_of_op(module, op) {
            report.error(op, message);
        } else if let Err(message) = check_op(&OpCx::new(module, op)) {
            report.error(op, message);
        }
    });
    dominance::check(module, &mut report);
    report.finish()
}

/// Collects diagnostics and orders them by TTIR position (ops built in
/// memory, without a position, come after, in program order).
pub(crate) struct Report<'m> {
    module: &'m Module,
    program_order: SecondaryMap<Op, u32>,
    found: Vec<(Op, Diagnostic)>,
}

impl<'m> Report<'m> {
    fn new(module: &'m Module) -> Report<'m> {
        let mut program_order = SecondaryMap::new();
        let mut next = 0u32;
        module.walk(&mut |op| {
            program_order[op] = next;
            next += 1;
        });
        Report {
            module,
            program_order,
            found: Vec::new(),
        }
    }

    /// Reports `message` at `op`.
    pub(crate) fn error(&mut self, op: Op, message: String) {
        let diagnostic = self.module.op_diagnostic(op, message);
        self.found.push((op, diagnostic));
    }

    fn finish(mut self) -> Result<(), Vec<Diagnostic>> {
        if self.found.is_empty() {
            return Ok(());
        }
        let order = &self.program_order;
        self.found
            .sort_by_key(|(op, d)| (d.pos.is_none(), d.pos, order[*op]));
        self.found.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        Err(self.found.into_iter().map(|(_, d)| d).collect())
    }
}

/// Every operand and result names a value of the module (ops built in
/// memory could hold stale ids; the rules below index values freely).
fn values_exist(module: &Module, op: Op) -> Check {
    let dfg = &module.dfg;
    let all = dfg.operands(op).iter().chain(dfg.results(op));
    if all.into_iter().any(|&v| !dfg.values.is_valid(v)) {
        return Err(format!(
            "`{}` uses a value that does not exist",
            dfg.opcode(op).name()
        ));
    }
    Ok(())
}

/// The types an op defines (its results and the arguments of the blocks in
/// its regions) must be well formed. Checked once, where they are defined.
fn type_validity_of_op(module: &Module, op: Op) -> Check {
    let cx = OpCx::new(module, op);
    for (i, &v) in cx.results().iter().enumerate() {
        if let Some(problem) = type_validity::type_problem(cx.ty(v)) {
            let which = if cx.results().len() == 1 {
                "result".to_string()
            } else {
                format!("result #{i}")
            };
            return Err(format!("{problem} (in the {which} of `{}`)", cx.name()));
        }
    }
    for &region in cx.regions() {
        for (b, &block) in module.layout.blocks(region).iter().enumerate() {
            for (i, &arg) in module.dfg.blocks[block].args.iter().enumerate() {
                if let Some(problem) = type_validity::type_problem(cx.ty(arg)) {
                    let which = if cx.opcode == Opcode::Func && b == 0 {
                        format!("parameter #{i} of `tt.func` @{}", module.func_name(op))
                    } else {
                        format!("block argument #{i} of a region of `{}`", cx.name())
                    };
                    return Err(format!("{problem} (in {which})"));
                }
            }
        }
    }
    Ok(())
}

/// The rule of one op, by opcode. The match is exhaustive so that a new
/// opcode cannot be added without deciding how it is verified.
fn check_op(cx: &OpCx) -> Check {
    use Opcode::*;
    match cx.opcode {
        Func => func_call::func(cx),
        Return => func_call::ret(cx),
        Call => func_call::call(cx),

        GetProgramId | GetNumPrograms => tt_compute::program_index(cx),
        MakeRange => tt_shape::make_range(cx),
        Splat => tt_shape::splat(cx),
        Unsplat => tt_shape::unsplat(cx),
        Broadcast => tt_shape::broadcast(cx),
        ExpandDims => tt_shape::expand_dims(cx),
        Reshape => tt_shape::reshape(cx),
        Trans => tt_shape::trans(cx),
        Cat => tt_shape::cat(cx),
        Join => tt_shape::join(cx),
        Split => tt_shape::split(cx),
        Gather => tt_shape::gather(cx),
        Histogram => tt_shape::histogram(cx),

        AddPtr => tt_memory::addptr(cx),
        Load => tt_memory::load(cx),
        Store => tt_memory::store(cx),
        AtomicRmw => tt_memory::atomic_rmw(cx),
        AtomicCas => tt_memory::atomic_cas(cx),
        IntToPtr => tt_memory::int_to_ptr(cx),
        PtrToInt => tt_memory::ptr_to_int(cx),
        MakeTensorPtr => tt_memory::make_tensor_ptr(cx),
        Advance => tt_memory::advance(cx),
        MakeTensorDescriptor => tt_memory::make_tensor_descriptor(cx),
        DescriptorLoad => tt_memory::descriptor_load(cx),
        DescriptorStore => tt_memory::descriptor_store(cx),
        DescriptorGather => tt_memory::descriptor_gather(cx),
        DescriptorScatter => tt_memory::descriptor_scatter(cx),
        DescriptorReduce => tt_memory::descriptor_reduce(cx),

        Dot => tt_compute::dot(cx),
        DotScaled => tt_compute::dot_scaled(cx),
        Reduce => tt_compute::reduce(cx),
        Scan => tt_compute::scan(cx),
        ReduceReturn | ScanReturn => tt_compute::combiner_return(cx),
        MapElementwise => map_elementwise::map_elementwise(cx),
        MapElementwiseReturn => map_elementwise::map_elementwise_return(cx),
        FpToFp => tt_compute::fp_to_fp(cx),
        Bitcast => tt_compute::bitcast(cx),
        ClampF => arith_math::clampf(cx),
        PreciseSqrt => arith_math::same_type(cx, 1, Elem::Float),
        PreciseDivF => arith_math::same_type(cx, 2, Elem::Float),
        MulhiUI => arith_math::same_type(cx, 2, Elem::Int),
        ExternElementwise => tt_compute::extern_elementwise(cx),

        Assert => misc::assert(cx),
        Print => misc::print(cx),

        Constant => arith_math::constant(cx),
        AddI | SubI | MulI | DivSI | DivUI | CeilDivSI | CeilDivUI | FloorDivSI | RemSI | RemUI
        | AndI | OrI | XOrI | ShLI | ShRSI | ShRUI | MaxSI | MaxUI | MinSI | MinUI => {
            arith_math::same_type(cx, 2, Elem::Int)
        }
        MulSIExtended | MulUIExtended => arith_math::mul_extended(cx),
        AddF | SubF | MulF | DivF | RemF | MaximumF | MinimumF | MaxNumF | MinNumF => {
            arith_math::same_type(cx, 2, Elem::Float)
        }
        NegF => arith_math::same_type(cx, 1, Elem::Float),
        CmpI => arith_math::compare(cx, Elem::Int),
        CmpF => arith_math::compare(cx, Elem::Float),
        Select => arith_math::select(cx),
        ExtSI | ExtUI => arith_math::cast(cx, Cast::ExtendInt),
        TruncI => arith_math::cast(cx, Cast::TruncateInt),
        ExtF => arith_math::cast(cx, Cast::ExtendFloat),
        TruncF => arith_math::cast(cx, Cast::TruncateFloat),
        SIToFP | UIToFP => arith_math::cast(cx, Cast::IntToFloat),
        FPToSI | FPToUI => arith_math::cast(cx, Cast::FloatToInt),
        ArithBitcast => arith_math::cast(cx, Cast::Bitcast),
        IndexCast | IndexCastUI => arith_math::cast(cx, Cast::Index),

        Exp | Exp2 | Log | Log2 | Sqrt | Rsqrt | AbsF | Sin | Cos | Tanh | Erf | Floor | Ceil => {
            arith_math::same_type(cx, 1, Elem::Float)
        }
        AbsI => arith_math::same_type(cx, 1, Elem::Int),
        Fma => arith_math::same_type(cx, 3, Elem::Float),

        For => scf_cf::for_loop(cx),
        If => scf_cf::if_else(cx),
        While => scf_cf::while_loop(cx),
        Yield => scf_cf::yield_values(cx),
        Condition => scf_cf::condition(cx),
        Br => scf_cf::br(cx),
        CondBr => scf_cf::cond_br(cx),

        Poison => misc::poison(cx),
        Assume => misc::assume(cx),
        Barrier | GpuBarrier => misc::barrier(cx),
    }
}

#[cfg(test)]
mod tests {
    use super::test_builder::{i32_attr, Builder};
    use crate::opcode::Opcode;
    use crate::types::Type;
    use crate::Attribute;

    /// The shape of Triton's vector-add kernel, built op by op.
    #[test]
    fn vector_add_kernel_verifies() {
        let ptr = Type::ptr(Type::F32);
        let v = |elem: Type| Type::tensor(vec![1024], elem);
        let mut b = Builder::kernel(&[ptr.clone(), ptr.clone(), ptr.clone(), Type::I32]);
        let (x, y, out, n) = (b.arg(0), b.arg(1), b.arg(2), b.arg(3));
        let pid = b.op_attrs(
            Opcode::GetProgramId,
            &[],
            &[Type::I32],
            &[("axis", i32_attr(0))],
        );
        let block = b.op_attrs(
            Opcode::Constant,
            &[],
            &[Type::I32],
            &[("value", i32_attr(1024))],
        );
        let start = b.op(Opcode::MulI, &[pid, block], &[Type::I32]);
        let range = b.op_attrs(
            Opcode::MakeRange,
            &[],
            &[v(Type::I32)],
            &[("start", i32_attr(0)), ("end", i32_attr(1024))],
        );
        let base = b.op(Opcode::Splat, &[start], &[v(Type::I32)]);
        let offs = b.op(Opcode::AddI, &[base, range], &[v(Type::I32)]);
        let limit = b.op(Opcode::Splat, &[n], &[v(Type::I32)]);
        let mask = b.op_attrs(
            Opcode::CmpI,
            &[offs, limit],
            &[v(Type::I1)],
            &[("predicate", Attribute::Enum("slt".into()))],
        );
        let load = |b: &mut Builder, p| {
            let ps = b.op(Opcode::Splat, &[p], &[v(ptr.clone())]);
            let at = b.op(Opcode::AddPtr, &[ps, offs], &[v(ptr.clone())]);
            (at, b.op(Opcode::Load, &[at, mask], &[v(Type::F32)]))
        };
        let (_, xs) = load(&mut b, x);
        let (_, ys) = load(&mut b, y);
        let (out_at, _) = load(&mut b, out);
        let sum = b.op(Opcode::AddF, &[xs, ys], &[v(Type::F32)]);
        b.op(Opcode::Store, &[out_at, sum, mask], &[]);
        b.ret();
        b.assert_ok();
    }

    #[test]
    fn invalid_result_types_are_reported_once_at_their_definition() {
        let mut b = Builder::kernel(&[Type::F32]);
        let x = b.arg(0);
        let huge = b.op(
            Opcode::Splat,
            &[x],
            &[Type::tensor(vec![1 << 16, 1 << 16], Type::F32)],
        );
        b.op(
            Opcode::AddF,
            &[huge, huge],
            &[Type::tensor(vec![1 << 16, 1 << 16], Type::F32)],
        );
        b.ret();
        b.assert_errors(&[
            "tensor too large: `tensor<65536x65536xf32>` has 4294967296 elements; Triton allows at most 1048576 (in the result of `tt.splat`)",
            "tensor too large",
        ]);
    }
}
