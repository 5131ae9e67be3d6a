//! Decoding: the exact value of a code, as f64 (exact for every format) or
//! f32 (exact for every format but f64, which rounds to nearest even).
//!
//! NaN codes decode to NaNs built from bits, never from host arithmetic, so
//! the result is the same on every machine, and equal to `ml_dtypes`' (and
//! numpy's for f16): f16, bf16 and f32 keep sign and payload (the payload is
//! shifted to the top of the wider mantissa, as hardware widening does);
//! the FP8 NaNs (E5M2's six, E4M3FN's two) give the quiet NaN with the
//! code's sign; the FNUZ NaN `0x80` gives the negative quiet NaN; E8M0's
//! `0xFF` the positive one. Narrowing an f64 NaN to f32 gives the quiet NaN
//! with its sign.
//!
//! Formats of at most 8 bits also have a 256-entry f32 decode table, built
//! on first use, for bulk decoding ([`FloatFormat::decode_table_f32`]).

use std::sync::OnceLock;

use super::format::{FloatFormat, Specials};

const F64_QUIET_NAN: u64 = 0x7FF8_0000_0000_0000;
const F32_QUIET_NAN: u32 = 0x7FC0_0000;

/// 2^k as an f64, exactly, for k in [−1074, 1023].
pub(crate) fn pow2(k: i32) -> f64 {
    debug_assert!((-1074..=1023).contains(&k));
    if k >= -1022 {
        f64::from_bits(((k + 1023) as u64) << 52)
    } else {
        f64::from_bits(1 << (k + 1074))
    }
}

impl FloatFormat {
    /// The exact value of `code` (bits above [`bits`](Self::bits) are
    /// ignored).
    pub fn decode_f64(self, code: u64) -> f64 {
        let code = code & self.code_mask();
        if self.is_nan_code(code) {
            return f64::from_bits(self.nan_to_f64_bits(code));
        }
        if self == FloatFormat::F64 {
            return f64::from_bits(code);
        }
        let negative = code & self.sign_mask() != 0;
        let magnitude = if self.is_inf_code(code) {
            f64::INFINITY
        } else if self == FloatFormat::E8M0 {
            pow2(code as i32 - self.bias())
        } else {
            let mantissa_bits = self.mantissa_bits() as i32;
            let exponent = (code >> mantissa_bits) & self.exponent_field_max();
            let mantissa = code & self.mantissa_mask();
            // value = integer significand · 2^(unbiased exponent − mantissa bits),
            // both factors exact in f64 and their product representable.
            let (significand, scale) = if exponent == 0 {
                (mantissa, 1 - self.bias() - mantissa_bits)
            } else {
                (
                    mantissa | (1 << mantissa_bits),
                    exponent as i32 - self.bias() - mantissa_bits,
                )
            };
            significand as f64 * pow2(scale)
        };
        if negative {
            -magnitude
        } else {
            magnitude
        }
    }

    /// The value of `code` as an f32: exact for every format but f64, whose
    /// values round to nearest even.
    pub fn decode_f32(self, code: u64) -> f32 {
        match self.decode_table_f32() {
            Some(table) => table[(code & self.code_mask()) as usize],
            None => self.decode_f32_uncached(code),
        }
    }

    fn decode_f32_uncached(self, code: u64) -> f32 {
        if self == FloatFormat::F32 {
            return f32::from_bits(code as u32);
        }
        let wide = self.decode_f64(code);
        if wide.is_nan() {
            f32::from_bits(f64_nan_to_f32_bits(
                wide.to_bits(),
                self != FloatFormat::F64,
            ))
        } else {
            wide as f32
        }
    }

    /// The f64 bits of a NaN code.
    fn nan_to_f64_bits(self, code: u64) -> u64 {
        let sign = if code & self.sign_mask() != 0 {
            1 << 63
        } else {
            0
        };
        match self.specials() {
            Specials::Ieee if self.bits() >= 16 => {
                let payload = code & self.mantissa_mask();
                sign | (0x7FF << 52) | (payload << (52 - self.mantissa_bits()))
            }
            // A 2-bit payload carries nothing: all FP8 NaNs are "the" NaN.
            Specials::Ieee | Specials::AllOnesNan | Specials::NegativeZeroNan => {
                sign | F64_QUIET_NAN
            }
            Specials::ExponentOnly | Specials::FiniteOnly => F64_QUIET_NAN,
        }
    }

    /// The 256-entry f32 decode table of a format of at most 8 bits
    /// (entries past `2^bits` repeat the table, as codes are masked).
    /// `None` for wider formats.
    pub fn decode_table_f32(self) -> Option<&'static [f32; 256]> {
        static TABLES: [OnceLock<[f32; 256]>; FloatFormat::ALL.len()] =
            [const { OnceLock::new() }; FloatFormat::ALL.len()];
        if self.bits() > 8 {
            return None;
        }
        Some(
            TABLES[self.index()]
                .get_or_init(|| std::array::from_fn(|code| self.decode_f32_uncached(code as u64))),
        )
    }

    /// Decodes one code per byte into `out` (FP6/FP4 codes in the low bits,
    /// unpacked), through the decode table.
    ///
    /// # Panics
    /// If the format is wider than 8 bits or the slices differ in length.
    pub fn decode_bytes_f32(self, codes: &[u8], out: &mut [f32]) {
        assert_eq!(codes.len(), out.len(), "decode_bytes_f32: length mismatch");
        let table = self
            .decode_table_f32()
            .unwrap_or_else(|| panic!("decode_bytes_f32: {self} codes do not fit in a byte"));
        for (value, &code) in out.iter_mut().zip(codes) {
            *value = table[usize::from(code)];
        }
    }
}

/// Narrows f64 NaN bits to f32 NaN bits: keeps the sign and, when
/// `keep_payload` (the payload came from a format no wider than f32), the
/// top of the payload; otherwise the quiet NaN.
fn f64_nan_to_f32_bits(bits: u64, keep_payload: bool) -> u32 {
    let sign = ((bits >> 63) as u32) << 31;
    if keep_payload {
        sign | 0x7F80_0000 | ((bits >> 29) as u32 & 0x007F_FFFF)
    } else {
        sign | F32_QUIET_NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FloatFormat::*;

    #[test]
    fn small_formats() {
        let fp4: Vec<f64> = (0..16).map(|c| F4E2M1.decode_f64(c)).collect();
        assert_eq!(&fp4[..8], &[0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]);
        assert_eq!(&fp4[8..], &[-0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]);
        assert!(fp4[8].is_sign_negative());
        assert_eq!(F6E2M3.decode_f64(0x1F), 7.5);
        assert_eq!(F6E2M3.decode_f64(0x01), 0.125);
        assert_eq!(F6E3M2.decode_f64(0x01), 0.0625);
        assert_eq!(F6E3M2.decode_f64(0x3F), -28.0);
        assert_eq!(F8E4M3FN.decode_f64(0x01), 2f64.powi(-9));
        assert_eq!(F8E5M2.decode_f64(0xFC), f64::NEG_INFINITY);
    }

    #[test]
    fn e8m0_powers_of_two() {
        for code in 0..255 {
            assert_eq!(E8M0.decode_f64(code), 2f64.powi(code as i32 - 127));
        }
        assert_eq!(
            E8M0.decode_f32(0),
            f32::from_bits(0x0040_0000),
            "2^-127 is an f32 subnormal"
        );
        assert!(E8M0.decode_f64(0xFF).is_nan());
    }

    #[test]
    fn nan_bits_are_deterministic() {
        assert_eq!(F8E4M3FN.decode_f32(0xFF).to_bits(), 0xFFC0_0000);
        assert_eq!(F8E4M3FN.decode_f32(0x7F).to_bits(), 0x7FC0_0000);
        assert_eq!(F8E4M3FNUZ.decode_f32(0x80).to_bits(), 0xFFC0_0000);
        assert_eq!(E8M0.decode_f32(0xFF).to_bits(), 0x7FC0_0000);
        assert_eq!(
            BF16.decode_f32(0x7F81).to_bits(),
            0x7F81_0000,
            "payload kept"
        );
        assert_eq!(
            F16.decode_f32(0x7C01).to_bits(),
            0x7F80_2000,
            "payload kept"
        );
        assert_eq!(F64.decode_f32(0xFFF0_0000_0000_0001).to_bits(), 0xFFC0_0000);
    }

    #[test]
    fn wide_formats() {
        assert_eq!(F64.decode_f32(1.0f64.to_bits()), 1.0);
        assert_eq!(F64.decode_f32(1e300f64.to_bits()), f32::INFINITY);
        assert_eq!(F32.decode_f64(0x0000_0001), f64::from(f32::from_bits(1)));
        assert_eq!(F16.decode_f64(0x0001), 2f64.powi(-24));
    }

    #[test]
    fn decode_tables() {
        assert!(F16.decode_table_f32().is_none());
        let table = F8E5M2.decode_table_f32().unwrap();
        for code in 0..256u64 {
            let expected = F8E5M2.decode_f32(code);
            assert_eq!(table[code as usize].to_bits(), expected.to_bits());
        }
        let fp4 = F4E2M1.decode_table_f32().unwrap();
        assert_eq!(fp4[0x17], 6.0, "bits above the code are ignored");
        let mut out = [0.0; 3];
        F8E4M3FN.decode_bytes_f32(&[0x38, 0x7E, 0xB8], &mut out);
        assert_eq!(out, [1.0, 448.0, -1.0]);
    }
}
