//! Conversion of a code from one format to another, rounding once.

use super::format::FloatFormat;
use super::rounding::{Overflow, Rounding};

/// Converts `code` of format `from` into a code of format `to`: the source
/// value is decoded exactly to f64 (every format fits) and encoded once, so
/// e.g. bf16 → f8E4M3FN never rounds twice. NaN gives `to`'s NaN (see
/// [`FloatFormat::encode_f64`]); converting to the same format returns the
/// code unchanged, NaN payloads included.
pub fn convert(
    code: u64,
    from: FloatFormat,
    to: FloatFormat,
    rounding: Rounding,
    overflow: Overflow,
) -> u64 {
    let code = code & from.code_mask();
    if from == to {
        return code;
    }
    to.encode_f64(from.decode_f64(code), rounding, overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use FloatFormat::*;
    use Overflow::*;
    use Rounding::*;

    #[test]
    fn rounds_once_from_the_source_value() {
        // Just above the E2M1 tie 2.5 (between 2 and 3): rounds up to 3. Going
        // through bf16 first would land on the tie and round to even 2.
        let code = u64::from(2.5f32.to_bits() + 1);
        assert_eq!(convert(code, F32, F4E2M1, NearestEven, FormatRule), 0x5);
        let via_bf16 = convert(code, F32, BF16, NearestEven, FormatRule);
        assert_eq!(
            convert(via_bf16, BF16, F4E2M1, NearestEven, FormatRule),
            0x4
        );
        // bf16 1.0703125 is above the E4M3 tie 1.0625: up to 1.125, or down
        // to 1.0 toward zero.
        assert_eq!(
            convert(0x3F89, BF16, F8E4M3FN, NearestEven, FormatRule),
            0x39
        );
        assert_eq!(
            convert(0x3F89, BF16, F8E4M3FN, TowardZero, FormatRule),
            0x38
        );
    }

    #[test]
    fn widening_is_exact() {
        for code in 0..256 {
            let wide = convert(code, F8E5M2, F16, NearestEven, FormatRule);
            let value = F8E5M2.decode_f64(code);
            if value.is_nan() {
                assert!(F16.is_nan_code(wide));
            } else {
                assert_eq!(F16.decode_f64(wide), value, "{code:#x}");
            }
        }
    }

    #[test]
    fn specials_follow_the_target() {
        assert_eq!(
            convert(0x7C00, F16, F8E4M3FN, NearestEven, FormatRule),
            0x7F
        );
        assert_eq!(convert(0x7C00, F16, F8E4M3FN, NearestEven, Saturate), 0x7E);
        assert_eq!(
            convert(0x7F, F8E4M3FN, F8E5M2FNUZ, NearestEven, FormatRule),
            0x80
        );
        assert_eq!(convert(0x7E01, F16, F16, NearestEven, FormatRule), 0x7E01);
        assert_eq!(
            convert(0x1_7E01, F16, F32, NearestEven, FormatRule),
            0x7FC0_0000
        );
    }
}
