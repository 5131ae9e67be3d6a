//! SRAM allocation: buffers → byte offsets in TSRAM or the accumulator
//! memory, by liveness.
//!
//! Buffers are visited in order of their interval start; each takes bytes
//! no buffer has held yet while there are any (so an op never waits for an
//! engine still reading a dead buffer's bytes, see [`Policy`]), then the
//! lowest 64-byte-aligned gap among the buffers still live (first fit).
//! When taking fresh bytes first fragments the room so that a buffer no
//! longer fits, the whole space is allocated again by first fit alone.
//! Intervals are closed, so a buffer never shares bytes with one that is
//! read or written by the same op (DMA and TTU operands must not alias).
//! TSRAM offsets start after `base` (the register spill area).
//!
//! A kernel that does not fit gets a diagnostic at the op where the live
//! bytes peak (or where first fit ran out because of fragmentation): bytes
//! needed vs available and the largest buffers live there.

use std::collections::BTreeMap;

use maiac_ir::Diagnostic;

use super::liveness::{Interval, Liveness};
use super::located;
use crate::tile::{Buf, BufSpace, TileKernel};

/// Alignment of every buffer.
pub const ALIGN: u64 = 64;

/// Rounds `bytes` up to [`ALIGN`].
pub fn aligned(bytes: u64) -> u64 {
    bytes.div_ceil(ALIGN) * ALIGN
}

/// Allocates the buffers of `space` within `[base, capacity)`.
pub fn allocate(
    kernel: &TileKernel,
    live: &Liveness,
    space: BufSpace,
    base: u64,
    capacity: u64,
) -> Result<BTreeMap<Buf, u64>, Diagnostic> {
    let mut order: Vec<(Buf, Interval, u64)> = live
        .bufs
        .iter()
        .filter(|(b, _)| kernel.bufs[**b].space == space)
        .map(|(&b, &i)| (b, i, aligned(kernel.bufs[b].bytes())))
        .collect();
    order.sort_by_key(|&(b, i, _)| (i.start, b));
    check_peak(
        kernel,
        live,
        space,
        &order,
        capacity - base.min(capacity),
        base,
    )?;
    // Fresh bytes first, then first fit; first fit alone when fresh-first
    // fragments the room so that some buffer no longer fits.
    let with = |policy| place(kernel, live, space, &order, base, capacity, policy);
    with(Policy::FreshFirst).or_else(|_| with(Policy::FirstFit))
}

/// Where a buffer goes among the gaps the live buffers leave.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Policy {
    /// Above every buffer placed so far when it fits, else first fit.
    /// Reusing the bytes of a buffer that just died makes the next op wait
    /// for whatever engine last read them — a DMA store's read ends only
    /// when the store completes, hundreds of cycles later — so bytes no
    /// buffer has held yet are taken while there are any.
    FreshFirst,
    /// The lowest gap among the live buffers that is large enough.
    FirstFit,
}

#[allow(clippy::too_many_arguments)]
fn place(
    kernel: &TileKernel,
    live: &Liveness,
    space: BufSpace,
    order: &[(Buf, Interval, u64)],
    base: u64,
    capacity: u64,
    policy: Policy,
) -> Result<BTreeMap<Buf, u64>, Diagnostic> {
    let mut placed = BTreeMap::new();
    // Live buffers: (offset, size, interval end).
    let mut active: Vec<(u64, u64, u32, Buf)> = Vec::new();
    // The end of the highest buffer placed so far.
    let mut fresh = base;
    for &(buf, interval, size) in order {
        active.retain(|&(_, _, end, _)| end >= interval.start);
        active.sort_by_key(|a| a.0);
        let mut offset = base;
        if policy == Policy::FreshFirst && fresh + size <= capacity {
            // Above every placed buffer, so above every live one too.
            offset = fresh;
        } else {
            for &(o, s, _, _) in &active {
                if offset + size <= o {
                    break;
                }
                offset = offset.max(o + s);
            }
        }
        if offset + size > capacity {
            let live_here: Vec<(Buf, u64)> = active
                .iter()
                .map(|a| (a.3, a.1))
                .chain([(buf, size)])
                .collect();
            return Err(overflow(
                kernel,
                live,
                space,
                interval.start,
                &live_here,
                base,
                capacity,
                true,
            ));
        }
        placed.insert(buf, offset);
        fresh = fresh.max(offset + size);
        active.push((offset, size, interval.end, buf));
    }
    Ok(placed)
}

fn space_name(space: BufSpace) -> &'static str {
    match space {
        BufSpace::Tsram => "TSRAM",
        BufSpace::Acc => "accumulator memory",
    }
}

/// Fails at the position of peak usage when the live bytes exceed the room.
fn check_peak(
    kernel: &TileKernel,
    live: &Liveness,
    space: BufSpace,
    order: &[(Buf, Interval, u64)],
    room: u64,
    base: u64,
) -> Result<(), Diagnostic> {
    // Sweep: +size at start, -size after end.
    let mut events: BTreeMap<u32, i128> = BTreeMap::new();
    for &(_, i, size) in order {
        *events.entry(i.start).or_default() += i128::from(size);
        *events.entry(i.end + 1).or_default() -= i128::from(size);
    }
    let (mut current, mut peak, mut peak_at) = (0i128, 0i128, 0u32);
    for (&p, &delta) in &events {
        current += delta;
        if current > peak {
            peak = current;
            peak_at = p;
        }
    }
    if peak as u64 <= room {
        return Ok(());
    }
    let live_here: Vec<(Buf, u64)> = order
        .iter()
        .filter(|(_, i, _)| i.contains(peak_at))
        .map(|&(b, _, s)| (b, s))
        .collect();
    Err(overflow(
        kernel,
        live,
        space,
        peak_at,
        &live_here,
        base,
        base + room,
        false,
    ))
}

#[allow(clippy::too_many_arguments)]
fn overflow(
    kernel: &TileKernel,
    live: &Liveness,
    space: BufSpace,
    at: u32,
    live_here: &[(Buf, u64)],
    base: u64,
    capacity: u64,
    fragmented: bool,
) -> Diagnostic {
    let needed: u64 = live_here.iter().map(|l| l.1).sum::<u64>() + base;
    let mut largest = live_here.to_vec();
    largest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let names: Vec<String> = largest
        .iter()
        .take(4)
        .map(|&(b, size)| {
            let d = &kernel.bufs[b];
            let name = if d.name.is_empty() {
                b.to_string()
            } else {
                format!("{} ({b})", d.name)
            };
            format!("{name}: {}{:?}, {size} bytes", d.dtype, d.shape)
        })
        .collect();
    let loc = live.locs.get(at as usize).copied().flatten();
    let why = if fragmented {
        " (after fragmentation)"
    } else {
        ""
    };
    let mut d = located(
        kernel,
        loc,
        format!(
            "the kernel does not fit in {}: {needed} bytes are live here{why}, {capacity} are available",
            space_name(space)
        ),
    )
    .note(format!("largest live buffers: {}", names.join("; ")));
    if base > 0 {
        d = d.note(format!("{base} bytes hold spilled scalar registers"));
    }
    d.note("use smaller block sizes (BLOCK_SIZE / num_stages) so the tile's working set fits")
}
