//! Well-formed types: integer widths TTIR knows, positive tensor
//! dimensions, and Triton's tensor size rules.
//!
//! Triton's `TensorSizeTrait` (on every `tt` op) requires each tensor to
//! have a power-of-two number of elements, at most 2^20 of them. The
//! verifier applies the rule to every tensor, since TTIR tensors always flow
//! through `tt` ops; it is also what keeps absurd shapes such as
//! `tensor<4294967296xf32>` away from later stages.

use crate::types::Type;

/// Triton's `maxTensorNumElements` (`TRITON_MAX_TENSOR_NUMEL`).
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 20;

/// Integer widths TTIR uses.
const INT_WIDTHS: [u32; 5] = [1, 8, 16, 32, 64];

/// What is wrong with `ty`, if anything, as a phrase such as
/// "tensor too large: `tensor<...>` has N elements ...".
pub(crate) fn type_problem(ty: &Type) -> Option<String> {
    match ty {
        Type::Int(w) if !INT_WIDTHS.contains(w) => Some(format!(
            "unsupported integer type `{ty}`: TTIR integers are `i1`, `i8`, `i16`, `i32` or `i64`"
        )),
        Type::Int(_) | Type::Index | Type::Float(_) => None,
        Type::Ptr { pointee, .. } => match &**pointee {
            Type::TensorDesc { .. } => Some(format!(
                "`{ty}` points to a tensor descriptor, which is not addressable"
            )),
            inner => type_problem(inner),
        },
        Type::Tensor { shape, elem } => tensor_problem(ty, shape, elem),
        Type::TensorDesc { block } => match &**block {
            Type::Tensor { elem, .. } if elem.is_ptr() => Some(format!(
                "`{ty}` must describe a block of numbers, not of pointers"
            )),
            Type::Tensor { .. } => type_problem(block),
            _ => Some(format!("`{ty}` must describe a tensor block")),
        },
    }
}

fn tensor_problem(ty: &Type, shape: &[i64], elem: &Type) -> Option<String> {
    if matches!(elem, Type::Tensor { .. } | Type::TensorDesc { .. }) {
        return Some(format!(
            "`{ty}` has element type `{elem}`; tensor elements must be scalars or pointers"
        ));
    }
    if let Some(problem) = type_problem(elem) {
        return Some(problem);
    }
    if let Some(&dim) = shape.iter().find(|&&d| d <= 0) {
        return Some(format!(
            "tensor dimensions must be positive, but `{ty}` has dimension {dim}"
        ));
    }
    let count = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    match count {
        Some(n) if n <= MAX_TENSOR_ELEMENTS && n.is_power_of_two() => None,
        Some(n) if n <= MAX_TENSOR_ELEMENTS => Some(format!(
            "`{ty}` has {n} elements; Triton requires a power-of-two number of elements per tensor"
        )),
        Some(n) => Some(format!(
            "tensor too large: `{ty}` has {n} elements; Triton allows at most {MAX_TENSOR_ELEMENTS}"
        )),
        None => Some(format!(
            "tensor too large: `{ty}` has more than 2^64 elements; Triton allows at most {MAX_TENSOR_ELEMENTS}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FloatType;

    #[test]
    fn accepts_what_triton_writes() {
        for ty in [
            Type::I1,
            Type::I64,
            Type::Float(FloatType::F8E4M3FN),
            Type::ptr(Type::F32),
            Type::ptr(Type::ptr(Type::I8)),
            Type::tensor(vec![128], Type::ptr(Type::Float(FloatType::BF16))),
            Type::tensor(vec![1024, 1024], Type::F32),
            Type::ptr(Type::tensor(vec![64, 32], Type::F32)),
            Type::TensorDesc {
                block: Box::new(Type::tensor(vec![32, 64], Type::I8)),
            },
        ] {
            assert_eq!(type_problem(&ty), None, "{ty}");
        }
    }

    #[test]
    fn rejects_malformed_types() {
        let cases = [
            (Type::Int(7), "unsupported integer type `i7`"),
            (Type::tensor(vec![3], Type::F32), "power-of-two"),
            (Type::tensor(vec![0, 4], Type::F32), "must be positive"),
            (Type::tensor(vec![-4], Type::F32), "must be positive"),
            (
                Type::tensor(vec![2048, 1024], Type::F32),
                "tensor too large",
            ),
            (
                Type::tensor(vec![i64::MAX, i64::MAX], Type::F32),
                "tensor too large",
            ),
            (
                Type::tensor(vec![4], Type::tensor(vec![4], Type::F32)),
                "must be scalars",
            ),
            (Type::tensor(vec![4], Type::Int(3)), "`i3`"),
            (Type::ptr(Type::tensor(vec![5], Type::F32)), "power-of-two"),
            (
                Type::TensorDesc {
                    block: Box::new(Type::F32),
                },
                "tensor block",
            ),
        ];
        for (ty, needle) in cases {
            let problem = type_problem(&ty).unwrap_or_default();
            assert!(problem.contains(needle), "{ty}: {problem}");
        }
    }
}
