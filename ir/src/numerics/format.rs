//! [`FloatFormat`]: the binary floating-point formats maiac computes with,
//! and their static properties (widths, bias, range, special encodings).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::FloatType;

/// A binary floating-point storage format.
///
/// A code of a format is its raw bit pattern in the low [`bits`](Self::bits)
/// bits of an integer: sign (if any), then exponent, then mantissa.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FloatFormat {
    /// IEEE 754 binary64.
    F64,
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary16.
    F16,
    /// bfloat16: binary32's exponent with a 7-bit mantissa.
    BF16,
    /// OCP FP8 E4M3: no Inf, NaN = `S.1111.111`, max 448.
    F8E4M3FN,
    /// OCP FP8 E5M2: IEEE-style Inf and NaN, max 57344.
    F8E5M2,
    /// FP8 E4M3 with bias 8, no Inf, no −0; `0x80` is the only NaN; max 240.
    F8E4M3FNUZ,
    /// FP8 E5M2 with bias 16, no Inf, no −0; `0x80` is the only NaN; max 57344.
    F8E5M2FNUZ,
    /// OCP MX FP6 E3M2: no Inf, no NaN, max 28.
    F6E3M2,
    /// OCP MX FP6 E2M3: no Inf, no NaN, max 7.5.
    F6E2M3,
    /// OCP MX FP4 E2M1: no Inf, no NaN, values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}.
    F4E2M1,
    /// OCP MX scale E8M0: unsigned powers of two `2^(code − 127)`, no zero,
    /// `0xFF` is NaN.
    E8M0,
}

/// How a format spends its special encodings (Inf, NaN, −0).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Specials {
    /// IEEE 754: the all-ones exponent holds ±Inf (zero mantissa) and NaNs.
    Ieee,
    /// No Inf; only `S.1…1.1…1` (all ones) is NaN, either sign (E4M3FN).
    AllOnesNan,
    /// No Inf and no −0: the negative-zero pattern is the only NaN (FNUZ).
    NegativeZeroNan,
    /// No Inf and no NaN: every code is a finite number (FP6, FP4).
    FiniteOnly,
    /// Unsigned exponent-only codes with no zero; all ones is NaN (E8M0).
    ExponentOnly,
}

impl FloatFormat {
    /// Every format, in a stable order.
    pub const ALL: [FloatFormat; 12] = [
        FloatFormat::F64,
        FloatFormat::F32,
        FloatFormat::F16,
        FloatFormat::BF16,
        FloatFormat::F8E4M3FN,
        FloatFormat::F8E5M2,
        FloatFormat::F8E4M3FNUZ,
        FloatFormat::F8E5M2FNUZ,
        FloatFormat::F6E3M2,
        FloatFormat::F6E2M3,
        FloatFormat::F4E2M1,
        FloatFormat::E8M0,
    ];

    /// The MLIR builtin type spelling (`f32`, `bf16`, `f8E4M3FN`,
    /// `f6E3M2FN`, `f4E2M1FN`, `f8E8M0FNU`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FloatFormat::F64 => "f64",
            FloatFormat::F32 => "f32",
            FloatFormat::F16 => "f16",
            FloatFormat::BF16 => "bf16",
            FloatFormat::F8E4M3FN => "f8E4M3FN",
            FloatFormat::F8E5M2 => "f8E5M2",
            FloatFormat::F8E4M3FNUZ => "f8E4M3FNUZ",
            FloatFormat::F8E5M2FNUZ => "f8E5M2FNUZ",
            FloatFormat::F6E3M2 => "f6E3M2FN",
            FloatFormat::F6E2M3 => "f6E2M3FN",
            FloatFormat::F4E2M1 => "f4E2M1FN",
            FloatFormat::E8M0 => "f8E8M0FNU",
        }
    }

    /// Parses a [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<FloatFormat> {
        FloatFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Position in [`ALL`](Self::ALL), for per-format tables.
    #[inline]
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The TTIR element type of this format, if TTIR has one.
    pub fn float_type(self) -> Option<FloatType> {
        Some(match self {
            FloatFormat::F64 => FloatType::F64,
            FloatFormat::F32 => FloatType::F32,
            FloatFormat::F16 => FloatType::F16,
            FloatFormat::BF16 => FloatType::BF16,
            FloatFormat::F8E4M3FN => FloatType::F8E4M3FN,
            FloatFormat::F8E5M2 => FloatType::F8E5M2,
            FloatFormat::F8E4M3FNUZ => FloatType::F8E4M3FNUZ,
            FloatFormat::F8E5M2FNUZ => FloatType::F8E5M2FNUZ,
            FloatFormat::F6E3M2 | FloatFormat::F6E2M3 | FloatFormat::F4E2M1 | FloatFormat::E8M0 => {
                return None
            }
        })
    }

    /// Width of a code in bits.
    #[inline]
    pub fn bits(self) -> u32 {
        u32::from(self.is_signed()) + self.exponent_bits() + self.mantissa_bits()
    }

    /// Bytes one unpacked code occupies in memory (FP6 and FP4 codes sit in
    /// the low bits of a byte).
    pub fn storage_bytes(self) -> usize {
        self.bits().div_ceil(8) as usize
    }

    /// Width of the exponent field.
    #[inline]
    pub fn exponent_bits(self) -> u32 {
        match self {
            FloatFormat::F64 => 11,
            FloatFormat::F32 | FloatFormat::BF16 | FloatFormat::E8M0 => 8,
            FloatFormat::F16 | FloatFormat::F8E5M2 | FloatFormat::F8E5M2FNUZ => 5,
            FloatFormat::F8E4M3FN | FloatFormat::F8E4M3FNUZ => 4,
            FloatFormat::F6E3M2 => 3,
            FloatFormat::F6E2M3 | FloatFormat::F4E2M1 => 2,
        }
    }

    /// Width of the mantissa (trailing significand) field.
    #[inline]
    pub fn mantissa_bits(self) -> u32 {
        match self {
            FloatFormat::F64 => 52,
            FloatFormat::F32 => 23,
            FloatFormat::F16 => 10,
            FloatFormat::BF16 => 7,
            FloatFormat::F8E4M3FN | FloatFormat::F8E4M3FNUZ | FloatFormat::F6E2M3 => 3,
            FloatFormat::F8E5M2 | FloatFormat::F8E5M2FNUZ | FloatFormat::F6E3M2 => 2,
            FloatFormat::F4E2M1 => 1,
            FloatFormat::E8M0 => 0,
        }
    }

    /// Exponent bias: a normal code with biased exponent `e` and mantissa
    /// `m` is `(1 + m / 2^mantissa_bits) · 2^(e − bias)`; a subnormal one
    /// (`e = 0`) is `m / 2^mantissa_bits · 2^(1 − bias)`.
    #[inline]
    pub fn bias(self) -> i32 {
        match self {
            FloatFormat::F8E4M3FNUZ => 8,
            FloatFormat::F8E5M2FNUZ => 16,
            // The OCP formats keep the IEEE bias 2^(E−1) − 1.
            _ => (1 << (self.exponent_bits() - 1)) - 1,
        }
    }

    /// How the format uses its special encodings.
    #[inline]
    pub fn specials(self) -> Specials {
        match self {
            FloatFormat::F64
            | FloatFormat::F32
            | FloatFormat::F16
            | FloatFormat::BF16
            | FloatFormat::F8E5M2 => Specials::Ieee,
            FloatFormat::F8E4M3FN => Specials::AllOnesNan,
            FloatFormat::F8E4M3FNUZ | FloatFormat::F8E5M2FNUZ => Specials::NegativeZeroNan,
            FloatFormat::F6E3M2 | FloatFormat::F6E2M3 | FloatFormat::F4E2M1 => Specials::FiniteOnly,
            FloatFormat::E8M0 => Specials::ExponentOnly,
        }
    }

    /// Whether codes carry a sign bit (all but E8M0).
    #[inline]
    pub fn is_signed(self) -> bool {
        self != FloatFormat::E8M0
    }

    /// Whether ±Inf are representable.
    #[inline]
    pub fn has_inf(self) -> bool {
        self.specials() == Specials::Ieee
    }

    /// Whether some code is NaN.
    #[inline]
    pub fn has_nan(self) -> bool {
        self.specials() != Specials::FiniteOnly
    }

    /// Whether zero is representable (all but E8M0).
    #[inline]
    pub fn has_zero(self) -> bool {
        self != FloatFormat::E8M0
    }

    /// Whether −0 is distinct from +0 (not in the FNUZ formats, whose
    /// negative-zero pattern is NaN, nor in unsigned E8M0).
    #[inline]
    pub fn has_negative_zero(self) -> bool {
        matches!(
            self.specials(),
            Specials::Ieee | Specials::AllOnesNan | Specials::FiniteOnly
        )
    }

    /// Whether the format has subnormal codes (all but E8M0, whose code 0 is
    /// the normal number 2^−127).
    #[inline]
    pub fn has_subnormals(self) -> bool {
        self != FloatFormat::E8M0
    }

    /// Mask of the valid code bits.
    #[inline]
    pub fn code_mask(self) -> u64 {
        if self.bits() == 64 {
            u64::MAX
        } else {
            (1 << self.bits()) - 1
        }
    }

    /// The sign bit of a code (0 for unsigned E8M0).
    #[inline]
    pub fn sign_mask(self) -> u64 {
        if self.is_signed() {
            1 << (self.bits() - 1)
        } else {
            0
        }
    }

    /// Mask of the mantissa field.
    #[inline]
    pub(crate) fn mantissa_mask(self) -> u64 {
        (1 << self.mantissa_bits()) - 1
    }

    /// The exponent field's all-ones value.
    #[inline]
    pub(crate) fn exponent_field_max(self) -> u64 {
        (1 << self.exponent_bits()) - 1
    }

    /// The positive code of the largest finite value.
    #[inline]
    pub fn max_finite_code(self) -> u64 {
        let all_ones = self.code_mask() & !self.sign_mask();
        match self.specials() {
            // Largest exponent below the Inf/NaN one, mantissa all ones.
            Specials::Ieee => (self.exponent_field_max() << self.mantissa_bits()) - 1,
            // All ones minus the NaN code (`S.1111.110` = 448 for E4M3FN).
            Specials::AllOnesNan | Specials::ExponentOnly => all_ones - 1,
            Specials::NegativeZeroNan | Specials::FiniteOnly => all_ones,
        }
    }

    /// The largest finite value (for E8M0, 2^127).
    pub fn max_finite(self) -> f64 {
        self.decode_f64(self.max_finite_code())
    }

    /// The smallest positive normal value (for E8M0, 2^−127).
    pub fn min_normal(self) -> f64 {
        if self.has_subnormals() {
            self.decode_f64(1 << self.mantissa_bits())
        } else {
            self.decode_f64(0)
        }
    }

    /// The smallest positive value: the smallest subnormal, or for E8M0 its
    /// code 0 (2^−127).
    pub fn min_positive(self) -> f64 {
        if self.has_subnormals() {
            self.decode_f64(1)
        } else {
            self.decode_f64(0)
        }
    }

    /// `floor(log2(max_finite))`: the exponent of the largest normal number
    /// (`emax` of the OCP MX spec: 8 for E4M3, 15 for E5M2, 4 for E3M2, 2 for
    /// E2M3 and E2M1).
    pub fn emax(self) -> i32 {
        (self.max_finite_code() >> self.mantissa_bits()) as i32 - self.bias()
    }

    /// `log2(min_normal)`: the exponent of the smallest normal number.
    pub fn emin(self) -> i32 {
        if self.has_subnormals() {
            1 - self.bias()
        } else {
            -self.bias()
        }
    }

    /// The positive canonical NaN code, if the format has NaN: a quiet NaN
    /// with zero payload for the IEEE formats, `0x7F` for E4M3FN, `0x80`
    /// for the FNUZ formats, `0xFF` for E8M0.
    #[inline]
    pub fn nan_code(self) -> Option<u64> {
        match self.specials() {
            Specials::Ieee => {
                let quiet_bit = 1 << (self.mantissa_bits() - 1);
                Some((self.exponent_field_max() << self.mantissa_bits()) | quiet_bit)
            }
            Specials::AllOnesNan | Specials::ExponentOnly => {
                Some(self.code_mask() & !self.sign_mask())
            }
            Specials::NegativeZeroNan => Some(self.sign_mask()),
            Specials::FiniteOnly => None,
        }
    }

    /// The code of +Inf, if the format has Inf.
    #[inline]
    pub fn inf_code(self) -> Option<u64> {
        self.has_inf()
            .then(|| self.exponent_field_max() << self.mantissa_bits())
    }

    /// Whether `code` encodes a NaN (bits above [`bits`](Self::bits) are
    /// ignored).
    #[inline]
    pub fn is_nan_code(self, code: u64) -> bool {
        let code = code & self.code_mask();
        let magnitude = code & !self.sign_mask();
        match self.specials() {
            Specials::Ieee => magnitude > self.exponent_field_max() << self.mantissa_bits(),
            Specials::AllOnesNan | Specials::ExponentOnly => {
                magnitude == self.code_mask() & !self.sign_mask()
            }
            Specials::NegativeZeroNan => code == self.sign_mask(),
            Specials::FiniteOnly => false,
        }
    }

    /// Whether `code` encodes ±Inf.
    #[inline]
    pub fn is_inf_code(self, code: u64) -> bool {
        self.inf_code()
            .is_some_and(|inf| code & self.code_mask() & !self.sign_mask() == inf)
    }
}

impl fmt::Display for FloatFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<FloatType> for FloatFormat {
    fn from(ty: FloatType) -> FloatFormat {
        match ty {
            FloatType::F64 => FloatFormat::F64,
            FloatType::F32 => FloatFormat::F32,
            FloatType::F16 => FloatFormat::F16,
            FloatType::BF16 => FloatFormat::BF16,
            FloatType::F8E4M3FN => FloatFormat::F8E4M3FN,
            FloatType::F8E5M2 => FloatFormat::F8E5M2,
            FloatType::F8E4M3FNUZ => FloatFormat::F8E4M3FNUZ,
            FloatType::F8E5M2FNUZ => FloatFormat::F8E5M2FNUZ,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FloatFormat::*;

    #[test]
    fn names_round_trip_and_match_mlir() {
        for format in FloatFormat::ALL {
            assert_eq!(FloatFormat::from_name(format.name()), Some(format));
            if let Some(ty) = format.float_type() {
                assert_eq!(ty.mlir_name(), format.name());
                assert_eq!(FloatFormat::from(ty), format);
            }
        }
        assert_eq!(
            FloatFormat::from_name("f8e4m3fn"),
            None,
            "names are case-sensitive"
        );
    }

    #[test]
    fn layout_table() {
        // (format, bits, exponent bits, mantissa bits, bias, emax, emin)
        let table = [
            (F64, 64, 11, 52, 1023, 1023, -1022),
            (F32, 32, 8, 23, 127, 127, -126),
            (F16, 16, 5, 10, 15, 15, -14),
            (BF16, 16, 8, 7, 127, 127, -126),
            (F8E4M3FN, 8, 4, 3, 7, 8, -6),
            (F8E5M2, 8, 5, 2, 15, 15, -14),
            (F8E4M3FNUZ, 8, 4, 3, 8, 7, -7),
            (F8E5M2FNUZ, 8, 5, 2, 16, 15, -15),
            (F6E3M2, 6, 3, 2, 3, 4, -2),
            (F6E2M3, 6, 2, 3, 1, 2, 0),
            (F4E2M1, 4, 2, 1, 1, 2, 0),
            (E8M0, 8, 8, 0, 127, 127, -127),
        ];
        for (format, bits, e, m, bias, emax, emin) in table {
            assert_eq!(
                (
                    format.bits(),
                    format.exponent_bits(),
                    format.mantissa_bits(),
                    format.bias(),
                    format.emax(),
                    format.emin()
                ),
                (bits, e, m, bias, emax, emin),
                "{format}"
            );
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(F8E4M3FN.max_finite(), 448.0);
        assert_eq!(F8E5M2.max_finite(), 57344.0);
        assert_eq!(F8E4M3FNUZ.max_finite(), 240.0);
        assert_eq!(F8E5M2FNUZ.max_finite(), 57344.0);
        assert_eq!(F6E3M2.max_finite(), 28.0);
        assert_eq!(F6E2M3.max_finite(), 7.5);
        assert_eq!(F4E2M1.max_finite(), 6.0);
        assert_eq!(E8M0.max_finite(), 2f64.powi(127));
        assert_eq!(F16.max_finite(), 65504.0);
        assert_eq!(F32.max_finite(), f64::from(f32::MAX));
        assert_eq!(F64.max_finite(), f64::MAX);
        assert_eq!(F8E4M3FN.min_positive(), 2f64.powi(-9));
        assert_eq!(F8E5M2.min_positive(), 2f64.powi(-16));
        assert_eq!(F4E2M1.min_positive(), 0.5);
        assert_eq!(F4E2M1.min_normal(), 1.0);
        assert_eq!(E8M0.min_positive(), 2f64.powi(-127));
        assert_eq!(F64.min_positive(), f64::from_bits(1));
    }

    #[test]
    fn special_codes() {
        assert_eq!(F32.nan_code(), Some(0x7FC0_0000));
        assert_eq!(F64.nan_code(), Some(0x7FF8_0000_0000_0000));
        assert_eq!(F16.nan_code(), Some(0x7E00));
        assert_eq!(BF16.nan_code(), Some(0x7FC0));
        assert_eq!(F8E5M2.nan_code(), Some(0x7E));
        assert_eq!(F8E4M3FN.nan_code(), Some(0x7F));
        assert_eq!(F8E4M3FNUZ.nan_code(), Some(0x80));
        assert_eq!(E8M0.nan_code(), Some(0xFF));
        assert_eq!(F4E2M1.nan_code(), None);
        assert_eq!(F8E5M2.inf_code(), Some(0x7C));
        assert_eq!(F8E4M3FN.inf_code(), None);
        assert!(F8E4M3FN.is_nan_code(0xFF) && F8E4M3FN.is_nan_code(0x7F));
        assert!(!F8E4M3FN.is_nan_code(0x7E));
        assert!(F8E5M2.is_nan_code(0xFD) && !F8E5M2.is_nan_code(0xFC));
        assert!(F8E5M2.is_inf_code(0xFC));
        assert!(F8E5M2FNUZ.is_nan_code(0x80) && !F8E5M2FNUZ.is_nan_code(0x00));
        assert!((0..64).all(|c| !F6E3M2.is_nan_code(c)));
    }

    #[test]
    fn zero_and_sign() {
        assert!(!E8M0.is_signed() && !E8M0.has_zero() && E8M0.sign_mask() == 0);
        assert!(!F8E4M3FNUZ.has_negative_zero() && F8E4M3FN.has_negative_zero());
        assert_eq!(F4E2M1.sign_mask(), 0x8);
        assert_eq!(F6E2M3.sign_mask(), 0x20);
        assert_eq!(F4E2M1.storage_bytes(), 1);
        assert_eq!(BF16.storage_bytes(), 2);
    }
}
