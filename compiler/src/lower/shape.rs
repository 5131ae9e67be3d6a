//! Shape ops: views where the data need not move, TVP copies where it must.
//!
//! - `tt.splat`: a CP scalar is stored once into a rank-0 buffer; the
//!   tensor is that element seen through an all-zero-stride view (a float
//!   scalar is already a rank-0 view).
//! - `tt.broadcast` (stride 0 on stretched dims), `tt.expand_dims` (a new
//!   size-1 dim), `tt.trans` (permuted strides), `tt.split` (two views one
//!   element apart along the minor dim of size 2) and `tt.unsplat`: views.
//! - `tt.reshape`: a re-strided view when every group of source dims that
//!   maps onto a group of result dims is contiguous; otherwise a `Copy`
//!   into a fresh dense buffer first.
//! - `tt.cat` / `tt.join`: `Copy`s of each operand into offset views of a
//!   fresh buffer (the interpreter's row-major semantics: `cat` appends along
//!   dim 0, `join` interleaves along a new minor dim of size 2).

use maiac_backend::isa::view::row_major_strides;
use maiac_ir::{Attribute, Diagnostic, Op, Opcode};

use super::memory::{broadcast_view, reshape_view};
use super::{scalar_width, Lowerer, ValueLoc};
use crate::tile::{BView, BufSpace, SOp, TOpKind};

impl Lowerer<'_> {
    pub(super) fn lower_shape(&mut self, op: Op) -> Result<(), Diagnostic> {
        let opcode = self.module.dfg.opcode(op);
        let source = self.operand(op, 0);
        let result = self.result(op, 0);
        let result_ty = self.ty(result);
        let shape = self.shape_u32(result_ty)?;
        match opcode {
            Opcode::Splat => {
                let scalar = self.view(source)?;
                if let ValueLoc::Scalar(s) = self.loc(source)? {
                    self.scratch.splat_sources.insert(scalar.buf, s);
                }
                let view = BView {
                    buf: scalar.buf,
                    offset: scalar.offset,
                    shape: shape.clone(),
                    strides: vec![0; shape.len()],
                };
                self.set(result, ValueLoc::Tensor(view));
            }
            Opcode::Unsplat => {
                let view = self.view(source)?;
                if view.num_elements() != 1 {
                    return Err(self.error(
                        op,
                        format!("source has {} elements, not 1", view.num_elements()),
                    ));
                }
                let element = BView {
                    buf: view.buf,
                    offset: view.offset,
                    shape: Vec::new(),
                    strides: Vec::new(),
                };
                if result_ty.is_float() {
                    self.set(result, ValueLoc::Tensor(element));
                } else {
                    let width = scalar_width(result_ty);
                    let dst = self.new_sreg(width, "unsplat");
                    self.emit(TOpKind::LoadScalar {
                        dst,
                        src: element,
                        bytes: (width / 8).max(1) as u8,
                        signed: width > 1,
                    });
                    self.set(result, ValueLoc::Scalar(SOp::Reg(dst)));
                }
            }
            Opcode::Broadcast => {
                let view = self.view(source)?;
                if view.shape.len() != shape.len() && !view.shape.is_empty() {
                    return Err(self.error(
                        op,
                        format!("cannot broadcast {:?} to {shape:?}", view.shape),
                    ));
                }
                self.set(result, ValueLoc::Tensor(broadcast_view(&view, &shape)));
            }
            Opcode::ExpandDims => {
                let view = self.view(source)?;
                let axis = self
                    .module
                    .dfg
                    .attr(op, "axis")
                    .and_then(Attribute::as_int)
                    .and_then(|a| usize::try_from(a).ok())
                    .filter(|&a| a <= view.shape.len())
                    .ok_or_else(|| {
                        self.error(op, "tt.expand_dims needs an `axis` within the source rank")
                    })?;
                let mut expanded = view.clone();
                expanded.shape.insert(axis, 1);
                expanded.strides.insert(axis, 0);
                self.set(result, ValueLoc::Tensor(expanded));
            }
            Opcode::Reshape => {
                let view = self.view(source)?;
                if view.num_elements() != shape.iter().map(|&d| u64::from(d)).product::<u64>() {
                    return Err(
                        self.error(op, format!("cannot reshape {:?} to {shape:?}", view.shape))
                    );
                }
                let reshaped = match restride(&view, &shape) {
                    Some(v) => v,
                    None => {
                        let dense = self.dense(view);
                        reshape_view(&dense, &shape).expect("a dense copy reshapes")
                    }
                };
                self.set(result, ValueLoc::Tensor(reshaped));
            }
            Opcode::Trans => {
                let view = self.view(source)?;
                let rank = view.shape.len();
                let order: Vec<usize> = match self
                    .module
                    .dfg
                    .attr(op, "order")
                    .and_then(Attribute::as_int_list)
                {
                    Some(order) => order.iter().map(|&d| d as usize).collect(),
                    None => (0..rank).rev().collect(),
                };
                let mut seen = vec![false; rank];
                if order.len() != rank
                    || order
                        .iter()
                        .any(|&d| d >= rank || std::mem::replace(&mut seen[d], true))
                {
                    return Err(self.error(
                        op,
                        format!("order {order:?} is not a permutation of {rank} dimensions"),
                    ));
                }
                let permuted = BView {
                    buf: view.buf,
                    offset: view.offset,
                    shape: order.iter().map(|&d| view.shape[d]).collect(),
                    strides: order.iter().map(|&d| view.strides[d]).collect(),
                };
                self.set(result, ValueLoc::Tensor(permuted));
            }
            Opcode::Cat => {
                let (a, b) = (self.view(source)?, self.view(self.operand(op, 1))?);
                if a.num_elements() + b.num_elements()
                    != shape.iter().map(|&d| u64::from(d)).product::<u64>()
                {
                    return Err(self.error(op, "operand sizes do not add up to the result"));
                }
                let out = self.new_tensor_buf(result_ty, "cat")?;
                let mut offset = 0i64;
                for part in [a, b] {
                    let dst = BView {
                        buf: out.buf,
                        offset,
                        shape: part.shape.clone(),
                        strides: row_major_strides(&part.shape),
                    };
                    offset += part.num_elements() as i64;
                    self.emit(TOpKind::Copy { src: part, dst });
                }
                self.set(result, ValueLoc::Tensor(out));
            }
            Opcode::Join => {
                let (a, b) = (self.view(source)?, self.view(self.operand(op, 1))?);
                if a.shape != b.shape {
                    return Err(self.error(op, "operands must have the same shape"));
                }
                let out = self.new_tensor_buf(result_ty, "join")?;
                let strides = row_major_strides(&shape);
                let outer = strides[..strides.len() - 1].to_vec();
                for (offset, part) in [a, b].into_iter().enumerate() {
                    let dst = BView {
                        buf: out.buf,
                        offset: offset as i64,
                        shape: part.shape.clone(),
                        strides: outer.clone(),
                    };
                    self.emit(TOpKind::Copy { src: part, dst });
                }
                self.set(result, ValueLoc::Tensor(out));
            }
            Opcode::Split => {
                let view = self.view(source)?;
                let rank = view.shape.len();
                if view.shape.last() != Some(&2) {
                    return Err(self.error(op, "the last dimension must have size 2"));
                }
                let minor = view.strides[rank - 1];
                for i in 0..2 {
                    let half = BView {
                        buf: view.buf,
                        offset: view.offset + i as i64 * minor,
                        shape: view.shape[..rank - 1].to_vec(),
                        strides: view.strides[..rank - 1].to_vec(),
                    };
                    let r = self.result(op, i);
                    self.set(r, ValueLoc::Tensor(half));
                }
            }
            _ => return Err(self.error(op, format!("`{}` is not a shape op", opcode.name()))),
        }
        Ok(())
    }

    /// A copy of `view` into a fresh dense buffer (viewed whole).
    pub(super) fn copy_to_fresh(&mut self, view: &BView, name: &str) -> BView {
        let dtype = self.kernel.bufs[view.buf].dtype;
        let dst = self.new_buf(dtype, &view.shape, BufSpace::Tsram, name);
        self.emit(TOpKind::Copy {
            src: view.clone(),
            dst: dst.clone(),
        });
        dst
    }
}

/// `view` seen with `shape` (same element count, row-major order kept)
/// without moving data, when possible: source and result dims are split
/// into groups of equal products; each source group must be contiguous
/// (every dim's stride is the next one's stride times its size), and the
/// result dims of the group get row-major strides scaled by the group's
/// innermost stride. Size-1 dims are free.
pub(super) fn restride(view: &BView, shape: &[u32]) -> Option<BView> {
    let src: Vec<(u64, i64)> = view
        .shape
        .iter()
        .zip(&view.strides)
        .filter(|(&n, _)| n != 1)
        .map(|(&n, &s)| (u64::from(n), s))
        .collect();
    if src.iter().any(|&(n, _)| n == 0) || shape.contains(&0) {
        return Some(BView {
            buf: view.buf,
            offset: view.offset,
            shape: shape.to_vec(),
            strides: row_major_strides(shape),
        });
    }
    let mut strides = vec![0i64; shape.len()];
    let targets: Vec<usize> = (0..shape.len()).filter(|&d| shape[d] != 1).collect();
    let (mut si, mut ti) = (0usize, 0usize);
    while si < src.len() {
        // One group: the smallest runs of source and result dims with equal
        // element counts.
        let (s_start, t_start) = (si, ti);
        let mut sp = src[si].0;
        si += 1;
        let mut tp = 1u64;
        while sp != tp {
            if tp < sp {
                tp *= u64::from(shape[*targets.get(ti)?]);
                ti += 1;
            } else {
                sp *= src.get(si)?.0;
                si += 1;
            }
        }
        // The source group must be one contiguous run.
        for d in s_start..si.saturating_sub(1) {
            if src[d].1 != src[d + 1].1 * src[d + 1].0 as i64 {
                return None;
            }
        }
        let inner = src[si - 1].1;
        let mut stride = inner;
        for t in (t_start..ti).rev() {
            strides[targets[t]] = stride;
            stride *= i64::from(shape[targets[t]]);
        }
    }
    if ti != targets.len() {
        return None;
    }
    Some(BView {
        buf: view.buf,
        offset: view.offset,
        shape: shape.to_vec(),
        strides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_entity::EntityRef;

    use crate::tile::Buf;

    fn view(shape: &[u32], strides: &[i64]) -> BView {
        BView {
            buf: Buf::new(0),
            offset: 3,
            shape: shape.to_vec(),
            strides: strides.to_vec(),
        }
    }

    #[test]
    fn restride_contiguous_groups() {
        // [4, 8] dense → [32]
        assert_eq!(
            restride(&view(&[4, 8], &[8, 1]), &[32]).unwrap().strides,
            [1]
        );
        // a transposed [8, 4] view (strides [1, 8]) → [8, 2, 2]: the minor dim splits.
        assert_eq!(
            restride(&view(&[8, 4], &[1, 8]), &[8, 2, 2])
                .unwrap()
                .strides,
            [1, 16, 8]
        );
        // merging non-contiguous dims is impossible
        assert!(restride(&view(&[8, 4], &[1, 8]), &[32]).is_none());
        // broadcast dims stay broadcast
        assert_eq!(
            restride(&view(&[4, 8], &[0, 1]), &[4, 1, 8])
                .unwrap()
                .strides,
            [0, 0, 1]
        );
        assert_eq!(
            restride(&view(&[1, 16], &[0, 1]), &[4, 4]).unwrap().strides,
            [4, 1]
        );
    }
}
