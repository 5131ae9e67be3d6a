//! What the cleanup passes may do with an op, by its effects.
//!
//! - **Pure** ([`is_pure`]): no side effects, no memory reads, no regions,
//!   a result that depends only on the operands and attributes, and total
//!   (defined for every input, so executing it where the original program
//!   would not have is harmless). CSE may merge two equal pure ops; LICM may
//!   hoist one out of a loop.
//! - **Removable when dead** ([`is_removable`]): pure ops, plus loads (a
//!   read nobody uses need not happen, as in MLIR) and `scf.if` / `scf.for`
//!   / reductions whose bodies only contain removable ops. `scf.while` is
//!   never removed (it might not terminate), nor an `scf.for` whose step is
//!   not a positive constant (the interpreter rejects a non-positive step).
//!   Stores, atomics, prints, asserts, calls and terminators never are.

use maiac_ir::{Attribute, Module, Op, Opcode};

/// Whether `op` can be merged with an equal op or moved (see the module docs).
pub fn is_pure(m: &Module, op: Op) -> bool {
    use Opcode::*;
    let data = &m.dfg.ops[op];
    let opcode = data.opcode;
    if opcode.has_side_effects() || !data.regions.is_empty() || m.dfg.results(op).is_empty() {
        return false;
    }
    match opcode {
        Load | DescriptorLoad | DescriptorGather | AtomicRmw | AtomicCas | Func | For | If
        | While => false,
        // An external function is pure only if it says so.
        ExternElementwise => matches!(
            data.attrs.get("pure"),
            Some(Attribute::Bool(true) | Attribute::Unit)
        ),
        _ => true,
    }
}

/// Whether `op` may be deleted when none of its results is used.
pub fn is_removable(m: &Module, op: Op) -> bool {
    use Opcode::*;
    let data = &m.dfg.ops[op];
    if data.opcode.has_side_effects() {
        return false;
    }
    match data.opcode {
        Load | DescriptorLoad | DescriptorGather => true,
        If | Reduce | Scan => regions_removable(m, op),
        For => positive_constant_step(m, op) && regions_removable(m, op),
        _ => is_pure(m, op),
    }
}

/// Every op nested in `op`'s regions is removable or a region terminator.
///
/// Only the ops directly in the regions' blocks are checked here: a nested
/// structured op checks its own regions through [`is_removable`]. (Walking
/// every nested op at every level made this exponential in the nesting
/// depth.)
fn regions_removable(m: &Module, op: Op) -> bool {
    m.dfg.ops[op].regions.iter().all(|&region| {
        m.layout.blocks(region).iter().all(|&block| {
            m.layout.ops(block).iter().all(|&inner| {
                let terminator = matches!(
                    m.dfg.opcode(inner),
                    Opcode::Yield | Opcode::ReduceReturn | Opcode::ScanReturn
                );
                terminator || is_removable(m, inner)
            })
        })
    })
}

fn positive_constant_step(m: &Module, op: Op) -> bool {
    let Some(&step) = m.dfg.operands(op).get(2) else {
        return false;
    };
    let Some(def) = m.dfg.defining_op(step) else {
        return false;
    };
    m.dfg.opcode(def) == Opcode::Constant
        && m.dfg
            .attr(def, "value")
            .and_then(Attribute::as_int)
            .is_some_and(|v| v > 0)
}
