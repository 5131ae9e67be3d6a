//! Which cores may be able to make progress: the scheduler's sweep order
//! without visiting the cores that certainly cannot.
//!
//! The simulation's rule (docs/emulator.md, "Determinism") is: after the
//! events of a cycle, visit the cores in index order, and repeat such
//! sweeps until one makes no progress. A visit that makes no progress
//! changes nothing another visit could observe, and a core's visit can
//! only start succeeding after a change it depends on: its own event or
//! progress, a signal of one of its cluster's semaphores, or another
//! tile's barrier arrival. So the scheduler marks a core when such a
//! change happens and visits only marked cores, in the same order the
//! full sweeps would have reached them: a core marked while the sweep has
//! not yet passed it is visited in this sweep, any other in the next.
//! The sequence of visits that make progress — and with it every cycle
//! and bit — is the full sweeps' exactly.

/// The marked cores of the current and of the next sweep (bitsets).
pub struct ReadySet {
    this: Vec<u64>,
    next: Vec<u64>,
    /// Cores below this index have had their turn in the current sweep.
    pos: usize,
}

fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

/// The first set bit at or after `from`.
fn first_from(bits: &[u64], from: usize) -> Option<usize> {
    let mut w = from / 64;
    let mut word = *bits.get(w)? & (!0u64 << (from % 64));
    loop {
        if word != 0 {
            return Some(w * 64 + word.trailing_zeros() as usize);
        }
        w += 1;
        word = *bits.get(w)?;
    }
}

impl ReadySet {
    /// `n` cores, all marked for the first sweep.
    pub fn all(n: usize) -> ReadySet {
        let words = n.div_ceil(64);
        let mut this = vec![0u64; words];
        (0..n).for_each(|i| set(&mut this, i));
        ReadySet {
            this,
            next: vec![0; words],
            pos: 0,
        }
    }

    /// Core `i` may make progress: visit it where a full sweep would.
    pub fn mark(&mut self, i: usize) {
        if i >= self.pos {
            set(&mut self.this, i);
        } else {
            set(&mut self.next, i);
        }
    }

    /// The next core to visit, or `None` when a sweep would make no
    /// progress (the next sweep then starts from core 0).
    pub fn next_core(&mut self) -> Option<usize> {
        loop {
            if let Some(i) = first_from(&self.this, self.pos) {
                self.this[i / 64] &= !(1 << (i % 64));
                self.pos = i + 1;
                return Some(i);
            }
            self.pos = 0;
            if self.next.iter().all(|&w| w == 0) {
                return None;
            }
            std::mem::swap(&mut self.this, &mut self.next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_in_sweep_order() {
        let mut r = ReadySet::all(130);
        assert_eq!(r.next_core(), Some(0));
        assert_eq!(r.next_core(), Some(1));
        // Core 1 progressed (next sweep), core 0 too; core 129 is still
        // ahead in this sweep.
        r.mark(1);
        r.mark(0);
        let rest: Vec<usize> = std::iter::from_fn(|| r.next_core()).take(130).collect();
        assert_eq!(rest[..128], (2..130).collect::<Vec<_>>()[..]);
        assert_eq!(rest[128..], [0, 1]);
        assert_eq!(r.next_core(), None);
        r.mark(7);
        r.mark(3);
        assert_eq!(r.next_core(), Some(3));
        r.mark(3);
        r.mark(5);
        assert_eq!(r.next_core(), Some(5));
        assert_eq!(r.next_core(), Some(7));
        assert_eq!(r.next_core(), Some(3));
        assert_eq!(r.next_core(), None);
    }
}
