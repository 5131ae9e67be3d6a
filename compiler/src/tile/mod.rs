//! The tile IR: what the compiler lowers TTIR to before scheduling.
//!
//! A [`TileKernel`] is a structured program (loops and ifs nest as in TTIR)
//! of machine-level operations over **virtual** storage:
//!
//! - [`Buf`]: a tensor buffer in a tile's TSRAM (or its TTU accumulator
//!   memory), with an element type and a shape. Buffers are not yet placed:
//!   the scheduler assigns offsets by liveness.
//! - [`SReg`]: a scalar value the control processor holds in a 64-bit
//!   register (integers canonically sign-extended from their width, pointers
//!   as byte addresses). The scheduler assigns physical registers.
//!
//! Operations ([`TOpKind`]) mirror the ISA (`maiac_backend::isa`): control
//! processor ALU ops, DMA, TVP micro-program maps/reductions/scans/copies,
//! TTU matmul/drain, and structured control flow. There is no
//! synchronisation here: the scheduler derives semaphores from the buffers
//! each op reads and writes ([`TOpKind::reads`] / [`TOpKind::writes`]).
//!
//! Pipeline position: TTIR --lower--> tile IR --fuse (egg)--> tile IR
//! --schedule--> scheduled program --codegen--> binary.

mod print;

use cranelift_entity::{entity_impl, PrimaryMap};
use maiac_backend::isa::{
    AluOp, ArgDecl, AtomicKind, DType, DebugLoc, DebugLocId, MicroProgram, MxFormat, Special,
};

pub use print::{render, render_stages};

/// A virtual tensor buffer.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Buf(u32);
entity_impl!(Buf, "b");

/// A virtual scalar register.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SReg(u32);
entity_impl!(SReg, "s");

/// An operand staged in CSRAM by the cluster program (see [`StagedLoad`]).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stage(u32);
entity_impl!(Stage, "stage");

/// A load every program instance makes identically — its address, box,
/// bounds and fill are functions of the kernel arguments alone, and no
/// op of the launch writes its buffer — copied from HBM into each
/// cluster's CSRAM once per launch by the cluster program; the tile
/// program's [`TOpKind::LoadStaged`] then copies it from CSRAM.
#[derive(Clone, PartialEq, Debug)]
pub struct StagedLoad {
    pub dtype: DType,
    /// Control-processor ops (`Mov`, `Alu`, `Select`, `Arg`,
    /// `ReadSpecial` of the grid size), in order, that compute `hbm` and
    /// the operands of `dims`; the cluster program runs them.
    pub prologue: Vec<TOp>,
    pub hbm: SOp,
    pub dims: Vec<TDim>,
    /// The fill of the elements outside the valid box (a staged load
    /// writes every element of its destination).
    pub fill: Option<u64>,
    /// Set when the load runs only under a condition (an `if`, a loop
    /// that may run no trip): the prologue register that is non-zero
    /// exactly when the tile program reaches the load. The cluster program
    /// copies nothing otherwise — the box may then not be valid memory.
    pub when: Option<SReg>,
    /// Set when the load's box moves with a loop's induction variable.
    pub per_iteration: Option<StagedLoop>,
    /// Set when the box also depends on the program ids (not on
    /// `pid.x`): a panel the instances of one grid row share.
    pub per_wave: Option<StagedWave>,
    /// Byte offset of the dense, row-major copy in every cluster's CSRAM.
    pub csram_offset: u64,
    /// The load it replaced.
    pub loc: Option<DebugLocId>,
}

/// A staged load inside `for iv = lb to ub step step` whose address
/// depends on `iv` (and the kernel arguments): the cluster program runs the
/// same loop, copying iteration `j`'s box to `csram_offset + j·box_bytes`
/// and signalling after each, when the trip count is at most
/// `max_trips` and the step is positive (`fits`, computed by `fits_ops` in
/// both programs from the arguments); otherwise neither program stages it.
#[derive(Clone, PartialEq, Debug)]
pub struct StagedLoop {
    pub iv: SReg,
    pub lb: SOp,
    pub ub: SOp,
    pub step: SOp,
    /// Ops computing the address and box from `iv` and the prologue's
    /// registers, run once per iteration.
    pub iteration_ops: Vec<TOp>,
    pub max_trips: u64,
    /// Ops (over the prologue's registers) computing `fits`.
    pub fits_ops: Vec<TOp>,
    pub fits: SReg,
    /// Set when the tile reaches the load only in some iterations (an
    /// `if` in the loop): the iteration-op register that is non-zero in
    /// those. The cluster program's copy of another iteration moves no
    /// bytes (every dimension's valid extent 0) but still signals, so the
    /// signal count keeps matching the iteration index.
    pub when: Option<SReg>,
}

/// Which copy of a stage a [`TOpKind::LoadStaged`] reads.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum StagedSlot {
    /// The stage's only copy, landed after one signal.
    Once,
    /// Box `index` of a per-iteration stage ([`StagedLoop`]; `index` is
    /// `(iv − lb) / step`), landed after `index + 1` signals.
    Iteration(SOp),
    /// Slot `index` of a row-shared stage ([`StagedWave`]), landed once
    /// the stage's semaphore counts `index + 1`.
    Wave(SOp),
}

impl StagedSlot {
    fn uses(&self) -> Vec<SOp> {
        match *self {
            StagedSlot::Once => Vec::new(),
            StagedSlot::Iteration(i) | StagedSlot::Wave(i) => vec![i],
        }
    }

    fn uses_mut(&mut self) -> Vec<&mut SOp> {
        match self {
            StagedSlot::Once => Vec::new(),
            StagedSlot::Iteration(i) | StagedSlot::Wave(i) => vec![i],
        }
    }
}

/// A per-iteration stage ([`StagedLoop`]) whose box also depends on
/// `pid.y`/`pid.z` — never on `pid.x`, the instance's own index within a
/// grid row, nor on anything else a program instance owns: every
/// instance of a grid row (`p / nprog.x`) loads the same box in the same
/// iteration, like the B panel of a GEMM over a 2-D grid.
///
/// Under round robin over all `T` tiles, cluster `c` runs in its *wave*
/// `w` the instances `w·T + c·n + t` (`t < n`, the tiles of a cluster);
/// they span `R = min(n, (n − 1) / nprog.x + 2)` rows at most, and the
/// instance of row `r` (counted from the wave's first) in iteration `j`
/// reads *group* `g = w · trips + j`, slot `(g − 1) · R + r` of the
/// stage's region (group 0 — the first iteration of the first wave — is
/// loaded directly: nothing is in CSRAM that early, and a copy waiting
/// for it would hold up the tile's DMA queue). The cluster program walks the same waves, iterations and rows,
/// copying each row's box once (with the row's ids bound to the
/// iteration ops' `pid.y`/`pid.z` reads) and signalling after each (a
/// group of fewer rows pads with empty copies, so slot `s` has landed
/// once the semaphore counts `s + 1`); a group whose slots do not fit the
/// region is not staged, and both
/// programs know it from `g`.
#[derive(Clone, PartialEq, Debug)]
pub struct StagedWave {
    /// Ops over the prologue's registers computing `trips`, the loop's
    /// trip count (positive step and exact span: `fits` of the loop).
    pub trips_ops: Vec<TOp>,
    pub trips: SReg,
    /// Slots of the region (`StagedLoop::max_trips` is unused).
    pub max_slots: u64,
}

impl StagedLoad {
    /// The box's shape (the extents of `dims`).
    pub fn shape(&self) -> Vec<u32> {
        self.dims.iter().map(|d| d.extent).collect()
    }

    /// Bytes of one dense copy of the box (packed FP4 rounds up).
    pub fn bytes(&self) -> u64 {
        let elements = self.dims.iter().map(|d| u64::from(d.extent)).product();
        self.dtype.bytes_for(elements).max(1)
    }
}

/// When the staged loads are used: `cond` (defined by the last of `ops`,
/// control-processor ops over special registers) is non-zero in the tiles
/// of a cluster that runs at least two program instances of the launch.
/// The tile program evaluates it at its start and takes, for each staged
/// load, the [`TOpKind::LoadStaged`] arm or the original DMA; the cluster
/// program evaluates it too and stages only when it holds.
#[derive(Clone, PartialEq, Debug)]
pub struct StageGuard {
    pub ops: Vec<TOp>,
    pub cond: SReg,
}

/// Where a buffer lives.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum BufSpace {
    /// The tile's local SRAM: every engine can read and write it.
    Tsram,
    /// The TTU accumulator memory: matmul outputs, drain and TVP inputs.
    Acc,
}

/// A buffer's element type, shape and space.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct BufData {
    pub dtype: DType,
    pub shape: Vec<u32>,
    pub space: BufSpace,
    /// A name for dumps (the TTIR value's name when it has one).
    pub name: String,
}

impl BufData {
    pub fn num_elements(&self) -> u64 {
        self.shape.iter().map(|&d| u64::from(d)).product()
    }

    /// Bytes the buffer occupies (packed FP4 rounds up).
    pub fn bytes(&self) -> u64 {
        self.dtype.bytes_for(self.num_elements()).max(1)
    }
}

/// A scalar register's width in bits (1, 8, 16, 32 or 64) and a name.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct SRegData {
    pub width: u32,
    pub name: String,
}

/// A scalar operand: an immediate or a register.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum SOp {
    Imm(i64),
    Reg(SReg),
}

impl From<SReg> for SOp {
    fn from(r: SReg) -> SOp {
        SOp::Reg(r)
    }
}

impl From<i64> for SOp {
    fn from(v: i64) -> SOp {
        SOp::Imm(v)
    }
}

/// A strided view of a buffer: element `idx` is element
/// `offset + Σ idx[d]·strides[d]` of `buf` (in elements of the buffer's
/// type). Rank 0–4.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct BView {
    pub buf: Buf,
    pub offset: i64,
    pub shape: Vec<u32>,
    pub strides: Vec<i64>,
}

impl BView {
    /// The whole buffer, row-major.
    pub fn whole(buf: Buf, shape: &[u32]) -> BView {
        BView {
            buf,
            offset: 0,
            shape: shape.to_vec(),
            strides: maiac_backend::isa::view::row_major_strides(shape),
        }
    }

    pub fn num_elements(&self) -> u64 {
        self.shape.iter().map(|&d| u64::from(d)).product()
    }

    /// Whether the view is dense and row-major from offset 0 with
    /// `elements` elements: it covers every element of a buffer that size.
    pub fn is_whole(&self, elements: u64) -> bool {
        self.offset == 0
            && self.num_elements() == elements
            && self.strides == maiac_backend::isa::view::row_major_strides(&self.shape)
    }
}

/// An input of a map-like op: a tensor view or a scalar broadcast to every
/// lane (the operand's low bits at the micro-program's input type).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum TInput {
    View(BView),
    Scalar(SOp),
}

/// One dimension of an HBM-side strided DMA: `extent` elements, HBM stride
/// in elements, and the valid indices `start..valid` (`None`: from 0, up to
/// the extent). Elements outside the valid box get the fill (loads) or are
/// not written (stores).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TDim {
    pub extent: u32,
    pub hbm_stride: SOp,
    pub valid: Option<SOp>,
    pub start: Option<SOp>,
}

/// A matmul operand stored as a 2-D row-major block with a row stride:
/// `view` has shape `[rows, cols]` as stored and strides `[ld, 1]`;
/// `transposed` means the stored block is the transpose of the logical
/// operand. `scale` holds MX E8M0 scales (`[rows_logical, K/32]`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TMat {
    pub view: BView,
    pub dtype: DType,
    pub transposed: bool,
    pub scale: Option<BView>,
}

/// A tile-IR operation with the debug location it came from.
#[derive(Clone, PartialEq, Debug)]
pub struct TOp {
    pub kind: TOpKind,
    pub loc: Option<DebugLocId>,
}

/// The operations; see the ISA documentation (docs/isa.md) for the
/// semantics of each machine-level op.
#[derive(Clone, PartialEq, Debug)]
pub enum TOpKind {
    // ---- control processor (scalar) ----
    /// `dst = src`.
    Mov { dst: SReg, src: SOp },
    /// `dst = a op b` at 64 bits (the lowering normalises narrower widths).
    Alu {
        op: AluOp,
        dst: SReg,
        a: SOp,
        b: SOp,
    },
    /// `dst = cond != 0 ? a : b`.
    Select {
        dst: SReg,
        cond: SOp,
        a: SOp,
        b: SOp,
    },
    /// A special register (program id, number of programs, ...).
    ReadSpecial { dst: SReg, which: Special },
    /// Kernel argument `index` (pointer: HBM address; scalar: sign-extended
    /// value; float: raw bits).
    Arg { dst: SReg, index: u32 },
    /// Loads element 0 of a view into a register (`bytes` wide,
    /// sign- or zero-extended).
    LoadScalar {
        dst: SReg,
        src: BView,
        bytes: u8,
        signed: bool,
    },
    /// Stores the low `bytes` of a scalar into element 0 of a view.
    StoreScalar { src: SOp, dst: BView, bytes: u8 },
    /// Stops the launch with an error (a failed `tt.assert`, an invalid
    /// loop step).
    Trap { code: u32 },

    // ---- DMA ----
    /// HBM → TSRAM strided copy: element `i` of `dst` (its shape is the
    /// dims' extents) comes from `hbm + elem_bytes·Σ i[d]·hbm_stride[d]`,
    /// or is `fill` outside the valid box (`None`: left untouched).
    DmaLoad {
        dtype: DType,
        hbm: SOp,
        dims: Vec<TDim>,
        dst: BView,
        fill: Option<u64>,
    },
    /// CSRAM → TSRAM copy of a staged operand (`dst` has the stage's
    /// shape): waits until the cluster program has staged it, in the copy
    /// `slot` says.
    LoadStaged {
        stage: Stage,
        dst: BView,
        slot: StagedSlot,
    },
    /// TSRAM → HBM strided copy (masked-off elements are not written).
    DmaStore {
        dtype: DType,
        src: BView,
        hbm: SOp,
        dims: Vec<TDim>,
    },
    /// `dst[i] = mask[i] ? *addrs[i] : fill` (addrs: contiguous `i64`
    /// buffer of byte addresses; mask: `i1` bytes).
    Gather {
        dtype: DType,
        count: u32,
        addrs: BView,
        mask: Option<BView>,
        dst: BView,
        fill: u64,
    },
    /// `if mask[i]: *addrs[i] = src[i]` in index order.
    Scatter {
        dtype: DType,
        count: u32,
        addrs: BView,
        mask: Option<BView>,
        src: BView,
    },
    /// Atomic read-modify-write of each active element, in index order.
    Atomic {
        kind: AtomicKind,
        dtype: DType,
        count: u32,
        addrs: BView,
        values: BView,
        compare: Option<BView>,
        mask: Option<BView>,
        old: Option<BView>,
    },

    // ---- TVP ----
    /// `outputs[o][i] = micro(inputs…[i])[o]`.
    Map {
        micro: MicroProgram,
        inputs: Vec<TInput>,
        outputs: Vec<BView>,
    },
    /// Sequential left fold along `axis` with a `2n → n` combiner.
    Reduce {
        combiner: MicroProgram,
        axis: u8,
        inputs: Vec<BView>,
        outputs: Vec<BView>,
    },
    /// The fused activation-with-reduction (`tvp.actreduce`):
    /// `output[i] = micro(inputs…[i])` (one output), then `reduced` = the
    /// sequential left fold of the **stored** `output` along `axis` with a
    /// `2 → 1` combiner (the [`TOpKind::Reduce`] convention with one
    /// operand). Exactly a `Map` followed by a one-operand `Reduce` of its
    /// output view, in one instruction.
    ActReduce {
        micro: MicroProgram,
        inputs: Vec<TInput>,
        output: BView,
        combiner: MicroProgram,
        axis: u8,
        reduced: BView,
    },
    /// Inclusive scan along `axis`.
    Scan {
        combiner: MicroProgram,
        axis: u8,
        reverse: bool,
        inputs: Vec<BView>,
        outputs: Vec<BView>,
    },
    /// `dst[i] = start + i[axis]`.
    Iota { dst: BView, start: SOp, axis: u8 },
    /// Element copy between views of equal element type and count
    /// (both iterated row-major).
    Copy { src: BView, dst: BView },
    /// `dst[i] = src[i with i[axis] = index[i]]`.
    TvpGather {
        src: BView,
        index: BView,
        dst: BView,
        axis: u8,
    },
    /// Counts of active elements per bin.
    Histogram {
        src: BView,
        mask: Option<BView>,
        dst: BView,
    },
    /// MX quantization along the last axis.
    MxQuantize {
        format: MxFormat,
        src: BView,
        codes: BView,
        scales: BView,
    },
    /// MX dequantization.
    MxDequantize {
        format: MxFormat,
        codes: BView,
        scales: BView,
        dst: BView,
    },

    // ---- TTU ----
    /// `out[M,N] (+)= A[M,K] × B[K,N]` into an f32/i32 view (`out` strides
    /// `[ldo, 1]`).
    Matmul {
        m: u32,
        n: u32,
        k: u32,
        a: TMat,
        b: TMat,
        out: BView,
        accumulate: bool,
    },
    /// `dst[i] = epilogue(src[i], extra…[i])` or a cast without epilogue.
    Drain {
        src: BView,
        dst: BView,
        epilogue: Option<(MicroProgram, Vec<TInput>)>,
    },

    // ---- structured control flow ----
    /// `for iv = lb; iv < ub (signed); iv += step { body }`. Loop-carried
    /// values are registers/buffers the body overwrites at its end.
    For {
        iv: SReg,
        lb: SOp,
        ub: SOp,
        step: SOp,
        body: Vec<TOp>,
    },
    /// `if cond != 0 { then_body } else { else_body }`.
    If {
        cond: SOp,
        then_body: Vec<TOp>,
        else_body: Vec<TOp>,
    },
    /// `loop { before; if cond == 0 break; after }`.
    While {
        before: Vec<TOp>,
        cond: SOp,
        after: Vec<TOp>,
    },
}

/// A lowered kernel.
#[derive(Clone, Debug, Default)]
pub struct TileKernel {
    /// The kernel's name (the TTIR function).
    pub name: String,
    /// The argument table (parameter order).
    pub args: Vec<ArgDecl>,
    pub bufs: PrimaryMap<Buf, BufData>,
    pub sregs: PrimaryMap<SReg, SRegData>,
    /// Debug locations, indexed by the `DebugLocId` of each op.
    pub locs: Vec<DebugLoc>,
    pub body: Vec<TOp>,
    /// Per argument: whether the kernel may write memory through it
    /// (`access::provenance::written_args`; empty when unknown, meaning
    /// every argument may be written).
    pub written_args: Vec<bool>,
    /// Per argument: whether the kernel may read memory through it
    /// (`access::provenance::read_args`; empty when unknown).
    pub read_args: Vec<bool>,
    /// Loads the cluster program stages in CSRAM.
    pub stages: PrimaryMap<Stage, StagedLoad>,
    /// When they are used (set whenever `stages` is not empty).
    pub stage_guard: Option<StageGuard>,
    /// `Some(T)` once the body loops over the tile's program instances
    /// itself (the `instance-loop` pass): the binary's dispatch is then
    /// `persistent tiles=T` instead of round robin.
    pub persistent_tiles: Option<u32>,
}

impl TileKernel {
    /// Whether no argument is both read and written by the launch (each
    /// argument being its own buffer, no load can then see a store of the
    /// same launch); `false` when unknown.
    pub fn reads_nothing_it_writes(&self) -> bool {
        self.written_args.len() == self.args.len()
            && self.read_args.len() == self.args.len()
            && !self
                .written_args
                .iter()
                .zip(&self.read_args)
                .any(|(&w, &r)| w && r)
    }

    pub fn new_buf(
        &mut self,
        dtype: DType,
        shape: &[u32],
        space: BufSpace,
        name: impl Into<String>,
    ) -> Buf {
        self.bufs.push(BufData {
            dtype,
            shape: shape.to_vec(),
            space,
            name: name.into(),
        })
    }

    pub fn new_sreg(&mut self, width: u32, name: impl Into<String>) -> SReg {
        self.sregs.push(SRegData {
            width,
            name: name.into(),
        })
    }

    /// Interns a debug location.
    pub fn intern_loc(&mut self, loc: DebugLoc) -> DebugLocId {
        if let Some(i) = self.locs.iter().position(|l| *l == loc) {
            return DebugLocId(i as u32);
        }
        self.locs.push(loc);
        DebugLocId(self.locs.len() as u32 - 1)
    }
}

fn views_of(inputs: &[TInput]) -> impl Iterator<Item = &BView> {
    inputs.iter().filter_map(|i| match i {
        TInput::View(v) => Some(v),
        TInput::Scalar(_) => None,
    })
}

fn sops_of(inputs: &[TInput]) -> impl Iterator<Item = SOp> + '_ {
    inputs.iter().filter_map(|i| match i {
        TInput::Scalar(s) => Some(*s),
        TInput::View(_) => None,
    })
}

impl TOpKind {
    /// Buffer views this op reads (not counting nested bodies).
    pub fn reads(&self) -> Vec<&BView> {
        use TOpKind::*;
        match self {
            LoadScalar { src, .. } => vec![src],
            DmaStore { src, .. } => vec![src],
            Gather { addrs, mask, .. } => std::iter::once(addrs).chain(mask.as_ref()).collect(),
            Scatter {
                addrs, mask, src, ..
            } => [addrs, src].into_iter().chain(mask.as_ref()).collect(),
            Atomic {
                addrs,
                values,
                compare,
                mask,
                ..
            } => [addrs, values]
                .into_iter()
                .chain(compare.as_ref())
                .chain(mask.as_ref())
                .collect(),
            Map { inputs, .. } => views_of(inputs).collect(),
            // The fold reads the op's own output: not a read of what was
            // there before.
            ActReduce { inputs, .. } => views_of(inputs).collect(),
            Reduce { inputs, .. } | Scan { inputs, .. } => inputs.iter().collect(),
            Copy { src, .. } => vec![src],
            TvpGather { src, index, .. } => vec![src, index],
            Histogram { src, mask, .. } => std::iter::once(src).chain(mask.as_ref()).collect(),
            MxQuantize { src, .. } => vec![src],
            MxDequantize { codes, scales, .. } => vec![codes, scales],
            Matmul {
                a,
                b,
                out,
                accumulate,
                ..
            } => {
                let mut v = vec![&a.view, &b.view];
                v.extend(a.scale.as_ref());
                v.extend(b.scale.as_ref());
                if *accumulate {
                    v.push(out);
                }
                v
            }
            Drain { src, epilogue, .. } => {
                let mut v = vec![src];
                if let Some((_, extra)) = epilogue {
                    v.extend(views_of(extra));
                }
                v
            }
            _ => Vec::new(),
        }
    }

    /// Buffer views this op writes (not counting nested bodies).
    pub fn writes(&self) -> Vec<&BView> {
        use TOpKind::*;
        match self {
            StoreScalar { dst, .. } => vec![dst],
            DmaLoad { dst, .. } | LoadStaged { dst, .. } | Gather { dst, .. } => vec![dst],
            Atomic { old, .. } => old.iter().collect(),
            Map { outputs, .. } | Reduce { outputs, .. } | Scan { outputs, .. } => {
                outputs.iter().collect()
            }
            ActReduce {
                output, reduced, ..
            } => vec![output, reduced],
            Iota { dst, .. } | Copy { dst, .. } | TvpGather { dst, .. } | Histogram { dst, .. } => {
                vec![dst]
            }
            MxQuantize { codes, scales, .. } => vec![codes, scales],
            MxDequantize { dst, .. } => vec![dst],
            Matmul { out, .. } => vec![out],
            Drain { dst, .. } => vec![dst],
            _ => Vec::new(),
        }
    }

    /// Scalar operands this op reads (not counting nested bodies).
    pub fn scalar_uses(&self) -> Vec<SOp> {
        use TOpKind::*;
        match self {
            Mov { src, .. } => vec![*src],
            Alu { a, b, .. } => vec![*a, *b],
            Select { cond, a, b, .. } => vec![*cond, *a, *b],
            StoreScalar { src, .. } => vec![*src],
            LoadStaged { slot, .. } => slot.uses(),
            DmaLoad { hbm, dims, .. } | DmaStore { hbm, dims, .. } => {
                let mut v = vec![*hbm];
                for d in dims {
                    v.push(d.hbm_stride);
                    v.extend(d.valid);
                    v.extend(d.start);
                }
                v
            }
            Map { inputs, .. } | ActReduce { inputs, .. } => sops_of(inputs).collect(),
            Drain {
                epilogue: Some((_, extra)),
                ..
            } => sops_of(extra).collect(),
            Iota { start, .. } => vec![*start],
            For { lb, ub, step, .. } => vec![*lb, *ub, *step],
            If { cond, .. } => vec![*cond],
            While { cond, .. } => vec![*cond],
            _ => Vec::new(),
        }
    }

    /// Every buffer view of the op, read or written (not counting nested
    /// bodies), for passes that rename buffers.
    pub fn views_mut(&mut self) -> Vec<&mut BView> {
        use TOpKind::*;
        fn input_views(inputs: &mut [TInput]) -> impl Iterator<Item = &mut BView> {
            inputs.iter_mut().filter_map(|i| match i {
                TInput::View(v) => Some(v),
                TInput::Scalar(_) => None,
            })
        }
        match self {
            LoadScalar { src, .. } => vec![src],
            StoreScalar { dst, .. } => vec![dst],
            DmaLoad { dst, .. } | LoadStaged { dst, .. } => vec![dst],
            DmaStore { src, .. } => vec![src],
            Gather {
                addrs, mask, dst, ..
            } => [addrs, dst].into_iter().chain(mask.as_mut()).collect(),
            Scatter {
                addrs, mask, src, ..
            } => [addrs, src].into_iter().chain(mask.as_mut()).collect(),
            Atomic {
                addrs,
                values,
                compare,
                mask,
                old,
                ..
            } => [addrs, values]
                .into_iter()
                .chain(compare.as_mut())
                .chain(mask.as_mut())
                .chain(old.as_mut())
                .collect(),
            Map {
                inputs, outputs, ..
            } => input_views(inputs).chain(outputs.iter_mut()).collect(),
            ActReduce {
                inputs,
                output,
                reduced,
                ..
            } => input_views(inputs).chain([output, reduced]).collect(),
            Reduce {
                inputs, outputs, ..
            }
            | Scan {
                inputs, outputs, ..
            } => inputs.iter_mut().chain(outputs.iter_mut()).collect(),
            Iota { dst, .. } => vec![dst],
            Copy { src, dst } => vec![src, dst],
            TvpGather {
                src, index, dst, ..
            } => vec![src, index, dst],
            Histogram { src, mask, dst } => [src, dst].into_iter().chain(mask.as_mut()).collect(),
            MxQuantize {
                src, codes, scales, ..
            } => vec![src, codes, scales],
            MxDequantize {
                codes, scales, dst, ..
            } => vec![codes, scales, dst],
            Matmul { a, b, out, .. } => [&mut a.view, &mut b.view, out]
                .into_iter()
                .chain(a.scale.as_mut())
                .chain(b.scale.as_mut())
                .collect(),
            Drain {
                src, dst, epilogue, ..
            } => {
                let mut v = vec![src, dst];
                if let Some((_, extra)) = epilogue {
                    v.extend(input_views(extra));
                }
                v
            }
            Mov { .. }
            | Alu { .. }
            | Select { .. }
            | ReadSpecial { .. }
            | Arg { .. }
            | Trap { .. }
            | For { .. }
            | If { .. }
            | While { .. } => Vec::new(),
        }
    }

    /// The scalar operands of the op (as [`TOpKind::scalar_uses`]),
    /// mutably, for passes that substitute registers.
    pub fn scalar_uses_mut(&mut self) -> Vec<&mut SOp> {
        use TOpKind::*;
        fn input_sops(inputs: &mut [TInput]) -> impl Iterator<Item = &mut SOp> {
            inputs.iter_mut().filter_map(|i| match i {
                TInput::Scalar(s) => Some(s),
                TInput::View(_) => None,
            })
        }
        match self {
            Mov { src, .. } => vec![src],
            Alu { a, b, .. } => vec![a, b],
            Select { cond, a, b, .. } => vec![cond, a, b],
            StoreScalar { src, .. } => vec![src],
            LoadStaged { slot, .. } => slot.uses_mut(),
            DmaLoad { hbm, dims, .. } | DmaStore { hbm, dims, .. } => {
                let mut v = vec![hbm];
                for d in dims {
                    v.push(&mut d.hbm_stride);
                    v.extend(d.valid.as_mut());
                    v.extend(d.start.as_mut());
                }
                v
            }
            Map { inputs, .. } | ActReduce { inputs, .. } => input_sops(inputs).collect(),
            Drain {
                epilogue: Some((_, extra)),
                ..
            } => input_sops(extra).collect(),
            Iota { start, .. } => vec![start],
            For { lb, ub, step, .. } => vec![lb, ub, step],
            If { cond, .. } | While { cond, .. } => vec![cond],
            _ => Vec::new(),
        }
    }

    /// The scalar register this op defines, if any.
    pub fn scalar_def(&self) -> Option<SReg> {
        use TOpKind::*;
        match self {
            Mov { dst, .. }
            | Alu { dst, .. }
            | Select { dst, .. }
            | ReadSpecial { dst, .. }
            | Arg { dst, .. }
            | LoadScalar { dst, .. } => Some(*dst),
            For { iv, .. } => Some(*iv),
            _ => None,
        }
    }

    /// The register the op defines ([`TOpKind::scalar_def`]), mutably, for
    /// passes that rename registers.
    pub fn scalar_def_mut(&mut self) -> Option<&mut SReg> {
        use TOpKind::*;
        match self {
            Mov { dst, .. }
            | Alu { dst, .. }
            | Select { dst, .. }
            | ReadSpecial { dst, .. }
            | Arg { dst, .. }
            | LoadScalar { dst, .. } => Some(dst),
            For { iv, .. } => Some(iv),
            _ => None,
        }
    }

    /// Nested bodies, in program order.
    pub fn bodies(&self) -> Vec<&Vec<TOp>> {
        match self {
            TOpKind::For { body, .. } => vec![body],
            TOpKind::If {
                then_body,
                else_body,
                ..
            } => vec![then_body, else_body],
            TOpKind::While { before, after, .. } => vec![before, after],
            _ => Vec::new(),
        }
    }

    /// Nested bodies, mutably.
    pub fn bodies_mut(&mut self) -> Vec<&mut Vec<TOp>> {
        match self {
            TOpKind::For { body, .. } => vec![body],
            TOpKind::If {
                then_body,
                else_body,
                ..
            } => vec![then_body, else_body],
            TOpKind::While { before, after, .. } => vec![before, after],
            _ => Vec::new(),
        }
    }

    /// Whether the op writes only part of the views [`TOpKind::writes`]
    /// reports: a masked DMA load without a fill leaves the elements outside
    /// its valid box untouched.
    pub fn writes_partially(&self) -> bool {
        matches!(
            self,
            TOpKind::DmaLoad { fill: None, dims, .. }
                if dims.iter().any(|d| d.valid.is_some() || d.start.is_some())
        )
    }

    /// Whether the op has an effect beyond the buffers/registers it writes
    /// (HBM writes, traps, control flow): never removed as dead.
    pub fn has_side_effects(&self) -> bool {
        use TOpKind::*;
        matches!(
            self,
            Trap { .. }
                | DmaStore { .. }
                | Scatter { .. }
                | Atomic { .. }
                | For { .. }
                | If { .. }
                | While { .. }
        )
    }
}
