//! Display names of SSA values for printed analyses.
//!
//! Values keep the name they were written with (`%pid`); values without
//! one are `%v<index>`. Triton reuses names in sibling regions (every loop
//! of a kernel may define its own `%cols`), so the n-th repeat of a name in
//! program order is shown as `%cols#n` to keep printed forms unambiguous.

use std::collections::HashMap;

use maiac_ir::{Block, Module, Op, Value};

/// Unique display names of one function's values.
#[derive(Clone, Debug, Default)]
pub struct ValueNames {
    names: HashMap<Value, String>,
}

impl ValueNames {
    /// Names every block argument and op result of `func`, in program order.
    pub fn of_function(module: &Module, func: Op) -> ValueNames {
        let mut names = ValueNames::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut add = |v: Value, names: &mut ValueNames| {
            let base = module.dfg.values[v]
                .name
                .clone()
                .unwrap_or_else(|| format!("v{}", v.as_u32()));
            let count = seen.entry(base.clone()).or_insert(0);
            let name = if *count == 0 {
                format!("%{base}")
            } else {
                format!("%{base}#{count}")
            };
            *count += 1;
            names.names.insert(v, name);
        };
        let mut stack: Vec<Block> = Vec::new();
        for &region in module.dfg.ops[func].regions.iter().rev() {
            stack.extend(module.layout.blocks(region).iter().rev());
        }
        // Blocks are named in pre-order: a block's arguments, then its ops'
        // results, each op's nested blocks right after the op.
        let mut work: Vec<Work> = stack.into_iter().map(Work::Block).collect();
        while let Some(item) = work.pop() {
            match item {
                Work::Block(b) => {
                    for &arg in &module.dfg.blocks[b].args {
                        add(arg, &mut names);
                    }
                    for &op in module.layout.ops(b).iter().rev() {
                        work.push(Work::Op(op));
                    }
                }
                Work::Op(op) => {
                    for &r in module.dfg.results(op) {
                        add(r, &mut names);
                    }
                    for &region in module.dfg.ops[op].regions.iter().rev() {
                        for &b in module.layout.blocks(region).iter().rev() {
                            work.push(Work::Block(b));
                        }
                    }
                }
            }
        }
        names
    }

    /// The display name of `v` (`%v<index>` for a value outside the function).
    pub fn name(&self, v: Value) -> String {
        self.names
            .get(&v)
            .cloned()
            .unwrap_or_else(|| format!("%v{}", v.as_u32()))
    }
}

enum Work {
    Block(Block),
    Op(Op),
}
