//! Functional, bit-exact emulator of the Maia-like machine with an event-driven cycle model.
pub mod emu;
pub mod launch;
