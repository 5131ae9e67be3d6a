//! TTIR cleanup passes: [`LowerMapElementwise`], [`LiftCombinerAsserts`],
//! [`ConstantFold`], [`Cse`], [`Licm`] and [`Dce`], each a
//! [`Pass<Module>`](crate::pass::Pass), and [`cleanup_passes`], the list the
//! pipeline runs.
//!
//! Every pass preserves the kernel's results bit for bit: folding evaluates
//! with [`maiac_ir::semantics`] (the interpreter's own scalar semantics),
//! CSE and LICM only touch pure, total ops ([`effects`]), and DCE never
//! removes an op with side effects. The tests check this by running the
//! reference interpreter on fixture kernels before and after.

pub mod combiner_asserts;
pub mod constant_fold;
pub mod cse;
pub mod dce;
pub mod effects;
pub mod licm;
pub mod map_elementwise;
pub mod rewrite;

#[cfg(test)]
mod tests;

use maiac_ir::Module;

pub use combiner_asserts::LiftCombinerAsserts;
pub use constant_fold::ConstantFold;
pub use cse::Cse;
pub use dce::Dce;
pub use licm::Licm;
pub use map_elementwise::LowerMapElementwise;

use crate::pass::{IrLevel, PassList};

/// The TTIR cleanup pipeline: rewrite `tt.map_elementwise` into tensor ops
/// (so the other passes see through it), move `tt.assert`s out of
/// reduction/scan combiners, fold constants, hoist loop invariants, merge
/// common subexpressions (including what hoisting made equal), then delete
/// what became dead.
pub fn cleanup_passes() -> PassList<Module> {
    let mut list = PassList::new();
    list.add(LowerMapElementwise)
        .add(LiftCombinerAsserts)
        .add(ConstantFold)
        .add(Licm)
        .add(Cse)
        .add(Dce);
    list
}

impl IrLevel for Module {
    fn render(&self) -> String {
        render_module(self)
    }
}

/// The TTIR text of a module (`maiac_ir::printer`).
pub fn render_module(m: &Module) -> String {
    maiac_ir::printer::print_module(m)
}
