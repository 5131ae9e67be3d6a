//! One entry point for every TTIR elementwise op: [`ElementwiseOp::resolve`]
//! turns an opcode, its attributes and its element types into a small value
//! that [`ElementwiseOp::eval`] applies to raw operand bits.
//!
//! Resolving once and evaluating per element keeps interpreters fast, and
//! gives the emulator's vector unit the exact same function to delegate to.

use super::bits::{bit_unary, BitUnaryOp};
use super::convert::{self, IntRounding, Rounding};
use super::float::{self, FloatBinaryOp, FloatIntOp, FloatPredicate, FloatUnaryOp};
use super::int::{self, IntBinaryOp, IntPredicate};
use super::libdevice;
use crate::attributes::{AttrList, Attribute};
use crate::opcode::Opcode;
use crate::types::{FloatType, Type};

/// The scalar kind of an element type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ScalarKind {
    /// `iN` (and `index` as i64).
    Int(u32),
    Float(FloatType),
    /// `!tt.ptr<T>`: a 64-bit byte address.
    Ptr,
}

impl ScalarKind {
    /// The kind of `ty`'s element type; `None` for descriptors and nested tensors.
    pub fn of(ty: &Type) -> Option<ScalarKind> {
        match ty.element() {
            Type::Int(w) => Some(ScalarKind::Int(*w)),
            Type::Index => Some(ScalarKind::Int(64)),
            Type::Float(f) => Some(ScalarKind::Float(*f)),
            Type::Ptr { .. } => Some(ScalarKind::Ptr),
            Type::Tensor { .. } | Type::TensorDesc { .. } => None,
        }
    }

    /// Width in bits of the raw value.
    pub fn bits(self) -> u32 {
        match self {
            ScalarKind::Int(w) => w,
            ScalarKind::Float(f) => f.bits(),
            ScalarKind::Ptr => 64,
        }
    }
}

/// Integer-valued queries of a float: the classification tests (libdevice
/// `isnan`, `isinf`, `finite`, `signbit`: 0/1) and `ilogb`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FloatClass {
    IsNan,
    IsInf,
    IsFinite,
    SignBit,
    /// The unbiased exponent of `|x|` as an `i32` (C `ilogb`): `floor(log2
    /// |x|)` for finite non-zero `x` (subnormals included), `i32::MIN` for
    /// ±0 and NaN, `i32::MAX` for ±∞ (CUDA's and musl's `FP_ILOGB0`,
    /// `FP_ILOGBNAN`).
    Ilogb,
}

/// The value of a float query on the bits `a` of a `ty` value, before
/// truncation to the result width (two's complement bits for `Ilogb`).
pub fn float_class(class: FloatClass, ty: FloatType, a: u64) -> u64 {
    let x = convert::float_to_f64(a, ty);
    let flag = |b: bool| u64::from(b);
    match class {
        FloatClass::IsNan => flag(x.is_nan()),
        FloatClass::IsInf => flag(x.is_infinite()),
        FloatClass::IsFinite => flag(x.is_finite()),
        FloatClass::SignBit => flag(!x.is_nan() && x.is_sign_negative()),
        // exact: every narrow value is an f64 and keeps its exponent
        FloatClass::Ilogb => libm::ilogb(x) as u32 as u64,
    }
}

/// A resolved elementwise op. Operands are raw bits at their type's width
/// (upper bits zero); so is the result.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ElementwiseOp {
    /// `(a, b)` integer op.
    Int { op: IntBinaryOp, width: u32 },
    /// `math.absi`.
    IntAbs { width: u32 },
    /// Bit counting / reversal; the result is truncated to `result_width`.
    Bit {
        op: BitUnaryOp,
        width: u32,
        result_width: u32,
    },
    /// `arith.cmpi` → i1.
    IntCmp { pred: IntPredicate, width: u32 },
    /// `(a, b)` float op.
    Float { op: FloatBinaryOp, ty: FloatType },
    /// `(a)` float op.
    FloatUnary { op: FloatUnaryOp, ty: FloatType },
    /// `(a, n)`: a float and a `width`-bit integer (`ldexp`, `powi`).
    FloatInt {
        op: FloatIntOp,
        ty: FloatType,
        width: u32,
    },
    /// `arith.cmpf` → i1.
    FloatCmp { pred: FloatPredicate, ty: FloatType },
    /// A float query (classification 0/1, `ilogb`) at `result_width`.
    FloatClass {
        class: FloatClass,
        ty: FloatType,
        result_width: u32,
    },
    /// `math.fma` `(a, b, c)`.
    Fma { ty: FloatType },
    /// `tt.clampf` `(x, lo, hi)`.
    Clamp { ty: FloatType, propagate_nan: bool },
    /// `arith.select` `(cond, if_true, if_false)`.
    Select,
    /// `arith.extsi`, `arith.index_cast` widening.
    ExtSigned { from: u32, to: u32 },
    /// `arith.extui`, `arith.index_castui` widening, `tt.int_to_ptr`.
    ExtUnsigned { from: u32 },
    /// `arith.trunci`, narrowing index casts, `tt.ptr_to_int`.
    Trunc { to: u32 },
    /// `arith.sitofp` / `arith.uitofp` (round to nearest even).
    IntToFloat {
        width: u32,
        signed: bool,
        to: FloatType,
    },
    /// `arith.fptosi` / `arith.fptoui` (toward zero, saturating, NaN → 0);
    /// libdevice's rounding forms (`float2int_rn`, `llrint`, …) pick the
    /// integer by `rounding` instead.
    FloatToInt {
        from: FloatType,
        width: u32,
        signed: bool,
        rounding: IntRounding,
    },
    /// `arith.extf`, `arith.truncf`, `tt.fp_to_fp`.
    FloatConvert {
        from: FloatType,
        to: FloatType,
        rounding: Rounding,
    },
    /// `tt.addptr` `(ptr, offset)`: `ptr + sext(offset) × elem_size`.
    AddPtr { offset_width: u32, elem_size: u64 },
    /// Bitcasts between types of one width.
    Identity,
}

impl ElementwiseOp {
    /// Resolves `opcode` with its attributes, operand types and result type
    /// (tensor or scalar types; only their element types matter). The error
    /// says why the op is not an elementwise op this module can evaluate.
    pub fn resolve(
        opcode: Opcode,
        attrs: &AttrList,
        operands: &[Type],
        result: &Type,
    ) -> Result<ElementwiseOp, String> {
        use ElementwiseOp as E;
        use Opcode::*;
        let kinds: Vec<ScalarKind> = operands
            .iter()
            .map(|t| {
                ScalarKind::of(t)
                    .ok_or_else(|| format!("operand type {t} is not a scalar or tensor of scalars"))
            })
            .collect::<Result<_, _>>()?;
        let out = ScalarKind::of(result)
            .ok_or_else(|| format!("result type {result} is not a scalar or tensor of scalars"))?;
        let first = *kinds
            .first()
            .ok_or_else(|| format!("{} needs operands", opcode.name()))?;
        let int_width = |k: ScalarKind| match k {
            ScalarKind::Int(w) => Ok(w),
            other => Err(format!("{} expects integers, got {other:?}", opcode.name())),
        };
        let float_ty = |k: ScalarKind| match k {
            ScalarKind::Float(f) => Ok(f),
            other => Err(format!("{} expects floats, got {other:?}", opcode.name())),
        };
        let int_op = |op| int_width(first).map(|width| E::Int { op, width });
        let float_op = |op| float_ty(first).map(|ty| E::Float { op, ty });
        let float_unary = |op| float_ty(first).map(|ty| E::FloatUnary { op, ty });
        let resolved = match opcode {
            AddI => int_op(IntBinaryOp::Add)?,
            SubI => int_op(IntBinaryOp::Sub)?,
            MulI => int_op(IntBinaryOp::Mul)?,
            DivSI => int_op(IntBinaryOp::DivS)?,
            DivUI => int_op(IntBinaryOp::DivU)?,
            CeilDivSI => int_op(IntBinaryOp::CeilDivS)?,
            CeilDivUI => int_op(IntBinaryOp::CeilDivU)?,
            FloorDivSI => int_op(IntBinaryOp::FloorDivS)?,
            RemSI => int_op(IntBinaryOp::RemS)?,
            RemUI => int_op(IntBinaryOp::RemU)?,
            AndI => int_op(IntBinaryOp::And)?,
            OrI => int_op(IntBinaryOp::Or)?,
            XOrI => int_op(IntBinaryOp::Xor)?,
            ShLI => int_op(IntBinaryOp::Shl)?,
            ShRSI => int_op(IntBinaryOp::ShrS)?,
            ShRUI => int_op(IntBinaryOp::ShrU)?,
            MaxSI => int_op(IntBinaryOp::MaxS)?,
            MaxUI => int_op(IntBinaryOp::MaxU)?,
            MinSI => int_op(IntBinaryOp::MinS)?,
            MinUI => int_op(IntBinaryOp::MinU)?,
            MulhiUI => int_op(IntBinaryOp::MulHiU)?,
            AbsI => E::IntAbs {
                width: int_width(first)?,
            },
            AddF => float_op(FloatBinaryOp::Add)?,
            SubF => float_op(FloatBinaryOp::Sub)?,
            MulF => float_op(FloatBinaryOp::Mul)?,
            DivF | PreciseDivF => float_op(FloatBinaryOp::Div)?,
            RemF => float_op(FloatBinaryOp::Rem)?,
            MaximumF => float_op(FloatBinaryOp::Maximum)?,
            MinimumF => float_op(FloatBinaryOp::Minimum)?,
            MaxNumF => float_op(FloatBinaryOp::MaxNum)?,
            MinNumF => float_op(FloatBinaryOp::MinNum)?,
            NegF => float_unary(FloatUnaryOp::Neg)?,
            AbsF => float_unary(FloatUnaryOp::Abs)?,
            Exp => float_unary(FloatUnaryOp::Exp)?,
            Exp2 => float_unary(FloatUnaryOp::Exp2)?,
            Log => float_unary(FloatUnaryOp::Log)?,
            Log2 => float_unary(FloatUnaryOp::Log2)?,
            Sqrt | PreciseSqrt => float_unary(FloatUnaryOp::Sqrt)?,
            Rsqrt => float_unary(FloatUnaryOp::Rsqrt)?,
            Sin => float_unary(FloatUnaryOp::Sin)?,
            Cos => float_unary(FloatUnaryOp::Cos)?,
            Tanh => float_unary(FloatUnaryOp::Tanh)?,
            Erf => float_unary(FloatUnaryOp::Erf)?,
            Floor => float_unary(FloatUnaryOp::Floor)?,
            Ceil => float_unary(FloatUnaryOp::Ceil)?,
            Fma => E::Fma {
                ty: float_ty(first)?,
            },
            ClampF => {
                let propagate_nan = match attrs.get("propagateNan") {
                    None => false,
                    Some(a) => match (a.as_str(), a.as_int()) {
                        (Some("all"), _) | (_, Some(1..)) => true,
                        (Some("none"), _) | (_, Some(0)) => false,
                        _ => return Err(format!("tt.clampf: unknown propagateNan {a:?}")),
                    },
                };
                E::Clamp {
                    ty: float_ty(first)?,
                    propagate_nan,
                }
            }
            CmpI => {
                let pred = predicate(attrs, IntPredicate::from_keyword, &INT_PREDICATES)?;
                let width = match first {
                    ScalarKind::Ptr => 64,
                    k => int_width(k)?,
                };
                E::IntCmp { pred, width }
            }
            CmpF => E::FloatCmp {
                pred: predicate(attrs, FloatPredicate::from_keyword, &FLOAT_PREDICATES)?,
                ty: float_ty(first)?,
            },
            Select => E::Select,
            ExtSI => E::ExtSigned {
                from: int_width(first)?,
                to: int_width(out)?,
            },
            ExtUI => E::ExtUnsigned {
                from: int_width(first)?,
            },
            TruncI => E::Trunc {
                to: int_width(out)?,
            },
            IndexCast | IndexCastUI => {
                let (from, to) = (int_width(first)?, int_width(out)?);
                if to <= from {
                    E::Trunc { to }
                } else if opcode == IndexCast {
                    E::ExtSigned { from, to }
                } else {
                    E::ExtUnsigned { from }
                }
            }
            SIToFP | UIToFP => E::IntToFloat {
                width: int_width(first)?,
                signed: opcode == SIToFP,
                to: float_ty(out)?,
            },
            FPToSI | FPToUI => E::FloatToInt {
                from: float_ty(first)?,
                width: int_width(out)?,
                signed: opcode == FPToSI,
                rounding: IntRounding::TowardZero,
            },
            ExtF | TruncF | FpToFp => {
                let rounding = rounding_attr(attrs)?;
                E::FloatConvert {
                    from: float_ty(first)?,
                    to: float_ty(out)?,
                    rounding,
                }
            }
            Bitcast | ArithBitcast => {
                if first.bits() != out.bits() {
                    return Err(format!(
                        "{}: cannot bitcast {}-bit values to {} bits",
                        opcode.name(),
                        first.bits(),
                        out.bits()
                    ));
                }
                E::Identity
            }
            IntToPtr => E::ExtUnsigned {
                from: int_width(first)?,
            },
            PtrToInt => E::Trunc {
                to: int_width(out)?,
            },
            AddPtr => {
                let elem_size = match result.element() {
                    Type::Ptr { pointee, .. } => pointee.scalar_size_bytes(),
                    other => return Err(format!("tt.addptr result {other} is not a pointer")),
                };
                let offset = *kinds.get(1).ok_or("tt.addptr needs an offset")?;
                E::AddPtr {
                    offset_width: int_width(offset)?,
                    elem_size,
                }
            }
            ExternElementwise => {
                let symbol = attrs
                    .str("symbol")
                    .ok_or("tt.extern_elementwise has no `symbol` attribute")?;
                libdevice::resolve(symbol, &kinds, out)?
            }
            other => return Err(format!("{} is not an elementwise op", other.name())),
        };
        if resolved.arity() != operands.len() {
            return Err(format!(
                "{} takes {} operands, got {}",
                opcode.name(),
                resolved.arity(),
                operands.len()
            ));
        }
        Ok(resolved)
    }

    /// Number of operands `eval` expects.
    pub fn arity(&self) -> usize {
        use ElementwiseOp as E;
        match self {
            E::Int { .. }
            | E::IntCmp { .. }
            | E::Float { .. }
            | E::FloatCmp { .. }
            | E::FloatInt { .. } => 2,
            E::AddPtr { .. } => 2,
            E::Fma { .. } | E::Clamp { .. } | E::Select => 3,
            E::IntAbs { .. }
            | E::Bit { .. }
            | E::FloatUnary { .. }
            | E::FloatClass { .. }
            | E::ExtSigned { .. }
            | E::ExtUnsigned { .. }
            | E::Trunc { .. }
            | E::IntToFloat { .. }
            | E::FloatToInt { .. }
            | E::FloatConvert { .. }
            | E::Identity => 1,
        }
    }

    /// Applies the op to one element's operands (`args.len() == arity()`).
    #[inline]
    pub fn eval(&self, args: &[u64]) -> u64 {
        use ElementwiseOp as E;
        match *self {
            E::Int { op, width } => int::int_binary(op, width, args[0], args[1]),
            E::IntAbs { width } => int::abs_int(width, args[0]),
            E::Bit {
                op,
                width,
                result_width,
            } => int::truncate(bit_unary(op, width, args[0]), result_width),
            E::IntCmp { pred, width } => u64::from(int::cmp_int(pred, width, args[0], args[1])),
            E::Float { op, ty } => float::float_binary(op, ty, args[0], args[1]),
            E::FloatUnary { op, ty } => float::float_unary(op, ty, args[0]),
            E::FloatInt { op, ty, width } => float::float_int(op, ty, args[0], args[1], width),
            E::FloatCmp { pred, ty } => u64::from(float::cmp_float(pred, ty, args[0], args[1])),
            E::FloatClass {
                class,
                ty,
                result_width,
            } => int::truncate(float_class(class, ty, args[0]), result_width),
            E::Fma { ty } => float::fma(ty, args[0], args[1], args[2]),
            E::Clamp { ty, propagate_nan } => {
                float::clamp(ty, args[0], args[1], args[2], propagate_nan)
            }
            E::Select => {
                if args[0] & 1 != 0 {
                    args[1]
                } else {
                    args[2]
                }
            }
            E::ExtSigned { from, to } => int::ext_signed(from, to, args[0]),
            E::ExtUnsigned { from } => int::ext_unsigned(from, args[0]),
            E::Trunc { to } => int::truncate(args[0], to),
            E::IntToFloat { width, signed, to } => {
                convert::int_to_float(args[0], width, signed, to)
            }
            E::FloatToInt {
                from,
                width,
                signed,
                rounding,
            } => convert::float_to_int_rounded(args[0], from, width, signed, rounding),
            E::FloatConvert { from, to, rounding } => {
                convert::convert_float(args[0], from, to, rounding)
            }
            E::AddPtr {
                offset_width,
                elem_size,
            } => {
                let offset = int::sign_extend(args[1], offset_width);
                args[0].wrapping_add((offset as u64).wrapping_mul(elem_size))
            }
            E::Identity => args[0],
        }
    }
}

const INT_PREDICATES: [&str; 10] = [
    "eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge",
];
const FLOAT_PREDICATES: [&str; 16] = [
    "false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord", "ueq", "ugt", "uge", "ult", "ule",
    "une", "uno", "true",
];

/// Reads a `predicate` attribute: MLIR's keyword, or the generic form's
/// integer encoding (index into MLIR's enum order).
fn predicate<P>(
    attrs: &AttrList,
    parse: fn(&str) -> Option<P>,
    names: &[&str],
) -> Result<P, String> {
    let attr = attrs
        .get("predicate")
        .ok_or("missing `predicate` attribute")?;
    let keyword = match attr {
        Attribute::Int { value, .. } => usize::try_from(*value)
            .ok()
            .and_then(|i| names.get(i))
            .copied(),
        other => other.as_str(),
    };
    keyword
        .and_then(parse)
        .ok_or_else(|| format!("unknown predicate {attr:?}"))
}

/// Reads the rounding of `tt.fp_to_fp` (`rounding = rtne|rtz`) or
/// `arith.truncf` (`roundingmode = to_nearest_even|toward_zero`); absent
/// means round to nearest even.
fn rounding_attr(attrs: &AttrList) -> Result<Rounding, String> {
    let attr = attrs.get("rounding").or_else(|| attrs.get("roundingmode"));
    let Some(attr) = attr else {
        return Ok(Rounding::NearestEven);
    };
    match (attr.as_str(), attr.as_int()) {
        (Some("rtne" | "to_nearest_even"), _) | (_, Some(0)) => Ok(Rounding::NearestEven),
        (Some("rtz" | "toward_zero"), _) | (_, Some(1)) => Ok(Rounding::TowardZero),
        _ => Err(format!(
            "unsupported rounding mode {attr:?} (supported: rtne, rtz)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(items: &[(&str, Attribute)]) -> AttrList {
        let mut list = AttrList::new();
        for (name, value) in items {
            list.set(name, value.clone());
        }
        list
    }

    #[test]
    fn ilogb_follows_cuda() {
        let f32b = |x: f32| u64::from(x.to_bits());
        let ilogb = |bits: u64, ty| float_class(FloatClass::Ilogb, ty, bits) as u32 as i32;
        assert_eq!(ilogb(f32b(1.0), FloatType::F32), 0);
        assert_eq!(ilogb(f32b(-7.9), FloatType::F32), 2);
        assert_eq!(ilogb(f32b(0.3), FloatType::F32), -2);
        assert_eq!(ilogb(1, FloatType::F32), -149); // smallest subnormal
        assert_eq!(ilogb(f32b(0.0), FloatType::F32), i32::MIN);
        assert_eq!(ilogb(f32b(f32::NAN), FloatType::F32), i32::MIN);
        assert_eq!(ilogb(f32b(f32::NEG_INFINITY), FloatType::F32), i32::MAX);
        assert_eq!(ilogb(1, FloatType::F16), -24); // f16 subnormal, exact via f64
    }

    #[test]
    fn resolves_and_evaluates_arith_ops() {
        let op = ElementwiseOp::resolve(
            Opcode::AddI,
            &AttrList::new(),
            &[Type::I32, Type::I32],
            &Type::I32,
        )
        .unwrap();
        assert_eq!(op.eval(&[0xFFFF_FFFF, 2]), 1);
        let cmp = attrs(&[("predicate", Attribute::Enum("slt".into()))]);
        let op = ElementwiseOp::resolve(
            Opcode::CmpI,
            &cmp,
            &[
                Type::tensor(vec![4], Type::I32),
                Type::tensor(vec![4], Type::I32),
            ],
            &Type::tensor(vec![4], Type::I1),
        )
        .unwrap();
        assert_eq!(op.eval(&[0xFFFF_FFFF, 0]), 1);
        let generic = attrs(&[(
            "predicate",
            Attribute::Int {
                value: 2,
                ty: Type::I64,
            },
        )]);
        let op = ElementwiseOp::resolve(Opcode::CmpI, &generic, &[Type::I32, Type::I32], &Type::I1)
            .unwrap();
        assert_eq!(
            op,
            ElementwiseOp::IntCmp {
                pred: IntPredicate::Slt,
                width: 32
            }
        );
    }

    #[test]
    fn addptr_scales_by_the_pointee_size() {
        let ptr = Type::ptr(Type::F32);
        let op = ElementwiseOp::resolve(
            Opcode::AddPtr,
            &AttrList::new(),
            &[ptr.clone(), Type::I32],
            &ptr,
        )
        .unwrap();
        assert_eq!(op.eval(&[1 << 32, 3]), (1 << 32) + 12);
        assert_eq!(op.eval(&[1 << 32, 0xFFFF_FFFF]), (1 << 32) - 4);
    }

    #[test]
    fn rejects_wrong_arity_and_non_elementwise_ops() {
        let err = ElementwiseOp::resolve(Opcode::AddF, &AttrList::new(), &[Type::F32], &Type::F32)
            .unwrap_err();
        assert!(err.contains("takes 2 operands"), "{err}");
        assert!(
            ElementwiseOp::resolve(Opcode::Load, &AttrList::new(), &[Type::F32], &Type::F32)
                .is_err()
        );
        let err =
            ElementwiseOp::resolve(Opcode::Bitcast, &AttrList::new(), &[Type::F32], &Type::I16)
                .unwrap_err();
        assert!(err.contains("bitcast"), "{err}");
    }

    #[test]
    fn fp_to_fp_reads_its_rounding() {
        let rtz = attrs(&[("rounding", Attribute::Enum("rtz".into()))]);
        let op = ElementwiseOp::resolve(
            Opcode::FpToFp,
            &rtz,
            &[Type::F32],
            &Type::Float(FloatType::F16),
        )
        .unwrap();
        assert_eq!(
            op,
            ElementwiseOp::FloatConvert {
                from: FloatType::F32,
                to: FloatType::F16,
                rounding: Rounding::TowardZero
            }
        );
    }
}
