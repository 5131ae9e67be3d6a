//! Splitting oversized branch arms into chunks (`split-arms`).
//!
//! A guarded access's gather/scatter fallback (see `fuse::sink`) needs an
//! `i64` address per element plus its mask and offsets: for a large block
//! (e.g. 65,536 elements) those temporaries alone can exceed a tile's TSRAM
//! although the DMA path fits. When the kernel does not fit, this pass
//! rewrites such an arm as the same ops over consecutive chunks of the
//! elements, one chunk after the other, with chunk-sized temporaries:
//!
//! ```text
//! else { t = iota; a, m = map(t, …); dst = gather(a, m) }          (N lanes)
//! ==>
//! else { t' = iota(0); a', m' = map(t', …); dst[0..C] = gather(a', m');
//!        t' = iota(C); …;                    dst[C..2C] = gather(a', m'); … }
//! ```
//!
//! An arm qualifies when it is straight-line; its ops are `map`s, 1-D
//! `iota`s, `copy`s and at most one gather or scatter; every view in it is
//! dense and row-major from offset 0 over the same number of elements `N`
//! (so lane `i` of every op is flat element `i` of every buffer), except
//! that a map may read a broadcast view (all strides 0: one element, e.g. a
//! splatted scalar argument, for every lane of every chunk); and the
//! buffers it writes are either local to it (fully written there before
//! any read, not referenced elsewhere) or written only through such views.
//! Each lane's ops then run in the same order on the same values; a
//! scatter's elements still land in index order, and with one HBM access
//! per arm no gather can observe a chunk's scatter. Local buffers shrink
//! to one chunk and are reused by every chunk.
//!
//! The pass runs only when the kernel does not fit the machine's SRAM; it
//! tries 2, 4, … 64 chunks (all qualifying arms at once) and keeps the
//! first split that schedules, or leaves the kernel for the scheduler's
//! "does not fit" diagnostic.

use std::collections::BTreeMap;

use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use crate::fuse::walk::reference_counts;
use crate::pass::{Pass, PassContext};
use crate::tile::{BView, Buf, BufData, SOp, TInput, TOp, TOpKind, TileKernel};

/// Most chunks an arm is split into.
const MAX_CHUNKS: u64 = 64;

/// The `split-arms` pass.
#[derive(Clone, Debug)]
pub struct SplitArms {
    machine: Machine,
}

impl SplitArms {
    pub fn new(machine: Machine) -> SplitArms {
        SplitArms { machine }
    }
}

impl Pass<TileKernel> for SplitArms {
    fn name(&self) -> &str {
        "split-arms"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        if crate::sched::schedule(kernel, &self.machine).is_ok() {
            return Ok(());
        }
        let mut chunks = 2;
        while chunks <= MAX_CHUNKS {
            let mut trial = kernel.clone();
            if !split_all(&mut trial, chunks) {
                return Ok(());
            }
            if crate::sched::schedule(&trial, &self.machine).is_ok() {
                *kernel = trial;
                return Ok(());
            }
            chunks *= 2;
        }
        Ok(())
    }
}

/// Splits every qualifying arm into `chunks` pieces; whether any did.
fn split_all(kernel: &mut TileKernel, chunks: u64) -> bool {
    let totals = reference_counts(&kernel.body);
    let mut body = std::mem::take(&mut kernel.body);
    let changed = split_in(kernel, &totals, &mut body, chunks);
    kernel.body = body;
    changed
}

fn split_in(
    kernel: &mut TileKernel,
    totals: &BTreeMap<Buf, usize>,
    ops: &mut [TOp],
    chunks: u64,
) -> bool {
    let mut changed = false;
    for op in ops.iter_mut() {
        if let TOpKind::If {
            then_body,
            else_body,
            ..
        } = &mut op.kind
        {
            for arm in [then_body, else_body] {
                if let Some(split) = split_arm(kernel, totals, arm, chunks) {
                    *arm = split;
                    changed = true;
                }
            }
        }
        for inner in op.kind.bodies_mut() {
            changed |= split_in(kernel, totals, inner, chunks);
        }
    }
    changed
}

/// The lane count of an arm that qualifies, and its arm-local buffers.
fn qualifies(totals: &BTreeMap<Buf, usize>, arm: &[TOp]) -> Option<(u64, Vec<Buf>)> {
    let mut lanes = None;
    let mut hbm_ops = 0;
    // Buffers a map reads through a broadcast view (one element for every
    // lane, e.g. a scalar kernel argument splatted over the block): every
    // chunk reads that same element, so they must not be shrunk.
    let mut broadcast = Vec::new();
    let mut dense = |v: &BView, may_broadcast: bool| {
        let n = v.num_elements();
        if *lanes.get_or_insert(n) != n {
            return false;
        }
        if may_broadcast && is_broadcast(v) {
            broadcast.push(v.buf);
            return true;
        }
        v.is_whole(n)
    };
    for op in arm {
        let ok = match &op.kind {
            TOpKind::Map {
                inputs, outputs, ..
            } => {
                inputs.iter().all(|i| match i {
                    TInput::View(v) => dense(v, true),
                    TInput::Scalar(_) => true,
                }) && outputs.iter().all(|v| dense(v, false))
            }
            TOpKind::Iota { dst, axis, .. } => {
                *axis == 0 && dst.shape.len() == 1 && dense(dst, false)
            }
            TOpKind::Copy { src, dst } => dense(src, false) && dense(dst, false),
            TOpKind::Gather {
                addrs, mask, dst, ..
            } => {
                hbm_ops += 1;
                dense(addrs, false)
                    && dense(dst, false)
                    && mask.as_ref().is_none_or(|m| dense(m, false))
            }
            TOpKind::Scatter {
                addrs, mask, src, ..
            } => {
                hbm_ops += 1;
                dense(addrs, false)
                    && dense(src, false)
                    && mask.as_ref().is_none_or(|m| dense(m, false))
            }
            _ => false,
        };
        if !ok || hbm_ops > 1 {
            return None;
        }
    }
    let lanes = lanes?;
    // Buffers whose every reference is in this arm, first written whole.
    let inside = reference_counts(arm);
    let mut local = Vec::new();
    for (&buf, &n) in &inside {
        if totals.get(&buf) != Some(&n) {
            continue;
        }
        let first = arm.iter().find(|op| {
            op.kind
                .reads()
                .iter()
                .chain(op.kind.writes().iter())
                .any(|v| v.buf == buf)
        })?;
        let written_first = first.kind.writes().iter().any(|v| v.buf == buf)
            && !first.kind.reads().iter().any(|v| v.buf == buf);
        if written_first {
            local.push(buf);
        }
    }
    if local.iter().any(|b| broadcast.contains(b)) {
        return None;
    }
    (lanes >= 2).then_some((lanes, local))
}

/// Whether every lane of `v` reads the same element (all strides 0).
fn is_broadcast(v: &BView) -> bool {
    v.strides.iter().all(|&s| s == 0)
}

/// The arm as `chunks` consecutive pieces, or `None` when it does not
/// qualify (or is too small to split).
fn split_arm(
    kernel: &mut TileKernel,
    totals: &BTreeMap<Buf, usize>,
    arm: &[TOp],
    chunks: u64,
) -> Option<Vec<TOp>> {
    let (lanes, local) = qualifies(totals, arm)?;
    let size = lanes.div_ceil(chunks);
    if size == lanes || size == 0 {
        return None;
    }
    // One chunk-sized buffer per local buffer, shared by every chunk.
    let mut shrunk: BTreeMap<Buf, Buf> = BTreeMap::new();
    for buf in local {
        let data = &kernel.bufs[buf];
        let small = BufData {
            shape: vec![u32::try_from(size).ok()?],
            ..data.clone()
        };
        shrunk.insert(buf, kernel.bufs.push(small));
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < lanes {
        let count = size.min(lanes - start);
        for op in arm {
            out.push(chunk_op(op, &shrunk, start, count)?);
        }
        start += count;
    }
    Some(out)
}

/// `op` restricted to flat lanes `start..start + count`.
fn chunk_op(op: &TOp, shrunk: &BTreeMap<Buf, Buf>, start: u64, count: u64) -> Option<TOp> {
    let mut op = op.clone();
    let count32 = u32::try_from(count).ok()?;
    for v in op.kind.views_mut() {
        if is_broadcast(v) {
            // The same element for every lane of every chunk.
            *v = BView {
                buf: v.buf,
                offset: v.offset,
                shape: vec![count32],
                strides: vec![0],
            };
            continue;
        }
        *v = match shrunk.get(&v.buf) {
            Some(&small) => BView::whole(small, &[count32]),
            None => BView {
                buf: v.buf,
                offset: i64::try_from(start).ok()?,
                shape: vec![count32],
                strides: vec![1],
            },
        };
    }
    match &mut op.kind {
        TOpKind::Iota { start: first, .. } => {
            let offset = i64::try_from(start).ok()?;
            *first = match *first {
                SOp::Imm(x) => SOp::Imm(x.checked_add(offset)?),
                // A register start would need an add; the lowering's
                // iotas start at constants.
                SOp::Reg(_) => return None,
            };
        }
        TOpKind::Gather { count: n, .. } | TOpKind::Scatter { count: n, .. } => *n = count32,
        _ => {}
    }
    Some(op)
}
