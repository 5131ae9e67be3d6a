//! Parsing `--arg NAME=NUMBER` per the parameter's type into raw bits.
//!
//! - integers (`iN`, `index`): decimal with an optional sign, or `0x`/`0b`/`0o`
//!   prefixed, `_` separators allowed; any value that fits either the signed
//!   or the unsigned range of the width (`-1` and `0xFFFFFFFF` are the same
//!   i32); `i1` also takes `true`/`false`.
//! - floats: decimal or scientific (`1e-05`), `inf`, `-inf`, `nan` (any case),
//!   parsed with correct rounding straight to f32/f64; f16, bf16 and the fp8
//!   formats round the f64 value to nearest even through
//!   [`maiac_ir::semantics`]. `0x…` gives the raw bit pattern (`0x3F800000` is
//!   1.0 as f32).

use maiac_ir::semantics::convert;
use maiac_ir::{FloatType, Type};

/// Parses `text` as a value of the scalar type `ty`; the error says what was expected.
pub fn parse_scalar(text: &str, ty: &Type) -> Result<u64, String> {
    let text = text.trim();
    match ty {
        Type::Int(width) => parse_int(text, *width),
        Type::Index => parse_int(text, 64),
        Type::Float(ft) => parse_float(text, *ft),
        other => Err(format!("a parameter of type {other} cannot take a number")),
    }
}

fn parse_int(text: &str, width: u32) -> Result<u64, String> {
    if width == 1 {
        match text {
            "true" | "True" => return Ok(1),
            "false" | "False" => return Ok(0),
            _ => {}
        }
    }
    let expected = || format!("expected an i{width} integer (decimal or 0x-hex)");
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (radix, digits) = match unsigned.get(..2) {
        Some("0x" | "0X") => (16, &unsigned[2..]),
        Some("0b" | "0B") => (2, &unsigned[2..]),
        Some("0o" | "0O") => (8, &unsigned[2..]),
        _ => (10, unsigned),
    };
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return Err(expected());
    }
    let magnitude = u128::from_str_radix(&digits, radix).map_err(|_| expected())?;
    let value = if negative {
        -(magnitude.min(1 << 100) as i128)
    } else {
        magnitude.min(1 << 100) as i128
    };
    let min = -(1i128 << (width - 1));
    let max = (1i128 << width) - 1;
    if value < min || value > max {
        return Err(format!(
            "{text} does not fit in i{width} (range {min} ..= {max})"
        ));
    }
    let mask = if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    Ok((value as u64) & mask)
}

fn parse_float(text: &str, ty: FloatType) -> Result<u64, String> {
    let expected = || {
        format!(
            "expected a {} number like 1.5, 1e-05, inf or nan",
            ty.mlir_name()
        )
    };
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        let bits = u64::from_str_radix(hex, 16).map_err(|_| expected())?;
        if ty.bits() < 64 && bits >> ty.bits() != 0 {
            return Err(format!(
                "bit pattern {text} is wider than {}",
                ty.mlir_name()
            ));
        }
        return Ok(bits);
    }
    match ty {
        // Parse straight to the target width: no double rounding.
        FloatType::F32 => text
            .parse::<f32>()
            .map(|v| u64::from(convert::canonical_f32(v).to_bits())),
        FloatType::F64 => text
            .parse::<f64>()
            .map(|v| convert::canonical_f64(v).to_bits()),
        _ => text
            .parse::<f64>()
            .map(|v| convert::f64_to_float_bits(v, ty)),
    }
    .map_err(|_| expected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_of_every_width() {
        assert_eq!(parse_scalar("96", &Type::I32), Ok(96));
        assert_eq!(parse_scalar("-1", &Type::I32), Ok(0xFFFF_FFFF));
        assert_eq!(parse_scalar("0xFFFFFFFF", &Type::I32), Ok(0xFFFF_FFFF));
        assert_eq!(parse_scalar("-0x10", &Type::I64), Ok((-16i64) as u64));
        assert_eq!(parse_scalar("1_000", &Type::I16), Ok(1000));
        assert_eq!(parse_scalar("true", &Type::I1), Ok(1));
        assert_eq!(parse_scalar("-128", &Type::I8), Ok(0x80));
        assert!(parse_scalar("256", &Type::I8)
            .unwrap_err()
            .contains("does not fit in i8"));
        assert!(parse_scalar("-129", &Type::I8).is_err());
        assert!(parse_scalar("1.5", &Type::I32)
            .unwrap_err()
            .contains("expected an i32"));
        assert!(parse_scalar("", &Type::I32).is_err());
        assert!(parse_scalar("--1", &Type::I32).is_err());
    }

    #[test]
    fn floats_including_specials() {
        assert_eq!(
            parse_scalar("1e-05", &Type::F32),
            Ok(u64::from(1e-05f32.to_bits()))
        );
        assert_eq!(
            parse_scalar("inf", &Type::F32),
            Ok(u64::from(f32::INFINITY.to_bits()))
        );
        assert_eq!(
            parse_scalar("-inf", &Type::F32),
            Ok(u64::from(f32::NEG_INFINITY.to_bits()))
        );
        assert_eq!(parse_scalar("NaN", &Type::F32), Ok(0x7FC0_0000));
        assert_eq!(parse_scalar("0x3F800000", &Type::F32), Ok(0x3F80_0000));
        assert_eq!(
            parse_scalar("2.5", &Type::Float(FloatType::F64)),
            Ok(2.5f64.to_bits())
        );
        assert_eq!(
            parse_scalar("1.0", &Type::Float(FloatType::BF16)),
            Ok(0x3F80)
        );
        assert_eq!(
            parse_scalar("1.0", &Type::Float(FloatType::F16)),
            Ok(0x3C00)
        );
        assert!(parse_scalar("abc", &Type::F32)
            .unwrap_err()
            .contains("expected a f32"));
    }
}
