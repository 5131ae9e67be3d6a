//! Loops: tensor iter_args of `scf.for` analyzed to a fixpoint, and the
//! carried registers that keep their varying scalar parts.

use maiac_ir::semantics::int::IntBinaryOp;
use maiac_ir::{Op, Type, Value};

use crate::access::affine::{Affine, Dim};
use crate::access::scalar::{Atom, ScalarExpr};
use crate::access::{BlockPtrForm, CarriedPart, CarriedSlot, CarriedValue};

use super::{Analyzer, Form};

/// How many times a loop body is re-analyzed before its tensor iter_args
/// are all given up on (each round fixes at least one of them).
const MAX_LOOP_ROUNDS: usize = 8;

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

impl Analyzer<'_> {
    pub(super) fn analyze_for(&mut self, op: Op) {
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
        for (k, r) in results.into_iter().enumerate() {
            // A carried block pointer's registers end the loop holding the
            // last yielded offsets (or the initial ones after no
            // iteration): exactly the result, which has no other form.
            if let (Candidate::Block { init }, Some(c)) =
                (&candidates[k], self.carried.get(&(op, k)))
            {
                let form = carried_block(c.arg, init);
                self.forms.insert(r, Form::Block(form));
            } else if self.m.dfg.value_type(r).is_tensor()
                || matches!(self.m.dfg.value_type(r), Type::Ptr { pointee, .. } if pointee.is_tensor())
            {
                let reason = format!("{} is the result of an scf.for", self.names.name(r));
                self.forms.insert(r, Form::Opaque(reason));
            } else {
                self.forms.remove(&r);
            }
        }
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

pub(super) fn carried_block(arg: Value, init: &BlockPtrForm) -> BlockPtrForm {
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

pub(super) fn check_block_yield(init: &BlockPtrForm, next: &Form) -> Result<(), String> {
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

pub(super) fn slot(
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
