//! SSA names, blocks and regions: scoping of `%names` and `^labels`.

use std::collections::HashMap;

use super::cursor::PResult;
use super::syntax::Parser;
use crate::dfg::{RegionData, SrcPos};
use crate::entities::{Block, Loc, Region, Value};
use crate::types::Type;

/// A `%name` or `%name#N` use, before lookup.
pub struct ValueRef {
    pub name: String,
    pub pos: SrcPos,
}

/// A block argument as written: `%x: f32 loc(...)`.
pub struct ArgDef {
    pub name: String,
    pub ty: Type,
    pub loc: Option<Loc>,
    pub pos: SrcPos,
}

impl Parser<'_> {
    /// Reads `%name` or `%name#N` (no lookup).
    pub fn value_ref(&mut self) -> PResult<ValueRef> {
        let pos = self.cur.src_pos_after_ws();
        let mut name = self.cur.sigil_name(b'%')?;
        if self.cur.eat_no_ws("#") {
            let n = self.cur.decimal()?;
            name = format!("{name}#{n}");
        }
        Ok(ValueRef { name, pos })
    }

    /// Looks up a value use.
    pub fn lookup(&self, r: &ValueRef) -> PResult<Value> {
        for scope in self.scopes.iter().rev() {
            if let Some(&v) = scope.get(&r.name) {
                return Ok(v);
            }
            // `%x` also names result 0 of a group `%x:2`.
            if let Some(&v) = scope.get(&format!("{}#0", r.name)) {
                return Ok(v);
            }
        }
        Err(self
            .cur
            .error_at(r.pos, format!("use of undefined value `%{}`", r.name)))
    }

    /// Reads and resolves a value use.
    pub fn operand(&mut self) -> PResult<Value> {
        let r = self.value_ref()?;
        self.lookup(&r)
    }

    /// Reads and resolves a use whose type the syntax states, checking it.
    pub fn check_type(&self, v: Value, ty: &Type, pos: SrcPos) -> PResult<()> {
        let actual = &self.module.dfg.values[v].ty;
        if actual != ty {
            let name = self.module.dfg.values[v].name.clone().unwrap_or_default();
            return Err(self.cur.error_at(
                pos,
                format!("`%{name}` has type `{actual}` but is used here as `{ty}`"),
            ));
        }
        Ok(())
    }

    /// `%a, %b, ...` (zero or more) as references.
    pub fn value_refs(&mut self) -> PResult<Vec<ValueRef>> {
        let mut refs = Vec::new();
        if self.cur.peek() != Some(b'%') {
            return Ok(refs);
        }
        refs.push(self.value_ref()?);
        while self.cur.looking_at(",") && self.cur.peek_after_comma() == Some(b'%') {
            self.cur.expect(",")?;
            refs.push(self.value_ref()?);
        }
        Ok(refs)
    }

    /// Resolves a list of references.
    #[allow(dead_code)]
    pub fn lookup_all(&self, refs: &[ValueRef]) -> PResult<Vec<Value>> {
        refs.iter().map(|r| self.lookup(r)).collect()
    }

    /// Defines `name` in the innermost scope.
    pub fn define(&mut self, name: &str, v: Value, pos: SrcPos) -> PResult<()> {
        let shown = name.split('#').next().unwrap_or(name);
        if self.scopes.iter().any(|s| s.contains_key(name)) {
            return Err(self
                .cur
                .error_at(pos, format!("redefinition of `%{shown}`")));
        }
        let scope = self
            .scopes
            .last_mut()
            .expect("a scope is open while parsing ops");
        scope.insert(name.to_string(), v);
        self.module.dfg.values[v].name = Some(shown.to_string());
        Ok(())
    }

    /// A `^label`, creating the block on first reference.
    pub fn block_ref(&mut self) -> PResult<Block> {
        let pos = self.cur.src_pos_after_ws();
        let label = self.cur.sigil_name(b'^')?;
        let Some(labels) = self.labels.last_mut() else {
            return Err(self.cur.error_at(pos, "block reference outside a region"));
        };
        if let Some(&b) = labels.get(&label) {
            return Ok(b);
        }
        let b = self.module.dfg.make_block(None, &[]);
        self.module.dfg.blocks[b].label = Some(label.clone());
        self.labels
            .last_mut()
            .expect("checked above")
            .insert(label, b);
        Ok(b)
    }

    /// `(%a: T loc(..), ...)` argument definitions (the `(` not consumed).
    pub fn arg_defs(
        &mut self,
        allow_attrs: bool,
    ) -> PResult<(Vec<ArgDef>, Vec<Option<crate::attributes::Attribute>>)> {
        self.cur.expect("(")?;
        let mut args = Vec::new();
        let mut attrs = Vec::new();
        if self.cur.eat(")") {
            return Ok((args, attrs));
        }
        loop {
            let pos = self.cur.src_pos_after_ws();
            let name = self.cur.sigil_name(b'%')?;
            self.cur.expect(":")?;
            let ty = self.parse_type()?;
            let attr = if allow_attrs && self.cur.peek() == Some(b'{') {
                Some(crate::attributes::Attribute::Dict(self.parse_attr_dict()?))
            } else {
                None
            };
            let loc = self.parse_opt_loc()?;
            args.push(ArgDef { name, ty, loc, pos });
            attrs.push(attr);
            if self.cur.eat(")") {
                return Ok((args, attrs));
            }
            self.cur.expect(",")?;
        }
    }

    /// Parses `{ ... }` into a new region. `entry_args` are the entry block's
    /// arguments when the op's syntax states them outside the braces (scf.for
    /// induction variable, function parameters); otherwise an explicit
    /// `^bb0(...)` header may give them. An empty `{}` yields zero blocks
    /// unless entry args were given.
    pub fn parse_region(&mut self, entry_args: Vec<ArgDef>) -> PResult<Region> {
        self.enter()?;
        let region = self.module.dfg.regions.push(RegionData { parent: None });
        let open = self.cur.src_pos_after_ws();
        self.cur.expect("{")?;
        self.scopes.push(HashMap::new());
        self.labels.push(HashMap::new());
        let result = self.parse_region_body(region, entry_args, open);
        self.labels.pop();
        self.scopes.pop();
        self.leave();
        result.map(|_| region)
    }

    fn parse_region_body(
        &mut self,
        region: Region,
        entry_args: Vec<ArgDef>,
        open: SrcPos,
    ) -> PResult<()> {
        let mut current: Option<Block> = None;
        if !entry_args.is_empty()
            || (self.cur.peek() != Some(b'^') && self.cur.peek() != Some(b'}'))
        {
            let b = self.module.dfg.make_block(Some(region), &[]);
            self.add_block_args(b, entry_args)?;
            self.module.layout.append_block(region, b);
            current = Some(b);
        }
        loop {
            match self.cur.peek() {
                None => {
                    return Err(self
                        .cur
                        .error_at(open, "unbalanced `{`: region is never closed"));
                }
                Some(b'}') => {
                    self.cur.expect("}")?;
                    break;
                }
                Some(b'^') => {
                    let pos = self.cur.src_pos_after_ws();
                    let b = self.block_ref()?;
                    if self.module.dfg.blocks[b].region.is_some() {
                        return Err(self.cur.error_at(pos, "redefinition of block label"));
                    }
                    self.module.dfg.blocks[b].region = Some(region);
                    let args = if self.cur.peek() == Some(b'(') {
                        self.arg_defs(false)?.0
                    } else {
                        Vec::new()
                    };
                    self.cur.expect(":")?;
                    self.add_block_args(b, args)?;
                    self.module.layout.append_block(region, b);
                    current = Some(b);
                }
                Some(_) => {
                    let Some(b) = current else {
                        return Err(self.cur.error("expected a block label"));
                    };
                    let op = self.parse_op()?;
                    self.module.layout.append_op(b, op);
                }
            }
        }
        // Every referenced label must be defined in this region.
        if let Some(labels) = self.labels.last() {
            for (label, &b) in labels {
                if self.module.dfg.blocks[b].region.is_none() {
                    return Err(self
                        .cur
                        .error(format!("reference to undefined block `^{label}`")));
                }
            }
        }
        Ok(())
    }

    fn add_block_args(&mut self, b: Block, args: Vec<ArgDef>) -> PResult<()> {
        for a in args {
            let v = self.module.dfg.append_block_arg(b, a.ty);
            self.module.dfg.values[v].loc = a.loc;
            self.define(&a.name, v, a.pos)?;
        }
        Ok(())
    }

    /// Hands a parsed region to its op.
    pub fn attach_regions(&mut self, op: crate::entities::Op, regions: Vec<Region>) {
        for r in regions {
            self.module.dfg.regions[r].parent = Some(op);
            self.module.dfg.ops[op].regions.push(r);
        }
    }
}
