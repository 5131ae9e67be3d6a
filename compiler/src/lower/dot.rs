//! `tt.dot` and `tt.dot_scaled` on the TTU.
//!
//! The TTU computes `out[M,N] (+)= A[M,K] × B[K,N]` with exactly the
//! interpreter's numerics (each product rounded to f32, accumulated in
//! ascending k from the initial output, no FMA; integers exact with
//! wrapping i32 sums), for every `inputPrecision`, which the interpreter
//! ignores too. The lowering:
//!
//! 1. puts `c` into an f32 (i32) output buffer — a copy, or a conversion
//!    for narrower float accumulators; nothing when `c` is a zero constant
//!    (`accumulate = false` then starts from +0 like the interpreter);
//! 2. presents `a` and `b` as row-major blocks with a row stride, using the
//!    `transposed` flag for transposed views and copying other views (e.g.
//!    broadcasts) into dense buffers;
//! 3. issues one matmul per batch of a 3-D dot;
//! 4. rounds the f32 result to the dot's result type when it is narrower.
//!
//! The output stays in TSRAM, where every engine can read it; the fusion
//! pass may later move accumulators to ACC and tile them.
//!
//! An f64 dot (the TTU has no f64 path) runs on the vector unit instead, as
//! `K` rank-1 updates in the same order.

use maiac_backend::isa::{DType, LaneInstr, LaneOp, LaneSrc, MicroProgram};
use maiac_ir::numerics::Rounding;
use maiac_ir::semantics::float::FloatBinaryOp;
use maiac_ir::semantics::mx::MxElement;
use maiac_ir::{Attribute, DenseElements, Diagnostic, FloatType, Op, Opcode, Value};

use super::memory::{broadcast_view, is_dense};
use super::{scalar_dtype, Lowerer};
use crate::tile::{BView, BufSpace, TMat, TOpKind};

/// How an operand of a dot is stored.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Packing {
    /// One element per storage element.
    Plain,
    /// FP4 codes, two per byte along each stored row (K for a K-packed A;
    /// N for a B packed along N).
    Fp4Rows,
}

impl Lowerer<'_> {
    pub(super) fn lower_dot(&mut self, op: Op) -> Result<(), Diagnostic> {
        match self.module.dfg.opcode(op) {
            Opcode::DotScaled => self.lower_dot_scaled(op),
            _ => self.lower_plain_dot(op),
        }
    }

    fn lower_plain_dot(&mut self, op: Op) -> Result<(), Diagnostic> {
        let (a, b, c) = (
            self.operand(op, 0),
            self.operand(op, 1),
            self.operand(op, 2),
        );
        if [a, b, c]
            .iter()
            .all(|&v| scalar_dtype(self.ty(v).element()) == Some(DType::F64))
        {
            return self.lower_vector_dot(op, a, b, c);
        }
        let a_dtype = self.dot_dtype(op, a)?;
        let b_dtype = self.dot_dtype(op, b)?;
        let a_view = self.view(a)?;
        let b_view = self.view(b)?;
        let c_shape = self.shape_u32(self.ty(c))?;
        let (batch, m, n) = match c_shape[..] {
            [m, n] => (None, m, n),
            [bt, m, n] => (Some(bt), m, n),
            _ => return Err(self.error(op, "a dot's accumulator must be 2-D or 3-D")),
        };
        let k = *a_view.shape.last().unwrap_or(&0);
        let (out, out_dtype) = self.dot_output(op, c)?;
        let accumulate = !self.is_zero_constant(c);
        if accumulate {
            self.init_accumulator(c, &out, out_dtype)?;
        }
        for bi in 0..batch.unwrap_or(1) {
            let (a_mat, b_mat, out_view) = match batch {
                None => (a_view.clone(), b_view.clone(), out.clone()),
                Some(_) => (
                    batch_slice(&a_view, bi),
                    batch_slice(&b_view, bi),
                    batch_slice(&out, bi),
                ),
            };
            let a_mat = self.matmul_operand(a_mat, a_dtype, Packing::Plain, None);
            let b_mat = self.matmul_operand(b_mat, b_dtype, Packing::Plain, None);
            self.emit(TOpKind::Matmul {
                m,
                n,
                k,
                a: a_mat,
                b: b_mat,
                out: out_view,
                accumulate,
            });
        }
        self.finish_dot(op, out, out_dtype)
    }

    /// `tt.dot_scaled` (OCP MX operands with E8M0 block scales).
    fn lower_dot_scaled(&mut self, op: Op) -> Result<(), Diagnostic> {
        let elem_kind = |cx: &Self, name: &str| -> Result<MxElement, Diagnostic> {
            let attr = cx.module.dfg.attr(op, name).and_then(|a| a.as_str());
            attr.and_then(MxElement::from_keyword)
                .ok_or_else(|| cx.error(op, format!("missing or unknown `{name}` ({attr:?})")))
        };
        let (a_kind, b_kind) = (
            elem_kind(self, "a_elem_type")?,
            elem_kind(self, "b_elem_type")?,
        );
        let flag = |cx: &Self, name: &str| {
            cx.module
                .dfg
                .attr(op, name)
                .and_then(|a| a.as_int())
                .is_none_or(|v| v != 0)
        };
        // `lhs_k_pack = false` / `rhs_k_pack = false`: FP4 codes packed two
        // per byte along M (a is `[M/2, K]`) or N (b is `[K, N/2]`).
        let (lhs_k_pack, rhs_k_pack) = (flag(self, "lhs_k_pack"), flag(self, "rhs_k_pack"));
        let count = self.module.dfg.operands(op).len();
        let segments = self
            .module
            .dfg
            .attr(op, "operandSegmentSizes")
            .and_then(|a| a.as_int_list());
        let (a_scale_at, b_scale_at) = match segments {
            Some(s) if s.len() == 5 => (
                (s[3] > 0).then_some(3),
                (s[4] > 0).then_some(3 + s[3] as usize),
            ),
            _ => match count {
                3 => (None, None),
                5 => (Some(3), Some(4)),
                4 if matches!(a_kind, MxElement::BF16 | MxElement::FP16) => (None, Some(3)),
                4 => (Some(3), None),
                _ => return Err(self.error(op, format!("unexpected operand count {count}"))),
            },
        };
        let (a, b, c) = (
            self.operand(op, 0),
            self.operand(op, 1),
            self.operand(op, 2),
        );
        let c_shape = self.shape_u32(self.ty(c))?;
        let [m, n] = c_shape[..] else {
            return Err(self.error(op, "dot_scaled supports 2-D operands"));
        };
        let a_view = self.view(a)?;
        let b_view = self.view(b)?;
        let a_pack = if a_kind == MxElement::E2M1 {
            Packing::Fp4Rows
        } else {
            Packing::Plain
        };
        let b_pack = if b_kind == MxElement::E2M1 {
            Packing::Fp4Rows
        } else {
            Packing::Plain
        };
        let k = a_view.shape.get(1).copied().unwrap_or(0)
            * if a_pack == Packing::Fp4Rows && lhs_k_pack {
                2
            } else {
                1
            };
        let a_scale = match a_scale_at {
            Some(i) => Some(self.scale_view(self.operand(op, i))?),
            None => None,
        };
        let b_scale = match b_scale_at {
            Some(i) => Some(self.scale_view(self.operand(op, i))?),
            None => None,
        };
        if (a_scale.is_some() || b_scale.is_some()) && k % 32 != 0 {
            return Err(self.error(
                op,
                format!("MX scales need K to be a multiple of 32 (K = {k})"),
            ));
        }
        let (out, out_dtype) = self.dot_output(op, c)?;
        let accumulate = !self.is_zero_constant(c);
        if accumulate {
            self.init_accumulator(c, &out, out_dtype)?;
        }
        let a_mat = if a_pack == Packing::Fp4Rows && !lhs_k_pack {
            // a is [M/2, K] bytes packed along M: store its [K, M/2]
            // transpose (rows of M nibbles), a transposed TTU operand.
            let t = BView {
                shape: vec![a_view.shape[1], a_view.shape[0]],
                strides: vec![a_view.strides[1], a_view.strides[0]],
                ..a_view
            };
            let dense = self.dense(t);
            let ld = dense.strides[0] * 2;
            TMat {
                view: BView {
                    shape: vec![k, m],
                    strides: vec![ld, 1],
                    ..dense
                },
                dtype: DType::F4E2M1,
                transposed: true,
                scale: a_scale,
            }
        } else {
            self.matmul_operand(a_view, mx_dtype(a_kind), a_pack, a_scale)
        };
        let b_mat = if b_pack == Packing::Fp4Rows && !rhs_k_pack {
            // b is [K, N/2] bytes packed along N: rows of N nibbles, B's
            // plain row-major layout.
            self.matmul_operand(b_view, DType::F4E2M1, Packing::Fp4Rows, b_scale)
        } else if b_pack == Packing::Fp4Rows {
            // b is [K/2, N] bytes packed along K: store it as its [N, K]
            // transpose (rows of K nibbles) for the TTU.
            let t = BView {
                shape: vec![b_view.shape[1], b_view.shape[0]],
                strides: vec![b_view.strides[1], b_view.strides[0]],
                ..b_view
            };
            let dense = self.dense(t);
            let ld = dense.strides[0] * 2;
            TMat {
                view: BView {
                    shape: vec![n, k],
                    strides: vec![ld, 1],
                    ..dense
                },
                dtype: DType::F4E2M1,
                transposed: true,
                scale: b_scale,
            }
        } else {
            self.matmul_operand(b_view, mx_dtype(b_kind), Packing::Plain, b_scale)
        };
        self.emit(TOpKind::Matmul {
            m,
            n,
            k,
            a: a_mat,
            b: b_mat,
            out: out.clone(),
            accumulate,
        });
        self.finish_dot(op, out, out_dtype)
    }

    /// An f64 dot, which the TTU cannot multiply, on the vector unit: one
    /// rank-1 update `acc = acc + a[:, k] · b[k, :]` per `k` ascending, from
    /// the accumulator `c` — each product and each sum rounded to f64, the
    /// interpreter's order. The column of `a` and the row of `b` are
    /// broadcast views (stride 0), so no operand is copied; the updates
    /// alternate between two buffers.
    fn lower_vector_dot(&mut self, op: Op, a: Value, b: Value, c: Value) -> Result<(), Diagnostic> {
        let a_view = self.view(a)?;
        let b_view = self.view(b)?;
        let c_ty = self.ty(c).clone();
        let shape = self.shape_u32(&c_ty)?;
        let (batch, m, n) = match shape[..] {
            [m, n] => (None, m, n),
            [bt, m, n] => (Some(bt), m, n),
            _ => return Err(self.error(op, "a dot's accumulator must be 2-D or 3-D")),
        };
        let k = *a_view.shape.last().unwrap_or(&0);
        let c_view = broadcast_view(&self.view(c)?, &shape);
        let bufs = [
            self.new_buf(DType::F64, &shape, BufSpace::Tsram, "acc"),
            self.new_buf(DType::F64, &shape, BufSpace::Tsram, "acc"),
        ];
        self.emit(TOpKind::Copy {
            src: c_view,
            dst: bufs[0].clone(),
        });
        let update = MicroProgram {
            inputs: vec![DType::F64; 3],
            body: vec![
                LaneInstr {
                    op: LaneOp::Float {
                        op: FloatBinaryOp::Mul,
                        ty: FloatType::F64,
                    },
                    args: vec![LaneSrc::Input(1), LaneSrc::Input(2)],
                },
                LaneInstr {
                    op: LaneOp::Float {
                        op: FloatBinaryOp::Add,
                        ty: FloatType::F64,
                    },
                    args: vec![LaneSrc::Input(0), LaneSrc::Value(0)],
                },
            ],
            outputs: vec![LaneSrc::Value(1)],
        };
        for kk in 0..k {
            let (src, dst) = (&bufs[kk as usize % 2], &bufs[(kk as usize + 1) % 2]);
            // One update per batch: each batch's operands live at their own offsets.
            for bi in 0..batch.unwrap_or(1) {
                let (am, bm, acc_in, acc_out) = match batch {
                    None => (a_view.clone(), b_view.clone(), src.clone(), dst.clone()),
                    Some(_) => (
                        batch_slice(&a_view, bi),
                        batch_slice(&b_view, bi),
                        batch_slice(src, bi),
                        batch_slice(dst, bi),
                    ),
                };
                // a[:, kk] repeated along N and b[kk, :] along M, as [M, N] views.
                let a_col = BView {
                    buf: am.buf,
                    offset: am.offset + i64::from(kk) * am.strides[1],
                    shape: vec![m, n],
                    strides: vec![am.strides[0], 0],
                };
                let b_row = BView {
                    buf: bm.buf,
                    offset: bm.offset + i64::from(kk) * bm.strides[0],
                    shape: vec![m, n],
                    strides: vec![0, bm.strides[1]],
                };
                self.emit(TOpKind::Map {
                    micro: update.clone(),
                    inputs: vec![
                        crate::tile::TInput::View(acc_in),
                        crate::tile::TInput::View(a_col),
                        crate::tile::TInput::View(b_row),
                    ],
                    outputs: vec![acc_out],
                });
            }
        }
        let out = bufs[k as usize % 2].clone();
        self.finish_dot(op, out, DType::F64)
    }

    /// A scale operand as a dense `[rows, K/32]` block.
    fn scale_view(&mut self, v: Value) -> Result<BView, Diagnostic> {
        let view = self.view(v)?;
        Ok(self.dense(view))
    }

    /// The TTU element type of a dot operand.
    fn dot_dtype(&self, op: Op, v: Value) -> Result<DType, Diagnostic> {
        let ty = self.ty(v);
        let dtype = scalar_dtype(ty.element());
        match dtype {
            Some(d) if d == DType::I8 || (d.is_float() && d != DType::F64) => Ok(d),
            _ => Err(self.error(
                op,
                format!("the matrix unit cannot multiply {} operands", ty.element()),
            )),
        }
    }

    /// The f32/i32 output buffer of a dot whose accumulator is `c`.
    fn dot_output(&mut self, op: Op, c: Value) -> Result<(BView, DType), Diagnostic> {
        let ty = self.ty(c).clone();
        let c_dtype = scalar_dtype(ty.element());
        let out_dtype = match c_dtype {
            Some(DType::I32) => DType::I32,
            Some(d) if d.is_float() && d != DType::F64 => DType::F32,
            _ => {
                return Err(self.error(
                    op,
                    format!("the matrix unit cannot accumulate into {}", ty.element()),
                ))
            }
        };
        let shape = self.shape_u32(&ty)?;
        Ok((
            self.new_buf(out_dtype, &shape, BufSpace::Tsram, "acc"),
            out_dtype,
        ))
    }

    /// `out = c` (converted exactly to f32 when `c` is narrower).
    fn init_accumulator(
        &mut self,
        c: Value,
        out: &BView,
        out_dtype: DType,
    ) -> Result<(), Diagnostic> {
        let c_view = self.view(c)?;
        let c_view = broadcast_view(&c_view, &out.shape);
        let c_dtype = self.kernel.bufs[c_view.buf].dtype;
        if c_dtype == out_dtype {
            self.emit(TOpKind::Copy {
                src: c_view,
                dst: out.clone(),
            });
        } else {
            self.emit(TOpKind::Map {
                micro: convert_micro(c_dtype, out_dtype),
                inputs: vec![crate::tile::TInput::View(c_view)],
                outputs: vec![out.clone()],
            });
        }
        Ok(())
    }

    /// Binds the dot's result: the output buffer, or its rounding to a
    /// narrower float type.
    fn finish_dot(&mut self, op: Op, out: BView, out_dtype: DType) -> Result<(), Diagnostic> {
        let result = self.result(op, 0);
        let ty = self.ty(result).clone();
        let result_dtype = scalar_dtype(ty.element()).unwrap_or(out_dtype);
        if result_dtype == out_dtype {
            self.set(result, super::ValueLoc::Tensor(out));
            return Ok(());
        }
        let dst = self.new_tensor_buf(&ty, "dot")?;
        self.emit(TOpKind::Map {
            micro: convert_micro(out_dtype, result_dtype),
            inputs: vec![crate::tile::TInput::View(out)],
            outputs: vec![dst.clone()],
        });
        self.set(result, super::ValueLoc::Tensor(dst));
        Ok(())
    }

    /// A 2-D operand view (logical `[rows, cols]`) as a TTU operand: a
    /// row-major block, a transposed one, or a dense copy.
    fn matmul_operand(
        &mut self,
        view: BView,
        dtype: DType,
        packing: Packing,
        scale: Option<BView>,
    ) -> TMat {
        let (rows, cols) = (view.shape[0], view.shape[1]);
        let (s0, s1) = (view.strides[0], view.strides[1]);
        let nibbles = if packing == Packing::Fp4Rows { 2 } else { 1 };
        let row_major = (s1 == 1 || cols == 1) && (rows == 1 || s0 >= i64::from(cols));
        if row_major {
            let ld = if rows == 1 { i64::from(cols) } else { s0 };
            return TMat {
                view: BView {
                    shape: vec![rows, cols * nibbles],
                    strides: vec![ld * i64::from(nibbles), 1],
                    ..view
                },
                dtype,
                transposed: false,
                scale,
            };
        }
        let transposed = packing == Packing::Plain
            && (s0 == 1 || rows == 1)
            && (cols == 1 || s1 >= i64::from(rows));
        if transposed {
            let ld = if cols == 1 { i64::from(rows) } else { s1 };
            return TMat {
                view: BView {
                    shape: vec![cols, rows],
                    strides: vec![ld, 1],
                    ..view
                },
                dtype,
                transposed: true,
                scale,
            };
        }
        let dense = self.dense(view);
        debug_assert!(is_dense(&dense));
        TMat {
            view: BView {
                shape: vec![rows, cols * nibbles],
                strides: vec![i64::from(cols * nibbles), 1],
                ..dense
            },
            dtype,
            transposed: false,
            scale,
        }
    }

    /// Whether `v` is a constant whose every element has all bits zero
    /// (+0.0 or integer 0): the accumulation can start from +0 directly.
    fn is_zero_constant(&self, v: Value) -> bool {
        let Some(def) = self.module.dfg.defining_op(v) else {
            return false;
        };
        if self.module.dfg.opcode(def) != Opcode::Constant {
            return false;
        }
        let zero = |a: &Attribute| match a {
            Attribute::Int { value, .. } => *value == 0,
            Attribute::Float { bits, .. } => *bits == 0,
            Attribute::Bool(b) => !*b,
            _ => false,
        };
        match self.module.dfg.attr(def, "value") {
            Some(Attribute::Dense {
                elems: DenseElements::Splat(s),
                ..
            }) => zero(s),
            Some(Attribute::Dense {
                elems: DenseElements::Elements(list),
                ..
            }) => list.iter().all(zero),
            Some(other) => zero(other),
            None => false,
        }
    }
}

/// The `[M, N]` (or `[M, K]`) matrix of batch `bi` of a 3-D view.
fn batch_slice(view: &BView, bi: u32) -> BView {
    BView {
        buf: view.buf,
        offset: view.offset + i64::from(bi) * view.strides[0],
        shape: view.shape[1..].to_vec(),
        strides: view.strides[1..].to_vec(),
    }
}

/// The TTU element type of an MX operand kind.
fn mx_dtype(kind: MxElement) -> DType {
    match kind {
        MxElement::E2M1 => DType::F4E2M1,
        MxElement::E2M3 => DType::F6E2M3,
        MxElement::E3M2 => DType::F6E3M2,
        MxElement::E4M3 => DType::F8E4M3FN,
        MxElement::E5M2 => DType::F8E5M2,
        MxElement::BF16 => DType::BF16,
        MxElement::FP16 => DType::F16,
    }
}

/// `out = convert(in0)` between float types (nearest even), or an integer
/// resize.
fn convert_micro(from: DType, to: DType) -> MicroProgram {
    let op = match (from.int_width(), to.int_width()) {
        (Some(a), Some(b)) if a < b => LaneOp::ExtSigned { from: a, to: b },
        (Some(a), Some(b)) => LaneOp::Trunc { from: a, to: b },
        _ => LaneOp::Convert {
            from,
            to,
            rounding: Rounding::NearestEven,
        },
    };
    MicroProgram {
        inputs: vec![from],
        body: vec![LaneInstr {
            op,
            args: vec![LaneSrc::Input(0)],
        }],
        outputs: vec![LaneSrc::Value(0)],
    }
}
