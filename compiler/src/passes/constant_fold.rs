//! Constant folding with the exact scalar semantics.
//!
//! An elementwise op whose operands are all `arith.constant`s (scalars,
//! splats or small dense tensors) is evaluated with
//! [`maiac_ir::semantics::ElementwiseOp`] — the very function the
//! interpreter and the emulator's vector unit use — and replaced by a
//! constant, so folding never changes a result bit. Ops the semantics do
//! not define (the resolver refuses them) are left alone. Shape ops of
//! splat constants (`tt.splat`, `tt.broadcast`, `tt.expand_dims`,
//! `tt.reshape`, `tt.trans`) become splat constants.
//!
//! Integer identities that hold bit for bit are applied too: `x + 0`,
//! `x − 0`, `x × 1`, `x × 0`, `x / 1`, `x & −1`, `x & 0`, `x | 0`, `x ^ 0`,
//! shifts by 0, `x − x`, `x ^ x`, `x & x`, `x | x`, `min/max(x, x)` and
//! `select` with a constant or repeated choice. Float identities are not
//! (`x + 0.0` changes `−0.0`; `x × 1.0` changes NaN payloads).

use std::collections::HashMap;

use maiac_ir::semantics::int::{mask, sign_extend};
use maiac_ir::semantics::ElementwiseOp;
use maiac_ir::{Attribute, DenseElements, Diagnostic, Module, Op, Opcode, Type, Value};

use super::rewrite::{erase_op, function_ops, resolve, substitute_function, substitute_operands};
use crate::pass::{Pass, PassContext};

/// Dense constants with more elements than this are not folded elementwise
/// (a splat is always folded: it stays one value).
const MAX_FOLDED_ELEMENTS: usize = 4096;

/// The constant-folding pass (`constant-fold`).
#[derive(Debug, Default)]
pub struct ConstantFold;

impl Pass<Module> for ConstantFold {
    fn name(&self) -> &str {
        "constant-fold"
    }

    fn run(&mut self, m: &mut Module, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let funcs: Vec<Op> = m.functions().collect();
        for func in funcs {
            fold_function(m, func);
        }
        Ok(())
    }
}

/// The value of a constant: raw bits per element (upper bits zero).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ConstValue {
    Splat(u64),
    Elements(Vec<u64>),
}

impl ConstValue {
    fn get(&self, i: usize) -> u64 {
        match self {
            ConstValue::Splat(b) => *b,
            ConstValue::Elements(v) => v[i],
        }
    }

    /// The single value of a splat.
    fn splat(&self) -> Option<u64> {
        match self {
            ConstValue::Splat(b) => Some(*b),
            ConstValue::Elements(_) => None,
        }
    }
}

/// Storage width of a scalar element type, if constants of it can fold.
fn elem_width(ty: &Type) -> Option<u32> {
    match ty.element() {
        Type::Int(w) => Some(*w),
        Type::Index => Some(64),
        Type::Float(f) => Some(f.bits()),
        _ => None,
    }
}

fn attr_bits(attr: &Attribute, width: u32) -> Option<u64> {
    match attr {
        Attribute::Int { value, .. } => Some((*value as u64) & mask(width)),
        Attribute::Bool(b) => Some(u64::from(*b)),
        Attribute::Float { bits, ty } if ty.bits() == width => Some(*bits),
        _ => None,
    }
}

/// The value of `v` if it is defined by an `arith.constant`.
pub(crate) fn constant_value(m: &Module, v: Value) -> Option<ConstValue> {
    let def = m.dfg.defining_op(v)?;
    if m.dfg.opcode(def) != Opcode::Constant {
        return None;
    }
    let ty = m.dfg.value_type(v);
    let width = elem_width(ty)?;
    match m.dfg.attr(def, "value")? {
        Attribute::Dense {
            elems: DenseElements::Splat(a),
            ..
        } => attr_bits(a, width).map(ConstValue::Splat),
        Attribute::Dense {
            elems: DenseElements::Elements(items),
            ..
        } => {
            let bits: Option<Vec<u64>> = items.iter().map(|a| attr_bits(a, width)).collect();
            let bits = bits?;
            (bits.len() as u64 == ty.num_elements()).then_some(ConstValue::Elements(bits))
        }
        scalar if !ty.is_tensor() => attr_bits(scalar, width).map(ConstValue::Splat),
        _ => None,
    }
}

/// The attribute of one element value of scalar type `elem`.
fn element_attr(bits: u64, elem: &Type) -> Attribute {
    match elem {
        Type::Int(1) => Attribute::Bool(bits & 1 != 0),
        Type::Float(f) => Attribute::Float { bits, ty: *f },
        other => {
            let width = other.int_width().unwrap_or(64);
            Attribute::Int {
                value: i128::from(sign_extend(bits, width)),
                ty: other.clone(),
            }
        }
    }
}

/// The `value` attribute of a constant of type `ty`.
pub(crate) fn constant_attr(value: &ConstValue, ty: &Type) -> Attribute {
    let elem = ty.element();
    match (ty.is_tensor(), value) {
        (false, v) => element_attr(v.get(0), elem),
        (true, ConstValue::Splat(b)) => Attribute::Dense {
            ty: ty.clone(),
            elems: DenseElements::Splat(Box::new(element_attr(*b, elem))),
        },
        (true, ConstValue::Elements(v)) => Attribute::Dense {
            ty: ty.clone(),
            elems: DenseElements::Elements(v.iter().map(|&b| element_attr(b, elem)).collect()),
        },
    }
}

/// What an op folds to.
enum Folded {
    /// An existing value.
    Value(Value),
    /// A new constant of the result type.
    Constant(ConstValue),
}

fn fold_function(m: &mut Module, func: Op) {
    let mut subst: HashMap<Value, Value> = HashMap::new();
    for op in function_ops(m, func) {
        if m.layout.op_block(op).is_none() {
            continue;
        }
        substitute_operands(m, op, &subst);
        let Some(folded) = fold_op(m, op) else {
            continue;
        };
        let result = m.dfg.results(op)[0];
        let replacement = match folded {
            Folded::Value(v) => resolve(&subst, v),
            Folded::Constant(value) => materialize(m, op, result, &value),
        };
        subst.insert(result, replacement);
        erase_op(m, op);
    }
    substitute_function(m, func, &subst);
}

/// Inserts `arith.constant value` before `op`, named like `result`.
fn materialize(m: &mut Module, op: Op, result: Value, value: &ConstValue) -> Value {
    let ty = m.dfg.value_type(result).clone();
    let mut attrs = maiac_ir::AttrList::new();
    attrs.set("value", constant_attr(value, &ty));
    let loc = m.dfg.ops[op].loc;
    let constant = m.dfg.make_op(Opcode::Constant, &[], &[ty], attrs, loc);
    m.dfg.ops[constant].pos = m.dfg.ops[op].pos;
    m.layout.insert_op_before(constant, op);
    let v = m.dfg.results(constant)[0];
    m.dfg.values[v].name = m.dfg.values[result].name.clone();
    v
}

fn fold_op(m: &Module, op: Op) -> Option<Folded> {
    use Opcode::*;
    let data = &m.dfg.ops[op];
    let opcode = data.opcode;
    if !data.regions.is_empty() || opcode == Constant {
        return None;
    }
    let &[result] = m.dfg.results(op) else {
        return None;
    };
    let result_ty = m.dfg.value_type(result);
    let operands = m.dfg.operands(op);
    let consts: Vec<Option<ConstValue>> = operands.iter().map(|&v| constant_value(m, v)).collect();
    if let Some(f) = fold_identity(m, opcode, operands, &consts, result_ty) {
        return Some(f);
    }
    if consts.is_empty() || consts.iter().any(Option::is_none) {
        return None;
    }
    let consts: Vec<ConstValue> = consts.into_iter().flatten().collect();
    match opcode {
        Splat | Broadcast | ExpandDims | Reshape | Trans => {
            elem_width(result_ty)?;
            match (&consts[0], opcode) {
                (ConstValue::Splat(b), _) => Some(Folded::Constant(ConstValue::Splat(*b))),
                // Row-major data is unchanged by these two.
                (elements, ExpandDims | Reshape) => Some(Folded::Constant(elements.clone())),
                _ => None,
            }
        }
        // No pointer constants.
        AddPtr | IntToPtr | PtrToInt => None,
        _ if opcode.is_elementwise() => {
            let types: Vec<Type> = operands
                .iter()
                .map(|&v| m.dfg.value_type(v).clone())
                .collect();
            let e = ElementwiseOp::resolve(opcode, &data.attrs, &types, result_ty).ok()?;
            elem_width(result_ty)?;
            if consts.iter().all(|c| c.splat().is_some()) {
                let args: Vec<u64> = consts.iter().map(|c| c.get(0)).collect();
                return Some(Folded::Constant(ConstValue::Splat(e.eval(&args))));
            }
            let n = usize::try_from(result_ty.num_elements()).ok()?;
            let sizes_agree = consts.iter().all(|c| match c {
                ConstValue::Splat(_) => true,
                ConstValue::Elements(v) => v.len() == n,
            });
            if n > MAX_FOLDED_ELEMENTS || !sizes_agree {
                return None;
            }
            let mut args = vec![0u64; consts.len()];
            let values = (0..n)
                .map(|i| {
                    for (slot, c) in args.iter_mut().zip(&consts) {
                        *slot = c.get(i);
                    }
                    e.eval(&args)
                })
                .collect();
            Some(Folded::Constant(ConstValue::Elements(values)))
        }
        _ => None,
    }
}

/// Exact integer identities (see the module docs).
fn fold_identity(
    m: &Module,
    opcode: Opcode,
    operands: &[Value],
    consts: &[Option<ConstValue>],
    ty: &Type,
) -> Option<Folded> {
    use Opcode::*;
    let width = match ty.element() {
        Type::Int(w) => *w,
        Type::Index => 64,
        _ if opcode == Select => 0,
        _ => return None,
    };
    let splat = |i: usize| {
        consts
            .get(i)
            .and_then(|c| c.as_ref())
            .and_then(ConstValue::splat)
    };
    let same = operands.len() == 2 && operands[0] == operands[1];
    let zero = || Some(Folded::Constant(ConstValue::Splat(0)));
    let ones = mask(width);
    match opcode {
        Select => {
            if operands.len() != 3 {
                return None;
            }
            return match splat(0) {
                Some(c) => Some(Folded::Value(if c & 1 != 0 {
                    operands[1]
                } else {
                    operands[2]
                })),
                None if operands[1] == operands[2] => Some(Folded::Value(operands[1])),
                None => None,
            };
        }
        SubI | XOrI if same => return zero(),
        AndI | OrI | MaxSI | MaxUI | MinSI | MinUI if same => {
            return Some(Folded::Value(operands[0]))
        }
        _ => {}
    }
    if operands.len() != 2 || m.dfg.value_type(operands[0]) != ty {
        return None;
    }
    let commutative = matches!(opcode, AddI | MulI | AndI | OrI | XOrI);
    // (constant side, other side) orders to try.
    let orders: &[(usize, usize)] = if commutative {
        &[(1, 0), (0, 1)]
    } else {
        &[(1, 0)]
    };
    for &(c, x) in orders {
        let Some(k) = splat(c) else { continue };
        let keep = Some(Folded::Value(operands[x]));
        let constant = Some(Folded::Value(operands[c]));
        match (opcode, k) {
            (AddI | OrI | XOrI, 0) => return keep,
            (SubI | ShLI | ShRSI | ShRUI, 0) if c == 1 => return keep,
            (MulI, 1) => return keep,
            (DivSI | DivUI, 1) if c == 1 => return keep,
            (MulI | AndI, 0) => return constant,
            (AndI, k) if k == ones => return keep,
            (OrI, k) if k == ones => return constant,
            _ => {}
        }
    }
    None
}
