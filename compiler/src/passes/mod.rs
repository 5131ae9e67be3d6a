//! TTIR cleanup passes: [`ConstantFold`], [`Cse`], [`Licm`] and [`Dce`],
//! each a [`Pass<Module>`](crate::pass::Pass), and [`cleanup_passes`], the
//! list the pipeline runs.
//!
//! Every pass preserves the kernel's results bit for bit: folding evaluates
//! with [`maiac_ir::semantics`] (the interpreter's own scalar semantics),
//! CSE and LICM only touch pure, total ops ([`effects`]), and DCE never
//! removes an op with side effects. The tests check this by running the
//! reference interpreter on fixture kernels before and after.

pub mod constant_fold;
pub mod cse;
pub mod dce;
pub mod effects;
pub mod licm;
pub mod rewrite;

#[cfg(test)]
mod tests;

use maiac_ir::Module;

pub use constant_fold::ConstantFold;
pub use cse::Cse;
pub use dce::Dce;
pub use licm::Licm;

use crate::pass::{IrLevel, PassList};

/// The TTIR cleanup pipeline: fold constants, hoist loop invariants,
/// merge common subexpressions (including what hoisting made equal), then
/// delete what became dead.
pub fn cleanup_passes() -> PassList<Module> {
    let mut list = PassList::new();
    list.add(ConstantFold).add(Licm).add(Cse).add(Dce);
    list
}

impl IrLevel for Module {
    fn render(&self) -> String {
        render_module(self)
    }
}

/// The TTIR text of a module.
///
/// Interim: a compact generic listing until `maiac_ir::printer` lands.
pub fn render_module(m: &Module) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut stack: Vec<(maiac_ir::Block, usize)> = vec![(m.body, 0)];
    while let Some((block, depth)) = stack.pop() {
        let _ = writeln!(
            out,
            "{}^{}({:?}):",
            "  ".repeat(depth),
            block,
            m.dfg.blocks[block].args
        );
        for &op in m.layout.ops(block) {
            let results = m.dfg.results(op);
            let _ = writeln!(
                out,
                "{}{results:?} = {} {:?} {:?}",
                "  ".repeat(depth + 1),
                m.dfg.opcode(op).name(),
                m.dfg.operands(op),
                m.dfg.ops[op].attrs
            );
            for &r in m.dfg.ops[op].regions.iter().rev() {
                for &b in m.layout.blocks(r).iter().rev() {
                    stack.push((b, depth + 2));
                }
            }
        }
    }
    out
}
