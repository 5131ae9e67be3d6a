//! Unit tests of liveness and allocation (end-to-end runs are in
//! `codegen::tests`).

use maiac_backend::isa::{AluOp, DType};
use maiac_backend::machine::resolve;

use super::liveness::analyze;
use super::{schedule, RegLoc};
use crate::tile::{BView, BufSpace, SOp, TOp, TOpKind, TileKernel};

fn op(kind: TOpKind) -> TOp {
    TOp { kind, loc: None }
}

#[test]
fn values_flowing_around_a_loop_are_live_through_it() {
    let mut k = TileKernel::default();
    let (sum, iv, tmp, after) = (
        k.new_sreg(64, "sum"),
        k.new_sreg(64, "i"),
        k.new_sreg(64, "t"),
        k.new_sreg(64, "a"),
    );
    k.body = vec![
        op(TOpKind::Mov {
            dst: sum,
            src: SOp::Imm(0),
        }),
        op(TOpKind::For {
            iv,
            lb: SOp::Imm(0),
            ub: SOp::Imm(4),
            step: SOp::Imm(1),
            body: vec![
                // tmp is defined before its use in each iteration: local.
                op(TOpKind::Alu {
                    op: AluOp::Mul,
                    dst: tmp,
                    a: iv.into(),
                    b: SOp::Imm(3),
                }),
                // sum is read before it is written: loop-carried.
                op(TOpKind::Alu {
                    op: AluOp::Add,
                    dst: sum,
                    a: sum.into(),
                    b: tmp.into(),
                }),
                op(TOpKind::Mov {
                    dst: after,
                    src: SOp::Imm(1),
                }),
            ],
        }),
    ];
    let live = analyze(&k);
    // Positions: 0 mov, 1 for head, 2 mul, 3 add, 4 mov, 5 for end.
    assert_eq!((live.regs[&sum].start, live.regs[&sum].end), (0, 5));
    assert_eq!((live.regs[&iv].start, live.regs[&iv].end), (1, 5));
    assert_eq!((live.regs[&tmp].start, live.regs[&tmp].end), (2, 3));
    assert_eq!((live.regs[&after].start, live.regs[&after].end), (4, 4));
}

#[test]
fn a_partial_write_does_not_end_a_buffer_in_a_loop() {
    let mut k = TileKernel::default();
    let iv = k.new_sreg(64, "i");
    let whole = k.new_buf(DType::I32, &[8], BufSpace::Tsram, "whole");
    let half = k.new_buf(DType::I32, &[8], BufSpace::Tsram, "half");
    let out = k.new_buf(DType::I32, &[8], BufSpace::Tsram, "out");
    let iota = |b, shape: &[u32]| {
        op(TOpKind::Iota {
            dst: BView {
                buf: b,
                offset: 0,
                shape: shape.to_vec(),
                strides: vec![1],
            },
            start: SOp::Imm(0),
            axis: 0,
        })
    };
    let copy = |src| {
        op(TOpKind::Copy {
            src: BView::whole(src, &[8]),
            dst: BView::whole(out, &[8]),
        })
    };
    k.body = vec![op(TOpKind::For {
        iv,
        lb: SOp::Imm(0),
        ub: SOp::Imm(2),
        step: SOp::Imm(1),
        body: vec![iota(whole, &[8]), copy(whole), iota(half, &[4]), copy(half)],
    })];
    let live = analyze(&k);
    let (loop_start, loop_end) = (0, live.len() - 1);
    assert_eq!((live.bufs[&whole].start, live.bufs[&whole].end), (1, 2));
    assert_eq!(
        (live.bufs[&half].start, live.bufs[&half].end),
        (loop_start, loop_end)
    );
}

#[test]
fn registers_are_reused_after_their_last_use() {
    let mut k = TileKernel::default();
    let regs: Vec<_> = (0..4).map(|i| k.new_sreg(64, format!("v{i}"))).collect();
    k.body = vec![
        op(TOpKind::Mov {
            dst: regs[0],
            src: SOp::Imm(1),
        }),
        op(TOpKind::Alu {
            op: AluOp::Add,
            dst: regs[1],
            a: regs[0].into(),
            b: SOp::Imm(1),
        }),
        op(TOpKind::Alu {
            op: AluOp::Add,
            dst: regs[2],
            a: regs[1].into(),
            b: SOp::Imm(1),
        }),
        op(TOpKind::Alu {
            op: AluOp::Add,
            dst: regs[3],
            a: regs[2].into(),
            b: SOp::Imm(1),
        }),
    ];
    let s = schedule(&k, &resolve("tiny").unwrap()).unwrap();
    for r in regs {
        assert!(
            matches!(s.reg(r), Some(RegLoc::Phys(p)) if p.0 == 0),
            "{}",
            s.render()
        );
    }
}
