//! Activation-with-reduction fusion (`act-reduce`): a TVP `map` followed by
//! a `reduce` of its output becomes one `tvp.actreduce` ([`TOpKind::ActReduce`]),
//! the softmax step `e = exp(x − max); sum = Σ e` in one pass.
//!
//! **Pattern.** In a straight-line body, a `map` with one output view `O`
//! and, later in the same body, the first `reduce` with one input, exactly
//! the view `O` (same buffer, offset, shape and strides), and one output
//! `R`. The reduce's combiner must be the one-operand form (`[t, t] → t`
//! with `t` = `O`'s type), which is also the actreduce combiner convention.
//!
//! **Bit-exactness.** `tvp.actreduce` writes `O`, then folds the values
//! *stored* in `O` along `axis` sequentially from index 0 with the combiner
//! (`acc = O[0]; acc = c(acc, O[j])`) — the emulator runs the very same fold
//! routine as `tvp.reduce`, and the reduce it replaces reads the same stored
//! `O`. Accumulator initialisation, fold order, NaN propagation and types
//! are therefore those of the `reduce`, whatever the combiner computes; no
//! combiner needs to be recognised and nothing is reassociated. `O` is
//! still written, so later readers of it are unaffected. Multi-row
//! reductions (`axis = 1` of `[rows, cols]`, or any axis of any rank) fold
//! along the same axis as the `reduce` did.
//!
//! **Legality.** The fused op takes the `map`'s place, i.e. the `reduce` is
//! hoisted over the ops between the two. That is sound when none of those
//! ops (nested bodies included) writes `O`'s buffer (the reduce would have
//! seen the later bits) or reads or writes `R`'s buffer (they would see `R`
//! early, or have it overwritten). The `reduce` reads no registers, so
//! register definitions in between do not matter; the `map` does not move.
//! Scanning from a `map` stops at the first op that writes `O`'s buffer, so
//! every `reduce` is claimed by at most one `map`.
//!
//! **Choice.** Whether a legal pair fuses is decided by e-graph extraction
//! from the machine model, in the style of [`super::elementwise`] and
//! [`super::tiling`]: each pair is the term `(then (map k) (reduce k))`, the
//! rewrite `(then (map ?k) (reduce ?k)) => (actreduce ?k)` offers the fused
//! form, and [`ActReduceCost`] prices every form with the TVP cost formula
//! (`Machine::tvp_formula_cycles`: `tvp.latency_cycles + max(S · ceil(N /
//! lanes), ceil(bytes / tsram_bytes_per_cycle))`, `S` = the actreduce's
//! map + combiner slots). The fused form saves one instruction latency and
//! the read of `O`, so it wins unless the model sees no gain at all; on a
//! tie the program is left as it was. The runner is bounded (node and
//! iteration limits) and deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use egg::{
    define_language, Analysis, CostFunction, DidMerge, EGraph, Extractor, Id, Rewrite, Runner,
    SimpleScheduler,
};
use maiac_backend::isa::MicroProgram;
use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use super::elementwise::EggLimits;
use super::walk::Footprint;
use crate::pass::{Pass, PassContext};
use crate::tile::{BView, TInput, TOp, TOpKind, TileKernel};

/// A fusion candidate's number within one body (`pair3`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairKey(pub u32);

impl fmt::Display for PairKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pair{}", self.0)
    }
}

impl FromStr for PairKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.strip_prefix("pair")
            .and_then(|n| n.parse().ok())
            .map(PairKey)
            .ok_or_else(|| format!("{s} is not a pair"))
    }
}

define_language! {
    /// The two ways to run a map + reduce pair: `(map k)` and `(reduce k)`
    /// are the pair's instructions on their own (the reduce reading the
    /// stored map output), `(then a b)` runs one after the other, and
    /// `(actreduce k)` is the fused instruction.
    pub enum Step {
        "map" = Map(Id),
        "reduce" = Reduce(Id),
        "then" = Then([Id; 2]),
        "actreduce" = ActReduce(Id),
        Pair(PairKey),
    }
}

/// A class's data: the pair it is about (`None` for classes of steps).
#[derive(Default)]
pub struct PairAnalysis;

impl Analysis<Step> for PairAnalysis {
    type Data = Option<u32>;

    fn make(_egraph: &mut EGraph<Step, Self>, enode: &Step, _id: Id) -> Option<u32> {
        match enode {
            Step::Pair(k) => Some(k.0),
            _ => None,
        }
    }

    fn merge(&mut self, a: &mut Option<u32>, b: Option<u32>) -> DidMerge {
        egg::merge_option(a, b, |_, _| DidMerge(false, false))
    }
}

/// The TVP cycles of the three instructions a pair can become, from the
/// machine model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairCycles {
    pub map: u64,
    pub reduce: u64,
    pub fused: u64,
}

impl PairCycles {
    /// Prices `map` (one output `output`) and a `reduce` of `output` into
    /// `reduced` with `combiner`, separately and fused, with
    /// `Machine::tvp_formula_cycles` (lanes = the largest view, bytes = every
    /// view read and written, as `TvpOp::lanes` / `Machine::tvp_bytes`).
    pub fn of(
        machine: &Machine,
        micro: &MicroProgram,
        inputs: &[TInput],
        output: &BView,
        combiner: &MicroProgram,
        reduced: &BView,
        kernel: &TileKernel,
    ) -> PairCycles {
        let bytes = |v: &BView| kernel.bufs[v.buf].dtype.bytes_for(v.num_elements());
        let input_views = || {
            inputs.iter().filter_map(|i| match i {
                TInput::View(v) => Some(v),
                TInput::Scalar(_) => None,
            })
        };
        let map_lanes = input_views()
            .map(BView::num_elements)
            .chain([output.num_elements()])
            .max()
            .unwrap_or(0);
        let input_bytes: u64 = input_views().map(bytes).sum();
        let (out_bytes, red_bytes) = (bytes(output), bytes(reduced));
        let map_slots = machine.micro_issue_slots(micro);
        let combiner_slots = machine.micro_issue_slots(combiner);
        let reduce_lanes = output.num_elements().max(reduced.num_elements());
        PairCycles {
            map: machine.tvp_formula_cycles(map_slots, map_lanes, input_bytes + out_bytes),
            reduce: machine.tvp_formula_cycles(combiner_slots, reduce_lanes, out_bytes + red_bytes),
            fused: machine.tvp_formula_cycles(
                map_slots + combiner_slots,
                map_lanes.max(reduced.num_elements()),
                input_bytes + out_bytes + red_bytes,
            ),
        }
    }
}

/// Extraction cost: `(cycles, fused pairs)`, compared lexicographically,
/// so that a fusion the model does not see gaining anything is not made.
pub struct ActReduceCost<'a> {
    pub egraph: &'a EGraph<Step, PairAnalysis>,
    pub cycles: &'a [PairCycles],
}

impl ActReduceCost<'_> {
    fn pair(&self, id: Id) -> Option<&PairCycles> {
        self.egraph[id]
            .data
            .and_then(|k| self.cycles.get(k as usize))
    }
}

impl CostFunction<Step> for ActReduceCost<'_> {
    type Cost = (u64, u64);

    fn cost<C>(&mut self, enode: &Step, mut costs: C) -> (u64, u64)
    where
        C: FnMut(Id) -> (u64, u64),
    {
        // A pair the table does not know is never worth choosing.
        let unknown = (u64::MAX, 0);
        match enode {
            Step::Pair(_) => (0, 0),
            Step::Map(p) => self.pair(*p).map_or(unknown, |c| (c.map, 0)),
            Step::Reduce(p) => self.pair(*p).map_or(unknown, |c| (c.reduce, 0)),
            Step::ActReduce(p) => self.pair(*p).map_or(unknown, |c| (c.fused, 1)),
            Step::Then([a, b]) => {
                let (a, b) = (costs(*a), costs(*b));
                (a.0.saturating_add(b.0), a.1 + b.1)
            }
        }
    }
}

fn fusion_rules() -> Vec<Rewrite<Step, PairAnalysis>> {
    vec![egg::rewrite!("act-reduce"; "(then (map ?k) (reduce ?k))" => "(actreduce ?k)")]
}

/// Which of `cycles`' pairs extraction fuses.
pub fn choose_fusions(cycles: &[PairCycles], limits: EggLimits) -> Vec<bool> {
    let mut egraph: EGraph<Step, PairAnalysis> = EGraph::new(PairAnalysis);
    let roots: Vec<Id> = (0..cycles.len())
        .map(|k| {
            let pair = egraph.add(Step::Pair(PairKey(k as u32)));
            let map = egraph.add(Step::Map(pair));
            let reduce = egraph.add(Step::Reduce(pair));
            egraph.add(Step::Then([map, reduce]))
        })
        .collect();
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_scheduler(SimpleScheduler)
        .with_node_limit(limits.node_limit)
        .with_iter_limit(limits.iter_limit)
        .with_time_limit(limits.time_limit)
        .run(&fusion_rules());
    let egraph = &runner.egraph;
    let extractor = Extractor::new(egraph, ActReduceCost { egraph, cycles });
    roots
        .iter()
        .map(|&root| matches!(extractor.find_best_node(root), Step::ActReduce(_)))
        .collect()
}

/// The `act-reduce` pass.
pub struct ActReduceFusion {
    machine: Machine,
    pub limits: EggLimits,
    /// Pairs fused by the last run (for tests and statistics).
    pub fused_pairs: usize,
}

impl ActReduceFusion {
    pub fn new(machine: Machine) -> ActReduceFusion {
        ActReduceFusion {
            machine,
            limits: EggLimits::default(),
            fused_pairs: 0,
        }
    }
}

impl Pass<TileKernel> for ActReduceFusion {
    fn name(&self) -> &str {
        "act-reduce"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        self.fused_pairs = 0;
        let mut body = std::mem::take(&mut kernel.body);
        self.fuse_body(&mut body, kernel);
        kernel.body = body;
        Ok(())
    }
}

/// A legal pair: body indices of the `map` and the `reduce`.
#[derive(Clone, Copy, Debug)]
struct Pair {
    map: usize,
    reduce: usize,
}

/// The single output of a one-output `map`.
fn single_output(op: &TOp) -> Option<&BView> {
    match &op.kind {
        TOpKind::Map { micro, outputs, .. } if outputs.len() == 1 && micro.outputs.len() == 1 => {
            outputs.first()
        }
        _ => None,
    }
}

/// The output of a one-operand `reduce` of exactly `output` whose combiner
/// has the actreduce shape (`[t, t] → t`, `t` = `output`'s type).
fn reduce_of<'a>(op: &'a TOp, output: &BView, kernel: &TileKernel) -> Option<&'a BView> {
    let TOpKind::Reduce {
        combiner,
        axis,
        inputs,
        outputs,
    } = &op.kind
    else {
        return None;
    };
    let dtype = kernel.bufs[output.buf].dtype;
    let (input, reduced) = match (inputs.as_slice(), outputs.as_slice()) {
        ([input], [reduced]) => (input, reduced),
        _ => return None,
    };
    let one_operand = combiner.inputs == [dtype, dtype] && combiner.outputs.len() == 1;
    let same_type = kernel.bufs[reduced.buf].dtype == dtype;
    (input == output && one_operand && same_type && usize::from(*axis) < output.shape.len())
        .then_some(reduced)
}

/// Legal pairs of `body`, in program order of their maps.
fn find_pairs(body: &[TOp], kernel: &TileKernel) -> Vec<Pair> {
    let mut pairs = Vec::new();
    for (m, op) in body.iter().enumerate() {
        let Some(output) = single_output(op) else {
            continue;
        };
        // Footprints of the ops between the map and the candidate reduce.
        let mut between: Vec<Footprint> = Vec::new();
        for (r, later) in body.iter().enumerate().skip(m + 1) {
            if let Some(reduced) = reduce_of(later, output, kernel) {
                let hoistable = between.iter().all(|fp| {
                    !fp.writes.contains(&output.buf)
                        && !fp.reads.contains(&reduced.buf)
                        && !fp.writes.contains(&reduced.buf)
                });
                if hoistable {
                    pairs.push(Pair { map: m, reduce: r });
                }
                break;
            }
            let fp = Footprint::of(later);
            if fp.writes.contains(&output.buf) {
                break;
            }
            between.push(fp);
        }
    }
    pairs
}

impl ActReduceFusion {
    fn fuse_body(&mut self, body: &mut Vec<TOp>, kernel: &TileKernel) {
        for op in body.iter_mut() {
            for inner in op.kind.bodies_mut() {
                self.fuse_body(inner, kernel);
            }
        }
        let pairs = find_pairs(body, kernel);
        if pairs.is_empty() {
            return;
        }
        let cycles: Vec<PairCycles> = pairs
            .iter()
            .filter_map(|p| pair_cycles(&self.machine, body, *p, kernel))
            .collect();
        if cycles.len() != pairs.len() {
            return;
        }
        let chosen = choose_fusions(&cycles, self.limits);
        let mut replacements: BTreeMap<usize, TOp> = BTreeMap::new();
        let mut removed: BTreeSet<usize> = BTreeSet::new();
        for (pair, _) in pairs.iter().zip(&chosen).filter(|(_, &fuse)| fuse) {
            if let Some(fused) = fuse_pair(body, *pair) {
                replacements.insert(pair.map, fused);
                removed.insert(pair.reduce);
                self.fused_pairs += 1;
            }
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
}

fn pair_cycles(
    machine: &Machine,
    body: &[TOp],
    pair: Pair,
    kernel: &TileKernel,
) -> Option<PairCycles> {
    let (
        TOpKind::Map {
            micro,
            inputs,
            outputs,
        },
        TOpKind::Reduce {
            combiner,
            outputs: reduced,
            ..
        },
    ) = (&body[pair.map].kind, &body[pair.reduce].kind)
    else {
        return None;
    };
    Some(PairCycles::of(
        machine,
        micro,
        inputs,
        outputs.first()?,
        combiner,
        reduced.first()?,
        kernel,
    ))
}

/// The `actreduce` replacing `pair`, at the map's position.
fn fuse_pair(body: &[TOp], pair: Pair) -> Option<TOp> {
    let (
        TOpKind::Map {
            micro,
            inputs,
            outputs,
        },
        TOpKind::Reduce {
            combiner,
            axis,
            outputs: reduced,
            ..
        },
    ) = (&body[pair.map].kind, &body[pair.reduce].kind)
    else {
        return None;
    };
    Some(TOp {
        kind: TOpKind::ActReduce {
            micro: micro.clone(),
            inputs: inputs.clone(),
            output: outputs.first()?.clone(),
            combiner: combiner.clone(),
            axis: *axis,
            reduced: reduced.first()?.clone(),
        },
        loc: body[pair.map].loc,
    })
}
