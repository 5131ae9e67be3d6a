//! Encoding: rounding an f64 or f32 value once into a format's code.
//!
//! The value's exact significand and exponent are taken from its bits, the
//! significand is shifted right to the target precision (one more place per
//! binade below the target's normal range, which makes subnormals exact)
//! and rounded by looking at the bits shifted out. The rounded significand
//! is added to the biased exponent *as integers*, so a rounding carry rolls
//! into the exponent by itself and a result beyond the largest finite code
//! shows up as a code greater than [`FloatFormat::max_finite_code`]. Every
//! input is rounded exactly once from its own value: f32 inputs are widened
//! to f64 (exactly) first, never narrowed through an intermediate format.
//!
//! Special inputs, per format ([`FloatFormat::specials`]):
//!
//! | input | IEEE (f64 … E5M2) | E4M3FN | FNUZ | FP6 / FP4 | E8M0 |
//! |---|---|---|---|---|---|
//! | ±0 | ±0 | ±0 | +0 | ±0 | NaN (`Saturate`: code 0) |
//! | x < 0 | | | | | NaN (`Saturate`: code 0) |
//! | NaN | quiet NaN, sign kept | `S.1111.111` | `0x80` | ∓0 (ml_dtypes' stand-in) | `0xFF` |
//! | ±Inf, overflow | ±Inf | NaN, sign kept | `0x80` | ±max | `0xFF` |
//!
//! The last row is [`Overflow::FormatRule`]; [`Overflow::Saturate`] gives
//! ±max finite instead. Rounding toward zero never overflows a finite value
//! (it stops at ±max finite); it does not change what ±Inf becomes. In
//! the FNUZ formats a negative value that rounds to zero gives `+0`, since
//! their −0 pattern is NaN. NaN payloads are not carried: encoding a NaN
//! gives the format's canonical quiet NaN with the input's sign where the
//! format has a signed NaN. FP6 and FP4 have no NaN; for NaN inputs they
//! follow `ml_dtypes`, whose placeholder "NaN" for them is −0, negated for
//! a negative NaN.

use super::format::{FloatFormat, Specials};
use super::rounding::{Overflow, Rounding};

impl FloatFormat {
    /// Rounds `x` once to this format and returns the code.
    pub fn encode_f64(self, x: f64, rounding: Rounding, overflow: Overflow) -> u64 {
        let negative = x.is_sign_negative();
        if x.is_nan() {
            return self.nan_for(negative);
        }
        if self == FloatFormat::E8M0 && (negative || x == 0.0) {
            // Unsigned and without zero: nothing to round to.
            return match overflow {
                Overflow::FormatRule => self.nan_for(false),
                Overflow::Saturate => 0,
            };
        }
        if x.is_infinite() {
            return self.beyond_range(negative, overflow);
        }
        if x == 0.0 {
            return self.signed(0, negative);
        }
        let magnitude = self.round_magnitude(x.abs(), rounding);
        if magnitude <= self.max_finite_code() {
            self.signed(magnitude, negative)
        } else if rounding == Rounding::TowardZero {
            self.signed(self.max_finite_code(), negative)
        } else {
            self.beyond_range(negative, overflow)
        }
    }

    /// Rounds `x` once to this format and returns the code (exactly
    /// [`encode_f64`](Self::encode_f64) of the widened value).
    pub fn encode_f32(self, x: f32, rounding: Rounding, overflow: Overflow) -> u64 {
        if x.is_nan() {
            // Only the sign of a NaN matters; widen nothing else.
            return self.nan_for(x.is_sign_negative());
        }
        self.encode_f64(f64::from(x), rounding, overflow)
    }

    /// `x` rounded to this format, as an f64 (`decode_f64(encode_f64(x))`).
    pub fn round_f64(self, x: f64, rounding: Rounding, overflow: Overflow) -> f64 {
        self.decode_f64(self.encode_f64(x, rounding, overflow))
    }

    /// `x` rounded to this format, as an f32 (`decode_f32(encode_f32(x))`).
    pub fn round_f32(self, x: f32, rounding: Rounding, overflow: Overflow) -> f32 {
        self.decode_f32(self.encode_f32(x, rounding, overflow))
    }

    /// The code of a NaN input with the given sign.
    pub(crate) fn nan_for(self, negative: bool) -> u64 {
        let sign = if negative { self.sign_mask() } else { 0 };
        match self.specials() {
            Specials::Ieee | Specials::AllOnesNan => self.nan_code().unwrap_or(0) | sign,
            Specials::NegativeZeroNan | Specials::ExponentOnly => self.nan_code().unwrap_or(0),
            // ml_dtypes' placeholder NaN of these formats is −0, negated for −NaN.
            Specials::FiniteOnly => self.sign_mask() ^ sign,
        }
    }

    /// The code for ±Inf inputs and finite values that round beyond the
    /// largest finite code.
    fn beyond_range(self, negative: bool, overflow: Overflow) -> u64 {
        let max = self.max_finite_code();
        if overflow == Overflow::Saturate {
            return if negative && !self.is_signed() {
                0
            } else {
                self.signed(max, negative)
            };
        }
        match self.specials() {
            Specials::Ieee => self.signed(self.inf_code().unwrap_or(max), negative),
            Specials::AllOnesNan | Specials::NegativeZeroNan | Specials::ExponentOnly => {
                self.nan_for(negative)
            }
            Specials::FiniteOnly => self.signed(max, negative),
        }
    }

    /// Applies the sign to a magnitude code; zero has no sign where the
    /// format has no −0.
    fn signed(self, magnitude: u64, negative: bool) -> u64 {
        if negative && (magnitude != 0 || self.has_negative_zero()) {
            magnitude | self.sign_mask()
        } else {
            magnitude
        }
    }

    /// The magnitude code of the finite, nonzero `a` rounded to this format
    /// with an unbounded exponent range above: a result greater than
    /// [`max_finite_code`](Self::max_finite_code) means overflow.
    fn round_magnitude(self, a: f64, rounding: Rounding) -> u64 {
        const F64_MANTISSA: u32 = 52;
        let bits = a.to_bits();
        let field = (bits >> F64_MANTISSA) as i32;
        let fraction = bits & ((1 << F64_MANTISSA) - 1);
        // a = significand · 2^(exponent − 52), significand in [2^52, 2^53).
        let (exponent, significand) = if field == 0 {
            let shift = fraction.leading_zeros() - (63 - F64_MANTISSA);
            (-1022 - shift as i32, fraction << shift)
        } else {
            (field - 1023, fraction | (1 << F64_MANTISSA))
        };
        let mantissa_bits = self.mantissa_bits();
        // The target's biased exponent if `a` is normal there; at or below
        // zero, `a` is subnormal and loses one more bit per binade.
        let biased = exponent + self.bias();
        let below_normal = (1 - biased).max(0) as u32;
        // A shift of 54 already leaves nothing that could round up.
        let shift = (F64_MANTISSA - mantissa_bits + below_normal).min(F64_MANTISSA + 2);
        let mut kept = significand >> shift;
        if shift > 0 && rounding == Rounding::NearestEven {
            let dropped = significand & ((1 << shift) - 1);
            let half = 1 << (shift - 1);
            if dropped > half || (dropped == half && kept & 1 == 1) {
                kept += 1;
            }
        }
        // `kept` still holds the implicit bit of a normal result (weight
        // 2^mantissa_bits), which adds the missing 1 to `biased − 1`; a carry
        // out of the mantissa adds one more. Subnormals have exponent field 0.
        (((biased - 1).max(0) as u64) << mantissa_bits) + kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FloatFormat::*;
    use Overflow::*;
    use Rounding::*;

    fn rne(format: FloatFormat, x: f64) -> u64 {
        format.encode_f64(x, NearestEven, FormatRule)
    }

    #[test]
    fn e4m3fn_overflow_and_ties() {
        assert_eq!(rne(F8E4M3FN, 448.0), 0x7E);
        assert_eq!(
            rne(F8E4M3FN, 464.0),
            0x7E,
            "tie between 448 and 480 goes to even 448"
        );
        assert_eq!(rne(F8E4M3FN, 464.5), 0x7F, "rounds to 480, which is NaN");
        assert_eq!(rne(F8E4M3FN, -1e6), 0xFF);
        assert_eq!(F8E4M3FN.encode_f64(-1e6, NearestEven, Saturate), 0xFE);
        assert_eq!(F8E4M3FN.encode_f64(1e6, TowardZero, FormatRule), 0x7E);
        assert_eq!(
            F8E4M3FN.encode_f64(f64::INFINITY, TowardZero, FormatRule),
            0x7F
        );
        assert_eq!(
            F8E4M3FN.encode_f64(f64::INFINITY, NearestEven, Saturate),
            0x7E
        );
        assert_eq!(rne(F8E4M3FN, 1.9375), 0x40, "carry into the next binade");
        assert_eq!(F8E4M3FN.encode_f64(1.9375, TowardZero, FormatRule), 0x3F);
    }

    #[test]
    fn subnormals_round_once() {
        // Smallest E4M3FN subnormal is 2^-9: half of it ties to zero.
        assert_eq!(rne(F8E4M3FN, 2f64.powi(-10)), 0x00);
        assert_eq!(rne(F8E4M3FN, 1.5 * 2f64.powi(-10)), 0x01);
        assert_eq!(
            rne(F8E4M3FN, 3.0 * 2f64.powi(-10)),
            0x02,
            "tie 1.5 ulp goes to even 2"
        );
        // f64 subnormal inputs.
        assert_eq!(rne(F64, f64::from_bits(3)), 3);
        assert_eq!(rne(F32, f64::from_bits(1)), 0);
        assert_eq!(
            F32.encode_f64(-f64::from_bits(1), NearestEven, FormatRule),
            0x8000_0000
        );
        // Just above half the smallest f16 subnormal: rounds up, no double rounding.
        assert_eq!(rne(F16, 2f64.powi(-25) * (1.0 + 2f64.powi(-40))), 1);
    }

    #[test]
    fn identity_on_wide_formats() {
        for x in [
            1.0,
            -2.5,
            f64::MAX,
            f64::MIN_POSITIVE,
            1e-310,
            -0.0,
            123.456,
        ] {
            assert_eq!(rne(F64, x), x.to_bits());
            let narrow = x as f32;
            assert_eq!(
                F32.encode_f32(narrow, NearestEven, FormatRule),
                u64::from(narrow.to_bits())
            );
        }
        assert_eq!(rne(F32, 1e39), 0x7F80_0000);
        assert_eq!(F32.encode_f64(1e39, TowardZero, FormatRule), 0x7F7F_FFFF);
    }

    #[test]
    fn f64_inputs_round_once() {
        // Narrowing to f32 first would land on the tie 1.0625 and round to even 1.0.
        let x = 1.0 + 2f64.powi(-4) + 2f64.powi(-40);
        assert_eq!(rne(F8E4M3FN, x), 0x39);
        assert_eq!(rne(BF16, 1.0 + 2f64.powi(-8) + 2f64.powi(-40)), 0x3F81);
        assert_eq!(rne(F8E5M2, 61440.0), 0x7C, "max + half ulp ties up to Inf");
        assert_eq!(rne(F8E5M2, 61439.0), 0x7B);
    }

    #[test]
    fn fnuz_has_no_negative_zero() {
        assert_eq!(rne(F8E4M3FNUZ, -0.0), 0x00);
        assert_eq!(rne(F8E5M2FNUZ, -1e-30), 0x00);
        assert_eq!(rne(F8E5M2FNUZ, f64::NEG_INFINITY), 0x80);
        assert_eq!(
            F8E5M2FNUZ.encode_f64(f64::NEG_INFINITY, NearestEven, Saturate),
            0xFF
        );
        assert_eq!(rne(F8E4M3FNUZ, -240.0), 0xFF);
    }

    #[test]
    fn nan_inputs() {
        assert_eq!(rne(F16, f64::NAN), 0x7E00);
        assert_eq!(rne(F16, -f64::NAN), 0xFE00);
        assert_eq!(F8E5M2.encode_f32(-f32::NAN, NearestEven, Saturate), 0xFE);
        assert_eq!(rne(F8E4M3FNUZ, -f64::NAN), 0x80);
        assert_eq!(rne(F4E2M1, f64::NAN), 0x8);
        assert_eq!(rne(F4E2M1, -f64::NAN), 0x0);
        assert_eq!(rne(E8M0, f64::NAN), 0xFF);
    }

    #[test]
    fn e8m0() {
        assert_eq!(rne(E8M0, 1.0), 127);
        assert_eq!(rne(E8M0, 2f64.powi(-127)), 0);
        assert_eq!(rne(E8M0, 2f64.powi(127)), 254);
        assert_eq!(rne(E8M0, 3.0), 129, "1.5·2^k ties upward");
        assert_eq!(rne(E8M0, 2.9), 128);
        assert_eq!(E8M0.encode_f64(3.9, TowardZero, FormatRule), 128);
        assert_eq!(rne(E8M0, 0.0), 0xFF);
        assert_eq!(rne(E8M0, -4.0), 0xFF);
        assert_eq!(E8M0.encode_f64(-4.0, NearestEven, Saturate), 0);
        assert_eq!(E8M0.encode_f64(0.0, NearestEven, Saturate), 0);
        assert_eq!(rne(E8M0, 1e300), 0xFF);
        assert_eq!(E8M0.encode_f64(1e300, NearestEven, Saturate), 0xFE);
        assert_eq!(E8M0.encode_f64(1e300, TowardZero, FormatRule), 0xFE);
    }

    #[test]
    fn fp4_saturates_by_itself() {
        assert_eq!(rne(F4E2M1, 5.0), 0x6, "tie between 4 and 6 goes to even 4");
        assert_eq!(rne(F4E2M1, 7.0), 0x7);
        assert_eq!(rne(F4E2M1, -1e9), 0xF);
        assert_eq!(rne(F4E2M1, f64::INFINITY), 0x7);
        assert_eq!(rne(F4E2M1, 0.25), 0x0);
        assert_eq!(rne(F4E2M1, -0.25), 0x8);
        assert_eq!(rne(F4E2M1, 0.75), 0x2);
    }
}
