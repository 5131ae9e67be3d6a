//! Element types of machine data: what a DMA moves, a view holds, a lane op
//! computes on and the TTU multiplies.
//!
//! Integers are signless (signedness belongs to the op, as in MLIR). The
//! storage width of a type can exceed the width of its value: `i1` is stored
//! in a byte (a load reads `byte != 0`, a store writes 0 or 1), the FP6
//! formats in the low 6 bits of a byte (the top 2 bits are written as zero
//! and ignored on read), and FP4 E2M1 is *packed*: element `i` of a
//! contiguous run lives in nibble `i % 2` (low nibble first) of byte `i / 2`.

use std::fmt;

use maiac_ir::numerics::FloatFormat;
use maiac_ir::semantics::convert::float_to_f32;
use maiac_ir::semantics::mx::MxElement;
use maiac_ir::FloatType;

/// A machine element type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// Boolean, stored as one byte.
    I1,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
    /// OCP FP8 E4M3 (no Inf, NaN = `S.1111.111`).
    F8E4M3FN,
    /// OCP FP8 E5M2 (IEEE-style Inf/NaN).
    F8E5M2,
    /// AMD FNUZ FP8 E4M3 (bias 8, `0x80` is the only NaN).
    F8E4M3FNUZ,
    /// AMD FNUZ FP8 E5M2 (bias 16, `0x80` is the only NaN).
    F8E5M2FNUZ,
    /// OCP FP6 E3M2 (bias 3, max 28, no Inf/NaN), one per byte.
    F6E3M2,
    /// OCP FP6 E2M3 (bias 1, max 7.5, no Inf/NaN), one per byte.
    F6E2M3,
    /// OCP FP4 E2M1 (bias 1, max 6, no Inf/NaN), two per byte, low nibble first.
    F4E2M1,
    /// OCP E8M0 block scale `2^(s−127)`, `0xFF` = NaN.
    E8M0,
}

impl DType {
    /// Every type, in encoding order (the index is the binary code).
    pub const ALL: [DType; 17] = [
        DType::I1,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
        DType::F8E4M3FN,
        DType::F8E5M2,
        DType::F8E4M3FNUZ,
        DType::F8E5M2FNUZ,
        DType::F6E3M2,
        DType::F6E2M3,
        DType::F4E2M1,
        DType::E8M0,
    ];

    /// The assembly spelling (`i32`, `bf16`, `f8e4m3fn`, `f4e2m1`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::I1 => "i1",
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::F8E4M3FN => "f8e4m3fn",
            DType::F8E5M2 => "f8e5m2",
            DType::F8E4M3FNUZ => "f8e4m3fnuz",
            DType::F8E5M2FNUZ => "f8e5m2fnuz",
            DType::F6E3M2 => "f6e3m2",
            DType::F6E2M3 => "f6e2m3",
            DType::F4E2M1 => "f4e2m1",
            DType::E8M0 => "e8m0",
        }
    }

    /// Parses an assembly spelling.
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The binary code (index in [`DType::ALL`]).
    pub fn code(self) -> u8 {
        DType::ALL.iter().position(|&t| t == self).unwrap_or(0) as u8
    }

    /// The type with binary code `code`.
    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.get(usize::from(code)).copied()
    }

    /// The integer type of `width` bits (1, 8, 16, 32 or 64).
    pub fn int(width: u32) -> Option<DType> {
        Some(match width {
            1 => DType::I1,
            8 => DType::I8,
            16 => DType::I16,
            32 => DType::I32,
            64 => DType::I64,
            _ => return None,
        })
    }

    /// The machine type of an IR float type.
    pub fn float(ty: FloatType) -> DType {
        match ty {
            FloatType::F16 => DType::F16,
            FloatType::BF16 => DType::BF16,
            FloatType::F32 => DType::F32,
            FloatType::F64 => DType::F64,
            FloatType::F8E4M3FN => DType::F8E4M3FN,
            FloatType::F8E5M2 => DType::F8E5M2,
            FloatType::F8E4M3FNUZ => DType::F8E4M3FNUZ,
            FloatType::F8E5M2FNUZ => DType::F8E5M2FNUZ,
        }
    }

    /// The IR float type, for the formats TTIR has arithmetic on (not the
    /// FP6/FP4/E8M0 storage formats).
    pub fn float_type(self) -> Option<FloatType> {
        Some(match self {
            DType::F16 => FloatType::F16,
            DType::BF16 => FloatType::BF16,
            DType::F32 => FloatType::F32,
            DType::F64 => FloatType::F64,
            DType::F8E4M3FN => FloatType::F8E4M3FN,
            DType::F8E5M2 => FloatType::F8E5M2,
            DType::F8E4M3FNUZ => FloatType::F8E4M3FNUZ,
            DType::F8E5M2FNUZ => FloatType::F8E5M2FNUZ,
            _ => return None,
        })
    }

    /// Width in bits of an integer type.
    pub fn int_width(self) -> Option<u32> {
        Some(match self {
            DType::I1 => 1,
            DType::I8 => 8,
            DType::I16 => 16,
            DType::I32 => 32,
            DType::I64 => 64,
            _ => return None,
        })
    }

    pub fn is_int(self) -> bool {
        self.int_width().is_some()
    }

    /// Any floating format, including FP6/FP4/E8M0.
    pub fn is_float(self) -> bool {
        !self.is_int()
    }

    /// The OCP MX element and scale formats (FP6, FP4, E8M0) that have no
    /// arithmetic of their own: only conversions and the TTU read them.
    pub fn is_storage_only(self) -> bool {
        matches!(
            self,
            DType::F6E3M2 | DType::F6E2M3 | DType::F4E2M1 | DType::E8M0
        )
    }

    /// Bits of the value (`1` for `i1`, `6` for FP6, `4` for FP4).
    pub fn value_bits(self) -> u32 {
        match self {
            DType::I1 => 1,
            DType::F6E3M2 | DType::F6E2M3 => 6,
            DType::F4E2M1 => 4,
            other => other.storage_bits(),
        }
    }

    /// Bits one element occupies in memory: 4 for packed FP4, 8 for `i1`,
    /// FP6, the FP8 formats and E8M0, otherwise the value width.
    pub fn storage_bits(self) -> u32 {
        match self {
            DType::F4E2M1 => 4,
            DType::I1
            | DType::I8
            | DType::F8E4M3FN
            | DType::F8E5M2
            | DType::F8E4M3FNUZ
            | DType::F8E5M2FNUZ
            | DType::F6E3M2
            | DType::F6E2M3
            | DType::E8M0 => 8,
            DType::I16 | DType::F16 | DType::BF16 => 16,
            DType::I32 | DType::F32 => 32,
            DType::I64 | DType::F64 => 64,
        }
    }

    /// Bytes spanned by `count` consecutive elements (rounded up for FP4).
    pub fn bytes_for(self, count: u64) -> u64 {
        count
            .saturating_mul(u64::from(self.storage_bits()))
            .div_ceil(8)
    }

    /// Mask of the value bits.
    pub fn value_mask(self) -> u64 {
        match self.value_bits() {
            64 => u64::MAX,
            w => (1u64 << w) - 1,
        }
    }

    /// The OCP MX element decoder for this type, if it is an MX element format.
    pub fn mx_element(self) -> Option<MxElement> {
        Some(match self {
            DType::F4E2M1 => MxElement::E2M1,
            DType::F6E2M3 => MxElement::E2M3,
            DType::F6E3M2 => MxElement::E3M2,
            DType::F8E4M3FN => MxElement::E4M3,
            DType::F8E5M2 => MxElement::E5M2,
            DType::BF16 => MxElement::BF16,
            DType::F16 => MxElement::FP16,
            _ => return None,
        })
    }

    /// The `maiac_ir::numerics` format of a float type (`None` for integers).
    pub fn float_format(self) -> Option<FloatFormat> {
        Some(match self {
            DType::F16 => FloatFormat::F16,
            DType::BF16 => FloatFormat::BF16,
            DType::F32 => FloatFormat::F32,
            DType::F64 => FloatFormat::F64,
            DType::F8E4M3FN => FloatFormat::F8E4M3FN,
            DType::F8E5M2 => FloatFormat::F8E5M2,
            DType::F8E4M3FNUZ => FloatFormat::F8E4M3FNUZ,
            DType::F8E5M2FNUZ => FloatFormat::F8E5M2FNUZ,
            DType::F6E3M2 => FloatFormat::F6E3M2,
            DType::F6E2M3 => FloatFormat::F6E2M3,
            DType::F4E2M1 => FloatFormat::F4E2M1,
            DType::E8M0 => FloatFormat::E8M0,
            DType::I1 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => return None,
        })
    }

    /// The exact value of `bits` of this type as f64 (every float format
    /// fits in f64; `maiac_ir::numerics` decoding). Integers read as their
    /// signed value. This is how the TTU and conversions decode operands.
    pub fn decode_f64(self, bits: u64) -> f64 {
        match self.float_format() {
            Some(format) => format.decode_f64(bits & self.value_mask()),
            None => {
                let width = self.int_width().unwrap_or(64);
                maiac_ir::semantics::int::sign_extend(bits, width) as f64
            }
        }
    }

    /// The value of float `bits` as f32: exact for every format except f64
    /// (rounded to nearest even) and E8M0 scales beyond f32's range. This is
    /// the TTU's operand decoding (`fl32(a)` in the dot semantics).
    pub fn decode_f32(self, bits: u64) -> f32 {
        match self.float_type() {
            Some(ty) => float_to_f32(bits & self.value_mask(), ty),
            None => self.decode_f64(bits) as f32,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for t in DType::ALL {
            assert_eq!(DType::from_name(t.name()), Some(t));
            assert_eq!(DType::from_code(t.code()), Some(t));
        }
        assert_eq!(DType::from_code(DType::ALL.len() as u8), None);
    }

    #[test]
    fn storage_widths() {
        assert_eq!(DType::F4E2M1.bytes_for(3), 2);
        assert_eq!(DType::I1.bytes_for(3), 3);
        assert_eq!(DType::F6E2M3.storage_bits(), 8);
        assert_eq!(DType::F6E2M3.value_mask(), 0x3F);
        assert_eq!(DType::I64.value_mask(), u64::MAX);
    }

    #[test]
    fn decodes_narrow_formats_exactly() {
        assert_eq!(DType::F4E2M1.decode_f32(0x7), 6.0);
        assert_eq!(DType::F6E3M2.decode_f32(0x1F), 28.0);
        assert_eq!(DType::F8E4M3FN.decode_f32(0x7E), 448.0);
        assert_eq!(DType::BF16.decode_f32(0x3F80), 1.0);
        assert_eq!(DType::E8M0.decode_f64(127), 1.0);
        assert_eq!(DType::I8.decode_f64(0xFF), -1.0);
    }
}
