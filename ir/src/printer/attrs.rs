//! Printing attribute values and literals.

use std::fmt::Write;

use crate::attributes::{Attribute, DenseElements};
use crate::opcode::Opcode;
use crate::types::{FloatType, Type};

/// A string literal with MLIR escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' => out += "\\\"",
            b'\\' => out += "\\\\",
            b'\n' => out += "\\n",
            b'\t' => out += "\\t",
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:02X}");
            }
        }
    }
    out.push('"');
    out
}

/// Whether an attribute name can be printed without quotes.
pub fn is_bare_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'.')
}

/// A float value of type `ty` given by its bits: decimal when that reads
/// back to the same bits, otherwise hex.
pub fn print_float_literal(bits: u64, ty: FloatType) -> String {
    let value = decode(bits, ty);
    if value.is_finite() {
        let mut s = format!("{value:e}");
        if !s.split('e').next().unwrap_or("").contains('.') {
            s = s.replacen('e', ".0e", 1);
        }
        let back: Option<f64> = s.parse().ok();
        if back.map(|b| crate::parser::f64_to_float_bits(b, ty)) == Some(bits) {
            return s;
        }
    }
    let digits = (ty.bits() as usize).div_ceil(4);
    format!("0x{bits:0digits$X}")
}

fn decode(bits: u64, ty: FloatType) -> f64 {
    use crate::numerics::FloatFormat;
    let format = match ty {
        FloatType::F64 => return f64::from_bits(bits),
        FloatType::F32 => FloatFormat::F32,
        FloatType::F16 => FloatFormat::F16,
        FloatType::BF16 => FloatFormat::BF16,
        FloatType::F8E4M3FN => FloatFormat::F8E4M3FN,
        FloatType::F8E5M2 => FloatFormat::F8E5M2,
        FloatType::F8E4M3FNUZ => FloatFormat::F8E4M3FNUZ,
        FloatType::F8E5M2FNUZ => FloatFormat::F8E5M2FNUZ,
    };
    format.decode_f64(bits)
}

/// An element of a `dense<...>` literal (no type suffix).
fn dense_element(a: &Attribute) -> String {
    match a {
        Attribute::Int {
            value,
            ty: Type::Int(1),
        } => (if *value != 0 { "true" } else { "false" }).to_string(),
        Attribute::Int { value, .. } => value.to_string(),
        Attribute::Float { bits, ty } => print_float_literal(*bits, *ty),
        Attribute::Bool(b) => b.to_string(),
        other => print_attr(Opcode::Constant, "", other),
    }
}

/// Prints an attribute value. `opcode` and `name` select the generic
/// encoding of enum keywords.
pub fn print_attr(opcode: Opcode, name: &str, a: &Attribute) -> String {
    match a {
        Attribute::Unit => "unit".to_string(),
        Attribute::Bool(b) => b.to_string(),
        Attribute::Int { value, ty } => match ty {
            Type::Int(1) => (if *value != 0 { "true" } else { "false" }).to_string(),
            _ => format!("{value} : {ty}"),
        },
        Attribute::Float { bits, ty } => {
            format!("{} : {}", print_float_literal(*bits, *ty), ty.mlir_name())
        }
        Attribute::String(s) => quote(s),
        Attribute::Type(t) => t.to_string(),
        Attribute::FunctionType { inputs, results } => {
            let i: Vec<String> = inputs.iter().map(Type::to_string).collect();
            let r: Vec<String> = results.iter().map(Type::to_string).collect();
            format!("({}) -> ({})", i.join(", "), r.join(", "))
        }
        Attribute::Symbol(s) => format!("@{s}"),
        Attribute::Enum(kw) => match crate::parser::enum_code(opcode, name, kw) {
            Some(code) => format!("{code} : i32"),
            None => kw.clone(),
        },
        Attribute::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| print_attr(opcode, "", i)).collect();
            format!("[{}]", parts.join(", "))
        }
        Attribute::DenseArray { elem, values } => {
            if values.is_empty() {
                format!("array<{elem}>")
            } else if *elem == Type::I1 {
                let v: Vec<&str> = values
                    .iter()
                    .map(|&v| if v != 0 { "true" } else { "false" })
                    .collect();
                format!("array<{elem}: {}>", v.join(", "))
            } else {
                let v: Vec<String> = values.iter().map(i64::to_string).collect();
                format!("array<{elem}: {}>", v.join(", "))
            }
        }
        Attribute::Dense { ty, elems } => {
            let body = match elems {
                DenseElements::Splat(e) => dense_element(e),
                DenseElements::Elements(items) => dense_nested(items, ty.shape()),
            };
            format!("dense<{body}> : {ty}")
        }
        Attribute::Dict(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|a| {
                    let n = if is_bare_name(&a.name) {
                        a.name.clone()
                    } else {
                        quote(&a.name)
                    };
                    match a.value {
                        Attribute::Unit => n,
                        _ => format!("{n} = {}", print_attr(opcode, &a.name, &a.value)),
                    }
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Attribute::Opaque(text) => text.clone(),
    }
}

fn dense_nested(items: &[Attribute], shape: &[i64]) -> String {
    if shape.len() <= 1 {
        let parts: Vec<String> = items.iter().map(dense_element).collect();
        return format!("[{}]", parts.join(", "));
    }
    let inner: usize = shape[1..].iter().map(|&d| d.max(0) as usize).product();
    if inner == 0 {
        return "[]".to_string();
    }
    let parts: Vec<String> = items
        .chunks(inner)
        .map(|c| dense_nested(c, &shape[1..]))
        .collect();
    format!("[{}]", parts.join(", "))
}
