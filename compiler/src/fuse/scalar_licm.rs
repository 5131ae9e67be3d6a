//! Loop-invariant code motion for control-processor scalar code
//! (`scalar-licm`).
//!
//! The lowering computes a DMA's address, valid bounds and the guard that
//! chooses between the strided DMA and its gather fallback next to the
//! load — inside the loop when the load is. Most of that arithmetic (the
//! overflow checks on strides and extents, bounds of the kernel arguments)
//! does not change from one iteration to the next, yet the CP redid it
//! every trip, often through spilled registers. This pass moves such ops
//! in front of their `for`.
//!
//! The tile IR is not in SSA form (loop-carried values are registers a
//! body overwrites), so an op `dst = f(srcs)` at the top level of a `for`
//! body moves only when it is
//!
//! - pure and total: `mov`, ALU ops (every one is defined for all inputs,
//!   division by zero included), `select`, special registers, arguments —
//!   not a scalar load from memory;
//! - over invariant operands: no source register is defined anywhere in
//!   the loop (its induction variable included);
//! - the only definition of `dst` in the kernel, and every use of `dst`
//!   comes after it inside the same loop body — so no iteration and no code
//!   after the loop could have observed another value, and running it once
//!   before a loop that makes no trip is unobservable.
//!
//! Inner loops are processed first, so invariant code climbs through a nest
//! one level per loop. `if` and `while` bodies are searched for loops but
//! nothing is hoisted out of a `while` (its condition is computed inside).

use std::collections::{BTreeMap, BTreeSet};

use maiac_ir::Diagnostic;

use crate::pass::{Pass, PassContext};
use crate::tile::{SReg, TOp, TOpKind, TileKernel};

use super::walk::{for_each_op, regs};

/// The `scalar-licm` pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScalarLicm;

impl Pass<TileKernel> for ScalarLicm {
    fn name(&self) -> &str {
        "scalar-licm"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let mut counts = Counts::default();
        // The staging prologues and guard run in the same register space.
        for op in kernel
            .stage_guard
            .iter()
            .flat_map(|g| g.ops.iter())
            .chain(kernel.stages.values().flat_map(|s| s.prologue.iter()))
        {
            counts.add(op);
        }
        for op in &kernel.body {
            counts.add(op);
        }
        hoist_in(&mut kernel.body, &counts);
        Ok(())
    }
}

/// Definitions and uses of every register, nested ops included.
#[derive(Default)]
struct Counts {
    defs: BTreeMap<SReg, usize>,
    uses: BTreeMap<SReg, usize>,
}

impl Counts {
    fn add(&mut self, op: &TOp) {
        for_each_op(std::slice::from_ref(op), &mut |o| {
            if let Some(d) = o.kind.scalar_def() {
                *self.defs.entry(d).or_default() += 1;
            }
            for r in regs(o.kind.scalar_uses()) {
                *self.uses.entry(r).or_default() += 1;
            }
        });
    }

    fn of(op: &TOp) -> Counts {
        let mut c = Counts::default();
        c.add(op);
        c
    }
}

/// Processes the loops in `body` (and in its nested bodies), moving each
/// loop's invariant ops in front of it.
fn hoist_in(body: &mut Vec<TOp>, counts: &Counts) {
    let mut k = 0;
    while k < body.len() {
        for inner in body[k].kind.bodies_mut() {
            hoist_in(inner, counts);
        }
        let hoisted = match &mut body[k].kind {
            TOpKind::For {
                iv, body: lbody, ..
            } => take_invariant(*iv, lbody, counts),
            _ => Vec::new(),
        };
        let n = hoisted.len();
        body.splice(k..k, hoisted);
        k += n + 1;
    }
}

/// Removes and returns the invariant top-level ops of a loop body.
fn take_invariant(iv: SReg, body: &mut Vec<TOp>, counts: &Counts) -> Vec<TOp> {
    let mut defined: BTreeSet<SReg> = BTreeSet::from([iv]);
    for_each_op(body, &mut |o| defined.extend(o.kind.scalar_def()));
    // Uses in the ops after the current one.
    let mut later: BTreeMap<SReg, usize> = BTreeMap::new();
    for op in body.iter() {
        for (r, n) in Counts::of(op).uses {
            *later.entry(r).or_default() += n;
        }
    }
    let mut hoisted = Vec::new();
    let mut kept = Vec::with_capacity(body.len());
    for op in std::mem::take(body) {
        for (r, n) in Counts::of(&op).uses {
            if let Some(c) = later.get_mut(&r) {
                *c -= n;
            }
        }
        if let Some(dst) = movable_def(&op, &defined, &later, counts) {
            defined.remove(&dst);
            hoisted.push(op);
        } else {
            kept.push(op);
        }
    }
    *body = kept;
    hoisted
}

/// The register `op` defines, when it may move out of its loop (see the
/// module documentation).
fn movable_def(
    op: &TOp,
    defined_in_loop: &BTreeSet<SReg>,
    uses_after: &BTreeMap<SReg, usize>,
    counts: &Counts,
) -> Option<SReg> {
    let pure = matches!(
        op.kind,
        TOpKind::Mov { .. }
            | TOpKind::Alu { .. }
            | TOpKind::Select { .. }
            | TOpKind::ReadSpecial { .. }
            | TOpKind::Arg { .. }
    );
    let dst = op.kind.scalar_def()?;
    let invariant = regs(op.kind.scalar_uses()).all(|r| !defined_in_loop.contains(&r));
    let single_def = counts.defs.get(&dst) == Some(&1);
    let total_uses = counts.uses.get(&dst).copied().unwrap_or(0);
    let only_later = uses_after.get(&dst).copied().unwrap_or(0) == total_uses;
    (pure && invariant && single_def && only_later).then_some(dst)
}
