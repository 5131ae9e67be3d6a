//! Bulk "round to a format and back" on f32 slices: what a tensor unit does
//! when it narrows f32 results to a storage format and computes on.
//!
//! The result is bit for bit `decode_f32(encode_f32(x))` (the scalar
//! [`FloatFormat::round_f32`]), computed without branches so the loop
//! vectorizes: in the target's normal range the f32 mantissa is rounded with
//! integer arithmetic on the bits; below it, adding and subtracting a
//! "magic" power of two whose f32 ulp is the target's subnormal quantum
//! makes the FPU's own nearest-even addition do the rounding (exact: one
//! rounding of the exact sum). Special inputs and overflow take values
//! precomputed by the scalar path, so both paths agree by construction.
//! f32, f64 and E8M0 go through the scalar path.

use super::decode::pow2;
use super::format::FloatFormat;
use super::rounding::{Overflow, Rounding};

const SIGN: u32 = 0x8000_0000;
const INF_BITS: u32 = 0x7F80_0000;
const F32_MANTISSA: u32 = 23;

impl FloatFormat {
    /// Rounds every value to this format and back, in place.
    pub fn round_f32_slice(self, values: &mut [f32], rounding: Rounding, overflow: Overflow) {
        match (SliceRounder::new(self, rounding, overflow), rounding) {
            (Some(rounder), Rounding::NearestEven) => rounder.run::<false>(values),
            (Some(rounder), Rounding::TowardZero) => rounder.run::<true>(values),
            (None, _) => {
                for value in values {
                    *value = self.round_f32(*value, rounding, overflow);
                }
            }
        }
    }

    /// `values` rounded to this format and back.
    pub fn rounded_f32(self, values: &[f32], rounding: Rounding, overflow: Overflow) -> Vec<f32> {
        let mut out = values.to_vec();
        self.round_f32_slice(&mut out, rounding, overflow);
        out
    }
}

/// Loop-invariant constants of the branch-free rounding of one format.
struct SliceRounder {
    /// f32 mantissa bits the format does not have.
    dropped_bits: u32,
    /// Smallest normal of the format; below it the subnormal path applies.
    min_normal: f32,
    /// 2^(emin − mantissa_bits + 23): its f32 ulp is the subnormal quantum.
    magic: f32,
    /// The format's subnormal quantum 2^(emin − mantissa_bits).
    quantum: f32,
    max_finite_bits: u32,
    has_negative_zero: bool,
    /// Results (f32 bits) for +x / −x of: NaN, ±Inf, finite overflow.
    nan: [u32; 2],
    inf: [u32; 2],
    overflow: [u32; 2],
}

impl SliceRounder {
    fn new(format: FloatFormat, rounding: Rounding, overflow: Overflow) -> Option<SliceRounder> {
        let mantissa_bits = format.mantissa_bits();
        if !format.has_subnormals() || !(1..F32_MANTISSA).contains(&mantissa_bits) {
            return None;
        }
        let reference = |bits: u32| {
            format
                .round_f32(f32::from_bits(bits), rounding, overflow)
                .to_bits()
        };
        let both_signs = |bits: u32| [reference(bits), reference(bits | SIGN)];
        let quantum_exponent = format.emin() - mantissa_bits as i32;
        Some(SliceRounder {
            dropped_bits: F32_MANTISSA - mantissa_bits,
            min_normal: format.min_normal() as f32,
            magic: pow2(quantum_exponent + F32_MANTISSA as i32) as f32,
            quantum: pow2(quantum_exponent) as f32,
            max_finite_bits: (format.max_finite() as f32).to_bits(),
            has_negative_zero: format.has_negative_zero(),
            nan: both_signs(0x7FC0_0000),
            inf: both_signs(INF_BITS),
            // f32::MAX is beyond every format handled here.
            overflow: both_signs(f32::MAX.to_bits()),
        })
    }

    fn run<const TOWARD_ZERO: bool>(&self, values: &mut [f32]) {
        for value in values {
            *value = self.round::<TOWARD_ZERO>(*value);
        }
    }

    #[inline(always)]
    fn round<const TOWARD_ZERO: bool>(&self, x: f32) -> f32 {
        let bits = x.to_bits();
        let sign = bits & SIGN;
        let negative = usize::from(sign != 0);
        let abs_bits = bits & !SIGN;
        let abs = f32::from_bits(abs_bits);

        // Normal range: drop mantissa bits; for nearest-even add just under
        // half an ulp plus the kept LSB, so exact ties round to even.
        let low = (1u32 << self.dropped_bits) - 1;
        let normal = if TOWARD_ZERO {
            abs_bits & !low
        } else {
            (abs_bits + (low >> 1) + ((abs_bits >> self.dropped_bits) & 1)) & !low
        };
        // Subnormal range: the FPU rounds abs to a multiple of the quantum.
        let near = (abs + self.magic) - self.magic;
        let subnormal = if TOWARD_ZERO && near > abs {
            near - self.quantum
        } else {
            near
        };
        let magnitude = if abs < self.min_normal {
            subnormal.to_bits()
        } else {
            normal
        };

        let mut out = if magnitude == 0 && !self.has_negative_zero {
            0
        } else {
            magnitude | sign
        };
        if magnitude > self.max_finite_bits {
            out = self.overflow[negative];
        }
        if abs_bits == INF_BITS {
            out = self.inf[negative];
        }
        if abs_bits > INF_BITS {
            out = self.nan[negative];
        }
        f32::from_bits(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(format: FloatFormat, x: f32, rounding: Rounding, overflow: Overflow) -> u32 {
        format.round_f32(x, rounding, overflow).to_bits()
    }

    /// A spread of f32 bit patterns: one per 2^14 consecutive patterns plus all
    /// patterns around zero, one, the f32 subnormal boundary and f32::MAX.
    fn probe_patterns() -> impl Iterator<Item = u32> {
        let strided = (0..=u32::MAX >> 14).map(|i| i << 14 | (i & 0x3FFF));
        let around = [
            0u32,
            0x3F80_0000,
            0x0080_0000,
            0x7F7F_FFFF,
            0x7F80_0000,
            0x7FC0_0000,
        ]
        .into_iter()
        .flat_map(|center| (0..512u32).map(move |d| center.wrapping_add(d).wrapping_sub(256)));
        strided.chain(around).flat_map(|b| [b, b ^ SIGN])
    }

    #[test]
    fn matches_scalar_rounding() {
        let inputs: Vec<f32> = probe_patterns().map(f32::from_bits).collect();
        for format in FloatFormat::ALL {
            for rounding in [Rounding::NearestEven, Rounding::TowardZero] {
                for overflow in [Overflow::FormatRule, Overflow::Saturate] {
                    let fast = format.rounded_f32(&inputs, rounding, overflow);
                    for (x, y) in inputs.iter().zip(&fast) {
                        assert_eq!(
                            y.to_bits(),
                            scalar(format, *x, rounding, overflow),
                            "{format} {rounding:?} {overflow:?} x = {:#010x}",
                            x.to_bits()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn examples() {
        let mut v = [1.0, 1.06, 1.0625, 1.07, 500.0, -1e-9, f32::INFINITY];
        FloatFormat::F8E4M3FN.round_f32_slice(&mut v, Rounding::NearestEven, Overflow::Saturate);
        assert_eq!(v, [1.0, 1.0, 1.0, 1.125, 448.0, -0.0, 448.0]);
        assert!(v[5].is_sign_negative());
        let v = FloatFormat::F8E4M3FNUZ.rounded_f32(
            &[-1e-9],
            Rounding::NearestEven,
            Overflow::FormatRule,
        );
        assert_eq!(v[0].to_bits(), 0, "no −0 in FNUZ");
        let v = FloatFormat::BF16.rounded_f32(
            &[1.0 + 2f32.powi(-8)],
            Rounding::NearestEven,
            Overflow::FormatRule,
        );
        assert_eq!(v, [1.0]);
        let v = FloatFormat::F16.rounded_f32(
            &[65520.0, 65519.0],
            Rounding::NearestEven,
            Overflow::FormatRule,
        );
        assert_eq!(v, [f32::INFINITY, 65504.0]);
        let v = FloatFormat::F16.rounded_f32(
            &[1e9, 3e-8, 1e-7],
            Rounding::TowardZero,
            Overflow::FormatRule,
        );
        assert_eq!(v, [65504.0, 0.0, 2f32.powi(-24)]);
    }
}
