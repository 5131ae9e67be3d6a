//! The `instance-loop` pass: each tile loops over its program instances
//! itself (the kernel becomes *persistent*), so that one instance's DMA
//! overlaps another's compute.
//!
//! Under round robin a tile runs instances `t, t + T, t + 2T, …` one after
//! another, and `halt` drains the engines between two of them: instance
//! `i + 1` issues its first load only once instance `i`'s last store has
//! landed, so every instance pays the HBM latency of its loads and of its
//! stores with nothing to hide either. This pass wraps the body in
//!
//! ```text
//! if %tile + T < P {                     P = nprog.x · nprog.y · nprog.z
//!   for p = %tile; p < P; p += T {
//!     pid.x = p mod nprog.x
//!     pid.y = (p / nprog.x) mod nprog.y
//!     pid.z = p / (nprog.x · nprog.y)
//!     body                              (its `%pid.*` reads replaced)
//!   }
//! } else {
//!   body                                (the tile's only instance)
//! }
//! ```
//!
//! and records `persistent tiles=T` as the dispatch (`T` = every tile of
//! the machine): tile `t` starts once when `t < min(P, T)` and runs exactly
//! the instances round robin gives it, in the same order. The loop is an
//! ordinary innermost `for`, so `double-buffer` (the next pass) unrolls it:
//! the next instance's loads are issued while this one computes, and its
//! stores wait behind them (an elementwise kernel with 8 instances a tile:
//! 1.8× fewer cycles).
//!
//! Each instance computes from its own program ids exactly what it did, so
//! results are bit-identical. What changes is that registers, semaphores
//! and TSRAM are not reset between instances: the body never reads a
//! register it did not define first (the lowering defines every value
//! before its use; codegen treats the instance loop like any other loop).
//!
//! Conditions: the body has no loop of its own (the instance loop must be
//! innermost for double buffering to apply, and a kernel with a K loop
//! already overlaps inside it), it touches HBM, and the wrapped kernel
//! still schedules and emits (a value live across the loop can only grow
//! the working set, and the loop's own registers leave fewer for the
//! body); otherwise the kernel is left as it was.

use std::collections::BTreeMap;

use maiac_backend::isa::{AluOp, Special};
use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use crate::pass::{Pass, PassContext};
use crate::sched::double_buffer::contains_loop;
use crate::tile::{Buf, SOp, SReg, TOp, TOpKind, TileKernel};

/// The `instance-loop` pass.
#[derive(Clone, Debug)]
pub struct InstanceLoop {
    machine: Machine,
}

impl InstanceLoop {
    pub fn new(machine: Machine) -> InstanceLoop {
        InstanceLoop { machine }
    }
}

impl Pass<TileKernel> for InstanceLoop {
    fn name(&self) -> &str {
        "instance-loop"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let tiles = self.machine.clusters * self.machine.tiles_per_cluster;
        if kernel.persistent_tiles.is_some()
            || tiles == 0
            || contains_loop(&kernel.body)
            || !touches_hbm(&kernel.body)
        {
            return Ok(());
        }
        let mut trial = kernel.clone();
        wrap_in_instance_loop(&mut trial, tiles);
        // Scheduled and emitted to check: the loop's registers (its bounds,
        // induction variable and the grid sizes) are taken from the body's,
        // which can push an op over the codegen's spill limit.
        let fits = crate::sched::schedule(&trial, &self.machine)
            .and_then(|s| crate::codegen::emit(&s, &self.machine))
            .is_ok();
        if fits {
            *kernel = trial;
        }
        Ok(())
    }
}

fn touches_hbm(body: &[TOp]) -> bool {
    body.iter().any(|op| {
        matches!(
            op.kind,
            TOpKind::DmaLoad { .. }
                | TOpKind::LoadStaged { .. }
                | TOpKind::DmaStore { .. }
                | TOpKind::Gather { .. }
                | TOpKind::Scatter { .. }
                | TOpKind::Atomic { .. }
        ) || op.kind.bodies().into_iter().any(|b| touches_hbm(b))
    })
}

/// Rewrites `kernel`'s body into the loop of the module docs over
/// `tiles` tiles and records the persistent dispatch.
pub fn wrap_in_instance_loop(kernel: &mut TileKernel, tiles: u32) {
    let mut prologue = Vec::new();
    let mut def = |kernel: &mut TileKernel, name: &str, kind: &dyn Fn(SReg) -> TOpKind| {
        let dst = kernel.new_sreg(64, name);
        prologue.push(TOp {
            kind: kind(dst),
            loc: None,
        });
        dst
    };
    let nx = def(kernel, "inst.nx", &|dst| TOpKind::ReadSpecial {
        dst,
        which: Special::NumPrograms(0),
    });
    let ny = def(kernel, "inst.ny", &|dst| TOpKind::ReadSpecial {
        dst,
        which: Special::NumPrograms(1),
    });
    let nz = def(kernel, "inst.nz", &|dst| TOpKind::ReadSpecial {
        dst,
        which: Special::NumPrograms(2),
    });
    let nxy = def(kernel, "inst.nxy", &|dst| TOpKind::Alu {
        op: AluOp::Mul,
        dst,
        a: nx.into(),
        b: ny.into(),
    });
    let programs = def(kernel, "inst.programs", &|dst| TOpKind::Alu {
        op: AluOp::Mul,
        dst,
        a: nxy.into(),
        b: nz.into(),
    });
    let first = def(kernel, "inst.first", &|dst| TOpKind::ReadSpecial {
        dst,
        which: Special::TileId,
    });
    // Program ids are below 2^26 (the launch limit), so 32 bits hold `p`
    // and `p + 2T` (what double buffering needs of an induction variable).
    let p = kernel.new_sreg(32, "inst.p");

    // The program ids of instance `p`, computed only for the axes the body
    // reads.
    let mut used = [false; 3];
    mark_program_ids(&kernel.body, &mut used);
    let mut head = Vec::new();
    let mut ids: [Option<SReg>; 3] = [None; 3];
    let mut alu = |kernel: &mut TileKernel, name: &str, op: AluOp, a: SOp, b: SOp| {
        let dst = kernel.new_sreg(64, name);
        head.push(TOp {
            kind: TOpKind::Alu { op, dst, a, b },
            loc: None,
        });
        dst
    };
    if used[0] {
        ids[0] = Some(alu(kernel, "pid.x", AluOp::RemU, p.into(), nx.into()));
    }
    if used[1] {
        let row = alu(kernel, "inst.row", AluOp::DivU, p.into(), nx.into());
        ids[1] = Some(alu(kernel, "pid.y", AluOp::RemU, row.into(), ny.into()));
    }
    if used[2] {
        ids[2] = Some(alu(kernel, "pid.z", AluOp::DivU, p.into(), nxy.into()));
    }
    let single = std::mem::take(&mut kernel.body);
    let mut body = single.clone();
    // The loop's copy gets registers and buffers of its own: one used in
    // both arms of the `if` would be live across both, doubling the
    // pressure on registers and SRAM.
    let (mut sregs, mut bufs) = (BTreeMap::new(), BTreeMap::new());
    for op in &mut body {
        fresh_names(kernel, op, &mut sregs, &mut bufs);
    }
    replace_program_ids(&mut body, &ids);
    head.append(&mut body);
    // A tile with one instance runs the body as it was (its `%pid` reads
    // are that instance's under the persistent dispatch): a loop of one
    // trip would only add its scalar overhead.
    let second = kernel.new_sreg(64, "inst.second");
    let several = kernel.new_sreg(64, "inst.several");
    prologue.push(TOp {
        kind: TOpKind::Alu {
            op: AluOp::Add,
            dst: second,
            a: first.into(),
            b: SOp::Imm(i64::from(tiles)),
        },
        loc: None,
    });
    prologue.push(TOp {
        kind: TOpKind::Alu {
            op: AluOp::LtS,
            dst: several,
            a: second.into(),
            b: programs.into(),
        },
        loc: None,
    });
    let instance_loop = TOp {
        kind: TOpKind::For {
            iv: p,
            lb: first.into(),
            ub: programs.into(),
            step: SOp::Imm(i64::from(tiles)),
            body: head,
        },
        loc: None,
    };
    prologue.push(TOp {
        kind: TOpKind::If {
            cond: several.into(),
            then_body: vec![instance_loop],
            else_body: single,
        },
        loc: None,
    });
    kernel.body = prologue;
    kernel.persistent_tiles = Some(tiles);
}

/// Renames every register and buffer `op` references to a fresh one (the
/// same for every reference, recorded in the maps).
fn fresh_names(
    kernel: &mut TileKernel,
    op: &mut TOp,
    sregs: &mut BTreeMap<SReg, SReg>,
    bufs: &mut BTreeMap<Buf, Buf>,
) {
    for v in op.kind.views_mut() {
        v.buf = *bufs
            .entry(v.buf)
            .or_insert_with(|| kernel.bufs.push(kernel.bufs[v.buf].clone()));
    }
    let mut rename = |r: &mut SReg| {
        *r = *sregs
            .entry(*r)
            .or_insert_with(|| kernel.sregs.push(kernel.sregs[*r].clone()));
    };
    for s in op.kind.scalar_uses_mut() {
        if let SOp::Reg(r) = s {
            rename(r);
        }
    }
    if let Some(d) = op.kind.scalar_def_mut() {
        rename(d);
    }
    for inner in op.kind.bodies_mut() {
        for op in inner {
            fresh_names(kernel, op, sregs, bufs);
        }
    }
}

fn mark_program_ids(body: &[TOp], used: &mut [bool; 3]) {
    for op in body {
        if let TOpKind::ReadSpecial {
            which: Special::ProgramId(axis),
            ..
        } = op.kind
        {
            used[usize::from(axis.min(2))] = true;
        }
        for inner in op.kind.bodies() {
            mark_program_ids(inner, used);
        }
    }
}

fn replace_program_ids(body: &mut [TOp], ids: &[Option<SReg>; 3]) {
    for op in body {
        if let TOpKind::ReadSpecial {
            dst,
            which: Special::ProgramId(axis),
        } = op.kind
        {
            let id = ids[usize::from(axis.min(2))].expect("program id computed for a read axis");
            op.kind = TOpKind::Mov {
                dst,
                src: id.into(),
            };
        }
        for inner in op.kind.bodies_mut() {
            replace_program_ids(inner, ids);
        }
    }
}
