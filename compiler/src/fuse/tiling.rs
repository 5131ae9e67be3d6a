//! TTU matmul tiling (`ttu-tiling`).
//!
//! A `matmul` of shape (m, n, k) may be split into tiles (tm, tn, tk) that
//! each run as one TTU instruction. The menu of tilings is an e-graph: the
//! class of a problem `(mm m n k)` holds the direct form and, for every
//! dimension that can be halved (even, the half at least [`MIN_TILE`] and,
//! with MX scales, K a multiple of the 32-element block), `(split-m (mm
//! (half m) n k))` etc.; saturation enumerates every power-of-two split.
//! Extraction with [`TileCost`] — from the machine model — picks the
//! tiling: a tile costs `ttu.latency_cycles + ceil(tm·tn·tk / macs_per_cycle)`
//! plus streaming its operands from TSRAM at `tile.tsram_bytes_per_cycle`,
//! and is infinitely expensive when its accumulator tile exceeds half the
//! accumulator memory (double buffering) or its operand working set
//! exceeds a quarter of TSRAM. A split costs twice its half.
//!
//! Emission: tiles in M, then N, then K order; every tile is a sub-view of
//! the original operands and output (`BView.offset` and the original
//! strides). The first K chunk keeps the original `accumulate`, later ones
//! accumulate. The TTU accumulates sequentially in K
//! (`acc = fl32(acc + fl32(a·b))`), so consecutive accumulating K chunks
//! compute exactly the bits of the whole; M/N splits are independent.
//!
//! Packed FP4 operands (two codes per byte, nibble offsets) are left
//! untiled.

use egg::{
    define_language, Analysis, CostFunction, DidMerge, EGraph, Extractor, Id, Rewrite, Runner,
    Subst, Var,
};
use maiac_backend::isa::{DType, TtuPrecision};
use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use crate::pass::{Pass, PassContext};
use crate::tile::{BView, BufSpace, TMat, TOp, TOpKind, TileKernel};

/// Smallest tile edge the menu offers.
pub const MIN_TILE: u32 = 16;

/// MX scale block along K.
const MX_BLOCK: u32 = 32;

define_language! {
    /// Matmul tiling choices.
    pub enum Tiling {
        "mm" = Mm([Id; 3]),
        "split-m" = SplitM(Id),
        "split-n" = SplitN(Id),
        "split-k" = SplitK(Id),
        "half" = Half(Id),
        Dim(u32),
    }
}

/// Constant folding of dimensions: a class's data is the value of the
/// dimension it denotes (`None` for problem classes).
#[derive(Default)]
pub struct DimAnalysis;

impl Analysis<Tiling> for DimAnalysis {
    type Data = Option<u32>;

    fn make(egraph: &mut EGraph<Tiling, Self>, enode: &Tiling, _id: Id) -> Option<u32> {
        match enode {
            Tiling::Dim(v) => Some(*v),
            Tiling::Half(c) => egraph[*c].data.map(|v| v / 2),
            _ => None,
        }
    }

    fn merge(&mut self, a: &mut Option<u32>, b: Option<u32>) -> DidMerge {
        egg::merge_option(a, b, |x, y| {
            debug_assert_eq!(*x, y, "dimension classes agree");
            DidMerge(false, false)
        })
    }

    fn modify(egraph: &mut EGraph<Tiling, Self>, id: Id) {
        if let Some(v) = egraph[id].data {
            let dim = egraph.add(Tiling::Dim(v));
            egraph.union(id, dim);
        }
    }
}

/// What the cost of a tile depends on.
#[derive(Clone, Debug)]
pub struct MatmulShape {
    pub a_dtype: DType,
    pub b_dtype: DType,
    /// Bytes of one output element.
    pub out_bytes: u64,
    pub out_in_acc: bool,
    pub scaled: bool,
}

/// Cycles of a tiling, from the machine model (see the module docs).
pub struct TileCost<'a> {
    pub egraph: &'a EGraph<Tiling, DimAnalysis>,
    pub machine: &'a Machine,
    pub shape: &'a MatmulShape,
}

impl TileCost<'_> {
    /// Cycles of one TTU instruction of shape (tm, tn, tk); infinite if its
    /// working set does not fit.
    pub fn tile_cycles(machine: &Machine, shape: &MatmulShape, tm: u32, tn: u32, tk: u32) -> f64 {
        let (tm, tn, tk) = (u64::from(tm), u64::from(tn), u64::from(tk));
        let out = tm * tn * shape.out_bytes;
        let mut operands = shape.a_dtype.bytes_for(tm * tk) + shape.b_dtype.bytes_for(tk * tn);
        if shape.scaled {
            operands += (tm + tn) * (tk / u64::from(MX_BLOCK));
        }
        let staged = operands + if shape.out_in_acc { 0 } else { out };
        if (shape.out_in_acc && out > machine.tile.acc_bytes / 2)
            || staged > machine.tile.tsram_bytes / 4
        {
            return f64::INFINITY;
        }
        let rate = TtuPrecision::of_pair(shape.a_dtype, shape.b_dtype)
            .map_or(1, |p| machine.macs_per_cycle(p))
            .max(1);
        let compute =
            u64::from(machine.ttu.latency_cycles) + (tm * tn * tk).div_ceil(u64::from(rate));
        let traffic = operands.div_ceil(u64::from(machine.tile.tsram_bytes_per_cycle.max(1)));
        (compute + traffic) as f64
    }
}

impl CostFunction<Tiling> for TileCost<'_> {
    type Cost = f64;

    fn cost<C>(&mut self, enode: &Tiling, mut costs: C) -> f64
    where
        C: FnMut(Id) -> f64,
    {
        match enode {
            Tiling::Mm([m, n, k]) => {
                let dim = |id: &Id| self.egraph[*id].data.unwrap_or(0);
                Self::tile_cycles(self.machine, self.shape, dim(m), dim(n), dim(k))
            }
            Tiling::SplitM(c) | Tiling::SplitN(c) | Tiling::SplitK(c) => 2.0 * costs(*c),
            // Prefer the folded constant, so extracted dimensions are literals.
            Tiling::Half(c) => costs(*c) + 1.0,
            Tiling::Dim(_) => 0.0,
        }
    }
}

/// A condition: `var` is a dimension that halves into a menu size.
fn halvable(
    var: &str,
    align: u32,
) -> impl Fn(&mut EGraph<Tiling, DimAnalysis>, Id, &Subst) -> bool {
    let var: Var = var.parse().expect("a pattern variable");
    move |egraph, _, subst| {
        egraph[subst[var]]
            .data
            .is_some_and(|v| v % 2 == 0 && v / 2 >= MIN_TILE && (v / 2) % align == 0)
    }
}

fn split_rules(scaled: bool) -> Vec<Rewrite<Tiling, DimAnalysis>> {
    let k_align = if scaled { MX_BLOCK } else { 1 };
    vec![
        egg::rewrite!("split-m"; "(mm ?m ?n ?k)" => "(split-m (mm (half ?m) ?n ?k))" if halvable("?m", 1)),
        egg::rewrite!("split-n"; "(mm ?m ?n ?k)" => "(split-n (mm ?m (half ?n) ?k))" if halvable("?n", 1)),
        egg::rewrite!("split-k"; "(mm ?m ?n ?k)" => "(split-k (mm ?m ?n (half ?k)))" if halvable("?k", k_align)),
    ]
}

/// The tile (tm, tn, tk) extraction picks for an (m, n, k) matmul, or
/// `None` when no tiling fits the machine.
pub fn choose_tile(
    machine: &Machine,
    shape: &MatmulShape,
    m: u32,
    n: u32,
    k: u32,
) -> Option<(u32, u32, u32)> {
    let mut egraph: EGraph<Tiling, DimAnalysis> = EGraph::default();
    let dims = [m, n, k].map(|d| egraph.add(Tiling::Dim(d)));
    let root = egraph.add(Tiling::Mm(dims));
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_node_limit(20_000)
        .with_iter_limit(64)
        .with_time_limit(std::time::Duration::from_secs(5))
        .run(&split_rules(shape.scaled));
    let egraph = &runner.egraph;
    let extractor = Extractor::new(
        egraph,
        TileCost {
            egraph,
            machine,
            shape,
        },
    );
    let (cost, expr) = extractor.find_best(root);
    if !cost.is_finite() {
        return None;
    }
    // The chosen term is a chain of splits ending in one `mm`.
    let nodes = expr.as_ref();
    let mut at = nodes.len() - 1;
    loop {
        match &nodes[at] {
            Tiling::SplitM(c) | Tiling::SplitN(c) | Tiling::SplitK(c) => at = usize::from(*c),
            Tiling::Mm(ds) => {
                let value = |id: &Id| match nodes[usize::from(*id)] {
                    Tiling::Dim(v) => Some(v),
                    _ => None,
                };
                return Some((value(&ds[0])?, value(&ds[1])?, value(&ds[2])?));
            }
            _ => return None,
        }
    }
}

/// The `ttu-tiling` pass.
pub struct TtuTiling {
    machine: Machine,
}

impl TtuTiling {
    pub fn new(machine: Machine) -> TtuTiling {
        TtuTiling { machine }
    }
}

impl Pass<TileKernel> for TtuTiling {
    fn name(&self) -> &str {
        "ttu-tiling"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let spaces: Vec<BufSpace> = kernel.bufs.values().map(|b| b.space).collect();
        let out_bytes: Vec<u64> = kernel
            .bufs
            .values()
            .map(|b| u64::from(b.dtype.storage_bits()).div_ceil(8))
            .collect();
        tile_body(&self.machine, &mut kernel.body, &|v: &BView| {
            let i = v.buf.as_u32() as usize;
            (spaces[i] == BufSpace::Acc, out_bytes[i])
        });
        Ok(())
    }
}

fn tile_body(machine: &Machine, body: &mut Vec<TOp>, out_info: &dyn Fn(&BView) -> (bool, u64)) {
    let old = std::mem::take(body);
    for mut op in old {
        for inner in op.kind.bodies_mut() {
            tile_body(machine, inner, out_info);
        }
        match &op.kind {
            TOpKind::Matmul {
                m, n, k, a, b, out, ..
            } if a.dtype != DType::F4E2M1 && b.dtype != DType::F4E2M1 && out.shape.len() == 2 => {
                let (out_in_acc, out_bytes) = out_info(out);
                let shape = MatmulShape {
                    a_dtype: a.dtype,
                    b_dtype: b.dtype,
                    out_bytes,
                    out_in_acc,
                    scaled: a.scale.is_some() || b.scale.is_some(),
                };
                match choose_tile(machine, &shape, *m, *n, *k) {
                    Some(tile) if tile != (*m, *n, *k) => {
                        body.extend(
                            split_matmul(&op.kind, tile)
                                .into_iter()
                                .map(|kind| TOp { kind, loc: op.loc }),
                        );
                    }
                    _ => body.push(op),
                }
            }
            _ => body.push(op),
        }
    }
}

/// A sub-block of a stored operand: `rows`/`cols` are the logical
/// (row, column) start and extent, mapped through the transposition.
fn sub_mat(
    mat: &TMat,
    row0: u32,
    rows: u32,
    col0: u32,
    cols: u32,
    scale_rows_are_logical_rows: bool,
) -> TMat {
    let (r0, nr, c0, nc) = if mat.transposed {
        (col0, cols, row0, rows)
    } else {
        (row0, rows, col0, cols)
    };
    let view = BView {
        buf: mat.view.buf,
        offset: mat.view.offset
            + i64::from(r0) * mat.view.strides[0]
            + i64::from(c0) * mat.view.strides[1],
        shape: vec![nr, nc],
        strides: mat.view.strides.clone(),
    };
    // Scales are `[logical M or N rows, K / 32]`: `row0/rows` index them for
    // A (rows = M) and `col0/cols` for B (cols = N); K is the other axis.
    let scale = mat.scale.as_ref().map(|s| {
        let (s_row0, s_rows, k0, kn) = if scale_rows_are_logical_rows {
            (row0, rows, col0, cols)
        } else {
            (col0, cols, row0, rows)
        };
        BView {
            buf: s.buf,
            offset: s.offset
                + i64::from(s_row0) * s.strides[0]
                + i64::from(k0 / MX_BLOCK) * s.strides[1],
            shape: vec![s_rows, kn / MX_BLOCK],
            strides: s.strides.clone(),
        }
    });
    TMat {
        view,
        dtype: mat.dtype,
        transposed: mat.transposed,
        scale,
    }
}

/// The tiles of a matmul, M then N then K order.
pub fn split_matmul(kind: &TOpKind, (tm, tn, tk): (u32, u32, u32)) -> Vec<TOpKind> {
    let TOpKind::Matmul {
        m,
        n,
        k,
        a,
        b,
        out,
        accumulate,
    } = kind
    else {
        return vec![kind.clone()];
    };
    let mut tiles = Vec::new();
    for i0 in (0..*m).step_by(tm as usize) {
        for j0 in (0..*n).step_by(tn as usize) {
            for k0 in (0..*k).step_by(tk as usize) {
                let out_tile = BView {
                    buf: out.buf,
                    offset: out.offset
                        + i64::from(i0) * out.strides[0]
                        + i64::from(j0) * out.strides[1],
                    shape: vec![tm, tn],
                    strides: out.strides.clone(),
                };
                tiles.push(TOpKind::Matmul {
                    m: tm,
                    n: tn,
                    k: tk,
                    a: sub_mat(a, i0, tm, k0, tk, true),
                    b: sub_mat(b, k0, tk, j0, tn, false),
                    out: out_tile,
                    accumulate: *accumulate || k0 > 0,
                });
            }
        }
    }
    tiles
}
