//! Liveness of scalar registers and buffers over a linear order of the
//! structured tile program.
//!
//! Every op gets a *position* in a pre-order walk of the body; structured
//! ops get extra positions for their control points:
//!
//! - `For`: `s` (init `iv = lb` and the loop head reading `iv`, `ub`),
//!   the body, `e` (the increment reading `iv`, `step`, and the back-edge);
//! - `If`: `s` (the branch on `cond`), the then body, a middle position,
//!   the else body, the join;
//! - `While`: `s` (the head), `before`, `c` (the exit test on `cond`),
//!   `after`, `e` (the back-edge).
//!
//! A value's interval is `[first occurrence, last occurrence]`. Loops make
//! that too short for values that flow around the back-edge, so for every
//! loop `[s, e]` a value that is *upward exposed* in the loop — read (on
//! some path) before the loop body definitely writes it, which includes
//! every value defined before the loop and read inside — is live through
//! the whole loop. Definite writes are conservative: writes inside an `If`
//! only count when both branches make them, writes inside a loop body never
//! count after the loop (it may run zero times), and a buffer write only
//! kills the buffer when it covers all of it (a masked DMA without fill, a
//! strided or partial view does not).
//!
//! The branches of an `If` are laid out one after the other, so a value
//! used in both is live over both: conservative, never wrong.

use std::collections::{BTreeMap, BTreeSet};

use maiac_backend::isa::DebugLocId;

use crate::tile::{BView, Buf, SOp, SReg, TOp, TOpKind, TileKernel};

/// A register or a buffer: the things the scheduler places.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    Reg(SReg),
    Buf(Buf),
}

/// A closed range of positions `[start, end]`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    pub start: u32,
    pub end: u32,
}

impl Interval {
    fn point(p: u32) -> Interval {
        Interval { start: p, end: p }
    }

    fn include(&mut self, other: Interval) {
        self.start = self.start.min(other.start);
        self.end = self.end.max(other.end);
    }

    /// Whether position `p` is inside.
    pub fn contains(&self, p: u32) -> bool {
        self.start <= p && p <= self.end
    }
}

/// Live intervals of every register and buffer the kernel mentions.
#[derive(Clone, Debug, Default)]
pub struct Liveness {
    pub regs: BTreeMap<SReg, Interval>,
    pub bufs: BTreeMap<Buf, Interval>,
    /// The debug location of the op at each position (for diagnostics).
    pub locs: Vec<Option<DebugLocId>>,
    /// `For` induction variables (the codegen keeps them in registers).
    pub induction_vars: BTreeSet<SReg>,
}

impl Liveness {
    /// Number of positions.
    pub fn len(&self) -> u32 {
        self.locs.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.locs.is_empty()
    }
}

/// Computes the live intervals of `kernel`.
pub fn analyze(kernel: &TileKernel) -> Liveness {
    let mut walk = Walk {
        kernel,
        live: Liveness::default(),
        loops: Vec::new(),
    };
    walk.body(&kernel.body);
    let Walk {
        mut live, loops, ..
    } = walk;
    // Values flowing around a back-edge are live through the whole loop.
    for (range, exposed) in loops {
        for v in exposed {
            let slot = match v {
                Value::Reg(r) => live.regs.get_mut(&r),
                Value::Buf(b) => live.bufs.get_mut(&b),
            };
            if let Some(interval) = slot {
                interval.include(range);
            }
        }
    }
    live
}

struct Walk<'a> {
    kernel: &'a TileKernel,
    live: Liveness,
    /// Each loop's position range and its upward-exposed values.
    loops: Vec<(Interval, BTreeSet<Value>)>,
}

impl Walk<'_> {
    fn position(&mut self, op: &TOp) -> u32 {
        self.live.locs.push(op.loc);
        self.live.locs.len() as u32 - 1
    }

    fn occur(&mut self, v: Value, p: u32) {
        match v {
            Value::Reg(r) => extend(&mut self.live.regs, r, p),
            Value::Buf(b) => extend(&mut self.live.bufs, b, p),
        }
    }

    fn sop(&mut self, s: SOp, p: u32) {
        if let SOp::Reg(r) = s {
            self.occur(Value::Reg(r), p);
        }
    }

    fn body(&mut self, ops: &[TOp]) {
        for op in ops {
            self.op(op);
        }
    }

    fn op(&mut self, op: &TOp) {
        match &op.kind {
            TOpKind::For {
                iv,
                lb,
                ub,
                step,
                body,
            } => {
                self.live.induction_vars.insert(*iv);
                let s = self.position(op);
                self.sop(*lb, s);
                self.sop(*ub, s);
                self.occur(Value::Reg(*iv), s);
                self.body(body);
                let e = self.position(op);
                self.sop(*ub, e);
                self.sop(*step, e);
                self.occur(Value::Reg(*iv), e);
                let mut exposed = BTreeSet::new();
                let mut killed = BTreeSet::new();
                exposure(self.kernel, body, &mut exposed, &mut killed);
                self.loops.push((Interval { start: s, end: e }, exposed));
            }
            TOpKind::If {
                cond,
                then_body,
                else_body,
            } => {
                let s = self.position(op);
                self.sop(*cond, s);
                self.body(then_body);
                self.position(op);
                self.body(else_body);
                self.position(op);
            }
            TOpKind::While {
                before,
                cond,
                after,
            } => {
                let s = self.position(op);
                self.body(before);
                let c = self.position(op);
                self.sop(*cond, c);
                self.body(after);
                let e = self.position(op);
                let mut exposed = BTreeSet::new();
                let mut killed = BTreeSet::new();
                while_exposure(self.kernel, before, *cond, after, &mut exposed, &mut killed);
                self.loops.push((Interval { start: s, end: e }, exposed));
            }
            kind => {
                let p = self.position(op);
                for s in kind.scalar_uses() {
                    self.sop(s, p);
                }
                if let Some(d) = kind.scalar_def() {
                    self.occur(Value::Reg(d), p);
                }
                for v in kind.reads().into_iter().chain(kind.writes()) {
                    self.occur(Value::Buf(v.buf), p);
                }
            }
        }
    }
}

fn extend<K: Ord>(map: &mut BTreeMap<K, Interval>, key: K, p: u32) {
    map.entry(key)
        .and_modify(|i| i.include(Interval::point(p)))
        .or_insert(Interval::point(p));
}

/// Whether a write through `view` by `kind` overwrites the whole buffer.
fn kills_whole_buffer(kernel: &TileKernel, kind: &TOpKind, view: &BView) -> bool {
    let data = &kernel.bufs[view.buf];
    let masked_without_fill = kind.writes_partially();
    let dense = maiac_backend::isa::view::row_major_strides(&view.shape);
    let contiguous = view
        .shape
        .iter()
        .zip(view.strides.iter().zip(&dense))
        .all(|(&d, (&s, &want))| d == 1 || s == want);
    !masked_without_fill
        && view.offset == 0
        && view.num_elements() == data.num_elements()
        && contiguous
}

fn read(v: Value, exposed: &mut BTreeSet<Value>, killed: &BTreeSet<Value>) {
    if !killed.contains(&v) {
        exposed.insert(v);
    }
}

fn read_sop(s: SOp, exposed: &mut BTreeSet<Value>, killed: &BTreeSet<Value>) {
    if let SOp::Reg(r) = s {
        read(Value::Reg(r), exposed, killed);
    }
}

/// Adds to `exposed` the values `ops` may read before writing them, given
/// the values already `killed` (definitely written) on entry; updates
/// `killed` with the definite writes of `ops`.
fn exposure(
    kernel: &TileKernel,
    ops: &[TOp],
    exposed: &mut BTreeSet<Value>,
    killed: &mut BTreeSet<Value>,
) {
    for op in ops {
        match &op.kind {
            TOpKind::For {
                iv,
                lb,
                ub,
                step,
                body,
            } => {
                for s in [*lb, *ub, *step] {
                    read_sop(s, exposed, killed);
                }
                killed.insert(Value::Reg(*iv));
                // The body may run zero times: its writes do not kill.
                let mut inner = killed.clone();
                exposure(kernel, body, exposed, &mut inner);
            }
            TOpKind::If {
                cond,
                then_body,
                else_body,
            } => {
                read_sop(*cond, exposed, killed);
                let mut then_killed = killed.clone();
                exposure(kernel, then_body, exposed, &mut then_killed);
                let mut else_killed = killed.clone();
                exposure(kernel, else_body, exposed, &mut else_killed);
                *killed = then_killed.intersection(&else_killed).copied().collect();
            }
            TOpKind::While {
                before,
                cond,
                after,
            } => {
                // `before` runs at least once; `after` may not run.
                let mut inner = killed.clone();
                while_exposure(kernel, before, *cond, after, exposed, &mut inner);
                let mut before_killed = killed.clone();
                exposure(kernel, before, &mut BTreeSet::new(), &mut before_killed);
                *killed = before_killed;
            }
            kind => {
                for s in kind.scalar_uses() {
                    read_sop(s, exposed, killed);
                }
                for v in kind.reads() {
                    read(Value::Buf(v.buf), exposed, killed);
                }
                if let Some(d) = kind.scalar_def() {
                    killed.insert(Value::Reg(d));
                }
                for v in kind.writes() {
                    if kills_whole_buffer(kernel, kind, v) {
                        killed.insert(Value::Buf(v.buf));
                    }
                }
            }
        }
    }
}

/// Exposure of one trip around a `While`: `before`, the test, `after`.
fn while_exposure(
    kernel: &TileKernel,
    before: &[TOp],
    cond: SOp,
    after: &[TOp],
    exposed: &mut BTreeSet<Value>,
    killed: &mut BTreeSet<Value>,
) {
    exposure(kernel, before, exposed, killed);
    read_sop(cond, exposed, killed);
    exposure(kernel, after, exposed, killed);
}
