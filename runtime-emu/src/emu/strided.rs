//! Strided element sets: the common shape of views and DMA boxes, with
//! tight nested loops for reading and writing them and the byte ranges
//! they touch (for bounds and race checks).

use super::error::{ExecResult, Fault};
use super::memory::{read_bits, write_bits, Memory, Place, Region};

/// Up to four dimensions of elements at `base_bit + bits × Σ idx·stride`.
#[derive(Clone, Debug)]
pub struct Strided {
    pub region: Region,
    /// Bit address of element 0 inside the region.
    pub base_bit: i128,
    pub bits: u32,
    /// Padded to rank 4 with leading 1s.
    pub shape: [u32; 4],
    pub strides: [i64; 4],
}

/// Byte ranges `[lo, hi)` an access touches, sorted; used by the race detector.
pub type Ranges = Vec<(u64, u64)>;

/// More runs than this are summarised by their overall span.
const MAX_RUNS: usize = 4096;

impl Strided {
    /// Builds a strided set at `place` and bounds-checks its whole span.
    pub fn new(
        mem: &Memory,
        place: Place,
        bits: u32,
        shape: &[u32],
        strides: &[i64],
    ) -> ExecResult<Strided> {
        if shape.len() > 4 || strides.len() != shape.len() {
            return Err(Fault::new(format!(
                "a view of rank {} with {} strides is not valid (rank ≤ 4, one stride per dimension)",
                shape.len(),
                strides.len()
            )));
        }
        let pad = 4 - shape.len();
        let mut s = Strided {
            region: place.region,
            base_bit: place.offset * 8,
            bits,
            shape: [1; 4],
            strides: [0; 4],
        };
        s.shape[pad..].copy_from_slice(shape);
        s.strides[pad..].copy_from_slice(strides);
        if let Some((lo, hi)) = s.bit_span() {
            let lo_byte = lo.div_euclid(8) - place.offset;
            let hi_byte = (hi + 7).div_euclid(8) - place.offset;
            mem.check_span(place, lo_byte, hi_byte)?;
        }
        Ok(s)
    }

    pub fn len(&self) -> usize {
        self.shape.iter().map(|&d| d as usize).product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Absolute `[lo, hi)` bit span, `None` when empty.
    fn bit_span(&self) -> Option<(i128, i128)> {
        if self.shape.contains(&0) {
            return None;
        }
        let (mut lo, mut hi) = (0i128, 0i128);
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            let reach = i128::from(d - 1) * i128::from(s);
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        let bits = i128::from(self.bits);
        Some((self.base_bit + lo * bits, self.base_bit + (hi + 1) * bits))
    }

    /// Calls `f(bit_offset)` for every element in row-major order.
    #[inline]
    pub fn for_each_bit(&self, mut f: impl FnMut(u64)) {
        let [d0, d1, d2, d3] = self.shape;
        let b = i128::from(self.bits);
        let st: [i128; 4] = self.strides.map(|s| i128::from(s) * b);
        for i0 in 0..d0 {
            let o0 = self.base_bit + i128::from(i0) * st[0];
            for i1 in 0..d1 {
                let o1 = o0 + i128::from(i1) * st[1];
                for i2 in 0..d2 {
                    let o2 = o1 + i128::from(i2) * st[2];
                    for i3 in 0..d3 {
                        f((o2 + i128::from(i3) * st[3]) as u64);
                    }
                }
            }
        }
    }

    /// Reads every element (row-major) into `out`.
    pub fn read(&self, mem: &Memory, out: &mut Vec<u64>) {
        out.clear();
        if self.len() == 0 {
            // An empty box (a fully masked-off tile) touches no memory; its
            // base may lie past the end of the buffer.
            return;
        }
        out.reserve(self.len());
        let bytes = mem.bytes(self.region);
        let bits = self.bits;
        if let Some(start) = self.contiguous_byte_start() {
            let n = self.len();
            match bits {
                32 => {
                    out.extend(
                        bytes[start..start + 4 * n]
                            .chunks_exact(4)
                            .map(|c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
                    );
                    return;
                }
                16 => {
                    out.extend(
                        bytes[start..start + 2 * n]
                            .chunks_exact(2)
                            .map(|c| u64::from(u16::from_le_bytes([c[0], c[1]]))),
                    );
                    return;
                }
                8 => {
                    out.extend(bytes[start..start + n].iter().map(|&b| u64::from(b)));
                    return;
                }
                _ => {}
            }
        }
        if let Some(rows) = self.dense_rows() {
            let row_bytes = self.shape[3] as usize * (bits / 8) as usize;
            for start in rows {
                let row = &bytes[start..start + row_bytes];
                match bits {
                    32 => out.extend(
                        row.chunks_exact(4)
                            .map(|c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
                    ),
                    16 => out.extend(
                        row.chunks_exact(2)
                            .map(|c| u64::from(u16::from_le_bytes([c[0], c[1]]))),
                    ),
                    8 => out.extend(row.iter().map(|&b| u64::from(b))),
                    _ => out.extend(row.chunks_exact(8).map(|c| {
                        let mut w = [0u8; 8];
                        w.copy_from_slice(c);
                        u64::from_le_bytes(w)
                    })),
                }
            }
            return;
        }
        self.for_each_bit(|bit| out.push(read_bits(bytes, bit, bits)));
    }

    /// Byte starts of each innermost row when rows are dense and
    /// byte-aligned (the common DMA and view shape), for row-wise copies.
    fn dense_rows(&self) -> Option<Vec<usize>> {
        if !self.bits.is_multiple_of(8)
            || self.base_bit % 8 != 0
            || self.strides[3] != 1
            || self.is_empty()
        {
            return None;
        }
        let outer = Strided {
            shape: [self.shape[0], self.shape[1], self.shape[2], 1],
            ..self.clone()
        };
        let mut rows = Vec::with_capacity(outer.len());
        outer.for_each_bit(|bit| rows.push((bit / 8) as usize));
        Some(rows)
    }

    /// Writes `values` (row-major, one per element) into the elements.
    pub fn write(&self, mem: &mut Memory, values: &[u64]) {
        if self.len() == 0 {
            return;
        }
        let bits = self.bits;
        let bytes = mem.bytes_mut(self.region);
        if let (Some(start), 32) = (self.contiguous_byte_start(), bits) {
            for (c, &v) in bytes[start..start + 4 * values.len()]
                .chunks_exact_mut(4)
                .zip(values)
            {
                c.copy_from_slice(&(v as u32).to_le_bytes());
            }
            return;
        }
        if let Some(rows) = self.dense_rows() {
            let width = (bits / 8) as usize;
            let row_len = self.shape[3] as usize;
            for (start, chunk) in rows.into_iter().zip(values.chunks(row_len)) {
                let row = &mut bytes[start..start + row_len * width];
                for (dst, &v) in row.chunks_exact_mut(width).zip(chunk) {
                    dst.copy_from_slice(&v.to_le_bytes()[..width]);
                }
            }
            return;
        }
        let mut it = values.iter();
        self.for_each_bit(|bit| {
            if let Some(&v) = it.next() {
                write_bits(bytes, bit, bits, v);
            }
        });
    }

    /// The first byte when the elements are dense, byte-aligned and row-major.
    fn contiguous_byte_start(&self) -> Option<usize> {
        if !self.bits.is_multiple_of(8) || self.base_bit % 8 != 0 {
            return None;
        }
        let mut want = 1i64;
        for d in (0..4).rev() {
            if self.shape[d] != 1 && self.strides[d] != want {
                return None;
            }
            want *= i64::from(self.shape[d]);
        }
        Some((self.base_bit / 8) as usize)
    }

    /// The byte ranges touched: one run per innermost row when rows are
    /// dense, otherwise (or past [`MAX_RUNS`]) the overall span.
    pub fn ranges(&self) -> Ranges {
        let Some((lo, hi)) = self.bit_span() else {
            return Vec::new();
        };
        let span = vec![(lo.div_euclid(8) as u64, (hi + 7).div_euclid(8) as u64)];
        let rows = self.len() / self.shape[3].max(1) as usize;
        if self.strides[3] != 1 || rows > MAX_RUNS || rows <= 1 {
            return span;
        }
        let row_bits = i128::from(self.shape[3]) * i128::from(self.bits);
        let mut runs = Vec::with_capacity(rows);
        let inner = Strided {
            shape: [self.shape[0], self.shape[1], self.shape[2], 1],
            ..self.clone()
        };
        inner.for_each_bit(|bit| {
            let b = i128::from(bit);
            runs.push(((b / 8) as u64, ((b + row_bits + 7) / 8) as u64));
        });
        runs.sort_unstable();
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maiac_backend::machine::builtin;

    fn memory() -> Memory {
        Memory::new(&builtin("tiny").unwrap(), vec![vec![0; 64]])
    }

    #[test]
    fn strided_and_packed_round_trip() {
        let mut mem = memory();
        let place = mem.place(maiac_backend::isa::Space::Tsram, 1, 16).unwrap();
        // A transposed 3×2 view of f32 and a packed fp4 row.
        let s = Strided::new(&mem, place, 32, &[3, 2], &[1, 3]).unwrap();
        s.write(&mut mem, &[1, 2, 3, 4, 5, 6]);
        let mut out = Vec::new();
        s.read(&mem, &mut out);
        assert_eq!(out, vec![1, 2, 3, 4, 5, 6]);
        let dense = Strided::new(&mem, place, 32, &[6], &[1]).unwrap();
        dense.read(&mem, &mut out);
        assert_eq!(out, vec![1, 3, 5, 2, 4, 6]);
        let nib = Strided::new(&mem, place, 4, &[3], &[1]).unwrap();
        nib.write(&mut mem, &[0xA, 0xB, 0xC]);
        assert_eq!(mem.tsram[1][16], 0xBA);
        assert_eq!(mem.tsram[1][17] & 0xF, 0xC);
        assert_eq!(nib.ranges(), vec![(16, 18)]);
    }

    #[test]
    fn out_of_capacity_views_are_faults() {
        let mem = memory();
        let cap = mem.tsram[0].len() as u64;
        let place = mem
            .place(maiac_backend::isa::Space::Tsram, 0, cap - 8)
            .unwrap();
        assert!(Strided::new(&mem, place, 32, &[2], &[1]).is_ok());
        let err = Strided::new(&mem, place, 32, &[3], &[1]).unwrap_err();
        assert!(err.0.contains("capacity"), "{}", err.0);
        let neg = mem
            .place(maiac_backend::isa::Space::Tsram, 0, (-4i64) as u64)
            .unwrap();
        assert!(Strided::new(&mem, neg, 32, &[1], &[1]).is_err());
        assert!(mem.place(maiac_backend::isa::Space::Hbm, 0, 12).is_err());
    }

    #[test]
    fn row_ranges_skip_gaps() {
        let mem = memory();
        let place = mem.place(maiac_backend::isa::Space::Tsram, 0, 0).unwrap();
        let s = Strided::new(&mem, place, 32, &[2, 2], &[4, 1]).unwrap();
        assert_eq!(s.ranges(), vec![(0, 8), (16, 24)]);
    }
}
