//! The libdevice functions Triton calls through `tt.extern_elementwise`
//! (`__nv_expf`, `__nv_erff`, `__nv_rsqrtf`, … and AMD's `__ocml_*_f32`),
//! mapped onto maiac's own exact semantics.
//!
//! A symbol is looked up by its base name: `__nv_` (or `__ocml_`) removed,
//! then an `f` / `_f32` / `_f64` precision suffix removed when the full name
//! is not itself a base name (`erff` → `erf`, `erf` → `erf`). The precision
//! actually used is the operand type's: `__nv_expf` on f32 operands is
//! maiac's f32 `exp`. The `fast_` approximations and `_rn`-suffixed
//! correctly-rounded forms all map to the correctly rounded (or `libm`) op.
//! An unknown symbol is an error naming it.

use super::bits::BitUnaryOp;
use super::convert::{IntRounding, Rounding};
use super::directed::{DirectedOp, Direction};
use super::elementwise::{ElementwiseOp, FloatClass, ScalarKind};
use super::float::{FloatBinaryOp, FloatIntOp, FloatUnaryOp};
use super::int::IntBinaryOp;
use crate::types::FloatType;

/// What a libdevice base name computes.
#[derive(Copy, Clone, Debug)]
enum Builtin {
    Unary(FloatUnaryOp),
    Binary(FloatBinaryOp),
    /// A float and an `int` operand.
    FloatInt(FloatIntOp),
    Fma,
    Class(FloatClass),
    Int(IntBinaryOp),
    /// An integer op libdevice defines on `i32` only (`hadd`, `mul24`, …).
    Int32(IntBinaryOp),
    IntAbs,
    Bits(BitUnaryOp),
    /// `float_as_int` & co.: the same bits reinterpreted.
    Bitcast,
    /// `float2int_rz` & co.: `fptosi`/`fptoui` (toward zero, saturating,
    /// NaN → 0, like CUDA's `cvt.rzi`); `_rn`/`_rd`/`_ru`, `llrint` and
    /// `llround` round first (`cvt.rni`/`rmi`/`rpi`), then saturate alike.
    FloatToInt {
        signed: bool,
        rounding: IntRounding,
    },
    /// `int2float_rn` & co.: `sitofp`/`uitofp` (nearest even).
    IntToFloat {
        signed: bool,
    },
    /// `double2float_rn` / `_rz`.
    Narrow(Rounding),
}

fn builtin(base: &str) -> Option<Builtin> {
    use Builtin::*;
    use FloatBinaryOp as B;
    use FloatUnaryOp as U;
    Some(match base {
        "exp" | "fast_exp" => Unary(U::Exp),
        "exp2" | "fast_exp2" => Unary(U::Exp2),
        "exp10" | "fast_exp10" => Unary(U::Exp10),
        "expm1" => Unary(U::Expm1),
        "log" | "fast_log" => Unary(U::Log),
        "log2" | "fast_log2" => Unary(U::Log2),
        "log10" | "fast_log10" => Unary(U::Log10),
        "log1p" => Unary(U::Log1p),
        "sqrt" | "fsqrt_rn" | "dsqrt_rn" => Unary(U::Sqrt),
        "rsqrt" => Unary(U::Rsqrt),
        "cbrt" => Unary(U::Cbrt),
        "sin" | "fast_sin" => Unary(U::Sin),
        "cos" | "fast_cos" => Unary(U::Cos),
        "tan" | "fast_tan" => Unary(U::Tan),
        "asin" => Unary(U::Asin),
        "acos" => Unary(U::Acos),
        "atan" => Unary(U::Atan),
        "sinh" => Unary(U::Sinh),
        "cosh" => Unary(U::Cosh),
        "tanh" | "fast_tanh" => Unary(U::Tanh),
        "asinh" => Unary(U::Asinh),
        "acosh" => Unary(U::Acosh),
        "atanh" => Unary(U::Atanh),
        "erf" => Unary(U::Erf),
        "erfc" => Unary(U::Erfc),
        "erfinv" => Unary(U::Erfinv),
        "erfcinv" => Unary(U::Erfcinv),
        "normcdf" => Unary(U::Normcdf),
        "normcdfinv" => Unary(U::Normcdfinv),
        "rcbrt" => Unary(U::Rcbrt),
        "lgamma" => Unary(U::Lgamma),
        "tgamma" => Unary(U::Tgamma),
        "floor" => Unary(U::Floor),
        "ceil" => Unary(U::Ceil),
        "trunc" => Unary(U::Trunc),
        "round" => Unary(U::Round),
        "rint" | "nearbyint" => Unary(U::RoundEven),
        "fabs" => Unary(U::Abs),
        "frcp_rn" | "drcp_rn" => Unary(U::Recip),
        "frsqrt_rn" => Unary(U::Rsqrt),
        "saturatef" => Unary(U::Saturate),
        "logb" => Unary(U::Logb),
        "sinpi" => Unary(U::Sinpi),
        "cospi" => Unary(U::Cospi),
        "rhypot" => Binary(B::Rhypot),
        "ldexp" | "scalbn" => FloatInt(FloatIntOp::Ldexp),
        "powi" => FloatInt(FloatIntOp::Powi),
        "fsqrt_rz" | "dsqrt_rz" => Unary(U::SqrtDirected(Direction::TowardZero)),
        "fsqrt_rd" | "dsqrt_rd" => Unary(U::SqrtDirected(Direction::Down)),
        "fsqrt_ru" | "dsqrt_ru" => Unary(U::SqrtDirected(Direction::Up)),
        "frcp_rz" | "drcp_rz" => Unary(U::RecipDirected(Direction::TowardZero)),
        "frcp_rd" | "drcp_rd" => Unary(U::RecipDirected(Direction::Down)),
        "frcp_ru" | "drcp_ru" => Unary(U::RecipDirected(Direction::Up)),
        "fdim" => Binary(B::Fdim),
        "remainder" => Binary(B::Remainder),
        "pow" | "fast_pow" => Binary(B::Pow),
        "atan2" => Binary(B::Atan2),
        "hypot" => Binary(B::Hypot),
        "fmod" => Binary(B::Rem),
        "copysign" => Binary(B::CopySign),
        "nextafter" => Binary(B::NextAfter),
        "fmax" => Binary(B::MaxNum),
        "fmin" => Binary(B::MinNum),
        "fdiv_rn" | "ddiv_rn" | "fdividef" | "fast_fdivide" | "div_rn" => Binary(B::Div),
        "fadd_rn" | "dadd_rn" => Binary(B::Add),
        "fsub_rn" | "dsub_rn" => Binary(B::Sub),
        "fmul_rn" | "dmul_rn" => Binary(B::Mul),
        "fma" | "fma_rn" | "fmaf_rn" => Fma,
        directed if directed_op(directed).is_some() => {
            let (op, dir) = directed_op(directed)?;
            Binary(B::Directed(op, dir))
        }
        "isnan" | "isnand" => Class(FloatClass::IsNan),
        "isinf" | "isinfd" => Class(FloatClass::IsInf),
        "finite" | "isfinited" | "isfinite" => Class(FloatClass::IsFinite),
        "signbit" | "signbitd" => Class(FloatClass::SignBit),
        "ilogb" => Class(FloatClass::Ilogb),
        "abs" | "llabs" => IntAbs,
        "max" | "llmax" => Int(IntBinaryOp::MaxS),
        "min" | "llmin" => Int(IntBinaryOp::MinS),
        "umax" | "ullmax" => Int(IntBinaryOp::MaxU),
        "umin" | "ullmin" => Int(IntBinaryOp::MinU),
        "mulhi" | "mul64hi" => Int(IntBinaryOp::MulHiS),
        "umulhi" | "umul64hi" => Int(IntBinaryOp::MulHiU),
        "hadd" => Int32(IntBinaryOp::HAddS),
        "uhadd" => Int32(IntBinaryOp::HAddU),
        "rhadd" => Int32(IntBinaryOp::RHAddS),
        "urhadd" => Int32(IntBinaryOp::RHAddU),
        "mul24" => Int32(IntBinaryOp::Mul24S),
        "umul24" => Int32(IntBinaryOp::Mul24U),
        "popc" | "popcll" => Bits(BitUnaryOp::PopCount),
        "clz" | "clzll" => Bits(BitUnaryOp::LeadingZeros),
        "ffs" | "ffsll" => Bits(BitUnaryOp::FindFirstSet),
        "brev" | "brevll" => Bits(BitUnaryOp::Reverse),
        "float_as_int" | "float_as_uint" | "int_as_float" | "uint_as_float"
        | "double_as_longlong" | "longlong_as_double" => Bitcast,
        "llrint" => FloatToInt {
            signed: true,
            rounding: IntRounding::NearestEven,
        },
        "llround" => FloatToInt {
            signed: true,
            rounding: IntRounding::NearestAway,
        },
        conversion if float_to_int(conversion).is_some() => {
            let (signed, rounding) = float_to_int(conversion)?;
            FloatToInt { signed, rounding }
        }
        "int2float_rn" | "ll2float_rn" | "int2double_rn" | "ll2double_rn" => {
            IntToFloat { signed: true }
        }
        "uint2float_rn" | "ull2float_rn" | "uint2double_rn" | "ull2double_rn" => {
            IntToFloat { signed: false }
        }
        "double2float_rn" => Narrow(Rounding::NearestEven),
        "double2float_rz" => Narrow(Rounding::TowardZero),
        _ => return None,
    })
}

/// `fadd_rz`, `dmul_ru`, `fdiv_rd`, …: the op and its direction.
fn directed_op(base: &str) -> Option<(DirectedOp, Direction)> {
    let (op, dir) = base.split_once('_')?;
    let op = match op {
        "fadd" | "dadd" => DirectedOp::Add,
        "fsub" | "dsub" => DirectedOp::Sub,
        "fmul" | "dmul" => DirectedOp::Mul,
        "fdiv" | "ddiv" => DirectedOp::Div,
        _ => return None,
    };
    Some((op, direction(dir)?))
}

fn direction(suffix: &str) -> Option<Direction> {
    Some(match suffix {
        "rz" => Direction::TowardZero,
        "rd" => Direction::Down,
        "ru" => Direction::Up,
        _ => return None,
    })
}

/// `float2int_rn`, `double2ull_ru`, …: signedness and rounding.
fn float_to_int(base: &str) -> Option<(bool, IntRounding)> {
    let (conversion, mode) = base.split_once('_')?;
    let signed = match conversion {
        "float2int" | "float2ll" | "double2int" | "double2ll" => true,
        "float2uint" | "float2ull" | "double2uint" | "double2ull" => false,
        _ => return None,
    };
    let rounding = match mode {
        "rz" => IntRounding::TowardZero,
        "rn" => IntRounding::NearestEven,
        "rd" => IntRounding::Down,
        "ru" => IntRounding::Up,
        _ => return None,
    };
    Some((signed, rounding))
}

/// Finds the builtin for a full symbol name.
fn lookup(symbol: &str) -> Option<Builtin> {
    let name = symbol
        .strip_prefix("__nv_")
        .or_else(|| symbol.strip_prefix("__ocml_"))
        .unwrap_or(symbol);
    if let Some(b) = builtin(name) {
        return Some(b);
    }
    for suffix in ["_f32", "_f64", "_f16", "f"] {
        if let Some(b) = name.strip_suffix(suffix).and_then(builtin) {
            return Some(b);
        }
    }
    None
}

/// Resolves `tt.extern_elementwise` with `symbol` on operands of `kinds`
/// producing `result`.
pub fn resolve(
    symbol: &str,
    kinds: &[ScalarKind],
    result: ScalarKind,
) -> Result<ElementwiseOp, String> {
    let builtin = lookup(symbol).ok_or_else(|| {
        format!("tt.extern_elementwise: unknown external function `{symbol}` (maiac maps the libdevice math functions)")
    })?;
    let first = *kinds
        .first()
        .ok_or_else(|| format!("tt.extern_elementwise `{symbol}` has no operands"))?;
    let float = || match first {
        ScalarKind::Float(ty) => Ok(ty),
        other => Err(format!("`{symbol}` expects float operands, got {other:?}")),
    };
    let int = || match first {
        ScalarKind::Int(w) => Ok(w),
        other => Err(format!(
            "`{symbol}` expects integer operands, got {other:?}"
        )),
    };
    let result_width = match result {
        ScalarKind::Int(w) => Some(w),
        _ => None,
    };
    let result_float = match result {
        ScalarKind::Float(ty) => Some(ty),
        _ => None,
    };
    Ok(match builtin {
        Builtin::Unary(op) => ElementwiseOp::FloatUnary { op, ty: float()? },
        Builtin::Binary(op) => {
            let ty = float()?;
            let directed = matches!(op, FloatBinaryOp::Directed(..));
            if directed && !matches!(ty, FloatType::F32 | FloatType::F64) {
                return Err(format!("`{symbol}` takes f32 or f64 operands, got {ty:?}"));
            }
            ElementwiseOp::Float { op, ty }
        }
        Builtin::Fma => ElementwiseOp::Fma { ty: float()? },
        Builtin::FloatInt(op) => ElementwiseOp::FloatInt {
            op,
            ty: float()?,
            width: match kinds.get(1) {
                Some(ScalarKind::Int(w)) => *w,
                other => {
                    return Err(format!(
                        "`{symbol}` takes an integer second operand, got {other:?}"
                    ))
                }
            },
        },
        Builtin::Class(class) => ElementwiseOp::FloatClass {
            class,
            ty: float()?,
            result_width: result_width.ok_or_else(|| format!("`{symbol}` returns an integer"))?,
        },
        Builtin::Int(op) => ElementwiseOp::Int { op, width: int()? },
        Builtin::Int32(op) => match int()? {
            32 => ElementwiseOp::Int { op, width: 32 },
            w => return Err(format!("`{symbol}` takes i32 operands, got i{w}")),
        },
        Builtin::IntAbs => ElementwiseOp::IntAbs { width: int()? },
        Builtin::Bits(op) => ElementwiseOp::Bit {
            op,
            width: int()?,
            result_width: result_width.ok_or_else(|| format!("`{symbol}` returns an integer"))?,
        },
        Builtin::Bitcast => {
            let bits = |k: ScalarKind| match k {
                ScalarKind::Int(w) => Some(w),
                ScalarKind::Float(ty) => Some(ty.bits()),
                ScalarKind::Ptr => None,
            };
            if bits(first).is_none() || bits(first) != bits(result) {
                return Err(format!(
                    "`{symbol}` reinterprets bits between types of one width, got {first:?} -> {result:?}"
                ));
            }
            ElementwiseOp::Identity
        }
        Builtin::FloatToInt { signed, rounding } => ElementwiseOp::FloatToInt {
            from: float()?,
            width: result_width.ok_or_else(|| format!("`{symbol}` returns an integer"))?,
            signed,
            rounding,
        },
        Builtin::IntToFloat { signed } => ElementwiseOp::IntToFloat {
            width: int()?,
            signed,
            to: result_float.ok_or_else(|| format!("`{symbol}` returns a float"))?,
        },
        Builtin::Narrow(rounding) => ElementwiseOp::FloatConvert {
            from: float()?,
            to: result_float.ok_or_else(|| format!("`{symbol}` returns a float"))?,
            rounding,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FloatType;

    const F32: ScalarKind = ScalarKind::Float(FloatType::F32);

    #[test]
    fn maps_rounding_conversions_and_directed_arithmetic() {
        let f64k = ScalarKind::Float(FloatType::F64);
        for (symbol, from, width, signed, rounding) in [
            ("__nv_float2int_rn", F32, 32, true, IntRounding::NearestEven),
            ("__nv_float2int_rd", F32, 32, true, IntRounding::Down),
            ("__nv_float2uint_ru", F32, 32, false, IntRounding::Up),
            ("__nv_float2ll_rz", F32, 64, true, IntRounding::TowardZero),
            (
                "__nv_double2ull_rn",
                f64k,
                64,
                false,
                IntRounding::NearestEven,
            ),
            ("__nv_llrintf", F32, 64, true, IntRounding::NearestEven),
            ("__nv_llround", f64k, 64, true, IntRounding::NearestAway),
        ] {
            let ScalarKind::Float(ty) = from else {
                unreachable!()
            };
            assert_eq!(
                resolve(symbol, &[from], ScalarKind::Int(width)),
                Ok(ElementwiseOp::FloatToInt {
                    from: ty,
                    width,
                    signed,
                    rounding
                }),
                "{symbol}"
            );
        }
        for (symbol, op) in [
            (
                "__nv_fadd_rz",
                FloatBinaryOp::Directed(DirectedOp::Add, Direction::TowardZero),
            ),
            (
                "__nv_dmul_ru",
                FloatBinaryOp::Directed(DirectedOp::Mul, Direction::Up),
            ),
            (
                "__nv_fdiv_rd",
                FloatBinaryOp::Directed(DirectedOp::Div, Direction::Down),
            ),
            ("__nv_fdimf", FloatBinaryOp::Fdim),
            ("__nv_remainderf", FloatBinaryOp::Remainder),
            ("__nv_rhypotf", FloatBinaryOp::Rhypot),
        ] {
            assert!(
                matches!(resolve(symbol, &[F32, F32], F32), Ok(ElementwiseOp::Float { op: got, .. }) if got == op),
                "{symbol}"
            );
        }
        for (symbol, op) in [
            ("__nv_saturatef", FloatUnaryOp::Saturate),
            ("__nv_logbf", FloatUnaryOp::Logb),
            ("__nv_fsqrt_ru", FloatUnaryOp::SqrtDirected(Direction::Up)),
            (
                "__nv_frcp_rz",
                FloatUnaryOp::RecipDirected(Direction::TowardZero),
            ),
            ("__nv_frsqrt_rn", FloatUnaryOp::Rsqrt),
            ("__nv_sinpif", FloatUnaryOp::Sinpi),
            ("__nv_cospi", FloatUnaryOp::Cospi),
        ] {
            assert!(
                matches!(resolve(symbol, &[F32], F32), Ok(ElementwiseOp::FloatUnary { op: got, .. }) if got == op),
                "{symbol}"
            );
        }
        let i32k = ScalarKind::Int(32);
        for (symbol, op) in [
            ("__nv_ldexpf", FloatIntOp::Ldexp),
            ("__nv_scalbnf", FloatIntOp::Ldexp),
            ("__nv_powif", FloatIntOp::Powi),
        ] {
            assert_eq!(
                resolve(symbol, &[F32, i32k], F32),
                Ok(ElementwiseOp::FloatInt {
                    op,
                    ty: FloatType::F32,
                    width: 32
                }),
                "{symbol}"
            );
        }
        assert!(resolve("__nv_ldexpf", &[F32, F32], F32).is_err());
        // directed arithmetic exists in f32 and f64 only
        let f16 = ScalarKind::Float(FloatType::F16);
        assert!(resolve("__nv_fadd_rz", &[f16, f16], f16).is_err());
        assert!(resolve("__nv_float2int_rx", &[F32], ScalarKind::Int(32)).is_err());
    }

    #[test]
    fn maps_common_triton_symbols() {
        for (symbol, op) in [
            ("__nv_expf", FloatUnaryOp::Exp),
            ("__nv_erff", FloatUnaryOp::Erf),
            ("__nv_erf", FloatUnaryOp::Erf),
            ("__nv_tanhf", FloatUnaryOp::Tanh),
            ("__nv_rsqrtf", FloatUnaryOp::Rsqrt),
            ("__nv_fast_expf", FloatUnaryOp::Exp),
            ("__ocml_exp_f32", FloatUnaryOp::Exp),
            ("__nv_frcp_rn", FloatUnaryOp::Recip),
        ] {
            assert_eq!(
                resolve(symbol, &[F32], F32),
                Ok(ElementwiseOp::FloatUnary {
                    op,
                    ty: FloatType::F32
                }),
                "{symbol}"
            );
        }
        assert_eq!(
            resolve("__nv_powf", &[F32, F32], F32),
            Ok(ElementwiseOp::Float {
                op: FloatBinaryOp::Pow,
                ty: FloatType::F32
            })
        );
        assert_eq!(
            resolve("__nv_isnanf", &[F32], ScalarKind::Int(32)),
            Ok(ElementwiseOp::FloatClass {
                class: FloatClass::IsNan,
                ty: FloatType::F32,
                result_width: 32
            })
        );
        assert_eq!(
            resolve(
                "__nv_umulhi",
                &[ScalarKind::Int(32); 2],
                ScalarKind::Int(32)
            ),
            Ok(ElementwiseOp::Int {
                op: IntBinaryOp::MulHiU,
                width: 32
            })
        );
    }

    #[test]
    fn maps_i32_averages_and_24_bit_products() {
        let i32k = ScalarKind::Int(32);
        let eval = |symbol: &str, a: i32, b: i32| {
            let op = resolve(symbol, &[i32k, i32k], i32k).unwrap();
            op.eval(&[u64::from(a as u32), u64::from(b as u32)]) as u32 as i32
        };
        assert_eq!(eval("__nv_hadd", i32::MAX, i32::MAX), i32::MAX);
        assert_eq!(eval("__nv_hadd", -3, 0), -2); // floor
        assert_eq!(eval("__nv_rhadd", -3, 0), -1);
        assert_eq!(eval("__nv_rhadd", i32::MIN, i32::MIN), i32::MIN);
        assert_eq!(eval("__nv_uhadd", -1, -1), -1); // 0xFFFFFFFF
        assert_eq!(eval("__nv_urhadd", -1, 0), i32::MIN); // 0x80000000
        assert_eq!(eval("__nv_mul24", 0x00FF_FFFF, 3), -3); // bit 23 is the sign
        assert_eq!(eval("__nv_mul24", 0x7F00_0002, 5), 10); // bits above 23 ignored
        assert_eq!(
            eval("__nv_umul24", 0x00FF_FFFF, 0x00FF_FFFF),
            0xFE00_0001u32 as i32
        );
        let i64k = ScalarKind::Int(64);
        assert!(resolve("__nv_hadd", &[i64k, i64k], i64k).is_err());
    }

    #[test]
    fn unknown_symbols_are_named() {
        let err = resolve("__nv_frobnicatef", &[F32], F32).unwrap_err();
        assert!(err.contains("__nv_frobnicatef"), "{err}");
        assert!(resolve("__nv_expf", &[ScalarKind::Int(32)], F32).is_err());
    }
}
