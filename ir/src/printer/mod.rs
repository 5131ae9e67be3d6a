//! The TTIR printer: writes a [`Module`] back as MLIR text that the parser
//! (and MLIR) accepts — Triton's pretty form for the common ops, the generic
//! form for the rest — keeping SSA names and locations as written.
//!
//! Printing is a fixed point: `print(parse(print(m))) == print(m)`.

mod attrs;

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::attributes::Attribute;
use crate::entities::{Block, Loc, Op, Region, Value};
use crate::location::LocData;
use crate::module::Module;
use crate::opcode::Opcode;
use crate::types::Type;

pub use attrs::{print_attr, print_float_literal};

/// Prints a whole module.
pub fn print_module(m: &Module) -> String {
    let mut p = Printer {
        m,
        out: String::new(),
        names: HashMap::new(),
        used: HashSet::new(),
        next: 0,
    };
    let defs = &m.locs.alias_defs;
    let before = m.locs.aliases_before_module.min(defs.len());
    for (name, loc) in &defs[..before] {
        p.alias_def(name, *loc);
    }
    p.out += "module";
    if !m.attrs.is_empty() {
        p.out += " attributes ";
        p.attr_dict(
            Opcode::Func,
            m.attrs
                .iter()
                .map(|a| (a.name.as_str(), &a.value))
                .collect(),
        );
    }
    p.out += " {\n";
    for &op in m.layout.ops(m.body) {
        p.op(op, 1);
    }
    p.out += "}";
    if let Some(loc) = m.loc {
        p.out += " ";
        p.loc(loc);
    }
    p.out += "\n";
    for (name, loc) in &defs[before..] {
        p.alias_def(name, *loc);
    }
    p.out
}

struct Printer<'m> {
    m: &'m Module,
    out: String,
    /// Printed name of each value (without `%`), `name#i` for group members.
    names: HashMap<Value, String>,
    used: HashSet<String>,
    next: u32,
}

impl Printer<'_> {
    fn alias_def(&mut self, name: &str, alias: Loc) {
        let _ = write!(self.out, "#{name} = loc(");
        match &self.m.locs.data[alias] {
            LocData::Alias {
                target: Some(t), ..
            } => self.loc_inner(*t),
            _ => self.out += "unknown",
        }
        self.out += ")\n";
    }

    fn loc(&mut self, loc: Loc) {
        self.out += "loc(";
        self.loc_inner(loc);
        self.out += ")";
    }

    fn loc_inner(&mut self, loc: Loc) {
        match &self.m.locs.data[loc] {
            LocData::Unknown => self.out += "unknown",
            LocData::File { file, line, col } => {
                let _ = write!(self.out, "{}:{line}:{col}", attrs::quote(file));
            }
            LocData::Name { name, child } => {
                self.out += &attrs::quote(name);
                if let Some(c) = child {
                    self.out += "(";
                    self.loc_inner(*c);
                    self.out += ")";
                }
            }
            LocData::CallSite { callee, caller } => {
                self.out += "callsite(";
                self.loc_inner(*callee);
                self.out += " at ";
                self.loc_inner(*caller);
                self.out += ")";
            }
            LocData::Fused { metadata, locs } => {
                self.out += "fused";
                if let Some(md) = metadata {
                    let _ = write!(self.out, "<{md}>");
                }
                self.out += "[";
                for (i, l) in locs.iter().enumerate() {
                    if i > 0 {
                        self.out += ", ";
                    }
                    self.loc_inner(*l);
                }
                self.out += "]";
            }
            LocData::Alias { name, .. } => {
                let _ = write!(self.out, "#{name}");
            }
        }
    }

    /// A fresh or kept name for `v`.
    fn name_value(&mut self, v: Value) -> String {
        let hint = self.m.dfg.values[v].name.clone();
        let name = match hint {
            Some(h) if !h.is_empty() && !self.used.contains(&h) && is_valid_name(&h) => h,
            Some(h) if !h.is_empty() && is_valid_name(&h) => self.fresh(&format!("{h}_")),
            _ => self.fresh(""),
        };
        self.used.insert(name.clone());
        name
    }

    fn fresh(&mut self, prefix: &str) -> String {
        loop {
            let candidate = format!("{prefix}{}", self.next);
            self.next += 1;
            if !self.used.contains(&candidate) {
                return candidate;
            }
        }
    }

    fn define(&mut self, v: Value) -> String {
        let name = self.name_value(v);
        self.names.insert(v, name.clone());
        name
    }

    fn use_of(&self, v: Value) -> String {
        match self.names.get(&v) {
            Some(n) => format!("%{n}"),
            None => format!("%<<undefined {v}>>"),
        }
    }

    fn uses(&self, vs: &[Value]) -> String {
        vs.iter()
            .map(|&v| self.use_of(v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn ty(&self, v: Value) -> String {
        self.m.dfg.values[v].ty.to_string()
    }

    fn types(&self, vs: &[Value]) -> String {
        vs.iter()
            .map(|&v| self.ty(v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out += "  ";
        }
    }

    fn attr_dict(&mut self, opcode: Opcode, attrs: Vec<(&str, &Attribute)>) {
        self.out += "{";
        for (i, (name, value)) in attrs.iter().enumerate() {
            if i > 0 {
                self.out += ", ";
            }
            if attrs::is_bare_name(name) {
                self.out += name;
            } else {
                self.out += &attrs::quote(name);
            }
            if !matches!(value, Attribute::Unit) {
                self.out += " = ";
                self.out += &print_attr(opcode, name, value);
            }
        }
        self.out += "}";
    }

    /// ` {attrs}` for the attributes not in `skip`, if any remain.
    fn extra_attrs(&mut self, op: Op, skip: &[&str]) {
        let opcode = self.m.dfg.opcode(op);
        let attrs: Vec<(&str, &Attribute)> = self.m.dfg.ops[op]
            .attrs
            .iter()
            .filter(|a| !skip.contains(&a.name.as_str()))
            .map(|a| (a.name.as_str(), &a.value))
            .collect();
        if !attrs.is_empty() {
            self.out += " ";
            self.attr_dict(opcode, attrs);
        }
    }

    fn results_prefix(&mut self, op: Op) {
        let results = self.m.dfg.results(op).to_vec();
        match results.len() {
            0 => {}
            1 => {
                let n = self.define(results[0]);
                let _ = write!(self.out, "%{n} = ");
            }
            k => {
                let base = self.name_value(results[0]);
                for (i, &r) in results.iter().enumerate() {
                    self.names.insert(r, format!("{base}#{i}"));
                }
                let _ = write!(self.out, "%{base}:{k} = ");
            }
        }
    }

    fn op(&mut self, op: Op, depth: usize) {
        self.indent(depth);
        self.results_prefix(op);
        let printed_pretty = self.pretty(op, depth);
        if !printed_pretty {
            self.generic(op, depth);
        }
        self.out += " ";
        self.loc(self.m.dfg.ops[op].loc);
        self.out += "\n";
    }

    fn generic(&mut self, op: Op, depth: usize) {
        let m = self.m;
        let d = &m.dfg;
        let operands = d.operands(op).to_vec();
        let results = d.results(op).to_vec();
        let _ = write!(
            self.out,
            "\"{}\"({})",
            d.opcode(op).name(),
            self.uses(&operands)
        );
        let succ = d.ops[op].successors.clone();
        if !succ.is_empty() {
            let labels: Vec<String> = succ
                .iter()
                .map(|&b| format!("^{}", self.block_label(b)))
                .collect();
            let _ = write!(self.out, "[{}]", labels.join(", "));
        }
        let regions = d.ops[op].regions.clone();
        if !regions.is_empty() {
            self.out += " (";
            for (i, &r) in regions.iter().enumerate() {
                if i > 0 {
                    self.out += ", ";
                }
                self.region(r, depth, true);
            }
            self.out += ")";
        }
        self.extra_attrs(op, &[]);
        let _ = write!(self.out, " : ({}) -> ", self.types(&operands));
        if results.len() == 1 {
            self.out += &self.ty(results[0]).to_string();
        } else {
            let _ = write!(self.out, "({})", self.types(&results));
        }
    }

    fn block_label(&self, b: Block) -> String {
        match &self.m.dfg.blocks[b].label {
            Some(l) => l.clone(),
            None => format!("bb{}", b.as_u32()),
        }
    }

    /// `{ blocks }`. With `explicit_entry`, the entry block's header is printed.
    fn region(&mut self, r: Region, depth: usize, explicit_entry: bool) {
        self.out += "{\n";
        let blocks = self.m.layout.blocks(r).to_vec();
        for (i, &b) in blocks.iter().enumerate() {
            if i > 0 || explicit_entry {
                self.block_header(b, depth);
            }
            for &op in self.m.layout.ops(b) {
                self.op(op, depth + 1);
            }
        }
        self.indent(depth);
        self.out += "}";
    }

    fn block_header(&mut self, b: Block, depth: usize) {
        self.indent(depth);
        let _ = write!(self.out, "^{}", self.block_label(b));
        let args = self.m.dfg.blocks[b].args.clone();
        if !args.is_empty() {
            self.out += "(";
            for (i, &a) in args.iter().enumerate() {
                if i > 0 {
                    self.out += ", ";
                }
                let n = self.define(a);
                let _ = write!(self.out, "%{n}: {}", self.ty(a));
                if let Some(l) = self.m.dfg.values[a].loc {
                    self.out += " ";
                    self.loc(l);
                }
            }
            self.out += ")";
        }
        self.out += ":\n";
    }

    /// Defines the entry block arguments of a region whose header is implicit.
    fn define_entry_args(&mut self, r: Region) -> Vec<(String, Value)> {
        let Some(b) = self.m.layout.entry_block(r) else {
            return Vec::new();
        };
        let args = self.m.dfg.blocks[b].args.clone();
        args.into_iter().map(|a| (self.define(a), a)).collect()
    }

    /// Prints the pretty form; false if the op has none here.
    fn pretty(&mut self, op: Op, depth: usize) -> bool {
        use Opcode::*;
        let m = self.m;
        let d = &m.dfg;
        let opcode = d.opcode(op);
        let operands = d.operands(op).to_vec();
        let results = d.results(op).to_vec();
        let name = opcode.name();
        let attrs = &d.ops[op].attrs;
        match opcode {
            Func => {
                self.func(op, depth);
                true
            }
            Constant => {
                let Some(v) = attrs.get("value") else {
                    return false;
                };
                let text = match v {
                    Attribute::Int {
                        value,
                        ty: Type::Int(1),
                    } => (if *value != 0 { "true" } else { "false" }).to_string(),
                    other => print_attr(opcode, "value", other),
                };
                let _ = write!(self.out, "{name} {text}");
                self.extra_attrs(op, &["value"]);
                true
            }
            AddI | SubI | MulI | DivSI | DivUI | CeilDivSI | CeilDivUI | FloorDivSI | RemSI
            | RemUI | AndI | OrI | XOrI | ShLI | ShRSI | ShRUI | MaxSI | MaxUI | MinSI | MinUI
            | AddF | SubF | MulF | DivF | RemF | MaximumF | MinimumF | MaxNumF | MinNumF
            | PreciseDivF | MulhiUI | NegF | Exp | Exp2 | Log | Log2 | Sqrt | Rsqrt | AbsF
            | AbsI | Sin | Cos | Tanh | Erf | Floor | Ceil | Fma | PreciseSqrt | ClampF => {
                if results.len() != 1 || operands.is_empty() {
                    return false;
                }
                let _ = write!(self.out, "{name} {}", self.uses(&operands));
                if opcode == ClampF {
                    if let Some(p) = attrs.str("propagateNan") {
                        let _ = write!(self.out, ", propagateNan = {p}");
                    }
                }
                if let Some(fm) = attrs.str("fastmath") {
                    let _ = write!(self.out, " fastmath<{fm}>");
                }
                self.extra_attrs(op, &["fastmath", "propagateNan"]);
                let _ = write!(self.out, " : {}", self.ty(results[0]));
                true
            }
            CmpI | CmpF => {
                let Some(pred) = attrs.str("predicate").map(str::to_string) else {
                    return false;
                };
                let _ = write!(self.out, "{name} {pred}, {}", self.uses(&operands));
                self.extra_attrs(op, &["predicate"]);
                let _ = write!(self.out, " : {}", self.ty(operands[0]));
                true
            }
            Select => {
                let _ = write!(self.out, "{name} {}", self.uses(&operands));
                self.extra_attrs(op, &[]);
                let _ = write!(
                    self.out,
                    " : {}, {}",
                    self.ty(operands[0]),
                    self.ty(results[0])
                );
                true
            }
            ExtSI | ExtUI | TruncI | ExtF | TruncF | SIToFP | UIToFP | FPToSI | FPToUI
            | ArithBitcast | IndexCast | IndexCastUI => {
                let _ = write!(self.out, "{name} {}", self.uses(&operands));
                if let Some(rm) = attrs.str("roundingmode") {
                    let _ = write!(self.out, " {rm}");
                }
                if let Some(fm) = attrs.str("fastmath") {
                    let _ = write!(self.out, " fastmath<{fm}>");
                }
                self.extra_attrs(op, &["roundingmode", "fastmath"]);
                let _ = write!(
                    self.out,
                    " : {} to {}",
                    self.ty(operands[0]),
                    self.ty(results[0])
                );
                true
            }
            GetProgramId | GetNumPrograms => {
                let axis = match attrs.int("axis") {
                    Some(0) => "x",
                    Some(1) => "y",
                    Some(2) => "z",
                    _ => return false,
                };
                let _ = write!(self.out, "{name} {axis}");
                self.extra_attrs(op, &["axis"]);
                let _ = write!(self.out, " : {}", self.ty(results[0]));
                true
            }
            MakeRange | Poison => {
                self.out += name;
                self.extra_attrs(op, &[]);
                let _ = write!(self.out, " : {}", self.ty(results[0]));
                true
            }
            Splat | Unsplat | Broadcast | Bitcast | IntToPtr | PtrToInt | Reshape | FpToFp
            | ExpandDims | Trans | Cat | Join | Split => {
                if results.is_empty() {
                    return false;
                }
                let _ = write!(self.out, "{name} {}", self.uses(&operands));
                if let Some(r) = attrs.str("rounding") {
                    let _ = write!(self.out, ", rounding = {r}");
                }
                for flag in ["allow_reorder", "efficient_layout"] {
                    if matches!(attrs.get(flag), Some(Attribute::Unit)) {
                        let _ = write!(self.out, " {flag}");
                    }
                }
                self.extra_attrs(op, &["rounding", "allow_reorder", "efficient_layout"]);
                let from: Vec<String> = operands.iter().map(|&v| self.ty(v)).collect();
                let from = if from.len() > 1 && from.iter().all(|t| *t == from[0]) {
                    vec![from[0].clone()]
                } else {
                    from
                };
                let _ = write!(
                    self.out,
                    " : {} -> {}",
                    from.join(", "),
                    self.ty(results[0])
                );
                true
            }
            AddPtr => {
                let _ = write!(self.out, "{name} {}", self.uses(&operands));
                self.extra_attrs(op, &[]);
                let _ = write!(
                    self.out,
                    " : {}, {}",
                    self.ty(operands[0]),
                    self.ty(operands[1])
                );
                true
            }
            Load | Store => {
                if operands.is_empty() {
                    return false;
                }
                let _ = write!(self.out, "{name} {}", self.uses(&operands));
                for (attr, kw) in [("cache", "cacheModifier"), ("evict", "evictionPolicy")] {
                    if let Some(v) = attrs.str(attr) {
                        let _ = write!(self.out, " {kw} = {v}");
                    }
                }
                self.extra_attrs(op, &["cache", "evict"]);
                let _ = write!(self.out, " : {}", self.ty(operands[0]));
                true
            }
            Dot => {
                if operands.len() != 3 {
                    return false;
                }
                let _ = write!(self.out, "{name} {}", self.uses(&operands));
                if let Some(p) = attrs.str("inputPrecision") {
                    let _ = write!(self.out, ", inputPrecision = {p}");
                }
                self.extra_attrs(op, &["inputPrecision"]);
                let _ = write!(
                    self.out,
                    " : {} * {} -> {}",
                    self.ty(operands[0]),
                    self.ty(operands[1]),
                    self.ty(results[0])
                );
                true
            }
            Call => {
                let Some(callee) = attrs.str("callee").map(str::to_string) else {
                    return false;
                };
                let _ = write!(self.out, "{name} @{callee}({})", self.uses(&operands));
                self.extra_attrs(op, &["callee"]);
                let res = if results.len() == 1 {
                    self.types(&results)
                } else {
                    format!("({})", self.types(&results))
                };
                let _ = write!(self.out, " : ({}) -> {res}", self.types(&operands));
                true
            }
            Return | Yield | ReduceReturn | ScanReturn | MapElementwiseReturn | Assume => {
                self.out += name;
                if !operands.is_empty() {
                    let _ = write!(self.out, " {}", self.uses(&operands));
                }
                self.extra_attrs(op, &[]);
                if !operands.is_empty() {
                    let _ = write!(self.out, " : {}", self.types(&operands));
                }
                true
            }
            Condition => {
                if operands.is_empty() {
                    return false;
                }
                let _ = write!(self.out, "{name}({})", self.use_of(operands[0]));
                if operands.len() > 1 {
                    let _ = write!(
                        self.out,
                        " {} : {}",
                        self.uses(&operands[1..]),
                        self.types(&operands[1..])
                    );
                }
                true
            }
            Br | CondBr => self.branch(op),
            For => self.scf_for(op, depth),
            If => self.scf_if(op, depth),
            While => self.scf_while(op, depth),
            _ => false,
        }
    }

    fn succ_text(&self, b: Block, args: &[Value]) -> String {
        let mut s = format!("^{}", self.block_label(b));
        if !args.is_empty() {
            let _ = write!(s, "({} : {})", self.uses(args), self.types(args));
        }
        s
    }

    fn branch(&mut self, op: Op) -> bool {
        let m = self.m;
        let d = &m.dfg;
        let operands = d.operands(op).to_vec();
        let succ = d.ops[op].successors.clone();
        if d.opcode(op) == Opcode::Br {
            let [b] = succ.as_slice() else { return false };
            let _ = write!(self.out, "cf.br {}", self.succ_text(*b, &operands));
            return true;
        }
        let [t, f] = succ.as_slice() else {
            return false;
        };
        let seg = d.ops[op]
            .attrs
            .get("operandSegmentSizes")
            .and_then(Attribute::as_int_list);
        let Some([1, nt, nf]) = seg.as_deref().map(|s| {
            [
                s[0],
                s.get(1).copied().unwrap_or(-1),
                s.get(2).copied().unwrap_or(-1),
            ]
        }) else {
            return false;
        };
        let (nt, nf) = (nt as usize, nf as usize);
        if operands.len() != 1 + nt + nf {
            return false;
        }
        let _ = write!(
            self.out,
            "cf.cond_br {}, {}, {}",
            self.use_of(operands[0]),
            self.succ_text(*t, &operands[1..1 + nt]),
            self.succ_text(*f, &operands[1 + nt..])
        );
        true
    }

    fn func(&mut self, op: Op, depth: usize) {
        let m = self.m;
        let attrs = &m.dfg.ops[op].attrs;
        let vis = attrs.str("sym_visibility").unwrap_or("public").to_string();
        let name = attrs.str("sym_name").unwrap_or("").to_string();
        let (inputs, results) = self.m.func_signature(op);
        let arg_attrs = match attrs.get("arg_attrs") {
            Some(Attribute::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let _ = write!(self.out, "tt.func {vis} @{name}(");
        let region = self.m.dfg.ops[op].regions.first().copied();
        let args: Vec<Value> = region
            .and_then(|r| self.m.layout.entry_block(r))
            .map(|b| self.m.dfg.blocks[b].args.clone())
            .unwrap_or_default();
        if args.is_empty() {
            for (i, ty) in inputs.iter().enumerate() {
                if i > 0 {
                    self.out += ", ";
                }
                let _ = write!(self.out, "%arg{i}: {ty}");
            }
        }
        for (i, &a) in args.iter().enumerate() {
            if i > 0 {
                self.out += ", ";
            }
            let n = self.define(a);
            let _ = write!(self.out, "%{n}: {}", self.ty(a));
            if let Some(Attribute::Dict(d)) = arg_attrs.get(i) {
                if !d.is_empty() {
                    self.out += " ";
                    self.attr_dict(
                        Opcode::Func,
                        d.iter().map(|a| (a.name.as_str(), &a.value)).collect(),
                    );
                }
            }
            if let Some(l) = self.m.dfg.values[a].loc {
                self.out += " ";
                self.loc(l);
            }
        }
        self.out += ")";
        if !results.is_empty() {
            let r: Vec<String> = results.iter().map(Type::to_string).collect();
            if r.len() == 1 {
                let _ = write!(self.out, " -> {}", r[0]);
            } else {
                let _ = write!(self.out, " -> ({})", r.join(", "));
            }
        }
        let rest: Vec<(&str, &Attribute)> = m.dfg.ops[op]
            .attrs
            .iter()
            .filter(|a| {
                !["sym_visibility", "sym_name", "function_type", "arg_attrs"]
                    .contains(&a.name.as_str())
            })
            .map(|a| (a.name.as_str(), &a.value))
            .collect();
        if !rest.is_empty() {
            self.out += " attributes ";
            self.attr_dict(Opcode::Func, rest);
        }
        if let Some(r) = region {
            self.out += " ";
            self.region(r, depth, false);
        }
    }

    fn scf_for(&mut self, op: Op, depth: usize) -> bool {
        let m = self.m;
        let d = &m.dfg;
        let operands = d.operands(op).to_vec();
        let results = d.results(op).to_vec();
        let Some(&r) = d.ops[op].regions.first() else {
            return false;
        };
        if operands.len() < 3 || self.m.layout.entry_block(r).is_none() {
            return false;
        }
        let inits = operands[3..].to_vec();
        let args = self.define_entry_args(r);
        if args.len() != inits.len() + 1 {
            return false;
        }
        let _ = write!(
            self.out,
            "scf.for %{} = {} to {} step {}",
            args[0].0,
            self.use_of(operands[0]),
            self.use_of(operands[1]),
            self.use_of(operands[2])
        );
        if !inits.is_empty() {
            let pairs: Vec<String> = args[1..]
                .iter()
                .zip(&inits)
                .map(|((n, _), &v)| format!("%{n} = {}", self.use_of(v)))
                .collect();
            let _ = write!(
                self.out,
                " iter_args({}) -> ({})",
                pairs.join(", "),
                self.types(&results)
            );
        }
        let _ = write!(self.out, " : {} ", self.ty(args[0].1));
        self.region(r, depth, false);
        self.extra_attrs(op, &[]);
        true
    }

    fn scf_if(&mut self, op: Op, depth: usize) -> bool {
        let m = self.m;
        let d = &m.dfg;
        let operands = d.operands(op).to_vec();
        let results = d.results(op).to_vec();
        let regions = d.ops[op].regions.clone();
        if operands.len() != 1 || regions.len() != 2 {
            return false;
        }
        let _ = write!(self.out, "scf.if {}", self.use_of(operands[0]));
        if !results.is_empty() {
            let _ = write!(self.out, " -> ({})", self.types(&results));
        }
        self.out += " ";
        self.region(regions[0], depth, false);
        if !self.m.layout.blocks(regions[1]).is_empty() {
            self.out += " else ";
            self.region(regions[1], depth, false);
        }
        self.extra_attrs(op, &[]);
        true
    }

    fn scf_while(&mut self, op: Op, depth: usize) -> bool {
        let m = self.m;
        let d = &m.dfg;
        let operands = d.operands(op).to_vec();
        let results = d.results(op).to_vec();
        let regions = d.ops[op].regions.clone();
        if regions.len() != 2 {
            return false;
        }
        let args = self.define_entry_args(regions[0]);
        if args.len() != operands.len() {
            return false;
        }
        let pairs: Vec<String> = args
            .iter()
            .zip(&operands)
            .map(|((n, _), &v)| format!("%{n} = {}", self.use_of(v)))
            .collect();
        let _ = write!(
            self.out,
            "scf.while ({}) : ({}) -> ({}) ",
            pairs.join(", "),
            self.types(&operands),
            self.types(&results)
        );
        self.region(regions[0], depth, false);
        self.out += " do ";
        self.region(regions[1], depth, true);
        self.extra_attrs(op, &[]);
        true
    }
}

fn is_valid_name(n: &str) -> bool {
    n.bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'.' || c == b'-')
}
