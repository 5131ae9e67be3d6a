//! Figures derived from a machine description, and the `maiac machine`
//! output (JSON summary and text).
//!
//! - peak TFLOPS per precision = 2 × MACs/cycle/tile × tiles × clock;
//! - HBM TB/s = HBM bytes/cycle × clock;
//! - SRAM bytes = tiles × TSRAM + clusters × CSRAM (ACC excluded);
//! - SRAM TB/s = (tiles × TSRAM B/cycle + clusters × CSRAM B/cycle) × clock;
//! - ridge point per precision = peak FLOP/s ÷ HBM B/s (FLOP per HBM byte
//!   above which a kernel can be compute-bound).

use std::fmt::Write;

use serde::Serialize;

use super::Machine;

/// Peak dense TFLOPS (TOPS for int8) per precision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeakTflops {
    pub fp4: f64,
    pub fp6: f64,
    pub fp8: f64,
    pub int8: f64,
    pub bf16: f64,
    pub fp32: f64,
}

/// Derived figures of a machine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Derived {
    pub tiles: u32,
    pub peak_tflops: PeakTflops,
    pub hbm_tb_per_s: f64,
    pub sram_bytes: u64,
    pub sram_tb_per_s: f64,
    /// FLOP per HBM byte at which each precision's peak equals HBM bandwidth.
    pub ridge_flop_per_byte: PeakTflops,
}

impl Machine {
    /// Peak FLOP/s of a MAC rate over the whole chip.
    fn peak_flops(&self, macs_per_cycle: u32) -> f64 {
        2.0 * f64::from(macs_per_cycle) * f64::from(self.num_tiles()) * self.clock_ghz * 1e9
    }

    /// Bytes per second of a per-cycle figure.
    pub fn bytes_per_second(&self, bytes_per_cycle: f64) -> f64 {
        bytes_per_cycle * self.clock_ghz * 1e9
    }

    /// The derived figures.
    pub fn derived(&self) -> Derived {
        let r = &self.ttu.macs_per_cycle;
        let tflops = |macs| self.peak_flops(macs) / 1e12;
        let hbm = self.bytes_per_second(f64::from(self.hbm.bytes_per_cycle));
        let ridge = |macs| self.peak_flops(macs) / hbm;
        let tiles = self.num_tiles();
        let sram_bytes = u64::from(tiles) * self.tile.tsram_bytes
            + u64::from(self.clusters) * self.cluster.csram_bytes;
        let sram_per_cycle = f64::from(tiles) * f64::from(self.tile.tsram_bytes_per_cycle)
            + f64::from(self.clusters) * f64::from(self.cluster.csram_bytes_per_cycle);
        Derived {
            tiles,
            peak_tflops: PeakTflops {
                fp4: tflops(r.fp4),
                fp6: tflops(r.fp6),
                fp8: tflops(r.fp8),
                int8: tflops(r.int8),
                bf16: tflops(r.bf16),
                fp32: tflops(r.fp32),
            },
            hbm_tb_per_s: hbm / 1e12,
            sram_bytes,
            sram_tb_per_s: self.bytes_per_second(sram_per_cycle) / 1e12,
            ridge_flop_per_byte: PeakTflops {
                fp4: ridge(r.fp4),
                fp6: ridge(r.fp6),
                fp8: ridge(r.fp8),
                int8: ridge(r.int8),
                bf16: ridge(r.bf16),
                fp32: ridge(r.fp32),
            },
        }
    }

    /// The `maiac machine --json` object: the summary keys (`name`,
    /// `clusters`, `tiles_per_cluster`, `clock_ghz`, `peak_tflops` {fp4, fp6,
    /// fp8, bf16, int8, fp32}, `hbm_bytes`, `hbm_tb_per_s`, `sram_bytes`,
    /// `sram_tb_per_s`), then `tiles`, `hash`, `ridge_flop_per_byte` and the
    /// full description under `spec`.
    pub fn summary_json(&self) -> serde_json::Value {
        let d = self.derived();
        serde_json::json!({
            "name": self.name,
            "clusters": self.clusters,
            "tiles_per_cluster": self.tiles_per_cluster,
            "tiles": d.tiles,
            "clock_ghz": self.clock_ghz,
            "peak_tflops": d.peak_tflops,
            "hbm_bytes": self.hbm.bytes,
            "hbm_tb_per_s": d.hbm_tb_per_s,
            "sram_bytes": d.sram_bytes,
            "sram_tb_per_s": d.sram_tb_per_s,
            "ridge_flop_per_byte": d.ridge_flop_per_byte,
            "hash": format!("{:016x}", self.hash()),
            "spec": serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        })
    }

    /// The `maiac machine` text rendering.
    pub fn render_text(&self) -> String {
        let d = self.derived();
        let p = &d.peak_tflops;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let mut s = String::new();
        let _ = writeln!(s, "machine {} (hash {:016x})", self.name, self.hash());
        if !self.description.is_empty() {
            let _ = writeln!(s, "  {}", self.description);
        }
        let _ = writeln!(
            s,
            "structure     {} clusters x {} tiles = {} tiles at {} GHz",
            self.clusters, self.tiles_per_cluster, d.tiles, self.clock_ghz
        );
        let _ = writeln!(
            s,
            "peak dense    FP4 {} / FP6 {} / FP8 {} / BF16 {} / FP32 {} TFLOPS, INT8 {} TOPS",
            figure(p.fp4),
            figure(p.fp6),
            figure(p.fp8),
            figure(p.bf16),
            figure(p.fp32),
            figure(p.int8)
        );
        let _ = writeln!(
            s,
            "HBM           {:.0} GB at {:.2} TB/s ({} B/cycle), latency {} cycles",
            self.hbm.bytes as f64 / 1e9,
            d.hbm_tb_per_s,
            self.hbm.bytes_per_cycle,
            self.hbm.latency_cycles
        );
        let _ = writeln!(
            s,
            "on-die SRAM   {:.0} MiB at {:.1} TB/s ({} x {:.2} MiB TSRAM + {} x {:.2} MiB CSRAM)",
            mib(d.sram_bytes),
            d.sram_tb_per_s,
            d.tiles,
            mib(self.tile.tsram_bytes),
            self.clusters,
            mib(self.cluster.csram_bytes)
        );
        let r = &self.ttu.macs_per_cycle;
        let _ = writeln!(
            s,
            "TTU per tile  MAC/cycle FP4 {} / FP6 {} / FP8 {} / INT8 {} / BF16 {} / FP32 {}; ACC {} KiB",
            r.fp4,
            r.fp6,
            r.fp8,
            r.int8,
            r.bf16,
            r.fp32,
            self.tile.acc_bytes / 1024
        );
        let _ = writeln!(
            s,
            "TVP per tile  {} lanes, {} slot(s) per simple op, {} per transcendental",
            self.tvp.lanes, self.tvp.simple_op_slots, self.tvp.transcendental_op_slots
        );
        let _ = writeln!(
            s,
            "DMA           tile {} B/cycle, cluster {} B/cycle, NoC link {} B/cycle per cluster",
            self.dma.tile_bytes_per_cycle,
            self.dma.cluster_bytes_per_cycle,
            self.noc.cluster_link_bytes_per_cycle
        );
        let _ = writeln!(
            s,
            "sync          {} semaphores per tile, {} per cluster; queues dma {} / ttu {} / tvp {}",
            self.tile.semaphores,
            self.cluster.semaphores,
            self.tile.dma_queue_depth,
            self.tile.ttu_queue_depth,
            self.tile.tvp_queue_depth
        );
        let ridge = &d.ridge_flop_per_byte;
        let _ = writeln!(
            s,
            "ridge point   FP4 {:.0} / FP8 {:.0} / BF16 {:.0} FLOP per HBM byte",
            ridge.fp4, ridge.fp8, ridge.bf16
        );
        s
    }
}

/// A rate with as many decimals as it needs to be readable.
fn figure(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use crate::machine::builtin;

    #[test]
    fn maia200_like_reproduces_the_published_figures() {
        let m = builtin("maia200-like").unwrap();
        let d = m.derived();
        assert_eq!(d.peak_tflops.fp4.round(), 10_145.0);
        assert_eq!(d.peak_tflops.fp8.round(), 5_072.0);
        assert_eq!(d.peak_tflops.bf16.round(), 1_268.0);
        assert_eq!(d.peak_tflops.fp6, d.peak_tflops.fp8);
        assert_eq!(d.sram_bytes, 272 * 1024 * 1024);
        assert_eq!(m.hbm.bytes, 216_000_000_000);
        assert!((d.hbm_tb_per_s - 7.0).abs() < 0.01, "{}", d.hbm_tb_per_s);
        assert!((d.sram_tb_per_s - 80.0).abs() < 1.0, "{}", d.sram_tb_per_s);
        assert!((d.ridge_flop_per_byte.fp8 - 725.0).abs() < 1.0);
    }

    #[test]
    fn json_summary_has_the_required_keys() {
        let json = builtin("tiny").unwrap().summary_json();
        for key in [
            "name",
            "clusters",
            "tiles_per_cluster",
            "clock_ghz",
            "peak_tflops",
            "hbm_bytes",
            "hbm_tb_per_s",
            "sram_bytes",
            "sram_tb_per_s",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        for key in ["fp4", "fp6", "fp8", "bf16"] {
            assert!(json["peak_tflops"][key].is_f64(), "{key}");
        }
        assert_eq!(json["clusters"], 2);
    }

    #[test]
    fn text_rendering() {
        let text = builtin("maia200-like").unwrap().render_text();
        assert!(
            text.contains("FP4 10145 / FP6 5072 / FP8 5072 / BF16 1268"),
            "{text}"
        );
        assert!(text.contains("272 MiB"), "{text}");
    }
}
