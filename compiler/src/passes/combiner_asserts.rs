//! `lift-combiner-asserts`: moves `tt.assert`s out of `tt.reduce` /
//! `tt.scan` combiner regions, so the combiner is elementwise code the
//! vector unit can fold.
//!
//! Triton's overflow sanitizer (`debug=True`, `TRITON_DEBUG=1`) puts a
//! `tt.assert` in every integer combiner (`tl.sum`, `tl.cumsum` of ints):
//! each combine step checks its own addition. The vector unit runs a
//! combiner as a lane micro-program with no way to trap, so each assert's
//! condition becomes one more operand of the fold instead: an `i1` flag
//! that starts `true` for every element and is combined as
//! `flag_acc ∧ flag_new ∧ cond(acc, new)`. The flag result is therefore the
//! conjunction of the condition over exactly the combine steps that fed it
//! (the fold order is the interpreter's, so they are the same steps), and a
//! `tt.assert` on it right after the fold fails exactly when one of the
//! original asserts would have. The fold itself has no side effects, so
//! trapping just after it instead of in the middle of it changes nothing
//! observable. The lifted assert keeps the original's message, location
//! and Python line.

use std::collections::HashMap;

use maiac_ir::{
    AttrList, Attribute, Block, DenseElements, Diagnostic, Module, Op, Opcode, Type, Value,
    ValueDef,
};

use super::rewrite::{erase_op, function_ops, substitute_function};
use crate::pass::{Pass, PassContext};

/// The pass (see the module docs).
pub struct LiftCombinerAsserts;

impl Pass<Module> for LiftCombinerAsserts {
    fn name(&self) -> &str {
        "lift-combiner-asserts"
    }

    fn run(&mut self, m: &mut Module, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let funcs: Vec<Op> = m.functions().collect();
        for func in funcs {
            let folds: Vec<Op> = function_ops(m, func)
                .into_iter()
                .filter(|&op| matches!(m.dfg.opcode(op), Opcode::Reduce | Opcode::Scan))
                .collect();
            for op in folds {
                if let Some(block) = combiner_with_asserts(m, op) {
                    lift(m, func, op, block);
                }
            }
        }
        Ok(())
    }
}

/// The combiner block of `op` when it is one block holding scalar
/// `tt.assert`s (anything else is left for the lowering to accept or
/// refuse).
fn combiner_with_asserts(m: &Module, op: Op) -> Option<Block> {
    let &region = m.dfg.ops[op].regions.first()?;
    let [block] = m.layout.blocks(region) else {
        return None;
    };
    let n = m.dfg.operands(op).len();
    if n == 0 || m.dfg.blocks[*block].args.len() != 2 * n || m.dfg.results(op).len() != n {
        return None;
    }
    let term = m.layout.terminator(*block)?;
    if !matches!(
        m.dfg.opcode(term),
        Opcode::ReduceReturn | Opcode::ScanReturn
    ) {
        return None;
    }
    let asserts = m
        .layout
        .ops(*block)
        .iter()
        .filter(|&&o| m.dfg.opcode(o) == Opcode::Assert)
        .count();
    let scalar_i1 = m.layout.ops(*block).iter().all(|&o| {
        m.dfg.opcode(o) != Opcode::Assert
            || matches!(m.dfg.operands(o), [c] if *m.dfg.value_type(*c) == Type::I1)
    });
    (asserts > 0 && scalar_i1).then_some(*block)
}

/// Rewrites `op` (a fold whose combiner `block` holds asserts) into a fold
/// with one flag operand per assert, followed by the lifted asserts.
fn lift(m: &mut Module, func: Op, op: Op, block: Block) {
    let n = m.dfg.operands(op).len();
    let asserts: Vec<Op> = m
        .layout
        .ops(block)
        .iter()
        .copied()
        .filter(|&o| m.dfg.opcode(o) == Opcode::Assert)
        .collect();
    let k = asserts.len();
    let (loc, pos) = (m.dfg.ops[op].loc, m.dfg.ops[op].pos);

    // The all-true flag input, of the operands' shape.
    let shape = m.dfg.value_type(m.dfg.operands(op)[0]).shape().to_vec();
    let flag_in_ty = Type::tensor(shape, Type::I1);
    let mut attrs = AttrList::new();
    attrs.set(
        "value",
        Attribute::Dense {
            ty: flag_in_ty.clone(),
            elems: DenseElements::Splat(Box::new(Attribute::Bool(true))),
        },
    );
    let all_true = m
        .dfg
        .make_op(Opcode::Constant, &[], &[flag_in_ty], attrs, loc);
    m.dfg.ops[all_true].pos = pos;
    m.layout.insert_op_before(all_true, op);
    let all_true = m.dfg.results(all_true)[0];

    // The new fold: the old operands and result types, then the flags (a
    // flag result has the shape of the fold's first result).
    let mut operands = m.dfg.operands(op).to_vec();
    operands.extend(std::iter::repeat_n(all_true, k));
    let mut types: Vec<Type> = m
        .dfg
        .results(op)
        .iter()
        .map(|&r| m.dfg.value_type(r).clone())
        .collect();
    let flag_ty = types[0].with_element(Type::I1);
    types.extend(std::iter::repeat_n(flag_ty, k));
    let attrs = m.dfg.ops[op].attrs.clone();
    let fold = m
        .dfg
        .make_op(m.dfg.opcode(op), &operands, &types, attrs, loc);
    m.dfg.ops[fold].pos = pos;
    m.layout.insert_op_before(fold, op);
    let regions = std::mem::take(&mut m.dfg.ops[op].regions);
    for &r in &regions {
        m.dfg.regions[r].parent = Some(fold);
    }
    m.dfg.ops[fold].regions = regions;

    // Block arguments: [acc.., acc flags.., new.., new flags..].
    let old_args = m.dfg.blocks[block].args.clone();
    let mut new_args = Vec::with_capacity(2 * (n + k));
    let mut acc_flags = Vec::with_capacity(k);
    let mut new_flags = Vec::with_capacity(k);
    new_args.extend_from_slice(&old_args[..n]);
    for _ in 0..k {
        acc_flags.push(flag_arg(m, block));
    }
    new_args.extend_from_slice(&acc_flags);
    new_args.extend_from_slice(&old_args[n..]);
    for _ in 0..k {
        new_flags.push(flag_arg(m, block));
    }
    new_args.extend_from_slice(&new_flags);
    for (i, &v) in new_args.iter().enumerate() {
        m.dfg.values[v].def = ValueDef::BlockArg(block, i as u32);
    }
    m.dfg.blocks[block].args = new_args;

    // Each assert's condition joins its flag; the assert itself goes.
    let term = m
        .layout
        .terminator(block)
        .expect("checked by combiner_with_asserts");
    let mut returned = m.dfg.operands(term).to_vec();
    for (j, &a) in asserts.iter().enumerate() {
        let cond = m.dfg.operands(a)[0];
        let (aloc, apos) = (m.dfg.ops[a].loc, m.dfg.ops[a].pos);
        let both = m.dfg.make_op(
            Opcode::AndI,
            &[acc_flags[j], new_flags[j]],
            &[Type::I1],
            AttrList::new(),
            aloc,
        );
        m.dfg.ops[both].pos = apos;
        m.layout.insert_op_before(both, term);
        let both = m.dfg.results(both)[0];
        let ok = m.dfg.make_op(
            Opcode::AndI,
            &[both, cond],
            &[Type::I1],
            AttrList::new(),
            aloc,
        );
        m.dfg.ops[ok].pos = apos;
        m.layout.insert_op_before(ok, term);
        returned.push(m.dfg.results(ok)[0]);
        erase_op(m, a);
    }
    m.dfg.set_operands(term, &returned);

    // The lifted asserts, right after the fold (before the next op: a fold
    // is never a block's terminator).
    let next = m.layout.op_block(op).and_then(|b| {
        let ops = m.layout.ops(b);
        ops.iter()
            .position(|&o| o == op)
            .and_then(|i| ops.get(i + 1).copied())
    });
    let flags: Vec<Value> = m.dfg.results(fold)[n..].to_vec();
    for (&a, &flag) in asserts.iter().zip(&flags) {
        let data = m.dfg.ops[a].clone();
        let lifted = m
            .dfg
            .make_op(Opcode::Assert, &[flag], &[], data.attrs, data.loc);
        m.dfg.ops[lifted].pos = data.pos;
        match next {
            Some(next) => m.layout.insert_op_before(lifted, next),
            None => {
                if let Some(b) = m.layout.op_block(op) {
                    m.layout.append_op(b, lifted);
                }
            }
        }
    }

    let subst: HashMap<Value, Value> = m
        .dfg
        .results(op)
        .iter()
        .copied()
        .zip(m.dfg.results(fold)[..n].iter().copied())
        .collect();
    substitute_function(m, func, &subst);
    erase_op(m, op);
}

/// A new `i1` argument of `block` (its index is fixed by the caller).
fn flag_arg(m: &mut Module, block: Block) -> Value {
    let v = m.dfg.append_block_arg(block, Type::I1);
    // append_block_arg also listed it; the caller rebuilds the list.
    m.dfg.blocks[block].args.pop();
    v
}
