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
use std::collections::BTreeSet;

use maiac_backend::isa::Special;
use maiac_backend::machine::Machine;

use crate::tile::{SOp, SReg, Stage, StagedLoad, StagedLoop, TOp, TOpKind, TileKernel};

/// The registers a stage reads after its prologue: its loop's bounds and
/// ops, its copy's operands and conditions.
fn later_uses(data: &StagedLoad) -> BTreeSet<SReg> {
    let mut uses = copy_uses(data);
    uses.extend(data.when);
    if let Some(l) = &data.per_iteration {
        let ops = l.fits_ops.iter().chain(&l.iteration_ops);
        let ops = ops.chain(data.per_wave.iter().flat_map(|w| &w.trips_ops));
        for op in ops {
            uses.extend(regs(op.kind.scalar_uses()));
        }
        uses.extend(regs([l.lb, l.ub, l.step]));
    }
    uses
}

/// The registers a stage's copy reads (address and box).
fn copy_uses(data: &StagedLoad) -> BTreeSet<SReg> {
    let mut uses: BTreeSet<SReg> = regs([data.hbm]).collect();
    for d in &data.dims {
        uses.extend(regs([d.hbm_stride]));
        uses.extend(regs(d.valid.into_iter().chain(d.start)));
    }
    uses
}

fn regs(ops: impl IntoIterator<Item = SOp>) -> impl Iterator<Item = SReg> {
    ops.into_iter().filter_map(|s| match s {
        SOp::Reg(r) => Some(r),
        SOp::Imm(_) => None,
    })
}

/// The cluster program of `kernel`, if it stages anything.
pub fn cluster_program(
    kernel: &TileKernel,
    machine: &Machine,
) -> Result<Option<Program>, Diagnostic> {
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
    // Row-shared stages of one loop are copied by one loop nest, after
    // the other stages.
    let mut rows: Vec<Vec<Stage>> = Vec::new();
    for (stage, data) in kernel.stages.iter() {
        if let (Some(l), Some(_)) = (&data.per_iteration, &data.per_wave) {
            let same = rows.iter_mut().find(|g| {
                let first = kernel.stages[g[0]].per_iteration.as_ref();
                first.is_some_and(|f| (f.iv, f.lb, f.ub, f.step) == (l.iv, l.lb, l.ub, l.step))
            });
            match same {
                Some(g) => g.push(stage),
                None => rows.push(vec![stage]),
            }
            continue;
        }
        let mut e = ScalarEmitter::new(kernel, &mut program, data.loc);
        e.ops_live(&data.prologue, &later_uses(data))?;
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
            None => e.stage_copy(
                data,
                Operand::imm(data.csram_offset as i64),
                Some(ready),
                None,
            )?,
            Some(l) => e.stage_loop(data, l, ready)?,
        }
        if let Some(pc) = unused {
            let next = program.code.len() as u32;
            if let Op::Cp(CpOp::Branch { target, .. }) = &mut program.code[pc as usize].op {
                *target = Label(next);
            }
        }
    }
    for group in &rows {
        let loc = kernel.stages[group[0]].loc;
        let mut e = ScalarEmitter::new(kernel, &mut program, loc);
        e.stage_rows(group, machine)?;
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
    /// Registers whose values are dead, reused before fresh ones.
    free: Vec<Reg>,
    /// What `pid.y`/`pid.z` reads of a row-shared stage's ops bind to.
    pids: [Option<Reg>; 3],
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
            free: Vec::new(),
            pids: [None; 3],
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
        if let Some(reg) = self.free.pop() {
            return Ok(reg);
        }
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

    /// Frees the register of `r`, if it holds one.
    fn release(&mut self, r: SReg) {
        if let Some(reg) = self.regs.remove(&r) {
            self.free.push(reg);
        }
    }

    /// [`Self::ops`], freeing each register `ops` define once its last
    /// use among them has run, unless `live_out` reads it later. An op
    /// whose register a previous sequence still holds is skipped: every
    /// tile-IR register a prologue reads has one definition, so it would
    /// compute the same value.
    fn ops_live(&mut self, ops: &[TOp], live_out: &BTreeSet<SReg>) -> Result<(), Diagnostic> {
        let mut last: HashMap<SReg, usize> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            for r in regs(op.kind.scalar_uses()) {
                last.insert(r, i);
            }
        }
        let defined: BTreeSet<SReg> = ops.iter().filter_map(|o| o.kind.scalar_def()).collect();
        for (i, op) in ops.iter().enumerate() {
            let def = op.kind.scalar_def();
            if def.is_some_and(|d| self.regs.contains_key(&d)) {
                continue;
            }
            self.ops(std::slice::from_ref(op))?;
            let dead: Vec<SReg> = regs(op.kind.scalar_uses())
                .chain(def)
                .filter(|r| {
                    defined.contains(r)
                        && !live_out.contains(r)
                        && last.get(r).is_none_or(|&at| at <= i)
                })
                .collect();
            for r in dead {
                self.release(r);
            }
        }
        Ok(())
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
                TOpKind::ReadSpecial {
                    dst,
                    which: Special::ProgramId(axis),
                } => {
                    let Some(bound) = self.pids.get(usize::from(*axis)).copied().flatten() else {
                        return Err(self.internal("a program id in a staging prologue"));
                    };
                    CpOp::Mov {
                        dst: self.def(*dst)?,
                        src: Operand::reg(bound),
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
        self.ops_live(&l.fits_ops, &BTreeSet::from([l.fits]))?;
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
        let mut live = copy_uses(data);
        live.extend(l.when);
        self.ops_live(&l.iteration_ops, &live)?;
        let when = l.when.map(|w| self.reg(w)).transpose()?;
        self.stage_copy(data, Operand::reg(off), Some(ready), when)?;
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

    /// The copies of the row-shared stages `group` (one loop's; see
    /// [`crate::tile::StagedWave`]), walking round robin's waves of this
    /// cluster, the loop's iterations and the rows of each wave:
    ///
    /// ```text
    /// if X ≥ min_shared_columns, trips ≥ MIN_SHARED_TRIPS,
    ///    P > contended_programs and some stage fits:
    ///   w = 0; g = 0
    ///   wave: base = w·T + c·n; if base ≥ P: done
    ///         first = base / X; rows = (min(base + n, P) − 1) / X − first + 1
    ///         end = (w + 1)·trips·R; if end > max slots: done
    ///         (a stage fits the wave when end ≤ its slots)
    ///         j = 0; iv = lb
    ///   iter: if j ≥ trips: w += 1, goto wave
    ///         for r in 0..rows: y, z = ids of row first + r;
    ///             per stage that fits: its ops; copy → slot g·R + r, signal
    ///         for r in rows..R: per stage that fits: an empty copy, signal
    ///         g += 1; j += 1; iv += step; goto iter
    /// ```
    fn stage_rows(&mut self, group: &[Stage], machine: &Machine) -> Result<(), Diagnostic> {
        let kernel = self.kernel;
        let n = i64::from(machine.tiles_per_cluster);
        let all_tiles = i64::from(machine.clusters) * n;
        let stages: Vec<&StagedLoad> = group.iter().map(|&s| &kernel.stages[s]).collect();
        let mut live = BTreeSet::new();
        for data in &stages {
            live.extend(later_uses(data));
        }
        for data in &stages {
            self.ops_live(&data.prologue, &live)?;
        }
        let l = stages[0].per_iteration.as_ref().expect("a loop");
        // Per stage: fits (trip count within its slots), trips.
        let mut fits = Vec::new();
        let mut trips = None;
        for data in &stages {
            let (sl, w) = (
                data.per_iteration.as_ref().expect("a loop"),
                data.per_wave.as_ref().expect("row-shared"),
            );
            self.ops_live(&sl.fits_ops, &BTreeSet::from([sl.fits]))?;
            fits.push(self.reg(sl.fits)?);
            if trips.is_none() {
                self.ops_live(&w.trips_ops, &BTreeSet::from([w.trips]))?;
                trips = Some(self.reg(w.trips)?);
            }
        }
        let trips = trips.expect("a stage");
        let limit = stages
            .iter()
            .map(|d| d.per_wave.as_ref().map_or(0, |w| w.max_slots))
            .max()
            .unwrap_or(0) as i64;
        let x = self.special(Special::NumPrograms(0))?;
        let y = self.special(Special::NumPrograms(1))?;
        let z = self.special(Special::NumPrograms(2))?;
        let p = self.alu(AluOp::Mul, x, Operand::reg(y))?;
        let p = self.alu(AluOp::Mul, p, Operand::reg(z))?;
        let mut any = self.alu(
            AluOp::GeS,
            x,
            Operand::imm(crate::sched::cluster_stage::min_shared_columns(machine)),
        )?;
        let long = self.alu(
            AluOp::GeS,
            trips,
            Operand::imm(crate::sched::cluster_stage::MIN_SHARED_TRIPS),
        )?;
        any = self.alu(AluOp::And, any, Operand::reg(long))?;
        let busy = self.alu(
            AluOp::GtU,
            p,
            Operand::imm(crate::sched::cluster_stage::contended_programs(machine)),
        )?;
        any = self.alu(AluOp::And, any, Operand::reg(busy))?;
        let mut some_fit = fits[0];
        for &f in &fits[1..] {
            some_fit = self.alu(AluOp::Or, some_fit, Operand::reg(f))?;
        }
        any = self.alu(AluOp::And, any, Operand::reg(some_fit))?;
        let mut exits = vec![self.branch_zero(any)];
        let c = self.special(Special::ClusterId)?;
        let cn = self.alu(AluOp::Mul, c, Operand::imm(n))?;
        let x1 = self.alu(AluOp::MaxS, x, Operand::imm(1))?;
        let n1 = self.mov(Operand::imm(n - 1))?;
        let rows_max = self.alu(AluOp::DivU, n1, Operand::reg(x1))?;
        let rows_max = self.alu(AluOp::Add, rows_max, Operand::imm(2))?;
        let rows_max = self.alu(AluOp::MinU, rows_max, Operand::imm(n))?;
        let w = self.mov(Operand::imm(0))?;
        let g = self.mov(Operand::imm(0))?;
        let (base, first, rows, j, more, end, r, row, t) = (
            self.fresh()?,
            self.fresh()?,
            self.fresh()?,
            self.fresh()?,
            self.fresh()?,
            self.fresh()?,
            self.fresh()?,
            self.fresh()?,
            self.fresh()?,
        );
        let iv = self.def(l.iv)?;
        let (pid_y, pid_z) = (self.fresh()?, self.fresh()?);
        let oks: Vec<Reg> = (0..stages.len())
            .map(|_| self.fresh())
            .collect::<Result<_, _>>()?;
        // wave:
        let wave = self.here();
        self.push(CpOp::Alu {
            op: AluOp::Mul,
            dst: base,
            a: w,
            b: Operand::imm(all_tiles),
        });
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: base,
            a: base,
            b: Operand::reg(cn),
        });
        self.push(CpOp::Alu {
            op: AluOp::LtU,
            dst: more,
            a: base,
            b: Operand::reg(p),
        });
        exits.push(self.branch_zero(more));
        self.push(CpOp::Alu {
            op: AluOp::DivU,
            dst: first,
            a: base,
            b: Operand::reg(x),
        });
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: t,
            a: base,
            b: Operand::imm(n),
        });
        self.push(CpOp::Alu {
            op: AluOp::MinU,
            dst: t,
            a: t,
            b: Operand::reg(p),
        });
        self.push(CpOp::Alu {
            op: AluOp::Sub,
            dst: t,
            a: t,
            b: Operand::imm(1),
        });
        self.push(CpOp::Alu {
            op: AluOp::DivU,
            dst: rows,
            a: t,
            b: Operand::reg(x),
        });
        self.push(CpOp::Alu {
            op: AluOp::Sub,
            dst: rows,
            a: rows,
            b: Operand::reg(first),
        });
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: rows,
            a: rows,
            b: Operand::imm(1),
        });
        // The wave is staged when all its groups' slots fit:
        // `(w + 1)·trips·R ≤ max slots` (the tile tests the same).
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: end,
            a: w,
            b: Operand::imm(1),
        });
        self.push(CpOp::Alu {
            op: AluOp::Mul,
            dst: end,
            a: end,
            b: Operand::reg(trips),
        });
        self.push(CpOp::Alu {
            op: AluOp::Mul,
            dst: end,
            a: end,
            b: Operand::reg(rows_max),
        });
        self.push(CpOp::Alu {
            op: AluOp::LeS,
            dst: more,
            a: end,
            b: Operand::imm(limit),
        });
        exits.push(self.branch_zero(more));
        for ((data, &ok), &fit) in stages.iter().zip(&oks).zip(&fits) {
            let slots = data.per_wave.as_ref().map_or(0, |w| w.max_slots) as i64;
            self.push(CpOp::Alu {
                op: AluOp::LeS,
                dst: ok,
                a: end,
                b: Operand::imm(slots),
            });
            self.push(CpOp::Alu {
                op: AluOp::And,
                dst: ok,
                a: ok,
                b: Operand::reg(fit),
            });
        }
        self.push(CpOp::Mov {
            dst: j,
            src: Operand::imm(0),
        });
        let lb = self.operand(l.lb)?;
        self.push(CpOp::Mov { dst: iv, src: lb });
        // iter:
        let iter = self.here();
        self.push(CpOp::Alu {
            op: AluOp::LtS,
            dst: more,
            a: j,
            b: Operand::reg(trips),
        });
        let next_wave = self.branch_zero(more);
        self.push(CpOp::Mov {
            dst: r,
            src: Operand::imm(0),
        });
        // row:
        let row_head = self.here();
        self.push(CpOp::Alu {
            op: AluOp::LtU,
            dst: more,
            a: r,
            b: Operand::reg(rows),
        });
        let group_end = self.branch_zero(more);
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: row,
            a: first,
            b: Operand::reg(r),
        });
        self.push(CpOp::Alu {
            op: AluOp::RemU,
            dst: pid_y,
            a: row,
            b: Operand::reg(y),
        });
        self.push(CpOp::Alu {
            op: AluOp::DivU,
            dst: pid_z,
            a: row,
            b: Operand::reg(y),
        });
        self.pids = [None, Some(pid_y), Some(pid_z)];
        for ((&stage, data), &ok) in group.iter().zip(&stages).zip(&oks) {
            let sl = data.per_iteration.as_ref().expect("a loop");
            let skip = self.branch_zero(ok);
            let mut live = copy_uses(data);
            live.extend(sl.when);
            self.ops_live(&sl.iteration_ops, &live)?;
            let when = sl.when.map(|w| self.reg(w)).transpose()?;
            // Slot `g·R + r` of the stage's region.
            let bytes = crate::sched::sram::aligned(data.bytes()) as i64;
            self.push(CpOp::Alu {
                op: AluOp::Mul,
                dst: t,
                a: g,
                b: Operand::reg(rows_max),
            });
            self.push(CpOp::Alu {
                op: AluOp::Add,
                dst: t,
                a: t,
                b: Operand::reg(r),
            });
            self.push(CpOp::Alu {
                op: AluOp::Mul,
                dst: t,
                a: t,
                b: Operand::imm(bytes),
            });
            let ready = SemRef::cluster(stage.as_u32() as u16);
            self.stage_copy(
                data,
                Operand::reg_plus(t, data.csram_offset as i64),
                Some(ready),
                when,
            )?;
            for op in &sl.iteration_ops {
                if let Some(d) = op.kind.scalar_def() {
                    self.release(d);
                }
            }
            self.patch(skip);
        }
        self.pids = [None; 3];
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: r,
            a: r,
            b: Operand::imm(1),
        });
        self.push(CpOp::Jump {
            target: Label(row_head),
        });
        // Every group signals `R` times, one per row: rows the wave does
        // not have get an empty copy (one engine completes in order), so
        // the tile of slot `g·R + r` waits for `g·R + r + 1` signals.
        self.patch(group_end);
        let pad_head = self.here();
        self.push(CpOp::Alu {
            op: AluOp::LtU,
            dst: more,
            a: r,
            b: Operand::reg(rows_max),
        });
        let padded = self.branch_zero(more);
        for ((&stage, data), &ok) in group.iter().zip(&stages).zip(&oks) {
            let skip = self.branch_zero(ok);
            let ready = SemRef::cluster(stage.as_u32() as u16);
            let copy = super::emit::strided(
                data.dtype,
                Address::hbm(Operand::imm(0)),
                Address::csram(Operand::imm(data.csram_offset as i64)),
                vec![DmaDim {
                    extent: 1,
                    src_stride: Operand::imm(0),
                    dst_stride: Operand::imm(1),
                    valid: Some(Operand::imm(0)),
                    start: None,
                }],
                None,
            );
            self.program.push(
                Instr::with_sync(DmaOp::Copy(copy).into(), isa::Sync::none().signal(ready)),
                self.loc,
            );
            self.patch(skip);
        }
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: r,
            a: r,
            b: Operand::imm(1),
        });
        self.push(CpOp::Jump {
            target: Label(pad_head),
        });
        self.patch(padded);
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: g,
            a: g,
            b: Operand::imm(1),
        });
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: j,
            a: j,
            b: Operand::imm(1),
        });
        let step = self.operand(l.step)?;
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: iv,
            a: iv,
            b: step,
        });
        self.push(CpOp::Jump {
            target: Label(iter),
        });
        self.patch(next_wave);
        self.push(CpOp::Alu {
            op: AluOp::Add,
            dst: w,
            a: w,
            b: Operand::imm(1),
        });
        self.push(CpOp::Jump {
            target: Label(wave),
        });
        for pc in exits {
            self.patch(pc);
        }
        Ok(())
    }

    fn here(&self) -> u32 {
        self.program.code.len() as u32
    }

    /// A branch taken when `cond` is zero, to be [`Self::patch`]ed.
    fn branch_zero(&mut self, cond: Reg) -> u32 {
        self.push(CpOp::Branch {
            cond,
            if_zero: true,
            target: Label(0),
        })
    }

    /// Points the branch at `pc` to the next instruction.
    fn patch(&mut self, pc: u32) {
        let next = self.here();
        if let Op::Cp(CpOp::Branch { target, .. }) = &mut self.program.code[pc as usize].op {
            *target = Label(next);
        }
    }

    fn special(&mut self, special: Special) -> Result<Reg, Diagnostic> {
        let dst = self.fresh()?;
        self.push(CpOp::ReadSpecial { dst, special });
        Ok(dst)
    }

    fn mov(&mut self, src: Operand) -> Result<Reg, Diagnostic> {
        let dst = self.fresh()?;
        self.push(CpOp::Mov { dst, src });
        Ok(dst)
    }

    fn alu(&mut self, op: AluOp, a: Reg, b: Operand) -> Result<Reg, Diagnostic> {
        let dst = self.fresh()?;
        self.push(CpOp::Alu { op, dst, a, b });
        Ok(dst)
    }

    /// The HBM → CSRAM copy of a stage's box to `csram[offset]`,
    /// signalling `ready` (if given) when done; when `when` is given and
    /// zero, the copy moves no bytes (every valid extent 0).
    fn stage_copy(
        &mut self,
        data: &StagedLoad,
        offset: Operand,
        ready: Option<SemRef>,
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
        let sync = match ready {
            Some(ready) => isa::Sync::none().signal(ready),
            None => isa::Sync::none(),
        };
        self.program
            .push(Instr::with_sync(DmaOp::Copy(copy).into(), sync), self.loc);
        Ok(())
    }
}
