//! Program order: ops within blocks and blocks within regions.
//!
//! Kept apart from the [`crate::DataFlowGraph`] (as in Cranelift) so that
//! passes reordering or moving ops touch only this structure.

use cranelift_entity::packed_option::PackedOption;
use cranelift_entity::SecondaryMap;

use crate::entities::{Block, Op, Region};

/// Op and block order.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    region_blocks: SecondaryMap<Region, Vec<Block>>,
    block_ops: SecondaryMap<Block, Vec<Op>>,
    op_block: SecondaryMap<Op, PackedOption<Block>>,
}

impl Layout {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `block` at the end of `region`.
    pub fn append_block(&mut self, region: Region, block: Block) {
        self.region_blocks[region].push(block);
    }

    /// Appends `op` at the end of `block`.
    pub fn append_op(&mut self, block: Block, op: Op) {
        self.block_ops[block].push(op);
        self.op_block[op] = block.into();
    }

    /// Inserts `op` right before `before` (which must be laid out).
    pub fn insert_op_before(&mut self, op: Op, before: Op) {
        if let Some(block) = self.op_block[before].expand() {
            let ops = &mut self.block_ops[block];
            let at = ops.iter().position(|&o| o == before).unwrap_or(ops.len());
            ops.insert(at, op);
            self.op_block[op] = block.into();
        }
    }

    /// Removes `op` from its block (the op stays in the DFG arena).
    pub fn remove_op(&mut self, op: Op) {
        if let Some(block) = self.op_block[op].take() {
            self.block_ops[block].retain(|&o| o != op);
        }
    }

    /// Replaces the whole op list of a block.
    pub fn set_block_ops(&mut self, block: Block, ops: Vec<Op>) {
        for &op in &self.block_ops[block] {
            self.op_block[op] = None.into();
        }
        for &op in &ops {
            self.op_block[op] = block.into();
        }
        self.block_ops[block] = ops;
    }

    pub fn blocks(&self, region: Region) -> &[Block] {
        &self.region_blocks[region]
    }

    /// The first block of a region.
    pub fn entry_block(&self, region: Region) -> Option<Block> {
        self.region_blocks[region].first().copied()
    }

    pub fn ops(&self, block: Block) -> &[Op] {
        &self.block_ops[block]
    }

    /// The last op of a block, normally its terminator.
    pub fn terminator(&self, block: Block) -> Option<Op> {
        self.block_ops[block].last().copied()
    }

    /// The block an op is placed in.
    pub fn op_block(&self, op: Op) -> Option<Block> {
        self.op_block[op].expand()
    }
}
