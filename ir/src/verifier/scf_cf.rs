//! Rules for structured control flow (`scf.for`, `scf.if`, `scf.while` and
//! their `scf.yield` / `scf.condition` terminators) and for `cf` branches.
//!
//! Values flow along region edges: loop-carried values through `scf.for`
//! and `scf.while`, results out of `scf.if`. Every edge must carry the same
//! types at both ends, and each terminator is checked against its parent so
//! that the error points at the value that does not fit.

use crate::attributes::Attribute;
use crate::entities::Block;
use crate::opcode::Opcode;
use crate::types::Type;

use super::op_context::{plural, Check, OpCx};
use super::shapes::{is_int_scalar, q, q_list};

/// A condition operand must be a scalar `i1`.
fn check_condition(cx: &OpCx, cond: &Type) -> Check {
    if *cond != Type::I1 {
        return cx.fail(format_args!("condition must be `i1`, but is {}", q(cond)));
    }
    Ok(())
}

/// `got` and `want` are the same list of types; `what` names the mismatch.
fn same_types(cx: &OpCx, got: &[&Type], want: &[&Type], what: impl Fn() -> String) -> Check {
    if got != want {
        return cx.fail(format_args!(
            "{}: {} vs {}",
            what(),
            q_list(got),
            q_list(want)
        ));
    }
    Ok(())
}

/// `scf.for %iv = %lb to %ub step %step iter_args(...)`: integer bounds of
/// one type, which is also the induction variable's; loop-carried values
/// keep their types from initial value to body argument to result.
pub(super) fn for_loop(cx: &OpCx) -> Check {
    let types = cx.operands_at_least(3)?;
    let (lb, ub, step) = (types[0], types[1], types[2]);
    if !is_int_scalar(lb) {
        return cx.fail(format_args!(
            "bounds must be integer scalars, but the lower bound is {}",
            q(lb)
        ));
    }
    if lb != ub || lb != step {
        return cx.fail(format_args!(
            "lower bound, upper bound and step must have the same type: {}, {} and {}",
            q(lb),
            q(ub),
            q(step)
        ));
    }
    if let Some(step_def) = cx.dfg().defining_op(cx.operands()[2]) {
        if cx.dfg().opcode(step_def) == Opcode::Constant {
            if let Some(Attribute::Int { value, .. }) = cx.dfg().attr(step_def, "value") {
                if *value <= 0 {
                    return cx.fail(format_args!(
                        "constant step must be positive, but is {value}"
                    ));
                }
            }
        }
    }
    let inits = &types[3..];
    let results = cx.result_types();
    if results.len() != inits.len() {
        return cx.fail(format_args!(
            "has {} but {}",
            plural(inits.len(), "loop-carried value"),
            plural(results.len(), "result")
        ));
    }
    same_types(cx, &results, inits, || {
        "result types must match the initial values".into()
    })?;
    let Some(body) = cx.single_block(0) else {
        return Ok(());
    };
    let args = cx.block_arg_types(body);
    if args.len() != 1 + inits.len() {
        return cx.fail(format_args!(
            "body must take the induction variable and {} ({} in all), but takes {}",
            plural(inits.len(), "loop-carried value"),
            1 + inits.len(),
            args.len()
        ));
    }
    if args[0] != lb {
        return cx.fail(format_args!(
            "induction variable has type {} but the bounds have type {}",
            q(args[0]),
            q(lb)
        ));
    }
    same_types(cx, &args[1..], inits, || {
        "body arguments must match the initial loop-carried values".into()
    })
}

/// `scf.if`: an `i1` condition; an else region whenever there are results.
pub(super) fn if_else(cx: &OpCx) -> Check {
    let [cond] = cx.operands_exact::<1>()?;
    check_condition(cx, cond)?;
    let has_else = cx
        .regions()
        .get(1)
        .is_some_and(|&r| !cx.module.layout.blocks(r).is_empty());
    if !cx.results().is_empty() && !has_else {
        return cx.fail(format_args!(
            "must have an else region because it produces {}",
            plural(cx.results().len(), "result")
        ));
    }
    for index in 0..cx.regions().len() {
        if let Some(block) = cx.single_block(index) {
            if !cx.module.dfg.blocks[block].args.is_empty() {
                return cx.fail("regions take no arguments");
            }
        }
    }
    Ok(())
}

/// `scf.while`: the before region takes the initial values and ends in
/// `scf.condition`, which forwards the results; the after region takes the
/// results and yields the next iteration's values.
pub(super) fn while_loop(cx: &OpCx) -> Check {
    let inits = cx.operand_types();
    let results = cx.result_types();
    if let Some(before) = cx.single_block(0) {
        let args = cx.block_arg_types(before);
        same_types(cx, &args, &inits, || {
            "before region arguments must match the initial values".into()
        })?;
    }
    if let Some(after) = cx.single_block(1) {
        let args = cx.block_arg_types(after);
        same_types(cx, &args, &results, || {
            "after region arguments must match the results".into()
        })?;
    }
    Ok(())
}

/// `scf.yield`: the values its parent expects from this region.
pub(super) fn yield_values(cx: &OpCx) -> Check {
    cx.results_exact::<0>()?;
    let Some((parent, index)) = cx.parent() else {
        return Ok(());
    };
    let parent_opcode = cx.dfg().opcode(parent);
    let expected = match (parent_opcode, index) {
        (Opcode::For | Opcode::If, _) => cx.module.dfg.results(parent).to_vec(),
        // The after region feeds the before region, which takes the initial values.
        (Opcode::While, 1) => cx.module.dfg.operands(parent).to_vec(),
        // Misplaced: reported by the structural checks.
        _ => return Ok(()),
    };
    let expected: Vec<&Type> = expected.iter().map(|&v| cx.ty(v)).collect();
    let yielded = cx.operand_types();
    if yielded.len() != expected.len() {
        return cx.fail(format_args!(
            "yields {} but `{}` expects {}",
            plural(yielded.len(), "value"),
            parent_opcode.name(),
            expected.len()
        ));
    }
    for (i, (got, want)) in yielded.iter().zip(&expected).enumerate() {
        if got != want {
            return cx.fail(format_args!(
                "operand #{i} has type {} but `{}` expects {}",
                q(got),
                parent_opcode.name(),
                q(want)
            ));
        }
    }
    Ok(())
}

/// `scf.condition(%cond) %args...`: an `i1` and the `scf.while` results.
pub(super) fn condition(cx: &OpCx) -> Check {
    cx.results_exact::<0>()?;
    let types = cx.operands_at_least(1)?;
    check_condition(cx, types[0])?;
    let Some((parent, 0)) = cx.parent() else {
        return Ok(());
    };
    if cx.dfg().opcode(parent) != Opcode::While {
        return Ok(());
    }
    let results: Vec<&Type> = cx
        .module
        .dfg
        .results(parent)
        .iter()
        .map(|&v| cx.ty(v))
        .collect();
    same_types(cx, &types[1..], &results, || {
        "forwarded values must match the results of `scf.while`".into()
    })
}

/// How a block is named in messages.
fn block_label(cx: &OpCx, block: Block) -> String {
    match &cx.module.dfg.blocks[block].label {
        Some(label) => format!("`^{label}`"),
        None => "its successor".to_string(),
    }
}

/// The arguments passed to a successor match its block arguments.
fn check_successor_args(cx: &OpCx, target: Block, passed: &[&Type]) -> Check {
    let takes = cx.block_arg_types(target);
    if passed != takes.as_slice() {
        return cx.fail(format_args!(
            "passes {} to {}, which takes {}",
            q_list(passed),
            block_label(cx, target),
            q_list(&takes)
        ));
    }
    Ok(())
}

/// `cf.br ^bb(args)`.
pub(super) fn br(cx: &OpCx) -> Check {
    cx.results_exact::<0>()?;
    let Some(&target) = cx.module.dfg.ops[cx.op].successors.first() else {
        return Ok(());
    };
    check_successor_args(cx, target, &cx.operand_types())
}

/// `cf.cond_br %c, ^t(args), ^f(args)` with operands `[c, t..., f...]`.
pub(super) fn cond_br(cx: &OpCx) -> Check {
    cx.results_exact::<0>()?;
    let successors = &cx.module.dfg.ops[cx.op].successors;
    let [on_true, on_false] = successors[..] else {
        return Ok(());
    };
    let true_count = cx.module.dfg.blocks[on_true].args.len();
    let false_count = cx.module.dfg.blocks[on_false].args.len();
    let sizes = cx.segments(3, |n| {
        (n == 1 + true_count + false_count).then(|| vec![1, true_count, false_count])
    })?;
    if sizes[0] != 1 {
        return cx.fail("expects exactly one condition operand");
    }
    let types = cx.operand_types();
    check_condition(cx, types[0])?;
    check_successor_args(cx, on_true, &types[1..1 + sizes[1]])?;
    check_successor_args(cx, on_false, &types[1 + sizes[1]..])
}

#[cfg(test)]
mod tests {
    use crate::opcode::Opcode;
    use crate::types::Type;
    use crate::verifier::test_builder::{i32_attr, Builder};

    fn t(shape: &[i64], elem: Type) -> Type {
        Type::tensor(shape.to_vec(), elem)
    }

    #[test]
    fn for_loop_carries_types() {
        let acc = || t(&[128], Type::F32);
        let mut b = Builder::kernel(&[Type::I32, acc(), t(&[64], Type::F32), Type::I64]);
        let (n, init, short, wide) = (b.arg(0), b.arg(1), b.arg(2), b.arg(3));
        let good = b.add(Opcode::For, &[n, n, n, init], &[acc()], &[]);
        let body = b.region(good, &[Type::I32, acc()]);
        b.within(body, |b| {
            let a = b.block_arg(body, 1);
            b.op(Opcode::Yield, &[a], &[]);
        });
        let bad = b.add(Opcode::For, &[n, n, n, init], &[acc()], &[]);
        let body = b.region(bad, &[Type::I32, acc()]);
        b.within(body, |b| {
            b.op(Opcode::Yield, &[short], &[]);
        });
        let mixed = b.add(Opcode::For, &[n, wide, n], &[], &[]);
        let body = b.region(mixed, &[Type::I32]);
        b.within(body, |b| {
            b.op(Opcode::Yield, &[], &[]);
        });
        let zero = b.op_attrs(
            Opcode::Constant,
            &[],
            &[Type::I32],
            &[("value", i32_attr(0))],
        );
        let stuck = b.add(Opcode::For, &[n, n, zero], &[], &[]);
        let body = b.region(stuck, &[Type::I32]);
        b.within(body, |b| {
            b.op(Opcode::Yield, &[], &[]);
        });
        b.ret();
        b.assert_errors(&[
            "`scf.yield` operand #0 has type `tensor<64xf32>` but `scf.for` expects `tensor<128xf32>`",
            "`scf.for` lower bound, upper bound and step must have the same type: `i32`, `i64` and `i32`",
            "`scf.for` constant step must be positive, but is 0",
        ]);
    }

    #[test]
    fn if_needs_else_for_results() {
        let mut b = Builder::kernel(&[Type::I1, Type::F32, Type::I32]);
        let (c, f, i) = (b.arg(0), b.arg(1), b.arg(2));
        let op = b.add(Opcode::If, &[c], &[Type::F32], &[]);
        let then = b.region(op, &[]);
        b.within(then, |b| {
            b.op(Opcode::Yield, &[f], &[]);
        });
        let op = b.add(Opcode::If, &[i], &[], &[]);
        let then = b.region(op, &[]);
        b.within(then, |b| {
            b.op(Opcode::Yield, &[], &[]);
        });
        b.ret();
        b.assert_errors(&[
            "`scf.if` must have an else region because it produces 1 result",
            "`scf.if` condition must be `i1`, but is `i32`",
        ]);
    }

    #[test]
    fn while_and_condition() {
        let mut b = Builder::kernel(&[Type::I32, Type::I1]);
        let (x, c) = (b.arg(0), b.arg(1));
        let op = b.add(Opcode::While, &[x], &[Type::I32], &[]);
        let before = b.region(op, &[Type::I32]);
        let after = b.region(op, &[Type::I32]);
        b.within(before, |b| {
            let v = b.block_arg(before, 0);
            b.op(Opcode::Condition, &[c, v, v], &[]);
        });
        b.within(after, |b| {
            let v = b.block_arg(after, 0);
            b.op(Opcode::Yield, &[v], &[]);
        });
        b.ret();
        b.assert_error(
            "`scf.condition` forwarded values must match the results of `scf.while`: `(i32, i32)` vs `(i32)`",
        );
    }

    #[test]
    fn branch_arguments_match_successors() {
        let mut b = Builder::kernel(&[Type::I1, Type::I32, Type::F32]);
        let (c, f) = (b.arg(0), b.arg(2));
        let region = b.m.dfg.ops[b.func].regions[0];
        let block = |b: &mut Builder, args: &[Type]| {
            let blk = b.m.dfg.make_block(Some(region), args);
            b.m.layout.append_block(region, blk);
            blk
        };
        let takes_int = block(&mut b, &[Type::I32]);
        let takes_nothing = block(&mut b, &[]);
        b.m.dfg.blocks[takes_int].label = Some("bb1".into());
        let cond_br = b.add(Opcode::CondBr, &[c, f], &[], &[]);
        b.m.dfg.ops[cond_br].successors = vec![takes_int, takes_nothing];
        b.within(takes_int, |b| {
            b.ret();
        });
        b.within(takes_nothing, |b| {
            let br = b.add(Opcode::Br, &[f], &[], &[]);
            b.m.dfg.ops[br].successors = vec![takes_int];
        });
        b.assert_errors(&[
            "`cf.cond_br` passes `(f32)` to `^bb1`, which takes `(i32)`",
            "`cf.br` passes `(f32)` to `^bb1`, which takes `(i32)`",
        ]);
    }
}
