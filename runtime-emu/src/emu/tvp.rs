//! Functional semantics of TVP instructions over whole views: every input
//! is read in full before any output is written; micro-programs run over
//! all lanes at once ([`MicroProgram::eval_lanes`]); reductions and scans
//! fold sequentially from index 0 along the axis.

use maiac_backend::isa::{
    ActivationReduce, DType, LaneOp, Lanes, Map, MapInput, MicroId, MicroProgram, MxDequantize,
    MxQuantize, Reduce, Scan, TvpOp, View,
};
use maiac_ir::semantics::int::sign_extend;

use super::context::{Effects, ExecCtx};
use super::error::{ExecResult, Fault};
use super::memory::Memory;

/// Elements per MX scale block.
const MX_BLOCK: usize = maiac_backend::isa::MX_BLOCK as usize;

/// One input of a micro-program over all lanes.
pub enum InputData {
    Values(Vec<u64>),
    Splat(u64),
}

impl InputData {
    pub fn lanes(&self) -> Lanes<'_> {
        match self {
            InputData::Values(v) => Lanes::Slice(v),
            InputData::Splat(v) => Lanes::Splat(*v),
        }
    }
}

/// Reads map inputs: views in full, scalars as the low bits of the operand
/// at the micro-program input's type.
pub fn read_map_inputs(
    ctx: &ExecCtx<'_>,
    mem: &Memory,
    inputs: &[MapInput],
    types: &[DType],
    fx: &mut Effects,
) -> ExecResult<Vec<InputData>> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, input)| match input {
            MapInput::View(v) => Ok(InputData::Values(read_view(ctx, mem, v, fx)?)),
            MapInput::Scalar(op) => {
                let mask = types.get(i).map_or(u64::MAX, |t| t.value_mask());
                Ok(InputData::Splat(op.eval(ctx.regs) & mask))
            }
        })
        .collect()
}

pub fn read_view(
    ctx: &ExecCtx<'_>,
    mem: &Memory,
    v: &View,
    fx: &mut Effects,
) -> ExecResult<Vec<u64>> {
    let s = ctx.view(mem, v)?;
    let mut out = Vec::new();
    s.read(mem, &mut out);
    fx.read(&s);
    Ok(out)
}

fn write_view(
    ctx: &ExecCtx<'_>,
    mem: &mut Memory,
    v: &View,
    values: &[u64],
    fx: &mut Effects,
) -> ExecResult<()> {
    let s = ctx.view(mem, v)?;
    if s.len() != values.len() {
        return Err(Fault::new(format!(
            "output view {v} has {} elements, the instruction produces {}",
            s.len(),
            values.len()
        )));
    }
    s.write(mem, values);
    fx.write(&s);
    Ok(())
}

/// Runs `program` over `n` lanes and returns its first `outputs` outputs.
pub fn eval_program(
    program: &MicroProgram,
    n: usize,
    inputs: &[Lanes<'_>],
    outputs: usize,
) -> Vec<Vec<u64>> {
    let mut outs = vec![Vec::new(); outputs.max(program.outputs.len())];
    program.eval_lanes(n, inputs, &mut outs);
    outs.truncate(outputs);
    outs
}

fn micro<'m>(ctx: &ExecCtx<'m>, id: MicroId) -> ExecResult<&'m MicroProgram> {
    ctx.module
        .micro(id)
        .ok_or_else(|| Fault::new(format!("micro-program {id} does not exist")))
}

/// Executes one TVP instruction.
pub fn execute(ctx: &ExecCtx<'_>, mem: &mut Memory, op: &TvpOp) -> ExecResult<Effects> {
    let mut fx = Effects::default();
    match op {
        TvpOp::Map(m) => map(ctx, mem, m, &mut fx)?,
        TvpOp::Reduce(r) => reduce(ctx, mem, r, &mut fx)?,
        TvpOp::Scan(s) => scan(ctx, mem, s, &mut fx)?,
        TvpOp::ActivationReduce(a) => activation_reduce(ctx, mem, a, &mut fx)?,
        TvpOp::Iota(i) => {
            let s = ctx.view(mem, &i.dst)?;
            let (_, len, inner) = split_axis(&i.dst.shape, i.axis)?;
            let start = i.start.eval(ctx.regs);
            let mask = i.dst.dtype.value_mask();
            let values: Vec<u64> = (0..s.len())
                .map(|l| start.wrapping_add(((l / inner) % len.max(1)) as u64) & mask)
                .collect();
            write_view(ctx, mem, &i.dst, &values, &mut fx)?;
        }
        TvpOp::Copy(c) => {
            if c.src.dtype != c.dst.dtype {
                return Err(Fault::new(
                    "tvp.copy needs the same element type on both sides",
                ));
            }
            let values = read_view(ctx, mem, &c.src, &mut fx)?;
            write_view(ctx, mem, &c.dst, &values, &mut fx)?;
        }
        TvpOp::Gather(g) => {
            let src = read_view(ctx, mem, &g.src, &mut fx)?;
            let index = read_view(ctx, mem, &g.index, &mut fx)?;
            let width = g.index.dtype.int_width().unwrap_or(64);
            let rank = g.dst.shape.len();
            let axis = usize::from(g.axis);
            if g.src.shape.len() != rank || axis >= rank || g.index.shape != g.dst.shape {
                return Err(Fault::new("tvp.gather operands have mismatched shapes"));
            }
            let mut values = Vec::with_capacity(index.len());
            let mut idx = vec![0u32; rank];
            for (l, &bits) in index.iter().enumerate() {
                let mut rest = l;
                for d in (0..rank).rev() {
                    idx[d] = (rest % g.dst.shape[d] as usize) as u32;
                    rest /= g.dst.shape[d] as usize;
                }
                let i = sign_extend(bits, width);
                if i < 0 || i >= i64::from(g.src.shape[axis]) {
                    return Err(Fault::new(format!(
                        "gather index {i} is outside 0..{} along axis {axis}",
                        g.src.shape[axis]
                    )));
                }
                idx[axis] = i as u32;
                let mut off = 0usize;
                for (&i, &extent) in idx.iter().zip(&g.src.shape) {
                    if i >= extent {
                        return Err(Fault::new("tvp.gather index box exceeds the source"));
                    }
                    off = off * extent as usize + i as usize;
                }
                values.push(src[off]);
            }
            write_view(ctx, mem, &g.dst, &values, &mut fx)?;
        }
        TvpOp::Histogram(h) => {
            let src = read_view(ctx, mem, &h.src, &mut fx)?;
            let mask = match &h.mask {
                Some(m) => Some(read_view(ctx, mem, m, &mut fx)?),
                None => None,
            };
            let width = h.src.dtype.int_width().unwrap_or(64);
            let bins = h.dst.shape.first().copied().unwrap_or(1) as usize;
            let mut counts = vec![0u64; bins];
            for (l, &bits) in src.iter().enumerate() {
                let active = mask
                    .as_ref()
                    .is_none_or(|m| m.get(l).is_some_and(|b| b & 1 == 1));
                let v = sign_extend(bits, width);
                if active && v >= 0 && (v as usize) < bins {
                    counts[v as usize] += 1;
                }
            }
            let wmask = h.dst.dtype.value_mask();
            let counts: Vec<u64> = counts.into_iter().map(|c| c & wmask).collect();
            write_view(ctx, mem, &h.dst, &counts, &mut fx)?;
        }
        TvpOp::MxQuantize(q) => mx_quantize(ctx, mem, q, &mut fx)?,
        TvpOp::MxDequantize(d) => mx_dequantize(ctx, mem, d, &mut fx)?,
    }
    Ok(fx)
}

fn map(ctx: &ExecCtx<'_>, mem: &mut Memory, m: &Map, fx: &mut Effects) -> ExecResult<()> {
    let program = micro(ctx, m.program)?;
    let inputs = read_map_inputs(ctx, mem, &m.inputs, &program.inputs, fx)?;
    let n = m.outputs.first().map_or(0, |v| v.num_elements() as usize);
    let lanes: Vec<Lanes<'_>> = inputs.iter().map(InputData::lanes).collect();
    check_lanes(&inputs, n)?;
    let outs = eval_program(program, n, &lanes, m.outputs.len());
    for (view, values) in m.outputs.iter().zip(&outs) {
        write_view(ctx, mem, view, values, fx)?;
    }
    Ok(())
}

fn check_lanes(inputs: &[InputData], n: usize) -> ExecResult<()> {
    for (i, input) in inputs.iter().enumerate() {
        if let InputData::Values(v) = input {
            if v.len() != n {
                return Err(Fault::new(format!(
                    "input {i} has {} elements but the outputs have {n}",
                    v.len()
                )));
            }
        }
    }
    Ok(())
}

/// `(outer, len, inner)` of a shape split at `axis`.
fn split_axis(shape: &[u32], axis: u8) -> ExecResult<(usize, usize, usize)> {
    let a = usize::from(axis);
    if a >= shape.len() {
        return Err(Fault::new(format!(
            "axis {axis} is out of range for rank {}",
            shape.len()
        )));
    }
    let prod = |s: &[u32]| s.iter().map(|&d| d as usize).product::<usize>();
    Ok((prod(&shape[..a]), shape[a] as usize, prod(&shape[a + 1..])))
}

/// Slice `j` along the axis of each input, as `outer × inner` lanes.
fn slice_at(values: &[u64], j: usize, outer: usize, len: usize, inner: usize, out: &mut Vec<u64>) {
    out.clear();
    for o in 0..outer {
        let base = (o * len + j) * inner;
        out.extend_from_slice(&values[base..base + inner]);
    }
}

/// The final accumulators and the per-position scan values of a fold.
type Folded = (Vec<Vec<u64>>, Vec<Vec<u64>>);

/// Folds `inputs` (all of `shape`) along `axis`; returns the final
/// accumulators and, when `keep_all`, every intermediate (scan order).
fn fold(
    program: &MicroProgram,
    inputs: &[Vec<u64>],
    shape: &[u32],
    axis: u8,
    reverse: bool,
    keep_all: bool,
) -> ExecResult<Folded> {
    let (outer, len, inner) = split_axis(shape, axis)?;
    if len == 0 {
        return Err(Fault::new("cannot fold an empty axis"));
    }
    let lanes = outer * inner;
    let order: Vec<usize> = if reverse {
        (0..len).rev().collect()
    } else {
        (0..len).collect()
    };
    let count = inputs.len();
    let mut acc: Vec<Vec<u64>> = inputs
        .iter()
        .map(|x| {
            let mut s = Vec::new();
            slice_at(x, order[0], outer, len, inner, &mut s);
            s
        })
        .collect();
    let mut scans: Vec<Vec<u64>> =
        vec![vec![0; outer * len * inner]; if keep_all { count } else { 0 }];
    let store = |scans: &mut Vec<Vec<u64>>, acc: &[Vec<u64>], j: usize| {
        for (dst, a) in scans.iter_mut().zip(acc) {
            for o in 0..outer {
                let base = (o * len + j) * inner;
                dst[base..base + inner].copy_from_slice(&a[o * inner..(o + 1) * inner]);
            }
        }
    };
    store(&mut scans, &acc, order[0]);
    let mut xs: Vec<Vec<u64>> = vec![Vec::new(); count];
    for &j in &order[1..] {
        for (x, input) in xs.iter_mut().zip(inputs) {
            slice_at(input, j, outer, len, inner, x);
        }
        let lanes_in: Vec<Lanes<'_>> = acc.iter().chain(&xs).map(|v| Lanes::Slice(v)).collect();
        acc = eval_program(program, lanes, &lanes_in, count);
        store(&mut scans, &acc, j);
    }
    Ok((acc, scans))
}

fn reduce(ctx: &ExecCtx<'_>, mem: &mut Memory, r: &Reduce, fx: &mut Effects) -> ExecResult<()> {
    let program = micro(ctx, r.combiner)?;
    let shape = r
        .inputs
        .first()
        .map(|v| v.shape.clone())
        .unwrap_or_default();
    let inputs = r
        .inputs
        .iter()
        .map(|v| read_view(ctx, mem, v, fx))
        .collect::<ExecResult<Vec<_>>>()?;
    let (acc, _) = fold(program, &inputs, &shape, r.axis, false, false)?;
    for (view, values) in r.outputs.iter().zip(&acc) {
        write_view(ctx, mem, view, values, fx)?;
    }
    Ok(())
}

fn scan(ctx: &ExecCtx<'_>, mem: &mut Memory, s: &Scan, fx: &mut Effects) -> ExecResult<()> {
    let program = micro(ctx, s.combiner)?;
    let shape = s
        .inputs
        .first()
        .map(|v| v.shape.clone())
        .unwrap_or_default();
    let inputs = s
        .inputs
        .iter()
        .map(|v| read_view(ctx, mem, v, fx))
        .collect::<ExecResult<Vec<_>>>()?;
    let (_, scans) = fold(program, &inputs, &shape, s.axis, s.reverse, true)?;
    for (view, values) in s.outputs.iter().zip(&scans) {
        write_view(ctx, mem, view, values, fx)?;
    }
    Ok(())
}

fn activation_reduce(
    ctx: &ExecCtx<'_>,
    mem: &mut Memory,
    a: &ActivationReduce,
    fx: &mut Effects,
) -> ExecResult<()> {
    let program = micro(ctx, a.program)?;
    let combiner = micro(ctx, a.combiner)?;
    let inputs = read_map_inputs(ctx, mem, &a.inputs, &program.inputs, fx)?;
    let n = a.output.num_elements() as usize;
    check_lanes(&inputs, n)?;
    let lanes: Vec<Lanes<'_>> = inputs.iter().map(InputData::lanes).collect();
    let outs = eval_program(program, n, &lanes, 1);
    let out = outs.into_iter().next().unwrap_or_default();
    write_view(ctx, mem, &a.output, &out, fx)?;
    // The fold reads the stored values (what a later reader would see).
    let stored = {
        let s = ctx.view(mem, &a.output)?;
        let mut v = Vec::new();
        s.read(mem, &mut v);
        v
    };
    let (acc, _) = fold(combiner, &[stored], &a.output.shape, a.axis, false, false)?;
    write_view(ctx, mem, &a.reduced, &acc[0], fx)?;
    Ok(())
}

fn mx_quantize(
    ctx: &ExecCtx<'_>,
    mem: &mut Memory,
    q: &MxQuantize,
    fx: &mut Effects,
) -> ExecResult<()> {
    let src = read_view(ctx, mem, &q.src, fx)?;
    let last = q.src.shape.last().copied().unwrap_or(1) as usize;
    if !last.is_multiple_of(MX_BLOCK) {
        return Err(Fault::new(format!(
            "MX quantization needs the last axis ({last}) to be a multiple of {MX_BLOCK}"
        )));
    }
    let values: Vec<f32> = src.iter().map(|&b| q.src.dtype.decode_f32(b)).collect();
    let mut codes = vec![0u8; values.len()];
    let mut scales = Vec::with_capacity(values.len() / MX_BLOCK);
    for (block, code) in values.chunks(MX_BLOCK).zip(codes.chunks_mut(MX_BLOCK)) {
        scales.push(u64::from(q.format.quantize_block(block, code)));
    }
    let codes: Vec<u64> = codes.into_iter().map(u64::from).collect();
    write_view(ctx, mem, &q.codes, &codes, fx)?;
    write_view(ctx, mem, &q.scales, &scales, fx)?;
    Ok(())
}

fn mx_dequantize(
    ctx: &ExecCtx<'_>,
    mem: &mut Memory,
    d: &MxDequantize,
    fx: &mut Effects,
) -> ExecResult<()> {
    let codes = read_view(ctx, mem, &d.codes, fx)?;
    let scales = read_view(ctx, mem, &d.scales, fx)?;
    let last = d.codes.shape.last().copied().unwrap_or(1) as usize;
    let blocks = last.div_ceil(MX_BLOCK).max(1);
    let cast = LaneOp::cast(DType::F32, d.dst.dtype);
    let mut values = Vec::with_capacity(codes.len());
    for (i, &code) in codes.iter().enumerate() {
        let row = i / last.max(1);
        let col = i % last.max(1);
        let scale = scales
            .get(row * blocks + col / MX_BLOCK)
            .copied()
            .ok_or_else(|| Fault::new("the scales view is smaller than the codes need"))?;
        let f = u64::from(d.format.dequantize(code, scale).to_bits());
        values.push(match &cast {
            Some(c) => c.eval(&[f]),
            None => f,
        });
    }
    write_view(ctx, mem, &d.dst, &values, fx)?;
    Ok(())
}
