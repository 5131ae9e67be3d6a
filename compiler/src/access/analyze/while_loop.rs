//! `scf.while` loops carrying block pointers.
//!
//! A block pointer has no run-time value (the lowering keeps only its form),
//! so one carried by an `scf.while` — `while …: p = tl.advance(p, …)` —
//! gets carried registers like in an `scf.for` ([`super::loops`]): one per
//! dimension's offset, initialized before the loop and updated at the end
//! of the `after` region. Its base, shape and strides must stay those of
//! the initial value. The `before` region sees the registers; the `after`
//! region sees what `scf.condition` forwards when that is a block pointer
//! computable there (usually the `before` argument itself), and so do the
//! loop's results. Everything else keeps the generic treatment of nested
//! regions (opaque).

use maiac_ir::{Op, Type, Value};

use crate::access::scalar::Atom;
use crate::access::{BlockPtrForm, CarriedPart, CarriedValue};

use super::loops::{carried_block, check_block_yield, slot};
use super::{Analyzer, Form};

impl Analyzer<'_> {
    /// Analyzes the `scf.while` `op`; false (nothing done) when it is
    /// malformed, for the generic treatment of nested regions.
    pub(super) fn analyze_while(&mut self, op: Op) -> bool {
        let dfg = &self.m.dfg;
        let inits = dfg.operands(op).to_vec();
        let results = dfg.results(op).to_vec();
        let regions = dfg.ops[op].regions.clone();
        let blocks: Vec<_> = regions
            .iter()
            .filter_map(|&r| self.m.layout.entry_block(r))
            .collect();
        let (&[before_r, after_r], &[before, after]) = (&regions[..], &blocks[..]) else {
            return false;
        };
        let before_args = dfg.blocks[before].args.clone();
        let after_args = dfg.blocks[after].args.clone();
        let condition = self.m.layout.terminator(before);
        let yield_op = self.m.layout.terminator(after);
        let mut candidates: Vec<Option<BlockPtrForm>> = inits
            .iter()
            .map(|&v| match self.form(v) {
                Form::Block(b) => Some(b),
                _ => None,
            })
            .collect();
        // Each round either keeps every candidate or drops one.
        loop {
            for (k, &arg) in before_args.iter().enumerate() {
                let form = match candidates.get(k).cloned().flatten() {
                    Some(init) => Form::Block(carried_block(arg, &init)),
                    None => Form::Opaque(self.describe_origin(arg)),
                };
                self.forms.insert(arg, form);
            }
            self.analyze_region(before_r);
            let forwarded: Vec<Value> = condition
                .map(|c| self.m.dfg.operands(c).iter().skip(1).copied().collect())
                .unwrap_or_default();
            for (j, &arg) in after_args.iter().enumerate() {
                let form = match forwarded.get(j).map(|&v| self.form(v)) {
                    Some(Form::Block(b))
                        if self.available_after_condition(&b, op, &before_args) =>
                    {
                        Form::Block(b)
                    }
                    _ => Form::Opaque(self.describe_origin(arg)),
                };
                self.forms.insert(arg, form);
            }
            self.analyze_region(after_r);
            let yields: Vec<Value> = yield_op
                .map(|y| self.m.dfg.operands(y).to_vec())
                .unwrap_or_default();
            let mut changed = false;
            for (k, candidate) in candidates.iter_mut().enumerate() {
                let Some(init) = candidate else { continue };
                let ok = yields
                    .get(k)
                    .is_some_and(|&y| check_block_yield(init, &self.form(y)).is_ok());
                if !ok {
                    *candidate = None;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let yields: Vec<Value> = yield_op
            .map(|y| self.m.dfg.operands(y).to_vec())
            .unwrap_or_default();
        for (k, candidate) in candidates.iter().enumerate() {
            self.carried.remove(&(op, k));
            let (Some(init), Some(&arg), Some(&yielded)) =
                (candidate, before_args.get(k), yields.get(k))
            else {
                continue;
            };
            let Form::Block(next) = self.form(yielded) else {
                continue;
            };
            let slots = (0..init.offsets.len())
                .map(|d| {
                    slot(
                        arg,
                        d as u32,
                        CarriedPart::BlockOffset(d),
                        init.offsets[d].clone(),
                        next.offsets[d].clone(),
                    )
                })
                .collect();
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
        // The results are what the last `scf.condition` forwarded; a block
        // pointer among them keeps its form when that reads only the
        // carried registers (unchanged since) and values from outside.
        let forwarded: Vec<Value> = condition
            .map(|c| self.m.dfg.operands(c).iter().skip(1).copied().collect())
            .unwrap_or_default();
        for (j, r) in results.into_iter().enumerate() {
            let ty = self.m.dfg.value_type(r);
            let form = forwarded.get(j).map(|&v| self.form(v));
            if let Some(Form::Block(b)) = form {
                if self.available_after_condition(&b, op, &before_args) {
                    self.forms.insert(r, Form::Block(b));
                    continue;
                }
            }
            if ty.is_tensor() || matches!(ty, Type::Ptr { pointee, .. } if pointee.is_tensor()) {
                let reason = format!("{} is the result of an scf.while", self.names.name(r));
                self.forms.insert(r, Form::Opaque(reason));
            } else {
                self.forms.remove(&r);
            }
        }
        true
    }

    /// Whether the `after` region can use `bp`, forwarded by the
    /// `scf.condition` of `op`: it may read the loop's carried registers
    /// and values from outside the loop, not values the `before` region
    /// computes (those live in another body).
    fn available_after_condition(&self, bp: &BlockPtrForm, op: Op, before_args: &[Value]) -> bool {
        let ok = |a: Atom| match a {
            Atom::Carried { arg, .. } if before_args.contains(&arg) => true,
            _ => !self.atom_defined_inside(a, op),
        };
        std::iter::once(&bp.base)
            .chain(&bp.shape)
            .chain(&bp.strides)
            .chain(&bp.offsets)
            .all(|e| !e.reads(&|a| !ok(a)))
    }
}
