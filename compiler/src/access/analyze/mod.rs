//! The analysis proper: a forward walk over a function that gives every
//! integer, mask and pointer value a form ([`Form`]) and derives each memory
//! op's [`MemAccess`] from the forms of its operands.
//!
//! Scalar SSA values are atoms (the CP computes them), except constants,
//! which are looked through. `scf.for` bodies are analyzed to a fixpoint:
//! a tensor iter_arg is first assumed to keep its initial strides with a
//! carried base; a dimension whose coefficient the yield changes becomes a
//! carried register too; an iter_arg whose yielded value is not affine (or
//! adds guards) becomes opaque, and the body is analyzed again. Block
//! pointers and descriptors, which have no run-time value to fall back on,
//! also keep forms through `scf.if` ([`branches`]) and block pointers
//! through `scf.while` ([`while_loop`]).

mod branches;
mod loops;
mod memory;
mod while_loop;

use std::collections::{BTreeMap, HashMap};

use cranelift_entity::SecondaryMap;
use maiac_ir::semantics::int::{IntBinaryOp, IntPredicate};
use maiac_ir::{Attribute, DenseElements, Module, Op, Opcode, Region, Type, Value, ValueDef};

use super::affine::{push_guard, Affine};
use super::mask::BoxMask;
use super::names::ValueNames;
use super::scalar::{Atom, CastKind, ScalarExpr};
use super::{AccessMap, BlockPtrForm, CarriedValue, DescriptorForm, MemAccess, ValueForm};
use memory::access_kind;

/// What the analysis knows about a value.
#[derive(Clone, Debug)]
enum Form {
    Opaque(String),
    Affine(Affine),
    Mask(BoxMask),
    Block(BlockPtrForm),
    Desc(DescriptorForm),
}

/// The state of one function's analysis.
pub(super) struct Analyzer<'m> {
    m: &'m Module,
    func: Op,
    names: ValueNames,
    forms: HashMap<Value, Form>,
    accesses: SecondaryMap<Op, Option<MemAccess>>,
    carried: BTreeMap<(Op, usize), CarriedValue>,
}

fn opaque<T>(reason: impl Into<String>) -> Result<T, String> {
    Err(reason.into())
}

/// The raw bits of a scalar constant attribute.
fn attr_bits(attr: &Attribute) -> Option<u64> {
    match attr {
        Attribute::Int { value, .. } => Some(*value as u64),
        Attribute::Bool(b) => Some(u64::from(*b)),
        Attribute::Float { bits, .. } => Some(*bits),
        _ => None,
    }
}

/// Storage width in bits of a scalar type (pointers: 64).
fn scalar_width(ty: &Type) -> Option<u32> {
    match ty {
        Type::Int(w) => Some(*w),
        Type::Index => Some(64),
        Type::Float(f) => Some(f.bits()),
        Type::Ptr { pointee, .. } if !pointee.is_tensor() => Some(64),
        _ => None,
    }
}

impl<'m> Analyzer<'m> {
    pub fn new(m: &'m Module, func: Op) -> Analyzer<'m> {
        Analyzer {
            m,
            func,
            names: ValueNames::of_function(m, func),
            forms: HashMap::new(),
            accesses: SecondaryMap::new(),
            carried: BTreeMap::new(),
        }
    }

    pub fn run(mut self) -> AccessMap {
        let regions = self.m.dfg.ops[self.func].regions.clone();
        for region in regions {
            self.analyze_region(region);
        }
        let mut order = Vec::new();
        let mut values = BTreeMap::new();
        let visit_value = |this: &Self, v: Value, values: &mut BTreeMap<Value, ValueForm>| {
            let ty = this.m.dfg.value_type(v);
            let pointerish =
                matches!(ty.element(), Type::Ptr { .. }) || matches!(ty, Type::TensorDesc { .. });
            if pointerish {
                let form = match this.form(v) {
                    Form::Affine(a) => ValueForm::Affine(a),
                    Form::Block(b) => ValueForm::BlockPtr(b),
                    Form::Desc(d) => ValueForm::Descriptor(d),
                    Form::Mask(_) => ValueForm::Opaque("a mask".into()),
                    Form::Opaque(r) => ValueForm::Opaque(r),
                };
                values.insert(v, form);
            }
        };
        if let Some(region) = self.m.dfg.ops[self.func].regions.first() {
            for &block in self.m.layout.blocks(*region) {
                for &arg in &self.m.dfg.blocks[block].args {
                    visit_value(&self, arg, &mut values);
                }
            }
            self.m.walk_region(*region, &mut |op| {
                if self.accesses[op].is_some() {
                    order.push(op);
                }
                for &r in self.m.dfg.results(op) {
                    visit_value(&self, r, &mut values);
                }
                for &region in &self.m.dfg.ops[op].regions {
                    for &block in self.m.layout.blocks(region) {
                        for &arg in &self.m.dfg.blocks[block].args {
                            visit_value(&self, arg, &mut values);
                        }
                    }
                }
            });
        }
        AccessMap {
            func: self.func,
            accesses: self.accesses,
            order,
            values,
            carried: self.carried,
            names: self.names,
        }
    }

    // ---- naming -------------------------------------------------------------

    fn describe_op(&self, op: Op) -> String {
        let data = &self.m.dfg.ops[op];
        let at = data
            .pos
            .map(|p| format!(" at {}:{}", p.line, p.col))
            .unwrap_or_default();
        match self.m.dfg.results(op).first() {
            Some(&r) => format!("{} = {}{at}", self.names.name(r), data.opcode.name()),
            None => format!("{}{at}", data.opcode.name()),
        }
    }

    fn describe_origin(&self, v: Value) -> String {
        match self.m.dfg.values[v].def {
            ValueDef::Result(op, _) => format!("{} is not analyzable", self.describe_op(op)),
            ValueDef::BlockArg(block, _) => {
                let owner = self.m.dfg.blocks[block]
                    .region
                    .and_then(|r| self.m.dfg.regions[r].parent)
                    .map(|op| self.m.dfg.opcode(op).name())
                    .unwrap_or("a block");
                format!("{} is an argument of {owner}", self.names.name(v))
            }
        }
    }

    // ---- forms ----------------------------------------------------------------

    /// A scalar as an expression: constants are looked through, and so are
    /// integer widenings (`extsi`, `extui`), which tell the guards the
    /// value's range; anything else is an atom. Floats give their raw bits.
    fn scalar_expr(&self, v: Value) -> Option<ScalarExpr> {
        let width = scalar_width(self.m.dfg.value_type(v))?;
        if let Some(op) = self.m.dfg.defining_op(v) {
            match self.m.dfg.opcode(op) {
                Opcode::Constant => {
                    if let Some(bits) = self.m.dfg.attr(op, "value").and_then(attr_bits) {
                        return Some(ScalarExpr::constant(i128::from(bits), width));
                    }
                }
                opcode @ (Opcode::ExtSI | Opcode::ExtUI) => {
                    let source = self.m.dfg.operands(op).first().copied();
                    let from = source.and_then(|s| self.m.dfg.value_type(s).int_width());
                    if let (Some(source), Some(from)) = (source, from) {
                        if from < width && from > 1 {
                            let kind = if opcode == Opcode::ExtSI {
                                CastKind::SignExtend
                            } else {
                                CastKind::ZeroExtend
                            };
                            let inner = self.scalar_expr(source)?;
                            return Some(ScalarExpr::cast(kind, width, inner));
                        }
                    }
                }
                _ => {}
            }
        }
        Some(ScalarExpr::atom(Atom::Value(v), width))
    }

    fn form(&self, v: Value) -> Form {
        if let Some(f) = self.forms.get(&v) {
            return f.clone();
        }
        let ty = self.m.dfg.value_type(v);
        match ty {
            Type::Int(1) => match self.scalar_expr(v) {
                Some(e) => Form::Mask(BoxMask::uniform(Vec::new(), e)),
                None => Form::Opaque(self.describe_origin(v)),
            },
            Type::Int(_) | Type::Index => match self.scalar_expr(v) {
                Some(e) => Form::Affine(Affine::uniform(Vec::new(), e, None)),
                None => Form::Opaque(self.describe_origin(v)),
            },
            Type::Ptr { pointee, .. } if !pointee.is_tensor() => match self.scalar_expr(v) {
                Some(e) => Form::Affine(Affine::uniform(
                    Vec::new(),
                    e,
                    Some(pointee.scalar_size_bytes()),
                )),
                None => Form::Opaque(self.describe_origin(v)),
            },
            _ => Form::Opaque(self.describe_origin(v)),
        }
    }

    fn affine(&self, v: Value) -> Result<Affine, String> {
        match self.form(v) {
            Form::Affine(a) => Ok(a),
            Form::Opaque(r) => Err(r),
            _ => Err(format!(
                "{} is not an integer or pointer",
                self.names.name(v)
            )),
        }
    }

    fn mask(&self, v: Value) -> Result<BoxMask, String> {
        match self.form(v) {
            Form::Mask(m) => Ok(m),
            Form::Opaque(r) => Err(r),
            _ => Err(format!("{} is not a mask", self.names.name(v))),
        }
    }

    fn set(&mut self, v: Value, form: Form) {
        self.forms.insert(v, form);
    }

    // ---- walking ----------------------------------------------------------------

    fn analyze_region(&mut self, region: Region) {
        let blocks = self.m.layout.blocks(region).to_vec();
        for block in blocks {
            let ops = self.m.layout.ops(block).to_vec();
            for op in ops {
                self.analyze_op(op);
            }
        }
    }

    fn analyze_op(&mut self, op: Op) {
        let opcode = self.m.dfg.opcode(op);
        if opcode == Opcode::For {
            self.analyze_for(op);
            return;
        }
        if opcode == Opcode::While && self.analyze_while(op) {
            return;
        }
        // Nested regions (scf.if, scf.while, reductions): their block
        // arguments are opaque (scalars stay atoms), their results too.
        let regions = self.m.dfg.ops[op].regions.clone();
        for &region in &regions {
            for &block in self.m.layout.blocks(region) {
                for &arg in &self.m.dfg.blocks[block].args {
                    let reason = self.describe_origin(arg);
                    self.forms.insert(arg, Form::Opaque(reason));
                }
            }
            self.analyze_region(region);
        }
        if let Some(kind) = access_kind(opcode) {
            // (A memory op without operands is malformed; the verifier
            // reports it.)
            if !self.m.dfg.operands(op).is_empty() {
                let access = self.access(op, kind);
                self.accesses[op] = Some(access);
            }
        }
        let results = self.m.dfg.results(op).to_vec();
        if let [r] = results[..] {
            let ty = self.m.dfg.value_type(r);
            if !ty.is_tensor() && scalar_width(ty).is_some() {
                // Scalars are atoms whatever computed them: the CP has them.
                self.forms.remove(&r);
                return;
            }
        }
        if results.len() == 1 {
            let form = match self.result_form(op) {
                Ok(f) => f,
                Err(reason) => Form::Opaque(reason),
            };
            self.set(results[0], form);
        } else {
            for r in results {
                let reason = format!(
                    "{} is a result of {}",
                    self.names.name(r),
                    self.describe_op(op)
                );
                self.set(r, Form::Opaque(reason));
            }
        }
        if opcode == Opcode::If {
            // Block pointers and descriptors have no run-time value to fall
            // back on: give the ones an scf.if yields a form when the
            // branches allow it.
            for (k, r) in self.m.dfg.results(op).to_vec().into_iter().enumerate() {
                let ty = self.m.dfg.value_type(r);
                if matches!(ty, Type::Ptr { pointee, .. } if pointee.is_tensor())
                    || matches!(ty, Type::TensorDesc { .. })
                {
                    let form = self.if_result_form(op, k).unwrap_or_else(Form::Opaque);
                    self.set(r, form);
                }
            }
        }
    }

    /// For `select(x < bound, x, 0)` (signed compare; `x` an index tensor,
    /// `bound` uniform), the bound: Triton's persistent-matmul idiom
    /// `offs = tl.where(offs < M, offs, 0)`, a [`WrapKind::ZeroPast`]
    /// dimension when `x` is `start + range`.
    ///
    /// [`WrapKind::ZeroPast`]: crate::access::WrapKind::ZeroPast
    fn zero_past_bound(&self, select: Op) -> Option<Value> {
        let dfg = &self.m.dfg;
        let &[cond, x, zero] = dfg.operands(select) else {
            return None;
        };
        let ValueDef::Result(cmp, _) = dfg.values[cond].def else {
            return None;
        };
        let predicate = dfg
            .attr(cmp, "predicate")
            .and_then(Attribute::as_str)
            .and_then(IntPredicate::from_keyword);
        let &[lhs, bound] = dfg.operands(cmp) else {
            return None;
        };
        let is_zero = matches!(
            self.forms.get(&zero),
            Some(Form::Affine(z)) if z.is_uniform() && z.offset.is_zero() && z.elem_bytes.is_none()
        );
        let uniform_bound = matches!(self.forms.get(&bound), Some(Form::Affine(b)) if b.is_uniform())
            || !dfg.value_type(bound).is_tensor();
        (dfg.opcode(cmp) == Opcode::CmpI
            && predicate == Some(IntPredicate::Slt)
            && lhs == x
            && is_zero
            && uniform_bound
            && dfg.value_type(x).is_tensor())
        .then_some(bound)
    }

    /// The form of the single result of `op`.
    fn result_form(&self, op: Op) -> Result<Form, String> {
        use Opcode::*;
        let dfg = &self.m.dfg;
        let opcode = dfg.opcode(op);
        let operands = dfg.operands(op);
        let result = dfg.results(op)[0];
        let ty = dfg.value_type(result);
        let shape = ty.shape().to_vec();
        let fail = |e: String| format!("{}: {e}", self.describe_op(op));
        let is_mask = ty.element() == &Type::I1;
        let operand = |i: usize| {
            operands
                .get(i)
                .copied()
                .ok_or_else(|| fail("missing operand".into()))
        };
        let int_attr = |name: &str| dfg.attr(op, name).and_then(Attribute::as_int);
        let form = match opcode {
            Constant => match dfg.attr(op, "value") {
                Some(Attribute::Dense {
                    elems: DenseElements::Splat(v),
                    ..
                }) => {
                    let bits = attr_bits(v).ok_or_else(|| fail("unsupported constant".into()))?;
                    let width = scalar_width(ty.element())
                        .ok_or_else(|| fail("unsupported element type".into()))?;
                    let value = ScalarExpr::constant(i128::from(bits), width);
                    if is_mask {
                        Form::Mask(BoxMask::uniform(shape, value))
                    } else if ty.element().is_int() {
                        Form::Affine(Affine::uniform(shape, value, None))
                    } else {
                        return opaque(fail("not an integer constant".into()));
                    }
                }
                _ => return opaque(fail("a non-uniform constant".into())),
            },
            MakeRange => {
                let (start, end) = (int_attr("start").unwrap_or(0), int_attr("end").unwrap_or(0));
                let len = end - start;
                match (i64::try_from(start), i64::try_from(len)) {
                    (Ok(start), Ok(len)) if len >= 0 && shape == [len] => {
                        Form::Affine(Affine::range(start, len))
                    }
                    _ => return opaque(fail("a malformed range".into())),
                }
            }
            Splat => match self.form(operand(0)?) {
                Form::Affine(a) => Form::Affine(a.splat(&shape)),
                Form::Mask(m) => Form::Mask(m.splat(&shape)),
                Form::Opaque(r) => return opaque(r),
                _ => return opaque(fail("splat of a non-scalar".into())),
            },
            Broadcast => match self.form(operand(0)?) {
                Form::Affine(a) => Form::Affine(a.broadcast(&shape).map_err(fail)?),
                Form::Mask(m) => Form::Mask(m.broadcast(&shape).map_err(fail)?),
                Form::Opaque(r) => return opaque(r),
                _ => return opaque(fail("unsupported operand".into())),
            },
            ExpandDims => {
                let axis = int_attr("axis")
                    .and_then(|a| usize::try_from(a).ok())
                    .ok_or_else(|| fail("bad axis".into()))?;
                match self.form(operand(0)?) {
                    Form::Affine(a) => Form::Affine(a.expand_dims(axis).map_err(fail)?),
                    Form::Mask(m) => Form::Mask(m.expand_dims(axis).map_err(fail)?),
                    Form::Opaque(r) => return opaque(r),
                    _ => return opaque(fail("unsupported operand".into())),
                }
            }
            Trans => {
                let rank = shape.len();
                let order: Vec<usize> = match dfg.attr(op, "order").and_then(Attribute::as_int_list)
                {
                    Some(o) => o
                        .iter()
                        .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
                        .collect(),
                    None => (0..rank).rev().collect(),
                };
                match self.form(operand(0)?) {
                    Form::Affine(a) => Form::Affine(a.trans(&order).map_err(fail)?),
                    Form::Mask(m) => Form::Mask(m.trans(&order).map_err(fail)?),
                    Form::Opaque(r) => return opaque(r),
                    _ => return opaque(fail("unsupported operand".into())),
                }
            }
            Reshape => match self.form(operand(0)?) {
                Form::Affine(a) => Form::Affine(a.reshape(&shape).map_err(fail)?),
                Form::Mask(m) => Form::Mask(m.reshape(&shape).map_err(fail)?),
                Form::Opaque(r) => return opaque(r),
                _ => return opaque(fail("unsupported operand".into())),
            },
            AddPtr => {
                let (p, o) = (self.affine(operand(0)?)?, self.affine(operand(1)?)?);
                Form::Affine(p.add_offsets(&o).map_err(fail)?)
            }
            AndI if is_mask => {
                let (a, b) = (self.mask(operand(0)?)?, self.mask(operand(1)?)?);
                Form::Mask(a.and(&b).map_err(fail)?)
            }
            OrI | XOrI if is_mask => {
                let (a, b) = (self.mask(operand(0)?)?, self.mask(operand(1)?)?);
                let all_uniform = |m: &BoxMask| {
                    m.shape.is_empty()
                        || m.begin.iter().all(ScalarExpr::is_zero)
                            && m.end
                                .iter()
                                .zip(&m.shape)
                                .all(|(e, &n)| e.as_signed_const() == Some(n))
                };
                if !(all_uniform(&a) && all_uniform(&b)) {
                    return opaque(fail("a disjunction of masks is not a box".into()));
                }
                let op = if opcode == OrI {
                    IntBinaryOp::Or
                } else {
                    IntBinaryOp::Xor
                };
                let mut m = BoxMask::uniform(shape, ScalarExpr::binary(op, a.cond, b.cond));
                m.guards = a.guards;
                for g in b.guards {
                    push_guard(&mut m.guards, g);
                }
                Form::Mask(m)
            }
            CmpI => {
                let pred = dfg
                    .attr(op, "predicate")
                    .and_then(Attribute::as_str)
                    .and_then(IntPredicate::from_keyword)
                    .ok_or_else(|| fail("unknown predicate".into()))?;
                let (a, b) = (self.affine(operand(0)?)?, self.affine(operand(1)?)?);
                Form::Mask(BoxMask::compare(pred, &a, &b).map_err(fail)?)
            }
            AddI | SubI | MulI | ShLI | RemSI | RemUI | DivSI | DivUI | CeilDivSI | CeilDivUI
            | FloorDivSI | AndI | OrI | XOrI | ShRSI | ShRUI | MaxSI | MaxUI | MinSI | MinUI => {
                let (a, b) = (self.affine(operand(0)?)?, self.affine(operand(1)?)?);
                let r = match opcode {
                    AddI => a.add(&b),
                    SubI => a.sub(&b),
                    MulI => a.mul(&b),
                    ShLI => a.shl(&b),
                    RemSI => a.rem(&b, true),
                    RemUI => a.rem(&b, false),
                    _ => a.uniform_binary(int_op(opcode), &b),
                };
                Form::Affine(r.map_err(fail)?)
            }
            ExtSI | ExtUI | TruncI | IndexCast | IndexCastUI => {
                let a = self.affine(operand(0)?)?;
                let to = ty
                    .element()
                    .int_width()
                    .ok_or_else(|| fail("not an integer".into()))?;
                let from = a.width();
                let kind = match opcode {
                    _ if to < from => CastKind::Truncate,
                    ExtSI | IndexCast => CastKind::SignExtend,
                    _ => CastKind::ZeroExtend,
                };
                if is_mask || from == 1 {
                    return opaque(fail("casts of masks are not affine".into()));
                }
                Form::Affine(a.cast(kind, to).map_err(fail)?)
            }
            Select if self.zero_past_bound(op).is_some() => {
                let bound = self.zero_past_bound(op).expect("checked by the guard");
                let a = self.affine(operand(1)?)?;
                let bound = self.affine(bound)?;
                Form::Affine(a.zero_past(&bound).map_err(fail)?)
            }
            Select => {
                let cond = self.mask(operand(0)?)?;
                let (a, b) = (self.affine(operand(1)?)?, self.affine(operand(2)?)?);
                let full = cond.shape.is_empty()
                    || cond.begin.iter().all(ScalarExpr::is_zero)
                        && cond
                            .end
                            .iter()
                            .zip(&cond.shape)
                            .all(|(e, &n)| e.as_signed_const() == Some(n));
                if !(full && a.is_uniform() && b.is_uniform()) || a.elem_bytes != b.elem_bytes {
                    return opaque(fail(
                        "a select of index-dependent values is not affine".into(),
                    ));
                }
                let mut out = Affine::uniform(
                    shape,
                    ScalarExpr::select(cond.cond, a.offset, b.offset),
                    a.elem_bytes,
                );
                out.guards = cond.guards;
                for g in a.guards.into_iter().chain(b.guards) {
                    push_guard(&mut out.guards, g);
                }
                Form::Affine(out)
            }
            MakeTensorPtr => Form::Block(self.make_tensor_ptr(op).map_err(fail)?),
            Advance => {
                let Form::Block(mut bp) = self.form(operand(0)?) else {
                    return opaque(format!(
                        "{}: {}",
                        self.describe_op(op),
                        self.reason_of(operand(0)?)
                    ));
                };
                for (d, &delta) in operands[1..].iter().enumerate() {
                    let delta = self
                        .scalar_expr(delta)
                        .ok_or_else(|| fail("non-integer offset".into()))?;
                    let slot = bp
                        .offsets
                        .get_mut(d)
                        .ok_or_else(|| fail("too many offsets".into()))?;
                    *slot = ScalarExpr::add(slot.clone(), ScalarExpr::sext(64, delta));
                }
                Form::Block(bp)
            }
            MakeTensorDescriptor => Form::Desc(self.make_descriptor(op).map_err(fail)?),
            Bitcast if matches!(ty.element(), Type::Ptr { .. }) => {
                let pointee = ty
                    .element()
                    .pointee()
                    .map(Type::scalar_size_bytes)
                    .unwrap_or(1);
                let a = self.affine(operand(0)?)?;
                Form::Affine(a.with_elem_bytes(pointee).map_err(fail)?)
            }
            _ => return opaque(format!("{} is not affine", self.describe_op(op))),
        };
        Ok(form)
    }

    fn reason_of(&self, v: Value) -> String {
        match self.form(v) {
            Form::Opaque(r) => r,
            _ => format!("{} has an unexpected form", self.names.name(v)),
        }
    }

    fn make_tensor_ptr(&self, op: Op) -> Result<BlockPtrForm, String> {
        let dfg = &self.m.dfg;
        let ty = dfg.value_type(dfg.results(op)[0]);
        let block = ty
            .pointee()
            .filter(|p| p.is_tensor())
            .ok_or("the result is not a block pointer")?;
        let rank = block.shape().len();
        let operands = dfg.operands(op);
        if operands.len() != 1 + 3 * rank {
            return Err(format!("expected {} operands", 1 + 3 * rank));
        }
        let expr = |v: Value| {
            self.scalar_expr(v)
                .map(|e| ScalarExpr::sext(64, e))
                .ok_or("a non-integer operand")
        };
        Ok(BlockPtrForm {
            base: self
                .scalar_expr(operands[0])
                .ok_or("the base is not a scalar pointer")?,
            elem_bytes: block.scalar_size_bytes(),
            block_shape: block.shape().to_vec(),
            shape: operands[1..1 + rank]
                .iter()
                .map(|&v| expr(v))
                .collect::<Result<_, _>>()?,
            strides: operands[1 + rank..1 + 2 * rank]
                .iter()
                .map(|&v| expr(v))
                .collect::<Result<_, _>>()?,
            offsets: operands[1 + 2 * rank..]
                .iter()
                .map(|&v| expr(v))
                .collect::<Result<_, _>>()?,
        })
    }

    fn make_descriptor(&self, op: Op) -> Result<DescriptorForm, String> {
        let dfg = &self.m.dfg;
        let ty = dfg.value_type(dfg.results(op)[0]);
        let Type::TensorDesc { block } = ty else {
            return Err("the result is not a tensor descriptor".into());
        };
        let operands = dfg.operands(op);
        let rank = block.shape().len();
        if operands.len() != 1 + 2 * rank {
            return Err(format!("expected {} operands", 1 + 2 * rank));
        }
        let expr = |v: Value| {
            self.scalar_expr(v)
                .map(|e| ScalarExpr::sext(64, e))
                .ok_or("a non-integer operand")
        };
        let pad_nan = matches!(dfg.attr(op, "padding"), Some(a) if a.as_str() == Some("nan") || a.as_int() == Some(2));
        Ok(DescriptorForm {
            base: self
                .scalar_expr(operands[0])
                .ok_or("the base is not a scalar pointer")?,
            elem_bytes: block.scalar_size_bytes(),
            block_shape: block.shape().to_vec(),
            shape: operands[1..1 + rank]
                .iter()
                .map(|&v| expr(v))
                .collect::<Result<_, _>>()?,
            strides: operands[1 + rank..]
                .iter()
                .map(|&v| expr(v))
                .collect::<Result<_, _>>()?,
            pad_nan,
        })
    }
}

fn int_op(opcode: Opcode) -> IntBinaryOp {
    use Opcode::*;
    match opcode {
        AddI => IntBinaryOp::Add,
        SubI => IntBinaryOp::Sub,
        MulI => IntBinaryOp::Mul,
        DivSI => IntBinaryOp::DivS,
        DivUI => IntBinaryOp::DivU,
        CeilDivSI => IntBinaryOp::CeilDivS,
        CeilDivUI => IntBinaryOp::CeilDivU,
        FloorDivSI => IntBinaryOp::FloorDivS,
        RemSI => IntBinaryOp::RemS,
        RemUI => IntBinaryOp::RemU,
        AndI => IntBinaryOp::And,
        OrI => IntBinaryOp::Or,
        XOrI => IntBinaryOp::Xor,
        ShLI => IntBinaryOp::Shl,
        ShRSI => IntBinaryOp::ShrS,
        ShRUI => IntBinaryOp::ShrU,
        MaxSI => IntBinaryOp::MaxS,
        MaxUI => IntBinaryOp::MaxU,
        MinSI => IntBinaryOp::MinS,
        _ => IntBinaryOp::MinU,
    }
}
