//! What an op touches, including everything inside its nested bodies: the
//! summaries the fusion legality checks and DCE's liveness need.

use std::collections::{BTreeMap, BTreeSet};

use crate::tile::{Buf, SOp, SReg, TOp, TOpKind};

/// Buffers, registers read and written by an op and its nested bodies.
#[derive(Default, Debug, Clone)]
pub struct Footprint {
    pub reads: BTreeSet<Buf>,
    pub writes: BTreeSet<Buf>,
    pub uses: BTreeSet<SReg>,
    pub defs: BTreeSet<SReg>,
}

impl Footprint {
    /// The footprint of `op` (recursively).
    pub fn of(op: &TOp) -> Footprint {
        let mut fp = Footprint::default();
        fp.add(op);
        fp
    }

    fn add(&mut self, op: &TOp) {
        self.reads
            .extend(op.kind.reads().into_iter().map(|v| v.buf));
        self.writes
            .extend(op.kind.writes().into_iter().map(|v| v.buf));
        self.uses.extend(regs(op.kind.scalar_uses()));
        self.defs.extend(op.kind.scalar_def());
        for body in op.kind.bodies() {
            for inner in body {
                self.add(inner);
            }
        }
    }
}

/// The registers among scalar operands.
pub fn regs(ops: impl IntoIterator<Item = SOp>) -> impl Iterator<Item = SReg> {
    ops.into_iter().filter_map(|s| match s {
        SOp::Reg(r) => Some(r),
        SOp::Imm(_) => None,
    })
}

/// Calls `f` on every op of `body`, nested ones included, in program order.
pub fn for_each_op<'a>(body: &'a [TOp], f: &mut impl FnMut(&'a TOp)) {
    for op in body {
        f(op);
        for inner in op.kind.bodies() {
            for_each_op(inner, f);
        }
    }
}

/// The buffers an op itself (not its nested bodies) reads or writes, once
/// each.
pub fn touched(kind: &TOpKind) -> Vec<Buf> {
    let mut bufs: Vec<Buf> = kind
        .reads()
        .into_iter()
        .chain(kind.writes())
        .map(|v| v.buf)
        .collect();
    bufs.sort();
    bufs.dedup();
    bufs
}

/// How many ops of `body` (nested ones included) reference each buffer.
pub fn reference_counts(body: &[TOp]) -> BTreeMap<Buf, usize> {
    let mut counts = BTreeMap::new();
    for_each_op(body, &mut |op| {
        for b in touched(&op.kind) {
            *counts.entry(b).or_default() += 1;
        }
    });
    counts
}
