//! Strided element sets: the common shape of views and DMA boxes, with
//! tight nested loops for reading and writing them and the byte ranges
//! they touch (for bounds and race checks).

use super::error::{ExecResult, Fault};
use std::ops::Range;

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

/// Equal-length byte runs, one per innermost row, in row-major order.
pub struct ByteRows {
    starts: Vec<usize>,
    /// Bytes per run.
    len: usize,
}

impl ByteRows {
    /// The runs' byte ranges inside the region, in element order.
    pub fn ranges(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        self.starts.iter().map(|&s| s..s + self.len)
    }
}

/// Copies the bytes of runs `from` of `src` into runs `to` of `dst`, in
/// order (the runs may split the bytes differently; they hold as many).
fn copy_runs(
    src: &[u8],
    mut from: impl Iterator<Item = Range<usize>>,
    dst: &mut [u8],
    mut to: impl Iterator<Item = Range<usize>>,
) {
    let (Some(mut s), Some(mut d)) = (from.next(), to.next()) else {
        return;
    };
    loop {
        let n = s.len().min(d.len());
        dst[d.start..d.start + n].copy_from_slice(&src[s.start..s.start + n]);
        s.start += n;
        d.start += n;
        if s.is_empty() {
            match from.next() {
                Some(next) => s = next,
                None => return,
            }
        }
        if d.is_empty() {
            match to.next() {
                Some(next) => d = next,
                None => return,
            }
        }
    }
}

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

    /// Reads every element (row-major) into `out`, one `u64` each.
    pub fn read(&self, mem: &Memory, out: &mut Vec<u64>) {
        out.clear();
        if self.is_empty() {
            // An empty box (a fully masked-off tile) touches no memory; its
            // base may lie past the end of the buffer.
            return;
        }
        out.reserve(self.len());
        let bytes = mem.bytes(self.region);
        let bits = self.bits;
        if let Some(rows) = self.byte_rows() {
            for range in rows.ranges() {
                let row = &bytes[range];
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

    /// Writes `values` (row-major, one per element) into the elements.
    pub fn write(&self, mem: &mut Memory, values: &[u64]) {
        if self.is_empty() {
            return;
        }
        let bits = self.bits;
        let bytes = mem.bytes_mut(self.region);
        if let Some(rows) = self.byte_rows() {
            let per_row = rows.len / (bits / 8) as usize;
            for (range, chunk) in rows.ranges().zip(values.chunks(per_row)) {
                let row = &mut bytes[range];
                // Fixed-width copies: a `copy_from_slice` of a run-time
                // width becomes a `memmove` call per element.
                match bits {
                    32 => {
                        for (dst, &v) in row.chunks_exact_mut(4).zip(chunk) {
                            dst.copy_from_slice(&(v as u32).to_le_bytes());
                        }
                    }
                    16 => {
                        for (dst, &v) in row.chunks_exact_mut(2).zip(chunk) {
                            dst.copy_from_slice(&(v as u16).to_le_bytes());
                        }
                    }
                    8 => {
                        for (dst, &v) in row.iter_mut().zip(chunk) {
                            *dst = v as u8;
                        }
                    }
                    _ => {
                        for (dst, &v) in row.chunks_exact_mut(8).zip(chunk) {
                            dst.copy_from_slice(&v.to_le_bytes());
                        }
                    }
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

    /// Whether the elements are whole bytes in dense innermost rows, so
    /// [`Strided::read_bytes`] and [`Strided::write_bytes`] apply.
    pub fn is_byte_dense(&self) -> bool {
        self.bits.is_multiple_of(8)
            && self.base_bit % 8 == 0
            && self.strides[3] == 1
            && !self.is_empty()
    }

    /// Appends the elements' stored bytes (row-major, packed, little
    /// endian) to `out`: one `memcpy` per innermost row. Returns `false`
    /// (and appends nothing) unless [`Strided::is_byte_dense`].
    pub fn read_bytes(&self, mem: &Memory, out: &mut Vec<u8>) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(rows) = self.byte_rows() else {
            return false;
        };
        let bytes = mem.bytes(self.region);
        out.reserve(rows.starts.len() * rows.len);
        for range in rows.ranges() {
            out.extend_from_slice(&bytes[range]);
        }
        true
    }

    /// Stores packed row-major element bytes (as [`Strided::read_bytes`]
    /// gives them) into the elements: one `memcpy` per innermost row.
    /// Returns `false` (and writes nothing) unless [`Strided::is_byte_dense`].
    pub fn write_bytes(&self, mem: &mut Memory, data: &[u8]) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(rows) = self.byte_rows() else {
            return false;
        };
        let bytes = mem.bytes_mut(self.region);
        for (range, chunk) in rows.ranges().zip(data.chunks(rows.len)) {
            bytes[range][..chunk.len()].copy_from_slice(chunk);
        }
        true
    }

    /// Copies the elements' bytes into `dst` (as many elements, the same
    /// width) straight from memory to memory, when both are
    /// [`Strided::is_byte_dense`] and in different memories; otherwise
    /// returns `false` and copies nothing.
    pub fn copy_to(&self, mem: &mut Memory, dst: &Strided) -> bool {
        if self.region == dst.region || self.len() != dst.len() || self.bits != dst.bits {
            return false;
        }
        if self.is_empty() {
            return true;
        }
        let (Some(from), Some(to)) = (self.byte_rows(), dst.byte_rows()) else {
            return false;
        };
        let Some((src, dst)) = mem.src_and_dst(self.region, dst.region) else {
            return false;
        };
        copy_runs(src, from.ranges(), dst, to.ranges());
        true
    }

    /// The innermost rows as byte runs when the elements are whole bytes
    /// with unit inner stride (the common DMA and view shape); a fully
    /// contiguous set is a single run.
    pub fn byte_rows(&self) -> Option<ByteRows> {
        if !self.is_byte_dense() {
            return None;
        }
        let width = (self.bits / 8) as usize;
        if self.is_contiguous() {
            return Some(ByteRows {
                starts: vec![(self.base_bit / 8) as usize],
                len: self.len() * width,
            });
        }
        let outer = Strided {
            shape: [self.shape[0], self.shape[1], self.shape[2], 1],
            ..self.clone()
        };
        let mut starts = Vec::with_capacity(outer.len());
        outer.for_each_bit(|bit| starts.push((bit / 8) as usize));
        Some(ByteRows {
            starts,
            len: self.shape[3] as usize * width,
        })
    }

    /// Whether the elements are dense and row-major.
    fn is_contiguous(&self) -> bool {
        let mut want = 1i64;
        for d in (0..4).rev() {
            if self.shape[d] != 1 && self.strides[d] != want {
                return false;
            }
            want *= i64::from(self.shape[d]);
        }
        true
    }

    /// The byte ranges touched, sorted and merged: one run per row along
    /// the dimension of unit stride (whatever its position and the strides'
    /// signs), or one per element when no stride is 1; past [`MAX_RUNS`]
    /// runs, the overall span (a conservative over-approximation).
    pub fn ranges(&self) -> Ranges {
        let Some((lo, hi)) = self.bit_span() else {
            return Vec::new();
        };
        let span = vec![(lo.div_euclid(8) as u64, (hi + 7).div_euclid(8) as u64)];
        let (run_elements, starts) = self.run_starts();
        let count = starts.len();
        if count <= 1 || count > MAX_RUNS {
            return span;
        }
        let mut runs = Vec::with_capacity(count);
        Self::each_run(&starts, run_elements, self.bits, |a, b| runs.push((a, b)));
        runs.sort_unstable();
        let mut merged: Ranges = Vec::with_capacity(runs.len());
        for (a, b) in runs {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        merged
    }

    /// Calls `f(lo, hi)` for the byte range of every run of the set —
    /// exactly, however many runs there are (unlike [`Strided::ranges`]),
    /// unsorted, and overlapping where the set's elements do. Used for the
    /// distinct HBM bytes a launch touches (`emu::footprint`).
    pub fn for_each_byte_run(&self, f: impl FnMut(u64, u64)) {
        if self.is_empty() {
            return;
        }
        let (run_elements, starts) = self.run_starts();
        Self::each_run(&starts, run_elements, self.bits, f);
    }

    /// The set as runs: elements per run (the whole innermost row when its
    /// stride is 1, else 1) and the set of the runs' first elements.
    fn run_starts(&self) -> (u32, Strided) {
        let canon = self.normalised();
        let row = canon.shape[3];
        if canon.strides[3] == 1 || row == 1 {
            let outer = Strided {
                shape: [canon.shape[0], canon.shape[1], canon.shape[2], 1],
                ..canon
            };
            (row, outer)
        } else {
            (1, canon)
        }
    }

    fn each_run(starts: &Strided, run_elements: u32, bits: u32, mut f: impl FnMut(u64, u64)) {
        let run_bits = i128::from(run_elements) * i128::from(bits);
        starts.for_each_bit(|bit| {
            let b = i128::from(bit);
            f((b / 8) as u64, ((b + run_bits + 7) / 8) as u64);
        });
    }

    /// The same set of elements with non-negative strides and the
    /// dimensions ordered by decreasing stride (size-1 dimensions
    /// outermost), so the smallest stride is innermost.
    fn normalised(&self) -> Strided {
        let bits = i128::from(self.bits);
        let mut base_bit = self.base_bit;
        let mut dims: Vec<(u32, i64)> = self.shape.into_iter().zip(self.strides).collect();
        for (extent, stride) in &mut dims {
            if *stride < 0 {
                base_bit += i128::from(*extent - 1) * i128::from(*stride) * bits;
                *stride = -*stride;
            }
        }
        dims.sort_by_key(|&(extent, stride)| (extent != 1, std::cmp::Reverse(stride)));
        Strided {
            base_bit,
            shape: [dims[0].0, dims[1].0, dims[2].0, dims[3].0],
            strides: [dims[0].1, dims[1].1, dims[2].1, dims[3].1],
            ..self.clone()
        }
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
        assert_eq!(mem.tsram[1].bytes()[16], 0xBA);
        assert_eq!(mem.tsram[1].bytes()[17] & 0xF, 0xC);
        assert_eq!(nib.ranges(), vec![(16, 18)]);
    }

    #[test]
    fn ranges_are_exact_for_transposed_and_interleaved_accesses() {
        let mem = memory();
        let place = mem.place(maiac_backend::isa::Space::Tsram, 0, 0).unwrap();
        // A transposed 2×3 f32 box (the unit stride is the outer dimension):
        // rows of 2 elements at element 0, 4 and 8.
        let t = Strided::new(&mem, place, 32, &[2, 3], &[1, 4]).unwrap();
        assert_eq!(t.ranges(), vec![(0, 8), (16, 24), (32, 40)]);
        // Every other element, in both orders: single elements.
        let even = Strided::new(&mem, place, 32, &[3], &[2]).unwrap();
        assert_eq!(even.ranges(), vec![(0, 4), (8, 12), (16, 20)]);
        let place4 = mem.place(maiac_backend::isa::Space::Tsram, 0, 4).unwrap();
        let odd_reversed = Strided::new(&mem, place4, 32, &[3], &[2]).unwrap();
        assert_eq!(odd_reversed.ranges(), vec![(4, 8), (12, 16), (20, 24)]);
        let place20 = mem.place(maiac_backend::isa::Space::Tsram, 0, 16).unwrap();
        let back = Strided::new(&mem, place20, 32, &[3], &[-2]).unwrap();
        assert_eq!(back.ranges(), vec![(0, 4), (8, 12), (16, 20)]);
        // Adjacent rows merge into one run.
        let dense = Strided::new(&mem, place, 32, &[2, 2], &[2, 1]).unwrap();
        assert_eq!(dense.ranges(), vec![(0, 16)]);
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
