//! OCP Microscaling (MX v1.0) formats as the machine sees them: the element
//! formats of MX quantize/dequantize and of scaled TTU operands, and
//! rounding into the FP6/FP4/E8M0 storage formats.
//!
//! A block is [`MX_BLOCK`] = 32 consecutive elements along the quantized
//! axis sharing one E8M0 scale `2^(s − 127)`.

use std::fmt;

use maiac_ir::semantics::convert::Rounding;
use maiac_ir::semantics::mx::{apply_scale, e8m0_scale};

use super::dtype::DType;

/// Elements per MX block.
pub const MX_BLOCK: u32 = 32;

/// An MX element format.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MxFormat {
    Fp8E4M3,
    Fp8E5M2,
    Fp6E3M2,
    Fp6E2M3,
    Fp4E2M1,
}

impl MxFormat {
    pub const ALL: [MxFormat; 5] =
        [MxFormat::Fp8E4M3, MxFormat::Fp8E5M2, MxFormat::Fp6E3M2, MxFormat::Fp6E2M3, MxFormat::Fp4E2M1];

    /// The name used by `maiac quantize --format` and the assembler.
    pub fn name(self) -> &'static str {
        match self {
            MxFormat::Fp8E4M3 => "mxfp8-e4m3",
            MxFormat::Fp8E5M2 => "mxfp8-e5m2",
            MxFormat::Fp6E3M2 => "mxfp6-e3m2",
            MxFormat::Fp6E2M3 => "mxfp6-e2m3",
            MxFormat::Fp4E2M1 => "mxfp4",
        }
    }

    pub fn from_name(name: &str) -> Option<MxFormat> {
        MxFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<MxFormat> {
        MxFormat::ALL.get(usize::from(code)).copied()
    }

    /// The storage type of one element.
    pub fn element(self) -> DType {
        match self {
            MxFormat::Fp8E4M3 => DType::F8E4M3FN,
            MxFormat::Fp8E5M2 => DType::F8E5M2,
            MxFormat::Fp6E3M2 => DType::F6E3M2,
            MxFormat::Fp6E2M3 => DType::F6E2M3,
            MxFormat::Fp4E2M1 => DType::F4E2M1,
        }
    }

    /// The element format's largest exponent (`emax` of the OCP spec).
    pub fn emax(self) -> i32 {
        match self {
            MxFormat::Fp8E4M3 => 8,
            MxFormat::Fp8E5M2 => 15,
            MxFormat::Fp6E3M2 => 4,
            MxFormat::Fp6E2M3 => 2,
            MxFormat::Fp4E2M1 => 2,
        }
    }

    /// Dequantizes one element: `decode(code) × 2^(scale − 127)` rounded once
    /// to f32 (the same rule as `tt.dot_scaled` in the interpreter).
    pub fn dequantize(self, code: u64, scale: u64) -> f32 {
        apply_scale(self.element().decode_f32(code), e8m0_scale(scale))
    }
}

impl fmt::Display for MxFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rounds `x` into one of the OCP storage formats without Inf/NaN of their
/// own arithmetic (FP6 E3M2/E2M3, FP4 E2M1) or into an E8M0 scale:
///
/// - FP6/FP4: round to nearest even (or toward zero), saturating to ±max
///   normal (OCP's conversion rule); NaN gives `+0` since the formats have
///   no NaN; the sign of zero is kept.
/// - E8M0: `clamp(floor(log2|x|), −127, 127) + 127` (the exponent of `|x|`,
///   as MX scale selection computes it); NaN and ±Inf give `0xFF` (NaN),
///   zero gives `0x00`.
///
/// For any other target the IR's encoder is used.
pub fn encode_storage_float(x: f64, to: DType, rounding: Rounding) -> u64 {
    match to {
        DType::F6E3M2 => encode_sign_magnitude(x, 3, 2, 3, rounding),
        DType::F6E2M3 => encode_sign_magnitude(x, 2, 3, 1, rounding),
        DType::F4E2M1 => encode_sign_magnitude(x, 2, 1, 1, rounding),
        DType::E8M0 => encode_e8m0(x),
        other => match other.float_type() {
            Some(t) => maiac_ir::semantics::convert::f64_to_float_bits_rounded(x, t, rounding),
            // Integer targets are not float conversions; `LaneOp::check` rejects them.
            None => 0,
        },
    }
}

/// A format with a sign bit, `exp_bits`, `man_bits`, `bias` and no Inf/NaN.
fn encode_sign_magnitude(x: f64, exp_bits: u32, man_bits: u32, bias: i32, rounding: Rounding) -> u64 {
    if x.is_nan() {
        return 0;
    }
    let sign = u64::from(x.is_sign_negative()) << (exp_bits + man_bits);
    let magnitude = x.abs();
    let max_code = (1u64 << (exp_bits + man_bits)) - 1;
    let emax = (1i32 << exp_bits) - 1 - bias;
    let max_value = (2.0 - 2f64.powi(-(man_bits as i32))) * 2f64.powi(emax);
    if magnitude >= max_value {
        return sign | max_code;
    }
    if magnitude == 0.0 {
        return sign;
    }
    // Exponent of the binade (subnormals share the minimum normal exponent).
    let emin = 1 - bias;
    let exponent = (magnitude.log2().floor() as i32).max(emin);
    let quantum = 2f64.powi(exponent - man_bits as i32);
    let scaled = magnitude / quantum; // exact: division by a power of two
    let steps = match rounding {
        Rounding::NearestEven => scaled.round_ties_even(),
        Rounding::TowardZero => scaled.trunc(),
    };
    let value = steps * quantum;
    if value >= max_value {
        return sign | max_code;
    }
    let steps = steps as u64;
    // `steps` counts quanta of the binade: below 2^man_bits is subnormal
    // (exponent field 0), 2^(man_bits+1) means rounding carried into the
    // next binade.
    let code = if exponent == emin && steps < (1 << man_bits) {
        steps
    } else {
        let (exponent, steps) =
            if steps >= (2 << man_bits) { (exponent + 1, steps >> 1) } else { (exponent, steps) };
        let field = (exponent + bias) as u64;
        (field << man_bits) | (steps - (1 << man_bits))
    };
    sign | code.min(max_code)
}

fn encode_e8m0(x: f64) -> u64 {
    if !x.is_finite() {
        return 0xFF;
    }
    if x == 0.0 {
        return 0;
    }
    let exponent = (x.abs().log2().floor() as i32).clamp(-127, 127);
    (exponent + 127) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_all(ty: DType) {
        for code in 0..(1u64 << ty.value_bits()) {
            let x = ty.decode_f64(code);
            assert_eq!(encode_storage_float(x, ty, Rounding::NearestEven), code, "{ty} {code:#x}");
        }
    }

    #[test]
    fn every_code_round_trips() {
        round_trip_all(DType::F4E2M1);
        round_trip_all(DType::F6E2M3);
        round_trip_all(DType::F6E3M2);
    }

    #[test]
    fn rounds_to_nearest_even_and_saturates() {
        let fp4 = |x| encode_storage_float(x, DType::F4E2M1, Rounding::NearestEven);
        assert_eq!(fp4(2.5), 0x4); // between 2 and 3: even mantissa is 2
        assert_eq!(fp4(3.5), 0x6); // between 3 and 4: 4
        assert_eq!(fp4(0.25), 0x0); // half of the smallest subnormal: ties to 0
        assert_eq!(fp4(0.26), 0x1);
        assert_eq!(fp4(100.0), 0x7);
        assert_eq!(fp4(-100.0), 0xF);
        assert_eq!(encode_storage_float(2.9, DType::F4E2M1, Rounding::TowardZero), 0x4);
        assert_eq!(encode_storage_float(1.0, DType::E8M0, Rounding::NearestEven), 127);
        assert_eq!(encode_storage_float(3.0, DType::E8M0, Rounding::NearestEven), 128);
        assert_eq!(encode_storage_float(f64::NAN, DType::E8M0, Rounding::NearestEven), 0xFF);
    }

    #[test]
    fn dequantizes_with_the_block_scale() {
        assert_eq!(MxFormat::Fp4E2M1.dequantize(0x7, 128), 12.0);
        assert_eq!(MxFormat::Fp8E4M3.dequantize(0x38, 126), 0.5);
    }
}
