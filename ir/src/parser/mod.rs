//! The TTIR parser: reads MLIR text exactly as Triton 3.2 … 3.9 prints it
//! (pretty and generic op forms, `#loc` aliases before or after the module,
//! inline locations) into a [`Module`], normalizing every op to the
//! canonical form described in docs/ttir.md.
//!
//! Errors are [`Diagnostic`]s located at TTIR `line:col` (with the Python
//! source line of the op they point into, when its `loc` has one); no input
//! makes the parser panic or recurse without bound.

mod cursor;
mod enums;
mod ops;
mod region;
mod syntax;

use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::location::{LocData, PySource};
use crate::module::Module;

pub use enums::{enum_code, is_predicate};
pub use syntax::{f64_to_float_bits, number_attr};

use cursor::Cursor;
use syntax::Parser;

/// Parses a TTIR module. `source_name` names the file in diagnostics.
pub fn parse_module(text: &str, source_name: &str) -> Result<Module, Diagnostic> {
    let mut p = Parser {
        cur: Cursor::new(text, source_name),
        module: Module::new(source_name),
        scopes: Vec::new(),
        labels: Vec::new(),
        aliases: HashMap::new(),
        alias_uses: Vec::new(),
        depth: 0,
    };
    if p.cur.at_end() {
        return Err(p.cur.error("empty input: expected `module {...}`"));
    }
    p.parse_alias_defs()?;
    p.module.locs.aliases_before_module = p.module.locs.alias_defs.len();
    p.parse_module_op()
        .map_err(|d| with_python_of_line(d, text, source_name))?;
    p.parse_alias_defs()?;
    if !p.cur.at_end() {
        let found = p.cur.describe_next();
        return Err(p.cur.error(format!(
            "expected an alias definition `#loc = loc(...)`, found {found}"
        )));
    }
    // Every alias used must be defined.
    for (name, pos) in &p.alias_uses {
        let loc = p.aliases[name];
        if let LocData::Alias { target: None, .. } = p.module.locs.data[loc] {
            return Err(p
                .cur
                .error_at(*pos, format!("undefined location alias `#{name}`")));
        }
    }
    Ok(p.module)
}

/// Adds to a parse error inside the module the Python source line of the
/// op it points into. The module did not parse, so the `#loc` aliases after
/// it were never read: they and the error line's trailing `loc(...)` are
/// parsed on their own, best effort (no Python line when they do not parse).
fn with_python_of_line(d: Diagnostic, text: &str, source_name: &str) -> Diagnostic {
    if d.python.is_some() {
        return d;
    }
    let python = d
        .pos
        .and_then(|pos| python_of_line(text, source_name, pos.line));
    d.with_python(python)
}

fn python_of_line(text: &str, source_name: &str, line: u32) -> Option<PySource> {
    let src = text.lines().nth(line.checked_sub(1)? as usize)?;
    let loc_text = &src[src.rfind("loc(")?..];
    let aliases = text
        .lines()
        .filter(|l| l.starts_with('#') && l.contains("= loc("))
        .collect::<Vec<_>>()
        .join("\n");
    let mut p = Parser {
        cur: Cursor::new(&aliases, source_name),
        module: Module::new(source_name),
        scopes: Vec::new(),
        labels: Vec::new(),
        aliases: HashMap::new(),
        alias_uses: Vec::new(),
        depth: 0,
    };
    p.parse_alias_defs().ok()?;
    p.cur = Cursor::new(loc_text, source_name);
    let loc = p.parse_opt_loc().ok()??;
    p.module.locs.python_source(loc)
}

impl Parser<'_> {
    /// `#name = loc(...)` definitions.
    fn parse_alias_defs(&mut self) -> Result<(), Diagnostic> {
        while self.cur.peek() == Some(b'#') {
            let pos = self.cur.src_pos();
            let name = self.cur.sigil_name(b'#')?;
            self.cur.expect("=")?;
            self.cur.expect_keyword("loc")?;
            self.cur.expect("(")?;
            let target = self.parse_loc_inner()?;
            self.cur.expect(")")?;
            let alias = self.alias_use(&name, pos);
            // The alias node may have been created by an earlier use.
            self.alias_uses.retain(|(n, _)| *n != name);
            match &mut self.module.locs.data[alias] {
                LocData::Alias {
                    target: t @ None, ..
                } => *t = Some(target),
                _ => {
                    return Err(self
                        .cur
                        .error_at(pos, format!("location alias `#{name}` is defined twice")))
                }
            }
            if self.module.locs.resolve(alias) == alias {
                return Err(self
                    .cur
                    .error_at(pos, format!("location alias `#{name}` refers to itself")));
            }
            self.module.locs.alias_defs.push((name, alias));
        }
        Ok(())
    }

    /// `module [attributes {...}] { ops } [loc(...)]`.
    fn parse_module_op(&mut self) -> Result<(), Diagnostic> {
        self.cur.expect_keyword("module")?;
        if self.cur.peek() == Some(b'@') {
            let _ = self.cur.sigil_name(b'@')?;
        }
        if self.cur.eat_keyword("attributes") {
            let attrs = self.parse_attr_dict()?;
            self.module.attrs = attrs.into_iter().collect();
        }
        self.cur.expect("{")?;
        self.scopes.push(HashMap::new());
        let body = self.module.body;
        while !self.cur.eat("}") {
            if self.cur.at_end() {
                return Err(self
                    .cur
                    .error("unexpected end of file: missing `}` closing the module"));
            }
            let op = self.parse_op()?;
            self.module.layout.append_op(body, op);
        }
        self.scopes.pop();
        self.module.loc = self.parse_opt_loc()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
