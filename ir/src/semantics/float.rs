//! Floating-point semantics on raw bits.
//!
//! - **f32 / f64**: IEEE 754 binary32/binary64 with round-to-nearest-even;
//!   `+ − × ÷ sqrt fma` are correctly rounded (Rust's native ops / `libm`'s
//!   `fma`), `rem` is C's exact `fmod`.
//! - **f16, bf16 and the fp8 formats**: operands are widened exactly to f32,
//!   the op is evaluated in f32 and the result rounded once to the type
//!   (nearest even, the format's own overflow and NaN rules, see
//!   [`crate::numerics`]). For `+ − × ÷ sqrt` this is still correctly rounded
//!   (f32 has more than twice the precision plus two bits). `fma` is
//!   evaluated exactly in f64 with round-to-odd and then rounded once, so it
//!   is correctly rounded too.
//! - **Transcendentals** (`exp`, `log`, `sin`, `tanh`, `erf`, …) use the
//!   pure-Rust `libm` crate: `expf` & co. for f32 (and for the narrow types,
//!   evaluated in f32 then rounded), `exp` & co. for f64. `libm` gives the
//!   same bits on every platform.
//! - **rsqrt** is `1.0 / sqrt(x)` evaluated in f64 and rounded to the type
//!   (for f64 itself: two f64 roundings).
//! - **NaN results** of arithmetic and math functions are the type's
//!   canonical quiet NaN ([`canonical_nan`]): positive, quiet bit set, zero
//!   payload, whatever the host CPU would do. Sign-bit ops (`negf`, `absf`)
//!   and moves (select, load/store, bitcast) keep NaN payloads.
//! - **min/max**: `maximumf`/`minimumf` propagate NaN (canonical NaN if
//!   either operand is NaN) and order `-0 < +0`; `maxnumf`/`minnumf` return
//!   the non-NaN operand when exactly one is NaN (canonical NaN when both
//!   are) and also order `-0 < +0`. The result is the chosen operand's bits.

use super::convert::{
    canonical_f32, canonical_f64, canonical_nan, f32_to_float_bits, f64_to_float_bits,
    float_to_f32, float_to_f64,
};
use super::directed::{self, DirectedOp, Direction};
use crate::types::FloatType;

/// `sin(πx)` (or `cos(πx)`): `x` reduced exactly to `r ∈ [−1/4, 1/4]`
/// around the nearest multiple of ½, so the values at multiples of ½ are
/// exact and the sign of a zero sine is `x`'s.
fn sin_cos_pi(x: f64, cosine: bool) -> f64 {
    if !x.is_finite() {
        return f64::NAN;
    }
    // x = k/2 + r exactly (k integer, |r| ≤ 1/4): 2x is exact, its nearest
    // integer too, and the difference is exact (Sterbenz).
    let k2 = libm::rint(2.0 * x);
    let r = x - 0.5 * k2;
    // sin(π(k/2 + r)) / cos(...) by the quadrant k mod 4 (cos = sin shifted by 1).
    let quadrant = ((k2 % 4.0 + 4.0) % 4.0) as u32 + u32::from(cosine);
    let pr = std::f64::consts::PI * r;
    let v = match quadrant % 4 {
        0 => libm::sin(pr),
        1 => libm::cos(pr),
        2 => -libm::sin(pr),
        _ => -libm::cos(pr),
    };
    if v == 0.0 {
        // An exact zero: sinpi keeps x's sign, cospi is +0.
        if cosine {
            0.0
        } else {
            0.0f64.copysign(x)
        }
    } else {
        v
    }
}

/// C `logb` on an exactly decoded value.
fn logb(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else if x.is_infinite() {
        f64::INFINITY
    } else {
        f64::from(libm::ilogb(x))
    }
}

/// Unary float ops.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FloatUnaryOp {
    Neg,
    Abs,
    Exp,
    Exp2,
    Exp10,
    Expm1,
    Log,
    Log2,
    Log10,
    Log1p,
    Sqrt,
    Rsqrt,
    Cbrt,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Erf,
    Erfc,
    Floor,
    Ceil,
    Trunc,
    /// Round half away from zero (C `round`).
    Round,
    /// Round half to even (C `rint` in the default mode).
    RoundEven,
    /// `1 / x`, correctly rounded.
    Recip,
    /// `ln |Γ(x)|`.
    Lgamma,
    /// `Γ(x)`.
    Tgamma,
    /// The inverse of `erf` on `[-1, 1]` (see [`erfinv`]).
    Erfinv,
    /// The inverse of `erfc` on `[0, 2]` (see [`erfcinv`]).
    Erfcinv,
    /// The standard normal CDF, `erfc(-x / √2) / 2`.
    Normcdf,
    /// Its inverse, `-√2 · erfcinv(2p)`.
    Normcdfinv,
    /// `1 / cbrt(x)`.
    Rcbrt,
    /// libdevice `saturatef`: clamped to `[+0, 1]`, NaN (and −0) → +0.
    Saturate,
    /// C `logb`: the unbiased exponent as a float (`−∞` for ±0, `+∞` for
    /// ±∞, NaN for NaN).
    Logb,
    /// `sin(πx)`, exact at integers (±0) and half-integers (±1).
    Sinpi,
    /// `cos(πx)`, exact at integers (±1) and half-integers (+0).
    Cospi,
    /// `√x` rounded in a direction (`fsqrt_rz/rd/ru`).
    SqrtDirected(Direction),
    /// `1 / x` rounded in a direction (`frcp_rz/rd/ru`).
    RecipDirected(Direction),
}

/// Binary float ops.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FloatBinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// C `fmod`: exact, sign of the dividend.
    Rem,
    /// NaN-propagating maximum, `-0 < +0`.
    Maximum,
    /// NaN-propagating minimum, `-0 < +0`.
    Minimum,
    /// NaN-ignoring maximum, `-0 < +0`.
    MaxNum,
    /// NaN-ignoring minimum, `-0 < +0`.
    MinNum,
    Pow,
    Atan2,
    Hypot,
    CopySign,
    /// C `nextafter`: the next representable value after `a` toward `b`,
    /// stepped in the operand type itself.
    NextAfter,
    /// C `fdim`: `a − b` when `a > b`, else `+0` (NaN if either is NaN).
    Fdim,
    /// IEEE `remainder`: `a − n·b` with `n = a / b` rounded to nearest even.
    Remainder,
    /// `1 / hypot(a, b)` (libdevice `rhypot`), in f64 rounded once.
    Rhypot,
    /// `+ − × ÷` rounded in a direction (`fadd_rz`, `fdiv_ru`, …; see
    /// [`super::directed`]).
    Directed(DirectedOp, Direction),
}

/// Float ops with an integer second operand (libdevice `ldexp`, `scalbn`,
/// `powi`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FloatIntOp {
    /// `a · 2ⁿ`, rounded once (C `ldexp` / `scalbn`).
    Ldexp,
    /// `aⁿ` (libdevice `powi`): `pow(a, n)` in f64, rounded once.
    Powi,
}

/// `op(a, n)`: `a` the bits of a `ty` value, `n` a `width`-bit integer
/// (signed).
pub fn float_int(op: FloatIntOp, ty: FloatType, a: u64, n: u64, width: u32) -> u64 {
    let n = super::int::sign_extend(n, width);
    let x = float_to_f64(a, ty);
    // Beyond ±100000 every finite nonzero result over- or underflows alike.
    let e = n.clamp(-100_000, 100_000) as i32;
    let r = match (op, ty) {
        (FloatIntOp::Ldexp, FloatType::F32) => {
            return u64::from(canonical_f32(libm::ldexpf(x as f32, e)).to_bits())
        }
        (FloatIntOp::Ldexp, FloatType::F64) => return canonical_f64(libm::ldexp(x, e)).to_bits(),
        // Narrow formats: exact in f64 unless it underflows f64, far below
        // every narrow format's range.
        (FloatIntOp::Ldexp, _) => libm::ldexp(x, e),
        (FloatIntOp::Powi, _) => libm::pow(x, n as f64),
    };
    f64_to_float_bits(canonical_f64(r), ty)
}

/// The sign bit of a float type.
#[inline]
pub fn sign_bit(ty: FloatType) -> u64 {
    1u64 << (ty.bits() - 1)
}

/// Whether the type has no negative zero and encodes its single NaN as the
/// negative-zero pattern (the `FNUZ` fp8 formats).
#[inline]
fn is_fnuz(ty: FloatType) -> bool {
    matches!(ty, FloatType::F8E4M3FNUZ | FloatType::F8E5M2FNUZ)
}

/// `negf`: flips the sign bit (NaN payloads kept). In the FNUZ formats, where
/// the sign-bit-only pattern is NaN, zero and NaN are their own negation.
#[inline]
pub fn negate(ty: FloatType, a: u64) -> u64 {
    if is_fnuz(ty) && a & !sign_bit(ty) == 0 {
        return a;
    }
    a ^ sign_bit(ty)
}

/// `absf`: clears the sign bit (NaN payloads kept; FNUZ NaN stays NaN).
#[inline]
pub fn absolute(ty: FloatType, a: u64) -> u64 {
    if is_fnuz(ty) && a == sign_bit(ty) {
        return a;
    }
    a & !sign_bit(ty)
}

/// Evaluates a unary float op.
pub fn float_unary(op: FloatUnaryOp, ty: FloatType, a: u64) -> u64 {
    match op {
        FloatUnaryOp::Neg => negate(ty, a),
        FloatUnaryOp::Abs => absolute(ty, a),
        FloatUnaryOp::Rsqrt => {
            let r = 1.0 / float_to_f64(a, ty).sqrt();
            f64_to_float_bits(canonical_f64(r), ty)
        }
        FloatUnaryOp::SqrtDirected(dir) => directed::directed_sqrt(dir, ty, a),
        FloatUnaryOp::RecipDirected(dir) => directed::directed_recip(dir, ty, a),
        _ => match ty {
            FloatType::F64 => canonical_f64(unary_f64(op, f64::from_bits(a))).to_bits(),
            FloatType::F32 => {
                u64::from(canonical_f32(unary_f32(op, f32::from_bits(a as u32))).to_bits())
            }
            narrow => f32_to_float_bits(
                canonical_f32(unary_f32(op, float_to_f32(a, narrow))),
                narrow,
            ),
        },
    }
}

fn unary_f32(op: FloatUnaryOp, x: f32) -> f32 {
    use FloatUnaryOp::*;
    match op {
        Neg => -x,
        Abs => x.abs(),
        Exp => libm::expf(x),
        Exp2 => libm::exp2f(x),
        Exp10 => libm::exp10f(x),
        Expm1 => libm::expm1f(x),
        Log => libm::logf(x),
        Log2 => libm::log2f(x),
        Log10 => libm::log10f(x),
        Log1p => libm::log1pf(x),
        Sqrt => libm::sqrtf(x),
        Rsqrt => (1.0 / f64::from(x).sqrt()) as f32,
        Cbrt => libm::cbrtf(x),
        Sin => libm::sinf(x),
        Cos => libm::cosf(x),
        Tan => libm::tanf(x),
        Asin => libm::asinf(x),
        Acos => libm::acosf(x),
        Atan => libm::atanf(x),
        Sinh => libm::sinhf(x),
        Cosh => libm::coshf(x),
        Tanh => libm::tanhf(x),
        Asinh => libm::asinhf(x),
        Acosh => libm::acoshf(x),
        Atanh => libm::atanhf(x),
        Erf => libm::erff(x),
        Erfc => libm::erfcf(x),
        Floor => libm::floorf(x),
        Ceil => libm::ceilf(x),
        Trunc => libm::truncf(x),
        Round => libm::roundf(x),
        RoundEven => libm::rintf(x),
        Recip => 1.0 / x,
        Lgamma => libm::lgammaf(x),
        Tgamma => libm::tgammaf(x),
        Erfinv => erfinv(f64::from(x)) as f32,
        Erfcinv => erfcinv(f64::from(x)) as f32,
        Normcdf => normcdf(f64::from(x)) as f32,
        Normcdfinv => normcdfinv(f64::from(x)) as f32,
        Rcbrt => (1.0 / libm::cbrt(f64::from(x))) as f32,
        Saturate => {
            if x > 0.0 {
                x.min(1.0)
            } else {
                0.0
            }
        }
        Logb => logb(f64::from(x)) as f32,
        Sinpi => sin_cos_pi(f64::from(x), false) as f32,
        Cospi => sin_cos_pi(f64::from(x), true) as f32,
        SqrtDirected(_) | RecipDirected(_) => unreachable!("directed ops round in float_unary"),
    }
}

fn unary_f64(op: FloatUnaryOp, x: f64) -> f64 {
    use FloatUnaryOp::*;
    match op {
        Neg => -x,
        Abs => x.abs(),
        Exp => libm::exp(x),
        Exp2 => libm::exp2(x),
        Exp10 => libm::exp10(x),
        Expm1 => libm::expm1(x),
        Log => libm::log(x),
        Log2 => libm::log2(x),
        Log10 => libm::log10(x),
        Log1p => libm::log1p(x),
        Sqrt => libm::sqrt(x),
        Rsqrt => 1.0 / libm::sqrt(x),
        Cbrt => libm::cbrt(x),
        Sin => libm::sin(x),
        Cos => libm::cos(x),
        Tan => libm::tan(x),
        Asin => libm::asin(x),
        Acos => libm::acos(x),
        Atan => libm::atan(x),
        Sinh => libm::sinh(x),
        Cosh => libm::cosh(x),
        Tanh => libm::tanh(x),
        Asinh => libm::asinh(x),
        Acosh => libm::acosh(x),
        Atanh => libm::atanh(x),
        Erf => libm::erf(x),
        Erfc => libm::erfc(x),
        Floor => libm::floor(x),
        Ceil => libm::ceil(x),
        Trunc => libm::trunc(x),
        Round => libm::round(x),
        RoundEven => libm::rint(x),
        Recip => 1.0 / x,
        Lgamma => libm::lgamma(x),
        Tgamma => libm::tgamma(x),
        Erfinv => erfinv(x),
        Erfcinv => erfcinv(x),
        Normcdf => normcdf(x),
        Normcdfinv => normcdfinv(x),
        Rcbrt => 1.0 / libm::cbrt(x),
        Saturate => {
            if x > 0.0 {
                x.min(1.0)
            } else {
                0.0
            }
        }
        Logb => logb(x),
        Sinpi => sin_cos_pi(x, false),
        Cospi => sin_cos_pi(x, true),
        SqrtDirected(_) | RecipDirected(_) => unreachable!("directed ops round in float_unary"),
    }
}

/// The inverse error function in f64: Giles' single-precision
/// approximation ("Approximating the erfinv function", 2010) refined by
/// Newton steps on `erf` (on `erfc` against the exact `1 - |x|` above 0.5,
/// where `erf` has no bits left). `±1 → ±∞`, `|x| > 1` and NaN → NaN,
/// `±0 → ±0`.
pub fn erfinv(x: f64) -> f64 {
    let a = x.abs();
    if x.is_nan() || a > 1.0 {
        return f64::NAN;
    }
    if a == 1.0 {
        return f64::INFINITY.copysign(x);
    }
    if a == 0.0 {
        return x;
    }
    erfinv_core(a, 1.0 - a).copysign(x)
}

/// `erfcinv(y) = erfinv(1 - y)`, computed from `y` itself so that small
/// `y` (the far tail) keeps its precision. `0 → +∞`, `2 → −∞`, outside
/// `[0, 2]` and NaN → NaN.
pub fn erfcinv(y: f64) -> f64 {
    if y.is_nan() || !(0.0..=2.0).contains(&y) {
        return f64::NAN;
    }
    if y == 0.0 {
        return f64::INFINITY;
    }
    if y == 2.0 {
        return f64::NEG_INFINITY;
    }
    if y == 1.0 {
        return 0.0;
    }
    if y < 1.0 {
        erfinv_core(1.0 - y, y)
    } else {
        -erfinv_core(y - 1.0, 2.0 - y)
    }
}

/// The standard normal CDF in f64.
pub fn normcdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// The standard normal quantile in f64.
pub fn normcdfinv(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfcinv(2.0 * p)
}

/// `erfinv(a)` for `0 < a < 1` given `tail = 1 - a` (exact, or the
/// caller's more precise value).
fn erfinv_core(a: f64, tail: f64) -> f64 {
    let w = -libm::log(tail * (2.0 - tail));
    let mut y = if w > 40.0 {
        // far tail (1 - a < 1e-17), beyond the single-precision fit: the
        // asymptotic erfc(y) ~ exp(-y^2) / (y sqrt(pi)) solved to first order
        let l = -libm::log(tail);
        libm::sqrt(l - 0.5 * libm::log(std::f64::consts::PI * l))
    } else if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
        p * a
    } else {
        let w = libm::sqrt(w) - 3.0;
        let mut p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
        p * a
    };
    // d/dy erf(y) = 2/sqrt(pi) * exp(-y^2). Above 0.5 the step solves
    // ln erfc(y) = ln(1 - |x|) (nearly linear in y where erfc falls off
    // fastest, so a few steps converge from the single-precision start).
    const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
    for _ in 0..8 {
        let slope = TWO_OVER_SQRT_PI * libm::exp(-y * y);
        let step = if a > 0.5 {
            let e = libm::erfc(y);
            if e == 0.0 {
                break;
            }
            -(libm::log(e) - libm::log(tail)) * e / slope
        } else {
            (libm::erf(y) - a) / slope
        };
        if !step.is_finite() {
            break;
        }
        y -= step;
        if step.abs() <= f64::EPSILON * y.abs() {
            break;
        }
    }
    y
}

/// `nextafter` on the bits of a sign-magnitude IEEE-style format.
pub(super) fn next_after(ty: FloatType, a: u64, b: u64) -> u64 {
    let (x, y) = (float_to_f64(a, ty), float_to_f64(b, ty));
    if x.is_nan() || y.is_nan() {
        return canonical_nan(ty);
    }
    if x == y {
        return b;
    }
    let sign = sign_bit(ty);
    if x == 0.0 {
        // the smallest subnormal, with the sign of the direction
        return 1 | if y < 0.0 { sign } else { 0 };
    }
    // away from zero: magnitude + 1; toward zero: magnitude - 1
    if (y > x) == (x > 0.0) {
        a + 1
    } else {
        a - 1
    }
}

/// Evaluates a binary float op.
pub fn float_binary(op: FloatBinaryOp, ty: FloatType, a: u64, b: u64) -> u64 {
    use FloatBinaryOp::*;
    match op {
        Maximum | Minimum | MaxNum | MinNum => return min_max(op, ty, a, b),
        CopySign => return absolute(ty, a) | (b & sign_bit(ty)),
        NextAfter => return next_after(ty, a, b),
        Directed(op, dir) => return directed::directed_binary(op, dir, ty, a, b),
        _ => {}
    }
    match ty {
        FloatType::F64 => {
            canonical_f64(binary_f64(op, f64::from_bits(a), f64::from_bits(b))).to_bits()
        }
        FloatType::F32 => u64::from(
            canonical_f32(binary_f32(
                op,
                f32::from_bits(a as u32),
                f32::from_bits(b as u32),
            ))
            .to_bits(),
        ),
        narrow => {
            let r = binary_f32(op, float_to_f32(a, narrow), float_to_f32(b, narrow));
            f32_to_float_bits(canonical_f32(r), narrow)
        }
    }
}

fn binary_f32(op: FloatBinaryOp, x: f32, y: f32) -> f32 {
    use FloatBinaryOp::*;
    match op {
        Add => x + y,
        Sub => x - y,
        Mul => x * y,
        Div => x / y,
        Rem => libm::fmodf(x, y),
        Pow => libm::powf(x, y),
        Atan2 => libm::atan2f(x, y),
        Hypot => libm::hypotf(x, y),
        NextAfter => libm::nextafterf(x, y),
        CopySign => libm::copysignf(x, y),
        Fdim => libm::fdimf(x, y),
        Remainder => libm::remainderf(x, y),
        Rhypot => (1.0 / libm::hypot(f64::from(x), f64::from(y))) as f32,
        Directed(..) => unreachable!("directed ops round in float_binary"),
        Maximum | Minimum | MaxNum | MinNum => {
            unreachable!("min/max are evaluated on bits by min_max")
        }
    }
}

fn binary_f64(op: FloatBinaryOp, x: f64, y: f64) -> f64 {
    use FloatBinaryOp::*;
    match op {
        Add => x + y,
        Sub => x - y,
        Mul => x * y,
        Div => x / y,
        Rem => libm::fmod(x, y),
        Pow => libm::pow(x, y),
        Atan2 => libm::atan2(x, y),
        Hypot => libm::hypot(x, y),
        NextAfter => libm::nextafter(x, y),
        CopySign => libm::copysign(x, y),
        Fdim => libm::fdim(x, y),
        Remainder => libm::remainder(x, y),
        Rhypot => 1.0 / libm::hypot(x, y),
        Directed(..) => unreachable!("directed ops round in float_binary"),
        Maximum | Minimum | MaxNum | MinNum => {
            unreachable!("min/max are evaluated on bits by min_max")
        }
    }
}

fn min_max(op: FloatBinaryOp, ty: FloatType, a: u64, b: u64) -> u64 {
    use FloatBinaryOp::*;
    let (x, y) = (float_to_f64(a, ty), float_to_f64(b, ty));
    match (x.is_nan(), y.is_nan()) {
        (true, true) => return canonical_nan(ty),
        (true, false) | (false, true) if matches!(op, Maximum | Minimum) => {
            return canonical_nan(ty)
        }
        (true, false) => return b,
        (false, true) => return a,
        (false, false) => {}
    }
    // Total order on non-NaN values with -0 < +0.
    let x_first = if x == y {
        x.is_sign_negative() && !y.is_sign_negative()
    } else {
        x < y
    };
    let want_max = matches!(op, Maximum | MaxNum);
    match (want_max, x_first) {
        (true, true) | (false, false) => b,
        (true, false) | (false, true) => a,
    }
}

/// `math.fma`: `a × b + c` with a single rounding.
pub fn fma(ty: FloatType, a: u64, b: u64, c: u64) -> u64 {
    match ty {
        FloatType::F64 => canonical_f64(libm::fma(
            f64::from_bits(a),
            f64::from_bits(b),
            f64::from_bits(c),
        ))
        .to_bits(),
        FloatType::F32 => u64::from(
            canonical_f32(libm::fmaf(
                f32::from_bits(a as u32),
                f32::from_bits(b as u32),
                f32::from_bits(c as u32),
            ))
            .to_bits(),
        ),
        narrow => {
            // The product of two ≤ 24-bit significands is exact in f64; the
            // sum is rounded to odd so the final rounding to the narrow type
            // is correct (53 ≥ 24 + 2).
            let product = float_to_f64(a, narrow) * float_to_f64(b, narrow);
            let sum = add_round_to_odd(product, float_to_f64(c, narrow));
            f64_to_float_bits(canonical_f64(sum), narrow)
        }
    }
}

/// `x + y` rounded to odd in f64: if the exact sum is not representable, the
/// result is the neighbouring f64 with an odd significand.
fn add_round_to_odd(x: f64, y: f64) -> f64 {
    let s = x + y;
    if !s.is_finite() || !x.is_finite() || !y.is_finite() {
        return s;
    }
    // Knuth's TwoSum: s + err == x + y exactly.
    let bp = s - x;
    let err = (x - (s - bp)) + (y - bp);
    if err == 0.0 || s.to_bits() & 1 == 1 {
        return s;
    }
    // s was rounded to an even neighbour: step one ulp towards the exact
    // value s + err (s is not zero here: a sum that rounds to zero is exact).
    let bits = s.to_bits();
    let away_from_zero = (err > 0.0) == (s > 0.0);
    f64::from_bits(if away_from_zero { bits + 1 } else { bits - 1 })
}

/// `tt.clampf`: `min(max(x, lo), hi)`; with `propagate_nan` a NaN `x` gives
/// NaN (canonical), otherwise the NaN-ignoring `maxnumf`/`minnumf` are used.
pub fn clamp(ty: FloatType, x: u64, lo: u64, hi: u64, propagate_nan: bool) -> u64 {
    let (max_op, min_op) = if propagate_nan {
        (FloatBinaryOp::Maximum, FloatBinaryOp::Minimum)
    } else {
        (FloatBinaryOp::MaxNum, FloatBinaryOp::MinNum)
    };
    let lower = float_binary(max_op, ty, x, lo);
    float_binary(min_op, ty, lower, hi)
}

/// `arith.cmpf` predicates: `o*` are false when either operand is NaN, `u*`
/// are true when either is NaN.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FloatPredicate {
    False,
    Oeq,
    Ogt,
    Oge,
    Olt,
    Ole,
    One,
    Ord,
    Ueq,
    Ugt,
    Uge,
    Ult,
    Ule,
    Une,
    Uno,
    True,
}

impl FloatPredicate {
    /// From MLIR's keyword (`olt`, ...).
    pub fn from_keyword(name: &str) -> Option<FloatPredicate> {
        use FloatPredicate::*;
        Some(match name {
            "false" => False,
            "oeq" => Oeq,
            "ogt" => Ogt,
            "oge" => Oge,
            "olt" => Olt,
            "ole" => Ole,
            "one" => One,
            "ord" => Ord,
            "ueq" => Ueq,
            "ugt" => Ugt,
            "uge" => Uge,
            "ult" => Ult,
            "ule" => Ule,
            "une" => Une,
            "uno" => Uno,
            "true" => True,
            _ => return None,
        })
    }
}

/// `arith.cmpf` (IEEE comparison: `-0 == +0`).
#[inline]
pub fn cmp_float(pred: FloatPredicate, ty: FloatType, a: u64, b: u64) -> bool {
    use FloatPredicate::*;
    let (x, y) = (float_to_f64(a, ty), float_to_f64(b, ty));
    let unordered = x.is_nan() || y.is_nan();
    match pred {
        False => false,
        True => true,
        Ord => !unordered,
        Uno => unordered,
        Oeq => !unordered && x == y,
        Ogt => !unordered && x > y,
        Oge => !unordered && x >= y,
        Olt => !unordered && x < y,
        Ole => !unordered && x <= y,
        One => !unordered && x != y,
        Ueq => unordered || x == y,
        Ugt => unordered || x > y,
        Uge => unordered || x >= y,
        Ult => unordered || x < y,
        Ule => unordered || x <= y,
        Une => unordered || x != y,
    }
}

#[cfg(test)]
mod tests {
    use super::FloatBinaryOp::*;
    use super::*;

    #[test]
    fn sinpi_cospi_are_exact_at_multiples_of_a_half() {
        let f = |op, x: f32| {
            f32::from_bits(float_unary(op, FloatType::F32, u64::from(x.to_bits())) as u32)
        };
        use FloatUnaryOp::{Cospi, Sinpi};
        assert_eq!(f(Sinpi, 0.5), 1.0);
        assert_eq!(f(Sinpi, -1.5), 1.0);
        assert_eq!(f(Sinpi, 3.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(f(Sinpi, -2.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f(Cospi, 1.0), -1.0);
        assert_eq!(f(Cospi, 2.5).to_bits(), 0.0f32.to_bits());
        assert_eq!(f(Cospi, -7.5).to_bits(), 0.0f32.to_bits());
        assert_eq!(f(Sinpi, 0.25), (std::f64::consts::FRAC_1_SQRT_2) as f32);
        assert!((f(Sinpi, 1e6 + 0.25) - f(Sinpi, 0.25)).abs() <= f32::EPSILON);
        assert!(f(Cospi, f32::INFINITY).is_nan());
    }

    const F32: FloatType = FloatType::F32;

    fn b32(x: f32) -> u64 {
        u64::from(x.to_bits())
    }

    fn f(bits: u64) -> f32 {
        f32::from_bits(bits as u32)
    }

    #[test]
    fn f32_arithmetic_is_ieee() {
        assert_eq!(
            float_binary(Add, F32, b32(0.1), b32(0.2)),
            b32(0.1f32 + 0.2f32)
        );
        assert_eq!(
            float_binary(Div, F32, b32(1.0), b32(0.0)),
            b32(f32::INFINITY)
        );
        assert_eq!(
            float_binary(Div, F32, b32(-1.0), b32(0.0)),
            b32(f32::NEG_INFINITY)
        );
        assert_eq!(float_binary(Rem, F32, b32(-7.5), b32(2.0)), b32(-1.5));
        assert_eq!(float_binary(Add, F32, b32(-0.0), b32(-0.0)), b32(-0.0));
        assert_eq!(float_binary(Add, F32, b32(-0.0), b32(0.0)), b32(0.0));
    }

    #[test]
    fn nan_results_are_canonical() {
        let payload_nan = 0x7FA0_0001u64;
        assert_eq!(float_binary(Add, F32, payload_nan, b32(1.0)), 0x7FC0_0000);
        assert_eq!(float_binary(Div, F32, b32(0.0), b32(0.0)), 0x7FC0_0000);
        assert_eq!(float_unary(FloatUnaryOp::Sqrt, F32, b32(-1.0)), 0x7FC0_0000);
        assert_eq!(float_unary(FloatUnaryOp::Log, F32, b32(-1.0)), 0x7FC0_0000);
        // Sign ops keep the payload.
        assert_eq!(
            float_unary(FloatUnaryOp::Neg, F32, payload_nan),
            0xFFA0_0001
        );
        assert_eq!(
            float_unary(FloatUnaryOp::Abs, F32, 0xFFA0_0001),
            payload_nan
        );
        assert_eq!(
            float_binary(Mul, FloatType::F64, 0xFFF0_0000_0000_0001, 0),
            0x7FF8_0000_0000_0000
        );
    }

    #[test]
    fn min_max_nan_and_signed_zero() {
        let nan = b32(f32::NAN);
        assert_eq!(float_binary(Maximum, F32, nan, b32(1.0)), 0x7FC0_0000);
        assert_eq!(float_binary(Minimum, F32, b32(1.0), nan), 0x7FC0_0000);
        assert_eq!(float_binary(MaxNum, F32, nan, b32(1.0)), b32(1.0));
        assert_eq!(float_binary(MinNum, F32, b32(1.0), nan), b32(1.0));
        assert_eq!(float_binary(MaxNum, F32, nan, nan), 0x7FC0_0000);
        assert_eq!(float_binary(Maximum, F32, b32(-0.0), b32(0.0)), b32(0.0));
        assert_eq!(float_binary(Maximum, F32, b32(0.0), b32(-0.0)), b32(0.0));
        assert_eq!(float_binary(Minimum, F32, b32(0.0), b32(-0.0)), b32(-0.0));
        assert_eq!(float_binary(MinNum, F32, b32(-0.0), b32(0.0)), b32(-0.0));
        assert_eq!(float_binary(MaxNum, F32, b32(-3.0), b32(2.0)), b32(2.0));
        assert_eq!(
            float_binary(Minimum, F32, b32(f32::NEG_INFINITY), b32(2.0)),
            b32(f32::NEG_INFINITY)
        );
    }

    #[test]
    fn comparisons() {
        let nan = b32(f32::NAN);
        assert!(cmp_float(FloatPredicate::Oeq, F32, b32(0.0), b32(-0.0)));
        assert!(!cmp_float(FloatPredicate::Oeq, F32, nan, nan));
        assert!(cmp_float(FloatPredicate::Une, F32, nan, nan));
        assert!(cmp_float(FloatPredicate::Ult, F32, nan, b32(1.0)));
        assert!(!cmp_float(FloatPredicate::Olt, F32, nan, b32(1.0)));
        assert!(cmp_float(FloatPredicate::Uno, F32, b32(1.0), nan));
        assert!(!cmp_float(FloatPredicate::One, F32, b32(1.0), b32(1.0)));
        assert!(cmp_float(FloatPredicate::True, F32, nan, nan));
        assert!(!cmp_float(FloatPredicate::False, F32, b32(1.0), b32(1.0)));
    }

    #[test]
    fn transcendentals_and_rsqrt() {
        assert_eq!(f(float_unary(FloatUnaryOp::Exp, F32, b32(0.0))), 1.0);
        assert_eq!(f(float_unary(FloatUnaryOp::Log2, F32, b32(8.0))), 3.0);
        assert_eq!(f(float_unary(FloatUnaryOp::Rsqrt, F32, b32(4.0))), 0.5);
        assert_eq!(
            f(float_unary(FloatUnaryOp::Rsqrt, F32, b32(0.0))),
            f32::INFINITY
        );
        assert_eq!(
            f(float_unary(FloatUnaryOp::Rsqrt, F32, b32(-0.0))),
            f32::NEG_INFINITY
        );
        assert_eq!(
            float_unary(FloatUnaryOp::Rsqrt, F32, b32(-4.0)),
            0x7FC0_0000
        );
        assert!((f(float_unary(FloatUnaryOp::Erf, F32, b32(1.0))) - 0.842_700_8).abs() < 1e-6);
        assert_eq!(f(float_unary(FloatUnaryOp::Tanh, F32, b32(100.0))), 1.0);
        assert_eq!(f(float_unary(FloatUnaryOp::Floor, F32, b32(-1.5))), -2.0);
        assert_eq!(f(float_unary(FloatUnaryOp::RoundEven, F32, b32(2.5))), 2.0);
        assert_eq!(f(float_unary(FloatUnaryOp::Round, F32, b32(2.5))), 3.0);
    }

    #[test]
    fn narrow_types_round_once() {
        let f16 = FloatType::F16;
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10 in f16: ties to even → 1.
        let one = 0x3C00;
        let half_ulp = 0x1000; // 2^-11
        assert_eq!(float_binary(Add, f16, one, half_ulp), one);
        // f16 max + max overflows to inf.
        assert_eq!(float_binary(Add, f16, 0x7BFF, 0x7BFF), 0x7C00);
        assert_eq!(float_binary(Mul, FloatType::BF16, 0x4000, 0x4040), 0x40C0); // 2 * 3 = 6
        assert_eq!(float_binary(Div, f16, 0, 0), canonical_nan(f16));
    }

    #[test]
    fn fnuz_sign_ops_respect_the_missing_negative_zero() {
        let ty = FloatType::F8E4M3FNUZ;
        assert_eq!(negate(ty, 0x00), 0x00);
        assert_eq!(negate(ty, 0x80), 0x80);
        assert_eq!(negate(ty, 0x38), 0xB8);
        assert_eq!(absolute(ty, 0x80), 0x80);
        assert_eq!(absolute(ty, 0xB8), 0x38);
        assert_eq!(negate(FloatType::F8E4M3FN, 0x00), 0x80);
    }

    #[test]
    fn fma_rounds_once() {
        // f32: (1 + 2^-12)^2 - 1 keeps its 2^-24 tail only with a single rounding.
        let a = b32(1.0 + 2f32.powi(-12));
        let fused = f(fma(F32, a, a, b32(-1.0)));
        assert_eq!(fused, 2f32.powi(-11) + 2f32.powi(-24));
        // f16: x*y+z where the double-rounded result would differ.
        let f16 = FloatType::F16;
        let x = 0x3C01; // 1 + 2^-10
        let r = fma(f16, x, x, 0x3C00); // (1+2^-10)^2 + 1 = 2 + 2^-9 + 2^-20
                                        // Exactly representable part 2 + 2^-9 = 0x4001; the 2^-20 tail rounds down.
        assert_eq!(r, 0x4001);
        assert_eq!(
            add_round_to_odd(1.0, 1e-30),
            f64::from_bits(1.0f64.to_bits() + 1)
        );
        assert_eq!(
            add_round_to_odd(1.0, -1e-30),
            f64::from_bits(1.0f64.to_bits() - 1)
        );
        assert_eq!(add_round_to_odd(1.0, 1.0), 2.0);
    }

    #[test]
    fn clamp_with_and_without_nan_propagation() {
        let nan = b32(f32::NAN);
        assert_eq!(clamp(F32, b32(5.0), b32(0.0), b32(1.0), false), b32(1.0));
        assert_eq!(clamp(F32, b32(-5.0), b32(0.0), b32(1.0), true), b32(0.0));
        assert_eq!(clamp(F32, nan, b32(0.0), b32(1.0), true), 0x7FC0_0000);
        assert_eq!(clamp(F32, nan, b32(0.0), b32(1.0), false), b32(0.0));
    }

    #[test]
    fn erfinv_inverts_erf() {
        for &x in &[
            1e-300,
            1e-8,
            0.1,
            0.4999,
            0.5,
            0.5001,
            0.9,
            0.999,
            1.0 - 1e-12,
            1.0 - 1e-16,
        ] {
            let y = erfinv(x);
            let back = if x > 0.5 {
                1.0 - libm::erfc(y)
            } else {
                libm::erf(y)
            };
            assert!(
                (back - x).abs() <= 4.0 * f64::EPSILON * x,
                "erfinv({x}) = {y}"
            );
            assert_eq!(erfinv(-x), -y);
        }
        assert_eq!(erfinv(1.0), f64::INFINITY);
        assert_eq!(erfinv(-1.0), f64::NEG_INFINITY);
        assert!(erfinv(1.5).is_nan() && erfinv(f64::NAN).is_nan());
        assert_eq!(erfinv(-0.0).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn erfcinv_keeps_the_far_tail() {
        for &y in &[1e-300, 1e-100, 1e-20, 0.01, 0.7, 1.3, 1.99, 2.0 - 1e-12] {
            let x = erfcinv(y);
            let back = libm::erfc(x);
            assert!(
                (back - y).abs() <= 1e-13 * y,
                "erfcinv({y}) = {x}, erfc of it {back}"
            );
        }
        assert_eq!(erfcinv(0.0), f64::INFINITY);
        assert_eq!(erfcinv(2.0), f64::NEG_INFINITY);
        assert!(erfcinv(-0.5).is_nan() && erfcinv(2.5).is_nan());
        assert!((normcdfinv(0.975) - 1.959_963_984_540_054).abs() < 1e-14);
        assert!((normcdf(1.959_963_984_540_054) - 0.975).abs() < 1e-15);
    }

    #[test]
    fn nextafter_steps_one_ulp_of_the_type() {
        let nan = b32(f32::NAN);
        assert_eq!(
            float_binary(NextAfter, F32, b32(1.0), b32(2.0)),
            b32(1.0 + f32::EPSILON)
        );
        assert_eq!(
            float_binary(NextAfter, F32, b32(-1.0), b32(0.0)),
            b32(-1.0 + f32::EPSILON / 2.0)
        );
        assert_eq!(
            float_binary(NextAfter, F32, b32(0.0), b32(-1.0)),
            0x8000_0001
        );
        assert_eq!(float_binary(NextAfter, F32, b32(3.0), b32(3.0)), b32(3.0));
        // f16: 1.0 = 0x3C00, the next value up is 0x3C01
        assert_eq!(
            float_binary(NextAfter, FloatType::F16, 0x3C00, 0x4000),
            0x3C01
        );
        assert_eq!(float_binary(NextAfter, F32, nan, b32(1.0)), 0x7FC0_0000);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// The exact result of `op` on two narrow-format values, rounded once by
    /// an independent implementation (`half`): sums, differences and
    /// products of f16/bf16 values are exact in f64, and f64 quotients are
    /// correctly rounded with enough spare bits for one more rounding.
    fn reference(op: FloatBinaryOp, ty: FloatType, a: u64, b: u64) -> u64 {
        let decode = |bits: u64| match ty {
            FloatType::F16 => half::f16::from_bits(bits as u16).to_f64(),
            _ => half::bf16::from_bits(bits as u16).to_f64(),
        };
        let (x, y) = (decode(a), decode(b));
        let exact = match op {
            FloatBinaryOp::Add => x + y,
            FloatBinaryOp::Sub => x - y,
            FloatBinaryOp::Mul => x * y,
            _ => x / y,
        };
        if exact.is_nan() {
            return canonical_nan(ty);
        }
        match ty {
            FloatType::F16 => u64::from(half::f16::from_f64(exact).to_bits()),
            _ => u64::from(half::bf16::from_f64(exact).to_bits()),
        }
    }

    proptest! {
        #[test]
        fn narrow_arithmetic_is_correctly_rounded(a in 0u64..0x10000, b in 0u64..0x10000, op_index in 0usize..4, bf16 in any::<bool>()) {
            let ty = if bf16 { FloatType::BF16 } else { FloatType::F16 };
            let op = [FloatBinaryOp::Add, FloatBinaryOp::Sub, FloatBinaryOp::Mul, FloatBinaryOp::Div][op_index];
            prop_assert_eq!(float_binary(op, ty, a, b), reference(op, ty, a, b));
        }

        #[test]
        fn f32_arithmetic_matches_the_host(a in any::<u32>(), b in any::<u32>()) {
            let (x, y) = (f32::from_bits(a), f32::from_bits(b));
            let expect = |r: f32| u64::from(canonical_f32(r).to_bits());
            prop_assert_eq!(float_binary(FloatBinaryOp::Add, FloatType::F32, u64::from(a), u64::from(b)), expect(x + y));
            prop_assert_eq!(float_binary(FloatBinaryOp::Mul, FloatType::F32, u64::from(a), u64::from(b)), expect(x * y));
            prop_assert_eq!(float_binary(FloatBinaryOp::Div, FloatType::F32, u64::from(a), u64::from(b)), expect(x / y));
        }
    }
}
