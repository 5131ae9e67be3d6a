//! Fusion and tiling over the tile IR, driven by e-graphs (`egg`).
//!
//! [`passes`] returns the tile-IR pass list the driver runs between lowering
//! and scheduling:
//!
//! 1. [`dce::TileDce`] (`tile-dce`) deletes ops whose results nobody reads
//!    (the lowering materialises pointer tensors that strided DMA never
//!    looks at);
//! 2. [`scalar_licm::ScalarLicm`] (`scalar-licm`) moves loop-invariant
//!    control-processor arithmetic (address, bound and DMA-guard
//!    computations) in front of its `for`;
//! 3. [`sink::SinkIntoBranches`] (`sink-into-branches`) moves the vector
//!    work only a branch arm reads (the address and mask tensors of a
//!    strided DMA's gather fallback) into that arm;
//! 4. [`coalesce::CoalesceCarried`] (`coalesce-carried`) lets a loop's
//!    next value of an iteration argument live in the argument's own buffer
//!    when nothing reads the old value meanwhile, deleting the per-iteration
//!    copies the lowering emits (`X = copy C` before an accumulating dot,
//!    `C = copy X` at the end of the body);
//! 5. [`elementwise::EggFusion`] (`egg-fusion`) merges producer/consumer
//!    chains of TVP `map`s into one `map` whose micro-program is extracted
//!    from an e-graph with a cost function computed from the machine model;
//! 6. [`act_reduce::ActReduceFusion`] (`act-reduce`) turns a `map` followed
//!    by a one-operand `reduce` of its output into one fused
//!    activation-with-reduction (`tvp.actreduce`) when extraction with the
//!    machine's TVP cost formula says it is cheaper;
//! 7. [`epilogue::EpilogueDrain`] (`epilogue-drain`) moves a matmul's
//!    accumulator into ACC and turns the `map` that finishes it (bias,
//!    activation, cast) into the TTU drain's epilogue when the machine
//!    model says the drain is cheaper and the accumulator fits;
//! 8. [`tiling::TtuTiling`] (`ttu-tiling`) splits TTU matmuls into tiles
//!    chosen by e-graph extraction under the machine's accumulator/TSRAM
//!    capacities and TTU rates;
//! 9. [`unswitch::LoopUnswitch`] (`loop-unswitch`) splits an innermost
//!    `for` that branches on loop-invariant registers (the strided DMAs'
//!    guards) into a copy that takes every such branch's then arm and the
//!    original loop, chosen once in front of it; `tile-dce` and
//!    `sink-into-branches` then run again, deleting the fast copy's
//!    updates of the gather fallbacks' address tensors and moving their
//!    initial values into the original loop's arm.
//!
//! Every pass preserves the kernel's results bit for bit: only rewrites that
//! hold for every input bit pattern are applied (no float reassociation),
//! an actreduce folds its stored output exactly as the reduce it replaces,
//! and splitting a matmul's K into consecutive accumulating chunks is exact
//! because the TTU accumulates sequentially in K.
//!
//! The e-graph runners are bounded (node, iteration and time limits) so a
//! compile never hangs; the node and iteration limits are reached long
//! before the time limit, which keeps the output deterministic.

pub mod act_reduce;
pub mod coalesce;
pub mod dce;
pub mod elementwise;
pub mod epilogue;
pub mod lang;
pub mod scalar_licm;
pub mod sink;
pub mod tiling;
pub mod unswitch;
pub(crate) mod walk;

use maiac_backend::machine::Machine;

use crate::pass::PassList;
use crate::tile::TileKernel;

pub use act_reduce::ActReduceFusion;
pub use coalesce::CoalesceCarried;
pub use dce::TileDce;
pub use elementwise::{EggFusion, EggLimits};
pub use epilogue::EpilogueDrain;
pub use scalar_licm::ScalarLicm;
pub use sink::SinkIntoBranches;
pub use tiling::TtuTiling;
pub use unswitch::LoopUnswitch;

/// The fusion and tiling passes for `machine`, in pipeline order.
pub fn passes(machine: &Machine) -> PassList<TileKernel> {
    let mut list = PassList::new();
    list.add(TileDce)
        .add(ScalarLicm)
        .add(SinkIntoBranches)
        .add(CoalesceCarried)
        .add(EggFusion::new(machine.clone()))
        .add(ActReduceFusion::new(machine.clone()))
        .add(EpilogueDrain::new(machine.clone()))
        .add(TtuTiling::new(machine.clone()))
        .add(LoopUnswitch)
        .add(TileDce)
        .add(SinkIntoBranches);
    list
}

/// Tile IR as a pass-manager level. (Lives here until the driver owns it;
/// it only renders the kernel.)
impl crate::pass::IrLevel for TileKernel {
    fn render(&self) -> String {
        crate::tile::render(self)
    }
}

#[cfg(test)]
mod tests;
