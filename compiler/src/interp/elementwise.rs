//! Elementwise ops, constants and `ub.poison`.
//!
//! An elementwise op is resolved once ([`ElementwiseOp::resolve`], the
//! shared semantics) and applied over flat element vectors. Operands with a
//! single element broadcast against the others: that covers `arith.select`
//! with a scalar condition, and lets `tt.reduce`/`tt.scan` evaluate their
//! scalar combiner regions on whole slices at once.

use maiac_ir::semantics::int::{mask, mul_extended};
use maiac_ir::semantics::ElementwiseOp;
use maiac_ir::{Attribute, DenseElements, Diagnostic, Op, Type};

use super::exec::{Frame, Interp};
use super::value::{RValue, Tensor};

/// Applies `op` to operand tensors, broadcasting one-element operands.
pub fn apply_elementwise(op: ElementwiseOp, args: &[&Tensor]) -> Result<Tensor, String> {
    let widest = args
        .iter()
        .max_by_key(|t| (t.len(), t.shape.len()))
        .ok_or("no operands")?;
    let n = widest.len();
    let shape = widest.shape.clone();
    for t in args {
        if t.len() != n && t.len() != 1 {
            return Err(format!(
                "operand shapes {:?} and {:?} do not match",
                t.shape, widest.shape
            ));
        }
    }
    let pick = |t: &Tensor, i: usize| if t.len() == 1 { t.data[0] } else { t.data[i] };
    let data: Vec<u64> = match args {
        [a] => a.data.iter().map(|&x| op.eval(&[x])).collect(),
        [a, b] if a.len() == n && b.len() == n => a
            .data
            .iter()
            .zip(&b.data)
            .map(|(&x, &y)| op.eval(&[x, y]))
            .collect(),
        [a, b] => (0..n).map(|i| op.eval(&[pick(a, i), pick(b, i)])).collect(),
        [a, b, c] => (0..n)
            .map(|i| op.eval(&[pick(a, i), pick(b, i), pick(c, i)]))
            .collect(),
        _ => {
            let mut scratch = vec![0u64; args.len()];
            (0..n)
                .map(|i| {
                    for (slot, t) in scratch.iter_mut().zip(args) {
                        *slot = pick(t, i);
                    }
                    op.eval(&scratch)
                })
                .collect()
        }
    };
    Ok(Tensor::new(shape, data))
}

/// The raw bits of a scalar constant attribute for element type `elem`.
pub fn attr_bits(attr: &Attribute, elem: &Type) -> Result<u64, String> {
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

impl Interp<'_> {
    pub(super) fn exec_elementwise(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let resolved = self.elementwise_op(op)?;
        let operands = self.module.dfg.operands(op);
        let tensors = operands
            .iter()
            .map(|&v| self.tensor(frame, op, v))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&Tensor> = tensors.iter().map(|t| t.as_ref()).collect();
        let result = apply_elementwise(resolved, &refs).map_err(|e| self.error(op, e))?;
        self.set_result(frame, op, RValue::tensor(result))
    }

    pub(super) fn exec_constant(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        if let Some(v) = self.cached_constant(op) {
            return self.set_result(frame, op, v);
        }
        let ty = self.result_type(op, 0)?;
        let attr = self
            .module
            .dfg
            .attr(op, "value")
            .ok_or_else(|| self.error(op, "missing `value` attribute"))?;
        let shape = self.result_shape(op, 0)?;
        let elem = ty.element();
        let tensor = match attr {
            Attribute::Dense {
                elems: DenseElements::Splat(value),
                ..
            } => Tensor::filled(
                shape,
                attr_bits(value, elem).map_err(|e| self.error(op, e))?,
            ),
            Attribute::Dense {
                elems: DenseElements::Elements(values),
                ..
            } => {
                let data = values
                    .iter()
                    .map(|v| attr_bits(v, elem))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| self.error(op, e))?;
                if data.len() != shape.iter().product::<usize>() {
                    return Err(self.error(op, format!("{} values for {ty}", data.len())));
                }
                Tensor::new(shape, data)
            }
            scalar => Tensor::filled(
                shape,
                attr_bits(scalar, elem).map_err(|e| self.error(op, e))?,
            ),
        };
        let value = RValue::tensor(tensor);
        self.cache_constant(op, value.clone());
        self.set_result(frame, op, value)
    }

    /// `ub.poison`: maiac defines poison as all-zero bits.
    pub(super) fn exec_poison(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let shape = self.result_shape(op, 0)?;
        self.set_result(frame, op, RValue::tensor(Tensor::filled(shape, 0)))
    }

    /// `arith.mulsi_extended` / `arith.mului_extended`: (low, high) results.
    pub(super) fn exec_mul_extended(
        &mut self,
        frame: &mut Frame,
        op: Op,
    ) -> Result<(), Diagnostic> {
        let signed = self.module.dfg.opcode(op) == maiac_ir::Opcode::MulSIExtended;
        let width = self
            .operand_type(op, 0)?
            .element()
            .int_width()
            .ok_or_else(|| self.error(op, "operands must be integers"))?;
        let (a, b) = (self.operand(frame, op, 0)?, self.operand(frame, op, 1)?);
        if a.len() != b.len() {
            return Err(self.error(op, "operand shapes differ"));
        }
        let (low, high): (Vec<u64>, Vec<u64>) = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(&x, &y)| mul_extended(signed, width, x, y))
            .unzip();
        let shape = a.shape.clone();
        self.set_results(
            frame,
            op,
            vec![
                RValue::tensor(Tensor::new(shape.clone(), low)),
                RValue::tensor(Tensor::new(shape, high)),
            ],
        )
    }
}
