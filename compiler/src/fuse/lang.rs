//! The e-graph language of lane dataflow used by elementwise fusion.
//!
//! A term is a lane value of a fusion group: a lane op ([`LaneKey`]) applied
//! to other terms, a typed immediate ([`ImmKey`]), a group input
//! ([`LeafKey`]: a tensor view or a broadcast scalar), or `(store x)`: the
//! value `x` written to a TSRAM buffer by one `map` and read back by the
//! next — the *unfused* form of a producer/consumer edge. The rewrite
//! `(store ?x) => ?x` is the fusion choice; extraction with
//! [`FusionCost`] (cycles from the machine model) decides which form wins.
//!
//! All other rewrites ([`simplify_rules`]) hold for **every** input bit
//! pattern under `maiac_backend::isa::LaneOp::eval` (the tests check each
//! rule on exhaustive 8/16-bit and sampled wider inputs): integer
//! identities, exact cast round trips (integer extensions, bitcasts),
//! `select(c, x, x)`, double bit-not and double negation. There is no float arithmetic identity: `x + 0.0`
//! and `x × 1.0` are not the identity on `−0.0` and NaN payloads, and
//! reassociation changes rounding.

use std::fmt;
use std::str::FromStr;

use egg::{define_language, Analysis, CostFunction, DidMerge, EGraph, Id, Language, Rewrite};
use maiac_backend::isa::{DType, LaneOp};
use maiac_backend::machine::Machine;

/// A lane op as an e-graph operator (printed and parsed as its mnemonic).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LaneKey(pub LaneOp);

impl PartialOrd for LaneKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LaneKey {
    /// By mnemonic: mnemonics name lane ops one to one.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.to_string().cmp(&other.0.to_string())
    }
}

impl fmt::Display for LaneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for LaneKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        LaneOp::parse(s).map(LaneKey)
    }
}

/// A typed immediate, `i32:0x1` (the micro-program assembly form).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImmKey {
    pub ty: DType,
    pub bits: u64,
}

impl fmt::Display for ImmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:#x}", self.ty, self.bits)
    }
}

impl FromStr for ImmKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (ty, bits) = s.split_once(':').ok_or("not an immediate")?;
        let ty = DType::from_name(ty).ok_or("unknown type")?;
        let bits =
            u64::from_str_radix(bits.trim_start_matches("0x"), 16).map_err(|e| e.to_string())?;
        Ok(ImmKey { ty, bits })
    }
}

/// Input `index` of a fusion group (`leaf3`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeafKey(pub u32);

impl fmt::Display for LeafKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leaf{}", self.0)
    }
}

impl FromStr for LeafKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.strip_prefix("leaf")
            .and_then(|n| n.parse().ok())
            .map(LeafKey)
            .ok_or_else(|| "not a leaf".to_string())
    }
}

define_language! {
    /// Lane dataflow of a fusion group.
    pub enum Lane {
        "store" = Store(Id),
        Op(LaneKey, Vec<Id>),
        Imm(ImmKey),
        Leaf(LeafKey),
    }
}

/// What every e-class knows: the lane type of its value (`None` only for
/// ill-typed input, which the builder never produces), and through the
/// group's element count, the bytes a materialised copy occupies.
#[derive(Debug, Clone, Default)]
pub struct LaneAnalysis {
    /// The type of each group input.
    pub leaf_types: Vec<DType>,
    /// Lanes per map of the group (the common iteration shape's size).
    pub elements: u64,
}

/// Per-class facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneFacts {
    pub dtype: Option<DType>,
    /// TSRAM bytes of one materialised copy of the value.
    pub bytes: u64,
}

impl Analysis<Lane> for LaneAnalysis {
    type Data = LaneFacts;

    fn make(egraph: &mut EGraph<Lane, Self>, enode: &Lane, _id: Id) -> LaneFacts {
        let dtype = match enode {
            Lane::Store(x) => egraph[*x].data.dtype,
            Lane::Op(op, _) => op.0.result_type(),
            Lane::Imm(imm) => Some(imm.ty),
            Lane::Leaf(leaf) => egraph.analysis.leaf_types.get(leaf.0 as usize).copied(),
        };
        let bytes = dtype.map_or(0, |t| t.bytes_for(egraph.analysis.elements));
        LaneFacts { dtype, bytes }
    }

    fn merge(&mut self, a: &mut LaneFacts, b: LaneFacts) -> DidMerge {
        // Rewrites preserve types, so merged classes agree; keep a known type.
        if a.dtype.is_none() && b.dtype.is_some() {
            *a = b;
            return DidMerge(true, false);
        }
        DidMerge(false, a.dtype != b.dtype)
    }
}

/// The fusion rewrite: a stored-and-reloaded value may be used directly.
pub fn fusion_rule() -> Rewrite<Lane, LaneAnalysis> {
    egg::rewrite!("fuse"; "(store ?x)" => "?x")
}

const INT_WIDTHS: [u32; 5] = [1, 8, 16, 32, 64];
const FLOAT_TYPES: [&str; 6] = ["f16", "bf16", "f32", "f64", "f8e4m3fn", "f8e5m2"];

fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// The bit-exact simplifications, as `(name, lhs, rhs)` pattern texts
/// (exposed so the tests can evaluate every rule on concrete bits).
pub fn simplify_rule_texts() -> Vec<(String, String, String)> {
    let mut rules = Vec::new();
    let mut add = |name: String, lhs: String, rhs: String| rules.push((name, lhs, rhs));
    for w in INT_WIDTHS {
        let t = format!("i{w}");
        let zero = format!("{t}:0x0");
        let one = format!("{t}:0x1");
        let ones = format!("{t}:{:#x}", mask(w));
        if w > 1 {
            add(
                format!("mul-one-{t}"),
                format!("(mul.{t} ?x {one})"),
                "?x".into(),
            );
            add(
                format!("one-mul-{t}"),
                format!("(mul.{t} {one} ?x)"),
                "?x".into(),
            );
            add(
                format!("shl-zero-{t}"),
                format!("(shl.{t} ?x {zero})"),
                "?x".into(),
            );
            add(
                format!("shrs-zero-{t}"),
                format!("(shrs.{t} ?x {zero})"),
                "?x".into(),
            );
            add(
                format!("shru-zero-{t}"),
                format!("(shru.{t} ?x {zero})"),
                "?x".into(),
            );
        }
        add(
            format!("add-zero-{t}"),
            format!("(add.{t} ?x {zero})"),
            "?x".into(),
        );
        add(
            format!("zero-add-{t}"),
            format!("(add.{t} {zero} ?x)"),
            "?x".into(),
        );
        add(
            format!("sub-zero-{t}"),
            format!("(sub.{t} ?x {zero})"),
            "?x".into(),
        );
        add(
            format!("or-zero-{t}"),
            format!("(or.{t} ?x {zero})"),
            "?x".into(),
        );
        add(
            format!("xor-zero-{t}"),
            format!("(xor.{t} ?x {zero})"),
            "?x".into(),
        );
        add(
            format!("and-ones-{t}"),
            format!("(and.{t} ?x {ones})"),
            "?x".into(),
        );
        add(
            format!("and-self-{t}"),
            format!("(and.{t} ?x ?x)"),
            "?x".into(),
        );
        add(
            format!("or-self-{t}"),
            format!("(or.{t} ?x ?x)"),
            "?x".into(),
        );
        add(
            format!("not-not-{t}"),
            format!("(xor.{t} (xor.{t} ?x {ones}) {ones})"),
            "?x".into(),
        );
        add(
            format!("select-same-{t}"),
            format!("(select.{t} ?c ?x ?x)"),
            "?x".into(),
        );
        add(
            format!("select-true-{t}"),
            format!("(select.{t} i1:0x1 ?x ?y)"),
            "?x".into(),
        );
        add(
            format!("select-false-{t}"),
            format!("(select.{t} i1:0x0 ?x ?y)"),
            "?y".into(),
        );
        for to in INT_WIDTHS.into_iter().filter(|&to| to > w) {
            let u = format!("i{to}");
            for ext in ["extsi", "extui"] {
                add(
                    format!("{ext}-trunc-{t}-{u}"),
                    format!("(trunci.{u}.{t} ({ext}.{t}.{u} ?x))"),
                    "?x".into(),
                );
            }
            for further in INT_WIDTHS.into_iter().filter(|&v| v > to) {
                let v = format!("i{further}");
                for ext in ["extsi", "extui"] {
                    add(
                        format!("{ext}-{ext}-{t}-{u}-{v}"),
                        format!("({ext}.{u}.{v} ({ext}.{t}.{u} ?x))"),
                        format!("({ext}.{t}.{v} ?x)"),
                    );
                }
            }
        }
    }
    // (No float widen-then-narrow rule: conversions canonicalise NaN
    // payloads, so `cvt.f32.f16(cvt.f16.f32(x))` is not `x` for every `x`.)
    // Bitcast round trips move bits unchanged.
    for (a, b) in [
        ("i16", "f16"),
        ("i16", "bf16"),
        ("i32", "f32"),
        ("i64", "f64"),
    ] {
        add(
            format!("bitcast-{a}-{b}"),
            format!("(bitcast.{b}.{a} (bitcast.{a}.{b} ?x))"),
            "?x".into(),
        );
        add(
            format!("bitcast-{b}-{a}"),
            format!("(bitcast.{a}.{b} (bitcast.{b}.{a} ?x))"),
            "?x".into(),
        );
    }
    for t in FLOAT_TYPES {
        add(
            format!("neg-neg-{t}"),
            format!("(negf.{t} (negf.{t} ?x))"),
            "?x".into(),
        );
        add(
            format!("select-same-{t}"),
            format!("(select.{t} ?c ?x ?x)"),
            "?x".into(),
        );
    }
    rules
}

/// The bit-exact simplifications as rewrites.
pub fn simplify_rules() -> Vec<Rewrite<Lane, LaneAnalysis>> {
    simplify_rule_texts()
        .into_iter()
        .map(|(name, lhs, rhs)| {
            let lhs: egg::Pattern<Lane> = lhs.parse().expect("rule patterns are well-formed");
            let rhs: egg::Pattern<Lane> = rhs.parse().expect("rule patterns are well-formed");
            Rewrite::new(name, lhs, rhs).expect("rule variables are bound")
        })
        .collect()
}

/// Extraction cost in TVP cycles, from the machine model
/// (`Machine::tvp_cycles`): a lane op costs its issue slots times the
/// vectors of lanes; a materialised intermediate (`store`) costs one more
/// TVP instruction's latency plus its bytes written and read back at the
/// TSRAM bandwidth. Inputs and immediates cost nothing (they are read
/// either way).
pub struct FusionCost<'a> {
    pub egraph: &'a EGraph<Lane, LaneAnalysis>,
    pub machine: &'a Machine,
}

impl FusionCost<'_> {
    /// Cycles of one lane op over the group's lanes.
    pub fn op_cycles(machine: &Machine, op: &LaneOp, elements: u64) -> u64 {
        let tvp = &machine.tvp;
        let slots = if op.is_transcendental() {
            tvp.transcendental_op_slots
        } else {
            tvp.simple_op_slots
        };
        u64::from(slots) * elements.div_ceil(u64::from(tvp.lanes.max(1)))
    }

    /// Cycles of materialising `bytes` between two maps.
    pub fn store_cycles(machine: &Machine, bytes: u64) -> u64 {
        u64::from(machine.tvp.latency_cycles)
            + (2 * bytes).div_ceil(u64::from(machine.tile.tsram_bytes_per_cycle.max(1)))
    }
}

impl CostFunction<Lane> for FusionCost<'_> {
    type Cost = u64;

    fn cost<C>(&mut self, enode: &Lane, mut costs: C) -> u64
    where
        C: FnMut(Id) -> u64,
    {
        let own = match enode {
            Lane::Store(x) => Self::store_cycles(self.machine, self.egraph[*x].data.bytes),
            Lane::Op(op, _) => Self::op_cycles(self.machine, &op.0, self.egraph.analysis.elements),
            Lane::Imm(_) | Lane::Leaf(_) => 0,
        };
        enode
            .children()
            .iter()
            .fold(own, |acc, &c| acc.saturating_add(costs(c)))
    }
}
