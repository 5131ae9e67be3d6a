//! The dispatch policy: how the launch grid maps onto the machine's tiles.
//!
//! maiac uses `round_robin tiles=0`: program instance `p` (linear, `x`
//! fastest) runs on global tile `p mod T` over every tile `T` of the
//! machine. Why round robin rather than blocked: the grid is unknown at
//! compile time, and round robin keeps every tile busy for any grid (a
//! blocked split of a small grid leaves tiles idle only at the tail, but a
//! grid just above a multiple of `T` puts two instances on few tiles in
//! both schemes alike); consecutive instances — which usually touch
//! neighbouring HBM — run concurrently on neighbouring tiles of one
//! cluster, spreading the HBM traffic over time rather than serialising a
//! contiguous range on one tile. Instances on one tile run one after
//! another, each with fresh registers and semaphores, so the program needs
//! nothing from the policy — unless the `instance-loop` pass made it loop
//! over its tile's instances itself: it then records `persistent tiles=T`
//! (the same instances on the same tiles, each tile started once).

use maiac_backend::isa::Dispatch;
use maiac_backend::machine::Machine;

use crate::tile::TileKernel;

/// The policy recorded in the binary: round robin, or its persistent form
/// once the `instance-loop` pass has made the program loop over a tile's
/// instances itself (the same instances on the same tiles).
pub fn policy(kernel: &TileKernel, _machine: &Machine) -> Dispatch {
    match kernel.persistent_tiles {
        Some(tiles) => Dispatch::Persistent { tiles },
        None => Dispatch::RoundRobin { tiles: 0 },
    }
}
