//! Synchronisation: semaphore waits derived from the bytes each instruction
//! reads and writes.
//!
//! Scheme (docs/isa.md "Execution model", "Semaphores"):
//!
//! - one tile semaphore per engine (`t0` DMA, `t1` TTU, `t2` TVP); every
//!   engine instruction signals its engine's semaphore on completion, so
//!   after `n` completions the semaphore is `n`;
//! - the CP keeps an issue counter per engine in a reserved register
//!   (`regalloc::COUNTERS`), incremented right after each dispatch;
//! - a [`Scoreboard`] remembers, per byte range, the engine accesses since
//!   the last flush with the engine's static issue number. An instruction
//!   waits for the last writers of what it reads and for the writers and
//!   readers of what it writes — on other engines only, since one engine
//!   runs its queue in order — as `wait=[tE >= rcE - k]`, `k` being the
//!   number of instructions issued on `E` after the producer (known
//!   statically because the scoreboard restarts at every control-flow
//!   boundary but a `for` back edge, where each iteration issues the same
//!   instructions). CP scalar loads and stores wait the same way; the CP never
//!   needs to be waited for, since it dispatches in program order after its
//!   own accesses.
//! - at control-flow boundaries (before and after a loop, before a branch,
//!   at the end of each branch) [`Scoreboard::flush`] waits for every
//!   engine with outstanding work and clears the board. A `for` body's
//!   back edge is not a flush: the body starts from the board its own end
//!   leaves (see `Emitter::steady_state_body`), so an iteration's DMA can
//!   run while the previous iteration computes.
//!
//! Buffers the allocator reuses for different values are covered because
//! the board works on byte ranges, not on buffer identities.

use maiac_backend::isa::{Engine, Operand, SemRef, Space, Sync};

use crate::sched::regalloc::COUNTERS;

/// A byte range of one memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub space: Space,
    pub lo: i128,
    pub hi: i128,
}

impl Range {
    fn overlaps(&self, other: &Range) -> bool {
        self.space == other.space && self.lo < other.hi && other.lo < self.hi
    }
}

/// The index of an asynchronous engine (DMA, TTU, TVP).
fn slot(engine: Engine) -> Option<usize> {
    match engine {
        Engine::Cp => None,
        Engine::Dma => Some(0),
        Engine::Ttu => Some(1),
        Engine::Tvp => Some(2),
    }
}

/// The semaphore an engine signals.
pub fn semaphore(engine: Engine) -> Option<SemRef> {
    slot(engine).map(|s| SemRef::tile(s as u16))
}

#[derive(Clone, Debug)]
struct Access {
    range: Range,
    engine: usize,
    /// The engine's issue number (1-based, since the last flush).
    seq: u32,
    write: bool,
}

/// Engine accesses since the last flush.
#[derive(Clone, Debug, Default)]
pub struct Scoreboard {
    accesses: Vec<Access>,
    /// Instructions issued per engine since the last flush.
    issued: [u32; 3],
    /// `known[e][x]`: engine `e` (or the CP, index 3) already waited for
    /// engine `x`'s instruction number `known[e][x]`; the engine runs in
    /// order, so later instructions need not wait again.
    known: [[u32; 3]; 4],
    /// How many times the board was cleared with work outstanding: two
    /// boards with the same generation count issues from the same point.
    /// Only compared for equality, and counted modulo 2^64: a loop body is
    /// emitted twice (a dry run finds its steady state), so the count can
    /// grow exponentially with the loop nesting depth.
    generation: u64,
}

impl Scoreboard {
    /// The waits (and signal) an instruction of `engine` accessing `reads`
    /// and `writes` needs.
    pub fn acquire(&mut self, engine: Engine, reads: &[Range], writes: &[Range]) -> Sync {
        let me = slot(engine);
        let mut need = [0u32; 3];
        for a in &self.accesses {
            if Some(a.engine) == me {
                continue;
            }
            let conflict = writes.iter().any(|w| w.overlaps(&a.range))
                || a.write && reads.iter().any(|r| r.overlaps(&a.range));
            if conflict {
                need[a.engine] = need[a.engine].max(a.seq);
            }
        }
        let known = &mut self.known[me.unwrap_or(3)];
        let mut sync = Sync::none();
        for (x, &seq) in need.iter().enumerate() {
            if seq == 0 || seq <= known[x] {
                continue;
            }
            known[x] = seq;
            let behind = i64::from(self.issued[x] - seq);
            sync = sync.wait(
                SemRef::tile(x as u16),
                Operand::reg_plus(COUNTERS[x], -behind),
            );
        }
        if let Some(sem) = semaphore(engine) {
            sync = sync.signal(sem);
        }
        sync
    }

    /// Records a dispatched engine instruction (CP accesses are ordered by
    /// program order and need no record).
    pub fn record(&mut self, engine: Engine, reads: &[Range], writes: &[Range]) {
        let Some(e) = slot(engine) else { return };
        self.issued[e] += 1;
        let seq = self.issued[e];
        // A write supersedes older accesses it covers entirely on the same
        // engine; keeping the board short keeps acquire cheap.
        for w in writes {
            self.accesses.retain(|a| {
                !(a.engine == e
                    && a.range.space == w.space
                    && w.lo <= a.range.lo
                    && a.range.hi <= w.hi)
            });
        }
        for (list, write) in [(reads, false), (writes, true)] {
            for &range in list {
                self.accesses.push(Access {
                    range,
                    engine: e,
                    seq,
                    write,
                });
            }
        }
    }

    /// Whether no engine work is outstanding (right after a flush).
    pub fn is_empty(&self) -> bool {
        self.issued == [0; 3]
    }

    /// The waits of a flush (`None` when nothing is outstanding); clears
    /// the board.
    pub fn flush(&mut self) -> Option<Sync> {
        let mut sync = Sync::none();
        for (x, &n) in self.issued.iter().enumerate() {
            // Engine x's instructions up to `known` are already complete
            // from the CP's point of view only if the CP waited for them.
            if n > 0 && self.known[3][x] < n {
                sync = sync.wait(SemRef::tile(x as u16), Operand::reg(COUNTERS[x]));
            }
        }
        if !self.is_empty() {
            *self = Scoreboard {
                generation: self.generation.wrapping_add(1),
                ..Scoreboard::default()
            };
        }
        (!sync.waits.is_empty()).then_some(sync)
    }

    /// Instructions issued on each asynchronous engine (DMA, TTU, TVP)
    /// since the last flush.
    pub fn issued(&self) -> [u32; 3] {
        self.issued
    }

    /// How many times the board was cleared with work outstanding.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The same board with its flush count set to `generation`.
    pub fn with_generation(self, generation: u64) -> Scoreboard {
        Scoreboard { generation, ..self }
    }

    /// Whether both boards count issues from the same flush, so that
    /// padding them to equal counts makes them [`Scoreboard::join`]able.
    pub fn same_origin(&self, other: &Scoreboard) -> bool {
        self.generation == other.generation
    }

    /// The board where two paths meet when they do not count issues from
    /// the same point (an arm flushed, e.g. around a loop; a loop's exit,
    /// where the back edge meets the flushed entry). Waits are
    /// relative to the issue counters, so an access is described by its
    /// *distance*: how many instructions its engine issued after it. The
    /// joined board issues `max` of both arms' counts per engine and puts
    /// every access of either arm at its own distance from the join. On
    /// the path it came from a wait for it is exact; on the other path the
    /// same distance names some instruction that was issued too (or none,
    /// a wait that holds at once), so waiting for it is only conservative,
    /// and that path's own accesses are on the board at their distances.
    /// What an engine already waited for is kept only as far as both arms
    /// waited for it (the larger distance).
    ///
    /// Sound only where the code after the join runs once per arrival:
    /// not inside a `for` body, whose steady state assumes every iteration
    /// issues the same instructions after its last flush.
    pub fn join_rebased(self, other: Scoreboard) -> Scoreboard {
        let issued = [0, 1, 2].map(|x| self.issued[x].max(other.issued[x]));
        let mut accesses: Vec<Access> = Vec::new();
        for board in [&self, &other] {
            for a in &board.accesses {
                let distance = board.issued[a.engine] - a.seq;
                let rebased = Access {
                    seq: issued[a.engine] - distance,
                    ..a.clone()
                };
                let dup = accesses.iter().any(|b| {
                    b.range == rebased.range
                        && b.engine == rebased.engine
                        && b.seq == rebased.seq
                        && b.write == rebased.write
                });
                if !dup {
                    accesses.push(rebased);
                }
            }
        }
        let mut known = [[0u32; 3]; 4];
        for (e, row) in known.iter_mut().enumerate() {
            for (x, k) in row.iter_mut().enumerate() {
                let distance =
                    |b: &Scoreboard| (b.known[e][x] > 0).then(|| b.issued[x] - b.known[e][x]);
                if let (Some(d1), Some(d2)) = (distance(&self), distance(&other)) {
                    *k = issued[x].saturating_sub(d1.max(d2));
                }
            }
        }
        Scoreboard {
            accesses,
            issued,
            known,
            generation: self.generation.max(other.generation).wrapping_add(1),
        }
    }

    /// The board where two paths meet (the arms of a branch), both padded
    /// to the same issue counts: every access of either path (waiting for
    /// the other path's instruction at the same issue number is only
    /// conservative, since it was issued too), and only what both paths
    /// already waited for.
    pub fn join(mut self, other: Scoreboard) -> Scoreboard {
        debug_assert!(self.same_origin(&other) && self.issued == other.issued);
        for a in other.accesses {
            let dup = self.accesses.iter().any(|b| {
                b.range == a.range && b.engine == a.engine && b.seq == a.seq && b.write == a.write
            });
            if !dup {
                self.accesses.push(a);
            }
        }
        for (mine, theirs) in self.known.iter_mut().zip(other.known) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m = (*m).min(t);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tsram(lo: i128, hi: i128) -> Range {
        Range {
            space: Space::Tsram,
            lo,
            hi,
        }
    }

    /// The wait offsets (`tE >= rcE + offset`) of an instruction, by engine.
    fn behind(sync: &Sync) -> Vec<(u16, i64)> {
        sync.waits
            .iter()
            .map(|w| (w.sem.index, w.value.imm))
            .collect()
    }

    #[test]
    fn rebased_join_waits_for_each_arms_access_at_its_distance() {
        // Arm A: two DMA loads into [0, 64) then [64, 128).
        let mut a = Scoreboard::default();
        a.record(Engine::Dma, &[], &[tsram(0, 64)]);
        a.record(Engine::Dma, &[], &[tsram(64, 128)]);
        // Arm B: flushed (a loop), then one DMA load into [0, 64) and a
        // TVP op reading it.
        let mut b = Scoreboard::default();
        b.record(Engine::Dma, &[], &[tsram(512, 576)]);
        b.flush();
        b.record(Engine::Dma, &[], &[tsram(0, 64)]);
        let _ = b.acquire(Engine::Tvp, &[tsram(0, 64)], &[tsram(256, 320)]);
        b.record(Engine::Tvp, &[tsram(0, 64)], &[tsram(256, 320)]);
        assert!(!a.same_origin(&b));
        let mut joined = a.join_rebased(b);
        // Reading [0, 64): A's load is 1 DMA back, B's 0 back — wait for
        // the newest (exact on B, conservative on A).
        let read_first = joined.acquire(Engine::Ttu, &[tsram(0, 64)], &[]);
        assert_eq!(behind(&read_first), vec![(0, 0)]);
        // Reading [64, 128): only A wrote it, with its newest DMA, which
        // the TTU just waited for.
        let read_second = joined.acquire(Engine::Ttu, &[tsram(64, 128)], &[]);
        assert_eq!(behind(&read_second), vec![]);
        // Overwriting B's TVP output waits for that TVP op.
        let overwrite = joined.acquire(Engine::Dma, &[], &[tsram(256, 320)]);
        assert_eq!(behind(&overwrite), vec![(2, 0)]);
        // A later flush waits for every engine with work outstanding.
        let flush = joined.flush().expect("work is outstanding");
        let mut sems: Vec<u16> = flush.waits.iter().map(|w| w.sem.index).collect();
        sems.sort();
        assert_eq!(sems, vec![0, 2]);
    }

    #[test]
    fn rebased_join_keeps_distances_not_issue_numbers() {
        // Arm A: the write of [64, 128) has one DMA issued after it.
        let mut a = Scoreboard::default();
        a.record(Engine::Dma, &[], &[tsram(64, 128)]);
        a.record(Engine::Dma, &[], &[tsram(0, 64)]);
        // Arm B issued three DMAs since its flush, none touching it.
        let mut b = Scoreboard::default();
        b.record(Engine::Dma, &[], &[tsram(1024, 1088)]);
        b.flush();
        for _ in 0..3 {
            b.record(Engine::Dma, &[], &[tsram(2048, 2112)]);
        }
        let mut joined = a.join_rebased(b);
        let read = joined.acquire(Engine::Ttu, &[tsram(64, 128)], &[]);
        assert_eq!(behind(&read), vec![(0, -1)]);
        // Once waited for, a later TTU op need not wait again.
        let again = joined.acquire(Engine::Ttu, &[tsram(64, 128)], &[]);
        assert_eq!(behind(&again), vec![]);
    }
}
