//! Structural rules: what may sit at module level, symbol uniqueness, how
//! many regions and blocks each op has, terminators (present, last, and the
//! right kind for their parent), and branch targets.

use std::collections::HashMap;

use crate::entities::Op;
use crate::module::Module;
use crate::opcode::Opcode;

use super::op_context::{plural, quoted_list};
use super::Report;

/// Checks the module's structure, reporting into `report`.
pub(super) fn check(module: &Module, report: &mut Report) {
    let mut symbols: HashMap<&str, Op> = HashMap::new();
    for &op in module.layout.ops(module.body) {
        let opcode = module.dfg.opcode(op);
        if opcode != Opcode::Func {
            report.error(
                op,
                format!(
                    "`{}` cannot appear at module level; a TTIR module holds only `tt.func` ops",
                    opcode.name()
                ),
            );
            continue;
        }
        let name = module.func_name(op);
        if !name.is_empty() && symbols.insert(name, op).is_some() {
            report.error(op, format!("redefinition of symbol `@{name}`"));
        }
    }
    module.walk(&mut |op| check_op(module, op, report));
}

/// How many regions an op kind has (inclusive bounds).
fn region_count(opcode: Opcode) -> (usize, usize) {
    match opcode {
        // A declaration has no body.
        Opcode::Func => (0, 1),
        Opcode::For | Opcode::Reduce | Opcode::Scan | Opcode::MapElementwise => (1, 1),
        // The else region may be left out entirely when it is empty.
        Opcode::If => (1, 2),
        Opcode::While => (2, 2),
        _ => (0, 0),
    }
}

/// How a region of an op is called in messages.
fn region_name(opcode: Opcode, index: usize) -> &'static str {
    match (opcode, index) {
        (Opcode::If, 0) => "then region",
        (Opcode::If, _) => "else region",
        (Opcode::While, 0) => "before region",
        (Opcode::While, _) => "after region",
        (Opcode::Reduce | Opcode::Scan, _) => "combiner region",
        (Opcode::MapElementwise, _) => "scalar region",
        _ => "body",
    }
}

/// The terminators that may end a block of region `index` of `parent`.
pub(super) fn allowed_terminators(parent: Opcode, index: usize) -> &'static [Opcode] {
    match (parent, index) {
        (Opcode::Func, _) => &[Opcode::Return, Opcode::Br, Opcode::CondBr],
        (Opcode::For | Opcode::If, _) => &[Opcode::Yield],
        (Opcode::While, 0) => &[Opcode::Condition],
        (Opcode::While, _) => &[Opcode::Yield],
        (Opcode::Reduce, _) => &[Opcode::ReduceReturn],
        (Opcode::Scan, _) => &[Opcode::ScanReturn],
        (Opcode::MapElementwise, _) => &[Opcode::MapElementwiseReturn, Opcode::Br, Opcode::CondBr],
        _ => &[],
    }
}

fn names(opcodes: &[Opcode]) -> String {
    let names: Vec<&str> = opcodes.iter().map(|o| o.name()).collect();
    quoted_list(&names)
}

fn check_op(module: &Module, op: Op, report: &mut Report) {
    let dfg = &module.dfg;
    let opcode = dfg.opcode(op);
    let name = opcode.name();
    let data = &dfg.ops[op];

    let (min, max) = region_count(opcode);
    let count = data.regions.len();
    if count < min || count > max {
        let expected = if min == max {
            plural(min, "region")
        } else {
            format!("{min} to {max} regions")
        };
        report.error(
            op,
            format!("`{name}` must have {expected}, but has {count}"),
        );
        return;
    }

    let successors = match opcode {
        Opcode::Br => 1,
        Opcode::CondBr => 2,
        _ => 0,
    };
    if data.successors.len() != successors {
        report.error(
            op,
            format!(
                "`{name}` must have {}, but has {}",
                plural(successors, "successor block"),
                data.successors.len()
            ),
        );
    }

    // `scf.for` and `scf.if` have MLIR's implicit terminator: when they
    // produce no values their `scf.yield` may be left out of the text (and
    // an `scf.if` region may then be empty altogether).
    let implicit_yield = matches!(opcode, Opcode::For | Opcode::If) && dfg.results(op).is_empty();
    for (index, &region) in data.regions.iter().enumerate() {
        let blocks = module.layout.blocks(region);
        let what = region_name(opcode, index);
        let may_be_empty =
            opcode == Opcode::Func || (opcode == Opcode::If && (index == 1 || implicit_yield));
        if blocks.is_empty() && !may_be_empty {
            report.error(op, format!("`{name}` {what} must have a block"));
            continue;
        }
        // Only function bodies and `tt.map_elementwise` regions (Triton
        // emits the scalar function's `if`/early `return` as branches) are
        // control-flow graphs; every other region Triton uses is a single block.
        if !matches!(opcode, Opcode::Func | Opcode::MapElementwise) && blocks.len() > 1 {
            report.error(
                op,
                format!(
                    "`{name}` {what} must have exactly one block, but has {}",
                    blocks.len()
                ),
            );
        }
        let allowed = allowed_terminators(opcode, index);
        for &block in blocks {
            let ops = module.layout.ops(block);
            match ops.last() {
                _ if implicit_yield
                    && ops.last().is_none_or(|&l| !dfg.opcode(l).is_terminator()) => {}
                None => report.error(
                    op,
                    format!(
                        "`{name}` {what} has an empty block; a block must end with {}",
                        names(allowed)
                    ),
                ),
                Some(&last) if !dfg.opcode(last).is_terminator() => report.error(
                    op,
                    format!(
                        "`{name}` {what} must end with {}, but its last op is `{}`",
                        names(allowed),
                        dfg.opcode(last).name()
                    ),
                ),
                Some(_) => {}
            }
            for &inner in ops.iter().rev().skip(1) {
                if dfg.opcode(inner).is_terminator() {
                    report.error(
                        inner,
                        format!(
                            "`{}` must be the last op of its block",
                            dfg.opcode(inner).name()
                        ),
                    );
                }
            }
        }
    }

    if opcode.is_terminator() {
        check_terminator_parent(module, op, report);
    }
    if successors > 0 {
        check_branch_targets(module, op, report);
    }
}

/// A terminator must end a region of the op kind it belongs to.
fn check_terminator_parent(module: &Module, op: Op, report: &mut Report) {
    let dfg = &module.dfg;
    let opcode = dfg.opcode(op);
    let cx = super::op_context::OpCx::new(module, op);
    let Some((parent, index)) = cx.parent() else {
        // At module level: already reported as a non-function there.
        return;
    };
    let parent_opcode = dfg.opcode(parent);
    let allowed = allowed_terminators(parent_opcode, index);
    if !allowed.contains(&opcode) {
        let expected = if allowed.is_empty() {
            String::from("no terminator")
        } else {
            names(allowed)
        };
        report.error(
            op,
            format!(
                "`{}` cannot end the {} of `{}`; expected {expected}",
                opcode.name(),
                region_name(parent_opcode, index),
                parent_opcode.name()
            ),
        );
    }
}

/// Branch targets are blocks of the branch's own region, never its entry.
fn check_branch_targets(module: &Module, op: Op, report: &mut Report) {
    let dfg = &module.dfg;
    let name = dfg.opcode(op).name();
    let Some(region) = module
        .layout
        .op_block(op)
        .and_then(|b| dfg.blocks[b].region)
    else {
        return;
    };
    let blocks = module.layout.blocks(region);
    for &target in &dfg.ops[op].successors {
        if !blocks.contains(&target) {
            report.error(
                op,
                format!("`{name}` branches to a block outside its region"),
            );
        } else if blocks.first() == Some(&target) {
            report.error(
                op,
                format!("`{name}` cannot branch to the entry block of a region"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::opcode::Opcode;
    use crate::types::Type;
    use crate::verifier::test_builder::Builder;
    use crate::{AttrList, Attribute};

    #[test]
    fn function_must_end_with_return() {
        let mut b = Builder::kernel(&[Type::I32]);
        let x = b.arg(0);
        b.op(Opcode::AddI, &[x, x], &[Type::I32]);
        b.assert_error("`tt.func` body must end with `tt.return`, `cf.br` or `cf.cond_br`, but its last op is `arith.addi`");
    }

    #[test]
    fn terminator_must_be_last_and_of_the_right_kind() {
        let mut b = Builder::kernel(&[Type::I32]);
        let x = b.arg(0);
        b.op(Opcode::Yield, &[], &[]);
        b.op(Opcode::AddI, &[x, x], &[Type::I32]);
        b.ret();
        b.assert_errors(&[
            "`scf.yield` must be the last op of its block",
            "`scf.yield` cannot end the body of `tt.func`",
        ]);
        let mut b = Builder::kernel(&[]);
        b.op(Opcode::Yield, &[], &[]);
        b.assert_error("`scf.yield` cannot end the body of `tt.func`; expected `tt.return`, `cf.br` or `cf.cond_br`");
    }

    #[test]
    fn loops_and_ifs_without_values_may_leave_out_their_yield() {
        let mut b = Builder::kernel(&[Type::I32, Type::I1]);
        let (x, c) = (b.arg(0), b.arg(1));
        let for_op = b.add(Opcode::For, &[x, x, x], &[], &[]);
        let body = b.region(for_op, &[Type::I32]);
        b.within(body, |b| {
            b.op(Opcode::AddI, &[x, x], &[Type::I32]);
        });
        let if_op = b.add(Opcode::If, &[c], &[], &[]);
        let then = b.region(if_op, &[]);
        b.within(then, |b| {
            b.op(Opcode::AddI, &[x, x], &[Type::I32]);
        });
        // With results the yield carries them, so it must be there.
        let valued = b.add(Opcode::For, &[x, x, x, x], &[Type::I32], &[]);
        let body = b.region(valued, &[Type::I32, Type::I32]);
        b.within(body, |b| {
            b.op(Opcode::AddI, &[x, x], &[Type::I32]);
        });
        b.ret();
        b.assert_error("`scf.for` body must end with `scf.yield`, but its last op is `arith.addi`");
    }

    #[test]
    fn module_level_and_symbols() {
        let mut b = Builder::kernel(&[]);
        b.ret();
        let loc = b.m.locs.unknown();
        let mut attrs = AttrList::new();
        attrs.set("sym_name", Attribute::String("kernel".into()));
        attrs.set(
            "function_type",
            Attribute::FunctionType {
                inputs: vec![],
                results: vec![],
            },
        );
        let dup = b.m.dfg.make_op(Opcode::Func, &[], &[], attrs, loc);
        b.m.layout.append_op(b.m.body, dup);
        let stray =
            b.m.dfg
                .make_op(Opcode::Poison, &[], &[Type::I32], AttrList::new(), loc);
        b.m.layout.append_op(b.m.body, stray);
        b.assert_errors(&[
            "redefinition of symbol `@kernel`",
            "`ub.poison` cannot appear at module level",
        ]);
    }

    #[test]
    fn regions_per_op() {
        let mut b = Builder::kernel(&[Type::I32]);
        let x = b.arg(0);
        let add = b.add(Opcode::AddI, &[x, x], &[Type::I32], &[]);
        b.region(add, &[]);
        let for_op = b.add(Opcode::For, &[x, x, x], &[], &[]);
        let body = b.region(for_op, &[Type::I32]);
        let second =
            b.m.dfg
                .make_block(Some(b.m.dfg.ops[for_op].regions[0]), &[]);
        let region = b.m.dfg.ops[for_op].regions[0];
        b.m.layout.append_block(region, second);
        b.within(body, |b| {
            b.op(Opcode::Yield, &[], &[]);
        });
        b.within(second, |b| {
            b.op(Opcode::Yield, &[], &[]);
        });
        b.ret();
        b.assert_errors(&[
            "`arith.addi` must have 0 regions, but has 1",
            "`scf.for` body must have exactly one block, but has 2",
        ]);
    }
}
