//! One MX block: its shared scale, and quantizing/dequantizing its values.

use super::MxElement;
use crate::numerics::decode::pow2;
use crate::numerics::{Overflow, Rounding};

/// Values per MX block in OCP MX v1.0.
pub const BLOCK_SIZE: usize = 32;

/// E8M0's NaN code.
const SCALE_NAN: u8 = 0xFF;
const E8M0_BIAS: i32 = 127;
const F32_QUIET_NAN: u32 = 0x7FC0_0000;
const F32_INF_BITS: u32 = 0x7F80_0000;

/// The E8M0 scale code of a block: `floor(log2(max |v|)) − emax + 127`,
/// clamped to `[0, 254]`; 0 for an all-zero (or empty) block; `0xFF` (NaN)
/// if the block holds a NaN or an infinity.
pub fn scale_code(values: &[f32], element: MxElement) -> u8 {
    // Magnitude bit patterns order like the magnitudes, and NaNs sort above
    // Inf, so one integer max finds both the largest value and any non-finite.
    let max_bits = values
        .iter()
        .map(|v| v.to_bits() & !(1 << 31))
        .max()
        .unwrap_or(0);
    if max_bits >= F32_INF_BITS {
        return SCALE_NAN;
    }
    if max_bits == 0 {
        return 0;
    }
    let floor_log2 = if max_bits < 1 << 23 {
        // Subnormal: max_bits · 2^−149.
        (31 - max_bits.leading_zeros()) as i32 - 149
    } else {
        (max_bits >> 23) as i32 - E8M0_BIAS
    };
    let shared = (floor_log2 - element.emax()).clamp(-E8M0_BIAS, E8M0_BIAS);
    (shared + E8M0_BIAS) as u8
}

/// Quantizes one block: returns its scale code and one element code per
/// value. Any block length works (OCP MX uses [`BLOCK_SIZE`]).
pub fn quantize_block(values: &[f32], element: MxElement) -> (u8, Vec<u8>) {
    let mut codes = vec![0; values.len()];
    let scale = quantize_block_into(values, element, &mut codes);
    (scale, codes)
}

/// Quantizes one block into `codes` (one per value) and returns the scale
/// code.
///
/// # Panics
/// If `codes` and `values` differ in length.
pub fn quantize_block_into(values: &[f32], element: MxElement, codes: &mut [u8]) -> u8 {
    assert_eq!(
        values.len(),
        codes.len(),
        "quantize_block_into: length mismatch"
    );
    let scale = scale_code(values, element);
    if scale == SCALE_NAN {
        codes.fill(element.nan_block_code());
        return scale;
    }
    let format = element.format();
    // 1 / 2^s; the product with an f32 is exact in f64.
    let inverse_scale = pow2(E8M0_BIAS - i32::from(scale));
    for (code, &value) in codes.iter_mut().zip(values) {
        let scaled = f64::from(value) * inverse_scale;
        *code = format.encode_f64(scaled, Rounding::NearestEven, Overflow::Saturate) as u8;
    }
    scale
}

/// The value of one element code under a scale code:
/// `fl32(decode(code) · 2^(scale − 127))`, NaN (`0x7FC00000`) if either is
/// NaN.
pub fn dequantize_value(scale: u8, code: u8, element: MxElement) -> f32 {
    let value = element.format().decode_f64(u64::from(code));
    if scale == SCALE_NAN || value.is_nan() {
        return f32::from_bits(F32_QUIET_NAN);
    }
    (value * pow2(i32::from(scale) - E8M0_BIAS)) as f32
}

/// Dequantizes one block.
pub fn dequantize_block(scale: u8, codes: &[u8], element: MxElement) -> Vec<f32> {
    codes
        .iter()
        .map(|&code| dequantize_value(scale, code, element))
        .collect()
}

/// Dequantizes one block into `out`.
///
/// # Panics
/// If `codes` and `out` differ in length.
pub fn dequantize_block_into(scale: u8, codes: &[u8], element: MxElement, out: &mut [f32]) {
    assert_eq!(
        codes.len(),
        out.len(),
        "dequantize_block_into: length mismatch"
    );
    for (value, &code) in out.iter_mut().zip(codes) {
        *value = dequantize_value(scale, code, element);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MxElement::*;

    #[test]
    fn scale_follows_the_block_max() {
        let mut block = [0.5f32; 32];
        block[7] = -3.0; // floor(log2(3)) = 1
        assert_eq!(scale_code(&block, E4M3), (1 - 8 + 127) as u8);
        assert_eq!(scale_code(&block, E2M1), (1 - 2 + 127) as u8);
        assert_eq!(scale_code(&block, E5M2), (1 - 15 + 127) as u8);
        block[3] = f32::MAX;
        assert_eq!(scale_code(&block, E2M1), (127 - 2 + 127) as u8);
    }

    #[test]
    fn zero_tiny_and_special_blocks() {
        assert_eq!(scale_code(&[0.0, -0.0], E4M3), 0);
        assert_eq!(scale_code(&[], E4M3), 0);
        // Largest value 2^-149: floor(log2) - 8 = -157, clamped to -127.
        assert_eq!(scale_code(&[f32::from_bits(1)], E4M3), 0);
        assert_eq!(scale_code(&[f32::from_bits(0x0040_0000)], E2M1), 0);
        assert_eq!(scale_code(&[1.0, f32::NAN], E4M3), 0xFF);
        assert_eq!(scale_code(&[1.0, f32::NEG_INFINITY], E2M1), 0xFF);
        let (scale, codes) = quantize_block(&[1.0, f32::INFINITY, -2.0], E4M3);
        assert_eq!((scale, codes), (0xFF, vec![0x7F; 3]));
        let (scale, codes) = quantize_block(&[1.0, f32::NAN], E2M3);
        assert_eq!((scale, codes), (0xFF, vec![0; 2]));
        let (scale, codes) = quantize_block(&[0.0, -0.0, 0.0], E4M3);
        assert_eq!((scale, codes), (0, vec![0x00, 0x80, 0x00]));
    }

    #[test]
    fn elements_round_to_nearest_even_and_saturate() {
        // max 7 → floor(log2) = 2, s = 0 for E2M1: elements are the values.
        let block = [7.0, 5.0, 2.5, 0.25, 0.75, -6.5, 1.0 - 1e-7, -0.0];
        let (scale, codes) = quantize_block(&block, E2M1);
        assert_eq!(scale, 127);
        // 7 → 6 (saturated), 5 → 4 (tie to even), 2.5 → 2 (tie), 0.25 → 0
        // (tie), 0.75 → 1 (tie to even), −6.5 → −6, 1 − ε → 1, −0 → −0.
        assert_eq!(codes, [0x7, 0x6, 0x4, 0x0, 0x2, 0xF, 0x2, 0x8]);
        let back = dequantize_block(scale, &codes, E2M1);
        assert_eq!(back, [6.0, 4.0, 2.0, 0.0, 1.0, -6.0, 1.0, -0.0]);
    }

    #[test]
    fn scaled_round_trip_of_representable_values() {
        // Values that are exactly element values times 2^s survive.
        let block: Vec<f32> = (0..32)
            .map(|i| (i as f32 - 16.0) * 2f32.powi(-20))
            .collect();
        for element in MxElement::ALL {
            let (scale, codes) = quantize_block(&block, element);
            let back = dequantize_block(scale, &codes, element);
            for (x, y) in block.iter().zip(&back) {
                let exact = element.format().round_f64(
                    f64::from(*x) * pow2(127 - i32::from(scale)),
                    Rounding::NearestEven,
                    Overflow::Saturate,
                ) * pow2(i32::from(scale) - 127);
                assert_eq!(f64::from(*y), exact, "{element} {x}");
            }
        }
        let (scale, codes) = quantize_block(&block, E4M3);
        assert_eq!(
            dequantize_block(scale, &codes, E4M3),
            block,
            "4-bit integers times 16 are exact"
        );
    }

    #[test]
    fn dequantize_specials() {
        assert!(dequantize_value(0xFF, 0x38, E4M3).is_nan());
        assert_eq!(dequantize_value(0x7F, 0x7F, E4M3).to_bits(), 0x7FC0_0000);
        assert_eq!(dequantize_value(254, 0x7B, E5M2), f32::INFINITY);
        assert_eq!(dequantize_value(0, 0x01, E5M2), 2f32.powi(-143));
        assert_eq!(dequantize_value(130, 0x7, E2M1), 48.0);
    }
}
