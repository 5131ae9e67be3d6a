//! The Maia-like instruction set: the data types the compiler emits, the
//! binary encodes, the assembler prints and the emulator executes.
//!
//! A tile has a control processor ([`CpOp`]) that runs the tile program and
//! dispatches instructions to three asynchronous in-order engines: the tile
//! DMA ([`DmaOp`]), the tensor unit ([`TtuOp`]) and the vector unit
//! ([`TvpOp`]). Engines are ordered only by counting semaphores ([`Sync`]).
//! A cluster runs an optional cluster program whose DMA instructions go to
//! the cluster DMA engine. `docs/isa.md` is the full reference, with the cost
//! formula of every instruction.
//!
//! Map of the module:
//! - [`dtype`]: element types; [`operand`]: registers and `reg + imm`
//!   operands; [`address`]: memory spaces and addresses; [`view`]: tensor
//!   views; [`sync`]: semaphores and barriers.
//! - [`lane`]: lane ops and THE scalar semantics of each (shared with the
//!   reference interpreter through `maiac_ir::semantics`); [`micro`]:
//!   micro-programs of lane ops; [`mx`]: MX formats.
//! - [`control`], [`dma`], [`ttu`], [`tvp`]: the instructions of each
//!   engine; [`instr`]: an instruction = op + sync.
//! - [`program`]: programs, the module a binary holds; [`dispatch`]: which
//!   program instances each tile runs; [`verify`]: well-formedness checks.

pub mod address;
pub mod control;
pub mod dispatch;
pub mod dma;
pub mod dtype;
pub mod instr;
pub mod lane;
pub mod micro;
pub mod mx;
pub mod operand;
pub mod program;
pub mod sync;
pub mod ttu;
pub mod tvp;
pub mod verify;
pub mod view;

pub use address::{Address, Space, Unit, UnitSet};
pub use control::{AluOp, CpOp, Label, MemWidth};
pub use dispatch::{Dispatch, DispatchError};
pub use dma::{Atomic, AtomicKind, DmaDim, DmaOp, Gather, Scatter, StridedCopy};
pub use dtype::DType;
pub use instr::{Engine, Instr, Op};
pub use lane::LaneOp;
pub use micro::{LaneInstr, LaneSrc, Lanes, MicroId, MicroProgram};
pub use mx::{MxFormat, MX_BLOCK};
pub use operand::{Operand, Reg, Special, NUM_REGS};
pub use program::{
    ArgDecl, ArgKind, Constant, DebugLoc, DebugLocId, LineEntry, MachineRef, Module, Program, PyLoc,
};
pub use sync::{BarrierScope, SemRef, SemScope, SemWait, Sync, MAX_WAITS};
pub use ttu::{Drain, Epilogue, MatOperand, Matmul, ScaleOperand, TtuOp, TtuPrecision};
pub use tvp::{
    ActivationReduce, Histogram, Iota, Map, MapInput, MxDequantize, MxQuantize, Reduce, Scan, TvpOp,
};
pub use verify::VerifyError;
pub use view::{View, MAX_RANK};
