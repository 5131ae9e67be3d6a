//! Op syntax: the generic form and Triton's pretty form of every op in
//! [`Opcode`], normalized to one canonical representation.

use super::cursor::PResult;
use super::enums;
use super::region::ArgDef;
use super::syntax::Parser;
use crate::attributes::{AttrList, Attribute, NamedAttr};
use crate::dfg::SrcPos;
use crate::entities::{Block, Op, Region, Value};
use crate::opcode::Opcode;
use crate::types::Type;

/// What an op's syntax produced, before the op is created.
#[derive(Default)]
struct OpParts {
    operands: Vec<Value>,
    results: Vec<Type>,
    attrs: Vec<NamedAttr>,
    regions: Vec<Region>,
    successors: Vec<Block>,
}

impl OpParts {
    fn attr(&mut self, name: &str, value: Attribute) {
        self.attrs.push(NamedAttr {
            name: name.to_string(),
            value,
        });
    }
}

/// A result name group: `%x` or `%x:2`.
struct ResultDef {
    name: String,
    count: usize,
    pos: SrcPos,
}

fn i32_attr(v: i128) -> Attribute {
    Attribute::Int {
        value: v,
        ty: Type::I32,
    }
}

impl Parser<'_> {
    /// Parses one op (with its results, regions and trailing location).
    pub fn parse_op(&mut self) -> PResult<Op> {
        self.enter()?;
        let r = self.parse_op_inner();
        self.leave();
        r
    }

    fn parse_op_inner(&mut self) -> PResult<Op> {
        let start = self.cur.src_pos_after_ws();
        let mut defs = Vec::new();
        if self.cur.peek() == Some(b'%') {
            loop {
                let pos = self.cur.src_pos_after_ws();
                let name = self.cur.sigil_name(b'%')?;
                let count = if self.cur.eat_no_ws(":") {
                    self.cur.decimal()? as usize
                } else {
                    1
                };
                if count == 0 || count > 4096 {
                    return Err(self.cur.error_at(pos, "invalid result count"));
                }
                defs.push(ResultDef { name, count, pos });
                if !self.cur.eat(",") {
                    break;
                }
            }
            self.cur.expect("=")?;
        }
        let name_pos = self.cur.src_pos_after_ws();
        let (opcode, parts) = if self.cur.peek() == Some(b'"') {
            let name = self.cur.string()?;
            let opcode =
                lookup_op(&name).ok_or_else(|| self.cur.error_at(name_pos, unknown_op(&name)))?;
            (opcode, self.parse_generic(opcode)?)
        } else {
            let name = self.cur.ident()?;
            let opcode =
                lookup_op(&name).ok_or_else(|| self.cur.error_at(name_pos, unknown_op(&name)))?;
            let n_results: usize = defs.iter().map(|d| d.count).sum();
            (opcode, self.parse_pretty(opcode, n_results, name_pos)?)
        };
        let loc = match self.parse_opt_loc()? {
            Some(l) => l,
            None => self.module.locs.unknown(),
        };
        let n_defs: usize = defs.iter().map(|d| d.count).sum();
        if n_defs != parts.results.len() {
            return Err(self.cur.error_at(
                start,
                format!(
                    "`{}` produces {} result(s) but {} name(s) are bound",
                    opcode.name(),
                    parts.results.len(),
                    n_defs
                ),
            ));
        }
        let mut attrs = AttrList::new();
        for a in parts.attrs {
            let value = if a.name == "predicate" {
                enums::normalize_predicate(opcode, a.value)
            } else {
                a.value
            };
            attrs.set(&a.name, value);
        }
        let op = self
            .module
            .dfg
            .make_op(opcode, &parts.operands, &parts.results, attrs, loc);
        self.module.dfg.ops[op].pos = Some(start);
        self.module.dfg.ops[op].successors = parts.successors;
        self.attach_regions(op, parts.regions);
        let results = self.module.dfg.results(op).to_vec();
        let mut i = 0;
        for d in defs {
            for k in 0..d.count {
                let key = if d.count == 1 {
                    d.name.clone()
                } else {
                    format!("{}#{k}", d.name)
                };
                self.define(&key, results[i], d.pos)?;
                i += 1;
            }
        }
        Ok(op)
    }

    // ------------------------------------------------------------ generic

    /// `(%a, %b) [^succ(...)] <{props}> ({regions}) {attrs} : (T) -> (R)`.
    fn parse_generic(&mut self, opcode: Opcode) -> PResult<OpParts> {
        let mut parts = OpParts::default();
        self.cur.expect("(")?;
        let refs = self.value_refs()?;
        self.cur.expect(")")?;
        if self.cur.eat("[") {
            loop {
                parts.successors.push(self.block_ref()?);
                if self.cur.eat("(") {
                    return Err(self
                        .cur
                        .error("successor operands in generic form are not supported"));
                }
                if self.cur.eat("]") {
                    break;
                }
                self.cur.expect(",")?;
            }
        }
        if self.cur.eat("<{") {
            self.cur.unread_brace();
            parts.attrs.extend(self.parse_attr_dict()?);
            self.cur.expect(">")?;
        }
        if self.cur.peek() == Some(b'(') {
            self.cur.expect("(")?;
            loop {
                parts.regions.push(self.parse_region(Vec::new())?);
                if self.cur.eat(")") {
                    break;
                }
                self.cur.expect(",")?;
            }
        }
        if self.cur.peek() == Some(b'{') {
            parts.attrs.extend(self.parse_attr_dict()?);
        }
        for a in &mut parts.attrs {
            a.value =
                enums::normalize_attr(&a.name, std::mem::replace(&mut a.value, Attribute::Unit));
        }
        self.cur.expect(":")?;
        let types_pos = self.cur.src_pos_after_ws();
        self.cur.skip_ws();
        let types_start = self.cur.pos;
        let (inputs, results) = self.parse_function_type()?;
        if opcode == Opcode::DescriptorReduce {
            // The pretty form's parser resolves `atomic_rmw_op` from `kind` and
            // the descriptor's spelling; the generic form carries only `kind`.
            let types_text = self.cur.text_since(types_start);
            self.resolve_generic_descriptor_reduce(&mut parts, &inputs, types_text, types_pos)?;
        }
        if inputs.len() != refs.len() {
            return Err(self.cur.error_at(
                types_pos,
                format!(
                    "{} operand(s) but {} operand type(s)",
                    refs.len(),
                    inputs.len()
                ),
            ));
        }
        for (r, ty) in refs.iter().zip(&inputs) {
            let v = self.lookup(r)?;
            self.check_type(v, ty, r.pos)?;
            parts.operands.push(v);
        }
        parts.results = results;
        Ok(parts)
    }

    /// Adds the `atomic_rmw_op` of a generic-form `tt.descriptor_reduce`
    /// (`"tt.descriptor_reduce"(%desc, %src, %i...) <{kind = N : i32}>`), as
    /// the pretty form does; `types_text` is the op's function type, whose
    /// first input spells the descriptor (and so its `si`/`ui` signedness).
    fn resolve_generic_descriptor_reduce(
        &self,
        parts: &mut OpParts,
        inputs: &[Type],
        types_text: &str,
        types_pos: SrcPos,
    ) -> PResult<()> {
        if parts.attrs.iter().any(|a| a.name == "atomic_rmw_op") {
            return Ok(());
        }
        let kind = match parts.attrs.iter().find(|a| a.name == "kind") {
            Some(a) => match a.value.as_str() {
                Some(k) => k.to_string(),
                None => {
                    return Err(self.cur.error_at(
                        types_pos,
                        format!(
                            "`tt.descriptor_reduce` kind must be an enum, found `{:?}`",
                            a.value
                        ),
                    ))
                }
            },
            // The verifier reports the missing `kind`.
            None => return Ok(()),
        };
        let Some(Type::TensorDesc { block }) = inputs.first() else {
            // The verifier reports the operand type.
            return Ok(());
        };
        // The descriptor's own spelling: from `!tt.tensordesc<` to the end of
        // its element type.
        let desc_text = types_text
            .find("tensordesc<")
            .map(|i| {
                let rest = &types_text[i..];
                let end = rest.find(['>', ',']).unwrap_or(rest.len());
                &rest[..end]
            })
            .unwrap_or("");
        let op = descriptor_reduce_op(&kind, block.element(), desc_text)
            .map_err(|e| self.cur.error_at(types_pos, e))?;
        parts.attr("atomic_rmw_op", Attribute::Enum(op.to_string()));
        Ok(())
    }

    // ------------------------------------------------------------- pretty

    /// Operands whose types are given later; resolved now, types checked by the caller.
    fn operands_list(&mut self) -> PResult<Vec<(Value, SrcPos)>> {
        let refs = self.value_refs()?;
        refs.iter().map(|r| Ok((self.lookup(r)?, r.pos))).collect()
    }

    fn check_all(&self, ops: &[(Value, SrcPos)], ty: &Type) -> PResult<()> {
        for (v, pos) in ops {
            self.check_type(*v, ty, *pos)?;
        }
        Ok(())
    }

    /// Optional `fastmath<...>` / trailing attribute dictionary.
    fn trailing_attrs(&mut self, parts: &mut OpParts) -> PResult<()> {
        loop {
            if self.cur.eat_keyword("fastmath") {
                let text = self.cur.balanced_angle()?;
                parts.attr(
                    "fastmath",
                    Attribute::Enum(text[1..text.len() - 1].to_string()),
                );
            } else if self.cur.peek() == Some(b'{') {
                let attrs = self.parse_attr_dict()?;
                for mut a in attrs {
                    a.value = enums::normalize_attr(&a.name, a.value);
                    parts.attrs.push(a);
                }
            } else {
                return Ok(());
            }
        }
    }

    /// `name = value` properties written inline (`cacheModifier = ca`).
    fn inline_props(&mut self, parts: &mut OpParts) -> PResult<()> {
        loop {
            let save = self.cur.save();
            self.cur.eat(",");
            let Ok(name) = self.cur.word() else {
                self.cur.restore(save);
                return Ok(());
            };
            if !self.cur.eat("=") {
                self.cur.restore(save);
                return Ok(());
            }
            let value = self.cur.word()?;
            let canonical = match name.as_str() {
                "cacheModifier" => "cache",
                "evictionPolicy" => "evict",
                other => other,
            };
            parts.attr(canonical, Attribute::Enum(value));
        }
    }

    fn parse_pretty(
        &mut self,
        opcode: Opcode,
        n_results: usize,
        name_pos: SrcPos,
    ) -> PResult<OpParts> {
        use Opcode::*;
        let mut p = OpParts::default();
        match opcode {
            Func => return self.parse_func(),
            Constant => {
                let value = self.parse_attr()?;
                let ty = match &value {
                    Attribute::Int { ty, .. } => ty.clone(),
                    Attribute::Float { ty, .. } => Type::Float(*ty),
                    Attribute::Bool(_) => Type::I1,
                    Attribute::Dense { ty, .. } => ty.clone(),
                    _ => {
                        return Err(self
                            .cur
                            .error_at(name_pos, "unsupported `arith.constant` value"))
                    }
                };
                let value = match value {
                    Attribute::Bool(b) => Attribute::Int {
                        value: i128::from(b),
                        ty: Type::I1,
                    },
                    other => other,
                };
                self.trailing_attrs(&mut p)?;
                p.attr("value", value);
                p.results.push(ty);
            }
            AddI | SubI | MulI | DivSI | DivUI | CeilDivSI | CeilDivUI | FloorDivSI | RemSI
            | RemUI | AndI | OrI | XOrI | ShLI | ShRSI | ShRUI | MaxSI | MaxUI | MinSI | MinUI
            | AddF | SubF | MulF | DivF | RemF | MaximumF | MinimumF | MaxNumF | MinNumF
            | PreciseDivF | MulhiUI | NegF | Exp | Exp2 | Log | Log2 | Sqrt | Rsqrt | AbsF
            | AbsI | Sin | Cos | Tanh | Erf | Floor | Ceil | Fma | PreciseSqrt | MulSIExtended
            | MulUIExtended => {
                let ops = self.operands_list()?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let ty = self.parse_type()?;
                self.check_all(&ops, &ty)?;
                p.operands = ops.iter().map(|o| o.0).collect();
                p.results.push(ty.clone());
                if matches!(opcode, MulSIExtended | MulUIExtended) {
                    p.results.push(ty);
                }
            }
            CmpI | CmpF => {
                let pred_pos = self.cur.src_pos_after_ws();
                let pred = self.cur.word()?;
                if !enums::is_predicate(opcode, &pred) {
                    return Err(self
                        .cur
                        .error_at(pred_pos, format!("unknown predicate `{pred}`")));
                }
                self.cur.expect(",")?;
                let ops = self.operands_list()?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let ty = self.parse_type()?;
                self.check_all(&ops, &ty)?;
                p.operands = ops.iter().map(|o| o.0).collect();
                p.attr("predicate", Attribute::Enum(pred));
                p.results.push(ty.with_element(Type::I1));
            }
            Select => {
                let ops = self.operands_list()?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let types = self.parse_type_list()?;
                let (cond_ty, ty) = match types.as_slice() {
                    [t] => (Type::I1, t.clone()),
                    [c, t] => (c.clone(), t.clone()),
                    _ => return Err(self.cur.error("`arith.select` takes one or two types")),
                };
                if ops.len() == 3 {
                    self.check_type(ops[0].0, &cond_ty, ops[0].1)?;
                    self.check_all(&ops[1..], &ty)?;
                }
                p.operands = ops.iter().map(|o| o.0).collect();
                p.results.push(ty);
            }
            ExtSI | ExtUI | TruncI | ExtF | TruncF | SIToFP | UIToFP | FPToSI | FPToUI
            | ArithBitcast | IndexCast | IndexCastUI => {
                let ops = self.operands_list()?;
                if let Ok(save) = Ok::<_, ()>(self.cur.save()) {
                    match self.cur.word() {
                        Ok(w) if w != "fastmath" => p.attr("roundingmode", Attribute::Enum(w)),
                        _ => self.cur.restore(save),
                    }
                }
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let from = self.parse_type()?;
                self.cur.expect_keyword("to")?;
                let to = self.parse_type()?;
                self.check_all(&ops, &from)?;
                p.operands = ops.iter().map(|o| o.0).collect();
                p.results.push(to);
            }
            GetProgramId | GetNumPrograms => {
                if self.cur.peek() == Some(b'{') {
                    self.trailing_attrs(&mut p)?;
                } else {
                    let pos = self.cur.src_pos_after_ws();
                    let axis = match self.cur.word()?.as_str() {
                        "x" => 0,
                        "y" => 1,
                        "z" => 2,
                        other => {
                            return Err(self.cur.error_at(pos, format!("unknown axis `{other}`")))
                        }
                    };
                    p.attr("axis", i32_attr(axis));
                    self.trailing_attrs(&mut p)?;
                }
                self.cur.expect(":")?;
                p.results.push(self.parse_type()?);
            }
            MakeRange | Poison => {
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                p.results.push(self.parse_type()?);
            }
            Splat | Unsplat | Broadcast | Bitcast | IntToPtr | PtrToInt | Histogram | Reshape
            | FpToFp | ExpandDims | Trans | Cat | Join | Split => {
                let ops = self.operands_list()?;
                self.inline_props(&mut p)?;
                loop {
                    let save = self.cur.save();
                    match self.cur.word() {
                        Ok(w) if w == "allow_reorder" || w == "efficient_layout" => {
                            p.attr(&w, Attribute::Unit)
                        }
                        _ => {
                            self.cur.restore(save);
                            break;
                        }
                    }
                }
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let from = self.parse_type_list()?;
                if from.len() == ops.len() {
                    for (o, t) in ops.iter().zip(&from) {
                        self.check_type(o.0, t, o.1)?;
                    }
                } else if let Some(first) = ops.first() {
                    // Extra operands (tt.histogram's mask) have implied types.
                    self.check_type(first.0, &from[0], first.1)?;
                }
                let to = if self.cur.eat("->") {
                    self.parse_type_list()?
                } else if opcode == Unsplat {
                    vec![from[0].element().clone()]
                } else {
                    from.clone()
                };
                p.operands = ops.iter().map(|o| o.0).collect();
                p.results = if opcode == Split && to.len() == 1 {
                    vec![to[0].clone(), to[0].clone()]
                } else {
                    to
                };
            }
            AddPtr => {
                let ops = self.operands_list()?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let types = self.parse_type_list()?;
                if types.len() != 2 || ops.len() != 2 {
                    return Err(self
                        .cur
                        .error_at(name_pos, "`tt.addptr` takes a pointer and an offset"));
                }
                self.check_type(ops[0].0, &types[0], ops[0].1)?;
                self.check_type(ops[1].0, &types[1], ops[1].1)?;
                p.operands = ops.iter().map(|o| o.0).collect();
                p.results.push(types[0].clone());
            }
            Load | Store => {
                let ops = self.operands_list()?;
                self.inline_props(&mut p)?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let ptr_ty = self.parse_ptr_type()?;
                if let Some(first) = ops.first() {
                    self.check_type(first.0, &ptr_ty, first.1)?;
                }
                p.operands = ops.iter().map(|o| o.0).collect();
                if opcode == Load {
                    p.results.push(loaded_type(&ptr_ty).ok_or_else(|| {
                        self.cur.error_at(
                            name_pos,
                            format!("`tt.load` needs a pointer, found `{ptr_ty}`"),
                        )
                    })?);
                }
            }
            AtomicRmw | AtomicCas => {
                if opcode == AtomicRmw {
                    let kind = self.cur.word()?;
                    p.attr("atomic_rmw_op", Attribute::Enum(kind));
                    self.cur.expect(",")?;
                }
                let sem = self.cur.word()?;
                self.cur.expect(",")?;
                let scope = self.cur.word()?;
                self.cur.expect(",")?;
                p.attr("sem", Attribute::Enum(sem));
                p.attr("scope", Attribute::Enum(scope));
                let ops = self.operands_list()?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let (inputs, results) = self.parse_function_type()?;
                self.check_operand_types(&ops, &inputs)?;
                p.operands = ops.iter().map(|o| o.0).collect();
                p.results = results;
            }
            Dot => {
                let ops = self.operands_list()?;
                self.inline_props(&mut p)?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let ta = self.parse_type()?;
                self.cur.expect("*")?;
                let tb = self.parse_type()?;
                self.cur.expect("->")?;
                let tc = self.parse_type()?;
                if ops.len() == 3 {
                    self.check_type(ops[0].0, &ta, ops[0].1)?;
                    self.check_type(ops[1].0, &tb, ops[1].1)?;
                    self.check_type(ops[2].0, &tc, ops[2].1)?;
                }
                p.operands = ops.iter().map(|o| o.0).collect();
                p.results.push(tc);
            }
            DotScaled => return self.parse_dot_scaled(),
            ClampF => {
                let ops = self.operands_list()?;
                self.inline_props(&mut p)?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let ty = self.parse_type()?;
                self.check_all(&ops, &ty)?;
                p.operands = ops.iter().map(|o| o.0).collect();
                p.results.push(ty);
            }
            ExternElementwise | Call | Gather => {
                if opcode == Call {
                    let callee = self.cur.sigil_name(b'@')?;
                    p.attr("callee", Attribute::Symbol(callee));
                    self.cur.expect("(")?;
                }
                let ops = self.operands_list()?;
                if opcode == Call {
                    self.cur.expect(")")?;
                }
                let mut ops = ops;
                if opcode == Gather {
                    self.cur.expect("[")?;
                    ops.extend(self.operands_list()?);
                    self.cur.expect("]")?;
                    loop {
                        let save = self.cur.save();
                        match self.cur.word() {
                            Ok(w) if w == "efficient_layout" => p.attr(&w, Attribute::Unit),
                            _ => {
                                self.cur.restore(save);
                                break;
                            }
                        }
                    }
                }
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let (inputs, results) = self.parse_function_type()?;
                self.check_operand_types(&ops, &inputs)?;
                p.operands = ops.iter().map(|o| o.0).collect();
                p.results = results;
            }
            Assert => {
                let ops = self.operands_list()?;
                self.cur.expect(",")?;
                let msg = self.cur.string()?;
                p.attr("message", Attribute::String(msg));
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let ty = self.parse_type()?;
                self.check_all(&ops, &ty)?;
                p.operands = ops.iter().map(|o| o.0).collect();
            }
            Print => {
                let prefix = self.cur.string()?;
                p.attr("prefix", Attribute::String(prefix));
                self.trailing_attrs(&mut p)?;
                if self.cur.eat(":") {
                    let ops = self.operands_list()?;
                    self.cur.expect(":")?;
                    let types = self.parse_type_list()?;
                    self.check_operand_types(&ops, &types)?;
                    p.operands = ops.iter().map(|o| o.0).collect();
                }
            }
            Barrier | GpuBarrier => {
                // `ttg.barrier all` / `ttg.barrier local|global_read`: the
                // address spaces it orders, kept as an attribute.
                const SPACES: [&str; 7] = [
                    "all",
                    "local",
                    "global_read",
                    "global_write",
                    "tensor_read",
                    "tensor_write",
                    "none",
                ];
                let mut spaces = Vec::new();
                loop {
                    let at = self.cur.save();
                    match self.cur.word() {
                        Ok(w) if SPACES.contains(&w.as_str()) => spaces.push(w),
                        _ => {
                            self.cur.restore(at);
                            break;
                        }
                    }
                    if !self.cur.eat("|") {
                        break;
                    }
                }
                if !spaces.is_empty() {
                    p.attr("addrSpace", Attribute::String(spaces.join("|")));
                }
                self.trailing_attrs(&mut p)?;
            }
            Return | Yield | ReduceReturn | ScanReturn | MapElementwiseReturn | Assume => {
                let ops = self.operands_list()?;
                self.trailing_attrs(&mut p)?;
                if !ops.is_empty() {
                    self.cur.expect(":")?;
                    let types = self.parse_type_list()?;
                    self.check_operand_types(&ops, &types)?;
                }
                p.operands = ops.iter().map(|o| o.0).collect();
            }
            Condition => {
                self.cur.expect("(")?;
                let cond = self.operand()?;
                self.cur.expect(")")?;
                let ops = self.operands_list()?;
                self.trailing_attrs(&mut p)?;
                if !ops.is_empty() {
                    self.cur.expect(":")?;
                    let types = self.parse_type_list()?;
                    self.check_operand_types(&ops, &types)?;
                }
                p.operands.push(cond);
                p.operands.extend(ops.iter().map(|o| o.0));
            }
            For => return self.parse_for(n_results),
            If => return self.parse_if(),
            While => return self.parse_while(),
            Br => {
                let (b, args) = self.successor()?;
                p.successors.push(b);
                p.operands = args;
            }
            CondBr => {
                let cond = self.operand()?;
                self.cur.expect(",")?;
                let (t, targs) = self.successor()?;
                self.cur.expect(",")?;
                let (f, fargs) = self.successor()?;
                p.operands.push(cond);
                p.attr(
                    "operandSegmentSizes",
                    Attribute::DenseArray {
                        elem: Type::I32,
                        values: vec![1, targs.len() as i64, fargs.len() as i64],
                    },
                );
                p.operands.extend(targs);
                p.operands.extend(fargs);
                p.successors = vec![t, f];
            }
            MakeTensorPtr | MakeTensorDescriptor | Advance | DescriptorLoad | DescriptorStore
            | DescriptorGather | DescriptorScatter | DescriptorReduce => {
                return self.parse_tensor_ptr_op(opcode)
            }
            Reduce | Scan | MapElementwise => return self.parse_generic_after_name(opcode),
        }
        Ok(p)
    }

    fn check_operand_types(&self, ops: &[(Value, SrcPos)], types: &[Type]) -> PResult<()> {
        if ops.len() != types.len() {
            let pos = ops.first().map(|o| o.1).unwrap_or_default();
            return Err(self.cur.error_at(
                pos,
                format!("{} operand(s) but {} type(s)", ops.len(), types.len()),
            ));
        }
        for (o, t) in ops.iter().zip(types) {
            self.check_type(o.0, t, o.1)?;
        }
        Ok(())
    }

    /// Pretty `tt.reduce`/`tt.scan` do not exist; the generic body follows the name.
    fn parse_generic_after_name(&mut self, opcode: Opcode) -> PResult<OpParts> {
        Err(self.cur.error(format!(
            "`{}` must be written in generic form",
            opcode.name()
        )))
    }

    /// `!tt.ptr<...>`, a tensor of pointers, or Triton's short `<tensor<...>>`.
    fn parse_ptr_type(&mut self) -> PResult<Type> {
        if self.cur.peek() == Some(b'<') {
            self.cur.expect("<")?;
            let pointee = self.parse_type()?;
            self.cur.expect(">")?;
            return Ok(Type::ptr(pointee));
        }
        self.parse_type()
    }

    /// `^bb1` or `^bb1(%a, %b : i32, f32)`.
    fn successor(&mut self) -> PResult<(Block, Vec<Value>)> {
        let b = self.block_ref()?;
        let mut args = Vec::new();
        if self.cur.eat("(") {
            let ops = self.operands_list()?;
            if !ops.is_empty() {
                self.cur.expect(":")?;
                let types = self.parse_type_list()?;
                self.check_operand_types(&ops, &types)?;
            }
            self.cur.expect(")")?;
            args = ops.iter().map(|o| o.0).collect();
        }
        Ok((b, args))
    }

    /// `tt.func [public|private] @name(args) [-> results] [attributes {...}] { body }`.
    fn parse_func(&mut self) -> PResult<OpParts> {
        let mut p = OpParts::default();
        let mut visibility = None;
        for v in ["public", "private", "nested"] {
            if self.cur.eat_keyword(v) {
                visibility = Some(v);
            }
        }
        if let Some(v) = visibility.filter(|v| *v != "public") {
            p.attr("sym_visibility", Attribute::String(v.to_string()));
        }
        let name = self.cur.sigil_name(b'@')?;
        p.attr("sym_name", Attribute::String(name));
        let (args, arg_attrs) = self.arg_defs(true)?;
        let results = if self.cur.eat("->") {
            self.parse_result_types()?
        } else {
            Vec::new()
        };
        let inputs: Vec<Type> = args.iter().map(|a| a.ty.clone()).collect();
        p.attr("function_type", Attribute::FunctionType { inputs, results });
        if arg_attrs.iter().any(Option::is_some) {
            let list = arg_attrs
                .into_iter()
                .map(|a| a.unwrap_or(Attribute::Dict(Vec::new())))
                .collect();
            p.attr("arg_attrs", Attribute::Array(list));
        }
        if self.cur.eat_keyword("attributes") {
            p.attrs.extend(self.parse_attr_dict()?);
        }
        if self.cur.peek() == Some(b'{') {
            self.scopes.push(Default::default());
            let region = self.parse_region_with_args(args);
            self.scopes.pop();
            p.regions.push(region?);
        }
        Ok(p)
    }

    fn parse_region_with_args(&mut self, args: Vec<ArgDef>) -> PResult<Region> {
        // A function with no parameters still gets an entry block.
        if args.is_empty() {
            let r = self.parse_region(Vec::new())?;
            if self.module.layout.blocks(r).is_empty() {
                let b = self.module.dfg.make_block(Some(r), &[]);
                self.module.layout.append_block(r, b);
            }
            return Ok(r);
        }
        self.parse_region(args)
    }

    /// `[unsigned] %iv = %lb to %ub step %s [iter_args(%a = %x, ...) -> (T...)]
    /// [: T] {...}` (`unsigned` is MLIR's spelling of the `unsignedCmp`
    /// attribute).
    fn parse_for(&mut self, n_results: usize) -> PResult<OpParts> {
        let mut p = OpParts::default();
        if self.cur.eat_keyword("unsigned") {
            p.attr("unsignedCmp", Attribute::Unit);
        }
        let iv_pos = self.cur.src_pos_after_ws();
        let iv = self.cur.sigil_name(b'%')?;
        self.cur.expect("=")?;
        let lb = self.value_ref()?;
        self.cur.expect_keyword("to")?;
        let ub = self.value_ref()?;
        self.cur.expect_keyword("step")?;
        let step = self.value_ref()?;
        let mut iter_defs = Vec::new();
        let mut inits = Vec::new();
        let mut result_types = Vec::new();
        if self.cur.eat_keyword("iter_args") {
            self.cur.expect("(")?;
            if !self.cur.eat(")") {
                loop {
                    let pos = self.cur.src_pos_after_ws();
                    let name = self.cur.sigil_name(b'%')?;
                    self.cur.expect("=")?;
                    let init = self.value_ref()?;
                    iter_defs.push((name, pos));
                    inits.push(init);
                    if self.cur.eat(")") {
                        break;
                    }
                    self.cur.expect(",")?;
                }
            }
            self.cur.expect("->")?;
            result_types = self.parse_result_types()?;
        }
        let iv_ty = if self.cur.eat(":") {
            self.parse_type()?
        } else {
            Type::Index
        };
        let (lb, ub, step) = (self.lookup(&lb)?, self.lookup(&ub)?, self.lookup(&step)?);
        p.operands = vec![lb, ub, step];
        if inits.len() != result_types.len() {
            return Err(self
                .cur
                .error_at(iv_pos, "`iter_args` and result types differ in number"));
        }
        for (r, ty) in inits.iter().zip(&result_types) {
            let v = self.lookup(r)?;
            self.check_type(v, ty, r.pos)?;
            p.operands.push(v);
        }
        let mut args = vec![ArgDef {
            name: iv,
            ty: iv_ty,
            loc: None,
            pos: iv_pos,
        }];
        for ((name, pos), ty) in iter_defs.into_iter().zip(&result_types) {
            args.push(ArgDef {
                name,
                ty: ty.clone(),
                loc: None,
                pos,
            });
        }
        p.regions.push(self.parse_region(args)?);
        self.trailing_attrs(&mut p)?;
        let _ = n_results;
        p.results = result_types;
        Ok(p)
    }

    /// `%c [-> (T...)] {...} [else {...}]`.
    fn parse_if(&mut self) -> PResult<OpParts> {
        let mut p = OpParts::default();
        p.operands.push(self.operand()?);
        if self.cur.eat("->") {
            p.results = self.parse_result_types()?;
        }
        p.regions.push(self.parse_region(Vec::new())?);
        if self.cur.eat_keyword("else") {
            p.regions.push(self.parse_region(Vec::new())?);
        } else {
            p.regions
                .push(self.module.dfg.regions.push(Default::default()));
        }
        self.trailing_attrs(&mut p)?;
        Ok(p)
    }

    /// `(%a = %x, ...) : (T...) -> (R...) {before} do {after}`.
    fn parse_while(&mut self) -> PResult<OpParts> {
        let mut p = OpParts::default();
        let mut defs = Vec::new();
        let mut inits = Vec::new();
        // MLIR omits the `(...)` of a while with no carried values
        // (`scf.while : () -> () {`).
        if self.cur.eat("(") && !self.cur.eat(")") {
            loop {
                let pos = self.cur.src_pos_after_ws();
                let name = self.cur.sigil_name(b'%')?;
                self.cur.expect("=")?;
                inits.push(self.value_ref()?);
                defs.push((name, pos));
                if self.cur.eat(")") {
                    break;
                }
                self.cur.expect(",")?;
            }
        }
        self.cur.expect(":")?;
        let (inputs, results) = self.parse_function_type()?;
        if inputs.len() != inits.len() {
            return Err(self.cur.error("`scf.while` operand and type counts differ"));
        }
        for (r, ty) in inits.iter().zip(&inputs) {
            let v = self.lookup(r)?;
            self.check_type(v, ty, r.pos)?;
            p.operands.push(v);
        }
        let args = defs
            .into_iter()
            .zip(&inputs)
            .map(|((name, pos), ty)| ArgDef {
                name,
                ty: ty.clone(),
                loc: None,
                pos,
            })
            .collect();
        p.regions.push(self.parse_region(args)?);
        self.cur.expect_keyword("do")?;
        p.regions.push(self.parse_region(Vec::new())?);
        self.trailing_attrs(&mut p)?;
        p.results = results;
        Ok(p)
    }

    /// `%a[ scale %as], %b[ scale %bs], %c lhs = e2m1 rhs = e4m3 {...} : Ta[, Tas] * Tb[, Tbs] -> Tc`
    /// (Triton 3.3 on), or Triton 3.2's `%a, %as, %b[, %bs], %c lhs = ... : Ta, Tas * Tb[, Tbs] -> Tc`,
    /// where the left scale is required and the scales are plain operands.
    fn parse_dot_scaled(&mut self) -> PResult<OpParts> {
        let mut p = OpParts::default();
        let start = self.cur.src_pos_after_ws();
        // (operand, its `scale` operand) in order
        let mut items = Vec::new();
        loop {
            let v = self.operand()?;
            let scale = if self.cur.eat_keyword("scale") {
                Some(self.operand()?)
            } else {
                None
            };
            items.push((v, scale));
            if !self.cur.eat(",") {
                break;
            }
        }
        let keyword_scales = items.iter().any(|i| i.1.is_some());
        let (a, a_scale, b, b_scale, c) = match (items.as_slice(), keyword_scales) {
            ([(a, sa), (b, sb), (c, None)], _) => (*a, *sa, *b, *sb, *c),
            ([(a, None), (sa, None), (b, None), (c, None)], false) => (*a, Some(*sa), *b, None, *c),
            ([(a, None), (sa, None), (b, None), (sb, None), (c, None)], false) => {
                (*a, Some(*sa), *b, Some(*sb), *c)
            }
            _ => {
                return Err(self.cur.error_at(
                    start,
                    "`tt.dot_scaled` takes `%a[ scale %as], %b[ scale %bs], %c` \
                     (or Triton 3.2's `%a, %as, %b[, %bs], %c`)",
                ))
            }
        };
        for (kw, name) in [("lhs", "a_elem_type"), ("rhs", "b_elem_type")] {
            self.cur.expect_keyword(kw)?;
            self.cur.expect("=")?;
            let w = self.cur.word()?;
            p.attr(name, Attribute::Enum(w));
        }
        self.trailing_attrs(&mut p)?;
        self.cur.expect(":")?;
        let _ = self.parse_type_list()?;
        self.cur.expect("*")?;
        let _ = self.parse_type_list()?;
        self.cur.expect("->")?;
        let tc = self.parse_type()?;
        p.operands = vec![a, b, c];
        p.operands.extend(a_scale);
        p.operands.extend(b_scale);
        p.attr(
            "operandSegmentSizes",
            Attribute::DenseArray {
                elem: Type::I32,
                values: vec![
                    1,
                    1,
                    1,
                    i64::from(a_scale.is_some()),
                    i64::from(b_scale.is_some()),
                ],
            },
        );
        p.results.push(tc);
        Ok(p)
    }

    /// Block pointers and tensor descriptors.
    fn parse_tensor_ptr_op(&mut self, opcode: Opcode) -> PResult<OpParts> {
        use Opcode::*;
        let mut p = OpParts::default();
        // `tt.descriptor_reduce add, %desc[...], %src : ...`.
        let kind = if opcode == DescriptorReduce {
            let kind_pos = self.cur.src_pos_after_ws();
            let kind = self.cur.word()?;
            self.cur.expect(",")?;
            Some((kind, kind_pos))
        } else {
            None
        };
        let base_pos = self.cur.src_pos_after_ws();
        let base = self.operand()?;
        p.operands.push(base);
        let mut segments = vec![1i64];
        match opcode {
            MakeTensorPtr | MakeTensorDescriptor | Advance => {
                let groups = match opcode {
                    MakeTensorPtr => 3,
                    MakeTensorDescriptor => 2,
                    _ => 1,
                };
                for _ in 0..groups {
                    self.cur.expect(",")?;
                    self.cur.expect("[")?;
                    let ops = self.operands_list()?;
                    self.cur.expect("]")?;
                    segments.push(ops.len() as i64);
                    p.operands.extend(ops.iter().map(|o| o.0));
                }
                self.inline_props(&mut p)?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                let first = self.parse_ptr_type()?;
                let result = if self.cur.eat(",") {
                    if opcode == MakeTensorDescriptor && self.cur.peek() == Some(b'<') {
                        self.cur.expect("<")?;
                        let block = self.parse_desc_block()?;
                        self.cur.expect(">")?;
                        Type::TensorDesc {
                            block: Box::new(block),
                        }
                    } else {
                        self.parse_ptr_type()?
                    }
                } else {
                    first
                };
                p.results.push(result);
                if opcode != Advance {
                    p.attr(
                        "operandSegmentSizes",
                        Attribute::DenseArray {
                            elem: Type::I32,
                            values: segments,
                        },
                    );
                }
            }
            _ => {
                self.cur.expect("[")?;
                let idx = self.operands_list()?;
                self.cur.expect("]")?;
                // `tt.descriptor_store` is `[desc, src, indices...]`;
                // `tt.descriptor_scatter` is `[desc, x_offsets, y_offset, src]`;
                // `tt.descriptor_reduce` is `[desc, src, indices...]`.
                let src = if matches!(
                    opcode,
                    DescriptorStore | DescriptorScatter | DescriptorReduce
                ) {
                    self.cur.expect(",")?;
                    Some(self.operand()?)
                } else {
                    None
                };
                if matches!(opcode, DescriptorStore | DescriptorReduce) {
                    p.operands.extend(src);
                }
                p.operands.extend(idx.iter().map(|o| o.0));
                if opcode == DescriptorScatter {
                    p.operands.extend(src);
                }
                self.inline_props(&mut p)?;
                self.trailing_attrs(&mut p)?;
                self.cur.expect(":")?;
                if self.cur.peek() == Some(b'(') {
                    let (_, results) = self.parse_function_type()?;
                    p.results = results;
                    return Ok(p);
                }
                self.cur.skip_ws();
                let desc_start = self.cur.pos;
                let desc_ty = self.parse_type()?;
                let desc_text = self.cur.text_since(desc_start);
                if let (Some((kind, kind_pos)), Type::TensorDesc { block }) = (&kind, &desc_ty) {
                    let op = descriptor_reduce_op(kind, block.element(), desc_text)
                        .map_err(|e| self.cur.error_at(*kind_pos, e))?;
                    p.attr("kind", Attribute::Enum(kind.clone()));
                    p.attr("atomic_rmw_op", Attribute::Enum(op.to_string()));
                }
                if !matches!(desc_ty, Type::TensorDesc { .. }) {
                    // Triton 3.2's `tl._experimental_descriptor_load/store` take a
                    // pointer to a host-built CUDA TMA descriptor.
                    return Err(self.cur.error_at(
                        base_pos,
                        format!(
                            "a tensor-descriptor access needs a `!tt.tensordesc`, found `{desc_ty}`: \
                             Triton 3.2's `tl._experimental_descriptor_load/store` read a CUDA TMA \
                             descriptor built on the host, whose layout this machine cannot decode; \
                             use `tl.make_block_ptr` (or `tl.make_tensor_descriptor` from Triton 3.3 on)"
                        ),
                    ));
                }
                if matches!(opcode, DescriptorLoad | DescriptorGather) {
                    self.cur.expect("->")?;
                    p.results.push(self.parse_type()?);
                } else if self.cur.eat(",") {
                    let _ = self.parse_type_list()?;
                }
            }
        }
        Ok(p)
    }
}

/// The `tt.atomic_rmw` operation a `tt.descriptor_reduce` of `kind` applies
/// to each element of a descriptor of `elem`s spelled `desc_text`.
///
/// Triton keeps one `max`/`min` kind and takes the signedness from the
/// descriptor's element type (`si32` vs `ui32`, which selects the TMA
/// tensor map's `INT32`/`UINT32` data type on NVIDIA); maiac's integer types
/// are signless, so it is read here from the spelling. A signless `iN`
/// block (never printed by Triton for descriptors) reads as signed, like
/// `tt.atomic_rmw max`.
fn descriptor_reduce_op(kind: &str, elem: &Type, desc_text: &str) -> Result<&'static str, String> {
    let unsigned = desc_text.contains("xui") || desc_text.contains("<ui");
    let float = elem.is_float();
    Ok(match kind {
        "add" if float => "fadd",
        "add" => "add",
        "max" if unsigned => "umax",
        "max" => "max",
        "min" if unsigned => "umin",
        "min" => "min",
        "and" | "or" | "xor" if float => {
            return Err(format!(
                "tensor-descriptor atomic `{kind}` needs an integer descriptor, found `{elem}`"
            ))
        }
        "and" => "and",
        "or" => "or",
        "xor" => "xor",
        "inc" | "dec" => {
            return Err(format!(
                "tensor-descriptor atomic `{kind}` (TMA's wrapping increment/decrement, not \
                 reachable from Triton's Python API) is not supported"
            ))
        }
        _ => return Err(format!("unknown tensor-descriptor atomic kind `{kind}`")),
    })
}

/// The type a `tt.load` of `ptr_ty` produces.
pub fn loaded_type(ptr_ty: &Type) -> Option<Type> {
    match ptr_ty {
        Type::Ptr { pointee, .. } => Some((**pointee).clone()),
        Type::Tensor { shape, elem } => match &**elem {
            Type::Ptr { pointee, .. } => Some(Type::tensor(shape.clone(), (**pointee).clone())),
            _ => None,
        },
        _ => None,
    }
}

/// The opcode of an op name, including the older spellings Triton used for
/// the same op: Triton 3.3 prints the tensor-descriptor accesses as
/// `tt.experimental_descriptor_*` (renamed `tt.descriptor_*` in 3.4, with the
/// same operands and syntax).
fn lookup_op(name: &str) -> Option<Opcode> {
    match name {
        "tt.experimental_descriptor_load" => Some(Opcode::DescriptorLoad),
        "tt.experimental_descriptor_store" => Some(Opcode::DescriptorStore),
        "tt.experimental_descriptor_gather" => Some(Opcode::DescriptorGather),
        "tt.experimental_descriptor_scatter" => Some(Opcode::DescriptorScatter),
        _ => Opcode::from_name(name),
    }
}

/// The message for an op name maiac does not know, naming the Triton
/// feature behind the ones it rejects on purpose.
fn unknown_op(name: &str) -> String {
    let why = match name {
        "tt.elementwise_inline_asm" => Some(
            "`tl.inline_asm_elementwise` embeds GPU (PTX) assembly, which this machine cannot run",
        ),
        "tt.reinterpret_tensor_descriptor" => Some(
            "`tl._experimental_reinterpret_tensor_descriptor` reads a CUDA TMA descriptor built on the \
             host, whose layout this machine cannot decode; build the descriptor in the kernel with \
             `tl.make_tensor_descriptor`",
        ),
        _ if name.starts_with("ttng.") || name.starts_with("nvgpu.") || name.starts_with("amdgpu.") => {
            Some("GPU-vendor dialect ops appear only after Triton's GPU lowering; maiac reads the TTIR stage")
        }
        _ => None,
    };
    match why {
        Some(why) => format!("unknown op `{name}`: {why}"),
        None => format!("unknown op `{name}`"),
    }
}
