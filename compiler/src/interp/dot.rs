//! `tt.dot` and `tt.dot_scaled`.
//!
//! Float dots (every `inputPrecision`: tf32, tf32x3, ieee, bf16x3, …, and
//! every `maxNumImpreciseAcc`) compute, for each output element,
//!
//! ```text
//! acc = fl32(c)
//! for k in 0..K:  acc = fl32(acc + fl32(fl32(a[m,k]) × fl32(b[k,n])))
//! d = round_to_result_type(acc)
//! ```
//!
//! i.e. inputs converted to f32 (exact for every format narrower than f64),
//! each product rounded to f32, accumulated sequentially in k from the `c`
//! operand, without fused multiply-add. With an f64 result everything is in
//! f64 instead. Integer dots (i8 × i8 → i32) accumulate exactly with
//! wrap-around at the result width.
//!
//! `tt.dot_scaled` (OCP MX): each element is decoded ([`MxElement`]),
//! multiplied by its block's E8M0 scale `2^(s−127)` (one scale per 32
//! elements along K; rounded once to f32), then the product is accumulated as
//! above. e2m1 operands pack two elements per i8, the lower nibble first,
//! along K (or along M/N when `lhs_k_pack`/`rhs_k_pack` is false).

use maiac_ir::semantics::convert::{
    f32_to_float_bits, f64_to_float_bits, float_to_f32, float_to_f64,
};
use maiac_ir::semantics::int::{mask, sign_extend};
use maiac_ir::semantics::mx::{apply_scale, e8m0_scale, MxElement};
use maiac_ir::{Diagnostic, Op, Type};

use super::exec::{Frame, Interp};
use super::value::{RValue, Tensor};

/// Shapes of a (possibly batched) matrix product.
#[derive(Copy, Clone, Debug)]
struct DotDims {
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
}

/// Splits `[.., M, N]` into (batch, M, N).
fn matrix_dims(shape: &[usize]) -> Option<(usize, usize, usize)> {
    match shape {
        [m, n] => Some((1, *m, *n)),
        [b, m, n] => Some((*b, *m, *n)),
        _ => None,
    }
}

/// `out = c + a·b` with every output element accumulated sequentially in
/// ascending k, each product rounded before it is added (never fused).
/// `a` is `[batch, m, k]`, `b` is `[batch, k, n]`, `c` is `[batch, m, n]`.
///
/// The loops run i, k, j so the innermost loop updates a row of independent
/// accumulators (vectorizable) while each accumulator still sees its terms in
/// k order: bit-identical to the naive i, j, k loop.
fn dot_generic<T>(
    d: DotDims,
    a: &[T],
    b: &[T],
    c: &[T],
    mul: impl Fn(T, T) -> T,
    add: impl Fn(T, T) -> T,
) -> Vec<T>
where
    T: Copy,
{
    let mut out = c.to_vec();
    for bi in 0..d.batch {
        for i in 0..d.m {
            let row = &a[(bi * d.m + i) * d.k..][..d.k];
            let acc = &mut out[(bi * d.m + i) * d.n..][..d.n];
            for (kk, &x) in row.iter().enumerate() {
                let b_row = &b[(bi * d.k + kk) * d.n..][..d.n];
                for (o, &y) in acc.iter_mut().zip(b_row) {
                    *o = add(*o, mul(x, y));
                }
            }
        }
    }
    out
}

fn dot_f32(d: DotDims, a: &[f32], b: &[f32], c: &[f32]) -> Vec<f32> {
    dot_generic(d, a, b, c, |x, y| x * y, |acc, p| acc + p)
}

fn dot_f64(d: DotDims, a: &[f64], b: &[f64], c: &[f64]) -> Vec<f64> {
    dot_generic(d, a, b, c, |x, y| x * y, |acc, p| acc + p)
}

impl Interp<'_> {
    fn dot_dims(
        &self,
        op: Op,
        a: &Tensor,
        b_shape_kn: (usize, usize, usize),
        c: &Tensor,
        a_k: usize,
    ) -> Result<DotDims, Diagnostic> {
        let (batch, m, n) = matrix_dims(&c.shape)
            .ok_or_else(|| self.error(op, "the accumulator must be 2-D or 3-D"))?;
        let (b_batch, k, b_n) = b_shape_kn;
        let (a_batch, a_m) = match a.shape.as_slice() {
            [am, _] => (1, *am),
            [ab, am, _] => (*ab, *am),
            _ => return Err(self.error(op, "operand a must be 2-D or 3-D")),
        };
        if a_batch != batch || b_batch != batch || a_m != m || b_n != n || a_k != k {
            return Err(self.error(
                op,
                format!(
                    "shapes do not compose: a {:?}, b {:?} (K={k}), c {:?}",
                    a.shape,
                    (b_batch, k, b_n),
                    c.shape
                ),
            ));
        }
        Ok(DotDims { batch, m, n, k })
    }

    pub(super) fn exec_dot(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let (a, b, c) = (
            self.operand(frame, op, 0)?,
            self.operand(frame, op, 1)?,
            self.operand(frame, op, 2)?,
        );
        let a_ty = self.operand_type(op, 0)?.element().clone();
        let b_ty = self.operand_type(op, 1)?.element().clone();
        let out_ty = self.result_type(op, 0)?.element().clone();
        let (b_batch, b_k, b_n) =
            matrix_dims(&b.shape).ok_or_else(|| self.error(op, "operand b must be 2-D or 3-D"))?;
        let a_k = *a.shape.last().unwrap_or(&0);
        let d = self.dot_dims(op, &a, (b_batch, b_k, b_n), &c, a_k)?;
        let data = match (&a_ty, &b_ty, &out_ty) {
            (Type::Int(aw), Type::Int(bw), Type::Int(ow)) => {
                // Exact products and wrapping sums (mod 2^64, then the result width).
                let a64: Vec<u64> = a.data.iter().map(|&x| sign_extend(x, *aw) as u64).collect();
                let b64: Vec<u64> = b.data.iter().map(|&x| sign_extend(x, *bw) as u64).collect();
                dot_generic(d, &a64, &b64, &c.data, u64::wrapping_mul, u64::wrapping_add)
                    .into_iter()
                    .map(|x| x & mask(*ow))
                    .collect()
            }
            (Type::Float(af), Type::Float(bf), Type::Float(of)) => {
                let (af, bf, of) = (*af, *bf, *of);
                if of == maiac_ir::FloatType::F64 {
                    let a64: Vec<f64> = a.data.iter().map(|&x| float_to_f64(x, af)).collect();
                    let b64: Vec<f64> = b.data.iter().map(|&x| float_to_f64(x, bf)).collect();
                    let c64: Vec<f64> = c.data.iter().map(|&x| float_to_f64(x, of)).collect();
                    dot_f64(d, &a64, &b64, &c64)
                        .into_iter()
                        .map(|x| f64_to_float_bits(x, of))
                        .collect()
                } else {
                    let a32: Vec<f32> = a.data.iter().map(|&x| float_to_f32(x, af)).collect();
                    let b32: Vec<f32> = b.data.iter().map(|&x| float_to_f32(x, bf)).collect();
                    let c32: Vec<f32> = c.data.iter().map(|&x| float_to_f32(x, of)).collect();
                    dot_f32(d, &a32, &b32, &c32)
                        .into_iter()
                        .map(|x| f32_to_float_bits(x, of))
                        .collect()
                }
            }
            _ => {
                return Err(self.error(
                    op,
                    format!("unsupported operand types {a_ty} × {b_ty} → {out_ty}"),
                ))
            }
        };
        self.set_result(
            frame,
            op,
            RValue::tensor(Tensor::new(c.shape.clone(), data)),
        )
    }

    pub(super) fn exec_dot_scaled(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let elem_kind = |name: &str| -> Result<MxElement, Diagnostic> {
            let attr = self.module.dfg.attr(op, name).and_then(|a| a.as_str());
            attr.and_then(MxElement::from_keyword)
                .ok_or_else(|| self.error(op, format!("missing or unknown `{name}` ({attr:?})")))
        };
        let (a_kind, b_kind) = (elem_kind("a_elem_type")?, elem_kind("b_elem_type")?);
        let flag = |name: &str| {
            self.module
                .dfg
                .attr(op, name)
                .and_then(|a| a.as_int())
                .is_none_or(|v| v != 0)
        };
        let (lhs_k_pack, rhs_k_pack) = (flag("lhs_k_pack"), flag("rhs_k_pack"));

        // Operands: a, b, c, then the optional a_scale and b_scale.
        let count = self.module.dfg.operands(op).len();
        let (a_scale_at, b_scale_at) = match self.int_list_attr(op, "operandSegmentSizes") {
            Some(s) if s.len() == 5 => (
                (s[3] > 0).then_some(3),
                (s[4] > 0).then_some(3 + s[3] as usize),
            ),
            _ => match count {
                3 => (None, None),
                5 => (Some(3), Some(4)),
                // One scale: it belongs to whichever operand is an MX format.
                4 if matches!(a_kind, MxElement::BF16 | MxElement::FP16) => (None, Some(3)),
                4 => (Some(3), None),
                _ => return Err(self.error(op, format!("unexpected operand count {count}"))),
            },
        };
        let a = self.operand(frame, op, 0)?;
        let b = self.operand(frame, op, 1)?;
        let c = self.operand(frame, op, 2)?;
        let a_scale = a_scale_at.map(|i| self.operand(frame, op, i)).transpose()?;
        let b_scale = b_scale_at.map(|i| self.operand(frame, op, i)).transpose()?;
        let out_ty = self
            .result_type(op, 0)?
            .element()
            .float_type()
            .ok_or_else(|| self.error(op, "the result must be float"))?;
        let (_, m, n) = matrix_dims(&c.shape)
            .filter(|(batch, _, _)| *batch == 1 && c.shape.len() == 2)
            .ok_or_else(|| self.error(op, "dot_scaled supports 2-D operands"))?;
        let (a_rows, a_cols) =
            two_d(&a.shape).ok_or_else(|| self.error(op, "operand a must be 2-D"))?;
        let (b_rows, b_cols) =
            two_d(&b.shape).ok_or_else(|| self.error(op, "operand b must be 2-D"))?;
        let a_pack = a_kind.per_storage_element();
        let b_pack = b_kind.per_storage_element();
        let k = if lhs_k_pack { a_cols * a_pack } else { a_cols };
        let a_m = if lhs_k_pack { a_rows } else { a_rows * a_pack };
        let b_k = if rhs_k_pack { b_rows * b_pack } else { b_rows };
        let b_n = if rhs_k_pack { b_cols } else { b_cols * b_pack };
        if a_m != m || b_n != n || b_k != k {
            return Err(self.error(
                op,
                format!(
                    "shapes do not compose: a {:?} ({a_kind:?}), b {:?} ({b_kind:?}), c {:?}",
                    a.shape, b.shape, c.shape
                ),
            ));
        }
        let d = DotDims { batch: 1, m, n, k };
        // Element (row, kk) of the logical [M, K] a and (kk, col) of [K, N] b.
        let nibble = |byte: u64, second: bool| {
            if second {
                (byte >> 4) & 0xF
            } else {
                byte & 0xF
            }
        };
        let a_elem = |i: usize, kk: usize| -> u64 {
            match (a_pack, lhs_k_pack) {
                (1, _) => a.data[i * a_cols + kk],
                (_, true) => nibble(a.data[i * a_cols + kk / 2], kk % 2 == 1),
                (_, false) => nibble(a.data[(i / 2) * a_cols + kk], i % 2 == 1),
            }
        };
        let b_elem = |kk: usize, j: usize| -> u64 {
            match (b_pack, rhs_k_pack) {
                (1, _) => b.data[kk * b_cols + j],
                (_, true) => nibble(b.data[(kk / 2) * b_cols + j], kk % 2 == 1),
                (_, false) => nibble(b.data[kk * b_cols + j / 2], j % 2 == 1),
            }
        };
        let group = |scale: &Tensor, rows: usize, what: &str| -> Result<usize, Diagnostic> {
            match two_d(&scale.shape) {
                Some((r, groups)) if r == rows && groups > 0 && k % groups == 0 => Ok(k / groups),
                _ => Err(self.error(
                    op,
                    format!(
                        "{what} scale shape {:?} does not fit {rows}×{k}",
                        scale.shape
                    ),
                )),
            }
        };
        let a_group = a_scale
            .as_ref()
            .map(|s| group(s, m, "a").map(|g| (s, g)))
            .transpose()?;
        let b_group = b_scale
            .as_ref()
            .map(|s| group(s, n, "b").map(|g| (s, g)))
            .transpose()?;
        let mut a32 = Vec::with_capacity(m * k);
        for i in 0..m {
            for kk in 0..k {
                let mut v = a_kind.decode(a_elem(i, kk));
                if let Some((s, g)) = a_group {
                    v = apply_scale(v, e8m0_scale(s.data[i * (k / g) + kk / g]));
                }
                a32.push(v);
            }
        }
        let mut b32 = Vec::with_capacity(k * n);
        for kk in 0..k {
            for j in 0..n {
                let mut v = b_kind.decode(b_elem(kk, j));
                if let Some((s, g)) = b_group {
                    v = apply_scale(v, e8m0_scale(s.data[j * (k / g) + kk / g]));
                }
                b32.push(v);
            }
        }
        let c32: Vec<f32> = c.data.iter().map(|&x| float_to_f32(x, out_ty)).collect();
        let data = dot_f32(d, &a32, &b32, &c32)
            .into_iter()
            .map(|x| f32_to_float_bits(x, out_ty))
            .collect();
        self.set_result(
            frame,
            op,
            RValue::tensor(Tensor::new(c.shape.clone(), data)),
        )
    }
}

fn two_d(shape: &[usize]) -> Option<(usize, usize)> {
    match shape {
        [r, c] => Some((*r, *c)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulates_sequentially_without_fma() {
        let d = DotDims {
            batch: 1,
            m: 1,
            n: 1,
            k: 3,
        };
        // 1e8 + 1 - 1e8 in sequence loses the 1 in f32.
        let out = dot_f32(d, &[1e8, 1.0, -1e8], &[1.0, 1.0, 1.0], &[0.0]);
        assert_eq!(out, vec![0.0]);
        let out = dot_f32(d, &[1e8, -1e8, 1.0], &[1.0, 1.0, 1.0], &[0.0]);
        assert_eq!(out, vec![1.0]);
        // The product (1 + 2^-12)^2 is rounded before it meets c = -1; an FMA
        // would keep its 2^-24 tail.
        let x = 1.0 + 2f32.powi(-12);
        let d1 = DotDims {
            batch: 1,
            m: 1,
            n: 1,
            k: 1,
        };
        assert_eq!(dot_f32(d1, &[x], &[x], &[-1.0]), vec![2f32.powi(-11)]);
    }

    #[test]
    fn batched_products_use_their_own_matrices() {
        let d = DotDims {
            batch: 2,
            m: 1,
            n: 2,
            k: 2,
        };
        // a = [[1, 2]], [[3, 4]]; b = I, 2·I; c = 0.5.
        let out = dot_f32(
            d,
            &[1.0, 2.0, 3.0, 4.0],
            &[1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0],
            &[0.5; 4],
        );
        assert_eq!(out, vec![1.5, 2.5, 6.5, 8.5]);
    }
}
