//! The `cluster-stage` pass: broadcast of operands every program instance
//! shares, through each cluster's CSRAM.
//!
//! A load whose address, box, bounds and fill are computed from the kernel
//! arguments alone — not from program ids, loop variables or loaded data —
//! reads the same bytes in every program instance: a layer norm's weight
//! and bias, a GEMM's whole B when the grid splits only M, a scale vector.
//! If no op of the launch can write that buffer
//! (`TileKernel::written_args`, from `access::provenance`), the bytes are
//! also the same at every moment of the launch. Such a load becomes a
//! [`StagedLoad`]: the cluster program (`codegen::cluster`) copies it from
//! HBM into every cluster's CSRAM once per launch, and the tile program's
//! [`TOpKind::LoadStaged`] copies it from CSRAM into TSRAM after waiting
//! for the cluster semaphore of its stage. HBM then carries the operand
//! once per cluster instead of once per program instance, and each
//! instance pays the CSRAM latency instead of HBM's.
//!
//! Conditions, all checked here:
//! - the load writes every element of its destination (no bounds, or a
//!   fill), since the CSRAM copy is dense;
//! - every register the load's operands read is defined exactly once in
//!   the kernel (so wherever the definition sits — often right before the
//!   load, inside a loop or a branch — it computes the same value), by
//!   `Mov`, `Alu`, `Select`, `Arg` or `ReadSpecial` of the grid size,
//!   recursively (the *prologue*, at most [`MAX_PROLOGUE`] ops, replayed by
//!   the cluster program);
//! - the address derives from a pointer argument and every pointer
//!   argument in the prologue is read-only for the launch;
//! - the stages fit a quarter of CSRAM (the rest stays free for other
//!   uses) and there is a cluster semaphore per stage.
//!
//! Identical loads share a stage. The first instance on each tile waits for
//! the cluster's copy (HBM latency plus the transfer at the cluster DMA's
//! rate, about what its own load would have cost); every later instance
//! finds it in CSRAM.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use maiac_backend::isa::{AluOp, ArgKind, Dispatch, Special};
use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use crate::fuse::walk::for_each_op;
use crate::pass::{Pass, PassContext};
use crate::sched::{dispatch, sram};
use crate::tile::{SOp, SReg, Stage, StageGuard, StagedLoad, TOp, TOpKind, TileKernel};

/// The longest prologue (scalar ops) a stage may need.
pub const MAX_PROLOGUE: usize = 32;

/// The `cluster-stage` pass.
#[derive(Clone, Debug)]
pub struct ClusterStage {
    machine: Machine,
}

impl ClusterStage {
    pub fn new(machine: Machine) -> ClusterStage {
        ClusterStage { machine }
    }
}

impl Pass<TileKernel> for ClusterStage {
    fn name(&self) -> &str {
        "cluster-stage"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        stage_shared_loads(kernel, &self.machine);
        Ok(())
    }
}

/// Every op of the body in pre-order, and where each register is
/// defined: its op's pre-order index when it has exactly one definition.
fn single_defs(body: &[TOp]) -> (Vec<&TOp>, HashMap<SReg, Option<usize>>) {
    let mut ops = Vec::new();
    let mut defs: HashMap<SReg, Option<usize>> = HashMap::new();
    for_each_op(body, &mut |op| {
        if let Some(r) = op.kind.scalar_def() {
            defs.entry(r)
                .and_modify(|d| *d = None)
                .or_insert(Some(ops.len()));
        }
        ops.push(op);
    });
    (ops, defs)
}

/// What a prologue needs: its ops' pre-order indices and the pointer
/// arguments it reads.
#[derive(Default)]
struct Slice {
    ops: BTreeSet<usize>,
    pointer_args: BTreeSet<u32>,
}

/// Adds the computation of `s` to `slice`; `false` if it is not a
/// function of the kernel arguments alone.
fn slice_of(
    kernel: &TileKernel,
    ops: &[&TOp],
    defs: &HashMap<SReg, Option<usize>>,
    s: SOp,
    slice: &mut Slice,
) -> bool {
    let SOp::Reg(r) = s else {
        return true;
    };
    let Some(&Some(at)) = defs.get(&r) else {
        return false;
    };
    if !slice.ops.insert(at) {
        return true;
    }
    if slice.ops.len() > MAX_PROLOGUE {
        return false;
    }
    let kind = &ops[at].kind;
    match kind {
        TOpKind::Arg { index, .. } => {
            if let Some(ArgKind::Pointer { .. }) = kernel.args.get(*index as usize).map(|a| &a.kind)
            {
                slice.pointer_args.insert(*index);
            }
            true
        }
        TOpKind::ReadSpecial { which, .. } => matches!(which, Special::NumPrograms(_)),
        TOpKind::Mov { .. } | TOpKind::Alu { .. } | TOpKind::Select { .. } => kind
            .scalar_uses()
            .into_iter()
            .all(|u| slice_of(kernel, ops, defs, u, slice)),
        _ => false,
    }
}

/// Rewrites every stageable load of `kernel` (see the module docs).
pub fn stage_shared_loads(kernel: &mut TileKernel, machine: &Machine) {
    if !kernel.stages.is_empty()
        || kernel.written_args.len() != kernel.args.len()
        || machine.cluster.csram_bytes == 0
    {
        return;
    }
    let max_stages = (machine.cluster.semaphores as usize).min(16);
    let budget = machine.cluster.csram_bytes / 4;
    let (ops, defs) = single_defs(&kernel.body);

    // Candidates in program order, keyed by what they load.
    let mut chosen: BTreeMap<usize, Stage> = BTreeMap::new();
    let mut by_key: HashMap<String, Stage> = HashMap::new();
    let mut stages: Vec<StagedLoad> = Vec::new();
    let mut used = 0u64;
    for (i, op) in ops.iter().enumerate() {
        let TOpKind::DmaLoad {
            dtype,
            hbm,
            dims,
            fill,
            ..
        } = &op.kind
        else {
            continue;
        };
        if op.kind.writes_partially() {
            continue;
        }
        let mut slice = Slice::default();
        if !op
            .kind
            .scalar_uses()
            .into_iter()
            .all(|u| slice_of(kernel, &ops, &defs, u, &mut slice))
        {
            continue;
        }
        // The address must come from a pointer argument, and no pointer
        // argument the prologue reads may be written by the launch.
        let mut address = Slice::default();
        slice_of(kernel, &ops, &defs, *hbm, &mut address);
        if address.pointer_args.is_empty()
            || slice
                .pointer_args
                .iter()
                .any(|&a| kernel.written_args[a as usize])
        {
            continue;
        }
        let key = format!("{dtype} {hbm:?} {dims:?} {fill:?}");
        if let Some(&stage) = by_key.get(&key) {
            chosen.insert(i, stage);
            continue;
        }
        let mut data = StagedLoad {
            dtype: *dtype,
            prologue: slice.ops.iter().map(|&at| ops[at].clone()).collect(),
            hbm: *hbm,
            dims: dims.clone(),
            fill: *fill,
            csram_offset: used,
            loc: op.loc,
        };
        let bytes = sram::aligned(data.bytes());
        if stages.len() >= max_stages || used + bytes > budget {
            continue;
        }
        data.csram_offset = used;
        used += bytes;
        let stage = Stage::from_u32(stages.len() as u32);
        stages.push(data);
        by_key.insert(key, stage);
        chosen.insert(i, stage);
    }
    if chosen.is_empty() {
        return;
    }
    let guard = guard(kernel, machine);
    let mut index = 0usize;
    rewrite(&mut kernel.body, &chosen, guard.cond, &mut index);
    kernel.body.splice(0..0, guard.ops.iter().cloned());
    kernel.stage_guard = Some(guard);
    for data in stages {
        kernel.stages.push(data);
    }
}

/// The [`StageGuard`] for the dispatch policy of [`dispatch::policy`]:
/// under round robin over `T` tiles (instance `p` on tile `p mod T`),
/// cluster `c` with first tile `f = c · n` (`n` tiles per cluster) runs at
/// least two of the `P` instances iff two of its tiles get one
/// (`n ≥ 2 ∧ f + 1 < min(P, T)`) or its first tile gets two
/// (`f + T < P`). A cluster with a single instance gains nothing from
/// staging (the same HBM bytes, one more hop), so it loads directly. Any
/// other policy stages everywhere.
fn guard(kernel: &mut TileKernel, machine: &Machine) -> StageGuard {
    let mut g = GuardBuilder {
        kernel,
        ops: Vec::new(),
    };
    let Dispatch::RoundRobin { tiles } = dispatch::policy(g.kernel, machine) else {
        let cond = g.def("staged", |dst| TOpKind::Mov {
            dst,
            src: SOp::Imm(1),
        });
        return StageGuard { ops: g.ops, cond };
    };
    let all = machine.clusters * machine.tiles_per_cluster;
    let t = i64::from(if tiles == 0 { all } else { tiles.min(all) });
    let n = i64::from(machine.tiles_per_cluster);
    let x = g.special("nprog.x", Special::NumPrograms(0));
    let y = g.special("nprog.y", Special::NumPrograms(1));
    let z = g.special("nprog.z", Special::NumPrograms(2));
    let xy = g.alu("nprog.xy", AluOp::Mul, x, y.into());
    let p = g.alu("programs", AluOp::Mul, xy, z.into());
    let c = g.special("cluster", Special::ClusterId);
    let f = g.alu("first_tile", AluOp::Mul, c, SOp::Imm(n));
    let f_next = g.alu("first_tile_next_round", AluOp::Add, f, SOp::Imm(t));
    let twice = g.alu("first_tile_twice", AluOp::LtU, f_next, p.into());
    let cond = if n >= 2 {
        let active = g.alu("active_tiles", AluOp::MinU, p, SOp::Imm(t));
        let second = g.alu("second_tile", AluOp::Add, f, SOp::Imm(1));
        let two = g.alu("two_tiles", AluOp::LtU, second, active.into());
        g.alu("staged", AluOp::Or, two, twice.into())
    } else {
        twice
    };
    StageGuard { ops: g.ops, cond }
}

/// Appends guard ops, each defining a fresh register.
struct GuardBuilder<'a> {
    kernel: &'a mut TileKernel,
    ops: Vec<TOp>,
}

impl GuardBuilder<'_> {
    fn def(&mut self, name: &str, kind: impl FnOnce(SReg) -> TOpKind) -> SReg {
        let r = self.kernel.new_sreg(64, name);
        self.ops.push(TOp {
            kind: kind(r),
            loc: None,
        });
        r
    }

    fn special(&mut self, name: &str, which: Special) -> SReg {
        self.def(name, |dst| TOpKind::ReadSpecial { dst, which })
    }

    fn alu(&mut self, name: &str, op: AluOp, a: SReg, b: SOp) -> SReg {
        self.def(name, |dst| TOpKind::Alu {
            op,
            dst,
            a: a.into(),
            b,
        })
    }
}

/// Replaces each chosen load (by pre-order index) with
/// `if staged { LoadStaged } else { the load }`.
fn rewrite(body: &mut [TOp], chosen: &BTreeMap<usize, Stage>, staged: SReg, index: &mut usize) {
    for op in body {
        let i = *index;
        *index += 1;
        if let Some(&stage) = chosen.get(&i) {
            if let TOpKind::DmaLoad { dst, .. } = &op.kind {
                let load = op.clone();
                let from_csram = TOp {
                    kind: TOpKind::LoadStaged {
                        stage,
                        dst: dst.clone(),
                    },
                    loc: op.loc,
                };
                op.kind = TOpKind::If {
                    cond: staged.into(),
                    then_body: vec![from_csram],
                    else_body: vec![load],
                };
                continue;
            }
        }
        for inner in op.kind.bodies_mut() {
            rewrite(inner, chosen, staged, index);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use maiac_backend::isa::Module as IsaModule;
    use maiac_backend::machine::{resolve, Machine};
    use maiac_runtime_emu::emu::{run_raw, RunOptions, Stats};
    use maiac_runtime_emu::launch::buffer_base;

    use crate::driver::{CompileOptions, PassManager};
    use crate::tile::TileKernel;

    fn fixture(name: &str) -> maiac_ir::Module {
        let path: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "..",
            "tests",
            "fixtures",
            "kernels",
        ]
        .iter()
        .collect::<PathBuf>()
        .join(name)
        .join("kernel.ttir");
        let text = std::fs::read_to_string(&path).expect("fixture");
        maiac_ir::parser::parse_module(&text, "kernel.ttir").expect("parses")
    }

    fn compile(name: &str, m: &Machine, staged: bool) -> (TileKernel, IsaModule) {
        let mut module = fixture(name);
        let mut pm = PassManager::new(m);
        if !staged {
            assert!(pm.tile_passes().remove("cluster-stage"));
        }
        let c = pm
            .compile(&mut module, m, &CompileOptions::default())
            .unwrap_or_else(|d| panic!("{d}"));
        (c.tile, c.module.expect("module"))
    }

    fn f32_bytes(n: usize, seed: u32) -> Vec<u8> {
        (0..n)
            .flat_map(|i| (((i as u32 * 31 + seed * 17) % 89) as f32 * 0.125 - 5.0).to_le_bytes())
            .collect()
    }

    /// `shared_weight_rows` over `rows` programs: (out bytes, stats).
    fn run_rows(module: &IsaModule, m: &Machine, rows: u32) -> (Vec<u8>, Stats) {
        let n = 300usize;
        let buffers = vec![
            f32_bytes(rows as usize * n, 1),
            f32_bytes(n, 2),
            f32_bytes(n, 3),
            vec![0; rows as usize * n * 4],
        ];
        let mut args: Vec<u64> = (0..4).map(buffer_base).collect();
        args.push(n as u64);
        let out = run_raw(
            module,
            m,
            [rows, 1, 1],
            &args,
            buffers,
            &RunOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (out.buffers[3].clone(), out.stats)
    }

    #[test]
    fn shared_rows_are_staged_once_per_cluster() {
        let m = resolve("maia200-like").expect("machine");
        let (tile, staged) = compile("shared_weight_rows", &m, true);
        // The weight and bias rows; the input row depends on the program id.
        assert_eq!(tile.stages.len(), 2);
        assert!(staged.cluster_program.is_some());
        let (_, plain) = compile("shared_weight_rows", &m, false);
        assert!(plain.cluster_program.is_none());
        let tiles = m.clusters * m.tiles_per_cluster;
        for rows in [1, 9, 40, 300] {
            let (a, sa) = run_rows(&staged, &m, rows);
            let (b, sb) = run_rows(&plain, &m, rows);
            assert_eq!(a, b, "{rows} rows");
            // Round robin from tile 0: a cluster running k ≥ 2 programs
            // reads the two rows once instead of k times; one with a single
            // program loads them directly.
            let mut per_cluster = vec![0u64; m.clusters as usize];
            for p in 0..rows {
                per_cluster[((p % tiles) / m.tiles_per_cluster) as usize] += 1;
            }
            let saved: u64 = per_cluster
                .iter()
                .filter(|&&k| k >= 2)
                .map(|k| (k - 1) * 2 * 300 * 4)
                .sum();
            assert_eq!(sb.hbm_bytes - sa.hbm_bytes, saved, "{rows} rows");
            if rows == 1 {
                // A lone program takes the direct path: only the guard's
                // few scalar ops are added.
                assert!(sa.cycles <= sb.cycles + sb.cycles / 100, "{sa:?} vs {sb:?}");
            }
        }
    }

    #[test]
    fn written_buffers_and_program_dependent_loads_are_not_staged() {
        let m = resolve("maia200-like").expect("machine");
        // `w` is stored before it is loaded; only `x` (read-only) is staged.
        let (tile, _) = compile("shared_weight_inplace", &m, true);
        assert!(tile.written_args[1] && !tile.written_args[0]);
        assert_eq!(tile.stages.len(), 1);
        let reads_arg = |i: u32| {
            tile.stages.values().any(|s| {
                s.prologue.iter().any(
                    |op| matches!(op.kind, crate::tile::TOpKind::Arg { index, .. } if index == i),
                )
            })
        };
        assert!(reads_arg(0) && !reads_arg(1));
        // A GEMM's tiles depend on the program ids: nothing to stage.
        let (tile, module) = compile("matmul_f16_grouped", &m, true);
        assert!(tile.stages.is_empty() && module.cluster_program.is_none());
    }

    #[test]
    fn a_machine_without_csram_stages_nothing() {
        let mut m = resolve("maia200-like").expect("machine");
        m.cluster.csram_bytes = 0;
        let (tile, module) = compile("shared_weight_rows", &m, true);
        assert!(tile.stages.is_empty() && module.cluster_program.is_none());
    }
}
