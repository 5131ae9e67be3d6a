//! Common-subexpression elimination of pure ops.
//!
//! Two [pure](super::effects::is_pure) ops with the same opcode, operands,
//! attributes and result types compute the same value, so the later one is
//! replaced by the earlier one — provided the earlier one dominates it. The
//! walk keeps a stack of scopes: an op is visible to the rest of its block
//! and to everything nested in later ops of that block (regions of `scf.for`,
//! `scf.if`, ... are dominated by what precedes their op), but not to
//! sibling blocks of a multi-block region, whose dominance this pass does
//! not compute.

use std::collections::HashMap;

use maiac_ir::{Block, Diagnostic, Module, Op, Opcode, Region, Type, Value};

use super::effects::is_pure;
use super::rewrite::{erase_op, substitute_function, substitute_operands};
use crate::pass::{Pass, PassContext};

/// The CSE pass (`cse`).
#[derive(Debug, Default)]
pub struct Cse;

impl Pass<Module> for Cse {
    fn name(&self) -> &str {
        "cse"
    }

    fn run(&mut self, m: &mut Module, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let funcs: Vec<Op> = m.functions().collect();
        for func in funcs {
            let mut walker = Walker {
                subst: HashMap::new(),
                scopes: Vec::new(),
            };
            let regions = m.dfg.ops[func].regions.clone();
            for region in regions {
                walker.region(m, region);
            }
            substitute_function(m, func, &walker.subst);
        }
        Ok(())
    }
}

/// What makes two pure ops equal. Attributes are compared through their
/// debug text, which is deterministic and covers every attribute kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    opcode: Opcode,
    operands: Vec<Value>,
    results: Vec<Type>,
    attrs: String,
}

struct Walker {
    /// Replaced value → its replacement.
    subst: HashMap<Value, Value>,
    /// Available expressions, innermost scope last.
    scopes: Vec<HashMap<Key, Op>>,
}

impl Walker {
    fn region(&mut self, m: &mut Module, region: Region) {
        let blocks: Vec<Block> = m.layout.blocks(region).to_vec();
        for block in blocks {
            self.scopes.push(HashMap::new());
            self.block(m, block);
            self.scopes.pop();
        }
    }

    fn block(&mut self, m: &mut Module, block: Block) {
        let ops: Vec<Op> = m.layout.ops(block).to_vec();
        for op in ops {
            substitute_operands(m, op, &self.subst);
            if is_pure(m, op) {
                let key = Key {
                    opcode: m.dfg.opcode(op),
                    operands: m.dfg.operands(op).to_vec(),
                    results: m
                        .dfg
                        .results(op)
                        .iter()
                        .map(|&r| m.dfg.value_type(r).clone())
                        .collect(),
                    attrs: format!("{:?}", m.dfg.ops[op].attrs),
                };
                if let Some(&earlier) = self.scopes.iter().rev().find_map(|s| s.get(&key)) {
                    let pairs: Vec<(Value, Value)> = m
                        .dfg
                        .results(op)
                        .iter()
                        .copied()
                        .zip(m.dfg.results(earlier).iter().copied())
                        .collect();
                    self.subst.extend(pairs);
                    erase_op(m, op);
                    continue;
                }
                if let Some(scope) = self.scopes.last_mut() {
                    scope.insert(key, op);
                }
            }
            let regions = m.dfg.ops[op].regions.clone();
            for region in regions {
                self.region(m, region);
            }
        }
    }
}
