//! Property test: random pointer expressions (make_range, splat, broadcast,
//! expand_dims, addi, subi, muli, remsi, extsi, trans, addptr) and random
//! masks (comparisons, andi, ori), built into a kernel, analyzed, and
//! checked element by element against the reference evaluator with random
//! argument values — including values that make offsets overflow, where
//! the guards must fail rather than the addresses differ.

use maiac_ir::{Attribute, FloatType, Opcode, Type, Value};
use proptest::prelude::*;

use super::builder::Builder;
use super::eval::Launch;
use crate::access::MemAccess;

#[derive(Clone, Debug)]
enum Scalar {
    Const(i64),
    /// Kernel argument `a{i}`.
    Arg(usize),
    Pid,
}

/// An `i32` tensor of the case's 2-D tile shape.
#[derive(Clone, Debug)]
enum IntExpr {
    /// `start + arange` along `dim`, expanded and broadcast to the tile.
    Range {
        dim: usize,
        start: i64,
    },
    Splat(Scalar),
    Add(Box<IntExpr>, Box<IntExpr>),
    Sub(Box<IntExpr>, Box<IntExpr>),
    Mul(Box<IntExpr>, Scalar),
    Rem(Box<IntExpr>, Scalar),
    /// Transposed (square tiles only).
    Trans(Box<IntExpr>),
}

#[derive(Clone, Debug)]
enum MaskExpr {
    Cmp(&'static str, IntExpr, IntExpr),
    And(Box<MaskExpr>, Box<MaskExpr>),
    Or(Box<MaskExpr>, Box<MaskExpr>),
}

#[derive(Clone, Debug)]
struct Case {
    rows: i64,
    cols: i64,
    offsets: IntExpr,
    /// Sign-extend the offsets to i64 before `tt.addptr`.
    widen: bool,
    /// A second `tt.addptr` of these offsets.
    more: Option<IntExpr>,
    mask: Option<MaskExpr>,
    args: [i32; 4],
    pid: u32,
}

impl IntExpr {
    fn is_plain(&self) -> bool {
        match self {
            IntExpr::Range { .. } | IntExpr::Splat(_) => true,
            IntExpr::Add(a, b) | IntExpr::Sub(a, b) => a.is_plain() && b.is_plain(),
            IntExpr::Mul(a, _) | IntExpr::Trans(a) => a.is_plain(),
            IntExpr::Rem(..) => false,
        }
    }
}

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        (-4i64..9).prop_map(Scalar::Const),
        (0usize..4).prop_map(Scalar::Arg),
        Just(Scalar::Pid)
    ]
}

fn int_expr(square: bool) -> impl Strategy<Value = IntExpr> {
    let leaf = prop_oneof![
        ((0usize..2), (-3i64..5)).prop_map(|(dim, start)| IntExpr::Range { dim, start }),
        scalar().prop_map(IntExpr::Splat),
    ];
    leaf.prop_recursive(4, 16, 2, move |inner| {
        let mut options = vec![
            (
                3,
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| IntExpr::Add(Box::new(a), Box::new(b)))
                    .boxed(),
            ),
            (
                2,
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| IntExpr::Sub(Box::new(a), Box::new(b)))
                    .boxed(),
            ),
            (
                3,
                (inner.clone(), scalar())
                    .prop_map(|(a, s)| IntExpr::Mul(Box::new(a), s))
                    .boxed(),
            ),
            (
                1,
                (inner.clone(), scalar())
                    .prop_map(|(a, s)| IntExpr::Rem(Box::new(a), s))
                    .boxed(),
            ),
            (
                1,
                (index_expr(), scalar())
                    .prop_map(|(a, s)| IntExpr::Rem(Box::new(a), s))
                    .boxed(),
            ),
        ];
        if square {
            options.push((1, inner.prop_map(|a| IntExpr::Trans(Box::new(a))).boxed()));
        }
        proptest::strategy::Union::new_weighted(options)
    })
}

/// `start + arange` along a dimension, offset by a scalar: the shape of
/// Triton's bounds-checked indices.
fn index_expr() -> impl Strategy<Value = IntExpr> {
    ((0usize..2), (-3i64..5), scalar()).prop_map(|(dim, start, s)| {
        IntExpr::Add(
            Box::new(IntExpr::Range { dim, start }),
            Box::new(IntExpr::Splat(s)),
        )
    })
}

fn mask_expr(square: bool) -> impl Strategy<Value = MaskExpr> {
    let pred = prop::sample::select(vec![
        "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge", "eq", "ne",
    ]);
    let bounds_check =
        (pred.clone(), index_expr(), scalar(), any::<bool>()).prop_map(|(p, i, s, swap)| {
            let bound = IntExpr::Splat(s);
            if swap {
                MaskExpr::Cmp(p, bound, i)
            } else {
                MaskExpr::Cmp(p, i, bound)
            }
        });
    let any_cmp =
        (pred, int_expr(square), int_expr(square)).prop_map(|(p, a, b)| MaskExpr::Cmp(p, a, b));
    let cmp = prop_oneof![3 => bounds_check, 1 => any_cmp];
    cmp.prop_recursive(2, 4, 2, |inner| {
        prop_oneof![
            3 => (inner.clone(), inner.clone()).prop_map(|(a, b)| MaskExpr::And(Box::new(a), Box::new(b))),
            1 => (inner.clone(), inner).prop_map(|(a, b)| MaskExpr::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn arg_value() -> impl Strategy<Value = i32> {
    prop_oneof![8 => -40i32..60, 1 => Just(i32::MAX - 5), 1 => Just(i32::MIN + 3), 1 => (1i32 << 28)..(1i32 << 29)]
}

fn case() -> impl Strategy<Value = Case> {
    let shape = prop::sample::select(vec![(4i64, 4i64), (2, 8), (8, 2), (1, 8), (4, 1)]);
    shape.prop_flat_map(|(rows, cols)| {
        let square = rows == cols;
        (
            int_expr(square),
            any::<bool>(),
            proptest::option::weighted(0.3, int_expr(square)),
            proptest::option::weighted(0.7, mask_expr(square)),
            [arg_value(), arg_value(), arg_value(), arg_value()],
            0u32..6,
        )
            .prop_map(move |(offsets, widen, more, mask, args, pid)| Case {
                rows,
                cols,
                offsets,
                widen,
                more,
                mask,
                args,
                pid,
            })
    })
}

struct Emitter<'a> {
    b: &'a mut Builder,
    args: Vec<Value>,
    pid: Value,
    shape: [i64; 2],
}

impl Emitter<'_> {
    fn scalar(&mut self, s: &Scalar) -> Value {
        match s {
            Scalar::Const(c) => self.b.const_i32(*c),
            Scalar::Arg(i) => self.args[*i],
            Scalar::Pid => self.pid,
        }
    }

    fn int(&mut self, e: &IntExpr, shape: [i64; 2]) -> Value {
        match e {
            IntExpr::Range { dim, start } => {
                let n = shape[*dim];
                let r = self.b.range(0, n);
                let r = if *start != 0 {
                    let s = self.b.const_i32(*start);
                    let s = self.b.splat(s, &[n]);
                    self.b.binary(Opcode::AddI, r, s)
                } else {
                    r
                };
                let e = self.b.expand_dims(r, 1 - dim);
                self.b.broadcast(e, &shape)
            }
            IntExpr::Splat(s) => {
                let v = self.scalar(s);
                self.b.splat(v, &shape)
            }
            IntExpr::Add(a, c) | IntExpr::Sub(a, c) => {
                let (x, y) = (self.int(a, shape), self.int(c, shape));
                let op = if matches!(e, IntExpr::Add(..)) {
                    Opcode::AddI
                } else {
                    Opcode::SubI
                };
                self.b.binary(op, x, y)
            }
            IntExpr::Mul(a, s) | IntExpr::Rem(a, s) => {
                let x = self.int(a, shape);
                let v = self.scalar(s);
                let v = self.b.splat(v, &shape);
                let op = if matches!(e, IntExpr::Mul(..)) {
                    Opcode::MulI
                } else {
                    Opcode::RemSI
                };
                self.b.binary(op, x, v)
            }
            IntExpr::Trans(a) => {
                let x = self.int(a, [shape[1], shape[0]]);
                self.b.trans(x, &[1, 0])
            }
        }
    }

    fn mask(&mut self, m: &MaskExpr) -> Value {
        match m {
            MaskExpr::Cmp(pred, a, c) => {
                let (x, y) = (self.int(a, self.shape), self.int(c, self.shape));
                self.b.cmpi(pred, x, y)
            }
            MaskExpr::And(a, c) | MaskExpr::Or(a, c) => {
                let (x, y) = (self.mask(a), self.mask(c));
                let op = if matches!(m, MaskExpr::And(..)) {
                    Opcode::AndI
                } else {
                    Opcode::OrI
                };
                self.b.binary(op, x, y)
            }
        }
    }
}

fn build(case: &Case) -> maiac_ir::Module {
    let ptr = Type::ptr(Type::F32);
    let params = [
        ("p", ptr.clone()),
        ("out", ptr),
        ("a0", Type::I32),
        ("a1", Type::I32),
        ("a2", Type::I32),
        ("a3", Type::I32),
    ];
    let (mut b, p) = Builder::kernel(&params);
    let shape = [case.rows, case.cols];
    let pid = b.program_id(0);
    let mut em = Emitter {
        b: &mut b,
        args: p[2..].to_vec(),
        pid,
        shape,
    };
    let offsets = em.int(&case.offsets, shape);
    let offsets = if case.widen {
        em.b.cast(Opcode::ExtSI, offsets, 64)
    } else {
        offsets
    };
    let base = em.b.splat(p[0], &shape);
    let mut ptrs = em.b.addptr(base, offsets);
    if let Some(more) = &case.more {
        let o = em.int(more, shape);
        ptrs = em.b.addptr(ptrs, o);
    }
    let mask = case.mask.as_ref().map(|m| em.mask(m));
    let other = mask.map(|_| {
        em.b.dense(
            &shape,
            Type::F32,
            Attribute::Float {
                bits: 0x3F80_0000,
                ty: FloatType::F32,
            },
        )
    });
    let tile = em.b.load(ptrs, mask, other);
    em.b.store(ptrs, tile, mask);
    b.finish()
}

/// Runs `cases` random cases; every strided execution whose guards hold
/// must match the evaluator element by element (checked inside
/// [`check_against_evaluator`]). Also checks that the generator exercises
/// every outcome, so the property cannot pass vacuously.
#[test]
fn affine_forms_match_evaluated_pointers() {
    use proptest::test_runner::{Config, TestRunner};
    use std::cell::Cell;
    let (strided, guarded, indirect) = (Cell::new(0usize), Cell::new(0usize), Cell::new(0usize));
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    let result = runner.run(&case(), |case| {
        let m = build(&case);
        let args: Vec<u64> = [1u64 << 32, 2 << 32]
            .into_iter()
            .chain(case.args.iter().map(|&a| u64::from(a as u32)))
            .collect();
        let launch = Launch {
            args,
            pid: [case.pid, 0, 0],
            grid: [6, 1, 1],
            max_iterations: 1,
        };
        let func = m.kernel().expect("kernel");
        let map = crate::access::analyze(&m, func);
        let report = super::eval::check(&m, func, &map, &launch);
        prop_assert!(
            report.mismatches.is_empty(),
            "{:#?}\n{}",
            report.mismatches,
            map.render(&m)
        );
        prop_assert_eq!(report.unknown, 0);
        strided.set(strided.get() + report.checked);
        guarded.set(guarded.get() + report.guarded_out);
        indirect.set(indirect.get() + report.indirect);
        // Expressions built only from ranges, splats, add, sub, multiply
        // and transposes are always strided (perhaps guarded).
        let plain = case.offsets.is_plain() && case.more.as_ref().is_none_or(IntExpr::is_plain);
        if plain && case.mask.is_none() {
            for (_, access) in map.iter() {
                prop_assert!(
                    matches!(access, MemAccess::Strided(_)),
                    "{}",
                    map.render(&m)
                );
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // 400 cases × 2 accesses; about a third are strided with their guards
    // holding (random masks are often not boxes).
    assert!(
        strided.get() > 200,
        "only {} strided executions checked",
        strided.get()
    );
    assert!(
        guarded.get() > 10,
        "only {} guarded-out executions",
        guarded.get()
    );
    assert!(indirect.get() > 50, "only {} gathers", indirect.get());
}
