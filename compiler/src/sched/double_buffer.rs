//! Double buffering across `for` iterations (`double-buffer`).
//!
//! An innermost loop that loads its operands by DMA each iteration and
//! computes on them reuses the same buffers in every iteration, so the DMA
//! of iteration `i + 1` must wait until iteration `i`'s compute has read
//! them: the two never overlap. This pass unrolls such a loop by two and
//! gives the second copy of the body its own **operand buffers** (those a
//! DMA fills, a DMA store or scatter reads, or a TTU matmul reads), as the
//! second half of a ring of two:
//!
//! ```text
//! for iv = lb to ub step s { B(iv) }
//! ==>
//! next = lb
//! for iv = lb to ub' step 2s {       ub' = s > 0 ? ub - s : lb
//!   B(iv)            (ring half 0)
//!   iv1 = iv + s
//!   B(iv1)           (ring half 1)
//!   next = iv1 + s
//! }
//! if next < ub { B(next) }           (the odd last iteration, half 0)
//! ```
//!
//! With the codegen carrying engine work across back edges and branches
//! (`codegen::sync`), the DMA into one half then runs while the TTU/TVP
//! work on the other half, and the next iteration's DMA into half 0 waits
//! only for the compute of two copies ago.
//!
//! The body runs in the same order with the same values, so the result is
//! bit-identical: every pair `(iv, iv + s)` the new loop runs satisfies
//! `iv + s < ub`, and at its exit `next ≥ ub − s`, so at most one iteration
//! is left. A non-positive step with a non-empty range traps before the
//! loop (the lowering's check), and an empty range runs nothing either way.
//! Registers are not renamed: the second copy redefines what the first
//! defined, exactly as the next iteration would. Only buffers **local to
//! the body** are split — not accessed outside the loop and fully written
//! in the body before any read — so no value crosses from one copy to the
//! other through them.
//!
//! A loop is transformed only when it is innermost (no nested loops), its
//! induction variable is at most 32 bits wide (so `ub − s` and `iv + 2s`
//! cannot overflow the 64-bit registers), its body is small (code size
//! triples) and has a DMA load feeding compute, and the kernel still fits
//! the machine's SRAM afterwards (checked by scheduling it); otherwise the
//! loop is left as it was.

use std::collections::{BTreeMap, BTreeSet};

use maiac_backend::isa::AluOp;
use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use crate::fuse::walk::{for_each_op, Footprint};
use crate::pass::{Pass, PassContext};
use crate::sched::sram;
use crate::tile::{BView, Buf, BufData, SOp, SReg, TOp, TOpKind, TileKernel};

/// Bodies with more ops than this (counting nested ones) are not unrolled.
const MAX_BODY_OPS: usize = 400;

/// The `double-buffer` pass.
#[derive(Clone, Debug)]
pub struct DoubleBuffer {
    machine: Machine,
}

impl DoubleBuffer {
    pub fn new(machine: Machine) -> DoubleBuffer {
        DoubleBuffer { machine }
    }
}

impl Pass<TileKernel> for DoubleBuffer {
    fn name(&self) -> &str {
        "double-buffer"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        // Each candidate loop is tried on its own, in program order; a
        // rewrite that no longer fits the SRAM is undone.
        let mut index = 0;
        loop {
            let mut candidates = Vec::new();
            collect_innermost_loops(&kernel.body, &mut Vec::new(), &mut candidates);
            let Some(path) = candidates.into_iter().nth(index) else {
                return Ok(());
            };
            index += 1;
            // The rewritten loop takes the original's place in the
            // candidate order (the left-over `if`s hold no loop), so the
            // next index is the next original loop either way. The deepest
            // ring that fits wins.
            for depth in (2..=ring_depth(&self.machine)).rev() {
                let mut trial = kernel.clone();
                if !rewrite_loop(&mut trial, &path, depth) {
                    continue;
                }
                // Emitted too: the copies' registers can push an op over
                // the codegen's spill limit.
                let fits = crate::sched::schedule(&trial, &self.machine)
                    .and_then(|s| crate::codegen::emit(&s, &self.machine))
                    .is_ok();
                if fits {
                    *kernel = trial;
                    break;
                }
            }
        }
    }
}

/// The ring depth to try first: enough copies in flight that the HBM
/// latency hides behind the work of the others even when an iteration is
/// a single TTU op — `1 + ⌈hbm.latency / ttu.latency⌉`, at most 4 (code
/// size is `2·depth − 1` bodies) and at least 2. On `maia200-like` (600 and
/// 96 cycles) that is 4; a loop that does not fit at 4 tries 3, then 2.
fn ring_depth(machine: &Machine) -> usize {
    let hbm = u64::from(machine.hbm.latency_cycles);
    let ttu = u64::from(machine.ttu.latency_cycles).max(1);
    (1 + hbm.div_ceil(ttu)).clamp(2, 4) as usize
}

/// A position in the structured body: indices of ops and of nested bodies.
type Path = Vec<(usize, usize)>;

/// Paths (op index, body index … op index) of the `for` loops with no
/// nested loop, in program order.
fn collect_innermost_loops(body: &[TOp], prefix: &mut Path, out: &mut Vec<Path>) {
    for (i, op) in body.iter().enumerate() {
        let nested = op.kind.bodies();
        if let TOpKind::For { body: inner, .. } = &op.kind {
            if !contains_loop(inner) {
                let mut path = prefix.clone();
                path.push((i, usize::MAX));
                out.push(path);
                continue;
            }
        }
        for (b, inner) in nested.into_iter().enumerate() {
            prefix.push((i, b));
            collect_innermost_loops(inner, prefix, out);
            prefix.pop();
        }
    }
}

/// Whether `body` holds a `for` or `while`, at any depth.
pub(crate) fn contains_loop(body: &[TOp]) -> bool {
    body.iter().any(|op| {
        matches!(op.kind, TOpKind::For { .. } | TOpKind::While { .. })
            || op.kind.bodies().into_iter().any(|b| contains_loop(b))
    })
}

/// The op list a path leads into, and the index of the loop in it.
fn locate<'a>(body: &'a mut Vec<TOp>, path: &[(usize, usize)]) -> (&'a mut Vec<TOp>, usize) {
    let (i, b) = path[0];
    if path.len() == 1 {
        return (body, i);
    }
    let inner = body[i].kind.bodies_mut().into_iter().nth(b).expect("path");
    locate(inner, &path[1..])
}

fn count_ops(body: &[TOp]) -> usize {
    body.iter()
        .map(|op| {
            1 + op
                .kind
                .bodies()
                .into_iter()
                .map(|b| count_ops(b))
                .sum::<usize>()
        })
        .sum()
}

/// Rewrites the loop at `path` into a ring of `depth ≥ 2` copies; `false`
/// when it is not a candidate.
fn rewrite_loop(kernel: &mut TileKernel, path: &Path, depth: usize) -> bool {
    let loop_op = {
        let (list, at) = locate(&mut kernel.body, path);
        list[at].clone()
    };
    let TOpKind::For {
        iv,
        lb,
        ub,
        step,
        body,
    } = &loop_op.kind
    else {
        return false;
    };
    let copies = 2 * depth - 1;
    if depth > 2 && writes_memory(body) {
        // A copy's stores are moved behind the next copy's loads only
        // within a group (`defer_stores`); the left-over iterations, in
        // nested `if`s, would queue each store ahead of the next loads and
        // serialise them (measured: a row-streaming loop +30 % at depth 4).
        return false;
    }
    if kernel.sregs[*iv].width > 32
        || count_ops(body) * copies > MAX_BODY_OPS * 3
        || !loads_feed_compute(body)
    {
        return false;
    }
    let outside = referenced_outside(kernel, path);
    let ring_bufs = operand_buffers(body)
        .into_iter()
        .filter(|&b| {
            !outside.contains(&b)
                && fully_written_before_read(body, b, kernel.bufs[b].num_elements())
        })
        .filter(|&b| {
            // All parts must be addressable as one buffer's elements.
            ring_half_elements(&kernel.bufs[b])
                .is_some_and(|h| u32::try_from(depth as u64 * h).is_ok())
        })
        .collect::<Vec<_>>();
    if ring_bufs.is_empty() {
        return false;
    }
    let loc = loop_op.loc;

    // One ring per split buffer: part `j` for copy `j` of the group (and
    // for the `j`-th left-over iteration).
    let mut parts = vec![BTreeMap::new(); depth];
    for &b in &ring_bufs {
        let data = kernel.bufs[b].clone();
        let part = ring_half_elements(&data).expect("checked above");
        let ring = kernel.new_buf(
            data.dtype,
            &[u32::try_from(depth as u64 * part).expect("checked above")],
            data.space,
            format!("{}.ring", data.name),
        );
        for (j, map) in parts.iter_mut().enumerate() {
            map.insert(b, (ring, (j as u64 * part) as i64));
        }
    }

    let ring = Ring {
        iv: *iv,
        ub: *ub,
        step: *step,
        body,
        loc,
    };
    let replacement = ring.emit(kernel, *lb, &parts);
    let (list, at) = locate(&mut kernel.body, path);
    list.splice(at..=at, replacement);
    true
}

/// A loop being rewritten into rings: `for iv = lb to ub step step { body }`.
struct Ring<'a> {
    iv: SReg,
    ub: SOp,
    step: SOp,
    body: &'a [TOp],
    loc: Option<maiac_backend::isa::DebugLocId>,
}

impl Ring<'_> {
    fn op(&self, kind: TOpKind) -> TOp {
        TOp {
            kind,
            loc: self.loc,
        }
    }

    /// The iterations from `lb` on, as groups of `parts.len()` copies
    /// (copy `j` on part `j`), then the left-over iterations.
    fn emit(
        &self,
        kernel: &mut TileKernel,
        lb: SOp,
        parts: &[BTreeMap<Buf, (Buf, i64)>],
    ) -> Vec<TOp> {
        let depth = parts.len();
        let wide = |k: &mut TileKernel, name: &str| k.new_sreg(64, name.to_string());
        let next = wide(kernel, "db.next");
        let mut out = vec![self.op(TOpKind::Mov { dst: next, src: lb })];
        let ahead = depth as i64 - 1;
        let (group_ub, group_step) = match self.step {
            SOp::Imm(s) if s > 0 => {
                let group_ub = match self.ub {
                    SOp::Imm(u) => SOp::Imm(u - ahead * s),
                    SOp::Reg(_) => {
                        let r = wide(kernel, "db.ub");
                        out.push(self.op(TOpKind::Alu {
                            op: AluOp::Sub,
                            dst: r,
                            a: self.ub,
                            b: SOp::Imm(ahead * s),
                        }));
                        SOp::Reg(r)
                    }
                };
                (group_ub, SOp::Imm(depth as i64 * s))
            }
            _ => {
                // ub' = step > 0 ? ub - (depth − 1)·step : lb (no groups
                // for a bad step). The induction variable is at most 32
                // bits wide, so the products cannot overflow.
                let (reach, diff, positive, group_ub, stride) = (
                    wide(kernel, "db.reach"),
                    wide(kernel, "db.ub_minus_reach"),
                    wide(kernel, "db.step_positive"),
                    wide(kernel, "db.ub"),
                    wide(kernel, "db.group_step"),
                );
                out.extend([
                    self.op(TOpKind::Alu {
                        op: AluOp::Mul,
                        dst: reach,
                        a: self.step,
                        b: SOp::Imm(ahead),
                    }),
                    self.op(TOpKind::Alu {
                        op: AluOp::Sub,
                        dst: diff,
                        a: self.ub,
                        b: SOp::Reg(reach),
                    }),
                    self.op(TOpKind::Alu {
                        op: AluOp::LtS,
                        dst: positive,
                        a: SOp::Imm(0),
                        b: self.step,
                    }),
                    self.op(TOpKind::Select {
                        dst: group_ub,
                        cond: SOp::Reg(positive),
                        a: SOp::Reg(diff),
                        b: lb,
                    }),
                    self.op(TOpKind::Alu {
                        op: AluOp::Mul,
                        dst: stride,
                        a: self.step,
                        b: SOp::Imm(depth as i64),
                    }),
                ]);
                (SOp::Reg(group_ub), SOp::Reg(stride))
            }
        };

        // The group body: copy j runs iteration `iv + j·step` on part j.
        let mut ivs = vec![self.iv];
        for j in 1..depth {
            ivs.push(wide(kernel, &format!("db.iv{j}")));
        }
        let mut group: Vec<Vec<TOp>> = (0..depth)
            .map(|j| retarget(self.body, self.iv, (j > 0).then(|| ivs[j]), &parts[j]))
            .collect();
        for j in 1..depth {
            let (done, rest) = group.split_at_mut(j);
            defer_stores(kernel, &mut done[j - 1], &mut rest[0]);
        }
        let mut group_body = Vec::new();
        for (j, copy) in group.into_iter().enumerate() {
            if j > 0 {
                group_body.push(self.op(TOpKind::Alu {
                    op: AluOp::Add,
                    dst: ivs[j],
                    a: SOp::Reg(ivs[j - 1]),
                    b: self.step,
                }));
            }
            group_body.extend(copy);
        }
        group_body.push(self.op(TOpKind::Alu {
            op: AluOp::Add,
            dst: next,
            a: SOp::Reg(ivs[depth - 1]),
            b: self.step,
        }));
        out.push(self.op(TOpKind::For {
            iv: self.iv,
            lb,
            ub: group_ub,
            step: group_step,
            body: group_body,
        }));
        // At most depth − 1 iterations are left: nested
        // `if next < ub { B(next); next += step; if next < ub { … } }`, the
        // j-th on part j, so they overlap like a group (the codegen carries
        // engine work across branches). Each level's counter is fresh, so
        // no copy redefines a register an enclosing condition read.
        let mut levels = Vec::new();
        let mut at = next;
        for j in 0..depth - 1 {
            let (more, after) = (wide(kernel, "db.left"), wide(kernel, "db.left_next"));
            levels.push((at, more, after, j));
            at = after;
        }
        let mut tail: Vec<TOp> = Vec::new();
        for &(at, more, after, j) in levels.iter().rev() {
            let mut then_body = retarget(self.body, self.iv, Some(at), &parts[j]);
            if !tail.is_empty() {
                then_body.push(self.op(TOpKind::Alu {
                    op: AluOp::Add,
                    dst: after,
                    a: SOp::Reg(at),
                    b: self.step,
                }));
                then_body.append(&mut tail);
            }
            tail = vec![
                self.op(TOpKind::Alu {
                    op: AluOp::LtS,
                    dst: more,
                    a: SOp::Reg(at),
                    b: self.ub,
                }),
                self.op(TOpKind::If {
                    cond: SOp::Reg(more),
                    then_body,
                    else_body: Vec::new(),
                }),
            ];
        }
        out.extend(tail);
        out
    }
}

/// Moves the stores that end the first copy of a pair body behind the
/// second copy's loads, so the DMA queue (which runs in order) starts
/// iteration `i + 1`'s loads before iteration `i`'s stores, which wait for
/// `i`'s compute. Without it a streaming loop (load a row, reduce, store)
/// pays the load latency once per iteration; with it, once per pair.
///
/// A moved op is a top-level `dma.store` of the first copy, or an `if`
/// holding only stores, scatters, pure vector ops and CP arithmetic (a
/// guarded store and its scatter fallback); only such ops and pure CP ops
/// may follow it in the first copy. It goes right after the second copy's
/// last top-level op containing a load. Exact when
/// - the kernel reads no argument it writes (each argument is its own
///   buffer), so no load of the second copy can see the moved stores;
/// - the second copy's ops before the insertion point store, scatter,
///   update atomically or trap nowhere, so stores keep their order and a
///   trap still sees them done;
/// - nothing the op is moved over (the rest of the first copy, the second
///   copy's ops before the insertion point) writes a buffer the op reads,
///   or reads or writes a buffer it writes, or reads a register it
///   defines — a store source must be a ring buffer's half 0 to pass, the
///   second copy writing half 1;
/// - registers it reads but does not define are copied into fresh
///   registers where it was, since both copies redefine them.
fn defer_stores(kernel: &mut TileKernel, first: &mut Vec<TOp>, second: &mut Vec<TOp>) {
    if !kernel.reads_nothing_it_writes() {
        return;
    }
    let contains = |op: &TOp, pred: &dyn Fn(&TOpKind) -> bool| {
        let mut found = false;
        for_each_op(std::slice::from_ref(op), &mut |o| found |= pred(&o.kind));
        found
    };
    let is_load = |k: &TOpKind| {
        matches!(
            k,
            TOpKind::DmaLoad { .. } | TOpKind::Gather { .. } | TOpKind::LoadStaged { .. }
        )
    };
    let is_write = |k: &TOpKind| {
        matches!(
            k,
            TOpKind::DmaStore { .. }
                | TOpKind::Scatter { .. }
                | TOpKind::Atomic { .. }
                | TOpKind::Trap { .. }
        )
    };
    let pure_cp = |k: &TOpKind| {
        matches!(
            k,
            TOpKind::Mov { .. } | TOpKind::Alu { .. } | TOpKind::Select { .. }
        )
    };
    let movable_kind = |op: &TOp| match &op.kind {
        TOpKind::DmaStore { .. } => true,
        TOpKind::If { .. } => {
            let mut ok = true;
            for_each_op(std::slice::from_ref(op), &mut |o| {
                ok &= pure_cp(&o.kind)
                    || matches!(
                        o.kind,
                        TOpKind::If { .. }
                            | TOpKind::DmaStore { .. }
                            | TOpKind::Scatter { .. }
                            | TOpKind::Map { .. }
                            | TOpKind::Iota { .. }
                            | TOpKind::Copy { .. }
                    )
            });
            ok && contains(op, &|k| matches!(k, TOpKind::DmaStore { .. }))
        }
        _ => false,
    };
    let mut moved = Vec::new();
    for (k, op) in first.iter().enumerate().rev() {
        if movable_kind(op) {
            moved.push(k);
        } else if !pure_cp(&op.kind) {
            break;
        }
    }
    let Some(last_load) = second.iter().rposition(|op| contains(op, &is_load)) else {
        return;
    };
    let at = last_load + 1;
    if second[..at].iter().any(|op| contains(op, &is_write)) {
        return;
    }
    // Program order; stop at the first op that cannot move (the later ones
    // would then pass it).
    moved.reverse();
    let mut taken = Vec::new();
    for &k in &moved {
        let fp = Footprint::of(&first[k]);
        let (reads, writes) = element_ranges(std::slice::from_ref(&first[k]));
        let mut over = Footprint::default();
        for op in first[k + 1..].iter().chain(&second[..at]) {
            let o = Footprint::of(op);
            over.uses.extend(o.uses);
            over.defs.extend(o.defs);
        }
        let (over_reads, over_writes) = element_ranges(&[&first[k + 1..], &second[..at]].concat());
        // Ops moved earlier in this loop stay ahead of this one. Buffers
        // are compared by element range: a ring's two halves are one
        // buffer.
        let clean = !overlaps(&reads, &over_writes)
            && !overlaps(&writes, &over_writes)
            && !overlaps(&writes, &over_reads)
            && fp.defs.is_disjoint(&over.uses)
            && fp.defs.is_disjoint(&over.defs)
            && defines_before_use(&first[k]);
        if !clean {
            break;
        }
        taken.push(k);
    }
    if taken.is_empty() {
        return;
    }
    let mut stores = Vec::new();
    for &k in &taken {
        let mut store = first[k].clone();
        let fp = Footprint::of(&store);
        let inputs: BTreeSet<SReg> = fp.uses.difference(&fp.defs).copied().collect();
        let mut renames = BTreeMap::new();
        let mut snapshots = Vec::new();
        for r in inputs {
            let copy = kernel.new_sreg(kernel.sregs[r].width, "db.store_operand");
            snapshots.push(TOp {
                kind: TOpKind::Mov {
                    dst: copy,
                    src: SOp::Reg(r),
                },
                loc: store.loc,
            });
            renames.insert(r, copy);
        }
        rename_uses(&mut store, &renames);
        stores.push((k, snapshots, store));
    }
    for (k, snapshots, _) in stores.iter().rev() {
        first.splice(*k..=*k, snapshots.iter().cloned());
    }
    second.splice(at..at, stores.into_iter().map(|(_, _, store)| store));
}

/// A buffer and a half-open element range of it.
type Span = (Buf, i64, i64);

/// The element ranges `ops` (nested ones included) read and write.
fn element_ranges(ops: &[TOp]) -> (Vec<Span>, Vec<Span>) {
    let span = |v: &BView| {
        let (mut lo, mut hi) = (v.offset, v.offset);
        for (&n, &stride) in v.shape.iter().zip(&v.strides) {
            let reach = (i64::from(n) - 1).max(0) * stride;
            lo += reach.min(0);
            hi += reach.max(0);
        }
        (v.buf, lo, hi + 1)
    };
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    for_each_op(ops, &mut |o| {
        reads.extend(o.kind.reads().into_iter().map(span));
        writes.extend(o.kind.writes().into_iter().map(span));
    });
    (reads, writes)
}

/// Whether two sets of element ranges intersect.
fn overlaps(a: &[Span], b: &[Span]) -> bool {
    a.iter()
        .any(|&(x, lo, hi)| b.iter().any(|&(y, l, h)| x == y && lo < h && l < hi))
}

/// Whether every register `op` defines somewhere inside is defined before
/// any use inside it (in program order), so its inputs are exactly the
/// registers it uses and never defines.
fn defines_before_use(op: &TOp) -> bool {
    let defs = Footprint::of(op).defs;
    let mut defined = BTreeSet::new();
    let mut ok = true;
    for_each_op(std::slice::from_ref(op), &mut |o| {
        for r in crate::fuse::walk::regs(o.kind.scalar_uses()) {
            ok &= !defs.contains(&r) || defined.contains(&r);
        }
        defined.extend(o.kind.scalar_def());
    });
    ok
}

/// Replaces register operands (not definitions) of `op` and its nested ops.
fn rename_uses(op: &mut TOp, renames: &BTreeMap<SReg, SReg>) {
    for operand in op.kind.scalar_uses_mut() {
        if let SOp::Reg(r) = operand {
            if let Some(&to) = renames.get(r) {
                *r = to;
            }
        }
    }
    for body in op.kind.bodies_mut() {
        for inner in body {
            rename_uses(inner, renames);
        }
    }
}

/// Elements of one ring half: the buffer rounded up to the SRAM alignment
/// (so both halves start aligned); `None` for sub-byte types whose half
/// would not be a whole number of elements.
fn ring_half_elements(data: &BufData) -> Option<u64> {
    let bits = u64::from(data.dtype.storage_bits());
    let bytes = sram::aligned(data.bytes());
    (bytes * 8).is_multiple_of(bits).then(|| bytes * 8 / bits)
}

/// A copy of `body` with the induction variable replaced by `iv_to` (when
/// given) and the split buffers moved into their ring half.
fn retarget(
    body: &[TOp],
    iv: SReg,
    iv_to: Option<SReg>,
    halves: &BTreeMap<Buf, (Buf, i64)>,
) -> Vec<TOp> {
    let mut copy = body.to_vec();
    fn walk(ops: &mut [TOp], f: &mut impl FnMut(&mut TOpKind)) {
        for op in ops {
            f(&mut op.kind);
            for inner in op.kind.bodies_mut() {
                walk(inner, f);
            }
        }
    }
    walk(&mut copy, &mut |kind| {
        if let Some(to) = iv_to {
            for s in kind.scalar_uses_mut() {
                if *s == SOp::Reg(iv) {
                    *s = SOp::Reg(to);
                }
            }
        }
        for v in kind.views_mut() {
            if let Some(&(ring, offset)) = halves.get(&v.buf) {
                v.buf = ring;
                v.offset += offset;
            }
        }
    });
    copy
}

/// Whether `body` stores, scatters or updates memory atomically.
fn writes_memory(body: &[TOp]) -> bool {
    let mut writes = false;
    for_each_op(body, &mut |op| {
        writes |= matches!(
            op.kind,
            TOpKind::DmaStore { .. } | TOpKind::Scatter { .. } | TOpKind::Atomic { .. }
        )
    });
    writes
}

/// Whether the body loads from HBM (DMA or gather) and computes (TTU or
/// TVP): the shape that gains from overlapping the two.
fn loads_feed_compute(body: &[TOp]) -> bool {
    let (mut loads, mut computes) = (false, false);
    for_each_op(body, &mut |op| match &op.kind {
        TOpKind::DmaLoad { .. } | TOpKind::LoadStaged { .. } | TOpKind::Gather { .. } => {
            loads = true
        }
        TOpKind::Matmul { .. }
        | TOpKind::Map { .. }
        | TOpKind::Reduce { .. }
        | TOpKind::ActReduce { .. }
        | TOpKind::Scan { .. }
        | TOpKind::MxDequantize { .. } => computes = true,
        _ => {}
    });
    loads && computes
}

/// Buffers a DMA fills or a TTU matmul reads inside `body`.
fn operand_buffers(body: &[TOp]) -> BTreeSet<Buf> {
    let mut bufs = BTreeSet::new();
    for_each_op(body, &mut |op| match &op.kind {
        TOpKind::DmaLoad { dst, .. }
        | TOpKind::LoadStaged { dst, .. }
        | TOpKind::Gather { dst, .. } => {
            bufs.insert(dst.buf);
        }
        TOpKind::Matmul { a, b, .. } => {
            bufs.extend([a.view.buf, b.view.buf]);
            bufs.extend(a.scale.iter().chain(&b.scale).map(|v| v.buf));
        }
        // A store's source: the next iteration's producer would otherwise
        // wait for the store to reach HBM before overwriting it.
        TOpKind::DmaStore { src, .. } | TOpKind::Scatter { src, .. } => {
            bufs.insert(src.buf);
        }
        _ => {}
    });
    bufs
}

/// Buffers accessed anywhere in the kernel except inside the loop at `path`.
fn referenced_outside(kernel: &TileKernel, path: &Path) -> BTreeSet<Buf> {
    let mut bufs = BTreeSet::new();
    let mut skip = kernel.clone();
    {
        let (list, at) = locate(&mut skip.body, path);
        list.remove(at);
    }
    for_each_op(&skip.body, &mut |op| {
        bufs.extend(op.kind.reads().into_iter().map(|v| v.buf));
        bufs.extend(op.kind.writes().into_iter().map(|v| v.buf));
    });
    bufs
}

/// Whether every path through `body` writes all of `buf` before reading
/// any of it (so no value of `buf` crosses iterations).
fn fully_written_before_read(body: &[TOp], buf: Buf, elements: u64) -> bool {
    // A write covers the buffer when its view is dense from offset 0 and
    // has as many elements as the buffer.
    let covers = |v: &&BView| v.buf == buf && v.is_whole(elements);
    /// `Some(written on every path)`, or `None` when some path reads first.
    fn scan(
        body: &[TOp],
        buf: Buf,
        mut written: bool,
        covers: &impl Fn(&&BView) -> bool,
    ) -> Option<bool> {
        for op in body {
            match &op.kind {
                TOpKind::If {
                    then_body,
                    else_body,
                    ..
                } => {
                    let t = scan(then_body, buf, written, covers)?;
                    let e = scan(else_body, buf, written, covers)?;
                    written = t && e;
                }
                TOpKind::For { .. } | TOpKind::While { .. } => return None,
                kind => {
                    if !written && kind.reads().iter().any(|v| v.buf == buf) {
                        return None;
                    }
                    if !kind.writes_partially() && kind.writes().iter().any(covers) {
                        written = true;
                    }
                }
            }
        }
        Some(written)
    }
    scan(body, buf, false, &covers).is_some()
}
