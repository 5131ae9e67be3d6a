//! `scf.if` results that are block pointers or tensor descriptors.
//!
//! Neither has a run-time value of its own (the lowering keeps only what
//! the analysis says about it), so one yielded by an `scf.if` —
//! `if c: p = tl.advance(p, …)`, typically inside a loop, or a choice
//! between two tensors — must still have a form. When both branches yield
//! values whose forms are known, the result's base, shape, strides and
//! (block pointer) offsets are each `cond ? then_part : else_part`
//! (usually only the offsets differ; the block shape, element type and
//! padding must agree). These must be computable after the `scf.if`: a
//! value a branch computes (typically `tl.advance(p, (0, k + BLOCK))`'s
//! offset) is replaced by the integer arithmetic that defines it, down to
//! values from outside the `scf.if`.

use maiac_ir::semantics::int::IntPredicate;
use maiac_ir::{Attribute, Op, Opcode, Value, ValueDef};

use crate::access::scalar::{Atom, CastKind, ScalarExpr};
use crate::access::{BlockPtrForm, DescriptorForm};

use super::{int_op, scalar_width, Analyzer, Form};

/// How many definitions inside one `scf.if` a block pointer's (or
/// descriptor's) expressions may be rebuilt from (offset arithmetic is a handful of ops; the bound
/// keeps pathological kernels from growing huge expressions).
const HOIST_BUDGET: u32 = 64;

impl Analyzer<'_> {
    /// The form of result `index` of the `scf.if` `op`, a block pointer or
    /// a tensor descriptor.
    pub(super) fn if_result_form(&self, op: Op, index: usize) -> Result<Form, String> {
        let dfg = &self.m.dfg;
        let what = || format!("{} (result #{index})", self.describe_op(op));
        let yielded: Vec<Value> = dfg.ops[op]
            .regions
            .iter()
            .filter_map(|&r| {
                let block = self.m.layout.entry_block(r)?;
                let term = self.m.layout.terminator(block)?;
                dfg.operands(term).get(index).copied()
            })
            .collect();
        let [then_v, else_v] = yielded[..] else {
            return Err(format!(
                "{}: an scf.if without two yielding branches",
                what()
            ));
        };
        let (then_f, else_f) = (self.form(then_v), self.form(else_v));
        let (Some(then_parts), Some(else_parts)) = (parts(&then_f), parts(&else_f)) else {
            return Err(match (then_f, else_f) {
                (Form::Opaque(r), _) | (_, Form::Opaque(r)) => r,
                _ => format!("{}: a branch yields another kind of value", what()),
            });
        };
        // Same kind and same static fields: the then-form with the
        // else-parts is the else-form.
        let same = match (with_parts(&then_f, else_parts.clone()), &else_f) {
            (Some(Form::Block(a)), Form::Block(b)) => a == *b,
            (Some(Form::Desc(a)), Form::Desc(b)) => a == *b,
            _ => false,
        };
        if !same {
            return Err(format!("{}: its branches yield different types", what()));
        }
        let hoist_all = |parts: &[ScalarExpr]| -> Option<Vec<ScalarExpr>> {
            let mut budget = HOIST_BUDGET;
            parts
                .iter()
                .map(|e| self.hoist(e, op, &mut budget))
                .collect()
        };
        let (Some(then_parts), Some(else_parts)) = (hoist_all(&then_parts), hoist_all(&else_parts))
        else {
            return Err(format!(
                "{}: a branch computes it from values defined inside the scf.if \
                 by more than integer arithmetic",
                what()
            ));
        };
        let cond = dfg
            .operands(op)
            .first()
            .and_then(|&c| self.scalar_expr(c))
            .ok_or_else(|| format!("{}: its condition is not a scalar", what()))?;
        let picked = then_parts
            .into_iter()
            .zip(else_parts)
            .map(|(t, e)| ScalarExpr::select(cond.clone(), t, e))
            .collect();
        Ok(with_parts(&then_f, picked).expect("the same kind of form"))
    }

    /// `e` with every value defined inside `op` replaced by the integer
    /// arithmetic that computed it, so that it can be evaluated after `op`
    /// (evaluating a branch's arithmetic when the other branch ran is
    /// harmless: every integer op is total). `None` when a value comes from
    /// anything else (a load, a loop, a float op) or the expression grows
    /// past `budget` definitions.
    fn hoist(&self, e: &ScalarExpr, op: Op, budget: &mut u32) -> Option<ScalarExpr> {
        Some(match e {
            ScalarExpr::Const { .. } => e.clone(),
            ScalarExpr::Atom { atom, .. } => {
                if !self.atom_defined_inside(*atom, op) {
                    return Some(e.clone());
                }
                let Atom::Value(v) = *atom else {
                    return None;
                };
                self.defining_expr(v, op, budget)?
            }
            ScalarExpr::Binary {
                op: bop, lhs, rhs, ..
            } => ScalarExpr::binary(
                *bop,
                self.hoist(lhs, op, budget)?,
                self.hoist(rhs, op, budget)?,
            ),
            ScalarExpr::Cmp { pred, lhs, rhs } => ScalarExpr::cmp(
                *pred,
                self.hoist(lhs, op, budget)?,
                self.hoist(rhs, op, budget)?,
            ),
            ScalarExpr::Cast { kind, to, arg } => {
                ScalarExpr::cast(*kind, *to, self.hoist(arg, op, budget)?)
            }
            ScalarExpr::Select {
                cond,
                if_true,
                if_false,
            } => ScalarExpr::select(
                self.hoist(cond, op, budget)?,
                self.hoist(if_true, op, budget)?,
                self.hoist(if_false, op, budget)?,
            ),
            ScalarExpr::ClampDiff {
                bound,
                start,
                plus_one,
                max,
            } => ScalarExpr::clamp_diff(
                self.hoist(bound, op, budget)?,
                self.hoist(start, op, budget)?,
                *plus_one,
                *max,
            ),
        })
    }

    /// The scalar `v` (defined inside `op`) as the integer op that
    /// defines it, its operands hoisted in turn.
    fn defining_expr(&self, v: Value, op: Op, budget: &mut u32) -> Option<ScalarExpr> {
        use Opcode::*;
        *budget = budget.checked_sub(1)?;
        let dfg = &self.m.dfg;
        let def = dfg.defining_op(v)?;
        let width = scalar_width(dfg.value_type(v))?;
        let operands = dfg.operands(def).to_vec();
        let mut arg = |i: usize| -> Option<ScalarExpr> {
            let e = self.scalar_expr(*operands.get(i)?)?;
            self.hoist(&e, op, budget)
        };
        let opcode = dfg.opcode(def);
        Some(match opcode {
            AddI | SubI | MulI | ShLI | RemSI | RemUI | DivSI | DivUI | CeilDivSI | CeilDivUI
            | FloorDivSI | AndI | OrI | XOrI | ShRSI | ShRUI | MaxSI | MaxUI | MinSI | MinUI => {
                let (a, b) = (arg(0)?, arg(1)?);
                ScalarExpr::binary(int_op(opcode), a, b)
            }
            CmpI => {
                let pred = dfg
                    .attr(def, "predicate")
                    .and_then(Attribute::as_str)
                    .and_then(IntPredicate::from_keyword)?;
                let (a, b) = (arg(0)?, arg(1)?);
                ScalarExpr::cmp(pred, a, b)
            }
            ExtSI => ScalarExpr::cast(CastKind::SignExtend, width, arg(0)?),
            ExtUI => ScalarExpr::cast(CastKind::ZeroExtend, width, arg(0)?),
            TruncI => ScalarExpr::cast(CastKind::Truncate, width, arg(0)?),
            Select if !dfg.value_type(v).is_tensor() => {
                let (c, t, f) = (arg(0)?, arg(1)?, arg(2)?);
                ScalarExpr::select(c, t, f)
            }
            _ => return None,
        })
    }

    /// Whether `atom` is a value defined (or a loop register carried) in a
    /// region nested in `op`.
    pub(super) fn atom_defined_inside(&self, atom: Atom, op: Op) -> bool {
        let v = match atom {
            Atom::Value(v) => v,
            Atom::Carried { arg, .. } => arg,
        };
        let dfg = &self.m.dfg;
        let mut block = match dfg.values[v].def {
            ValueDef::Result(def, _) => self.m.layout.op_block(def),
            ValueDef::BlockArg(b, _) => Some(b),
        };
        while let Some(b) = block {
            let Some(parent) = dfg.blocks[b].region.and_then(|r| dfg.regions[r].parent) else {
                return false;
            };
            if parent == op {
                return true;
            }
            block = self.m.layout.op_block(parent);
        }
        false
    }
}

/// The run-time parts of a block pointer (base, shape, strides, offsets) or
/// a descriptor (base, shape, strides), in that order.
fn parts(form: &Form) -> Option<Vec<ScalarExpr>> {
    let (base, lists): (&ScalarExpr, [&[ScalarExpr]; 3]) = match form {
        Form::Block(b) => (&b.base, [&b.shape, &b.strides, &b.offsets]),
        Form::Desc(d) => (&d.base, [&d.shape, &d.strides, &[]]),
        _ => return None,
    };
    Some(
        std::iter::once(base)
            .chain(lists.into_iter().flatten())
            .cloned()
            .collect(),
    )
}

/// `form` with its run-time parts replaced by `parts` (as [`parts`] orders
/// them); `None` when their number does not fit.
fn with_parts(form: &Form, parts: Vec<ScalarExpr>) -> Option<Form> {
    let rank = match form {
        Form::Block(b) => b.shape.len(),
        Form::Desc(d) => d.shape.len(),
        _ => return None,
    };
    let mut it = parts.into_iter();
    let base = it.next()?;
    let mut take = |n: usize| -> Option<Vec<ScalarExpr>> {
        let v: Vec<_> = it.by_ref().take(n).collect();
        (v.len() == n).then_some(v)
    };
    let shape = take(rank)?;
    let strides = take(rank)?;
    let form = match form {
        Form::Block(b) => Form::Block(BlockPtrForm {
            base,
            shape,
            strides,
            offsets: take(b.offsets.len())?,
            ..b.clone()
        }),
        Form::Desc(d) => Form::Desc(DescriptorForm {
            base,
            shape,
            strides,
            ..d.clone()
        }),
        _ => return None,
    };
    it.next().is_none().then_some(form)
}
