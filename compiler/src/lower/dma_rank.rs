//! Merging the dimensions of strided accesses for the DMA engine (at most
//! [`MAX_RANK`](maiac_backend::isa::view::MAX_RANK) per descriptor).
//!
//! The access analysis describes a strided access with one dimension per
//! tensor dimension, so a rank-5 tile (a `tl.permute`d 5-D load, say) gives
//! a 5-dimensional box. When the access has no valid box (no mask) and no
//! wrapped index, adjacent dimensions whose strides are constant and
//! contiguous (`stride[d] = stride[d+1] · size[d+1]`) address the same
//! elements in the same order as one dimension of the product size, and
//! size-1 dimensions address nothing of their own; merging them, innermost
//! first, usually brings the box within the limit. What still has too many
//! dimensions is unrolled into several DMAs by the lowering
//! (`Lowerer::emit_dma`).

use maiac_backend::isa::view::MAX_RANK;

use crate::access::{AccessDim, StridedAccess};

/// `s` with dimensions merged (only while it has more than `MAX_RANK`),
/// addressing the same elements in the same row-major order.
pub(super) fn merge_dims(s: &StridedAccess) -> StridedAccess {
    if s.dims.len() <= MAX_RANK || s.valid.is_some() || s.dims.iter().any(|d| d.wrap.is_some()) {
        return s.clone();
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
    StridedAccess { dims, ..s.clone() }
}
