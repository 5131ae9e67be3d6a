//! The cluster program: stages the kernel's shared read-only operands
//! (`TileKernel::stages`) from HBM into every cluster's CSRAM.
//!
//! Each cluster's DMA sequencer runs it once per launch, concurrently with
//! the tiles. It first evaluates the kernel's [`StageGuard`] — the same
//! ops the tile program runs at its start — and halts at once in a cluster
//! whose tiles will not use the staged copies (fewer than two program
//! instances there: HBM should not carry what nobody reads twice). Then,
//! for stage `k`, it evaluates the stage's prologue (the scalar ops that
//! compute the HBM address and box from the kernel arguments), issues one
//! cluster-DMA copy of the box into `csram[offset]` (dense, row-major, the
//! fill written outside the valid box) and signals cluster semaphore `c<k>`
//! when the copy has landed (a stage whose load the tile program reaches
//! only under a condition — [`StagedLoad::when`] — copies nothing when it
//! fails); a tile's `LoadStaged` waits for `c<k> ≥ 1`
//! (semaphores only count up, so every later instance passes at once). The
//! program ends with `halt`, which waits for its DMA.
//!
//! A stage inside a loop whose box moves with the induction variable
//! ([`StagedLoop`]) runs the same loop in the cluster program, one copy and
//! one signal per iteration into consecutive slots, when its trip count
//! fits its reserved region (`fits`, which the tile program computes
//! too); the tile's copy of iteration `j` waits for `j + 1` signals.
//!
//! Registers: the guard and each prologue are short (the scheduling pass
//! bounds them), so each gets fresh registers from `r0` up; no value lives
//! from one to the next.
//!
//! [`StageGuard`]: crate::tile::StageGuard

use std::collections::HashMap;

use maiac_backend::isa::{
    self, Address, AluOp, CpOp, DebugLocId, DmaDim, DmaOp, Instr, Label, Op, Operand, Program, Reg,
    SemRef, NUM_REGS,
};
use maiac_ir::Diagnostic;

use crate::sched::located;
use crate::tile::{SOp, SReg, StagedLoad, StagedLoop, TOp, TOpKind, TileKernel};

/// The cluster program of `kernel`, if it stages anything.
pub fn cluster_program(kernel: &TileKernel) -> Result<Option<Program>, Diagnostic> {
    if kernel.stages.is_empty() {
        return Ok(None);
    }
    let mut program = Program::default();
    let mut skip = None;
    if let Some(guard) = &kernel.stage_guard {
        let mut e = ScalarEmitter::new(kernel, &mut program, None);
        e.ops(&guard.ops)?;
        let cond = e.reg(guard.cond)?;
        skip = Some(e.push(CpOp::Branch {
            cond,
            if_zero: true,
            target: Label(0),
        }));
    }
    for (stage, data) in kernel.stages.iter() {
        let mut e = ScalarEmitter::new(kernel, &mut program, data.loc);
        e.ops(&data.prologue)?;
        // A load the tile program reaches only under a condition: copy
        // nothing when it fails (the box need not be valid memory then).
        let unused = match data.when {
            Some(when) => {
                let cond = e.reg(when)?;
                Some(e.push(CpOp::Branch {
                    cond,
                    if_zero: true,
                    target: Label(0),
                }))
            }
            None => None,
        };
        let ready = SemRef::cluster(stage.as_u32() as u16);
        match &data.per_iteration {
            None => e.stage_copy(data, Operand::imm(data.csram_offset as i64), ready, None)?,
            Some(l) => e.stage_loop(data, l, ready)?,
        }
        if let Some(pc) = unused {
            let next = program.code.len() as u32;
            if let Op::Cp(CpOp::Branch { target, .. }) = &mut program.code[pc as usize].op {
                *target = Label(next);
            }
        }
    }
    let end = program.code.len() as u32;
    if let Some(pc) = skip {
        if let Op::Cp(CpOp::Branch { target, .. }) = &mut program.code[pc as usize].op {
            *target = Label(end);
        }
    }
    program.push(Instr::new(CpOp::Halt.into()), None);
    Ok(Some(program))
}

/// Emits control-processor tile-IR ops into the cluster program, each
/// defined register in a fresh machine register.
struct ScalarEmitter<'a> {
    kernel: &'a TileKernel,
    program: &'a mut Program,
    loc: Option<DebugLocId>,
    regs: HashMap<SReg, Reg>,
    next_reg: usize,
}

impl<'a> ScalarEmitter<'a> {
    fn new(
        kernel: &'a TileKernel,
        program: &'a mut Program,
        loc: Option<DebugLocId>,
    ) -> ScalarEmitter<'a> {
        ScalarEmitter {
            kernel,
            program,
            loc,
            regs: HashMap::new(),
            next_reg: 0,
        }
    }

    fn internal(&self, message: impl Into<String>) -> Diagnostic {
        located(
            self.kernel,
            self.loc,
            format!(
                "internal compiler error (cluster program): {}",
                message.into()
            ),
        )
    }

    fn push(&mut self, op: impl Into<Op>) -> u32 {
        self.program.push(Instr::new(op.into()), self.loc)
    }

    fn fresh(&mut self) -> Result<Reg, Diagnostic> {
        if self.next_reg >= NUM_REGS {
            return Err(self.internal("the staging prologue needs too many registers"));
        }
        self.next_reg += 1;
        Ok(Reg(self.next_reg as u8 - 1))
    }

    /// A fresh register for the definition of `r`.
    fn def(&mut self, r: SReg) -> Result<Reg, Diagnostic> {
        let reg = self.fresh()?;
        self.regs.insert(r, reg);
        Ok(reg)
    }

    fn reg(&self, r: SReg) -> Result<Reg, Diagnostic> {
        self.regs
            .get(&r)
            .copied()
            .ok_or_else(|| self.internal(format!("{r} is not computed by the prologue")))
    }

    fn operand(&self, s: SOp) -> Result<Operand, Diagnostic> {
        match s {
            SOp::Imm(v) => Ok(Operand::imm(v)),
            SOp::Reg(r) => Ok(Operand::reg(self.reg(r)?)),
        }
    }

    /// A register holding `s` (an immediate is moved into a fresh one).
    fn operand_reg(&mut self, s: SOp) -> Result<Reg, Diagnostic> {
        match s {
            SOp::Reg(r) => self.reg(r),
            SOp::Imm(v) => {
                let reg = self.fresh()?;
                self.push(CpOp::Mov {
                    dst: reg,
                    src: Operand::imm(v),
                });
                Ok(reg)
            }
        }
    }

    fn ops(&mut self, ops: &[TOp]) -> Result<(), Diagnostic> {
        for op in ops {
            let instr = match &op.kind {
                TOpKind::Mov { dst, src } => {
                    let src = self.operand(*src)?;
                    CpOp::Mov {
                        dst: self.def(*dst)?,
                        src,
                    }
                }
                TOpKind::Alu { op, dst, a, b } => {
                    let a = self.operand_reg(*a)?;
                    let b = self.operand(*b)?;
                    CpOp::Alu {
                        op: *op,
                        dst: self.def(*dst)?,
                        a,
                        b,
                    }
                }
                TOpKind::Select { dst, cond, a, b } => {
                    let cond = self.operand_reg(*cond)?;
                    let (a, b) = (self.operand(*a)?, self.operand(*b)?);
                    CpOp::Select {
                        dst: self.def(*dst)?,
                        cond,
                        a,
                        b,
                    }
                }
                TOpKind::ReadSpecial { dst, which } => CpOp::ReadSpecial {
                    dst: self.def(*dst)?,
                    special: *which,
                },
                TOpKind::Arg { dst, index } => CpOp::Arg {
                    dst: self.def(*dst)?,
                    index: u16::try_from(*index)
                        .map_err(|_| self.internal("too many kernel arguments"))?,
                },
                other => return Err(self.internal(format!("{other:?} in a staging prologue"))),
            };
            self.push(instr);
        }
        Ok(())
    }

    /// The per-iteration copies of a stage: if `fits`, the loop
    ///
    /// ```text
    /// iv = lb; off = csram_offset
    /// head: t = iv <s ub; bz t, done; iteration ops; copy → csram[off];
    ///       iv += step; off += slot; jump head
    /// done:
    /// ```
    fn stage_loop(
        &mut self,
        data: &StagedLoad,
        l: &StagedLoop,
        ready: SemRef,
    ) -> Result<(), Diagnostic> {
        self.ops(&l.fits_ops)?;
        let fits = self.reg(l.fits)?;
        let skip = self.push(CpOp::Branch {
            cond: fits,
            if_zero: true,
            target: Label(0),
        });
        let lb = self.operand(l.lb)?;
        let iv = self.def(l.iv)?;
        self.push(CpOp::Mov { dst: iv, src: lb });
        let off = self.fresh()?;
        self.push(CpOp::Mov {
            dst: off,
            src: Operand::imm(data.csram_offset as i64),
        });
        let more = self.fresh()?;
        let head = self.program.code.len() as u32;
        let ub = self.operand(l.ub)?;
        self.push(CpOp::Alu {
            op: AluOp::LtS,
            dst: more,
            a: iv,
            b: ub,
        });
        let exit = self.push(CpOp::Branch {
            cond: more,
            if_zero: true,
            target: Label(0),
        });
        self.ops(&l.iteration_ops)?;
        let when = l.when.map(|w| self.reg(w)).transpose()?;
        self.stage_copy(data, Operand::reg(off), ready, when)?;
        let step = self.operand(l.step)?;
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: iv,
            a: iv,
            b: step,
        });
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: off,
            a: off,
            b: Operand::imm(crate::sched::sram::aligned(data.bytes()) as i64),
        });
        self.push(CpOp::Jump {
            target: Label(head),
        });
        let done = self.program.code.len() as u32;
        for pc in [skip, exit] {
            if let Op::Cp(CpOp::Branch { target, .. }) = &mut self.program.code[pc as usize].op {
                *target = Label(done);
            }
        }
        Ok(())
    }

    /// The HBM → CSRAM copy of a stage's box to `csram[offset]`,
    /// signalling `ready` when done; when `when` is given and zero, the
    /// copy moves no bytes (every valid extent 0) and only signals.
    fn stage_copy(
        &mut self,
        data: &StagedLoad,
        offset: Operand,
        ready: SemRef,
        when: Option<Reg>,
    ) -> Result<(), Diagnostic> {
        let extents = data.shape();
        let dense = isa::view::row_major_strides(&extents);
        let mut dims = Vec::new();
        for (d, &ds) in data.dims.iter().zip(&dense) {
            let mut valid = d.valid.map(|v| self.operand(v)).transpose()?;
            if let Some(cond) = when {
                let dst = self.fresh()?;
                let full = valid.unwrap_or(Operand::imm(i64::from(d.extent)));
                self.push(CpOp::Select {
                    dst,
                    cond,
                    a: full,
                    b: Operand::imm(0),
                });
                valid = Some(Operand::reg(dst));
            }
            dims.push(DmaDim {
                extent: d.extent,
                src_stride: self.operand(d.hbm_stride)?,
                dst_stride: Operand::imm(ds),
                valid,
                start: d.start.map(|v| self.operand(v)).transpose()?,
            });
        }
        let copy = super::emit::strided(
            data.dtype,
            Address::hbm(self.operand(data.hbm)?),
            Address::csram(offset),
            dims,
            data.fill.map(|f| f & data.dtype.value_mask()),
        );
        self.program.push(
            Instr::with_sync(DmaOp::Copy(copy).into(), isa::Sync::none().signal(ready)),
            self.loc,
        );
        Ok(())
    }
}
