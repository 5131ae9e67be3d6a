//! Rules for the `tt` ops that compute addresses and touch memory:
//! `addptr`, `load`, `store`, the atomics, pointer/integer casts, block
//! pointers (`make_tensor_ptr`, `advance`) and tensor descriptors.
//!
//! The central rule is Triton's `TypesMatchWith`: what a pointer points to
//! (with the pointer tensor's shape) is the type loaded or stored, and a mask
//! is `i1` of that same shape.

use crate::types::Type;

use super::op_context::{plural, Check, OpCx};
use super::shapes::{
    describe_shape, is_block_ptr, is_int_like, is_ptr_like, loaded_type, mask_type_for, q,
    same_shape,
};

const CACHE_MODIFIERS: [&str; 7] = ["none", "ca", "cg", "wb", "cs", "wt", "cv"];
// MLIR's own spelling of the default is `evict_normal`; both are accepted.
const EVICTION_POLICIES: [&str; 4] = ["normal", "evict_normal", "evict_first", "evict_last"];
const PADDING_OPTIONS: [&str; 2] = ["zero", "nan"];
const MEM_SEMANTICS: [&str; 4] = ["relaxed", "acquire", "release", "acq_rel"];
const MEM_SCOPES: [&str; 3] = ["gpu", "cta", "sys"];
const RMW_OPS: [&str; 10] = [
    "and", "or", "xor", "add", "fadd", "max", "min", "umax", "umin", "exch",
];

/// The pointer operand of a load or store: a pointer, a tensor of pointers,
/// or a block pointer. Returns the type it accesses.
fn accessed_type(cx: &OpCx, ptr: &Type) -> Result<Type, String> {
    match loaded_type(ptr) {
        Some(value) if is_ptr_like(ptr) || is_block_ptr(ptr) => Ok(value),
        _ => cx.fail(format_args!(
            "expects a pointer, a tensor of pointers or a block pointer as its first operand, but got {}",
            q(ptr)
        )),
    }
}

/// An optional mask operand must be `i1` with the shape of `value`.
fn check_mask(cx: &OpCx, mask: Option<&&Type>, value: &Type) -> Check {
    if let Some(mask) = mask {
        let expected = mask_type_for(value);
        if **mask != expected {
            return cx.fail(format_args!(
                "mask must be {}, but is {}",
                q(&expected),
                q(mask)
            ));
        }
    }
    Ok(())
}

fn check_cache_attrs(cx: &OpCx) -> Check {
    cx.optional_enum("cache", &CACHE_MODIFIERS)?;
    cx.optional_enum("evict", &EVICTION_POLICIES)?;
    Ok(())
}

/// `boundaryCheck` lists dimensions of the accessed block.
fn check_boundary(cx: &OpCx, value: &Type) -> Check {
    let Some(dims) = cx.optional_int_list("boundaryCheck")? else {
        return Ok(());
    };
    let rank = value.shape().len() as i64;
    if let Some(d) = dims.iter().find(|&&d| d < 0 || d >= rank) {
        return cx.fail(format_args!(
            "`boundaryCheck` dimension {d} is out of range for {}",
            q(value)
        ));
    }
    Ok(())
}

/// `tt.addptr`: a pointer (tensor) advanced by an integer offset (tensor)
/// of the same shape; the result has the pointer's type.
pub(super) fn addptr(cx: &OpCx) -> Check {
    let [ptr, offset] = cx.operands_exact::<2>()?;
    let [result] = cx.results_exact::<1>()?;
    if !is_ptr_like(ptr) {
        let hint = if is_ptr_like(offset) {
            " (are the operands swapped?)"
        } else {
            ""
        };
        return cx.fail(format_args!(
            "expects a pointer or a tensor of pointers as its first operand, but got {}{hint}",
            q(ptr)
        ));
    }
    if !is_int_like(offset) {
        return cx.fail(format_args!(
            "offset must be an integer or a tensor of integers, but is {}",
            q(offset)
        ));
    }
    if !same_shape(ptr, offset) {
        return cx.fail(format_args!(
            "pointer {} and offset {} must have the same shape",
            q(ptr),
            q(offset)
        ));
    }
    if result != ptr {
        return cx.fail(format_args!(
            "result type {} must be the pointer type {}",
            q(result),
            q(ptr)
        ));
    }
    Ok(())
}

/// `tt.load`: `[ptr, mask?, other?]`; the result is what `ptr` points to.
pub(super) fn load(cx: &OpCx) -> Check {
    let operands = cx.operands_between(1, 3)?;
    let [result] = cx.results_exact::<1>()?;
    let value = accessed_type(cx, operands[0])?;
    if *result != value {
        return cx.fail(format_args!(
            "result type {} must be {}, what {} points to",
            q(result),
            q(&value),
            q(operands[0])
        ));
    }
    check_mask(cx, operands.get(1), &value)?;
    if let Some(other) = operands.get(2) {
        if **other != value {
            return cx.fail(format_args!(
                "`other` must be {}, but is {}",
                q(&value),
                q(other)
            ));
        }
    }
    check_cache_attrs(cx)?;
    cx.optional_enum("padding", &PADDING_OPTIONS)?;
    cx.optional_bool("isVolatile")?;
    check_boundary(cx, &value)
}

/// `tt.store`: `[ptr, value, mask?]`; `value` is what `ptr` points to.
pub(super) fn store(cx: &OpCx) -> Check {
    let operands = cx.operands_between(2, 3)?;
    cx.results_exact::<0>()?;
    let expected = accessed_type(cx, operands[0])?;
    let value = operands[1];
    if *value != expected {
        return cx.fail(format_args!(
            "stores {} through {}, which points to {}",
            q(value),
            q(operands[0]),
            q(&expected)
        ));
    }
    check_mask(cx, operands.get(2), &expected)?;
    check_cache_attrs(cx)?;
    check_boundary(cx, &expected)
}

/// The pointer of an atomic must point to the value's element type, with
/// the value's shape.
fn check_atomic_ptr(cx: &OpCx, ptr: &Type, value: &Type) -> Check {
    if !is_ptr_like(ptr) || loaded_type(ptr).as_ref() != Some(value) {
        return cx.fail(format_args!(
            "pointer {} must point to `{}` with {} like the value {}",
            q(ptr),
            value.element(),
            describe_shape(value),
            q(value)
        ));
    }
    Ok(())
}

/// `tt.atomic_rmw`: `[ptr, val, mask?]`, returns the old value.
pub(super) fn atomic_rmw(cx: &OpCx) -> Check {
    let operands = cx.operands_between(2, 3)?;
    let [result] = cx.results_exact::<1>()?;
    let (ptr, value) = (operands[0], operands[1]);
    check_atomic_ptr(cx, ptr, value)?;
    if result != value {
        return cx.fail(format_args!(
            "result type {} must be the value type {}",
            q(result),
            q(value)
        ));
    }
    check_mask(cx, operands.get(2), value)?;
    let kind = cx.required_enum("atomic_rmw_op", &RMW_OPS)?;
    cx.required_enum("sem", &MEM_SEMANTICS)?;
    cx.required_enum("scope", &MEM_SCOPES)?;
    let elem = value.element();
    let fits = match kind {
        "fadd" => elem.is_float(),
        "and" | "or" | "xor" | "add" | "umax" | "umin" => elem.is_int(),
        "max" | "min" => elem.is_int() || elem.is_float(),
        _ => true,
    };
    if !fits {
        return cx.fail(format_args!(
            "operation `{kind}` does not apply to `{elem}` values"
        ));
    }
    Ok(())
}

/// `tt.atomic_cas`: `[ptr, cmp, val]`, returns the old value.
pub(super) fn atomic_cas(cx: &OpCx) -> Check {
    let [ptr, cmp, value] = cx.operands_exact::<3>()?;
    let [result] = cx.results_exact::<1>()?;
    check_atomic_ptr(cx, ptr, value)?;
    if cmp != value {
        return cx.fail(format_args!(
            "compared value {} and new value {} must have the same type",
            q(cmp),
            q(value)
        ));
    }
    if result != value {
        return cx.fail(format_args!(
            "result type {} must be the value type {}",
            q(result),
            q(value)
        ));
    }
    cx.required_enum("sem", &MEM_SEMANTICS)?;
    cx.required_enum("scope", &MEM_SCOPES)?;
    Ok(())
}

/// `tt.int_to_ptr`: `i64` (tensor) to pointer (tensor) of the same shape.
pub(super) fn int_to_ptr(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [result] = cx.results_exact::<1>()?;
    if *src.element() != Type::I64 {
        return cx.fail(format_args!(
            "operand must be `i64` or a tensor of `i64`, but is {}",
            q(src)
        ));
    }
    if !is_ptr_like(result) || !same_shape(src, result) {
        return cx.fail(format_args!(
            "result must be a pointer with the operand's {}, but is {}",
            describe_shape(src),
            q(result)
        ));
    }
    Ok(())
}

/// `tt.ptr_to_int`: pointer (tensor) to `i64` (tensor) of the same shape.
pub(super) fn ptr_to_int(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [result] = cx.results_exact::<1>()?;
    if !is_ptr_like(src) {
        return cx.fail(format_args!(
            "operand must be a pointer or a tensor of pointers, but is {}",
            q(src)
        ));
    }
    let expected = src.with_element(Type::I64);
    if *result != expected {
        return cx.fail(format_args!(
            "result must be {}, but is {}",
            q(&expected),
            q(result)
        ));
    }
    Ok(())
}

/// Every type in `types` is `want`.
fn all_of(cx: &OpCx, types: &[&Type], want: &Type, role: &str) -> Check {
    if let Some(bad) = types.iter().find(|t| **t != want) {
        return cx.fail(format_args!(
            "{role} must be {}, but one is {}",
            q(want),
            q(bad)
        ));
    }
    Ok(())
}

/// The operand group sizes of an op whose groups follow from its result
/// type: `operandSegmentSizes` when the text gave it, else `expected`, which
/// the operand count must then match (`mismatch` says how it does not).
fn operand_groups(
    cx: &OpCx,
    expected: &[usize],
    mismatch: impl FnOnce() -> String,
) -> Result<Vec<usize>, String> {
    if cx.attr("operandSegmentSizes").is_none() && cx.operands().len() != expected.iter().sum() {
        return Err(cx.msg(mismatch()));
    }
    cx.segments(expected.len(), |_| Some(expected.to_vec()))
}

/// `tt.make_tensor_ptr`: `[base, shape..., strides..., offsets...]`, one of
/// each per dimension of the block it points to.
pub(super) fn make_tensor_ptr(cx: &OpCx) -> Check {
    let [result] = cx.results_exact::<1>()?;
    let block = match result {
        Type::Ptr { pointee, .. } if pointee.is_tensor() => &**pointee,
        _ => {
            return cx.fail(format_args!(
                "result must be a block pointer `!tt.ptr<tensor<...>>`, but is {}",
                q(result)
            ))
        }
    };
    let (block_shape, elem) = (block.shape(), block.element());
    let rank = block_shape.len();
    let sizes = operand_groups(cx, &[1, rank, rank, rank], || {
        format!(
            "expects a base pointer and one shape entry, stride and offset per dimension of {} \
             ({} operands), but has {}",
            q(result),
            1 + 3 * rank,
            cx.operands().len()
        )
    })?;
    let types = cx.operand_types();
    if sizes[0] != 1 {
        return cx.fail("expects exactly one base pointer");
    }
    let base = types[0];
    if base.pointee() != Some(elem) || base.is_tensor() {
        return cx.fail(format_args!(
            "base must be `!tt.ptr<{elem}>`, but is {}",
            q(base)
        ));
    }
    let rank = block_shape.len();
    for (role, &size) in ["shape", "strides", "offsets"].iter().zip(&sizes[1..]) {
        if size != rank {
            return cx.fail(format_args!(
                "takes one {role} entry per dimension of {}: expected {rank}, got {size}",
                q(result)
            ));
        }
    }
    all_of(cx, &types[1..1 + rank], &Type::I64, "shape entries")?;
    all_of(cx, &types[1 + rank..1 + 2 * rank], &Type::I64, "strides")?;
    all_of(cx, &types[1 + 2 * rank..], &Type::I32, "offsets")?;
    let order = cx.required_int_list("order")?;
    if !super::shapes::is_permutation(&order, rank) {
        return cx.fail(format_args!(
            "`order` must be a permutation of the {rank} block dimensions"
        ));
    }
    Ok(())
}

/// `tt.advance`: a block pointer moved by one `i32` offset per dimension.
pub(super) fn advance(cx: &OpCx) -> Check {
    let types = cx.operands_at_least(1)?;
    let [result] = cx.results_exact::<1>()?;
    let ptr = types[0];
    if !is_block_ptr(ptr) {
        return cx.fail(format_args!("expects a block pointer, but got {}", q(ptr)));
    }
    let rank = ptr.pointee().map_or(0, |p| p.shape().len());
    if types.len() - 1 != rank {
        return cx.fail(format_args!(
            "takes {} for {}, but has {}",
            plural(rank, "offset"),
            q(ptr),
            types.len() - 1
        ));
    }
    all_of(cx, &types[1..], &Type::I32, "offsets")?;
    if result != ptr {
        return cx.fail(format_args!(
            "result type {} must be the pointer type {}",
            q(result),
            q(ptr)
        ));
    }
    Ok(())
}

/// The block tensor a descriptor describes.
fn descriptor_block<'t>(cx: &OpCx, desc: &'t Type) -> Result<&'t Type, String> {
    match desc {
        Type::TensorDesc { block } if block.is_tensor() => Ok(block),
        _ => cx.fail(format_args!(
            "expects a tensor descriptor, but got {}",
            q(desc)
        )),
    }
}

/// `tt.make_tensor_descriptor`: `[base, shape..., strides...]` with one
/// `i32` size and one `i64` stride per block dimension.
pub(super) fn make_tensor_descriptor(cx: &OpCx) -> Check {
    let [result] = cx.results_exact::<1>()?;
    let block = descriptor_block(cx, result)?;
    let rank = block.shape().len();
    let sizes = operand_groups(cx, &[1, rank, rank], || {
        format!(
            "expects a base pointer and one shape entry and stride per dimension of {} \
             ({} operands), but has {}",
            q(result),
            1 + 2 * rank,
            cx.operands().len()
        )
    })?;
    let types = cx.operand_types();
    if sizes[0] != 1 {
        return cx.fail("expects exactly one base pointer");
    }
    let base = types[0];
    if base.pointee() != Some(block.element()) || base.is_tensor() {
        return cx.fail(format_args!(
            "base must be `!tt.ptr<{}>`, but is {}",
            block.element(),
            q(base)
        ));
    }
    let rank = block.shape().len();
    if sizes[1] != rank || sizes[2] != rank {
        return cx.fail(format_args!(
            "takes one shape entry and one stride per dimension of {}: expected {rank} of each, got {} and {}",
            q(result),
            sizes[1],
            sizes[2]
        ));
    }
    all_of(cx, &types[1..1 + rank], &Type::I32, "shape entries")?;
    all_of(cx, &types[1 + rank..], &Type::I64, "strides")?;
    cx.optional_enum("padding", &PADDING_OPTIONS)?;
    Ok(())
}

/// A descriptor access moves a tensor with the block's element type and
/// element count, at one `i32` index per block dimension.
fn check_descriptor_access(cx: &OpCx, block: &Type, tensor: &Type, indices: &[&Type]) -> Check {
    if !tensor.is_tensor()
        || tensor.element() != block.element()
        || tensor.num_elements() != block.num_elements()
    {
        return cx.fail(format_args!(
            "tensor {} must have the element type and element count of the descriptor block {}",
            q(tensor),
            q(block)
        ));
    }
    if indices.len() != block.shape().len() {
        return cx.fail(format_args!(
            "takes {} for {}, but has {}",
            match block.shape().len() {
                1 => "1 index".to_string(),
                n => format!("{n} indices"),
            },
            q(block),
            indices.len()
        ));
    }
    all_of(cx, indices, &Type::I32, "indices")
}

/// `tt.descriptor_load`: `[desc, indices...]`.
pub(super) fn descriptor_load(cx: &OpCx) -> Check {
    let types = cx.operands_at_least(1)?;
    let [result] = cx.results_exact::<1>()?;
    let block = descriptor_block(cx, types[0])?;
    check_descriptor_access(cx, block, result, &types[1..])?;
    check_cache_attrs(cx)
}

/// `tt.descriptor_store`: `[desc, src, indices...]`.
pub(super) fn descriptor_store(cx: &OpCx) -> Check {
    let types = cx.operands_at_least(2)?;
    cx.results_exact::<0>()?;
    let block = descriptor_block(cx, types[0])?;
    check_descriptor_access(cx, block, types[1], &types[2..])
}

/// `tt.descriptor_reduce`: `[desc, src, indices...]` like a store, with
/// the per-element `atomic_rmw_op` the parser resolved from `kind`.
pub(super) fn descriptor_reduce(cx: &OpCx) -> Check {
    let types = cx.operands_at_least(2)?;
    cx.results_exact::<0>()?;
    let block = descriptor_block(cx, types[0])?;
    check_descriptor_access(cx, block, types[1], &types[2..])?;
    cx.required_enum(
        "kind",
        &["add", "and", "or", "xor", "max", "min", "inc", "dec"],
    )?;
    let op = cx.required_enum(
        "atomic_rmw_op",
        &[
            "add", "fadd", "and", "or", "xor", "max", "min", "umax", "umin",
        ],
    )?;
    let elem = block.element();
    let fits = match op {
        "fadd" | "max" | "min" => elem.is_float() || (op != "fadd" && elem.is_int()),
        _ => elem.is_int(),
    };
    if !fits {
        return cx.fail(format_args!(
            "operation `{op}` does not apply to `{elem}` values"
        ));
    }
    Ok(())
}

/// Gathers and scatters move whole rows: the block is one row, the x offsets
/// a 1-D `i32` tensor (one per row moved), the y offset an `i32`.
fn check_row_access(cx: &OpCx, block: &Type, x: &Type, y: &Type, rows: &Type) -> Check {
    let block_shape = block.shape();
    if block_shape.len() != 2 || block_shape[0] != 1 {
        return cx.fail(format_args!(
            "descriptor block must be 2-D with exactly 1 row, but is {}",
            q(block)
        ));
    }
    if !(x.is_tensor() && x.shape().len() == 1 && *x.element() == Type::I32) {
        return cx.fail(format_args!(
            "x offsets must be a 1-D tensor of `i32`, but are {}",
            q(x)
        ));
    }
    if *y != Type::I32 {
        return cx.fail(format_args!("y offset must be `i32`, but is {}", q(y)));
    }
    let expected = Type::tensor(vec![x.shape()[0], block_shape[1]], block.element().clone());
    if *rows != expected {
        return cx.fail(format_args!(
            "tensor must be {}, but is {}",
            q(&expected),
            q(rows)
        ));
    }
    Ok(())
}

/// `tt.descriptor_gather`: `[desc, x_offsets, y_offset]`.
pub(super) fn descriptor_gather(cx: &OpCx) -> Check {
    let [desc, x, y] = cx.operands_exact::<3>()?;
    let [result] = cx.results_exact::<1>()?;
    let block = descriptor_block(cx, desc)?;
    check_row_access(cx, block, x, y, result)
}

/// `tt.descriptor_scatter`: `[desc, x_offsets, y_offset, src]`.
pub(super) fn descriptor_scatter(cx: &OpCx) -> Check {
    let [desc, x, y, src] = cx.operands_exact::<4>()?;
    cx.results_exact::<0>()?;
    let block = descriptor_block(cx, desc)?;
    check_row_access(cx, block, x, y, src)
}

#[cfg(test)]
mod tests {
    use crate::opcode::Opcode;
    use crate::types::Type;
    use crate::verifier::test_builder::Builder;
    use crate::Attribute;

    fn t(shape: &[i64], elem: Type) -> Type {
        Type::tensor(shape.to_vec(), elem)
    }

    #[test]
    fn addptr_load_store() {
        let ptrs = || t(&[128], Type::ptr(Type::F32));
        let mut b = Builder::kernel(&[
            ptrs(),
            t(&[128], Type::I32),
            t(&[128], Type::I1),
            t(&[128], Type::F32),
            t(&[64], Type::I32),
        ]);
        let (p, off, mask, vals, short) = (b.arg(0), b.arg(1), b.arg(2), b.arg(3), b.arg(4));
        let q = b.op(Opcode::AddPtr, &[p, off], &[ptrs()]);
        b.op(Opcode::AddPtr, &[off, p], &[ptrs()]);
        b.op(Opcode::AddPtr, &[p, short], &[ptrs()]);
        b.op(Opcode::Load, &[q, mask, vals], &[t(&[128], Type::F32)]);
        b.op(
            Opcode::Load,
            &[q],
            &[t(&[128], Type::Float(crate::types::FloatType::F16))],
        );
        b.op(Opcode::Load, &[q, off], &[t(&[128], Type::F32)]);
        b.op(Opcode::Store, &[q, vals, mask], &[]);
        b.op(Opcode::Store, &[q, off], &[]);
        b.ret();
        b.assert_errors(&[
            "`tt.addptr` expects a pointer or a tensor of pointers as its first operand, but got `tensor<128xi32>` (are the operands swapped?)",
            "`tt.addptr` pointer `tensor<128x!tt.ptr<f32>>` and offset `tensor<64xi32>` must have the same shape",
            "`tt.load` result type `tensor<128xf16>` must be `tensor<128xf32>`",
            "`tt.load` mask must be `tensor<128xi1>`, but is `tensor<128xi32>`",
            "`tt.store` stores `tensor<128xi32>` through `tensor<128x!tt.ptr<f32>>`, which points to `tensor<128xf32>`",
        ]);
    }

    #[test]
    fn atomics() {
        let mut b = Builder::kernel(&[Type::ptr(Type::F32), Type::F32, Type::I32]);
        let (p, f, i) = (b.arg(0), b.arg(1), b.arg(2));
        let attrs = |op: &str| {
            [
                ("atomic_rmw_op", Attribute::Enum(op.into())),
                ("sem", Attribute::Enum("acq_rel".into())),
                ("scope", Attribute::Enum("gpu".into())),
            ]
        };
        b.op_attrs(Opcode::AtomicRmw, &[p, f], &[Type::F32], &attrs("fadd"));
        b.op_attrs(Opcode::AtomicRmw, &[p, f], &[Type::F32], &attrs("xor"));
        b.op_attrs(Opcode::AtomicRmw, &[p, i], &[Type::I32], &attrs("add"));
        b.op(Opcode::AtomicRmw, &[p, f], &[Type::F32]);
        b.ret();
        b.assert_errors(&[
            "`tt.atomic_rmw` operation `xor` does not apply to `f32` values",
            "`tt.atomic_rmw` pointer `!tt.ptr<f32>` must point to `i32`",
            "`tt.atomic_rmw` is missing its required attribute `atomic_rmw_op`",
        ]);
    }

    #[test]
    fn pointer_casts() {
        let mut b = Builder::kernel(&[Type::I64, Type::I32, Type::ptr(Type::F32)]);
        let (wide, narrow, p) = (b.arg(0), b.arg(1), b.arg(2));
        b.op(Opcode::IntToPtr, &[wide], &[Type::ptr(Type::F32)]);
        b.op(Opcode::IntToPtr, &[narrow], &[Type::ptr(Type::F32)]);
        b.op(Opcode::PtrToInt, &[p], &[Type::I64]);
        b.op(Opcode::PtrToInt, &[p], &[Type::I32]);
        b.ret();
        b.assert_errors(&[
            "`tt.int_to_ptr` operand must be `i64` or a tensor of `i64`, but is `i32`",
            "`tt.ptr_to_int` result must be `i64`, but is `i32`",
        ]);
    }

    #[test]
    fn block_pointers() {
        let block = || Type::ptr(Type::tensor(vec![32, 16], Type::F32));
        let mut b = Builder::kernel(&[Type::ptr(Type::F32), Type::I64, Type::I32]);
        let (base, i64v, i32v) = (b.arg(0), b.arg(1), b.arg(2));
        let order = || {
            (
                "order",
                Attribute::DenseArray {
                    elem: Type::I32,
                    values: vec![1, 0],
                },
            )
        };
        let ptr = b.op_attrs(
            Opcode::MakeTensorPtr,
            &[base, i64v, i64v, i64v, i64v, i32v, i32v],
            &[block()],
            &[order()],
        );
        b.op_attrs(
            Opcode::MakeTensorPtr,
            &[base, i64v, i64v, i32v, i32v],
            &[block()],
            &[order()],
        );
        b.op(Opcode::Advance, &[ptr, i32v, i32v], &[block()]);
        b.op(Opcode::Advance, &[ptr, i32v], &[block()]);
        let loaded = b.op_attrs(
            Opcode::Load,
            &[ptr],
            &[Type::tensor(vec![32, 16], Type::F32)],
            &[(
                "boundaryCheck",
                Attribute::DenseArray {
                    elem: Type::I32,
                    values: vec![0, 1],
                },
            )],
        );
        b.op(Opcode::Store, &[ptr, loaded], &[]);
        b.op_attrs(
            Opcode::Load,
            &[ptr],
            &[Type::tensor(vec![32, 16], Type::F32)],
            &[(
                "boundaryCheck",
                Attribute::DenseArray {
                    elem: Type::I32,
                    values: vec![2],
                },
            )],
        );
        b.ret();
        b.assert_errors(&[
            "`tt.make_tensor_ptr` expects a base pointer and one shape entry, stride and offset per dimension of `!tt.ptr<tensor<32x16xf32>>` (7 operands), but has 5",
            "`tt.advance` takes 2 offsets for `!tt.ptr<tensor<32x16xf32>>`, but has 1",
            "`tt.load` `boundaryCheck` dimension 2 is out of range for `tensor<32x16xf32>`",
        ]);
    }

    #[test]
    fn tensor_descriptors() {
        let desc = || Type::TensorDesc {
            block: Box::new(Type::tensor(vec![32, 64], Type::I8)),
        };
        let rows = || Type::TensorDesc {
            block: Box::new(Type::tensor(vec![1, 64], Type::I8)),
        };
        let mut b = Builder::kernel(&[
            Type::ptr(Type::I8),
            Type::I32,
            Type::I64,
            Type::tensor(vec![8], Type::I32),
        ]);
        let (base, i32v, i64v, xs) = (b.arg(0), b.arg(1), b.arg(2), b.arg(3));
        let d = b.op(
            Opcode::MakeTensorDescriptor,
            &[base, i32v, i32v, i64v, i64v],
            &[desc()],
        );
        b.op(
            Opcode::MakeTensorDescriptor,
            &[base, i32v, i32v, i32v, i64v],
            &[desc()],
        );
        let tile = b.op(
            Opcode::DescriptorLoad,
            &[d, i32v, i32v],
            &[Type::tensor(vec![32, 64], Type::I8)],
        );
        b.op(Opcode::DescriptorStore, &[d, tile, i32v, i32v], &[]);
        b.op(
            Opcode::DescriptorLoad,
            &[d, i32v],
            &[Type::tensor(vec![32, 64], Type::I8)],
        );
        b.op(
            Opcode::DescriptorLoad,
            &[d, i32v, i32v],
            &[Type::tensor(vec![32, 32], Type::I8)],
        );
        let r = b.op(
            Opcode::MakeTensorDescriptor,
            &[base, i32v, i32v, i64v, i64v],
            &[rows()],
        );
        let g = b.op(
            Opcode::DescriptorGather,
            &[r, xs, i32v],
            &[Type::tensor(vec![8, 64], Type::I8)],
        );
        b.op(Opcode::DescriptorScatter, &[r, xs, i32v, g], &[]);
        b.op(
            Opcode::DescriptorGather,
            &[d, xs, i32v],
            &[Type::tensor(vec![8, 64], Type::I8)],
        );
        b.ret();
        b.assert_errors(&[
            "`tt.make_tensor_descriptor` strides must be `i64`, but one is `i32`",
            "`tt.descriptor_load` takes 2 indices for `tensor<32x64xi8>`, but has 1",
            "`tt.descriptor_load` tensor `tensor<32x32xi8>` must have the element type and element count",
            "`tt.descriptor_gather` descriptor block must be 2-D with exactly 1 row",
        ]);
    }
}
