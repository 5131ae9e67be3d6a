//! Epilogue fusion into the TTU accumulator drain (`epilogue-drain`).
//!
//! The lowering leaves a `tt.dot`'s accumulator in a TSRAM f32/i32 buffer
//! and whatever follows the dot — bias, scale, activation, the cast to the
//! stored type — as a TVP `map` (after `egg-fusion`, usually one). This
//! pass moves such an accumulator into the TTU accumulator memory
//! ([`BufSpace::Acc`]) and replaces the map with `ttu.drain src=acc
//! dst=out epilogue=micro extra=[…]`, which evaluates the same
//! micro-program on the same f32/i32 values while the data leaves ACC —
//! bit-exact by construction. A map that is exactly the drain's built-in
//! cast (`LaneOp::cast`, e.g. f32 → f16 nearest even) becomes a drain
//! without epilogue.
//!
//! **Candidates.** A `map` with one output reading the accumulator `X`
//! through exactly one of its inputs (the others are views of the output's
//! shape or scalars, as in any map). `X`'s *web* is `X` and every buffer of
//! its dtype and shape connected to it by `tvp.copy` (the loop-carried
//! accumulator of a K loop is copied into the matmul's buffer and back);
//! a TTU matmul must write a web buffer. Every access to a web buffer must
//! be one the ACC accepts: a matmul output, a `tvp.copy`, a `tvp.map`
//! input/output or a drain source (never DMA, scalar loads/stores or
//! matmul operands, which are TSRAM-only).
//!
//! **Deadness.** The drain is the accumulator's last use: the map must be
//! the textually last access to `X` in the kernel, read `X` once, and not
//! write a web buffer; when the map is inside loops, the first access to
//! `X` inside the outermost of them must be a whole-buffer overwrite (a
//! non-accumulating matmul, copy or map that does not read `X`) that is a
//! sibling of the map before it, so no iteration reads an `X` left by the
//! previous one.
//!
//! **Capacity.** The web buffers, added to the buffers already in ACC
//! (each rounded to the allocator's alignment, as if all were live at
//! once), must fit `machine.tile.acc_bytes`; otherwise the kernel is left
//! as it was.
//!
//! **Choice.** Each candidate is a tiny e-graph: the root class holds
//! `(tvp-map (tsram matmul))` — the accumulator materialised in TSRAM then
//! mapped — and the rewrite `(tvp-map (tsram ?x)) => (drain (acc ?x))`
//! adds the drained form. Extraction with [`DrainCost`] (from the machine
//! model, the formulas of `Machine::tvp_cycles` and
//! `Machine::drain_cycles`) picks one: `tvp.latency_cycles + max(S ·
//! ceil(E / lanes), ceil(bytes / tsram_bytes_per_cycle))` for the map,
//! `ceil(E / ttu.drain_elements_per_cycle) + S · ceil(E / lanes)` for the
//! drain (S = 0 for the built-in cast), infinite when ACC does not fit.
//! Ties keep the map.
//!
//! Pipeline position: after `egg-fusion` (the epilogue is one fused map by
//! then) and before `ttu-tiling`, so tiling sees the output in ACC and
//! sizes tiles for the accumulator (tiling splits the matmul into sub-views
//! of the same buffer; the single drain still reads the whole of it).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use egg::{define_language, CostFunction, EGraph, Extractor, Id, Rewrite, Runner};
use maiac_backend::isa::{DType, LaneOp, LaneSrc, MicroProgram};
use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use crate::pass::{Pass, PassContext};
use crate::sched::sram;
use crate::tile::{BView, Buf, BufSpace, TInput, TOp, TOpKind, TileKernel};

define_language! {
    /// How an accumulator's epilogue runs: `matmul` is the matmul's result
    /// (the same in both forms), `(tsram x)` / `(acc x)` where the
    /// accumulator lives, `(tvp-map x)` the epilogue as a TVP map over a
    /// TSRAM accumulator, `(drain x)` the epilogue in the TTU drain.
    pub enum Finish {
        "matmul" = Matmul,
        "tsram" = Tsram(Id),
        "acc" = Acc(Id),
        "tvp-map" = TvpMap(Id),
        "drain" = Drain(Id),
    }
}

/// Cycles of one candidate's two forms (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct DrainCost {
    pub map_cycles: f64,
    pub drain_cycles: f64,
    /// Whether the web fits in the accumulator memory.
    pub acc_fits: bool,
}

impl DrainCost {
    /// The costs of draining `elements` elements through a micro-program
    /// of `slots` issue slots per lane vector (`None`: the built-in cast)
    /// instead of mapping them, the map moving `map_bytes` TSRAM bytes.
    pub fn new(
        machine: &Machine,
        elements: u64,
        slots: u64,
        epilogue_slots: Option<u64>,
        map_bytes: u64,
        acc_fits: bool,
    ) -> DrainCost {
        let vectors = elements.div_ceil(u64::from(machine.tvp.lanes.max(1)));
        let compute = slots.max(1) * vectors;
        let memory = map_bytes.div_ceil(u64::from(machine.tile.tsram_bytes_per_cycle.max(1)));
        let map_cycles = u64::from(machine.tvp.latency_cycles) + compute.max(memory);
        let drain_cycles = elements
            .div_ceil(u64::from(machine.ttu.drain_elements_per_cycle.max(1)))
            + epilogue_slots.unwrap_or(0) * vectors;
        DrainCost {
            map_cycles: map_cycles as f64,
            drain_cycles: drain_cycles as f64,
            acc_fits,
        }
    }
}

impl CostFunction<Finish> for DrainCost {
    type Cost = f64;

    fn cost<C>(&mut self, enode: &Finish, mut costs: C) -> f64
    where
        C: FnMut(Id) -> f64,
    {
        match enode {
            Finish::Matmul => 0.0,
            Finish::Tsram(x) => costs(*x),
            Finish::Acc(x) if self.acc_fits => costs(*x),
            Finish::Acc(_) => f64::INFINITY,
            Finish::TvpMap(x) => costs(*x) + self.map_cycles,
            Finish::Drain(x) => costs(*x) + self.drain_cycles,
        }
    }
}

fn drain_rule() -> Rewrite<Finish, ()> {
    egg::rewrite!("drain-epilogue"; "(tvp-map (tsram ?x))" => "(drain (acc ?x))")
}

/// Whether extraction with `cost` picks the drain.
pub fn drain_wins(cost: DrainCost) -> bool {
    let mut egraph: EGraph<Finish, ()> = EGraph::default();
    let mm = egraph.add(Finish::Matmul);
    let tsram = egraph.add(Finish::Tsram(mm));
    let root = egraph.add(Finish::TvpMap(tsram));
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_node_limit(64)
        .with_iter_limit(4)
        .with_time_limit(Duration::from_secs(1))
        .run(&[drain_rule()]);
    let egraph = &runner.egraph;
    let map_cycles = cost.map_cycles;
    let extractor = Extractor::new(egraph, cost);
    let (best, expr) = extractor.find_best(root);
    // Ties keep the map (the extractor may return either).
    best < map_cycles
        && expr
            .as_ref()
            .last()
            .is_some_and(|n| matches!(n, Finish::Drain(_)))
}

/// The `epilogue-drain` pass.
pub struct EpilogueDrain {
    machine: Machine,
    /// Maps turned into drains by the last run (for tests and statistics).
    pub drained: usize,
}

impl EpilogueDrain {
    pub fn new(machine: Machine) -> EpilogueDrain {
        EpilogueDrain {
            machine,
            drained: 0,
        }
    }
}

/// One op in pre-order with what the legality checks need.
struct Site {
    /// Pre-order positions of the enclosing loops, outermost first.
    loops: Vec<usize>,
    /// Identifies the body list the op sits in (pre-order position of the
    /// op owning the list and the list's index among its bodies; the
    /// kernel body is `(usize::MAX, 0)`).
    list: (usize, usize),
    /// One past the last pre-order position of the op's nested bodies.
    end: usize,
}

/// Everything the pass knows about the kernel, gathered in one walk.
#[derive(Default)]
struct Index {
    sites: Vec<Site>,
    ops: Vec<TOpKind>,
    /// Per buffer, the pre-order positions of the ops accessing it (once
    /// per view).
    accesses: BTreeMap<Buf, Vec<usize>>,
    /// Buffers some access of which the ACC does not accept.
    tsram_only: BTreeSet<Buf>,
    /// Buffers a matmul writes.
    matmul_out: BTreeSet<Buf>,
    /// Copy edges between buffers.
    copies: Vec<(Buf, Buf)>,
}

impl Index {
    fn build(body: &[TOp]) -> Index {
        let mut index = Index::default();
        index.walk(body, &mut Vec::new(), (usize::MAX, 0));
        index
    }

    fn walk(&mut self, body: &[TOp], loops: &mut Vec<usize>, list: (usize, usize)) {
        for op in body {
            let pos = self.sites.len();
            self.sites.push(Site {
                loops: loops.clone(),
                list,
                end: pos + 1,
            });
            let kind = &op.kind;
            // Nested bodies are walked below; keep the op's own fields only.
            self.ops.push(match kind {
                TOpKind::For { .. } | TOpKind::If { .. } | TOpKind::While { .. } => {
                    TOpKind::Trap { code: 0 }
                }
                other => other.clone(),
            });
            for v in kind.reads().into_iter().chain(kind.writes()) {
                self.accesses.entry(v.buf).or_default().push(pos);
            }
            match kind {
                TOpKind::Matmul { a, b, out, .. } => {
                    self.matmul_out.insert(out.buf);
                    self.tsram_only.insert(a.view.buf);
                    self.tsram_only.insert(b.view.buf);
                    self.tsram_only.extend(a.scale.iter().map(|s| s.buf));
                    self.tsram_only.extend(b.scale.iter().map(|s| s.buf));
                }
                TOpKind::Copy { src, dst } => self.copies.push((src.buf, dst.buf)),
                TOpKind::Map { .. } | TOpKind::Drain { .. } => {}
                other => {
                    for v in other.reads().into_iter().chain(other.writes()) {
                        self.tsram_only.insert(v.buf);
                    }
                }
            }
            let is_loop = matches!(kind, TOpKind::For { .. } | TOpKind::While { .. });
            if is_loop {
                loops.push(pos);
            }
            for (i, inner) in kind.bodies().into_iter().enumerate() {
                self.walk(inner, loops, (pos, i));
            }
            if is_loop {
                loops.pop();
            }
            self.sites[pos].end = self.sites.len();
        }
    }

    /// `x` and every buffer of its dtype and shape connected to it by
    /// copies.
    fn web(&self, kernel: &TileKernel, x: Buf) -> BTreeSet<Buf> {
        let same = |b: Buf| {
            kernel.bufs[b].dtype == kernel.bufs[x].dtype
                && kernel.bufs[b].shape == kernel.bufs[x].shape
        };
        let mut web = BTreeSet::from([x]);
        let mut grew = true;
        while grew {
            grew = false;
            for &(s, d) in &self.copies {
                for (from, to) in [(s, d), (d, s)] {
                    if web.contains(&from) && !web.contains(&to) && same(to) {
                        web.insert(to);
                        grew = true;
                    }
                }
            }
        }
        web
    }

    /// Whether `x` is dead after the map at `at` (see the module docs).
    fn dead_after(&self, kernel: &TileKernel, x: Buf, at: usize) -> bool {
        let accesses = &self.accesses[&x];
        if accesses.iter().any(|&p| p > at) || accesses.iter().filter(|&&p| p == at).count() != 1 {
            return false;
        }
        let Some(&outer) = self.sites[at].loops.first() else {
            return true;
        };
        let Some(&first) = accesses
            .iter()
            .find(|&&p| p > outer && p < self.sites[outer].end)
        else {
            return false;
        };
        first != at
            && self.sites[first].list == self.sites[at].list
            && overwrites_whole(kernel, &self.ops[first], x)
    }
}

/// Whether `op` writes all of `x` without reading it.
fn overwrites_whole(kernel: &TileKernel, op: &TOpKind, x: Buf) -> bool {
    let whole = BView::whole(x, &kernel.bufs[x].shape);
    let writes_whole = match op {
        TOpKind::Matmul {
            out, accumulate, ..
        } => !*accumulate && *out == whole,
        TOpKind::Copy { dst, .. } => *dst == whole,
        TOpKind::Map { outputs, .. } => outputs.contains(&whole),
        _ => false,
    };
    writes_whole && op.reads().iter().all(|v| v.buf != x)
}

/// A map rewritten as a drain, before the cost decision.
struct Plan {
    web: BTreeSet<Buf>,
    drain: TOpKind,
    cost: DrainCost,
}

impl EpilogueDrain {
    /// The drain replacing the map at pre-order position `at`, if legal.
    fn plan(
        &self,
        kernel: &TileKernel,
        index: &Index,
        at: usize,
        acc_used: u64,
        in_acc: &BTreeSet<Buf>,
    ) -> Option<Plan> {
        let TOpKind::Map {
            micro,
            inputs,
            outputs,
        } = &index.ops[at]
        else {
            return None;
        };
        let [out] = outputs.as_slice() else {
            return None;
        };
        if micro.outputs.len() != 1 || micro.inputs.len() != inputs.len() {
            return None;
        }
        // The accumulator input: a view of an f32/i32 buffer whose web a
        // matmul writes, read once, dead after the map.
        let (slot, src, web) = inputs.iter().enumerate().find_map(|(slot, input)| {
            let TInput::View(src) = input else {
                return None;
            };
            let x = src.buf;
            let dtype = kernel.bufs[x].dtype;
            if !matches!(dtype, DType::F32 | DType::I32) || micro.inputs[slot] != dtype {
                return None;
            }
            let web = index.web(kernel, x);
            let legal = web.iter().any(|b| index.matmul_out.contains(b))
                && !web.iter().any(|b| index.tsram_only.contains(b))
                && !web.contains(&out.buf)
                && inputs.iter().enumerate().all(|(i, other)| {
                    i == slot || !matches!(other, TInput::View(v) if web.contains(&v.buf))
                })
                && src.shape == out.shape
                && index.dead_after(kernel, x, at);
            legal.then_some((slot, src, web))
        })?;
        let x = src.buf;
        let new_bytes: u64 = web
            .iter()
            .filter(|b| !in_acc.contains(b) && kernel.bufs[**b].space != BufSpace::Acc)
            .map(|&b| sram::aligned(kernel.bufs[b].bytes()))
            .sum();
        let acc_fits = acc_used + new_bytes <= self.machine.tile.acc_bytes;

        let epilogue_micro = with_input_first(micro, slot);
        let extra: Vec<TInput> = inputs
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != slot)
            .map(|(_, input)| input.clone())
            .collect();
        let out_dtype = kernel.bufs[out.buf].dtype;
        let builtin_cast = is_builtin_cast(&epilogue_micro, kernel.bufs[x].dtype, out_dtype);
        let slots = micro.issue_slots(
            self.machine.tvp.simple_op_slots,
            self.machine.tvp.transcendental_op_slots,
        );
        let elements = out.num_elements();
        let view_bytes = |v: &BView| kernel.bufs[v.buf].dtype.bytes_for(v.num_elements());
        let map_bytes = inputs
            .iter()
            .filter_map(|i| match i {
                TInput::View(v) => Some(view_bytes(v)),
                TInput::Scalar(_) => None,
            })
            .sum::<u64>()
            + view_bytes(out);
        let cost = DrainCost::new(
            &self.machine,
            elements,
            slots,
            (!builtin_cast).then_some(slots),
            map_bytes,
            acc_fits,
        );
        let drain = TOpKind::Drain {
            src: src.clone(),
            dst: out.clone(),
            epilogue: (!builtin_cast).then_some((epilogue_micro, extra)),
        };
        Some(Plan { web, drain, cost })
    }
}

/// `micro` with its input `slot` moved to position 0 (the drain passes the
/// accumulator element first).
fn with_input_first(micro: &MicroProgram, slot: usize) -> MicroProgram {
    let remap = |src: LaneSrc| match src {
        LaneSrc::Input(i) => {
            let i = usize::from(i);
            let new = if i == slot {
                0
            } else if i < slot {
                i + 1
            } else {
                i
            };
            LaneSrc::Input(new as u16)
        }
        other => other,
    };
    let mut inputs = vec![micro.inputs[slot]];
    inputs.extend(
        micro
            .inputs
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != slot)
            .map(|(_, &t)| t),
    );
    let mut out = micro.clone();
    out.inputs = inputs;
    for instr in &mut out.body {
        for a in &mut instr.args {
            *a = remap(*a);
        }
    }
    for o in &mut out.outputs {
        *o = remap(*o);
    }
    out
}

/// Whether `micro` is `out = cast(in0)` exactly as a drain without
/// epilogue computes it.
fn is_builtin_cast(micro: &MicroProgram, from: DType, to: DType) -> bool {
    let [instr] = micro.body.as_slice() else {
        return false;
    };
    micro.inputs == [from]
        && micro.outputs == [LaneSrc::Value(0)]
        && instr.args == [LaneSrc::Input(0)]
        && LaneOp::cast(from, to) == Some(instr.op)
}

impl Pass<TileKernel> for EpilogueDrain {
    fn name(&self) -> &str {
        "epilogue-drain"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        self.drained = 0;
        let index = Index::build(&kernel.body);
        let mut acc_used: u64 = kernel
            .bufs
            .values()
            .filter(|b| b.space == BufSpace::Acc)
            .map(|b| sram::aligned(b.bytes()))
            .sum();
        let mut in_acc: BTreeSet<Buf> = BTreeSet::new();
        let mut drains: BTreeMap<usize, TOpKind> = BTreeMap::new();
        for at in 0..index.ops.len() {
            let Some(plan) = self.plan(kernel, &index, at, acc_used, &in_acc) else {
                continue;
            };
            if !drain_wins(plan.cost.clone()) {
                continue;
            }
            for &b in &plan.web {
                if in_acc.insert(b) {
                    acc_used += sram::aligned(kernel.bufs[b].bytes());
                }
            }
            drains.insert(at, plan.drain);
        }
        if drains.is_empty() {
            return Ok(());
        }
        for &b in &in_acc {
            kernel.bufs[b].space = BufSpace::Acc;
        }
        self.drained = drains.len();
        replace(&mut kernel.body, &mut 0, &mut drains);
        Ok(())
    }
}

/// Replaces the ops at the pre-order positions of `drains`.
fn replace(body: &mut [TOp], pos: &mut usize, drains: &mut BTreeMap<usize, TOpKind>) {
    for op in body {
        if let Some(drain) = drains.remove(pos) {
            op.kind = drain;
        }
        *pos += 1;
        for inner in op.kind.bodies_mut() {
            replace(inner, pos, drains);
        }
    }
}
