//! The functional emulator and its cycle model (see `docs/emulator.md`).

pub mod context;
pub mod dma;
pub mod error;
pub mod memory;
pub mod strided;
pub mod ttu;
pub mod tvp;

pub use error::EmuError;
