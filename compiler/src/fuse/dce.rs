//! Tile-IR dead-code elimination (`tile-dce`).
//!
//! A backward liveness analysis over buffers and scalar registers deletes
//! every op without side effects ([`TOpKind::has_side_effects`]) whose
//! written buffers and defined register are not read afterwards. The
//! lowering materialises address tensors eagerly (a `tt.addptr` chain
//! becomes a TVP map over `i64` lanes) even when the access analysis turned
//! the load or store into a strided DMA that only needs scalar registers;
//! this pass is what removes them.
//!
//! Liveness is tracked per whole buffer (a write to part of a buffer does
//! not end the liveness of the rest) and per register (a definition does).
//! Loops are solved to a fixpoint, so values carried from one iteration to
//! the next (written late in a body, read early) stay live. Structured ops
//! themselves are kept, except an `if` whose branches became empty and a
//! `for` whose body became empty and whose induction variable is unused.

use std::collections::BTreeSet;

use maiac_ir::Diagnostic;

use crate::pass::{Pass, PassContext};
use crate::tile::{Buf, SReg, TOp, TOpKind, TileKernel};

use super::walk::regs;

/// The `tile-dce` pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct TileDce;

impl Pass<TileKernel> for TileDce {
    fn name(&self) -> &str {
        "tile-dce"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        // Nothing is live at the end of the kernel: results leave through
        // HBM stores, which are side effects.
        sweep(&mut kernel.body, &Live::default());
        Ok(())
    }
}

/// Buffers and registers whose current contents may still be read.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
struct Live {
    bufs: BTreeSet<Buf>,
    regs: BTreeSet<SReg>,
}

impl Live {
    fn union(&self, other: &Live) -> Live {
        Live {
            bufs: self.bufs.union(&other.bufs).copied().collect(),
            regs: self.regs.union(&other.regs).copied().collect(),
        }
    }

    /// Adds what a (non-structured part of an) op reads.
    fn add_uses(&mut self, kind: &TOpKind) {
        self.bufs.extend(kind.reads().into_iter().map(|v| v.buf));
        self.regs.extend(regs(kind.scalar_uses()));
    }
}

/// Whether `kind` is a plain op whose every effect is dead under `live`.
fn is_dead(kind: &TOpKind, live: &Live) -> bool {
    if kind.has_side_effects() {
        return false;
    }
    let writes_live = kind
        .writes()
        .into_iter()
        .any(|v| live.bufs.contains(&v.buf));
    let defines_live = kind.scalar_def().is_some_and(|r| live.regs.contains(&r));
    !writes_live && !defines_live
}

/// Live-in of `body` for live-out `out`, deleting dead ops on the way.
fn sweep(body: &mut Vec<TOp>, out: &Live) -> Live {
    let mut live = out.clone();
    let mut kept = Vec::with_capacity(body.len());
    for mut op in std::mem::take(body).into_iter().rev() {
        let keep = match &mut op.kind {
            TOpKind::For { iv, body, .. } => {
                let iv = *iv;
                // The body's live-out is the loop's live-out plus the body's
                // own live-in (the next iteration); solve for the fixpoint on
                // a scratch copy, then sweep for real.
                let body_in = fixpoint(|carried| {
                    let mut scratch = body.clone();
                    sweep(&mut scratch, &live.union(carried))
                });
                let body_out = live.union(&body_in);
                let mut inner_in = sweep(body, &body_out);
                let keep = !body.is_empty() || live.regs.contains(&iv);
                if keep {
                    inner_in.regs.remove(&iv);
                    live = live.union(&inner_in);
                }
                keep
            }
            TOpKind::If {
                then_body,
                else_body,
                ..
            } => {
                let then_in = sweep(then_body, &live);
                let else_in = sweep(else_body, &live);
                let keep = !then_body.is_empty() || !else_body.is_empty();
                if keep {
                    live = then_in.union(&else_in);
                }
                keep
            }
            TOpKind::While {
                before,
                cond,
                after,
            } => {
                // head = in(before, out ∪ cond ∪ in(after, head)).
                let cond = *cond;
                let before_out = |head: &Live, after: &mut Vec<TOp>| {
                    let mut out = live.union(&sweep(after, head));
                    out.regs.extend(regs([cond]));
                    out
                };
                let head = fixpoint(|head| {
                    let (mut b, mut a) = (before.clone(), after.clone());
                    let out = before_out(head, &mut a);
                    sweep(&mut b, &out)
                });
                let out = before_out(&head, after);
                live = sweep(before, &out).union(&head);
                true
            }
            kind if is_dead(kind, &live) => false,
            kind => {
                if let Some(def) = kind.scalar_def() {
                    live.regs.remove(&def);
                }
                true
            }
        };
        if keep {
            if !matches!(
                op.kind,
                TOpKind::For { .. } | TOpKind::If { .. } | TOpKind::While { .. }
            ) {
                live.add_uses(&op.kind);
            } else {
                live.regs.extend(regs(op.kind.scalar_uses()));
            }
            kept.push(op);
        }
    }
    kept.reverse();
    *body = kept;
    live
}

/// The least fixpoint of a monotone live-set equation, from empty.
fn fixpoint(mut step: impl FnMut(&Live) -> Live) -> Live {
    let mut current = Live::default();
    loop {
        let next = step(&current).union(&current);
        if next == current {
            return current;
        }
        current = next;
    }
}
