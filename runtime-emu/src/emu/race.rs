//! Race detection with vector clocks.
//!
//! Every agent (a tile's CP, DMA, TTU and TVP; a cluster program's CP and
//! DMA) has a vector clock. Happens-before edges: program order on one
//! agent, CP dispatch → engine start (the queued instruction carries the
//! CP's clock), semaphore signal → wait (a semaphore's clock is the join of
//! its signallers' clocks), fence/halt (the CP joins its engines) and
//! barriers (participants join each other), and atomics, which are
//! acquire-release as in Triton (`sem="acq_rel"`): an atomic on some bytes
//! joins the clock of the last atomics on those bytes, then leaves its own
//! (so a lock taken with `atomic_cas` and released with `atomic_xchg`
//! orders the plain accesses it protects). An access races with an
//! earlier one on overlapping bytes when one of them writes, they come from
//! different agents, and the earlier is not ordered before the later —
//! except two plain writes of HBM by different program instances (tiles or
//! cluster programs): which of two programs' stores lands last is the
//! kernel's own business, as on a GPU (e.g. every program storing the same
//! flag), and the emulator applies them in its deterministic order; and a
//! plain read of HBM against another program's atomic on the same bytes:
//! on a GPU such a load returns some value the atomics left (aligned words
//! are single-copy atomic), which is what compare-and-swap loops rely on
//! (`old = load(p); while atomic_cas(p, old, f(old)) != old: …`, the CUDA
//! guide's float `atomicMax`), and the emulator returns the value of its
//! deterministic order. Within one program every such pair is still a
//! race (the compiler must order its engines).
//!
//! A record is dropped when a later access of the same agent covers its
//! bytes with at least its strength: anything unordered with the old
//! record is unordered with the newer one too (program order), so the log
//! stays as short as the agent's distinct footprints.

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

/// Past accesses per memory, and the release clocks of atomics per
/// location (memory, first byte).
#[derive(Default)]
pub struct RaceDetector {
    logs: BTreeMap<Region, Vec<Record>>,
    atomic_clocks: BTreeMap<(Region, u64), Clock>,
}

/// Whether every range of `inner` lies inside a range of `outer` (both
/// sorted and merged).
fn covers(outer: &Ranges, inner: &Ranges) -> bool {
    let mut j = 0;
    inner.iter().all(|&(lo, hi)| {
        while j < outer.len() && outer[j].1 <= lo {
            j += 1;
        }
        j < outer.len() && outer[j].0 <= lo && hi <= outer[j].1
    })
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
    /// `vc` while it runs) against the log, then records them; atomics
    /// acquire into `vc` and release from it.
    pub fn access(
        &mut self,
        agent: usize,
        vc: &mut Clock,
        accesses: &[Access],
        instr: InstrRef,
    ) -> Result<(), Race> {
        self.check_and_record(agent, vc, accesses, instr)?;
        for access in accesses.iter().filter(|a| a.atomic) {
            for &(lo, _) in &access.ranges {
                if let Some(released) = self.atomic_clocks.get(&(access.region, lo)) {
                    join(vc, released);
                }
            }
        }
        for access in accesses.iter().filter(|a| a.atomic) {
            for &(lo, _) in &access.ranges {
                let clock = self
                    .atomic_clocks
                    .entry((access.region, lo))
                    .or_insert_with(|| vec![0; vc.len()]);
                join(clock, vc);
            }
        }
        Ok(())
    }

    fn check_and_record(
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
                let other_program = rec.instr.unit != instr.unit
                    || rec.instr.cluster_program != instr.cluster_program;
                let hbm = matches!(access.region, Region::Hbm(_));
                // A plain read against an atomic (either order).
                let read_vs_atomic = (rec.atomic && !access.atomic && !access.write)
                    || (access.atomic && !rec.atomic && !rec.write);
                if rec.agent == agent
                    || !(rec.write || access.write)
                    || (rec.atomic && access.atomic)
                    || (rec.write && access.write && other_program && hbm)
                    || (read_vs_atomic && other_program && hbm)
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
            log.retain(|r| {
                !(r.agent == agent
                    && r.atomic == access.atomic
                    && (access.write || !r.write)
                    && covers(&access.ranges, &r.ranges))
            });
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
        self.atomic_clocks.retain(|(r, _), _| *r != region);
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
        d.access(0, &mut vec![1, 0], &access(true, 0, 16), A)
            .map_err(|_| ())
            .unwrap();
        // Agent 1 has seen agent 0 up to clock 1: ordered.
        assert!(d
            .access(1, &mut vec![1, 1], &access(false, 8, 12), B)
            .is_ok());
        // Agent 1 has not seen it: race; disjoint bytes or two reads are fine.
        let mut d2 = RaceDetector::default();
        d2.access(0, &mut vec![1, 0], &access(true, 0, 16), A)
            .map_err(|_| ())
            .unwrap();
        assert!(d2
            .access(1, &mut vec![0, 1], &access(false, 16, 20), B)
            .is_ok());
        let race = d2
            .access(1, &mut vec![0, 2], &access(false, 15, 16), B)
            .err()
            .unwrap();
        assert_eq!((race.first, race.second), (A, B));
    }

    fn hbm(write: bool, atomic: bool, lo: u64, hi: u64) -> Vec<Access> {
        vec![Access {
            region: Region::Hbm(0),
            write,
            atomic,
            ranges: vec![(lo, hi)],
        }]
    }

    const TILE1: InstrRef = InstrRef {
        cluster_program: false,
        pc: 3,
        unit: 1,
    };

    #[test]
    fn stores_of_different_programs_to_the_same_bytes_are_not_races() {
        let mut d = RaceDetector::default();
        assert!(d
            .access(0, &mut vec![1, 0], &hbm(true, false, 0, 4), A)
            .is_ok());
        assert!(d
            .access(1, &mut vec![0, 1], &hbm(true, false, 0, 4), TILE1)
            .is_ok());
        // A read of them is still unordered with the other program's store.
        assert!(d
            .access(1, &mut vec![0, 2], &hbm(false, false, 0, 4), TILE1)
            .is_err());
        // Two engines of one tile writing the same bytes unordered: a race.
        let mut d = RaceDetector::default();
        assert!(d
            .access(0, &mut vec![1, 0], &hbm(true, false, 0, 4), A)
            .is_ok());
        assert!(d
            .access(1, &mut vec![0, 1], &hbm(true, false, 0, 4), B)
            .is_err());
    }

    #[test]
    fn plain_reads_of_other_programs_atomics_are_not_races() {
        // Program 1 reads a word program 0 updates atomically (a CAS loop's
        // first read), in both orders: not a race.
        let mut d = RaceDetector::default();
        assert!(d
            .access(0, &mut vec![1, 0], &hbm(true, true, 0, 4), A)
            .is_ok());
        assert!(d
            .access(1, &mut vec![0, 1], &hbm(false, false, 0, 4), TILE1)
            .is_ok());
        let mut d = RaceDetector::default();
        assert!(d
            .access(1, &mut vec![0, 1], &hbm(false, false, 0, 4), TILE1)
            .is_ok());
        assert!(d
            .access(0, &mut vec![1, 0], &hbm(true, true, 0, 4), A)
            .is_ok());
        // So does a plain read against an atomic of the same program's
        // other engine (the compiler must order those).
        let mut d = RaceDetector::default();
        assert!(d
            .access(0, &mut vec![1, 0], &hbm(true, true, 0, 4), A)
            .is_ok());
        assert!(d
            .access(1, &mut vec![0, 1], &hbm(false, false, 0, 4), B)
            .is_err());
    }

    #[test]
    fn atomics_order_the_accesses_around_them() {
        // Program 0 writes the data, then releases a lock (an atomic);
        // program 1 acquires it (an atomic on the same bytes), then reads.
        let mut d = RaceDetector::default();
        let mut vc0 = vec![1, 0];
        assert!(d.access(0, &mut vc0, &hbm(true, false, 64, 68), A).is_ok());
        vc0[0] = 2;
        assert!(d.access(0, &mut vc0, &hbm(true, true, 0, 4), A).is_ok());
        let mut vc1 = vec![0, 1];
        assert!(d.access(1, &mut vc1, &hbm(true, true, 0, 4), TILE1).is_ok());
        assert_eq!(vc1, vec![2, 1], "the acquire joined the release clock");
        vc1[1] = 2;
        assert!(d
            .access(1, &mut vc1, &hbm(false, false, 64, 68), TILE1)
            .is_ok());
        // Without the acquire, the read races with the write.
        let mut d = RaceDetector::default();
        assert!(d
            .access(0, &mut vec![1, 0], &hbm(true, false, 64, 68), A)
            .is_ok());
        assert!(d
            .access(1, &mut vec![0, 1], &hbm(false, false, 64, 68), TILE1)
            .is_err());
    }

    #[test]
    fn repeated_accesses_of_one_agent_keep_one_record() {
        let mut d = RaceDetector::default();
        for clock in 1..1000 {
            let mut vc = vec![clock, 0];
            assert!(d.access(0, &mut vc, &access(true, 0, 16), A).is_ok());
            assert!(d.access(0, &mut vc, &access(false, 4, 8), A).is_ok());
        }
        // The last write and the read after it.
        assert_eq!(d.len(), 2);
        // A newer write still races with an unordered reader elsewhere.
        assert!(d
            .access(1, &mut vec![0, 1], &access(false, 0, 4), B)
            .is_err());
    }

    #[test]
    fn indexed_elements_become_one_access_per_buffer() {
        use super::super::context::Effects;
        let elems = vec![
            (Region::Hbm(1), 8, 12),
            (Region::Hbm(0), 4, 8),
            (Region::Hbm(0), 0, 4),
            (Region::Hbm(0), 0, 4),
            (Region::Hbm(0), 16, 20),
        ];
        let mut fx = Effects::default();
        fx.indexed(elems.clone(), false, false);
        let ranges: Vec<_> = fx.accesses.iter().map(|a| a.ranges.clone()).collect();
        assert_eq!(ranges, vec![vec![(0, 8), (16, 20)], vec![(8, 12)]]);
        assert_eq!(fx.hbm_bytes, 20, "every element's bytes moved");
        // Atomics keep one range per element: release clocks are per element.
        let mut fx = Effects::default();
        fx.indexed(elems, true, true);
        assert_eq!(fx.accesses[0].ranges, vec![(0, 4), (4, 8), (16, 20)]);
        assert!(fx.accesses.iter().all(|a| a.atomic && a.write));
    }

    #[test]
    fn an_atomic_tile_releases_every_element() {
        use super::super::context::Effects;
        // Program 0 writes data, then applies an atomic to a tile of two
        // elements; program 1's atomic on the second element acquires it.
        let mut d = RaceDetector::default();
        let mut vc0 = vec![1, 0];
        assert!(d.access(0, &mut vc0, &hbm(true, false, 64, 68), A).is_ok());
        vc0[0] = 2;
        let mut tile = Effects::default();
        tile.indexed(
            vec![(Region::Hbm(0), 0, 4), (Region::Hbm(0), 4, 8)],
            true,
            true,
        );
        assert!(d.access(0, &mut vc0, &tile.accesses, A).is_ok());
        let mut vc1 = vec![0, 1];
        assert!(d.access(1, &mut vc1, &hbm(true, true, 4, 8), TILE1).is_ok());
        vc1[1] = 2;
        assert!(d
            .access(1, &mut vc1, &hbm(false, false, 64, 68), TILE1)
            .is_ok());
    }

    #[test]
    fn sorted_range_lists_overlap() {
        assert!(!overlaps(&vec![(0, 4), (8, 12)], &vec![(4, 8), (12, 16)]));
        assert!(overlaps(&vec![(0, 4), (8, 12)], &vec![(11, 13)]));
    }
}
