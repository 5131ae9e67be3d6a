//! `lower-map-elementwise`: rewrites `tt.map_elementwise` (Triton 3.9's
//! `tl.map_elementwise`) into ordinary tensor ops, so the access analysis
//! and the lowering only ever see tensor code.
//!
//! Every scalar op of the region becomes the same op on tensors of the
//! working shape (the operands' shape; with `pack = P > 1`, one tensor of
//! `N / P` elements per pack slot, cut out of the operands with
//! `tt.reshape` + `tt.split` and put back with `tt.join` + `tt.reshape`).
//! Scalars defined outside the region are splat, scalar constants become
//! splat constants.
//!
//! Control flow becomes selects. Each element follows one path through the
//! region, so every block gets a *path condition* (an `i1` tensor: the
//! elements that reach it), built from the conditions of the branches and
//! `scf.if`s on the way; both arms of a branch are computed for every
//! element and a block argument (or an `scf.if` result, or a returned value)
//! is an `arith.select` chain over the incoming edges' conditions. That is
//! exact because the ops computed where the original program would not have
//! are pure and total (division by zero, overflow and shifts are defined,
//! `docs/semantics.md`) and their values are only ever selected away; a
//! load in a conditional block reads only where its path condition holds
//! (its mask is and-ed with the condition), so it never touches an address
//! the original program would not have. `tt.get_program_id` and friends,
//! which are the same for every element, are computed once and splat.
//!
//! What has no tensor form is refused with a located "cannot lower"
//! diagnostic naming the op and its Python line: loops (`scf.for`,
//! `scf.while`, or branches back to an earlier block), calls that were not
//! inlined, and ops on tensors inside the scalar function. The verifier
//! already rejects writes inside the region.

use std::collections::HashMap;

use maiac_ir::{
    AttrList, Attribute, Block, DenseElements, Diagnostic, Module, Op, Opcode, Region, Type, Value,
};

use super::rewrite::{defined_inside, erase_op, function_ops, substitute_function};
use crate::pass::{Pass, PassContext};

/// The pass (see the module docs).
pub struct LowerMapElementwise;

impl Pass<Module> for LowerMapElementwise {
    fn name(&self) -> &str {
        "lower-map-elementwise"
    }

    fn run(&mut self, m: &mut Module, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let funcs: Vec<Op> = m.functions().collect();
        for func in funcs {
            let maps: Vec<Op> = function_ops(m, func)
                .into_iter()
                .filter(|&op| m.dfg.opcode(op) == Opcode::MapElementwise)
                .collect();
            for op in maps {
                let results = Rewriter::new(m, op)?.run()?;
                let subst: HashMap<Value, Value> =
                    m.dfg.results(op).iter().copied().zip(results).collect();
                substitute_function(m, func, &subst);
                erase_op(m, op);
            }
        }
        Ok(())
    }
}

/// An edge into a block (or out of the region): the elements that take it
/// (`None`: all of them) and the values it carries.
struct Edge {
    cond: Option<Value>,
    values: Vec<Value>,
}

/// The rewrite of one `tt.map_elementwise`; new ops go right before it.
struct Rewriter<'m> {
    m: &'m mut Module,
    map: Op,
    region: Region,
    pack: usize,
    /// The shape every converted value has (`shape`, or `[N / pack]`).
    work: Vec<i64>,
    /// Region value → its tensor form.
    values: HashMap<Value, Value>,
    /// Outer scalar → its splat.
    splats: HashMap<Value, Value>,
    /// A splat `true` of the working shape, made on first use.
    all_true: Option<Value>,
}

impl<'m> Rewriter<'m> {
    fn new(m: &'m mut Module, map: Op) -> Result<Rewriter<'m>, Diagnostic> {
        let region = *m.dfg.ops[map]
            .regions
            .first()
            .ok_or_else(|| m.op_diagnostic(map, "`tt.map_elementwise` has no region"))?;
        let pack = m.dfg.ops[map]
            .attrs
            .int("pack")
            .unwrap_or(1)
            .try_into()
            .unwrap_or(0usize);
        let first = m.dfg.operands(map).first().copied();
        let shape = first.map(|v| m.dfg.value_type(v).shape().to_vec());
        let shape = shape
            .filter(|s| !s.is_empty())
            .ok_or_else(|| m.op_diagnostic(map, "`tt.map_elementwise` needs tensor operands"))?;
        let count: i64 = shape.iter().product();
        if pack == 0 || count % pack as i64 != 0 {
            return Err(m.op_diagnostic(
                map,
                format!("`tt.map_elementwise`: pack {pack} does not divide {count} elements"),
            ));
        }
        let work = if pack == 1 {
            shape.clone()
        } else {
            vec![count / pack as i64]
        };
        Ok(Rewriter {
            m,
            map,
            region,
            pack,
            work,
            values: HashMap::new(),
            splats: HashMap::new(),
            all_true: None,
        })
    }

    // ---- building ------------------------------------------------------

    /// A new op before the `tt.map_elementwise`, carrying `like`'s loc and
    /// position (so later diagnostics point at the scalar function's line).
    fn emit(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        types: &[Type],
        attrs: AttrList,
        like: Op,
    ) -> Op {
        let (loc, pos) = (self.m.dfg.ops[like].loc, self.m.dfg.ops[like].pos);
        let op = self.m.dfg.make_op(opcode, operands, types, attrs, loc);
        self.m.dfg.ops[op].pos = pos;
        self.m.layout.insert_op_before(op, self.map);
        op
    }

    fn emit1(&mut self, opcode: Opcode, operands: &[Value], ty: Type, like: Op) -> Value {
        let op = self.emit(opcode, operands, &[ty], AttrList::new(), like);
        self.m.dfg.results(op)[0]
    }

    fn tensor(&self, elem: &Type) -> Type {
        Type::tensor(self.work.clone(), elem.clone())
    }

    fn cannot_lower(&self, op: Op, why: &str) -> Diagnostic {
        let name = self.m.dfg.opcode(op).name();
        let mut d = self.m.op_diagnostic(
            op,
            format!("cannot lower `tt.map_elementwise`: `{name}` in its scalar function {why}"),
        );
        if op != self.map {
            if let Some(py) = self.m.op_python_source(self.map) {
                d = d.note(format!("the `tl.map_elementwise` call is at {py}"));
            }
        }
        d
    }

    /// The tensor form of `v` as an operand of `user`.
    fn get(&mut self, v: Value, user: Op) -> Result<Value, Diagnostic> {
        if let Some(&t) = self.values.get(&v) {
            return Ok(t);
        }
        if defined_inside(self.m, v, self.map) {
            return Err(self.cannot_lower(user, "reads a value its block does not see"));
        }
        if let Some(&t) = self.splats.get(&v) {
            return Ok(t);
        }
        let ty = self.m.dfg.value_type(v).clone();
        if ty.is_tensor() {
            return Err(self.cannot_lower(user, "works on a tensor"));
        }
        let t = self.emit1(Opcode::Splat, &[v], self.tensor(&ty), user);
        self.splats.insert(v, t);
        Ok(t)
    }

    fn get_all(&mut self, vs: &[Value], user: Op) -> Result<Vec<Value>, Diagnostic> {
        vs.iter().map(|&v| self.get(v, user)).collect()
    }

    fn true_splat(&mut self) -> Value {
        if let Some(t) = self.all_true {
            return t;
        }
        let ty = self.tensor(&Type::I1);
        let mut attrs = AttrList::new();
        attrs.set(
            "value",
            Attribute::Dense {
                ty: ty.clone(),
                elems: DenseElements::Splat(Box::new(Attribute::Bool(true))),
            },
        );
        let op = self.emit(Opcode::Constant, &[], &[ty], attrs, self.map);
        let t = self.m.dfg.results(op)[0];
        self.all_true = Some(t);
        t
    }

    fn not(&mut self, c: Value, like: Op) -> Value {
        let t = self.true_splat();
        self.emit1(Opcode::XOrI, &[c, t], self.tensor(&Type::I1), like)
    }

    /// `a ∧ b`, with `None` for "every element".
    fn and(&mut self, a: Option<Value>, b: Value, like: Op) -> Value {
        match a {
            None => b,
            Some(a) => self.emit1(Opcode::AndI, &[a, b], self.tensor(&Type::I1), like),
        }
    }

    /// The value that the taken edge carries: a select chain over the
    /// edges' conditions (the edges of one join are mutually exclusive for
    /// the elements that reach it).
    fn merge(&mut self, edges: &[(Option<Value>, Value)], like: Op) -> Value {
        let base = edges
            .iter()
            .position(|e| e.0.is_none())
            .unwrap_or(edges.len() - 1);
        let mut acc = edges[base].1;
        for (i, &(cond, v)) in edges.iter().enumerate().rev() {
            if i == base || v == acc {
                continue;
            }
            let Some(cond) = cond else { continue };
            let ty = self.m.dfg.value_type(acc).clone();
            acc = self.emit1(Opcode::Select, &[cond, v, acc], ty, like);
        }
        acc
    }

    /// `cond` of several edges: `None` when one of them is unconditional.
    fn any(&mut self, conds: &[Option<Value>], like: Op) -> Option<Value> {
        let mut acc: Option<Value> = None;
        for &c in conds {
            let c = c?;
            acc = Some(match acc {
                None => c,
                Some(a) => self.emit1(Opcode::OrI, &[a, c], self.tensor(&Type::I1), like),
            });
        }
        acc
    }

    // ---- packing -----------------------------------------------------

    /// The `pack` slot tensors of operand `x` (slot `j` holds flat elements
    /// `g·pack + j`).
    fn unpack(&mut self, x: Value) -> Vec<Value> {
        if self.pack == 1 {
            return vec![x];
        }
        let elem = self.m.dfg.value_type(x).element().clone();
        let groups = self.work[0];
        let grid = Type::tensor(vec![groups, self.pack as i64], elem);
        let g = self.emit1(Opcode::Reshape, &[x], grid, self.map);
        self.slots(g, groups, self.pack as i64)
    }

    /// Columns of a `[groups, width]` tensor, each `[groups]`.
    fn slots(&mut self, t: Value, groups: i64, width: i64) -> Vec<Value> {
        let elem = self.m.dfg.value_type(t).element().clone();
        if width == 1 {
            return vec![self.emit1(Opcode::Reshape, &[t], self.tensor(&elem), self.map)];
        }
        let pairs = Type::tensor(vec![groups, width / 2, 2], elem.clone());
        let p = self.emit1(Opcode::Reshape, &[t], pairs, self.map);
        let half = Type::tensor(vec![groups, width / 2], elem);
        let split = self.emit(
            Opcode::Split,
            &[p],
            &[half.clone(), half],
            AttrList::new(),
            self.map,
        );
        let (even, odd) = (self.m.dfg.results(split)[0], self.m.dfg.results(split)[1]);
        let even = self.slots(even, groups, width / 2);
        let odd = self.slots(odd, groups, width / 2);
        even.into_iter()
            .zip(odd)
            .flat_map(|(e, o)| [e, o])
            .collect()
    }

    /// The inverse of [`Self::slots`]: `[groups]` columns into `[groups, n]`.
    fn join_slots(&mut self, cols: &[Value]) -> Value {
        let elem = self.m.dfg.value_type(cols[0]).element().clone();
        let groups = self.work[0];
        let width = cols.len() as i64;
        let grid = Type::tensor(vec![groups, width], elem.clone());
        if cols.len() == 1 {
            return self.emit1(Opcode::Reshape, &[cols[0]], grid, self.map);
        }
        let even: Vec<Value> = cols.iter().step_by(2).copied().collect();
        let odd: Vec<Value> = cols.iter().skip(1).step_by(2).copied().collect();
        let (e, o) = (self.join_slots(&even), self.join_slots(&odd));
        let pairs = Type::tensor(vec![groups, width / 2, 2], elem);
        let j = self.emit1(Opcode::Join, &[e, o], pairs, self.map);
        self.emit1(Opcode::Reshape, &[j], grid, self.map)
    }

    // ---- the region ----------------------------------------------------

    /// Rewrites the op; returns the tensor values replacing its results.
    fn run(mut self) -> Result<Vec<Value>, Diagnostic> {
        let blocks = self.m.layout.blocks(self.region).to_vec();
        let entry = blocks[0];
        let operands = self.m.dfg.operands(self.map).to_vec();
        let params = self.m.dfg.blocks[entry].args.clone();
        let mut slot_values = Vec::new();
        for x in operands {
            slot_values.extend(self.unpack(x));
        }
        if slot_values.len() != params.len() {
            return Err(self.cannot_lower(self.map, "takes the wrong number of arguments"));
        }
        self.values.extend(params.into_iter().zip(slot_values));

        let order = self.topological_order(entry)?;
        let mut incoming: HashMap<Block, Vec<Edge>> = HashMap::new();
        let mut returns: Vec<Edge> = Vec::new();
        for block in order {
            let path = if block == entry {
                None
            } else {
                let edges = incoming.remove(&block).unwrap_or_default();
                let like = self.map;
                let conds: Vec<Option<Value>> = edges.iter().map(|e| e.cond).collect();
                let path = self.any(&conds, like);
                let args = self.m.dfg.blocks[block].args.clone();
                for (i, arg) in args.into_iter().enumerate() {
                    let choices: Vec<(Option<Value>, Value)> =
                        edges.iter().map(|e| (e.cond, e.values[i])).collect();
                    let v = self.merge(&choices, like);
                    self.values.insert(arg, v);
                }
                path
            };
            let term = self.convert_ops(block, path)?;
            let operands = self.m.dfg.operands(term).to_vec();
            match self.m.dfg.opcode(term) {
                Opcode::MapElementwiseReturn => {
                    let values = self.get_all(&operands, term)?;
                    returns.push(Edge { cond: path, values });
                }
                Opcode::Br => {
                    let target = self.m.dfg.ops[term].successors[0];
                    let values = self.get_all(&operands, term)?;
                    incoming
                        .entry(target)
                        .or_default()
                        .push(Edge { cond: path, values });
                }
                Opcode::CondBr => {
                    let succ = self.m.dfg.ops[term].successors.clone();
                    let true_count = self.m.dfg.blocks[succ[0]].args.len();
                    let c = self.get(operands[0], term)?;
                    let t_vals = self.get_all(&operands[1..1 + true_count], term)?;
                    let f_vals = self.get_all(&operands[1 + true_count..], term)?;
                    let t_cond = self.and(path, c, term);
                    let not_c = self.not(c, term);
                    let f_cond = self.and(path, not_c, term);
                    incoming.entry(succ[0]).or_default().push(Edge {
                        cond: Some(t_cond),
                        values: t_vals,
                    });
                    incoming.entry(succ[1]).or_default().push(Edge {
                        cond: Some(f_cond),
                        values: f_vals,
                    });
                }
                _ => return Err(self.cannot_lower(term, "ends a block")),
            }
        }
        if returns.is_empty() {
            return Err(self.cannot_lower(self.map, "never returns"));
        }
        let count = returns[0].values.len();
        let mut merged = Vec::with_capacity(count);
        for i in 0..count {
            let choices: Vec<(Option<Value>, Value)> =
                returns.iter().map(|e| (e.cond, e.values[i])).collect();
            merged.push(self.merge(&choices, self.map));
        }
        let results = self.m.dfg.results(self.map).len();
        if merged.len() != results * self.pack {
            return Err(self.cannot_lower(self.map, "returns the wrong number of values"));
        }
        if self.pack == 1 {
            return Ok(merged);
        }
        let mut out = Vec::with_capacity(results);
        for k in 0..results {
            let grid = self.join_slots(&merged[k * self.pack..(k + 1) * self.pack]);
            let ty = self
                .m
                .dfg
                .value_type(self.m.dfg.results(self.map)[k])
                .clone();
            out.push(self.emit1(Opcode::Reshape, &[grid], ty, self.map));
        }
        Ok(out)
    }

    /// The blocks reachable from `entry`, each after all its predecessors;
    /// a branch back to a block on the current path is a loop.
    fn topological_order(&self, entry: Block) -> Result<Vec<Block>, Diagnostic> {
        #[derive(Copy, Clone, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        let mut marks: HashMap<Block, Mark> = HashMap::new();
        let mut post = Vec::new();
        // (block, next successor index)
        let mut stack: Vec<(Block, usize)> = vec![(entry, 0)];
        marks.insert(entry, Mark::Open);
        while let Some(&mut (block, ref mut next)) = stack.last_mut() {
            let term = self.m.layout.terminator(block);
            let succ = term.map_or(&[][..], |t| &self.m.dfg.ops[t].successors[..]);
            if let Some(&s) = succ.get(*next) {
                *next += 1;
                match marks.get(&s) {
                    Some(Mark::Open) => {
                        return Err(self.cannot_lower(
                            term.unwrap_or(self.map),
                            "branches back to an earlier block (a loop)",
                        ))
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(s, Mark::Open);
                        stack.push((s, 0));
                    }
                }
            } else {
                marks.insert(block, Mark::Done);
                post.push(block);
                stack.pop();
            }
        }
        post.reverse();
        Ok(post)
    }

    /// Converts the ops of `block` (all but its terminator, which it
    /// returns) for the elements in `path`.
    fn convert_ops(&mut self, block: Block, path: Option<Value>) -> Result<Op, Diagnostic> {
        let ops = self.m.layout.ops(block).to_vec();
        let Some((&term, body)) = ops.split_last() else {
            return Err(self.cannot_lower(self.map, "has an empty block"));
        };
        for &op in body {
            self.convert_op(op, path)?;
        }
        Ok(term)
    }

    fn convert_op(&mut self, op: Op, path: Option<Value>) -> Result<(), Diagnostic> {
        use Opcode::*;
        let opcode = self.m.dfg.opcode(op);
        let results = self.m.dfg.results(op).to_vec();
        let result_types: Vec<Type> = results
            .iter()
            .map(|&r| self.m.dfg.value_type(r).clone())
            .collect();
        if result_types.iter().any(Type::is_tensor) {
            return Err(self.cannot_lower(op, "makes a tensor"));
        }
        let new_results: Vec<Value> = match opcode {
            Constant => {
                let value = self.m.dfg.attr(op, "value").cloned();
                let Some(value) = value else {
                    return Err(self.cannot_lower(op, "has no value"));
                };
                let ty = self.tensor(&result_types[0]);
                let mut attrs = self.m.dfg.ops[op].attrs.clone();
                attrs.set(
                    "value",
                    Attribute::Dense {
                        ty: ty.clone(),
                        elems: DenseElements::Splat(Box::new(value)),
                    },
                );
                let new = self.emit(Constant, &[], &[ty], attrs, op);
                self.m.dfg.results(new).to_vec()
            }
            // The same for every element: compute once, splat.
            GetProgramId | GetNumPrograms => {
                let attrs = self.m.dfg.ops[op].attrs.clone();
                let new = self.emit(opcode, &[], &result_types, attrs, op);
                let scalar = self.m.dfg.results(new)[0];
                vec![self.get(scalar, op)?]
            }
            // A hint about one element's values says nothing about the others'.
            Assume => Vec::new(),
            If => self.convert_if(op, path)?,
            Load => self.convert_load(op, path)?,
            _ if opcode.is_elementwise()
                || matches!(opcode, MulSIExtended | MulUIExtended | Poison) =>
            {
                let operands = self.m.dfg.operands(op).to_vec();
                let operands = self.get_all(&operands, op)?;
                let types: Vec<Type> = result_types.iter().map(|t| self.tensor(t)).collect();
                let attrs = self.m.dfg.ops[op].attrs.clone();
                let new = self.emit(opcode, &operands, &types, attrs, op);
                self.m.dfg.results(new).to_vec()
            }
            For | While => return Err(self.cannot_lower(op, "is a loop")),
            Call => return Err(self.cannot_lower(op, "calls a function that was not inlined")),
            _ => return Err(self.cannot_lower(op, "has no elementwise tensor form")),
        };
        self.values.extend(results.into_iter().zip(new_results));
        Ok(())
    }

    /// `scf.if`: both arms for every element, results selected by the
    /// condition.
    fn convert_if(&mut self, op: Op, path: Option<Value>) -> Result<Vec<Value>, Diagnostic> {
        let cond = self.m.dfg.operands(op)[0];
        let c = self.get(cond, op)?;
        let regions = self.m.dfg.ops[op].regions.clone();
        let mut arms: Vec<Vec<Value>> = Vec::new();
        for (i, &region) in regions.iter().enumerate() {
            let Some(block) = self.m.layout.entry_block(region) else {
                arms.push(Vec::new());
                continue;
            };
            let arm_cond = if i == 0 { c } else { self.not(c, op) };
            let arm_path = self.and(path, arm_cond, op);
            let ops = self.m.layout.ops(block).to_vec();
            let yields = ops
                .last()
                .filter(|&&l| self.m.dfg.opcode(l) == Opcode::Yield)
                .copied();
            // An arm without results may leave its `scf.yield` implicit.
            let body = if yields.is_some() {
                &ops[..ops.len() - 1]
            } else {
                &ops[..]
            };
            for &inner in body {
                self.convert_op(inner, Some(arm_path))?;
            }
            let yielded = match yields {
                Some(y) => {
                    let vs = self.m.dfg.operands(y).to_vec();
                    self.get_all(&vs, y)?
                }
                None => Vec::new(),
            };
            arms.push(yielded);
        }
        let count = self.m.dfg.results(op).len();
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let (Some(&t), Some(&e)) = (arms[0].get(i), arms.get(1).and_then(|a| a.get(i))) else {
                return Err(self.cannot_lower(op, "does not yield a value in both arms"));
            };
            let ty = self.m.dfg.value_type(t).clone();
            out.push(if t == e {
                t
            } else {
                self.emit1(Opcode::Select, &[c, t, e], ty, op)
            });
        }
        Ok(out)
    }

    /// `tt.load` of one element: a gather of every element's pointer, masked
    /// to the elements that reach the load.
    fn convert_load(&mut self, op: Op, path: Option<Value>) -> Result<Vec<Value>, Diagnostic> {
        let operands = self.m.dfg.operands(op).to_vec();
        let ptr = self.get(operands[0], op)?;
        let mask = match operands.get(1) {
            Some(&m) => Some(self.get(m, op)?),
            None => None,
        };
        let other = match operands.get(2) {
            Some(&o) => Some(self.get(o, op)?),
            None => None,
        };
        let mask = match (path, mask) {
            (None, m) => m,
            (Some(p), None) => Some(p),
            (Some(p), Some(m)) => Some(self.and(Some(p), m, op)),
        };
        let mut new_operands = vec![ptr];
        new_operands.extend(mask);
        new_operands.extend(other);
        let ty = self.tensor(self.m.dfg.value_type(self.m.dfg.results(op)[0]));
        let attrs = self.m.dfg.ops[op].attrs.clone();
        let new = self.emit(Opcode::Load, &new_operands, &[ty], attrs, op);
        Ok(self.m.dfg.results(new).to_vec())
    }
}
