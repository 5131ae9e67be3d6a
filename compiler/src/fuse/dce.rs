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
//! Loops are solved to a (joint, whole-kernel) fixpoint, so values carried from one iteration to
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
        //
        // Every loop's carried live set is solved by one chaotic iteration
        // over the whole kernel (sweeps of a scratch copy until no loop's
        // assumption grows), not by a fixpoint per loop: nested per-loop
        // fixpoints re-sweep an inner loop at least twice per outer
        // iteration, exponential in the nesting depth. Both reach the same
        // least fixpoint, the analysis being monotone.
        let mut carried = Vec::new();
        loop {
            let mut scratch = kernel.body.clone();
            let mut cx = Loops {
                carried,
                next: 0,
                changed: false,
            };
            sweep(&mut scratch, &Live::default(), &mut cx);
            carried = cx.carried;
            if !cx.changed {
                break;
            }
        }
        let mut cx = Loops {
            carried,
            next: 0,
            changed: false,
        };
        sweep(&mut kernel.body, &Live::default(), &mut cx);
        debug_assert!(!cx.changed, "the final sweep runs at the fixpoint");
        Ok(())
    }
}

/// The loops' carried live sets during the chaotic iteration.
struct Loops {
    /// By loop number (the order a sweep meets `for` / `while` ops, which
    /// does not depend on what it deletes): for a `for`, the assumed live-in
    /// of its body; for a `while`, of its head.
    carried: Vec<Live>,
    /// The next loop's number.
    next: usize,
    /// Whether some loop's live-in was not covered by its assumption.
    changed: bool,
}

impl Loops {
    /// The next loop's number and its current assumption.
    fn enter(&mut self) -> (usize, Live) {
        let id = self.next;
        self.next += 1;
        if self.carried.len() <= id {
            self.carried.resize(id + 1, Live::default());
        }
        (id, self.carried[id].clone())
    }

    /// Records that loop `id`'s live-in is `found` (grows the assumption).
    fn found(&mut self, id: usize, found: &Live) {
        let cur = &mut self.carried[id];
        if !found.bufs.is_subset(&cur.bufs) || !found.regs.is_subset(&cur.regs) {
            *cur = cur.union(found);
            self.changed = true;
        }
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
fn sweep(body: &mut Vec<TOp>, out: &Live, loops: &mut Loops) -> Live {
    let mut live = out.clone();
    let mut kept = Vec::with_capacity(body.len());
    for mut op in std::mem::take(body).into_iter().rev() {
        let keep = match &mut op.kind {
            TOpKind::For { iv, body, .. } => {
                let iv = *iv;
                // The body's live-out is the loop's live-out plus the body's
                // own live-in (the next iteration), taken from the assumption.
                let (id, assumed) = loops.enter();
                let body_out = live.union(&assumed);
                let mut inner_in = sweep(body, &body_out, loops);
                loops.found(id, &inner_in);
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
                let then_in = sweep(then_body, &live, loops);
                let else_in = sweep(else_body, &live, loops);
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
                let (id, head) = loops.enter();
                let mut before_out = live.union(&sweep(after, &head, loops));
                before_out.regs.extend(regs([*cond]));
                let before_in = sweep(before, &before_out, loops);
                loops.found(id, &before_in);
                live = before_in.union(&head);
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
