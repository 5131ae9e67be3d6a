//! Interpreter tests on hand-built modules (independent of the parser):
//! masked loads/stores, out-of-bounds detection, the three combiner paths of
//! reductions, scans, loops, dots and assertions.

use maiac_ir::{AttrList, Attribute, Block, FloatType, Module, Op, Opcode, Type, Value};
use maiac_runtime_emu::launch::{bind, ArgValue, Grid, HostBuffer, LaunchSpec, NpyDtype};

use super::{kernel_params, run_kernel, InterpOutcome};

/// A minimal builder for one-function modules.
struct FuncBuilder {
    module: Module,
    block: Block,
}

fn i32_attr(v: i64) -> Attribute {
    Attribute::Int {
        value: i128::from(v),
        ty: Type::I32,
    }
}

fn tensor(shape: &[i64], elem: Type) -> Type {
    Type::tensor(shape.to_vec(), elem)
}

impl FuncBuilder {
    fn new(params: &[(&str, Type)]) -> (FuncBuilder, Vec<Value>) {
        let mut module = Module::new("test.ttir");
        let loc = module.locs.unknown();
        let mut attrs = AttrList::new();
        attrs.set("sym_name", Attribute::String("kernel".into()));
        attrs.set(
            "function_type",
            Attribute::FunctionType {
                inputs: params.iter().map(|(_, t)| t.clone()).collect(),
                results: vec![],
            },
        );
        let func = module.dfg.make_op(Opcode::Func, &[], &[], attrs, loc);
        module.layout.append_op(module.body, func);
        let region = module.dfg.make_region(func);
        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        let block = module.dfg.make_block(Some(region), &types);
        module.layout.append_block(region, block);
        let args = module.dfg.blocks[block].args.clone();
        for (&v, (name, _)) in args.iter().zip(params) {
            module.dfg.values[v].name = Some(name.to_string());
        }
        (FuncBuilder { module, block }, args)
    }

    fn op(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        results: &[Type],
        attrs: &[(&str, Attribute)],
    ) -> (Op, Vec<Value>) {
        let loc = self.module.locs.unknown();
        let list = attrs
            .iter()
            .map(|(n, a)| maiac_ir::NamedAttr {
                name: n.to_string(),
                value: a.clone(),
            })
            .collect();
        let op = self
            .module
            .dfg
            .make_op(opcode, operands, results, list, loc);
        self.module.layout.append_op(self.block, op);
        let values = self.module.dfg.results(op).to_vec();
        (op, values)
    }

    fn val(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        result: Type,
        attrs: &[(&str, Attribute)],
    ) -> Value {
        self.op(opcode, operands, &[result], attrs).1[0]
    }

    fn const_i32(&mut self, v: i64) -> Value {
        self.val(Opcode::Constant, &[], Type::I32, &[("value", i32_attr(v))])
    }

    /// Adds a region with one block to `parent` and makes it current; returns
    /// the block arguments and the previous block to return to.
    fn enter_region(&mut self, parent: Op, arg_types: &[Type]) -> (Vec<Value>, Block) {
        let region = self.module.dfg.make_region(parent);
        let block = self.module.dfg.make_block(Some(region), arg_types);
        self.module.layout.append_block(region, block);
        let previous = std::mem::replace(&mut self.block, block);
        (self.module.dfg.blocks[block].args.clone(), previous)
    }

    fn leave_region(&mut self, previous: Block) {
        self.block = previous;
    }

    fn finish(mut self) -> Module {
        self.op(Opcode::Return, &[], &[], &[]);
        self.module
    }
}

fn f32_buffer(values: &[f32]) -> ArgValue {
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    ArgValue::Buffer(
        HostBuffer::new(NpyDtype::parse("<f4").unwrap(), vec![values.len()], bytes).unwrap(),
    )
}

fn i32_buffer(values: &[i32]) -> ArgValue {
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    ArgValue::Buffer(
        HostBuffer::new(NpyDtype::parse("<i4").unwrap(), vec![values.len()], bytes).unwrap(),
    )
}

fn as_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn as_i32(bytes: &[u8]) -> Vec<i32> {
    bytes
        .chunks(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn run(
    module: &Module,
    grid: &str,
    args: Vec<(&str, ArgValue)>,
) -> Result<InterpOutcome, maiac_ir::Diagnostic> {
    let mut spec = LaunchSpec::new(Grid::parse(grid).unwrap());
    for (name, value) in args {
        spec.push_arg(name, value).unwrap();
    }
    let launch = bind(&kernel_params(module).unwrap(), &spec).unwrap();
    run_kernel(module, &launch)
}

/// `out[i] = x[i] + y[i]` for `i < n`, BLOCK = 4 per program.
fn vec_add_module() -> Module {
    let ptr = Type::ptr(Type::F32);
    let (mut b, p) = FuncBuilder::new(&[
        ("x", ptr.clone()),
        ("y", ptr.clone()),
        ("out", ptr.clone()),
        ("n", Type::I32),
    ]);
    let t_i32 = tensor(&[4], Type::I32);
    let t_ptr = tensor(&[4], ptr.clone());
    let t_f32 = tensor(&[4], Type::F32);
    let pid = b.val(
        Opcode::GetProgramId,
        &[],
        Type::I32,
        &[("axis", i32_attr(0))],
    );
    let four = b.const_i32(4);
    let start = b.val(Opcode::MulI, &[pid, four], Type::I32, &[]);
    let range = b.val(
        Opcode::MakeRange,
        &[],
        t_i32.clone(),
        &[("start", i32_attr(0)), ("end", i32_attr(4))],
    );
    let starts = b.val(Opcode::Splat, &[start], t_i32.clone(), &[]);
    let offs = b.val(Opcode::AddI, &[starts, range], t_i32.clone(), &[]);
    let ns = b.val(Opcode::Splat, &[p[3]], t_i32.clone(), &[]);
    let mask = b.val(
        Opcode::CmpI,
        &[offs, ns],
        tensor(&[4], Type::I1),
        &[("predicate", Attribute::Enum("slt".into()))],
    );
    let load = |b: &mut FuncBuilder, base: Value| {
        let ptrs = b.val(Opcode::Splat, &[base], t_ptr.clone(), &[]);
        let addrs = b.val(Opcode::AddPtr, &[ptrs, offs], t_ptr.clone(), &[]);
        b.val(Opcode::Load, &[addrs, mask], t_f32.clone(), &[])
    };
    let x = load(&mut b, p[0]);
    let y = load(&mut b, p[1]);
    let sum = b.val(Opcode::AddF, &[x, y], t_f32.clone(), &[]);
    let outs = b.val(Opcode::Splat, &[p[2]], t_ptr.clone(), &[]);
    let out_addrs = b.val(Opcode::AddPtr, &[outs, offs], t_ptr, &[]);
    b.op(Opcode::Store, &[out_addrs, sum, mask], &[], &[]);
    b.finish()
}

#[test]
fn masked_vector_add() {
    let module = vec_add_module();
    let x: Vec<f32> = (0..10).map(|i| i as f32).collect();
    let y: Vec<f32> = (0..10).map(|i| 0.5 * i as f32).collect();
    let outcome = run(
        &module,
        "3",
        vec![
            ("x", f32_buffer(&x)),
            ("y", f32_buffer(&y)),
            ("out", f32_buffer(&[0.0; 10])),
            ("n", ArgValue::Bits(10)),
        ],
    )
    .unwrap();
    assert_eq!(outcome.programs, 3);
    let out = as_f32(&outcome.buffers[2]);
    let expected: Vec<f32> = (0..10).map(|i| 1.5 * i as f32).collect();
    assert_eq!(out, expected);
}

#[test]
fn out_of_bounds_access_names_op_element_and_buffer() {
    let module = vec_add_module();
    let err = run(
        &module,
        "3",
        vec![
            ("x", f32_buffer(&[1.0; 10])),
            ("y", f32_buffer(&[1.0; 10])),
            ("out", f32_buffer(&[0.0; 10])),
            ("n", ArgValue::Bits(12)),
        ],
    )
    .unwrap_err();
    let text = err.render(None);
    assert!(text.contains("tt.load"), "{text}");
    assert!(text.contains("element 2 (index [2])"), "{text}");
    assert!(text.contains("buffer `x`"), "{text}");
    assert!(text.contains("program (2, 0, 0)"), "{text}");
}

/// Reduces a 6-element f32 input to its maximum with one of three
/// equivalent combiners and stores it.
fn max_reduce_module(combiner: &str) -> Module {
    let ptr = Type::ptr(Type::F32);
    let (mut b, p) = FuncBuilder::new(&[("x", ptr.clone()), ("out", ptr.clone())]);
    let t_i32 = tensor(&[6], Type::I32);
    let range = b.val(
        Opcode::MakeRange,
        &[],
        t_i32,
        &[("start", i32_attr(0)), ("end", i32_attr(6))],
    );
    let ptrs = b.val(Opcode::Splat, &[p[0]], tensor(&[6], ptr.clone()), &[]);
    let addrs = b.val(
        Opcode::AddPtr,
        &[ptrs, range],
        tensor(&[6], ptr.clone()),
        &[],
    );
    let x = b.val(Opcode::Load, &[addrs], tensor(&[6], Type::F32), &[]);
    let (reduce, results) = b.op(Opcode::Reduce, &[x], &[Type::F32], &[("axis", i32_attr(0))]);
    let (args, outer) = b.enter_region(reduce, &[Type::F32, Type::F32]);
    let result = match combiner {
        "direct" => b.val(Opcode::MaxNumF, &[args[0], args[1]], Type::F32, &[]),
        "sliced" => {
            let gt = b.val(
                Opcode::CmpF,
                &[args[0], args[1]],
                Type::I1,
                &[("predicate", Attribute::Enum("ogt".into()))],
            );
            b.val(Opcode::Select, &[gt, args[0], args[1]], Type::F32, &[])
        }
        _ => {
            let gt = b.val(
                Opcode::CmpF,
                &[args[0], args[1]],
                Type::I1,
                &[("predicate", Attribute::Enum("ogt".into()))],
            );
            let (if_op, if_results) = b.op(Opcode::If, &[gt], &[Type::F32], &[]);
            let (_, parent) = b.enter_region(if_op, &[]);
            b.op(Opcode::Yield, &[args[0]], &[], &[]);
            b.leave_region(parent);
            let (_, parent) = b.enter_region(if_op, &[]);
            b.op(Opcode::Yield, &[args[1]], &[], &[]);
            b.leave_region(parent);
            if_results[0]
        }
    };
    b.op(Opcode::ReduceReturn, &[result], &[], &[]);
    b.leave_region(outer);
    b.op(Opcode::Store, &[p[1], results[0]], &[], &[]);
    b.finish()
}

#[test]
fn reductions_agree_across_combiner_strategies() {
    for combiner in ["direct", "sliced", "per-element"] {
        let module = max_reduce_module(combiner);
        let outcome = run(
            &module,
            "1",
            vec![
                ("x", f32_buffer(&[3.0, -1.0, 7.5, 2.0, 7.0, 0.0])),
                ("out", f32_buffer(&[0.0])),
            ],
        )
        .unwrap();
        assert_eq!(as_f32(&outcome.buffers[1]), vec![7.5], "{combiner}");
    }
}

/// Inclusive prefix sums of a 2x3 i32 matrix along axis 1.
fn scan_module(reverse: bool) -> Module {
    let ptr = Type::ptr(Type::I32);
    let (mut b, p) = FuncBuilder::new(&[("x", ptr.clone()), ("out", ptr.clone())]);
    let range = b.val(
        Opcode::MakeRange,
        &[],
        tensor(&[6], Type::I32),
        &[("start", i32_attr(0)), ("end", i32_attr(6))],
    );
    let ptrs = b.val(Opcode::Splat, &[p[0]], tensor(&[6], ptr.clone()), &[]);
    let addrs = b.val(
        Opcode::AddPtr,
        &[ptrs, range],
        tensor(&[6], ptr.clone()),
        &[],
    );
    let flat = b.val(Opcode::Load, &[addrs], tensor(&[6], Type::I32), &[]);
    let x = b.val(Opcode::Reshape, &[flat], tensor(&[2, 3], Type::I32), &[]);
    let (scan, results) = b.op(
        Opcode::Scan,
        &[x],
        &[tensor(&[2, 3], Type::I32)],
        &[("axis", i32_attr(1)), ("reverse", Attribute::Bool(reverse))],
    );
    let (args, outer) = b.enter_region(scan, &[Type::I32, Type::I32]);
    let sum = b.val(Opcode::AddI, &[args[0], args[1]], Type::I32, &[]);
    b.op(Opcode::ScanReturn, &[sum], &[], &[]);
    b.leave_region(outer);
    let flat_out = b.val(Opcode::Reshape, &[results[0]], tensor(&[6], Type::I32), &[]);
    let out_ptrs = b.val(Opcode::Splat, &[p[1]], tensor(&[6], ptr.clone()), &[]);
    let out_addrs = b.val(Opcode::AddPtr, &[out_ptrs, range], tensor(&[6], ptr), &[]);
    b.op(Opcode::Store, &[out_addrs, flat_out], &[], &[]);
    b.finish()
}

#[test]
fn scans_forward_and_reverse() {
    for (reverse, expected) in [(false, [1, 3, 6, 4, 9, 15]), (true, [6, 5, 3, 15, 11, 6])] {
        let module = scan_module(reverse);
        let outcome = run(
            &module,
            "1",
            vec![
                ("x", i32_buffer(&[1, 2, 3, 4, 5, 6])),
                ("out", i32_buffer(&[0; 6])),
            ],
        )
        .unwrap();
        assert_eq!(as_i32(&outcome.buffers[1]), expected, "reverse = {reverse}");
    }
}

#[test]
fn for_loop_carries_values() {
    // out = Σ iv for iv in lb..ub step 3.
    let ptr = Type::ptr(Type::I32);
    let (mut b, p) = FuncBuilder::new(&[("out", ptr), ("lb", Type::I32), ("ub", Type::I32)]);
    let zero = b.const_i32(0);
    let three = b.const_i32(3);
    let (for_op, results) = b.op(Opcode::For, &[p[1], p[2], three, zero], &[Type::I32], &[]);
    let (args, outer) = b.enter_region(for_op, &[Type::I32, Type::I32]);
    let next = b.val(Opcode::AddI, &[args[1], args[0]], Type::I32, &[]);
    b.op(Opcode::Yield, &[next], &[], &[]);
    b.leave_region(outer);
    b.op(Opcode::Store, &[p[0], results[0]], &[], &[]);
    let module = b.finish();
    let cases = [(0, 10, 18), (-4, 3, -4 + -1 + 2), (5, 5, 0), (7, 2, 0)];
    for (lb, ub, expected) in cases {
        let outcome = run(
            &module,
            "1",
            vec![
                ("out", i32_buffer(&[99])),
                ("lb", ArgValue::Bits(u64::from(lb as u32))),
                ("ub", ArgValue::Bits(u64::from(ub as u32))),
            ],
        )
        .unwrap();
        assert_eq!(as_i32(&outcome.buffers[0]), vec![expected], "{lb}..{ub}");
    }
}

#[test]
fn dot_of_f16_inputs_accumulates_in_f32() {
    // a (2x3, f16) · b (3x2, f16) + 0 → f32, stored to out.
    let ptr_f16 = Type::ptr(Type::Float(FloatType::F16));
    let ptr_f32 = Type::ptr(Type::F32);
    let (mut b, p) = FuncBuilder::new(&[
        ("a", ptr_f16.clone()),
        ("b", ptr_f16.clone()),
        ("out", ptr_f32.clone()),
    ]);
    let f16 = Type::Float(FloatType::F16);
    let range = b.val(
        Opcode::MakeRange,
        &[],
        tensor(&[6], Type::I32),
        &[("start", i32_attr(0)), ("end", i32_attr(6))],
    );
    let load = |b: &mut FuncBuilder, base: Value, shape: &[i64]| {
        let ptrs = b.val(Opcode::Splat, &[base], tensor(&[6], ptr_f16.clone()), &[]);
        let addrs = b.val(
            Opcode::AddPtr,
            &[ptrs, range],
            tensor(&[6], ptr_f16.clone()),
            &[],
        );
        let flat = b.val(Opcode::Load, &[addrs], tensor(&[6], f16.clone()), &[]);
        b.val(Opcode::Reshape, &[flat], tensor(shape, f16.clone()), &[])
    };
    let a = load(&mut b, p[0], &[2, 3]);
    let bm = load(&mut b, p[1], &[3, 2]);
    let zero = Attribute::Dense {
        ty: tensor(&[2, 2], Type::F32),
        elems: maiac_ir::DenseElements::Splat(Box::new(Attribute::Float {
            bits: 0,
            ty: FloatType::F32,
        })),
    };
    let c = b.val(
        Opcode::Constant,
        &[],
        tensor(&[2, 2], Type::F32),
        &[("value", zero)],
    );
    let d = b.val(
        Opcode::Dot,
        &[a, bm, c],
        tensor(&[2, 2], Type::F32),
        &[("inputPrecision", Attribute::Enum("ieee".into()))],
    );
    let flat = b.val(Opcode::Reshape, &[d], tensor(&[4], Type::F32), &[]);
    let r4 = b.val(
        Opcode::MakeRange,
        &[],
        tensor(&[4], Type::I32),
        &[("start", i32_attr(0)), ("end", i32_attr(4))],
    );
    let outs = b.val(Opcode::Splat, &[p[2]], tensor(&[4], ptr_f32.clone()), &[]);
    let out_addrs = b.val(Opcode::AddPtr, &[outs, r4], tensor(&[4], ptr_f32), &[]);
    b.op(Opcode::Store, &[out_addrs, flat], &[], &[]);
    let module = b.finish();
    let f16_buffer = |values: &[f32]| {
        let bytes = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        ArgValue::Buffer(
            HostBuffer::new(NpyDtype::parse("<f2").unwrap(), vec![values.len()], bytes).unwrap(),
        )
    };
    let outcome = run(
        &module,
        "1",
        vec![
            ("a", f16_buffer(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
            ("b", f16_buffer(&[1.0, 0.5, -1.0, 2.0, 0.25, 1.0])),
            ("out", f32_buffer(&[0.0; 4])),
        ],
    )
    .unwrap();
    assert_eq!(as_f32(&outcome.buffers[2]), vec![-0.25, 7.5, 0.5, 18.0]);
}

#[test]
fn failing_assert_reports_its_message() {
    let (mut b, p) = FuncBuilder::new(&[("n", Type::I32)]);
    let ten = b.const_i32(10);
    let ok = b.val(
        Opcode::CmpI,
        &[p[0], ten],
        Type::I1,
        &[("predicate", Attribute::Enum("slt".into()))],
    );
    b.op(
        Opcode::Assert,
        &[ok],
        &[],
        &[("message", Attribute::String("n must be below 10".into()))],
    );
    let module = b.finish();
    assert!(run(&module, "1", vec![("n", ArgValue::Bits(3))]).is_ok());
    let err = run(&module, "1", vec![("n", ArgValue::Bits(12))]).unwrap_err();
    assert!(
        err.message.contains("assertion failed: n must be below 10"),
        "{}",
        err.message
    );
}

#[test]
fn atomics_run_in_program_order_and_return_old_values() {
    // old = atomic_rmw add counter, 1; out[pid] = old.
    let ptr = Type::ptr(Type::I32);
    let (mut b, p) = FuncBuilder::new(&[("counter", ptr.clone()), ("out", ptr.clone())]);
    let pid = b.val(
        Opcode::GetProgramId,
        &[],
        Type::I32,
        &[("axis", i32_attr(0))],
    );
    let one = b.const_i32(1);
    let old = b.val(
        Opcode::AtomicRmw,
        &[p[0], one],
        Type::I32,
        &[
            ("atomic_rmw_op", Attribute::Enum("add".into())),
            ("sem", Attribute::Enum("acq_rel".into())),
        ],
    );
    let slot = b.val(Opcode::AddPtr, &[p[1], pid], ptr, &[]);
    b.op(Opcode::Store, &[slot, old], &[], &[]);
    let module = b.finish();
    let outcome = run(
        &module,
        "4",
        vec![("counter", i32_buffer(&[10])), ("out", i32_buffer(&[0; 4]))],
    )
    .unwrap();
    assert_eq!(as_i32(&outcome.buffers[0]), vec![14]);
    assert_eq!(as_i32(&outcome.buffers[1]), vec![10, 11, 12, 13]);
}

#[test]
fn block_pointer_loads_pad_checked_dimensions() {
    // A 3x3 global tensor; load the 2x2 block at (2, 1) with both
    // dimensions checked, then advance by (-2, 0) and load again.
    let ptr = Type::ptr(Type::I32);
    let (mut b, p) = FuncBuilder::new(&[("x", ptr.clone()), ("out", ptr.clone())]);
    let block_ty = tensor(&[2, 2], Type::I32);
    let i64c = |b: &mut FuncBuilder, v: i64| {
        b.val(
            Opcode::Constant,
            &[],
            Type::I64,
            &[(
                "value",
                Attribute::Int {
                    value: i128::from(v),
                    ty: Type::I64,
                },
            )],
        )
    };
    let three = i64c(&mut b, 3);
    let one64 = i64c(&mut b, 1);
    let row = b.const_i32(2);
    let col = b.const_i32(1);
    let bp = b.val(
        Opcode::MakeTensorPtr,
        &[p[0], three, three, three, one64, row, col],
        Type::ptr(block_ty.clone()),
        &[(
            "order",
            Attribute::DenseArray {
                elem: Type::I32,
                values: vec![1, 0],
            },
        )],
    );
    let check = (
        "boundaryCheck",
        Attribute::DenseArray {
            elem: Type::I32,
            values: vec![0, 1],
        },
    );
    let first = b.val(
        Opcode::Load,
        &[bp],
        block_ty.clone(),
        std::slice::from_ref(&check),
    );
    let minus_two = b.const_i32(-2);
    let zero = b.const_i32(0);
    let bp2 = b.val(
        Opcode::Advance,
        &[bp, minus_two, zero],
        Type::ptr(block_ty.clone()),
        &[],
    );
    let second = b.val(Opcode::Load, &[bp2], block_ty.clone(), &[check]);
    let both = b.val(
        Opcode::Join,
        &[first, second],
        tensor(&[2, 2, 2], Type::I32),
        &[],
    );
    let flat = b.val(Opcode::Reshape, &[both], tensor(&[8], Type::I32), &[]);
    let range = b.val(
        Opcode::MakeRange,
        &[],
        tensor(&[8], Type::I32),
        &[("start", i32_attr(0)), ("end", i32_attr(8))],
    );
    let outs = b.val(Opcode::Splat, &[p[1]], tensor(&[8], ptr.clone()), &[]);
    let addrs = b.val(Opcode::AddPtr, &[outs, range], tensor(&[8], ptr), &[]);
    b.op(Opcode::Store, &[addrs, flat], &[], &[]);
    let module = b.finish();
    let x: Vec<i32> = (1..=9).collect();
    let outcome = run(
        &module,
        "1",
        vec![("x", i32_buffer(&x)), ("out", i32_buffer(&[-1; 8]))],
    )
    .unwrap();
    // first = [[8, 9], [0, 0]] (row 3 is padding); second = [[2, 3], [5, 6]];
    // join interleaves them element by element.
    assert_eq!(as_i32(&outcome.buffers[1]), vec![8, 2, 9, 3, 0, 5, 0, 6]);
}

#[test]
fn tensor_descriptors_clip_like_tma() {
    // 2x3 global tensor, 2x2 block at (1, 2): only (1, 2) is inside.
    let ptr = Type::ptr(Type::I32);
    let (mut b, p) = FuncBuilder::new(&[("x", ptr.clone())]);
    let block_ty = tensor(&[2, 2], Type::I32);
    let i64c = |b: &mut FuncBuilder, v: i64| {
        b.val(
            Opcode::Constant,
            &[],
            Type::I64,
            &[(
                "value",
                Attribute::Int {
                    value: i128::from(v),
                    ty: Type::I64,
                },
            )],
        )
    };
    let (two, three) = (b.const_i32(2), b.const_i32(3));
    let (stride0, stride1) = (i64c(&mut b, 3), i64c(&mut b, 1));
    let desc = b.val(
        Opcode::MakeTensorDescriptor,
        &[p[0], two, three, stride0, stride1],
        Type::TensorDesc {
            block: Box::new(block_ty.clone()),
        },
        &[],
    );
    let (one, zero) = (b.const_i32(1), b.const_i32(0));
    let loaded = b.val(
        Opcode::DescriptorLoad,
        &[desc, one, two],
        block_ty.clone(),
        &[],
    );
    // Store the loaded block + 100 back at (0, 0): fully inside.
    let c100 = b.const_i32(100);
    let splat100 = b.val(Opcode::Splat, &[c100], block_ty.clone(), &[]);
    let shifted = b.val(Opcode::AddI, &[loaded, splat100], block_ty.clone(), &[]);
    b.op(
        Opcode::DescriptorStore,
        &[desc, shifted, zero, zero],
        &[],
        &[],
    );
    // And a store hanging off the bottom-right corner: only (1, 2) is written.
    b.op(
        Opcode::DescriptorStore,
        &[desc, shifted, one, two],
        &[],
        &[],
    );
    let module = b.finish();
    let outcome = run(&module, "1", vec![("x", i32_buffer(&[1, 2, 3, 4, 5, 6]))]).unwrap();
    // loaded = [[6, 0], [0, 0]]; shifted = [[106, 100], [100, 100]].
    assert_eq!(
        as_i32(&outcome.buffers[0]),
        vec![106, 100, 3, 100, 100, 106]
    );
}

#[test]
fn errors_carry_the_python_line() {
    let ptr = Type::ptr(Type::F32);
    let (mut b, p) = FuncBuilder::new(&[("x", ptr)]);
    let file = b.module.locs.push(maiac_ir::LocData::File {
        file: "kernels.py".into(),
        line: 42,
        col: 7,
    });
    let huge = b.const_i32(1000);
    let addr = b.val(Opcode::AddPtr, &[p[0], huge], Type::ptr(Type::F32), &[]);
    let (load, _) = b.op(Opcode::Load, &[addr], &[Type::F32], &[]);
    b.module.dfg.ops[load].loc = file;
    b.module.dfg.ops[load].pos = Some(maiac_ir::SrcPos { line: 5, col: 3 });
    let module = b.finish();
    let err = run(&module, "1", vec![("x", f32_buffer(&[0.0; 4]))]).unwrap_err();
    let text = err.render(None);
    assert!(text.contains("python: kernels.py:42:7"), "{text}");
    assert!(text.contains("test.ttir:5:3"), "{text}");
    assert!(
        text.contains("byte offset 4000 of buffer `x` (16 bytes)"),
        "{text}"
    );
}

#[test]
fn recursion_is_bounded() {
    // @kernel calls itself forever.
    let (mut b, _) = FuncBuilder::new(&[]);
    b.op(
        Opcode::Call,
        &[],
        &[],
        &[("callee", Attribute::Symbol("kernel".into()))],
    );
    let module = b.finish();
    let err = run(&module, "1", vec![]).unwrap_err();
    assert!(
        err.message.contains("nested deeper than 64"),
        "{}",
        err.message
    );
}

#[test]
fn unstructured_control_flow_follows_branches() {
    // ^entry: br ^loop(0); ^loop(i): i+1 < 5 ? br ^loop(i+1) : br ^exit(i+1); ^exit(v): store v.
    let ptr = Type::ptr(Type::I32);
    let (mut b, p) = FuncBuilder::new(&[("out", ptr)]);
    let region = b.module.dfg.ops[b.module.functions().next().unwrap()].regions[0];
    let loop_block = b.module.dfg.make_block(Some(region), &[Type::I32]);
    let exit_block = b.module.dfg.make_block(Some(region), &[Type::I32]);
    b.module.layout.append_block(region, loop_block);
    b.module.layout.append_block(region, exit_block);
    let zero = b.const_i32(0);
    let (br, _) = b.op(Opcode::Br, &[zero], &[], &[]);
    b.module.dfg.ops[br].successors = vec![loop_block];
    b.block = loop_block;
    let i = b.module.dfg.blocks[loop_block].args[0];
    let one = b.const_i32(1);
    let next = b.val(Opcode::AddI, &[i, one], Type::I32, &[]);
    let five = b.const_i32(5);
    let again = b.val(
        Opcode::CmpI,
        &[next, five],
        Type::I1,
        &[("predicate", Attribute::Enum("slt".into()))],
    );
    let (cond_br, _) = b.op(
        Opcode::CondBr,
        &[again, next, next],
        &[],
        &[(
            "operandSegmentSizes",
            Attribute::DenseArray {
                elem: Type::I32,
                values: vec![1, 1, 1],
            },
        )],
    );
    b.module.dfg.ops[cond_br].successors = vec![loop_block, exit_block];
    b.block = exit_block;
    let v = b.module.dfg.blocks[exit_block].args[0];
    b.op(Opcode::Store, &[p[0], v], &[], &[]);
    let module = b.finish();
    let outcome = run(&module, "1", vec![("out", i32_buffer(&[0]))]).unwrap();
    assert_eq!(as_i32(&outcome.buffers[0]), vec![5]);
}

#[test]
fn command_line_errors_name_the_argument() {
    let module = vec_add_module();
    let dir = std::env::temp_dir().join(format!("maiac-interp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = dir.join("x.npy");
    let bytes = [1.0f32, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    HostBuffer::new(NpyDtype::parse("<f4").unwrap(), vec![4], bytes)
        .unwrap()
        .write(&x)
        .unwrap();
    let arg = |s: &str| s.replace("X", &x.display().to_string());
    let args: Vec<String> = ["x=X", "y=X", "out=X"].iter().map(|s| arg(s)).collect();
    let err = super::interp_module(&module, None, "1", &args, &[]).unwrap_err();
    assert!(err.contains("missing argument `n`"), "{err}");
    let mut full = args.clone();
    full.push("n=4".into());
    let err = super::interp_module(&module, None, "0", &full, &[]).unwrap_err();
    assert!(
        err.contains("--grid") && err.contains("empty grid"),
        "{err}"
    );
    let err = super::interp_module(&module, None, "1", &full, &["n=o.npy".into()]).unwrap_err();
    assert!(err.contains("--out n"), "{err}");
    let out = dir.join("out.npy");
    super::interp_module(
        &module,
        None,
        "1",
        &full,
        &[format!("out={}", out.display())],
    )
    .unwrap();
    let written = HostBuffer::read(&out).unwrap();
    assert_eq!(as_f32(&written.bytes), vec![2.0, 4.0, 6.0, 8.0]);
    std::fs::remove_dir_all(&dir).ok();
}
