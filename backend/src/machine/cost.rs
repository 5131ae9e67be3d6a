//! The per-instruction cost formulas of `docs/isa.md`, in code: what an
//! instruction costs on an otherwise idle machine. Contention for the
//! shared resources (HBM, NoC links, CSRAM ports) and semaphore waits are
//! the cycle model's business; it uses [`DmaCost`] to know which resources
//! a transfer occupies.

use crate::isa::{
    Address, Atomic, CpOp, DmaOp, Drain, Gather, Matmul, MicroProgram, Module, Scatter, Space,
    TtuPrecision, TvpOp, Unit, View,
};

use super::Machine;

/// The static part of a DMA transfer's cost: `setup + latency + ceil(bytes / rate)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DmaCost {
    /// `dma.setup_cycles`.
    pub setup: u64,
    /// The largest latency on the path.
    pub latency: u64,
    /// The engine's own peak rate in bytes per cycle (before sharing).
    pub engine_bytes_per_cycle: u64,
}

impl DmaCost {
    /// Cycles to move `bytes` at `rate` bytes per cycle (the engine rate or
    /// less when a shared resource is the bottleneck).
    pub fn cycles(&self, bytes: u64, rate: u64) -> u64 {
        self.setup
            + self.latency
            + bytes.div_ceil(rate.clamp(1, self.engine_bytes_per_cycle.max(1)))
    }
}

/// The two phases of a DMA instruction on a pipelined engine: the
/// engine is `occupancy` cycles busy (setup, then the data at its rate), and
/// the transfer completes `latency` cycles after its data has moved.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DmaPhases {
    pub occupancy: u64,
    pub latency: u64,
}

impl Machine {
    /// The phases of a DMA instruction on an otherwise idle machine, on the
    /// tile DMA (`cluster_engine = false`) or the cluster DMA. Their sum is
    /// the instruction's cost alone: [`DmaCost::cycles`] for a copy,
    /// [`Machine::indexed_dma_cycles`] for a gather, scatter or atomic.
    pub fn dma_phases(&self, op: &DmaOp, cluster_engine: bool) -> DmaPhases {
        match op {
            DmaOp::Copy(c) | DmaOp::Broadcast { copy: c, .. } => {
                let cost = self.dma_cost(&c.src, &c.dst, cluster_engine);
                DmaPhases {
                    occupancy: cost.cycles(c.bytes(), cost.engine_bytes_per_cycle) - cost.latency,
                    latency: cost.latency,
                }
            }
            DmaOp::Gather(Gather { count, .. })
            | DmaOp::Scatter(Scatter { count, .. })
            | DmaOp::Atomic(Atomic { count, .. }) => {
                let latency = u64::from(self.hbm.latency_cycles);
                DmaPhases {
                    occupancy: self.indexed_dma_cycles(u64::from(*count)) - latency,
                    latency,
                }
            }
        }
    }

    /// Cycles of a control-processor instruction, excluding waits, queue
    /// stalls, fences and barrier waiting.
    pub fn cp_cycles(&self, op: &CpOp) -> u64 {
        match op {
            CpOp::Load { addr, .. } | CpOp::Store { addr, .. } => match addr.unit {
                Unit::Local => u64::from(self.cp.load_cycles),
                Unit::Remote(_) => u64::from(self.noc.remote_latency_cycles),
            },
            CpOp::Barrier { .. } => u64::from(self.cp.barrier_cycles),
            _ => u64::from(self.cp.op_cycles),
        }
    }

    /// Latency of one memory as a DMA endpoint.
    pub fn access_latency(&self, addr: &Address) -> u64 {
        let remote = matches!(addr.unit, Unit::Remote(_));
        u64::from(match addr.space {
            Space::Hbm => self.hbm.latency_cycles,
            _ if remote => self.noc.remote_latency_cycles,
            Space::Csram => self.noc.csram_latency_cycles,
            Space::Tsram | Space::Acc => self.noc.local_latency_cycles,
        })
    }

    /// The static cost terms of a strided copy from `src` to `dst` on the
    /// tile DMA (`cluster_engine = false`) or the cluster DMA.
    pub fn dma_cost(&self, src: &Address, dst: &Address, cluster_engine: bool) -> DmaCost {
        DmaCost {
            setup: u64::from(self.dma.setup_cycles),
            latency: self.access_latency(src).max(self.access_latency(dst)),
            engine_bytes_per_cycle: u64::from(if cluster_engine {
                self.dma.cluster_bytes_per_cycle
            } else {
                self.dma.tile_bytes_per_cycle
            }),
        }
    }

    /// Cycles of a gather, scatter or atomic over `count` elements.
    pub fn indexed_dma_cycles(&self, count: u64) -> u64 {
        u64::from(self.dma.setup_cycles)
            + u64::from(self.hbm.latency_cycles)
            + count.div_ceil(u64::from(self.dma.indexed_elements_per_cycle.max(1)))
    }

    /// The precision class a matmul runs at, if the TTU reads its operands.
    pub fn matmul_precision(mm: &Matmul) -> Option<TtuPrecision> {
        TtuPrecision::of_pair(mm.a.dtype, mm.b.dtype)
    }

    /// `ttu.latency_cycles + ceil(M·N·K / macs_per_cycle(precision))`.
    pub fn matmul_cycles(&self, mm: &Matmul) -> u64 {
        let rate = Machine::matmul_precision(mm)
            .map_or(1, |p| self.macs_per_cycle(p))
            .max(1);
        u64::from(self.ttu.latency_cycles) + mm.macs().div_ceil(u64::from(rate))
    }

    /// `ceil(E / ttu.drain_elements_per_cycle) + S · ceil(E / tvp.lanes)`.
    pub fn drain_cycles(&self, drain: &Drain, module: &Module) -> u64 {
        let elements = drain.dst.num_elements();
        let slots = drain
            .epilogue
            .as_ref()
            .and_then(|e| module.micro(e.program))
            .map_or(0, |m| {
                m.issue_slots(self.tvp.simple_op_slots, self.tvp.transcendental_op_slots)
            });
        elements.div_ceil(u64::from(self.ttu.drain_elements_per_cycle.max(1)))
            + slots * elements.div_ceil(u64::from(self.tvp.lanes.max(1)))
    }

    /// Issue slots of one micro-program per vector of lanes (its ops at
    /// `tvp.simple_op_slots` or `tvp.transcendental_op_slots` each).
    pub fn micro_issue_slots(&self, micro: &MicroProgram) -> u64 {
        micro.issue_slots(self.tvp.simple_op_slots, self.tvp.transcendental_op_slots)
    }

    /// Issue slots per vector of lanes of a TVP instruction (at least 1).
    pub fn tvp_issue_slots(&self, op: &TvpOp, module: &Module) -> u64 {
        let slots = |id| module.micro(id).map_or(0, |m| self.micro_issue_slots(m));
        let simple = u64::from(self.tvp.simple_op_slots);
        let slots = match op {
            TvpOp::Map(m) => slots(m.program),
            TvpOp::Reduce(r) => slots(r.combiner),
            TvpOp::Scan(s) => slots(s.combiner),
            TvpOp::ActivationReduce(a) => slots(a.program) + slots(a.combiner),
            TvpOp::Iota(_) | TvpOp::Copy(_) | TvpOp::Gather(_) => simple,
            TvpOp::Histogram(_) | TvpOp::MxDequantize(_) => 2 * simple,
            TvpOp::MxQuantize(_) => 4 * simple,
        };
        slots.max(1)
    }

    /// TSRAM/ACC bytes a TVP instruction reads and writes.
    pub fn tvp_bytes(op: &TvpOp) -> u64 {
        let bytes = |v: &View| v.dtype.bytes_for(v.num_elements());
        op.reads().into_iter().chain(op.writes()).map(bytes).sum()
    }

    /// `tvp.latency_cycles + max(S · ceil(N / lanes), ceil(bytes / tsram_bytes_per_cycle))`.
    pub fn tvp_cycles(&self, op: &TvpOp, module: &Module) -> u64 {
        self.tvp_formula_cycles(
            self.tvp_issue_slots(op, module),
            op.lanes(),
            Machine::tvp_bytes(op),
        )
    }

    /// The TVP cost formula on its terms: `issue_slots` per vector (at
    /// least 1, as [`Machine::tvp_issue_slots`] gives), `lanes` elements
    /// iterated, `bytes` read and written — for passes that cost an
    /// instruction before it exists.
    pub fn tvp_formula_cycles(&self, issue_slots: u64, lanes: u64, bytes: u64) -> u64 {
        let vectors = lanes.div_ceil(u64::from(self.tvp.lanes.max(1)));
        let compute = issue_slots.max(1) * vectors;
        let memory = bytes.div_ceil(u64::from(self.tile.tsram_bytes_per_cycle.max(1)));
        u64::from(self.tvp.latency_cycles) + compute.max(memory)
    }
}

#[cfg(test)]
mod tests {
    use crate::asm::assemble;
    use crate::isa::{Op, TtuOp};
    use crate::machine::builtin;

    #[test]
    fn costs_follow_the_documented_formulas() {
        let tiny = builtin("tiny").unwrap();
        let module = assemble(include_str!("../../asm/softmax_rows.s")).unwrap();
        let tvp: Vec<_> = module
            .tile_program
            .code
            .iter()
            .filter_map(|i| match &i.op {
                Op::Tvp(op) => Some(op),
                _ => None,
            })
            .collect();
        // reduce of 128 f32 with a 1-slot combiner: max(16 vectors, 516 B / 64) = 16.
        assert_eq!(tiny.tvp_issue_slots(tvp[0], &module), 1);
        assert_eq!(tiny.tvp_cycles(tvp[0], &module), 8 + 16);
        // actreduce: sub + exp (4 slots) + add = 6 slots × 16 vectors = 96.
        assert_eq!(tiny.tvp_cycles(tvp[1], &module), 8 + 96);

        let gemm = assemble(include_str!("../../asm/gemm_mxfp4.s")).unwrap();
        let mm = gemm.tile_program.code.iter().find_map(|i| match &i.op {
            Op::Ttu(TtuOp::Matmul(mm)) => Some(mm),
            _ => None,
        });
        let mm = mm.unwrap();
        // 128 × 128 × 128 MACs at the FP4 rate of 2048/cycle, plus latency 32.
        assert_eq!(tiny.matmul_cycles(mm), 32 + 1024);
        let hbm_to_tsram = tiny.dma_cost(
            &crate::isa::Address::hbm(0),
            &crate::isa::Address::tsram(0),
            false,
        );
        assert_eq!(hbm_to_tsram.latency, 200);
        assert_eq!(hbm_to_tsram.cycles(1024, 1000), 16 + 200 + 32);
    }
}
