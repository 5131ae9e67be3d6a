//! Memory ops: `tt.load`/`tt.store` (pointer tensors with masks, and block
//! pointers with `boundaryCheck`/`padding`), atomics, `tt.make_tensor_ptr` /
//! `tt.advance`, and tensor descriptors (`make_tensor_descriptor`,
//! `descriptor_load/store/gather/scatter`).
//!
//! Rules:
//! - A masked-off load element is `other` (or zero without `other`); a
//!   masked-off store element writes nothing. Any other access must lie
//!   inside its buffer, else the op fails naming the element and buffer.
//! - Block pointers: elements outside the global tensor along a dimension in
//!   `boundaryCheck` read as the padding (zero, or NaN with `padding = nan`)
//!   and are not stored; other dimensions are not clipped.
//! - Tensor descriptors behave like TMA: every out-of-bounds element reads
//!   as zero (NaN with `padding = nan`) and is not written.
//! - Atomics run element by element in row-major order and return the old
//!   values (zero for masked-off elements). `max`/`min` on floats are
//!   `maxnumf`/`minnumf`; `atomic_cas` compares raw bits.

use std::rc::Rc;

use maiac_ir::semantics::convert::canonical_nan;
use maiac_ir::semantics::float::{float_binary, FloatBinaryOp};
use maiac_ir::semantics::int::{int_binary, sign_extend, IntBinaryOp};
use maiac_ir::{Diagnostic, Op, Type};
use maiac_runtime_emu::launch::AddressFault;

use super::exec::{Frame, Interp};
use super::memory::ElemLayout;
use super::shape::{check_size, for_each_index};
use super::value::{BlockPtr, RValue, Tensor, TensorDesc};

/// A strided block of a global tensor: where each element lives, or `None`
/// where it is clipped.
struct BlockAccess<'a> {
    base: u64,
    shape: &'a [i64],
    strides: &'a [i64],
    origin: &'a [i64],
    block_shape: &'a [usize],
    /// Dimensions along which out-of-bounds elements are clipped.
    checked: &'a [bool],
    elem_size: u64,
}

impl BlockAccess<'_> {
    fn addresses(&self) -> Vec<Option<u64>> {
        let n: usize = self.block_shape.iter().product();
        let mut out = Vec::with_capacity(n);
        for_each_index(self.block_shape, |_, idx| {
            let mut offset: i64 = 0;
            let mut inside = true;
            for (d, &i) in idx.iter().enumerate() {
                let coord = self.origin[d].wrapping_add(i as i64);
                if self.checked[d] && (coord < 0 || coord >= self.shape[d]) {
                    inside = false;
                }
                offset = offset.wrapping_add(coord.wrapping_mul(self.strides[d]));
            }
            out.push(inside.then(|| {
                self.base
                    .wrapping_add((offset as u64).wrapping_mul(self.elem_size))
            }));
        });
        out
    }
}

/// The multi-index of flat element `flat` of `shape`, for messages.
fn index_of(shape: &[usize], flat: usize) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    let mut rest = flat;
    for d in (0..shape.len()).rev() {
        if shape[d] > 0 {
            idx[d] = rest % shape[d];
            rest /= shape[d];
        }
    }
    idx
}

fn pick(t: &Tensor, i: usize) -> u64 {
    if t.len() == 1 {
        t.data[0]
    } else {
        t.data[i]
    }
}

impl Interp<'_> {
    /// Checks that an operand broadcasts to `n` elements (it has `n` or 1).
    fn check_broadcast(&self, op: Op, t: &Tensor, n: usize, what: &str) -> Result<(), Diagnostic> {
        if t.len() == n || t.len() == 1 {
            Ok(())
        } else {
            Err(self.error(
                op,
                format!(
                    "the {what} has {} elements but the pointers have {n}",
                    t.len()
                ),
            ))
        }
    }

    fn access_error(
        &self,
        op: Op,
        shape: &[usize],
        flat: usize,
        fault: &AddressFault,
    ) -> Diagnostic {
        let what = if shape.is_empty() {
            "the access".to_string()
        } else {
            format!("element {flat} (index {:?})", index_of(shape, flat))
        };
        self.error(
            op,
            format!(
                "{what} is out of bounds: {}",
                self.memory.describe_fault(fault)
            ),
        )
    }

    fn elem_layout_of_result(&self, op: Op) -> Result<(ElemLayout, Type), Diagnostic> {
        let elem = self.result_type(op, 0)?.element().clone();
        Ok((ElemLayout::of(&elem), elem))
    }

    /// The padding value of `elem` for out-of-bounds block elements.
    fn padding_bits(elem: &Type, nan: bool) -> u64 {
        match elem.float_type() {
            Some(f) if nan => canonical_nan(f),
            _ => 0,
        }
    }

    fn padding_is_nan(&self, op: Op) -> bool {
        match self.module.dfg.attr(op, "padding") {
            Some(a) => a.as_str() == Some("nan") || a.as_int() == Some(2),
            None => false,
        }
    }

    /// `boundaryCheck` as a per-dimension flag list.
    fn boundary_check(&self, op: Op, rank: usize) -> Result<Vec<bool>, Diagnostic> {
        let mut checked = vec![false; rank];
        for d in self.int_list_attr(op, "boundaryCheck").unwrap_or_default() {
            let d = usize::try_from(d)
                .ok()
                .filter(|&d| d < rank)
                .ok_or_else(|| {
                    self.error(op, format!("boundaryCheck dimension {d} is out of range"))
                })?;
            checked[d] = true;
        }
        Ok(checked)
    }

    fn read_addresses(
        &self,
        op: Op,
        shape: &[usize],
        addrs: &[Option<u64>],
        layout: ElemLayout,
        pad: u64,
    ) -> Result<Vec<u64>, Diagnostic> {
        addrs
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                Some(addr) => self
                    .memory
                    .read(*addr, layout)
                    .map_err(|f| self.access_error(op, shape, i, &f)),
                None => Ok(pad),
            })
            .collect()
    }

    fn write_addresses(
        &mut self,
        op: Op,
        shape: &[usize],
        addrs: &[Option<u64>],
        layout: ElemLayout,
        values: &Tensor,
    ) -> Result<(), Diagnostic> {
        self.check_broadcast(op, values, addrs.len(), "stored value")?;
        for (i, a) in addrs.iter().enumerate() {
            if let Some(addr) = a {
                if let Err(f) = self.memory.write(*addr, layout, pick(values, i)) {
                    return Err(self.access_error(op, shape, i, &f));
                }
            }
        }
        Ok(())
    }

    pub(super) fn exec_load(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let (layout, elem) = self.elem_layout_of_result(op)?;
        let ptr_value = self.value(frame, op, self.module.dfg.operands(op)[0])?;
        let result = match ptr_value {
            RValue::BlockPtr(bp) => {
                let checked = self.boundary_check(op, bp.block_shape.len())?;
                let addrs = BlockAccess {
                    base: bp.base,
                    shape: &bp.shape,
                    strides: &bp.strides,
                    origin: &bp.offsets,
                    block_shape: &bp.block_shape,
                    checked: &checked,
                    elem_size: bp.elem_size,
                }
                .addresses();
                let pad = Self::padding_bits(&elem, self.padding_is_nan(op));
                let data = self.read_addresses(op, &bp.block_shape, &addrs, layout, pad)?;
                Tensor::new(bp.block_shape.clone(), data)
            }
            RValue::Tensor(ptrs) => {
                let num_operands = self.module.dfg.operands(op).len();
                let mask = if num_operands > 1 {
                    Some(self.operand(frame, op, 1)?)
                } else {
                    None
                };
                let other = if num_operands > 2 {
                    Some(self.operand(frame, op, 2)?)
                } else {
                    None
                };
                if let Some(m) = &mask {
                    self.check_broadcast(op, m, ptrs.len(), "mask")?;
                }
                if let Some(o) = &other {
                    self.check_broadcast(op, o, ptrs.len(), "`other` value")?;
                }
                let mut data = Vec::with_capacity(ptrs.len());
                for (i, &addr) in ptrs.data.iter().enumerate() {
                    let enabled = mask.as_ref().is_none_or(|m| pick(m, i) & 1 != 0);
                    let bits = if enabled {
                        self.memory
                            .read(addr, layout)
                            .map_err(|f| self.access_error(op, &ptrs.shape, i, &f))?
                    } else {
                        other.as_ref().map_or(0, |o| pick(o, i))
                    };
                    data.push(bits);
                }
                Tensor::new(ptrs.shape.clone(), data)
            }
            RValue::Desc(_) => {
                return Err(self.error(op, "cannot load through a tensor descriptor"))
            }
        };
        self.set_result(frame, op, RValue::tensor(result))
    }

    pub(super) fn exec_store(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let elem = self.operand_type(op, 1)?.element().clone();
        let layout = ElemLayout::of(&elem);
        let values = self.operand(frame, op, 1)?;
        match self.value(frame, op, self.module.dfg.operands(op)[0])? {
            RValue::BlockPtr(bp) => {
                let checked = self.boundary_check(op, bp.block_shape.len())?;
                let addrs = BlockAccess {
                    base: bp.base,
                    shape: &bp.shape,
                    strides: &bp.strides,
                    origin: &bp.offsets,
                    block_shape: &bp.block_shape,
                    checked: &checked,
                    elem_size: bp.elem_size,
                }
                .addresses();
                if values.len() != addrs.len() {
                    return Err(self.error(op, "value and block shapes differ"));
                }
                self.write_addresses(op, &bp.block_shape, &addrs, layout, &values)
            }
            RValue::Tensor(ptrs) => {
                let mask = if self.module.dfg.operands(op).len() > 2 {
                    Some(self.operand(frame, op, 2)?)
                } else {
                    None
                };
                self.check_broadcast(op, &values, ptrs.len(), "stored value")?;
                if let Some(m) = &mask {
                    self.check_broadcast(op, m, ptrs.len(), "mask")?;
                }
                for (i, &addr) in ptrs.data.iter().enumerate() {
                    if mask.as_ref().is_none_or(|m| pick(m, i) & 1 != 0) {
                        self.memory
                            .write(addr, layout, pick(&values, i))
                            .map_err(|f| self.access_error(op, &ptrs.shape, i, &f))?;
                    }
                }
                Ok(())
            }
            RValue::Desc(_) => Err(self.error(op, "cannot store through a tensor descriptor")),
        }
    }

    pub(super) fn exec_atomic_rmw(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let elem = self.operand_type(op, 1)?.element().clone();
        let layout = ElemLayout::of(&elem);
        let kind = self
            .module
            .dfg
            .attr(op, "atomic_rmw_op")
            .and_then(|a| a.as_str().map(str::to_string))
            .ok_or_else(|| self.error(op, "missing `atomic_rmw_op` attribute"))?;
        let combine = atomic_combiner(&kind, &elem).map_err(|e| self.error(op, e))?;
        let ptrs = self.operand(frame, op, 0)?;
        let values = self.operand(frame, op, 1)?;
        let mask = if self.module.dfg.operands(op).len() > 2 {
            Some(self.operand(frame, op, 2)?)
        } else {
            None
        };
        self.check_broadcast(op, &values, ptrs.len(), "value")?;
        if let Some(m) = &mask {
            self.check_broadcast(op, m, ptrs.len(), "mask")?;
        }
        let mut old = Vec::with_capacity(ptrs.len());
        for (i, &addr) in ptrs.data.iter().enumerate() {
            if mask.as_ref().is_some_and(|m| pick(m, i) & 1 == 0) {
                old.push(0);
                continue;
            }
            let prev = self
                .memory
                .read(addr, layout)
                .map_err(|f| self.access_error(op, &ptrs.shape, i, &f))?;
            let new = combine(prev, pick(&values, i));
            self.memory
                .write(addr, layout, new)
                .map_err(|f| self.access_error(op, &ptrs.shape, i, &f))?;
            old.push(prev);
        }
        self.set_result(
            frame,
            op,
            RValue::tensor(Tensor::new(ptrs.shape.clone(), old)),
        )
    }

    pub(super) fn exec_atomic_cas(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let elem = self.operand_type(op, 2)?.element().clone();
        let layout = ElemLayout::of(&elem);
        let ptrs = self.operand(frame, op, 0)?;
        let expected = self.operand(frame, op, 1)?;
        let values = self.operand(frame, op, 2)?;
        self.check_broadcast(op, &expected, ptrs.len(), "compared value")?;
        self.check_broadcast(op, &values, ptrs.len(), "value")?;
        let mut old = Vec::with_capacity(ptrs.len());
        for (i, &addr) in ptrs.data.iter().enumerate() {
            let prev = self
                .memory
                .read(addr, layout)
                .map_err(|f| self.access_error(op, &ptrs.shape, i, &f))?;
            if prev == pick(&expected, i) {
                self.memory
                    .write(addr, layout, pick(&values, i))
                    .map_err(|f| self.access_error(op, &ptrs.shape, i, &f))?;
            }
            old.push(prev);
        }
        self.set_result(
            frame,
            op,
            RValue::tensor(Tensor::new(ptrs.shape.clone(), old)),
        )
    }

    /// Reads `count` scalar operands starting at `first` as sign-extended integers.
    fn int_operands(
        &self,
        frame: &Frame,
        op: Op,
        first: usize,
        count: usize,
    ) -> Result<Vec<i64>, Diagnostic> {
        (first..first + count)
            .map(|i| {
                let width = self.operand_type(op, i)?.int_width().unwrap_or(64);
                Ok(sign_extend(self.scalar_operand(frame, op, i)?, width))
            })
            .collect()
    }

    pub(super) fn exec_make_tensor_ptr(
        &mut self,
        frame: &mut Frame,
        op: Op,
    ) -> Result<(), Diagnostic> {
        let ty = self.result_type(op, 0)?;
        let block = ty.pointee().filter(|p| p.is_tensor()).ok_or_else(|| {
            self.error(op, format!("result type {ty} is not a pointer to a tensor"))
        })?;
        let block_shape: Vec<usize> = block.shape().iter().map(|&d| d.max(0) as usize).collect();
        check_size(&block_shape).map_err(|e| self.error(op, e))?;
        let rank = block_shape.len();
        let count = self.module.dfg.operands(op).len();
        if count != 1 + 3 * rank {
            return Err(self.error(
                op,
                format!(
                    "expected {} operands for a rank-{rank} block, got {count}",
                    1 + 3 * rank
                ),
            ));
        }
        let base = self.scalar_operand(frame, op, 0)?;
        let shape = self.int_operands(frame, op, 1, rank)?;
        let strides = self.int_operands(frame, op, 1 + rank, rank)?;
        let offsets = self.int_operands(frame, op, 1 + 2 * rank, rank)?;
        let elem_size = block.scalar_size_bytes();
        let bp = BlockPtr {
            base,
            shape,
            strides,
            offsets,
            block_shape,
            elem_size,
        };
        self.set_result(frame, op, RValue::BlockPtr(Rc::new(bp)))
    }

    pub(super) fn exec_advance(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let RValue::BlockPtr(bp) = self.value(frame, op, self.module.dfg.operands(op)[0])? else {
            return Err(self.error(op, "operand is not a block pointer"));
        };
        let rank = bp.block_shape.len();
        let deltas = self.int_operands(frame, op, 1, rank)?;
        let mut advanced = (*bp).clone();
        for (o, d) in advanced.offsets.iter_mut().zip(deltas) {
            *o = o.wrapping_add(d);
        }
        self.set_result(frame, op, RValue::BlockPtr(Rc::new(advanced)))
    }

    pub(super) fn exec_make_tensor_descriptor(
        &mut self,
        frame: &mut Frame,
        op: Op,
    ) -> Result<(), Diagnostic> {
        let ty = self.result_type(op, 0)?;
        let Type::TensorDesc { block } = ty else {
            return Err(self.error(op, format!("result type {ty} is not a tensor descriptor")));
        };
        let block_shape: Vec<usize> = block.shape().iter().map(|&d| d.max(0) as usize).collect();
        check_size(&block_shape).map_err(|e| self.error(op, e))?;
        let count = self.module.dfg.operands(op).len();
        if count < 1 || !(count - 1).is_multiple_of(2) {
            return Err(self.error(
                op,
                "expected a base, then as many strides as shape operands",
            ));
        }
        let rank = (count - 1) / 2;
        if rank != block_shape.len() {
            return Err(self.error(
                op,
                format!(
                    "a rank-{rank} tensor with a rank-{} block",
                    block_shape.len()
                ),
            ));
        }
        let base = self.scalar_operand(frame, op, 0)?;
        let shape = self.int_operands(frame, op, 1, rank)?;
        let strides = self.int_operands(frame, op, 1 + rank, rank)?;
        let desc = TensorDesc {
            base,
            shape,
            strides,
            block_shape,
            elem_size: block.scalar_size_bytes(),
            pad_nan: self.padding_is_nan(op),
        };
        self.set_result(frame, op, RValue::Desc(Rc::new(desc)))
    }

    fn descriptor(&self, frame: &Frame, op: Op) -> Result<Rc<TensorDesc>, Diagnostic> {
        match self.value(frame, op, self.module.dfg.operands(op)[0])? {
            RValue::Desc(d) => Ok(d),
            _ => Err(self.error(op, "operand #0 is not a tensor descriptor")),
        }
    }

    fn descriptor_addresses(&self, desc: &TensorDesc, origin: &[i64]) -> Vec<Option<u64>> {
        let checked = vec![true; desc.block_shape.len()];
        BlockAccess {
            base: desc.base,
            shape: &desc.shape,
            strides: &desc.strides,
            origin,
            block_shape: &desc.block_shape,
            checked: &checked,
            elem_size: desc.elem_size,
        }
        .addresses()
    }

    pub(super) fn exec_descriptor_load(
        &mut self,
        frame: &mut Frame,
        op: Op,
    ) -> Result<(), Diagnostic> {
        let desc = self.descriptor(frame, op)?;
        let rank = desc.block_shape.len();
        let origin = self.int_operands(frame, op, 1, rank)?;
        let (layout, elem) = self.elem_layout_of_result(op)?;
        let addrs = self.descriptor_addresses(&desc, &origin);
        let pad = Self::padding_bits(&elem, desc.pad_nan);
        let data = self.read_addresses(op, &desc.block_shape, &addrs, layout, pad)?;
        let shape = self.result_shape(op, 0)?;
        if shape.iter().product::<usize>() != data.len() {
            return Err(self.error(op, "result shape does not match the descriptor's block"));
        }
        self.set_result(frame, op, RValue::tensor(Tensor::new(shape, data)))
    }

    pub(super) fn exec_descriptor_store(
        &mut self,
        frame: &mut Frame,
        op: Op,
    ) -> Result<(), Diagnostic> {
        let desc = self.descriptor(frame, op)?;
        let rank = desc.block_shape.len();
        let values = self.operand(frame, op, 1)?;
        let layout = ElemLayout::of(self.operand_type(op, 1)?.element());
        let origin = self.int_operands(frame, op, 2, rank)?;
        let addrs = self.descriptor_addresses(&desc, &origin);
        if values.len() != addrs.len() {
            return Err(self.error(
                op,
                "the stored tensor does not match the descriptor's block",
            ));
        }
        self.write_addresses(op, &desc.block_shape, &addrs, layout, &values)
    }

    /// `tt.descriptor_reduce`: the block's in-bounds elements combined into
    /// memory one by one in row-major order (out-of-bounds ones skipped,
    /// like a descriptor store), exactly as `tt.atomic_rmw` would.
    pub(super) fn exec_descriptor_reduce(
        &mut self,
        frame: &mut Frame,
        op: Op,
    ) -> Result<(), Diagnostic> {
        let desc = self.descriptor(frame, op)?;
        let rank = desc.block_shape.len();
        let elem = self.operand_type(op, 1)?.element().clone();
        let layout = ElemLayout::of(&elem);
        let kind = self
            .module
            .dfg
            .attr(op, "atomic_rmw_op")
            .and_then(|a| a.as_str().map(str::to_string))
            .ok_or_else(|| self.error(op, "missing `atomic_rmw_op` attribute"))?;
        let combine = atomic_combiner(&kind, &elem).map_err(|e| self.error(op, e))?;
        let values = self.operand(frame, op, 1)?;
        let origin = self.int_operands(frame, op, 2, rank)?;
        let addrs = self.descriptor_addresses(&desc, &origin);
        self.check_broadcast(op, &values, addrs.len(), "value")?;
        for (i, a) in addrs.iter().enumerate() {
            let Some(addr) = *a else { continue };
            let prev = self
                .memory
                .read(addr, layout)
                .map_err(|f| self.access_error(op, &desc.block_shape, i, &f))?;
            self.memory
                .write(addr, layout, combine(prev, pick(&values, i)))
                .map_err(|f| self.access_error(op, &desc.block_shape, i, &f))?;
        }
        Ok(())
    }

    /// Row addresses of `descriptor_gather/scatter`: rows `x_offsets[i]`,
    /// columns `y_offset ..` (2-D descriptors).
    fn gather_addresses(
        &self,
        frame: &Frame,
        op: Op,
        desc: &TensorDesc,
        cols: usize,
    ) -> Result<(Vec<usize>, Vec<Option<u64>>), Diagnostic> {
        if desc.shape.len() != 2 {
            return Err(self.error(op, "gather/scatter needs a 2-D descriptor"));
        }
        let rows = self.operand(frame, op, 1)?;
        let row_width = self
            .operand_type(op, 1)?
            .element()
            .int_width()
            .unwrap_or(32);
        let y = self.int_operands(frame, op, 2, 1)?[0];
        let mut addrs = Vec::with_capacity(rows.len() * cols);
        for &r in &rows.data {
            let origin = [sign_extend(r, row_width), y];
            let checked = [true, true];
            addrs.extend(
                BlockAccess {
                    base: desc.base,
                    shape: &desc.shape,
                    strides: &desc.strides,
                    origin: &origin,
                    block_shape: &[1, cols],
                    checked: &checked,
                    elem_size: desc.elem_size,
                }
                .addresses(),
            );
        }
        Ok((vec![rows.len(), cols], addrs))
    }

    pub(super) fn exec_descriptor_gather(
        &mut self,
        frame: &mut Frame,
        op: Op,
    ) -> Result<(), Diagnostic> {
        let desc = self.descriptor(frame, op)?;
        let shape = self.result_shape(op, 0)?;
        let cols = *shape
            .last()
            .ok_or_else(|| self.error(op, "result must be 2-D"))?;
        let (layout, elem) = self.elem_layout_of_result(op)?;
        let (block, addrs) = self.gather_addresses(frame, op, &desc, cols)?;
        let data = self.read_addresses(
            op,
            &block,
            &addrs,
            layout,
            Self::padding_bits(&elem, desc.pad_nan),
        )?;
        self.set_result(frame, op, RValue::tensor(Tensor::new(shape, data)))
    }

    pub(super) fn exec_descriptor_scatter(
        &mut self,
        frame: &mut Frame,
        op: Op,
    ) -> Result<(), Diagnostic> {
        let desc = self.descriptor(frame, op)?;
        let values = self.operand(frame, op, 3)?;
        let layout = ElemLayout::of(self.operand_type(op, 3)?.element());
        let cols = *values
            .shape
            .last()
            .ok_or_else(|| self.error(op, "source must be 2-D"))?;
        let (block, addrs) = self.gather_addresses(frame, op, &desc, cols)?;
        self.write_addresses(op, &block, &addrs, layout, &values)
    }
}

/// The read-modify-write function of an `atomic_rmw_op` on `elem`.
fn atomic_combiner(kind: &str, elem: &Type) -> Result<Box<dyn Fn(u64, u64) -> u64>, String> {
    if let Some(ty) = elem.float_type() {
        let op = match kind {
            "fadd" | "add" => FloatBinaryOp::Add,
            "max" => FloatBinaryOp::MaxNum,
            "min" => FloatBinaryOp::MinNum,
            "exch" | "xchg" => return Ok(Box::new(|_, new| new)),
            other => return Err(format!("atomic `{other}` is not defined on {elem}")),
        };
        return Ok(Box::new(move |old, new| float_binary(op, ty, old, new)));
    }
    let width = elem
        .int_width()
        .ok_or_else(|| format!("atomics on {elem} are not supported"))?;
    let op = match kind {
        "add" => IntBinaryOp::Add,
        "and" => IntBinaryOp::And,
        "or" => IntBinaryOp::Or,
        "xor" => IntBinaryOp::Xor,
        "max" => IntBinaryOp::MaxS,
        "min" => IntBinaryOp::MinS,
        "umax" => IntBinaryOp::MaxU,
        "umin" => IntBinaryOp::MinU,
        "exch" | "xchg" => return Ok(Box::new(|_, new| new)),
        other => return Err(format!("unknown atomic_rmw_op `{other}` for {elem}")),
    };
    Ok(Box::new(move |old, new| int_binary(op, width, old, new)))
}
