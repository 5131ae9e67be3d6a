//! The public entry point: run a module on a machine with a bound launch.

use maiac_backend::isa::{Module, Space};
use maiac_backend::machine::Machine;

use crate::launch::BoundLaunch;

use super::error::EmuError;
use super::memory::{units_of, Memory};
use super::sched::{Sim, SimOptions};
use super::stats::{render_trace, Stats};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Check every pair of unordered accesses (vector clocks); costs time and memory.
    pub detect_races: bool,
    /// Produce a Chrome trace ([`RunOutcome::trace`]).
    pub trace: bool,
    /// Stop with an error when the model passes this many cycles.
    pub max_cycles: u64,
}

/// The default [`RunOptions::max_cycles`]: 2^24 cycles (6.9 ms of
/// maia200-like), over 30 times the longest fixture kernel — room for
/// persistent kernels that loop over large inputs on few programs — and
/// reached by a register-bound loop that never ends in about 0.3 s of
/// emulation on two programs and 16 s with all 128 tiles of maia200-like
/// spinning (docs/performance.md); kernels that move data take longer.
pub const DEFAULT_MAX_CYCLES: u64 = 1 << 24;

/// The most program instances one emulated launch runs: the emulator lists
/// every tile's program ids up front (12 bytes each), and a launch this
/// large would take hours of emulation anyway.
pub const MAX_INSTANCES: u64 = 1 << 26;

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            detect_races: true,
            trace: false,
            max_cycles: DEFAULT_MAX_CYCLES,
        }
    }
}

/// The result of a launch.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The final bytes of every HBM buffer, in buffer order (pass to
    /// [`crate::launch::write_outputs`]).
    pub buffers: Vec<Vec<u8>>,
    pub stats: Stats,
    /// Chrome trace-event JSON when [`RunOptions::trace`] was set.
    pub trace: Option<String>,
}

/// Runs `module` on `machine` with the launch's grid, arguments and buffers.
pub fn run(
    module: &Module,
    machine: &Machine,
    launch: &BoundLaunch,
    opts: &RunOptions,
) -> Result<RunOutcome, EmuError> {
    let args: Vec<u64> = (0..launch.args.len()).map(|i| launch.arg_bits(i)).collect();
    run_raw(
        module,
        machine,
        launch.grid.dims(),
        &args,
        launch.initial_memory(),
        opts,
    )
}

/// Runs with explicit argument bits (pointers are buffer addresses,
/// `crate::launch::buffer_base`) and initial buffer bytes.
pub fn run_raw(
    module: &Module,
    machine: &Machine,
    grid: [u32; 3],
    args: &[u64],
    buffers: Vec<Vec<u8>>,
    opts: &RunOptions,
) -> Result<RunOutcome, EmuError> {
    module
        .verify()
        .map_err(|e| EmuError::Setup(e.to_string()))?;
    // `arg` gives integer scalars sign-extended to 64 bits (docs/isa.md);
    // the launch passes raw bits at the parameter's width.
    let args: Vec<u64> = args
        .iter()
        .enumerate()
        .map(|(i, &bits)| match module.args.get(i).map(|a| a.kind) {
            Some(maiac_backend::isa::ArgKind::Scalar { dtype }) => match dtype.int_width() {
                Some(1) => bits & 1,
                Some(w) if w < 64 => (((bits << (64 - w)) as i64) >> (64 - w)) as u64,
                _ => bits,
            },
            _ => bits,
        })
        .collect();
    let args = &args[..];
    machine.check_compatible(module).map_err(EmuError::Setup)?;
    machine
        .check_module(module)
        .map_err(|e| EmuError::Setup(e.to_string()))?;
    if args.len() != module.args.len() {
        return Err(EmuError::Setup(format!(
            "the kernel takes {} arguments but the launch gives {}",
            module.args.len(),
            args.len()
        )));
    }
    let mut mem = Memory::new(machine, buffers);
    load_constants(module, machine, &mut mem)?;
    let sim_opts = SimOptions {
        detect_races: opts.detect_races,
        trace: opts.trace,
        max_cycles: opts.max_cycles,
    };
    let mut sim = Sim::new(module, machine, grid, args, mem, sim_opts)?;
    sim.run()?;
    let trace = opts
        .trace
        .then(|| render_trace(machine, &sim.threads, &sim.trace));
    Ok(RunOutcome {
        buffers: std::mem::take(&mut sim.mem.hbm),
        stats: sim.stats.clone(),
        trace,
    })
}

fn load_constants(module: &Module, machine: &Machine, mem: &mut Memory) -> Result<(), EmuError> {
    for (i, c) in module.constants.iter().enumerate() {
        if !matches!(c.space, Space::Tsram | Space::Csram) {
            return Err(EmuError::Setup(format!(
                "constant {i} targets {}, not TSRAM or CSRAM",
                c.space
            )));
        }
        for unit in units_of(&c.units, c.space, machine, 0) {
            let place = mem
                .place(c.space, unit, c.offset)
                .map_err(|f| EmuError::Setup(format!("constant {i}: {}", f.0)))?;
            let (lo, hi) = mem
                .check_span(place, 0, c.bytes.len() as i128)
                .map_err(|f| EmuError::Setup(format!("constant {i}: {}", f.0)))?;
            mem.bytes_mut(place.region)[lo..hi].copy_from_slice(&c.bytes);
        }
    }
    Ok(())
}
