//! Loop-invariant code motion out of `scf.for` and `scf.while` bodies.
//!
//! A [pure](super::effects::is_pure) op at the top level of a loop body whose
//! operands are all defined outside the loop computes the same value in
//! every iteration, so it moves right before the loop. Pure ops are total,
//! so executing one even when the loop runs zero times changes nothing.
//! Ops are visited in order, so a chain of invariant ops moves together;
//! inner loops are processed first, so an op hoisted out of an inner loop
//! can leave the outer one too.

use maiac_ir::{Diagnostic, Module, Op, Opcode};

use super::effects::is_pure;
use super::rewrite::{defined_inside, function_ops};
use crate::pass::{Pass, PassContext};

/// The loop-invariant code motion pass (`licm`).
#[derive(Debug, Default)]
pub struct Licm;

impl Pass<Module> for Licm {
    fn name(&self) -> &str {
        "licm"
    }

    fn run(&mut self, m: &mut Module, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let funcs: Vec<Op> = m.functions().collect();
        for func in funcs {
            // Pre-order lists outer loops first; reversed, inner loops come first.
            let loops: Vec<Op> = function_ops(m, func)
                .into_iter()
                .filter(|&op| matches!(m.dfg.opcode(op), Opcode::For | Opcode::While))
                .rev()
                .collect();
            for l in loops {
                hoist_invariants(m, l);
            }
        }
        Ok(())
    }
}

fn hoist_invariants(m: &mut Module, loop_op: Op) {
    if m.layout.op_block(loop_op).is_none() {
        return;
    }
    let blocks: Vec<_> = m.dfg.ops[loop_op]
        .regions
        .iter()
        .flat_map(|&r| m.layout.blocks(r).to_vec())
        .collect();
    for block in blocks {
        let ops: Vec<Op> = m.layout.ops(block).to_vec();
        for op in ops {
            let invariant = is_pure(m, op)
                && m.dfg
                    .operands(op)
                    .iter()
                    .all(|&v| !defined_inside(m, v, loop_op));
            if invariant {
                m.layout.remove_op(op);
                m.layout.insert_op_before(op, loop_op);
            }
        }
    }
}
