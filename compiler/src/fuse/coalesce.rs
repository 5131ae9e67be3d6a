//! Coalescing loop-carried tensors with their next value
//! (`coalesce-carried`).
//!
//! The lowering gives every `scf.for` iteration argument a buffer `C` of its
//! own and ends the body with `C = copy X`, `X` being the value the body
//! yields; a `tt.dot` that accumulates into `C` also starts with
//! `X = copy C` so the TTU can accumulate into `X`. For a GEMM's K loop that
//! is two whole-tile TVP copies per iteration — more TVP time than the
//! matmul takes on the TTU. When nothing reads the old value of `C` while
//! `X` is alive, `X` can simply *be* `C`:
//!
//! ```text
//! d:  X = op(…)            (X's first access: a whole write)
//!     … uses of X, none of C …
//! w:  C = copy X           (whole views, same type and shape)
//! ==> op writes C, the uses read C, the copy is gone; and when
//!     d is `X = copy C`, it is gone too.
//! ```
//!
//! Conditions (checked per candidate, in the op list of a loop body): `X`
//! is local to that op list (every reference to it in the kernel lies
//! between `d` and `w`), `C` is not referenced strictly between `d` and `w`,
//! and the op at `d` either does not reference `C`, is `X = copy C`, or is
//! an elementwise `map` whose inputs on `C` are exactly its output view (an
//! in-place update reads element `i` before writing element `i`). Then every
//! read of `X` sees the same bits it saw before, and `C` holds after `w`
//! what the copy put there; before `d`, nothing changed.

use maiac_ir::Diagnostic;

use crate::pass::{Pass, PassContext};
use crate::tile::{BView, Buf, TInput, TOp, TOpKind, TileKernel};

use super::walk::{reference_counts, touched};

/// The `coalesce-carried` pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct CoalesceCarried;

impl Pass<TileKernel> for CoalesceCarried {
    fn name(&self) -> &str {
        "coalesce-carried"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        // Each rewrite removes at least one op, so this terminates.
        while rewrite_one(kernel) {}
        Ok(())
    }
}

fn references(ops: &[TOp], buf: Buf) -> usize {
    reference_counts(ops).get(&buf).copied().unwrap_or(0)
}

/// Finds and applies one rewrite anywhere in the kernel.
fn rewrite_one(kernel: &mut TileKernel) -> bool {
    let totals = reference_counts(&kernel.body);
    let bufs = kernel.bufs.clone();
    let whole = |v: &BView| v.is_whole(bufs[v.buf].num_elements());
    let same_kind = |x: Buf, c: Buf| {
        let (x, c) = (&bufs[x], &bufs[c]);
        x.dtype == c.dtype && x.shape == c.shape && x.space == c.space
    };
    visit_loop_bodies(&mut kernel.body, &mut |list| {
        for w in 0..list.len() {
            let TOpKind::Copy { src, dst } = &list[w].kind else {
                continue;
            };
            let (x, c) = (src.buf, dst.buf);
            if x == c || !whole(src) || !whole(dst) || !same_kind(x, c) {
                continue;
            }
            // X's first reference in the list: its defining op.
            let Some(d) = list[..w]
                .iter()
                .position(|op| references(std::slice::from_ref(op), x) > 0)
            else {
                continue;
            };
            if references(&list[d..=w], x) != totals[&x] {
                continue;
            }
            if references(&list[d + 1..w], c) > 0 {
                continue;
            }
            let def = &list[d].kind;
            let defines_whole = def.bodies().is_empty()
                && !def.writes_partially()
                && def.writes().iter().any(|v| v.buf == x && whole(v))
                && !def.reads().iter().any(|v| v.buf == x);
            if !defines_whole {
                continue;
            }
            let drop_def = match def {
                TOpKind::Copy { src, .. } if src.buf == c => {
                    if !whole(src) {
                        continue;
                    }
                    true
                }
                _ if !touched(def).contains(&c) => false,
                TOpKind::Map {
                    inputs, outputs, ..
                } => {
                    let out = outputs.iter().find(|v| v.buf == x).expect("writes x");
                    let in_place = inputs.iter().all(|i| match i {
                        TInput::View(v) => {
                            v.buf != c
                                || (v.offset, &v.shape, &v.strides)
                                    == (out.offset, &out.shape, &out.strides)
                        }
                        TInput::Scalar(_) => true,
                    }) && outputs.iter().all(|v| v.buf != c);
                    if !in_place {
                        continue;
                    }
                    false
                }
                _ => continue,
            };
            // Rewrite: X becomes C between d and w.
            for op in &mut list[d..w] {
                rename(op, x, c);
            }
            list.remove(w);
            if drop_def {
                list.remove(d);
            }
            return true;
        }
        false
    })
}

/// Calls `f` on the body of every `for` loop (innermost first) until it
/// reports a change.
fn visit_loop_bodies(body: &mut [TOp], f: &mut impl FnMut(&mut Vec<TOp>) -> bool) -> bool {
    for op in body.iter_mut() {
        for inner in op.kind.bodies_mut() {
            if visit_loop_bodies(inner, f) {
                return true;
            }
        }
        if let TOpKind::For { body, .. } = &mut op.kind {
            if f(body) {
                return true;
            }
        }
    }
    false
}

fn rename(op: &mut TOp, from: Buf, to: Buf) {
    for v in op.kind.views_mut() {
        if v.buf == from {
            v.buf = to;
        }
    }
    for inner in op.kind.bodies_mut() {
        for op in inner {
            rename(op, from, to);
        }
    }
}
