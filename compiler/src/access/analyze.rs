//! The analysis proper: a forward walk over a function that gives every
//! integer, mask and pointer value a form ([`Form`]) and derives each memory
//! op's [`MemAccess`] from the forms of its operands.
//!
//! Scalar SSA values are atoms (the CP computes them), except constants,
//! which are looked through. `scf.for` bodies are analyzed to a fixpoint:
//! a tensor iter_arg is first assumed to keep its initial strides with a
//! carried base; a dimension whose coefficient the yield changes becomes a
//! carried register too; an iter_arg whose yielded value is not affine (or
//! adds guards) becomes opaque, and the body is analyzed again.

use std::collections::{BTreeMap, HashMap};

use cranelift_entity::SecondaryMap;
use maiac_ir::semantics::int::{IntBinaryOp, IntPredicate};
use maiac_ir::{Attribute, DenseElements, Module, Op, Opcode, Region, Type, Value, ValueDef};

use super::affine::{push_guard, Affine, Dim};
use super::mask::BoxMask;
use super::names::ValueNames;
use super::scalar::{Atom, CastKind, ScalarExpr};
use super::{
    AccessDim, AccessKind, AccessMap, BlockPtrForm, CarriedPart, CarriedSlot, CarriedValue,
    DescriptorForm, Fill, IndirectAccess, MemAccess, StridedAccess, ValidBox, ValueForm,
};

/// How many times a loop body is re-analyzed before its tensor iter_args
/// are all given up on (each round fixes at least one of them).
const MAX_LOOP_ROUNDS: usize = 8;

/// What the analysis knows about a value.
#[derive(Clone, Debug)]
enum Form {
    Opaque(String),
    Affine(Affine),
    Mask(BoxMask),
    Block(BlockPtrForm),
    Desc(DescriptorForm),
}

/// A tensor iter_arg being tracked through a loop.
#[derive(Clone, Debug)]
enum Candidate {
    Affine {
        init: Affine,
        carried_dims: Vec<bool>,
    },
    Block {
        init: BlockPtrForm,
    },
    Off(String),
}

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

    /// A scalar as an expression: constants are looked through, anything
    /// else is an atom. Floats give their raw bits.
    fn scalar_expr(&self, v: Value) -> Option<ScalarExpr> {
        let width = scalar_width(self.m.dfg.value_type(v))?;
        if let Some(op) = self.m.dfg.defining_op(v) {
            if self.m.dfg.opcode(op) == Opcode::Constant {
                if let Some(bits) = self.m.dfg.attr(op, "value").and_then(attr_bits) {
                    return Some(ScalarExpr::constant(i128::from(bits), width));
                }
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

    // ---- loops --------------------------------------------------------------

    fn analyze_for(&mut self, op: Op) {
        let dfg = &self.m.dfg;
        let operands = dfg.operands(op).to_vec();
        let results = dfg.results(op).to_vec();
        let Some(&region) = dfg.ops[op].regions.first() else {
            return;
        };
        let Some(body) = self.m.layout.entry_block(region) else {
            return;
        };
        let args = dfg.blocks[body].args.clone();
        let inits = operands.get(3..).unwrap_or(&[]).to_vec();
        let mut candidates: Vec<Candidate> = inits
            .iter()
            .map(|&v| match self.form(v) {
                Form::Affine(a) if !a.shape.is_empty() => {
                    let rank = a.shape.len();
                    Candidate::Affine {
                        init: a,
                        carried_dims: vec![false; rank],
                    }
                }
                Form::Block(b) => Candidate::Block { init: b },
                Form::Opaque(r) => Candidate::Off(r),
                _ => Candidate::Off("a loop-carried mask".into()),
            })
            .collect();
        let yield_op = self.m.layout.terminator(body);
        let mut converged = false;
        for _round in 0..MAX_LOOP_ROUNDS {
            for (k, candidate) in candidates.iter().enumerate() {
                let Some(&arg) = args.get(k + 1) else {
                    continue;
                };
                let ty_is_scalar = !self.m.dfg.value_type(arg).is_tensor()
                    && !matches!(self.m.dfg.value_type(arg), Type::Ptr { pointee, .. } if pointee.is_tensor());
                if ty_is_scalar {
                    // Scalar iter_args are atoms.
                    self.forms.remove(&arg);
                    continue;
                }
                let form = match candidate {
                    Candidate::Affine { init, carried_dims } => {
                        Form::Affine(carried_affine(arg, init, carried_dims))
                    }
                    Candidate::Block { init } => Form::Block(carried_block(arg, init)),
                    Candidate::Off(r) => Form::Opaque(format!(
                        "{} is loop-carried and {}",
                        self.names.name(arg),
                        r.trim_start_matches("loop-carried: ")
                    )),
                };
                self.forms.insert(arg, form);
            }
            self.analyze_region(region);
            let yields: Vec<Value> = yield_op
                .map(|y| self.m.dfg.operands(y).to_vec())
                .unwrap_or_default();
            let mut changed = false;
            for (k, candidate) in candidates.iter_mut().enumerate() {
                let Some(&yielded) = yields.get(k) else {
                    if !matches!(candidate, Candidate::Off(_)) {
                        *candidate = Candidate::Off("has no yielded value".into());
                        changed = true;
                    }
                    continue;
                };
                let next = self.form(yielded);
                match candidate {
                    Candidate::Affine { init, carried_dims } => {
                        match check_affine_yield(init, carried_dims, &next) {
                            Ok(grew) => changed |= grew,
                            Err(reason) => {
                                *candidate = Candidate::Off(reason);
                                changed = true;
                            }
                        }
                    }
                    Candidate::Block { init } => {
                        if let Err(reason) = check_block_yield(init, &next) {
                            *candidate = Candidate::Off(reason);
                            changed = true;
                        }
                    }
                    Candidate::Off(_) => {}
                }
            }
            if !changed {
                converged = true;
                break;
            }
        }
        if !converged {
            for candidate in candidates.iter_mut() {
                *candidate = Candidate::Off("its form did not settle".into());
            }
            for (k, _) in candidates.iter().enumerate() {
                if let Some(&arg) = args.get(k + 1) {
                    self.forms.insert(
                        arg,
                        Form::Opaque(format!(
                            "{} is loop-carried with a varying form",
                            self.names.name(arg)
                        )),
                    );
                }
            }
            self.analyze_region(region);
        }
        // Record the carried registers.
        let yields: Vec<Value> = yield_op
            .map(|y| self.m.dfg.operands(y).to_vec())
            .unwrap_or_default();
        for (k, candidate) in candidates.iter().enumerate() {
            self.carried.remove(&(op, k));
            let (Some(&arg), Some(&yielded)) = (args.get(k + 1), yields.get(k)) else {
                continue;
            };
            let slots = match (candidate, self.form(yielded)) {
                (Candidate::Affine { init, carried_dims }, Form::Affine(next)) => {
                    let mut slots = vec![slot(
                        arg,
                        0,
                        CarriedPart::Base,
                        init.offset.clone(),
                        next.offset.clone(),
                    )];
                    for (d, &carried) in carried_dims.iter().enumerate() {
                        if carried {
                            let s = 1 + d as u32;
                            slots.push(slot(
                                arg,
                                s,
                                CarriedPart::Coefficient(d),
                                init.dims[d].coef.clone(),
                                next.dims[d].coef.clone(),
                            ));
                        }
                    }
                    slots
                }
                (Candidate::Block { init }, Form::Block(next)) => (0..init.offsets.len())
                    .map(|d| {
                        slot(
                            arg,
                            d as u32,
                            CarriedPart::BlockOffset(d),
                            init.offsets[d].clone(),
                            next.offsets[d].clone(),
                        )
                    })
                    .collect(),
                _ => continue,
            };
            self.carried.insert(
                (op, k),
                CarriedValue {
                    for_op: op,
                    index: k,
                    arg,
                    slots,
                },
            );
        }
        for r in results {
            if self.m.dfg.value_type(r).is_tensor()
                || matches!(self.m.dfg.value_type(r), Type::Ptr { pointee, .. } if pointee.is_tensor())
            {
                let reason = format!("{} is the result of an scf.for", self.names.name(r));
                self.forms.insert(r, Form::Opaque(reason));
            } else {
                self.forms.remove(&r);
            }
        }
    }

    // ---- memory ops ----------------------------------------------------------------

    fn access(&self, op: Op, kind: AccessKind) -> MemAccess {
        let dfg = &self.m.dfg;
        let operands = dfg.operands(op);
        let (elem_ty, shape) = match kind {
            AccessKind::Load
            | AccessKind::DescriptorLoad
            | AccessKind::DescriptorGather
            | AccessKind::AtomicRmw
            | AccessKind::AtomicCas => {
                let ty = dfg
                    .results(op)
                    .first()
                    .map(|&r| dfg.value_type(r).clone())
                    .unwrap_or(Type::I8);
                (ty.element().clone(), ty.shape().to_vec())
            }
            AccessKind::Store | AccessKind::DescriptorStore => {
                let ty = operands
                    .get(1)
                    .map(|&v| dfg.value_type(v).clone())
                    .unwrap_or(Type::I8);
                (ty.element().clone(), ty.shape().to_vec())
            }
            AccessKind::DescriptorScatter => {
                let ty = operands
                    .get(3)
                    .map(|&v| dfg.value_type(v).clone())
                    .unwrap_or(Type::I8);
                (ty.element().clone(), ty.shape().to_vec())
            }
        };
        let elem_bytes = elem_ty.scalar_size_bytes();
        let mask_index = match kind {
            AccessKind::Load | AccessKind::AtomicRmw => Some(1),
            AccessKind::Store => Some(2),
            _ => None,
        };
        let mask_value = mask_index.and_then(|i| match kind {
            AccessKind::AtomicRmw => operands.get(2).copied(),
            _ => operands.get(i).copied(),
        });
        let fill =
            (kind == AccessKind::Load && mask_value.is_some()).then(|| self.fill(op, &elem_ty));
        let source = operands[0];
        let indirect = |reason: String| {
            let access = IndirectAccess {
                kind,
                elem: elem_ty.clone(),
                elem_bytes,
                shape: shape.clone(),
                source,
                mask: mask_value,
                fill: fill.clone(),
                reason,
            };
            if kind.writes() {
                MemAccess::Scatter(access)
            } else {
                MemAccess::Gather(access)
            }
        };
        let strided = match kind {
            AccessKind::DescriptorGather | AccessKind::DescriptorScatter => {
                Err("row indices are a tensor".to_string())
            }
            AccessKind::DescriptorLoad | AccessKind::DescriptorStore => {
                self.descriptor_access(op, kind, &elem_ty)
            }
            _ => match self.form(source) {
                Form::Block(bp) => self.block_ptr_access(op, kind, &elem_ty, &bp),
                Form::Affine(ptr) => {
                    self.pointer_access(kind, &elem_ty, &ptr, mask_value, fill.clone())
                }
                Form::Opaque(r) => Err(r),
                _ => Err("the pointer operand has an unexpected form".into()),
            },
        };
        match strided {
            Ok(s) if s.guards.iter().any(ScalarExpr::is_false) => {
                indirect("the offsets overflow their integer type".into())
            }
            Ok(s) => MemAccess::Strided(s),
            Err(reason) => indirect(reason),
        }
    }

    /// The fill of a masked `tt.load`.
    fn fill(&self, op: Op, elem: &Type) -> Fill {
        let width = scalar_width(elem).unwrap_or(64);
        let Some(&other) = self.m.dfg.operands(op).get(2) else {
            // Without `other`, masked-off elements read as zero.
            return Fill::Value(ScalarExpr::constant(0, width));
        };
        if let Some(def) = self.m.dfg.defining_op(other) {
            match self.m.dfg.opcode(def) {
                Opcode::Constant => {
                    let bits = match self.m.dfg.attr(def, "value") {
                        Some(Attribute::Dense {
                            elems: DenseElements::Splat(v),
                            ..
                        }) => attr_bits(v),
                        Some(
                            a @ (Attribute::Int { .. }
                            | Attribute::Float { .. }
                            | Attribute::Bool(_)),
                        ) => attr_bits(a),
                        _ => None,
                    };
                    if let Some(bits) = bits {
                        return Fill::Value(ScalarExpr::constant(i128::from(bits), width));
                    }
                }
                Opcode::Splat => {
                    if let Some(e) = self
                        .m
                        .dfg
                        .operands(def)
                        .first()
                        .and_then(|&s| self.scalar_expr(s))
                    {
                        return Fill::Value(e);
                    }
                }
                _ => {}
            }
        }
        if !self.m.dfg.value_type(other).is_tensor() {
            if let Some(e) = self.scalar_expr(other) {
                return Fill::Value(e);
            }
        }
        Fill::SelectAfterLoad(other)
    }

    fn pointer_access(
        &self,
        kind: AccessKind,
        elem: &Type,
        ptr: &Affine,
        mask: Option<Value>,
        fill: Option<Fill>,
    ) -> Result<StridedAccess, String> {
        let es = ptr
            .elem_bytes
            .ok_or("the pointer operand is not a pointer")?;
        let mut guards = ptr.guards.clone();
        let valid = match mask {
            None => None,
            Some(m) => {
                let mask = self
                    .mask(m)
                    .map_err(|r| format!("the mask is not a box: {r}"))?;
                if mask.shape != ptr.shape {
                    return Err("mask and pointer shapes differ".into());
                }
                for g in &mask.guards {
                    push_guard(&mut guards, g.clone());
                }
                (!mask.is_full()).then_some(ValidBox {
                    begin: mask.begin,
                    end: mask.end,
                    cond: mask.cond,
                })
            }
        };
        let dims = ptr
            .dims
            .iter()
            .zip(&ptr.shape)
            .map(|(d, &size)| AccessDim {
                size,
                stride: d.coef.clone(),
                wrap: d.wrap.clone(),
            })
            .collect();
        let fill = if valid.is_some() { fill } else { None };
        Ok(StridedAccess {
            kind,
            elem: elem.clone(),
            elem_bytes: es,
            base: ptr.offset.clone(),
            dims,
            valid,
            fill,
            guards,
        })
    }

    /// A load or store through a block pointer: `boundaryCheck` dimensions
    /// are clipped to `[0, shape)`.
    fn block_ptr_access(
        &self,
        op: Op,
        kind: AccessKind,
        elem: &Type,
        bp: &BlockPtrForm,
    ) -> Result<StridedAccess, String> {
        if !matches!(kind, AccessKind::Load | AccessKind::Store) {
            return Err("atomics through block pointers are not strided".into());
        }
        let rank = bp.block_shape.len();
        let checked: Vec<usize> = self
            .m
            .dfg
            .attr(op, "boundaryCheck")
            .and_then(Attribute::as_int_list)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| usize::try_from(d).ok().filter(|&d| d < rank))
            .collect();
        let pad_nan = matches!(self.m.dfg.attr(op, "padding"), Some(a) if a.as_str() == Some("nan") || a.as_int() == Some(2));
        let checked_dims: Vec<bool> = (0..rank).map(|d| checked.contains(&d)).collect();
        self.box_access(
            kind,
            elem,
            bp.base.clone(),
            bp.elem_bytes,
            &bp.block_shape,
            &bp.shape,
            &bp.strides,
            &bp.offsets,
            &checked_dims,
            pad_nan,
        )
    }

    fn descriptor_access(
        &self,
        op: Op,
        kind: AccessKind,
        elem: &Type,
    ) -> Result<StridedAccess, String> {
        let operands = self.m.dfg.operands(op);
        let desc = match operands.first().map(|&d| self.form(d)) {
            Some(form) => form,
            None => return Err("missing descriptor operand".into()),
        };
        let desc = match desc {
            Form::Desc(d) => d,
            Form::Opaque(r) => return Err(r),
            _ => return Err("the descriptor operand has an unexpected form".into()),
        };
        let first_index = if kind == AccessKind::DescriptorStore {
            2
        } else {
            1
        };
        let origin: Vec<ScalarExpr> = operands
            .get(first_index..)
            .unwrap_or(&[])
            .iter()
            .map(|&v| {
                self.scalar_expr(v)
                    .map(|e| ScalarExpr::sext(64, e))
                    .ok_or("a non-integer index")
            })
            .collect::<Result<_, _>>()?;
        let rank = desc.block_shape.len();
        if origin.len() != rank {
            return Err(format!("expected {rank} indices"));
        }
        self.box_access(
            kind,
            elem,
            desc.base.clone(),
            desc.elem_bytes,
            &desc.block_shape,
            &desc.shape,
            &desc.strides,
            &origin,
            &vec![true; rank],
            desc.pad_nan,
        )
    }

    /// The strided access of a block `[origin, origin + block)` of a global
    /// tensor, clipped to `[0, shape)` along the `checked` dimensions (the
    /// coordinates are `i64` and wrap; a guard excludes that).
    #[allow(clippy::too_many_arguments)]
    fn box_access(
        &self,
        kind: AccessKind,
        elem: &Type,
        base: ScalarExpr,
        elem_bytes: u64,
        block_shape: &[i64],
        shape: &[ScalarExpr],
        strides: &[ScalarExpr],
        origin: &[ScalarExpr],
        checked: &[bool],
        pad_nan: bool,
    ) -> Result<StridedAccess, String> {
        let rank = block_shape.len();
        if shape.len() != rank || strides.len() != rank || origin.len() != rank {
            return Err("rank mismatch".into());
        }
        // address = base + es × Σ (origin_d + i_d) × stride_d  (mod 2^64)
        let mut offset = ScalarExpr::constant(0, 64);
        for d in 0..rank {
            offset = ScalarExpr::add(
                offset,
                ScalarExpr::mul(origin[d].clone(), strides[d].clone()),
            );
        }
        let base = ScalarExpr::add(
            base,
            ScalarExpr::mul(offset, ScalarExpr::constant(i128::from(elem_bytes), 64)),
        );
        let dims = (0..rank)
            .map(|d| AccessDim {
                size: block_shape[d],
                stride: strides[d].clone(),
                wrap: None,
            })
            .collect();
        let mut guards = Vec::new();
        let mut valid = ValidBox {
            begin: vec![ScalarExpr::constant(0, 64); rank],
            end: block_shape
                .iter()
                .map(|&n| ScalarExpr::constant(i128::from(n), 64))
                .collect(),
            cond: ScalarExpr::bool(true),
        };
        let mut clipped = false;
        for d in (0..rank).filter(|&d| checked[d]) {
            let n = block_shape[d];
            // origin + i must not wrap in i64 for the comparison to match.
            let limit = ScalarExpr::constant(i128::from(i64::MAX) - i128::from(n - 1), 64);
            push_guard(
                &mut guards,
                ScalarExpr::cmp(IntPredicate::Sle, origin[d].clone(), limit),
            );
            let zero = ScalarExpr::constant(0, 64);
            valid.begin[d] = ScalarExpr::clamp_diff(zero, origin[d].clone(), false, n as u64);
            valid.end[d] =
                ScalarExpr::clamp_diff(shape[d].clone(), origin[d].clone(), false, n as u64);
            clipped = true;
        }
        let is_load = matches!(kind, AccessKind::Load | AccessKind::DescriptorLoad);
        let fill = (clipped && is_load).then(|| {
            let width = scalar_width(elem).unwrap_or(64);
            let bits = match elem.float_type() {
                Some(f) if pad_nan => maiac_ir::semantics::convert::canonical_nan(f),
                _ => 0,
            };
            Fill::Value(ScalarExpr::constant(i128::from(bits), width))
        });
        let full = valid.begin.iter().all(ScalarExpr::is_zero)
            && valid
                .end
                .iter()
                .zip(block_shape)
                .all(|(e, &n)| e.as_signed_const() == Some(n));
        Ok(StridedAccess {
            kind,
            elem: elem.clone(),
            elem_bytes,
            base,
            dims,
            valid: (!full).then_some(valid),
            fill: if full { None } else { fill },
            guards,
        })
    }
}

fn access_kind(opcode: Opcode) -> Option<AccessKind> {
    Some(match opcode {
        Opcode::Load => AccessKind::Load,
        Opcode::Store => AccessKind::Store,
        Opcode::AtomicRmw => AccessKind::AtomicRmw,
        Opcode::AtomicCas => AccessKind::AtomicCas,
        Opcode::DescriptorLoad => AccessKind::DescriptorLoad,
        Opcode::DescriptorStore => AccessKind::DescriptorStore,
        Opcode::DescriptorGather => AccessKind::DescriptorGather,
        Opcode::DescriptorScatter => AccessKind::DescriptorScatter,
        _ => return None,
    })
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

/// The form of a carried affine iter_arg inside the body.
fn carried_affine(arg: Value, init: &Affine, carried_dims: &[bool]) -> Affine {
    let coef_width = if init.elem_bytes.is_some() {
        64
    } else {
        init.width()
    };
    let dims = init
        .dims
        .iter()
        .enumerate()
        .map(|(d, dim)| {
            if carried_dims[d] {
                Dim {
                    coef: ScalarExpr::atom(
                        Atom::Carried {
                            arg,
                            slot: 1 + d as u32,
                        },
                        coef_width,
                    ),
                    wrap: dim.wrap.clone(),
                }
            } else {
                dim.clone()
            }
        })
        .collect();
    Affine {
        shape: init.shape.clone(),
        offset: ScalarExpr::atom(Atom::Carried { arg, slot: 0 }, init.width()),
        dims,
        guards: init.guards.clone(),
        elem_bytes: init.elem_bytes,
    }
}

fn carried_block(arg: Value, init: &BlockPtrForm) -> BlockPtrForm {
    let mut bp = init.clone();
    for (d, o) in bp.offsets.iter_mut().enumerate() {
        *o = ScalarExpr::atom(
            Atom::Carried {
                arg,
                slot: d as u32,
            },
            64,
        );
    }
    bp
}

/// Checks the yielded form of an affine iter_arg; returns whether more
/// dimensions became carried.
fn check_affine_yield(
    init: &Affine,
    carried_dims: &mut [bool],
    next: &Form,
) -> Result<bool, String> {
    let Form::Affine(next) = next else {
        return Err(match next {
            Form::Opaque(r) => format!("its update is not affine ({r})"),
            _ => "its update has another kind".into(),
        });
    };
    if next.shape != init.shape
        || next.elem_bytes != init.elem_bytes
        || next.width() != init.width()
    {
        return Err("its update changes its type".into());
    }
    if next.guards.iter().any(|g| !init.guards.contains(g)) {
        return Err("its update is exact only under extra guards".into());
    }
    let mut grew = false;
    for (d, (a, b)) in init.dims.iter().zip(&next.dims).enumerate() {
        if a.wrap != b.wrap && !(a.coef.is_zero() && b.coef.is_zero()) {
            return Err("its update changes how a dimension wraps".into());
        }
        if !carried_dims[d] && a.coef != b.coef {
            carried_dims[d] = true;
            grew = true;
        }
    }
    Ok(grew)
}

fn check_block_yield(init: &BlockPtrForm, next: &Form) -> Result<(), String> {
    match next {
        Form::Block(b)
            if b.base == init.base
                && b.shape == init.shape
                && b.strides == init.strides
                && b.block_shape == init.block_shape =>
        {
            Ok(())
        }
        Form::Block(_) => {
            Err("its update changes the block pointer's base, shape or strides".into())
        }
        Form::Opaque(r) => Err(format!("its update is not analyzable ({r})")),
        _ => Err("its update has another kind".into()),
    }
}

fn slot(
    arg: Value,
    slot: u32,
    part: CarriedPart,
    init: ScalarExpr,
    next: ScalarExpr,
) -> CarriedSlot {
    let me = Atom::Carried { arg, slot };
    let increment = match &next {
        ScalarExpr::Binary {
            op: IntBinaryOp::Add,
            lhs,
            rhs,
            ..
        } => {
            let is_me = |e: &ScalarExpr| matches!(e, ScalarExpr::Atom { atom, .. } if *atom == me);
            if is_me(lhs) && !rhs.reads(&|a| a == me) {
                Some((**rhs).clone())
            } else if is_me(rhs) && !lhs.reads(&|a| a == me) {
                Some((**lhs).clone())
            } else {
                None
            }
        }
        ScalarExpr::Atom { atom, width } if *atom == me => Some(ScalarExpr::constant(0, *width)),
        _ => None,
    };
    CarriedSlot {
        slot,
        part,
        init,
        next,
        increment,
    }
}
