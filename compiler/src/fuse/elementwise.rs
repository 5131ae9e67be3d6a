//! Elementwise fusion with an e-graph (`egg-fusion`).
//!
//! In every straight-line body, TVP `map`s connected producer → consumer
//! (the consumer reads exactly the view the producer wrote, over the same
//! iteration shape) are grouped; a group becomes **one** `map` placed where
//! its last member was. Each member's micro-program is added to an e-graph
//! of lane dataflow ([`super::lang`]); a consumer sees a producer's value as
//! `(store v)` — the unfused, materialised form — and the rewrite
//! `(store ?x) => ?x` offers the fused form. Bit-exact simplifications run
//! alongside; extraction with the machine-model cost
//! ([`super::lang::FusionCost`]) picks the program, which is linearised in
//! SSA order with shared values computed once.
//!
//! Legality (checked per group, conservatively):
//! - a member reads a buffer another member wrote only through exactly the
//!   view it was written with, and no two members write one buffer;
//! - the ops between the first and the last member that stay in place
//!   neither read nor write what an earlier member writes, nor write what
//!   an earlier member reads (buffers and registers): moving the members
//!   down to the last one's position does not change what anyone sees;
//! - an intermediate buffer disappears only if its single writer is the
//!   producer and every read of it in the whole kernel is a member's
//!   exact-view read after the producer (so it is neither loop-carried nor
//!   read after the group); otherwise it stays an output of the fused map;
//! - the fused program respects `MicroProgram::check` (16 inputs, 8
//!   outputs, 1024 lane instructions); groups are grown only while the
//!   bound holds, and any group whose extraction fails a check is left as
//!   it was.
//!
//! A fused `map` reads all its inputs before writing its outputs (ISA
//! rule), so a member overwriting a buffer an earlier member read is fine.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use egg::{EGraph, Extractor, Id, Language, Rewrite, Runner, SimpleScheduler};
use maiac_backend::isa::micro::{MAX_MICRO_BODY, MAX_MICRO_INPUTS, MAX_MICRO_OUTPUTS};
use maiac_backend::isa::{DType, LaneInstr, LaneSrc, MicroProgram};
use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use crate::pass::{Pass, PassContext};
use crate::tile::{BView, Buf, SReg, TInput, TOp, TOpKind, TileKernel};

use super::lang::{
    fusion_rule, simplify_rules, FusionCost, ImmKey, Lane, LaneAnalysis, LaneKey, LeafKey,
};
use super::walk::{for_each_op, Footprint};

/// Bounds on one e-graph run. The node and iteration limits make a run
/// deterministic; the time limit is a last-resort guard that a normal
/// compile never reaches.
#[derive(Debug, Clone, Copy)]
pub struct EggLimits {
    pub node_limit: usize,
    pub iter_limit: usize,
    pub time_limit: Duration,
}

impl Default for EggLimits {
    fn default() -> Self {
        EggLimits {
            node_limit: 20_000,
            iter_limit: 8,
            time_limit: Duration::from_secs(5),
        }
    }
}

/// The `egg-fusion` pass.
pub struct EggFusion {
    machine: Machine,
    pub limits: EggLimits,
    /// Groups fused by the last run (for tests and statistics).
    pub fused_groups: usize,
    /// The fusion rule and the simplification rules, parsed once: a kernel
    /// has many groups, and parsing the rule patterns per group was a fifth
    /// of the compile time of a layernorm.
    rules: Vec<Rewrite<Lane, LaneAnalysis>>,
}

impl EggFusion {
    pub fn new(machine: Machine) -> EggFusion {
        EggFusion {
            machine,
            limits: EggLimits::default(),
            fused_groups: 0,
            rules: std::iter::once(fusion_rule())
                .chain(simplify_rules())
                .collect(),
        }
    }

    pub fn with_limits(mut self, limits: EggLimits) -> EggFusion {
        self.limits = limits;
        self
    }
}

impl Pass<TileKernel> for EggFusion {
    fn name(&self) -> &str {
        "egg-fusion"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let mut index = BufIndex::default();
        for_each_op(&kernel.body, &mut |op| index.add(op, 1));
        self.fused_groups = 0;
        self.fuse_body(&mut kernel.body, &mut index);
        Ok(())
    }
}

/// How many times each buffer is read and written in the whole kernel
/// (one count per view an op reads or writes).
#[derive(Default, Debug)]
struct BufIndex {
    reads: BTreeMap<Buf, i64>,
    writes: BTreeMap<Buf, i64>,
}

impl BufIndex {
    /// Counts `op`'s own accesses (not its nested bodies') `sign` times.
    fn add(&mut self, op: &TOp, sign: i64) {
        for v in op.kind.reads() {
            *self.reads.entry(v.buf).or_default() += sign;
        }
        for v in op.kind.writes() {
            *self.writes.entry(v.buf).or_default() += sign;
        }
    }

    fn reads(&self, buf: Buf) -> i64 {
        self.reads.get(&buf).copied().unwrap_or(0)
    }

    fn writes(&self, buf: Buf) -> i64 {
        self.writes.get(&buf).copied().unwrap_or(0)
    }
}

/// Where a member's input comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// Group input `k`.
    Leaf(usize),
    /// Output `o` of member `p` (an index into the group).
    Produced(usize, usize),
}

/// A legal fusion group.
struct GroupPlan {
    /// Body indices of the members, ascending.
    members: Vec<usize>,
    /// The group's inputs with the lane type they are read at.
    leaves: Vec<(TInput, DType)>,
    /// Per member, per input: where the value comes from.
    sources: Vec<Vec<Source>>,
    /// Member outputs that stay materialised: (member, output index).
    external: Vec<(usize, usize)>,
}

fn map_parts(op: &TOp) -> Option<(&MicroProgram, &[TInput], &[BView])> {
    match &op.kind {
        TOpKind::Map {
            micro,
            inputs,
            outputs,
        } => Some((micro, inputs, outputs)),
        _ => None,
    }
}

/// Checks that `members` (ascending body indices of maps) can be fused.
fn plan(body: &[TOp], members: &[usize], index: &BufIndex) -> Option<GroupPlan> {
    let shape = &map_parts(&body[members[0]])?.2.first()?.shape;
    let mut written: BTreeMap<Buf, (usize, usize, &BView)> = BTreeMap::new();
    let mut leaves: Vec<(TInput, DType)> = Vec::new();
    let mut sources = Vec::with_capacity(members.len());
    // Exact-view reads of each member-written buffer by later members.
    let mut produced_reads: BTreeMap<Buf, i64> = BTreeMap::new();
    let mut body_len = 0;
    for (pos, &i) in members.iter().enumerate() {
        let (micro, inputs, outputs) = map_parts(&body[i])?;
        if outputs.is_empty()
            || outputs.iter().any(|o| &o.shape != shape)
            || micro.inputs.len() != inputs.len()
        {
            return None;
        }
        body_len += micro.body.len();
        let mut member_sources = Vec::with_capacity(inputs.len());
        for (input, &dtype) in inputs.iter().zip(&micro.inputs) {
            if let TInput::View(v) = input {
                if let Some(&(p, o, w)) = written.get(&v.buf) {
                    if w != v {
                        return None;
                    }
                    *produced_reads.entry(v.buf).or_default() += 1;
                    member_sources.push(Source::Produced(p, o));
                    continue;
                }
            }
            let key = (input.clone(), dtype);
            let k = match leaves.iter().position(|l| *l == key) {
                Some(k) => k,
                None => {
                    leaves.push(key);
                    leaves.len() - 1
                }
            };
            member_sources.push(Source::Leaf(k));
        }
        sources.push(member_sources);
        for (o, out) in outputs.iter().enumerate() {
            if written.insert(out.buf, (pos, o, out)).is_some() {
                return None;
            }
        }
    }
    if !interleaved_ops_commute(body, members) {
        return None;
    }
    let mut external: Vec<(usize, usize)> = written
        .iter()
        .filter(|(&buf, _)| {
            let internal = index.writes(buf) == 1
                && index.reads(buf) == produced_reads.get(&buf).copied().unwrap_or(0);
            !internal
        })
        .map(|(_, &(p, o, _))| (p, o))
        .collect();
    external.sort_unstable();
    let fits = !external.is_empty()
        && external.len() <= MAX_MICRO_OUTPUTS
        && leaves.len() <= MAX_MICRO_INPUTS
        && body_len <= MAX_MICRO_BODY;
    fits.then(|| GroupPlan {
        members: members.to_vec(),
        leaves,
        sources,
        external,
    })
}

/// Whether every op between the first and last member that is not a member
/// commutes with the members before it (which move down past it).
fn interleaved_ops_commute(body: &[TOp], members: &[usize]) -> bool {
    let (first, last) = (members[0], *members.last().expect("groups are not empty"));
    let member_set: BTreeSet<usize> = members.iter().copied().collect();
    let mut moved_reads: BTreeSet<Buf> = BTreeSet::new();
    let mut moved_writes: BTreeSet<Buf> = BTreeSet::new();
    let mut moved_uses: BTreeSet<SReg> = BTreeSet::new();
    for (j, op) in body.iter().enumerate().take(last).skip(first) {
        if member_set.contains(&j) {
            let fp = Footprint::of(op);
            moved_reads.extend(fp.reads);
            moved_writes.extend(fp.writes);
            moved_uses.extend(fp.uses);
            continue;
        }
        let fp = Footprint::of(op);
        let conflicts = fp.reads.iter().any(|b| moved_writes.contains(b))
            || fp
                .writes
                .iter()
                .any(|b| moved_writes.contains(b) || moved_reads.contains(b))
            || fp.defs.iter().any(|r| moved_uses.contains(r));
        if conflicts {
            return false;
        }
    }
    true
}

impl EggFusion {
    fn fuse_body(&mut self, body: &mut Vec<TOp>, index: &mut BufIndex) {
        for op in body.iter_mut() {
            for inner in op.kind.bodies_mut() {
                self.fuse_body(inner, index);
            }
        }
        let groups = form_groups(body, index);
        let mut replacements: BTreeMap<usize, TOp> = BTreeMap::new();
        let mut removed: BTreeSet<usize> = BTreeSet::new();
        for group in groups.iter().filter(|g| g.members.len() > 1) {
            let Some(fused) = self.fuse_group(body, group) else {
                continue;
            };
            let last = *group.members.last().expect("groups are not empty");
            for &m in &group.members {
                index.add(&body[m], -1);
                removed.insert(m);
            }
            index.add(&fused, 1);
            replacements.insert(last, fused);
            self.fused_groups += 1;
        }
        if replacements.is_empty() {
            return;
        }
        let old = std::mem::take(body);
        for (i, op) in old.into_iter().enumerate() {
            if let Some(fused) = replacements.remove(&i) {
                body.push(fused);
            } else if !removed.contains(&i) {
                body.push(op);
            }
        }
    }

    /// Builds, saturates and extracts the group's e-graph; `None` leaves the
    /// group unfused.
    fn fuse_group(&self, body: &[TOp], group: &GroupPlan) -> Option<TOp> {
        let first_outputs = map_parts(&body[group.members[0]])?.2;
        let elements = first_outputs[0].num_elements();
        let mut egraph: EGraph<Lane, LaneAnalysis> = EGraph::new(LaneAnalysis {
            leaf_types: group.leaves.iter().map(|l| l.1).collect(),
            elements,
        });
        let leaf_ids: Vec<Id> = (0..group.leaves.len())
            .map(|k| egraph.add(Lane::Leaf(LeafKey(k as u32))))
            .collect();
        let mut member_outputs: Vec<Vec<Id>> = Vec::with_capacity(group.members.len());
        for (pos, &m) in group.members.iter().enumerate() {
            let (micro, _, _) = map_parts(&body[m])?;
            let inputs: Vec<Id> = group.sources[pos]
                .iter()
                .map(|s| match *s {
                    Source::Leaf(k) => leaf_ids[k],
                    Source::Produced(p, o) => egraph.add(Lane::Store(member_outputs[p][o])),
                })
                .collect();
            let mut values: Vec<Id> = Vec::with_capacity(micro.body.len());
            let src_id = |egraph: &mut EGraph<Lane, LaneAnalysis>,
                          values: &[Id],
                          src: LaneSrc|
             -> Option<Id> {
                Some(match src {
                    LaneSrc::Input(i) => *inputs.get(usize::from(i))?,
                    LaneSrc::Value(j) => *values.get(usize::from(j))?,
                    LaneSrc::Imm { ty, bits } => egraph.add(Lane::Imm(ImmKey { ty, bits })),
                })
            };
            for instr in &micro.body {
                let args = instr
                    .args
                    .iter()
                    .map(|&a| src_id(&mut egraph, &values, a))
                    .collect::<Option<Vec<Id>>>()?;
                values.push(egraph.add(Lane::Op(LaneKey(instr.op), args)));
            }
            let outs = micro
                .outputs
                .iter()
                .map(|&o| src_id(&mut egraph, &values, o))
                .collect::<Option<Vec<Id>>>()?;
            member_outputs.push(outs);
        }
        let roots: Vec<Id> = group
            .external
            .iter()
            .map(|&(p, o)| member_outputs[p][o])
            .collect();

        let runner = Runner::default()
            .with_egraph(egraph)
            .with_scheduler(SimpleScheduler)
            .with_node_limit(self.limits.node_limit)
            .with_iter_limit(self.limits.iter_limit)
            .with_time_limit(self.limits.time_limit)
            .run(&self.rules);
        let egraph = &runner.egraph;
        let extractor = Extractor::new(
            egraph,
            FusionCost {
                egraph,
                machine: &self.machine,
            },
        );
        let (micro, used_leaves) = linearise(egraph, &extractor, &roots, &group.leaves)?;
        micro.check().ok()?;
        let outputs = group
            .external
            .iter()
            .map(|&(p, o)| map_parts(&body[group.members[p]]).map(|parts| parts.2[o].clone()))
            .collect::<Option<Vec<BView>>>()?;
        let inputs = used_leaves
            .into_iter()
            .map(|k| group.leaves[k].0.clone())
            .collect();
        let last = *group.members.last()?;
        Some(TOp {
            kind: TOpKind::Map {
                micro,
                inputs,
                outputs,
            },
            loc: body[last].loc,
        })
    }
}

/// Grows fusion groups over the maps of `body` in program order.
fn form_groups(body: &[TOp], index: &BufIndex) -> Vec<GroupPlan> {
    let mut groups: Vec<GroupPlan> = Vec::new();
    // The group of each map already placed, by body index.
    let mut group_of: BTreeMap<usize, usize> = BTreeMap::new();
    // The last op of the body writing each buffer so far.
    let mut last_writer: BTreeMap<Buf, usize> = BTreeMap::new();
    for (i, op) in body.iter().enumerate() {
        if let Some((_, inputs, _)) = map_parts(op) {
            let mut candidates: Vec<usize> = inputs
                .iter()
                .filter_map(|input| match input {
                    TInput::View(v) => last_writer
                        .get(&v.buf)
                        .and_then(|w| group_of.get(w))
                        .copied(),
                    TInput::Scalar(_) => None,
                })
                .collect();
            candidates.sort_unstable();
            candidates.dedup();
            let mut placed = false;
            // Join every producer group at once, else the latest one alone.
            let mut attempts: Vec<Vec<usize>> = Vec::new();
            if candidates.len() > 1 {
                attempts.push(candidates.clone());
            }
            attempts.extend(candidates.iter().rev().map(|&g| vec![g]));
            for attempt in attempts {
                let mut members: Vec<usize> = attempt
                    .iter()
                    .flat_map(|&g| groups[g].members.iter().copied())
                    .collect();
                members.push(i);
                members.sort_unstable();
                if let Some(merged) = plan(body, &members, index) {
                    let target = attempt[0];
                    for &g in &attempt[1..] {
                        groups[g].members.clear();
                    }
                    for &m in &merged.members {
                        group_of.insert(m, target);
                    }
                    groups[target] = merged;
                    placed = true;
                    break;
                }
            }
            if !placed {
                if let Some(single) = plan(body, &[i], index) {
                    group_of.insert(i, groups.len());
                    groups.push(single);
                }
            }
        }
        let fp = Footprint::of(op);
        for buf in fp.writes {
            last_writer.insert(buf, i);
        }
    }
    groups.retain(|g| !g.members.is_empty());
    groups
}

/// Turns the extracted terms of `roots` into one SSA micro-program (shared
/// classes computed once, in post-order). Returns the program and the
/// group inputs it reads, in its input order. `None` if extraction kept a
/// materialisation (the runner stopped before fusing) or found a cycle.
fn linearise(
    egraph: &EGraph<Lane, LaneAnalysis>,
    extractor: &Extractor<FusionCost<'_>, Lane, LaneAnalysis>,
    roots: &[Id],
    leaves: &[(TInput, DType)],
) -> Option<(MicroProgram, Vec<usize>)> {
    let mut micro = MicroProgram::default();
    let mut used_leaves: Vec<usize> = Vec::new();
    let mut done: BTreeMap<Id, LaneSrc> = BTreeMap::new();
    let mut on_stack: BTreeSet<Id> = BTreeSet::new();
    for &root in roots {
        // Explicit post-order stack: chains can be a thousand ops deep.
        let mut stack: Vec<(Id, bool)> = vec![(egraph.find(root), false)];
        while let Some((id, expanded)) = stack.pop() {
            if done.contains_key(&id) {
                continue;
            }
            let node = extractor.find_best_node(id);
            if !expanded {
                if !on_stack.insert(id) {
                    return None;
                }
                stack.push((id, true));
                for &child in node.children().iter().rev() {
                    let child = egraph.find(child);
                    if !done.contains_key(&child) {
                        stack.push((child, false));
                    }
                }
                continue;
            }
            on_stack.remove(&id);
            let src = match node {
                Lane::Store(_) => return None,
                Lane::Imm(imm) => LaneSrc::Imm {
                    ty: imm.ty,
                    bits: imm.bits,
                },
                Lane::Leaf(leaf) => {
                    let k = leaf.0 as usize;
                    let slot = match used_leaves.iter().position(|&u| u == k) {
                        Some(slot) => slot,
                        None => {
                            used_leaves.push(k);
                            micro.inputs.push(leaves.get(k)?.1);
                            used_leaves.len() - 1
                        }
                    };
                    LaneSrc::Input(u16::try_from(slot).ok()?)
                }
                Lane::Op(op, args) => {
                    let args = args
                        .iter()
                        .map(|a| done.get(&egraph.find(*a)).copied())
                        .collect::<Option<Vec<LaneSrc>>>()?;
                    micro.body.push(LaneInstr { op: op.0, args });
                    LaneSrc::Value(u16::try_from(micro.body.len() - 1).ok()?)
                }
            };
            done.insert(id, src);
        }
        micro.outputs.push(*done.get(&egraph.find(root))?);
    }
    Some((micro, used_leaves))
}
