//! OCP Microscaling (MX v1.0) formats as the machine sees them: the element
//! formats of MX quantize/dequantize and of scaled TTU operands, and
//! rounding into the FP6/FP4/E8M0 storage formats.
//!
//! A block is [`MX_BLOCK`] = 32 consecutive elements along the quantized
//! axis sharing one E8M0 scale `2^(s − 127)`.

use std::fmt;

use maiac_ir::numerics::mx::{dequantize_value, quantize_block_into, MxElement};
use maiac_ir::numerics::{Overflow, Rounding};

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
    pub const ALL: [MxFormat; 5] = [
        MxFormat::Fp8E4M3,
        MxFormat::Fp8E5M2,
        MxFormat::Fp6E3M2,
        MxFormat::Fp6E2M3,
        MxFormat::Fp4E2M1,
    ];

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

    /// The `maiac_ir::numerics` MX element of this format.
    pub fn mx_element(self) -> MxElement {
        match self {
            MxFormat::Fp8E4M3 => MxElement::E4M3,
            MxFormat::Fp8E5M2 => MxElement::E5M2,
            MxFormat::Fp6E3M2 => MxElement::E3M2,
            MxFormat::Fp6E2M3 => MxElement::E2M3,
            MxFormat::Fp4E2M1 => MxElement::E2M1,
        }
    }

    /// The element format's largest exponent (`emax` of the OCP spec).
    pub fn emax(self) -> i32 {
        self.mx_element().emax()
    }

    /// Quantizes one block (normally [`MX_BLOCK`] values) per OCP MX v1.0
    /// (`maiac_ir::numerics::mx`): writes one element code per value
    /// (unpacked, one per byte) and returns the E8M0 scale code.
    /// `codes.len()` must equal `values.len()`; extra codes are left alone.
    pub fn quantize_block(self, values: &[f32], codes: &mut [u8]) -> u8 {
        let n = values.len().min(codes.len());
        quantize_block_into(&values[..n], self.mx_element(), &mut codes[..n])
    }

    /// Dequantizes one element: `fl32(decode(code) × 2^(scale − 127))`, NaN
    /// if the scale or the code is NaN (`maiac_ir::numerics::mx`).
    pub fn dequantize(self, code: u64, scale: u64) -> f32 {
        dequantize_value(
            scale as u8,
            (code & self.element().value_mask()) as u8,
            self.mx_element(),
        )
    }
}

impl fmt::Display for MxFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rounds `x` once into the float type `to` with `rounding` and the
/// format's own overflow rule (`maiac_ir::numerics`, as `ml_dtypes`'
/// `astype` does): FP6/FP4 saturate to ±max (a NaN becomes ∓0, `ml_dtypes`'
/// stand-in); E8M0 rounds to the nearest power of two, with zero, negatives,
/// Inf and NaN giving `0xFF` (NaN). For the IR's float types this equals
/// `maiac_ir::semantics::convert` (the interpreter's conversions). Integer
/// targets are not float conversions ([`crate::isa::LaneOp::check`] rejects
/// them) and give 0.
pub fn encode_storage_float(x: f64, to: DType, rounding: Rounding) -> u64 {
    match to.float_format() {
        Some(format) => format.encode_f64(x, rounding, Overflow::FormatRule),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for ty in [DType::F4E2M1, DType::F6E2M3, DType::F6E3M2] {
            for code in 0..(1u64 << ty.value_bits()) {
                let x = ty.decode_f64(code);
                assert_eq!(
                    encode_storage_float(x, ty, Rounding::NearestEven),
                    code,
                    "{ty} {code:#x}"
                );
            }
        }
    }

    #[test]
    fn rounds_to_nearest_even_and_saturates() {
        let fp4 = |x| encode_storage_float(x, DType::F4E2M1, Rounding::NearestEven);
        assert_eq!(fp4(2.5), 0x4); // between 2 and 3: even mantissa is 2
        assert_eq!(fp4(3.5), 0x6); // between 3 and 4: 4
        assert_eq!(fp4(0.25), 0x0); // half the smallest subnormal: ties to 0
        assert_eq!(fp4(100.0), 0x7);
        assert_eq!(fp4(-100.0), 0xF);
        assert_eq!(
            encode_storage_float(2.9, DType::F4E2M1, Rounding::TowardZero),
            0x4
        );
        assert_eq!(
            encode_storage_float(1.0, DType::E8M0, Rounding::NearestEven),
            127
        );
        assert_eq!(
            encode_storage_float(f64::NAN, DType::E8M0, Rounding::NearestEven),
            0xFF
        );
        assert_eq!(
            encode_storage_float(1.0, DType::F32, Rounding::NearestEven),
            0x3F80_0000
        );
    }

    #[test]
    fn quantizes_and_dequantizes_blocks() {
        let values: Vec<f32> = (0..32).map(|i| i as f32 * 0.25).collect();
        let mut codes = [0u8; 32];
        let scale = MxFormat::Fp4E2M1.quantize_block(&values, &mut codes);
        // max 7.75: floor(log2) = 2, emax(e2m1) = 2 -> shared exponent 0.
        assert_eq!(scale, 127);
        assert_eq!(
            MxFormat::Fp4E2M1.dequantize(u64::from(codes[8]), u64::from(scale)),
            2.0
        );
        assert_eq!(MxFormat::Fp4E2M1.dequantize(0x7, 128), 12.0);
        assert_eq!(MxFormat::Fp8E4M3.dequantize(0x38, 126), 0.5);
        assert_eq!(MxFormat::Fp4E2M1.emax(), 2);
    }
}
