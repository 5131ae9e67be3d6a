//! Functional semantics of DMA instructions: strided copies with valid
//! boxes and fill values, broadcasts, gathers, scatters and HBM atomics.

use maiac_backend::isa::{
    Address, Atomic, DType, DmaOp, Gather, Operand, Scatter, Space, StridedCopy, Unit, UnitSet,
};

use super::context::{Effects, ExecCtx};
use super::error::{ExecResult, Fault};
use super::memory::{read_bits, units_of, write_bits, Memory, Region};
use super::scratch;
use super::strided::Strided;

/// Executes one DMA instruction.
pub fn execute(ctx: &ExecCtx<'_>, mem: &mut Memory, op: &DmaOp) -> ExecResult<Effects> {
    let mut fx = Effects::default();
    match op {
        DmaOp::Copy(copy) => {
            let unit = ctx.unit_of(&copy.dst)?;
            strided_copy(ctx, mem, copy, &[unit], &mut fx)?;
        }
        DmaOp::Broadcast { copy, to } => {
            if !matches!(copy.dst.unit, Unit::Local) {
                return Err(Fault::new(
                    "a broadcast destination must be a local address",
                ));
            }
            let own = ctx
                .tile
                .unwrap_or(ctx.cluster * ctx.machine.tiles_per_cluster);
            let units = broadcast_units(ctx, to, copy.dst.space, own)?;
            strided_copy(ctx, mem, copy, &units, &mut fx)?;
        }
        DmaOp::Gather(g) => gather(ctx, mem, g, &mut fx)?,
        DmaOp::Scatter(s) => scatter(ctx, mem, s, &mut fx)?,
        DmaOp::Atomic(a) => atomic(ctx, mem, a, &mut fx)?,
    }
    Ok(fx)
}

fn broadcast_units(
    ctx: &ExecCtx<'_>,
    to: &UnitSet,
    space: Space,
    own: u32,
) -> ExecResult<Vec<u32>> {
    if !matches!(space, Space::Csram | Space::Tsram) {
        return Err(Fault::new(format!("cannot broadcast into {space}")));
    }
    Ok(units_of(to, space, ctx.machine, own))
}

/// The strided copy's source box (valid part only), then its destination in
/// each of `dst_units`. Addresses are resolved at the valid box's first
/// element (a box may start inside the tile, its element 0 lying before
/// the buffer); an empty box reads nothing.
fn strided_copy(
    ctx: &ExecCtx<'_>,
    mem: &mut Memory,
    copy: &StridedCopy,
    dst_units: &[u32],
    fx: &mut Effects,
) -> ExecResult<()> {
    if copy.dims.len() > 4 {
        return Err(Fault::new("a DMA copy has at most 4 dimensions"));
    }
    let bits = copy.dtype.storage_bits();
    let extents: Vec<u32> = copy.dims.iter().map(|d| d.extent).collect();
    let bound = |b: Option<Operand>, extent: u32, default: u32| match b {
        None => default,
        Some(v) => (v.eval(ctx.regs) as i64).clamp(0, i64::from(extent)) as u32,
    };
    // The valid box: indices start[d]..end[d] (empty when start ≥ end).
    let starts: Vec<u32> = copy
        .dims
        .iter()
        .map(|d| bound(d.start, d.extent, 0))
        .collect();
    let valid: Vec<u32> = copy
        .dims
        .iter()
        .zip(&starts)
        .map(|(d, &s)| bound(d.valid, d.extent, d.extent).saturating_sub(s))
        .collect();
    let src_strides: Vec<i64> = copy
        .dims
        .iter()
        .map(|d| d.src_stride.eval(ctx.regs) as i64)
        .collect();
    let dst_strides: Vec<i64> = copy
        .dims
        .iter()
        .map(|d| d.dst_stride.eval(ctx.regs) as i64)
        .collect();
    let partial = valid != extents;
    // Byte offset of the valid box's first element along `strides`.
    let box_offset = |strides: &[i64]| -> ExecResult<i128> {
        let elements: i128 = starts
            .iter()
            .zip(strides)
            .map(|(&s, &st)| i128::from(s) * i128::from(st))
            .sum();
        let bit = elements * i128::from(bits);
        if bit % 8 != 0 {
            return Err(Fault::new(
                "a packed fp4 copy's valid box starts in the middle of a byte",
            ));
        }
        Ok(bit / 8)
    };
    let empty = valid.contains(&0);
    let (src_shift, dst_shift) = if empty {
        (0, 0)
    } else {
        (box_offset(&src_strides)?, box_offset(&dst_strides)?)
    };
    let dst_offset = copy.dst.offset.eval(ctx.regs);
    let dst_place = |mem: &Memory, unit: u32, shift: i128| {
        mem.place(copy.dst.space, unit, dst_offset.wrapping_add(shift as u64))
    };
    if empty && copy.fill.is_none() {
        return Ok(());
    }
    let padded = partial && copy.fill.is_some();
    let mut values = Vec::new();
    if !empty {
        let src_unit = ctx.unit_of(&copy.src)?;
        let src_offset = copy
            .src
            .offset
            .eval(ctx.regs)
            .wrapping_add(src_shift as u64);
        let src_place = mem.place(copy.src.space, src_unit, src_offset)?;
        let src = Strided::new(mem, src_place, bits, &valid, &src_strides)?;
        if !padded && src.is_byte_dense() {
            let dsts = dst_units
                .iter()
                .map(|&u| {
                    Strided::new(
                        mem,
                        dst_place(mem, u, dst_shift)?,
                        bits,
                        &valid,
                        &dst_strides,
                    )
                })
                .collect::<ExecResult<Vec<_>>>()?;
            if dsts.iter().all(Strided::is_byte_dense) {
                return copy_bytes(mem, &src, &dsts, fx);
            }
        }
        src.read(mem, &mut values);
        fx.read(&src);
    }

    let (shape, data, shift) = match (partial, copy.fill) {
        (true, Some(fill)) => (
            extents.clone(),
            expand_with_fill(&extents, &starts, &valid, &values, fill),
            0,
        ),
        _ => (valid.clone(), values, dst_shift),
    };
    for &unit in dst_units {
        let dst = Strided::new(
            mem,
            dst_place(mem, unit, shift)?,
            bits,
            &shape,
            &dst_strides,
        )?;
        dst.write(mem, &data);
        fx.write(&dst);
    }
    Ok(())
}

/// The whole-byte fast path of a strided copy: row by row straight into
/// each destination in another memory; otherwise the source rows' bytes
/// are staged once (so overlapping source and destination behave as a
/// read followed by writes), then stored into each destination.
fn copy_bytes(
    mem: &mut Memory,
    src: &Strided,
    dsts: &[Strided],
    fx: &mut Effects,
) -> ExecResult<()> {
    if dsts.iter().all(|d| d.region != src.region) {
        fx.read(src);
        for dst in dsts {
            src.copy_to(mem, dst);
            fx.write(dst);
        }
        return Ok(());
    }
    let mut staged = scratch::take();
    src.read_bytes(mem, &mut staged);
    fx.read(src);
    for dst in dsts {
        dst.write_bytes(mem, &staged);
        fx.write(dst);
    }
    scratch::give(staged);
    Ok(())
}

/// Lays the valid box's values (`counts[d]` indices from `starts[d]`) into
/// the full box, `fill` elsewhere.
fn expand_with_fill(
    extents: &[u32],
    starts: &[u32],
    counts: &[u32],
    values: &[u64],
    fill: u64,
) -> Vec<u64> {
    let pad = 4 - extents.len();
    let mut e = [1u32; 4];
    let mut lo = [0u32; 4];
    let mut v = [1u32; 4];
    e[pad..].copy_from_slice(extents);
    lo[pad..].copy_from_slice(starts);
    for (d, (&s, &c)) in starts.iter().zip(counts).enumerate() {
        v[pad + d] = s + c;
    }
    let inside = |i: u32, d: usize| lo[d] <= i && i < v[d];
    let total: usize = e.iter().map(|&x| x as usize).product();
    let mut out = Vec::with_capacity(total);
    let mut it = values.iter();
    for i0 in 0..e[0] {
        for i1 in 0..e[1] {
            for i2 in 0..e[2] {
                let row_valid = inside(i0, 0) && inside(i1, 1) && inside(i2, 2);
                for i3 in 0..e[3] {
                    if row_valid && inside(i3, 3) {
                        out.push(it.next().copied().unwrap_or(fill));
                    } else {
                        out.push(fill);
                    }
                }
            }
        }
    }
    out
}

/// Reads `count` elements of `dtype` from a dense TSRAM tensor.
fn read_dense(
    ctx: &ExecCtx<'_>,
    mem: &Memory,
    addr: &Address,
    dtype: DType,
    count: u32,
    fx: &mut Effects,
) -> ExecResult<Vec<u64>> {
    let s = ctx.dense(mem, addr, dtype, count)?;
    let mut out = Vec::new();
    s.read(mem, &mut out);
    fx.read(&s);
    Ok(out)
}

fn element_bytes(dtype: DType) -> ExecResult<u64> {
    let bits = dtype.storage_bits();
    if !bits.is_multiple_of(8) {
        return Err(Fault::new(format!(
            "indexed DMA cannot move sub-byte {dtype} elements"
        )));
    }
    Ok(u64::from(bits / 8))
}

fn mask_of(
    ctx: &ExecCtx<'_>,
    mem: &Memory,
    mask: &Option<Address>,
    count: u32,
    fx: &mut Effects,
) -> ExecResult<Vec<bool>> {
    match mask {
        None => Ok(vec![true; count as usize]),
        Some(m) => Ok(read_dense(ctx, mem, m, DType::I8, count, fx)?
            .into_iter()
            .map(|b| b != 0)
            .collect()),
    }
}

fn gather(ctx: &ExecCtx<'_>, mem: &mut Memory, g: &Gather, fx: &mut Effects) -> ExecResult<()> {
    let size = element_bytes(g.dtype)?;
    let addrs = read_dense(ctx, mem, &g.addrs, DType::I64, g.count, fx)?;
    let mask = mask_of(ctx, mem, &g.mask, g.count, fx)?;
    let mut values = Vec::with_capacity(g.count as usize);
    let mut touched = Vec::with_capacity(g.count as usize);
    for (&addr, &active) in addrs.iter().zip(&mask) {
        if !active {
            values.push(g.fill);
            continue;
        }
        let (buffer, off) = mem.check_hbm(addr, size)?;
        values.push(read_bits(&mem.hbm[buffer], off as u64 * 8, size as u32 * 8));
        touched.push((Region::Hbm(buffer), off as u64, off as u64 + size));
    }
    fx.indexed(touched, false, false);
    let dst = ctx.dense(mem, &g.dst, g.dtype, g.count)?;
    dst.write(mem, &values);
    fx.write(&dst);
    Ok(())
}

fn scatter(ctx: &ExecCtx<'_>, mem: &mut Memory, s: &Scatter, fx: &mut Effects) -> ExecResult<()> {
    let size = element_bytes(s.dtype)?;
    let addrs = read_dense(ctx, mem, &s.addrs, DType::I64, s.count, fx)?;
    let mask = mask_of(ctx, mem, &s.mask, s.count, fx)?;
    let values = read_dense(ctx, mem, &s.src, s.dtype, s.count, fx)?;
    let mut touched = Vec::with_capacity(s.count as usize);
    for ((&addr, &active), &v) in addrs.iter().zip(&mask).zip(&values) {
        if active {
            let (buffer, off) = mem.check_hbm(addr, size)?;
            write_bits(&mut mem.hbm[buffer], off as u64 * 8, size as u32 * 8, v);
            touched.push((Region::Hbm(buffer), off as u64, off as u64 + size));
        }
    }
    fx.indexed(touched, true, false);
    Ok(())
}

fn atomic(ctx: &ExecCtx<'_>, mem: &mut Memory, a: &Atomic, fx: &mut Effects) -> ExecResult<()> {
    let size = element_bytes(a.dtype)?;
    let addrs = read_dense(ctx, mem, &a.addrs, DType::I64, a.count, fx)?;
    let mask = mask_of(ctx, mem, &a.mask, a.count, fx)?;
    let values = read_dense(ctx, mem, &a.values, a.dtype, a.count, fx)?;
    let compare = match &a.compare {
        Some(c) => read_dense(ctx, mem, c, a.dtype, a.count, fx)?,
        None => vec![0; a.count as usize],
    };
    let mut olds = Vec::with_capacity(a.count as usize);
    let mut touched = Vec::with_capacity(a.count as usize);
    for i in 0..a.count as usize {
        if !mask[i] {
            olds.push(0);
            continue;
        }
        let (buffer, off) = mem.check_hbm(addrs[i], size)?;
        let bits = size as u32 * 8;
        let old = read_bits(&mem.hbm[buffer], off as u64 * 8, bits);
        let new = a.kind.apply(a.dtype, old, values[i], compare[i]);
        write_bits(&mut mem.hbm[buffer], off as u64 * 8, bits, new);
        touched.push((Region::Hbm(buffer), off as u64, off as u64 + size));
        olds.push(old);
    }
    fx.indexed(touched, true, true);
    if let Some(old) = &a.old {
        let dst = ctx.dense(mem, old, a.dtype, a.count)?;
        dst.write(mem, &olds);
        fx.write(&dst);
    }
    Ok(())
}
