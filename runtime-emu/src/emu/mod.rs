//! The functional emulator and its cycle model (see `docs/emulator.md`).
//!
//! [`run`] loads HBM from the launch contract, sizes SRAM from the
//! [`Machine`](maiac_backend::machine::Machine), and simulates every tile's
//! control processor and engines ([`sched`]), executing each engine
//! instruction's semantics on whole views ([`dma`], [`ttu`], [`tvp`]) and
//! checking capacities, bounds and races.

pub mod agenda;
pub mod context;
pub mod decode;
pub mod dma;
pub mod error;
pub mod footprint;
pub mod gemm;
pub mod memory;
pub mod race;
pub mod ready;
pub mod run;
pub mod sched;
pub mod scratch;
pub mod sram;
pub mod stats;
pub mod strided;
pub mod ttu;
pub mod tvp;

pub use error::EmuError;
pub use run::{run, run_raw, RunOptions, RunOutcome, DEFAULT_MAX_CYCLES};
pub use stats::Stats;
