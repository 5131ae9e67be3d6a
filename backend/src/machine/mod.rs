//! The machine description: counts, capacities, rates and latencies of a
//! Maia-like chip, loaded from TOML.
//!
//! Structure: HBM → `clusters` (each a multi-banked CSRAM, a cluster DMA
//! engine and cluster semaphores) → `tiles_per_cluster` tiles (each a TSRAM,
//! an ACC, a TTU, a TVP, a tile DMA engine and a control processor). Every
//! rate is per cycle of the single chip clock. The built-in machines live
//! in `backend/machines/*.toml` ([`builtin`]); `docs/machine.md` says which
//! figures are published and how the others were derived.
//!
//! - [`derived`]: peak TFLOPS per precision, bandwidths, SRAM totals, the
//!   JSON summary and text rendering of `maiac machine`.
//! - [`hash`]: the stable machine hash recorded in binaries.
//! - [`check`]: machine limits applied to a module.

pub mod builtin;
pub mod check;
pub mod cost;
pub mod derived;
pub mod hash;

use serde::{Deserialize, Serialize};

pub use builtin::{
    builtin, builtin_names, describe, resolve, resolve_or_default, DEFAULT_MACHINE, MAIA200_LIKE,
    TINY,
};
pub use cost::{DmaCost, DmaPhases};
pub use derived::{Derived, PeakTflops};

use crate::isa::TtuPrecision;

/// A machine description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Name used by `--machine NAME` and recorded in binaries.
    pub name: String,
    /// One line saying what the machine is.
    #[serde(default)]
    pub description: String,
    pub clusters: u32,
    pub tiles_per_cluster: u32,
    /// Chip clock in GHz; every `*_per_cycle` figure uses it.
    pub clock_ghz: f64,
    pub cp: CpSpec,
    pub tile: TileSpec,
    pub ttu: TtuSpec,
    pub tvp: TvpSpec,
    pub cluster: ClusterSpec,
    pub dma: DmaSpec,
    pub hbm: HbmSpec,
    pub noc: NocSpec,
}

/// The control processor of a tile (and the cluster program sequencer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpSpec {
    /// Cycles of a scalar instruction (ALU, move, branch, special, arg).
    pub op_cycles: u32,
    /// Cycles to dispatch an engine instruction onto its queue.
    pub dispatch_cycles: u32,
    /// Latency of a scalar load from local TSRAM or CSRAM.
    pub load_cycles: u32,
    /// Latency of a barrier once its last participant arrives.
    pub barrier_cycles: u32,
}

/// Per-tile memories, semaphores and queues.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileSpec {
    pub tsram_bytes: u64,
    /// TSRAM read+write bandwidth shared by the tile's engines.
    pub tsram_bytes_per_cycle: u32,
    /// TTU accumulator memory (fp32/i32), not counted in the SRAM total.
    pub acc_bytes: u64,
    /// Counting semaphores per tile (`t0`..).
    pub semaphores: u32,
    /// Capacity of each engine's instruction queue.
    pub dma_queue_depth: u32,
    pub ttu_queue_depth: u32,
    pub tvp_queue_depth: u32,
}

/// Multiply-accumulates per cycle per tile, by precision class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacRates {
    pub fp4: u32,
    pub fp6: u32,
    pub fp8: u32,
    pub int8: u32,
    /// BF16 and FP16.
    pub bf16: u32,
    pub fp32: u32,
}

/// The tile tensor unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtuSpec {
    pub macs_per_cycle: MacRates,
    /// Pipeline fill + drain of one matmul.
    pub latency_cycles: u32,
    /// Accumulator elements a drain moves per cycle.
    pub drain_elements_per_cycle: u32,
}

/// The tile vector processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TvpSpec {
    /// Elements processed per cycle per issue slot.
    pub lanes: u32,
    /// Issue slots of a simple lane op (add, mul, compare, select, cast, ...).
    pub simple_op_slots: u32,
    /// Issue slots of a transcendental/iterative lane op (exp, log, div, sqrt, ...).
    pub transcendental_op_slots: u32,
    /// Pipeline latency of one instruction.
    pub latency_cycles: u32,
}

/// Per-cluster shared memory and semaphores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub csram_bytes: u64,
    pub csram_banks: u32,
    /// Aggregate CSRAM bandwidth (all banks), a shared resource.
    pub csram_bytes_per_cycle: u32,
    /// Counting semaphores per cluster (`c0`..).
    pub semaphores: u32,
    /// Capacity of the cluster DMA engine's queue.
    pub dma_queue_depth: u32,
}

/// DMA engines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DmaSpec {
    /// Peak bandwidth of a tile DMA engine.
    pub tile_bytes_per_cycle: u32,
    /// Peak bandwidth of a cluster DMA engine.
    pub cluster_bytes_per_cycle: u32,
    /// Fixed cost of starting a descriptor.
    pub setup_cycles: u32,
    /// Elements per cycle of gathers, scatters and atomics (one address each).
    pub indexed_elements_per_cycle: u32,
    /// Descriptors one DMA engine keeps in flight: a transfer's latency
    /// overlaps the setup and data of the ones after it (1: one at a time).
    /// Machine files written before the field existed get 1, the behaviour
    /// they were written for.
    #[serde(default = "one")]
    pub max_outstanding: u32,
}

fn one() -> u32 {
    1
}

/// High-bandwidth memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HbmSpec {
    pub bytes: u64,
    /// Chip-wide bandwidth, a shared resource.
    pub bytes_per_cycle: u32,
    pub latency_cycles: u32,
}

/// The network-on-chip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NocSpec {
    /// Bandwidth of each cluster's link to the NoC (each direction), a
    /// shared resource per cluster.
    pub cluster_link_bytes_per_cycle: u32,
    /// Latency of an access to CSRAM from its own cluster.
    pub csram_latency_cycles: u32,
    /// Latency of an access to another cluster's CSRAM or another tile's TSRAM.
    pub remote_latency_cycles: u32,
    /// Latency of a local TSRAM ↔ TSRAM/ACC transfer.
    pub local_latency_cycles: u32,
}

/// Why a machine cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    #[error("unknown machine `{name}`: not a built-in machine ({known}) and not a readable file")]
    Unknown { name: String, known: String },
    #[error("cannot read machine file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid machine file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("machine `{name}` is inconsistent: {message}")]
    Invalid { name: String, message: String },
}

/// The most tiles a machine may have.
pub const MAX_TILES: u64 = 1 << 16;
/// The largest SRAM unit (TSRAM, accumulators, CSRAM): 32-bit addresses.
pub const MAX_SRAM_BYTES: u64 = 1 << 32;
/// The largest HBM.
pub const MAX_HBM_BYTES: u64 = 1 << 48;
/// Tile semaphores the code generator needs (one per asynchronous engine).
pub const MIN_TILE_SEMAPHORES: u32 = 3;

impl Machine {
    /// Parses a TOML description; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Machine, MachineError> {
        let machine: Machine = toml::from_str(text).map_err(|e| MachineError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        machine.validate()?;
        Ok(machine)
    }

    /// The canonical TOML text of the description.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Checks that every figure is usable (positive counts and rates).
    pub fn validate(&self) -> Result<(), MachineError> {
        let invalid = |message: String| MachineError::Invalid {
            name: self.name.clone(),
            message,
        };
        if self.name.trim().is_empty() {
            return Err(invalid("the name is empty".into()));
        }
        if !(self.clock_ghz.is_finite() && self.clock_ghz > 0.0) {
            return Err(invalid(format!(
                "clock_ghz must be positive, got {}",
                self.clock_ghz
            )));
        }
        let positive = [
            ("clusters", u64::from(self.clusters)),
            ("tiles_per_cluster", u64::from(self.tiles_per_cluster)),
            ("tile.tsram_bytes", self.tile.tsram_bytes),
            (
                "tile.tsram_bytes_per_cycle",
                u64::from(self.tile.tsram_bytes_per_cycle),
            ),
            ("tile.acc_bytes", self.tile.acc_bytes),
            ("tile.semaphores", u64::from(self.tile.semaphores)),
            ("tile.dma_queue_depth", u64::from(self.tile.dma_queue_depth)),
            ("dma.max_outstanding", u64::from(self.dma.max_outstanding)),
            ("tile.ttu_queue_depth", u64::from(self.tile.ttu_queue_depth)),
            ("tile.tvp_queue_depth", u64::from(self.tile.tvp_queue_depth)),
            (
                "ttu.macs_per_cycle.fp4",
                u64::from(self.ttu.macs_per_cycle.fp4),
            ),
            (
                "ttu.macs_per_cycle.fp6",
                u64::from(self.ttu.macs_per_cycle.fp6),
            ),
            (
                "ttu.macs_per_cycle.fp8",
                u64::from(self.ttu.macs_per_cycle.fp8),
            ),
            (
                "ttu.macs_per_cycle.int8",
                u64::from(self.ttu.macs_per_cycle.int8),
            ),
            (
                "ttu.macs_per_cycle.bf16",
                u64::from(self.ttu.macs_per_cycle.bf16),
            ),
            (
                "ttu.macs_per_cycle.fp32",
                u64::from(self.ttu.macs_per_cycle.fp32),
            ),
            (
                "ttu.drain_elements_per_cycle",
                u64::from(self.ttu.drain_elements_per_cycle),
            ),
            ("tvp.lanes", u64::from(self.tvp.lanes)),
            ("tvp.simple_op_slots", u64::from(self.tvp.simple_op_slots)),
            (
                "tvp.transcendental_op_slots",
                u64::from(self.tvp.transcendental_op_slots),
            ),
            ("cluster.csram_bytes", self.cluster.csram_bytes),
            ("cluster.csram_banks", u64::from(self.cluster.csram_banks)),
            (
                "cluster.csram_bytes_per_cycle",
                u64::from(self.cluster.csram_bytes_per_cycle),
            ),
            ("cluster.semaphores", u64::from(self.cluster.semaphores)),
            (
                "cluster.dma_queue_depth",
                u64::from(self.cluster.dma_queue_depth),
            ),
            (
                "dma.tile_bytes_per_cycle",
                u64::from(self.dma.tile_bytes_per_cycle),
            ),
            (
                "dma.cluster_bytes_per_cycle",
                u64::from(self.dma.cluster_bytes_per_cycle),
            ),
            (
                "dma.indexed_elements_per_cycle",
                u64::from(self.dma.indexed_elements_per_cycle),
            ),
            ("hbm.bytes", self.hbm.bytes),
            ("hbm.bytes_per_cycle", u64::from(self.hbm.bytes_per_cycle)),
            (
                "noc.cluster_link_bytes_per_cycle",
                u64::from(self.noc.cluster_link_bytes_per_cycle),
            ),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(invalid(format!("{field} must be positive")));
            }
        }
        // Upper bounds keep every derived figure (tile ids, SRAM addresses,
        // the emulator's per-tile state) in range: past them a machine
        // file made arithmetic overflow or the emulator abort allocating.
        let tiles = u64::from(self.clusters) * u64::from(self.tiles_per_cluster);
        if tiles > MAX_TILES {
            return Err(invalid(format!(
                "{} clusters x {} tiles is {tiles} tiles; at most {MAX_TILES} are supported",
                self.clusters, self.tiles_per_cluster
            )));
        }
        for (field, value) in [
            ("tile.tsram_bytes", self.tile.tsram_bytes),
            ("tile.acc_bytes", self.tile.acc_bytes),
            ("cluster.csram_bytes", self.cluster.csram_bytes),
        ] {
            if value > MAX_SRAM_BYTES {
                return Err(invalid(format!(
                    "{field} is {value}; an SRAM holds at most {MAX_SRAM_BYTES} bytes (4 GiB)"
                )));
            }
        }
        if self.hbm.bytes > MAX_HBM_BYTES {
            return Err(invalid(format!(
                "hbm.bytes is {}; at most {MAX_HBM_BYTES} (2^48) are supported",
                self.hbm.bytes
            )));
        }
        // Each asynchronous engine (DMA, TTU, TVP) signals its own tile
        // semaphore; the code generator relies on having all three.
        if self.tile.semaphores < MIN_TILE_SEMAPHORES {
            return Err(invalid(format!(
                "tile.semaphores is {}; a tile needs at least {MIN_TILE_SEMAPHORES} (one per DMA, TTU and TVP engine)",
                self.tile.semaphores
            )));
        }
        if self.tile.semaphores > u32::from(u16::MAX)
            || self.cluster.semaphores > u32::from(u16::MAX)
        {
            return Err(invalid(
                "at most 65535 semaphores per tile or cluster".into(),
            ));
        }
        Ok(())
    }

    /// Total number of tiles.
    pub fn num_tiles(&self) -> u32 {
        self.clusters * self.tiles_per_cluster
    }

    /// The cluster of global tile `tile`.
    pub fn cluster_of(&self, tile: u32) -> u32 {
        tile / self.tiles_per_cluster
    }

    /// TTU multiply-accumulates per cycle per tile for a precision class.
    pub fn macs_per_cycle(&self, precision: TtuPrecision) -> u32 {
        let r = &self.ttu.macs_per_cycle;
        match precision {
            TtuPrecision::Fp4 => r.fp4,
            TtuPrecision::Fp6 => r.fp6,
            TtuPrecision::Fp8 => r.fp8,
            TtuPrecision::Int8 => r.int8,
            TtuPrecision::Bf16 => r.bf16,
            TtuPrecision::Fp32 => r.fp32,
        }
    }

    /// Seconds per cycle.
    pub fn seconds_per_cycle(&self) -> f64 {
        1.0 / (self.clock_ghz * 1e9)
    }

    /// A reference to this machine for a module header.
    pub fn reference(&self) -> crate::isa::MachineRef {
        crate::isa::MachineRef {
            name: self.name.clone(),
            hash: self.hash(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_fields_and_zero_counts() {
        let text = builtin("tiny").unwrap().to_toml();
        let with_typo = text.replacen("clusters =", "clusterz =", 1);
        assert!(matches!(
            Machine::from_toml(&with_typo, "x.toml"),
            Err(MachineError::Parse { .. })
        ));
        let zero = text.replacen("clusters = 2", "clusters = 0", 1);
        let err = Machine::from_toml(&zero, "x.toml").unwrap_err();
        assert!(
            err.to_string().contains("clusters must be positive"),
            "{err}"
        );
    }

    #[test]
    fn canonical_toml_round_trips() {
        for name in builtin_names() {
            let m = builtin(name).unwrap();
            assert_eq!(Machine::from_toml(&m.to_toml(), name).unwrap(), m);
        }
    }
}
