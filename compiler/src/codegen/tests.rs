//! End-to-end tests of scheduling + codegen on hand-built tile IR, run on
//! the emulator (with its race detector on) on both built-in machines.

use maiac_backend::isa::{
    AluOp, ArgDecl, ArgKind, DType, DebugLoc, LaneInstr, LaneOp, LaneSrc, MicroProgram, Module,
    PyLoc, Special,
};
use maiac_backend::machine::{resolve, Machine};
use maiac_runtime_emu::emu::{run_raw, RunOptions, RunOutcome};
use maiac_runtime_emu::launch::buffer_base;

use crate::sched::{schedule, schedule_with_registers};
use crate::tile::{BView, BufSpace, SOp, SReg, TDim, TInput, TMat, TOp, TOpKind, TileKernel};

pub(crate) enum Arg {
    Buffer(Vec<u8>),
    Scalar(u64),
}

fn machine(name: &str) -> Machine {
    resolve(name).expect("built-in machine")
}

pub(crate) fn launch(module: &Module, m: &Machine, grid: [u32; 3], args: Vec<Arg>) -> RunOutcome {
    let mut bits = Vec::new();
    let mut buffers = Vec::new();
    for a in args {
        match a {
            Arg::Buffer(b) => {
                bits.push(buffer_base(buffers.len()));
                buffers.push(b);
            }
            Arg::Scalar(v) => bits.push(v),
        }
    }
    run_raw(module, m, grid, &bits, buffers, &RunOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn compile(k: &TileKernel, m: &Machine) -> Module {
    let s = schedule(k, m).unwrap_or_else(|d| panic!("{d}"));
    super::emit(&s, m).unwrap_or_else(|d| panic!("{d}"))
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn to_f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as u32 * 37 + seed * 101) % 97) as f32 * 0.25 - 12.0)
        .collect()
}

/// A one-op micro-program `out = op(in...)`.
pub(crate) fn unary_micro(op: &str, inputs: &[DType]) -> MicroProgram {
    MicroProgram {
        inputs: inputs.to_vec(),
        body: vec![LaneInstr {
            op: LaneOp::parse(op).expect("lane op"),
            args: (0..inputs.len() as u16).map(LaneSrc::Input).collect(),
        }],
        outputs: vec![LaneSrc::Value(0)],
    }
}

/// A small builder over `TileKernel` for the tests.
pub(crate) struct K {
    pub k: TileKernel,
}

impl K {
    pub fn new(name: &str) -> K {
        let mut k = TileKernel {
            name: name.into(),
            ..TileKernel::default()
        };
        for (i, op) in ["tt.load", "arith.addf", "tt.store", "scf.for", "tt.dot"]
            .iter()
            .enumerate()
        {
            k.intern_loc(DebugLoc {
                op_name: op.to_string(),
                ttir_line: 10 + i as u32,
                ttir_col: 5,
                python: Some(PyLoc {
                    file: "kernel.py".into(),
                    line: 20 + i as u32,
                    col: 9,
                }),
            });
        }
        K { k }
    }

    pub fn arg(&mut self, name: &str, kind: ArgKind) -> SReg {
        let index = self.k.args.len() as u32;
        self.k.args.push(ArgDecl {
            name: name.into(),
            kind,
        });
        let r = self.k.new_sreg(64, name);
        self.k.body.push(op(TOpKind::Arg { dst: r, index }, None));
        r
    }

    pub fn alu(
        &mut self,
        body: &mut Vec<TOp>,
        alu: AluOp,
        a: impl Into<SOp>,
        b: impl Into<SOp>,
    ) -> SReg {
        let dst = self.k.new_sreg(64, "t");
        body.push(op(
            TOpKind::Alu {
                op: alu,
                dst,
                a: a.into(),
                b: b.into(),
            },
            None,
        ));
        dst
    }
}

pub(crate) fn op(kind: TOpKind, loc: Option<u32>) -> TOp {
    TOp {
        kind,
        loc: loc.map(maiac_backend::isa::DebugLocId),
    }
}

fn ptr(pointee: DType) -> ArgKind {
    ArgKind::Pointer { pointee }
}

fn dim1(extent: u32, valid: Option<SOp>) -> Vec<TDim> {
    vec![TDim {
        extent,
        hbm_stride: SOp::Imm(1),
        valid,
        start: None,
    }]
}

/// `out[i] = x[i] + y[i]` for `i < n`, `block` elements per program.
pub(crate) fn vector_add(block: u32) -> TileKernel {
    let mut b = K::new("add_kernel");
    let x = b.arg("x_ptr", ptr(DType::F32));
    let y = b.arg("y_ptr", ptr(DType::F32));
    let out = b.arg("out_ptr", ptr(DType::F32));
    let n = b.arg("n", ArgKind::Scalar { dtype: DType::I32 });
    let mut body = std::mem::take(&mut b.k.body);
    let pid = b.k.new_sreg(32, "pid");
    body.push(op(
        TOpKind::ReadSpecial {
            dst: pid,
            which: Special::ProgramId(0),
        },
        None,
    ));
    let start = b.alu(&mut body, AluOp::Mul, pid, i64::from(block));
    let left = b.alu(&mut body, AluOp::Sub, n, start);
    let bytes = b.alu(&mut body, AluOp::Shl, start, 2);
    let xp = b.alu(&mut body, AluOp::Add, x, bytes);
    let yp = b.alu(&mut body, AluOp::Add, y, bytes);
    let op_ = b.alu(&mut body, AluOp::Add, out, bytes);
    let shape = [block];
    let bx = b.k.new_buf(DType::F32, &shape, BufSpace::Tsram, "x");
    let by = b.k.new_buf(DType::F32, &shape, BufSpace::Tsram, "y");
    let bo = b.k.new_buf(DType::F32, &shape, BufSpace::Tsram, "sum");
    let valid = Some(SOp::Reg(left));
    for (hbm, buf) in [(xp, bx), (yp, by)] {
        body.push(op(
            TOpKind::DmaLoad {
                dtype: DType::F32,
                hbm: hbm.into(),
                dims: dim1(block, valid),
                dst: BView::whole(buf, &shape),
                fill: Some(0),
            },
            Some(0),
        ));
    }
    body.push(op(
        TOpKind::Map {
            micro: unary_micro("addf.f32", &[DType::F32, DType::F32]),
            inputs: vec![
                TInput::View(BView::whole(bx, &shape)),
                TInput::View(BView::whole(by, &shape)),
            ],
            outputs: vec![BView::whole(bo, &shape)],
        },
        Some(1),
    ));
    body.push(op(
        TOpKind::DmaStore {
            dtype: DType::F32,
            src: BView::whole(bo, &shape),
            hbm: op_.into(),
            dims: dim1(block, valid),
        },
        Some(2),
    ));
    b.k.body = body;
    b.k
}

fn check_vector_add(name: &str) {
    let m = machine(name);
    let module = compile(&vector_add(256), &m);
    let n = 1000usize;
    let (x, y) = (values(n, 1), values(n, 2));
    let r = launch(
        &module,
        &m,
        [n.div_ceil(256) as u32, 1, 1],
        vec![
            Arg::Buffer(f32s(&x)),
            Arg::Buffer(f32s(&y)),
            Arg::Buffer(vec![0; 4 * n]),
            Arg::Scalar(n as u64),
        ],
    );
    let got = to_f32s(&r.buffers[2]);
    for i in 0..n {
        assert_eq!(got[i].to_bits(), (x[i] + y[i]).to_bits(), "element {i}");
    }
    assert!(
        r.stats
            .by_source_line
            .keys()
            .any(|l| l.starts_with("kernel.py:")),
        "{:?}",
        r.stats.by_source_line
    );
}

#[test]
fn vector_add_on_tiny() {
    check_vector_add("tiny");
}

#[test]
fn vector_add_on_maia200_like() {
    check_vector_add("maia200-like");
}

#[test]
fn vector_add_schedule_and_disassembly_snapshots() {
    let m = machine("tiny");
    let s = schedule(&vector_add(256), &m).unwrap();
    insta::assert_snapshot!("vector_add_sched", s.render());
    let module = super::emit(&s, &m).unwrap();
    insta::assert_snapshot!("vector_add_asm", maiac_backend::asm::disassemble(&module));
}

fn check_outcome_vector_add(module: &Module, m: &Machine) {
    let n = 700usize;
    let (x, y) = (values(n, 3), values(n, 4));
    let r = launch(
        module,
        m,
        [n.div_ceil(256) as u32, 1, 1],
        vec![
            Arg::Buffer(f32s(&x)),
            Arg::Buffer(f32s(&y)),
            Arg::Buffer(vec![0; 4 * n]),
            Arg::Scalar(n as u64),
        ],
    );
    let got = to_f32s(&r.buffers[2]);
    for i in 0..n {
        assert_eq!(got[i].to_bits(), (x[i] + y[i]).to_bits(), "element {i}");
    }
}

#[test]
fn spilled_registers_round_trip_through_tsram() {
    let m = machine("tiny");
    let s = schedule_with_registers(&vector_add(256), &m, 3).unwrap_or_else(|d| panic!("{d}"));
    assert!(s.spill_slots > 0, "{}", s.render());
    // Buffers start after the spill area.
    assert!(s
        .bufs
        .values()
        .all(|p| p.offset >= s.spill_offset(s.spill_slots)));
    let module = super::emit(&s, &m).unwrap_or_else(|d| panic!("{d}"));
    check_outcome_vector_add(&module, &m);
}

/// `out[j] = Σ_i x[i·64 + j]` for `i < 4`, accumulated in a loop-carried
/// buffer (initialised by a map of the scalar 0.0).
fn loop_accumulate() -> TileKernel {
    loop_accumulate_with(false)
}

/// [`loop_accumulate`]; with `dynamic_bounds`, `out[j] = Σ x[i·64 + j]`
/// over `i in 0..ub step s` with `ub` and `s` kernel arguments.
fn loop_accumulate_with(dynamic_bounds: bool) -> TileKernel {
    let mut b = K::new("acc_kernel");
    let x = b.arg("x_ptr", ptr(DType::F32));
    let out = b.arg("out_ptr", ptr(DType::F32));
    let (ub, step) = if dynamic_bounds {
        let i32 = ArgKind::Scalar { dtype: DType::I32 };
        (SOp::Reg(b.arg("ub", i32)), SOp::Reg(b.arg("step", i32)))
    } else {
        (SOp::Imm(4), SOp::Imm(1))
    };
    let mut body = std::mem::take(&mut b.k.body);
    let shape = [64u32];
    let acc = b.k.new_buf(DType::F32, &shape, BufSpace::Tsram, "acc");
    let chunk = b.k.new_buf(DType::F32, &shape, BufSpace::Tsram, "chunk");
    let copy = MicroProgram {
        inputs: vec![DType::F32],
        body: Vec::new(),
        outputs: vec![LaneSrc::Input(0)],
    };
    body.push(op(
        TOpKind::Map {
            micro: copy,
            inputs: vec![TInput::Scalar(SOp::Imm(0))],
            outputs: vec![BView::whole(acc, &shape)],
        },
        Some(1),
    ));
    let iv = b.k.new_sreg(32, "i");
    let mut inner = Vec::new();
    let off = b.alu(&mut inner, AluOp::Mul, iv, 64 * 4);
    let p = b.alu(&mut inner, AluOp::Add, x, off);
    inner.push(op(
        TOpKind::DmaLoad {
            dtype: DType::F32,
            hbm: p.into(),
            dims: dim1(64, None),
            dst: BView::whole(chunk, &shape),
            fill: None,
        },
        Some(0),
    ));
    inner.push(op(
        TOpKind::Map {
            micro: unary_micro("addf.f32", &[DType::F32, DType::F32]),
            inputs: vec![
                TInput::View(BView::whole(acc, &shape)),
                TInput::View(BView::whole(chunk, &shape)),
            ],
            outputs: vec![BView::whole(acc, &shape)],
        },
        Some(1),
    ));
    body.push(op(
        TOpKind::For {
            iv,
            lb: SOp::Imm(0),
            ub,
            step,
            body: inner,
        },
        Some(3),
    ));
    body.push(op(
        TOpKind::DmaStore {
            dtype: DType::F32,
            src: BView::whole(acc, &shape),
            hbm: out.into(),
            dims: dim1(64, None),
        },
        Some(2),
    ));
    b.k.body = body;
    b.k
}

#[test]
fn loop_accumulates_into_a_loop_carried_buffer() {
    for name in ["tiny", "maia200-like"] {
        let m = machine(name);
        let s = schedule(&loop_accumulate(), &m).unwrap();
        // acc is live through the loop, so chunk cannot share its bytes.
        let (a, c) = (
            s.bufs.values().next().unwrap(),
            s.bufs.values().nth(1).unwrap(),
        );
        assert_ne!(a.offset, c.offset);
        let module = super::emit(&s, &m).unwrap();
        let x = values(256, 5);
        let r = launch(
            &module,
            &m,
            [1, 1, 1],
            vec![Arg::Buffer(f32s(&x)), Arg::Buffer(vec![0; 256])],
        );
        let got = to_f32s(&r.buffers[1]);
        for j in 0..64 {
            let want = (0..4).fold(0f32, |acc, i| acc + x[i * 64 + j]);
            assert_eq!(got[j].to_bits(), want.to_bits(), "{name} element {j}");
        }
    }
}

/// `C[16,16] = A[16,32] × B[32,16]` through the TTU and a drain.
fn matmul_kernel() -> TileKernel {
    let (mm, nn, kk) = (16u32, 16u32, 32u32);
    let mut b = K::new("matmul");
    let a = b.arg("a", ptr(DType::F32));
    let bp = b.arg("b", ptr(DType::F32));
    let c = b.arg("c", ptr(DType::F32));
    let mut body = std::mem::take(&mut b.k.body);
    let ta = b.k.new_buf(DType::F32, &[mm, kk], BufSpace::Tsram, "a");
    let tb = b.k.new_buf(DType::F32, &[kk, nn], BufSpace::Tsram, "b");
    let acc = b.k.new_buf(DType::F32, &[mm, nn], BufSpace::Acc, "acc");
    let tc = b.k.new_buf(DType::F32, &[mm, nn], BufSpace::Tsram, "c");
    let dims = |rows: u32, cols: u32| {
        vec![
            TDim {
                extent: rows,
                hbm_stride: SOp::Imm(i64::from(cols)),
                valid: None,
                start: None,
            },
            TDim {
                extent: cols,
                hbm_stride: SOp::Imm(1),
                valid: None,
                start: None,
            },
        ]
    };
    for (hbm, buf, r, cl) in [(a, ta, mm, kk), (bp, tb, kk, nn)] {
        body.push(op(
            TOpKind::DmaLoad {
                dtype: DType::F32,
                hbm: hbm.into(),
                dims: dims(r, cl),
                dst: BView::whole(buf, &[r, cl]),
                fill: None,
            },
            Some(0),
        ));
    }
    let mat = |buf, r, cl| TMat {
        view: BView::whole(buf, &[r, cl]),
        dtype: DType::F32,
        transposed: false,
        scale: None,
    };
    body.push(op(
        TOpKind::Matmul {
            m: mm,
            n: nn,
            k: kk,
            a: mat(ta, mm, kk),
            b: mat(tb, kk, nn),
            out: BView::whole(acc, &[mm, nn]),
            accumulate: false,
        },
        Some(4),
    ));
    body.push(op(
        TOpKind::Drain {
            src: BView::whole(acc, &[mm, nn]),
            dst: BView::whole(tc, &[mm, nn]),
            epilogue: None,
        },
        Some(4),
    ));
    body.push(op(
        TOpKind::DmaStore {
            dtype: DType::F32,
            src: BView::whole(tc, &[mm, nn]),
            hbm: c.into(),
            dims: dims(mm, nn),
        },
        Some(2),
    ));
    b.k.body = body;
    b.k
}

#[test]
fn matmul_and_drain_match_sequential_fl32() {
    for name in ["tiny", "maia200-like"] {
        let m = machine(name);
        let module = compile(&matmul_kernel(), &m);
        let (a, bm) = (values(16 * 32, 6), values(32 * 16, 7));
        let r = launch(
            &module,
            &m,
            [1, 1, 1],
            vec![
                Arg::Buffer(f32s(&a)),
                Arg::Buffer(f32s(&bm)),
                Arg::Buffer(vec![0; 4 * 256]),
            ],
        );
        let got = to_f32s(&r.buffers[2]);
        for i in 0..16 {
            for j in 0..16 {
                let want = (0..32).fold(0f32, |acc, k| acc + a[i * 32 + k] * bm[k * 16 + j]);
                assert_eq!(
                    got[i * 16 + j].to_bits(),
                    want.to_bits(),
                    "{name} ({i}, {j})"
                );
            }
        }
    }
}

/// Two phases `out0 = x·2`, `out1 = y + 1`: on a TSRAM that holds one
/// phase's two buffers (fresh bytes run out), the second phase's buffers
/// reuse the first phase's bytes once they are dead, so the DMA load of
/// `y` must wait for the TVP's read of `x` (and the map for the store).
fn buffer_reuse_kernel() -> TileKernel {
    let mut b = K::new("reuse");
    let x = b.arg("x", ptr(DType::F32));
    let y = b.arg("y", ptr(DType::F32));
    let o0 = b.arg("out0", ptr(DType::F32));
    let o1 = b.arg("out1", ptr(DType::F32));
    let mut body = std::mem::take(&mut b.k.body);
    let shape = [128u32];
    let two = u64::from(2f32.to_bits()) as i64;
    let one = u64::from(1f32.to_bits()) as i64;
    for (src, dst, constant, lane) in [(x, o0, two, "mulf.f32"), (y, o1, one, "addf.f32")] {
        let input = b.k.new_buf(DType::F32, &shape, BufSpace::Tsram, "in");
        let output = b.k.new_buf(DType::F32, &shape, BufSpace::Tsram, "out");
        body.push(op(
            TOpKind::DmaLoad {
                dtype: DType::F32,
                hbm: src.into(),
                dims: dim1(128, None),
                dst: BView::whole(input, &shape),
                fill: None,
            },
            Some(0),
        ));
        body.push(op(
            TOpKind::Map {
                micro: unary_micro(lane, &[DType::F32, DType::F32]),
                inputs: vec![
                    TInput::View(BView::whole(input, &shape)),
                    TInput::Scalar(SOp::Imm(constant)),
                ],
                outputs: vec![BView::whole(output, &shape)],
            },
            Some(1),
        ));
        body.push(op(
            TOpKind::DmaStore {
                dtype: DType::F32,
                src: BView::whole(output, &shape),
                hbm: dst.into(),
                dims: dim1(128, None),
            },
            Some(2),
        ));
    }
    b.k.body = body;
    b.k
}

#[test]
fn reused_buffer_bytes_are_synchronised() {
    for name in ["tiny", "maia200-like"] {
        let mut m = machine(name);
        m.tile.tsram_bytes = 2 * 128 * 4;
        let s = schedule(&buffer_reuse_kernel(), &m).unwrap();
        let offsets: Vec<u64> = s.bufs.values().map(|p| p.offset).collect();
        let mut distinct = offsets.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() < offsets.len(), "no reuse: {}", s.render());
        let module = super::emit(&s, &m).unwrap();
        let (x, y) = (values(128, 8), values(128, 9));
        let r = launch(
            &module,
            &m,
            [1, 1, 1],
            vec![
                Arg::Buffer(f32s(&x)),
                Arg::Buffer(f32s(&y)),
                Arg::Buffer(vec![0; 512]),
                Arg::Buffer(vec![0; 512]),
            ],
        );
        let (g0, g1) = (to_f32s(&r.buffers[2]), to_f32s(&r.buffers[3]));
        for i in 0..128 {
            assert_eq!(g0[i].to_bits(), (x[i] * 2.0).to_bits());
            assert_eq!(g1[i].to_bits(), (y[i] + 1.0).to_bits());
        }
    }
}

#[test]
fn oversized_buffer_is_a_located_sram_diagnostic() {
    let m = machine("tiny");
    let mut b = K::new("big");
    let x = b.arg("x", ptr(DType::F32));
    let elems = (m.tile.tsram_bytes / 4) as u32 + 16;
    let big =
        b.k.new_buf(DType::F32, &[elems], BufSpace::Tsram, "huge_tile");
    b.k.body.push(op(
        TOpKind::DmaLoad {
            dtype: DType::F32,
            hbm: x.into(),
            dims: dim1(elems, None),
            dst: BView::whole(big, &[elems]),
            fill: None,
        },
        Some(0),
    ));
    b.k.body.push(op(
        TOpKind::DmaStore {
            dtype: DType::F32,
            src: BView::whole(big, &[elems]),
            hbm: x.into(),
            dims: dim1(elems, None),
        },
        Some(2),
    ));
    let d = schedule(&b.k, &m).unwrap_err();
    let text = d.render(None);
    assert!(text.contains("does not fit in TSRAM"), "{text}");
    assert!(
        text.contains(&format!("{} are available", m.tile.tsram_bytes)),
        "{text}"
    );
    assert!(text.contains("huge_tile"), "{text}");
    assert_eq!(d.pos.map(|p| p.line), Some(10), "{text}");
    assert_eq!(d.python.as_ref().map(|p| p.line), Some(20), "{text}");
}

/// `acc = 0; n = pid + 2; while n > 0 { acc += 1; n -= 1 }; if pid == 0
/// { acc *= 10 }; out[pid] = acc` over 64 lanes.
fn while_and_if_kernel() -> TileKernel {
    let mut b = K::new("control");
    let out = b.arg("out", ptr(DType::F32));
    let mut body = std::mem::take(&mut b.k.body);
    let shape = [64u32];
    let acc = b.k.new_buf(DType::F32, &shape, BufSpace::Tsram, "acc");
    let pid = b.k.new_sreg(32, "pid");
    body.push(op(
        TOpKind::ReadSpecial {
            dst: pid,
            which: Special::ProgramId(0),
        },
        None,
    ));
    let copy = MicroProgram {
        inputs: vec![DType::F32],
        body: Vec::new(),
        outputs: vec![LaneSrc::Input(0)],
    };
    body.push(op(
        TOpKind::Map {
            micro: copy,
            inputs: vec![TInput::Scalar(SOp::Imm(0))],
            outputs: vec![BView::whole(acc, &shape)],
        },
        Some(1),
    ));
    let n = b.alu(&mut body, AluOp::Add, pid, 2);
    let bump = |constant: f32, lane: &str| {
        op(
            TOpKind::Map {
                micro: unary_micro(lane, &[DType::F32, DType::F32]),
                inputs: vec![
                    TInput::View(BView::whole(acc, &shape)),
                    TInput::Scalar(SOp::Imm(i64::from(constant.to_bits()))),
                ],
                outputs: vec![BView::whole(acc, &shape)],
            },
            Some(1),
        )
    };
    let mut before = Vec::new();
    let c = b.alu(&mut before, AluOp::GtS, n, 0);
    let after = vec![
        bump(1.0, "addf.f32"),
        op(
            TOpKind::Alu {
                op: AluOp::Sub,
                dst: n,
                a: n.into(),
                b: SOp::Imm(1),
            },
            None,
        ),
    ];
    body.push(op(
        TOpKind::While {
            before,
            cond: c.into(),
            after,
        },
        Some(3),
    ));
    let is0 = b.alu(&mut body, AluOp::Eq, pid, 0);
    body.push(op(
        TOpKind::If {
            cond: is0.into(),
            then_body: vec![bump(10.0, "mulf.f32")],
            else_body: Vec::new(),
        },
        Some(3),
    ));
    let off = b.alu(&mut body, AluOp::Mul, pid, 64 * 4);
    let p = b.alu(&mut body, AluOp::Add, out, off);
    body.push(op(
        TOpKind::DmaStore {
            dtype: DType::F32,
            src: BView::whole(acc, &shape),
            hbm: p.into(),
            dims: dim1(64, None),
        },
        Some(2),
    ));
    b.k.body = body;
    b.k
}

#[test]
fn while_loops_and_branches_run_race_free() {
    for name in ["tiny", "maia200-like"] {
        let m = machine(name);
        let module = compile(&while_and_if_kernel(), &m);
        let r = launch(
            &module,
            &m,
            [2, 1, 1],
            vec![Arg::Buffer(vec![0; 2 * 64 * 4])],
        );
        let got = to_f32s(&r.buffers[0]);
        assert!(
            got[..64].iter().all(|&v| v == 20.0),
            "{name}: {:?}",
            &got[..4]
        );
        assert!(
            got[64..].iter().all(|&v| v == 3.0),
            "{name}: {:?}",
            &got[64..68]
        );
    }
}

/// Runs `loop_accumulate_with(true)` (after `double-buffer` when `pass`)
/// for `0..ub step s`; returns the output and the modelled cycles.
fn run_accumulate(pass: bool, ub: i64, step: i64, m: &Machine) -> (Vec<f32>, u64) {
    use crate::pass::{Pass, PassContext};
    let mut k = loop_accumulate_with(true);
    if pass {
        crate::sched::DoubleBuffer::new(m.clone())
            .run(&mut k, &mut PassContext::default())
            .unwrap();
        let text = crate::tile::render(&k);
        assert!(text.contains("chunk.ring"), "{text}");
    }
    let module = compile(&k, m);
    let x = values(64 * 8, 9);
    let r = launch(
        &module,
        m,
        [1, 1, 1],
        vec![
            Arg::Buffer(f32s(&x)),
            Arg::Buffer(vec![0; 256]),
            Arg::Scalar(ub as u64),
            Arg::Scalar(step as u64),
        ],
    );
    (to_f32s(&r.buffers[1]), r.stats.cycles)
}

#[test]
fn double_buffered_loops_run_every_trip_count_exactly() {
    let m = machine("tiny");
    for step in [1i64, 2, 3] {
        for ub in 0..=7i64 {
            let (got, _) = run_accumulate(true, ub, step, &m);
            let (plain, _) = run_accumulate(false, ub, step, &m);
            for j in 0..64 {
                let want = (0..ub)
                    .step_by(step as usize)
                    .fold(0f32, |acc, i| acc + values(64 * 8, 9)[i as usize * 64 + j]);
                assert_eq!(
                    got[j].to_bits(),
                    want.to_bits(),
                    "ub {ub} step {step} [{j}]"
                );
                assert_eq!(got[j].to_bits(), plain[j].to_bits());
            }
        }
    }
    // A non-positive step over an empty range runs nothing (a non-empty
    // one traps before the loop, as without the pass).
    let (got, _) = run_accumulate(true, 0, -1, &m);
    assert!(got.iter().all(|v| *v == 0.0));
}

#[test]
fn double_buffering_overlaps_the_next_load_with_compute() {
    for name in ["tiny", "maia200-like"] {
        let m = machine(name);
        let (_, plain) = run_accumulate(false, 8, 1, &m);
        let (_, double) = run_accumulate(true, 8, 1, &m);
        assert!(
            double < plain,
            "{name}: {double} cycles vs {plain} without the pass"
        );
    }
}

/// `out = gather(x_ptr + 4·iota)` inside the else arm of a branch that is
/// always taken to the else side: a fallback whose offsets and `i64`
/// addresses overflow `tiny`'s 256 KiB TSRAM at 24,576 lanes.
fn oversized_fallback(lanes: u32) -> TileKernel {
    let mut b = K::new("fallback");
    let x = b.arg("x_ptr", ptr(DType::F32));
    let out = b.arg("out_ptr", ptr(DType::F32));
    let mut body = std::mem::take(&mut b.k.body);
    let shape = [lanes];
    let idx = b.k.new_buf(DType::I32, &shape, BufSpace::Tsram, "idx");
    let addrs = b.k.new_buf(DType::I64, &shape, BufSpace::Tsram, "addrs");
    let data = b.k.new_buf(DType::F32, &shape, BufSpace::Tsram, "data");
    let fallback = vec![
        op(
            TOpKind::Iota {
                dst: BView::whole(idx, &shape),
                start: SOp::Imm(0),
                axis: 0,
            },
            Some(0),
        ),
        op(
            TOpKind::Map {
                micro: unary_micro("addptr.i32.x4", &[DType::I64, DType::I32]),
                inputs: vec![
                    TInput::Scalar(x.into()),
                    TInput::View(BView::whole(idx, &shape)),
                ],
                outputs: vec![BView::whole(addrs, &shape)],
            },
            Some(0),
        ),
        op(
            TOpKind::Gather {
                dtype: DType::F32,
                count: lanes,
                addrs: BView::whole(addrs, &shape),
                mask: None,
                dst: BView::whole(data, &shape),
                fill: 0,
            },
            Some(0),
        ),
    ];
    body.push(op(
        TOpKind::If {
            cond: SOp::Imm(0),
            then_body: Vec::new(),
            else_body: fallback,
        },
        Some(0),
    ));
    body.push(op(
        TOpKind::DmaStore {
            dtype: DType::F32,
            src: BView::whole(data, &shape),
            hbm: out.into(),
            dims: dim1(lanes, None),
        },
        Some(2),
    ));
    b.k.body = body;
    b.k
}

#[test]
fn oversized_fallback_arms_run_in_chunks() {
    use crate::pass::{Pass, PassContext};
    let m = machine("tiny");
    let lanes = 24576;
    let mut k = oversized_fallback(lanes);
    assert!(
        schedule(&k, &m).is_err(),
        "the test needs a kernel that does not fit"
    );
    crate::sched::SplitArms::new(m.clone())
        .run(&mut k, &mut PassContext::default())
        .unwrap();
    let text = crate::tile::render(&k);
    assert!(text.matches("dma.gather").count() > 1, "{text}");
    let module = compile(&k, &m);
    let x = values(lanes as usize, 11);
    let r = launch(
        &module,
        &m,
        [1, 1, 1],
        vec![
            Arg::Buffer(f32s(&x)),
            Arg::Buffer(vec![0; 4 * lanes as usize]),
        ],
    );
    let got = to_f32s(&r.buffers[1]);
    for (i, (g, w)) in got.iter().zip(&x).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "lane {i}");
    }
}

/// `vector_add` over `programs` instances of 64 elements on the tiny
/// machine (4 tiles), with or without the `instance-loop` and
/// `double-buffer` passes: the output and the cycles.
fn run_vector_add_instances(persistent: bool, programs: u32, m: &Machine) -> (Vec<f32>, u64) {
    use crate::pass::{Pass, PassContext};
    let mut k = vector_add(64);
    if persistent {
        crate::sched::InstanceLoop::new(m.clone())
            .run(&mut k, &mut PassContext::default())
            .unwrap();
        let text = crate::tile::render(&k);
        assert!(text.contains("dispatch persistent tiles=4"), "{text}");
        crate::sched::DoubleBuffer::new(m.clone())
            .run(&mut k, &mut PassContext::default())
            .unwrap();
    }
    let module = compile(&k, m);
    let expected = if persistent {
        maiac_backend::isa::Dispatch::Persistent { tiles: 4 }
    } else {
        maiac_backend::isa::Dispatch::RoundRobin { tiles: 0 }
    };
    assert_eq!(module.dispatch, expected);
    // `n` stops short of the last block, so the last instance is masked.
    let n = (programs * 64).saturating_sub(5);
    let (x, y) = (
        values(64 * programs as usize, 3),
        values(64 * programs as usize, 4),
    );
    let r = launch(
        &module,
        m,
        [programs, 1, 1],
        vec![
            Arg::Buffer(f32s(&x)),
            Arg::Buffer(f32s(&y)),
            Arg::Buffer(vec![0; 256 * programs as usize]),
            Arg::Scalar(u64::from(n)),
        ],
    );
    let got = to_f32s(&r.buffers[2]);
    for i in 0..64 * programs as usize {
        let want = if (i as u32) < n { x[i] + y[i] } else { 0.0 };
        assert_eq!(
            got[i].to_bits(),
            want.to_bits(),
            "{programs} programs [{i}]"
        );
    }
    (got, r.stats.cycles)
}

#[test]
fn instance_loop_runs_every_instance_of_every_grid() {
    let m = machine("tiny");
    // Fewer instances than tiles, one each, and 2–5 instances a tile
    // (even and odd trip counts of the double-buffered instance loop).
    for programs in [1, 3, 4, 5, 8, 9, 14, 20] {
        let (persistent, _) = run_vector_add_instances(true, programs, &m);
        let (plain, _) = run_vector_add_instances(false, programs, &m);
        assert_eq!(persistent, plain, "{programs} programs");
    }
}

#[test]
fn instance_loop_overlaps_one_instance_with_the_next() {
    let m = machine("tiny");
    let (_, plain) = run_vector_add_instances(false, 32, &m);
    let (_, persistent) = run_vector_add_instances(true, 32, &m);
    assert!(
        persistent < plain,
        "{persistent} cycles vs {plain} under round robin"
    );
}
