//! Typed entity references into the arenas of a [`crate::DataFlowGraph`].
//!
//! As in Cranelift, every IR object is named by a small `Copy` id (a `u32`
//! newtype) rather than by a pointer, so passes can hold references freely and
//! side tables are plain [`cranelift_entity::SecondaryMap`]s.

use cranelift_entity::entity_impl;

/// An SSA value: an op result or a block argument.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(u32);
entity_impl!(Value, "v");

/// An operation (`arith.addi`, `tt.load`, `scf.for`, `tt.func`, ...).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Op(u32);
entity_impl!(Op, "op");

/// A basic block: arguments plus an ordered list of ops (order lives in the layout).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block(u32);
entity_impl!(Block, "bb");

/// A region: an ordered list of blocks owned by an op.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(u32);
entity_impl!(Region, "region");

/// A source location (`loc(...)`) in the module's location arena.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc(u32);
entity_impl!(Loc, "loc");
