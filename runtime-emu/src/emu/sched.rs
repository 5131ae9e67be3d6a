//! The event-driven machine: every tile's (and cluster program's) control
//! processor and engine queues, semaphores, barriers, shared HBM bandwidth,
//! and the functional execution of each instruction when it starts.
//!
//! One simulation drives functional results and cycles alike. Agents are
//! visited in a fixed order (only the cores that may progress, see
//! [`super::ready`]) and events are ordered by (cycle, schedule order,
//! see [`super::agenda`]), so results are deterministic. An engine instruction's memory
//! effects happen when it starts; its signal when it completes, so any
//! instruction that waits for it sees them.

use std::collections::{BTreeMap, VecDeque};

use maiac_backend::isa::{
    BarrierScope, CpOp, DebugLocId, DmaOp, Engine, Instr, Module, Op, Program, SemRef, SemScope,
    Space, Special, Sync, TtuOp, TtuPrecision, NUM_REGS,
};
use maiac_backend::machine::Machine;

use super::agenda::Agenda;
use super::context::{Effects, ExecCtx, HbmTouch};
use super::error::{EmuError, ExecResult, Fault};
use super::footprint::Footprint;
use super::memory::{read_bits, write_bits, Memory, Region};
use super::race::{join, Clock, InstrRef, RaceDetector};
use super::ready::ReadySet;
use super::stats::{Stats, TraceEvent};
use super::{dma, ttu, tvp};

/// The stats' and traces' line for an instruction without a debug location.
const NO_LINE: &str = "<no debug line>";

/// Options of the simulation (see [`crate::emu::RunOptions`]).
pub struct SimOptions {
    pub detect_races: bool,
    pub trace: bool,
    pub max_cycles: u64,
}

/// An engine instruction waiting in a queue, with the CP state at dispatch.
struct Queued {
    pc: u32,
    regs: Box<[u64; NUM_REGS]>,
    vc: Clock,
}

/// An instruction occupying an agent.
struct Busy {
    signal: Option<SemRef>,
}

/// A DMA transfer whose data has moved but whose latency has not elapsed:
/// it retires (signals) at `retire`, in issue order.
struct InFlight {
    retire: u64,
    signal: Option<SemRef>,
    /// The engine's clock when the transfer started: what its signal orders.
    vc: Clock,
    /// Bounding byte span of each access, for the engine's hazard check.
    spans: Vec<Span>,
}

/// The bytes `lo..hi` of `region` an in-flight transfer reads or writes.
struct Span {
    region: Region,
    lo: u64,
    hi: u64,
    write: bool,
}

impl Span {
    fn of(fx: &Effects) -> Vec<Span> {
        fx.accesses
            .iter()
            .filter_map(|a| {
                let lo = a.ranges.iter().map(|r| r.0).min()?;
                let hi = a.ranges.iter().map(|r| r.1).max()?;
                Some(Span {
                    region: a.region,
                    lo,
                    hi,
                    write: a.write,
                })
            })
            .collect()
    }

    /// Whether the two touch a common byte and one of them writes it.
    fn conflicts(&self, other: &Span) -> bool {
        self.region == other.region
            && (self.write || other.write)
            && self.lo < other.hi
            && other.lo < self.hi
    }
}

/// A pending event of (core, agent slot); the agenda orders events by
/// cycle and then by when they were scheduled.
type Event = (usize, usize, EventKind);

/// The engine kinds of the busy-cycle stats, by [`busy_kind`] index.
const BUSY_KINDS: [&str; 6] = ["cluster_cp", "cluster_dma", "cp", "dma", "ttu", "tvp"];

/// The [`BUSY_KINDS`] index of an agent of a tile or cluster program.
fn busy_kind(cluster_program: bool, kind: Engine) -> usize {
    match (cluster_program, kind) {
        (true, Engine::Cp) => 0,
        (true, _) => 1,
        (false, Engine::Cp) => 2,
        (false, Engine::Dma) => 3,
        (false, Engine::Ttu) => 4,
        (false, Engine::Tvp) => 5,
    }
}

/// What an event does when its time comes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    /// The agent's current instruction frees it (and, except for DMA
    /// transfers, completes).
    Free,
    /// The oldest in-flight transfer of a DMA engine retires.
    Retire,
}

/// A CP or an engine.
struct Agent {
    id: usize,
    kind: Engine,
    queue: VecDeque<Queued>,
    busy: Option<Busy>,
    /// DMA engines only: transfers waiting out their latency, oldest first.
    in_flight: VecDeque<InFlight>,
    vc: Clock,
}

/// The control state of a tile program or a cluster program.
struct Core {
    /// Global tile id, or the cluster id for a cluster program.
    unit: u32,
    cluster: u32,
    cluster_program: bool,
    instances: Vec<[u32; 3]>,
    instance: usize,
    pc: u32,
    regs: [u64; NUM_REGS],
    done: bool,
    /// Index 0: CP; then DMA, TTU, TVP (a cluster program has only DMA).
    agents: Vec<Agent>,
    sems: Vec<i64>,
    sem_vcs: Vec<Clock>,
    barriers_arrived: u64,
    waiting_at_barrier: bool,
}

/// The whole simulated chip.
pub struct Sim<'a> {
    module: &'a Module,
    machine: &'a Machine,
    grid: [u32; 3],
    args: &'a [u64],
    opts: SimOptions,
    pub mem: Memory,
    cores: Vec<Core>,
    cluster_sems: Vec<Vec<i64>>,
    cluster_sem_vcs: Vec<Vec<Clock>>,
    races: RaceDetector,
    events: Agenda<Event>,
    /// The cores to visit before the next event (see [`super::ready`]).
    ready: ReadySet,
    /// Per cluster: the cores (tiles and cluster program) that read its
    /// semaphores, to mark when one is signalled.
    cluster_cores: Vec<Vec<usize>>,
    now: u64,
    hbm_free: u64,
    /// The distinct HBM bytes read and written so far.
    footprint: Footprint,
    /// Per cluster: when its NoC link (traffic entering or leaving the
    /// cluster) and its CSRAM ports are next free.
    link_free: Vec<u64>,
    csram_free: Vec<u64>,
    n_agents: usize,
    pub stats: Stats,
    /// Busy cycles by engine kind ([`BUSY_KINDS`]) and, per program (tile,
    /// cluster) and pc, of the CP and of the engines, folded into `stats`
    /// by source line at the end: keying the stats' string maps (or even a
    /// hash map) per instruction made bookkeeping the hot path. `None`:
    /// nothing ran there.
    busy_by_kind: [Option<u64>; 6],
    busy_by_pc: [Vec<[Option<u64>; 2]>; 2],
    macs: BTreeMap<TtuPrecision, u64>,
    pub trace: Vec<TraceEvent>,
    pub threads: BTreeMap<u32, String>,
}

fn slot_of(engine: Engine) -> usize {
    match engine {
        Engine::Cp => 0,
        Engine::Dma => 1,
        Engine::Ttu => 2,
        Engine::Tvp => 3,
    }
}

impl<'a> Sim<'a> {
    pub fn new(
        module: &'a Module,
        machine: &'a Machine,
        grid: [u32; 3],
        args: &'a [u64],
        mem: Memory,
        opts: SimOptions,
    ) -> Result<Sim<'a>, EmuError> {
        // Every program takes at least a cycle of its tile's CP: a launch
        // with more programs per tile than the cycle limit cannot finish,
        // so say so before materialising billions of program ids.
        let programs = grid.iter().map(|&g| u64::from(g)).product::<u64>();
        if programs > super::run::MAX_INSTANCES {
            return Err(EmuError::Setup(format!(
                "the launch has {programs} programs, more than the emulator runs in one launch \
                 ({}); split the launch or grow each program's block",
                super::run::MAX_INSTANCES
            )));
        }
        let min_cycles = programs.div_ceil(u64::from(machine.num_tiles().max(1)));
        if min_cycles > opts.max_cycles {
            return Err(EmuError::Setup(format!(
                "the launch's {programs} programs on {} tiles need at least {min_cycles} cycles, \
                 more than the cycle limit of {} (raise it with --max-cycles N)",
                machine.num_tiles(),
                opts.max_cycles
            )));
        }
        let assignment = module
            .dispatch
            .assign(grid, machine.num_tiles())
            .map_err(|e| EmuError::Setup(e.to_string()))?;
        let mut cores = Vec::new();
        let mut next_agent = 0usize;
        let mut threads = BTreeMap::new();
        let tile_sems = machine.tile.semaphores as usize;
        for (tile, instances) in assignment.into_iter().enumerate() {
            let tile = tile as u32;
            let kinds = [Engine::Cp, Engine::Dma, Engine::Ttu, Engine::Tvp];
            cores.push(Core::new(
                tile,
                machine.cluster_of(tile),
                false,
                instances,
                &kinds,
                tile_sems,
                &mut next_agent,
            ));
        }
        if module.cluster_program.is_some() {
            for c in 0..machine.clusters {
                cores.push(Core::new(
                    c,
                    c,
                    true,
                    vec![[0; 3]],
                    &[Engine::Cp, Engine::Dma],
                    0,
                    &mut next_agent,
                ));
            }
        }
        let n_agents = if opts.detect_races { next_agent } else { 0 };
        for (ci, core) in cores.iter_mut().enumerate() {
            for a in &mut core.agents {
                a.vc = vec![0; n_agents];
                let what = if core.cluster_program {
                    "cluster"
                } else {
                    "tile"
                };
                threads.insert(
                    (ci * 4 + slot_of(a.kind)) as u32,
                    format!("{what} {} {}", core.unit, a.kind.name()),
                );
            }
            core.sem_vcs = vec![vec![0; n_agents]; core.sems.len()];
        }
        let csems = machine.cluster.semaphores as usize;
        let mut cluster_cores = vec![Vec::new(); machine.clusters as usize];
        for (i, c) in cores.iter().enumerate() {
            if let Some(members) = cluster_cores.get_mut(c.cluster as usize) {
                members.push(i);
            }
        }
        let ready = ReadySet::all(cores.len());
        let busy_by_pc = [
            vec![[None; 2]; module.tile_program.code.len()],
            vec![[None; 2]; module.cluster_program.as_ref().map_or(0, |p| p.code.len())],
        ];
        Ok(Sim {
            module,
            machine,
            grid,
            args,
            opts,
            mem,
            cores,
            cluster_sems: vec![vec![0; csems]; machine.clusters as usize],
            cluster_sem_vcs: vec![vec![vec![0; n_agents]; csems]; machine.clusters as usize],
            races: RaceDetector::default(),
            events: Agenda::default(),
            ready,
            cluster_cores,
            now: 0,
            hbm_free: 0,
            footprint: Footprint::default(),
            link_free: vec![0; machine.clusters as usize],
            csram_free: vec![0; machine.clusters as usize],
            n_agents,
            stats: Stats::default(),
            busy_by_kind: [None; 6],
            busy_by_pc,
            macs: BTreeMap::new(),
            trace: Vec::new(),
            threads,
        })
    }

    fn program(&self, core: usize) -> &'a Program {
        let module = self.module;
        if self.cores[core].cluster_program {
            module
                .cluster_program
                .as_ref()
                .unwrap_or(&module.tile_program)
        } else {
            &module.tile_program
        }
    }

    fn unit_name(&self, core: usize) -> String {
        let c = &self.cores[core];
        if c.cluster_program {
            format!("cluster {}", c.unit)
        } else {
            format!("tile {}", c.unit)
        }
    }

    fn fault(&self, core: usize, pc: u32, fault: Fault) -> EmuError {
        let c = &self.cores[core];
        let instr = self
            .program(core)
            .code
            .get(pc as usize)
            .map(|i| format!("`{}` at ", maiac_backend::asm::instruction_text(i)))
            .unwrap_or_default();
        EmuError::Fault {
            unit: self.unit_name(core),
            location: format!("{instr}{}", self.module.describe_pc(c.cluster_program, pc)),
            message: fault.0,
        }
    }

    fn describe(&self, r: InstrRef) -> String {
        let which = if r.cluster_program { "cluster" } else { "tile" };
        let text = self
            .program_of(r.cluster_program)
            .code
            .get(r.pc as usize)
            .map(maiac_backend::asm::instruction_text)
            .unwrap_or_default();
        format!(
            "`{text}` ({which} {}, {})",
            r.unit,
            self.module.describe_pc(r.cluster_program, r.pc)
        )
    }

    fn program_of(&self, cluster_program: bool) -> &'a Program {
        let module = self.module;
        match (cluster_program, module.cluster_program.as_ref()) {
            (true, Some(p)) => p,
            _ => &module.tile_program,
        }
    }

    /// Runs the launch to completion.
    pub fn run(&mut self) -> Result<(), EmuError> {
        loop {
            // Sweep the cores until none progresses, visiting only those
            // that may (the same visits that progress, in the same order).
            while let Some(core) = self.ready.next_core() {
                if self.step_core(core)? {
                    self.ready.mark(core);
                }
            }
            let Some((time, events)) = self.events.pop_earliest() else {
                break;
            };
            self.now = time;
            if time > self.opts.max_cycles {
                // Name where a still-running unit is, so an endless loop
                // points at its TTIR line.
                let mut why = format!(
                    "the launch exceeded the cycle limit of {} cycles (an endless loop?)",
                    self.opts.max_cycles
                );
                if let Some(c) = self.cores.iter().position(|c| !c.done) {
                    let core = &self.cores[c];
                    why.push_str(&format!(
                        "; {} is at {}",
                        self.unit_name(c),
                        self.module.describe_pc(core.cluster_program, core.pc)
                    ));
                }
                why.push_str("; raise the limit with --max-cycles N");
                return Err(EmuError::Deadlock(why));
            }
            for &(core, slot, kind) in &events {
                self.complete(core, slot, kind);
            }
            self.events.recycle(events);
            if self.opts.detect_races && self.races.len() > 8192 {
                self.prune_races();
            }
        }
        if let Some(stuck) = self.cores.iter().position(|c| !c.done) {
            let c = &self.cores[stuck];
            let mut why = format!(
                "{} cannot make progress at {}",
                self.unit_name(stuck),
                self.module.describe_pc(c.cluster_program, c.pc)
            );
            for a in &c.agents[1..] {
                if let Some(q) = a.queue.front() {
                    why.push_str(&format!(
                        "; its {} queue waits at {}",
                        a.kind.name(),
                        self.module.describe_pc(c.cluster_program, q.pc)
                    ));
                }
            }
            return Err(EmuError::Deadlock(why + " (a semaphore wait that is never satisfied, or a barrier not every tile reaches)"));
        }
        self.stats.cycles = self.now;
        for (kind, cycles) in BUSY_KINDS.iter().zip(self.busy_by_kind) {
            if let Some(cycles) = cycles {
                *self
                    .stats
                    .engine_busy_cycles
                    .entry(kind.to_string())
                    .or_default() += cycles;
            }
        }
        // Sum per (location, CP or engine) first so that each location's
        // line is rendered once.
        let mut by_loc: BTreeMap<(Option<DebugLocId>, bool), u64> = BTreeMap::new();
        let busy_by_pc = std::mem::take(&mut self.busy_by_pc);
        for (cluster_program, per_pc) in [false, true].into_iter().zip(&busy_by_pc) {
            let program = self.program_of(cluster_program);
            for (pc, sides) in per_pc.iter().enumerate() {
                for (side, cycles) in sides.iter().enumerate() {
                    if let Some(cycles) = cycles {
                        let loc = program.loc_of(pc as u32);
                        *by_loc.entry((loc, side == 0)).or_default() += cycles;
                    }
                }
            }
        }
        for ((loc, cp), cycles) in by_loc {
            let line = self.line_of_loc(loc);
            if !cp || line != NO_LINE {
                *self.stats.by_source_line.entry(line).or_default() += cycles;
            }
        }
        let macs = std::mem::take(&mut self.macs);
        self.stats.hbm_unique_bytes = self.footprint.unique_bytes();
        self.stats.finish(self.machine, &macs);
        Ok(())
    }

    fn prune_races(&mut self) {
        let mut floor: Clock = vec![u32::MAX; self.n_agents];
        // Finished cores never access memory again, so they do not hold records back.
        for core in self.cores.iter().filter(|c| !c.done) {
            for a in &core.agents {
                for (f, &x) in floor.iter_mut().zip(&a.vc) {
                    *f = (*f).min(x);
                }
                for q in &a.queue {
                    for (f, &x) in floor.iter_mut().zip(&q.vc) {
                        *f = (*f).min(x);
                    }
                }
            }
        }
        self.races.prune(&floor);
    }

    fn schedule(&mut self, core: usize, slot: usize, at: u64, kind: EventKind) {
        self.events.schedule(at, (core, slot, kind));
    }

    /// An event of `(core, slot)` happens: the agent frees, or its oldest
    /// in-flight transfer retires; a completing instruction's signal fires.
    fn complete(&mut self, core: usize, slot: usize, kind: EventKind) {
        // Whatever happens, the core's agents may now progress.
        self.ready.mark(core);
        let c = &mut self.cores[core];
        let cluster = c.cluster as usize;
        let agent = &mut c.agents[slot];
        // The clock the signal orders: the agent's own for a completing
        // instruction (borrowed, not copied), the transfer's for a retire.
        let retired;
        let (signal, vc) = match kind {
            EventKind::Free => {
                let Some(busy) = agent.busy.take() else {
                    return;
                };
                (busy.signal, &agent.vc)
            }
            EventKind::Retire => {
                // Retire events are scheduled in issue order at
                // non-decreasing times, so the oldest transfer is the one.
                let Some(done) = agent.in_flight.pop_front() else {
                    return;
                };
                retired = done;
                (retired.signal, &retired.vc)
            }
        };
        if let Some(sem) = signal {
            let (value, svc) = match sem.scope {
                SemScope::Tile => (
                    &mut c.sems[sem.index as usize],
                    &mut c.sem_vcs[sem.index as usize],
                ),
                SemScope::Cluster => (
                    &mut self.cluster_sems[cluster][sem.index as usize],
                    &mut self.cluster_sem_vcs[cluster][sem.index as usize],
                ),
            };
            *value += 1;
            join(svc, vc);
            if sem.scope == SemScope::Cluster {
                // Every core of the cluster may be waiting for it.
                for &other in &self.cluster_cores[cluster] {
                    self.ready.mark(other);
                }
            }
        }
    }

    fn check_sem(&self, core: usize, pc: u32, sem: SemRef) -> Result<(), EmuError> {
        let n = match sem.scope {
            SemScope::Tile => self.cores[core].sems.len(),
            SemScope::Cluster => self.cluster_sems.first().map_or(0, Vec::len),
        };
        if usize::from(sem.index) >= n {
            return Err(self.fault(
                core,
                pc,
                Fault::new(format!(
                    "semaphore {sem} does not exist (the machine has {n})"
                )),
            ));
        }
        Ok(())
    }

    /// Whether every wait of `sync` holds with `regs`; on success joins the
    /// semaphores' clocks into `vc`.
    fn waits_hold(
        &self,
        core: usize,
        pc: u32,
        sync: &Sync,
        regs: &[u64; NUM_REGS],
    ) -> Result<bool, EmuError> {
        for w in &sync.waits {
            self.check_sem(core, pc, w.sem)?;
            let want = w.value.eval(regs) as i64;
            let have = match w.sem.scope {
                SemScope::Tile => self.cores[core].sems[w.sem.index as usize],
                SemScope::Cluster => {
                    self.cluster_sems[self.cores[core].cluster as usize][w.sem.index as usize]
                }
            };
            if have < want {
                return Ok(false);
            }
        }
        if let Some(s) = sync.signal {
            self.check_sem(core, pc, s)?;
        }
        Ok(true)
    }

    fn join_waits(&mut self, core: usize, slot: usize, sync: &Sync) {
        if self.n_agents == 0 {
            return;
        }
        let c = &mut self.cores[core];
        let cluster = c.cluster as usize;
        for w in &sync.waits {
            let svc = match w.sem.scope {
                SemScope::Tile => &c.sem_vcs[w.sem.index as usize],
                SemScope::Cluster => &self.cluster_sem_vcs[cluster][w.sem.index as usize],
            };
            join(&mut c.agents[slot].vc, svc);
        }
    }

    fn tick(&mut self, core: usize, slot: usize) {
        let a = &mut self.cores[core].agents[slot];
        if let Some(x) = a.vc.get_mut(a.id) {
            *x += 1;
        }
    }

    fn step_core(&mut self, core: usize) -> Result<bool, EmuError> {
        let mut progress = false;
        for slot in 1..self.cores[core].agents.len() {
            progress |= self.start_engine(core, slot)?;
        }
        progress |= self.step_cp(core)?;
        Ok(progress)
    }

    fn start_engine(&mut self, core: usize, slot: usize) -> Result<bool, EmuError> {
        let agent = &self.cores[core].agents[slot];
        if agent.busy.is_some() {
            return Ok(false);
        }
        let outstanding = self.machine.dma.max_outstanding.max(1) as usize;
        if agent.kind == Engine::Dma && agent.in_flight.len() >= outstanding {
            return Ok(false);
        }
        let Some(head) = agent.queue.front() else {
            return Ok(false);
        };
        let pc = head.pc;
        let program = self.program(core);
        let instr: &'a Instr = &program.code[pc as usize];
        if !self.waits_hold(core, pc, &instr.sync, &head.regs)? {
            return Ok(false);
        }
        let Some(queued) = self.cores[core].agents[slot].queue.pop_front() else {
            return Ok(false);
        };
        {
            let a = &mut self.cores[core].agents[slot];
            join(&mut a.vc, &queued.vc);
        }
        self.join_waits(core, slot, &instr.sync);
        self.tick(core, slot);
        let c = &self.cores[core];
        let ctx = ExecCtx {
            module: self.module,
            machine: self.machine,
            regs: &queued.regs,
            tile: (!c.cluster_program).then_some(c.unit),
            cluster: c.cluster,
        };
        let result: ExecResult<Effects> = match &instr.op {
            Op::Dma(op) => dma::execute(&ctx, &mut self.mem, op),
            Op::Ttu(op) => ttu::execute(&ctx, &mut self.mem, op),
            Op::Tvp(op) => tvp::execute(&ctx, &mut self.mem, op),
            Op::EngineNop(_) => Ok(Effects::default()),
            Op::Cp(_) => Err(Fault::new("a CP instruction reached an engine queue")),
        };
        let fx = result.map_err(|f| self.fault(core, pc, f))?;
        self.record_accesses(core, slot, pc, &fx)?;
        if let Op::Dma(op) = &instr.op {
            self.start_transfer(core, slot, pc, instr, op, &fx);
        } else {
            let cycles = self.engine_cycles(core, &instr.op, &fx);
            self.begin(core, slot, pc, instr, cycles, instr.sync.signal);
        }
        Ok(true)
    }

    /// Times a DMA transfer whose effects have just been applied. The
    /// engine is pipelined: it is occupied for the setup and the data
    /// (at its own rate, and no faster than the shared HBM, links and
    /// CSRAM ports allow) and starts the next descriptor while this one
    /// waits out its latency, up to `dma.max_outstanding` in flight.
    /// Transfers retire (signal) in issue order. A transfer touching bytes
    /// an in-flight one writes, or writing bytes it reads, starts only
    /// when that one retires, so the engine behaves as if it ran its
    /// queue one descriptor at a time.
    fn start_transfer(
        &mut self,
        core: usize,
        slot: usize,
        pc: u32,
        instr: &Instr,
        op: &DmaOp,
        fx: &Effects,
    ) {
        let spans = Span::of(fx);
        let agent = &self.cores[core].agents[slot];
        let start = agent
            .in_flight
            .iter()
            .filter(|f| f.spans.iter().any(|a| spans.iter().any(|b| a.conflicts(b))))
            .map(|f| f.retire)
            .fold(self.now, u64::max);
        let last_retire = agent.in_flight.back().map_or(0, |f| f.retire);
        let phases = self
            .machine
            .dma_phases(op, self.cores[core].cluster_program);
        // The shared resources carry the data from `start` on; the engine
        // is busy until its data has moved, and the transfer retires its
        // latency after starting its data, no earlier than the data ends.
        let shared_end = self
            .hbm_end(start, fx.hbm_bytes)
            .max(self.shared_fabric_end(core, fx, start));
        let data_end = (start + phases.occupancy).max(shared_end);
        let retire = (start + phases.occupancy + phases.latency)
            .max(shared_end)
            .max(last_retire);
        let vc = self.cores[core].agents[slot].vc.clone();
        self.cores[core].agents[slot].in_flight.push_back(InFlight {
            retire,
            signal: instr.sync.signal,
            vc,
            spans,
        });
        self.schedule(core, slot, retire, EventKind::Retire);
        self.begin(core, slot, pc, instr, (data_end - self.now).max(1), None);
    }

    /// When `bytes` of HBM traffic starting no earlier than `start` end:
    /// HBM is one chip-wide resource, transfers occupy it back to back.
    fn hbm_end(&mut self, start: u64, bytes: u64) -> u64 {
        if bytes == 0 {
            return start;
        }
        let rate = u64::from(self.machine.hbm.bytes_per_cycle.max(1));
        self.hbm_free = start.max(self.hbm_free) + bytes.div_ceil(rate);
        self.hbm_free
    }

    fn record_accesses(
        &mut self,
        core: usize,
        slot: usize,
        pc: u32,
        fx: &Effects,
    ) -> Result<(), EmuError> {
        self.stats.hbm_bytes += fx.hbm_bytes;
        for touch in &fx.hbm_touched {
            match touch {
                HbmTouch::Set { set, write } => {
                    if let Region::Hbm(buffer) = set.region {
                        set.for_each_byte_run(|lo, hi| self.footprint.mark(buffer, lo, hi, *write));
                    }
                }
                &HbmTouch::Range {
                    buffer,
                    lo,
                    hi,
                    write,
                } => self.footprint.mark(buffer, lo, hi, write),
            }
        }
        if let Some(p) = fx.precision {
            *self.macs.entry(p).or_default() += fx.macs;
        }
        if !self.opts.detect_races {
            return Ok(());
        }
        let c = &self.cores[core];
        let me = InstrRef {
            cluster_program: c.cluster_program,
            pc,
            unit: c.unit,
        };
        let agent = &mut self.cores[core].agents[slot];
        let checked = self.races.access(agent.id, &mut agent.vc, &fx.accesses, me);
        checked.map_err(|race| EmuError::Race {
            first: self.describe(race.first),
            second: self.describe(race.second),
            region: race.region.to_string(),
        })
    }

    /// The modelled duration of an engine instruction (documented in docs/emulator.md).
    fn engine_cycles(&mut self, core: usize, op: &Op, fx: &Effects) -> u64 {
        let m = self.machine;
        let base = match op {
            Op::Dma(d) => {
                let phases = m.dma_phases(d, self.cores[core].cluster_program);
                phases.occupancy + phases.latency
            }
            Op::Ttu(TtuOp::Matmul(mm)) => m.matmul_cycles(mm),
            Op::Ttu(TtuOp::Drain(d)) => m.drain_cycles(d, self.module),
            Op::Tvp(t) => m.tvp_cycles(t, self.module),
            Op::Cp(c) => m.cp_cycles(c),
            Op::EngineNop(_) => 1,
        }
        .max(1);
        let end = (self.now + base).max(self.hbm_end(self.now, fx.hbm_bytes));
        end - self.now
    }

    /// When a DMA transfer's traffic over the shared per-cluster resources
    /// ends: each cluster's NoC link carries the bytes entering or leaving
    /// the cluster (HBM traffic of its tiles, remote TSRAM/CSRAM), each
    /// cluster's CSRAM ports carry the bytes read or written there.
    /// Transfers occupy a resource back to back, like HBM, from `start` on.
    fn shared_fabric_end(&mut self, core: usize, fx: &Effects, start: u64) -> u64 {
        let m = self.machine;
        let own = self.cores[core].cluster as usize;
        let clusters = self.link_free.len();
        let mut link_bytes = vec![0u64; clusters];
        let mut csram_bytes = vec![0u64; clusters];
        // HBM bytes are counted exactly by the transfer; the other regions'
        // byte runs bound what moved (a strided run counts its span).
        link_bytes[own] += fx.hbm_bytes;
        for access in &fx.accesses {
            let bytes: u64 = access
                .ranges
                .iter()
                .map(|&(lo, hi)| hi.saturating_sub(lo))
                .sum();
            match access.region {
                Region::Hbm(_) => {}
                Region::Csram(c) => {
                    let c = c as usize % clusters.max(1);
                    csram_bytes[c] += bytes;
                    if c != own {
                        link_bytes[c] += bytes;
                        link_bytes[own] += bytes;
                    }
                }
                Region::Tsram(t) | Region::Acc(t) => {
                    let c = m.cluster_of(t) as usize % clusters.max(1);
                    if c != own {
                        link_bytes[c] += bytes;
                        link_bytes[own] += bytes;
                    }
                }
            }
        }
        let mut end = start;
        let link_rate = u64::from(m.noc.cluster_link_bytes_per_cycle.max(1));
        let csram_rate = u64::from(m.cluster.csram_bytes_per_cycle.max(1));
        for c in 0..clusters {
            if link_bytes[c] > 0 {
                let from = start.max(self.link_free[c]);
                self.link_free[c] = from + link_bytes[c].div_ceil(link_rate);
                end = end.max(self.link_free[c]);
            }
            if csram_bytes[c] > 0 {
                let from = start.max(self.csram_free[c]);
                self.csram_free[c] = from + csram_bytes[c].div_ceil(csram_rate);
                end = end.max(self.csram_free[c]);
            }
        }
        end
    }

    /// Marks `(core, slot)` busy for `cycles`, `signal` firing when it
    /// frees, and records stats and trace. A CP instruction without a
    /// signal is followed by the register-only instructions after it
    /// ([`Sim::run_ahead`]); the CP frees after the last of them.
    fn begin(
        &mut self,
        core: usize,
        slot: usize,
        pc: u32,
        instr: &Instr,
        cycles: u64,
        signal: Option<SemRef>,
    ) {
        self.cores[core].agents[slot].busy = Some(Busy { signal });
        self.count_busy(core, slot, pc, cycles);
        if self.opts.trace {
            let c = &self.cores[core];
            let loc = self.program_of(c.cluster_program).loc_of(pc);
            let line = self.line_of_loc(loc);
            self.trace.push(TraceEvent {
                name: instr.op.mnemonic(),
                tid: (core * 4 + slot_of(c.agents[slot].kind)) as u32,
                start: self.now,
                dur: cycles,
                line,
            });
        }
        let mut free = self.now + cycles;
        if slot == 0 && signal.is_none() {
            free = self.run_ahead(core, free);
        }
        self.schedule(core, slot, free, EventKind::Free);
    }

    /// Counts an instruction and its busy cycles on `(core, slot)`.
    fn count_busy(&mut self, core: usize, slot: usize, pc: u32, cycles: u64) {
        self.stats.instructions += 1;
        let c = &self.cores[core];
        let kind = c.agents[slot].kind;
        let by_kind = &mut self.busy_by_kind[busy_kind(c.cluster_program, kind)];
        *by_kind = Some(by_kind.unwrap_or(0) + cycles);
        // Only instructions of the program run, so `pc` is in range.
        let side = usize::from(kind != Engine::Cp);
        let by_pc = &mut self.busy_by_pc[usize::from(c.cluster_program)][pc as usize][side];
        *by_pc = Some(by_pc.unwrap_or(0) + cycles);
    }

    /// Executes, ahead of time, the CP instructions that would start one
    /// after the other from cycle `at` touching nothing but the CP's own
    /// registers and pc (no waits, no signal, no memory, no engine): what
    /// they do and when cannot depend on, or be seen by, anything else
    /// before the CP frees, so only the number of events changes — one
    /// instead of one per instruction, which made register-bound loops
    /// cost an event-loop round trip per instruction. Stops before an
    /// instruction that would start past the cycle limit (its event
    /// reports the limit as before) or that would fault (it faults at its
    /// own cycle, after whatever the other cores do first), and when
    /// tracing (trace events are recorded in visit order). Returns when
    /// the CP frees.
    fn run_ahead(&mut self, core: usize, mut at: u64) -> u64 {
        if self.opts.trace {
            return at;
        }
        let program = self.program(core);
        while at <= self.opts.max_cycles {
            let c = &self.cores[core];
            if c.instance >= c.instances.len() {
                break;
            }
            let pc = c.pc;
            let Some(instr) = program.code.get(pc as usize) else {
                break;
            };
            let Op::Cp(op) = &instr.op else {
                break;
            };
            let local = matches!(
                op,
                CpOp::Mov { .. }
                    | CpOp::Alu { .. }
                    | CpOp::Select { .. }
                    | CpOp::ReadSpecial { .. }
                    | CpOp::Arg { .. }
                    | CpOp::Jump { .. }
                    | CpOp::Branch { .. }
                    | CpOp::Loop { .. }
                    | CpOp::Nop
            );
            if !local || !instr.sync.waits.is_empty() || instr.sync.signal.is_some() {
                break;
            }
            // These ops write nothing when they fault.
            let Ok(CpStep::Done { next }) = self.exec_cp(core, pc, op) else {
                break;
            };
            self.cores[core].pc = next;
            let cycles = self.machine.cp_cycles(op).max(1);
            self.count_busy(core, 0, pc, cycles);
            at += cycles;
        }
        at
    }

    /// The source line a debug location names, for stats and traces.
    fn line_of_loc(&self, loc: Option<DebugLocId>) -> String {
        match loc.and_then(|id| self.module.debug_loc(id)) {
            None => NO_LINE.to_string(),
            Some(l) => match &l.python {
                Some(p) => format!("{}:{}", p.file, p.line),
                None => format!("{} (TTIR line {})", l.op_name, l.ttir_line),
            },
        }
    }

    /// Whether the core's engines are idle with empty queues.
    fn drained(&self, core: usize) -> bool {
        self.cores[core].agents[1..]
            .iter()
            .all(|a| a.busy.is_none() && a.queue.is_empty() && a.in_flight.is_empty())
    }

    fn step_cp(&mut self, core: usize) -> Result<bool, EmuError> {
        if self.cores[core].done || self.cores[core].agents[0].busy.is_some() {
            return Ok(false);
        }
        if self.cores[core].instance >= self.cores[core].instances.len() {
            self.cores[core].done = true;
            return Ok(true);
        }
        let pc = self.cores[core].pc;
        let program = self.program(core);
        let Some(instr) = program.code.get(pc as usize) else {
            return Err(self.fault(
                core,
                pc.saturating_sub(1),
                Fault::new("the program ran past its last instruction without `halt`"),
            ));
        };
        let engine = instr.op.engine();
        // The waits of an engine instruction are the engine's business.
        if engine == Engine::Cp
            && !self.waits_hold(core, pc, &instr.sync, &self.cores[core].regs)?
        {
            return Ok(false);
        }
        if engine != Engine::Cp {
            let slot = match self.cores[core]
                .agents
                .iter()
                .position(|a| a.kind == engine)
            {
                Some(s) => s,
                None => {
                    return Err(self.fault(
                        core,
                        pc,
                        Fault::new(format!("a cluster program has no {} engine", engine.name())),
                    ))
                }
            };
            let depth = self.queue_depth(core, engine);
            if self.cores[core].agents[slot].queue.len() >= depth {
                return Ok(false);
            }
            self.tick(core, 0);
            let c = &mut self.cores[core];
            let queued = Queued {
                pc,
                regs: Box::new(c.regs),
                vc: c.agents[0].vc.clone(),
            };
            c.agents[slot].queue.push_back(queued);
            self.cores[core].pc += 1;
            // A dispatch occupies the CP but the signal belongs to the engine.
            let cycles = u64::from(self.machine.cp.dispatch_cycles).max(1);
            self.begin(core, 0, pc, instr, cycles, None);
            return Ok(true);
        }
        let Op::Cp(op) = &instr.op else {
            return Ok(false);
        };
        // The waits hold: what the semaphores order happens before this
        // instruction, including its own memory accesses (a `ld` after a
        // `wait` on the engine that wrote the word is not a race).
        self.join_waits(core, 0, &instr.sync);
        match self.exec_cp(core, pc, op)? {
            CpStep::Blocked => Ok(false),
            CpStep::Done { next } => {
                self.cores[core].pc = next;
                let cycles = self.machine.cp_cycles(op).max(1);
                self.begin(core, 0, pc, instr, cycles, instr.sync.signal);
                Ok(true)
            }
        }
    }

    fn queue_depth(&self, core: usize, engine: Engine) -> usize {
        let t = &self.machine.tile;
        let d = if self.cores[core].cluster_program {
            self.machine.cluster.dma_queue_depth
        } else {
            match engine {
                Engine::Dma => t.dma_queue_depth,
                Engine::Ttu => t.ttu_queue_depth,
                _ => t.tvp_queue_depth,
            }
        };
        d.max(1) as usize
    }

    fn reg(&self, core: usize, pc: u32, r: maiac_backend::isa::Reg) -> Result<usize, EmuError> {
        if r.is_valid() {
            Ok(r.index())
        } else {
            Err(self.fault(
                core,
                pc,
                Fault::new(format!(
                    "register {r} does not exist (r0..r{})",
                    NUM_REGS - 1
                )),
            ))
        }
    }

    /// Executes one CP instruction's effect; `Blocked` leaves it for later.
    fn exec_cp(&mut self, core: usize, pc: u32, op: &CpOp) -> Result<CpStep, EmuError> {
        let next = pc + 1;
        // Borrowed, not copied (512 bytes per instruction): each arm reads
        // what it needs before `set` writes.
        let regs = &self.cores[core].regs;
        let set = |sim: &mut Sim<'_>, r, v| -> Result<CpStep, EmuError> {
            let i = sim.reg(core, pc, r)?;
            sim.cores[core].regs[i] = v;
            Ok(CpStep::Done { next })
        };
        match op {
            CpOp::Mov { dst, src } => {
                let v = src.eval(regs);
                set(self, *dst, v)
            }
            CpOp::Alu { op, dst, a, b } => {
                let a = regs[self.reg(core, pc, *a)?];
                let v = op.eval(a, b.eval(regs));
                set(self, *dst, v)
            }
            CpOp::Select { dst, cond, a, b } => {
                let c = regs[self.reg(core, pc, *cond)?];
                let v = if c != 0 { a.eval(regs) } else { b.eval(regs) };
                set(self, *dst, v)
            }
            CpOp::ReadSpecial { dst, special } => {
                let v = self.special(core, *special);
                set(self, *dst, v)
            }
            CpOp::Arg { dst, index } => match self.args.get(usize::from(*index)) {
                Some(&v) => set(self, *dst, v),
                None => Err(self.fault(
                    core,
                    pc,
                    Fault::new(format!(
                        "kernel argument {index} does not exist ({} given)",
                        self.args.len()
                    )),
                )),
            },
            CpOp::Load {
                dst,
                addr,
                width,
                signed,
            } => {
                let (region, lo, hi) = self.scalar_place(core, pc, addr, width.bytes())?;
                let raw = read_bits(self.mem.bytes(region), lo as u64 * 8, width.bytes() * 8);
                let bits = width.bytes() * 8;
                let v = if *signed && bits < 64 {
                    maiac_ir::semantics::int::sign_extend(raw, bits) as u64
                } else {
                    raw
                };
                self.cp_access(core, pc, region, lo, hi, false)?;
                set(self, *dst, v)
            }
            CpOp::Store { src, addr, width } => {
                let v = regs[self.reg(core, pc, *src)?];
                let (region, lo, hi) = self.scalar_place(core, pc, addr, width.bytes())?;
                write_bits(
                    self.mem.bytes_mut(region),
                    lo as u64 * 8,
                    width.bytes() * 8,
                    v,
                );
                self.cp_access(core, pc, region, lo, hi, true)?;
                Ok(CpStep::Done { next })
            }
            CpOp::Jump { target } => Ok(CpStep::Done { next: target.0 }),
            CpOp::Branch {
                cond,
                if_zero,
                target,
            } => {
                let c = regs[self.reg(core, pc, *cond)?];
                Ok(CpStep::Done {
                    next: if (c == 0) == *if_zero { target.0 } else { next },
                })
            }
            CpOp::Loop { counter, target } => {
                let i = self.reg(core, pc, *counter)?;
                let v = regs[i].wrapping_sub(1);
                self.cores[core].regs[i] = v;
                Ok(CpStep::Done {
                    next: if (v as i64) > 0 { target.0 } else { next },
                })
            }
            CpOp::Nop => Ok(CpStep::Done { next }),
            CpOp::Trap { code } => Err(EmuError::Trap {
                unit: self.unit_name(core),
                location: self
                    .module
                    .describe_pc(self.cores[core].cluster_program, pc),
                code: *code,
            }),
            CpOp::Fence => {
                if !self.drained(core) {
                    return Ok(CpStep::Blocked);
                }
                self.join_engines(core);
                Ok(CpStep::Done { next })
            }
            CpOp::Halt => {
                if !self.drained(core) {
                    return Ok(CpStep::Blocked);
                }
                self.join_engines(core);
                self.end_instance(core);
                Ok(CpStep::Done { next: 0 })
            }
            CpOp::Barrier { scope } => {
                if !self.drained(core) {
                    return Ok(CpStep::Blocked);
                }
                self.join_engines(core);
                self.barrier(core, *scope)
            }
        }
    }

    fn barrier(&mut self, core: usize, scope: BarrierScope) -> Result<CpStep, EmuError> {
        let next = self.cores[core].pc + 1;
        if self.cores[core].cluster_program {
            // A cluster program only orders its own DMA at a barrier.
            return Ok(CpStep::Done { next });
        }
        if !self.cores[core].waiting_at_barrier {
            self.cores[core].waiting_at_barrier = true;
            self.cores[core].barriers_arrived += 1;
            // The tiles already waiting at a barrier may now pass it.
            for i in 0..self.cores.len() {
                if i != core && self.cores[i].waiting_at_barrier {
                    self.ready.mark(i);
                }
            }
        }
        let mine = self.cores[core].barriers_arrived;
        let cluster = self.cores[core].cluster;
        let participants: Vec<usize> = (0..self.cores.len())
            .filter(|&i| {
                let c = &self.cores[i];
                !c.cluster_program
                    && !c.instances.is_empty()
                    && (scope == BarrierScope::Chip || c.cluster == cluster)
            })
            .collect();
        if participants
            .iter()
            .any(|&i| self.cores[i].barriers_arrived < mine)
        {
            return Ok(CpStep::Blocked);
        }
        if self.n_agents > 0 {
            let mut vc = self.cores[core].agents[0].vc.clone();
            for &i in &participants {
                join(&mut vc, &self.cores[i].agents[0].vc);
            }
            self.cores[core].agents[0].vc = vc;
        }
        self.cores[core].waiting_at_barrier = false;
        Ok(CpStep::Done { next })
    }

    fn join_engines(&mut self, core: usize) {
        if self.n_agents == 0 {
            return;
        }
        let c = &mut self.cores[core];
        let (cp, engines) = c.agents.split_at_mut(1);
        for e in engines {
            join(&mut cp[0].vc, &e.vc);
        }
    }

    fn end_instance(&mut self, core: usize) {
        let c = &mut self.cores[core];
        c.instance += 1;
        c.regs = [0; NUM_REGS];
        c.sems.iter_mut().for_each(|s| *s = 0);
        if !c.cluster_program && self.opts.detect_races {
            let t = c.unit;
            self.races.forget(Region::Acc(t));
        }
    }

    fn special(&self, core: usize, s: Special) -> u64 {
        let c = &self.cores[core];
        let pid = c.instances.get(c.instance).copied().unwrap_or([0; 3]);
        match s {
            Special::ProgramId(d) => u64::from(pid[usize::from(d.min(2))]),
            Special::NumPrograms(d) => u64::from(self.grid[usize::from(d.min(2))]),
            Special::TileId => u64::from(if c.cluster_program { 0 } else { c.unit }),
            Special::ClusterId => u64::from(c.cluster),
            Special::LocalTileId => u64::from(if c.cluster_program {
                0
            } else {
                c.unit % self.machine.tiles_per_cluster.max(1)
            }),
            Special::Instance => c.instance as u64,
        }
    }

    fn scalar_place(
        &self,
        core: usize,
        pc: u32,
        addr: &maiac_backend::isa::Address,
        bytes: u32,
    ) -> Result<(Region, usize, usize), EmuError> {
        if !matches!(addr.space, Space::Tsram | Space::Csram) {
            return Err(self.fault(
                core,
                pc,
                Fault::new(format!("the CP cannot load or store {}", addr.space)),
            ));
        }
        let c = &self.cores[core];
        let ctx = ExecCtx {
            module: self.module,
            machine: self.machine,
            regs: &c.regs,
            tile: (!c.cluster_program).then_some(c.unit),
            cluster: c.cluster,
        };
        let place = ctx
            .place(&self.mem, addr)
            .map_err(|f| self.fault(core, pc, f))?;
        let (lo, hi) = self
            .mem
            .check_span(place, 0, i128::from(bytes))
            .map_err(|f| self.fault(core, pc, f))?;
        Ok((place.region, lo, hi))
    }

    fn cp_access(
        &mut self,
        core: usize,
        pc: u32,
        region: Region,
        lo: usize,
        hi: usize,
        write: bool,
    ) -> Result<(), EmuError> {
        let mut fx = Effects::default();
        fx.range(region, lo, hi, write);
        self.tick(core, 0);
        self.record_accesses(core, 0, pc, &fx)
    }
}

/// What a CP instruction did.
enum CpStep {
    Blocked,
    Done { next: u32 },
}

impl Core {
    fn new(
        unit: u32,
        cluster: u32,
        cluster_program: bool,
        instances: Vec<[u32; 3]>,
        kinds: &[Engine],
        sems: usize,
        next_agent: &mut usize,
    ) -> Core {
        let agents = kinds
            .iter()
            .map(|&kind| {
                let id = *next_agent;
                *next_agent += 1;
                Agent {
                    id,
                    kind,
                    queue: VecDeque::new(),
                    busy: None,
                    in_flight: VecDeque::new(),
                    vc: Vec::new(),
                }
            })
            .collect();
        Core {
            unit,
            cluster,
            cluster_program,
            done: instances.is_empty(),
            instances,
            instance: 0,
            pc: 0,
            regs: [0; NUM_REGS],
            agents,
            sems: vec![0; sems],
            sem_vcs: Vec::new(),
            barriers_arrived: 0,
            waiting_at_barrier: false,
        }
    }
}
