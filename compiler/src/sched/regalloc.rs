//! Register allocation: virtual scalar registers ([`SReg`]) → physical CP
//! registers by linear scan over the live intervals.
//!
//! The register file is split into
//!
//! - `r0 ..` [`ALLOCATABLE`]: values;
//! - [`TEMPS`]: codegen temporaries (immediates that must sit in a
//!   register, spilled values reloaded for one instruction, the loop-head
//!   compare);
//! - [`COUNTERS`]: the per-engine issue counters of the synchronisation
//!   scheme (see `codegen::sync`).
//!
//! When more values are live than registers exist, the interval ending
//! last is spilled (Poletto & Sarkar): it lives in an 8-byte TSRAM slot of
//! the spill area, every definition stores it and every use reloads it into
//! a temporary. `For` induction variables are never spilled (the loop
//! control uses them directly).

use std::collections::BTreeMap;

use maiac_backend::isa::{Reg, NUM_REGS};
use maiac_ir::Diagnostic;

use super::liveness::{Interval, Liveness};
use super::located;
use crate::tile::{SReg, TileKernel};

/// Number of registers reserved for the engine issue counters.
pub const NUM_COUNTERS: usize = 3;
/// Number of codegen temporaries.
pub const NUM_TEMPS: usize = 10;
/// Registers available to values.
pub const ALLOCATABLE: usize = NUM_REGS - NUM_COUNTERS - NUM_TEMPS;

/// The issue counters of the DMA, TTU and TVP engines.
pub const COUNTERS: [Reg; NUM_COUNTERS] = [
    Reg((NUM_REGS - 3) as u8),
    Reg((NUM_REGS - 2) as u8),
    Reg((NUM_REGS - 1) as u8),
];

/// The `i`-th codegen temporary.
pub fn temp(i: usize) -> Reg {
    debug_assert!(i < NUM_TEMPS);
    Reg((ALLOCATABLE + i) as u8)
}

/// Where a virtual register lives.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RegLoc {
    Phys(Reg),
    /// Spill slot number `n` (8 bytes at `spill_base + 8n` in TSRAM).
    Spill(u32),
}

/// The result of register allocation.
#[derive(Clone, Debug, Default)]
pub struct RegAssignment {
    pub regs: BTreeMap<SReg, RegLoc>,
    pub spill_slots: u32,
}

/// Linear scan with a configurable register count (tests use few).
pub fn allocate(
    kernel: &TileKernel,
    live: &Liveness,
    available: usize,
) -> Result<RegAssignment, Diagnostic> {
    let mut order: Vec<(SReg, Interval)> = live.regs.iter().map(|(&r, &i)| (r, i)).collect();
    order.sort_by_key(|&(r, i)| (i.start, r));
    let mut free: Vec<Reg> = (0..available as u8).rev().map(Reg).collect();
    // Active values in registers.
    let mut active: Vec<(SReg, Interval, Reg)> = Vec::new();
    let mut out = RegAssignment::default();
    for (r, interval) in order {
        // A value whose last use is at this position frees its register:
        // every op reads its operands before writing its result.
        active.retain(|&(_, i, reg)| {
            if i.end <= interval.start {
                free.push(reg);
                false
            } else {
                true
            }
        });
        free.sort_by(|a, b| b.cmp(a));
        if let Some(reg) = free.pop() {
            out.regs.insert(r, RegLoc::Phys(reg));
            active.push((r, interval, reg));
            continue;
        }
        // Spill the spillable value (active or this one) that ends last.
        let is_iv = |v: SReg| live.induction_vars.contains(&v);
        let victim = active
            .iter()
            .enumerate()
            .filter(|(_, a)| !is_iv(a.0))
            .max_by_key(|(_, a)| (a.1.end, a.0))
            .map(|(k, a)| (k, a.1.end));
        let spill_current = !is_iv(r) && victim.is_none_or(|(_, end)| end <= interval.end);
        if spill_current {
            out.regs.insert(r, RegLoc::Spill(out.spill_slots));
            out.spill_slots += 1;
            continue;
        }
        let Some((k, _)) = victim else {
            let loc = live.locs.get(interval.start as usize).copied().flatten();
            return Err(located(
                kernel,
                loc,
                format!("too many live scalar values: more than {available} loop induction variables are live here"),
            ));
        };
        let (spilled, _, reg) = active.remove(k);
        out.regs.insert(spilled, RegLoc::Spill(out.spill_slots));
        out.spill_slots += 1;
        out.regs.insert(r, RegLoc::Phys(reg));
        active.push((r, interval, reg));
    }
    Ok(out)
}
