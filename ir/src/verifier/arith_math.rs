//! Rules for the `arith` and `math` dialects as MLIR defines them, plus the
//! `tt` ops that are plain elementwise arithmetic (`tt.clampf`,
//! `tt.precise_sqrt`, `tt.precise_divf`, `tt.mulhiui`).
//!
//! Elementwise arithmetic is `SameOperandsAndResultType`: every operand and
//! the result have one type, scalar or tensor (Triton broadcasts and splats
//! explicitly before it computes). Casts keep the shape and move the width
//! the way their name says: `extf` widens, `truncf` narrows, and so on.

use crate::attributes::{Attribute, DenseElements};
use crate::types::Type;

use super::op_context::{Check, OpCx};
use super::shapes::{describe_shape, is_bool_like, q, same_shape, shape_of};

/// The element kind an arithmetic op works on.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(super) enum Elem {
    Int,
    Float,
}

impl Elem {
    fn accepts(self, ty: &Type) -> bool {
        match self {
            Elem::Int => ty.element().is_int(),
            Elem::Float => ty.element().is_float(),
        }
    }

    fn adjective(self) -> &'static str {
        match self {
            Elem::Int => "integer",
            Elem::Float => "floating-point",
        }
    }
}

/// `n` operands and one result, all of one type with `elem` elements.
pub(super) fn same_type(cx: &OpCx, n: usize, elem: Elem) -> Check {
    let types = cx.operand_types();
    if types.len() != n {
        return cx.fail(format_args!(
            "expects {}, but has {}",
            super::op_context::plural(n, "operand"),
            types.len()
        ));
    }
    let [result] = cx.results_exact::<1>()?;
    let first = types[0];
    if !elem.accepts(first) {
        let what = match (n, elem) {
            (1, Elem::Int) => "an integer operand",
            (1, Elem::Float) => "a floating-point operand",
            (_, Elem::Int) => "integer operands",
            (_, Elem::Float) => "floating-point operands",
        };
        return cx.fail(format_args!("expects {what}, but got {}", q(first)));
    }
    if let Some(other) = types.iter().find(|t| **t != first) {
        return cx.fail(format_args!(
            "operands must have the same type: {} vs {}",
            q(first),
            q(other)
        ));
    }
    if result != first {
        return cx.fail(format_args!(
            "result type {} must match the operand type {}",
            q(result),
            q(first)
        ));
    }
    Ok(())
}

/// `tt.clampf`: three floats of one type and a `propagateNan` mode.
pub(super) fn clampf(cx: &OpCx) -> Check {
    same_type(cx, 3, Elem::Float)?;
    cx.required_enum("propagateNan", &["none", "all"])?;
    Ok(())
}

/// `arith.mulsi_extended` / `arith.mului_extended`: two integers in, the low
/// and high halves of the product out, all of one type.
pub(super) fn mul_extended(cx: &OpCx) -> Check {
    let [a, b] = cx.operands_exact::<2>()?;
    let [low, high] = cx.results_exact::<2>()?;
    if !a.element().is_int() {
        return cx.fail(format_args!("expects integer operands, but got {}", q(a)));
    }
    if a != b {
        return cx.fail(format_args!(
            "operands must have the same type: {} vs {}",
            q(a),
            q(b)
        ));
    }
    if low != a || high != a {
        return cx.fail(format_args!(
            "results must both have the operand type {}, but have {} and {}",
            q(a),
            q(low),
            q(high)
        ));
    }
    Ok(())
}

const CMPI_PREDICATES: [&str; 10] = [
    "eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge",
];
const CMPF_PREDICATES: [&str; 16] = [
    "false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord", "ueq", "ugt", "uge", "ult", "ule",
    "une", "uno", "true",
];

/// `arith.cmpi` / `arith.cmpf`: two operands of one type, a valid
/// predicate, and an `i1` result of the operands' shape.
pub(super) fn compare(cx: &OpCx, elem: Elem) -> Check {
    let [a, b] = cx.operands_exact::<2>()?;
    let [result] = cx.results_exact::<1>()?;
    if !elem.accepts(a) {
        return cx.fail(format_args!(
            "expects {} operands, but got {}",
            elem.adjective(),
            q(a)
        ));
    }
    if a != b {
        return cx.fail(format_args!(
            "operands must have the same type: {} vs {}",
            q(a),
            q(b)
        ));
    }
    let predicates: &[&str] = match elem {
        Elem::Int => &CMPI_PREDICATES,
        Elem::Float => &CMPF_PREDICATES,
    };
    cx.required_enum("predicate", predicates)?;
    let expected = a.with_element(Type::I1);
    if *result != expected {
        return cx.fail(format_args!(
            "result must be {} (`i1` with the operands' shape), but is {}",
            q(&expected),
            q(result)
        ));
    }
    Ok(())
}

/// `arith.select`: an `i1` condition (a scalar, or a tensor of the result's
/// shape) picks between two values of the result type.
pub(super) fn select(cx: &OpCx) -> Check {
    let [cond, on_true, on_false] = cx.operands_exact::<3>()?;
    let [result] = cx.results_exact::<1>()?;
    if on_true != on_false {
        return cx.fail(format_args!(
            "true and false values must have the same type: {} vs {}",
            q(on_true),
            q(on_false)
        ));
    }
    if result != on_true {
        return cx.fail(format_args!(
            "result type {} must match the type of the selected values {}",
            q(result),
            q(on_true)
        ));
    }
    if !is_bool_like(cond) {
        return cx.fail(format_args!(
            "condition must be `i1` or a tensor of `i1`, but is {}",
            q(cond)
        ));
    }
    if cond.is_tensor() && !same_shape(cond, result) {
        return cx.fail(format_args!(
            "condition {} must be a scalar or have the result's {}",
            q(cond),
            describe_shape(result)
        ));
    }
    Ok(())
}

/// The families of `arith` casts.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(super) enum Cast {
    /// `extsi`, `extui`: integer to a wider integer.
    ExtendInt,
    /// `trunci`: integer to a narrower integer.
    TruncateInt,
    /// `extf`: float to a wider float.
    ExtendFloat,
    /// `truncf`: float to a narrower float.
    TruncateFloat,
    /// `sitofp`, `uitofp`.
    IntToFloat,
    /// `fptosi`, `fptoui`.
    FloatToInt,
    /// `arith.bitcast`: same width, integers and floats only.
    Bitcast,
    /// `index_cast`, `index_castui`: between `index` and an integer.
    Index,
}

/// One operand, one result, the same shape, and element types that fit the
/// cast family.
pub(super) fn cast(cx: &OpCx, kind: Cast) -> Check {
    let [src] = cx.operands_exact::<1>()?;
    let [dst] = cx.results_exact::<1>()?;
    if !same_shape(src, dst) {
        return cx.fail(format_args!(
            "operand {} and result {} must have the same shape",
            q(src),
            q(dst)
        ));
    }
    let (s, d) = (src.element(), dst.element());
    let ints = s.is_int() && d.is_int();
    let floats = s.is_float() && d.is_float();
    let width = |t: &Type| {
        t.int_width()
            .or(t.float_type().map(|f| f.bits()))
            .unwrap_or(0)
    };
    match kind {
        Cast::ExtendInt | Cast::TruncateInt if !ints => cx.fail(format_args!(
            "casts between integers, but got {} to {}",
            q(src),
            q(dst)
        )),
        Cast::ExtendFloat | Cast::TruncateFloat if !floats => cx.fail(format_args!(
            "casts between floats, but got {} to {}",
            q(src),
            q(dst)
        )),
        Cast::ExtendInt | Cast::ExtendFloat if width(d) <= width(s) => cx.fail(format_args!(
            "result type {} must be wider than operand type {}",
            q(dst),
            q(src)
        )),
        Cast::TruncateInt | Cast::TruncateFloat if width(d) >= width(s) => cx.fail(format_args!(
            "result type {} must be narrower than operand type {}",
            q(dst),
            q(src)
        )),
        Cast::IntToFloat if !(s.is_int() && d.is_float()) => cx.fail(format_args!(
            "converts an integer to a float, but got {} to {}",
            q(src),
            q(dst)
        )),
        Cast::FloatToInt if !(s.is_float() && d.is_int()) => cx.fail(format_args!(
            "converts a float to an integer, but got {} to {}",
            q(src),
            q(dst)
        )),
        Cast::Bitcast if !(s.is_int() || s.is_float()) || !(d.is_int() || d.is_float()) => {
            cx.fail(format_args!(
                "casts integers and floats only (use `tt.bitcast` for pointers), but got {} to {}",
                q(src),
                q(dst)
            ))
        }
        Cast::Bitcast if width(s) != width(d) => cx.fail(format_args!(
            "operand {} and result {} must have the same bit width",
            q(src),
            q(dst)
        )),
        Cast::Index if !ints || (*s == Type::Index) == (*d == Type::Index) => {
            cx.fail(format_args!(
                "casts between `index` and an integer type, but got {} to {}",
                q(src),
                q(dst)
            ))
        }
        _ => Ok(()),
    }
}

/// `arith.constant`: no operands, one result, and a `value` whose type is
/// the result type.
pub(super) fn constant(cx: &OpCx) -> Check {
    cx.operands_exact::<0>()?;
    let [result] = cx.results_exact::<1>()?;
    let value = cx.required_attr("value")?;
    match value {
        Attribute::Dense { ty, elems } => {
            if ty != result {
                return cx.fail(format_args!(
                    "value has type {} but the result type is {}",
                    q(ty),
                    q(result)
                ));
            }
            let Some(shape) = shape_of(result) else {
                return cx.fail(format_args!(
                    "dense value needs a tensor result, not {}",
                    q(result)
                ));
            };
            let elem = result.element();
            match elems {
                DenseElements::Splat(item) => scalar_fits(cx, item, elem),
                DenseElements::Elements(items) => {
                    let expected = shape
                        .iter()
                        .try_fold(1u64, |acc, &d| acc.checked_mul(d.max(0) as u64));
                    if expected != Some(items.len() as u64) {
                        return cx.fail(format_args!(
                            "dense value has {} elements but {} needs {}",
                            items.len(),
                            q(result),
                            expected.map_or_else(|| "more".to_string(), |n| n.to_string())
                        ));
                    }
                    items
                        .iter()
                        .try_for_each(|item| scalar_fits(cx, item, elem))
                }
            }
        }
        scalar => {
            if result.is_tensor() {
                return cx.fail(format_args!(
                    "a tensor result {} needs a `dense<...>` value",
                    q(result)
                ));
            }
            scalar_fits(cx, scalar, result)
        }
    }
}

/// Whether a scalar attribute is a valid value of the scalar type `ty`.
fn scalar_fits(cx: &OpCx, value: &Attribute, ty: &Type) -> Check {
    match (value, ty) {
        (Attribute::Bool(_), Type::Int(1)) => Ok(()),
        (Attribute::Int { value, .. }, t) if t.is_int() => {
            // Widths outside 1..=64 are reported as invalid types; clamp to stay in range.
            let width = t.int_width().unwrap_or(64).clamp(1, 64);
            // Both the signed and the unsigned reading of `width` bits are accepted.
            let min = -(1i128 << (width - 1));
            let max = (1i128 << width) - 1;
            if *value < min || *value > max {
                return cx.fail(format_args!("value {value} does not fit in {}", q(ty)));
            }
            Ok(())
        }
        (Attribute::Float { bits, ty: float }, Type::Float(expected)) => {
            if float != expected {
                return cx.fail(format_args!(
                    "value of type `{}` does not match the result element type {}",
                    float.mlir_name(),
                    q(ty)
                ));
            }
            if float.bits() < 64 && bits >> float.bits() != 0 {
                return cx.fail(format_args!("value bits {bits:#x} do not fit in {}", q(ty)));
            }
            Ok(())
        }
        (other, _) => cx.fail(format_args!(
            "value {} is not a valid {}",
            super::op_context::describe_attr(other),
            q(ty)
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::opcode::Opcode;
    use crate::types::{FloatType, Type};
    use crate::verifier::test_builder::{int_attr, Builder};
    use crate::Attribute;

    fn t(shape: &[i64], elem: Type) -> Type {
        Type::tensor(shape.to_vec(), elem)
    }

    #[test]
    fn elementwise_operands_must_agree() {
        let mut b = Builder::kernel(&[t(&[128], Type::I32), t(&[64], Type::I32)]);
        let [x, y] = [b.arg(0), b.arg(1)];
        b.op(Opcode::AddI, &[x, y], &[t(&[128], Type::I32)]);
        b.ret();
        b.assert_error(
            "`arith.addi` operands must have the same type: `tensor<128xi32>` vs `tensor<64xi32>`",
        );
    }

    #[test]
    fn elementwise_kind_and_result() {
        let mut b = Builder::kernel(&[Type::F32, Type::I32]);
        let [f, i] = [b.arg(0), b.arg(1)];
        b.op(Opcode::AddI, &[f, f], &[Type::F32]);
        b.op(Opcode::AddF, &[f, f], &[Type::I32]);
        b.op(Opcode::Exp, &[i], &[Type::I32]);
        b.ret();
        b.assert_errors(&[
            "`arith.addi` expects integer operands, but got `f32`",
            "`arith.addf` result type `i32` must match the operand type `f32`",
            "`math.exp` expects a floating-point operand, but got `i32`",
        ]);
    }

    #[test]
    fn casts_go_the_right_way() {
        let f16 = || Type::Float(FloatType::F16);
        let mut b = Builder::kernel(&[Type::F32, f16(), Type::I32, t(&[4], Type::I32)]);
        let [f32v, f16v, i32v, vec] = [b.arg(0), b.arg(1), b.arg(2), b.arg(3)];
        b.op(Opcode::ExtF, &[f16v], &[Type::F32]);
        b.op(Opcode::TruncF, &[f32v], &[f16()]);
        b.op(Opcode::ExtSI, &[i32v], &[Type::I64]);
        b.op(Opcode::ExtF, &[f32v], &[f16()]);
        b.op(Opcode::TruncI, &[i32v], &[Type::I64]);
        b.op(Opcode::ExtSI, &[vec], &[Type::I64]);
        b.op(Opcode::SIToFP, &[f32v], &[Type::F32]);
        b.op(Opcode::ArithBitcast, &[f32v], &[Type::I64]);
        b.ret();
        b.assert_errors(&[
            "`arith.extf` result type `f16` must be wider than operand type `f32`",
            "`arith.trunci` result type `i64` must be narrower than operand type `i32`",
            "`arith.extsi` operand `tensor<4xi32>` and result `i64` must have the same shape",
            "`arith.sitofp` converts an integer to a float",
            "`arith.bitcast` operand `f32` and result `i64` must have the same bit width",
        ]);
    }

    #[test]
    fn compare_and_select() {
        let v = || t(&[8], Type::I32);
        let mut b = Builder::kernel(&[v(), v(), Type::I1]);
        let [x, y, c] = [b.arg(0), b.arg(1), b.arg(2)];
        let lt = b.op_attrs(
            Opcode::CmpI,
            &[x, y],
            &[t(&[8], Type::I1)],
            &[("predicate", Attribute::Enum("slt".into()))],
        );
        b.op_attrs(
            Opcode::CmpI,
            &[x, y],
            &[t(&[8], Type::I1)],
            &[("predicate", Attribute::Enum("lt".into()))],
        );
        b.op_attrs(
            Opcode::CmpI,
            &[x, y],
            &[Type::I1],
            &[("predicate", Attribute::Enum("eq".into()))],
        );
        b.op(Opcode::Select, &[lt, x, y], &[v()]);
        b.op(Opcode::Select, &[c, x, y], &[v()]);
        b.op(Opcode::Select, &[x, x, y], &[v()]);
        b.ret();
        b.assert_errors(&[
            "`arith.cmpi` attribute `predicate` has unknown value `lt`",
            "`arith.cmpi` result must be `tensor<8xi1>`",
            "`arith.select` condition must be `i1` or a tensor of `i1`, but is `tensor<8xi32>`",
        ]);
    }

    #[test]
    fn constants_match_their_type() {
        let mut b = Builder::kernel(&[]);
        b.op_attrs(
            Opcode::Constant,
            &[],
            &[Type::I32],
            &[("value", int_attr(7, Type::I32))],
        );
        b.op_attrs(
            Opcode::Constant,
            &[],
            &[Type::I8],
            &[("value", int_attr(300, Type::I8))],
        );
        b.op_attrs(
            Opcode::Constant,
            &[],
            &[Type::F32],
            &[("value", int_attr(1, Type::I32))],
        );
        b.op_attrs(
            Opcode::Constant,
            &[],
            &[t(&[4], Type::F32)],
            &[(
                "value",
                Attribute::Dense {
                    ty: t(&[4], Type::F32),
                    elems: crate::DenseElements::Splat(Box::new(Attribute::Float {
                        bits: 0,
                        ty: FloatType::F32,
                    })),
                },
            )],
        );
        b.op(Opcode::Constant, &[], &[Type::I32]);
        b.ret();
        b.assert_errors(&[
            "`arith.constant` value 300 does not fit in `i8`",
            "`arith.constant` value `1 : i32` is not a valid `f32`",
            "`arith.constant` is missing its required attribute `value`",
        ]);
    }

    #[test]
    fn extended_multiply_index_cast_and_clamp() {
        let mut b = Builder::kernel(&[Type::I32, Type::Index, Type::F32]);
        let (i, idx, f) = (b.arg(0), b.arg(1), b.arg(2));
        b.op(Opcode::MulSIExtended, &[i, i], &[Type::I32, Type::I32]);
        b.op(Opcode::MulUIExtended, &[i, i], &[Type::I32, Type::I64]);
        b.op(Opcode::IndexCast, &[i], &[Type::Index]);
        b.op(Opcode::IndexCast, &[idx], &[Type::I64]);
        b.op(Opcode::IndexCast, &[i], &[Type::I64]);
        b.op_attrs(
            Opcode::ClampF,
            &[f, f, f],
            &[Type::F32],
            &[("propagateNan", Attribute::Enum("all".into()))],
        );
        b.op(Opcode::ClampF, &[f, f, f], &[Type::F32]);
        b.op(Opcode::Fma, &[f, f], &[Type::F32]);
        b.ret();
        b.assert_errors(&[
            "`arith.mului_extended` results must both have the operand type `i32`",
            "`arith.index_cast` casts between `index` and an integer type, but got `i32` to `i64`",
            "`tt.clampf` is missing its required attribute `propagateNan`",
            "`math.fma` expects 3 operands, but has 2",
        ]);
    }
}
