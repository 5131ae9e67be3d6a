//! Rules for the ops outside the main families: `tt.assert`, `tt.print`,
//! `ub.poison` and `llvm.intr.assume`.

use crate::types::Type;

use super::op_context::{Check, OpCx};
use super::shapes::{is_bool_like, q};

/// `tt.assert %cond, "message"`: an `i1` (tensor) condition.
pub(super) fn assert(cx: &OpCx) -> Check {
    let [cond] = cx.operands_exact::<1>()?;
    cx.results_exact::<0>()?;
    if !is_bool_like(cond) {
        return cx.fail(format_args!(
            "condition must be `i1` or a tensor of `i1`, but is {}",
            q(cond)
        ));
    }
    cx.required_string("message")?;
    Ok(())
}

/// `tt.print "prefix" : %args...`: any values, a prefix and a hex flag.
pub(super) fn print(cx: &OpCx) -> Check {
    cx.results_exact::<0>()?;
    cx.required_string("prefix")?;
    cx.required_bool("hex")?;
    if let Some(signs) = cx.optional_int_list("isSigned")? {
        if !signs.is_empty() && signs.len() != cx.operands().len() {
            return cx.fail(format_args!(
                "attribute `isSigned` has {} entries for {} values",
                signs.len(),
                cx.operands().len()
            ));
        }
    }
    Ok(())
}

/// `ub.poison`: an undefined value of any type.
pub(super) fn poison(cx: &OpCx) -> Check {
    cx.operands_exact::<0>()?;
    cx.results_exact::<1>()?;
    Ok(())
}

/// `llvm.intr.assume %cond`: a scalar `i1` (plus operand bundles, if any).
/// A barrier among one program's threads: no operands, no results.
pub(super) fn barrier(cx: &OpCx) -> Check {
    cx.operands_exact::<0>()?;
    cx.results_exact::<0>()?;
    Ok(())
}

pub(super) fn assume(cx: &OpCx) -> Check {
    let types = cx.operands_at_least(1)?;
    cx.results_exact::<0>()?;
    if *types[0] != Type::I1 {
        return cx.fail(format_args!(
            "condition must be `i1`, but is {}",
            q(types[0])
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::opcode::Opcode;
    use crate::types::Type;
    use crate::verifier::test_builder::Builder;
    use crate::Attribute;

    #[test]
    fn debugging_and_hints() {
        let mut b = Builder::kernel(&[Type::tensor(vec![8], Type::I1), Type::I32, Type::I1]);
        let (mask, i, c) = (b.arg(0), b.arg(1), b.arg(2));
        b.op_attrs(
            Opcode::Assert,
            &[mask],
            &[],
            &[("message", Attribute::String("oops".into()))],
        );
        b.op_attrs(
            Opcode::Assert,
            &[i],
            &[],
            &[("message", Attribute::String("oops".into()))],
        );
        let print = |signs: Vec<i64>| {
            [
                ("prefix", Attribute::String(" x: ".into())),
                ("hex", Attribute::Bool(false)),
                (
                    "isSigned",
                    Attribute::DenseArray {
                        elem: Type::I32,
                        values: signs,
                    },
                ),
            ]
        };
        b.op_attrs(Opcode::Print, &[i, mask], &[], &print(vec![1, 0]));
        b.op_attrs(Opcode::Print, &[i, mask], &[], &print(vec![1]));
        b.op(Opcode::Poison, &[], &[Type::F32]);
        b.op(Opcode::Assume, &[c], &[]);
        b.op(Opcode::Assume, &[i], &[]);
        b.ret();
        b.assert_errors(&[
            "`tt.assert` condition must be `i1` or a tensor of `i1`, but is `i32`",
            "`tt.print` attribute `isSigned` has 1 entries for 2 values",
            "`llvm.intr.assume` condition must be `i1`, but is `i32`",
        ]);
    }
}
