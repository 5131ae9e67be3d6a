//! Shape ops: `tt.make_range`, `splat`, `unsplat`, `broadcast`,
//! `expand_dims`, `reshape`, `trans`, `cat`, `join`, `split`, `gather`,
//! `histogram`. All work on row-major flat data; most are one strided copy
//! ([`strided_copy`]).

use maiac_ir::semantics::int::sign_extend;
use maiac_ir::{Diagnostic, Op};

use super::exec::{Frame, Interp};
use super::value::{RValue, Tensor};

/// The largest tensor the interpreter materializes (2^28 elements, 2 GiB
/// of element bits): larger static shapes are errors, not allocations.
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 28;

/// Fails when `shape` has more than [`MAX_TENSOR_ELEMENTS`] elements.
pub fn check_size(shape: &[usize]) -> Result<(), String> {
    let n = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    match n {
        Some(n) if n <= MAX_TENSOR_ELEMENTS => Ok(()),
        _ => Err(format!("a tensor of shape {shape:?} is too large to interpret (at most {MAX_TENSOR_ELEMENTS} elements)")),
    }
}

/// Row-major strides of `shape`.
pub fn row_major_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// Copies `src[offset + Σ idx[d]·strides[d]]` for every multi-index `idx`
/// of `out_shape`, in row-major order. A zero stride broadcasts.
pub fn strided_copy(
    src: &[u64],
    offset: usize,
    strides: &[usize],
    out_shape: &[usize],
) -> Vec<u64> {
    let n: usize = out_shape.iter().product();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let rank = out_shape.len();
    if rank == 0 {
        out.push(src[offset]);
        return out;
    }
    let mut idx = vec![0usize; rank];
    let inner = out_shape[rank - 1];
    let inner_stride = strides[rank - 1];
    let mut base = offset;
    loop {
        if inner_stride == 1 {
            out.extend_from_slice(&src[base..base + inner]);
        } else {
            out.extend((0..inner).map(|i| src[base + i * inner_stride]));
        }
        // Advance the outer multi-index (all but the last dimension).
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            idx[d] += 1;
            base += strides[d];
            if idx[d] < out_shape[d] {
                break;
            }
            base -= strides[d] * idx[d];
            idx[d] = 0;
        }
    }
}

/// Calls `f(flat, multi_index)` for every element of `shape` in row-major order.
pub fn for_each_index(shape: &[usize], mut f: impl FnMut(usize, &[usize])) {
    let n: usize = shape.iter().product();
    let mut idx = vec![0usize; shape.len()];
    for flat in 0..n {
        f(flat, &idx);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

impl Interp<'_> {
    /// The static shape of `op`'s result `index`.
    /// The static shape of `op`'s result `index`; shapes with more than
    /// [`MAX_TENSOR_ELEMENTS`] elements are refused rather than allocated.
    pub(super) fn result_shape(&self, op: Op, index: usize) -> Result<Vec<usize>, Diagnostic> {
        let ty = self.result_type(op, index)?;
        let shape = ty
            .shape()
            .iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| self.error(op, format!("dimension {d} is negative")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_size(&shape).map_err(|e| self.error(op, e))?;
        Ok(shape)
    }

    pub(super) fn exec_make_range(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let start = self.int_attr(op, "start")?;
        let end = self.int_attr(op, "end")?;
        if end < start {
            return Err(self.error(op, format!("end {end} is before start {start}")));
        }
        check_size(&[(end - start) as usize]).map_err(|e| self.error(op, e))?;
        let data = (start..end)
            .map(|v| (v as u64) & 0xFFFF_FFFF)
            .collect::<Vec<_>>();
        let shape = vec![data.len()];
        self.set_result(frame, op, RValue::tensor(Tensor::new(shape, data)))
    }

    pub(super) fn exec_splat(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let bits = self.scalar_operand(frame, op, 0)?;
        let shape = self.result_shape(op, 0)?;
        self.set_result(frame, op, RValue::tensor(Tensor::filled(shape, bits)))
    }

    pub(super) fn exec_unsplat(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let src = self.operand(frame, op, 0)?;
        if src.len() != 1 {
            return Err(self.error(op, format!("source has {} elements, not 1", src.len())));
        }
        self.set_result(frame, op, RValue::scalar(src.scalar_bits()))
    }

    pub(super) fn exec_broadcast(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let src = self.operand(frame, op, 0)?;
        let out_shape = self.result_shape(op, 0)?;
        let result = broadcast_to(&src, &out_shape).map_err(|e| self.error(op, e))?;
        self.set_result(frame, op, RValue::tensor(result))
    }

    /// `tt.expand_dims` and `tt.reshape`: the row-major data is unchanged.
    pub(super) fn exec_reshape(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let src = self.operand(frame, op, 0)?;
        let shape = self.result_shape(op, 0)?;
        if shape.iter().product::<usize>() != src.len() {
            return Err(self.error(op, format!("cannot reshape {:?} to {shape:?}", src.shape)));
        }
        self.set_result(
            frame,
            op,
            RValue::tensor(Tensor::new(shape, src.data.clone())),
        )
    }

    pub(super) fn exec_trans(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let src = self.operand(frame, op, 0)?;
        let rank = src.shape.len();
        let order: Vec<usize> = match self.int_list_attr(op, "order") {
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
        let src_strides = row_major_strides(&src.shape);
        let out_shape: Vec<usize> = order.iter().map(|&d| src.shape[d]).collect();
        let strides: Vec<usize> = order.iter().map(|&d| src_strides[d]).collect();
        let data = strided_copy(&src.data, 0, &strides, &out_shape);
        self.set_result(frame, op, RValue::tensor(Tensor::new(out_shape, data)))
    }

    /// `tt.cat`: concatenation along dimension 0.
    pub(super) fn exec_cat(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let (a, b) = (self.operand(frame, op, 0)?, self.operand(frame, op, 1)?);
        let shape = self.result_shape(op, 0)?;
        if a.len() + b.len() != shape.iter().product::<usize>() {
            return Err(self.error(op, "operand sizes do not add up to the result"));
        }
        let mut data = Vec::with_capacity(a.len() + b.len());
        data.extend_from_slice(&a.data);
        data.extend_from_slice(&b.data);
        self.set_result(frame, op, RValue::tensor(Tensor::new(shape, data)))
    }

    /// `tt.join`: a new minor dimension of size 2 holding `(a, b)`.
    pub(super) fn exec_join(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let (a, b) = (self.operand(frame, op, 0)?, self.operand(frame, op, 1)?);
        if a.shape != b.shape {
            return Err(self.error(op, "operands must have the same shape"));
        }
        let data = a
            .data
            .iter()
            .zip(&b.data)
            .flat_map(|(&x, &y)| [x, y])
            .collect();
        let mut shape = a.shape.clone();
        shape.push(2);
        self.set_result(frame, op, RValue::tensor(Tensor::new(shape, data)))
    }

    /// `tt.split`: the inverse of `join` along the minor dimension of size 2.
    pub(super) fn exec_split(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let src = self.operand(frame, op, 0)?;
        if src.shape.last() != Some(&2) {
            return Err(self.error(op, "the last dimension must have size 2"));
        }
        let shape = src.shape[..src.shape.len() - 1].to_vec();
        let low = src.data.iter().step_by(2).copied().collect();
        let high = src.data.iter().skip(1).step_by(2).copied().collect();
        self.set_results(
            frame,
            op,
            vec![
                RValue::tensor(Tensor::new(shape.clone(), low)),
                RValue::tensor(Tensor::new(shape, high)),
            ],
        )
    }

    /// `tt.gather`: `out[i] = src[i with i[axis] := indices[i]]`; an index
    /// outside the source is an error.
    pub(super) fn exec_gather(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let (src, indices) = (self.operand(frame, op, 0)?, self.operand(frame, op, 1)?);
        let axis = self.int_attr(op, "axis")? as usize;
        let index_width = self
            .operand_type(op, 1)?
            .element()
            .int_width()
            .unwrap_or(32);
        let rank = src.shape.len();
        let fits = indices.shape.len() == rank
            && (0..rank).all(|d| d == axis || indices.shape[d] <= src.shape[d]);
        if axis >= rank || !fits {
            return Err(self.error(
                op,
                format!(
                    "indices {:?} do not fit source {:?} along axis {axis}",
                    indices.shape, src.shape
                ),
            ));
        }
        let src_strides = row_major_strides(&src.shape);
        let mut data = Vec::with_capacity(indices.len());
        let mut failure = None;
        for_each_index(&indices.shape, |flat, idx| {
            if failure.is_some() {
                return;
            }
            let gathered = sign_extend(indices.data[flat], index_width);
            if gathered < 0 || gathered as usize >= src.shape[axis] {
                failure = Some((flat, gathered));
                return;
            }
            let mut offset = 0;
            for (d, &i) in idx.iter().enumerate() {
                let i = if d == axis { gathered as usize } else { i };
                offset += i * src_strides[d];
            }
            data.push(src.data[offset]);
        });
        if let Some((flat, index)) = failure {
            return Err(self.error(
                op,
                format!(
                    "element {flat}: index {index} is outside 0..{} along axis {axis}",
                    src.shape[axis]
                ),
            ));
        }
        self.set_result(
            frame,
            op,
            RValue::tensor(Tensor::new(indices.shape.clone(), data)),
        )
    }

    /// `tt.histogram`: counts of each value in `0..bins` (values outside are
    /// ignored, as are masked-off elements when a mask is given).
    pub(super) fn exec_histogram(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let src = self.operand(frame, op, 0)?;
        let width = self
            .operand_type(op, 0)?
            .element()
            .int_width()
            .unwrap_or(32);
        let mask = if self.module.dfg.operands(op).len() > 1 {
            Some(self.operand(frame, op, 1)?)
        } else {
            None
        };
        let shape = self.result_shape(op, 0)?;
        let bins = shape.first().copied().unwrap_or(0);
        let out_width = self.result_type(op, 0)?.element().int_width().unwrap_or(32);
        if mask
            .as_ref()
            .is_some_and(|m| m.len() != 1 && m.len() != src.len())
        {
            return Err(self.error(op, "the mask does not match the source"));
        }
        let mut counts = vec![0u64; bins];
        for (i, &bits) in src.data.iter().enumerate() {
            if let Some(m) = &mask {
                let m = if m.len() == 1 { m.data[0] } else { m.data[i] };
                if m & 1 == 0 {
                    continue;
                }
            }
            let v = sign_extend(bits, width);
            if v >= 0 && (v as u64) < bins as u64 {
                counts[v as usize] += 1;
            }
        }
        let m = maiac_ir::semantics::int::mask(out_width);
        let data = counts.into_iter().map(|c| c & m).collect();
        self.set_result(frame, op, RValue::tensor(Tensor::new(shape, data)))
    }
}

/// Broadcasts `src` to `out_shape` (same rank, size-1 dimensions stretched;
/// a scalar broadcasts to anything).
pub fn broadcast_to(src: &Tensor, out_shape: &[usize]) -> Result<Tensor, String> {
    if src.len() == 1 {
        return Ok(Tensor::filled(out_shape.to_vec(), src.data[0]));
    }
    if src.shape.len() != out_shape.len() {
        return Err(format!("cannot broadcast {:?} to {out_shape:?}", src.shape));
    }
    let src_strides = row_major_strides(&src.shape);
    let mut strides = Vec::with_capacity(out_shape.len());
    for (d, (&s, &o)) in src.shape.iter().zip(out_shape).enumerate() {
        if s == o {
            strides.push(src_strides[d]);
        } else if s == 1 {
            strides.push(0);
        } else {
            return Err(format!("cannot broadcast {:?} to {out_shape:?}", src.shape));
        }
    }
    Ok(Tensor::new(
        out_shape.to_vec(),
        strided_copy(&src.data, 0, &strides, out_shape),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_copy_transposes_and_broadcasts() {
        let src: Vec<u64> = (0..6).collect(); // 2x3
        assert_eq!(
            strided_copy(&src, 0, &[1, 3], &[3, 2]),
            vec![0, 3, 1, 4, 2, 5]
        );
        assert_eq!(
            strided_copy(&src, 0, &[0, 1], &[2, 3]),
            vec![0, 1, 2, 0, 1, 2]
        );
        assert_eq!(strided_copy(&src, 4, &[], &[]), vec![4]);
        assert_eq!(strided_copy(&src, 0, &[3, 1], &[0, 3]), Vec::<u64>::new());
        let cube: Vec<u64> = (0..24).collect(); // 2x3x4
        assert_eq!(
            strided_copy(&cube, 0, &[12, 1, 4], &[2, 4, 3])[..6],
            [0, 4, 8, 1, 5, 9]
        );
    }

    #[test]
    fn broadcast_checks_shapes() {
        let t = Tensor::new(vec![1, 3], vec![1, 2, 3]);
        assert_eq!(
            broadcast_to(&t, &[2, 3]).unwrap().data,
            vec![1, 2, 3, 1, 2, 3]
        );
        assert!(broadcast_to(&t, &[2, 4]).is_err());
    }
}
