//! Rules for functions and calls: `tt.func` (signature against its entry
//! block), `tt.call` (callee exists, operands and results match its
//! signature) and `tt.return` (matches the enclosing function's results).

use crate::attributes::Attribute;
use crate::opcode::Opcode;
use crate::types::Type;

use super::op_context::{plural, Check, OpCx};
use super::shapes::{q, q_list};
use super::type_validity::type_problem;

/// The signature recorded in a function's `function_type`.
fn signature<'m>(cx: &OpCx<'m>) -> Result<(&'m [Type], &'m [Type]), String> {
    match cx.required_attr("function_type")? {
        Attribute::FunctionType { inputs, results } => Ok((inputs, results)),
        _ => cx.fail("attribute `function_type` must be a function type"),
    }
}

/// `tt.func`: a symbol name, a well-formed signature, and an entry block
/// whose arguments are the parameters.
pub(super) fn func(cx: &OpCx) -> Check {
    cx.operands_exact::<0>()?;
    cx.results_exact::<0>()?;
    let name = match cx.required_attr("sym_name")? {
        Attribute::String(s) | Attribute::Symbol(s) => s.as_str(),
        _ => return cx.fail("attribute `sym_name` must be a string"),
    };
    if name.is_empty() {
        return cx.fail("must have a non-empty name");
    }
    let (inputs, results) = signature(cx)?;
    for (i, ty) in inputs.iter().enumerate() {
        if let Some(problem) = type_problem(ty) {
            return cx.fail(format_args!("@{name} parameter #{i}: {problem}"));
        }
    }
    for (i, ty) in results.iter().enumerate() {
        if let Some(problem) = type_problem(ty) {
            return cx.fail(format_args!("@{name} result #{i}: {problem}"));
        }
    }
    if let Some(Attribute::Array(arg_attrs)) = cx.attr("arg_attrs") {
        if arg_attrs.len() != inputs.len() {
            return cx.fail(format_args!(
                "@{name} has {} but `arg_attrs` describes {}",
                plural(inputs.len(), "parameter"),
                arg_attrs.len()
            ));
        }
    }
    let Some(entry) = cx.module.func_entry(cx.op) else {
        // A declaration.
        return Ok(());
    };
    let args = cx.block_arg_types(entry);
    if args.len() != inputs.len() {
        return cx.fail(format_args!(
            "@{name} takes {} but its entry block has {}",
            plural(inputs.len(), "parameter"),
            plural(args.len(), "argument")
        ));
    }
    for (i, (arg, param)) in args.iter().zip(inputs).enumerate() {
        if *arg != param {
            return cx.fail(format_args!(
                "@{name} parameter #{i} has type {} in the signature but {} in the entry block",
                q(param),
                q(arg)
            ));
        }
    }
    Ok(())
}

/// `tt.return`: operands match the enclosing function's result types.
pub(super) fn ret(cx: &OpCx) -> Check {
    cx.results_exact::<0>()?;
    let Some((parent, _)) = cx.parent() else {
        return Ok(());
    };
    if cx.dfg().opcode(parent) != Opcode::Func {
        // Reported by the structural checks.
        return Ok(());
    }
    let parent_cx = OpCx::new(cx.module, parent);
    let Ok((_, results)) = signature(&parent_cx) else {
        return Ok(());
    };
    let name = cx.module.func_name(parent);
    let operands = cx.operand_types();
    if operands.len() != results.len() {
        return cx.fail(format_args!(
            "has {} but the enclosing function @{name} returns {}",
            plural(operands.len(), "operand"),
            plural(results.len(), "value")
        ));
    }
    for (i, (got, want)) in operands.iter().zip(results).enumerate() {
        if *got != want {
            return cx.fail(format_args!(
                "operand #{i} has type {} but @{name} returns {}",
                q(got),
                q(want)
            ));
        }
    }
    Ok(())
}

/// `tt.call`: the callee exists and the call's types match its signature.
pub(super) fn call(cx: &OpCx) -> Check {
    let callee = match cx.required_attr("callee")? {
        Attribute::Symbol(s) | Attribute::String(s) => s.as_str(),
        _ => return cx.fail("attribute `callee` must be a symbol reference"),
    };
    let Some(func) = cx.module.function(callee) else {
        return cx.fail(format_args!(
            "calls `@{callee}`, which is not defined in this module"
        ));
    };
    let (inputs, results) = cx.module.func_signature(func);
    let operands = cx.operand_types();
    if operands.len() != inputs.len() {
        return cx.fail(format_args!(
            "passes {} but `@{callee}` takes {}",
            plural(operands.len(), "argument"),
            inputs.len()
        ));
    }
    for (i, (got, want)) in operands.iter().zip(&inputs).enumerate() {
        if *got != want {
            return cx.fail(format_args!(
                "argument #{i} has type {} but `@{callee}` expects {}",
                q(got),
                q(want)
            ));
        }
    }
    let got = cx.result_types();
    let want: Vec<&Type> = results.iter().collect();
    if got != want {
        return cx.fail(format_args!(
            "results {} do not match the results of `@{callee}` {}",
            q_list(&got),
            q_list(&want)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::opcode::Opcode;
    use crate::types::Type;
    use crate::verifier::test_builder::Builder;
    use crate::{AttrList, Attribute};

    #[test]
    fn return_matches_signature() {
        let mut b = Builder::function("f", &[Type::I32], &[Type::F32]);
        let x = b.arg(0);
        b.op(Opcode::Return, &[x], &[]);
        b.assert_error("`tt.return` operand #0 has type `i32` but @f returns `f32`");
        let mut b = Builder::function("f", &[Type::I32], &[Type::I32]);
        b.ret();
        b.assert_error("`tt.return` has 0 operands but the enclosing function @f returns 1 value");
    }

    #[test]
    fn entry_block_matches_signature() {
        let mut b = Builder::kernel(&[Type::I32]);
        b.ret();
        b.m.dfg.ops[b.func].attrs.set(
            "function_type",
            Attribute::FunctionType {
                inputs: vec![Type::I64],
                results: vec![],
            },
        );
        b.assert_error("`tt.func` @kernel parameter #0 has type `i64` in the signature but `i32` in the entry block");
    }

    #[test]
    fn calls_match_the_callee() {
        let mut b = Builder::function("helper", &[Type::I32], &[Type::I32]);
        let x = b.arg(0);
        b.op(Opcode::Return, &[x], &[]);
        let loc = b.m.locs.unknown();
        let mut attrs = AttrList::new();
        attrs.set("sym_name", Attribute::String("kernel".into()));
        attrs.set(
            "function_type",
            Attribute::FunctionType {
                inputs: vec![Type::F32],
                results: vec![],
            },
        );
        let kernel = b.m.dfg.make_op(Opcode::Func, &[], &[], attrs, loc);
        b.m.layout.append_op(b.m.body, kernel);
        let entry = b.region(kernel, &[Type::F32]);
        b.within(entry, |b| {
            let f = b.block_arg(entry, 0);
            let callee = |name: &str| ("callee", Attribute::Symbol(name.into()));
            b.op_attrs(Opcode::Call, &[f], &[Type::I32], &[callee("helper")]);
            b.op_attrs(Opcode::Call, &[], &[], &[callee("missing")]);
            b.ret();
        });
        b.assert_errors(&[
            "`tt.call` argument #0 has type `f32` but `@helper` expects `i32`",
            "`tt.call` calls `@missing`, which is not defined in this module",
        ]);
    }
}
