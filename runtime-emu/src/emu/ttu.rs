//! Functional semantics of TTU instructions: the matmul (the interpreter's
//! `tt.dot` order: fl32 products added sequentially along K, no fused
//! multiply-add) and the accumulator drain.

use maiac_backend::isa::{DType, Drain, LaneOp, Lanes, MatOperand, Matmul, TtuOp, TtuPrecision};

use std::sync::OnceLock;

use rayon::prelude::*;

use super::context::{Effects, ExecCtx};
use super::error::{ExecResult, Fault};
use super::memory::Memory;
use super::strided::Strided;
use super::tvp::{eval_program, read_map_inputs};

/// Executes one TTU instruction.
pub fn execute(ctx: &ExecCtx<'_>, mem: &mut Memory, op: &TtuOp) -> ExecResult<Effects> {
    let mut fx = Effects::default();
    match op {
        TtuOp::Matmul(mm) => matmul(ctx, mem, mm, &mut fx)?,
        TtuOp::Drain(d) => drain(ctx, mem, d, &mut fx)?,
    }
    Ok(fx)
}

/// A logical operand `rows × cols` as f32 (float) or raw signed (int) values.
fn load_operand(
    ctx: &ExecCtx<'_>,
    mem: &Memory,
    op: &MatOperand,
    rows: u32,
    cols: u32,
    fx: &mut Effects,
) -> ExecResult<Vec<u64>> {
    let (sr, sc) = if op.transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let place = ctx.place(mem, &op.addr)?;
    let stored = Strided::new(
        mem,
        place,
        op.dtype.storage_bits(),
        &[sr, sc],
        &[i64::from(op.row_stride), 1],
    )?;
    let mut raw = Vec::new();
    stored.read(mem, &mut raw);
    fx.read(&stored);
    if !op.transposed {
        return Ok(raw);
    }
    let mut logical = vec![0u64; raw.len()];
    for r in 0..rows as usize {
        for c in 0..cols as usize {
            logical[r * cols as usize + c] = raw[c * rows as usize + r];
        }
    }
    Ok(logical)
}

/// Decodes a float operand to f32, applying E8M0 block scales along K
/// (`k_axis_is_cols`: A is `[M, K]`, B is `[K, N]` with scales `[N, K/32]`).
#[allow(clippy::too_many_arguments)]
fn decode_float(
    ctx: &ExecCtx<'_>,
    mem: &Memory,
    op: &MatOperand,
    raw: &[u64],
    rows: u32,
    cols: u32,
    a_side: bool,
    fx: &mut Effects,
) -> ExecResult<Vec<f32>> {
    let Some(scale) = op.scale else {
        return Ok(decode_all(op.dtype, raw));
    };
    // Scales are stored one row per M (A) or N (B), one byte per 32 along K.
    let (outer, k) = if a_side { (rows, cols) } else { (cols, rows) };
    let blocks = k.div_ceil(32);
    let place = ctx.place(mem, &scale.addr)?;
    let s = Strided::new(
        mem,
        place,
        8,
        &[outer, blocks],
        &[i64::from(scale.row_stride), 1],
    )?;
    let mut scales = Vec::new();
    s.read(mem, &mut scales);
    fx.read(&s);
    let mut out = Vec::with_capacity(raw.len());
    for r in 0..rows {
        for c in 0..cols {
            let (o, kk) = if a_side { (r, c) } else { (c, r) };
            let e = scales[(o * blocks + kk / 32) as usize];
            let bits = raw[(r * cols + c) as usize];
            let v = if e == 0xFF {
                f32::NAN
            } else {
                (op.dtype.decode_f64(bits) * 2f64.powi(e as i32 - 127)) as f32
            };
            out.push(v);
        }
    }
    Ok(out)
}

/// `DType::decode_f32` over a whole operand, through a table of every code
/// built with that same function (same bits, less work): 256 entries for
/// 8-bit formats, built per call; 65536 for BF16/F16, built once.
fn decode_all(dtype: DType, raw: &[u64]) -> Vec<f32> {
    static BF16: OnceLock<Vec<f32>> = OnceLock::new();
    static F16: OnceLock<Vec<f32>> = OnceLock::new();
    let build = |n: u64| (0..n).map(|b| dtype.decode_f32(b)).collect::<Vec<f32>>();
    let table: Option<&[f32]> = match dtype {
        DType::BF16 => Some(BF16.get_or_init(|| build(1 << 16))),
        DType::F16 => Some(F16.get_or_init(|| build(1 << 16))),
        _ => None,
    };
    if let Some(table) = table {
        return raw.iter().map(|&b| table[(b & 0xFFFF) as usize]).collect();
    }
    if dtype.storage_bits() <= 8 && raw.len() > 1024 {
        let table = build(256);
        return raw.iter().map(|&b| table[(b & 0xFF) as usize]).collect();
    }
    raw.iter().map(|&b| dtype.decode_f32(b)).collect()
}

/// Matmuls with at least this many MACs split their rows over threads.
const PARALLEL_MACS: u64 = 1 << 18;

fn matmul(ctx: &ExecCtx<'_>, mem: &mut Memory, mm: &Matmul, fx: &mut Effects) -> ExecResult<()> {
    let precision = TtuPrecision::of_pair(mm.a.dtype, mm.b.dtype).ok_or_else(|| {
        Fault::new(format!(
            "the TTU cannot multiply {} by {}",
            mm.a.dtype, mm.b.dtype
        ))
    })?;
    let (m, n, k) = (mm.m as usize, mm.n as usize, mm.k as usize);
    let a_raw = load_operand(ctx, mem, &mm.a, mm.m, mm.k, fx)?;
    let b_raw = load_operand(ctx, mem, &mm.b, mm.k, mm.n, fx)?;
    let out_place = ctx.place(mem, &mm.out)?;
    let out = Strided::new(
        mem,
        out_place,
        32,
        &[mm.m, mm.n],
        &[i64::from(mm.out_row_stride), 1],
    )?;
    let mut acc_bits = Vec::new();
    if mm.accumulate {
        out.read(mem, &mut acc_bits);
        fx.read(&out);
    } else {
        acc_bits.resize(m * n, 0);
    }
    let int = mm.a.dtype == DType::I8 && mm.b.dtype == DType::I8;
    if int != (mm.out_dtype == DType::I32) || (!int && mm.out_dtype != DType::F32) {
        return Err(Fault::new(format!(
            "a {} × {} matmul cannot accumulate into {}",
            mm.a.dtype, mm.b.dtype, mm.out_dtype
        )));
    }
    if int {
        let a: Vec<i32> = a_raw.iter().map(|&v| i32::from(v as u8 as i8)).collect();
        let b: Vec<i32> = b_raw.iter().map(|&v| i32::from(v as u8 as i8)).collect();
        let mut row = vec![0i32; n];
        for i in 0..m {
            for (x, &bits) in row.iter_mut().zip(&acc_bits[i * n..(i + 1) * n]) {
                *x = bits as u32 as i32;
            }
            for kk in 0..k {
                let av = a[i * k + kk];
                for (x, &bv) in row.iter_mut().zip(&b[kk * n..(kk + 1) * n]) {
                    *x = x.wrapping_add(av.wrapping_mul(bv));
                }
            }
            for (bits, &x) in acc_bits[i * n..(i + 1) * n].iter_mut().zip(&row) {
                *bits = u64::from(x as u32);
            }
        }
    } else {
        let a = decode_float(ctx, mem, &mm.a, &a_raw, mm.m, mm.k, true, fx)?;
        let b = decode_float(ctx, mem, &mm.b, &b_raw, mm.k, mm.n, false, fx)?;
        let row_job = |(i, out_row): (usize, &mut [u64])| {
            let mut row: Vec<f32> = out_row
                .iter()
                .map(|&bits| f32::from_bits(bits as u32))
                .collect();
            // k outermost per row keeps each output's additions in ascending
            // k order (the documented order) while vectorizing over n.
            for kk in 0..k {
                let av = a[i * k + kk];
                for (x, &bv) in row.iter_mut().zip(&b[kk * n..(kk + 1) * n]) {
                    *x += av * bv;
                }
            }
            for (bits, &x) in out_row.iter_mut().zip(&row) {
                *bits = u64::from(x.to_bits());
            }
        };
        // Output rows are independent and each is computed in the same
        // order either way, so splitting rows over threads keeps the bits.
        if mm.macs() >= PARALLEL_MACS && n > 0 {
            acc_bits.par_chunks_mut(n).enumerate().for_each(row_job);
        } else if n > 0 {
            acc_bits.chunks_mut(n).enumerate().for_each(row_job);
        }
    }
    out.write(mem, &acc_bits);
    fx.write(&out);
    fx.macs = mm.macs();
    fx.precision = Some(precision);
    Ok(())
}

fn drain(ctx: &ExecCtx<'_>, mem: &mut Memory, d: &Drain, fx: &mut Effects) -> ExecResult<()> {
    let src = ctx.view(mem, &d.src)?;
    let dst = ctx.view(mem, &d.dst)?;
    if src.len() != dst.len() {
        return Err(Fault::new(format!(
            "drain source has {} elements but the destination {}",
            src.len(),
            dst.len()
        )));
    }
    let mut acc = Vec::new();
    src.read(mem, &mut acc);
    fx.read(&src);
    let result = match &d.epilogue {
        Some(ep) => {
            let program = ctx.module.micro(ep.program).ok_or_else(|| {
                Fault::new(format!("micro-program {} does not exist", ep.program))
            })?;
            let extra = read_map_inputs(
                ctx,
                mem,
                &ep.extra,
                &program.inputs[1.min(program.inputs.len())..],
                fx,
            )?;
            let mut inputs = vec![Lanes::Slice(&acc)];
            inputs.extend(extra.iter().map(|e| e.lanes()));
            let mut outs = eval_program(program, acc.len(), &inputs, 1);
            outs.swap_remove(0)
        }
        None if d.src.dtype == d.dst.dtype => acc,
        None => {
            let cast = LaneOp::cast(d.src.dtype, d.dst.dtype).ok_or_else(|| {
                Fault::new(format!("cannot drain {} into {}", d.src.dtype, d.dst.dtype))
            })?;
            let mut out = vec![0u64; acc.len()];
            cast.eval_slices(&[&acc], &mut out);
            out
        }
    };
    dst.write(mem, &result);
    fx.write(&dst);
    Ok(())
}
