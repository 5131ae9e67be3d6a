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
    atomic: bool,
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
                if rec.agent == agent
                    || !(rec.write || access.write)
                    || (rec.atomic && access.atomic)
                {
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
                atomic: access.atomic,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn access(write: bool, lo: u64, hi: u64) -> Vec<Access> {
        vec![Access {
            region: Region::Tsram(0),
            write,
            atomic: false,
            ranges: vec![(lo, hi)],
        }]
    }

    const A: InstrRef = InstrRef {
        cluster_program: false,
        pc: 1,
        unit: 0,
    };
    const B: InstrRef = InstrRef {
        cluster_program: false,
        pc: 2,
        unit: 0,
    };

    #[test]
    fn unordered_write_read_is_a_race_ordered_is_not() {
        let mut d = RaceDetector::default();
        d.access(0, &vec![1, 0], &access(true, 0, 16), A)
            .map_err(|_| ())
            .unwrap();
        // Agent 1 has seen agent 0 up to clock 1: ordered.
        assert!(d.access(1, &vec![1, 1], &access(false, 8, 12), B).is_ok());
        // Agent 1 has not seen it: race; disjoint bytes or two reads are fine.
        let mut d2 = RaceDetector::default();
        d2.access(0, &vec![1, 0], &access(true, 0, 16), A)
            .map_err(|_| ())
            .unwrap();
        assert!(d2.access(1, &vec![0, 1], &access(false, 16, 20), B).is_ok());
        let race = d2
            .access(1, &vec![0, 2], &access(false, 15, 16), B)
            .err()
            .unwrap();
        assert_eq!((race.first, race.second), (A, B));
    }

    #[test]
    fn sorted_range_lists_overlap() {
        assert!(!overlaps(&vec![(0, 4), (8, 12)], &vec![(4, 8), (12, 16)]));
        assert!(overlaps(&vec![(0, 4), (8, 12)], &vec![(11, 13)]));
    }
}
