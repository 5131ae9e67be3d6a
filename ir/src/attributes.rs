//! Attribute values attached to ops (`{axis = 0 : i32}`, `<{...}>` properties,
//! `dense<...>` constants, `array<i32: 1, 0>`, symbolic enums like `slt`).

use crate::types::{FloatType, Type};

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Attribute {
    /// `unit` (presence-only attribute).
    Unit,
    /// `true` / `false`.
    Bool(bool),
    /// An integer `value : type` (the value is kept sign-extended to i128 so
    /// that both `i64` and `ui64` fit).
    Int { value: i128, ty: Type },
    /// A float constant kept as the raw bits of its type (exact, NaN payloads
    /// included): `1.000000e+00 : f32`, `0xFF800000 : f32`.
    Float { bits: u64, ty: FloatType },
    /// `"text"`.
    String(String),
    /// A type used as an attribute value.
    Type(Type),
    /// A function signature `(i32, !tt.ptr<f32>) -> ()`.
    FunctionType {
        inputs: Vec<Type>,
        results: Vec<Type>,
    },
    /// A symbol reference `@name`.
    Symbol(String),
    /// A symbolic enum value whose meaning is fixed by the attribute's name:
    /// `predicate = slt`, `inputPrecision = tf32`, `cacheModifier = ca`,
    /// `atomic_rmw_op = add`, `rounding = rtne`, ... Both the pretty keyword
    /// and the generic encoding are normalized to this form by the parser.
    Enum(String),
    /// `[a, b, ...]`.
    Array(Vec<Attribute>),
    /// `array<i32: 1, 0>` (also `array<i1: true>` with 0/1 values).
    DenseArray { elem: Type, values: Vec<i64> },
    /// `dense<...> : tensor<...>`: `ty` is the tensor type.
    Dense { ty: Type, elems: DenseElements },
    /// `{name = value, ...}`.
    Dict(Vec<NamedAttr>),
    /// A dialect attribute we keep as written (`#tt.foo<...>`), so that it
    /// round-trips even if maiac gives it no meaning.
    Opaque(String),
}

/// The payload of a `dense<...>` attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum DenseElements {
    /// One value for every element.
    Splat(Box<Attribute>),
    /// One value per element, row-major.
    Elements(Vec<Attribute>),
}

/// A `name = value` pair.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedAttr {
    pub name: String,
    pub value: Attribute,
}

impl Attribute {
    /// The integer value, if this is an integer (or bool) attribute.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Attribute::Int { value, .. } => Some(*value),
            Attribute::Bool(b) => Some(i128::from(*b)),
            _ => None,
        }
    }

    /// The string value of a string, symbol or enum attribute.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attribute::String(s) | Attribute::Symbol(s) | Attribute::Enum(s) => Some(s),
            _ => None,
        }
    }

    /// The values of a dense array or an array of integers.
    pub fn as_int_list(&self) -> Option<Vec<i64>> {
        match self {
            Attribute::DenseArray { values, .. } => Some(values.clone()),
            Attribute::Array(items) => items
                .iter()
                .map(|a| a.as_int().and_then(|v| i64::try_from(v).ok()))
                .collect(),
            _ => None,
        }
    }
}

/// A sorted list of named attributes (MLIR prints attribute dictionaries in
/// name order; keeping them sorted makes printing deterministic).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttrList(Vec<NamedAttr>);

impl AttrList {
    pub fn new() -> Self {
        AttrList(Vec::new())
    }

    /// Sets `name` to `value`, replacing an existing entry.
    pub fn set(&mut self, name: &str, value: Attribute) {
        match self.0.binary_search_by(|a| a.name.as_str().cmp(name)) {
            Ok(i) => self.0[i].value = value,
            Err(i) => self.0.insert(
                i,
                NamedAttr {
                    name: name.to_string(),
                    value,
                },
            ),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.0
            .binary_search_by(|a| a.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.0[i].value)
    }

    pub fn remove(&mut self, name: &str) -> Option<Attribute> {
        self.0
            .binary_search_by(|a| a.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0.remove(i).value)
    }

    pub fn iter(&self) -> impl Iterator<Item = &NamedAttr> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Integer attribute `name`, if present.
    pub fn int(&self, name: &str) -> Option<i128> {
        self.get(name).and_then(Attribute::as_int)
    }

    /// String/enum/symbol attribute `name`, if present.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Attribute::as_str)
    }
}

impl FromIterator<NamedAttr> for AttrList {
    fn from_iter<T: IntoIterator<Item = NamedAttr>>(iter: T) -> Self {
        let mut list = AttrList::new();
        for a in iter {
            list.set(&a.name, a.value);
        }
        list
    }
}
