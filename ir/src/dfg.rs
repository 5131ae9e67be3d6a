//! The data-flow graph: arenas of values, ops, blocks and regions.
//!
//! The DFG says *what* each entity is (an op's opcode, operands, results,
//! attributes and regions; a value's type and definition); the
//! [`crate::Layout`] says *where* it sits (op order within a block, block
//! order within a region). Operand and result lists are pooled
//! [`EntityList`]s as in Cranelift.

use cranelift_entity::{EntityList, ListPool, PrimaryMap};

use crate::attributes::{AttrList, Attribute};
use crate::entities::{Block, Loc, Op, Region, Value};
use crate::opcode::Opcode;
use crate::types::Type;

/// A position in the TTIR source text (1-based line and column).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SrcPos {
    pub line: u32,
    pub col: u32,
}

/// Where a value comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValueDef {
    /// Result number `index` of `op`.
    Result(Op, u32),
    /// Argument number `index` of `block`.
    BlockArg(Block, u32),
}

/// Everything known about one SSA value.
#[derive(Clone, Debug)]
pub struct ValueData {
    pub ty: Type,
    pub def: ValueDef,
    /// The SSA name it was written with (without `%`), kept for printing.
    pub name: Option<String>,
    /// Block arguments carry their own `loc(...)`.
    pub loc: Option<Loc>,
}

/// Everything known about one op.
#[derive(Clone, Debug)]
pub struct OpData {
    pub opcode: Opcode,
    pub operands: EntityList<Value>,
    pub results: EntityList<Value>,
    pub attrs: AttrList,
    pub regions: Vec<Region>,
    /// Successor blocks of a `cf.br` / `cf.cond_br`.
    pub successors: Vec<Block>,
    pub loc: Loc,
    /// Where the op was written in the TTIR text, if it was parsed.
    pub pos: Option<SrcPos>,
}

/// A block: its arguments; its ops live in the layout.
#[derive(Clone, Debug, Default)]
pub struct BlockData {
    pub args: Vec<Value>,
    /// The region the block belongs to.
    pub region: Option<Region>,
    /// The label it was written with (`bb0` for `^bb0`), kept for printing.
    pub label: Option<String>,
}

/// A region: its parent op; its blocks live in the layout.
#[derive(Clone, Debug, Default)]
pub struct RegionData {
    pub parent: Option<Op>,
}

/// The arenas.
#[derive(Clone, Debug, Default)]
pub struct DataFlowGraph {
    pub values: PrimaryMap<Value, ValueData>,
    pub ops: PrimaryMap<Op, OpData>,
    pub blocks: PrimaryMap<Block, BlockData>,
    pub regions: PrimaryMap<Region, RegionData>,
    pub value_lists: ListPool<Value>,
}

impl DataFlowGraph {
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an op and its result values. The op is not placed in any block
    /// (see [`crate::Layout::append_op`]).
    pub fn make_op(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        result_types: &[Type],
        attrs: AttrList,
        loc: Loc,
    ) -> Op {
        let operands = EntityList::from_slice(operands, &mut self.value_lists);
        let op = self.ops.push(OpData {
            opcode,
            operands,
            results: EntityList::new(),
            attrs,
            regions: Vec::new(),
            successors: Vec::new(),
            loc,
            pos: None,
        });
        let mut results = EntityList::new();
        for (i, ty) in result_types.iter().enumerate() {
            let v = self.values.push(ValueData {
                ty: ty.clone(),
                def: ValueDef::Result(op, i as u32),
                name: None,
                loc: None,
            });
            results.push(v, &mut self.value_lists);
        }
        self.ops[op].results = results;
        op
    }

    /// Creates an empty region owned by `parent` and appends it to the op's regions.
    pub fn make_region(&mut self, parent: Op) -> Region {
        let region = self.regions.push(RegionData {
            parent: Some(parent),
        });
        self.ops[parent].regions.push(region);
        region
    }

    /// Creates a block with arguments of the given types (not yet in a region's layout).
    pub fn make_block(&mut self, region: Option<Region>, arg_types: &[Type]) -> Block {
        let block = self.blocks.push(BlockData {
            args: Vec::new(),
            region,
            label: None,
        });
        for ty in arg_types {
            self.append_block_arg(block, ty.clone());
        }
        block
    }

    /// Adds an argument to a block.
    pub fn append_block_arg(&mut self, block: Block, ty: Type) -> Value {
        let index = self.blocks[block].args.len() as u32;
        let v = self.values.push(ValueData {
            ty,
            def: ValueDef::BlockArg(block, index),
            name: None,
            loc: None,
        });
        self.blocks[block].args.push(v);
        v
    }

    pub fn opcode(&self, op: Op) -> Opcode {
        self.ops[op].opcode
    }

    pub fn operands(&self, op: Op) -> &[Value] {
        self.ops[op].operands.as_slice(&self.value_lists)
    }

    pub fn results(&self, op: Op) -> &[Value] {
        self.ops[op].results.as_slice(&self.value_lists)
    }

    /// The single result of an op (None if it has zero or several).
    pub fn result(&self, op: Op) -> Option<Value> {
        match self.results(op) {
            [v] => Some(*v),
            _ => None,
        }
    }

    pub fn attr(&self, op: Op, name: &str) -> Option<&Attribute> {
        self.ops[op].attrs.get(name)
    }

    pub fn value_type(&self, v: Value) -> &Type {
        &self.values[v].ty
    }

    /// The op defining `v`, if it is an op result.
    pub fn defining_op(&self, v: Value) -> Option<Op> {
        match self.values[v].def {
            ValueDef::Result(op, _) => Some(op),
            ValueDef::BlockArg(..) => None,
        }
    }

    /// Replaces operand `index` of `op`.
    pub fn set_operand(&mut self, op: Op, index: usize, v: Value) {
        let mut list = self.ops[op].operands;
        if let Some(slot) = list.get_mut(index, &mut self.value_lists) {
            *slot = v;
        }
    }

    /// Replaces all operands of `op`.
    pub fn set_operands(&mut self, op: Op, operands: &[Value]) {
        self.ops[op].operands = EntityList::from_slice(operands, &mut self.value_lists);
    }

    /// The blocks of the region's entry... see [`crate::Layout`] for order.
    pub fn region_parent(&self, region: Region) -> Option<Op> {
        self.regions[region].parent
    }
}
