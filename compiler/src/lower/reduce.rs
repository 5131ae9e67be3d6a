//! `tt.reduce`, `tt.scan`, `tt.gather` and `tt.histogram` on the TVP.
//!
//! A reduction or scan's combiner region becomes a lane micro-program: its
//! block arguments are already in the TVP's convention (the `n`
//! accumulators, then the `n` new elements), its elementwise ops become lane
//! ops through [`LaneOp::from_elementwise`] (the same semantics the
//! interpreter evaluates the region with), its constants immediates, and
//! the values it returns the outputs. The TVP folds sequentially from index
//! 0 (or scans from the end with `reverse`), exactly the interpreter's
//! order, so results agree bit for bit.

use std::collections::HashMap;

use maiac_backend::isa::{DType, LaneInstr, LaneOp, LaneSrc, MicroProgram};
use maiac_ir::semantics::int::mask;
use maiac_ir::semantics::ElementwiseOp;
use maiac_ir::{Attribute, DenseElements, Diagnostic, Op, Opcode, Type, Value};

use super::memory::broadcast_view;
use super::{scalar_dtype, Lowerer, ValueLoc};
use crate::tile::{SOp, TOpKind};

impl Lowerer<'_> {
    pub(super) fn lower_reduce(&mut self, op: Op) -> Result<(), Diagnostic> {
        match self.module.dfg.opcode(op) {
            Opcode::Reduce => self.lower_fold(op, false),
            Opcode::Scan => self.lower_fold(op, true),
            Opcode::Gather => self.lower_tvp_gather(op),
            Opcode::Histogram => self.lower_histogram(op),
            other => Err(self.error(
                op,
                format!("internal: `{}` is not a reduction", other.name()),
            )),
        }
    }

    /// `tt.reduce` (`scan = false`) or `tt.scan`.
    fn lower_fold(&mut self, op: Op, scan: bool) -> Result<(), Diagnostic> {
        let operands = self.module.dfg.operands(op).to_vec();
        let axis = self
            .module
            .dfg
            .attr(op, "axis")
            .and_then(|a| a.as_int())
            .ok_or_else(|| self.error(op, "missing `axis` attribute"))?;
        let first_ty = self.ty(operands[0]).clone();
        let rank = first_ty.shape().len();
        let axis = u8::try_from(axis)
            .ok()
            .filter(|&a| usize::from(a) < rank)
            .ok_or_else(|| self.error(op, format!("axis {axis} is out of range for {first_ty}")))?;
        let combiner = self.combiner_program(op, operands.len())?;
        let mut inputs = Vec::with_capacity(operands.len());
        for &v in &operands {
            inputs.push(self.view(v)?);
        }
        let mut outputs = Vec::new();
        for i in 0..self.module.dfg.results(op).len() {
            let ty = self.ty(self.result(op, i)).clone();
            outputs.push(self.new_tensor_buf(&ty, if scan { "scan" } else { "reduce" })?);
        }
        if scan {
            let reverse = self
                .module
                .dfg
                .attr(op, "reverse")
                .and_then(|a| a.as_int())
                .is_some_and(|v| v != 0);
            self.emit(TOpKind::Scan {
                combiner,
                axis,
                reverse,
                inputs,
                outputs: outputs.clone(),
            });
        } else {
            self.emit(TOpKind::Reduce {
                combiner,
                axis,
                inputs,
                outputs: outputs.clone(),
            });
        }
        for (i, out) in outputs.into_iter().enumerate() {
            let r = self.result(op, i);
            self.bind_buffer_result(r, out)?;
        }
        Ok(())
    }

    /// The combiner region of a reduce/scan with `n` operands as a `2n → n`
    /// micro-program.
    fn combiner_program(&mut self, op: Op, n: usize) -> Result<MicroProgram, Diagnostic> {
        let module = self.module;
        let region = *module.dfg.ops[op]
            .regions
            .first()
            .ok_or_else(|| self.error(op, "missing combiner region"))?;
        let [block] = module.layout.blocks(region) else {
            return Err(self.error(
                op,
                "a combiner with control flow (several blocks) cannot run on the vector unit",
            ));
        };
        let args = module.dfg.blocks[*block].args.clone();
        if args.len() != 2 * n {
            return Err(self.error(
                op,
                format!(
                    "the combiner takes {} arguments, expected {}",
                    args.len(),
                    2 * n
                ),
            ));
        }
        let mut program = MicroProgram::default();
        let mut srcs: HashMap<Value, LaneSrc> = HashMap::new();
        for (i, &a) in args.iter().enumerate() {
            let dtype = self.lane_type(op, self.ty(a))?;
            program.inputs.push(dtype);
            srcs.insert(a, LaneSrc::Input(i as u16));
        }
        for &inner in module.layout.ops(*block) {
            let opcode = module.dfg.opcode(inner);
            match opcode {
                Opcode::ReduceReturn | Opcode::ScanReturn => {
                    for &v in module.dfg.operands(inner) {
                        let src = self.lane_src(inner, v, &srcs)?;
                        program.outputs.push(src);
                    }
                }
                Opcode::Constant => {
                    let result = module.dfg.results(inner)[0];
                    let ty = self.ty(result).clone();
                    let dtype = self.lane_type(inner, &ty)?;
                    let bits = module
                        .dfg
                        .attr(inner, "value")
                        .and_then(|a| constant_bits(a, &ty))
                        .ok_or_else(|| self.error(inner, "unsupported constant in a combiner"))?;
                    srcs.insert(result, LaneSrc::Imm { ty: dtype, bits });
                }
                _ if opcode.is_elementwise() => {
                    let operand_values = module.dfg.operands(inner).to_vec();
                    let operand_types: Vec<Type> = operand_values.iter().map(|&v| self.ty(v).clone()).collect();
                    let results = module.dfg.results(inner).to_vec();
                    let [result] = results[..] else {
                        return Err(self.error(inner, "combiner ops with several results cannot run on the vector unit"));
                    };
                    let result_ty = self.ty(result).clone();
                    let resolved = ElementwiseOp::resolve(opcode, &module.dfg.ops[inner].attrs, &operand_types, &result_ty)
                        .map_err(|e| self.error(inner, e))?;
                    let operand_dtypes = operand_types
                        .iter()
                        .map(|t| self.lane_type(inner, t))
                        .collect::<Result<Vec<_>, _>>()?;
                    let result_dtype = self.lane_type(inner, &result_ty)?;
                    let lane = LaneOp::from_elementwise(resolved, &operand_dtypes, result_dtype).ok_or_else(|| {
                        self.error(inner, format!("`{}` has no vector-unit lane op for these types", opcode.name()))
                    })?;
                    let args = operand_values
                        .iter()
                        .map(|&v| self.lane_src(inner, v, &srcs))
                        .collect::<Result<Vec<_>, _>>()?;
                    program.body.push(LaneInstr { op: lane, args });
                    srcs.insert(result, LaneSrc::Value((program.body.len() - 1) as u16));
                }
                _ => {
                    return Err(self.error(
                        inner,
                        format!(
                            "`{}` in a reduction/scan combiner cannot run on the vector unit (only elementwise ops and constants can)",
                            opcode.name()
                        ),
                    ))
                }
            }
        }
        if program.outputs.len() != n {
            return Err(self.error(
                op,
                format!(
                    "the combiner returns {} values, expected {n}",
                    program.outputs.len()
                ),
            ));
        }
        program.check().map_err(|e| {
            self.error(op, format!("internal: invalid combiner micro-program: {e}"))
        })?;
        Ok(program)
    }

    /// A combiner operand as a lane source: a region value, or a constant
    /// captured from outside the region.
    fn lane_src(
        &self,
        op: Op,
        v: Value,
        srcs: &HashMap<Value, LaneSrc>,
    ) -> Result<LaneSrc, Diagnostic> {
        if let Some(&s) = srcs.get(&v) {
            return Ok(s);
        }
        let ty = self.ty(v);
        if let (Ok(ValueLoc::Scalar(SOp::Imm(bits))), Some(w)) = (self.loc(v), ty.int_width()) {
            let dtype = self.lane_type(op, ty)?;
            return Ok(LaneSrc::Imm {
                ty: dtype,
                bits: (bits as u64) & mask(w),
            });
        }
        // Triton's canonicalizer hoists float literals (`(a + b) * 0.5`) out
        // of combiner regions; a float constant is a scalar buffer whose
        // splat source is its bits.
        if let (Ok(ValueLoc::Tensor(view)), Some(_)) = (self.loc(v), ty.float_type()) {
            if let Some(&SOp::Imm(bits)) = self.scratch.splat_sources.get(&view.buf) {
                let dtype = self.lane_type(op, ty)?;
                return Ok(LaneSrc::Imm {
                    ty: dtype,
                    bits: (bits as u64) & dtype.value_mask(),
                });
            }
        }
        Err(self.error(op, "a combiner that reads a run-time value from outside its region cannot run on the vector unit"))
    }

    fn lane_type(&self, op: Op, ty: &Type) -> Result<DType, Diagnostic> {
        scalar_dtype(ty.element()).ok_or_else(|| {
            self.error(
                op,
                format!("values of type {ty} have no vector-unit representation"),
            )
        })
    }

    /// `tt.gather`: `out[i] = src[i with i[axis] = index[i]]`.
    fn lower_tvp_gather(&mut self, op: Op) -> Result<(), Diagnostic> {
        let axis = self
            .module
            .dfg
            .attr(op, "axis")
            .and_then(|a| a.as_int())
            .and_then(|a| u8::try_from(a).ok())
            .ok_or_else(|| self.error(op, "missing or invalid `axis` attribute"))?;
        let src = self.view(self.operand(op, 0))?;
        let index = self.view(self.operand(op, 1))?;
        let result = self.result(op, 0);
        let ty = self.ty(result).clone();
        let dst = self.new_tensor_buf(&ty, "gather")?;
        self.emit(TOpKind::TvpGather {
            src,
            index,
            dst: dst.clone(),
            axis,
        });
        self.bind_buffer_result(result, dst)
    }

    /// `tt.histogram` (optionally masked).
    fn lower_histogram(&mut self, op: Op) -> Result<(), Diagnostic> {
        let src = self.view(self.operand(op, 0))?;
        let mask = if self.module.dfg.operands(op).len() > 1 {
            let m = self.view(self.operand(op, 1))?;
            Some(broadcast_view(&m, &src.shape))
        } else {
            None
        };
        let result = self.result(op, 0);
        let ty = self.ty(result).clone();
        let dst = self.new_tensor_buf(&ty, "histogram")?;
        self.emit(TOpKind::Histogram {
            src,
            mask,
            dst: dst.clone(),
        });
        self.bind_buffer_result(result, dst)
    }
}

/// The raw bits of a scalar (or splat) constant of type `ty`.
fn constant_bits(attr: &Attribute, ty: &Type) -> Option<u64> {
    let elem = ty.element();
    let width = elem
        .int_width()
        .or_else(|| elem.float_type().map(|f| f.bits()))?;
    match attr {
        Attribute::Int { value, .. } => Some((*value as u64) & mask(width)),
        Attribute::Bool(b) => Some(u64::from(*b)),
        Attribute::Float { bits, ty } if ty.bits() == width => Some(*bits),
        Attribute::Dense {
            elems: DenseElements::Splat(value),
            ..
        } => constant_bits(value, elem),
        _ => None,
    }
}
