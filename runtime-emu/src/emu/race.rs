//! Race detection with vector clocks.
//!
//! Every agent (a tile's CP, DMA, TTU and TVP; a cluster program's CP and
//! DMA) has a vector clock. Happens-before edges: program order on one
//! agent, CP dispatch → engine start (the queued instruction carries the
//! CP's clock), semaphore signal → wait (a semaphore's clock is the join of
//! its signallers' clocks), fence/halt (the CP joins its engines) and
//! barriers (participants join each other). An access races with an
//! earlier one on overlapping bytes when one of them writes, they come from
//! different agents, and the earlier is not ordered before the later.

use std::collections::BTreeMap;

use super::context::Access;
use super::memory::Region;
use super::strided::Ranges;

/// A vector clock, one entry per agent.
pub type Clock = Vec<u32>;

/// `a = max(a, b)` element-wise.
pub fn join(a: &mut Clock, b: &Clock) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = (*x).max(y);
    }
}

/// Which instruction performed an access (rendered only on a race).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InstrRef {
    pub cluster_program: bool,
    pub pc: u32,
    /// `tile N` / `cluster N`.
    pub unit: u32,
}

#[derive(Clone, Debug)]
struct Record {
    agent: usize,
    clock: u32,
    write: bool,
    span: (u64, u64),
    ranges: Ranges,
    instr: InstrRef,
}

/// Past accesses per memory.
#[derive(Default)]
pub struct RaceDetector {
    logs: BTreeMap<Region, Vec<Record>>,
}

/// A detected race: the earlier and the later instruction and the memory.
pub struct Race {
    pub first: InstrRef,
    pub second: InstrRef,
    pub region: Region,
}

/// Whether two sorted range lists overlap.
fn overlaps(a: &Ranges, b: &Ranges) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x.0 < y.1 && y.0 < x.1 {
            return true;
        }
        if x.1 <= y.1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    false
}

impl RaceDetector {
    /// Checks the accesses of one instruction by `agent` (whose clock is
    /// `vc` while it runs) against the log, then records them.
    pub fn access(
        &mut self,
        agent: usize,
        vc: &Clock,
        accesses: &[Access],
        instr: InstrRef,
    ) -> Result<(), Race> {
        for access in accesses {
            if access.ranges.is_empty() {
                continue;
            }
            let span = (
                access.ranges[0].0,
                access.ranges.iter().map(|r| r.1).max().unwrap_or(0),
            );
            let log = self.logs.entry(access.region).or_default();
            for rec in log.iter() {
                if rec.agent == agent || !(rec.write || access.write) {
                    continue;
                }
                if rec.clock <= vc[rec.agent] {
                    continue;
                }
                if rec.span.0 < span.1
                    && span.0 < rec.span.1
                    && overlaps(&rec.ranges, &access.ranges)
                {
                    return Err(Race {
                        first: rec.instr,
                        second: instr,
                        region: access.region,
                    });
                }
            }
            log.push(Record {
                agent,
                clock: vc[agent],
                write: access.write,
                span,
                ranges: access.ranges.clone(),
                instr,
            });
        }
        Ok(())
    }

    /// Drops the records of a tile's private memories (at an instance
    /// boundary, after the halt fence ordered them before what follows).
    pub fn forget(&mut self, region: Region) {
        self.logs.remove(&region);
    }

    /// Drops every record ordered before all of `clocks` (each agent's
    /// current clock and every queued instruction's dispatch clock).
    pub fn prune(&mut self, floor: &Clock) {
        for log in self.logs.values_mut() {
            log.retain(|r| r.clock > floor[r.agent]);
        }
    }

    pub fn len(&self) -> usize {
        self.logs.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
