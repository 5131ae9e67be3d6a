//! One SRAM unit (a cluster's CSRAM, a tile's TSRAM or accumulators):
//! zeroed bytes of a fixed capacity, allocated on first write.
//!
//! Most launches touch only some units, and zeroing every unit of the chip
//! up front costs more than a small launch's work. Until its first write a
//! unit reads as a shared all-zero slice. The bytes of a dropped unit go to
//! a small process-wide pool and are zeroed again when a later unit of the
//! same capacity is first written: fresh pages would cost a page fault
//! each on first touch, more than the `memset`.

use std::sync::Mutex;

/// The shared zeros untouched units read as (in `.bss`: the OS maps its
/// pages only when read, all to one zero page). Larger units are allocated
/// up front.
static ZEROS: [u8; 1 << 24] = [0; 1 << 24];

/// Recycled unit bytes (any contents; zeroed on reuse).
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The pool keeps at most this many bytes.
const POOL_BYTES: usize = 1 << 26;

/// A zero-initialised SRAM unit of `capacity` bytes.
#[derive(Debug)]
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
            self.bytes = zeroed(self.capacity);
        }
        &mut self.bytes
    }
}

impl Drop for Sram {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        if bytes.is_empty() {
            return;
        }
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let held: usize = pool.iter().map(Vec::len).sum();
        if held + bytes.len() <= POOL_BYTES {
            pool.push(bytes);
        }
    }
}

/// `len` zero bytes, recycled from the pool when it holds a buffer of
/// that length.
fn zeroed(len: usize) -> Vec<u8> {
    let recycled = {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.iter()
            .position(|b| b.len() == len)
            .map(|i| pool.swap_remove(i))
    };
    match recycled {
        Some(mut bytes) => {
            bytes.fill(0);
            bytes
        }
        None => vec![0; len],
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
        drop(s);
        let mut again = Sram::new(8);
        assert_eq!(again.bytes_mut(), &[0; 8], "recycled bytes are zeroed");
        let big = Sram::new(ZEROS.len() + 1);
        assert_eq!(big.bytes().len(), ZEROS.len() + 1);
    }
}
