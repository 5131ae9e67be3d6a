//! Rules for the `tt` ops that make and reshape tensors: `make_range`,
//! `splat`/`unsplat`, `broadcast`, `expand_dims`, `reshape`, `trans`,
//! `cat`, `join`, `split`, `gather` and `histogram`, following the verifiers
//! and inferred types of Triton's op definitions.

use crate::types::Type;

use super::op_context::{Check, OpCx};
use super::shapes::{element_count, is_bool_like, is_permutation, q, shape_of};

/// The shape of a tensor operand or result, or an error naming `role`.
fn tensor_shape<'t>(cx: &OpCx, ty: &'t Type, role: &str) -> Result<&'t [i64], String> {
    shape_of(ty).ok_or_else(|| cx.msg(format_args!("{role} must be a tensor, but is {}", q(ty))))
}

/// Both types have the same element type.
fn same_element(cx: &OpCx, src: &Type, dst: &Type) -> Check {
    if src.element() != dst.element() {
        return cx.fail(format_args!(
            "result element type `{}` must match the operand element type `{}`",
            dst.element(),
            src.element()
        ));
    }
    Ok(())
}

fn dims(shape: &[i64]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// A required integer attribute that is an axis in `0..limit`.
fn axis(cx: &OpCx, limit: usize) -> Result<usize, String> {
    let axis = cx.required_int("axis")?;
    match usize::try_from(axis) {
        Ok(a) if a < limit => Ok(a),
        _ => cx.fail(format_args!(
            "axis {axis} is out of range; expected 0 to {}",
            limit as i128 - 1
        )),
    }
}

/// `tt.make_range`: `[start, end)` as a 1-D `i32` tensor of `end - start`
/// elements.
pub(super) fn make_range(cx: &OpCx) -> Check {
    cx.operands_exact::<0>()?;
    let [result] = cx.results_exact::<1>()?;
    let start = cx.required_int("start")?;
    let end = cx.required_int("end")?;
    if start >= end {
        return cx.fail(format_args!(
            "start ({start}) must be less than end ({end})"
        ));
    }
    let ok_type =
        matches!(result, Type::Tensor { shape, elem } if shape.len() == 1 && **elem == Type::I32);
    if !ok_type {
        return cx.fail(format_args!(
            "result must be a 1-D tensor of `i32`, but is {}",
            q(result)
        ));
    }
    let len = result.shape()[0];
    if i128::from(len) != end - start {
        return cx.fail(format_args!(
            "result {} has {len} elements, but the range [{start}, {end}) has {}",
            q(result),
            end - start
        ));
    }
    Ok(())
}

/// `tt.splat`: a scalar to a tensor of that element type.
pub(super) fn splat(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [result] = cx.results_exact::<1>()?;
    if src.is_tensor() {
        return cx.fail(format_args!("operand must be a scalar, but is {}", q(src)));
    }
    tensor_shape(cx, result, "result")?;
    if result.element() != src {
        return cx.fail(format_args!(
            "result {} must be a tensor of the operand type {}",
            q(result),
            q(src)
        ));
    }
    Ok(())
}

/// `tt.unsplat`: a one-element tensor to its scalar.
pub(super) fn unsplat(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [result] = cx.results_exact::<1>()?;
    let shape = tensor_shape(cx, src, "operand")?;
    if element_count(shape) != Some(1) {
        return cx.fail(format_args!(
            "operand {} must have exactly one element",
            q(src)
        ));
    }
    if result != src.element() {
        return cx.fail(format_args!(
            "result type {} must be the operand element type `{}`",
            q(result),
            src.element()
        ));
    }
    Ok(())
}

/// `tt.broadcast`: same rank; only dimensions of size 1 may change.
pub(super) fn broadcast(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [result] = cx.results_exact::<1>()?;
    let from = tensor_shape(cx, src, "operand")?;
    let to = tensor_shape(cx, result, "result")?;
    same_element(cx, src, result)?;
    if from.len() != to.len() {
        return cx.fail(format_args!(
            "cannot change the rank: operand {} has rank {} but result {} has rank {}",
            q(src),
            from.len(),
            q(result),
            to.len()
        ));
    }
    if let Some(i) = (0..from.len()).find(|&i| from[i] != 1 && from[i] != to[i]) {
        return cx.fail(format_args!(
            "can only change dimensions of size 1, but dimension {i} goes from {} to {} ({} to {})",
            from[i],
            to[i],
            q(src),
            q(result)
        ));
    }
    Ok(())
}

/// `tt.expand_dims`: inserts a dimension of size 1 at `axis`.
pub(super) fn expand_dims(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [result] = cx.results_exact::<1>()?;
    let from = tensor_shape(cx, src, "operand")?;
    tensor_shape(cx, result, "result")?;
    same_element(cx, src, result)?;
    let axis = axis(cx, from.len() + 1)?;
    let mut expected = from.to_vec();
    expected.insert(axis, 1);
    if result.shape() != expected.as_slice() {
        return cx.fail(format_args!(
            "result {} must have shape {} (operand {} with a 1 inserted at axis {axis})",
            q(result),
            dims(&expected),
            q(src)
        ));
    }
    Ok(())
}

/// `tt.reshape`: the same elements in another shape.
pub(super) fn reshape(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [result] = cx.results_exact::<1>()?;
    let from = tensor_shape(cx, src, "operand")?;
    let to = tensor_shape(cx, result, "result")?;
    same_element(cx, src, result)?;
    if element_count(from) != element_count(to) {
        return cx.fail(format_args!(
            "must keep the number of elements, but {} has {} and {} has {}",
            q(src),
            src.num_elements(),
            q(result),
            result.num_elements()
        ));
    }
    cx.optional_bool("allow_reorder")?;
    cx.optional_bool("efficient_layout")?;
    Ok(())
}

/// `tt.trans`: `order` is a permutation of the dimensions and the result
/// shape is the operand shape permuted by it.
pub(super) fn trans(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [result] = cx.results_exact::<1>()?;
    let from = tensor_shape(cx, src, "operand")?;
    tensor_shape(cx, result, "result")?;
    same_element(cx, src, result)?;
    let order = cx.required_int_list("order")?;
    if !is_permutation(&order, from.len()) {
        return cx.fail(format_args!(
            "order {} must be a permutation of the {} dimensions of {}",
            dims(&order),
            from.len(),
            q(src)
        ));
    }
    let expected: Vec<i64> = order.iter().map(|&i| from[i as usize]).collect();
    if result.shape() != expected.as_slice() {
        return cx.fail(format_args!(
            "result {} must have shape {} ({} permuted by {})",
            q(result),
            dims(&expected),
            q(src),
            dims(&order)
        ));
    }
    Ok(())
}

/// Two tensor operands of one type.
fn same_type_pair<'m>(cx: &OpCx<'m>) -> Result<(&'m Type, &'m [i64]), String> {
    let [lhs, rhs] = cx.operands_exact::<2>()?;
    let shape = tensor_shape(cx, lhs, "operand")?;
    if lhs != rhs {
        return cx.fail(format_args!(
            "operands must have the same type: {} vs {}",
            q(lhs),
            q(rhs)
        ));
    }
    Ok((lhs, shape))
}

/// `tt.cat`: two tensors of one type into one with twice the elements (the
/// order of elements is unspecified, so only the count is fixed).
pub(super) fn cat(cx: &OpCx) -> Check {
    let (operand, shape) = same_type_pair(cx)?;
    let [result] = cx.results_exact::<1>()?;
    tensor_shape(cx, result, "result")?;
    same_element(cx, operand, result)?;
    let expected = element_count(shape).and_then(|n| n.checked_mul(2));
    if element_count(result.shape()) != expected {
        return cx.fail(format_args!(
            "result {} must have twice the elements of {}",
            q(result),
            q(operand)
        ));
    }
    Ok(())
}

/// `tt.join`: two tensors of one type stacked along a new minor dimension
/// of size 2.
pub(super) fn join(cx: &OpCx) -> Check {
    let (operand, shape) = same_type_pair(cx)?;
    let [result] = cx.results_exact::<1>()?;
    tensor_shape(cx, result, "result")?;
    same_element(cx, operand, result)?;
    let mut expected = shape.to_vec();
    expected.push(2);
    if result.shape() != expected.as_slice() {
        return cx.fail(format_args!(
            "result {} must have shape {}",
            q(result),
            dims(&expected)
        ));
    }
    Ok(())
}

/// `tt.split`: a tensor whose last dimension is 2 into its two halves.
pub(super) fn split(cx: &OpCx) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [lhs, rhs] = cx.results_exact::<2>()?;
    let shape = tensor_shape(cx, src, "operand")?;
    let Some((&2, rest)) = shape.split_last() else {
        return cx.fail(format_args!(
            "operand {} must have 2 as its last dimension",
            q(src)
        ));
    };
    let expected = Type::tensor(rest.to_vec(), src.element().clone());
    // Splitting a 1-D tensor of two elements leaves rank 0: a scalar.
    let fits = |t: &Type| *t == expected || (rest.is_empty() && t == src.element());
    if !fits(lhs) || !fits(rhs) {
        return cx.fail(format_args!(
            "results must both be {}, but are {} and {}",
            q(&expected),
            q(lhs),
            q(rhs)
        ));
    }
    Ok(())
}

/// `tt.gather`: picks elements of `src` along `axis` at `indices`; the
/// result has the indices' shape and the source's element type.
pub(super) fn gather(cx: &OpCx) -> Check {
    let [src, indices] = cx.operands_exact::<2>()?;
    let [result] = cx.results_exact::<1>()?;
    let src_shape = tensor_shape(cx, src, "source")?;
    let index_shape = tensor_shape(cx, indices, "indices")?;
    if !indices.element().is_int() {
        return cx.fail(format_args!(
            "indices must be integers, but are {}",
            q(indices)
        ));
    }
    if result.shape() != index_shape || !result.is_tensor() {
        return cx.fail(format_args!(
            "result {} must have the shape of the indices {}",
            q(result),
            q(indices)
        ));
    }
    same_element(cx, src, result)?;
    if src_shape.len() != index_shape.len() {
        return cx.fail(format_args!(
            "source {} and indices {} must have the same rank",
            q(src),
            q(indices)
        ));
    }
    let axis = axis(cx, src_shape.len())?;
    if let Some(d) = (0..src_shape.len()).find(|&d| d != axis && src_shape[d] != index_shape[d]) {
        return cx.fail(format_args!(
            "indices dimension {d} ({}) must match the source dimension ({}) off the gather axis",
            index_shape[d], src_shape[d]
        ));
    }
    Ok(())
}

/// `tt.histogram`: a 1-D integer tensor (optionally masked) into a 1-D
/// integer tensor of bin counts.
pub(super) fn histogram(cx: &OpCx) -> Check {
    let operands = cx.operands_between(1, 2)?;
    let [result] = cx.results_exact::<1>()?;
    let src = operands[0];
    let one_d_int = |t: &Type| t.shape().len() == 1 && t.is_tensor() && t.element().is_int();
    if !one_d_int(src) {
        return cx.fail(format_args!(
            "operand must be a 1-D integer tensor, but is {}",
            q(src)
        ));
    }
    if !one_d_int(result) {
        return cx.fail(format_args!(
            "result must be a 1-D integer tensor, but is {}",
            q(result)
        ));
    }
    if let Some(mask) = operands.get(1) {
        if !is_bool_like(mask) || mask.shape() != src.shape() {
            return cx.fail(format_args!(
                "mask must be {}, but is {}",
                q(&src.with_element(Type::I1)),
                q(mask)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::opcode::Opcode;
    use crate::types::Type;
    use crate::verifier::test_builder::{i32_attr, Builder};
    use crate::Attribute;

    fn t(shape: &[i64], elem: Type) -> Type {
        Type::tensor(shape.to_vec(), elem)
    }

    #[test]
    fn make_range_rules() {
        let mut b = Builder::kernel(&[]);
        let range = |start, end| [("start", i32_attr(start)), ("end", i32_attr(end))];
        b.op_attrs(
            Opcode::MakeRange,
            &[],
            &[t(&[128], Type::I32)],
            &range(0, 128),
        );
        b.op_attrs(
            Opcode::MakeRange,
            &[],
            &[t(&[64], Type::I32)],
            &range(0, 128),
        );
        b.op_attrs(Opcode::MakeRange, &[], &[t(&[4], Type::I32)], &range(8, 4));
        b.op_attrs(Opcode::MakeRange, &[], &[t(&[4], Type::I64)], &range(0, 4));
        b.op_attrs(
            Opcode::MakeRange,
            &[],
            &[t(&[4], Type::I32)],
            &[("start", i32_attr(0))],
        );
        b.ret();
        b.assert_errors(&[
            "`tt.make_range` result `tensor<64xi32>` has 64 elements, but the range [0, 128) has 128",
            "`tt.make_range` start (8) must be less than end (4)",
            "`tt.make_range` result must be a 1-D tensor of `i32`, but is `tensor<4xi64>`",
            "`tt.make_range` is missing its required attribute `end`",
        ]);
    }

    #[test]
    fn shape_ops() {
        let mut b = Builder::kernel(&[Type::F32, t(&[64], Type::I32), t(&[64, 1], Type::I32)]);
        let (s, v, col) = (b.arg(0), b.arg(1), b.arg(2));
        b.op(Opcode::Splat, &[s], &[t(&[64], Type::F32)]);
        b.op(Opcode::Splat, &[s], &[t(&[64], Type::I32)]);
        b.op(Opcode::Splat, &[v], &[t(&[64], Type::I32)]);
        b.op(Opcode::Broadcast, &[col], &[t(&[64, 32], Type::I32)]);
        b.op(Opcode::Broadcast, &[col], &[t(&[32, 32], Type::I32)]);
        b.op_attrs(
            Opcode::ExpandDims,
            &[v],
            &[t(&[1, 64], Type::I32)],
            &[("axis", i32_attr(0))],
        );
        b.op_attrs(
            Opcode::ExpandDims,
            &[v],
            &[t(&[1, 64], Type::I32)],
            &[("axis", i32_attr(1))],
        );
        b.op_attrs(
            Opcode::ExpandDims,
            &[v],
            &[t(&[1, 64], Type::I32)],
            &[("axis", i32_attr(2))],
        );
        b.op(Opcode::Reshape, &[col], &[t(&[8, 8], Type::I32)]);
        b.op(Opcode::Reshape, &[col], &[t(&[8, 4], Type::I32)]);
        let order = |o: Vec<i64>| {
            [(
                "order",
                Attribute::DenseArray {
                    elem: Type::I32,
                    values: o,
                },
            )]
        };
        b.op_attrs(
            Opcode::Trans,
            &[col],
            &[t(&[1, 64], Type::I32)],
            &order(vec![1, 0]),
        );
        b.op_attrs(
            Opcode::Trans,
            &[col],
            &[t(&[64, 1], Type::I32)],
            &order(vec![1, 0]),
        );
        b.op_attrs(
            Opcode::Trans,
            &[col],
            &[t(&[64, 1], Type::I32)],
            &order(vec![0, 0]),
        );
        b.op(Opcode::Join, &[v, v], &[t(&[64, 2], Type::I32)]);
        b.op(Opcode::Join, &[v, col], &[t(&[64, 2], Type::I32)]);
        b.op(Opcode::Cat, &[v, v], &[t(&[128], Type::I32)]);
        b.op(Opcode::Cat, &[v, v], &[t(&[64], Type::I32)]);
        b.op(
            Opcode::Split,
            &[col],
            &[t(&[64], Type::I32), t(&[64], Type::I32)],
        );
        b.ret();
        b.assert_errors(&[
            "`tt.splat` result `tensor<64xi32>` must be a tensor of the operand type `f32`",
            "`tt.splat` operand must be a scalar, but is `tensor<64xi32>`",
            "`tt.broadcast` can only change dimensions of size 1, but dimension 0 goes from 64 to 32",
            "`tt.expand_dims` result `tensor<1x64xi32>` must have shape [64, 1]",
            "`tt.expand_dims` axis 2 is out of range; expected 0 to 1",
            "`tt.reshape` must keep the number of elements",
            "`tt.trans` result `tensor<64x1xi32>` must have shape [1, 64]",
            "`tt.trans` order [0, 0] must be a permutation of the 2 dimensions",
            "`tt.join` operands must have the same type: `tensor<64xi32>` vs `tensor<64x1xi32>`",
            "`tt.cat` result `tensor<64xi32>` must have twice the elements of `tensor<64xi32>`",
            "`tt.split` operand `tensor<64x1xi32>` must have 2 as its last dimension",
        ]);
    }

    #[test]
    fn gather_histogram_unsplat() {
        let mut b = Builder::kernel(&[
            t(&[16, 8], Type::F32),
            t(&[4, 8], Type::I32),
            t(&[4, 4], Type::I32),
            t(&[1, 1], Type::F32),
            t(&[128], Type::I32),
        ]);
        let (src, idx, bad_idx, one, vals) = (b.arg(0), b.arg(1), b.arg(2), b.arg(3), b.arg(4));
        let axis = |a| [("axis", i32_attr(a))];
        b.op_attrs(
            Opcode::Gather,
            &[src, idx],
            &[t(&[4, 8], Type::F32)],
            &axis(0),
        );
        b.op_attrs(
            Opcode::Gather,
            &[src, bad_idx],
            &[t(&[4, 4], Type::F32)],
            &axis(0),
        );
        b.op_attrs(
            Opcode::Gather,
            &[src, idx],
            &[t(&[4, 8], Type::F32)],
            &axis(2),
        );
        b.op(Opcode::Histogram, &[vals], &[t(&[16], Type::I32)]);
        b.op(Opcode::Histogram, &[vals], &[t(&[16], Type::F32)]);
        b.op(Opcode::Unsplat, &[one], &[Type::F32]);
        b.op(Opcode::Unsplat, &[src], &[Type::F32]);
        b.ret();
        b.assert_errors(&[
            "`tt.gather` indices dimension 1 (4) must match the source dimension (8)",
            "`tt.gather` axis 2 is out of range; expected 0 to 1",
            "`tt.histogram` result must be a 1-D integer tensor, but is `tensor<16xf32>`",
            "`tt.unsplat` operand `tensor<16x8xf32>` must have exactly one element",
        ]);
    }
}
