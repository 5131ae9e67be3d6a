//! Helpers shared by the emulator tests: assemble, run on a builtin machine,
//! deterministic inputs and byte conversions.

#![allow(dead_code)]

use maiac_backend::asm::assemble;
use maiac_backend::isa::Module;
use maiac_backend::machine::{builtin, Machine};
use maiac_runtime_emu::emu::{run_raw, EmuError, RunOptions, RunOutcome};
use maiac_runtime_emu::launch::buffer_base;

/// A kernel argument of a test launch.
pub enum Arg {
    Buffer(Vec<u8>),
    Scalar(u64),
}

/// Assembles `text` and retargets it to `machine` (the programs are
/// machine-independent apart from the machine reference).
pub fn module_for(text: &str, machine: &Machine) -> Module {
    let mut module = assemble(text).unwrap_or_else(|e| panic!("assembly failed: {e}"));
    module.machine = machine.reference();
    module
}

pub fn machine(name: &str) -> Machine {
    builtin(name).unwrap_or_else(|| panic!("no builtin machine {name}"))
}

/// Runs with pointer arguments bound to consecutive buffers.
pub fn launch(
    module: &Module,
    machine: &Machine,
    grid: [u32; 3],
    args: Vec<Arg>,
    opts: &RunOptions,
) -> Result<RunOutcome, EmuError> {
    let mut bits = Vec::new();
    let mut buffers = Vec::new();
    for a in args {
        match a {
            Arg::Buffer(b) => {
                bits.push(buffer_base(buffers.len()));
                buffers.push(b);
            }
            Arg::Scalar(v) => bits.push(v),
        }
    }
    run_raw(module, machine, grid, &bits, buffers, opts)
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn bytes_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
