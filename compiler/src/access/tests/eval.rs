//! A small reference evaluator of a kernel's index, mask and pointer
//! computations, used to check the access analysis differentially.
//!
//! It executes one program instance with concrete arguments, following the
//! interpreter's semantics ([`maiac_ir::semantics`] for elementwise ops,
//! row-major shape ops, block pointers and descriptors as in
//! `interp::memory_ops`), but never touches memory: tensor loads give
//! unknown values, scalar loads a pseudo-random small integer (the same
//! value for the analysis, which reads it as an atom). `cf` branches are
//! followed and `tt.call`s run their callee. Loops run at most
//! `max_iterations` times, updating the analysis's loop-carried registers
//! exactly as generated code would (`init` before, `next` after each
//! iteration). At every memory op with a strided description whose guards
//! hold, every element's validity and address is compared with the
//! description.

use std::collections::HashMap;
use std::rc::Rc;

use maiac_ir::semantics::convert::canonical_nan;
use maiac_ir::semantics::int::{mask, sign_extend};
use maiac_ir::semantics::ElementwiseOp;
use maiac_ir::{Attribute, DenseElements, Module, Op, Opcode, Type, Value};

use crate::access::{AccessMap, Atom, Fill, MemAccess, ScalarExpr, StridedAccess};

/// One program instance to evaluate.
pub(crate) struct Launch {
    /// Raw bits of each kernel argument.
    pub args: Vec<u64>,
    pub pid: [u32; 3],
    pub grid: [u32; 3],
    pub max_iterations: usize,
}

/// What the evaluation found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Executions of strided accesses checked element by element.
    pub checked: usize,
    /// Executions whose guards did not hold (no claim to check).
    pub guarded_out: usize,
    /// Executions of gather/scatter accesses.
    pub indirect: usize,
    /// Executions that could not be checked (a value the evaluator does not compute).
    pub unknown: usize,
    pub mismatches: Vec<String>,
}

#[derive(Clone, Debug)]
struct Tensor {
    shape: Vec<usize>,
    data: Vec<u64>,
}

#[derive(Clone, Debug)]
struct BlockPtr {
    base: u64,
    shape: Vec<i64>,
    strides: Vec<i64>,
    offsets: Vec<i64>,
    block: Vec<usize>,
    elem_size: u64,
}

#[derive(Clone, Debug)]
struct Desc {
    base: u64,
    shape: Vec<i64>,
    strides: Vec<i64>,
    block: Vec<usize>,
    elem_size: u64,
    pad_nan: bool,
}

#[derive(Clone, Debug)]
enum Ev {
    Known(Rc<Tensor>),
    Block(Rc<BlockPtr>),
    Desc(Rc<Desc>),
    Unknown,
}

/// Elements of one access: `Some(address)` when accessed.
struct Actual {
    elements: Vec<Option<u64>>,
    fill: Option<u64>,
}

struct Evaluator<'a> {
    m: &'a Module,
    map: &'a AccessMap,
    launch: &'a Launch,
    values: HashMap<Value, Ev>,
    registers: HashMap<Atom, u64>,
    report: Report,
    /// Nesting of `tt.call`s being evaluated (bounded: recursion gives up).
    call_depth: usize,
    /// Whether memory ops are checked (not inside callees).
    checking: bool,
}

/// Evaluates `func` for one program and checks `map` against it.
pub(crate) fn check(m: &Module, func: Op, map: &AccessMap, launch: &Launch) -> Report {
    let mut ev = Evaluator {
        m,
        map,
        launch,
        values: HashMap::new(),
        registers: HashMap::new(),
        report: Report::default(),
        call_depth: 0,
        checking: true,
    };
    if let Some(entry) = m.func_entry(func) {
        for (i, &arg) in m.dfg.blocks[entry].args.iter().enumerate() {
            let bits = launch.args.get(i).copied().unwrap_or(0);
            ev.values.insert(arg, scalar(bits));
        }
        ev.run_block(entry);
    }
    ev.report
}

fn scalar(bits: u64) -> Ev {
    Ev::Known(Rc::new(Tensor {
        shape: vec![],
        data: vec![bits],
    }))
}

fn shape_of(ty: &Type) -> Vec<usize> {
    ty.shape().iter().map(|&d| d.max(0) as usize).collect()
}

fn width_of(ty: &Type) -> u32 {
    match ty.element() {
        Type::Int(w) => *w,
        Type::Float(f) => f.bits(),
        _ => 64,
    }
}

fn attr_bits(attr: &Attribute, width: u32) -> Option<u64> {
    match attr {
        Attribute::Int { value, .. } => Some((*value as u64) & mask(width)),
        Attribute::Bool(b) => Some(u64::from(*b)),
        Attribute::Float { bits, .. } => Some(*bits),
        _ => None,
    }
}

/// Row-major multi-index of `flat`.
fn unflatten(shape: &[usize], mut flat: usize) -> Vec<i64> {
    let mut idx = vec![0i64; shape.len()];
    for d in (0..shape.len()).rev() {
        if shape[d] > 0 {
            idx[d] = (flat % shape[d]) as i64;
            flat /= shape[d];
        }
    }
    idx
}

/// Deterministic small pseudo-random value for scalar loads.
fn pseudo(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 29;
    x % 13
}

impl Evaluator<'_> {
    fn get(&self, v: Value) -> Ev {
        self.values.get(&v).cloned().unwrap_or(Ev::Unknown)
    }

    fn known(&self, v: Value) -> Option<Rc<Tensor>> {
        match self.get(v) {
            Ev::Known(t) => Some(t),
            _ => None,
        }
    }

    fn scalar_bits(&self, v: Value) -> Option<u64> {
        self.known(v)
            .filter(|t| t.data.len() == 1)
            .map(|t| t.data[0])
    }

    fn signed(&self, v: Value) -> Option<i64> {
        let w = width_of(self.m.dfg.value_type(v));
        self.scalar_bits(v).map(|b| sign_extend(b, w))
    }

    fn atom(&self, a: Atom) -> Option<u64> {
        match a {
            Atom::Value(v) => self.scalar_bits(v),
            Atom::Carried { .. } => self.registers.get(&a).copied(),
        }
    }

    fn set_results_unknown(&mut self, op: Op) {
        for &r in self.m.dfg.results(op) {
            self.values.insert(r, Ev::Unknown);
        }
    }

    /// Runs a block — and, through `cf.br` / `cf.cond_br`, the blocks it
    /// branches to — until a `scf.yield`, `scf.condition` or `tt.return`;
    /// returns that terminator's operands (`None` when a branch condition is
    /// unknown or the branch budget runs out).
    fn run_block(&mut self, mut block: maiac_ir::Block) -> Option<Vec<Ev>> {
        // Enough for any acyclic CFG and a few trips round a cf loop.
        for _ in 0..64 + 4 * self.launch.max_iterations {
            let ops = self.m.layout.ops(block).to_vec();
            let mut next = None;
            for op in ops {
                let operands: Vec<Value> = self.m.dfg.operands(op).to_vec();
                match self.m.dfg.opcode(op) {
                    Opcode::Yield | Opcode::Condition | Opcode::Return => {
                        return Some(operands.iter().map(|&v| self.get(v)).collect());
                    }
                    Opcode::Br => {
                        next = Some((*self.m.dfg.ops[op].successors.first()?, operands));
                        break;
                    }
                    Opcode::CondBr => {
                        let cond = self.scalar_bits(*operands.first()?)?;
                        let segments = self
                            .m
                            .dfg
                            .attr(op, "operandSegmentSizes")
                            .and_then(Attribute::as_int_list)
                            .unwrap_or_default();
                        let n_true = usize::try_from(*segments.get(1)?).ok()?;
                        let successors = &self.m.dfg.ops[op].successors;
                        let (target, args) = if cond & 1 != 0 {
                            (*successors.first()?, operands[1..1 + n_true].to_vec())
                        } else {
                            (*successors.get(1)?, operands[1 + n_true..].to_vec())
                        };
                        next = Some((target, args));
                        break;
                    }
                    _ => self.exec(op),
                }
            }
            let (target, args) = next?;
            let values: Vec<Ev> = args.iter().map(|&v| self.get(v)).collect();
            for (&param, value) in self.m.dfg.blocks[target].args.clone().iter().zip(values) {
                self.values.insert(param, value);
            }
            block = target;
        }
        None
    }

    fn exec(&mut self, op: Op) {
        use Opcode::*;
        let dfg = &self.m.dfg;
        let opcode = dfg.opcode(op);
        let operands = dfg.operands(op).to_vec();
        let result_ty = dfg.results(op).first().map(|&r| dfg.value_type(r).clone());
        let out = |t: Tensor| Ev::Known(Rc::new(t));
        let ev = match opcode {
            For => return self.exec_for(op),
            Call => return self.exec_call(op),
            If => return self.exec_if(op),
            While => return self.exec_while(op),
            Load | Store | AtomicRmw | AtomicCas | DescriptorLoad | DescriptorStore
            | DescriptorGather | DescriptorScatter => {
                self.check_access(op);
                self.set_results_unknown(op);
                // A scalar load gives a small pseudo-random integer (the
                // analysis treats it as an atom either way).
                if let (Load, Some(ty)) = (opcode, &result_ty) {
                    if !ty.is_tensor() {
                        let seed = self.scalar_bits(operands[0]).unwrap_or(op.as_u32() as u64);
                        let r = dfg.results(op)[0];
                        self.values
                            .insert(r, scalar(pseudo(seed) & mask(width_of(ty))));
                    }
                }
                return;
            }
            GetProgramId | GetNumPrograms => {
                let axis = dfg
                    .attr(op, "axis")
                    .and_then(Attribute::as_int)
                    .unwrap_or(0)
                    .clamp(0, 2) as usize;
                let v = if opcode == GetProgramId {
                    self.launch.pid[axis]
                } else {
                    self.launch.grid[axis]
                };
                scalar(u64::from(v))
            }
            Constant => {
                let ty = result_ty.clone().unwrap_or(Type::I32);
                let w = width_of(&ty);
                let shape = shape_of(&ty);
                let n: usize = shape.iter().product();
                match dfg.attr(op, "value") {
                    Some(Attribute::Dense {
                        elems: DenseElements::Splat(v),
                        ..
                    }) => match attr_bits(v, w) {
                        Some(b) => out(Tensor {
                            shape,
                            data: vec![b; n],
                        }),
                        None => Ev::Unknown,
                    },
                    Some(Attribute::Dense {
                        elems: DenseElements::Elements(vs),
                        ..
                    }) => {
                        let data: Option<Vec<u64>> = vs.iter().map(|v| attr_bits(v, w)).collect();
                        match data {
                            Some(data) if data.len() == n => out(Tensor { shape, data }),
                            _ => Ev::Unknown,
                        }
                    }
                    Some(a) => match attr_bits(a, w) {
                        Some(b) => out(Tensor {
                            shape,
                            data: vec![b; n.max(1)],
                        }),
                        None => Ev::Unknown,
                    },
                    None => Ev::Unknown,
                }
            }
            MakeRange => {
                let start = dfg
                    .attr(op, "start")
                    .and_then(Attribute::as_int)
                    .unwrap_or(0) as i64;
                let end = dfg.attr(op, "end").and_then(Attribute::as_int).unwrap_or(0) as i64;
                let data: Vec<u64> = (start..end).map(|v| (v as u64) & 0xFFFF_FFFF).collect();
                out(Tensor {
                    shape: vec![data.len()],
                    data,
                })
            }
            Splat => match self.scalar_bits(operands[0]) {
                Some(b) => {
                    let shape = shape_of(result_ty.as_ref().unwrap_or(&Type::I32));
                    let n = shape.iter().product();
                    out(Tensor {
                        shape,
                        data: vec![b; n],
                    })
                }
                None => Ev::Unknown,
            },
            Broadcast => match self.known(operands[0]) {
                Some(src) => {
                    let shape = shape_of(result_ty.as_ref().unwrap_or(&Type::I32));
                    let n: usize = shape.iter().product();
                    let data = (0..n)
                        .map(|flat| {
                            let idx = unflatten(&shape, flat);
                            let mut s = 0usize;
                            for (d, &i) in idx.iter().enumerate() {
                                let dim = src.shape[d];
                                s = s * dim + if dim == 1 { 0 } else { i as usize };
                            }
                            src.data[s]
                        })
                        .collect();
                    out(Tensor { shape, data })
                }
                None => Ev::Unknown,
            },
            ExpandDims | Reshape => match self.known(operands[0]) {
                Some(src) => out(Tensor {
                    shape: shape_of(result_ty.as_ref().unwrap_or(&Type::I32)),
                    data: src.data.clone(),
                }),
                None => Ev::Unknown,
            },
            Trans => match self.known(operands[0]) {
                Some(src) => {
                    let rank = src.shape.len();
                    let order: Vec<usize> = dfg
                        .attr(op, "order")
                        .and_then(Attribute::as_int_list)
                        .map(|o| o.iter().map(|&d| d as usize).collect())
                        .unwrap_or_else(|| (0..rank).rev().collect());
                    let shape: Vec<usize> = order.iter().map(|&d| src.shape[d]).collect();
                    let n: usize = shape.iter().product();
                    let data = (0..n)
                        .map(|flat| {
                            let idx = unflatten(&shape, flat);
                            let mut src_idx = vec![0usize; rank];
                            for (k, &d) in order.iter().enumerate() {
                                src_idx[d] = idx[k] as usize;
                            }
                            let s = src_idx
                                .iter()
                                .zip(&src.shape)
                                .fold(0, |acc, (&i, &n)| acc * n + i);
                            src.data[s]
                        })
                        .collect();
                    out(Tensor { shape, data })
                }
                None => Ev::Unknown,
            },
            MakeTensorPtr => {
                let ty = result_ty.clone().unwrap_or(Type::I32);
                let block_ty = ty.pointee().cloned().unwrap_or(Type::I32);
                let rank = block_ty.shape().len();
                let ints: Option<Vec<i64>> =
                    operands[1..].iter().map(|&v| self.signed(v)).collect();
                match (self.scalar_bits(operands[0]), ints) {
                    (Some(base), Some(ints)) if ints.len() == 3 * rank => {
                        Ev::Block(Rc::new(BlockPtr {
                            base,
                            shape: ints[..rank].to_vec(),
                            strides: ints[rank..2 * rank].to_vec(),
                            offsets: ints[2 * rank..].to_vec(),
                            block: shape_of(&block_ty),
                            elem_size: block_ty.scalar_size_bytes(),
                        }))
                    }
                    _ => Ev::Unknown,
                }
            }
            Advance => match self.get(operands[0]) {
                Ev::Block(bp) => {
                    let deltas: Option<Vec<i64>> =
                        operands[1..].iter().map(|&v| self.signed(v)).collect();
                    match deltas {
                        Some(deltas) => {
                            let mut bp = (*bp).clone();
                            for (o, d) in bp.offsets.iter_mut().zip(deltas) {
                                *o = o.wrapping_add(d);
                            }
                            Ev::Block(Rc::new(bp))
                        }
                        None => Ev::Unknown,
                    }
                }
                _ => Ev::Unknown,
            },
            MakeTensorDescriptor => {
                let ty = result_ty.clone().unwrap_or(Type::I32);
                let Type::TensorDesc { block } = &ty else {
                    return self.set_results_unknown(op);
                };
                let rank = block.shape().len();
                let ints: Option<Vec<i64>> =
                    operands[1..].iter().map(|&v| self.signed(v)).collect();
                let pad_nan = matches!(dfg.attr(op, "padding"), Some(a) if a.as_str() == Some("nan") || a.as_int() == Some(2));
                match (self.scalar_bits(operands[0]), ints) {
                    (Some(base), Some(ints)) if ints.len() == 2 * rank => Ev::Desc(Rc::new(Desc {
                        base,
                        shape: ints[..rank].to_vec(),
                        strides: ints[rank..].to_vec(),
                        block: shape_of(block),
                        elem_size: block.scalar_size_bytes(),
                        pad_nan,
                    })),
                    _ => Ev::Unknown,
                }
            }
            _ if opcode.is_elementwise() => self.elementwise(op),
            _ => return self.set_results_unknown(op),
        };
        if let Some(&r) = self.m.dfg.results(op).first() {
            self.values.insert(r, ev);
        }
    }

    fn elementwise(&self, op: Op) -> Ev {
        let dfg = &self.m.dfg;
        let operands = dfg.operands(op);
        let types: Vec<Type> = operands
            .iter()
            .map(|&v| dfg.value_type(v).clone())
            .collect();
        let Some(&r) = dfg.results(op).first() else {
            return Ev::Unknown;
        };
        let Ok(e) = ElementwiseOp::resolve(
            dfg.opcode(op),
            &dfg.ops[op].attrs,
            &types,
            dfg.value_type(r),
        ) else {
            return Ev::Unknown;
        };
        let args: Option<Vec<Rc<Tensor>>> = operands.iter().map(|&v| self.known(v)).collect();
        let Some(args) = args else { return Ev::Unknown };
        let n = args.iter().map(|t| t.data.len()).max().unwrap_or(1);
        let shape = shape_of(dfg.value_type(r));
        let mut scratch = vec![0u64; args.len()];
        let data = (0..n)
            .map(|i| {
                for (s, t) in scratch.iter_mut().zip(&args) {
                    *s = if t.data.len() == 1 {
                        t.data[0]
                    } else {
                        t.data[i]
                    };
                }
                e.eval(&scratch)
            })
            .collect();
        Ev::Known(Rc::new(Tensor { shape, data }))
    }

    /// `tt.call`: runs the callee (its memory ops are not checked: the map
    /// describes the caller only) and binds its returned values.
    fn exec_call(&mut self, op: Op) {
        let callee = self
            .m
            .dfg
            .attr(op, "callee")
            .and_then(Attribute::as_str)
            .and_then(|name| self.m.function(name));
        let entry = callee.and_then(|f| self.m.func_entry(f));
        let (Some(entry), true) = (entry, self.call_depth < 8) else {
            return self.set_results_unknown(op);
        };
        let args: Vec<Ev> = self
            .m
            .dfg
            .operands(op)
            .iter()
            .map(|&v| self.get(v))
            .collect();
        for (&param, value) in self.m.dfg.blocks[entry].args.clone().iter().zip(args) {
            self.values.insert(param, value);
        }
        let saved = std::mem::replace(&mut self.checking, false);
        self.call_depth += 1;
        let returned = self.run_block(entry);
        self.call_depth -= 1;
        self.checking = saved;
        for (i, &r) in self.m.dfg.results(op).to_vec().iter().enumerate() {
            let v = returned
                .as_ref()
                .and_then(|vals| vals.get(i).cloned())
                .unwrap_or(Ev::Unknown);
            self.values.insert(r, v);
        }
    }

    fn exec_if(&mut self, op: Op) {
        let cond = self
            .m
            .dfg
            .operands(op)
            .first()
            .and_then(|&c| self.scalar_bits(c));
        let regions = self.m.dfg.ops[op].regions.clone();
        let results = self.m.dfg.results(op).to_vec();
        let branch = match cond {
            Some(c) if c & 1 != 0 => regions.first().copied(),
            Some(_) => regions.get(1).copied(),
            None => None,
        };
        let yielded = branch
            .and_then(|r| self.m.layout.entry_block(r))
            .and_then(|b| self.run_block(b));
        for (i, r) in results.into_iter().enumerate() {
            let v = yielded
                .as_ref()
                .and_then(|y| y.get(i).cloned())
                .unwrap_or(Ev::Unknown);
            self.values.insert(r, v);
        }
    }

    fn exec_while(&mut self, op: Op) {
        let regions = self.m.dfg.ops[op].regions.clone();
        let results = self.m.dfg.results(op).to_vec();
        let mut carried: Vec<Ev> = self
            .m
            .dfg
            .operands(op)
            .iter()
            .map(|&v| self.get(v))
            .collect();
        let (Some(before), Some(after)) = (
            regions.first().and_then(|&r| self.m.layout.entry_block(r)),
            regions.get(1).and_then(|&r| self.m.layout.entry_block(r)),
        ) else {
            return self.set_results_unknown(op);
        };
        let slots = self.begin_registers(op);
        let mut finished = None;
        for _ in 0..=self.launch.max_iterations {
            for (i, &a) in self.m.dfg.blocks[before].args.clone().iter().enumerate() {
                self.values
                    .insert(a, carried.get(i).cloned().unwrap_or(Ev::Unknown));
            }
            let Some(cond_out) = self.run_block(before) else {
                break;
            };
            let go = match cond_out.first() {
                Some(Ev::Known(t)) if t.data.len() == 1 => t.data[0] & 1 != 0,
                _ => break,
            };
            if !go {
                finished = Some(cond_out[1..].to_vec());
                break;
            }
            for (i, &a) in self.m.dfg.blocks[after].args.clone().iter().enumerate() {
                self.values
                    .insert(a, cond_out.get(i + 1).cloned().unwrap_or(Ev::Unknown));
            }
            match self.run_block(after) {
                Some(y) => carried = y,
                None => break,
            }
            self.advance_registers(&slots);
        }
        for (i, r) in results.into_iter().enumerate() {
            let v = finished
                .as_ref()
                .and_then(|f| f.get(i).cloned())
                .unwrap_or(Ev::Unknown);
            self.values.insert(r, v);
        }
    }

    /// The carried registers the analysis gave `loop_op`, initialized.
    fn begin_registers(&mut self, loop_op: Op) -> Vec<(Atom, ScalarExpr)> {
        let slots: Vec<(Atom, ScalarExpr, ScalarExpr)> = self
            .map
            .carried
            .values()
            .filter(|c| c.for_op == loop_op)
            .flat_map(|c| {
                c.slots.iter().map(move |s| {
                    (
                        Atom::Carried {
                            arg: c.arg,
                            slot: s.slot,
                        },
                        s.init.clone(),
                        s.next.clone(),
                    )
                })
            })
            .collect();
        for (atom, init, _) in &slots {
            match init.eval(&|a| self.atom(a)) {
                Some(v) => {
                    self.registers.insert(*atom, v);
                }
                None => {
                    self.registers.remove(atom);
                }
            }
        }
        slots
            .into_iter()
            .map(|(atom, _, next)| (atom, next))
            .collect()
    }

    /// Moves every carried register to its next value (all at once).
    fn advance_registers(&mut self, slots: &[(Atom, ScalarExpr)]) {
        let next: Vec<(Atom, Option<u64>)> = slots
            .iter()
            .map(|(atom, next)| (*atom, next.eval(&|a| self.atom(a))))
            .collect();
        for (atom, v) in next {
            match v {
                Some(v) => {
                    self.registers.insert(atom, v);
                }
                None => {
                    self.registers.remove(&atom);
                }
            }
        }
    }

    fn exec_for(&mut self, op: Op) {
        let operands = self.m.dfg.operands(op).to_vec();
        let results = self.m.dfg.results(op).to_vec();
        let Some(body) = self.m.dfg.ops[op]
            .regions
            .first()
            .and_then(|&r| self.m.layout.entry_block(r))
        else {
            return self.set_results_unknown(op);
        };
        let (Some(lb), Some(ub), Some(step)) = (
            self.signed(operands[0]),
            self.signed(operands[1]),
            self.signed(operands[2]),
        ) else {
            return self.set_results_unknown(op);
        };
        let iv_width = width_of(self.m.dfg.value_type(operands[0]));
        let mut iter: Vec<Ev> = operands[3..].iter().map(|&v| self.get(v)).collect();
        let slots = self.begin_registers(op);
        let args = self.m.dfg.blocks[body].args.clone();
        let mut iv = lb;
        let mut iterations = 0;
        let mut complete = true;
        while iv < ub && step > 0 {
            if iterations == self.launch.max_iterations {
                complete = false;
                break;
            }
            self.values
                .insert(args[0], scalar((iv as u64) & mask(iv_width)));
            for (i, &a) in args[1..].iter().enumerate() {
                self.values
                    .insert(a, iter.get(i).cloned().unwrap_or(Ev::Unknown));
            }
            let Some(yielded) = self.run_block(body) else {
                complete = false;
                break;
            };
            self.advance_registers(&slots);
            iter = yielded;
            iv = iv.wrapping_add(step);
            iterations += 1;
        }
        for (i, r) in results.into_iter().enumerate() {
            let v = if complete {
                iter.get(i).cloned().unwrap_or(Ev::Unknown)
            } else {
                Ev::Unknown
            };
            self.values.insert(r, v);
        }
    }

    // ---- checking ----------------------------------------------------------

    /// The elements an op actually accesses, from the evaluated operands.
    fn actual(&self, op: Op) -> Option<Actual> {
        use Opcode::*;
        let dfg = &self.m.dfg;
        let opcode = dfg.opcode(op);
        let operands = dfg.operands(op);
        let elem_width = |v: Value| width_of(dfg.value_type(v));
        match opcode {
            DescriptorLoad | DescriptorStore => {
                let Ev::Desc(d) = self.get(operands[0]) else {
                    return None;
                };
                let first = if opcode == DescriptorStore { 2 } else { 1 };
                let origin: Option<Vec<i64>> =
                    operands[first..].iter().map(|&v| self.signed(v)).collect();
                let checked = vec![true; d.block.len()];
                let elements = box_elements(
                    d.base,
                    &d.shape,
                    &d.strides,
                    &origin?,
                    &d.block,
                    &checked,
                    d.elem_size,
                );
                let fill = (opcode == DescriptorLoad).then(|| {
                    let ty = dfg.value_type(dfg.results(op)[0]).element().clone();
                    match ty.float_type() {
                        Some(f) if d.pad_nan => canonical_nan(f),
                        _ => 0,
                    }
                });
                Some(Actual { elements, fill })
            }
            Load | Store | AtomicRmw | AtomicCas => match self.get(operands[0]) {
                Ev::Block(bp) => {
                    let rank = bp.block.len();
                    let mut checked = vec![false; rank];
                    for d in dfg
                        .attr(op, "boundaryCheck")
                        .and_then(Attribute::as_int_list)
                        .unwrap_or_default()
                    {
                        if let Some(c) = usize::try_from(d).ok().and_then(|d| checked.get_mut(d)) {
                            *c = true;
                        }
                    }
                    let elements = box_elements(
                        bp.base,
                        &bp.shape,
                        &bp.strides,
                        &bp.offsets,
                        &bp.block,
                        &checked,
                        bp.elem_size,
                    );
                    let nan = matches!(dfg.attr(op, "padding"), Some(a) if a.as_str() == Some("nan") || a.as_int() == Some(2));
                    let fill = (opcode == Load).then(|| {
                        let ty = dfg.value_type(dfg.results(op)[0]).element().clone();
                        match ty.float_type() {
                            Some(f) if nan => canonical_nan(f),
                            _ => 0,
                        }
                    });
                    Some(Actual { elements, fill })
                }
                Ev::Known(ptrs) => {
                    let mask_operand = match opcode {
                        Load => operands.get(1),
                        Store | AtomicRmw => operands.get(2),
                        _ => None,
                    };
                    let mask_tensor = match mask_operand {
                        Some(&m) => Some(self.known(m)?),
                        None => None,
                    };
                    let elements = ptrs
                        .data
                        .iter()
                        .enumerate()
                        .map(|(i, &a)| {
                            let on = mask_tensor.as_ref().is_none_or(|m| {
                                let b = if m.data.len() == 1 {
                                    m.data[0]
                                } else {
                                    m.data[i]
                                };
                                b & 1 != 0
                            });
                            on.then_some(a)
                        })
                        .collect();
                    let fill = match (opcode, operands.get(2)) {
                        (Load, Some(&other)) => self.known(other).and_then(|t| {
                            let first = t.data[0];
                            t.data
                                .iter()
                                .all(|&b| b == first)
                                .then_some(first & mask(elem_width(other)))
                        }),
                        (Load, None) => Some(0),
                        _ => None,
                    };
                    Some(Actual { elements, fill })
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn check_access(&mut self, op: Op) {
        if !self.checking {
            return;
        }
        let Some(access) = self.map.get(op) else {
            return;
        };
        let outcome = match access {
            MemAccess::Strided(s) => match self.actual(op) {
                Some(actual) => self.compare(op, s, &actual),
                None => Outcome::Unknown,
            },
            MemAccess::Gather(_) | MemAccess::Scatter(_) => Outcome::Indirect,
        };
        match outcome {
            Outcome::Checked => self.report.checked += 1,
            Outcome::GuardedOut => self.report.guarded_out += 1,
            Outcome::Indirect => self.report.indirect += 1,
            Outcome::Unknown => self.report.unknown += 1,
            Outcome::Mismatch(m) => self.report.mismatches.push(m),
        }
    }

    /// Compares one execution of a strided access with what it actually does.
    fn compare(&self, op: Op, s: &StridedAccess, actual: &Actual) -> Outcome {
        let env = |a: Atom| self.atom(a);
        match s.guards_hold(&env) {
            None => return Outcome::Unknown,
            Some(false) => return Outcome::GuardedOut,
            Some(true) => {}
        }
        let shape: Vec<usize> = s.dims.iter().map(|d| d.size as usize).collect();
        let n: usize = shape.iter().product();
        let subject = self
            .m
            .dfg
            .results(op)
            .first()
            .copied()
            .unwrap_or(self.m.dfg.operands(op)[0]);
        let what = format!(
            "{} ({})",
            self.map.names.name(subject),
            self.m.dfg.opcode(op).name()
        );
        if actual.elements.len() != n {
            return Outcome::Mismatch(format!(
                "{what}: {} elements, analysis says {n}",
                actual.elements.len()
            ));
        }
        let mut any_masked = false;
        for (flat, got) in actual.elements.iter().enumerate() {
            let idx = unflatten(&shape, flat);
            let valid = s.is_valid(&idx, &env);
            let addr = s.address(&idx, &env);
            match (got, valid, addr) {
                (_, None, _) => return Outcome::Unknown,
                (None, Some(false), _) => any_masked = true,
                (Some(a), Some(true), Some(p)) if *a == p => {}
                (got, valid, addr) => {
                    return Outcome::Mismatch(format!(
                        "{what} element {idx:?}: actual {got:x?}, analysis valid {valid:?} address {addr:x?}"
                    ))
                }
            }
        }
        if let (true, Some(Fill::Value(e)), Some(actual_fill)) = (any_masked, &s.fill, actual.fill)
        {
            if e.eval(&env) != Some(actual_fill) {
                return Outcome::Mismatch(format!(
                    "{what}: fill {:x?} but masked elements get {actual_fill:x}",
                    e.eval(&env)
                ));
            }
        }
        Outcome::Checked
    }
}

enum Outcome {
    Checked,
    GuardedOut,
    Indirect,
    Unknown,
    Mismatch(String),
}

/// Addresses of a block of a strided global tensor (the interpreter's
/// `BlockAccess`): `None` where a checked coordinate is out of bounds.
fn box_elements(
    base: u64,
    shape: &[i64],
    strides: &[i64],
    origin: &[i64],
    block: &[usize],
    checked: &[bool],
    elem_size: u64,
) -> Vec<Option<u64>> {
    let n: usize = block.iter().product();
    (0..n)
        .map(|flat| {
            let idx = unflatten(block, flat);
            let mut offset: i64 = 0;
            let mut inside = true;
            for (d, &i) in idx.iter().enumerate() {
                let coord = origin[d].wrapping_add(i);
                if checked[d] && (coord < 0 || coord >= shape[d]) {
                    inside = false;
                }
                offset = offset.wrapping_add(coord.wrapping_mul(strides[d]));
            }
            inside.then(|| base.wrapping_add((offset as u64).wrapping_mul(elem_size)))
        })
        .collect()
}
