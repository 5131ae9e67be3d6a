//! The execution engine: frames of SSA values, op dispatch and structured
//! and unstructured control flow (`scf.for/if/while`, `cf.br/cond_br`,
//! `tt.call`/`tt.return`).
//!
//! Each function activation has a frame: a vector indexed by [`Value`]
//! holding the current runtime value of every SSA value (nested regions
//! share their function's frame; loop bodies simply overwrite their values
//! each iteration). Ops are dispatched by opcode to the handlers in the
//! sibling modules.

use cranelift_entity::EntityRef;
use maiac_ir::semantics::int::{mask, sign_extend};
use maiac_ir::semantics::ElementwiseOp;
use maiac_ir::{Attribute, Block, Diagnostic, Module, Op, Opcode, Region, Type, Value};

use super::memory::Memory;
use super::value::{RValue, Tensor};

/// The maximum depth of nested `tt.call`s (recursion is bounded so a
/// runaway kernel reports an error instead of overflowing the stack).
pub const MAX_CALL_DEPTH: usize = 64;

/// The values of one function activation, indexed by [`Value`].
pub(super) type Frame = Vec<Option<RValue>>;

/// What executing an op (or a block) tells its caller to do next.
pub(super) enum Flow {
    /// Go on with the next op.
    Next,
    /// The region finished with these values (`scf.yield`, `scf.condition`,
    /// `tt.reduce.return`, `tt.scan.return`, `tt.map_elementwise.return`, or
    /// the end of a block).
    Yield(Vec<RValue>),
    /// `tt.return` from the current function.
    Return(Vec<RValue>),
    /// `cf.br` / `cf.cond_br` to a block of the current region.
    Branch(Block, Vec<RValue>),
}

/// Interpreter state for one launch.
pub(super) struct Interp<'m> {
    pub module: &'m Module,
    pub memory: Memory,
    pub grid: [u32; 3],
    pub pid: [u32; 3],
    /// Elementwise ops resolved on first execution, by op index.
    elementwise_cache: Vec<Option<ElementwiseOp>>,
    /// Constants materialized on first execution, by op index.
    constant_cache: Vec<Option<RValue>>,
    call_depth: usize,
    /// Loop iterations and branches taken so far by the current program.
    pub steps: u64,
    /// The endless-loop guard: more steps than this is an error.
    pub max_steps: u64,
}

impl<'m> Interp<'m> {
    pub fn new(module: &'m Module, memory: Memory, grid: [u32; 3]) -> Interp<'m> {
        let num_ops = module.dfg.ops.len();
        Interp {
            module,
            memory,
            grid,
            pid: [0; 3],
            elementwise_cache: vec![None; num_ops],
            constant_cache: vec![None; num_ops],
            call_depth: 0,
            steps: 0,
            max_steps: super::DEFAULT_MAX_STEPS,
        }
    }

    // ---- diagnostics -------------------------------------------------

    /// An error located at `op`: TTIR position and Python source line.
    pub fn error(&self, op: Op, message: impl Into<String>) -> Diagnostic {
        let name = self.module.dfg.opcode(op).name();
        let mut d = self
            .module
            .op_diagnostic(op, format!("{name}: {}", message.into()));
        if self.grid.iter().product::<u32>() > 1 {
            let [x, y, z] = self.pid;
            d = d.note(format!("in program ({x}, {y}, {z})"));
        }
        d
    }

    /// Counts one loop iteration or branch of `op`; an error past the limit
    /// (a kernel that never ends would otherwise hang the interpreter).
    fn step(&mut self, op: Op) -> Result<(), Diagnostic> {
        self.steps += 1;
        if self.steps > self.max_steps {
            return Err(self
                .error(
                    op,
                    format!(
                        "the program exceeded the limit of {} loop iterations and branches (an endless loop?)",
                        self.max_steps
                    ),
                )
                .note("raise the limit with --max-steps N"));
        }
        Ok(())
    }

    // ---- frame access --------------------------------------------------

    pub fn new_frame(&self) -> Frame {
        vec![None; self.module.dfg.values.len()]
    }

    pub fn value(&self, frame: &Frame, op: Op, v: Value) -> Result<RValue, Diagnostic> {
        frame[v.index()]
            .clone()
            .ok_or_else(|| self.error(op, format!("operand {v} is used before it is defined")))
    }

    pub fn tensor(
        &self,
        frame: &Frame,
        op: Op,
        v: Value,
    ) -> Result<std::rc::Rc<Tensor>, Diagnostic> {
        match self.value(frame, op, v)? {
            RValue::Tensor(t) => Ok(t),
            _ => Err(self.error(
                op,
                format!("operand {v} is a block pointer or descriptor, not a tensor"),
            )),
        }
    }

    /// The operand `index` of `op` as a tensor.
    pub fn operand(
        &self,
        frame: &Frame,
        op: Op,
        index: usize,
    ) -> Result<std::rc::Rc<Tensor>, Diagnostic> {
        let v = *self
            .module
            .dfg
            .operands(op)
            .get(index)
            .ok_or_else(|| self.error(op, format!("missing operand #{index}")))?;
        self.tensor(frame, op, v)
    }

    /// Operand `index` as a scalar's bits.
    pub fn scalar_operand(&self, frame: &Frame, op: Op, index: usize) -> Result<u64, Diagnostic> {
        let t = self.operand(frame, op, index)?;
        if t.len() != 1 {
            return Err(self.error(op, format!("operand #{index} must be a scalar")));
        }
        Ok(t.scalar_bits())
    }

    pub fn set(&self, frame: &mut Frame, v: Value, value: RValue) {
        frame[v.index()] = Some(value);
    }

    /// Sets the single result of `op`.
    pub fn set_result(&self, frame: &mut Frame, op: Op, value: RValue) -> Result<(), Diagnostic> {
        let v = self
            .module
            .dfg
            .result(op)
            .ok_or_else(|| self.error(op, "expected exactly one result"))?;
        self.set(frame, v, value);
        Ok(())
    }

    pub fn set_results(
        &self,
        frame: &mut Frame,
        op: Op,
        values: Vec<RValue>,
    ) -> Result<(), Diagnostic> {
        let results = self.module.dfg.results(op);
        if results.len() != values.len() {
            return Err(self.error(
                op,
                format!(
                    "produced {} values for {} results",
                    values.len(),
                    results.len()
                ),
            ));
        }
        for (&r, value) in results.iter().zip(values) {
            frame[r.index()] = Some(value);
        }
        Ok(())
    }

    /// The type of `op`'s result `index`.
    pub fn result_type(&self, op: Op, index: usize) -> Result<&'m Type, Diagnostic> {
        let module = self.module;
        module
            .dfg
            .results(op)
            .get(index)
            .map(|&v| module.dfg.value_type(v))
            .ok_or_else(|| self.error(op, format!("missing result #{index}")))
    }

    /// The type of `op`'s operand `index`.
    pub fn operand_type(&self, op: Op, index: usize) -> Result<&'m Type, Diagnostic> {
        let module = self.module;
        module
            .dfg
            .operands(op)
            .get(index)
            .map(|&v| module.dfg.value_type(v))
            .ok_or_else(|| self.error(op, format!("missing operand #{index}")))
    }

    /// An integer attribute.
    pub fn int_attr(&self, op: Op, name: &str) -> Result<i64, Diagnostic> {
        self.module.dfg.ops[op]
            .attrs
            .int(name)
            .and_then(|v| i64::try_from(v).ok())
            .ok_or_else(|| self.error(op, format!("missing integer attribute `{name}`")))
    }

    /// A list-of-integers attribute (`array<i32: ...>` or `[...]`), if present.
    pub fn int_list_attr(&self, op: Op, name: &str) -> Option<Vec<i64>> {
        self.module.dfg.ops[op]
            .attrs
            .get(name)
            .and_then(Attribute::as_int_list)
    }

    // ---- execution -----------------------------------------------------

    /// Runs `func` with `args`, returning what its `tt.return` returns.
    pub fn call_function(
        &mut self,
        call_site: Option<Op>,
        func: Op,
        args: Vec<RValue>,
    ) -> Result<Vec<RValue>, Diagnostic> {
        if self.call_depth >= MAX_CALL_DEPTH {
            let site = call_site.unwrap_or(func);
            return Err(self.error(
                site,
                format!("calls nested deeper than {MAX_CALL_DEPTH} (runaway recursion?)"),
            ));
        }
        let region = *self.module.dfg.ops[func].regions.first().ok_or_else(|| {
            self.error(
                call_site.unwrap_or(func),
                format!("function @{} has no body", self.module.func_name(func)),
            )
        })?;
        self.call_depth += 1;
        let mut frame = self.new_frame();
        let result = self.run_region(&mut frame, func, region, args);
        self.call_depth -= 1;
        result
    }

    /// Runs a region from its entry block with `args` bound to the entry
    /// block's arguments, following branches, until it yields or returns.
    pub fn run_region(
        &mut self,
        frame: &mut Frame,
        owner: Op,
        region: Region,
        args: Vec<RValue>,
    ) -> Result<Vec<RValue>, Diagnostic> {
        let module = self.module;
        let Some(mut block) = module.layout.entry_block(region) else {
            return Ok(Vec::new());
        };
        let mut args = args;
        loop {
            let params = &module.dfg.blocks[block].args;
            if params.len() != args.len() {
                return Err(self.error(
                    owner,
                    format!(
                        "block takes {} arguments but {} were passed",
                        params.len(),
                        args.len()
                    ),
                ));
            }
            for (&p, a) in params.iter().zip(args) {
                frame[p.index()] = Some(a);
            }
            match self.run_block(frame, block)? {
                Flow::Next => return Ok(Vec::new()),
                Flow::Yield(values) | Flow::Return(values) => return Ok(values),
                Flow::Branch(target, values) => {
                    self.step(owner)?;
                    block = target;
                    args = values;
                }
            }
        }
    }

    fn run_block(&mut self, frame: &mut Frame, block: Block) -> Result<Flow, Diagnostic> {
        for &op in self.module.layout.ops(block) {
            match self.exec_op(frame, op)? {
                Flow::Next => {}
                flow => return Ok(flow),
            }
        }
        // A block without a terminator is an implicit `scf.yield` of nothing.
        Ok(Flow::Yield(Vec::new()))
    }

    fn operand_values(&self, frame: &Frame, op: Op) -> Result<Vec<RValue>, Diagnostic> {
        self.module
            .dfg
            .operands(op)
            .iter()
            .map(|&v| self.value(frame, op, v))
            .collect()
    }

    fn exec_op(&mut self, frame: &mut Frame, op: Op) -> Result<Flow, Diagnostic> {
        use Opcode::*;
        let opcode = self.module.dfg.opcode(op);
        match opcode {
            Return => return Ok(Flow::Return(self.operand_values(frame, op)?)),
            Yield | Condition | ReduceReturn | ScanReturn | MapElementwiseReturn => {
                return Ok(Flow::Yield(self.operand_values(frame, op)?))
            }
            Br => {
                let target = self.successor(op, 0)?;
                return Ok(Flow::Branch(target, self.operand_values(frame, op)?));
            }
            CondBr => return self.exec_cond_br(frame, op),
            For => self.exec_for(frame, op)?,
            If => self.exec_if(frame, op)?,
            While => self.exec_while(frame, op)?,
            Call => self.exec_call(frame, op)?,
            Func => return Err(self.error(op, "nested functions are not supported")),
            GetProgramId | GetNumPrograms => {
                let axis = self.int_attr(op, "axis")?;
                let axis = usize::try_from(axis)
                    .ok()
                    .filter(|&a| a < 3)
                    .ok_or_else(|| self.error(op, format!("axis {axis} is not 0, 1 or 2")))?;
                let v = if opcode == GetProgramId {
                    self.pid[axis]
                } else {
                    self.grid[axis]
                };
                self.set_result(frame, op, RValue::scalar(u64::from(v)))?;
            }
            Constant => self.exec_constant(frame, op)?,
            Poison => self.exec_poison(frame, op)?,
            // One program instance runs sequentially: a barrier among its
            // threads orders nothing further.
            Assume | Barrier | GpuBarrier => {}
            MulSIExtended | MulUIExtended => self.exec_mul_extended(frame, op)?,
            MakeRange => self.exec_make_range(frame, op)?,
            Splat => self.exec_splat(frame, op)?,
            Unsplat => self.exec_unsplat(frame, op)?,
            Broadcast => self.exec_broadcast(frame, op)?,
            ExpandDims | Reshape => self.exec_reshape(frame, op)?,
            Trans => self.exec_trans(frame, op)?,
            Cat => self.exec_cat(frame, op)?,
            Join => self.exec_join(frame, op)?,
            Split => self.exec_split(frame, op)?,
            Gather => self.exec_gather(frame, op)?,
            Histogram => self.exec_histogram(frame, op)?,
            Load => self.exec_load(frame, op)?,
            Store => self.exec_store(frame, op)?,
            AtomicRmw => self.exec_atomic_rmw(frame, op)?,
            AtomicCas => self.exec_atomic_cas(frame, op)?,
            MakeTensorPtr => self.exec_make_tensor_ptr(frame, op)?,
            Advance => self.exec_advance(frame, op)?,
            MakeTensorDescriptor => self.exec_make_tensor_descriptor(frame, op)?,
            DescriptorLoad => self.exec_descriptor_load(frame, op)?,
            DescriptorStore => self.exec_descriptor_store(frame, op)?,
            DescriptorGather => self.exec_descriptor_gather(frame, op)?,
            DescriptorScatter => self.exec_descriptor_scatter(frame, op)?,
            DescriptorReduce => self.exec_descriptor_reduce(frame, op)?,
            Dot => self.exec_dot(frame, op)?,
            DotScaled => self.exec_dot_scaled(frame, op)?,
            Reduce => self.exec_reduce(frame, op)?,
            Scan => self.exec_scan(frame, op)?,
            MapElementwise => self.exec_map_elementwise(frame, op)?,
            Assert => self.exec_assert(frame, op)?,
            Print => self.exec_print(frame, op)?,
            _ if opcode.is_elementwise() => self.exec_elementwise(frame, op)?,
            other => {
                return Err(self.error(
                    op,
                    format!("the interpreter does not support {}", other.name()),
                ))
            }
        }
        Ok(Flow::Next)
    }

    /// The elementwise op of `op`, resolved once.
    pub fn elementwise_op(&mut self, op: Op) -> Result<ElementwiseOp, Diagnostic> {
        if let Some(e) = self.elementwise_cache[op.index()] {
            return Ok(e);
        }
        let dfg = &self.module.dfg;
        let operand_types: Vec<Type> = dfg
            .operands(op)
            .iter()
            .map(|&v| dfg.value_type(v).clone())
            .collect();
        let result = self.result_type(op, 0)?;
        let resolved =
            ElementwiseOp::resolve(dfg.opcode(op), &dfg.ops[op].attrs, &operand_types, result)
                .map_err(|e| self.error(op, e))?;
        self.elementwise_cache[op.index()] = Some(resolved);
        Ok(resolved)
    }

    /// A constant's value, materialized once.
    pub fn cached_constant(&self, op: Op) -> Option<RValue> {
        self.constant_cache[op.index()].clone()
    }

    pub fn cache_constant(&mut self, op: Op, value: RValue) {
        self.constant_cache[op.index()] = Some(value);
    }

    fn successor(&self, op: Op, index: usize) -> Result<Block, Diagnostic> {
        self.module.dfg.ops[op]
            .successors
            .get(index)
            .copied()
            .ok_or_else(|| self.error(op, format!("missing successor #{index}")))
    }

    fn exec_cond_br(&mut self, frame: &mut Frame, op: Op) -> Result<Flow, Diagnostic> {
        let cond = self.scalar_operand(frame, op, 0)?;
        let (on_true, on_false) = (self.successor(op, 0)?, self.successor(op, 1)?);
        let operands = self.operand_values(frame, op)?;
        let true_count = match self.int_list_attr(op, "operandSegmentSizes") {
            Some(sizes) if sizes.len() == 3 => sizes[1] as usize,
            _ => self.module.dfg.blocks[on_true].args.len(),
        };
        let rest = &operands[1..];
        if true_count > rest.len() {
            return Err(self.error(op, "operand segments do not match the operands"));
        }
        let (true_args, false_args) = rest.split_at(true_count);
        Ok(if cond & 1 != 0 {
            Flow::Branch(on_true, true_args.to_vec())
        } else {
            Flow::Branch(on_false, false_args.to_vec())
        })
    }

    fn region(&self, op: Op, index: usize) -> Result<Region, Diagnostic> {
        self.module.dfg.ops[op]
            .regions
            .get(index)
            .copied()
            .ok_or_else(|| self.error(op, format!("missing region #{index}")))
    }

    fn exec_for(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let ty = self.operand_type(op, 0)?;
        let width = ty.int_width().ok_or_else(|| {
            self.error(
                op,
                format!("induction variable type {ty} is not an integer"),
            )
        })?;
        let unsigned = self.module.dfg.ops[op].attrs.get("unsignedCmp").is_some();
        let read = |bits: u64| -> i128 {
            if unsigned {
                i128::from(bits & mask(width))
            } else {
                i128::from(sign_extend(bits, width))
            }
        };
        let lb = read(self.scalar_operand(frame, op, 0)?);
        let ub = read(self.scalar_operand(frame, op, 1)?);
        let step = read(self.scalar_operand(frame, op, 2)?);
        let operands = self.operand_values(frame, op)?;
        let mut carried: Vec<RValue> = operands[3..].to_vec();
        if lb < ub && step <= 0 {
            return Err(self.error(
                op,
                format!("step {step} is not positive: the loop would never end"),
            ));
        }
        let body = self.region(op, 0)?;
        let mut iv = lb;
        while iv < ub {
            self.step(op)?;
            let mut args = Vec::with_capacity(carried.len() + 1);
            args.push(RValue::scalar((iv as u64) & mask(width)));
            args.extend(carried);
            carried = self.run_region(frame, op, body, args)?;
            iv += step;
        }
        self.set_results(frame, op, carried)
    }

    fn exec_if(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let cond = self.scalar_operand(frame, op, 0)?;
        let index = if cond & 1 != 0 { 0 } else { 1 };
        let regions = &self.module.dfg.ops[op].regions;
        let values = match regions.get(index) {
            Some(&region) => self.run_region(frame, op, region, Vec::new())?,
            None => Vec::new(),
        };
        self.set_results(frame, op, values)
    }

    fn exec_while(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let (before, after) = (self.region(op, 0)?, self.region(op, 1)?);
        let mut args = self.operand_values(frame, op)?;
        loop {
            self.step(op)?;
            let mut cond_and_args = self.run_region(frame, op, before, args)?;
            if cond_and_args.is_empty() {
                return Err(self.error(op, "the `before` region must end with scf.condition"));
            }
            let forwarded = cond_and_args.split_off(1);
            let cond = match &cond_and_args[0] {
                RValue::Tensor(t) if t.len() == 1 => t.scalar_bits(),
                _ => return Err(self.error(op, "scf.condition needs a scalar i1 condition")),
            };
            if cond & 1 == 0 {
                return self.set_results(frame, op, forwarded);
            }
            args = self.run_region(frame, op, after, forwarded)?;
        }
    }

    fn exec_call(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let callee = match self.module.dfg.attr(op, "callee") {
            Some(Attribute::Symbol(name) | Attribute::String(name)) => name.clone(),
            _ => return Err(self.error(op, "missing `callee` attribute")),
        };
        let func = self
            .module
            .function(&callee)
            .ok_or_else(|| self.error(op, format!("unknown function @{callee}")))?;
        let args = self.operand_values(frame, op)?;
        let results = self.call_function(Some(op), func, args)?;
        self.set_results(frame, op, results)
    }
}
