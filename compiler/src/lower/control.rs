//! Structured control flow (`scf.for`, `scf.if`, `scf.while`), calls
//! (inlined), asserts, prints, assumptions and poison.
//!
//! Values that flow through control flow (loop-carried values, `scf.if`
//! and `scf.while` results) get *fixed* locations created before the
//! construct: a register for an integer/pointer/`i1` scalar, a fresh dense
//! buffer for a tensor or float scalar, nothing for block pointers and
//! descriptors (the access analysis describes those; their loop-carried
//! address registers are maintained by `begin_carried`/`end_carried` in
//! memory.rs). Every path writes its values into those locations at its end:
//! `Mov` for registers, TVP `Copy` for buffers. A loop's yield is a
//! *parallel* copy: a yielded value that lives in another carried location
//! is snapshotted into a temporary before any carried location is written.
//!
//! - `scf.for` with a step that is not a positive constant checks at run
//!   time, like the interpreter: a non-empty range with a step ≤ 0 traps
//!   ([`TRAP_BAD_STEP`]).
//! - `tt.call` inlines the callee with its parameters bound to the
//!   arguments' locations (the access analysis may see calls as opaque;
//!   loads inside the callee then take the gather path).
//! - `tt.assert` reduces its condition with a TVP `and` and traps
//!   ([`TRAP_ASSERT`]) when it is false.
//! - `tt.print` has no device output on this machine and is dropped;
//!   `llvm.intr.assume` is only a hint; `ub.poison` is all-zero bits, as in
//!   the interpreter.
//! - Unstructured control flow (`cf.br` / `cf.cond_br` across several
//!   blocks) is refused with a located diagnostic.

use maiac_backend::isa::{AluOp, DType, LaneInstr, LaneOp, LaneSrc, MicroProgram};
use maiac_ir::semantics::int::IntBinaryOp;
use maiac_ir::{Attribute, Block, Diagnostic, Op, Opcode, Type, Value};

use super::memory::{broadcast_view, reshape_view};
use super::{scalar_dtype, scalar_width, Lowerer, ValueLoc};
use crate::tile::{BView, BufSpace, SOp, TOp, TOpKind};

/// Trap code of a `scf.for` whose step is not positive on a non-empty range.
pub const TRAP_BAD_STEP: u32 = 0x4d41_0010;
/// Trap code of a failed `tt.assert`.
pub const TRAP_ASSERT: u32 = 0x4d41_0011;

/// How deep `tt.call`s inline (the interpreter's call-depth limit).
const MAX_INLINE_DEPTH: usize = crate::interp::MAX_CALL_DEPTH;

impl Lowerer<'_> {
    pub(super) fn lower_control(&mut self, op: Op) -> Result<(), Diagnostic> {
        match self.module.dfg.opcode(op) {
            Opcode::For => self.lower_for(op),
            Opcode::If => self.lower_if(op),
            Opcode::While => self.lower_while(op),
            Opcode::Call => self.lower_call(op),
            Opcode::Assert => self.lower_assert(op),
            // No device output: prints are dropped (documented above).
            // A barrier among one program's threads: the tile's engines
            // already order its accesses (HBM only through the in-order DMA
            // queue; TSRAM through the scoreboard's semaphores).
            Opcode::Print | Opcode::Assume | Opcode::Barrier | Opcode::GpuBarrier => Ok(()),
            Opcode::Poison => self.lower_poison(op),
            other => Err(self.error(op, format!("`{}` is not a control-flow op", other.name()))),
        }
    }

    // ---- scf.for ----

    fn lower_for(&mut self, op: Op) -> Result<(), Diagnostic> {
        let unsigned = self.module.dfg.ops[op].attrs.get("unsignedCmp").is_some();
        let operands: Vec<Value> = self.module.dfg.operands(op).to_vec();
        if operands.len() < 3 {
            return Err(self.error(op, "scf.for needs a lower bound, an upper bound and a step"));
        }
        let iv_ty = self.ty(operands[0]).clone();
        let width = scalar_width(&iv_ty);
        if unsigned && width >= 64 {
            return Err(self.error(
                op,
                "scf.for with an unsigned 64-bit comparison cannot be lowered (the control processor compares 64-bit values signed)",
            ));
        }
        let (mut lb, mut ub, mut step) = (
            self.scalar(operands[0])?,
            self.scalar(operands[1])?,
            self.scalar(operands[2])?,
        );
        // `unsignedCmp`: bounds and step are unsigned `width`-bit values.
        // Zero-extended to 64 bits they compare (and count) correctly as
        // signed values; the body sees the induction variable in its
        // canonical (sign-extended) form.
        if unsigned {
            let low_bits = SOp::Imm(((1u64 << width) - 1) as i64);
            lb = self.alu(AluOp::And, lb, low_bits);
            ub = self.alu(AluOp::And, ub, low_bits);
            step = self.alu(AluOp::And, step, low_bits);
        }
        self.check_step(lb, ub, step);
        let body_block = self.single_block(op, 0)?;
        let args = self.module.dfg.blocks[body_block].args.clone();
        if args.len() != operands.len() - 2 {
            return Err(self.error(
                op,
                "the loop body's arguments do not match the iteration arguments",
            ));
        }
        let carried = self.init_carried(&operands[3..])?;
        self.begin_carried(op)?;
        let iv = self.new_sreg(if unsigned { 64 } else { width }, "iv");
        let body = self.with_body(|cx| {
            let iv_value = if unsigned {
                cx.normalize(SOp::Reg(iv), width)
            } else {
                SOp::Reg(iv)
            };
            cx.set(args[0], ValueLoc::Scalar(iv_value));
            for (&arg, loc) in args[1..].iter().zip(&carried) {
                cx.set(arg, loc.clone());
            }
            cx.lower_block_ops(body_block)?;
            cx.end_carried(op)?;
            let yielded = cx.terminator_operands(body_block, Opcode::Yield)?;
            cx.parallel_copy(op, &yielded, &carried)
        })?;
        self.emit(TOpKind::For {
            iv,
            lb,
            ub,
            step,
            body,
        });
        self.bind_results(op, &carried);
        Ok(())
    }

    /// Traps when the range is non-empty and the step is not positive (a
    /// positive constant step needs no check).
    fn check_step(&mut self, lb: SOp, ub: SOp, step: SOp) {
        if matches!(step, SOp::Imm(s) if s > 0) {
            return;
        }
        let non_empty = self.alu(AluOp::LtS, lb, ub);
        let bad_step = self.alu(AluOp::LeS, step, SOp::Imm(0));
        let bad = self.alu(AluOp::And, non_empty, bad_step);
        match bad {
            SOp::Imm(0) => {}
            SOp::Imm(_) => self.emit(TOpKind::Trap {
                code: TRAP_BAD_STEP,
            }),
            cond => {
                let then_body = vec![TOp {
                    kind: TOpKind::Trap {
                        code: TRAP_BAD_STEP,
                    },
                    loc: self.current_loc,
                }];
                self.emit(TOpKind::If {
                    cond,
                    then_body,
                    else_body: Vec::new(),
                });
            }
        }
    }

    /// Fresh carried locations initialised with `inits`.
    fn init_carried(&mut self, inits: &[Value]) -> Result<Vec<ValueLoc>, Diagnostic> {
        let mut carried = Vec::with_capacity(inits.len());
        for &init in inits {
            let loc = match self.loc(init)? {
                ValueLoc::Scalar(src) => {
                    let dst = self.new_sreg(scalar_width(self.ty(init)), "carry");
                    self.emit(TOpKind::Mov { dst, src });
                    ValueLoc::Scalar(SOp::Reg(dst))
                }
                ValueLoc::Tensor(src) => {
                    let ty = self.ty(init).clone();
                    let dst = self.new_tensor_buf(&ty, "carry")?;
                    self.emit(TOpKind::Copy {
                        src,
                        dst: dst.clone(),
                    });
                    ValueLoc::Tensor(dst)
                }
                ValueLoc::Opaque => ValueLoc::Opaque,
            };
            carried.push(loc);
        }
        Ok(carried)
    }

    /// Writes `values` into the locations `targets` as if all at once.
    fn parallel_copy(
        &mut self,
        op: Op,
        values: &[Value],
        targets: &[ValueLoc],
    ) -> Result<(), Diagnostic> {
        if values.len() != targets.len() {
            return Err(self.error(
                op,
                format!(
                    "{} values yielded for {} results",
                    values.len(),
                    targets.len()
                ),
            ));
        }
        let mut sources = Vec::with_capacity(values.len());
        for &v in values {
            sources.push(self.loc(v)?);
        }
        // Snapshot sources that live in another target's location.
        for i in 0..sources.len() {
            let clobbered = targets
                .iter()
                .enumerate()
                .any(|(j, t)| j != i && overlaps(&sources[i], t));
            if !clobbered {
                continue;
            }
            sources[i] = match &sources[i] {
                ValueLoc::Scalar(src) => {
                    let tmp = self.new_sreg(scalar_width(self.ty(values[i])), "pcopy");
                    self.emit(TOpKind::Mov {
                        dst: tmp,
                        src: *src,
                    });
                    ValueLoc::Scalar(SOp::Reg(tmp))
                }
                ValueLoc::Tensor(view) => {
                    let view = view.clone();
                    ValueLoc::Tensor(self.copy_to_fresh(&view, "pcopy"))
                }
                ValueLoc::Opaque => ValueLoc::Opaque,
            };
        }
        for (source, target) in sources.into_iter().zip(targets) {
            self.write_loc(op, source, target)?;
        }
        Ok(())
    }

    /// Moves / copies a value into a fixed location.
    fn write_loc(&mut self, op: Op, source: ValueLoc, target: &ValueLoc) -> Result<(), Diagnostic> {
        match (source, target) {
            (ValueLoc::Scalar(src), ValueLoc::Scalar(SOp::Reg(dst))) => {
                if src != SOp::Reg(*dst) {
                    self.emit(TOpKind::Mov { dst: *dst, src });
                }
            }
            (ValueLoc::Tensor(src), ValueLoc::Tensor(dst)) => {
                if &src != dst {
                    let src = if src.shape == dst.shape { src } else { broadcast_view(&src, &dst.shape) };
                    self.emit(TOpKind::Copy { src, dst: dst.clone() });
                }
            }
            (ValueLoc::Scalar(src), ValueLoc::Tensor(dst)) => {
                // A float scalar never lives in a register; an integer one in
                // a buffer location only if it was produced as data.
                let bytes = dst_bytes(self, dst);
                self.emit(TOpKind::StoreScalar { src, dst: dst.clone(), bytes });
            }
            (ValueLoc::Tensor(src), ValueLoc::Scalar(SOp::Reg(dst))) => {
                let width = self.kernel.sregs[*dst].width;
                self.emit(TOpKind::LoadScalar { dst: *dst, src, bytes: (width / 8).max(1) as u8, signed: width > 1 });
            }
            (ValueLoc::Opaque, ValueLoc::Opaque) => {}
            _ => {
                return Err(self.error(
                    op,
                    "a block pointer or tensor descriptor flows through control flow in a way the lowering cannot follow",
                ))
            }
        }
        Ok(())
    }

    fn bind_results(&mut self, op: Op, locs: &[ValueLoc]) {
        let results: Vec<Value> = self.module.dfg.results(op).to_vec();
        for (r, loc) in results.into_iter().zip(locs) {
            self.set(r, loc.clone());
        }
    }

    /// Fresh locations for values of `types` written by several paths.
    fn fresh_locs(&mut self, types: &[Type]) -> Result<Vec<ValueLoc>, Diagnostic> {
        types
            .iter()
            .map(|ty| {
                Ok(if is_opaque(ty) {
                    ValueLoc::Opaque
                } else if ty.is_tensor() || ty.is_float() {
                    ValueLoc::Tensor(self.new_tensor_buf(ty, "phi")?)
                } else {
                    ValueLoc::Scalar(SOp::Reg(self.new_sreg(scalar_width(ty), "phi")))
                })
            })
            .collect()
    }

    // ---- scf.if ----

    fn lower_if(&mut self, op: Op) -> Result<(), Diagnostic> {
        let cond = self.scalar(self.operand(op, 0))?;
        let types: Vec<Type> = self
            .module
            .dfg
            .results(op)
            .iter()
            .map(|&r| self.ty(r).clone())
            .collect();
        let results = self.fresh_locs(&types)?;
        let regions = self.module.dfg.ops[op].regions.clone();
        let mut bodies = Vec::new();
        for index in 0..2 {
            if index >= regions.len() || self.module.layout.blocks(regions[index]).is_empty() {
                if !results.is_empty() {
                    return Err(self.error(op, "scf.if with results needs an else region"));
                }
                bodies.push(Vec::new());
                continue;
            }
            let block = self.single_block(op, index)?;
            let body = self.with_body(|cx| {
                cx.lower_block_ops(block)?;
                let yielded = cx.terminator_operands(block, Opcode::Yield)?;
                cx.parallel_copy(op, &yielded, &results)
            })?;
            bodies.push(body);
        }
        let else_body = bodies.pop().unwrap_or_default();
        let then_body = bodies.pop().unwrap_or_default();
        match cond {
            // A constant condition keeps only the taken branch.
            SOp::Imm(c) => {
                let taken = if c != 0 { then_body } else { else_body };
                for t in taken {
                    self.emit_op(t);
                }
            }
            cond => self.emit(TOpKind::If {
                cond,
                then_body,
                else_body,
            }),
        }
        self.bind_results(op, &results);
        Ok(())
    }

    /// Appends an already-built op (keeping its own location).
    fn emit_op(&mut self, op: TOp) {
        self.bodies
            .last_mut()
            .expect("a body is always open")
            .push(op);
    }

    // ---- scf.while ----

    fn lower_while(&mut self, op: Op) -> Result<(), Diagnostic> {
        let inits: Vec<Value> = self.module.dfg.operands(op).to_vec();
        let before_block = self.single_block(op, 0)?;
        let after_block = self.single_block(op, 1)?;
        let before_args = self.module.dfg.blocks[before_block].args.clone();
        let after_args = self.module.dfg.blocks[after_block].args.clone();
        if before_args.len() != inits.len() {
            return Err(self.error(
                op,
                "the `before` region's arguments do not match the operands",
            ));
        }
        let carried = self.init_carried(&inits)?;
        // Registers of block pointers the loop carries (set up before it,
        // advanced at the end of `after`).
        self.begin_carried(op)?;
        let types: Vec<Type> = self
            .module
            .dfg
            .results(op)
            .iter()
            .map(|&r| self.ty(r).clone())
            .collect();
        let results = self.fresh_locs(&types)?;
        if after_args.len() != results.len() {
            return Err(self.error(
                op,
                "the `after` region's arguments do not match the results",
            ));
        }
        let mut cond = SOp::Imm(0);
        let before = self.with_body(|cx| {
            for (&arg, loc) in before_args.iter().zip(&carried) {
                cx.set(arg, loc.clone());
            }
            cx.lower_block_ops(before_block)?;
            let operands = cx.terminator_operands(before_block, Opcode::Condition)?;
            let (&c, forwarded) = operands
                .split_first()
                .ok_or_else(|| cx.error(op, "scf.condition needs a condition"))?;
            cond = cx.scalar(c)?;
            cx.parallel_copy(op, forwarded, &results)
        })?;
        let after = self.with_body(|cx| {
            for (&arg, loc) in after_args.iter().zip(&results) {
                cx.set(arg, loc.clone());
            }
            cx.lower_block_ops(after_block)?;
            cx.end_carried(op)?;
            let yielded = cx.terminator_operands(after_block, Opcode::Yield)?;
            cx.parallel_copy(op, &yielded, &carried)
        })?;
        self.emit(TOpKind::While {
            before,
            cond,
            after,
        });
        self.bind_results(op, &results);
        Ok(())
    }

    // ---- tt.call ----

    fn lower_call(&mut self, op: Op) -> Result<(), Diagnostic> {
        let callee = match self.module.dfg.attr(op, "callee") {
            Some(Attribute::Symbol(name) | Attribute::String(name)) => name.clone(),
            _ => return Err(self.error(op, "tt.call has no `callee` attribute")),
        };
        let func = self
            .module
            .function(&callee)
            .ok_or_else(|| self.error(op, format!("unknown function @{callee}")))?;
        if self.scratch.inline_depth >= MAX_INLINE_DEPTH {
            return Err(self.error(
                op,
                format!("calls nest deeper than {MAX_INLINE_DEPTH} levels (recursion?)"),
            ));
        }
        let region = *self.module.dfg.ops[func]
            .regions
            .first()
            .ok_or_else(|| self.error(op, format!("@{callee} has no body")))?;
        // Triton leaves unreachable blocks after the entry's `tt.return`;
        // only a body that branches (checked at its terminator) is refused.
        let entry = *self
            .module
            .layout
            .blocks(region)
            .first()
            .ok_or_else(|| self.error(op, format!("@{callee} has no body")))?;
        let params = self.module.dfg.blocks[entry].args.clone();
        let args: Vec<Value> = self.module.dfg.operands(op).to_vec();
        if params.len() != args.len() {
            return Err(self.error(
                op,
                format!(
                    "@{callee} takes {} arguments, got {}",
                    params.len(),
                    args.len()
                ),
            ));
        }
        for (&param, &arg) in params.iter().zip(&args) {
            let loc = self.loc(arg)?;
            self.set(param, loc);
        }
        self.scratch.inline_depth += 1;
        let lowered = self.lower_block_ops(entry);
        self.scratch.inline_depth -= 1;
        lowered?;
        let returned = self.terminator_operands(entry, Opcode::Return)?;
        let results: Vec<Value> = self.module.dfg.results(op).to_vec();
        if returned.len() != results.len() {
            return Err(self.error(
                op,
                format!(
                    "@{callee} returns {} values, the call expects {}",
                    returned.len(),
                    results.len()
                ),
            ));
        }
        for (r, v) in results.into_iter().zip(returned) {
            let loc = self.loc(v)?;
            self.set(r, loc);
        }
        Ok(())
    }

    // ---- tt.assert ----

    fn lower_assert(&mut self, op: Op) -> Result<(), Diagnostic> {
        let cond_value = self.operand(op, 0);
        let ok = match self.loc(cond_value)? {
            ValueLoc::Scalar(s) => s,
            ValueLoc::Tensor(view) => {
                let dtype = self.kernel.bufs[view.buf].dtype;
                let width = dtype.int_width().unwrap_or(1);
                // Any nonzero element is true: compare to zero first for
                // wider-than-i1 conditions.
                let n = view.num_elements() as u32;
                let dense = self.dense(view);
                let flat = reshape_view(&dense, &[n]).expect("a dense view flattens");
                let truth = if width == 1 {
                    flat
                } else {
                    let truth = self.new_buf(DType::I1, &[n], BufSpace::Tsram, "assert");
                    let micro = MicroProgram {
                        inputs: vec![dtype],
                        body: vec![LaneInstr {
                            op: LaneOp::IntCmp {
                                pred: maiac_ir::semantics::int::IntPredicate::Ne,
                                width,
                            },
                            args: vec![LaneSrc::Input(0), LaneSrc::Imm { ty: dtype, bits: 0 }],
                        }],
                        outputs: vec![LaneSrc::Value(0)],
                    };
                    self.emit(TOpKind::Map {
                        micro,
                        inputs: vec![crate::tile::TInput::View(flat)],
                        outputs: vec![truth.clone()],
                    });
                    truth
                };
                let all = self.new_buf(DType::I1, &[], BufSpace::Tsram, "assert_all");
                let combiner = MicroProgram {
                    inputs: vec![DType::I1, DType::I1],
                    body: vec![LaneInstr {
                        op: LaneOp::Int {
                            op: IntBinaryOp::And,
                            width: 1,
                        },
                        args: vec![LaneSrc::Input(0), LaneSrc::Input(1)],
                    }],
                    outputs: vec![LaneSrc::Value(0)],
                };
                self.emit(TOpKind::Reduce {
                    combiner,
                    axis: 0,
                    inputs: vec![truth],
                    outputs: vec![all.clone()],
                });
                let reg = self.new_sreg(1, "assert");
                self.emit(TOpKind::LoadScalar {
                    dst: reg,
                    src: all,
                    bytes: 1,
                    signed: false,
                });
                SOp::Reg(reg)
            }
            ValueLoc::Opaque => return Err(self.error(op, "tt.assert needs a condition")),
        };
        match ok {
            SOp::Imm(0) => self.emit(TOpKind::Trap { code: TRAP_ASSERT }),
            SOp::Imm(_) => {}
            cond => {
                let else_body = vec![TOp {
                    kind: TOpKind::Trap { code: TRAP_ASSERT },
                    loc: self.current_loc,
                }];
                self.emit(TOpKind::If {
                    cond,
                    then_body: Vec::new(),
                    else_body,
                });
            }
        }
        Ok(())
    }

    // ---- ub.poison ----

    /// Poison is all-zero bits (the interpreter's definition).
    fn lower_poison(&mut self, op: Op) -> Result<(), Diagnostic> {
        let result = self.result(op, 0);
        let ty = self.ty(result).clone();
        let loc = if is_opaque(&ty) {
            ValueLoc::Opaque
        } else if ty.is_tensor() || ty.is_float() {
            let dtype = scalar_dtype(ty.element()).ok_or_else(|| {
                self.error(
                    op,
                    format!("values of type {ty} have no machine representation"),
                )
            })?;
            let shape = self.shape_u32(&ty)?;
            let one = self.new_buf(dtype, &[], BufSpace::Tsram, "poison");
            let bytes = (scalar_width(&ty) / 8).max(1) as u8;
            self.emit(TOpKind::StoreScalar {
                src: SOp::Imm(0),
                dst: one.clone(),
                bytes,
            });
            ValueLoc::Tensor(BView {
                buf: one.buf,
                offset: 0,
                shape: shape.clone(),
                strides: vec![0; shape.len()],
            })
        } else {
            ValueLoc::Scalar(SOp::Imm(0))
        };
        self.set(result, loc);
        Ok(())
    }

    // ---- regions ----

    /// The only block of region `index` of `op`.
    fn single_block(&self, op: Op, index: usize) -> Result<Block, Diagnostic> {
        let region = *self.module.dfg.ops[op]
            .regions
            .get(index)
            .ok_or_else(|| self.error(op, format!("missing region #{index}")))?;
        match self.module.layout.blocks(region) {
            [block] => Ok(*block),
            [] => Err(self.error(op, format!("region #{index} is empty"))),
            blocks => Err(self.error(
                op,
                format!("region #{index} has {} blocks: unstructured control flow (cf.br) cannot be lowered", blocks.len()),
            )),
        }
    }

    /// The operands of `block`'s terminator, which must be `expected` (a
    /// block without a terminator yields nothing).
    fn terminator_operands(
        &self,
        block: Block,
        expected: Opcode,
    ) -> Result<Vec<Value>, Diagnostic> {
        match self.module.layout.terminator(block) {
            Some(t) if self.module.dfg.opcode(t) == expected => {
                Ok(self.module.dfg.operands(t).to_vec())
            }
            Some(t) if self.module.dfg.opcode(t).is_terminator() => Err(self.error(
                t,
                format!(
                    "`{}` cannot be lowered here (expected `{}`)",
                    self.module.dfg.opcode(t).name(),
                    expected.name()
                ),
            )),
            _ => Ok(Vec::new()),
        }
    }
}

/// Whether values of `ty` have no run-time data (block pointers, tensor
/// descriptors).
fn is_opaque(ty: &Type) -> bool {
    matches!(ty, Type::TensorDesc { .. }) || ty.pointee().is_some_and(Type::is_tensor)
}

/// Whether writing `target` could change the value in `source`.
fn overlaps(source: &ValueLoc, target: &ValueLoc) -> bool {
    match (source, target) {
        (ValueLoc::Scalar(SOp::Reg(a)), ValueLoc::Scalar(SOp::Reg(b))) => a == b,
        (ValueLoc::Tensor(a), ValueLoc::Tensor(b)) => a.buf == b.buf,
        _ => false,
    }
}

fn dst_bytes(cx: &Lowerer<'_>, dst: &BView) -> u8 {
    (cx.kernel.bufs[dst.buf].dtype.storage_bits() / 8).max(1) as u8
}
