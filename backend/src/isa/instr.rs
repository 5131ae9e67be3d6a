//! Instructions: an operation for one engine plus its synchronisation.

use super::control::CpOp;
use super::dma::DmaOp;
use super::sync::Sync;
use super::ttu::TtuOp;
use super::tvp::TvpOp;

/// The engine that executes an instruction.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// The control processor itself.
    Cp,
    /// The tile DMA engine (in a cluster program: the cluster DMA engine).
    Dma,
    Ttu,
    Tvp,
}

impl Engine {
    pub const ALL: [Engine; 4] = [Engine::Cp, Engine::Dma, Engine::Ttu, Engine::Tvp];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Cp => "cp",
            Engine::Dma => "dma",
            Engine::Ttu => "ttu",
            Engine::Tvp => "tvp",
        }
    }
}

/// The operation of an instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Cp(CpOp),
    Dma(DmaOp),
    Ttu(TtuOp),
    Tvp(TvpOp),
    /// An asynchronous engine's no-op (`dma.nop`, `ttu.nop`, `tvp.nop`):
    /// it takes a queue slot, honours its waits and signals on completion
    /// without touching memory. The compiler pads the shorter arm of a
    /// branch with these so every path issues the same instruction count
    /// per engine (semaphore waits are relative to issue counters).
    EngineNop(Engine),
}

impl Op {
    pub fn engine(&self) -> Engine {
        match self {
            Op::Cp(_) => Engine::Cp,
            Op::Dma(_) => Engine::Dma,
            Op::Ttu(_) => Engine::Ttu,
            Op::Tvp(_) => Engine::Tvp,
            Op::EngineNop(e) => *e,
        }
    }

    /// The assembly mnemonic.
    pub fn mnemonic(&self) -> String {
        match self {
            Op::Cp(op) => op.mnemonic(),
            Op::Dma(op) => op.mnemonic().into(),
            Op::Ttu(op) => op.mnemonic().into(),
            Op::Tvp(op) => op.mnemonic().into(),
            Op::EngineNop(e) => format!("{}.nop", e.name()),
        }
    }
}

/// One instruction of a program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Instr {
    pub op: Op,
    pub sync: Sync,
}

impl Instr {
    /// An instruction without waits or signal.
    pub fn new(op: Op) -> Instr {
        Instr {
            op,
            sync: Sync::none(),
        }
    }

    /// An instruction with `sync`.
    pub fn with_sync(op: Op, sync: Sync) -> Instr {
        Instr { op, sync }
    }

    pub fn engine(&self) -> Engine {
        self.op.engine()
    }
}

impl From<CpOp> for Op {
    fn from(op: CpOp) -> Op {
        Op::Cp(op)
    }
}

impl From<DmaOp> for Op {
    fn from(op: DmaOp) -> Op {
        Op::Dma(op)
    }
}

impl From<TtuOp> for Op {
    fn from(op: TtuOp) -> Op {
        Op::Ttu(op)
    }
}

impl From<TvpOp> for Op {
    fn from(op: TvpOp) -> Op {
        Op::Tvp(op)
    }
}
