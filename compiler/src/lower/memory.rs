//! Loads, stores, atomics, block pointers and tensor descriptors: strided
//! DMA from the access analysis, gather/scatter otherwise.
//!
//! For every memory op the access analysis ([`crate::access`]) says either
//! *strided* — a box the DMA engine moves, described by [`ScalarExpr`]s the
//! control processor evaluates — or *indirect* (gather/scatter through the
//! pointer tensor the elementwise lowering materialised as an `i64` address
//! buffer). A strided description is exact only under run-time conditions
//! (its guards, no actual wrap-around of `% M` dimensions); when those are
//! not known statically, the lowering emits
//! `if conditions { DMA } else { gather/scatter }`.
//!
//! Atomics always go through the indexed DMA (`Atomic`), which applies the
//! elements in index order exactly like the interpreter.

use std::collections::HashMap;

use maiac_backend::isa::{AluOp, AtomicKind, DType, LaneInstr, LaneOp, LaneSrc, MicroProgram};
use maiac_ir::semantics::int::{self as intsem, IntBinaryOp, IntPredicate};
use maiac_ir::{Diagnostic, Op, Opcode, Value};

use super::{scalar_dtype, Lowerer, ValueLoc};
use crate::access::{
    AccessKind, Atom, CastKind, Fill, IndirectAccess, MemAccess, ScalarExpr, StridedAccess,
    ValidBox, WrapKind,
};
use crate::tile::{BView, BufSpace, SOp, TDim, TInput, TOpKind};

/// Most DMAs one strided access of rank > `MAX_RANK` is unrolled into.
const MAX_DMA_PIECES: u64 = 256;

/// Registers already holding evaluated subexpressions (per memory op, so a
/// register is never used outside the body that defined it).
pub(super) type ExprCache = HashMap<ScalarExpr, SOp>;

impl Lowerer<'_> {
    pub(super) fn lower_memory(&mut self, op: Op) -> Result<(), Diagnostic> {
        use Opcode::*;
        match self.module.dfg.opcode(op) {
            MakeTensorPtr | Advance | MakeTensorDescriptor => {
                // Described by the access analysis; no run-time value.
                for i in 0..self.module.dfg.results(op).len() {
                    let r = self.result(op, i);
                    self.set(r, ValueLoc::Opaque);
                }
                Ok(())
            }
            IntToPtr | PtrToInt => {
                let loc = self.loc(self.operand(op, 0))?;
                let r = self.result(op, 0);
                self.set(r, loc);
                Ok(())
            }
            AtomicRmw | AtomicCas => self.lower_atomic(op),
            DescriptorReduce => self.lower_descriptor_reduce(op),
            _ => {
                let access = self.access.get(op).cloned().ok_or_else(|| {
                    self.error(
                        op,
                        "internal: the access analysis did not describe this memory op",
                    )
                })?;
                match access {
                    MemAccess::Strided(s) => self.lower_strided(op, &s),
                    MemAccess::Gather(ind) => self.lower_gather(op, &ind),
                    MemAccess::Scatter(ind) => self.lower_scatter(op, &ind),
                }
            }
        }
    }

    // ---- strided accesses ----

    fn lower_strided(&mut self, op: Op, s: &StridedAccess) -> Result<(), Diagnostic> {
        let merged = super::dma_rank::merge_dims(s);
        let s = &merged;
        let cache = ExprCache::new();
        // Conditions under which the DMA form is exact.
        let mut guards = ScalarExpr::bool(true);
        for g in &s.guards {
            guards = ScalarExpr::and(guards, g.clone());
        }
        let mut fast = guards.clone();
        let mut base = s.base.clone();
        let mut wrapped = Vec::new();
        for (d, dim) in s.dims.iter().enumerate() {
            if let Some(w) = &dim.wrap {
                let start = ScalarExpr::sext(64, w.start.clone());
                let modulus = ScalarExpr::sext(64, w.modulus.clone());
                let last = ScalarExpr::add(
                    start.clone(),
                    ScalarExpr::constant(i128::from(dim.size - 1), 64),
                );
                fast = ScalarExpr::and(fast, non_negative(&start));
                fast = ScalarExpr::and(
                    fast,
                    ScalarExpr::cmp(IntPredicate::Slt, last, modulus.clone()),
                );
                let offset = ScalarExpr::mul(
                    ScalarExpr::mul(start.clone(), dim.stride.clone()),
                    ScalarExpr::constant(i128::from(s.elem_bytes), 64),
                );
                base = ScalarExpr::add(base, offset);
                wrapped.push(WrapSplit {
                    dim: d,
                    start,
                    modulus,
                    kind: w.kind,
                });
            }
        }
        // Both paths of a load write the same destination.
        let dst = if s.kind.writes() {
            None
        } else {
            let result_ty = self.ty(self.result(op, 0)).clone();
            Some(self.new_tensor_buf(&result_ty, "load")?)
        };
        match wrapped.as_slice() {
            // A load whose `% M` dimension may wrap around once: two DMAs
            // when it does.
            [split] if !s.kind.writes() => {
                self.wrapping_dma(op, s, &base, &guards, &fast, split, cache, dst.as_ref())?;
            }
            _ if fast.is_true() => {
                self.strided_dma(
                    op,
                    s,
                    &base,
                    &mut cache.clone(),
                    dst.as_ref(),
                    DmaPart::Whole,
                )?;
            }
            _ => {
                self.guarded_dma(op, s, &fast, cache, dst.as_ref(), |cx, cache| {
                    cx.strided_dma(op, s, &base, cache, dst.as_ref(), DmaPart::Whole)
                })?;
            }
        }
        match dst {
            Some(dst) => self.bind_buffer_result(self.result(op, 0), dst),
            None => Ok(()),
        }
    }

    /// A load with one wrapped dimension `d` (index `(start + i) mod m`,
    /// tile size `n`; for [`WrapKind::ZeroPast`] the tail reads row 0 with
    /// a stride-0 dimension instead, and any `n` is split):
    ///
    /// ```text
    /// if guards ∧ 0 ≤ start < m ∧ n ≤ m {
    ///   if start + n − 1 < m { DMA }                     (no wrap-around)
    ///   else { DMA of i < m − start from row start;     (with the fill)
    ///          DMA of i ≥ m − start from row 0 }        (no fill: overlays)
    /// } else { gather }
    /// ```
    ///
    /// `n ≤ m` means the index wraps at most once, so the two boxes split
    /// the tile. The first DMA fills everything outside its box (the
    /// wrapped rows included), the second writes only its box, so the
    /// tile's masked-off elements keep the fill. The tutorial GEMM's
    /// `offs_am = (pid_m·BM + arange(BM)) % M` is such a load: its edge
    /// tiles no longer fall back to the gather.
    #[allow(clippy::too_many_arguments)]
    fn wrapping_dma(
        &mut self,
        op: Op,
        s: &StridedAccess,
        base: &ScalarExpr,
        guards: &ScalarExpr,
        no_wrap: &ScalarExpr,
        split: &WrapSplit,
        cache: ExprCache,
        dst: Option<&BView>,
    ) -> Result<(), Diagnostic> {
        let d = split.dim;
        let n = s.dims[d].size;
        let (start, m) = (&split.start, &split.modulus);
        let mut wraps_once = ScalarExpr::and(
            ScalarExpr::and(guards.clone(), non_negative(start)),
            ScalarExpr::cmp(IntPredicate::Slt, start.clone(), m.clone()),
        );
        if split.kind == WrapKind::Modulo {
            wraps_once = ScalarExpr::and(
                wraps_once,
                ScalarExpr::cmp(
                    IntPredicate::Sle,
                    ScalarExpr::constant(i128::from(n), 64),
                    m.clone(),
                ),
            );
        }
        // Rows `i < m − start` come from `start + i`, the others from
        // `start + i − m`.
        let first_rows = ScalarExpr::sub(m.clone(), start.clone());
        let full = s.valid.clone().unwrap_or_else(|| ValidBox {
            begin: vec![ScalarExpr::constant(0, 64); s.dims.len()],
            end: s
                .dims
                .iter()
                .map(|dim| ScalarExpr::constant(i128::from(dim.size), 64))
                .collect(),
            cond: ScalarExpr::bool(true),
        });
        let mut head = s.clone();
        let mut head_valid = full.clone();
        head_valid.end[d] = ScalarExpr::min_s(full.end[d].clone(), first_rows.clone());
        head.valid = Some(head_valid);
        let mut tail = s.clone();
        let mut tail_valid = full.clone();
        tail_valid.begin[d] = ScalarExpr::max_s(full.begin[d].clone(), first_rows);
        tail.valid = Some(tail_valid);
        // Modulo: row `start + i − m`, at `base − m` rows. Zero past: row
        // 0 for every tail row, a stride-0 dimension from row 0.
        let tail_rows_back = match split.kind {
            WrapKind::Modulo => m.clone(),
            WrapKind::ZeroPast => {
                tail.dims[d].stride = ScalarExpr::constant(0, 64);
                start.clone()
            }
        };
        let tail_base = ScalarExpr::sub(
            base.clone(),
            ScalarExpr::mul(
                ScalarExpr::mul(tail_rows_back, s.dims[d].stride.clone()),
                ScalarExpr::constant(i128::from(s.elem_bytes), 64),
            ),
        );
        self.guarded_dma(op, s, &wraps_once, cache, dst, |cx, cache| {
            let cond = cx.eval_scalar_expr(no_wrap, cache)?;
            let then_body = cx.with_body(|cx| {
                cx.strided_dma(op, s, base, &mut cache.clone(), dst, DmaPart::Whole)
            })?;
            let else_body = cx.with_body(|cx| {
                let mut cache = cache.clone();
                cx.strided_dma(op, &head, base, &mut cache, dst, DmaPart::First)?;
                cx.strided_dma(op, &tail, &tail_base, &mut cache, dst, DmaPart::Second)
            })?;
            cx.emit(TOpKind::If {
                cond,
                then_body,
                else_body,
            });
            Ok(())
        })
    }

    /// `if fast { DMA } else { the elementwise form }`, the DMA path built
    /// by `dma`.
    fn guarded_dma(
        &mut self,
        op: Op,
        s: &StridedAccess,
        fast: &ScalarExpr,
        mut cache: ExprCache,
        dst: Option<&BView>,
        dma: impl FnOnce(&mut Self, &mut ExprCache) -> Result<(), Diagnostic>,
    ) -> Result<(), Diagnostic> {
        let cond = self.eval_scalar_expr(fast, &mut cache)?;
        // Operands the fallback reads are lowered TTIR values: fetch them
        // outside the branches.
        let then_body = self.with_body(|cx| dma(cx, &mut cache.clone()))?;
        let fallback_source = self.loc(self.operand(op, 0))?;
        let else_body = self.with_body(|cx| match fallback_source {
            ValueLoc::Tensor(_) | ValueLoc::Scalar(_) => cx.elementwise_fallback(op, s.kind, dst),
            ValueLoc::Opaque => {
                // Block pointers and descriptors whose conditions fail at run
                // time (offsets overflowing 64 bits, or boxes starting
                // before the tensor): no address tensor exists.
                cx.emit(TOpKind::Trap {
                    code: TRAP_UNSUPPORTED_ACCESS,
                });
                Ok(())
            }
        })?;
        self.emit(TOpKind::If {
            cond,
            then_body,
            else_body,
        });
        Ok(())
    }

    /// The DMA of a strided access (its conditions hold), or one of the
    /// two DMAs of a wrapped load ([`DmaPart`]).
    fn strided_dma(
        &mut self,
        op: Op,
        s: &StridedAccess,
        base: &ScalarExpr,
        cache: &mut ExprCache,
        dst: Option<&BView>,
        part: DmaPart,
    ) -> Result<(), Diagnostic> {
        let dtype = scalar_dtype(&s.elem).ok_or_else(|| {
            self.error(
                op,
                format!("elements of type {} have no machine representation", s.elem),
            )
        })?;
        let hbm = self.eval_scalar_expr(base, cache)?;
        let mut dims = Vec::with_capacity(s.dims.len().max(1));
        for (d, dim) in s.dims.iter().enumerate() {
            let extent = u32::try_from(dim.size)
                .map_err(|_| self.error(op, "tile dimension out of range"))?;
            let hbm_stride = self.eval_scalar_expr(&dim.stride, cache)?;
            let (valid, start) = match &s.valid {
                Some(v) => {
                    let end = self.eval_scalar_expr(&v.end[d], cache)?;
                    let begin = match v.begin[d].as_const() {
                        Some(0) => None,
                        _ => Some(self.eval_scalar_expr(&v.begin[d], cache)?),
                    };
                    (Some(end), begin)
                }
                None => (None, None),
            };
            dims.push(TDim {
                extent,
                hbm_stride,
                valid,
                start,
            });
        }
        if dims.is_empty() {
            dims.push(TDim {
                extent: 1,
                hbm_stride: SOp::Imm(0),
                valid: None,
                start: None,
            });
        }
        // A false uniform condition empties the box (through dimension 0).
        if let Some(v) = &s.valid {
            if !v.cond.is_true() {
                let cond = self.eval_scalar_expr(&v.cond, cache)?;
                let extent0 = dims[0].valid.unwrap_or(SOp::Imm(i64::from(dims[0].extent)));
                let r = self.new_sreg(64, "valid");
                self.emit(TOpKind::Select {
                    dst: r,
                    cond,
                    a: extent0,
                    b: SOp::Imm(0),
                });
                dims[0].valid = Some(SOp::Reg(r));
            }
        }
        let extents: Vec<u32> = dims.iter().map(|d| d.extent).collect();
        if s.kind.writes() {
            let value_index = match s.kind {
                AccessKind::Store => 1,
                AccessKind::DescriptorStore => 1,
                _ => return Err(self.error(op, "internal: strided access of an atomic")),
            };
            let value = self.operand(op, value_index);
            let src = self.view(value)?;
            // The DMA reads any strided view of the tile's shape.
            let src = if src.shape == extents {
                src
            } else {
                reshape_view(&src, &extents)
                    .unwrap_or_else(|| self.dense_copy_shaped(&src, &extents))
            };
            return self.emit_dma(op, dtype, s.elem_bytes, hbm, dims, src, None);
        }
        // Loads.
        let dst = dst.cloned().expect("a load has a destination");
        let dma_dst = reshape_view(&dst, &extents).expect("a fresh buffer is dense");
        let mut select_other = None;
        let fill = match (&s.valid, &s.fill) {
            // The overlay keeps what the first DMA wrote (or filled).
            (_, fill) if part == DmaPart::Second => {
                if let Some(Fill::SelectAfterLoad(other)) = fill {
                    select_other = Some(*other);
                }
                None
            }
            (None, _) => None,
            (Some(_), None) => Some(0),
            (Some(_), Some(Fill::Value(e))) => match e.as_const() {
                Some(bits) => Some(bits),
                None => {
                    // A run-time fill: pre-fill the tile, let the DMA leave
                    // masked elements untouched.
                    let input = self.fill_input(e, cache, &dst.shape)?;
                    self.emit(TOpKind::Map {
                        micro: identity_micro(dtype),
                        inputs: vec![input],
                        outputs: vec![dst.clone()],
                    });
                    None
                }
            },
            (Some(_), Some(Fill::SelectAfterLoad(other))) => {
                // After the second DMA, for a split load.
                if part == DmaPart::Whole {
                    select_other = Some(*other);
                }
                Some(0)
            }
        };
        self.emit_dma(op, dtype, s.elem_bytes, hbm, dims, dma_dst, Some(fill))?;
        if let Some(other) = select_other {
            let mask = self.operand(op, 1);
            self.select_with_mask(mask, &dst, other, dtype)?;
        }
        Ok(())
    }

    /// Emits a strided DMA (a load into `view` when `load_fill` is given,
    /// else a store from it), unrolling its outermost dimension while it has
    /// more than the engine's `MAX_RANK`: one DMA per index, the base
    /// advanced by that dimension's stride, and an index outside the
    /// dimension's valid range `[start, valid)` empties its piece through the
    /// next dimension (a load's piece then gets the fill). Same elements,
    /// same values, in descriptors the engine takes.
    #[allow(clippy::too_many_arguments)]
    fn emit_dma(
        &mut self,
        op: Op,
        dtype: DType,
        elem_bytes: u64,
        hbm: SOp,
        dims: Vec<TDim>,
        view: BView,
        load_fill: Option<Option<u64>>,
    ) -> Result<(), Diagnostic> {
        use maiac_backend::isa::view::MAX_RANK;
        if dims.len() <= MAX_RANK {
            self.emit(match load_fill {
                Some(fill) => TOpKind::DmaLoad {
                    dtype,
                    hbm,
                    dims,
                    dst: view,
                    fill,
                },
                None => TOpKind::DmaStore {
                    dtype,
                    src: view,
                    hbm,
                    dims,
                },
            });
            return Ok(());
        }
        let pieces: u64 = dims[..dims.len() - MAX_RANK]
            .iter()
            .map(|d| u64::from(d.extent))
            .product();
        if pieces > MAX_DMA_PIECES {
            return Err(self.error(
                op,
                format!(
                    "this rank-{} access would take {pieces} DMAs of {MAX_RANK} dimensions (at most {MAX_DMA_PIECES}); merge or shrink its outer dimensions",
                    dims.len()
                ),
            ));
        }
        let outer = dims[0].clone();
        for i in 0..outer.extent {
            let index = SOp::Imm(i64::from(i));
            let step = self.alu(
                AluOp::Mul,
                outer.hbm_stride,
                SOp::Imm(i64::from(i) * elem_bytes as i64),
            );
            let base = self.alu(AluOp::Add, hbm, step);
            let mut rest = dims[1..].to_vec();
            if outer.valid.is_some() || outer.start.is_some() {
                let mut inside = SOp::Imm(1);
                if let Some(end) = outer.valid {
                    inside = self.alu(AluOp::LtS, index, end);
                }
                if let Some(start) = outer.start {
                    let after = self.alu(AluOp::GeS, index, start);
                    inside = self.alu(AluOp::And, inside, after);
                }
                let whole = rest[0].valid.unwrap_or(SOp::Imm(i64::from(rest[0].extent)));
                rest[0].valid = Some(self.select(inside, whole, SOp::Imm(0)));
            }
            let piece = BView {
                buf: view.buf,
                offset: view.offset + i64::from(i) * view.strides[0],
                shape: view.shape[1..].to_vec(),
                strides: view.strides[1..].to_vec(),
            };
            self.emit_dma(op, dtype, elem_bytes, base, rest, piece, load_fill)?;
        }
        Ok(())
    }

    /// A run-time fill value as a map input.
    fn fill_input(
        &mut self,
        e: &ScalarExpr,
        cache: &mut ExprCache,
        shape: &[u32],
    ) -> Result<TInput, Diagnostic> {
        if let ScalarExpr::Atom {
            atom: Atom::Value(v),
            ..
        } = e
        {
            // A float scalar lives in a rank-0 buffer: broadcast it over the
            // tile.
            if let ValueLoc::Tensor(view) = self.loc(*v)? {
                return Ok(TInput::View(broadcast_view(&view, shape)));
            }
        }
        Ok(TInput::Scalar(self.eval_scalar_expr(e, cache)?))
    }

    /// Binds a buffer holding an op's result to the result: integer and
    /// pointer scalars go on to a register (`LoadScalar`).
    pub(super) fn bind_buffer_result(
        &mut self,
        result: Value,
        dst: BView,
    ) -> Result<(), Diagnostic> {
        let ty = self.ty(result).clone();
        if !ty.is_tensor() && !ty.is_float() {
            let bytes = (super::scalar_width(&ty) / 8).max(1) as u8;
            let r = self.new_sreg(super::scalar_width(&ty), "ld");
            let signed = ty.int_width() != Some(1);
            self.emit(TOpKind::LoadScalar {
                dst: r,
                src: dst,
                bytes,
                signed,
            });
            self.set(result, ValueLoc::Scalar(SOp::Reg(r)));
        } else {
            self.set(result, ValueLoc::Tensor(dst));
        }
        Ok(())
    }

    /// `dst = mask ? dst : other` elementwise.
    fn select_with_mask(
        &mut self,
        mask: Value,
        dst: &BView,
        other: Value,
        dtype: DType,
    ) -> Result<(), Diagnostic> {
        let mask_view = self.view(mask)?;
        let other_view = self.view(other)?;
        let shape = dst.shape.clone();
        self.emit(TOpKind::Map {
            micro: select_micro(dtype),
            inputs: vec![
                TInput::View(broadcast_view(&mask_view, &shape)),
                TInput::View(dst.clone()),
                TInput::View(broadcast_view(&other_view, &shape)),
            ],
            outputs: vec![dst.clone()],
        });
        Ok(())
    }

    // ---- gather / scatter ----

    /// The literal TTIR semantics of a load or store through a pointer
    /// tensor (used when the strided form's conditions fail).
    fn elementwise_fallback(
        &mut self,
        op: Op,
        kind: AccessKind,
        dst: Option<&BView>,
    ) -> Result<(), Diagnostic> {
        let operands = self.module.dfg.operands(op).len();
        match kind {
            AccessKind::Load => {
                let mask = (operands > 1).then(|| self.operand(op, 1));
                let other = (operands > 2).then(|| self.operand(op, 2));
                let dst = dst.cloned().expect("a load has a destination");
                self.gather_into(op, mask, other, None, &dst)
            }
            AccessKind::Store => {
                let mask = (operands > 2).then(|| self.operand(op, 2));
                self.scatter_through(op, self.operand(op, 1), mask)
            }
            _ => {
                self.emit(TOpKind::Trap {
                    code: TRAP_UNSUPPORTED_ACCESS,
                });
                Ok(())
            }
        }
    }

    fn lower_gather(&mut self, op: Op, ind: &IndirectAccess) -> Result<(), Diagnostic> {
        match ind.kind {
            AccessKind::Load => {
                if self.loc(ind.source)? == ValueLoc::Opaque {
                    return Err(self.error(
                        op,
                        format!(
                            "this load through a block pointer cannot be lowered: {}",
                            ind.reason
                        ),
                    ));
                }
                let operands = self.module.dfg.operands(op).len();
                let other = (operands > 2).then(|| self.operand(op, 2));
                let result_ty = self.ty(self.result(op, 0)).clone();
                let dst = self.new_tensor_buf(&result_ty, "gather")?;
                self.gather_into(op, ind.mask, other, ind.fill.as_ref(), &dst)?;
                self.bind_buffer_result(self.result(op, 0), dst)
            }
            AccessKind::DescriptorGather | AccessKind::DescriptorLoad => {
                self.lower_descriptor_rows(op, false)
            }
            _ => Err(self.error(op, format!("cannot lower this read: {}", ind.reason))),
        }
    }

    fn lower_scatter(&mut self, op: Op, ind: &IndirectAccess) -> Result<(), Diagnostic> {
        match ind.kind {
            AccessKind::Store => {
                if self.loc(ind.source)? == ValueLoc::Opaque {
                    return Err(self.error(
                        op,
                        format!(
                            "this store through a block pointer cannot be lowered: {}",
                            ind.reason
                        ),
                    ));
                }
                self.scatter_through(op, self.operand(op, 1), ind.mask)
            }
            AccessKind::DescriptorScatter | AccessKind::DescriptorStore => {
                self.lower_descriptor_rows(op, true)
            }
            _ => Err(self.error(op, format!("cannot lower this write: {}", ind.reason))),
        }
    }

    /// `tt.load` through the pointer tensor (operand 0) into `dst`.
    fn gather_into(
        &mut self,
        op: Op,
        mask: Option<Value>,
        other: Option<Value>,
        fill: Option<&Fill>,
        dst: &BView,
    ) -> Result<(), Diagnostic> {
        let result_ty = self.ty(self.result(op, 0)).clone();
        let dtype = scalar_dtype(result_ty.element()).ok_or_else(|| {
            self.error(
                op,
                format!("values of type {result_ty} have no machine representation"),
            )
        })?;
        let shape = dst.shape.clone();
        let addrs = self.operand_dense(self.operand(op, 0), &shape)?;
        let mask_view = match mask {
            Some(m) => Some(self.operand_dense(m, &shape)?),
            None => None,
        };
        let const_fill = match fill {
            Some(Fill::Value(e)) => e.as_const(),
            _ => None,
        };
        let count = num_elements_u32(&shape);
        self.emit(TOpKind::Gather {
            dtype,
            count,
            addrs: flat(&addrs),
            mask: mask_view.as_ref().map(flat),
            dst: flat(dst),
            fill: const_fill.unwrap_or(0),
        });
        if let (Some(m), Some(o), None) = (mask, other, const_fill) {
            self.select_with_mask(m, dst, o, dtype)?;
        }
        Ok(())
    }

    /// `tt.store` through the pointer tensor (operand 0).
    fn scatter_through(
        &mut self,
        op: Op,
        value: Value,
        mask: Option<Value>,
    ) -> Result<(), Diagnostic> {
        let value_ty = self.ty(value).clone();
        let dtype = scalar_dtype(value_ty.element()).ok_or_else(|| {
            self.error(
                op,
                format!("values of type {value_ty} have no machine representation"),
            )
        })?;
        let ptr_ty = self.ty(self.operand(op, 0)).clone();
        let shape = self.shape_u32(&ptr_ty)?;
        let addrs = self.operand_dense(self.operand(op, 0), &shape)?;
        let src = self.operand_dense(value, &shape)?;
        let mask_view = match mask {
            Some(m) => Some(self.operand_dense(m, &shape)?),
            None => None,
        };
        self.emit(TOpKind::Scatter {
            dtype,
            count: num_elements_u32(&shape),
            addrs: flat(&addrs),
            mask: mask_view.as_ref().map(flat),
            src: flat(&src),
        });
        Ok(())
    }

    /// `tt.atomic_rmw` / `tt.atomic_cas` through the pointer operand.
    fn lower_atomic(&mut self, op: Op) -> Result<(), Diagnostic> {
        let opcode = self.module.dfg.opcode(op);
        let operands = self.module.dfg.operands(op).len();
        let (value, compare, mask) = if opcode == Opcode::AtomicCas {
            (self.operand(op, 2), Some(self.operand(op, 1)), None)
        } else {
            (
                self.operand(op, 1),
                None,
                (operands > 2).then(|| self.operand(op, 2)),
            )
        };
        let value_ty = self.ty(value).clone();
        let elem = value_ty.element().clone();
        let dtype = scalar_dtype(&elem)
            .ok_or_else(|| self.error(op, format!("atomics on {elem} are not supported")))?;
        let kind = if opcode == Opcode::AtomicCas {
            AtomicKind::Cas
        } else {
            let name = self
                .module
                .dfg
                .attr(op, "atomic_rmw_op")
                .and_then(|a| a.as_str())
                .ok_or_else(|| self.error(op, "missing `atomic_rmw_op` attribute"))?;
            atomic_kind(name, elem.is_float()).ok_or_else(|| {
                self.error(op, format!("atomic `{name}` is not defined on {elem}"))
            })?
        };
        let ptr = self.operand(op, 0);
        let ptr_ty = self.ty(ptr).clone();
        if self.loc(ptr)? == ValueLoc::Opaque {
            return Err(self.error(op, "atomics through block pointers are not supported"));
        }
        let shape = self.shape_u32(&ptr_ty)?;
        let addrs = self.operand_dense(ptr, &shape)?;
        let values = self.operand_dense(value, &shape)?;
        let compare = match compare {
            Some(c) => Some(self.operand_dense(c, &shape)?),
            None => None,
        };
        let mask = match mask {
            Some(m) => Some(self.operand_dense(m, &shape)?),
            None => None,
        };
        let result = self.result(op, 0);
        let result_ty = self.ty(result).clone();
        let old = self.new_tensor_buf(&result_ty, "old")?;
        self.emit(TOpKind::Atomic {
            kind,
            dtype,
            count: num_elements_u32(&shape),
            addrs: flat(&addrs),
            values: flat(&values),
            compare: compare.as_ref().map(flat),
            mask: mask.as_ref().map(flat),
            old: Some(flat(&old)),
        });
        self.bind_buffer_result(result, old)
    }

    /// `tt.descriptor_reduce`: the block's addresses and in-bounds mask
    /// computed lane-wise from the descriptor, then the indexed atomic DMA
    /// (masked-off elements untouched, the rest applied in row-major order,
    /// like the interpreter).
    fn lower_descriptor_reduce(&mut self, op: Op) -> Result<(), Diagnostic> {
        let desc = self.operand(op, 0);
        let form = match self.access.values.get(&desc) {
            Some(crate::access::ValueForm::Descriptor(d)) => d.clone(),
            _ => return Err(self.error(op, "this tensor descriptor cannot be analysed (it is not a tt.make_tensor_descriptor in this function)")),
        };
        let value = self.operand(op, 1);
        let value_ty = self.ty(value).clone();
        let elem = value_ty.element().clone();
        let dtype = scalar_dtype(&elem)
            .ok_or_else(|| self.error(op, format!("atomics on {elem} are not supported")))?;
        let name = self
            .module
            .dfg
            .attr(op, "atomic_rmw_op")
            .and_then(|a| a.as_str())
            .ok_or_else(|| self.error(op, "missing `atomic_rmw_op` attribute"))?;
        let kind = atomic_kind(name, elem.is_float())
            .ok_or_else(|| self.error(op, format!("atomic `{name}` is not defined on {elem}")))?;
        let shape: Vec<u32> = form
            .block_shape
            .iter()
            .map(|&d| u32::try_from(d))
            .collect::<Result<_, _>>()
            .map_err(|_| self.error(op, "the descriptor block has a negative dimension"))?;
        let rank = shape.len();
        if self.shape_u32(&value_ty)? != shape || form.shape.len() != rank {
            return Err(self.error(op, "the value's shape must be the descriptor's block"));
        }
        let mut cache = ExprCache::new();
        let base = self.eval_scalar_expr(&form.base, &mut cache)?;
        // Inputs: one block coordinate per dimension (an iota along it),
        // the base, then per dimension the index, the size and the stride.
        let mut inputs = Vec::new();
        let mut dtypes = Vec::new();
        for (d, &n) in shape.iter().enumerate() {
            let iota = self.new_buf(DType::I64, &[n], BufSpace::Tsram, "coord");
            self.emit(TOpKind::Iota {
                dst: iota.clone(),
                start: SOp::Imm(0),
                axis: 0,
            });
            let mut strides = vec![0; rank];
            strides[d] = 1;
            inputs.push(TInput::View(BView {
                shape: shape.clone(),
                strides,
                ..iota
            }));
            dtypes.push(DType::I64);
        }
        inputs.push(TInput::Scalar(base));
        dtypes.push(DType::I64);
        let mut index_widths = Vec::new();
        for d in 0..rank {
            let index = self.operand(op, 2 + d);
            let width = self.ty(index).int_width().unwrap_or(32);
            index_widths.push(width);
            inputs.push(TInput::Scalar(self.scalar(index)?));
            dtypes.push(rows_ty_dtype(width));
            let dim = self.eval_scalar_expr(&form.shape[d], &mut cache)?;
            inputs.push(TInput::Scalar(dim));
            dtypes.push(DType::I64);
            let stride = self.eval_scalar_expr(&form.strides[d], &mut cache)?;
            inputs.push(TInput::Scalar(stride));
            dtypes.push(DType::I64);
        }
        // addr = base + eb·Σ (index_d + i_d)·stride_d;
        // valid = ∧ 0 ≤ index_d + i_d < size_d.
        let mut m = MicroBuilder::new(dtypes);
        let i64op = |op| LaneOp::Int { op, width: 64 };
        let cmp = |pred| LaneOp::IntCmp { pred, width: 64 };
        let and1 = LaneOp::Int {
            op: IntBinaryOp::And,
            width: 1,
        };
        let zero = LaneSrc::Imm {
            ty: DType::I64,
            bits: 0,
        };
        let mut off = zero;
        let mut valid = None;
        for (d, &width) in index_widths.iter().enumerate() {
            let input = |k: usize| LaneSrc::Input((rank + 1 + 3 * d + k) as u16);
            let index = if width == 64 {
                input(0)
            } else {
                m.op(
                    LaneOp::ExtSigned {
                        from: width,
                        to: 64,
                    },
                    &[input(0)],
                )
            };
            let coord = m.op(i64op(IntBinaryOp::Add), &[LaneSrc::Input(d as u16), index]);
            let term = m.op(i64op(IntBinaryOp::Mul), &[coord, input(2)]);
            off = m.op(i64op(IntBinaryOp::Add), &[off, term]);
            let lo = m.op(cmp(IntPredicate::Sge), &[coord, zero]);
            let hi = m.op(cmp(IntPredicate::Slt), &[coord, input(1)]);
            let inside = m.op(and1, &[lo, hi]);
            valid = Some(match valid {
                None => inside,
                Some(v) => m.op(and1, &[v, inside]),
            });
        }
        let bytes = m.op(
            i64op(IntBinaryOp::Mul),
            &[
                off,
                LaneSrc::Imm {
                    ty: DType::I64,
                    bits: form.elem_bytes,
                },
            ],
        );
        let addr = m.op(
            i64op(IntBinaryOp::Add),
            &[LaneSrc::Input(rank as u16), bytes],
        );
        let valid = valid.unwrap_or(LaneSrc::Imm {
            ty: DType::I1,
            bits: 1,
        });
        let micro = m.finish(vec![addr, valid]);
        let addrs = self.new_buf(DType::I64, &shape, BufSpace::Tsram, "addrs");
        let mask = self.new_buf(DType::I1, &shape, BufSpace::Tsram, "mask");
        self.emit(TOpKind::Map {
            micro,
            inputs,
            outputs: vec![addrs.clone(), mask.clone()],
        });
        let values = self.operand_dense(value, &shape)?;
        self.emit(TOpKind::Atomic {
            kind,
            dtype,
            count: num_elements_u32(&shape),
            addrs: flat(&addrs),
            values: flat(&values),
            compare: None,
            mask: Some(flat(&mask)),
            old: None,
        });
        Ok(())
    }

    /// `descriptor_gather` / `descriptor_scatter` (and descriptor
    /// loads/stores the analysis could not describe): rows `x_offsets[r]`,
    /// columns `y + c` of a 2-D descriptor, out-of-bounds elements masked.
    fn lower_descriptor_rows(&mut self, op: Op, write: bool) -> Result<(), Diagnostic> {
        let desc = self.operand(op, 0);
        let form = match self.access.values.get(&desc) {
            Some(crate::access::ValueForm::Descriptor(d)) => d.clone(),
            _ => return Err(self.error(op, "this tensor descriptor cannot be analysed (it is not a tt.make_tensor_descriptor in this function)")),
        };
        let opcode = self.module.dfg.opcode(op);
        if !matches!(opcode, Opcode::DescriptorGather | Opcode::DescriptorScatter)
            || form.shape.len() != 2
        {
            return Err(self.error(op, "only 2-D descriptor gathers and scatters are supported"));
        }
        let rows_value = self.operand(op, 1);
        let rows_ty = self.ty(rows_value).clone();
        let row_width = rows_ty.element().int_width().unwrap_or(32);
        let y = self.scalar(self.operand(op, 2))?;
        let data_value = if write {
            self.operand(op, 3)
        } else {
            self.result(op, 0)
        };
        let data_ty = self.ty(data_value).clone();
        let shape = self.shape_u32(&data_ty)?;
        let [nrows, ncols] = shape[..] else {
            return Err(self.error(op, "descriptor gathers and scatters are 2-D"));
        };
        let dtype = scalar_dtype(data_ty.element())
            .ok_or_else(|| self.error(op, "element type has no machine representation"))?;
        let mut cache = ExprCache::new();
        let base = self.eval_scalar_expr(&form.base, &mut cache)?;
        let dim0 = self.eval_scalar_expr(&form.shape[0], &mut cache)?;
        let dim1 = self.eval_scalar_expr(&form.shape[1], &mut cache)?;
        let stride0 = self.eval_scalar_expr(&form.strides[0], &mut cache)?;
        let stride1 = self.eval_scalar_expr(&form.strides[1], &mut cache)?;
        let rows = self.view(rows_value)?;
        let rows = broadcast_view(
            &BView {
                shape: vec![nrows, 1],
                strides: vec![rows.strides.first().copied().unwrap_or(0), 0],
                ..rows
            },
            &shape,
        );
        let cols = self.new_buf(DType::I64, &[ncols], BufSpace::Tsram, "cols");
        self.emit(TOpKind::Iota {
            dst: cols.clone(),
            start: y,
            axis: 0,
        });
        let cols = BView {
            shape: shape.clone(),
            strides: vec![0, 1],
            ..cols
        };
        // addr = base + eb·(row·s0 + col·s1); valid = 0 ≤ row < d0 ∧ 0 ≤ col < d1.
        let eb = form.elem_bytes as i64;
        // Inputs: row, col, base, dim0, stride0, stride1, dim1.
        let mut m = MicroBuilder::new(vec![
            rows_ty_dtype(row_width),
            DType::I64,
            DType::I64,
            DType::I64,
            DType::I64,
            DType::I64,
            DType::I64,
        ]);
        let row = if row_width == 64 {
            LaneSrc::Input(0)
        } else {
            m.op(
                LaneOp::ExtSigned {
                    from: row_width,
                    to: 64,
                },
                &[LaneSrc::Input(0)],
            )
        };
        let i64op = |op| LaneOp::Int { op, width: 64 };
        let r_off = m.op(i64op(IntBinaryOp::Mul), &[row, LaneSrc::Input(4)]);
        let c_off = m.op(
            i64op(IntBinaryOp::Mul),
            &[LaneSrc::Input(1), LaneSrc::Input(5)],
        );
        let off = m.op(i64op(IntBinaryOp::Add), &[r_off, c_off]);
        let bytes = m.op(
            i64op(IntBinaryOp::Mul),
            &[
                off,
                LaneSrc::Imm {
                    ty: DType::I64,
                    bits: eb as u64,
                },
            ],
        );
        let addr = m.op(i64op(IntBinaryOp::Add), &[LaneSrc::Input(2), bytes]);
        let zero = LaneSrc::Imm {
            ty: DType::I64,
            bits: 0,
        };
        let cmp = |pred| LaneOp::IntCmp { pred, width: 64 };
        let and1 = LaneOp::Int {
            op: IntBinaryOp::And,
            width: 1,
        };
        let a = m.op(cmp(IntPredicate::Sge), &[row, zero]);
        let b = m.op(cmp(IntPredicate::Slt), &[row, LaneSrc::Input(3)]);
        let c = m.op(cmp(IntPredicate::Sge), &[LaneSrc::Input(1), zero]);
        let d = m.op(
            cmp(IntPredicate::Slt),
            &[LaneSrc::Input(1), LaneSrc::Input(6)],
        );
        let ab = m.op(and1, &[a, b]);
        let cd = m.op(and1, &[c, d]);
        let valid = m.op(and1, &[ab, cd]);
        let micro = m.finish(vec![addr, valid]);
        let addrs = self.new_buf(DType::I64, &shape, BufSpace::Tsram, "addrs");
        let mask = self.new_buf(DType::I1, &shape, BufSpace::Tsram, "mask");
        self.emit(TOpKind::Map {
            micro,
            inputs: vec![
                TInput::View(rows),
                TInput::View(cols),
                TInput::Scalar(base),
                TInput::Scalar(dim0),
                TInput::Scalar(stride0),
                TInput::Scalar(stride1),
                TInput::Scalar(dim1),
            ],
            outputs: vec![addrs.clone(), mask.clone()],
        });
        let count = nrows * ncols;
        if write {
            let src = self.operand_dense(data_value, &shape)?;
            self.emit(TOpKind::Scatter {
                dtype,
                count,
                addrs: flat(&addrs),
                mask: Some(flat(&mask)),
                src: flat(&src),
            });
            Ok(())
        } else {
            let dst = self.new_tensor_buf(&data_ty, "gather")?;
            let fill = if form.pad_nan {
                data_ty
                    .element()
                    .float_type()
                    .map(maiac_ir::semantics::convert::canonical_nan)
                    .unwrap_or(0)
            } else {
                0
            };
            self.emit(TOpKind::Gather {
                dtype,
                count,
                addrs: flat(&addrs),
                mask: Some(flat(&mask)),
                dst: flat(&dst),
                fill,
            });
            self.bind_buffer_result(data_value, dst)
        }
    }

    // ---- views ----

    /// A value as a dense row-major buffer of `shape` (broadcasting a
    /// scalar or size-1 dimensions, copying strided views).
    pub(super) fn operand_dense(&mut self, v: Value, shape: &[u32]) -> Result<BView, Diagnostic> {
        let view = self.view(v)?;
        let view = broadcast_view(&view, shape);
        Ok(self.dense(view))
    }

    /// `view` itself when it is dense row-major, else a dense copy.
    pub(super) fn dense(&mut self, view: BView) -> BView {
        if is_dense(&view) {
            return view;
        }
        let shape = view.shape.clone();
        self.dense_copy_shaped(&view, &shape)
    }

    /// A dense copy of `view` (iterated row-major), viewed with `shape`.
    fn dense_copy_shaped(&mut self, view: &BView, shape: &[u32]) -> BView {
        let dtype = self.kernel.bufs[view.buf].dtype;
        let dst = self.new_buf(dtype, &view.shape, BufSpace::Tsram, "dense");
        self.emit(TOpKind::Copy {
            src: view.clone(),
            dst: dst.clone(),
        });
        reshape_view(&dst, shape).expect("a fresh buffer is dense")
    }

    // ---- scalar expressions ----

    /// Evaluates an access-analysis expression into CP ops; the result is
    /// canonical (sign-extended from the expression's width, `i1` as 0/1).
    pub(super) fn eval_scalar_expr(
        &mut self,
        e: &ScalarExpr,
        cache: &mut ExprCache,
    ) -> Result<SOp, Diagnostic> {
        if let Some(&s) = cache.get(e) {
            return Ok(s);
        }
        let result = match e {
            ScalarExpr::Const { bits, width } => SOp::Imm(canonical_const(*bits, *width)),
            ScalarExpr::Atom { atom, width } => {
                let s = match *atom {
                    Atom::Value(v) => match self.loc(v)? {
                        ValueLoc::Scalar(s) => s,
                        ValueLoc::Tensor(view) => {
                            // A float scalar's raw bits.
                            let r = self.new_sreg(*width, "bits");
                            let bytes = (*width / 8).max(1) as u8;
                            self.emit(TOpKind::LoadScalar {
                                dst: r,
                                src: view,
                                bytes,
                                signed: *width > 1,
                            });
                            SOp::Reg(r)
                        }
                        ValueLoc::Opaque => {
                            let op = self.current_op.unwrap_or(self.func);
                            return Err(self.error(op, "internal: an address reads a value without a run-time representation"));
                        }
                    },
                    Atom::Carried { arg, slot } => match self.carried_regs.get(&(arg, slot)) {
                        Some(&r) => SOp::Reg(r),
                        None => {
                            let op = self.current_op.unwrap_or(self.func);
                            return Err(self.error(
                                op,
                                "internal: a loop-carried address register was not initialised",
                            ));
                        }
                    },
                };
                s
            }
            ScalarExpr::Binary {
                op,
                width,
                lhs,
                rhs,
            } => {
                let a = self.eval_scalar_expr(lhs, cache)?;
                let b = self.eval_scalar_expr(rhs, cache)?;
                self.eval_binary(*op, *width, a, b)
            }
            ScalarExpr::Cmp { pred, lhs, rhs } => {
                let w = lhs.width();
                let a = self.eval_scalar_expr(lhs, cache)?;
                let b = self.eval_scalar_expr(rhs, cache)?;
                self.alu(cmp_alu(*pred, w), a, b)
            }
            ScalarExpr::Cast { kind, to, arg } => {
                let from = arg.width();
                let a = self.eval_scalar_expr(arg, cache)?;
                match kind {
                    CastKind::SignExtend if from == 1 => self.alu(AluOp::Sub, SOp::Imm(0), a),
                    CastKind::SignExtend => a,
                    CastKind::ZeroExtend if from >= 64 || from == 1 => a,
                    CastKind::ZeroExtend => {
                        let z = self.alu(AluOp::And, a, SOp::Imm(intsem::mask(from) as i64));
                        self.normalize(z, *to)
                    }
                    CastKind::Truncate => self.normalize(a, *to),
                }
            }
            ScalarExpr::Select {
                cond,
                if_true,
                if_false,
            } => {
                let c = self.eval_scalar_expr(cond, cache)?;
                let a = self.eval_scalar_expr(if_true, cache)?;
                let b = self.eval_scalar_expr(if_false, cache)?;
                match c {
                    SOp::Imm(c) => {
                        if c != 0 {
                            a
                        } else {
                            b
                        }
                    }
                    _ => {
                        let r = self.new_sreg(e.width(), "sel");
                        self.emit(TOpKind::Select {
                            dst: r,
                            cond: c,
                            a,
                            b,
                        });
                        SOp::Reg(r)
                    }
                }
            }
            ScalarExpr::ClampDiff {
                bound,
                start,
                plus_one,
                max,
            } => {
                let w = bound.width();
                let b = self.eval_scalar_expr(bound, cache)?;
                let s = self.eval_scalar_expr(start, cache)?;
                let max = *max as i64;
                let d = self.alu(AluOp::Sub, b, s);
                let clamped = if *plus_one {
                    let lo = self.alu(AluOp::MaxS, d, SOp::Imm(-1));
                    let hi = self.alu(AluOp::MinS, lo, SOp::Imm(max - 1));
                    self.alu(AluOp::Add, hi, SOp::Imm(1))
                } else {
                    let lo = self.alu(AluOp::MaxS, d, SOp::Imm(0));
                    self.alu(AluOp::MinS, lo, SOp::Imm(max))
                };
                if w < 64 {
                    clamped
                } else {
                    // At 64 bits `b − s` can overflow: then the exact
                    // difference has the sign of `b`.
                    let bs = self.alu(AluOp::Xor, b, s);
                    let bd = self.alu(AluOp::Xor, b, d);
                    let both = self.alu(AluOp::And, bs, bd);
                    let overflow = self.alu(AluOp::LtS, both, SOp::Imm(0));
                    let b_neg = self.alu(AluOp::LtS, b, SOp::Imm(0));
                    let saturated = self.select(b_neg, SOp::Imm(0), SOp::Imm(max));
                    self.select(overflow, saturated, clamped)
                }
            }
        };
        cache.insert(e.clone(), result);
        Ok(result)
    }

    fn eval_binary(&mut self, op: IntBinaryOp, width: u32, a: SOp, b: SOp) -> SOp {
        use IntBinaryOp::*;
        let zext = |cx: &mut Self, x: SOp| {
            if width >= 64 {
                x
            } else {
                cx.alu(AluOp::And, x, SOp::Imm(intsem::mask(width) as i64))
            }
        };
        let raw = match op {
            Add => self.alu(AluOp::Add, a, b),
            Sub => self.alu(AluOp::Sub, a, b),
            Mul => self.alu(AluOp::Mul, a, b),
            And => self.alu(AluOp::And, a, b),
            Or => self.alu(AluOp::Or, a, b),
            Xor => self.alu(AluOp::Xor, a, b),
            Shl => self.alu(AluOp::Shl, a, b),
            ShrS => self.alu(AluOp::AShr, a, b),
            DivS => self.alu(AluOp::DivS, a, b),
            RemS => self.alu(AluOp::RemS, a, b),
            MinS => self.alu(AluOp::MinS, a, b),
            MaxS => self.alu(AluOp::MaxS, a, b),
            ShrU | DivU | RemU | MinU | MaxU => {
                let (za, zb) = (zext(self, a), zext(self, b));
                let alu = match op {
                    ShrU => AluOp::LShr,
                    DivU => AluOp::DivU,
                    RemU => AluOp::RemU,
                    MinU => AluOp::MinU,
                    _ => AluOp::MaxU,
                };
                // Shift amounts keep their sign extension: any amount ≥ the
                // width is ≥ 64 or shifts out every bit anyway.
                let zb = if op == ShrU { b } else { zb };
                self.alu(alu, za, zb)
            }
            // libdevice's averages and 24-bit products exist at i32 only
            // (`libdevice::resolve` refuses other widths), so the 64-bit
            // registers hold their sums and products exactly.
            HAddS | RHAddS => {
                let sum = self.alu(AluOp::Add, a, b);
                let sum = if op == RHAddS {
                    self.alu(AluOp::Add, sum, SOp::Imm(1))
                } else {
                    sum
                };
                self.alu(AluOp::AShr, sum, SOp::Imm(1))
            }
            HAddU | RHAddU => {
                let (za, zb) = (zext(self, a), zext(self, b));
                let sum = self.alu(AluOp::Add, za, zb);
                let sum = if op == RHAddU {
                    self.alu(AluOp::Add, sum, SOp::Imm(1))
                } else {
                    sum
                };
                self.alu(AluOp::LShr, sum, SOp::Imm(1))
            }
            Mul24S => {
                let low24 = |cx: &mut Self, x: SOp| {
                    let up = cx.alu(AluOp::Shl, x, SOp::Imm(40));
                    cx.alu(AluOp::AShr, up, SOp::Imm(40))
                };
                let (la, lb) = (low24(self, a), low24(self, b));
                self.alu(AluOp::Mul, la, lb)
            }
            Mul24U => {
                let la = self.alu(AluOp::And, a, SOp::Imm(0xFF_FFFF));
                let lb = self.alu(AluOp::And, b, SOp::Imm(0xFF_FFFF));
                self.alu(AluOp::Mul, la, lb)
            }
            MulHiS if width >= 64 => self.alu(AluOp::MulHiS, a, b),
            MulHiU if width >= 64 => self.alu(AluOp::MulHiU, a, b),
            MulHiS => {
                let p = self.alu(AluOp::Mul, a, b);
                self.alu(AluOp::AShr, p, SOp::Imm(i64::from(width)))
            }
            MulHiU => {
                let (za, zb) = (zext(self, a), zext(self, b));
                let p = self.alu(AluOp::Mul, za, zb);
                self.alu(AluOp::LShr, p, SOp::Imm(i64::from(width)))
            }
            CeilDivS | FloorDivS | CeilDivU => {
                let unsigned = op == CeilDivU;
                let (a, b) = if unsigned {
                    (zext(self, a), zext(self, b))
                } else {
                    (a, b)
                };
                let (div, rem) = if unsigned {
                    (AluOp::DivU, AluOp::RemU)
                } else {
                    (AluOp::DivS, AluOp::RemS)
                };
                let q = self.alu(div, a, b);
                let r = self.alu(rem, a, b);
                let inexact = self.alu(AluOp::Ne, r, SOp::Imm(0));
                let adjusted = if unsigned {
                    self.alu(AluOp::Add, q, inexact)
                } else {
                    // Signs of r and b: equal → ceil rounds up; differ → floor rounds down.
                    let rb = self.alu(AluOp::Xor, r, b);
                    let differ = self.alu(AluOp::LtS, rb, SOp::Imm(0));
                    if op == CeilDivS {
                        let same = self.alu(AluOp::Xor, differ, SOp::Imm(1));
                        let up = self.alu(AluOp::And, inexact, same);
                        self.alu(AluOp::Add, q, up)
                    } else {
                        let down = self.alu(AluOp::And, inexact, differ);
                        self.alu(AluOp::Sub, q, down)
                    }
                };
                let by_zero = self.alu(AluOp::Eq, b, SOp::Imm(0));
                self.select(by_zero, SOp::Imm(-1), adjusted)
            }
        };
        self.normalize(raw, width)
    }

    /// Brings a 64-bit result to the canonical form of a `width`-bit value.
    pub(super) fn normalize(&mut self, x: SOp, width: u32) -> SOp {
        match width {
            w if w >= 64 => x,
            1 => self.alu(AluOp::And, x, SOp::Imm(1)),
            w => {
                let shift = SOp::Imm(i64::from(64 - w));
                let up = self.alu(AluOp::Shl, x, shift);
                self.alu(AluOp::AShr, up, shift)
            }
        }
    }

    /// `a op b` at 64 bits (folded when both are immediates).
    pub(super) fn alu(&mut self, op: AluOp, a: SOp, b: SOp) -> SOp {
        if let (SOp::Imm(x), SOp::Imm(y)) = (a, b) {
            return SOp::Imm(op.eval(x as u64, y as u64) as i64);
        }
        let dst = self.new_sreg(64, "t");
        self.emit(TOpKind::Alu { op, dst, a, b });
        SOp::Reg(dst)
    }

    fn select(&mut self, cond: SOp, a: SOp, b: SOp) -> SOp {
        if let SOp::Imm(c) = cond {
            return if c != 0 { a } else { b };
        }
        let dst = self.new_sreg(64, "sel");
        self.emit(TOpKind::Select { dst, cond, a, b });
        SOp::Reg(dst)
    }
}

impl Lowerer<'_> {
    /// Called by the `scf.for` and `scf.while` lowerings before the loop:
    /// evaluates the initial value of every carried register the access
    /// analysis gave this loop (`AccessMap::carried` entries with `for_op`).
    pub(super) fn begin_carried(&mut self, for_op: Op) -> Result<(), Diagnostic> {
        let carried: Vec<_> = self
            .access
            .carried
            .values()
            .filter(|c| c.for_op == for_op)
            .cloned()
            .collect();
        let mut cache = ExprCache::new();
        for value in carried {
            for slot in &value.slots {
                let init = self.eval_scalar_expr(&slot.init, &mut cache)?;
                let reg = self.new_sreg(64, format!("carry{}", slot.slot));
                self.emit(TOpKind::Mov {
                    dst: reg,
                    src: init,
                });
                self.carried_regs.insert((value.arg, slot.slot), reg);
            }
        }
        Ok(())
    }

    /// Called by the loop lowerings at the end of the body (an `scf.while`'s
    /// `after` region), before the yielded values are moved into the
    /// iter_args: computes every carried register's next value.
    pub(super) fn end_carried(&mut self, for_op: Op) -> Result<(), Diagnostic> {
        let carried: Vec<_> = self
            .access
            .carried
            .values()
            .filter(|c| c.for_op == for_op)
            .cloned()
            .collect();
        let mut cache = ExprCache::new();
        // A parallel copy: every next value reads the old registers.
        let mut moves = Vec::new();
        for value in &carried {
            for slot in &value.slots {
                let reg = self.carried_regs[&(value.arg, slot.slot)];
                let next = match &slot.increment {
                    Some(inc) if inc.is_zero() => continue,
                    Some(inc) => {
                        let inc = self.eval_scalar_expr(inc, &mut cache)?;
                        self.alu(AluOp::Add, SOp::Reg(reg), inc)
                    }
                    None => self.eval_scalar_expr(&slot.next, &mut cache)?,
                };
                if next != SOp::Reg(reg) {
                    moves.push((reg, next));
                }
            }
        }
        for (reg, next) in moves {
            self.emit(TOpKind::Mov {
                dst: reg,
                src: next,
            });
        }
        Ok(())
    }
}

/// Trap code of an access whose strided form does not hold at run time and
/// that has no address tensor to fall back to.
const TRAP_UNSUPPORTED_ACCESS: u32 = 0x4d41_0001;

/// The `AtomicKind` of a TTIR `atomic_rmw_op` keyword.
fn atomic_kind(name: &str, float: bool) -> Option<AtomicKind> {
    Some(match name {
        "fadd" | "add" => AtomicKind::Add,
        "max" => AtomicKind::Max,
        "min" => AtomicKind::Min,
        "exch" | "xchg" => AtomicKind::Xchg,
        "umax" if !float => AtomicKind::UMax,
        "umin" if !float => AtomicKind::UMin,
        "and" if !float => AtomicKind::And,
        "or" if !float => AtomicKind::Or,
        "xor" if !float => AtomicKind::Xor,
        _ => return None,
    })
}

/// The ALU compare of a predicate on canonical `width`-bit operands. `i1`s
/// are held as 0/1, where the signed order is reversed (1 is −1).
fn cmp_alu(pred: IntPredicate, width: u32) -> AluOp {
    use IntPredicate::*;
    match (pred, width == 1) {
        (Eq, _) => AluOp::Eq,
        (Ne, _) => AluOp::Ne,
        (Slt, false) => AluOp::LtS,
        (Sle, false) => AluOp::LeS,
        (Sgt, false) => AluOp::GtS,
        (Sge, false) => AluOp::GeS,
        (Slt, true) => AluOp::GtU,
        (Sle, true) => AluOp::GeU,
        (Sgt, true) => AluOp::LtU,
        (Sge, true) => AluOp::LeU,
        (Ult, _) => AluOp::LtU,
        (Ule, _) => AluOp::LeU,
        (Ugt, _) => AluOp::GtU,
        (Uge, _) => AluOp::GeU,
    }
}

/// A constant's canonical register value.
fn canonical_const(bits: u64, width: u32) -> i64 {
    if width == 1 {
        (bits & 1) as i64
    } else {
        intsem::sign_extend(bits, width)
    }
}

fn rows_ty_dtype(width: u32) -> DType {
    DType::int(width).unwrap_or(DType::I32)
}

fn num_elements_u32(shape: &[u32]) -> u32 {
    shape.iter().product()
}

/// Whether a view is row-major dense (size-1 dimensions' strides do not
/// matter).
pub(super) fn is_dense(v: &BView) -> bool {
    let dense = maiac_backend::isa::view::row_major_strides(&v.shape);
    v.shape
        .iter()
        .zip(v.strides.iter().zip(&dense))
        .all(|(&n, (&s, &d))| n <= 1 || s == d)
}

/// A dense view seen with another shape of the same element count; `None`
/// when the view is not dense.
pub(super) fn reshape_view(v: &BView, shape: &[u32]) -> Option<BView> {
    if !is_dense(v) || v.num_elements() != shape.iter().map(|&d| u64::from(d)).product::<u64>() {
        return None;
    }
    Some(BView {
        buf: v.buf,
        offset: v.offset,
        shape: shape.to_vec(),
        strides: maiac_backend::isa::view::row_major_strides(shape),
    })
}

/// A dense view as one flat run of elements.
fn flat(v: &BView) -> BView {
    let n = v.num_elements() as u32;
    reshape_view(v, &[n]).expect("flat views are made of dense views")
}

/// `v` broadcast to `shape`: a scalar to anything, size-1 dimensions
/// stretched (stride 0), missing leading dimensions added.
pub(super) fn broadcast_view(v: &BView, shape: &[u32]) -> BView {
    if v.shape == shape {
        return v.clone();
    }
    let lead = shape.len().saturating_sub(v.shape.len());
    let strides = (0..shape.len())
        .map(|d| {
            if d < lead {
                return 0;
            }
            let src = d - lead;
            if v.shape[src] == 1 && shape[d] != 1 {
                0
            } else {
                v.strides[src]
            }
        })
        .collect();
    BView {
        buf: v.buf,
        offset: v.offset,
        shape: shape.to_vec(),
        strides,
    }
}

/// `out = in0` (a broadcast fill).
fn identity_micro(ty: DType) -> MicroProgram {
    MicroProgram {
        inputs: vec![ty],
        body: Vec::new(),
        outputs: vec![LaneSrc::Input(0)],
    }
}

/// `out = in0 ? in1 : in2`.
pub(super) fn select_micro(ty: DType) -> MicroProgram {
    MicroProgram {
        inputs: vec![DType::I1, ty, ty],
        body: vec![LaneInstr {
            op: LaneOp::Select { ty },
            args: vec![LaneSrc::Input(0), LaneSrc::Input(1), LaneSrc::Input(2)],
        }],
        outputs: vec![LaneSrc::Value(0)],
    }
}

/// Builds a micro-program instruction by instruction.
pub(super) struct MicroBuilder {
    program: MicroProgram,
}

impl MicroBuilder {
    pub(super) fn new(inputs: Vec<DType>) -> MicroBuilder {
        MicroBuilder {
            program: MicroProgram {
                inputs,
                body: Vec::new(),
                outputs: Vec::new(),
            },
        }
    }

    /// Appends `op args…` and returns its value.
    pub(super) fn op(&mut self, op: LaneOp, args: &[LaneSrc]) -> LaneSrc {
        self.program.body.push(LaneInstr {
            op,
            args: args.to_vec(),
        });
        LaneSrc::Value((self.program.body.len() - 1) as u16)
    }

    pub(super) fn finish(mut self, outputs: Vec<LaneSrc>) -> MicroProgram {
        self.program.outputs = outputs;
        self.program
    }
}

#[cfg(test)]
mod tests {
    //! `eval_scalar_expr` against `ScalarExpr::eval`: random expressions
    //! over kernel arguments, the emitted CP ops run by a small evaluator.

    use std::collections::HashMap;

    use maiac_ir::semantics::int::{self as intsem, IntBinaryOp, IntPredicate};

    use super::super::Lowerer;
    use super::ExprCache;
    use crate::access::{Atom, CastKind, ScalarExpr};
    use crate::tile::{SOp, SReg, TOp, TOpKind};

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const WIDTHS: [u32; 4] = [8, 16, 32, 64];

    fn random_expr(rng: &mut Rng, width: u32, atoms: &[(Atom, u32)], depth: u32) -> ScalarExpr {
        use IntBinaryOp::*;
        if depth == 0 || rng.below(4) == 0 {
            return if rng.below(3) == 0 {
                let v =
                    [0, 1, -1, 7, 63, 64, i64::MIN, i64::MAX, 0x7fff_ffff][rng.below(9) as usize];
                ScalarExpr::constant(i128::from(v), width)
            } else {
                let (atom, w) = atoms[rng.below(atoms.len() as u64) as usize];
                let a = ScalarExpr::atom(atom, w);
                match rng.below(2) {
                    0 => ScalarExpr::resize_signed(width, a),
                    _ if w < width => ScalarExpr::cast(CastKind::ZeroExtend, width, a),
                    _ => ScalarExpr::resize_signed(width, a),
                }
            };
        }
        let ops = [
            Add, Sub, Mul, DivS, DivU, CeilDivS, CeilDivU, FloorDivS, RemS, RemU, And, Or, Xor,
            Shl, ShrS, ShrU, MaxS, MaxU, MinS, MinU, MulHiU, MulHiS,
        ];
        match rng.below(6) {
            0 => {
                let inner = WIDTHS[rng.below(4) as usize];
                let pred = [
                    IntPredicate::Eq,
                    IntPredicate::Ne,
                    IntPredicate::Slt,
                    IntPredicate::Sle,
                    IntPredicate::Sgt,
                    IntPredicate::Sge,
                    IntPredicate::Ult,
                    IntPredicate::Ule,
                    IntPredicate::Ugt,
                    IntPredicate::Uge,
                ][rng.below(10) as usize];
                let c = ScalarExpr::cmp(
                    pred,
                    random_expr(rng, inner, atoms, depth - 1),
                    random_expr(rng, inner, atoms, depth - 1),
                );
                let a = random_expr(rng, width, atoms, depth - 1);
                let b = random_expr(rng, width, atoms, depth - 1);
                ScalarExpr::select(c, a, b)
            }
            1 if width == 64 => {
                let inner = WIDTHS[rng.below(4) as usize];
                ScalarExpr::clamp_diff(
                    random_expr(rng, inner, atoms, depth - 1),
                    random_expr(rng, inner, atoms, depth - 1),
                    rng.below(2) == 0,
                    1 + rng.below(100),
                )
            }
            2 => {
                let from = WIDTHS[rng.below(4) as usize];
                let arg = random_expr(rng, from, atoms, depth - 1);
                match rng.below(3) {
                    0 if from < width => ScalarExpr::cast(CastKind::ZeroExtend, width, arg),
                    _ => ScalarExpr::resize_signed(width, arg),
                }
            }
            _ => {
                let op = ops[rng.below(ops.len() as u64) as usize];
                ScalarExpr::binary(
                    op,
                    random_expr(rng, width, atoms, depth - 1),
                    random_expr(rng, width, atoms, depth - 1),
                )
            }
        }
    }

    fn run(body: &[TOp], regs: &mut HashMap<SReg, i64>, args: &[i64]) {
        let get = |regs: &HashMap<SReg, i64>, s: SOp| match s {
            SOp::Imm(v) => v,
            SOp::Reg(r) => regs[&r],
        };
        for op in body {
            match &op.kind {
                TOpKind::Arg { dst, index } => {
                    regs.insert(*dst, args[*index as usize]);
                }
                TOpKind::Mov { dst, src } => {
                    let v = get(regs, *src);
                    regs.insert(*dst, v);
                }
                TOpKind::Alu { op, dst, a, b } => {
                    let v = op.eval(get(regs, *a) as u64, get(regs, *b) as u64) as i64;
                    regs.insert(*dst, v);
                }
                TOpKind::Select { dst, cond, a, b } => {
                    let v = if get(regs, *cond) != 0 {
                        get(regs, *a)
                    } else {
                        get(regs, *b)
                    };
                    regs.insert(*dst, v);
                }
                other => panic!("unexpected op {other:?}"),
            }
        }
    }

    #[test]
    fn evaluated_expressions_match_the_analysis_semantics() {
        let text = "module {\n  tt.func public @k(%x: i32, %y: i32, %z: i64, %w: i8) {\n    tt.return\n  }\n}\n";
        let module = maiac_ir::parser::parse_module(text, "test.ttir").expect("parses");
        let func = module.kernel().expect("a kernel");
        let machine = maiac_backend::machine::builtin("tiny").expect("the tiny machine");
        let params = module.dfg.blocks[module.func_entry(func).expect("a body")]
            .args
            .clone();
        let widths = [32, 32, 64, 8];
        let atoms: Vec<(Atom, u32)> = params
            .iter()
            .zip(widths)
            .map(|(&v, w)| (Atom::Value(v), w))
            .collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let samples: [i64; 8] = [0, 1, -1, 5, -77, i32::MAX as i64, i32::MIN as i64, 1 << 40];
        for case in 0..3000 {
            let width = WIDTHS[rng.below(4) as usize];
            let expr = random_expr(&mut rng, width, &atoms, 4);
            let args: Vec<i64> = widths
                .iter()
                .map(|&w| intsem::sign_extend(samples[rng.below(8) as usize] as u64, w))
                .collect();
            let mut cx = Lowerer {
                module: &module,
                machine: &machine,
                func,
                access: crate::access::analyze(&module, func),
                kernel: Default::default(),
                values: HashMap::new(),
                bodies: vec![Vec::new()],
                current_loc: None,
                current_op: None,
                carried_regs: Default::default(),
                scratch: Default::default(),
            };
            cx.lower_entry().expect("binds the parameters");
            let result = cx
                .eval_scalar_expr(&expr, &mut ExprCache::new())
                .expect("evaluates");
            let body = cx.bodies.pop().expect("a body");
            let mut regs = HashMap::new();
            run(&body, &mut regs, &args);
            let got = match result {
                SOp::Imm(v) => v,
                SOp::Reg(r) => regs[&r],
            };
            let env = |a: Atom| {
                atoms
                    .iter()
                    .position(|&(b, _)| b == a)
                    .map(|i| args[i] as u64)
            };
            let bits = expr.eval(&env).expect("every atom is known");
            let want = if expr.width() == 1 {
                bits as i64
            } else {
                intsem::sign_extend(bits, expr.width())
            };
            assert_eq!(got, want, "case {case}: {expr:?} with {args:?}");
        }
    }
}

#[cfg(test)]
mod scalar_access_tests {
    //! Scalar loads and stores through kernel pointer arguments, rendered.

    #[test]
    fn scalar_load_and_store_are_single_element_dmas() {
        let text = "module {\n  tt.func public @k(%src: !tt.ptr<f32>, %dst: !tt.ptr<f32>, %isrc: !tt.ptr<i32>, %idst: !tt.ptr<i32>) {\n    %0 = tt.load %src : !tt.ptr<f32>\n    tt.store %dst, %0 : !tt.ptr<f32>\n    %1 = tt.load %isrc : !tt.ptr<i32>\n    tt.store %idst, %1 : !tt.ptr<i32>\n    tt.return\n  }\n}\n";
        let module = maiac_ir::parser::parse_module(text, "test.ttir").expect("parses");
        let func = module.kernel().expect("a kernel");
        let machine = maiac_backend::machine::builtin("tiny").expect("the tiny machine");
        let kernel = super::super::lower(&module, func, &machine).expect("lowers");
        let text = crate::tile::render(&kernel);
        insta::assert_snapshot!(text);
    }
}

/// Which DMA of a load [`Lowerer::strided_dma`] emits.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum DmaPart {
    /// The whole access.
    Whole,
    /// The first box of a wrapped load: applies the fill everywhere else.
    First,
    /// The second box of a wrapped load: writes only its box (no fill),
    /// then applies a non-uniform `other`.
    Second,
}

/// The wrapped dimension of a load, its start and modulus as `i64`s.
struct WrapSplit {
    dim: usize,
    start: ScalarExpr,
    modulus: ScalarExpr,
    kind: WrapKind,
}

/// `e ≥ 0` on an `i64`.
fn non_negative(e: &ScalarExpr) -> ScalarExpr {
    ScalarExpr::cmp(IntPredicate::Sge, e.clone(), ScalarExpr::constant(0, 64))
}
