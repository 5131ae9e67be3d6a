//! Tests of the cleanup passes on hand-built kernels: what each pass does
//! and does not do, and that the whole pipeline leaves the interpreter's
//! results bit for bit unchanged. Fixture kernels are covered in
//! [`fixtures`].

mod combiner_asserts;
mod fixtures;
mod map_elementwise;

use maiac_ir::semantics::convert::canonical_nan;
use maiac_ir::{Attribute, DenseElements, FloatType, Module, Op, Opcode, Type, Value};
use maiac_runtime_emu::launch::{bind, ArgValue, Grid, HostBuffer, LaunchSpec, NpyDtype};

use super::{cleanup_passes, ConstantFold, Cse, Dce, Licm};
use crate::access::tests::builder::Builder;
use crate::access::tests::patterns;
use crate::interp::{kernel_params, run_kernel};
use crate::pass::{Pass, PassContext};

fn run_pass(m: &mut Module, mut pass: impl Pass<Module>) {
    pass.run(m, &mut PassContext::default()).expect("pass runs");
    if let Err(errors) = maiac_ir::verifier::verify(m) {
        panic!("{} left invalid IR: {errors:#?}", pass.name());
    }
}

/// The ops of the kernel body (top level), by opcode name.
fn top_level(m: &Module) -> Vec<&'static str> {
    let entry = m.func_entry(m.kernel().unwrap()).unwrap();
    m.layout
        .ops(entry)
        .iter()
        .map(|&op| m.dfg.opcode(op).name())
        .collect()
}

fn count(m: &Module, opcode: Opcode) -> usize {
    let mut n = 0;
    m.walk(&mut |op| {
        n += usize::from(m.dfg.opcode(op) == opcode && m.layout.op_block(op).is_some())
    });
    n
}

/// The `value` attribute of the constant defining `v`.
fn constant_of(m: &Module, v: Value) -> Attribute {
    let def = m.dfg.defining_op(v).expect("an op result");
    assert_eq!(m.dfg.opcode(def), Opcode::Constant, "{v} is not a constant");
    m.dfg.attr(def, "value").unwrap().clone()
}

/// The stored value of each `tt.store`, in order.
fn stored_values(m: &Module) -> Vec<Value> {
    let mut out = Vec::new();
    m.walk(&mut |op| {
        if m.dfg.opcode(op) == Opcode::Store {
            out.push(m.dfg.operands(op)[1]);
        }
    });
    out
}

fn f32_attr(x: f32) -> Attribute {
    Attribute::Float {
        bits: u64::from(x.to_bits()),
        ty: FloatType::F32,
    }
}

/// A kernel storing each value `build` returns through its own pointer
/// parameter (of the value's element type).
fn stores_of(elems: &[Type], build: impl FnOnce(&mut Builder) -> Vec<Value>) -> Module {
    let params: Vec<(String, Type)> = elems
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("out{i}"), Type::ptr(t.clone())))
        .collect();
    let named: Vec<(&str, Type)> = params
        .iter()
        .map(|(n, t)| (n.as_str(), t.clone()))
        .collect();
    let (mut b, p) = Builder::kernel(&named);
    let values = build(&mut b);
    for (v, ptr) in values.into_iter().zip(p) {
        let shape = b.ty(v).shape().to_vec();
        let ptr = if shape.is_empty() {
            ptr
        } else {
            let r = b.range(0, shape[0]);
            let s = b.splat(ptr, &shape);
            b.addptr(s, r)
        };
        b.store(ptr, v, None);
    }
    b.finish()
}

#[test]
fn folds_with_the_exact_semantics() {
    let bf16 = Type::Float(FloatType::BF16);
    let elems = [
        Type::I32,
        Type::I32,
        Type::I8,
        Type::F32,
        Type::F32,
        bf16,
        Type::I32,
    ];
    let mut m = stores_of(&elems, |b| {
        let (c3, c4, c0) = (b.const_i32(3), b.const_i32(4), b.const_i32(0));
        let sum = b.binary(Opcode::AddI, c3, c4);
        let div0 = b.binary(Opcode::DivSI, c3, c0);
        let lt = b.cmpi("slt", c3, c4);
        let lt = b.cast(Opcode::ExtUI, lt, 8);
        let one = b.val(
            Opcode::Constant,
            &[],
            Type::F32,
            &[("value", f32_attr(1.0))],
        );
        let neg = b.val(
            Opcode::Constant,
            &[],
            Type::F32,
            &[("value", f32_attr(-1.0))],
        );
        let two = b.binary(Opcode::AddF, one, one);
        let nan = b.val(Opcode::Sqrt, &[neg], Type::F32, &[]);
        let half = b.val(Opcode::TruncF, &[two], Type::Float(FloatType::BF16), &[]);
        let splat = b.splat(c3, &[4]);
        let splat2 = b.binary(Opcode::MulI, splat, splat);
        vec![sum, div0, lt, two, nan, half, splat2]
    });
    run_pass(&mut m, ConstantFold);
    let values = stored_values(&m);
    let attr = |i: usize| constant_of(&m, values[i]);
    assert_eq!(
        attr(0),
        Attribute::Int {
            value: 7,
            ty: Type::I32
        }
    );
    assert_eq!(
        attr(1),
        Attribute::Int {
            value: -1,
            ty: Type::I32
        },
        "x / 0 is all ones"
    );
    assert_eq!(
        attr(2),
        Attribute::Int {
            value: 1,
            ty: Type::I8
        }
    );
    assert_eq!(attr(3), f32_attr(2.0));
    assert_eq!(
        attr(4),
        Attribute::Float {
            bits: canonical_nan(FloatType::F32),
            ty: FloatType::F32
        }
    );
    assert_eq!(
        attr(5),
        Attribute::Float {
            bits: 0x4000,
            ty: FloatType::BF16
        }
    );
    match attr(6) {
        Attribute::Dense {
            elems: DenseElements::Splat(v),
            ..
        } => assert_eq!(
            *v,
            Attribute::Int {
                value: 9,
                ty: Type::I32
            }
        ),
        other => panic!("expected a splat, got {other:?}"),
    }
    assert_eq!(
        count(&m, Opcode::AddI) + count(&m, Opcode::MulI) + count(&m, Opcode::Sqrt),
        0
    );
}

#[test]
fn folds_integer_identities_only() {
    let (mut b, p) = Builder::kernel(&[
        ("out", Type::ptr(Type::F32)),
        ("x", Type::I32),
        ("f", Type::F32),
    ]);
    let (c0, c1) = (b.const_i32(0), b.const_i32(1));
    let add0 = b.binary(Opcode::AddI, c0, p[1]);
    let mul1 = b.binary(Opcode::MulI, add0, c1);
    let mul0 = b.binary(Opcode::MulI, mul1, c0);
    let sub = b.binary(Opcode::SubI, mul1, mul1);
    let zero = b.val(
        Opcode::Constant,
        &[],
        Type::F32,
        &[("value", f32_attr(0.0))],
    );
    let fadd = b.binary(Opcode::AddF, p[2], zero);
    let t = b.val(
        Opcode::Constant,
        &[],
        Type::I1,
        &[("value", Attribute::Bool(true))],
    );
    let sel = b.val(Opcode::Select, &[t, mul1, mul0], Type::I32, &[]);
    for v in [mul1, mul0, sub, sel] {
        let ptr = b.addptr(p[0], v);
        b.store(ptr, fadd, None);
    }
    let mut m = b.finish();
    run_pass(&mut m, ConstantFold);
    let mut offsets = Vec::new();
    m.walk(&mut |op| {
        if m.dfg.opcode(op) == Opcode::AddPtr {
            offsets.push(m.dfg.operands(op)[1]);
        }
    });
    let x = m
        .func_entry(m.kernel().unwrap())
        .map(|e| m.dfg.blocks[e].args[1])
        .unwrap();
    assert_eq!(offsets[0], x, "(0 + x) * 1 = x");
    assert_eq!(
        constant_of(&m, offsets[1]),
        Attribute::Int {
            value: 0,
            ty: Type::I32
        }
    );
    assert_eq!(
        constant_of(&m, offsets[2]),
        Attribute::Int {
            value: 0,
            ty: Type::I32
        }
    );
    assert_eq!(offsets[3], x, "select(true, x, 0) = x");
    assert_eq!(count(&m, Opcode::AddF), 1, "x + 0.0 is not x for x = -0.0");
}

#[test]
fn cse_merges_dominating_pure_ops_only() {
    let (mut b, p) = Builder::kernel(&[("x", Type::ptr(Type::F32)), ("c", Type::I1)]);
    let r1 = b.range(0, 8);
    let r2 = b.range(0, 8);
    let s1 = b.splat(p[0], &[8]);
    let s2 = b.splat(p[0], &[8]);
    let p1 = b.addptr(s1, r1);
    let p2 = b.addptr(s2, r2);
    let l1 = b.load(p1, None, None);
    let l2 = b.load(p2, None, None);
    let sum = b.binary(Opcode::AddF, l1, l2);
    let t = Type::tensor(vec![8], Type::F32);
    let branch = b.if_op(
        p[1],
        std::slice::from_ref(&t),
        |b| {
            let r3 = b.range(0, 8);
            let _inner = b.range(0, 4);
            let s = b.splat(p[0], &[8]);
            let q = b.addptr(s, r3);
            vec![b.load(q, None, None)]
        },
        |b| {
            let _inner = b.range(0, 4);
            vec![sum]
        },
    );
    b.store(p1, branch[0], None);
    let mut m = b.finish();
    run_pass(&mut m, Cse);
    assert_eq!(count(&m, Opcode::Load), 3, "loads are never merged");
    // r1/r2 merge, r3 merges with them (dominated); the two make_range(0, 4)
    // in sibling branches stay.
    assert_eq!(count(&m, Opcode::MakeRange), 3);
    assert_eq!(count(&m, Opcode::AddPtr), 1);
}

#[test]
fn dce_removes_dead_pure_code_and_keeps_effects() {
    let (mut b, p) = Builder::kernel(&[("x", Type::ptr(Type::F32)), ("n", Type::I32)]);
    let r = b.range(0, 8);
    let s = b.splat(p[0], &[8]);
    let ptrs = b.addptr(s, r);
    let dead_load = b.load(ptrs, None, None);
    let _dead_math = b.val(
        Opcode::Exp,
        &[dead_load],
        Type::tensor(vec![8], Type::F32),
        &[],
    );
    let (c0, c1) = (b.const_i32(0), b.const_i32(1));
    let zero = b.dense(&[8], Type::F32, f32_attr(0.0));
    // A dead loop with a pure body goes; a loop with a store stays.
    b.for_loop(c0, p[1], c1, &[zero], |b, _, acc| {
        let e = b.val(
            Opcode::Exp,
            &[acc[0]],
            Type::tensor(vec![8], Type::F32),
            &[],
        );
        vec![e]
    });
    b.for_loop(c0, p[1], c1, &[], |b, _, _| {
        b.store(ptrs, zero, None);
        vec![]
    });
    let mut m = b.finish();
    run_pass(&mut m, Dce);
    assert_eq!(count(&m, Opcode::Load), 0);
    assert_eq!(count(&m, Opcode::Exp), 0);
    assert_eq!(count(&m, Opcode::For), 1);
    assert_eq!(count(&m, Opcode::Store), 1);
    assert_eq!(
        top_level(&m),
        [
            "tt.make_range",
            "tt.splat",
            "tt.addptr",
            "arith.constant",
            "arith.constant",
            "arith.constant",
            "scf.for",
            "tt.return"
        ]
    );
}

#[test]
fn dce_keeps_loops_whose_step_is_not_a_positive_constant() {
    let (mut b, p) = Builder::kernel(&[("n", Type::I32), ("step", Type::I32)]);
    let c0 = b.const_i32(0);
    b.for_loop(c0, p[0], p[1], &[c0], |_, iv, _| vec![iv]);
    let mut m = b.finish();
    run_pass(&mut m, Dce);
    assert_eq!(
        count(&m, Opcode::For),
        1,
        "a non-positive step is an error the loop must still raise"
    );
}

#[test]
fn licm_hoists_invariant_chains_out_of_nested_loops() {
    let (mut b, p) = Builder::kernel(&[
        ("x", Type::ptr(Type::F32)),
        ("n", Type::I32),
        ("s", Type::I32),
    ]);
    let (c0, c1) = (b.const_i32(0), b.const_i32(1));
    b.for_loop(c0, p[1], c1, &[], |b, i, _| {
        b.for_loop(c0, p[1], c1, &[], |b, j, _| {
            let step = b.binary(Opcode::MulI, p[2], p[2]); // invariant in both loops
            let r = b.range(0, 8); // invariant in both loops
            let rs = b.splat(step, &[8]);
            let offs = b.binary(Opcode::MulI, r, rs); // invariant in both loops
            let row = b.binary(Opcode::MulI, i, p[2]); // invariant in the inner loop only
            let col = b.binary(Opcode::AddI, row, j); // varies
            let cs = b.splat(col, &[8]);
            let o = b.binary(Opcode::AddI, offs, cs);
            let base = b.splat(p[0], &[8]);
            let ptrs = b.addptr(base, o);
            let v = b.load(ptrs, None, None);
            b.store(ptrs, v, None);
            vec![]
        });
        vec![]
    });
    let mut m = b.finish();
    run_pass(&mut m, Licm);
    assert_eq!(
        top_level(&m),
        [
            "arith.constant",
            "arith.constant",
            "arith.muli",
            "tt.make_range",
            "tt.splat",
            "arith.muli",
            "tt.splat",
            "scf.for",
            "tt.return"
        ]
    );
    let outer = m.layout.ops(m.func_entry(m.kernel().unwrap()).unwrap())[7];
    let outer_body = m.layout.entry_block(m.dfg.ops[outer].regions[0]).unwrap();
    let names: Vec<&str> = m
        .layout
        .ops(outer_body)
        .iter()
        .map(|&op| m.dfg.opcode(op).name())
        .collect();
    assert_eq!(names, ["arith.muli", "scf.for", "scf.yield"]);
}

// ---- semantics ---------------------------------------------------------------

fn f16_buffer(values: &[f32]) -> ArgValue {
    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    ArgValue::Buffer(
        HostBuffer::new(NpyDtype::parse("<f2").unwrap(), vec![values.len()], bytes).unwrap(),
    )
}

fn f32_buffer(values: &[f32]) -> ArgValue {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    ArgValue::Buffer(
        HostBuffer::new(NpyDtype::parse("<f4").unwrap(), vec![values.len()], bytes).unwrap(),
    )
}

fn run(m: &Module, grid: [u32; 3], args: &[(&str, ArgValue)]) -> Vec<Vec<u8>> {
    let mut spec = LaunchSpec::new(Grid::new(grid[0], grid[1], grid[2]).unwrap());
    for (name, value) in args {
        spec.push_arg(name, value.clone()).unwrap();
    }
    let launch = bind(&kernel_params(m).unwrap(), &spec).unwrap();
    run_kernel(m, &launch)
        .unwrap_or_else(|d| panic!("{d}"))
        .buffers
}

/// Runs `m` before and after the cleanup pipeline; the buffers must agree
/// bit for bit. Returns the cleaned module.
fn cleanup_preserves_results(m: &Module, grid: [u32; 3], args: &[(&str, ArgValue)]) -> Module {
    let before = run(m, grid, args);
    let mut cleaned = m.clone();
    cleanup_passes()
        .run(&mut cleaned, &mut PassContext::default())
        .unwrap();
    maiac_ir::verifier::verify(&cleaned).unwrap_or_else(|e| panic!("{e:#?}"));
    let after = run(&cleaned, grid, args);
    assert!(before == after, "the cleanup pipeline changed the results");
    cleaned
}

#[test]
fn cleanup_keeps_interpreter_results() {
    let xs: Vec<f32> = (0..200).map(|i| (i as f32).sin()).collect();
    let m = patterns::vec_add(64);
    cleanup_preserves_results(
        &m,
        [4, 1, 1],
        &[
            ("x", f32_buffer(&xs)),
            ("out", f32_buffer(&[0.0; 200])),
            ("n", ArgValue::Bits(200)),
        ],
    );

    let a: Vec<f32> = (0..800).map(|i| (i % 37) as f32 * 0.25).collect();
    let m = patterns::matmul_tiles();
    let cleaned = cleanup_preserves_results(
        &m,
        [3, 1, 1],
        &[
            ("a", f16_buffer(&a)),
            ("c", f16_buffer(&[0.0; 800])),
            ("M", ArgValue::Bits(40)),
            ("K", ArgValue::Bits(20)),
            ("sam", ArgValue::Bits(20)),
            ("sak", ArgValue::Bits(1)),
        ],
    );
    // The step computation leaves the loop.
    let loop_op: Op = cleaned
        .layout
        .ops(cleaned.func_entry(cleaned.kernel().unwrap()).unwrap())
        .iter()
        .copied()
        .find(|&op| cleaned.dfg.opcode(op) == Opcode::For)
        .unwrap();
    let body = cleaned
        .layout
        .entry_block(cleaned.dfg.ops[loop_op].regions[0])
        .unwrap();
    let muls = cleaned
        .layout
        .ops(body)
        .iter()
        .filter(|&&op| cleaned.dfg.opcode(op) == Opcode::MulI)
        .count();
    assert_eq!(muls, 1, "only k * BK stays in the loop");
}
