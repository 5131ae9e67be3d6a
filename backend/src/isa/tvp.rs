//! TVP (tile vector processor) instructions over tensor [`View`]s of the
//! tile's own TSRAM or ACC.
//!
//! Semantics common to all: every input is read in full before any output
//! is written (so outputs may alias inputs), iteration is row-major, and
//! reductions and scans fold sequentially from index 0 along the axis —
//! the same order as the reference interpreter.

use super::dtype::DType;
use super::micro::MicroId;
use super::mx::MxFormat;
use super::operand::Operand;
use super::view::View;

/// An input of a `map`-like instruction: a view of the iteration shape, or
/// a scalar broadcast to every lane — the low bits of an operand (a CP
/// register plus immediate) at the micro-program's input type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MapInput {
    View(View),
    Scalar(Operand),
}

/// `outputs[o][i] = program(inputs[0][i], ...)[o]` for every index `i` of the
/// outputs' common shape. Input views have that shape too (stride 0
/// broadcasts).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Map {
    pub program: MicroId,
    pub inputs: Vec<MapInput>,
    pub outputs: Vec<View>,
}

/// A fold along `axis` of `n` input views of one shape into `n` output
/// views of that shape without `axis`:
/// `acc = x[.., 0, ..]; for j in 1..len: acc = combiner(acc, x[.., j, ..])`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reduce {
    pub combiner: MicroId,
    pub axis: u8,
    pub inputs: Vec<View>,
    pub outputs: Vec<View>,
}

/// An inclusive scan along `axis`: `out[0] = x[0]; out[j] =
/// combiner(out[j−1], x[j])`, or from the last index down when `reverse`.
/// Outputs have the inputs' shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scan {
    pub combiner: MicroId,
    pub axis: u8,
    pub reverse: bool,
    pub inputs: Vec<View>,
    pub outputs: Vec<View>,
}

/// `dst[i] = start + i[axis]` (wrapping, at `dst`'s integer width).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Iota {
    pub dst: View,
    pub start: Operand,
    pub axis: u8,
}

/// `dst[i] = src[i]` for views with the same element count and dtype,
/// both iterated row-major in their own shapes — a transpose, broadcast,
/// reshape, concatenation piece, split or join is a choice of views.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Copy {
    pub src: View,
    pub dst: View,
}

/// `tt.gather`: `dst[i] = src[i with i[axis] := index[i]]`; `index` and
/// `dst` have one shape, `src` the same rank. An index outside
/// `0..src.shape[axis]` (read signed) is an execution error.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Gather {
    pub src: View,
    pub index: View,
    pub dst: View,
    pub axis: u8,
}

/// `tt.histogram`: `dst[b]` = number of active elements of the integer
/// view `src` whose signed value is `b`, for `b in 0..dst.shape[0]`; values
/// outside are ignored, as are elements whose `mask` bit 0 is clear.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Histogram {
    pub src: View,
    pub mask: Option<View>,
    pub dst: View,
}

/// The fused activation-with-reduction (the softmax step): a `map` whose
/// single output `output` is also folded along `axis` with a one-operand
/// `combiner` into `reduced` — `out = f(x); red = fold(out)`, one pass. The
/// fold reads the stored output values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ActivationReduce {
    pub program: MicroId,
    pub inputs: Vec<MapInput>,
    pub output: View,
    pub combiner: MicroId,
    pub axis: u8,
    pub reduced: View,
}

/// MX quantization along the last axis of `src` (a multiple of 32): per
/// block of 32, the E8M0 scale and the element codes per the OCP MX v1.0
/// conversion (`maiac_ir::numerics`). `codes` has `src`'s shape (element
/// type = the format's), `scales` the shape with the last axis divided by 32.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MxQuantize {
    pub format: MxFormat,
    pub src: View,
    pub codes: View,
    pub scales: View,
}

/// `dst[i] = fl32(decode(codes[i]) × 2^(scales[i / 32 along the last axis] −
/// 127))`, then converted to `dst`'s float type (nearest even).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MxDequantize {
    pub format: MxFormat,
    pub codes: View,
    pub scales: View,
    pub dst: View,
}

/// A TVP engine instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TvpOp {
    Map(Map),
    Reduce(Reduce),
    Scan(Scan),
    Iota(Iota),
    Copy(Copy),
    Gather(Gather),
    Histogram(Histogram),
    ActivationReduce(ActivationReduce),
    MxQuantize(MxQuantize),
    MxDequantize(MxDequantize),
}

impl TvpOp {
    pub fn mnemonic(&self) -> &'static str {
        match self {
            TvpOp::Map(_) => "tvp.map",
            TvpOp::Reduce(_) => "tvp.reduce",
            TvpOp::Scan(_) => "tvp.scan",
            TvpOp::Iota(_) => "tvp.iota",
            TvpOp::Copy(_) => "tvp.copy",
            TvpOp::Gather(_) => "tvp.gather",
            TvpOp::Histogram(_) => "tvp.histogram",
            TvpOp::ActivationReduce(_) => "tvp.actreduce",
            TvpOp::MxQuantize(_) => "tvp.mxquant",
            TvpOp::MxDequantize(_) => "tvp.mxdequant",
        }
    }

    /// Every view the instruction reads.
    pub fn reads(&self) -> Vec<&View> {
        match self {
            TvpOp::Map(m) => map_views(&m.inputs),
            TvpOp::Reduce(r) => r.inputs.iter().collect(),
            TvpOp::Scan(s) => s.inputs.iter().collect(),
            TvpOp::Iota(_) => Vec::new(),
            TvpOp::Copy(c) => vec![&c.src],
            TvpOp::Gather(g) => vec![&g.src, &g.index],
            TvpOp::Histogram(h) => std::iter::once(&h.src).chain(h.mask.as_ref()).collect(),
            TvpOp::ActivationReduce(a) => map_views(&a.inputs),
            TvpOp::MxQuantize(q) => vec![&q.src],
            TvpOp::MxDequantize(d) => vec![&d.codes, &d.scales],
        }
    }

    /// Every view the instruction writes.
    pub fn writes(&self) -> Vec<&View> {
        match self {
            TvpOp::Map(m) => m.outputs.iter().collect(),
            TvpOp::Reduce(r) => r.outputs.iter().collect(),
            TvpOp::Scan(s) => s.outputs.iter().collect(),
            TvpOp::Iota(i) => vec![&i.dst],
            TvpOp::Copy(c) => vec![&c.dst],
            TvpOp::Gather(g) => vec![&g.dst],
            TvpOp::Histogram(h) => vec![&h.dst],
            TvpOp::ActivationReduce(a) => vec![&a.output, &a.reduced],
            TvpOp::MxQuantize(q) => vec![&q.codes, &q.scales],
            TvpOp::MxDequantize(d) => vec![&d.dst],
        }
    }

    /// Lanes the instruction iterates over (elements of its largest
    /// operand), the `N` of its cost formula.
    pub fn lanes(&self) -> u64 {
        self.reads()
            .into_iter()
            .chain(self.writes())
            .map(View::num_elements)
            .max()
            .unwrap_or(0)
    }
}

fn map_views(inputs: &[MapInput]) -> Vec<&View> {
    inputs
        .iter()
        .filter_map(|i| match i {
            MapInput::View(v) => Some(v),
            MapInput::Scalar(_) => None,
        })
        .collect()
}

/// Type of the micro-program input a [`MapInput`] feeds, when it is a view.
pub fn map_input_dtype(input: &MapInput) -> Option<DType> {
    match input {
        MapInput::View(v) => Some(v.dtype),
        MapInput::Scalar(_) => None,
    }
}
