//! Scalars on the control processor and constant data: program ids,
//! `arith.constant`, `tt.make_range`.
//!
//! Integer, pointer and `i1` constants become immediates in their canonical
//! register form (sign-extended from their width, `i1` as 0/1). Float
//! scalars and tensors live in TSRAM: a float scalar constant is a rank-0
//! buffer written by one `StoreScalar` of its raw bits; a splat tensor
//! constant is a *one-element* buffer seen through an all-zero-stride view
//! of the tensor's shape (consumers read it as if it were filled); a dense
//! non-splat constant is written element by element.

use maiac_backend::isa::{DType, Special};
use maiac_ir::semantics::int::{mask, sign_extend};
use maiac_ir::{Attribute, DenseElements, Diagnostic, Op, Type};

use super::{scalar_dtype, Lowerer, ValueLoc};
use crate::tile::{BView, BufSpace, SOp, TOpKind};

/// The largest dense non-splat constant written element by element; the
/// fixtures' tables are far smaller, and a larger one would be a long run of
/// control-processor stores.
const MAX_DENSE_CONSTANT_ELEMENTS: usize = 4096;

impl Lowerer<'_> {
    /// `tt.get_program_id` / `tt.get_num_programs`: a special register.
    pub(super) fn lower_program_id(&mut self, op: Op) -> Result<(), Diagnostic> {
        let axis = self
            .module
            .dfg
            .attr(op, "axis")
            .and_then(Attribute::as_int)
            .unwrap_or(0);
        let axis = u8::try_from(axis)
            .ok()
            .filter(|&a| a < 3)
            .ok_or_else(|| self.error(op, format!("axis {axis} is not 0, 1 or 2")))?;
        let which = if self.module.dfg.opcode(op) == maiac_ir::Opcode::GetProgramId {
            Special::ProgramId(axis)
        } else {
            Special::NumPrograms(axis)
        };
        let result = self.result(op, 0);
        let dst = self.new_sreg(
            32,
            if matches!(which, Special::ProgramId(_)) {
                "pid"
            } else {
                "nprog"
            },
        );
        self.emit(TOpKind::ReadSpecial { dst, which });
        self.set(result, ValueLoc::Scalar(SOp::Reg(dst)));
        Ok(())
    }

    /// `arith.constant`.
    pub(super) fn lower_constant(&mut self, op: Op) -> Result<(), Diagnostic> {
        let result = self.result(op, 0);
        let ty = self.ty(result);
        let elem = ty.element();
        let attr = self
            .module
            .dfg
            .attr(op, "value")
            .ok_or_else(|| self.error(op, "arith.constant has no `value` attribute"))?;
        let bits_of = |a: &Attribute| attr_bits(a, elem).map_err(|e| self.error(op, e));
        if !ty.is_tensor() {
            let bits = bits_of(attr)?;
            if elem.is_float() {
                let view = self.new_tensor_buf(ty, "cst")?;
                self.store_bits(bits, ty, view.clone());
                self.scratch
                    .splat_sources
                    .insert(view.buf, SOp::Imm(bits as i64));
                self.set(result, ValueLoc::Tensor(view));
            } else {
                let width = super::scalar_width(ty);
                self.set(result, ValueLoc::Scalar(SOp::Imm(canonical(bits, width))));
            }
            return Ok(());
        }
        let shape = self.shape_u32(ty)?;
        let dtype = scalar_dtype(elem).ok_or_else(|| {
            self.error(
                op,
                format!("constants of type {elem} have no machine representation"),
            )
        })?;
        let values: Vec<u64> = match attr {
            Attribute::Dense {
                elems: DenseElements::Elements(values),
                ..
            } => values.iter().map(bits_of).collect::<Result<_, _>>()?,
            Attribute::Dense {
                elems: DenseElements::Splat(value),
                ..
            } => vec![bits_of(value)?],
            scalar => vec![bits_of(scalar)?],
        };
        let count: u64 = shape.iter().map(|&d| u64::from(d)).product();
        let view = if values.len() == 1 || values.iter().all(|&v| v == values[0]) {
            let one = self.new_buf(dtype, &[], BufSpace::Tsram, "cst");
            self.store_bits(values[0], elem, one.clone());
            // Maps read the constant as an immediate (its low bits at the
            // input type), so the buffer is usually dead.
            let imm = if elem.is_float() {
                values[0] as i64
            } else {
                canonical(values[0], super::scalar_width(elem))
            };
            self.scratch.splat_sources.insert(one.buf, SOp::Imm(imm));
            BView {
                buf: one.buf,
                offset: 0,
                shape: shape.clone(),
                strides: vec![0; shape.len()],
            }
        } else {
            if values.len() as u64 != count {
                return Err(self.error(op, format!("{} values for {ty}", values.len())));
            }
            if values.len() > MAX_DENSE_CONSTANT_ELEMENTS {
                return Err(self.error(
                    op,
                    format!(
                        "a dense constant of {} distinct elements is too large to materialise (at most {MAX_DENSE_CONSTANT_ELEMENTS})",
                        values.len()
                    ),
                ));
            }
            let whole = self.new_buf(dtype, &shape, BufSpace::Tsram, "cst");
            for (i, &bits) in values.iter().enumerate() {
                let element = BView {
                    buf: whole.buf,
                    offset: i as i64,
                    shape: Vec::new(),
                    strides: Vec::new(),
                };
                self.store_bits(bits, elem, element);
            }
            whole
        };
        self.set(result, ValueLoc::Tensor(view));
        Ok(())
    }

    /// `tt.make_range {start, end}`: an `i32` iota.
    pub(super) fn lower_make_range(&mut self, op: Op) -> Result<(), Diagnostic> {
        let int_attr = |name: &str| {
            self.module
                .dfg
                .attr(op, name)
                .and_then(Attribute::as_int)
                .ok_or_else(|| {
                    self.error(
                        op,
                        format!("tt.make_range has no integer `{name}` attribute"),
                    )
                })
        };
        let (start, end) = (int_attr("start")?, int_attr("end")?);
        if end < start {
            return Err(self.error(op, format!("end {end} is before start {start}")));
        }
        let len = u32::try_from(end - start).map_err(|_| {
            self.error(
                op,
                format!("a range of {} elements is too large", end - start),
            )
        })?;
        let result = self.result(op, 0);
        let dst = self.new_buf(DType::I32, &[len], BufSpace::Tsram, "range");
        // The interpreter keeps the low 32 bits; the start is an i32 value.
        let start = sign_extend((start as u64) & mask(32), 32);
        self.emit(TOpKind::Iota {
            dst: dst.clone(),
            start: SOp::Imm(start),
            axis: 0,
        });
        self.set(result, ValueLoc::Tensor(dst));
        Ok(())
    }

    /// Writes the raw `bits` of a value of (element) type `ty` into element
    /// 0 of `dst`.
    pub(super) fn store_bits(&mut self, bits: u64, ty: &Type, dst: BView) {
        let bytes = (super::scalar_width(ty) / 8).max(1) as u8;
        self.emit(TOpKind::StoreScalar {
            src: SOp::Imm(bits as i64),
            dst,
            bytes,
        });
    }
}

/// The canonical register value of `width`-bit raw bits (`i1` as 0/1).
pub(super) fn canonical(bits: u64, width: u32) -> i64 {
    if width == 1 {
        (bits & 1) as i64
    } else {
        sign_extend(bits & mask(width), width)
    }
}

/// The raw bits of a scalar constant attribute for element type `elem`
/// (the interpreter's rule: integers truncated to the width, floats must
/// match the type).
pub(super) fn attr_bits(attr: &Attribute, elem: &Type) -> Result<u64, String> {
    let width = match elem {
        Type::Int(w) => *w,
        Type::Index => 64,
        Type::Float(f) => f.bits(),
        other => return Err(format!("constants of type {other} are not supported")),
    };
    match attr {
        Attribute::Int { value, .. } => Ok((*value as u64) & mask(width)),
        Attribute::Bool(b) => Ok(u64::from(*b)),
        Attribute::Float { bits, ty } if ty.bits() == width => Ok(*bits),
        Attribute::Float { ty, .. } => Err(format!(
            "a {} constant cannot initialize {elem}",
            ty.mlir_name()
        )),
        other => Err(format!("unsupported constant value {other:?}")),
    }
}
