//! Fitting strided accesses to the DMA engine's dimension count (at most
//! [`MAX_RANK`](maiac_backend::isa::view::MAX_RANK) per descriptor).
//!
//! The access analysis describes a strided access with one dimension per
//! tensor dimension, so a rank-5 tile (a `tl.permute`d 5-D load, say) gives
//! a 5-dimensional box. When the access has no valid box (no mask) and no
//! wrapped index, adjacent dimensions whose strides are constant and
//! contiguous (`stride[d] = stride[d+1] · size[d+1]`) address the same
//! elements in the same order as one dimension of the product size, and
//! size-1 dimensions address nothing of their own; merging them, innermost
//! first, often brings the box within the limit. An access that still does
//! not fit is lowered element by element (the gather/scatter form) instead.

use maiac_backend::isa::view::MAX_RANK;

use crate::access::{AccessDim, StridedAccess};

/// `s` with at most `MAX_RANK` dimensions addressing the same elements in
/// the same row-major order, or `None` when merging cannot get there.
pub(super) fn fit(s: &StridedAccess) -> Option<StridedAccess> {
    if s.dims.len() <= MAX_RANK {
        return Some(s.clone());
    }
    if s.valid.is_some() || s.dims.iter().any(|d| d.wrap.is_some()) {
        return None;
    }
    let mut dims: Vec<AccessDim> = s.dims.iter().filter(|d| d.size != 1).cloned().collect();
    let mut d = dims.len().saturating_sub(1);
    while d > 0 && dims.len() > MAX_RANK {
        let stride = |x: &AccessDim| x.stride.as_const().map(|b| b as i64);
        let (outer, inner) = (&dims[d - 1], &dims[d]);
        let contiguous = match (stride(outer), stride(inner)) {
            (Some(o), Some(i)) => i.checked_mul(inner.size) == Some(o),
            _ => false,
        };
        if contiguous {
            dims[d].size *= outer.size;
            dims.remove(d - 1);
        }
        d -= 1;
    }
    if dims.is_empty() {
        // every dimension had size 1: one element
        dims.push(s.dims[0].clone());
    }
    (dims.len() <= MAX_RANK).then(|| StridedAccess { dims, ..s.clone() })
}
