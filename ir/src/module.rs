//! A TTIR module: its functions, the DFG and layout they live in, and its
//! locations.

use crate::attributes::{AttrList, Attribute};
use crate::dfg::DataFlowGraph;
use crate::entities::{Block, Loc, Op, Region};
use crate::layout::Layout;
use crate::location::Locations;
use crate::opcode::Opcode;
use crate::types::Type;

/// A parsed (or built) TTIR module.
#[derive(Clone, Debug)]
pub struct Module {
    pub dfg: DataFlowGraph,
    pub layout: Layout,
    pub locs: Locations,
    /// The module body: holds the `tt.func` ops in order.
    pub body: Block,
    /// `module attributes {...}`.
    pub attrs: AttrList,
    /// The module's own `loc(...)`.
    pub loc: Option<Loc>,
    /// The name of the TTIR file it came from (for diagnostics).
    pub source_name: String,
}

impl Default for Module {
    fn default() -> Self {
        Module::new("<memory>")
    }
}

impl Module {
    /// An empty module.
    pub fn new(source_name: &str) -> Module {
        let mut dfg = DataFlowGraph::new();
        let body = dfg.make_block(None, &[]);
        Module {
            dfg,
            layout: Layout::new(),
            locs: Locations::default(),
            body,
            attrs: AttrList::new(),
            loc: None,
            source_name: source_name.to_string(),
        }
    }

    /// The `tt.func` ops in order.
    pub fn functions(&self) -> impl Iterator<Item = Op> + '_ {
        self.layout
            .ops(self.body)
            .iter()
            .copied()
            .filter(|&op| self.dfg.opcode(op) == Opcode::Func)
    }

    /// The function's symbol name.
    pub fn func_name(&self, func: Op) -> &str {
        self.dfg.ops[func].attrs.str("sym_name").unwrap_or("")
    }

    /// Finds a function by symbol name.
    pub fn function(&self, name: &str) -> Option<Op> {
        self.functions().find(|&f| self.func_name(f) == name)
    }

    /// Whether the function is `public` (the default when no visibility is given).
    pub fn func_is_public(&self, func: Op) -> bool {
        self.dfg.ops[func]
            .attrs
            .str("sym_visibility")
            .is_none_or(|v| v == "public")
    }

    /// The function's signature.
    pub fn func_signature(&self, func: Op) -> (Vec<Type>, Vec<Type>) {
        match self.dfg.ops[func].attrs.get("function_type") {
            Some(Attribute::FunctionType { inputs, results }) => (inputs.clone(), results.clone()),
            _ => (Vec::new(), Vec::new()),
        }
    }

    /// The kernel to launch: the first public function (Triton emits exactly
    /// one public kernel and private helpers).
    pub fn kernel(&self) -> Option<Op> {
        self.functions()
            .find(|&f| self.func_is_public(f))
            .or_else(|| self.functions().next())
    }

    /// The entry block of a function body (None for a declaration).
    pub fn func_entry(&self, func: Op) -> Option<Block> {
        let region = *self.dfg.ops[func].regions.first()?;
        self.layout.entry_block(region)
    }

    /// Calls `f` on every op nested in `region`, in program order, parents
    /// before the ops of their regions (pre-order).
    pub fn walk_region(&self, region: Region, f: &mut dyn FnMut(Op)) {
        for &block in self.layout.blocks(region) {
            self.walk_block(block, f);
        }
    }

    /// Pre-order walk of the ops of `block` and everything nested in them.
    pub fn walk_block(&self, block: Block, f: &mut dyn FnMut(Op)) {
        // An explicit stack keeps deeply nested input from overflowing the call stack.
        let mut stack: Vec<(Block, usize)> = vec![(block, 0)];
        while let Some((b, i)) = stack.pop() {
            let ops = self.layout.ops(b);
            if i < ops.len() {
                let op = ops[i];
                f(op);
                stack.push((b, i + 1));
                let regions = &self.dfg.ops[op].regions;
                for &r in regions.iter().rev() {
                    for &inner in self.layout.blocks(r).iter().rev() {
                        stack.push((inner, 0));
                    }
                }
            }
        }
    }

    /// Pre-order walk of every op in the module (functions and their bodies).
    pub fn walk(&self, f: &mut dyn FnMut(Op)) {
        self.walk_block(self.body, f);
    }

    /// The Python source line of an op, if its location carries one.
    pub fn op_python_source(&self, op: Op) -> Option<crate::location::PySource> {
        self.locs.python_source(self.dfg.ops[op].loc)
    }

    /// A diagnostic located at `op`: the module's TTIR file and the op's
    /// position in it, plus the Python source line when the op's `loc`
    /// carries one.
    pub fn op_diagnostic(&self, op: Op, message: impl Into<String>) -> crate::Diagnostic {
        let data = &self.dfg.ops[op];
        // Ops built in memory may carry a placeholder loc outside the arena.
        let python = if self.locs.data.is_valid(data.loc) {
            self.locs.python_source(data.loc)
        } else {
            None
        };
        crate::Diagnostic::new(message)
            .at(&self.source_name, data.pos)
            .with_python(python)
    }

    /// The function op that (transitively) contains `op`.
    pub fn enclosing_func(&self, mut op: Op) -> Option<Op> {
        for _ in 0..self.dfg.ops.len() + 1 {
            if self.dfg.opcode(op) == Opcode::Func {
                return Some(op);
            }
            let block = self.layout.op_block(op)?;
            let region = self.dfg.blocks[block].region?;
            op = self.dfg.regions[region].parent?;
        }
        None
    }
}
