//! The `cluster-stage` pass: broadcast of operands every program instance
//! shares, through each cluster's CSRAM.
//!
//! A load whose address, box, bounds and fill are computed from the kernel
//! arguments alone — not from program ids, loop variables or loaded data —
//! reads the same bytes in every program instance: a layer norm's weight
//! and bias, a GEMM's whole B when the grid splits only M, a scale vector.
//! If no op of the launch can write that buffer
//! (`TileKernel::written_args`, from `access::provenance`), the bytes are
//! also the same at every moment of the launch. Such a load becomes a
//! [`StagedLoad`]: the cluster program (`codegen::cluster`) copies it from
//! HBM into every cluster's CSRAM once per launch, and the tile program's
//! [`TOpKind::LoadStaged`] copies it from CSRAM into TSRAM after waiting
//! for the cluster semaphore of its stage. HBM then carries the operand
//! once per cluster instead of once per program instance, and each
//! instance pays the CSRAM latency instead of HBM's.
//!
//! Conditions, all checked here:
//! - the load writes every element of its destination (no bounds, or a
//!   fill), since the CSRAM copy is dense;
//! - every register the load's operands read is defined exactly once in
//!   the kernel (so wherever the definition sits — often right before the
//!   load, inside a loop or a branch — it computes the same value), by
//!   `Mov`, `Alu`, `Select`, `Arg` or `ReadSpecial` of the grid size,
//!   recursively (the *prologue*, at most [`MAX_PROLOGUE`] ops, replayed by
//!   the cluster program);
//! - the address derives from a pointer argument and every pointer
//!   argument in the prologue is read-only for the launch;
//! - every condition under which the tile reaches the load — the `if`s
//!   around it, at least one trip of a loop around it (the then-region of
//!   a `while`: never) — is a function of the arguments too, added to the
//!   prologue: the cluster program copies only when they hold
//!   ([`StagedLoad::when`]), since the box of a load the kernel guards
//!   (row `n − 1` under `if n > 0`) need not be valid memory otherwise.
//!   In a per-iteration stage's loop they may read the loop variable; an
//!   iteration that fails them gets a copy of no bytes
//!   ([`StagedLoop::when`]);
//! - the stages fit a quarter of CSRAM (the rest stays free for other
//!   uses) and there is a cluster semaphore per stage.
//!
//! Identical loads share a stage. The first instance on each tile waits for
//! the cluster's copy (HBM latency plus the transfer at the cluster DMA's
//! rate, about what its own load would have cost); every later instance
//! finds it in CSRAM.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use maiac_backend::isa::{AluOp, ArgKind, Dispatch, Special};
use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use crate::fuse::walk::for_each_op;
use crate::pass::{Pass, PassContext};
use crate::sched::{dispatch, sram};
use crate::tile::{
    Buf, SOp, SReg, Stage, StageGuard, StagedLoad, StagedLoop, StagedSlot, StagedWave, TOp,
    TOpKind, TileKernel,
};

/// The longest prologue (scalar ops) a stage may need.
pub const MAX_PROLOGUE: usize = 96;

/// Row sharing trades latency (the cluster's copy, then a CSRAM hop) for
/// HBM bandwidth, so it is used only when more instances than this run at
/// once — `P > ⌊hbm.bytes_per_cycle / dma.tile_bytes_per_cycle⌋`, enough
/// tile DMAs to saturate HBM (45 on `maia200-like`). On small grids the
/// direct loads were faster (a 2 × 2 GEMM +13 %, measured).
pub fn contended_programs(machine: &Machine) -> i64 {
    i64::from(machine.hbm.bytes_per_cycle / machine.dma.tile_bytes_per_cycle.max(1))
}

/// The fewest grid columns `X` for which a row is shared: half a cluster's
/// tiles (at least two), so that a cluster's `n` consecutive instances span
/// at most three rows and every copy into CSRAM serves several tiles. With
/// two or three columns a cluster copies nearly a panel per tile and the
/// extra hop made a 64×64×32 GEMM 12–15 % slower (measured).
pub fn min_shared_columns(machine: &Machine) -> i64 {
    i64::from(machine.tiles_per_cluster / 2).max(2)
}

/// The fewest loop trips for which a row is shared: the first trip waits
/// for the cluster's copy, a latency only later trips' saved HBM bandwidth
/// pays back (one or two K steps of a 64×64×32 GEMM were 6–8 % slower).
pub const MIN_SHARED_TRIPS: i64 = 3;

/// CSRAM reserved for one per-iteration stage (its trips × box bytes).
pub const MAX_LOOP_REGION: u64 = 1 << 20;

/// The `cluster-stage` pass.
#[derive(Clone, Debug)]
pub struct ClusterStage {
    machine: Machine,
}

impl ClusterStage {
    pub fn new(machine: Machine) -> ClusterStage {
        ClusterStage { machine }
    }
}

impl Pass<TileKernel> for ClusterStage {
    fn name(&self) -> &str {
        "cluster-stage"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        stage_shared_loads(kernel, &self.machine);
        Ok(())
    }
}

/// Every op of the body in pre-order with its enclosing loops (pre-order
/// indices of the `For`/`While` ops around it, outermost first), and where
/// each register is defined: its op's pre-order index when it has exactly
/// one definition.
struct Walk<'k> {
    ops: Vec<&'k TOp>,
    loops: Vec<Vec<usize>>,
    /// Per op: the control ops around it, outermost first, each with the
    /// index of the body (in [`TOpKind::bodies`] order) the op is in.
    path: Vec<Vec<(usize, usize)>>,
    defs: HashMap<SReg, Option<usize>>,
}

impl<'k> Walk<'k> {
    fn of(body: &'k [TOp]) -> Walk<'k> {
        let mut w = Walk {
            ops: Vec::new(),
            loops: Vec::new(),
            path: Vec::new(),
            defs: HashMap::new(),
        };
        w.visit(body, &mut Vec::new(), &mut Vec::new());
        w
    }

    fn visit(
        &mut self,
        body: &'k [TOp],
        enclosing: &mut Vec<usize>,
        path: &mut Vec<(usize, usize)>,
    ) {
        for op in body {
            let i = self.ops.len();
            if let Some(r) = op.kind.scalar_def() {
                self.defs
                    .entry(r)
                    .and_modify(|d| *d = None)
                    .or_insert(Some(i));
            }
            self.ops.push(op);
            self.loops.push(enclosing.clone());
            self.path.push(path.clone());
            let is_loop = matches!(op.kind, TOpKind::For { .. } | TOpKind::While { .. });
            if is_loop {
                enclosing.push(i);
            }
            for (b, inner) in op.kind.bodies().into_iter().enumerate() {
                path.push((i, b));
                self.visit(inner, enclosing, path);
                path.pop();
            }
            if is_loop {
                enclosing.pop();
            }
        }
    }
}

/// What a prologue needs: its ops' pre-order indices, the pointer
/// arguments it reads, and whether it reads the loop variable.
#[derive(Default)]
struct Slice {
    ops: BTreeSet<usize>,
    pointer_args: BTreeSet<u32>,
    uses_iv: bool,
    /// Whether `pid.y` and `pid.z` may be read (a row-shared stage).
    pids_allowed: bool,
    /// Whether they are.
    uses_pid: bool,
}

impl Slice {
    fn allowing_pids() -> Slice {
        Slice {
            pids_allowed: true,
            ..Slice::default()
        }
    }
}

/// Adds the computation of `s` to `slice`; `false` if it is not a
/// function of the kernel arguments (and of `iv`, when given) alone.
fn slice_of(kernel: &TileKernel, walk: &Walk, iv: Option<SReg>, s: SOp, slice: &mut Slice) -> bool {
    let SOp::Reg(r) = s else {
        return true;
    };
    if Some(r) == iv {
        slice.uses_iv = true;
        return true;
    }
    let Some(&Some(at)) = walk.defs.get(&r) else {
        return false;
    };
    if !slice.ops.insert(at) {
        return true;
    }
    if slice.ops.len() > MAX_PROLOGUE {
        return false;
    }
    let kind = &walk.ops[at].kind;
    match kind {
        TOpKind::Arg { index, .. } => {
            if let Some(ArgKind::Pointer { .. }) = kernel.args.get(*index as usize).map(|a| &a.kind)
            {
                slice.pointer_args.insert(*index);
            }
            true
        }
        TOpKind::ReadSpecial { which, .. } => match which {
            Special::NumPrograms(_) => true,
            // Never `pid.x`: the instances sharing a box differ in it.
            Special::ProgramId(1 | 2) if slice.pids_allowed => {
                slice.uses_pid = true;
                true
            }
            _ => false,
        },
        TOpKind::Mov { .. } | TOpKind::Alu { .. } | TOpKind::Select { .. } => kind
            .scalar_uses()
            .into_iter()
            .all(|u| slice_of(kernel, walk, iv, u, slice)),
        _ => false,
    }
}

/// One condition under which the tile program reaches a load.
#[derive(Clone, Copy, Debug)]
enum Reach {
    /// In the then-arm of an `if`.
    NonZero(SOp),
    /// In the else-arm of an `if`.
    Zero(SOp),
    /// In the body of `for iv = lb to ub`: it runs at least one trip.
    Less(SOp, SOp),
}

/// The conditions under which the tile reaches op `i` (besides the trips
/// of `own_loop`, the loop a per-iteration stage replays), their
/// computation added to `slice`; `None` if one of them is not a function
/// of the kernel arguments (a program id, loaded data, a loop variable, a
/// `while` loop's carried state).
///
/// For a per-iteration stage (`own_loop` is `(loop, iv)`), the conditions
/// inside the loop may read `iv` too; they are returned second, to be
/// evaluated per iteration.
fn reach_conditions(
    kernel: &TileKernel,
    walk: &Walk,
    i: usize,
    own_loop: Option<(usize, SReg)>,
    slice: &mut Slice,
) -> Option<(Vec<Reach>, Vec<Reach>)> {
    let (mut outer, mut inner) = (Vec::new(), Vec::new());
    let mut iv = None;
    for &(at, body) in &walk.path[i] {
        if let Some((l, v)) = own_loop {
            if l == at {
                iv = Some(v);
                continue;
            }
        }
        let (cond, reads) = match &walk.ops[at].kind {
            TOpKind::If { cond, .. } if body == 0 => (Reach::NonZero(*cond), vec![*cond]),
            TOpKind::If { cond, .. } => (Reach::Zero(*cond), vec![*cond]),
            TOpKind::For { lb, ub, .. } => (Reach::Less(*lb, *ub), vec![*lb, *ub]),
            // The condition region runs whenever the loop is reached.
            TOpKind::While { .. } if body == 0 => continue,
            _ => return None,
        };
        if !reads
            .into_iter()
            .all(|u| slice_of(kernel, walk, iv, u, slice))
        {
            return None;
        }
        if iv.is_some() {
            inner.push(cond);
        } else {
            outer.push(cond);
        }
    }
    Some((outer, inner))
}

/// How a chosen load is rewritten.
#[derive(Clone, Copy)]
struct Chosen {
    stage: Stage,
    /// For a per-iteration stage: the loop's `(iv, lb, step)` and the
    /// register that says whether the stage is used.
    per_iteration: Option<(SReg, SOp, SOp, SReg)>,
    per_wave: Option<WaveRegs>,
}

/// The tile's registers for a row-shared stage, computed before its loop.
#[derive(Clone, Copy)]
struct WaveRegs {
    /// The instance's slot in the loop's first iteration,
    /// `w · trips · R + r`; iteration `j` adds `j · R`.
    first_slot: SReg,
    /// `R`, the rows a wave of a cluster spans at most.
    rows: SReg,
    /// Whether this instance reads the stage: it is staged and its wave's
    /// slots fit, `(w + 1) · trips · R ≤ max_slots`.
    used: SReg,
}

/// A per-iteration stage whose `fits`/`staged` ops are still to be built.
struct PendingLoop {
    stage: Stage,
    /// Pre-order index of the loop.
    at: usize,
    load: usize,
}

/// Rewrites every stageable load of `kernel` (see the module docs).
pub fn stage_shared_loads(kernel: &mut TileKernel, machine: &Machine) {
    if !kernel.stages.is_empty()
        || kernel.written_args.len() != kernel.args.len()
        || machine.cluster.csram_bytes == 0
    {
        return;
    }
    let max_stages = (machine.cluster.semaphores as usize).min(16);
    let budget = machine.cluster.csram_bytes / 4;
    // Row-shared stages follow round robin's placement over every tile,
    // and pay only where HBM can be contended at all.
    let row_shares = matches!(
        dispatch::policy(kernel, machine),
        Dispatch::RoundRobin { tiles: 0 }
    ) && machine.tiles_per_cluster >= 2
        && i64::from(machine.clusters * machine.tiles_per_cluster) > contended_programs(machine);
    let walk = Walk::of(&kernel.body);

    // Candidates in program order, keyed by what they load.
    let mut chosen: BTreeMap<usize, Stage> = BTreeMap::new();
    let mut pending: Vec<PendingLoop> = Vec::new();
    let mut by_key: HashMap<String, Stage> = HashMap::new();
    let mut stages: Vec<StagedLoad> = Vec::new();
    // Per stage: the conditions under which the tile reaches its load.
    let mut when: Vec<(Vec<Reach>, Vec<Reach>)> = Vec::new();
    let mut used = 0u64;
    for (i, op) in walk.ops.iter().enumerate() {
        let TOpKind::DmaLoad {
            dtype,
            hbm,
            dims,
            fill,
            ..
        } = &op.kind
        else {
            continue;
        };
        if op.kind.writes_partially() || stages.len() >= max_stages {
            continue;
        }
        let uses = op.kind.scalar_uses();
        let mut slice = Slice::default();
        let mut per_iteration = None;
        if !uses
            .iter()
            .all(|&u| slice_of(kernel, &walk, None, u, &mut slice))
        {
            // A box that moves with the one loop around it.
            let &[at] = walk.loops[i].as_slice() else {
                continue;
            };
            let TOpKind::For {
                iv, lb, ub, step, ..
            } = &walk.ops[at].kind
            else {
                continue;
            };
            // The box may depend on `pid.y`/`pid.z` too (a panel one grid
            // row shares) under round robin over every tile; the loop's
            // bounds may not, so that every instance runs the same trips.
            slice = if row_shares {
                Slice::allowing_pids()
            } else {
                Slice::default()
            };
            let mut bounds = Slice::default();
            let fine = uses
                .iter()
                .all(|&u| slice_of(kernel, &walk, Some(*iv), u, &mut slice))
                && [*lb, *ub, *step]
                    .iter()
                    .all(|&u| slice_of(kernel, &walk, None, u, &mut bounds));
            if !fine || !slice.uses_iv {
                continue;
            }
            slice.ops.extend(bounds.ops);
            slice.pointer_args.extend(bounds.pointer_args);
            if slice.ops.len() > MAX_PROLOGUE {
                continue;
            }
            per_iteration = Some((at, *iv, *lb, *ub, *step));
        }
        let per_wave = slice.uses_pid;
        // When the tile reaches the load: the cluster program must not copy
        // a box the kernel never reads (a row `n − 1` under `if n > 0`, an
        // offset guarded by a loop that runs no trip), so every condition
        // on the way must be a function of the arguments it can replay.
        let own_loop = per_iteration.map(|p| (p.0, p.1));
        let Some((conds, iteration_conds)) =
            reach_conditions(kernel, &walk, i, own_loop, &mut slice)
        else {
            continue;
        };
        // The address must come from a pointer argument, and no pointer
        // argument the prologue reads may be written by the launch.
        let mut address = Slice::allowing_pids();
        slice_of(
            kernel,
            &walk,
            per_iteration.map(|p| p.1),
            *hbm,
            &mut address,
        );
        if address.pointer_args.is_empty()
            || slice
                .pointer_args
                .iter()
                .any(|&a| kernel.written_args[a as usize])
        {
            continue;
        }
        let key = format!("{dtype} {hbm:?} {dims:?} {fill:?} when {conds:?} {iteration_conds:?}");
        if per_iteration.is_none() {
            if let Some(&stage) = by_key.get(&key) {
                chosen.insert(i, stage);
                continue;
            }
        }
        // Split the prologue: ops that read the loop variable (directly or
        // through another such op) run once per iteration.
        // A row-shared stage's program-id reads are bound per row.
        let mut varying: BTreeSet<SReg> = per_iteration.iter().map(|p| p.1).collect();
        let (mut once, mut each) = (Vec::new(), Vec::new());
        for &at in &slice.ops {
            let op = walk.ops[at];
            let reads_varying = matches!(
                op.kind,
                TOpKind::ReadSpecial {
                    which: Special::ProgramId(_),
                    ..
                }
            ) || op
                .kind
                .scalar_uses()
                .into_iter()
                .any(|u| matches!(u, SOp::Reg(r) if varying.contains(&r)));
            if reads_varying {
                varying.extend(op.kind.scalar_def());
                each.push(op.clone());
            } else {
                once.push(op.clone());
            }
        }
        let mut data = StagedLoad {
            dtype: *dtype,
            prologue: once,
            hbm: *hbm,
            dims: dims.clone(),
            fill: *fill,
            when: None,
            per_iteration: None,
            per_wave: None,
            csram_offset: used,
            loc: op.loc,
        };
        let slot = sram::aligned(data.bytes());
        let stage = Stage::from_u32(stages.len() as u32);
        match per_iteration {
            None => {
                if used + slot > budget {
                    continue;
                }
                used += slot;
                by_key.insert(key, stage);
                chosen.insert(i, stage);
            }
            Some((at, iv, lb, ub, step)) => {
                let region = (budget - used).min(MAX_LOOP_REGION);
                let max_trips = region / slot;
                // A row-shared stage needs room for a group of `R ≤ n` slots.
                let least = if per_wave {
                    u64::from(machine.tiles_per_cluster)
                } else {
                    1
                };
                if max_trips < least || static_fits(lb, ub, step, max_trips) == Some(false) {
                    continue;
                }
                used += max_trips * slot;
                if per_wave {
                    data.per_wave = Some(StagedWave {
                        trips_ops: Vec::new(),
                        // Replaced when the trips ops are built below.
                        trips: iv,
                        max_slots: max_trips,
                    });
                }
                data.per_iteration = Some(StagedLoop {
                    iv,
                    lb,
                    ub,
                    step,
                    iteration_ops: each,
                    max_trips,
                    fits_ops: Vec::new(),
                    when: None,
                    // Replaced when the fits ops are built below.
                    fits: iv,
                });
                pending.push(PendingLoop { stage, at, load: i });
            }
        }
        stages.push(data);
        when.push((conds, iteration_conds));
    }
    if chosen.is_empty() && pending.is_empty() {
        return;
    }
    drop(walk);
    for (data, (mut conds, mut iteration_conds)) in stages.iter_mut().zip(when) {
        let mut g = GuardBuilder {
            kernel,
            ops: Vec::new(),
        };
        if data.per_wave.is_some() {
            // They may read the row's program ids: evaluated per row.
            conds.append(&mut iteration_conds);
            std::mem::swap(&mut conds, &mut iteration_conds);
        }
        data.when = g.all(&conds);
        data.prologue.append(&mut g.ops);
        if let Some(l) = &mut data.per_iteration {
            // After the iteration's own ops, which may compute its inputs.
            l.when = g.all(&iteration_conds);
            l.iteration_ops.append(&mut g.ops);
        }
    }
    let guard = guard(kernel, machine);
    // Per-iteration stages: `fits` from the loop bounds, and whether the
    // stage is used, computed right before the loop.
    let mut before: BTreeMap<usize, Vec<TOp>> = BTreeMap::new();
    let mut indexed: BTreeMap<usize, Chosen> = chosen
        .iter()
        .map(|(&i, &stage)| {
            (
                i,
                Chosen {
                    stage,
                    per_iteration: None,
                    per_wave: None,
                },
            )
        })
        .collect();
    // Loops with row-shared stages: whether the instance runs the copy
    // that reads them (all of them, in every iteration).
    let mut versions: BTreeMap<usize, SReg> = BTreeMap::new();
    for p in pending {
        let data = &mut stages[p.stage.as_u32() as usize];
        let l = data.per_iteration.as_mut().expect("per-iteration stage");
        let mut g = GuardBuilder {
            kernel,
            ops: Vec::new(),
        };
        let fits = g.fits(l.lb, l.ub, l.step, l.max_trips);
        l.fits_ops = g.ops.clone();
        l.fits = fits;
        let staged = g.alu("staged_loop", AluOp::And, guard.cond, fits.into());
        let mut per_wave = None;
        if let Some(w) = &mut data.per_wave {
            let at = g.ops.len();
            w.trips = g.trips(l.lb, l.ub, l.step);
            w.trips_ops = g.ops[at..].to_vec();
            let regs = g.wave_regs(machine, staged, w.trips, w.max_slots as i64);
            // Only a launch that can contend for HBM computes them: on
            // small grids the tile pays a few ops for the test alone.
            let mut inner = std::mem::take(&mut g.ops);
            let busy = g.contended(machine);
            let none = |g: &mut GuardBuilder, name: &str| {
                g.def(name, |dst| TOpKind::Mov {
                    dst,
                    src: SOp::Imm(0),
                })
            };
            let outer = WaveRegs {
                first_slot: none(&mut g, "first_slot_used"),
                rows: none(&mut g, "rows_used"),
                used: none(&mut g, "rows_staged"),
            };
            for (dst, src) in [
                (outer.first_slot, regs.first_slot),
                (outer.rows, regs.rows),
                (outer.used, regs.used),
            ] {
                inner.push(TOp {
                    kind: TOpKind::Mov {
                        dst,
                        src: src.into(),
                    },
                    loc: None,
                });
            }
            g.ops.push(TOp {
                kind: TOpKind::If {
                    cond: busy.into(),
                    then_body: inner,
                    else_body: Vec::new(),
                },
                loc: None,
            });
            let all = match versions.get(&p.at) {
                Some(&c) => g.alu("rows_staged_all", AluOp::And, c, outer.used.into()),
                None => outer.used,
            };
            versions.insert(p.at, all);
            per_wave = Some(outer);
        }
        before.entry(p.at).or_default().extend(g.ops);
        indexed.insert(
            p.load,
            Chosen {
                stage: p.stage,
                per_iteration: Some((l.iv, l.lb, l.step, staged)),
                per_wave,
            },
        );
    }
    let mut index = 0usize;
    let local = loop_locals(kernel, &versions);
    let mut body = std::mem::take(&mut kernel.body);
    let plan = Rewrite {
        chosen: &indexed,
        before: &before,
        versions: &versions,
        local: &local,
        staged: guard.cond,
    };
    plan.body(kernel, &mut body, &mut index, false);
    body.splice(0..0, guard.ops.iter().cloned());
    kernel.body = body;
    kernel.stage_guard = Some(guard);
    for data in stages {
        kernel.stages.push(data);
    }
}

/// The [`StageGuard`] for the dispatch policy of [`dispatch::policy`]:
/// under round robin over `T` tiles (instance `p` on tile `p mod T`),
/// cluster `c` with first tile `f = c · n` (`n` tiles per cluster) runs at
/// least two of the `P` instances iff two of its tiles get one
/// (`n ≥ 2 ∧ f + 1 < min(P, T)`) or its first tile gets two
/// (`f + T < P`). A cluster with a single instance gains nothing from
/// staging (the same HBM bytes, one more hop), so it loads directly. Any
/// other policy stages everywhere.
fn guard(kernel: &mut TileKernel, machine: &Machine) -> StageGuard {
    let mut g = GuardBuilder {
        kernel,
        ops: Vec::new(),
    };
    // The persistent form runs the same instances on the same tiles.
    let (Dispatch::RoundRobin { tiles } | Dispatch::Persistent { tiles }) =
        dispatch::policy(g.kernel, machine)
    else {
        let cond = g.def("staged", |dst| TOpKind::Mov {
            dst,
            src: SOp::Imm(1),
        });
        return StageGuard { ops: g.ops, cond };
    };
    let all = machine.clusters * machine.tiles_per_cluster;
    let t = i64::from(if tiles == 0 { all } else { tiles.min(all) });
    let n = i64::from(machine.tiles_per_cluster);
    let x = g.special("nprog.x", Special::NumPrograms(0));
    let y = g.special("nprog.y", Special::NumPrograms(1));
    let z = g.special("nprog.z", Special::NumPrograms(2));
    let xy = g.alu("nprog.xy", AluOp::Mul, x, y.into());
    let p = g.alu("programs", AluOp::Mul, xy, z.into());
    let c = g.special("cluster", Special::ClusterId);
    let f = g.alu("first_tile", AluOp::Mul, c, SOp::Imm(n));
    let f_next = g.alu("first_tile_next_round", AluOp::Add, f, SOp::Imm(t));
    let twice = g.alu("first_tile_twice", AluOp::LtU, f_next, p.into());
    let cond = if n >= 2 {
        let active = g.alu("active_tiles", AluOp::MinU, p, SOp::Imm(t));
        let second = g.alu("second_tile", AluOp::Add, f, SOp::Imm(1));
        let two = g.alu("two_tiles", AluOp::LtU, second, active.into());
        g.alu("staged", AluOp::Or, two, twice.into())
    } else {
        twice
    };
    StageGuard { ops: g.ops, cond }
}

/// Appends guard ops, each defining a fresh register.
struct GuardBuilder<'a> {
    kernel: &'a mut TileKernel,
    ops: Vec<TOp>,
}

impl GuardBuilder<'_> {
    fn def(&mut self, name: &str, kind: impl FnOnce(SReg) -> TOpKind) -> SReg {
        let r = self.kernel.new_sreg(64, name);
        self.ops.push(TOp {
            kind: kind(r),
            loc: None,
        });
        r
    }

    fn special(&mut self, name: &str, which: Special) -> SReg {
        self.def(name, |dst| TOpKind::ReadSpecial { dst, which })
    }

    fn alu(&mut self, name: &str, op: AluOp, a: impl Into<SOp>, b: SOp) -> SReg {
        let a = a.into();
        self.def(name, |dst| TOpKind::Alu { op, dst, a, b })
    }

    /// The conjunction of `conds` (`None` when there are none).
    fn all(&mut self, conds: &[Reach]) -> Option<SReg> {
        let mut all: Option<SReg> = None;
        for &c in conds {
            let holds = match c {
                Reach::NonZero(v) => self.alu("reached", AluOp::Ne, v, SOp::Imm(0)),
                Reach::Zero(v) => self.alu("reached", AluOp::Eq, v, SOp::Imm(0)),
                Reach::Less(lb, ub) => self.alu("reached", AluOp::LtS, lb, ub),
            };
            all = Some(match all {
                None => holds,
                Some(a) => self.alu("reached_all", AluOp::And, a, holds.into()),
            });
        }
        all
    }

    /// `step > 0 ∧ trips ≤ max_trips` for `for iv = lb to ub step step`,
    /// with `trips = ceil(max(ub − lb, 0) / step)` (a constant when the
    /// bounds are), and `ub − lb` representable: the tile indexes its
    /// slots with `(iv − lb) / step`, which must not wrap either. Nothing
    /// here wraps at 64 bits: `trips ≤ max_trips` is tested as
    /// `(span − 1) / step < max_trips` (`span ≥ 0`; for `span = 0` the
    /// quotient is 0 or −1), not through `span + step − 1`.
    fn fits(&mut self, lb: SOp, ub: SOp, step: SOp, max_trips: u64) -> SReg {
        if let Some(fits) = static_fits(lb, ub, step, max_trips) {
            return self.def("fits", |dst| TOpKind::Mov {
                dst,
                src: SOp::Imm(i64::from(fits)),
            });
        }
        let ordered = self.alu("ordered", AluOp::GtS, ub, lb);
        let span = self.alu("span", AluOp::Sub, ub, lb);
        // Negative only when `ub > lb` and `ub − lb` wrapped.
        let span = self.def("span_pos", |dst| TOpKind::Select {
            dst,
            cond: ordered.into(),
            a: span.into(),
            b: SOp::Imm(0),
        });
        let exact = self.alu("span_exact", AluOp::GeS, span, SOp::Imm(0));
        let last = self.alu("span_last", AluOp::Sub, span, SOp::Imm(1));
        let positive = self.alu("step_positive", AluOp::GtS, step, SOp::Imm(0));
        let safe = self.def("step_safe", |dst| TOpKind::Select {
            dst,
            cond: positive.into(),
            a: step,
            b: SOp::Imm(1),
        });
        let last_trip = self.alu("last_trip", AluOp::DivS, last, safe.into());
        let few = self.alu(
            "trips_fit",
            AluOp::LtS,
            last_trip,
            SOp::Imm(max_trips as i64),
        );
        let sane = self.alu("step_exact", AluOp::And, positive, exact.into());
        self.alu("fits", AluOp::And, few, sane.into())
    }
}

impl GuardBuilder<'_> {
    /// `ceil(max(ub − lb, 0) / step)` for a loop whose `fits` holds
    /// (positive step, exact span).
    fn trips(&mut self, lb: SOp, ub: SOp, step: SOp) -> SReg {
        let span = self.alu("trips_span", AluOp::Sub, ub, lb);
        let last = self.alu("trips_last", AluOp::Sub, span, SOp::Imm(1));
        let quotient = self.alu("trips_quotient", AluOp::DivS, last, step);
        let trips = self.alu("trips_some", AluOp::Add, quotient, SOp::Imm(1));
        let any = self.alu("trips_any", AluOp::GtS, span, SOp::Imm(0));
        self.def("trips", |dst| TOpKind::Select {
            dst,
            cond: any.into(),
            a: trips.into(),
            b: SOp::Imm(0),
        })
    }

    /// The tile's [`WaveRegs`] under round robin over all `T` tiles:
    /// instance `p = x + X·(y + Y·z)` is in wave `w` (`%instance`), whose
    /// first instance on this cluster is `p − %local_tile`. Row sharing is
    /// used when `staged` holds, `X ≥ min_shared_columns` and
    /// `trips ≥ MIN_SHARED_TRIPS` (the cluster program tests the same); these ops run only where HBM is contended
    /// ([`GuardBuilder::contended`]).
    fn wave_regs(
        &mut self,
        machine: &Machine,
        staged: SReg,
        trips: SReg,
        max_slots: i64,
    ) -> WaveRegs {
        let x = self.special("nprog.x", Special::NumPrograms(0));
        let y = self.special("nprog.y", Special::NumPrograms(1));
        let shares = self.alu(
            "rows_share",
            AluOp::GeS,
            x,
            SOp::Imm(min_shared_columns(machine)),
        );
        let staged = self.alu("staged_rows", AluOp::And, staged, shares.into());
        let long = self.alu("rows_trips", AluOp::GeS, trips, SOp::Imm(MIN_SHARED_TRIPS));
        let staged = self.alu("staged_long", AluOp::And, staged, long.into());
        let px = self.special("pid.x", Special::ProgramId(0));
        let py = self.special("pid.y", Special::ProgramId(1));
        let pz = self.special("pid.z", Special::ProgramId(2));
        let yz = self.alu("pid.yz", AluOp::Mul, pz, y.into());
        let row = self.alu("pid.row", AluOp::Add, yz, py.into());
        let rx = self.alu("pid.row_x", AluOp::Mul, row, x.into());
        let p = self.alu("pid.linear", AluOp::Add, rx, px.into());
        let t = self.special("local_tile", Special::LocalTileId);
        let base = self.alu("wave_base", AluOp::Sub, p, t.into());
        let x1 = self.alu("nprog.x_pos", AluOp::MaxS, x, SOp::Imm(1));
        let first_row = self.alu("row_of_wave", AluOp::DivU, base, x1.into());
        let r = self.alu("wave_row", AluOp::Sub, row, first_row.into());
        let rows = self.rows_per_wave(machine, x1);
        let w = self.special("wave", Special::Instance);
        let first_group = self.alu("wave_group", AluOp::Mul, w, trips.into());
        let slots = self.alu("wave_slots_before", AluOp::Mul, first_group, rows.into());
        let first_slot = self.alu("wave_first_slot", AluOp::Add, slots, r.into());
        let wave_groups = self.alu("wave_groups_end", AluOp::Add, first_group, trips.into());
        let wave_end = self.alu("wave_slots_end", AluOp::Mul, wave_groups, rows.into());
        let fits = self.alu("wave_fits", AluOp::LeS, wave_end, SOp::Imm(max_slots));
        let used = self.alu("wave_staged", AluOp::And, staged, fits.into());
        WaveRegs {
            first_slot,
            rows,
            used,
        }
    }

    /// Whether the launch runs more than [`contended_programs`] instances.
    fn contended(&mut self, machine: &Machine) -> SReg {
        let x = self.special("nprog.x", Special::NumPrograms(0));
        let y = self.special("nprog.y", Special::NumPrograms(1));
        let z = self.special("nprog.z", Special::NumPrograms(2));
        let xy = self.alu("nprog.xy", AluOp::Mul, x, y.into());
        let programs = self.alu("programs", AluOp::Mul, xy, z.into());
        self.alu(
            "hbm_contended",
            AluOp::GtU,
            programs,
            SOp::Imm(contended_programs(machine)),
        )
    }

    /// `R = min(n, (n − 1) / X + 2)`: the rows of `X ≥ 1` instances that
    /// `n` consecutive instances touch at most.
    fn rows_per_wave(&mut self, machine: &Machine, x: SReg) -> SReg {
        let n = i64::from(machine.tiles_per_cluster);
        let n1 = self.def("tiles_less_one", |dst| TOpKind::Mov {
            dst,
            src: SOp::Imm(n - 1),
        });
        let q = self.alu("rows_q", AluOp::DivU, n1, x.into());
        let q2 = self.alu("rows_q2", AluOp::Add, q, SOp::Imm(2));
        self.alu("rows_per_wave", AluOp::MinU, q2, SOp::Imm(n))
    }
}

/// [`GuardBuilder::fits`] for constant bounds.
fn static_fits(lb: SOp, ub: SOp, step: SOp, max_trips: u64) -> Option<bool> {
    let (SOp::Imm(lb), SOp::Imm(ub), SOp::Imm(step)) = (lb, ub, step) else {
        return None;
    };
    if step <= 0 {
        return Some(false);
    }
    let span = (i128::from(ub) - i128::from(lb)).max(0);
    if span > i128::from(i64::MAX) {
        // The tile's `(iv − lb) / step` would wrap.
        return Some(false);
    }
    let trips = (span + i128::from(step) - 1) / i128::from(step);
    Some(trips <= i128::from(max_trips))
}

/// The buffers and registers one loop references and nothing outside it
/// does: its versioned copy gets fresh ones, so the two copies' live
/// ranges stay apart (with shared registers every temporary of the body
/// would be live from the first copy through the second, and the extra
/// pressure spilled the loop that small grids run).
#[derive(Clone, Debug, Default)]
struct LoopLocals {
    bufs: BTreeSet<Buf>,
    regs: BTreeSet<SReg>,
}

/// How often each buffer and register occurs in `body`.
fn occurrences(body: &[TOp]) -> (BTreeMap<Buf, usize>, BTreeMap<SReg, usize>) {
    let (mut bufs, mut regs) = (BTreeMap::new(), BTreeMap::new());
    for_each_op(body, &mut |op| {
        for v in op.kind.reads().into_iter().chain(op.kind.writes()) {
            *bufs.entry(v.buf).or_insert(0usize) += 1;
        }
        let used = op.kind.scalar_uses().into_iter().filter_map(|s| match s {
            SOp::Reg(r) => Some(r),
            SOp::Imm(_) => None,
        });
        for r in used.chain(op.kind.scalar_def()) {
            *regs.entry(r).or_insert(0usize) += 1;
        }
    });
    (bufs, regs)
}

/// Per loop of `loops` (pre-order index), its [`LoopLocals`].
fn loop_locals(kernel: &TileKernel, loops: &BTreeMap<usize, SReg>) -> BTreeMap<usize, LoopLocals> {
    let (all_bufs, all_regs) = occurrences(&kernel.body);
    let walk = Walk::of(&kernel.body);
    loops
        .keys()
        .map(|&at| {
            let (bufs, regs) = occurrences(std::slice::from_ref(walk.ops[at]));
            let locals = LoopLocals {
                bufs: bufs
                    .into_iter()
                    .filter(|(b, n)| all_bufs.get(b) == Some(n))
                    .map(|(b, _)| b)
                    .collect(),
                regs: regs
                    .into_iter()
                    .filter(|(r, n)| all_regs.get(r) == Some(n))
                    .map(|(r, _)| r)
                    .collect(),
            };
            (at, locals)
        })
        .collect()
}

/// Renames the buffers and registers of `op` (and its bodies) by `bufs`
/// and `regs`.
fn rename_locals(op: &mut TOp, bufs: &BTreeMap<Buf, Buf>, regs: &BTreeMap<SReg, SReg>) {
    for v in op.kind.views_mut() {
        if let Some(&b) = bufs.get(&v.buf) {
            v.buf = b;
        }
    }
    for s in op.kind.scalar_uses_mut() {
        if let SOp::Reg(r) = s {
            if let Some(&fresh) = regs.get(r) {
                *r = fresh;
            }
        }
    }
    if let Some(d) = op.kind.scalar_def_mut() {
        if let Some(&fresh) = regs.get(d) {
            *d = fresh;
        }
    }
    for inner in op.kind.bodies_mut() {
        for op in inner {
            rename_locals(op, bufs, regs);
        }
    }
}

/// Gives the row-shared copy of a loop `op` its own registers for the
/// values it only reads from outside: returns `fresh = mov value` ops to
/// put in front of it and renames its reads. With linear, unsplit
/// intervals a value both copies read would otherwise stay live to the end
/// of the second copy, end last, and be the first spilled — over the
/// direct loop too. Values the copy writes keep their registers.
fn private_inputs(kernel: &mut TileKernel, op: &mut TOp) -> Vec<TOp> {
    let (mut read, mut written) = (BTreeSet::new(), BTreeSet::new());
    for_each_op(std::slice::from_ref(op), &mut |o| {
        for s in o.kind.scalar_uses() {
            if let SOp::Reg(r) = s {
                read.insert(r);
            }
        }
        written.extend(o.kind.scalar_def());
    });
    let mut fresh = BTreeMap::new();
    let mut copies = Vec::new();
    for r in read.difference(&written).copied() {
        let copy = kernel.sregs.push(kernel.sregs[r].clone());
        fresh.insert(r, copy);
        copies.push(TOp {
            kind: TOpKind::Mov {
                dst: copy,
                src: r.into(),
            },
            loc: None,
        });
    }
    rename_locals(op, &BTreeMap::new(), &fresh);
    copies
}

/// How [`Rewrite::body`] rewrites the kernel.
struct Rewrite<'a> {
    /// The chosen loads, by pre-order index.
    chosen: &'a BTreeMap<usize, Chosen>,
    /// Ops put in front of the op of each pre-order index.
    before: &'a BTreeMap<usize, Vec<TOp>>,
    /// Loops with row-shared stages, by pre-order index, and the register
    /// that says whether the instance reads them.
    versions: &'a BTreeMap<usize, SReg>,
    /// The buffers and registers only such a loop references: its copy
    /// gets its own (double buffering splits only buffers local to one
    /// loop; see [`LoopLocals`] for registers).
    local: &'a BTreeMap<usize, LoopLocals>,
    /// The kernel's stage guard.
    staged: SReg,
}

impl Rewrite<'_> {
    /// Replaces each chosen load with `if staged { LoadStaged } else { the
    /// load }`, and each loop with row-shared stages with
    /// `if used { the loop reading them from CSRAM } else { the loop }`:
    /// a per-iteration branch around those loads would cost the many
    /// instances that load directly (small grids) on every iteration.
    /// `rows` says whether this is the first copy of such a loop.
    fn body(&self, kernel: &mut TileKernel, body: &mut Vec<TOp>, index: &mut usize, rows: bool) {
        let mut out = Vec::with_capacity(body.len());
        for mut op in std::mem::take(body) {
            let i = *index;
            *index += 1;
            if let Some(ops) = self.before.get(&i) {
                out.extend(ops.iter().cloned());
            }
            if let Some(&used) = self.versions.get(&i) {
                let mut staged = op.clone();
                for inner in staged.kind.bodies_mut() {
                    self.body(kernel, inner, index, true);
                }
                let (mut bufs, mut regs) = (BTreeMap::new(), BTreeMap::new());
                if let Some(locals) = self.local.get(&i) {
                    for &b in &locals.bufs {
                        bufs.insert(b, kernel.bufs.push(kernel.bufs[b].clone()));
                    }
                    for &r in &locals.regs {
                        regs.insert(r, kernel.sregs.push(kernel.sregs[r].clone()));
                    }
                }
                rename_locals(&mut staged, &bufs, &regs);
                let copies = private_inputs(kernel, &mut staged);
                *index = i + 1;
                for inner in op.kind.bodies_mut() {
                    self.body(kernel, inner, index, false);
                }
                // The direct loop comes first: the allocator's intervals
                // are linear and unsplit, so a value both copies read is
                // spilled (if at all) over both, and it is the copy small
                // grids run whose pressure should decide.
                let mut g = GuardBuilder {
                    kernel,
                    ops: Vec::new(),
                };
                let direct = g.alu("rows_unused", AluOp::Eq, used, SOp::Imm(0));
                out.extend(g.ops);
                let loc = op.loc;
                out.push(TOp {
                    kind: TOpKind::If {
                        cond: direct.into(),
                        then_body: vec![op],
                        else_body: copies.into_iter().chain([staged]).collect(),
                    },
                    loc,
                });
                continue;
            }
            if let (Some(c), TOpKind::DmaLoad { dst, .. }) = (self.chosen.get(&i), &op.kind) {
                let dst = dst.clone();
                match (c.per_iteration, c.per_wave) {
                    (None, _) => {
                        let load = TOpKind::LoadStaged {
                            stage: c.stage,
                            dst,
                            slot: StagedSlot::Once,
                        };
                        out.push(self.either(&op, self.staged, Vec::new(), load));
                    }
                    (Some((iv, lb, step, staged_loop)), wave) => {
                        if wave.is_some() && !rows {
                            out.push(op);
                            continue;
                        }
                        let mut g = GuardBuilder {
                            kernel,
                            ops: Vec::new(),
                        };
                        let offset = g.alu("iteration_offset", AluOp::Sub, iv, lb);
                        let j = g.alu("iteration", AluOp::DivS, offset, step);
                        match wave {
                            None => {
                                let load = TOpKind::LoadStaged {
                                    stage: c.stage,
                                    dst,
                                    slot: StagedSlot::Iteration(j.into()),
                                };
                                let ops = g.ops;
                                out.push(self.either(&op, staged_loop, ops, load));
                            }
                            Some(w) => {
                                // Slot `g·R + r` of group `g = w·trips + j`.
                                let rows = g.alu("iteration_rows", AluOp::Mul, j, w.rows.into());
                                let slot = g.alu("row_slot", AluOp::Add, w.first_slot, rows.into());
                                out.extend(g.ops);
                                out.push(TOp {
                                    kind: TOpKind::LoadStaged {
                                        stage: c.stage,
                                        dst,
                                        slot: StagedSlot::Wave(slot.into()),
                                    },
                                    loc: op.loc,
                                });
                            }
                        }
                    }
                }
                continue;
            }
            for inner in op.kind.bodies_mut() {
                self.body(kernel, inner, index, rows);
            }
            out.push(op);
        }
        *body = out;
    }

    /// `if cond { ops; staged } else { load }` in place of `load`.
    fn either(&self, load: &TOp, cond: SReg, mut ops: Vec<TOp>, staged: TOpKind) -> TOp {
        ops.push(TOp {
            kind: staged,
            loc: load.loc,
        });
        TOp {
            kind: TOpKind::If {
                cond: cond.into(),
                then_body: ops,
                else_body: vec![load.clone()],
            },
            loc: load.loc,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use maiac_backend::isa::Module as IsaModule;
    use maiac_backend::machine::{resolve, Machine};
    use maiac_runtime_emu::emu::{run_raw, RunOptions, Stats};
    use maiac_runtime_emu::launch::buffer_base;

    use crate::driver::{CompileOptions, PassManager};
    use crate::tile::TileKernel;

    fn fixture(name: &str) -> maiac_ir::Module {
        let path: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "..",
            "tests",
            "fixtures",
            "kernels",
        ]
        .iter()
        .collect::<PathBuf>()
        .join(name)
        .join("kernel.ttir");
        let text = std::fs::read_to_string(&path).expect("fixture");
        maiac_ir::parser::parse_module(&text, "kernel.ttir").expect("parses")
    }

    fn compile(name: &str, m: &Machine, staged: bool) -> (TileKernel, IsaModule) {
        let mut module = fixture(name);
        let mut pm = PassManager::new(m);
        if !staged {
            assert!(pm.tile_passes().remove("cluster-stage"));
        }
        let c = pm
            .compile(&mut module, m, &CompileOptions::default())
            .unwrap_or_else(|d| panic!("{d}"));
        (c.tile, c.module.expect("module"))
    }

    fn f32_bytes(n: usize, seed: u32) -> Vec<u8> {
        (0..n)
            .flat_map(|i| (((i as u32 * 31 + seed * 17) % 89) as f32 * 0.125 - 5.0).to_le_bytes())
            .collect()
    }

    /// `shared_weight_rows` over `rows` programs: (out bytes, stats).
    fn run_rows(module: &IsaModule, m: &Machine, rows: u32) -> (Vec<u8>, Stats) {
        let n = 300usize;
        let buffers = vec![
            f32_bytes(rows as usize * n, 1),
            f32_bytes(n, 2),
            f32_bytes(n, 3),
            vec![0; rows as usize * n * 4],
        ];
        let mut args: Vec<u64> = (0..4).map(buffer_base).collect();
        args.push(n as u64);
        let out = run_raw(
            module,
            m,
            [rows, 1, 1],
            &args,
            buffers,
            &RunOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (out.buffers[3].clone(), out.stats)
    }

    #[test]
    fn shared_rows_are_staged_once_per_cluster() {
        let m = resolve("maia200-like").expect("machine");
        let (tile, staged) = compile("shared_weight_rows", &m, true);
        // The weight and bias rows; the input row depends on the program id.
        assert_eq!(tile.stages.len(), 2);
        assert!(staged.cluster_program.is_some());
        let (_, plain) = compile("shared_weight_rows", &m, false);
        assert!(plain.cluster_program.is_none());
        let tiles = m.clusters * m.tiles_per_cluster;
        for rows in [1, 9, 40, 300] {
            let (a, sa) = run_rows(&staged, &m, rows);
            let (b, sb) = run_rows(&plain, &m, rows);
            assert_eq!(a, b, "{rows} rows");
            // Round robin from tile 0: a cluster running k ≥ 2 programs
            // reads the two rows once instead of k times; one with a single
            // program loads them directly.
            let mut per_cluster = vec![0u64; m.clusters as usize];
            for p in 0..rows {
                per_cluster[((p % tiles) / m.tiles_per_cluster) as usize] += 1;
            }
            let saved: u64 = per_cluster
                .iter()
                .filter(|&&k| k >= 2)
                .map(|k| (k - 1) * 2 * 300 * 4)
                .sum();
            assert_eq!(sb.hbm_bytes - sa.hbm_bytes, saved, "{rows} rows");
            if rows == 1 {
                // A lone program takes the direct path: only the guard's
                // few scalar ops are added.
                assert!(sa.cycles <= sb.cycles + sb.cycles / 100, "{sa:?} vs {sb:?}");
            }
        }
    }

    /// `rmsnorm_bf16` (its weight row is loaded in a loop over the columns)
    /// on `rows` programs of `n` columns: (y bytes, stats).
    fn run_rmsnorm(module: &IsaModule, m: &Machine, rows: u32, n: usize) -> (Vec<u8>, Stats) {
        let bf16 =
            |b: Vec<u8>| -> Vec<u8> { b.chunks_exact(4).flat_map(|c| [c[2], c[3]]).collect() };
        let buffers = vec![
            bf16(f32_bytes(rows as usize * n, 4)),
            f32_bytes(n, 5),
            vec![0; rows as usize * n * 2],
        ];
        let mut args: Vec<u64> = (0..3).map(buffer_base).collect();
        args.extend([n as u64, n as u64, u64::from(1e-6f32.to_bits())]);
        let out = run_raw(
            module,
            m,
            [rows, 1, 1],
            &args,
            buffers,
            &RunOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (out.buffers[2].clone(), out.stats)
    }

    #[test]
    fn loop_boxes_are_staged_per_iteration_when_the_trips_fit() {
        let mut m = resolve("maia200-like").expect("machine");
        // A small CSRAM: the weight row's region holds a few trips only.
        m.cluster.csram_bytes = 16 * 1024;
        let (tile, staged) = compile("rmsnorm_bf16", &m, true);
        let (_, plain) = compile("rmsnorm_bf16", &m, false);
        let loops: Vec<_> = tile
            .stages
            .values()
            .filter_map(|s| s.per_iteration.as_ref().map(|l| (s, l)))
            .collect();
        assert_eq!(loops.len(), 1, "{}", crate::tile::render(&tile));
        let (stage, l) = loops[0];
        let block = stage.shape()[0] as usize;
        let max_trips = l.max_trips as usize;
        assert!(max_trips >= 2, "{max_trips}");
        let rows = 24;
        for (trips, fits) in [(1, true), (max_trips, true), (max_trips + 1, false)] {
            // The last trip is partial: the mask bounds its box.
            let n = (trips - 1) * block + block / 2 + 1;
            let (a, sa) = run_rmsnorm(&staged, &m, rows, n);
            let (b, sb) = run_rmsnorm(&plain, &m, rows, n);
            assert_eq!(a, b, "{trips} trips");
            if fits {
                // 24 programs on the first three clusters, 8 each: the
                // row is read once per cluster, not once per program
                // (masked-off elements move no bytes).
                let row_bytes = (n * 4) as u64;
                assert_eq!(
                    sb.hbm_bytes - sa.hbm_bytes,
                    3 * 7 * row_bytes,
                    "{trips} trips"
                );
            } else {
                assert_eq!(sa.hbm_bytes, sb.hbm_bytes, "{trips} trips: not staged");
            }
        }
    }

    /// `matmul_bias_relu_f16` (64×64 blocks, BK = 32, `pid_m`/`pid_n`
    /// from a 2-D grid) on a `gx × gy` grid with `trips` K steps:
    /// (c bytes, stats).
    fn run_gemm(module: &IsaModule, m: &Machine, gx: u32, gy: u32, trips: u32) -> (Vec<u8>, Stats) {
        let (rows, cols, k) = (64 * gx as usize, 64 * gy as usize, 32 * trips as usize);
        let f16 = |n: usize, seed: u32| -> Vec<u8> {
            (0..n)
                .flat_map(|i| {
                    let v = ((i as u32 * 13 + seed * 7) % 17) as f32 * 0.25 - 2.0;
                    half::f16::from_f32(v).to_le_bytes()
                })
                .collect()
        };
        let buffers = vec![
            f16(rows * k, 1),
            f16(k * cols, 2),
            f16(cols, 3),
            vec![0; rows * cols * 2],
        ];
        let mut args: Vec<u64> = (0..4).map(buffer_base).collect();
        args.extend([rows as u64, cols as u64, k as u64]);
        let out = run_raw(
            module,
            m,
            [gx, gy, 1],
            &args,
            buffers,
            &RunOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (out.buffers[3].clone(), out.stats)
    }

    /// The HBM bytes row sharing saves under the documented policy: on a
    /// grid large enough to contend for HBM with two columns or more, per
    /// cluster with two instances or more, staged wave and iteration, every
    /// instance of a grid row after the row's first reads its B panel
    /// (32 × 64 f16) from CSRAM.
    fn row_sharing_saving(m: &Machine, gx: u32, gy: u32, trips: u32, max_slots: u64) -> u64 {
        let (n, tiles) = (m.tiles_per_cluster, m.clusters * m.tiles_per_cluster);
        let programs = gx * gy;
        if i64::from(gx) < super::min_shared_columns(m)
            || i64::from(trips) < super::MIN_SHARED_TRIPS
            || i64::from(programs) <= super::contended_programs(m)
        {
            return 0;
        }
        let rows_per_wave = u64::from(n.min((n - 1) / gx + 2));
        let mut saved = 0;
        for c in 0..m.clusters {
            let mine: Vec<u32> = (0..programs).filter(|p| (p % tiles) / n == c).collect();
            if mine.len() < 2 {
                continue;
            }
            for w in 0..programs.div_ceil(tiles) {
                let wave: Vec<u32> = mine.iter().copied().filter(|p| p / tiles == w).collect();
                let rows: BTreeSet<u32> = wave.iter().map(|p| p / gx).collect();
                let shared = (wave.len() - rows.len()) as u64;
                // A wave is staged when all its groups' slots fit.
                if u64::from((w + 1) * trips) * rows_per_wave <= max_slots {
                    saved += shared * u64::from(trips) * 32 * 64 * 2;
                }
            }
        }
        saved
    }

    #[test]
    fn gemm_b_panels_are_shared_by_the_instances_of_a_grid_row() {
        let mut m = resolve("maia200-like").expect("machine");
        let (tile, staged) = compile("matmul_bias_relu_f16", &m, true);
        let (_, plain) = compile("matmul_bias_relu_f16", &m, false);
        // B (32 × 64, moving with k and pid_n) is row-shared; A depends
        // on pid_m, the bias row is outside the loop.
        let rows: Vec<_> = tile
            .stages
            .values()
            .filter(|s| s.per_wave.is_some())
            .collect();
        assert_eq!(rows.len(), 1, "{}", crate::tile::render(&tile));
        assert_eq!(rows[0].shape(), vec![32, 64]);
        let max_slots = rows[0].per_wave.as_ref().map(|w| w.max_slots).unwrap_or(0);
        // Whole rows per cluster, rows split across tiles, a single row,
        // several waves; and not staged: too few trips, a column grid
        // (nothing to share), too few columns, grids too small to contend
        // for HBM.
        let grids = [
            (16, 16, 4),
            (4, 32, 4),
            (5, 20, 4),
            (64, 1, 3),
            (8, 16, 3),
            (16, 4, 3),
            (5, 40, 2),
            (1, 90, 3),
            (2, 30, 4),
            (16, 2, 3),
            (2, 2, 4),
        ];
        for (gx, gy, trips) in grids {
            let (a, sa) = run_gemm(&staged, &m, gx, gy, trips);
            let (b, sb) = run_gemm(&plain, &m, gx, gy, trips);
            assert_eq!(a, b, "{gx}x{gy}, {trips} trips");
            let saved = row_sharing_saving(&m, gx, gy, trips, max_slots);
            assert_eq!(
                sb.hbm_bytes - sa.hbm_bytes,
                saved,
                "{gx}x{gy}, {trips} trips"
            );
            if saved > 0 && trips >= 4 {
                assert!(sa.cycles < sb.cycles, "{gx}x{gy}: {sa:?} vs {sb:?}");
            }
        }
        // A small CSRAM: the region holds a few groups; later ones load
        // directly.
        m.cluster.csram_bytes = 256 * 1024;
        let (tile, staged) = compile("matmul_bias_relu_f16", &m, true);
        let (_, plain) = compile("matmul_bias_relu_f16", &m, false);
        let max_slots = tile
            .stages
            .values()
            .find_map(|s| s.per_wave.as_ref().map(|w| w.max_slots))
            .expect("a row-shared stage");
        assert!(max_slots < 20, "{max_slots}");
        for (gx, gy, trips) in [(16, 4, 3), (16, 12, 4)] {
            let (a, sa) = run_gemm(&staged, &m, gx, gy, trips);
            let (b, sb) = run_gemm(&plain, &m, gx, gy, trips);
            assert_eq!(a, b, "{gx}x{gy}, {trips} trips");
            let saved = row_sharing_saving(&m, gx, gy, trips, max_slots);
            assert!(saved > 0);
            assert_eq!(
                sb.hbm_bytes - sa.hbm_bytes,
                saved,
                "{gx}x{gy}, {trips} trips"
            );
        }
    }

    #[test]
    fn written_buffers_and_program_dependent_loads_are_not_staged() {
        let m = resolve("maia200-like").expect("machine");
        // `w` is stored before it is loaded; only `x` (read-only) is staged.
        let (tile, _) = compile("shared_weight_inplace", &m, true);
        assert!(tile.written_args[1] && !tile.written_args[0]);
        assert_eq!(tile.stages.len(), 1);
        let reads_arg = |i: u32| {
            tile.stages.values().any(|s| {
                s.prologue.iter().any(
                    |op| matches!(op.kind, crate::tile::TOpKind::Arg { index, .. } if index == i),
                )
            })
        };
        assert!(reads_arg(0) && !reads_arg(1));
        // A GEMM's tiles depend on the program ids: nothing to stage.
        let (tile, module) = compile("matmul_f16_grouped", &m, true);
        assert!(tile.stages.is_empty() && module.cluster_program.is_none());
    }

    #[test]
    fn a_machine_without_csram_stages_nothing() {
        let mut m = resolve("maia200-like").expect("machine");
        m.cluster.csram_bytes = 0;
        let (tile, module) = compile("shared_weight_rows", &m, true);
        assert!(tile.stages.is_empty() && module.cluster_program.is_none());
    }
}
