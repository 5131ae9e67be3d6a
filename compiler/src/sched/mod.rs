//! Scheduling: places the tile IR's virtual storage on the machine.
//!
//! - [`liveness`]: live intervals of registers and buffers over a linear
//!   order of the structured body (loop-carried values live through loops);
//! - [`regalloc`]: virtual scalar registers → `r0..`, linear scan, spilling
//!   to a TSRAM spill area;
//! - [`sram`]: buffers → TSRAM / accumulator offsets, first fit by
//!   liveness, with a located diagnostic when the working set does not fit;
//! - [`dispatch`]: the grid → tiles policy;
//! - [`cluster_stage`]: a tile-IR pass that stages loads every program
//!   instance shares (read-only, addressed from the kernel arguments only)
//!   in each cluster's CSRAM, loaded once per launch by the cluster
//!   program;
//! - [`instance_loop`]: a tile-IR pass (after it) that makes a loop-free
//!   kernel persistent: each tile loops over its own program instances;
//! - [`double_buffer`]: a tile-IR pass (run after them)
//!   that unrolls DMA-fed loops by two with split operand buffers, so a
//!   DMA overlaps the previous iteration's compute;
//! - [`split_arms`]: a tile-IR pass (after double buffering) that, only
//!   when the kernel does not fit, runs oversized gather/scatter fallback
//!   arms over chunks of their elements.
//!
//! Synchronisation (semaphores) is derived during code generation
//! (`codegen::sync`), where the instruction order is known.
//!
//! [`Scheduled::render`] is the text of `--emit sched`.

pub mod cluster_stage;
pub mod dispatch;
pub mod double_buffer;
pub mod instance_loop;
pub mod liveness;
pub mod regalloc;
pub mod split_arms;
pub mod sram;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write;

use maiac_backend::isa::{DebugLocId, Dispatch, Space};
use maiac_backend::machine::Machine;
use maiac_ir::dfg::SrcPos;
use maiac_ir::location::PySource;
use maiac_ir::Diagnostic;

pub use cluster_stage::ClusterStage;
pub use double_buffer::DoubleBuffer;
pub use instance_loop::InstanceLoop;
pub use regalloc::RegLoc;
pub use split_arms::SplitArms;

use crate::tile::{Buf, BufSpace, SReg, TileKernel};

/// Where a buffer lives: its memory and byte offset.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub space: Space,
    pub offset: u64,
}

/// A kernel with physical placements for every register and buffer.
#[derive(Clone, Debug)]
pub struct Scheduled {
    pub kernel: TileKernel,
    pub regs: BTreeMap<SReg, RegLoc>,
    pub bufs: BTreeMap<Buf, Placement>,
    /// TSRAM byte offset of spill slot 0 (slots are 8 bytes).
    pub spill_base: u64,
    pub spill_slots: u32,
    pub dispatch: Dispatch,
}

/// A diagnostic at the TTIR op (and Python line) a debug location names.
/// The TTIR file name is left for the driver to fill in.
pub(crate) fn located(
    kernel: &TileKernel,
    loc: Option<DebugLocId>,
    message: impl Into<String>,
) -> Diagnostic {
    let d = Diagnostic::new(message);
    match loc.and_then(|l| kernel.locs.get(l.0 as usize)) {
        None => d,
        Some(l) => d
            .at(
                "",
                Some(SrcPos {
                    line: l.ttir_line,
                    col: l.ttir_col,
                }),
            )
            .with_python(l.python.as_ref().map(|p| PySource {
                file: p.file.clone(),
                line: p.line,
                col: p.col,
            })),
    }
}

/// Schedules `kernel` for `machine`.
pub fn schedule(kernel: &TileKernel, machine: &Machine) -> Result<Scheduled, Diagnostic> {
    schedule_with_registers(kernel, machine, regalloc::ALLOCATABLE)
}

/// [`schedule`] with fewer allocatable registers (tests of spilling).
pub fn schedule_with_registers(
    kernel: &TileKernel,
    machine: &Machine,
    registers: usize,
) -> Result<Scheduled, Diagnostic> {
    let live = liveness::analyze(kernel);
    let assignment = regalloc::allocate(kernel, &live, registers.min(regalloc::ALLOCATABLE))?;
    let spill_base = 0;
    let spill_bytes = sram::aligned(8 * u64::from(assignment.spill_slots));
    let tsram = sram::allocate(
        kernel,
        &live,
        BufSpace::Tsram,
        spill_base + spill_bytes,
        machine.tile.tsram_bytes,
    )?;
    let acc = sram::allocate(kernel, &live, BufSpace::Acc, 0, machine.tile.acc_bytes)?;
    let mut bufs = BTreeMap::new();
    for (b, offset) in tsram {
        bufs.insert(
            b,
            Placement {
                space: Space::Tsram,
                offset,
            },
        );
    }
    for (b, offset) in acc {
        bufs.insert(
            b,
            Placement {
                space: Space::Acc,
                offset,
            },
        );
    }
    Ok(Scheduled {
        kernel: kernel.clone(),
        regs: assignment.regs,
        bufs,
        spill_base,
        spill_slots: assignment.spill_slots,
        dispatch: dispatch::policy(kernel, machine),
    })
}

impl Scheduled {
    /// Where a register lives; `None` for a register no op mentions.
    pub fn reg(&self, r: SReg) -> Option<RegLoc> {
        self.regs.get(&r).copied()
    }

    /// TSRAM byte offset of a spill slot.
    pub fn spill_offset(&self, slot: u32) -> u64 {
        self.spill_base + 8 * u64::from(slot)
    }

    fn reg_text(&self, r: SReg) -> String {
        match self.reg(r) {
            Some(RegLoc::Phys(p)) => p.to_string(),
            Some(RegLoc::Spill(slot)) => format!("spill{slot}@tsram[{}]", self.spill_offset(slot)),
            None => r.to_string(),
        }
    }

    fn buf_text(&self, b: Buf) -> String {
        match self.bufs.get(&b) {
            Some(p) => format!("{b}@{}[{}]", p.space, p.offset),
            None => b.to_string(),
        }
    }

    /// The text of `--emit sched`: the dispatch policy, the placement of
    /// every buffer and register, then the tile IR with virtual registers
    /// replaced by physical ones and buffers annotated with their address.
    pub fn render(&self) -> String {
        let mut out = format!(
            "scheduled @{}\ndispatch {}\n",
            self.kernel.name, self.dispatch
        );
        for (b, p) in &self.bufs {
            let d = &self.kernel.bufs[*b];
            let _ = writeln!(
                out,
                "  {b} -> {}[{}..{}) {}{:?} ; {}",
                p.space,
                p.offset,
                p.offset + d.bytes(),
                d.dtype,
                d.shape,
                d.name
            );
        }
        if self.spill_slots > 0 {
            let _ = writeln!(
                out,
                "  spill area tsram[{}..{}) ({} slots)",
                self.spill_base,
                self.spill_offset(self.spill_slots),
                self.spill_slots
            );
        }
        let regs: Vec<String> = self
            .regs
            .keys()
            .map(|&r| format!("{r}->{}", self.reg_text(r)))
            .collect();
        for chunk in regs.chunks(8) {
            let _ = writeln!(out, "  regs {}", chunk.join(" "));
        }
        // Stages are run by the cluster program, whose registers are its
        // own: they keep the kernel's virtual names.
        let stages = crate::tile::render_stages(&self.kernel);
        out += &stages;
        let mut body = self.kernel.clone();
        body.stages.clear();
        let ir = crate::tile::render(&body);
        for line in ir.lines().skip(1).filter(|l| !is_buffer_decl(l)) {
            let (code, comment) = match line.find(';') {
                Some(k) => line.split_at(k),
                None => (line, ""),
            };
            out += &self.substitute(code);
            out += comment;
            out.push('\n');
        }
        out
    }

    /// Replaces `sN` / `bN` tokens of one line of tile IR text.
    fn substitute(&self, line: &str) -> String {
        let bytes = line.as_bytes();
        let mut out = String::with_capacity(line.len());
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            let boundary = i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b'%');
            if boundary && (c == b's' || c == b'b') {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                let end = i + 1 + digits;
                let ends_word = end >= bytes.len()
                    || !(bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_');
                if digits > 0 && ends_word {
                    if let Ok(n) = line[i + 1..end].parse::<u32>() {
                        let text = if c == b's' {
                            self.reg_text(cranelift_entity::EntityRef::new(n as usize))
                        } else {
                            self.buf_text(cranelift_entity::EntityRef::new(n as usize))
                        };
                        out += &text;
                        i = end;
                        continue;
                    }
                }
            }
            out.push(c as char);
            i += 1;
        }
        out
    }
}

/// `  b3 = Tsram f32[..] ; name` lines of the tile IR header.
fn is_buffer_decl(line: &str) -> bool {
    let t = line.trim_start();
    let indent = line.len() - t.len();
    indent == 2
        && t.starts_with('b')
        && t.split_once(" = ").is_some_and(|(lhs, rhs)| {
            lhs[1..].chars().all(|c| c.is_ascii_digit())
                && (rhs.starts_with("Tsram") || rhs.starts_with("Acc"))
        })
}
