//! Exact decoding and correctly rounded encoding of the narrow float
//! formats (f16, bf16 and the four fp8 formats) from and to f64.
//!
//! Every format is described by its exponent and mantissa widths, its bias
//! and how it spends its special encodings:
//!
//! | format | bias | max finite | Inf | NaN | −0 |
//! |---|---|---|---|---|---|
//! | f16 (E5M10) | 15 | 65504 | yes | IEEE | yes |
//! | bf16 (E8M7) | 127 | 3.39e38 | yes | IEEE | yes |
//! | f8E5M2 | 15 | 57344 | yes | IEEE | yes |
//! | f8E4M3FN | 7 | 448 | no | `S.1111.111` | yes |
//! | f8E4M3FNUZ | 8 | 240 | no | `0x80` only | no |
//! | f8E5M2FNUZ | 16 | 57344 | no | `0x80` only | no |
//!
//! Encoding rounds once (nearest even or toward zero). Overflow after
//! rounding to nearest gives ±Inf where the format has it and NaN where it
//! does not (as `ml_dtypes`, the OCP reference implementation, does);
//! rounding toward zero saturates to ±max finite. ±Inf inputs give ±Inf or,
//! without Inf, NaN. In the FNUZ formats zero is unsigned: −0 and negative
//! values that round to zero encode as `0x00`.

use super::convert::{canonical_nan, Rounding};
use crate::types::FloatType;

/// How a format uses its special encodings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Specials {
    /// IEEE 754: all-ones exponent is Inf (mantissa 0) or NaN.
    Ieee,
    /// No Inf; only the all-ones exponent *and* mantissa is NaN (E4M3FN).
    FiniteAllOnesNan,
    /// No Inf, no −0; the negative-zero pattern is the only NaN.
    FiniteUnsignedZero,
}

#[derive(Copy, Clone, Debug)]
struct Format {
    exp_bits: u32,
    man_bits: u32,
    bias: i32,
    specials: Specials,
}

fn format(ty: FloatType) -> Format {
    let (exp_bits, man_bits, bias, specials) = match ty {
        FloatType::F16 => (5, 10, 15, Specials::Ieee),
        FloatType::BF16 => (8, 7, 127, Specials::Ieee),
        FloatType::F8E5M2 => (5, 2, 15, Specials::Ieee),
        FloatType::F8E4M3FN => (4, 3, 7, Specials::FiniteAllOnesNan),
        FloatType::F8E4M3FNUZ => (4, 3, 8, Specials::FiniteUnsignedZero),
        FloatType::F8E5M2FNUZ => (5, 2, 16, Specials::FiniteUnsignedZero),
        FloatType::F32 => (8, 23, 127, Specials::Ieee),
        FloatType::F64 => (11, 52, 1023, Specials::Ieee),
    };
    Format { exp_bits, man_bits, bias, specials }
}

impl Format {
    fn sign_bit(self) -> u64 {
        1 << (self.exp_bits + self.man_bits)
    }

    fn exp_all_ones(self) -> u64 {
        (1 << self.exp_bits) - 1
    }

    fn man_mask(self) -> u64 {
        (1 << self.man_bits) - 1
    }

    /// Smallest normal exponent.
    fn emin(self) -> i32 {
        1 - self.bias
    }

    /// Largest finite value's (biased exponent, mantissa).
    fn max_finite_fields(self) -> (u64, u64) {
        match self.specials {
            Specials::Ieee => (self.exp_all_ones() - 1, self.man_mask()),
            Specials::FiniteAllOnesNan => (self.exp_all_ones(), self.man_mask() - 1),
            Specials::FiniteUnsignedZero => (self.exp_all_ones(), self.man_mask()),
        }
    }

    fn max_finite(self) -> f64 {
        let (e, m) = self.max_finite_fields();
        (1.0 + m as f64 / (1u64 << self.man_bits) as f64) * pow2(e as i32 - self.bias)
    }

    fn has_inf(self) -> bool {
        self.specials == Specials::Ieee
    }
}

fn pow2(e: i32) -> f64 {
    2f64.powi(e)
}

/// The exact value of `bits` in the narrow format `ty`.
pub fn decode(bits: u64, ty: FloatType) -> f64 {
    let f = format(ty);
    let sign = bits & f.sign_bit() != 0;
    let exp = (bits >> f.man_bits) & f.exp_all_ones();
    let man = bits & f.man_mask();
    let magnitude = match f.specials {
        Specials::FiniteUnsignedZero if bits == f.sign_bit() => return f64::NAN,
        Specials::Ieee if exp == f.exp_all_ones() => {
            if man == 0 {
                f64::INFINITY
            } else {
                return f64::NAN;
            }
        }
        Specials::FiniteAllOnesNan if exp == f.exp_all_ones() && man == f.man_mask() => {
            return f64::NAN
        }
        _ if exp == 0 => man as f64 * pow2(f.emin() - f.man_bits as i32),
        _ => (1.0 + man as f64 / (1u64 << f.man_bits) as f64) * pow2(exp as i32 - f.bias),
    };
    if sign {
        -magnitude
    } else {
        magnitude
    }
}

/// Rounds `x` once to the narrow format `ty`.
pub fn encode(x: f64, ty: FloatType, rounding: Rounding) -> u64 {
    let f = format(ty);
    if x.is_nan() {
        return canonical_nan(ty);
    }
    let negative = x.is_sign_negative();
    let sign = if negative { f.sign_bit() } else { 0 };
    // Zero has no sign in the FNUZ formats (their negative-zero pattern is NaN).
    let zero = if f.specials == Specials::FiniteUnsignedZero { 0 } else { sign };
    let a = x.abs();
    let overflow = |sign: u64| match (rounding, f.has_inf()) {
        (Rounding::TowardZero, _) => {
            let (e, m) = f.max_finite_fields();
            sign | (e << f.man_bits) | m
        }
        (Rounding::NearestEven, true) => sign | (f.exp_all_ones() << f.man_bits),
        (Rounding::NearestEven, false) => canonical_nan(ty),
    };
    if a.is_infinite() {
        return if f.has_inf() {
            sign | (f.exp_all_ones() << f.man_bits)
        } else if rounding == Rounding::TowardZero {
            overflow(if negative { f.sign_bit() } else { 0 })
        } else {
            canonical_nan(ty)
        };
    }
    if a == 0.0 {
        return zero;
    }
    // Quantum (value of one unit in the last place) at a's binade, never
    // below the subnormal quantum.
    let exponent = (a.to_bits() >> 52) as i32 - 1023; // a is normal in f64 for every narrow format's range
    let exponent = if a < f64::MIN_POSITIVE { -1023 } else { exponent };
    let quantum_exp = exponent.max(f.emin()) - f.man_bits as i32;
    let scaled = a * pow2(-quantum_exp); // exact: scaling by a power of two
    let units = match rounding {
        Rounding::NearestEven => scaled.round_ties_even(),
        Rounding::TowardZero => scaled.trunc(),
    };
    let rounded = units * pow2(quantum_exp);
    if rounded > f.max_finite() {
        return overflow(sign);
    }
    if rounded == 0.0 {
        return zero;
    }
    let units = units as u64;
    // Normalize: units is in [2^man, 2^(man+1)] for normals (the upper bound
    // when rounding carried into the next binade), below 2^man for subnormals.
    let (biased_exp, man) = if units < (1 << f.man_bits) {
        (0u64, units)
    } else {
        let carry = u32::from(units >= (2 << f.man_bits));
        let biased = (quantum_exp + f.man_bits as i32 + f.bias) as u64 + u64::from(carry);
        (biased, (units >> carry) & f.man_mask())
    };
    sign | (biased_exp << f.man_bits) | man
}

#[cfg(test)]
mod tests {
    use super::*;
    use FloatType::*;

    #[test]
    fn decodes_every_f16_like_half() {
        for bits in 0..=u16::MAX {
            let ours = decode(u64::from(bits), F16);
            let reference = f64::from(half::f16::from_bits(bits));
            assert!(ours == reference || ours.is_nan() && reference.is_nan(), "{bits:#x}");
            let b = decode(u64::from(bits), BF16);
            let reference = f64::from(half::bf16::from_bits(bits));
            assert!(b == reference || b.is_nan() && reference.is_nan(), "{bits:#x}");
        }
    }

    #[test]
    fn encode_inverts_decode_for_every_finite_value() {
        for ty in [F16, BF16, F8E5M2, F8E4M3FN, F8E4M3FNUZ, F8E5M2FNUZ] {
            let count = 1u64 << ty.bits();
            for bits in 0..count {
                let x = decode(bits, ty);
                if x.is_finite() {
                    let back = encode(x, ty, Rounding::NearestEven);
                    let unsigned_zero = matches!(ty, F8E4M3FNUZ | F8E5M2FNUZ);
                    let expected = if x == 0.0 && unsigned_zero { 0 } else { bits };
                    assert_eq!(back, expected, "{ty:?} {bits:#x} = {x}");
                    assert_eq!(encode(x, ty, Rounding::TowardZero), expected, "{ty:?} {bits:#x}");
                }
            }
        }
    }

    #[test]
    fn rounds_f32_to_f16_and_bf16_like_half() {
        let mut state = 0x1234_5678u32;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let x = f32::from_bits(state);
            if x.is_nan() {
                continue;
            }
            let ours = encode(f64::from(x), F16, Rounding::NearestEven);
            assert_eq!(ours, u64::from(half::f16::from_f32(x).to_bits()), "{x:e}");
            let ours = encode(f64::from(x), BF16, Rounding::NearestEven);
            assert_eq!(ours, u64::from(half::bf16::from_f32(x).to_bits()), "{x:e}");
        }
    }

    #[test]
    fn fp8_overflow_and_specials() {
        assert_eq!(decode(0x7E, F8E4M3FN), 448.0);
        assert!(decode(0x7F, F8E4M3FN).is_nan());
        assert_eq!(decode(0x7B, F8E5M2), 57344.0);
        assert_eq!(decode(0x7C, F8E5M2), f64::INFINITY);
        assert_eq!(decode(0x7F, F8E4M3FNUZ), 240.0);
        assert!(decode(0x80, F8E4M3FNUZ).is_nan());
        assert_eq!(encode(448.0, F8E4M3FN, Rounding::NearestEven), 0x7E);
        assert_eq!(encode(463.0, F8E4M3FN, Rounding::NearestEven), 0x7E);
        assert_eq!(encode(464.0, F8E4M3FN, Rounding::NearestEven), 0x7E, "tie rounds to even 448");
        assert_eq!(encode(470.0, F8E4M3FN, Rounding::NearestEven), 0x7F, "rounds to 480 → NaN");
        assert_eq!(encode(1e6, F8E4M3FN, Rounding::TowardZero), 0x7E);
        assert_eq!(encode(-1e6, F8E4M3FN, Rounding::TowardZero), 0xFE);
        assert_eq!(encode(f64::INFINITY, F8E4M3FN, Rounding::NearestEven), 0x7F);
        assert_eq!(encode(1e6, F8E5M2, Rounding::NearestEven), 0x7C);
        assert_eq!(encode(-0.0, F8E4M3FNUZ, Rounding::NearestEven), 0x00);
        assert_eq!(encode(-1e-9, F8E5M2FNUZ, Rounding::NearestEven), 0x00);
        assert_eq!(encode(-0.0, F8E4M3FN, Rounding::NearestEven), 0x80);
        // Smallest subnormal of E4M3FN is 2^-9; half of it ties to even (0).
        assert_eq!(encode(2f64.powi(-10), F8E4M3FN, Rounding::NearestEven), 0x00);
        assert_eq!(encode(1.5 * 2f64.powi(-10), F8E4M3FN, Rounding::NearestEven), 0x01);
        // Rounding carries into the next binade: 1.9375 → 2.0 in E4M3.
        assert_eq!(encode(1.9375, F8E4M3FN, Rounding::NearestEven), 0x40);
        assert_eq!(encode(1.9375, F8E4M3FN, Rounding::TowardZero), 0x3F);
    }
}
