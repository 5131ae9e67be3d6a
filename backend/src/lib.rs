//! The Maia-like target: machine model, ISA, binary container, assembler and disassembler.
//!
//! - [`isa`]: the instruction set — the types the compiler emits and the
//!   emulator executes, with the exact lane-op semantics.
//! - [`machine`]: the machine description (TOML), built-in machines,
//!   derived figures and the machine hash.
//! - [`binary`]: the binary container (encoder and validating decoder).
//! - [`asm`]: the text assembler and disassembler.

pub mod asm;
pub mod binary;
pub mod isa;
pub mod machine;
