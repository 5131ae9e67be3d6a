//! Rules for `tt.map_elementwise` (Triton 3.9's `tl.map_elementwise`) and
//! its terminator `tt.map_elementwise.return`.
//!
//! The op applies its scalar region to every group of `pack` consecutive
//! (row-major) elements of its same-shaped tensor operands. The region's
//! entry block takes `pack` scalars per operand, operand-major
//! (`x0 … x{pack-1}, y0 …`), and every `tt.map_elementwise.return` gives
//! `pack` scalars per result, result-major. As in Triton's verifier, the
//! region may read memory but not write it.

use crate::opcode::Opcode;
use crate::types::Type;

use super::op_context::{plural, Check, OpCx};
use super::shapes::{q, same_shape, shape_of};

/// `pack`: a power of two (1 when absent, as Triton's default).
pub(super) fn pack(cx: &OpCx) -> Result<usize, String> {
    let pack = match cx.attr("pack") {
        None => 1,
        Some(_) => cx.required_int("pack")?,
    };
    if pack < 1 || (pack & (pack - 1)) != 0 {
        return cx.fail(format_args!("`pack` must be a power of two, but is {pack}"));
    }
    usize::try_from(pack).or_else(|_| cx.fail(format_args!("`pack` {pack} is too large")))
}

/// `tt.map_elementwise`: tensors of one shape in and out, a scalar region
/// whose arguments are the operands' element types, no writes inside.
pub(super) fn map_elementwise(cx: &OpCx) -> Check {
    let operands = cx.operands_at_least(1)?;
    let Some(shape) = shape_of(operands[0]) else {
        return cx.fail(format_args!(
            "operands must be tensors, but got {}",
            q(operands[0])
        ));
    };
    for t in operands.iter().chain(cx.result_types().iter()) {
        if !t.is_tensor() || !same_shape(t, operands[0]) {
            return cx.fail(format_args!(
                "operands and results must all be tensors of one shape: {} vs {}",
                q(operands[0]),
                q(t)
            ));
        }
    }
    let pack = pack(cx)?;
    let count: i64 = shape.iter().product();
    if count % pack as i64 != 0 {
        return cx.fail(format_args!(
            "`pack` {pack} does not divide the {count} elements of the operands"
        ));
    }
    let Some(&region) = cx.regions().first() else {
        return Ok(());
    };
    let Some(&entry) = cx.module.layout.blocks(region).first() else {
        return Ok(());
    };
    let args = cx.block_arg_types(entry);
    let elems: Vec<&Type> = operands.iter().map(|t| t.element()).collect();
    if args.len() != elems.len() * pack {
        return cx.fail(format_args!(
            "scalar region must take {} ({} per operand), but takes {}",
            plural(elems.len() * pack, "argument"),
            pack,
            args.len()
        ));
    }
    for (i, arg) in args.iter().enumerate() {
        let want = elems[i / pack];
        if *arg != want {
            return cx.fail(format_args!(
                "scalar region argument #{i} must have type {} (the element type of operand #{}), but has {}",
                q(want),
                i / pack,
                q(arg)
            ));
        }
    }
    let mut problem = None;
    cx.module.walk_region(region, &mut |inner| {
        let opcode = cx.dfg().opcode(inner);
        let writes = matches!(
            opcode,
            Opcode::Store
                | Opcode::AtomicRmw
                | Opcode::AtomicCas
                | Opcode::DescriptorStore
                | Opcode::DescriptorScatter
                | Opcode::DescriptorReduce
                | Opcode::Print
                | Opcode::Assert
        );
        if writes && problem.is_none() {
            problem = Some(opcode.name());
        }
    });
    if let Some(name) = problem {
        return cx.fail(format_args!(
            "scalar region contains `{name}`: a `tl.map_elementwise` function may not write memory or print"
        ));
    }
    Ok(())
}

/// `tt.map_elementwise.return`: `pack` values per result of the parent,
/// result-major, of that result's element type.
pub(super) fn map_elementwise_return(cx: &OpCx) -> Check {
    cx.results_exact::<0>()?;
    let Some((parent, _)) = cx.parent() else {
        return Ok(());
    };
    if cx.dfg().opcode(parent) != Opcode::MapElementwise {
        // Reported by the structural checks.
        return Ok(());
    }
    let parent_cx = OpCx::new(cx.module, parent);
    let Ok(pack) = pack(&parent_cx) else {
        // Reported on the parent.
        return Ok(());
    };
    let elems: Vec<&Type> = parent_cx
        .result_types()
        .into_iter()
        .map(Type::element)
        .collect();
    let returned = cx.operand_types();
    if returned.len() != elems.len() * pack {
        return cx.fail(format_args!(
            "returns {} but `tt.map_elementwise` has {} with pack {pack} ({} expected)",
            plural(returned.len(), "value"),
            plural(elems.len(), "result"),
            elems.len() * pack
        ));
    }
    for (i, got) in returned.iter().enumerate() {
        let want = elems[i / pack];
        if *got != want {
            return cx.fail(format_args!(
                "operand #{i} has type {} but result #{} of `tt.map_elementwise` has element type {}",
                q(got),
                i / pack,
                q(want)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The first verifier message for a one-op kernel around `body`.
    fn error(map: &str) -> String {
        let text = format!(
            "module {{\n  tt.func @k(%x: tensor<4xf32>, %i: tensor<4xi32>, %p: !tt.ptr<f32>) {{\n{map}\n    tt.return\n  }}\n}}\n"
        );
        match crate::check_text(&text, "k.ttir") {
            Ok(_) => String::from("ok"),
            Err(errors) => errors[0].message.clone(),
        }
    }

    #[test]
    fn accepts_pack_and_several_operands() {
        let ok = "    %y:2 = \"tt.map_elementwise\"(%x, %i) <{pack = 2 : i32}> ({\n    ^bb0(%a0: f32, %a1: f32, %b0: i32, %b1: i32):\n      tt.map_elementwise.return %a1, %a0, %b0, %b1 : f32, f32, i32, i32\n    }) : (tensor<4xf32>, tensor<4xi32>) -> (tensor<4xf32>, tensor<4xi32>)";
        assert_eq!(error(ok), "ok");
    }

    #[test]
    fn rejects_wrong_arguments_returns_and_pack() {
        let args = "    %y = \"tt.map_elementwise\"(%x, %i) <{pack = 1 : i32}> ({\n    ^bb0(%a: f32, %b: f32):\n      tt.map_elementwise.return %a : f32\n    }) : (tensor<4xf32>, tensor<4xi32>) -> tensor<4xf32>";
        assert!(
            error(args).contains("argument #1 must have type `i32`"),
            "{}",
            error(args)
        );
        let count = "    %y = \"tt.map_elementwise\"(%x) <{pack = 2 : i32}> ({\n    ^bb0(%a: f32):\n      tt.map_elementwise.return %a : f32\n    }) : (tensor<4xf32>) -> tensor<4xf32>";
        assert!(
            error(count).contains("must take 2 arguments"),
            "{}",
            error(count)
        );
        let ret = "    %y = \"tt.map_elementwise\"(%x) <{pack = 1 : i32}> ({\n    ^bb0(%a: f32):\n      %b = arith.fptosi %a : f32 to i32\n      tt.map_elementwise.return %b : i32\n    }) : (tensor<4xf32>) -> tensor<4xf32>";
        assert!(error(ret).contains("element type `f32`"), "{}", error(ret));
        let pack = "    %y = \"tt.map_elementwise\"(%x) <{pack = 3 : i32}> ({\n    ^bb0(%a: f32, %b: f32, %c: f32):\n      tt.map_elementwise.return %a, %b, %c : f32, f32, f32\n    }) : (tensor<4xf32>) -> tensor<4xf32>";
        assert!(error(pack).contains("power of two"), "{}", error(pack));
        let shape = "    %y = \"tt.map_elementwise\"(%x) <{pack = 1 : i32}> ({\n    ^bb0(%a: f32):\n      tt.map_elementwise.return %a : f32\n    }) : (tensor<4xf32>) -> tensor<8xf32>";
        assert!(error(shape).contains("one shape"), "{}", error(shape));
    }

    #[test]
    fn rejects_writes_in_the_region() {
        let store = "    %y = \"tt.map_elementwise\"(%x) <{pack = 1 : i32}> ({\n    ^bb0(%a: f32):\n      tt.store %p, %a : !tt.ptr<f32>\n      tt.map_elementwise.return %a : f32\n    }) : (tensor<4xf32>) -> tensor<4xf32>";
        assert!(
            error(store).contains("may not write memory"),
            "{}",
            error(store)
        );
    }
}
