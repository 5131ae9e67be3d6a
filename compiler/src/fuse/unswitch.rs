//! Loop unswitching on loop-invariant conditions (`loop-unswitch`).
//!
//! The lowering guards every strided DMA it derives from pointer
//! arithmetic with the run-time conditions under which the description is
//! exact (no 32-bit wrap-around of the offsets, boxes inside the index
//! range, ...): `if guards { dma } else { gather fallback }`. After
//! `scalar-licm` those guards are computed once in front of the loop, but
//! the loop still carries what the fallback needs — a K loop's `a_ptrs`
//! and `b_ptrs` tensors are advanced by a TVP `map` over `i64` lanes every
//! iteration, although the DMA path only reads scalar registers. In a
//! 512³ GEMM that address arithmetic kept the TVP busier than the TTU.
//!
//! This pass rewrites an innermost `for` whose body guards a fallback (an
//! else arm that gathers, scatters or traps) by registers the loop never
//! defines as
//!
//! ```text
//! g = (c1 != 0) & (c2 != 0) & ...
//! if g { for ... { body with every `if ci` replaced by its then arm } }
//! else { for ... { body } }          (the original loop)
//! ```
//!
//! `tile-dce`, run next, then deletes the fast copy's updates of the
//! fallback's loop-carried tensors (nothing reads them on that path), and
//! `sink-into-branches` moves their initial values into the else arm.
//!
//! Why this is exact: a register the loop never writes has, at every `if`
//! in the body, the value it had on entry, which is what `g` reads. Reading
//! it before a loop that makes no trip is unobservable (both copies then
//! run nothing), and `ne`/`and` are total.
//!
//! The fast copy gets fresh buffers and registers for everything only the
//! loop references, so the two copies do not share temporaries: later
//! passes see loop-local operand buffers (double buffering splits those
//! into rings), single-definition registers (CSRAM staging replays their
//! definitions) and disjoint live ranges (SRAM allocation overlays the two
//! copies, which run on exclusive paths). Registers and buffers the loop
//! shares with the rest of the kernel (loop-carried values, results read
//! after it) keep their names in both copies.
//!
//! Bounds on code growth: only innermost loops of at most
//! [`MAX_BODY_OPS`] ops are unswitched, each once, and at most
//! [`MAX_UNSWITCHED`] loops per kernel.

use std::collections::{BTreeMap, BTreeSet};

use cranelift_entity::PrimaryMap;
use maiac_backend::isa::{AluOp, DebugLocId};
use maiac_ir::Diagnostic;

use crate::pass::{Pass, PassContext};
use crate::tile::{Buf, BufData, SOp, SReg, SRegData, TOp, TOpKind, TileKernel};

use super::walk::{for_each_op, regs, touched};

/// Loops with more ops than this (nested ones included) stay as they are.
pub const MAX_BODY_OPS: usize = 400;

/// At most this many loops of one kernel are unswitched.
pub const MAX_UNSWITCHED: usize = 16;

/// The `loop-unswitch` pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoopUnswitch;

impl Pass<TileKernel> for LoopUnswitch {
    fn name(&self) -> &str {
        "loop-unswitch"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let mut totals = References::default();
        for op in kernel
            .stage_guard
            .iter()
            .flat_map(|g| g.ops.iter())
            .chain(kernel.stages.values().flat_map(|s| s.prologue.iter()))
            .chain(kernel.body.iter())
        {
            totals.add(op);
        }
        let mut body = std::mem::take(&mut kernel.body);
        let mut cx = Unswitch {
            bufs: &mut kernel.bufs,
            sregs: &mut kernel.sregs,
            totals: &totals,
            budget: MAX_UNSWITCHED,
        };
        cx.unswitch_in(&mut body);
        kernel.body = body;
        Ok(())
    }
}

/// How many ops reference each buffer and each register (as a definition
/// or an operand), nested ops included.
#[derive(Default)]
struct References {
    bufs: BTreeMap<Buf, usize>,
    regs: BTreeMap<SReg, usize>,
}

impl References {
    fn add(&mut self, op: &TOp) {
        for_each_op(std::slice::from_ref(op), &mut |o| {
            for b in touched(&o.kind) {
                *self.bufs.entry(b).or_default() += 1;
            }
            let mut rs: Vec<SReg> = regs(o.kind.scalar_uses())
                .chain(o.kind.scalar_def())
                .collect();
            rs.sort();
            rs.dedup();
            for r in rs {
                *self.regs.entry(r).or_default() += 1;
            }
        });
    }

    fn of(op: &TOp) -> References {
        let mut refs = References::default();
        refs.add(op);
        refs
    }
}

struct Unswitch<'a> {
    bufs: &'a mut PrimaryMap<Buf, BufData>,
    sregs: &'a mut PrimaryMap<SReg, SRegData>,
    totals: &'a References,
    budget: usize,
}

impl Unswitch<'_> {
    /// Unswitches the loops of `body` and of its nested bodies.
    fn unswitch_in(&mut self, body: &mut Vec<TOp>) {
        let mut k = 0;
        while k < body.len() {
            for inner in body[k].kind.bodies_mut() {
                self.unswitch_in(inner);
            }
            match self.unswitch(&body[k]) {
                Some(replacement) => {
                    let n = replacement.len();
                    body.splice(k..=k, replacement);
                    k += n;
                }
                None => k += 1,
            }
        }
    }

    /// The ops replacing `op` when it is a loop worth unswitching.
    fn unswitch(&mut self, op: &TOp) -> Option<Vec<TOp>> {
        let TOpKind::For { iv, body, .. } = &op.kind else {
            return None;
        };
        if self.budget == 0 || contains_loop(body) || count_ops(body) > MAX_BODY_OPS {
            return None;
        }
        let mut defined = BTreeSet::from([*iv]);
        for_each_op(body, &mut |o| defined.extend(o.kind.scalar_def()));
        let mut guards = Vec::new();
        collect_guards(body, &defined, &mut guards);
        if guards.is_empty() {
            return None;
        }
        self.budget -= 1;

        let mut fast = op.clone();
        if let TOpKind::For { body, .. } = &mut fast.kind {
            take_then_arms(body, &guards);
        }
        self.rename_locals(op, &mut fast);

        let mut ops = Vec::new();
        let cond = self.conjunction(&guards, op.loc, &mut ops);
        ops.push(TOp {
            kind: TOpKind::If {
                cond,
                then_body: vec![fast],
                else_body: vec![op.clone()],
            },
            loc: op.loc,
        });
        Some(ops)
    }

    /// Gives `copy` (a transformed clone of `original`) fresh buffers and
    /// registers for those nothing outside `original` references.
    fn rename_locals(&mut self, original: &TOp, copy: &mut TOp) {
        let inside = References::of(original);
        let local_bufs = inside
            .bufs
            .iter()
            .filter(|&(b, n)| self.totals.bufs.get(b) == Some(n));
        let buf_renames: BTreeMap<Buf, Buf> = local_bufs
            .map(|(&b, _)| (b, self.bufs.push(self.bufs[b].clone())))
            .collect();
        let local_regs = inside
            .regs
            .iter()
            .filter(|&(r, n)| self.totals.regs.get(r) == Some(n));
        let reg_renames: BTreeMap<SReg, SReg> = local_regs
            .map(|(&r, _)| (r, self.sregs.push(self.sregs[r].clone())))
            .collect();
        rename(copy, &buf_renames, &reg_renames);
    }

    /// `(g1 != 0) & (g2 != 0) & …`, its ops appended to `ops`; a single
    /// guard is used as it is.
    fn conjunction(&mut self, guards: &[SReg], loc: Option<DebugLocId>, ops: &mut Vec<TOp>) -> SOp {
        if let [only] = guards {
            return SOp::Reg(*only);
        }
        let mut acc: Option<SReg> = None;
        for &g in guards {
            let truth = self.sregs.push(SRegData {
                width: 1,
                name: "unswitch.guard".into(),
            });
            ops.push(TOp {
                kind: TOpKind::Alu {
                    op: AluOp::Ne,
                    dst: truth,
                    a: SOp::Reg(g),
                    b: SOp::Imm(0),
                },
                loc,
            });
            acc = Some(match acc {
                None => truth,
                Some(prev) => {
                    let both = self.sregs.push(SRegData {
                        width: 1,
                        name: "unswitch.all".into(),
                    });
                    ops.push(TOp {
                        kind: TOpKind::Alu {
                            op: AluOp::And,
                            dst: both,
                            a: SOp::Reg(prev),
                            b: SOp::Reg(truth),
                        },
                        loc,
                    });
                    both
                }
            });
        }
        SOp::Reg(acc.expect("at least two guards"))
    }
}

/// Whether `body` contains a `for` or `while`.
fn contains_loop(body: &[TOp]) -> bool {
    let mut found = false;
    for_each_op(body, &mut |o| {
        found |= matches!(o.kind, TOpKind::For { .. } | TOpKind::While { .. });
    });
    found
}

fn count_ops(body: &[TOp]) -> usize {
    let mut n = 0;
    for_each_op(body, &mut |_| n += 1);
    n
}

/// The registers that `if`s of `body` guarding a fallback branch on and
/// the loop never defines, in order of first appearance: the then arm of
/// such an `if` is searched further (the fast copy keeps it), its else arm
/// is not (dropped).
fn collect_guards(body: &[TOp], defined: &BTreeSet<SReg>, out: &mut Vec<SReg>) {
    for op in body {
        if let TOpKind::If {
            cond,
            then_body,
            else_body,
        } = &op.kind
        {
            match cond {
                SOp::Reg(r) if !defined.contains(r) && is_fallback(else_body) => {
                    if !out.contains(r) {
                        out.push(*r);
                    }
                    collect_guards(then_body, defined, out);
                }
                _ => {
                    collect_guards(then_body, defined, out);
                    collect_guards(else_body, defined, out);
                }
            }
        }
    }
}

/// Whether an else arm is a strided access's fallback: it gathers,
/// scatters or traps. Other invariant branches are left alone — duplicating
/// a loop for them would remove no work.
fn is_fallback(arm: &[TOp]) -> bool {
    let mut found = false;
    for_each_op(arm, &mut |o| {
        found |= matches!(
            o.kind,
            TOpKind::Gather { .. } | TOpKind::Scatter { .. } | TOpKind::Trap { .. }
        );
    });
    found
}

/// Replaces every `if` on one of `guards` in `body` by its then arm.
fn take_then_arms(body: &mut Vec<TOp>, guards: &[SReg]) {
    let mut out = Vec::with_capacity(body.len());
    for mut op in std::mem::take(body) {
        match &mut op.kind {
            TOpKind::If {
                cond: SOp::Reg(r),
                then_body,
                ..
            } if guards.contains(r) => {
                let mut arm = std::mem::take(then_body);
                take_then_arms(&mut arm, guards);
                out.extend(arm);
            }
            kind => {
                for inner in kind.bodies_mut() {
                    take_then_arms(inner, guards);
                }
                out.push(op);
            }
        }
    }
    *body = out;
}

/// Renames buffers and registers in `op` and its nested bodies.
fn rename(op: &mut TOp, bufs: &BTreeMap<Buf, Buf>, sregs: &BTreeMap<SReg, SReg>) {
    for v in op.kind.views_mut() {
        if let Some(&to) = bufs.get(&v.buf) {
            v.buf = to;
        }
    }
    for s in op.kind.scalar_uses_mut() {
        if let SOp::Reg(r) = s {
            if let Some(&to) = sregs.get(r) {
                *r = to;
            }
        }
    }
    if let Some(d) = op.kind.scalar_def_mut() {
        if let Some(&to) = sregs.get(d) {
            *d = to;
        }
    }
    for inner in op.kind.bodies_mut() {
        for op in inner {
            rename(op, bufs, sregs);
        }
    }
}
