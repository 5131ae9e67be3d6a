//! Elementwise ops: control-processor ALU sequences on integer/pointer
//! scalars, TVP micro-programs on tensors and float scalars.
//!
//! Every op is first resolved with [`ElementwiseOp::resolve`] — the function
//! the reference interpreter evaluates — so the lowering cannot disagree
//! with it about what an op means.
//!
//! - **Tensors and float scalars**: one `tvp.map` whose micro-program is the
//!   single lane op [`LaneOp::from_elementwise`] gives for the resolved op
//!   (bit-exact with the interpreter by construction). Inputs are the
//!   operands' views as they are (broadcast views included) or
//!   [`TInput::Scalar`] for a value held in a CP register; the output is a
//!   fresh buffer. The fusion pass merges chains of these one-op maps later,
//!   so they are deliberately kept minimal here.
//! - **Integer, pointer and `i1` scalars**: the op is phrased as an access
//!   analysis [`ScalarExpr`] and evaluated by the same width-normalising
//!   CP code the address computations use (`eval_scalar_expr`: results of
//!   an `iW` op re-sign-extended from `W`, unsigned ops on zero-extended
//!   operands, `i1` as 0/1, the division and shift rules of
//!   docs/semantics.md). Ops the CP has no sequence for (bit counting,
//!   float ↔ int conversions, compares of floats, ...) run on the TVP over
//!   rank-0 buffers, and an integer result is loaded back into a register.

use maiac_backend::isa::{DType, LaneInstr, LaneOp, LaneSrc, MicroProgram};
use maiac_ir::semantics::int::{IntBinaryOp, IntPredicate};
use maiac_ir::semantics::ElementwiseOp;
use maiac_ir::{Diagnostic, Op, Opcode, Type, Value};

use super::memory::ExprCache;
use super::{scalar_dtype, scalar_width, Lowerer, ValueLoc};
use crate::access::{Atom, CastKind, ScalarExpr};
use crate::tile::{BView, TInput, TOpKind};

impl Lowerer<'_> {
    pub(super) fn lower_elementwise(&mut self, op: Op) -> Result<(), Diagnostic> {
        let opcode = self.module.dfg.opcode(op);
        if matches!(opcode, Opcode::MulSIExtended | Opcode::MulUIExtended) {
            return self.lower_mul_extended(op);
        }
        let operands: Vec<Value> = self.module.dfg.operands(op).to_vec();
        let result = self.result(op, 0);
        let operand_types: Vec<Type> = operands.iter().map(|&v| self.ty(v).clone()).collect();
        let result_ty = self.ty(result).clone();
        let resolved = ElementwiseOp::resolve(
            opcode,
            &self.module.dfg.ops[op].attrs,
            &operand_types,
            &result_ty,
        )
        .map_err(|e| self.error(op, e))?;

        let all_cp = operands
            .iter()
            .all(|&v| matches!(self.loc(v), Ok(ValueLoc::Scalar(_))));
        let result_in_register = !result_ty.is_tensor() && !result_ty.is_float();
        if all_cp && result_in_register {
            if let Some(expr) = scalar_expr(resolved, &operands, &operand_types, &result_ty) {
                let mut cache = ExprCache::new();
                let value = self.eval_scalar_expr(&expr, &mut cache)?;
                self.set(result, ValueLoc::Scalar(value));
                return Ok(());
            }
        }
        // A bitcast of a float scalar to an integer of its width is just its
        // raw bits.
        if result_in_register && matches!(resolved, ElementwiseOp::Identity) {
            let expr = ScalarExpr::Atom {
                atom: Atom::Value(operands[0]),
                width: scalar_width(&result_ty),
            };
            let mut cache = ExprCache::new();
            let value = self.eval_scalar_expr(&expr, &mut cache)?;
            self.set(result, ValueLoc::Scalar(value));
            return Ok(());
        }

        let operand_dtypes = operand_types
            .iter()
            .map(|t| self.dtype_of(op, t))
            .collect::<Result<Vec<_>, _>>()?;
        let result_dtype = self.dtype_of(op, &result_ty)?;
        let micro = single_op_micro(resolved, &operand_dtypes, result_dtype).ok_or_else(|| {
            self.error(
                op,
                format!(
                    "`{}` has no vector-unit counterpart for these types",
                    opcode.name()
                ),
            )
        })?;
        // A same-type identity (a pointer bitcast, an index cast between
        // equal widths) of a buffer needs no op at all.
        if micro.body.is_empty() && operand_dtypes[0] == result_dtype {
            if let ValueLoc::Tensor(view) = self.loc(operands[0])? {
                self.set(result, ValueLoc::Tensor(view));
                return Ok(());
            }
        }
        let shape = self.shape_u32(&result_ty)?;
        let inputs = self.map_inputs(&operands, &shape)?;
        let out = self.new_tensor_buf(&result_ty, "ew")?;
        self.emit(TOpKind::Map {
            micro,
            inputs,
            outputs: vec![out.clone()],
        });
        self.bind_map_result(result, &result_ty, out)
    }

    /// `arith.mulsi_extended` / `arith.mului_extended`: the low and high
    /// halves of the double-width product.
    fn lower_mul_extended(&mut self, op: Op) -> Result<(), Diagnostic> {
        let signed = self.module.dfg.opcode(op) == Opcode::MulSIExtended;
        let operands: Vec<Value> = self.module.dfg.operands(op).to_vec();
        if operands.len() != 2 || self.module.dfg.results(op).len() != 2 {
            return Err(self.error(op, "expects two operands and two results"));
        }
        let ty = self.ty(operands[0]).clone();
        let width = ty
            .element()
            .int_width()
            .ok_or_else(|| self.error(op, "operands must be integers"))?;
        let high_op = if signed {
            IntBinaryOp::MulHiS
        } else {
            IntBinaryOp::MulHiU
        };
        let (low, high) = (self.result(op, 0), self.result(op, 1));
        let all_cp = operands
            .iter()
            .all(|&v| matches!(self.loc(v), Ok(ValueLoc::Scalar(_))));
        if all_cp {
            let atom = |v| {
                Box::new(ScalarExpr::Atom {
                    atom: Atom::Value(v),
                    width,
                })
            };
            let mut cache = ExprCache::new();
            for (result, int_op) in [(low, IntBinaryOp::Mul), (high, high_op)] {
                let expr = ScalarExpr::Binary {
                    op: int_op,
                    width,
                    lhs: atom(operands[0]),
                    rhs: atom(operands[1]),
                };
                let value = self.eval_scalar_expr(&expr, &mut cache)?;
                self.set(result, ValueLoc::Scalar(value));
            }
            return Ok(());
        }
        let dtype = self.dtype_of(op, &ty)?;
        let args = [LaneSrc::Input(0), LaneSrc::Input(1)];
        let micro = MicroProgram {
            inputs: vec![dtype, dtype],
            body: vec![
                LaneInstr {
                    op: LaneOp::Int {
                        op: IntBinaryOp::Mul,
                        width,
                    },
                    args: args.to_vec(),
                },
                LaneInstr {
                    op: LaneOp::Int { op: high_op, width },
                    args: args.to_vec(),
                },
            ],
            outputs: vec![LaneSrc::Value(0), LaneSrc::Value(1)],
        };
        let shape = self.shape_u32(&ty)?;
        let inputs = self.map_inputs(&operands, &shape)?;
        let low_out = self.new_tensor_buf(&ty, "mul_lo")?;
        let high_out = self.new_tensor_buf(&ty, "mul_hi")?;
        self.emit(TOpKind::Map {
            micro,
            inputs,
            outputs: vec![low_out.clone(), high_out.clone()],
        });
        self.bind_map_result(low, &ty, low_out)?;
        self.bind_map_result(high, &ty, high_out)
    }

    /// The inputs of a map producing `shape`: CP scalars broadcast as
    /// scalar inputs, rank-0 (float scalar) buffers broadcast through
    /// zero-stride views, tensors as their views.
    pub(super) fn map_inputs(
        &mut self,
        operands: &[Value],
        shape: &[u32],
    ) -> Result<Vec<TInput>, Diagnostic> {
        operands
            .iter()
            .map(|&v| {
                Ok(match self.loc(v)? {
                    ValueLoc::Scalar(s) => TInput::Scalar(s),
                    // A splat of a CP scalar: read the register, not the buffer.
                    ValueLoc::Tensor(view)
                        if view.offset == 0
                            && view.strides.iter().all(|&s| s == 0)
                            && self.scratch.splat_sources.contains_key(&view.buf) =>
                    {
                        TInput::Scalar(self.scratch.splat_sources[&view.buf])
                    }
                    ValueLoc::Tensor(view) if view.shape.as_slice() != shape => {
                        TInput::View(super::memory::broadcast_view(&view, shape))
                    }
                    ValueLoc::Tensor(view) => TInput::View(view),
                    ValueLoc::Opaque => {
                        let op = self.current_op.unwrap_or(self.func);
                        return Err(self.error(op, "this value (a block pointer or tensor descriptor) cannot be used as data"));
                    }
                })
            })
            .collect()
    }

    /// Binds the output buffer of a map to its TTIR result: tensors and
    /// float scalars stay in the buffer, integer scalars are loaded back
    /// into a register in canonical form.
    fn bind_map_result(&mut self, result: Value, ty: &Type, out: BView) -> Result<(), Diagnostic> {
        if ty.is_tensor() || ty.is_float() {
            self.set(result, ValueLoc::Tensor(out));
            return Ok(());
        }
        let width = scalar_width(ty);
        let dst = self.new_sreg(width, "ew");
        self.emit(TOpKind::LoadScalar {
            dst,
            src: out,
            bytes: (width / 8).max(1) as u8,
            signed: width > 1,
        });
        self.set(result, ValueLoc::Scalar(crate::tile::SOp::Reg(dst)));
        Ok(())
    }

    /// The machine element type of a TTIR (element) type.
    pub(super) fn dtype_of(&self, op: Op, ty: &Type) -> Result<DType, Diagnostic> {
        scalar_dtype(ty.element()).ok_or_else(|| {
            self.error(
                op,
                format!(
                    "values of type {} have no machine representation",
                    ty.element()
                ),
            )
        })
    }
}

/// The one-op micro-program of a resolved elementwise op; an identity
/// (same-width extension or truncation, a bitcast between equal types) is
/// the empty program forwarding its input.
pub(super) fn single_op_micro(
    op: ElementwiseOp,
    operands: &[DType],
    result: DType,
) -> Option<MicroProgram> {
    let lane = LaneOp::from_elementwise(op, operands, result)?;
    let identity = match lane {
        LaneOp::ExtSigned { from, to }
        | LaneOp::ExtUnsigned { from, to }
        | LaneOp::Trunc { from, to } => from == to,
        LaneOp::Bitcast { from, to } => from == to,
        _ => false,
    };
    if identity {
        return Some(MicroProgram {
            inputs: operands.to_vec(),
            body: Vec::new(),
            outputs: vec![LaneSrc::Input(0)],
        });
    }
    let micro = MicroProgram {
        inputs: operands.to_vec(),
        body: vec![LaneInstr {
            op: lane,
            args: (0..operands.len() as u16).map(LaneSrc::Input).collect(),
        }],
        outputs: vec![LaneSrc::Value(0)],
    };
    micro.check().ok()?;
    Some(micro)
}

/// The resolved op as a CP scalar expression over the operands, when the
/// control processor has a sequence for it.
fn scalar_expr(
    op: ElementwiseOp,
    operands: &[Value],
    types: &[Type],
    result: &Type,
) -> Option<ScalarExpr> {
    use ElementwiseOp as E;
    let atom = |i: usize| -> Option<Box<ScalarExpr>> {
        let ty = types.get(i)?;
        if ty.is_float() {
            return None;
        }
        Some(Box::new(ScalarExpr::Atom {
            atom: Atom::Value(*operands.get(i)?),
            width: scalar_width(ty),
        }))
    };
    let result_width = scalar_width(result);
    Some(match op {
        E::Int { op, width } => ScalarExpr::Binary {
            op,
            width,
            lhs: atom(0)?,
            rhs: atom(1)?,
        },
        E::IntCmp { pred, .. } => ScalarExpr::Cmp {
            pred,
            lhs: atom(0)?,
            rhs: atom(1)?,
        },
        E::Select => ScalarExpr::Select {
            cond: atom(0)?,
            if_true: atom(1)?,
            if_false: atom(2)?,
        },
        E::ExtSigned { to, .. } => ScalarExpr::Cast {
            kind: CastKind::SignExtend,
            to,
            arg: atom(0)?,
        },
        E::ExtUnsigned { from } if from >= result_width => *atom(0)?,
        E::ExtUnsigned { .. } => ScalarExpr::Cast {
            kind: CastKind::ZeroExtend,
            to: result_width,
            arg: atom(0)?,
        },
        E::Trunc { to } if to >= scalar_width(types.first()?) => *atom(0)?,
        E::Trunc { to } => ScalarExpr::Cast {
            kind: CastKind::Truncate,
            to,
            arg: atom(0)?,
        },
        E::Identity => *atom(0)?,
        E::IntAbs { width } => {
            let x = atom(0)?;
            let zero = Box::new(ScalarExpr::Const { bits: 0, width });
            ScalarExpr::Select {
                cond: Box::new(ScalarExpr::Cmp {
                    pred: IntPredicate::Slt,
                    lhs: x.clone(),
                    rhs: zero.clone(),
                }),
                if_true: Box::new(ScalarExpr::Binary {
                    op: IntBinaryOp::Sub,
                    width,
                    lhs: zero,
                    rhs: x.clone(),
                }),
                if_false: x,
            }
        }
        E::AddPtr {
            offset_width,
            elem_size,
        } => {
            let offset = ScalarExpr::Cast {
                kind: CastKind::SignExtend,
                to: 64,
                arg: atom(1)?,
            };
            let offset = if offset_width == 64 {
                *atom(1)?
            } else {
                offset
            };
            let scaled = ScalarExpr::Binary {
                op: IntBinaryOp::Mul,
                width: 64,
                lhs: Box::new(offset),
                rhs: Box::new(ScalarExpr::Const {
                    bits: elem_size,
                    width: 64,
                }),
            };
            ScalarExpr::Binary {
                op: IntBinaryOp::Add,
                width: 64,
                lhs: atom(0)?,
                rhs: Box::new(scaled),
            }
        }
        _ => return None,
    })
}
