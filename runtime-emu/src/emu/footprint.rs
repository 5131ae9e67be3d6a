//! The distinct HBM bytes a launch reads and writes: its compulsory
//! traffic, which bounds the memory side of the roofline.
//!
//! `Stats::hbm_bytes` counts every byte every transfer moves, so a kernel
//! that loads the same panel once per program instance counts it once per
//! instance, and staging it once per cluster in CSRAM lowers the figure.
//! A roofline computed from those bytes measures the kernel *as compiled*
//! and falls when the compiler removes redundant traffic, although the
//! kernel got faster. The roofline bound is instead computed from the bytes
//! no schedule can avoid: every distinct byte read at least once plus every
//! distinct byte written at least once (`Stats::hbm_unique_bytes`).
//!
//! An access counts the way it counts in `hbm_bytes` — an atomic
//! read-modify-write as a write — so `hbm_unique_bytes ≤ hbm_bytes` always.

/// Distinct bytes per HBM buffer, for reads and writes separately.
#[derive(Debug, Default)]
pub struct Footprint {
    read: Vec<ByteSet>,
    written: Vec<ByteSet>,
}

impl Footprint {
    /// Records that bytes `[lo, hi)` of HBM buffer `buffer` were read (or
    /// written).
    pub fn mark(&mut self, buffer: usize, lo: u64, hi: u64, write: bool) {
        let sets = if write {
            &mut self.written
        } else {
            &mut self.read
        };
        if sets.len() <= buffer {
            sets.resize_with(buffer + 1, ByteSet::default);
        }
        sets[buffer].insert(lo, hi);
    }

    /// Distinct bytes read plus distinct bytes written.
    pub fn unique_bytes(&self) -> u64 {
        self.read
            .iter()
            .chain(&self.written)
            .map(ByteSet::len)
            .sum()
    }
}

/// A set of byte offsets, one bit each, grown on demand.
#[derive(Debug, Default)]
struct ByteSet {
    words: Vec<u64>,
}

impl ByteSet {
    fn insert(&mut self, lo: u64, hi: u64) {
        if lo >= hi {
            return;
        }
        let last_word = ((hi - 1) / 64) as usize;
        if self.words.len() <= last_word {
            self.words.resize(last_word + 1, 0);
        }
        let (first_word, first_bit) = ((lo / 64) as usize, lo % 64);
        let last_bit = (hi - 1) % 64;
        // Bits `first_bit..=last_bit` of one word, or a head, full middle
        // words and a tail.
        let from = |b: u64| u64::MAX << b;
        let upto = |b: u64| u64::MAX >> (63 - b);
        if first_word == last_word {
            self.words[first_word] |= from(first_bit) & upto(last_bit);
            return;
        }
        self.words[first_word] |= from(first_bit);
        for word in &mut self.words[first_word + 1..last_word] {
            *word = u64::MAX;
        }
        self.words[last_word] |= upto(last_bit);
    }

    fn len(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counts_each_byte_once_per_direction() {
        let mut f = Footprint::default();
        f.mark(0, 0, 100, false);
        f.mark(0, 50, 150, false);
        f.mark(0, 0, 10, true);
        f.mark(2, 63, 65, false);
        assert_eq!(f.unique_bytes(), 150 + 10 + 2);
    }

    proptest! {
        /// The bit set agrees with a plain set of offsets, across word
        /// boundaries and for empty ranges.
        #[test]
        fn matches_a_set_of_offsets(ranges in prop::collection::vec((0u64..300, 0u64..70), 0..20)) {
            let mut set = ByteSet::default();
            let mut reference = std::collections::BTreeSet::new();
            for (lo, len) in ranges {
                set.insert(lo, lo + len);
                reference.extend(lo..lo + len);
            }
            prop_assert_eq!(set.len(), reference.len() as u64);
        }
    }
}
