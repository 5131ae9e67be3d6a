//! Lowering: TTIR (after cleanup and access analysis) → tile IR.
//!
//! Every TTIR value gets a [`ValueLoc`]: integer, pointer and `i1` scalars
//! live in control-processor registers ([`SOp`]); tensors and float
//! scalars live in TSRAM buffers, addressed through a [`BView`] (so
//! `tt.broadcast`, `tt.expand_dims`, `tt.trans` and most reshapes are new
//! views of the same buffer, not copies). Ops are lowered one by one, in
//! program order, into the body currently being built; structured control
//! flow nests bodies.
//!
//! The families live one per file: [`scalar`] (CP arithmetic), [`control`]
//! (`scf.*`, `tt.call`, asserts), [`elementwise`] (TVP micro-programs),
//! [`shape`] (views and copies), [`memory`] (loads, stores, atomics,
//! descriptors, via the access analysis), [`dot`] (`tt.dot`,
//! `tt.dot_scaled` on the TTU) and [`reduce`] (`tt.reduce`, `tt.scan`,
//! `tt.gather`, `tt.histogram`).
//!
//! A construct the machine cannot express is a located [`Diagnostic`]
//! naming the op and the Python line — never a panic, never a wrong answer.

mod control;
mod dma_rank;
mod dot;
mod elementwise;
mod memory;
mod rank;
mod reduce;
mod scalar;
mod shape;

use std::collections::HashMap;

use maiac_backend::isa::{ArgDecl, ArgKind, DType, DebugLoc, DebugLocId, PyLoc};
use maiac_backend::machine::Machine;
use maiac_ir::{Diagnostic, Module, Op, Opcode, Type, Value};

use crate::access::{self, AccessMap};
use crate::tile::{BView, BufSpace, SOp, SReg, TOp, TOpKind, TileKernel};

/// How many blocks a kernel's branches may lower in all (blocks reached
/// along several paths count once per path).
const MAX_BLOCK_LOWERINGS: u32 = 256;

/// Where a TTIR value lives after lowering.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueLoc {
    /// An integer, pointer or `i1` scalar in a register (or an immediate),
    /// canonically sign-extended from its width to 64 bits.
    Scalar(SOp),
    /// A tensor, or a float scalar (rank-0 view), in TSRAM.
    Tensor(BView),
    /// A value with no run-time representation (block pointers and tensor
    /// descriptors: the access analysis describes them; `ub.poison`).
    Opaque,
}

/// The lowering state.
pub struct Lowerer<'m> {
    pub module: &'m Module,
    pub machine: &'m Machine,
    pub func: Op,
    pub access: AccessMap,
    pub kernel: TileKernel,
    values: HashMap<Value, ValueLoc>,
    /// Bodies under construction; the innermost is last.
    bodies: Vec<Vec<TOp>>,
    /// The debug location of the op being lowered.
    current_loc: Option<DebugLocId>,
    /// The op being lowered (for diagnostics).
    current_op: Option<Op>,
    /// The registers of the access analysis' loop-carried slots
    /// (`Atom::Carried { arg, slot }`), created by `begin_carried`.
    carried_regs: std::collections::BTreeMap<(Value, u32), SReg>,
    /// State of the lowering families in this crate's files that other
    /// files need not know about.
    scratch: Scratch,
}

/// Bookkeeping of the scalar/elementwise/shape/control lowering.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// How many `tt.call`s are being inlined around the op being lowered.
    inline_depth: usize,
    /// Rank-0 buffers written with a CP scalar by `tt.splat`, with that
    /// scalar: a map reading a splat takes the register as a scalar input
    /// instead (the store then usually becomes dead).
    splat_sources: std::collections::BTreeMap<crate::tile::Buf, SOp>,
}

/// Lowers the kernel function `func` of `module` (already cleaned up) to
/// tile IR for `machine`.
pub fn lower(module: &Module, func: Op, machine: &Machine) -> Result<TileKernel, Diagnostic> {
    let access = access::analyze(module, func);
    let mut cx = Lowerer {
        module,
        machine,
        func,
        access,
        kernel: TileKernel {
            name: module.func_name(func).to_string(),
            written_args: crate::access::provenance::written_args(module, func),
            read_args: crate::access::provenance::read_args(module, func),
            ..TileKernel::default()
        },
        values: HashMap::new(),
        bodies: vec![Vec::new()],
        current_loc: None,
        current_op: None,
        carried_regs: std::collections::BTreeMap::new(),
        scratch: Scratch::default(),
    };
    cx.lower_entry()?;
    let body = cx.bodies.pop().unwrap_or_default();
    cx.kernel.body = body;
    Ok(cx.kernel)
}

impl<'m> Lowerer<'m> {
    /// Binds the kernel's parameters and lowers its body.
    fn lower_entry(&mut self) -> Result<(), Diagnostic> {
        let module = self.module;
        let entry = module.func_entry(self.func).ok_or_else(|| {
            Diagnostic::new(format!(
                "the kernel @{} has no body",
                module.func_name(self.func)
            ))
            .at(&module.source_name, module.dfg.ops[self.func].pos)
        })?;
        let params = module.dfg.blocks[entry].args.clone();
        for (i, &v) in params.iter().enumerate() {
            let ty = module.dfg.value_type(v).clone();
            let name = module.dfg.values[v]
                .name
                .clone()
                .unwrap_or_else(|| format!("arg{i}"));
            let kind = if let Some(pointee) = ty.pointee() {
                ArgKind::Pointer {
                    pointee: scalar_dtype(pointee).unwrap_or(DType::I8),
                }
            } else {
                ArgKind::Scalar {
                    dtype: scalar_dtype(&ty).ok_or_else(|| {
                        self.func_error(format!(
                            "kernel parameter {name} has type {ty}, which the machine cannot pass"
                        ))
                    })?,
                }
            };
            self.kernel.args.push(ArgDecl {
                name: name.clone(),
                kind,
            });
            let reg = self.kernel.new_sreg(scalar_width(&ty), name);
            self.emit(TOpKind::Arg {
                dst: reg,
                index: i as u32,
            });
            if ty.is_float() {
                // Float scalars live in TSRAM: store the raw bits.
                let view = self.new_tensor_buf(&ty, "arg")?;
                let bytes = (scalar_width(&ty) / 8).max(1) as u8;
                self.emit(TOpKind::StoreScalar {
                    src: SOp::Reg(reg),
                    dst: view.clone(),
                    bytes,
                });
                self.set(v, ValueLoc::Tensor(view));
            } else {
                // Canonicalise narrow integers even though the ISA's `arg`
                // sign-extends: a launch may hand over the raw bits of the
                // parameter's width (the emulator's launch layer does), and
                // every CP sequence relies on the canonical form.
                let width = scalar_width(&ty);
                let value = match width {
                    w if w >= 64 => SOp::Reg(reg),
                    1 => self.alu(maiac_backend::isa::AluOp::And, SOp::Reg(reg), SOp::Imm(1)),
                    w => {
                        let shift = SOp::Imm(i64::from(64 - w));
                        let up = self.alu(maiac_backend::isa::AluOp::Shl, SOp::Reg(reg), shift);
                        self.alu(maiac_backend::isa::AluOp::AShr, up, shift)
                    }
                };
                self.set(v, ValueLoc::Scalar(value));
            }
        }
        self.lower_block_ops(entry)
    }

    /// Lowers every op of `block` in order. A `tt.return` ends it; region
    /// terminators are handled by their parent op, which reads their
    /// operands. A `cf.br` / `cf.cond_br` (Triton emits them for an early
    /// `return` inside an `if`) continues into its successor blocks, see
    /// [`Lowerer::lower_branch`].
    pub fn lower_block_ops(&mut self, block: maiac_ir::Block) -> Result<(), Diagnostic> {
        let mut path = Vec::new();
        let mut budget = MAX_BLOCK_LOWERINGS;
        self.lower_cfg_block(block, &mut path, &mut budget)
    }

    fn lower_cfg_block(
        &mut self,
        block: maiac_ir::Block,
        path: &mut Vec<maiac_ir::Block>,
        budget: &mut u32,
    ) -> Result<(), Diagnostic> {
        path.push(block);
        let ops = self.module.layout.ops(block).to_vec();
        for op in ops {
            let opcode = self.module.dfg.opcode(op);
            if matches!(opcode, Opcode::Br | Opcode::CondBr) {
                let saved = (self.current_loc, self.current_op);
                self.current_loc = Some(self.debug_loc(op));
                self.current_op = Some(op);
                let result = self.lower_branch(op, path, budget);
                (self.current_loc, self.current_op) = saved;
                result?;
                continue;
            }
            if opcode.is_terminator() {
                continue;
            }
            self.lower_op(op)?;
        }
        path.pop();
        Ok(())
    }

    /// Lowers a branch of an acyclic block graph structurally: `cf.br`
    /// continues with its target, `cf.cond_br` becomes an `If` whose
    /// branches lower the two targets (blocks reached along several paths
    /// are lowered once per path, within a budget). Successor block
    /// arguments take the locations of the branch operands. A branch back
    /// to a block on the current path (a loop built from branches) is
    /// refused with a diagnostic.
    fn lower_branch(
        &mut self,
        op: Op,
        path: &mut Vec<maiac_ir::Block>,
        budget: &mut u32,
    ) -> Result<(), Diagnostic> {
        let dfg = &self.module.dfg;
        let opcode = dfg.opcode(op);
        let successors = dfg.ops[op].successors.clone();
        let operands = dfg.operands(op).to_vec();
        let unstructured = |this: &Self| {
            this.error(
                op,
                format!(
                    "`{}`: this unstructured control flow (a loop made of branches, or too many paths) cannot be lowered; use scf.for/scf.while",
                    opcode.name()
                ),
            )
        };
        if successors.iter().any(|b| path.contains(b)) || *budget < successors.len() as u32 {
            return Err(unstructured(self));
        }
        *budget -= successors.len() as u32;
        let bind =
            |this: &mut Self, target: maiac_ir::Block, args: &[Value]| -> Result<(), Diagnostic> {
                let params = this.module.dfg.blocks[target].args.clone();
                if params.len() != args.len() {
                    return Err(this.error(
                        op,
                        "the branch operands do not match the successor's arguments",
                    ));
                }
                for (&param, &arg) in params.iter().zip(args) {
                    let loc = this.loc(arg)?;
                    this.set(param, loc);
                }
                Ok(())
            };
        match (opcode, successors.as_slice()) {
            (Opcode::Br, &[target]) => {
                bind(self, target, &operands)?;
                self.lower_cfg_block(target, path, budget)
            }
            (Opcode::CondBr, &[on_true, on_false]) if !operands.is_empty() => {
                let cond = self.scalar(operands[0])?;
                let rest = &operands[1..];
                // The true successor's operands come first (MLIR's
                // operand segments: condition, true args, false args).
                let true_count = self.module.dfg.blocks[on_true].args.len();
                if true_count > rest.len() {
                    return Err(unstructured(self));
                }
                let (true_args, false_args) = rest.split_at(true_count);
                let (true_args, false_args) = (true_args.to_vec(), false_args.to_vec());
                let then_body = self.with_body(|this| {
                    bind(this, on_true, &true_args)?;
                    this.lower_cfg_block(on_true, path, budget)
                })?;
                let else_body = self.with_body(|this| {
                    bind(this, on_false, &false_args)?;
                    this.lower_cfg_block(on_false, path, budget)
                })?;
                self.emit(TOpKind::If {
                    cond,
                    then_body,
                    else_body,
                });
                Ok(())
            }
            _ => Err(unstructured(self)),
        }
    }

    /// Lowers one op (dispatch by family).
    fn lower_op(&mut self, op: Op) -> Result<(), Diagnostic> {
        let saved = (self.current_loc, self.current_op);
        self.current_loc = Some(self.debug_loc(op));
        self.current_op = Some(op);
        let result = self.lower_op_inner(op);
        (self.current_loc, self.current_op) = saved;
        result
    }

    fn lower_op_inner(&mut self, op: Op) -> Result<(), Diagnostic> {
        use Opcode::*;
        let opcode = self.module.dfg.opcode(op);
        match opcode {
            For | If | While | Call | Assert | Print | Assume | Barrier | GpuBarrier | Poison => {
                self.lower_control(op)
            }
            GetProgramId | GetNumPrograms => self.lower_program_id(op),
            Constant => self.lower_constant(op),
            MakeRange => self.lower_make_range(op),
            Splat | Unsplat | Broadcast | ExpandDims | Reshape | Trans | Cat | Join | Split => {
                self.lower_shape(op)
            }
            Load | Store | AtomicRmw | AtomicCas | MakeTensorPtr | Advance
            | MakeTensorDescriptor | DescriptorLoad | DescriptorStore | DescriptorGather
            | DescriptorScatter | DescriptorReduce | IntToPtr | PtrToInt => self.lower_memory(op),
            Dot | DotScaled => self.lower_dot(op),
            Reduce | Scan | Gather | Histogram => self.lower_reduce(op),
            _ if opcode.is_elementwise()
                || matches!(
                    opcode,
                    AddPtr
                        | FpToFp
                        | Bitcast
                        | ClampF
                        | PreciseSqrt
                        | PreciseDivF
                        | MulhiUI
                        | ExternElementwise
                        | MulSIExtended
                        | MulUIExtended
                ) =>
            {
                self.lower_elementwise(op)
            }
            _ => Err(self.error(
                op,
                format!("`{}` cannot be lowered to the machine", opcode.name()),
            )),
        }
    }

    // ---- values ----

    /// The location of a value lowered earlier.
    pub fn loc(&self, v: Value) -> Result<ValueLoc, Diagnostic> {
        self.values.get(&v).cloned().ok_or_else(|| {
            let op = self.current_op.unwrap_or(self.func);
            self.error(op, "internal: an operand was not lowered before its use")
        })
    }

    pub fn set(&mut self, v: Value, loc: ValueLoc) {
        self.values.insert(v, loc);
    }

    /// The TTIR type of a value.
    pub fn ty(&self, v: Value) -> &'m Type {
        self.module.dfg.value_type(v)
    }

    /// The `i`-th operand / result of an op.
    pub fn operand(&self, op: Op, i: usize) -> Value {
        self.module.dfg.operands(op)[i]
    }

    pub fn result(&self, op: Op, i: usize) -> Value {
        self.module.dfg.results(op)[i]
    }

    /// A fresh register of `width` bits.
    pub fn new_sreg(&mut self, width: u32, name: impl Into<String>) -> SReg {
        self.kernel.new_sreg(width, name)
    }

    /// A fresh TSRAM buffer for a value of type `ty` (tensor or scalar),
    /// viewed whole.
    pub fn new_tensor_buf(&mut self, ty: &Type, name: &str) -> Result<BView, Diagnostic> {
        let elem = ty.element();
        let dtype = scalar_dtype(elem).ok_or_else(|| {
            let op = self.current_op.unwrap_or(self.func);
            self.error(
                op,
                format!("values of type {elem} have no machine representation"),
            )
        })?;
        let shape = self.shape_u32(ty)?;
        Ok(self.new_buf(dtype, &shape, BufSpace::Tsram, name))
    }

    /// A fresh buffer, viewed whole.
    pub fn new_buf(&mut self, dtype: DType, shape: &[u32], space: BufSpace, name: &str) -> BView {
        let buf = self.kernel.new_buf(dtype, shape, space, name);
        BView::whole(buf, shape)
    }

    /// The shape of a (tensor) type as `u32`s; scalars are rank 0.
    pub fn shape_u32(&self, ty: &Type) -> Result<Vec<u32>, Diagnostic> {
        ty.shape()
            .iter()
            .map(|&d| {
                u32::try_from(d).map_err(|_| {
                    let op = self.current_op.unwrap_or(self.func);
                    self.error(op, format!("dimension {d} is out of range"))
                })
            })
            .collect()
    }

    /// A value as a scalar operand (it must be a CP scalar).
    pub fn scalar(&self, v: Value) -> Result<SOp, Diagnostic> {
        match self.loc(v)? {
            ValueLoc::Scalar(s) => Ok(s),
            ValueLoc::Tensor(_) | ValueLoc::Opaque => {
                let op = self.current_op.unwrap_or(self.func);
                Err(self.error(
                    op,
                    "internal: expected a scalar held by the control processor",
                ))
            }
        }
    }

    /// A value as a tensor view; a CP scalar is stored into a fresh
    /// rank-0 buffer (so float/int scalars can feed TVP ops).
    pub fn view(&mut self, v: Value) -> Result<BView, Diagnostic> {
        match self.loc(v)? {
            ValueLoc::Tensor(view) => Ok(view),
            ValueLoc::Scalar(s) => {
                let ty = self.ty(v).clone();
                let view = self.new_tensor_buf(&ty, "scalar")?;
                let bytes = (scalar_width(&ty) / 8).max(1) as u8;
                self.emit(TOpKind::StoreScalar {
                    src: s,
                    dst: view.clone(),
                    bytes,
                });
                Ok(view)
            }
            ValueLoc::Opaque => {
                let op = self.current_op.unwrap_or(self.func);
                Err(self.error(
                    op,
                    "this value (a block pointer or tensor descriptor) cannot be used as data",
                ))
            }
        }
    }

    // ---- emission ----

    /// Appends an op to the body being built, at the current location.
    /// TVP ops with views of more than four dims are first brought down to
    /// the machine's rank ([`rank`]).
    pub fn emit(&mut self, kind: TOpKind) {
        let loc = self.current_loc;
        let body = self.bodies.last_mut().expect("a body is always open");
        for kind in rank::fit_rank(kind) {
            body.push(TOp { kind, loc });
        }
    }

    /// Runs `f` with a fresh body open and returns what it emitted.
    pub fn with_body(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), Diagnostic>,
    ) -> Result<Vec<TOp>, Diagnostic> {
        self.bodies.push(Vec::new());
        let result = f(self);
        let body = self.bodies.pop().unwrap_or_default();
        result.map(|()| body)
    }

    // ---- diagnostics and locations ----

    /// A located error for `op`.
    pub fn error(&self, op: Op, message: impl Into<String>) -> Diagnostic {
        self.module.op_diagnostic(op, message)
    }

    fn func_error(&self, message: impl Into<String>) -> Diagnostic {
        self.module.op_diagnostic(self.func, message)
    }

    /// The debug location of an op (TTIR position and Python source).
    fn debug_loc(&mut self, op: Op) -> DebugLocId {
        let data = &self.module.dfg.ops[op];
        let (line, col) = data.pos.map(|p| (p.line, p.col)).unwrap_or((0, 0));
        let python = self.module.op_python_source(op).map(|p| PyLoc {
            file: p.file.clone(),
            line: p.line,
            col: p.col,
        });
        self.kernel.intern_loc(DebugLoc {
            op_name: self.module.dfg.opcode(op).name().to_string(),
            ttir_line: line,
            ttir_col: col,
            python,
        })
    }
}

/// The machine element type of a TTIR scalar type (pointers are `i64`
/// addresses).
pub fn scalar_dtype(ty: &Type) -> Option<DType> {
    if ty.is_ptr() {
        return Some(DType::I64);
    }
    if let Some(w) = ty.int_width() {
        return DType::int(w);
    }
    ty.float_type().map(DType::float)
}

/// The width in bits of a scalar type's value (pointers: 64).
pub fn scalar_width(ty: &Type) -> u32 {
    let elem = ty.element();
    if elem.is_ptr() {
        return 64;
    }
    elem.int_width()
        .or_else(|| elem.float_type().map(|f| f.bits()))
        .unwrap_or(64)
}
