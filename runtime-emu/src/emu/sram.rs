//! One SRAM unit (a cluster's CSRAM, a tile's TSRAM or accumulators):
//! zeroed bytes of a fixed capacity, allocated on first write.
//!
//! Most launches touch only some units, and zeroing every unit of the chip
//! up front (and freeing it afterwards) costs more than a small launch's
//! work. Until its first write a unit reads as a shared all-zero slice.

/// The shared zeros untouched units read as (in `.bss`: the OS maps its
/// pages only when read, all to one zero page). Larger units are allocated
/// up front.
static ZEROS: [u8; 1 << 24] = [0; 1 << 24];

/// A zero-initialised SRAM unit of `capacity` bytes.
#[derive(Clone, Debug)]
pub struct Sram {
    /// Empty until the first write, then exactly `capacity` bytes.
    bytes: Vec<u8>,
    capacity: usize,
}

impl Sram {
    pub fn new(capacity: usize) -> Sram {
        let bytes = if capacity > ZEROS.len() {
            vec![0; capacity]
        } else {
            Vec::new()
        };
        Sram { bytes, capacity }
    }

    /// The capacity in bytes.
    pub fn len(&self) -> usize {
        self.capacity
    }

    pub fn is_empty(&self) -> bool {
        self.capacity == 0
    }

    /// The contents.
    pub fn bytes(&self) -> &[u8] {
        if self.bytes.len() == self.capacity {
            &self.bytes
        } else {
            &ZEROS[..self.capacity]
        }
    }

    /// The contents for writing (allocating them on first use).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        if self.bytes.len() != self.capacity {
            self.bytes = vec![0; self.capacity];
        }
        &mut self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_zero_until_written() {
        let mut s = Sram::new(8);
        assert_eq!(s.bytes(), &[0; 8]);
        s.bytes_mut()[3] = 7;
        assert_eq!(s.bytes(), &[0, 0, 0, 7, 0, 0, 0, 0]);
        let big = Sram::new(ZEROS.len() + 1);
        assert_eq!(big.bytes().len(), ZEROS.len() + 1);
    }
}
