//! SSA scoping and dominance: every operand must be defined before its use,
//! in the same block or in a block or region that encloses the use, and
//! never outside the use's function (`tt.func` is isolated from above).
//!
//! Within a multi-block region (a function body using `cf` branches) the
//! defining block must dominate the block of the use; dominators come from
//! the Cooper–Harvey–Kennedy iterative algorithm. Blocks unreachable from
//! the entry are not checked against dominance, as in MLIR.

use std::collections::HashMap;

use cranelift_entity::SecondaryMap;

use crate::dfg::ValueDef;
use crate::entities::{Block, Op, Region, Value};
use crate::module::Module;
use crate::opcode::Opcode;

use super::Report;

/// Checks every operand of every op, reporting the first bad operand of each op.
pub(super) fn check(module: &Module, report: &mut Report) {
    let mut scope = Scope::new(module);
    module.walk(&mut |op| {
        for &v in module.dfg.operands(op) {
            if let Err(problem) = scope.visible(op, v) {
                report.error(op, format!("`{}` {problem}", module.dfg.opcode(op).name()));
                break;
            }
        }
    });
}

/// How a value is named in messages: its SSA name when it has one.
fn value_label(module: &Module, v: Value) -> String {
    let data = &module.dfg.values[v];
    match (&data.name, data.def) {
        (Some(name), _) => format!("`%{name}`"),
        (None, ValueDef::Result(op, i)) => {
            format!("result #{i} of `{}`", module.dfg.opcode(op).name())
        }
        (None, ValueDef::BlockArg(_, i)) => format!("block argument #{i}"),
    }
}

struct Scope<'m> {
    module: &'m Module,
    /// Position of each laid-out op within its block.
    index: SecondaryMap<Op, u32>,
    dominators: HashMap<Region, Dominators>,
}

impl<'m> Scope<'m> {
    fn new(module: &'m Module) -> Scope<'m> {
        let mut index = SecondaryMap::new();
        let number = |block: Block, index: &mut SecondaryMap<Op, u32>| {
            for (i, &op) in module.layout.ops(block).iter().enumerate() {
                index[op] = i as u32;
            }
        };
        number(module.body, &mut index);
        module.walk(&mut |op| {
            for &region in &module.dfg.ops[op].regions {
                for &block in module.layout.blocks(region) {
                    number(block, &mut index);
                }
            }
        });
        Scope {
            module,
            index,
            dominators: HashMap::new(),
        }
    }

    /// Whether `v` may be used by `user`; otherwise what is wrong, phrased
    /// to follow the user's op name.
    fn visible(&mut self, user: Op, v: Value) -> Result<(), String> {
        let module = self.module;
        let dfg = &module.dfg;
        if !dfg.values.is_valid(v) {
            return Err("uses a value that does not exist".to_string());
        }
        let label = value_label(module, v);
        let (def_block, def_index) = match dfg.values[v].def {
            ValueDef::Result(def, _) => match module.layout.op_block(def) {
                Some(block) => (block, Some(self.index[def])),
                None => {
                    return Err(format!(
                        "uses {label}, whose defining op is not in the module"
                    ))
                }
            },
            ValueDef::BlockArg(block, _) => (block, None),
        };
        let def_region = dfg.blocks[def_block].region;

        let mut current = user;
        loop {
            let Some(block) = module.layout.op_block(current) else {
                return Err(format!("uses {label} from outside the module body"));
            };
            if block == def_block {
                return match def_index {
                    Some(def) if def >= self.index[current] => {
                        Err(format!("uses {label} before its definition"))
                    }
                    _ => Ok(()),
                };
            }
            let region = dfg.blocks[block].region;
            if let (Some(region), true) = (region, region == def_region) {
                return if self.dominates(region, def_block, block) {
                    Ok(())
                } else {
                    Err(format!(
                        "uses {label}, whose definition does not dominate this use"
                    ))
                };
            }
            let parent = region.and_then(|r| dfg.regions[r].parent);
            match parent {
                Some(parent) if dfg.opcode(parent) != Opcode::Func => current = parent,
                _ => return Err(self.out_of_scope(user, def_block, &label)),
            }
        }
    }

    /// The message for a definition in no region enclosing the use.
    fn out_of_scope(&self, user: Op, def_block: Block, label: &str) -> String {
        let module = self.module;
        let dfg = &module.dfg;
        let def_parent = dfg.blocks[def_block]
            .region
            .and_then(|r| dfg.regions[r].parent);
        let def_func = def_parent.and_then(|p| module.enclosing_func(p));
        if def_func.is_some() && def_func == module.enclosing_func(user) {
            let inside = def_parent.map_or("another region", |p| dfg.opcode(p).name());
            format!("uses {label}, which is defined inside `{inside}` and is not visible here")
        } else {
            format!(
                "uses {label} from outside its function; `tt.func` bodies are isolated from above"
            )
        }
    }

    fn dominates(&mut self, region: Region, a: Block, b: Block) -> bool {
        let module = self.module;
        self.dominators
            .entry(region)
            .or_insert_with(|| Dominators::compute(module, region))
            .dominates(a, b)
    }
}

/// Immediate dominators of the blocks of one region.
struct Dominators {
    /// Reverse-postorder number of each reachable block.
    rpo_number: HashMap<Block, usize>,
    /// Immediate dominator, by reverse-postorder number (the entry is its own).
    idom: Vec<usize>,
}

impl Dominators {
    fn compute(module: &Module, region: Region) -> Dominators {
        let blocks = module.layout.blocks(region);
        let successors = |block: Block| -> Vec<Block> {
            module
                .layout
                .terminator(block)
                .map(|t| module.dfg.ops[t].successors.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|s| blocks.contains(s))
                .collect()
        };
        // Iterative depth-first search for a postorder from the entry.
        let mut postorder = Vec::new();
        let mut visited = std::collections::HashSet::new();
        if let Some(&entry) = blocks.first() {
            let mut stack = vec![(entry, successors(entry), 0usize)];
            visited.insert(entry);
            while let Some((block, succs, next)) = stack.last_mut() {
                if let Some(&s) = succs.get(*next) {
                    *next += 1;
                    if visited.insert(s) {
                        let succ_list = successors(s);
                        stack.push((s, succ_list, 0));
                    }
                } else {
                    postorder.push(*block);
                    stack.pop();
                }
            }
        }
        let rpo: Vec<Block> = postorder.into_iter().rev().collect();
        let rpo_number: HashMap<Block, usize> =
            rpo.iter().enumerate().map(|(i, &b)| (b, i)).collect();
        let mut preds: Vec<Vec<usize>> = vec![Vec::new(); rpo.len()];
        for (i, &block) in rpo.iter().enumerate() {
            for s in successors(block) {
                if let Some(&j) = rpo_number.get(&s) {
                    preds[j].push(i);
                }
            }
        }
        const UNDEFINED: usize = usize::MAX;
        let mut idom = vec![UNDEFINED; rpo.len()];
        if !rpo.is_empty() {
            idom[0] = 0;
        }
        let intersect = |idom: &[usize], mut x: usize, mut y: usize| {
            while x != y {
                while x > y {
                    x = idom[x];
                }
                while y > x {
                    y = idom[y];
                }
            }
            x
        };
        let mut changed = true;
        while changed {
            changed = false;
            for b in 1..rpo.len() {
                let mut new_idom = UNDEFINED;
                for &p in &preds[b] {
                    if idom[p] == UNDEFINED {
                        continue;
                    }
                    new_idom = if new_idom == UNDEFINED {
                        p
                    } else {
                        intersect(&idom, p, new_idom)
                    };
                }
                if new_idom != idom[b] {
                    idom[b] = new_idom;
                    changed = true;
                }
            }
        }
        Dominators { rpo_number, idom }
    }

    /// Whether `a` dominates `b` (unreachable blocks are dominated by all).
    fn dominates(&self, a: Block, b: Block) -> bool {
        let Some(&b) = self.rpo_number.get(&b) else {
            return true;
        };
        let Some(&a) = self.rpo_number.get(&a) else {
            return false;
        };
        let mut x = b;
        loop {
            if x == a {
                return true;
            }
            if x == 0 || self.idom[x] == usize::MAX {
                return false;
            }
            x = self.idom[x];
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::opcode::Opcode;
    use crate::types::Type;
    use crate::verifier::test_builder::{i32_attr, Builder};

    #[test]
    fn use_before_definition_in_one_block() {
        let mut b = Builder::kernel(&[Type::I32]);
        let x = b.arg(0);
        let first = b.add(Opcode::AddI, &[x, x], &[Type::I32], &[]);
        let later = b.op(Opcode::MulI, &[x, x], &[Type::I32]);
        b.m.dfg.set_operands(first, &[later, x]);
        b.m.dfg.values[later].name = Some("later".into());
        b.ret();
        b.assert_error("`arith.addi` uses `%later` before its definition");
    }

    #[test]
    fn values_of_a_loop_body_do_not_escape() {
        let mut b = Builder::kernel(&[Type::I32]);
        let x = b.arg(0);
        let for_op = b.add(Opcode::For, &[x, x, x], &[], &[]);
        let body = b.region(for_op, &[Type::I32]);
        let mut inner = x;
        b.within(body, |b| {
            let iv = b.block_arg(body, 0);
            // Values of enclosing regions are visible inside.
            inner = b.op(Opcode::AddI, &[iv, x], &[Type::I32]);
            b.op(Opcode::Yield, &[], &[]);
        });
        b.op(Opcode::AddI, &[inner, x], &[Type::I32]);
        b.ret();
        b.assert_error("`arith.addi` uses result #0 of `arith.addi`, which is defined inside `scf.for` and is not visible here");
    }

    #[test]
    fn functions_are_isolated() {
        let mut b = Builder::kernel(&[Type::I32]);
        let outer = b.arg(0);
        b.ret();
        // A second function in the same module that uses `outer`.
        let loc = b.m.locs.unknown();
        let mut attrs = crate::AttrList::new();
        attrs.set("sym_name", crate::Attribute::String("helper".into()));
        attrs.set(
            "function_type",
            crate::Attribute::FunctionType {
                inputs: vec![],
                results: vec![],
            },
        );
        let helper = b.m.dfg.make_op(Opcode::Func, &[], &[], attrs, loc);
        b.m.layout.append_op(b.m.body, helper);
        let entry = b.region(helper, &[]);
        b.within(entry, |b| {
            b.op(Opcode::AddI, &[outer, outer], &[Type::I32]);
            b.ret();
        });
        b.assert_error("from outside its function; `tt.func` bodies are isolated from above");
    }

    #[test]
    fn branches_need_dominating_definitions() {
        // entry: cond_br %c, ^left, ^right ; left: %v = ...; br ^join ; right: br ^join ; join: use %v
        let mut b = Builder::kernel(&[Type::I1, Type::I32]);
        let (c, x) = (b.arg(0), b.arg(1));
        let region = b.m.dfg.ops[b.func].regions[0];
        let block = |b: &mut Builder| {
            let blk = b.m.dfg.make_block(Some(region), &[]);
            b.m.layout.append_block(region, blk);
            blk
        };
        let (left, right, join) = (block(&mut b), block(&mut b), block(&mut b));
        let cond_br = b.add(Opcode::CondBr, &[c], &[], &[]);
        b.m.dfg.ops[cond_br].successors = vec![left, right];
        let mut v = x;
        b.within(left, |b| {
            v = b.op_attrs(
                Opcode::Constant,
                &[],
                &[Type::I32],
                &[("value", i32_attr(1))],
            );
            let br = b.add(Opcode::Br, &[], &[], &[]);
            b.m.dfg.ops[br].successors = vec![join];
        });
        b.within(right, |b| {
            let br = b.add(Opcode::Br, &[], &[], &[]);
            b.m.dfg.ops[br].successors = vec![join];
        });
        b.within(join, |b| {
            b.op(Opcode::AddI, &[x, x], &[Type::I32]);
            b.op(Opcode::AddI, &[v, x], &[Type::I32]);
            b.ret();
        });
        b.assert_error("`arith.addi` uses result #0 of `arith.constant`, whose definition does not dominate this use");
    }
}
