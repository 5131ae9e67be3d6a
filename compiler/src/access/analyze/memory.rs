//! Memory ops: each op's [`MemAccess`] from the forms of its pointer,
//! mask and `other` operands, or from its block pointer or descriptor.

use maiac_ir::semantics::int::IntPredicate;
use maiac_ir::{Attribute, DenseElements, Op, Opcode, Type, Value};

use crate::access::affine::{push_guard, Affine};
use crate::access::scalar::ScalarExpr;
use crate::access::{
    AccessDim, AccessKind, BlockPtrForm, Fill, IndirectAccess, MemAccess, StridedAccess, ValidBox,
};

use super::{attr_bits, scalar_width, Analyzer, Form};

impl Analyzer<'_> {
    pub(super) fn access(&self, op: Op, kind: AccessKind) -> MemAccess {
        let dfg = &self.m.dfg;
        let operands = dfg.operands(op);
        let (elem_ty, shape) = match kind {
            AccessKind::Load
            | AccessKind::DescriptorLoad
            | AccessKind::DescriptorGather
            | AccessKind::AtomicRmw
            | AccessKind::AtomicCas => {
                let ty = dfg
                    .results(op)
                    .first()
                    .map(|&r| dfg.value_type(r).clone())
                    .unwrap_or(Type::I8);
                (ty.element().clone(), ty.shape().to_vec())
            }
            AccessKind::Store | AccessKind::DescriptorStore => {
                let ty = operands
                    .get(1)
                    .map(|&v| dfg.value_type(v).clone())
                    .unwrap_or(Type::I8);
                (ty.element().clone(), ty.shape().to_vec())
            }
            AccessKind::DescriptorScatter => {
                let ty = operands
                    .get(3)
                    .map(|&v| dfg.value_type(v).clone())
                    .unwrap_or(Type::I8);
                (ty.element().clone(), ty.shape().to_vec())
            }
        };
        let elem_bytes = elem_ty.scalar_size_bytes();
        let mask_index = match kind {
            AccessKind::Load | AccessKind::AtomicRmw => Some(1),
            AccessKind::Store => Some(2),
            _ => None,
        };
        let mask_value = mask_index.and_then(|i| match kind {
            AccessKind::AtomicRmw => operands.get(2).copied(),
            _ => operands.get(i).copied(),
        });
        let fill =
            (kind == AccessKind::Load && mask_value.is_some()).then(|| self.fill(op, &elem_ty));
        let source = operands[0];
        let indirect = |reason: String| {
            let access = IndirectAccess {
                kind,
                elem: elem_ty.clone(),
                elem_bytes,
                shape: shape.clone(),
                source,
                mask: mask_value,
                fill: fill.clone(),
                reason,
            };
            if kind.writes() {
                MemAccess::Scatter(access)
            } else {
                MemAccess::Gather(access)
            }
        };
        let strided = match kind {
            AccessKind::DescriptorGather | AccessKind::DescriptorScatter => {
                Err("row indices are a tensor".to_string())
            }
            AccessKind::DescriptorLoad | AccessKind::DescriptorStore => {
                self.descriptor_access(op, kind, &elem_ty)
            }
            _ => match self.form(source) {
                Form::Block(bp) => self.block_ptr_access(op, kind, &elem_ty, &bp),
                Form::Affine(ptr) => {
                    self.pointer_access(kind, &elem_ty, &ptr, mask_value, fill.clone())
                }
                Form::Opaque(r) => Err(r),
                _ => Err("the pointer operand has an unexpected form".into()),
            },
        };
        match strided {
            Ok(s) if s.guards.iter().any(ScalarExpr::is_false) => {
                indirect("the offsets overflow their integer type".into())
            }
            Ok(s) => MemAccess::Strided(s),
            Err(reason) => indirect(reason),
        }
    }

    /// The fill of a masked `tt.load`.
    fn fill(&self, op: Op, elem: &Type) -> Fill {
        let width = scalar_width(elem).unwrap_or(64);
        let Some(&other) = self.m.dfg.operands(op).get(2) else {
            // Without `other`, masked-off elements read as zero.
            return Fill::Value(ScalarExpr::constant(0, width));
        };
        if let Some(def) = self.m.dfg.defining_op(other) {
            match self.m.dfg.opcode(def) {
                Opcode::Constant => {
                    let bits = match self.m.dfg.attr(def, "value") {
                        Some(Attribute::Dense {
                            elems: DenseElements::Splat(v),
                            ..
                        }) => attr_bits(v),
                        Some(
                            a @ (Attribute::Int { .. }
                            | Attribute::Float { .. }
                            | Attribute::Bool(_)),
                        ) => attr_bits(a),
                        _ => None,
                    };
                    if let Some(bits) = bits {
                        return Fill::Value(ScalarExpr::constant(i128::from(bits), width));
                    }
                }
                Opcode::Splat => {
                    if let Some(e) = self
                        .m
                        .dfg
                        .operands(def)
                        .first()
                        .and_then(|&s| self.scalar_expr(s))
                    {
                        return Fill::Value(e);
                    }
                }
                _ => {}
            }
        }
        if !self.m.dfg.value_type(other).is_tensor() {
            if let Some(e) = self.scalar_expr(other) {
                return Fill::Value(e);
            }
        }
        Fill::SelectAfterLoad(other)
    }

    fn pointer_access(
        &self,
        kind: AccessKind,
        elem: &Type,
        ptr: &Affine,
        mask: Option<Value>,
        fill: Option<Fill>,
    ) -> Result<StridedAccess, String> {
        let es = ptr
            .elem_bytes
            .ok_or("the pointer operand is not a pointer")?;
        let mut guards = ptr.guards.clone();
        let valid = match mask {
            None => None,
            Some(m) => {
                let mask = self
                    .mask(m)
                    .map_err(|r| format!("the mask is not a box: {r}"))?;
                if mask.shape != ptr.shape {
                    return Err("mask and pointer shapes differ".into());
                }
                for g in &mask.guards {
                    push_guard(&mut guards, g.clone());
                }
                (!mask.is_full()).then_some(ValidBox {
                    begin: mask.begin,
                    end: mask.end,
                    cond: mask.cond,
                })
            }
        };
        let dims = ptr
            .dims
            .iter()
            .zip(&ptr.shape)
            .map(|(d, &size)| AccessDim {
                size,
                stride: d.coef.clone(),
                wrap: d.wrap.clone(),
            })
            .collect();
        let fill = if valid.is_some() { fill } else { None };
        Ok(StridedAccess {
            kind,
            elem: elem.clone(),
            elem_bytes: es,
            base: ptr.offset.clone(),
            dims,
            valid,
            fill,
            guards,
        })
    }

    /// A load or store through a block pointer: `boundaryCheck` dimensions
    /// are clipped to `[0, shape)`.
    fn block_ptr_access(
        &self,
        op: Op,
        kind: AccessKind,
        elem: &Type,
        bp: &BlockPtrForm,
    ) -> Result<StridedAccess, String> {
        if !matches!(kind, AccessKind::Load | AccessKind::Store) {
            return Err("atomics through block pointers are not strided".into());
        }
        let rank = bp.block_shape.len();
        let checked: Vec<usize> = self
            .m
            .dfg
            .attr(op, "boundaryCheck")
            .and_then(Attribute::as_int_list)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| usize::try_from(d).ok().filter(|&d| d < rank))
            .collect();
        let pad_nan = matches!(self.m.dfg.attr(op, "padding"), Some(a) if a.as_str() == Some("nan") || a.as_int() == Some(2));
        let checked_dims: Vec<bool> = (0..rank).map(|d| checked.contains(&d)).collect();
        self.box_access(
            kind,
            elem,
            bp.base.clone(),
            bp.elem_bytes,
            &bp.block_shape,
            &bp.shape,
            &bp.strides,
            &bp.offsets,
            &checked_dims,
            pad_nan,
        )
    }

    fn descriptor_access(
        &self,
        op: Op,
        kind: AccessKind,
        elem: &Type,
    ) -> Result<StridedAccess, String> {
        let operands = self.m.dfg.operands(op);
        let desc = match operands.first().map(|&d| self.form(d)) {
            Some(form) => form,
            None => return Err("missing descriptor operand".into()),
        };
        let desc = match desc {
            Form::Desc(d) => d,
            Form::Opaque(r) => return Err(r),
            _ => return Err("the descriptor operand has an unexpected form".into()),
        };
        let first_index = if kind == AccessKind::DescriptorStore {
            2
        } else {
            1
        };
        let origin: Vec<ScalarExpr> = operands
            .get(first_index..)
            .unwrap_or(&[])
            .iter()
            .map(|&v| {
                self.scalar_expr(v)
                    .map(|e| ScalarExpr::sext(64, e))
                    .ok_or("a non-integer index")
            })
            .collect::<Result<_, _>>()?;
        let rank = desc.block_shape.len();
        if origin.len() != rank {
            return Err(format!("expected {rank} indices"));
        }
        self.box_access(
            kind,
            elem,
            desc.base.clone(),
            desc.elem_bytes,
            &desc.block_shape,
            &desc.shape,
            &desc.strides,
            &origin,
            &vec![true; rank],
            desc.pad_nan,
        )
    }

    /// The strided access of a block `[origin, origin + block)` of a global
    /// tensor, clipped to `[0, shape)` along the `checked` dimensions (the
    /// coordinates are `i64` and wrap; a guard excludes that).
    #[allow(clippy::too_many_arguments)]
    fn box_access(
        &self,
        kind: AccessKind,
        elem: &Type,
        base: ScalarExpr,
        elem_bytes: u64,
        block_shape: &[i64],
        shape: &[ScalarExpr],
        strides: &[ScalarExpr],
        origin: &[ScalarExpr],
        checked: &[bool],
        pad_nan: bool,
    ) -> Result<StridedAccess, String> {
        let rank = block_shape.len();
        if shape.len() != rank || strides.len() != rank || origin.len() != rank {
            return Err("rank mismatch".into());
        }
        // address = base + es × Σ (origin_d + i_d) × stride_d  (mod 2^64)
        let mut offset = ScalarExpr::constant(0, 64);
        for d in 0..rank {
            offset = ScalarExpr::add(
                offset,
                ScalarExpr::mul(origin[d].clone(), strides[d].clone()),
            );
        }
        let base = ScalarExpr::add(
            base,
            ScalarExpr::mul(offset, ScalarExpr::constant(i128::from(elem_bytes), 64)),
        );
        let dims = (0..rank)
            .map(|d| AccessDim {
                size: block_shape[d],
                stride: strides[d].clone(),
                wrap: None,
            })
            .collect();
        let mut guards = Vec::new();
        let mut valid = ValidBox {
            begin: vec![ScalarExpr::constant(0, 64); rank],
            end: block_shape
                .iter()
                .map(|&n| ScalarExpr::constant(i128::from(n), 64))
                .collect(),
            cond: ScalarExpr::bool(true),
        };
        let mut clipped = false;
        for d in (0..rank).filter(|&d| checked[d]) {
            let n = block_shape[d];
            // origin + i must not wrap in i64 for the comparison to match.
            let limit = ScalarExpr::constant(i128::from(i64::MAX) - i128::from(n - 1), 64);
            push_guard(
                &mut guards,
                ScalarExpr::cmp(IntPredicate::Sle, origin[d].clone(), limit),
            );
            let zero = ScalarExpr::constant(0, 64);
            valid.begin[d] = ScalarExpr::clamp_diff(zero, origin[d].clone(), false, n as u64);
            valid.end[d] =
                ScalarExpr::clamp_diff(shape[d].clone(), origin[d].clone(), false, n as u64);
            clipped = true;
        }
        let is_load = matches!(kind, AccessKind::Load | AccessKind::DescriptorLoad);
        let fill = (clipped && is_load).then(|| {
            let width = scalar_width(elem).unwrap_or(64);
            let bits = match elem.float_type() {
                Some(f) if pad_nan => maiac_ir::semantics::convert::canonical_nan(f),
                _ => 0,
            };
            Fill::Value(ScalarExpr::constant(i128::from(bits), width))
        });
        let full = valid.begin.iter().all(ScalarExpr::is_zero)
            && valid
                .end
                .iter()
                .zip(block_shape)
                .all(|(e, &n)| e.as_signed_const() == Some(n));
        Ok(StridedAccess {
            kind,
            elem: elem.clone(),
            elem_bytes,
            base,
            dims,
            valid: (!full).then_some(valid),
            fill: if full { None } else { fill },
            guards,
        })
    }
}

pub(super) fn access_kind(opcode: Opcode) -> Option<AccessKind> {
    Some(match opcode {
        Opcode::Load => AccessKind::Load,
        Opcode::Store => AccessKind::Store,
        Opcode::AtomicRmw => AccessKind::AtomicRmw,
        Opcode::AtomicCas => AccessKind::AtomicCas,
        Opcode::DescriptorLoad => AccessKind::DescriptorLoad,
        Opcode::DescriptorStore => AccessKind::DescriptorStore,
        Opcode::DescriptorGather => AccessKind::DescriptorGather,
        Opcode::DescriptorScatter => AccessKind::DescriptorScatter,
        _ => return None,
    })
}
