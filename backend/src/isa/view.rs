//! Tensor views: how TVP (and TTU drain) instructions see tile memory.
//!
//! A view is a base [`Address`] (TSRAM or ACC), an element type, a shape of
//! rank 0..=4 and one stride per dimension *in elements* (negative strides
//! walk backwards; stride 0 broadcasts). Element `idx` lives at bit
//!
//! ```text
//! 8 × base + storage_bits(dtype) × Σ_d idx[d] × stride[d]
//! ```
//!
//! so packed FP4 views address nibbles (low nibble of a byte first) and every
//! other type whole bytes. Iteration over a view is row-major (last index
//! fastest). A rank-0 view is one element.

use std::fmt;

use super::address::Address;
use super::dtype::DType;

/// Maximum rank of a view and of a DMA copy.
pub const MAX_RANK: usize = 4;

/// A strided tensor view of tile memory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct View {
    pub addr: Address,
    pub dtype: DType,
    pub shape: Vec<u32>,
    /// One stride per dimension, in elements.
    pub strides: Vec<i64>,
}

impl View {
    /// A dense row-major view of `shape` at `addr`.
    pub fn contiguous(addr: Address, dtype: DType, shape: &[u32]) -> View {
        View {
            addr,
            dtype,
            shape: shape.to_vec(),
            strides: row_major_strides(shape),
        }
    }

    /// A rank-0 view of the single element at `addr`.
    pub fn scalar(addr: Address, dtype: DType) -> View {
        View {
            addr,
            dtype,
            shape: Vec::new(),
            strides: Vec::new(),
        }
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements (product of the shape; 1 for rank 0).
    pub fn num_elements(&self) -> u64 {
        self.shape.iter().map(|&d| u64::from(d)).product()
    }

    /// Element offset (in elements, relative to the base) of a multi-index.
    pub fn element_offset(&self, index: &[u32]) -> i64 {
        index.iter().zip(&self.strides).fold(0i64, |acc, (&i, &s)| {
            acc.wrapping_add(i64::from(i).wrapping_mul(s))
        })
    }

    /// Bit offset (relative to the base byte) of a multi-index.
    pub fn bit_offset(&self, index: &[u32]) -> i128 {
        i128::from(self.element_offset(index)) * i128::from(self.dtype.storage_bits())
    }

    /// The bytes the view touches relative to its base, as a half-open range
    /// `[lo, hi)`; `None` when the view is empty. Used for capacity checks
    /// and conflict detection.
    pub fn byte_span(&self) -> Option<(i128, i128)> {
        if self.shape.contains(&0) {
            return None;
        }
        let bits = i128::from(self.dtype.storage_bits());
        let (mut lo, mut hi) = (0i128, 0i128);
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            let reach = i128::from(d - 1) * i128::from(s);
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        let lo_bit = lo * bits;
        let hi_bit = (hi + 1) * bits;
        Some((lo_bit.div_euclid(8), (hi_bit + 7).div_euclid(8)))
    }

    /// Whether the view is dense row-major (strides equal the row-major
    /// strides of its shape, ignoring dimensions of extent 1).
    pub fn is_contiguous(&self) -> bool {
        let dense = row_major_strides(&self.shape);
        self.shape
            .iter()
            .zip(self.strides.iter().zip(&dense))
            .all(|(&d, (&s, &want))| d == 1 || s == want)
    }
}

/// Row-major strides (in elements) of a shape.
pub fn row_major_strides(shape: &[u32]) -> Vec<i64> {
    let mut strides = vec![0i64; shape.len()];
    let mut step = 1i64;
    for (stride, &d) in strides.iter_mut().zip(shape).rev() {
        *stride = step;
        step = step.saturating_mul(i64::from(d));
    }
    strides
}

/// Calls `f` with every multi-index of `shape` in row-major order.
pub fn for_each_index(shape: &[u32], mut f: impl FnMut(&[u32])) {
    if shape.contains(&0) {
        return;
    }
    let mut index = vec![0u32; shape.len()];
    loop {
        f(&index);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

impl fmt::Display for View {
    /// `f32 tsram[r2+64] [4,128] [128,1]` (dtype, base, shape, strides).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.dtype, self.addr)?;
        write_list(f, &self.shape)?;
        f.write_str(" ")?;
        write_list(f, &self.strides)
    }
}

pub(crate) fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    f.write_str("[")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str("]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_strided_and_packed_views() {
        let v = View::contiguous(Address::tsram(0), DType::F32, &[4, 8]);
        assert_eq!(v.byte_span(), Some((0, 128)));
        assert!(v.is_contiguous());
        let bcast = View {
            strides: vec![0, 1],
            ..v.clone()
        };
        assert_eq!(bcast.byte_span(), Some((0, 32)));
        let back = View {
            strides: vec![-8, 1],
            ..v
        };
        assert_eq!(back.byte_span(), Some((-96, 32)));
        let fp4 = View::contiguous(Address::tsram(0), DType::F4E2M1, &[3]);
        assert_eq!(fp4.byte_span(), Some((0, 2)));
        assert_eq!(fp4.bit_offset(&[1]), 4);
    }

    #[test]
    fn iterates_row_major() {
        let mut seen = Vec::new();
        for_each_index(&[2, 3], |i| seen.push(i.to_vec()));
        assert_eq!(seen.len(), 6);
        assert_eq!(seen[1], vec![0, 1]);
        assert_eq!(seen[3], vec![1, 0]);
        let mut count = 0;
        for_each_index(&[], |_| count += 1);
        assert_eq!(count, 1);
    }
}
