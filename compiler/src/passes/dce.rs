//! Dead-code elimination.
//!
//! An op none of whose results is used, and which is
//! [removable](super::effects::is_removable), is erased; the ops defining its
//! operands may become dead in turn (a worklist handles the chain). Ops with
//! side effects — stores, atomics, prints, asserts, calls, terminators — and
//! `scf.while` loops are never removed.

use std::collections::HashSet;

use maiac_ir::{Diagnostic, Module, Op};

use super::effects::is_removable;
use super::rewrite::{erase_op, function_ops, use_counts};
use crate::pass::{Pass, PassContext};

/// The dead-code elimination pass (`dce`).
#[derive(Debug, Default)]
pub struct Dce;

impl Pass<Module> for Dce {
    fn name(&self) -> &str {
        "dce"
    }

    fn run(&mut self, m: &mut Module, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let funcs: Vec<Op> = m.functions().collect();
        for func in funcs {
            eliminate(m, func);
        }
        Ok(())
    }
}

fn eliminate(m: &mut Module, func: Op) {
    let mut uses = use_counts(m, func);
    // Ops already gone, nested ones included (they stay laid out inside
    // their unreachable region and must not lose their operands' uses twice).
    let mut removed: HashSet<Op> = HashSet::new();
    // Later ops first, so a chain dies in one sweep; the worklist catches
    // the rest.
    let mut worklist: Vec<Op> = function_ops(m, func);
    while let Some(op) = worklist.pop() {
        if removed.contains(&op) || m.layout.op_block(op).is_none() {
            continue;
        }
        let dead = m.dfg.results(op).iter().all(|&r| uses[r] == 0);
        if !dead || !is_removable(m, op) {
            continue;
        }
        // The op's operands, and those of everything nested in it, lose a use.
        let mut nested = vec![op];
        for &region in &m.dfg.ops[op].regions {
            m.walk_region(region, &mut |inner| nested.push(inner));
        }
        for &gone in &nested {
            for &v in m.dfg.operands(gone) {
                uses[v] = uses[v].saturating_sub(1);
                if uses[v] == 0 {
                    if let Some(def) = m.dfg.defining_op(v) {
                        worklist.push(def);
                    }
                }
            }
        }
        removed.extend(nested);
        erase_op(m, op);
    }
}
