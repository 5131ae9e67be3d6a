//! Functional semantics of TTU instructions: the matmul (the interpreter's
//! `tt.dot` order: fl32 products added sequentially along K, no fused
//! multiply-add) and the accumulator drain.

use maiac_backend::isa::{DType, Drain, LaneOp, Lanes, MatOperand, Matmul, TtuOp, TtuPrecision};
use maiac_ir::semantics::convert::canonical_f32;

use super::context::{Effects, ExecCtx};
use super::decode::{decode_codes, Decoder};
use super::error::{ExecResult, Fault};
use super::gemm;
use super::memory::Memory;
use super::scratch;
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

/// The stored elements of a `rows × cols` operand: `cols × rows` when it
/// is transposed.
fn stored_operand(
    ctx: &ExecCtx<'_>,
    mem: &Memory,
    op: &MatOperand,
    rows: u32,
    cols: u32,
) -> ExecResult<Strided> {
    let (sr, sc) = if op.transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let place = ctx.place(mem, &op.addr)?;
    Strided::new(
        mem,
        place,
        op.dtype.storage_bits(),
        &[sr, sc],
        &[i64::from(op.row_stride), 1],
    )
}

/// The logical `rows × cols` layout of stored values: a copy transposed
/// from `cols × rows` when the operand is transposed.
fn logical<T: Copy + Default>(op: &MatOperand, stored: Vec<T>, rows: u32, cols: u32) -> Vec<T> {
    if !op.transposed {
        return stored;
    }
    let (rows, cols) = (rows as usize, cols as usize);
    let mut out = vec![T::default(); stored.len()];
    for (c, column) in stored.chunks_exact(rows.max(1)).enumerate().take(cols) {
        for (r, &v) in column.iter().enumerate() {
            out[r * cols + c] = v;
        }
    }
    out
}

/// A logical operand `rows × cols` as raw codes, one per `u64`.
fn load_operand(
    ctx: &ExecCtx<'_>,
    mem: &Memory,
    op: &MatOperand,
    rows: u32,
    cols: u32,
    fx: &mut Effects,
) -> ExecResult<Vec<u64>> {
    let stored = stored_operand(ctx, mem, op, rows, cols)?;
    let mut raw = Vec::new();
    stored.read(mem, &mut raw);
    fx.read(&stored);
    Ok(logical(op, raw, rows, cols))
}

/// A logical float operand `rows × cols` decoded to f32, applying E8M0
/// block scales along K (`a_side`: A is `[M, K]`, B is `[K, N]` with
/// scales `[N, K/32]`). Unscaled whole-byte operands decode straight from
/// their stored bytes.
fn load_float(
    ctx: &ExecCtx<'_>,
    mem: &Memory,
    op: &MatOperand,
    rows: u32,
    cols: u32,
    a_side: bool,
    fx: &mut Effects,
) -> ExecResult<Vec<f32>> {
    if op.scale.is_none() {
        let stored = stored_operand(ctx, mem, op, rows, cols)?;
        if let Some(runs) = stored.byte_rows() {
            let bytes = mem.bytes(stored.region);
            let decoder = Decoder::new(op.dtype);
            let mut values = scratch::take();
            for run in runs.ranges() {
                decoder.extend(&bytes[run], &mut values);
            }
            fx.read(&stored);
            return Ok(logical(op, values, rows, cols));
        }
    }
    let raw = load_operand(ctx, mem, op, rows, cols, fx)?;
    let Some(scale) = op.scale else {
        return Ok(decode_codes(op.dtype, &raw));
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
    let int = mm.a.dtype == DType::I8 && mm.b.dtype == DType::I8;
    let out_view = |mem: &Memory| {
        let out_place = ctx.place(mem, &mm.out)?;
        Strided::new(
            mem,
            out_place,
            32,
            &[mm.m, mm.n],
            &[i64::from(mm.out_row_stride), 1],
        )
    };
    let out;
    if int {
        let a_raw = load_operand(ctx, mem, &mm.a, mm.m, mm.k, fx)?;
        let b_raw = load_operand(ctx, mem, &mm.b, mm.k, mm.n, fx)?;
        out = out_view(mem)?;
        let mut acc_bits = Vec::new();
        if mm.accumulate {
            out.read(mem, &mut acc_bits);
            fx.read(&out);
        } else {
            acc_bits.resize(m * n, 0);
        }
        check_out_dtype(mm, int)?;
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
        out.write(mem, &acc_bits);
    } else {
        let a = load_float(ctx, mem, &mm.a, mm.m, mm.k, true, fx)?;
        let b = load_float(ctx, mem, &mm.b, mm.k, mm.n, false, fx)?;
        out = out_view(mem)?;
        let mut acc = scratch::take();
        if mm.accumulate {
            read_f32(mem, &out, &mut acc);
            fx.read(&out);
        } else {
            acc.resize(m * n, 0.0);
        }
        check_out_dtype(mm, int)?;
        // Output rows are independent and each is computed in the same
        // order either way, so splitting rows over threads keeps the bits.
        gemm::matmul_f32(&a, &b, &mut acc, (m, n, k), mm.macs() >= PARALLEL_MACS);
        // The host's IEEE operations leave a NaN's sign and payload to the CPU
        // (x86 makes `inf · 0` the negative default NaN, Arm the positive
        // one); the machine's results carry the canonical NaN, as every
        // other float result does (and as the interpreter's dot).
        for v in acc.iter_mut() {
            *v = canonical_f32(*v);
        }
        write_f32(mem, &out, &acc);
        for v in [a, b, acc] {
            scratch::give(v);
        }
    }
    fx.write(&out);
    fx.macs = mm.macs();
    fx.precision = Some(precision);
    Ok(())
}

/// Integer operands accumulate into I32, float ones into F32.
fn check_out_dtype(mm: &Matmul, int: bool) -> ExecResult<()> {
    if int != (mm.out_dtype == DType::I32) || (!int && mm.out_dtype != DType::F32) {
        return Err(Fault::new(format!(
            "a {} × {} matmul cannot accumulate into {}",
            mm.a.dtype, mm.b.dtype, mm.out_dtype
        )));
    }
    Ok(())
}

/// Appends the f32 elements of a 32-bit set to `out`.
fn read_f32(mem: &Memory, s: &Strided, out: &mut Vec<f32>) {
    let Some(runs) = s.byte_rows() else {
        let mut bits = Vec::new();
        s.read(mem, &mut bits);
        out.extend(bits.iter().map(|&b| f32::from_bits(b as u32)));
        return;
    };
    let bytes = mem.bytes(s.region);
    for run in runs.ranges() {
        let words = bytes[run].as_chunks::<4>().0;
        let start = out.len();
        out.resize(start + words.len(), 0.0);
        for (o, &w) in out[start..].iter_mut().zip(words) {
            *o = f32::from_le_bytes(w);
        }
    }
}

/// Stores f32 values into a 32-bit set.
fn write_f32(mem: &mut Memory, s: &Strided, values: &[f32]) {
    let Some(runs) = s.byte_rows() else {
        let bits: Vec<u64> = values.iter().map(|v| u64::from(v.to_bits())).collect();
        s.write(mem, &bits);
        return;
    };
    let bytes = mem.bytes_mut(s.region);
    let mut rest = values;
    for run in runs.ranges() {
        let words = bytes[run].as_chunks_mut::<4>().0;
        let (now, later) = rest.split_at(words.len().min(rest.len()));
        for (w, v) in words.iter_mut().zip(now) {
            *w = v.to_le_bytes();
        }
        rest = later;
    }
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
    let plain = d.epilogue.is_none() && d.src.dtype == d.dst.dtype;
    if plain && src.copy_to(mem, &dst) {
        // A plain drain is a copy of the stored bytes.
        fx.read(&src);
        fx.write(&dst);
        return Ok(());
    }
    if plain && src.is_byte_dense() && dst.is_byte_dense() {
        let mut bytes = scratch::take();
        src.read_bytes(mem, &mut bytes);
        fx.read(&src);
        dst.write_bytes(mem, &bytes);
        fx.write(&dst);
        scratch::give(bytes);
        return Ok(());
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
