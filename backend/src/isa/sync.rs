//! Synchronisation: counting semaphores and barriers.
//!
//! Each tile has `machine.tile.semaphores` counting semaphores (`t0`, `t1`,
//! ...) and each cluster `machine.cluster.semaphores` (`c0`, ...) that every
//! tile of the cluster and the cluster program can wait on and signal.
//! Semaphores start at zero at the start of every program instance (tile
//! semaphores) or of the launch (cluster semaphores) and only count up.
//!
//! Every instruction carries a [`Sync`]: its waits are checked when the
//! instruction is *at the head of its engine's queue* (for a control
//! processor instruction: before it executes) — the instruction starts only
//! once every `sem ≥ value` holds; its signal adds one to a semaphore when
//! the instruction *completes* (all of its memory effects are visible).
//!
//! Each engine runs its queue in order, one instruction at a time: an
//! instruction starts after the previous one of the same engine completed,
//! so no semaphore is needed between instructions of one engine. Between
//! engines (and between the CP's scalar loads/stores and the engines) only
//! semaphores order memory accesses.

use std::fmt;

use super::operand::Operand;

/// Whether a semaphore belongs to the tile or to its cluster.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SemScope {
    Tile,
    Cluster,
}

/// A semaphore: `t<index>` or `c<index>`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SemRef {
    pub scope: SemScope,
    pub index: u16,
}

impl SemRef {
    pub const fn tile(index: u16) -> SemRef {
        SemRef {
            scope: SemScope::Tile,
            index,
        }
    }

    pub const fn cluster(index: u16) -> SemRef {
        SemRef {
            scope: SemScope::Cluster,
            index,
        }
    }
}

impl fmt::Display for SemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.scope {
            SemScope::Tile => 't',
            SemScope::Cluster => 'c',
        };
        write!(f, "{prefix}{}", self.index)
    }
}

/// Wait until `sem ≥ value`, comparing as signed 64-bit integers (so a
/// value ≤ 0 is always satisfied). The value is evaluated at dispatch.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SemWait {
    pub sem: SemRef,
    pub value: Operand,
}

impl fmt::Display for SemWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}>={}", self.sem, self.value)
    }
}

/// The waits and the signal of one instruction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sync {
    pub waits: Vec<SemWait>,
    pub signal: Option<SemRef>,
}

impl Sync {
    /// No waits, no signal.
    pub fn none() -> Sync {
        Sync::default()
    }

    pub fn is_empty(&self) -> bool {
        self.waits.is_empty() && self.signal.is_none()
    }

    /// Adds a wait (builder style).
    pub fn wait(mut self, sem: SemRef, value: impl Into<Operand>) -> Sync {
        self.waits.push(SemWait {
            sem,
            value: value.into(),
        });
        self
    }

    /// Sets the signal (builder style).
    pub fn signal(mut self, sem: SemRef) -> Sync {
        self.signal = Some(sem);
        self
    }
}

/// Maximum number of waits one instruction may carry.
pub const MAX_WAITS: usize = 4;

/// The participants of a barrier.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BarrierScope {
    /// Every tile of the issuing tile's cluster that takes part in the launch.
    Cluster,
    /// Every tile of the chip that takes part in the launch.
    Chip,
}

impl BarrierScope {
    pub fn name(self) -> &'static str {
        match self {
            BarrierScope::Cluster => "cluster",
            BarrierScope::Chip => "chip",
        }
    }

    pub fn from_name(name: &str) -> Option<BarrierScope> {
        match name {
            "cluster" => Some(BarrierScope::Cluster),
            "chip" => Some(BarrierScope::Chip),
            _ => None,
        }
    }
}

impl fmt::Display for BarrierScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
