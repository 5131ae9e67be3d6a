//! Cycle-model results: totals, per-engine utilisation, FLOPs, HBM
//! traffic, the roofline bound and per-source-line attribution; and the
//! Chrome trace-event writer.

use std::collections::BTreeMap;

use maiac_backend::isa::TtuPrecision;
use maiac_backend::machine::Machine;
use serde::Serialize;

/// The report of one emulated launch. Serializes to JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Modelled cycles from launch to the last completion.
    pub cycles: u64,
    /// `cycles` at the machine clock.
    pub seconds: f64,
    /// FLOPs (2 per TTU MAC) per precision class (`fp4`, `fp8`, `bf16`, ...).
    pub flops: BTreeMap<String, u64>,
    pub total_flops: u64,
    /// Bytes read from and written to HBM (every transfer's bytes).
    pub hbm_bytes: u64,
    /// Distinct HBM bytes read plus distinct HBM bytes written: the
    /// launch's compulsory traffic (`emu::footprint`), ≤ `hbm_bytes`.
    pub hbm_unique_bytes: u64,
    /// `max(Σ_p flops_p / chip peak_p, hbm_unique_bytes / HBM bytes per
    /// cycle)`: a bound no schedule of this launch can beat, so redundant
    /// traffic the compiler removes raises `roofline_fraction`.
    pub roofline_cycles: f64,
    /// `roofline_cycles / cycles` (≤ 1).
    pub roofline_fraction: f64,
    /// Busy fraction (0..1) per engine kind, over all such engines of the chip.
    pub engine_busy: BTreeMap<String, f64>,
    /// Busy cycles per engine kind, summed over engines.
    pub engine_busy_cycles: BTreeMap<String, u64>,
    /// Busy engine cycles attributed to each debug line (`file:line`, or
    /// the TTIR op when there is no Python location).
    pub by_source_line: BTreeMap<String, u64>,
    /// Instructions executed (CP and engines).
    pub instructions: u64,
}

impl Stats {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Fills in the derived figures once the raw counts are known.
    pub fn finish(&mut self, machine: &Machine, macs: &BTreeMap<TtuPrecision, u64>) {
        let tiles = f64::from(machine.num_tiles().max(1));
        let mut compute = 0.0;
        for (&p, &m) in macs {
            self.flops.insert(p.name().to_string(), 2 * m);
            compute += m as f64 / (f64::from(machine.macs_per_cycle(p).max(1)) * tiles);
        }
        self.total_flops = self.flops.values().sum();
        let memory = self.hbm_unique_bytes as f64 / f64::from(machine.hbm.bytes_per_cycle.max(1));
        self.roofline_cycles = compute.max(memory);
        self.roofline_fraction = if self.cycles == 0 {
            if self.roofline_cycles == 0.0 {
                1.0
            } else {
                0.0
            }
        } else {
            (self.roofline_cycles / self.cycles as f64).min(1.0)
        };
        self.seconds = self.cycles as f64 * machine.seconds_per_cycle();
        let counts = [
            ("cp", tiles),
            ("dma", tiles),
            ("ttu", tiles),
            ("tvp", tiles),
            ("cluster_cp", f64::from(machine.clusters.max(1))),
            ("cluster_dma", f64::from(machine.clusters.max(1))),
        ];
        for (kind, n) in counts {
            let busy = self.engine_busy_cycles.get(kind).copied().unwrap_or(0) as f64;
            let frac = if self.cycles == 0 {
                0.0
            } else {
                busy / (n * self.cycles as f64)
            };
            self.engine_busy.insert(kind.to_string(), frac);
        }
    }
}

/// One complete ("X") trace event.
#[derive(Clone, Debug)]
pub struct TraceEvent {
    pub name: String,
    pub tid: u32,
    pub start: u64,
    pub dur: u64,
    pub line: String,
}

/// Renders Chrome trace-event JSON (opens in ui.perfetto.dev): one thread
/// per engine per tile, timestamps in microseconds at the machine clock.
pub fn render_trace(
    machine: &Machine,
    threads: &BTreeMap<u32, String>,
    events: &[TraceEvent],
) -> String {
    let us = |cycles: u64| cycles as f64 / (machine.clock_ghz * 1e3);
    let mut out = Vec::with_capacity(events.len() + threads.len());
    for (&tid, name) in threads {
        out.push(serde_json::json!({
            "name": "thread_name", "ph": "M", "pid": 0, "tid": tid, "args": {"name": name}
        }));
    }
    for e in events {
        out.push(serde_json::json!({
            "name": e.name, "ph": "X", "pid": 0, "tid": e.tid,
            "ts": us(e.start), "dur": us(e.dur), "args": {"line": e.line, "cycles": e.dur}
        }));
    }
    serde_json::json!({ "traceEvents": out, "displayTimeUnit": "ns" }).to_string()
}
