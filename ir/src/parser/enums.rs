//! Symbolic enum attributes: the keyword spellings of the pretty form and
//! the integer encodings of the generic form map to one canonical
//! [`Attribute::Enum`].

use crate::attributes::Attribute;
use crate::opcode::Opcode;

const CMPI: &[&str] = &[
    "eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge",
];
const CMPF: &[&str] = &[
    "false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord", "ueq", "ugt", "uge", "ult", "ule",
    "une", "uno", "true",
];

/// The integer encodings Triton's enums use in the generic form
/// (`cache = 1 : i32`), as (attribute name, [(code, keyword)]).
const TABLES: &[(&str, &[(i128, &str)])] = &[
    (
        "cache",
        &[
            (1, "none"),
            (2, "ca"),
            (3, "cg"),
            (4, "wb"),
            (5, "cs"),
            (6, "wt"),
            (7, "cv"),
        ],
    ),
    (
        "evict",
        &[(1, "evict_normal"), (2, "evict_first"), (3, "evict_last")],
    ),
    ("padding", &[(1, "zero"), (2, "nan")]),
    (
        "atomic_rmw_op",
        &[
            (1, "and"),
            (2, "or"),
            (3, "xor"),
            (4, "add"),
            (5, "fadd"),
            (6, "max"),
            (7, "min"),
            (8, "umax"),
            (9, "umin"),
            (10, "exch"),
        ],
    ),
    // `tt.descriptor_reduce`'s `DescriptorReduceKind` (PTX's order).
    (
        "kind",
        &[
            (1, "add"),
            (2, "min"),
            (3, "max"),
            (4, "inc"),
            (5, "dec"),
            (6, "and"),
            (7, "or"),
            (8, "xor"),
        ],
    ),
    (
        "sem",
        &[
            (1, "relaxed"),
            (2, "acquire"),
            (3, "release"),
            (4, "acq_rel"),
        ],
    ),
    ("scope", &[(1, "gpu"), (2, "cta"), (3, "sys")]),
    ("rounding", &[(0, "rtz"), (1, "rtne")]),
    ("propagateNan", &[(0, "none"), (65535, "all")]),
    (
        "inputPrecision",
        &[
            (0, "tf32"),
            (1, "tf32x3"),
            (2, "ieee"),
            (3, "bf16x3"),
            (4, "bf16x6"),
        ],
    ),
];

const SCALE_TYPES: &[(i128, &str)] = &[
    (0, "e4m3"),
    (1, "e5m2"),
    (2, "e2m3"),
    (3, "e3m2"),
    (4, "e2m1"),
    (5, "bf16"),
    (6, "fp16"),
];

fn table(name: &str) -> Option<&'static [(i128, &'static str)]> {
    if matches!(name, "a_elem_type" | "b_elem_type" | "lhs" | "rhs") {
        return Some(SCALE_TYPES);
    }
    TABLES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Normalizes an attribute parsed in a dictionary under `name`.
pub fn normalize_attr(name: &str, attr: Attribute) -> Attribute {
    let Some(table) = table(name) else {
        return attr;
    };
    match &attr {
        Attribute::Int { value, .. } => table
            .iter()
            .find(|(code, _)| code == value)
            .map(|(_, kw)| Attribute::Enum(kw.to_string()))
            .unwrap_or(attr),
        Attribute::Opaque(text) => opaque_keyword(text).map(Attribute::Enum).unwrap_or(attr),
        _ => attr,
    }
}

/// `#tt<cache_modifier ca>` / `#tt.cache_modifier<ca>` → `ca`.
fn opaque_keyword(text: &str) -> Option<String> {
    let inner = text.split_once('<')?.1.strip_suffix('>')?;
    Some(inner.split_whitespace().last()?.to_string())
}

/// Normalizes an op's `predicate` (generic integer → keyword).
pub fn normalize_predicate(opcode: Opcode, attr: Attribute) -> Attribute {
    let names = match opcode {
        Opcode::CmpI => CMPI,
        Opcode::CmpF => CMPF,
        _ => return attr,
    };
    match attr.as_int() {
        Some(v) if (0..names.len() as i128).contains(&v) => {
            Attribute::Enum(names[v as usize].to_string())
        }
        _ => attr,
    }
}

/// Whether `kw` is a valid predicate of the comparison op.
pub fn is_predicate(opcode: Opcode, kw: &str) -> bool {
    match opcode {
        Opcode::CmpI => CMPI.contains(&kw),
        Opcode::CmpF => CMPF.contains(&kw),
        _ => false,
    }
}

/// The generic-form integer of an enum keyword (used when an op carrying it
/// is printed in generic form).
pub fn enum_code(opcode: Opcode, name: &str, kw: &str) -> Option<i128> {
    if name == "predicate" {
        let names = if opcode == Opcode::CmpI { CMPI } else { CMPF };
        return names.iter().position(|n| *n == kw).map(|i| i as i128);
    }
    table(name)?.iter().find(|(_, k)| *k == kw).map(|(c, _)| *c)
}
