//! Emission: one scheduled tile-IR op → ISA instructions.
//!
//! Structured control flow becomes branches:
//!
//! ```text
//! For:   flush; iv = lb; head: t = iv <s ub; bz t, exit; body;
//!        iv += step; jump head; exit: [flush]
//!        (the exit flushes only inside another loop's body; elsewhere the
//!        last iteration's work stays outstanding, re-based on distances)
//! If:    bz c, else; then; jump fix; else: else; pad-or-flush;
//!        [jump join; fix: pad-or-flush;] join:
//!        (outside loops, arms that do not count issues from the same
//!        point join re-based instead: see `Scoreboard::join_rebased`)
//! While: flush; head: before; flush; bz c, exit; after; flush; jump head; exit:
//! ```
//!
//! (a flush is emitted only when an engine has outstanding work; a `for`
//! back edge carries the outstanding work into the next iteration). Engine
//! instructions take their waits from the [`Scoreboard`] and are followed
//! by the increment of their engine's issue counter. Spilled registers are
//! reloaded into temporaries before the instruction that reads them and
//! stored after the one that defines them.

use std::collections::HashMap;

use maiac_backend::isa::{
    self, Address, AluOp, CpOp, DmaDim, DmaOp, Engine, Instr, Label, MapInput, MatOperand,
    MemWidth, Module, Op, Operand, Reg, ScaleOperand, Space, StridedCopy, TtuOp, TvpOp, View,
};
use maiac_ir::Diagnostic;

use super::sync::{Range, Scoreboard};
use crate::sched::regalloc::{temp, COUNTERS, NUM_TEMPS};
use crate::sched::{located, RegLoc, Scheduled};
use crate::tile::{BView, SOp, SReg, StagedSlot, TInput, TMat, TOp, TOpKind};

type Loc = Option<isa::DebugLocId>;

pub(super) struct Emitter<'a> {
    pub s: &'a Scheduled,
    pub module: Module,
    board: Scoreboard,
    /// Temporaries handed out for the current op.
    next_temp: usize,
    /// The op being emitted (for diagnostics).
    loc: Loc,
    /// Each loop body's steady-state entry board (see
    /// [`Emitter::steady_state_body`]), by the body's address in the
    /// scheduled kernel, with its generation counted from the loop's entry
    /// flush. A body always starts from a flushed board, so its dry run
    /// gives the same board wherever it is emitted; remembering it keeps
    /// nested loops from dry-running their inner loops again at every
    /// level (exponential in the nesting depth).
    steady: HashMap<*const TOp, Scoreboard>,
    /// How many `for` bodies enclose the op being emitted.
    for_depth: u32,
}

impl<'a> Emitter<'a> {
    pub fn new(s: &'a Scheduled, module: Module) -> Emitter<'a> {
        Emitter {
            s,
            module,
            board: Scoreboard::default(),
            next_temp: 0,
            loc: None,
            steady: HashMap::new(),
            for_depth: 0,
        }
    }

    fn error(&self, message: impl Into<String>) -> Diagnostic {
        located(&self.s.kernel, self.loc, message)
    }

    fn internal(&self, message: impl Into<String>) -> Diagnostic {
        self.error(format!(
            "internal compiler error (codegen): {}",
            message.into()
        ))
    }

    fn push(&mut self, op: impl Into<Op>) -> u32 {
        self.module
            .tile_program
            .push(Instr::new(op.into()), self.loc)
    }

    fn push_sync(&mut self, op: impl Into<Op>, sync: isa::Sync) -> u32 {
        self.module
            .tile_program
            .push(Instr::with_sync(op.into(), sync), self.loc)
    }

    fn pc(&self) -> u32 {
        self.module.tile_program.code.len() as u32
    }

    /// Points the branch at `pc` to `target`.
    fn patch(&mut self, pc: u32, target: u32) {
        match &mut self.module.tile_program.code[pc as usize].op {
            Op::Cp(CpOp::Jump { target: t } | CpOp::Branch { target: t, .. }) => *t = Label(target),
            other => unreachable!("patching a non-branch {other:?}"),
        }
    }

    // ---- registers ----

    fn take_temp(&mut self) -> Result<Reg, Diagnostic> {
        if self.next_temp >= NUM_TEMPS {
            return Err(self.error(format!(
                "too many live scalar values: this op needs more than {NUM_TEMPS} spilled operands at once"
            )));
        }
        self.next_temp += 1;
        Ok(temp(self.next_temp - 1))
    }

    fn loc_of(&self, r: SReg) -> Result<RegLoc, Diagnostic> {
        self.s
            .reg(r)
            .ok_or_else(|| self.internal(format!("{r} has no register")))
    }

    fn spill_addr(&self, slot: u32) -> Address {
        Address::tsram(self.s.spill_offset(slot) as i64)
    }

    /// A register holding `r` (reloaded into a temporary when spilled).
    fn use_reg(&mut self, r: SReg) -> Result<Reg, Diagnostic> {
        match self.loc_of(r)? {
            RegLoc::Phys(p) => Ok(p),
            RegLoc::Spill(slot) => {
                let t = self.take_temp()?;
                let addr = self.spill_addr(slot);
                self.push(CpOp::Load {
                    dst: t,
                    addr,
                    width: MemWidth::B8,
                    signed: false,
                });
                Ok(t)
            }
        }
    }

    fn operand(&mut self, s: SOp) -> Result<Operand, Diagnostic> {
        match s {
            SOp::Imm(v) => Ok(Operand::imm(v)),
            SOp::Reg(r) => Ok(Operand::reg(self.use_reg(r)?)),
        }
    }

    /// A register holding `s` (immediates are moved into a temporary).
    fn operand_reg(&mut self, s: SOp) -> Result<Reg, Diagnostic> {
        match s {
            SOp::Reg(r) => self.use_reg(r),
            SOp::Imm(v) => {
                let t = self.take_temp()?;
                self.push(CpOp::Mov {
                    dst: t,
                    src: Operand::imm(v),
                });
                Ok(t)
            }
        }
    }

    /// The register an instruction defining `r` writes.
    fn def_reg(&mut self, r: SReg) -> Result<Reg, Diagnostic> {
        match self.loc_of(r)? {
            RegLoc::Phys(p) => Ok(p),
            RegLoc::Spill(_) => self.take_temp(),
        }
    }

    /// Stores a spilled definition written to `reg`.
    fn finish_def(&mut self, r: SReg, reg: Reg) -> Result<(), Diagnostic> {
        if let RegLoc::Spill(slot) = self.loc_of(r)? {
            let addr = self.spill_addr(slot);
            self.push(CpOp::Store {
                src: reg,
                addr,
                width: MemWidth::B8,
            });
        }
        Ok(())
    }

    // ---- buffers ----

    fn base(&self, v: &BView) -> Result<(Space, i64), Diagnostic> {
        let p = self
            .s
            .bufs
            .get(&v.buf)
            .ok_or_else(|| self.internal(format!("{} has no placement", v.buf)))?;
        let bits = i128::from(self.s.kernel.bufs[v.buf].dtype.storage_bits());
        let offset_bits = i128::from(v.offset) * bits;
        if offset_bits % 8 != 0 {
            return Err(self.internal(format!(
                "view of {} starts inside a byte (element offset {} of a packed type)",
                v.buf, v.offset
            )));
        }
        Ok((p.space, p.offset as i64 + (offset_bits / 8) as i64))
    }

    fn address(&self, v: &BView) -> Result<Address, Diagnostic> {
        let (space, offset) = self.base(v)?;
        Ok(Address::local(space, offset))
    }

    fn view(&self, v: &BView) -> Result<View, Diagnostic> {
        Ok(View {
            addr: self.address(v)?,
            dtype: self.s.kernel.bufs[v.buf].dtype,
            shape: v.shape.clone(),
            strides: v.strides.clone(),
        })
    }

    fn range(&self, v: &BView) -> Result<Option<Range>, Diagnostic> {
        let view = self.view(v)?;
        let (space, base) = self.base(v)?;
        Ok(view.byte_span().map(|(lo, hi)| Range {
            space,
            lo: i128::from(base) + lo,
            hi: i128::from(base) + hi,
        }))
    }

    fn ranges(&self, views: &[&BView]) -> Result<Vec<Range>, Diagnostic> {
        let mut out = Vec::new();
        for v in views {
            out.extend(self.range(v)?);
        }
        Ok(out)
    }

    fn map_inputs(&mut self, inputs: &[TInput]) -> Result<Vec<MapInput>, Diagnostic> {
        inputs
            .iter()
            .map(|i| match i {
                TInput::View(v) => Ok(MapInput::View(self.view(v)?)),
                TInput::Scalar(s) => Ok(MapInput::Scalar(self.operand(*s)?)),
            })
            .collect()
    }

    fn mat(&self, m: &TMat) -> Result<MatOperand, Diagnostic> {
        let row_stride = |v: &BView| -> u32 {
            match v.strides.first() {
                Some(&s) if v.shape.len() >= 2 => s as u32,
                _ => v.shape.last().copied().unwrap_or(1),
            }
        };
        let scale = match &m.scale {
            None => None,
            Some(s) => Some(ScaleOperand {
                addr: self.address(s)?,
                row_stride: row_stride(s),
            }),
        };
        Ok(MatOperand {
            addr: self.address(&m.view)?,
            dtype: m.dtype,
            row_stride: row_stride(&m.view),
            transposed: m.transposed,
            scale,
        })
    }

    // ---- synchronisation ----

    /// Dispatches an engine instruction with its waits and bumps the
    /// engine's issue counter.
    fn dispatch(&mut self, op: Op, kind: &TOpKind) -> Result<(), Diagnostic> {
        self.dispatch_waiting(op, kind, None)
    }

    /// [`Emitter::dispatch`], also waiting for `ready = (semaphore,
    /// value)`.
    fn dispatch_waiting(
        &mut self,
        op: Op,
        kind: &TOpKind,
        ready: Option<(isa::SemRef, Operand)>,
    ) -> Result<(), Diagnostic> {
        let engine = op.engine();
        let reads = self.ranges(&kind.reads())?;
        let writes = self.ranges(&kind.writes())?;
        let mut sync = self.board.acquire(engine, &reads, &writes);
        if let Some((sem, value)) = ready {
            sync = sync.wait(sem, value);
        }
        self.push_sync(op, sync);
        self.board.record(engine, &reads, &writes);
        self.bump_counter(engine);
        Ok(())
    }

    /// Increments an asynchronous engine's issue counter after a dispatch.
    fn bump_counter(&mut self, engine: Engine) {
        if let Some(k) = [Engine::Dma, Engine::Ttu, Engine::Tvp]
            .iter()
            .position(|&e| e == engine)
        {
            let c = COUNTERS[k];
            self.push(CpOp::Alu {
                op: AluOp::Add,
                dst: c,
                a: c,
                b: Operand::imm(1),
            });
        }
    }

    /// Dispatches an engine no-op (padding; see [`Emitter::branch`]).
    fn dispatch_nop(&mut self, engine: Engine) {
        let sync = self.board.acquire(engine, &[], &[]);
        self.push_sync(Op::EngineNop(engine), sync);
        self.board.record(engine, &[], &[]);
        self.bump_counter(engine);
    }

    /// Waits for all outstanding engine work (at control-flow boundaries).
    fn flush(&mut self) {
        if let Some(sync) = self.board.flush() {
            self.push_sync(CpOp::Nop, sync);
        }
    }

    // ---- ops ----

    pub fn body(&mut self, ops: &[TOp]) -> Result<(), Diagnostic> {
        for op in ops {
            self.op(op)?;
        }
        Ok(())
    }

    /// The halt that ends the program.
    pub fn finish(&mut self) {
        self.loc = None;
        self.push(CpOp::Halt);
    }

    fn op(&mut self, op: &TOp) -> Result<(), Diagnostic> {
        self.loc = op.loc;
        self.next_temp = 0;
        use TOpKind::*;
        match &op.kind {
            Mov { dst, src } => {
                let src = self.operand(*src)?;
                let d = self.def_reg(*dst)?;
                self.push(CpOp::Mov { dst: d, src });
                self.finish_def(*dst, d)?;
            }
            Alu { op: alu, dst, a, b } => {
                let a = self.operand_reg(*a)?;
                let b = self.operand(*b)?;
                let d = self.def_reg(*dst)?;
                self.push(CpOp::Alu {
                    op: *alu,
                    dst: d,
                    a,
                    b,
                });
                self.finish_def(*dst, d)?;
            }
            Select { dst, cond, a, b } => {
                let a = self.operand(*a)?;
                let b = self.operand(*b)?;
                let d = match cond {
                    SOp::Imm(c) => {
                        let d = self.def_reg(*dst)?;
                        self.push(CpOp::Mov {
                            dst: d,
                            src: if *c != 0 { a } else { b },
                        });
                        d
                    }
                    SOp::Reg(c) => {
                        let cond = self.use_reg(*c)?;
                        let d = self.def_reg(*dst)?;
                        self.push(CpOp::Select { dst: d, cond, a, b });
                        d
                    }
                };
                self.finish_def(*dst, d)?;
            }
            ReadSpecial { dst, which } => {
                let d = self.def_reg(*dst)?;
                self.push(CpOp::ReadSpecial {
                    dst: d,
                    special: *which,
                });
                self.finish_def(*dst, d)?;
            }
            Arg { dst, index } => {
                let d = self.def_reg(*dst)?;
                let index =
                    u16::try_from(*index).map_err(|_| self.error("too many kernel arguments"))?;
                self.push(CpOp::Arg { dst: d, index });
                self.finish_def(*dst, d)?;
            }
            LoadScalar {
                dst,
                src,
                bytes,
                signed,
            } => {
                let addr = self.scalar_address(src)?;
                let width = self.width(*bytes)?;
                let reads = self.ranges(&[src])?;
                let sync = self.board.acquire(Engine::Cp, &reads, &[]);
                let d = self.def_reg(*dst)?;
                self.push_sync(
                    CpOp::Load {
                        dst: d,
                        addr,
                        width,
                        signed: *signed,
                    },
                    sync,
                );
                self.finish_def(*dst, d)?;
            }
            StoreScalar { src, dst, bytes } => {
                let addr = self.scalar_address(dst)?;
                let width = self.width(*bytes)?;
                let src = self.operand_reg(*src)?;
                let writes = self.ranges(&[dst])?;
                let sync = self.board.acquire(Engine::Cp, &[], &writes);
                self.push_sync(CpOp::Store { src, addr, width }, sync);
            }
            Trap { code } => {
                self.push(CpOp::Trap { code: *code });
            }
            For {
                iv,
                lb,
                ub,
                step,
                body,
            } => self.for_loop(*iv, *lb, *ub, *step, body, op)?,
            If {
                cond,
                then_body,
                else_body,
            } => self.branch(*cond, then_body, else_body, op)?,
            While {
                before,
                cond,
                after,
            } => {
                self.flush();
                let head = self.pc();
                self.body(before)?;
                self.loc = op.loc;
                self.next_temp = 0;
                self.flush();
                let c = self.operand_reg(*cond)?;
                let exit = self.push(CpOp::Branch {
                    cond: c,
                    if_zero: true,
                    target: Label(0),
                });
                self.body(after)?;
                self.loc = op.loc;
                self.flush();
                self.push(CpOp::Jump {
                    target: Label(head),
                });
                let end = self.pc();
                self.patch(exit, end);
            }
            LoadStaged { stage, dst, slot } => {
                // The cluster program signals `c<stage>` once per copy it
                // has landed in CSRAM (see `cluster.rs`): one copy, one per
                // loop iteration, or one per group of a row-shared stage,
                // in order.
                let (offset, signals) = match slot {
                    StagedSlot::Once => (
                        Operand::imm(self.s.kernel.stages[*stage].csram_offset as i64),
                        Operand::imm(1),
                    ),
                    StagedSlot::Iteration(i) | StagedSlot::Wave(i) => {
                        let data = &self.s.kernel.stages[*stage];
                        let slot = crate::sched::sram::aligned(data.bytes()) as i64;
                        let base = data.csram_offset as i64;
                        let i = self.operand_reg(*i)?;
                        let t = self.take_temp()?;
                        self.push(CpOp::Alu {
                            op: AluOp::Mul,
                            dst: t,
                            a: i,
                            b: Operand::imm(slot),
                        });
                        (Operand::reg_plus(t, base), Operand::reg_plus(i, 1))
                    }
                };
                let instr = self.load_staged(*stage, dst, offset)?;
                let ready = isa::SemRef::cluster(stage.as_u32() as u16);
                self.dispatch_waiting(instr, &op.kind, Some((ready, signals)))?;
            }
            kind => {
                let instr = self.engine_op(kind)?;
                self.dispatch(instr, kind)?;
            }
        }
        Ok(())
    }

    /// The CSRAM → TSRAM copy of a staged operand at `offset` into `dst`.
    fn load_staged(
        &mut self,
        stage: crate::tile::Stage,
        dst: &BView,
        offset: Operand,
    ) -> Result<Op, Diagnostic> {
        let data = &self.s.kernel.stages[stage];
        let extents = data.shape();
        let src_strides = isa::view::row_major_strides(&extents);
        let dims: Vec<crate::tile::TDim> = data
            .dims
            .iter()
            .map(|d| crate::tile::TDim {
                extent: d.extent,
                hbm_stride: SOp::Imm(0),
                valid: None,
                start: None,
            })
            .collect();
        let dst_strides = self.box_strides(dst, &dims)?;
        let out = extents
            .iter()
            .zip(src_strides.iter().zip(dst_strides))
            .map(|(&extent, (&ss, ds))| DmaDim {
                extent,
                src_stride: Operand::imm(ss),
                dst_stride: Operand::imm(ds),
                valid: None,
                start: None,
            })
            .collect();
        let src = Address::csram(offset);
        Ok(DmaOp::Copy(strided(data.dtype, src, self.address(dst)?, out, None)).into())
    }

    fn width(&self, bytes: u8) -> Result<MemWidth, Diagnostic> {
        MemWidth::from_bytes(u32::from(bytes))
            .ok_or_else(|| self.internal(format!("a {bytes}-byte scalar access")))
    }

    fn scalar_address(&self, v: &BView) -> Result<Address, Diagnostic> {
        let addr = self.address(v)?;
        if addr.space != Space::Tsram {
            return Err(self.internal("scalar loads and stores access TSRAM only"));
        }
        Ok(addr)
    }

    fn for_loop(
        &mut self,
        iv: SReg,
        lb: SOp,
        ub: SOp,
        step: SOp,
        body: &[TOp],
        op: &TOp,
    ) -> Result<(), Diagnostic> {
        self.flush();
        let RegLoc::Phys(ivr) = self.loc_of(iv)? else {
            return Err(self.internal(format!("induction variable {iv} was spilled")));
        };
        let lb = self.operand(lb)?;
        self.push(CpOp::Mov { dst: ivr, src: lb });
        let head = self.pc();
        self.next_temp = 0;
        let ub = self.operand(ub)?;
        let t = self.take_temp()?;
        self.push(CpOp::Alu {
            op: AluOp::LtS,
            dst: t,
            a: ivr,
            b: ub,
        });
        let exit = self.push(CpOp::Branch {
            cond: t,
            if_zero: true,
            target: Label(0),
        });
        self.steady_state_body(body)?;
        self.loc = op.loc;
        self.next_temp = 0;
        let step = self.operand(step)?;
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: ivr,
            a: ivr,
            b: step,
        });
        self.push(CpOp::Jump {
            target: Label(head),
        });
        let end = self.pc();
        self.patch(exit, end);
        // The exit joins the entry (flushed) and the back edge (the last
        // iteration's work outstanding). Outside loops the last iteration
        // keeps running while the code after the loop starts: the board is
        // the back edge's re-based on distances, which on the zero-trip
        // path name instructions the entry flush completed (or none).
        // Inside a `for` body, whose steady state needs every iteration to
        // issue the same instructions after its last flush, it flushes.
        if self.for_depth == 0 {
            let last = std::mem::take(&mut self.board);
            self.board = last.join_rebased(Scoreboard::default());
        } else {
            self.flush();
        }
        Ok(())
    }

    /// An `if`. Engine work stays outstanding across it: both arms start
    /// from the board before the branch, and at the join the arm that
    /// issued fewer instructions on an engine is padded with that engine's
    /// no-ops, so the issue counters (and with them every later relative
    /// wait) agree on both paths. An arm with a nested loop resets its
    /// board; then, outside loops, the boards are joined re-based on
    /// distances ([`Scoreboard::join_rebased`]), and inside a `for` body
    /// both arms flush.
    ///
    /// Layout: `bz c, else; then; jump fix; else: else; else-fix;
    /// [jump join; fix: then-fix;] join:` — the then-arm's fix-up (known
    /// only after the else arm) goes after the else arm, or `fix` is
    /// `join` when it is empty.
    fn branch(
        &mut self,
        cond: SOp,
        then_body: &[TOp],
        else_body: &[TOp],
        op: &TOp,
    ) -> Result<(), Diagnostic> {
        let c = self.operand_reg(cond)?;
        let to_else = self.push(CpOp::Branch {
            cond: c,
            if_zero: true,
            target: Label(0),
        });
        let entry = self.board.clone();
        self.body(then_body)?;
        self.loc = op.loc;
        let then_board = std::mem::replace(&mut self.board, entry.clone());
        let to_fix = self.push(CpOp::Jump { target: Label(0) });
        let else_pc = self.pc();
        self.patch(to_else, else_pc);
        self.body(else_body)?;
        self.loc = op.loc;
        let aligned = then_board.same_origin(&entry) && self.board.same_origin(&entry);
        if !aligned && self.for_depth == 0 {
            // Outside loops the arms need not agree on issue counts: the
            // board at the join re-bases both arms' accesses on their
            // distance from the join (see `Scoreboard::join_rebased`), so
            // engine work stays outstanding (a loop's last iteration, a
            // gather fallback) instead of being waited for on both paths.
            let else_board = std::mem::take(&mut self.board);
            let join = self.pc();
            self.patch(to_fix, join);
            self.board = then_board.join_rebased(else_board);
            return Ok(());
        }
        let target = {
            let (t, e) = (then_board.issued(), self.board.issued());
            [0, 1, 2].map(|x| t[x].max(e[x]))
        };
        // The else arm's fix-up, in place.
        self.fix_arm(aligned, target)?;
        let else_board = std::mem::replace(&mut self.board, then_board);
        let then_needs_fix = if aligned {
            self.board.issued() != target
        } else {
            !self.board.is_empty()
        };
        if then_needs_fix {
            let over = self.push(CpOp::Jump { target: Label(0) });
            let fix_pc = self.pc();
            self.patch(to_fix, fix_pc);
            self.fix_arm(aligned, target)?;
            let join = self.pc();
            self.patch(over, join);
        } else {
            let join = self.pc();
            self.patch(to_fix, join);
        }
        let then_board = std::mem::take(&mut self.board);
        self.board = if aligned {
            then_board.join(else_board)
        } else {
            then_board
        };
        Ok(())
    }

    /// Brings the current arm's board to the join: pads it with engine
    /// no-ops up to `target` issues per engine, or flushes it when the arms
    /// do not count from the same point.
    fn fix_arm(&mut self, aligned: bool, target: [u32; 3]) -> Result<(), Diagnostic> {
        if !aligned {
            self.flush();
            return Ok(());
        }
        for (x, engine) in [Engine::Dma, Engine::Ttu, Engine::Tvp]
            .into_iter()
            .enumerate()
        {
            for _ in self.board.issued()[x]..target[x] {
                self.dispatch_nop(engine);
            }
        }
        Ok(())
    }

    /// Emits a loop body whose engine work stays outstanding across the
    /// back edge, so iteration `i + 1`'s instructions wait only for the
    /// accesses of iteration `i` they conflict with (DMA of the next
    /// iteration overlaps compute of this one when their buffers differ).
    ///
    /// The waits are relative to the issue counters, so they are right in
    /// every iteration if the board the body starts from is the one the
    /// back edge carries: a dry run from the flushed entry board yields it,
    /// and the body is emitted again from there. Each engine issues the same
    /// instructions in every iteration after the body's last nested flush,
    /// so one iteration's accesses stand for every earlier one (an older
    /// access conflicts only where its newer twin does). In the first
    /// iteration the carried waits name instructions issued before the
    /// loop, which the entry flush completed, so they cost nothing.
    fn steady_state_body(&mut self, body: &[TOp]) -> Result<(), Diagnostic> {
        debug_assert!(self.board.is_empty(), "a loop is entered flushed");
        let entry_generation = self.board.generation();
        let key = body.as_ptr();
        if let Some(board) = self.steady.get(&key) {
            let delta = board.generation();
            self.board = board
                .clone()
                .with_generation(entry_generation.wrapping_add(delta));
        } else {
            let module = self.module.clone();
            self.for_depth += 1;
            let dry = self.body(body);
            self.for_depth -= 1;
            dry?;
            self.module = module;
            let delta = self.board.generation().wrapping_sub(entry_generation);
            self.steady
                .insert(key, self.board.clone().with_generation(delta));
        }
        self.for_depth += 1;
        let emitted = self.body(body);
        self.for_depth -= 1;
        emitted
    }

    /// The engine instruction of a DMA/TVP/TTU op.
    fn engine_op(&mut self, kind: &TOpKind) -> Result<Op, Diagnostic> {
        use TOpKind::*;
        Ok(match kind {
            DmaLoad {
                dtype,
                hbm,
                dims,
                dst,
                fill,
            } => {
                let src = Address::hbm(self.operand(*hbm)?);
                let dst_addr = self.address(dst)?;
                let strides = self.box_strides(dst, dims)?;
                let mut out = Vec::new();
                for (d, s) in dims.iter().zip(strides) {
                    out.push(DmaDim {
                        extent: d.extent,
                        src_stride: self.operand(d.hbm_stride)?,
                        dst_stride: Operand::imm(s),
                        valid: d.valid.map(|v| self.operand(v)).transpose()?,
                        start: d.start.map(|v| self.operand(v)).transpose()?,
                    });
                }
                let fill = fill.map(|f| f & dtype.value_mask());
                DmaOp::Copy(strided(*dtype, src, dst_addr, out, fill)).into()
            }
            DmaStore {
                dtype,
                src,
                hbm,
                dims,
            } => {
                let src_addr = self.address(src)?;
                let dst = Address::hbm(self.operand(*hbm)?);
                let strides = self.box_strides(src, dims)?;
                let mut out = Vec::new();
                for (d, s) in dims.iter().zip(strides) {
                    out.push(DmaDim {
                        extent: d.extent,
                        src_stride: Operand::imm(s),
                        dst_stride: self.operand(d.hbm_stride)?,
                        valid: d.valid.map(|v| self.operand(v)).transpose()?,
                        start: d.start.map(|v| self.operand(v)).transpose()?,
                    });
                }
                DmaOp::Copy(strided(*dtype, src_addr, dst, out, None)).into()
            }
            Gather {
                dtype,
                count,
                addrs,
                mask,
                dst,
                fill,
            } => DmaOp::Gather(isa::Gather {
                dtype: *dtype,
                count: *count,
                addrs: self.address(addrs)?,
                mask: mask.as_ref().map(|m| self.address(m)).transpose()?,
                dst: self.address(dst)?,
                fill: fill & dtype.value_mask(),
            })
            .into(),
            Scatter {
                dtype,
                count,
                addrs,
                mask,
                src,
            } => DmaOp::Scatter(isa::Scatter {
                dtype: *dtype,
                count: *count,
                addrs: self.address(addrs)?,
                mask: mask.as_ref().map(|m| self.address(m)).transpose()?,
                src: self.address(src)?,
            })
            .into(),
            Atomic {
                kind,
                dtype,
                count,
                addrs,
                values,
                compare,
                mask,
                old,
            } => DmaOp::Atomic(isa::Atomic {
                kind: *kind,
                dtype: *dtype,
                count: *count,
                addrs: self.address(addrs)?,
                values: self.address(values)?,
                compare: compare.as_ref().map(|m| self.address(m)).transpose()?,
                mask: mask.as_ref().map(|m| self.address(m)).transpose()?,
                old: old.as_ref().map(|m| self.address(m)).transpose()?,
            })
            .into(),
            Map {
                micro,
                inputs,
                outputs,
            } => {
                let program = self.module.intern_micro(micro.clone());
                let inputs = self.map_inputs(inputs)?;
                let outputs = outputs
                    .iter()
                    .map(|v| self.view(v))
                    .collect::<Result<_, _>>()?;
                TvpOp::Map(isa::Map {
                    program,
                    inputs,
                    outputs,
                })
                .into()
            }
            Reduce {
                combiner,
                axis,
                inputs,
                outputs,
            } => {
                let combiner = self.module.intern_micro(combiner.clone());
                TvpOp::Reduce(isa::Reduce {
                    combiner,
                    axis: *axis,
                    inputs: self.views(inputs)?,
                    outputs: self.views(outputs)?,
                })
                .into()
            }
            ActReduce {
                micro,
                inputs,
                output,
                combiner,
                axis,
                reduced,
            } => {
                let program = self.module.intern_micro(micro.clone());
                let combiner = self.module.intern_micro(combiner.clone());
                TvpOp::ActivationReduce(isa::ActivationReduce {
                    program,
                    inputs: self.map_inputs(inputs)?,
                    output: self.view(output)?,
                    combiner,
                    axis: *axis,
                    reduced: self.view(reduced)?,
                })
                .into()
            }
            Scan {
                combiner,
                axis,
                reverse,
                inputs,
                outputs,
            } => {
                let combiner = self.module.intern_micro(combiner.clone());
                TvpOp::Scan(isa::Scan {
                    combiner,
                    axis: *axis,
                    reverse: *reverse,
                    inputs: self.views(inputs)?,
                    outputs: self.views(outputs)?,
                })
                .into()
            }
            Iota { dst, start, axis } => TvpOp::Iota(isa::Iota {
                dst: self.view(dst)?,
                start: self.operand(*start)?,
                axis: *axis,
            })
            .into(),
            Copy { src, dst } => TvpOp::Copy(isa::tvp::Copy {
                src: self.view(src)?,
                dst: self.view(dst)?,
            })
            .into(),
            TvpGather {
                src,
                index,
                dst,
                axis,
            } => TvpOp::Gather(isa::tvp::Gather {
                src: self.view(src)?,
                index: self.view(index)?,
                dst: self.view(dst)?,
                axis: *axis,
            })
            .into(),
            Histogram { src, mask, dst } => TvpOp::Histogram(isa::Histogram {
                src: self.view(src)?,
                mask: mask.as_ref().map(|m| self.view(m)).transpose()?,
                dst: self.view(dst)?,
            })
            .into(),
            MxQuantize {
                format,
                src,
                codes,
                scales,
            } => TvpOp::MxQuantize(isa::MxQuantize {
                format: *format,
                src: self.view(src)?,
                codes: self.view(codes)?,
                scales: self.view(scales)?,
            })
            .into(),
            MxDequantize {
                format,
                codes,
                scales,
                dst,
            } => TvpOp::MxDequantize(isa::MxDequantize {
                format: *format,
                codes: self.view(codes)?,
                scales: self.view(scales)?,
                dst: self.view(dst)?,
            })
            .into(),
            Matmul {
                m,
                n,
                k,
                a,
                b,
                out,
                accumulate,
            } => {
                let out_dtype = self.s.kernel.bufs[out.buf].dtype;
                let out_row_stride = match out.strides.first() {
                    Some(&s) if out.shape.len() >= 2 => s as u32,
                    _ => *n,
                };
                TtuOp::Matmul(isa::Matmul {
                    m: *m,
                    n: *n,
                    k: *k,
                    a: self.mat(a)?,
                    b: self.mat(b)?,
                    out: self.address(out)?,
                    out_dtype,
                    out_row_stride,
                    accumulate: *accumulate,
                })
                .into()
            }
            Drain { src, dst, epilogue } => {
                let epilogue = match epilogue {
                    None => None,
                    Some((micro, extra)) => {
                        let program = self.module.intern_micro(micro.clone());
                        Some(isa::Epilogue {
                            program,
                            extra: self.map_inputs(extra)?,
                        })
                    }
                };
                TtuOp::Drain(isa::Drain {
                    src: self.view(src)?,
                    dst: self.view(dst)?,
                    epilogue,
                })
                .into()
            }
            other => return Err(self.internal(format!("{other:?} is not an engine op"))),
        })
    }

    fn views(&self, views: &[BView]) -> Result<Vec<View>, Diagnostic> {
        views.iter().map(|v| self.view(v)).collect()
    }

    /// The tile-side element strides of a DMA box of `rank` dimensions
    /// over view `v` (the view's own strides when the ranks agree, else
    /// the row-major strides of a dense view).
    fn box_strides(&self, v: &BView, dims: &[crate::tile::TDim]) -> Result<Vec<i64>, Diagnostic> {
        let rank = dims.len();
        if v.strides.len() == rank {
            return Ok(v.strides.clone());
        }
        let dense = isa::view::row_major_strides(&v.shape);
        let contiguous = v
            .shape
            .iter()
            .zip(v.strides.iter().zip(&dense))
            .all(|(&d, (&s, &w))| d == 1 || s == w);
        if !contiguous {
            return Err(self.internal(format!(
                "a {rank}-dimensional DMA over a strided rank-{} view",
                v.shape.len()
            )));
        }
        // Dense: the box is laid out row-major over its own extents.
        let extents: Vec<u32> = dims.iter().map(|d| d.extent).collect();
        Ok(isa::view::row_major_strides(&extents))
    }
}

pub(super) fn strided(
    dtype: isa::DType,
    src: Address,
    dst: Address,
    mut dims: Vec<DmaDim>,
    fill: Option<u64>,
) -> StridedCopy {
    // A rank-0 copy moves one element.
    if dims.is_empty() {
        dims.push(DmaDim {
            extent: 1,
            src_stride: Operand::imm(1),
            dst_stride: Operand::imm(1),
            valid: None,
            start: None,
        });
    }
    StridedCopy {
        dtype,
        src,
        dst,
        dims,
        fill,
    }
}
