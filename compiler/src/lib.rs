//! maiac: the TTIR → Maia-like compiler pipeline and the reference interpreter.
//!
//! Pipeline (see docs/pipeline.md): frontend (`maiac_ir` parser + verifier) →
//! [`pass`]es over TTIR (cleanup) → access analysis → egg fusion and tiling →
//! scheduling → codegen to the `maiac_backend` ISA. The reference
//! interpreter executes TTIR directly and is the golden model.

pub mod access;
pub mod cli;
pub mod codegen;
pub mod driver;
pub mod fuse;
pub mod interp;
pub mod lower;
pub mod pass;
pub mod passes;
pub mod quantize;
pub mod run;
pub mod sched;
pub mod tile;
