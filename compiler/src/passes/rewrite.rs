//! IR surgery shared by the cleanup passes: use counts, replacing uses,
//! erasing ops and asking where a value is defined.

use std::collections::HashMap;

use cranelift_entity::SecondaryMap;
use maiac_ir::{Module, Op, Value, ValueDef};

/// The ops of `func`'s body in pre-order.
pub fn function_ops(m: &Module, func: Op) -> Vec<Op> {
    let mut ops = Vec::new();
    for &region in &m.dfg.ops[func].regions {
        m.walk_region(region, &mut |op| ops.push(op));
    }
    ops
}

/// How many operand slots of the function's ops read each value.
pub fn use_counts(m: &Module, func: Op) -> SecondaryMap<Value, u32> {
    let mut counts = SecondaryMap::new();
    for op in function_ops(m, func) {
        for &v in m.dfg.operands(op) {
            counts[v] += 1;
        }
    }
    counts
}

/// Follows a substitution to its end (`a → b → c` gives `c`).
pub fn resolve(subst: &HashMap<Value, Value>, mut v: Value) -> Value {
    // Chains are acyclic (each maps a removed value to an older one); the
    // bound only guards against a bug looping forever.
    for _ in 0..=subst.len() {
        match subst.get(&v) {
            Some(&next) => v = next,
            None => break,
        }
    }
    v
}

/// Rewrites the operands of `op` through `subst`.
pub fn substitute_operands(m: &mut Module, op: Op, subst: &HashMap<Value, Value>) {
    if subst.is_empty() {
        return;
    }
    let operands = m.dfg.operands(op);
    if operands.iter().any(|v| subst.contains_key(v)) {
        let new: Vec<Value> = operands.iter().map(|&v| resolve(subst, v)).collect();
        m.dfg.set_operands(op, &new);
    }
}

/// Rewrites every operand of the function through `subst`.
pub fn substitute_function(m: &mut Module, func: Op, subst: &HashMap<Value, Value>) {
    if subst.is_empty() {
        return;
    }
    for op in function_ops(m, func) {
        substitute_operands(m, op, subst);
    }
}

/// Removes `op` (and with it everything nested in it) from the program.
pub fn erase_op(m: &mut Module, op: Op) {
    m.layout.remove_op(op);
}

/// Whether `v` is defined inside one of `ancestor`'s regions (at any depth).
pub fn defined_inside(m: &Module, v: Value, ancestor: Op) -> bool {
    let mut block = match m.dfg.values[v].def {
        ValueDef::Result(op, _) => {
            if op == ancestor {
                return false;
            }
            m.layout.op_block(op)
        }
        ValueDef::BlockArg(b, _) => Some(b),
    };
    // Walk up block → region → parent op → its block.
    for _ in 0..=m.dfg.ops.len() {
        let Some(b) = block else { return false };
        let Some(parent) = m.dfg.blocks[b].region.and_then(|r| m.dfg.regions[r].parent) else {
            return false;
        };
        if parent == ancestor {
            return true;
        }
        block = m.layout.op_block(parent);
    }
    false
}
