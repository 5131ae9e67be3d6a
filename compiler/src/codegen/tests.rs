//! End-to-end tests of scheduling + codegen on hand-built tile IR, run on
//! the emulator (with its race detector on) on both built-in machines.

use maiac_backend::isa::{
    AluOp, ArgDecl, ArgKind, DType, DebugLoc, LaneInstr, LaneOp, LaneSrc, MicroProgram, Module, PyLoc, Special,
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
    run_raw(module, m, grid, &bits, buffers, &RunOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn compile(k: &TileKernel, m: &Machine) -> Module {
    let s = schedule(k, m).unwrap_or_else(|d| panic!("{d}"));
    super::emit(&s, m).unwrap_or_else(|d| panic!("{d}"))
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn to_f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n).map(|i| ((i as u32 * 37 + seed * 101) % 97) as f32 * 0.25 - 12.0).collect()
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
        let mut k = TileKernel { name: name.into(), ..TileKernel::default() };
        for (i, op) in ["tt.load", "arith.addf", "tt.store", "scf.for", "tt.dot"].iter().enumerate() {
            k.intern_loc(DebugLoc {
                op_name: op.to_string(),
                ttir_line: 10 + i as u32,
                ttir_col: 5,
                python: Some(PyLoc { file: "kernel.py".into(), line: 20 + i as u32, col: 9 }),
            });
        }
        K { k }
    }

    pub fn arg(&mut self, name: &str, kind: ArgKind) -> SReg {
        let index = self.k.args.len() as u32;
        self.k.args.push(ArgDecl { name: name.into(), kind });
        let r = self.k.new_sreg(64, name);
        self.k.body.push(op(TOpKind::Arg { dst: r, index }, None));
        r
    }

    pub fn alu(&mut self, body: &mut Vec<TOp>, alu: AluOp, a: impl Into<SOp>, b: impl Into<SOp>) -> SReg {
        let dst = self.k.new_sreg(64, "t");
        body.push(op(TOpKind::Alu { op: alu, dst, a: a.into(), b: b.into() }, None));
        dst
    }
}

pub(crate) fn op(kind: TOpKind, loc: Option<u32>) -> TOp {
    TOp { kind, loc: loc.map(maiac_backend::isa::DebugLocId) }
}

fn ptr(pointee: DType) -> ArgKind {
    ArgKind::Pointer { pointee }
}

fn dim1(extent: u32, valid: Option<SOp>) -> Vec<TDim> {
    vec![TDim { extent, hbm_stride: SOp::Imm(1), valid }]
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
    body.push(op(TOpKind::ReadSpecial { dst: pid, which: Special::ProgramId(0) }, None));
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
            inputs: vec![TInput::View(BView::whole(bx, &shape)), TInput::View(BView::whole(by, &shape))],
            outputs: vec![BView::whole(bo, &shape)],
        },
        Some(1),
    ));
    body.push(op(
        TOpKind::DmaStore { dtype: DType::F32, src: BView::whole(bo, &shape), hbm: op_.into(), dims: dim1(block, valid) },
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
        vec![Arg::Buffer(f32s(&x)), Arg::Buffer(f32s(&y)), Arg::Buffer(vec![0; 4 * n]), Arg::Scalar(n as u64)],
    );
    let got = to_f32s(&r.buffers[2]);
    for i in 0..n {
        assert_eq!(got[i].to_bits(), (x[i] + y[i]).to_bits(), "element {i}");
    }
    assert!(r.stats.by_source_line.keys().any(|l| l.starts_with("kernel.py:")), "{:?}", r.stats.by_source_line);
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
