//! Types, attributes and locations: the vocabulary shared by every op's syntax.

use std::collections::HashMap;

use super::cursor::{Cursor, PResult};
use crate::attributes::{Attribute, DenseElements, NamedAttr};
use crate::entities::{Block, Loc, Value};
use crate::location::LocData;
use crate::module::Module;
use crate::types::{FloatType, Type};

/// Maximum nesting of regions, types and attributes accepted (keeps absurd
/// input from exhausting the stack).
pub const MAX_DEPTH: usize = 200;

/// Parser state shared by all syntax files.
pub struct Parser<'a> {
    pub cur: Cursor<'a>,
    pub module: Module,
    /// Lexical scopes of SSA names (innermost last).
    pub scopes: Vec<HashMap<String, Value>>,
    /// Block labels of the regions being parsed (innermost last).
    pub labels: Vec<HashMap<String, Block>>,
    /// Alias name → its alias node in the location arena.
    pub aliases: HashMap<String, Loc>,
    /// Where each alias was first used (for "undefined alias" errors).
    pub alias_uses: Vec<(String, crate::dfg::SrcPos)>,
    pub depth: usize,
}

impl<'a> Parser<'a> {
    pub fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.cur.error("nesting too deep"));
        }
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---------------------------------------------------------------- types

    /// Parses a type.
    pub fn parse_type(&mut self) -> PResult<Type> {
        self.enter()?;
        let t = self.parse_type_inner();
        self.leave();
        t
    }

    fn parse_type_inner(&mut self) -> PResult<Type> {
        let start = self.cur.src_pos();
        if self.cur.eat("!tt.ptr") {
            self.cur.expect("<")?;
            let pointee = self.parse_type()?;
            let addr_space = if self.cur.eat(",") {
                self.cur.decimal()? as u32
            } else {
                1
            };
            self.cur.expect(">")?;
            return Ok(Type::Ptr {
                pointee: Box::new(pointee),
                addr_space,
            });
        }
        if self.cur.eat("!tt.tensordesc") {
            self.cur.expect("<")?;
            let block = self.parse_desc_block()?;
            self.cur.expect(">")?;
            return Ok(Type::TensorDesc {
                block: Box::new(block),
            });
        }
        if self.cur.eat_keyword("tensor") {
            self.cur.expect("<")?;
            let shape = self.cur.dims()?;
            let elem = self.parse_type()?;
            if self.cur.eat(",") {
                return Err(self
                    .cur
                    .error("tensor encodings (layouts) are not TTIR; expected `>`"));
            }
            self.cur.expect(">")?;
            if elem.is_tensor() {
                return Err(self
                    .cur
                    .error_at(start, "a tensor's element type cannot be a tensor"));
            }
            return Ok(Type::Tensor {
                shape,
                elem: Box::new(elem),
            });
        }
        let word = self.cur.word().map_err(|_| {
            let found = self.cur.describe_next();
            self.cur.error(format!("expected a type, found {found}"))
        })?;
        if word == "index" {
            return Ok(Type::Index);
        }
        if let Some(f) = FloatType::from_mlir_name(&word) {
            return Ok(Type::Float(f));
        }
        // Signless `iN`, and MLIR's signed/unsigned `siN`/`uiN`: Triton (3.4 on)
        // writes a tensor descriptor's integer block with its signedness
        // (`!tt.tensordesc<8x16xsi32>`) while the loads and stores through it
        // move signless tensors; maiac's integers are signless, the ops say
        // how to read them.
        let int_width = word
            .strip_prefix('i')
            .or_else(|| word.strip_prefix("si"))
            .or_else(|| word.strip_prefix("ui"))
            .and_then(|w| w.parse::<u32>().ok());
        if let Some(w) = int_width {
            return Ok(Type::Int(w));
        }
        Err(self.cur.error_at(start, format!("unknown type `{word}`")))
    }

    /// The block of a tensor descriptor: `32x32xf16` (Triton 3.9) or
    /// `tensor<32x32xf16>` (older).
    pub fn parse_desc_block(&mut self) -> PResult<Type> {
        if self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
            let shape = self.cur.dims()?;
            let elem = self.parse_type()?;
            return Ok(Type::Tensor {
                shape,
                elem: Box::new(elem),
            });
        }
        self.parse_type()
    }

    /// `(T, U) -> R` or `(T) -> (R, S)`.
    pub fn parse_function_type(&mut self) -> PResult<(Vec<Type>, Vec<Type>)> {
        self.cur.expect("(")?;
        let inputs = self.parse_type_list_until(")")?;
        self.cur.expect("->")?;
        let results = self.parse_result_types()?;
        Ok((inputs, results))
    }

    /// `T` or `(T, U)` or `()`.
    pub fn parse_result_types(&mut self) -> PResult<Vec<Type>> {
        if self.cur.eat("(") {
            self.parse_type_list_until(")")
        } else {
            Ok(vec![self.parse_type()?])
        }
    }

    /// Comma-separated types up to and including `close`.
    pub fn parse_type_list_until(&mut self, close: &str) -> PResult<Vec<Type>> {
        let mut types = Vec::new();
        if self.cur.eat(close) {
            return Ok(types);
        }
        loop {
            types.push(self.parse_type()?);
            if self.cur.eat(close) {
                return Ok(types);
            }
            self.cur.expect(",")?;
        }
    }

    /// Comma-separated types (at least one).
    pub fn parse_type_list(&mut self) -> PResult<Vec<Type>> {
        let mut types = vec![self.parse_type()?];
        while self.cur.eat(",") {
            types.push(self.parse_type()?);
        }
        Ok(types)
    }

    // ----------------------------------------------------------- attributes

    /// `{name = value, flag, ...}` (the `{` not yet consumed).
    pub fn parse_attr_dict(&mut self) -> PResult<Vec<NamedAttr>> {
        self.cur.expect("{")?;
        let mut attrs = Vec::new();
        if self.cur.eat("}") {
            return Ok(attrs);
        }
        loop {
            let name = if self.cur.peek() == Some(b'"') {
                self.cur.string()?
            } else {
                self.cur.ident()?
            };
            let value = if self.cur.eat("=") {
                self.parse_attr_for(&name)?
            } else {
                Attribute::Unit
            };
            attrs.push(NamedAttr { name, value });
            if self.cur.eat("}") {
                return Ok(attrs);
            }
            self.cur.expect(",")?;
        }
    }

    /// An attribute value, normalizing generic encodings of known enums.
    pub fn parse_attr_for(&mut self, name: &str) -> PResult<Attribute> {
        let attr = self.parse_attr()?;
        Ok(super::enums::normalize_attr(name, attr))
    }

    /// An attribute value.
    pub fn parse_attr(&mut self) -> PResult<Attribute> {
        self.enter()?;
        let a = self.parse_attr_inner();
        self.leave();
        a
    }

    fn parse_attr_inner(&mut self) -> PResult<Attribute> {
        match self.cur.peek() {
            Some(b'"') => return Ok(Attribute::String(self.cur.string()?)),
            Some(b'@') => return Ok(Attribute::Symbol(self.cur.sigil_name(b'@')?)),
            Some(b'[') => {
                self.cur.expect("[")?;
                let mut items = Vec::new();
                if !self.cur.eat("]") {
                    loop {
                        items.push(self.parse_attr()?);
                        if self.cur.eat("]") {
                            break;
                        }
                        self.cur.expect(",")?;
                    }
                }
                return Ok(Attribute::Array(items));
            }
            Some(b'{') => return Ok(Attribute::Dict(self.parse_attr_dict()?)),
            Some(b'#') => {
                let start = self.cur.pos;
                let _ = start;
                let name = self.cur.sigil_name(b'#')?;
                let mut text = format!("#{name}");
                if self.cur.peek() == Some(b'<') {
                    text += &self.cur.balanced_angle()?;
                }
                return Ok(Attribute::Opaque(text));
            }
            Some(b'(') => {
                let (inputs, results) = self.parse_function_type()?;
                return Ok(Attribute::FunctionType { inputs, results });
            }
            Some(b'!') => return Ok(Attribute::Type(self.parse_type()?)),
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => {
                return self.parse_number_attr();
            }
            _ => {}
        }
        if self.cur.eat_keyword("true") {
            return Ok(Attribute::Bool(true));
        }
        if self.cur.eat_keyword("false") {
            return Ok(Attribute::Bool(false));
        }
        if self.cur.eat_keyword("unit") {
            return Ok(Attribute::Unit);
        }
        if self.cur.eat_keyword("dense") {
            return self.parse_dense();
        }
        if self.cur.eat_keyword("array") {
            self.cur.expect("<")?;
            let elem = self.parse_type()?;
            let mut values = Vec::new();
            if self.cur.eat(":") {
                loop {
                    if self.cur.eat_keyword("true") {
                        values.push(1);
                    } else if self.cur.eat_keyword("false") {
                        values.push(0);
                    } else {
                        let text = self.cur.number_text()?;
                        values.push(parse_int_text(&text).ok_or_else(|| {
                            self.cur.error(format!("invalid integer `{text}` in array"))
                        })? as i64);
                    }
                    if !self.cur.eat(",") {
                        break;
                    }
                }
            }
            self.cur.expect(">")?;
            return Ok(Attribute::DenseArray { elem, values });
        }
        // A type (`f32`, `tensor<...>`) or a bare keyword (an enum value).
        let save = (self.cur.pos, self.cur.line, self.cur.col);
        if let Ok(ty) = self.parse_type() {
            return Ok(Attribute::Type(ty));
        }
        (self.cur.pos, self.cur.line, self.cur.col) = save;
        let word = self.cur.word()?;
        Ok(Attribute::Enum(word))
    }

    /// `42`, `-1 : i32`, `1.5e+00 : f32`, `0x7F800000 : f32`.
    fn parse_number_attr(&mut self) -> PResult<Attribute> {
        let start = self.cur.src_pos();
        let text = self.cur.number_text()?;
        let ty = if self.cur.eat(":") {
            Some(self.parse_type()?)
        } else {
            None
        };
        let shown = ty.as_ref().map(|t| format!(" `{t}`")).unwrap_or_default();
        number_attr(&text, ty).ok_or_else(|| {
            self.cur.error_at(
                start,
                format!("invalid number `{text}` for its type{shown}"),
            )
        })
    }

    /// `dense<...> : tensor<...>` after the `dense` keyword.
    fn parse_dense(&mut self) -> PResult<Attribute> {
        self.cur.expect("<")?;
        let start = self.cur.src_pos();
        let raw = self.parse_dense_items()?;
        self.cur.expect(">")?;
        self.cur.expect(":")?;
        let ty = self.parse_type()?;
        let elem = ty.element().clone();
        let convert = |p: &Self, item: &DenseItem| -> PResult<Attribute> {
            match item {
                DenseItem::Bool(b) => match elem {
                    Type::Int(1) => Ok(Attribute::Int {
                        value: i128::from(*b),
                        ty: Type::I1,
                    }),
                    _ => Ok(Attribute::Bool(*b)),
                },
                DenseItem::Num(text) => number_attr(text, Some(elem.clone())).ok_or_else(|| {
                    p.cur
                        .error_at(start, format!("invalid element `{text}` for `{elem}`"))
                }),
            }
        };
        let elems = match raw {
            DenseTree::Leaf(item) => DenseElements::Splat(Box::new(convert(self, &item)?)),
            tree => {
                let mut flat = Vec::new();
                tree.flatten(&mut flat);
                let n = ty.num_elements();
                if flat.len() as u64 != n {
                    return Err(self.cur.error_at(
                        start,
                        format!(
                            "dense literal has {} elements but `{ty}` needs {n}",
                            flat.len()
                        ),
                    ));
                }
                let mut out = Vec::with_capacity(flat.len());
                for item in &flat {
                    out.push(convert(self, item)?);
                }
                DenseElements::Elements(out)
            }
        };
        Ok(Attribute::Dense { ty, elems })
    }

    fn parse_dense_items(&mut self) -> PResult<DenseTree> {
        self.enter()?;
        let r = if self.cur.eat("[") {
            let mut items = Vec::new();
            if !self.cur.eat("]") {
                loop {
                    items.push(self.parse_dense_items()?);
                    if self.cur.eat("]") {
                        break;
                    }
                    self.cur.expect(",")?;
                }
            }
            Ok(DenseTree::List(items))
        } else if self.cur.eat_keyword("true") {
            Ok(DenseTree::Leaf(DenseItem::Bool(true)))
        } else if self.cur.eat_keyword("false") {
            Ok(DenseTree::Leaf(DenseItem::Bool(false)))
        } else if self.cur.peek() == Some(b'"') {
            // Hex blob form `dense<"0x...">` is not produced by Triton for TTIR.
            Err(self
                .cur
                .error("hex-blob `dense` literals are not supported"))
        } else {
            Ok(DenseTree::Leaf(DenseItem::Num(self.cur.number_text()?)))
        };
        self.leave();
        r
    }

    // ------------------------------------------------------------ locations

    /// An optional trailing `loc(...)`.
    pub fn parse_opt_loc(&mut self) -> PResult<Option<Loc>> {
        if self.cur.eat_keyword("loc") {
            self.cur.expect("(")?;
            let loc = self.parse_loc_inner()?;
            self.cur.expect(")")?;
            Ok(Some(loc))
        } else {
            Ok(None)
        }
    }

    /// The inside of `loc(...)`.
    pub fn parse_loc_inner(&mut self) -> PResult<Loc> {
        self.enter()?;
        let r = self.parse_loc_inner2();
        self.leave();
        r
    }

    fn parse_loc_inner2(&mut self) -> PResult<Loc> {
        if self.cur.peek() == Some(b'#') {
            let pos = self.cur.src_pos();
            let name = self.cur.sigil_name(b'#')?;
            return Ok(self.alias_use(&name, pos));
        }
        if self.cur.eat_keyword("unknown") {
            return Ok(self.module.locs.push(LocData::Unknown));
        }
        if self.cur.eat_keyword("callsite") {
            self.cur.expect("(")?;
            let callee = self.parse_loc_inner()?;
            self.cur.expect_keyword("at")?;
            let caller = self.parse_loc_inner()?;
            self.cur.expect(")")?;
            return Ok(self.module.locs.push(LocData::CallSite { callee, caller }));
        }
        if self.cur.eat_keyword("fused") {
            let metadata = if self.cur.peek() == Some(b'<') {
                let text = self.cur.balanced_angle()?;
                Some(text[1..text.len() - 1].to_string())
            } else {
                None
            };
            self.cur.expect("[")?;
            let mut locs = Vec::new();
            if !self.cur.eat("]") {
                loop {
                    locs.push(self.parse_loc_inner()?);
                    if self.cur.eat("]") {
                        break;
                    }
                    self.cur.expect(",")?;
                }
            }
            return Ok(self.module.locs.push(LocData::Fused { metadata, locs }));
        }
        if self.cur.peek() == Some(b'"') {
            let s = self.cur.string()?;
            if self.cur.eat(":") {
                let line = self.cur.decimal()? as u32;
                self.cur.expect(":")?;
                let col = self.cur.decimal()? as u32;
                // MLIR file ranges (`to line:col`) are accepted and the end dropped.
                if self.cur.eat_keyword("to") {
                    let _ = self.cur.decimal()?;
                    if self.cur.eat(":") {
                        let _ = self.cur.decimal()?;
                    }
                }
                return Ok(self.module.locs.push(LocData::File { file: s, line, col }));
            }
            let child = if self.cur.eat("(") {
                let c = self.parse_loc_inner()?;
                self.cur.expect(")")?;
                Some(c)
            } else {
                None
            };
            return Ok(self.module.locs.push(LocData::Name { name: s, child }));
        }
        let found = self.cur.describe_next();
        Err(self
            .cur
            .error(format!("expected a location, found {found}")))
    }

    /// A use of `#name`, creating its alias node on first sight.
    pub fn alias_use(&mut self, name: &str, pos: crate::dfg::SrcPos) -> Loc {
        if let Some(&loc) = self.aliases.get(name) {
            return loc;
        }
        let loc = self.module.locs.push(LocData::Alias {
            name: name.to_string(),
            target: None,
        });
        self.aliases.insert(name.to_string(), loc);
        self.alias_uses.push((name.to_string(), pos));
        loc
    }
}

/// A `dense<...>` literal before its type is known.
enum DenseTree {
    Leaf(DenseItem),
    List(Vec<DenseTree>),
}

enum DenseItem {
    Bool(bool),
    Num(String),
}

impl DenseTree {
    fn flatten<'t>(&'t self, out: &mut Vec<&'t DenseItem>) {
        match self {
            DenseTree::Leaf(i) => out.push(i),
            DenseTree::List(items) => items.iter().for_each(|t| t.flatten(out)),
        }
    }
}

/// Parses an integer literal (decimal or hex, optional sign).
pub fn parse_int_text(text: &str) -> Option<i128> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let v = if let Some(hex) = body.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else {
        body.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Builds an integer or float attribute from literal text and an optional type.
pub fn number_attr(text: &str, ty: Option<Type>) -> Option<Attribute> {
    let is_hex = text.trim_start_matches(['-', '+']).starts_with("0x");
    let looks_float = !is_hex && (text.contains('.') || text.contains('e') || text.contains('E'));
    match ty {
        Some(Type::Float(f)) => {
            if is_hex {
                let bits = u64::try_from(parse_int_text(text)?).ok()?;
                if f.bits() < 64 && bits >> f.bits() != 0 {
                    return None;
                }
                Some(Attribute::Float { bits, ty: f })
            } else {
                let v: f64 = text.parse().ok()?;
                Some(Attribute::Float {
                    bits: f64_to_float_bits(v, f),
                    ty: f,
                })
            }
        }
        Some(ty @ (Type::Int(_) | Type::Index)) => {
            if looks_float {
                return None;
            }
            let v = parse_int_text(text)?;
            let w = ty.int_width().unwrap_or(64);
            if w == 0 {
                return None;
            }
            // Accept the signed or the unsigned reading of the width.
            if w < 128 {
                let min = -(1i128 << (w - 1).min(126));
                let max = (1i128 << w.min(127)) - 1;
                if v < min || v > max {
                    return None;
                }
            }
            Some(Attribute::Int { value: v, ty })
        }
        Some(_) => None,
        None => {
            if looks_float {
                let v: f64 = text.parse().ok()?;
                Some(Attribute::Float {
                    bits: v.to_bits(),
                    ty: FloatType::F64,
                })
            } else {
                Some(Attribute::Int {
                    value: parse_int_text(text)?,
                    ty: Type::I64,
                })
            }
        }
    }
}

/// Rounds a decimal literal's value to the float type (nearest-even), as
/// MLIR does when it reads a float attribute.
pub fn f64_to_float_bits(v: f64, f: FloatType) -> u64 {
    use crate::numerics::{FloatFormat, Overflow, Rounding};
    let format = match f {
        FloatType::F64 => return v.to_bits(),
        FloatType::F32 => FloatFormat::F32,
        FloatType::F16 => FloatFormat::F16,
        FloatType::BF16 => FloatFormat::BF16,
        FloatType::F8E4M3FN => FloatFormat::F8E4M3FN,
        FloatType::F8E5M2 => FloatFormat::F8E5M2,
        FloatType::F8E4M3FNUZ => FloatFormat::F8E4M3FNUZ,
        FloatType::F8E5M2FNUZ => FloatFormat::F8E5M2FNUZ,
    };
    format.encode_f64(v, Rounding::NearestEven, Overflow::FormatRule)
}
