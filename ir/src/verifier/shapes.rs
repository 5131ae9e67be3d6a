//! Type and shape vocabulary shared by the op rules: "int-like",
//! "pointer-like", what a pointer points to, shape comparisons, and how a
//! type is quoted in a message.

use crate::types::Type;

/// A type quoted for a message: `` `tensor<128xi32>` ``.
pub(crate) fn q(ty: &Type) -> String {
    format!("`{ty}`")
}

/// A list of types quoted for a message: `` `(i32, f32)` ``.
pub(crate) fn q_list(types: &[&Type]) -> String {
    let inner: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    format!("`({})`", inner.join(", "))
}

/// The shape of a tensor, `None` for a scalar: scalars and `tensor<1xT>`
/// are different shapes.
pub(crate) fn shape_of(ty: &Type) -> Option<&[i64]> {
    match ty {
        Type::Tensor { shape, .. } => Some(shape),
        _ => None,
    }
}

/// Whether two types have the same container shape (both scalars, or
/// tensors of equal shape), whatever their element types.
pub(crate) fn same_shape(a: &Type, b: &Type) -> bool {
    shape_of(a) == shape_of(b)
}

/// How a shape is described in a message.
pub(crate) fn describe_shape(ty: &Type) -> String {
    match shape_of(ty) {
        None => "a scalar".to_string(),
        Some(shape) => {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("shape [{}]", dims.join(", "))
        }
    }
}

/// A scalar integer (`iN` or `index`).
pub(crate) fn is_int_scalar(ty: &Type) -> bool {
    ty.is_int()
}

/// An integer scalar or a tensor of integers.
pub(crate) fn is_int_like(ty: &Type) -> bool {
    ty.element().is_int()
}

/// A float scalar or a tensor of floats.
pub(crate) fn is_float_like(ty: &Type) -> bool {
    ty.element().is_float()
}

/// `i1` or a tensor of `i1`.
pub(crate) fn is_bool_like(ty: &Type) -> bool {
    *ty.element() == Type::I1
}

/// A pointer to a scalar, or a tensor of such pointers (what `tt.addptr`,
/// `tt.load` and the atomics take).
pub(crate) fn is_ptr_like(ty: &Type) -> bool {
    match ty.element() {
        Type::Ptr { pointee, .. } => !pointee.is_tensor(),
        _ => false,
    }
}

/// A block pointer `!tt.ptr<tensor<...>>` (Triton's older tensor pointers).
pub(crate) fn is_block_ptr(ty: &Type) -> bool {
    matches!(ty, Type::Ptr { pointee, .. } if pointee.is_tensor())
}

/// What loading through `ptr` yields: the pointee for a scalar pointer, a
/// tensor of pointees for a tensor of pointers, the block for a block
/// pointer. `None` if `ptr` is not a pointer at all.
pub(crate) fn loaded_type(ptr: &Type) -> Option<Type> {
    match ptr {
        Type::Ptr { pointee, .. } => Some((**pointee).clone()),
        Type::Tensor { shape, elem } => match &**elem {
            Type::Ptr { pointee, .. } if !pointee.is_tensor() => {
                Some(Type::tensor(shape.clone(), (**pointee).clone()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// `ty` with its element type replaced by `i1` (a mask of the same shape).
pub(crate) fn mask_type_for(ty: &Type) -> Type {
    ty.with_element(Type::I1)
}

/// The bit width of a scalar element type (pointers count as 64).
pub(crate) fn elem_bits(ty: &Type) -> Option<u32> {
    match ty.element() {
        Type::Int(w) => Some(*w),
        Type::Index => Some(64),
        Type::Float(f) => Some(f.bits()),
        Type::Ptr { .. } => Some(64),
        _ => None,
    }
}

/// The element count of a shape, `None` on overflow or a non-positive dim.
pub(crate) fn element_count(shape: &[i64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |acc, &d| {
        if d <= 0 {
            None
        } else {
            acc.checked_mul(d as u64)
        }
    })
}

/// Whether `order` is a permutation of `0..rank`.
pub(crate) fn is_permutation(order: &[i64], rank: usize) -> bool {
    if order.len() != rank {
        return false;
    }
    let mut seen = vec![false; rank];
    for &i in order {
        match usize::try_from(i).ok().and_then(|i| seen.get_mut(i)) {
            Some(slot) if !*slot => *slot = true,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_kinds() {
        let p = Type::ptr(Type::F32);
        let tp = Type::tensor(vec![4], p.clone());
        let bp = Type::ptr(Type::tensor(vec![4, 4], Type::F32));
        assert!(is_ptr_like(&p) && is_ptr_like(&tp) && !is_ptr_like(&bp));
        assert!(is_block_ptr(&bp) && !is_block_ptr(&p));
        assert_eq!(loaded_type(&p), Some(Type::F32));
        assert_eq!(loaded_type(&tp), Some(Type::tensor(vec![4], Type::F32)));
        assert_eq!(loaded_type(&bp), Some(Type::tensor(vec![4, 4], Type::F32)));
        assert_eq!(loaded_type(&Type::I32), None);
    }

    #[test]
    fn shapes_and_permutations() {
        assert!(!same_shape(&Type::F32, &Type::tensor(vec![1], Type::F32)));
        assert!(same_shape(
            &Type::tensor(vec![2, 3], Type::I1),
            &Type::tensor(vec![2, 3], Type::F32)
        ));
        assert!(is_permutation(&[1, 0], 2));
        assert!(!is_permutation(&[0, 0], 2));
        assert!(!is_permutation(&[0, 2], 2));
        assert!(!is_permutation(&[-1, 0], 2));
        assert_eq!(element_count(&[4, 8]), Some(32));
        assert_eq!(element_count(&[4, 0]), None);
        assert_eq!(element_count(&[i64::MAX, 4]), None);
    }
}
