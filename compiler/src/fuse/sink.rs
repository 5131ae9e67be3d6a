//! Sinking vector work into the branches that use it
//! (`sink-into-branches`).
//!
//! A load or store the access analysis turned into a strided DMA keeps a
//! gather/scatter fallback for the run-time cases where its description is
//! not exact (`if guards { DMA } else { gather }`, see `lower::memory`).
//! The fallback reads the pointer and mask tensors the elementwise lowering
//! materialised before the branch — an `iota`, offset, mask and address
//! `map`s, often 8-byte lanes — so every program computes them and keeps
//! them in TSRAM although the DMA path never looks at them.
//!
//! This pass moves such a pure TVP op into the branch arms that read its
//! results: the op is cloned at the start of each arm that uses it, with
//! fresh result buffers renamed within that arm, and deleted where it was.
//! Ops are visited from the last to the first, so a chain (`iota` → offset
//! `map` → address `map`) sinks as a whole, in order.
//!
//! An op at index `j` of an op list sinks when it is a `map`, `iota`,
//! `copy` or `tvp.gather` whose outputs are whole buffers it does not
//! read; every other reference to those buffers in the kernel lies inside
//! an arm of an `if` later in the same list; and between `j` and each such
//! `if`, no op writes a buffer the op reads or redefines a register it
//! reads. The clone then computes the same bits from the same inputs,
//! before anything in the arm runs, and nothing outside the arms could see
//! the difference.
//!
//! An op whose results are also read before the first such `if` (e.g. the
//! offsets a mask is computed from, when the mask is needed outside the
//! branches) cannot move; when it is a `map` or `iota`, the only writer of
//! its outputs, and every reader past it is in else arms, it is
//! *rematerialised* instead: cloned into those arms and kept for its earlier
//! readers, so its buffers no longer live through the branches. The
//! expected path runs exactly what it ran before.
//!
//! Cost: one path through several `if`s may run several clones. The
//! lowering's guarded accesses take their then arm whenever the guards
//! hold — always, for realistic kernels — so an op sinks into at most one
//! then arm (any number of else arms, the fallbacks), and the expected path
//! never does more vector work than before; at most 16 clones are made of
//! one op.

use std::collections::{BTreeMap, BTreeSet};

use maiac_ir::Diagnostic;

use crate::pass::{Pass, PassContext};
use crate::tile::{Buf, SReg, TOp, TOpKind, TileKernel};

use super::walk::{for_each_op, reference_counts, regs};

/// The `sink-into-branches` pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct SinkIntoBranches;

impl Pass<TileKernel> for SinkIntoBranches {
    fn name(&self) -> &str {
        "sink-into-branches"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        // One sink at a time, then look again: each moves an op strictly
        // deeper into the structure, so this terminates.
        while let Some((path, j, targets, how)) = find_sink(kernel) {
            let TileKernel { body, bufs, .. } = kernel;
            let list = list_at_mut(body, &path);
            match how {
                How::Move => {
                    let op = list.remove(j);
                    // `targets` index the list before the removal.
                    for (k, arm) in targets {
                        clone_into_arm(bufs, &op, &mut list[k - 1], arm);
                    }
                }
                How::Rematerialize => {
                    let op = list[j].clone();
                    for (k, arm) in targets {
                        clone_into_arm(bufs, &op, &mut list[k], arm);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Buffers written and registers defined anywhere in `ops`.
fn effects(ops: &[TOp]) -> (BTreeSet<Buf>, BTreeSet<SReg>) {
    let (mut bufs, mut defs) = (BTreeSet::new(), BTreeSet::new());
    for_each_op(ops, &mut |op| {
        bufs.extend(op.kind.writes().into_iter().map(|v| v.buf));
        defs.extend(op.kind.scalar_def());
    });
    (bufs, defs)
}

/// A pure vector op writing whole buffers it does not read.
fn is_sinkable(kernel: &TileKernel, kind: &TOpKind) -> bool {
    let pure_vector = matches!(
        kind,
        TOpKind::Map { .. }
            | TOpKind::Iota { .. }
            | TOpKind::Copy { .. }
            | TOpKind::TvpGather { .. }
    );
    let writes = kind.writes();
    pure_vector
        && !writes.is_empty()
        && writes
            .iter()
            .all(|v| v.is_whole(kernel.bufs[v.buf].num_elements()))
        && !writes
            .iter()
            .any(|w| kind.reads().iter().any(|r| r.buf == w.buf))
}

/// At most this many clones of one op (a bound on code growth).
const MAX_CLONES: usize = 16;

/// A position of an op list: (op index, nested body index) steps from the
/// kernel's body.
type Path = Vec<(usize, usize)>;

fn collect_lists(body: &[TOp], prefix: &mut Path, out: &mut Vec<Path>) {
    out.push(prefix.clone());
    for (i, op) in body.iter().enumerate() {
        for (b, inner) in op.kind.bodies().into_iter().enumerate() {
            prefix.push((i, b));
            collect_lists(inner, prefix, out);
            prefix.pop();
        }
    }
}

fn list_at<'a>(body: &'a [TOp], path: &[(usize, usize)]) -> &'a [TOp] {
    match path.split_first() {
        None => body,
        Some((&(i, b), rest)) => list_at(body[i].kind.bodies()[b], rest),
    }
}

fn list_at_mut<'a>(body: &'a mut Vec<TOp>, path: &[(usize, usize)]) -> &'a mut Vec<TOp> {
    match path.split_first() {
        None => body,
        Some((&(i, b), rest)) => {
            let inner = body[i]
                .kind
                .bodies_mut()
                .into_iter()
                .nth(b)
                .expect("a valid path");
            list_at_mut(inner, rest)
        }
    }
}

/// The arms an op sinks into: `(index of the if in the list, arm index)`.
type Targets = Vec<(usize, usize)>;

/// What becomes of the op where it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// Every use is in the targets: the op is deleted.
    Move,
    /// Ops before the first target read it too: it stays for them, and the
    /// targets (else arms only) compute their own copy, so its buffers die
    /// at their last use before the branches instead of living through them.
    Rematerialize,
}

/// The first op (by list, last op first) that can sink, with its targets.
fn find_sink(kernel: &TileKernel) -> Option<(Path, usize, Targets, How)> {
    let totals = reference_counts(&kernel.body);
    let mut lists = Vec::new();
    collect_lists(&kernel.body, &mut Vec::new(), &mut lists);
    for path in lists {
        let list = list_at(&kernel.body, &path);
        for j in (0..list.len()).rev() {
            if let Some((targets, how)) = sink_targets(kernel, &totals, list, j) {
                return Some((path, j, targets, how));
            }
        }
    }
    None
}

/// The `(if index, arm index)` pairs that would receive clones of
/// `list[j]`, when it can sink, and whether it moves or is rematerialised.
fn sink_targets(
    kernel: &TileKernel,
    totals: &BTreeMap<Buf, usize>,
    list: &[TOp],
    j: usize,
) -> Option<(Targets, How)> {
    let op = &list[j];
    if !is_sinkable(kernel, &op.kind) {
        return None;
    }
    let outputs: BTreeSet<Buf> = op.kind.writes().into_iter().map(|v| v.buf).collect();
    let inputs: BTreeSet<Buf> = op.kind.reads().into_iter().map(|v| v.buf).collect();
    let input_regs: BTreeSet<SReg> = regs(op.kind.scalar_uses()).collect();
    let mut targets = Vec::new();
    let mut seen: BTreeMap<Buf, usize> = BTreeMap::new();
    for (k, later) in list.iter().enumerate().skip(j + 1) {
        let TOpKind::If {
            then_body,
            else_body,
            ..
        } = &later.kind
        else {
            continue;
        };
        for (a, arm) in [then_body, else_body].into_iter().enumerate() {
            let counts = reference_counts(arm);
            let uses: Vec<(Buf, usize)> = outputs
                .iter()
                .filter_map(|b| counts.get(b).map(|&n| (*b, n)))
                .collect();
            if uses.is_empty() {
                continue;
            }
            // Nothing between the op and this branch may change its inputs.
            let (written, defined) = effects(&list[j + 1..k]);
            if !written.is_disjoint(&inputs) || !defined.is_disjoint(&input_regs) {
                return None;
            }
            for (b, n) in uses {
                *seen.entry(b).or_default() += n;
            }
            targets.push((k, a));
        }
    }
    // Every reference but the op's own is inside those arms.
    let all_inside = outputs
        .iter()
        .all(|b| totals.get(b).copied().unwrap_or(0) == 1 + seen.get(b).copied().unwrap_or(0));
    // Work must not grow on the expected path: the lowering's guarded
    // accesses take the then arm when their guards hold (always, in
    // practice), so at most one then arm may receive a clone; else arms
    // (gather fallbacks) may receive any number.
    let then_targets = targets.iter().filter(|&&(_, arm)| arm == 0).count();
    if targets.is_empty() || targets.len() > MAX_CLONES {
        return None;
    }
    if all_inside {
        return (then_targets <= 1).then_some((targets, How::Move));
    }
    // Rematerialise a cheap op (e.g. the offsets a mask is computed from
    // before the branches, which the fallbacks read too) into else arms
    // only, so the expected path does no extra work, when its other uses
    // all lie before the first branch and it is the only writer of its
    // outputs (so the copies compute the bits the original holds there).
    let cheap = matches!(op.kind, TOpKind::Map { .. } | TOpKind::Iota { .. });
    let first = targets[0].0;
    let before = reference_counts(&list[j + 1..first]);
    let uses_before_only = outputs.iter().all(|b| {
        totals.get(b).copied().unwrap_or(0)
            == 1 + seen.get(b).copied().unwrap_or(0) + before.get(b).copied().unwrap_or(0)
    });
    let only_writer = outputs.iter().all(|b| writers(&kernel.body, *b) == 1);
    (cheap && then_targets == 0 && uses_before_only && only_writer)
        .then_some((targets, How::Rematerialize))
}

/// How many ops in `body` (nested bodies included) write `buf`.
fn writers(body: &[TOp], buf: Buf) -> usize {
    let mut n = 0;
    for_each_op(body, &mut |op| {
        if op.kind.writes().iter().any(|v| v.buf == buf) {
            n += 1;
        }
    });
    n
}

/// Puts a clone of `op`, with fresh output buffers, at the start of arm
/// `arm` of the `if` `branch`, renaming the outputs' uses in that arm.
fn clone_into_arm(
    bufs: &mut cranelift_entity::PrimaryMap<Buf, crate::tile::BufData>,
    op: &TOp,
    branch: &mut TOp,
    arm: usize,
) {
    let TOpKind::If {
        then_body,
        else_body,
        ..
    } = &mut branch.kind
    else {
        unreachable!("sink targets are ifs");
    };
    let body = if arm == 0 { then_body } else { else_body };
    let mut clone = op.clone();
    let mut renames = BTreeMap::new();
    for v in clone.kind.writes() {
        renames
            .entry(v.buf)
            .or_insert_with(|| bufs.push(bufs[v.buf].clone()));
    }
    rename_views(&mut clone, &renames);
    for inner in body.iter_mut() {
        rename_views(inner, &renames);
    }
    body.insert(0, clone);
}

fn rename_views(op: &mut TOp, renames: &BTreeMap<Buf, Buf>) {
    for v in op.kind.views_mut() {
        if let Some(&to) = renames.get(&v.buf) {
            v.buf = to;
        }
    }
    for inner in op.kind.bodies_mut() {
        for op in inner {
            rename_views(op, renames);
        }
    }
}
