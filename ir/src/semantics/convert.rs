//! Conversions: between float formats, integer ↔ float, and the canonical
//! NaN of each format.
//!
//! - **float → float** (`arith.extf`, `arith.truncf`, `tt.fp_to_fp`): the
//!   source is decoded exactly (every supported format fits in f64), then
//!   rounded once to the target with the requested [`Rounding`] and the
//!   target format's overflow and NaN rules ([`crate::numerics`], with
//!   [`Overflow::FormatRule`]). A NaN source gives the target's canonical
//!   NaN.
//! - **int → float** (`arith.sitofp`, `arith.uitofp`): round to nearest even,
//!   exactly once (wide integers are first rounded to odd in f64, which makes
//!   the final rounding to a ≤ 24-bit significand exact-once).
//! - **float → int** (`arith.fptosi`, `arith.fptoui`): truncate toward zero
//!   and saturate to the integer range; NaN gives 0 (Rust's `as`).

use super::int::{mask, sign_extend};
use crate::numerics::{FloatFormat, Overflow};
use crate::types::FloatType;

/// Rounding of a narrowing float conversion (nearest even, or toward zero
/// for `rounding = rtz`); shared with [`crate::numerics`].
pub use crate::numerics::Rounding;

/// The canonical quiet NaN of a format: positive, quiet bit set, zero
/// payload (`0x7FC00000` for f32); `0x7F` for f8E4M3FN, `0x80` for the FNUZ
/// formats (their only NaN).
pub fn canonical_nan(ty: FloatType) -> u64 {
    match ty {
        FloatType::F32 => 0x7FC0_0000,
        FloatType::F64 => 0x7FF8_0000_0000_0000,
        // Every TTIR float format has a NaN.
        narrow => FloatFormat::from(narrow).nan_code().unwrap_or(0),
    }
}

/// Replaces any f32 NaN by the canonical one.
#[inline]
pub fn canonical_f32(x: f32) -> f32 {
    if x.is_nan() {
        f32::from_bits(0x7FC0_0000)
    } else {
        x
    }
}

/// Replaces any f64 NaN by the canonical one.
#[inline]
pub fn canonical_f64(x: f64) -> f64 {
    if x.is_nan() {
        f64::from_bits(0x7FF8_0000_0000_0000)
    } else {
        x
    }
}

/// The exact value of `bits` in format `ty`.
#[inline]
pub fn float_to_f64(bits: u64, ty: FloatType) -> f64 {
    match ty {
        FloatType::F64 => f64::from_bits(bits),
        FloatType::F32 => f64::from(f32::from_bits(bits as u32)),
        narrow => FloatFormat::from(narrow).decode_f64(bits),
    }
}

/// The value of `bits` in format `ty` as f32: exact for every format but f64
/// (which is rounded to nearest even).
#[inline]
pub fn float_to_f32(bits: u64, ty: FloatType) -> f32 {
    match ty {
        FloatType::F32 => f32::from_bits(bits as u32),
        FloatType::F64 => f64::from_bits(bits) as f32,
        narrow => FloatFormat::from(narrow).decode_f32(bits),
    }
}

/// Rounds `x` to format `ty` (nearest even); NaN gives the canonical NaN.
#[inline]
pub fn f64_to_float_bits(x: f64, ty: FloatType) -> u64 {
    f64_to_float_bits_rounded(x, ty, Rounding::NearestEven)
}

/// Rounds `x` to format `ty` with `rounding`; NaN gives the canonical NaN.
pub fn f64_to_float_bits_rounded(x: f64, ty: FloatType, rounding: Rounding) -> u64 {
    if x.is_nan() {
        return canonical_nan(ty);
    }
    match (ty, rounding) {
        (FloatType::F64, _) => x.to_bits(),
        (FloatType::F32, Rounding::NearestEven) => u64::from((x as f32).to_bits()),
        // The format's own overflow rule (as `ml_dtypes`): Inf where the
        // format has it, NaN where it does not; toward zero saturates.
        (ty, rounding) => FloatFormat::from(ty).encode_f64(x, rounding, Overflow::FormatRule),
    }
}

/// Rounds an f32 to format `ty` (nearest even).
#[inline]
pub fn f32_to_float_bits(x: f32, ty: FloatType) -> u64 {
    match ty {
        FloatType::F32 => u64::from(canonical_f32(x).to_bits()),
        _ => f64_to_float_bits(f64::from(x), ty),
    }
}

/// `extf` / `truncf` / `fp_to_fp`: converts `bits` of format `from` to `to`.
pub fn convert_float(bits: u64, from: FloatType, to: FloatType, rounding: Rounding) -> u64 {
    if from == to {
        return bits;
    }
    f64_to_float_bits_rounded(float_to_f64(bits, from), to, rounding)
}

/// `sitofp` / `uitofp`: the `width`-bit integer `bits` (signed or not)
/// rounded to nearest even in format `to`.
pub fn int_to_float(bits: u64, width: u32, signed: bool, to: FloatType) -> u64 {
    let bits = bits & mask(width);
    let (negative, magnitude) = if signed {
        let v = sign_extend(bits, width);
        (v < 0, v.unsigned_abs())
    } else {
        (false, bits)
    };
    let value = match to {
        // Rust's integer → float `as` rounds to nearest even, once.
        FloatType::F64 => return signed_bits_f64(magnitude as f64, negative),
        FloatType::F32 => {
            let m = magnitude as f32;
            return u64::from((if negative { -m } else { m }).to_bits());
        }
        _ => round_to_odd_f64(magnitude),
    };
    f64_to_float_bits(if negative { -value } else { value }, to)
}

fn signed_bits_f64(m: f64, negative: bool) -> u64 {
    (if negative { -m } else { m }).to_bits()
}

/// `m` as f64 rounded to odd: exact when it fits in 53 bits, otherwise the
/// truncated value with its lowest bit forced to 1 when bits were lost.
fn round_to_odd_f64(m: u64) -> f64 {
    let significant = 64 - m.leading_zeros();
    if significant <= 53 {
        return m as f64;
    }
    let shift = significant - 53;
    let mut kept = m >> shift;
    if m & ((1u64 << shift) - 1) != 0 {
        kept |= 1;
    }
    // kept < 2^53 is exact in f64, and scaling by a power of two is exact.
    kept as f64 * (1u64 << shift) as f64
}

/// How a float → int conversion picks the integer: `fptosi`/`fptoui`
/// truncate; libdevice's `float2int_rn`/`_rd`/`_ru`, `llrint` and `llround`
/// round first (CUDA's `cvt.rni`/`rmi`/`rpi`, `llround`'s half away from
/// zero). Saturation and NaN → 0 are the same for all.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntRounding {
    TowardZero,
    NearestEven,
    /// Half away from zero (C `round`).
    NearestAway,
    Down,
    Up,
}

impl IntRounding {
    /// `x` rounded to an integer value (exact: every f64 rounding to an
    /// integer is representable).
    pub fn apply(self, x: f64) -> f64 {
        match self {
            IntRounding::TowardZero => x.trunc(),
            IntRounding::NearestEven => libm::rint(x),
            IntRounding::NearestAway => libm::round(x),
            IntRounding::Down => x.floor(),
            IntRounding::Up => x.ceil(),
        }
    }
}

/// `fptosi` / `fptoui`: truncates toward zero and saturates to the
/// `width`-bit signed or unsigned range; NaN gives 0.
pub fn float_to_int(bits: u64, from: FloatType, width: u32, signed: bool) -> u64 {
    float_to_int_rounded(bits, from, width, signed, IntRounding::TowardZero)
}

/// [`float_to_int`] with the integer picked by `rounding` instead of
/// truncation.
pub fn float_to_int_rounded(
    bits: u64,
    from: FloatType,
    width: u32,
    signed: bool,
    rounding: IntRounding,
) -> u64 {
    let x = float_to_f64(bits, from);
    if x.is_nan() {
        return 0;
    }
    let t = rounding.apply(x);
    if signed {
        let min = -(2f64.powi(width as i32 - 1));
        let max_plus_one = 2f64.powi(width as i32 - 1);
        let v = if t < min {
            i64::MIN >> (64 - width)
        } else if t >= max_plus_one {
            i64::MAX >> (64 - width)
        } else {
            t as i64
        };
        (v as u64) & mask(width)
    } else {
        let max_plus_one = 2f64.powi(width as i32);
        if t <= 0.0 {
            0
        } else if t >= max_plus_one {
            mask(width)
        } else {
            t as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_to_float_rounds_once_to_nearest_even() {
        assert_eq!(
            int_to_float(16_777_217, 32, true, FloatType::F32),
            u64::from(16_777_216f32.to_bits())
        );
        assert_eq!(
            int_to_float(0xFFFF_FFFF, 32, true, FloatType::F32),
            u64::from((-1f32).to_bits())
        );
        assert_eq!(
            int_to_float(0xFFFF_FFFF, 32, false, FloatType::F32),
            u64::from(4_294_967_296f32.to_bits())
        );
        assert_eq!(
            int_to_float(1, 1, true, FloatType::F32),
            u64::from((-1f32).to_bits())
        );
        assert_eq!(
            int_to_float(1, 1, false, FloatType::F32),
            u64::from(1f32.to_bits())
        );
        assert_eq!(
            int_to_float(65519, 32, true, FloatType::F16),
            0x7BFF,
            "65519 rounds down to f16 max"
        );
        assert_eq!(
            int_to_float(65520, 32, true, FloatType::F16),
            0x7C00,
            "65520 rounds to inf"
        );
        // 2^60 + 2^52 + 1 is just above the midpoint between two bf16 values;
        // rounding to f64 first would make it an exact tie and round down.
        let big = (1u64 << 60) + (1 << 52) + 1;
        assert_eq!(int_to_float(big, 64, false, FloatType::BF16), 0x5D81);
        // A tie at bf16 precision broken only by a low bit lost in f64:
        // 2^62 + 2^54 (exact tie → even 2^62) plus 1 → rounds up.
        let tie_plus = (1u64 << 62) + (1 << 54) + 1;
        assert_eq!(int_to_float(tie_plus, 64, false, FloatType::BF16), 0x5E81);
        assert_eq!(
            int_to_float((1u64 << 62) + (1 << 54), 64, false, FloatType::BF16),
            0x5E80
        );
    }

    #[test]
    fn float_to_int_rounds_as_asked() {
        let f = |x: f32| u64::from(x.to_bits());
        let r = |x: f32, rounding| float_to_int_rounded(f(x), FloatType::F32, 32, true, rounding);
        use IntRounding::*;
        assert_eq!(r(2.5, NearestEven), 2);
        assert_eq!(r(3.5, NearestEven), 4);
        assert_eq!(r(-2.5, NearestEven), (-2i32) as u32 as u64);
        assert_eq!(r(2.5, NearestAway), 3);
        assert_eq!(r(-2.5, NearestAway), (-3i32) as u32 as u64);
        assert_eq!(r(-2.1, Down), (-3i32) as u32 as u64);
        assert_eq!(r(2.1, Up), 3);
        assert_eq!(r(-0.5, Up), 0);
        assert_eq!(r(3e9, NearestEven), 0x7FFF_FFFF);
        assert_eq!(r(f32::NAN, Up), 0);
        assert_eq!(
            float_to_int_rounded(f(-0.7), FloatType::F32, 32, false, Down),
            0
        );
        assert_eq!(
            float_to_int_rounded(f(4294967040.0), FloatType::F32, 32, false, Up),
            4294967040
        );
    }

    #[test]
    fn float_to_int_saturates_and_maps_nan_to_zero() {
        let f = |x: f32| u64::from(x.to_bits());
        assert_eq!(float_to_int(f(3.9), FloatType::F32, 32, true), 3);
        assert_eq!(float_to_int(f(-3.9), FloatType::F32, 32, true), 0xFFFF_FFFD);
        assert_eq!(float_to_int(f(1e10), FloatType::F32, 32, true), 0x7FFF_FFFF);
        assert_eq!(
            float_to_int(f(-1e10), FloatType::F32, 32, true),
            0x8000_0000
        );
        assert_eq!(float_to_int(f(f32::NAN), FloatType::F32, 32, true), 0);
        assert_eq!(float_to_int(f(-5.0), FloatType::F32, 8, false), 0);
        assert_eq!(float_to_int(f(300.0), FloatType::F32, 8, false), 0xFF);
        assert_eq!(float_to_int(f(200.0), FloatType::F32, 8, true), 0x7F);
        assert_eq!(
            float_to_int(f(f32::INFINITY), FloatType::F32, 64, false),
            u64::MAX
        );
        assert_eq!(
            float_to_int(f(f32::NEG_INFINITY), FloatType::F32, 64, true),
            i64::MIN as u64
        );
        assert_eq!(float_to_int(f(-1.0), FloatType::F32, 1, true), 1);
    }

    #[test]
    fn float_conversions_round_as_asked() {
        let one_third = u64::from((1.0f32 / 3.0).to_bits());
        let rne = convert_float(
            one_third,
            FloatType::F32,
            FloatType::F16,
            Rounding::NearestEven,
        );
        let rtz = convert_float(
            one_third,
            FloatType::F32,
            FloatType::F16,
            Rounding::TowardZero,
        );
        assert_eq!(rne, 0x3555);
        assert_eq!(rtz, 0x3555);
        // 1 + 0.75 ulp of f16: nearest rounds up, toward zero truncates.
        let above = u64::from((1.0f32 + 3.0 * 2f32.powi(-12)).to_bits());
        assert_eq!(
            convert_float(above, FloatType::F32, FloatType::F16, Rounding::NearestEven),
            0x3C01
        );
        assert_eq!(
            convert_float(above, FloatType::F32, FloatType::F16, Rounding::TowardZero),
            0x3C00
        );
        let below = u64::from((-1.0f32 - 3.0 * 2f32.powi(-12)).to_bits());
        assert_eq!(
            convert_float(below, FloatType::F32, FloatType::F16, Rounding::TowardZero),
            0xBC00
        );
        assert_eq!(
            convert_float(
                0x7FA0_0001,
                FloatType::F32,
                FloatType::BF16,
                Rounding::NearestEven
            ),
            0x7FC0
        );
        assert_eq!(
            convert_float(
                0x3C00,
                FloatType::F16,
                FloatType::F32,
                Rounding::NearestEven
            ),
            0x3F80_0000
        );
        let big = 1e300f64.to_bits();
        assert_eq!(
            convert_float(big, FloatType::F64, FloatType::F32, Rounding::TowardZero),
            u64::from(f32::MAX.to_bits())
        );
        assert_eq!(
            convert_float(big, FloatType::F64, FloatType::F32, Rounding::NearestEven),
            u64::from(f32::INFINITY.to_bits())
        );
    }
}
