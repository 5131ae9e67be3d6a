//! Fitting TVP ops to the machine's view rank (at most
//! [`MAX_RANK`](maiac_backend::isa::view::MAX_RANK) dims).
//!
//! TTIR tensors may have any rank (bitonic sorts reshape to `2x2x2x2x2x2x2`).
//! Before an op is emitted, views of higher rank are brought down:
//! 1. size-1 dims are dropped and adjacent dims merged wherever *every* view
//!    of the op is contiguous across them (`stride[d] = stride[d+1] ·
//!    size[d+1]`; broadcast dims, stride 0, merge with each other), never
//!    across the reduction/scan axis;
//! 2. what is still too large is unrolled along its outermost free dim into
//!    several ops of one rank less (offsets advance by that dim's stride).
//!
//! Both keep the element order, so results are unchanged. Ops whose views
//! all fit are left exactly as they are.

use maiac_backend::isa::view::MAX_RANK;

use crate::tile::{BView, TInput, TOpKind};

/// `kind` as one or more ops whose views have rank ≤ `MAX_RANK`.
pub(super) fn fit_rank(kind: TOpKind) -> Vec<TOpKind> {
    let too_big = kind
        .reads()
        .iter()
        .chain(kind.writes().iter())
        .any(|v| v.shape.len() > MAX_RANK);
    if !too_big {
        return vec![kind];
    }
    match kind {
        TOpKind::Map {
            micro,
            inputs,
            outputs,
        } => {
            let mut views: Vec<BView> = outputs.clone();
            views.extend(inputs.iter().filter_map(|i| match i {
                TInput::View(v) => Some(v.clone()),
                TInput::Scalar(_) => None,
            }));
            fit_views(views, None)
                .into_iter()
                .map(|(mut vs, _)| {
                    let outs: Vec<BView> = vs.drain(..outputs.len()).collect();
                    let mut rest = vs.into_iter();
                    let ins = inputs
                        .iter()
                        .map(|i| match i {
                            TInput::View(_) => {
                                TInput::View(rest.next().expect("one view per view input"))
                            }
                            TInput::Scalar(s) => TInput::Scalar(*s),
                        })
                        .collect();
                    TOpKind::Map {
                        micro: micro.clone(),
                        inputs: ins,
                        outputs: outs,
                    }
                })
                .collect()
        }
        TOpKind::Copy { src, dst } if src.shape == dst.shape => fit_views(vec![src, dst], None)
            .into_iter()
            .map(|(vs, _)| TOpKind::Copy {
                src: vs[0].clone(),
                dst: vs[1].clone(),
            })
            .collect(),
        TOpKind::Copy { src, dst } => {
            // Different shapes, one row-major order: each view may merge on
            // its own.
            let (src, dst) = (merge_alone(src), merge_alone(dst));
            vec![TOpKind::Copy { src, dst }]
        }
        TOpKind::Reduce {
            combiner,
            axis,
            inputs,
            outputs,
        } => {
            let n = inputs.len();
            let mut views = inputs;
            // Outputs get the reduced axis back as a size-1 dim so that all
            // views share a rank; it is removed again below.
            views.extend(outputs.into_iter().map(|mut v| {
                v.shape.insert(usize::from(axis), 1);
                v.strides.insert(usize::from(axis), 0);
                v
            }));
            fit_views(views, Some(usize::from(axis)))
                .into_iter()
                .map(|(mut vs, axis)| {
                    let axis = axis.expect("the axis is kept");
                    let outs = vs
                        .drain(n..)
                        .map(|mut v| {
                            v.shape.remove(axis);
                            v.strides.remove(axis);
                            v
                        })
                        .collect();
                    TOpKind::Reduce {
                        combiner: combiner.clone(),
                        axis: axis as u8,
                        inputs: vs,
                        outputs: outs,
                    }
                })
                .collect()
        }
        TOpKind::Scan {
            combiner,
            axis,
            reverse,
            inputs,
            outputs,
        } => {
            let n = inputs.len();
            let mut views = inputs;
            views.extend(outputs);
            fit_views(views, Some(usize::from(axis)))
                .into_iter()
                .map(|(mut vs, axis)| {
                    let outs = vs.split_off(n);
                    TOpKind::Scan {
                        combiner: combiner.clone(),
                        axis: axis.expect("the axis is kept") as u8,
                        reverse,
                        inputs: vs,
                        outputs: outs,
                    }
                })
                .collect()
        }
        other => vec![other],
    }
}

/// Views of one iteration space (equal shapes except, possibly, along
/// `axis`) as groups of views of rank ≤ `MAX_RANK` covering the same
/// elements, each with the new position of `axis`.
fn fit_views(mut views: Vec<BView>, mut axis: Option<usize>) -> Vec<(Vec<BView>, Option<usize>)> {
    merge_jointly(&mut views, &mut axis);
    let rank = views[0].shape.len();
    if rank <= MAX_RANK {
        return vec![(views, axis)];
    }
    // Unroll the outermost dim that is not the axis.
    let d = if axis == Some(0) { 1 } else { 0 };
    let extent = views[0].shape[d];
    let mut out = Vec::new();
    for i in 0..extent {
        let slice: Vec<BView> = views
            .iter()
            .map(|v| {
                let mut s = v.clone();
                s.offset += i64::from(i) * v.strides[d];
                s.shape.remove(d);
                s.strides.remove(d);
                s
            })
            .collect();
        let sub_axis = axis.map(|a| if a > d { a - 1 } else { a });
        out.extend(fit_views(slice, sub_axis));
    }
    out
}

/// Drops size-1 dims (other than `axis`) and merges adjacent dims that are
/// contiguous in every view.
fn merge_jointly(views: &mut [BView], axis: &mut Option<usize>) {
    let mut d = 0;
    while d < views[0].shape.len() && views[0].shape.len() > 1 {
        if Some(d) != *axis && views.iter().all(|v| v.shape[d] == 1) {
            for v in views.iter_mut() {
                v.shape.remove(d);
                v.strides.remove(d);
            }
            *axis = axis.map(|a| if a > d { a - 1 } else { a });
        } else {
            d += 1;
        }
    }
    let mut d = views[0].shape.len().saturating_sub(1);
    while d > 0 {
        let (outer, inner) = (d - 1, d);
        let mergeable = Some(outer) != *axis
            && Some(inner) != *axis
            && views
                .iter()
                .all(|v| v.strides[outer] == v.strides[inner] * i64::from(v.shape[inner]));
        if mergeable {
            for v in views.iter_mut() {
                v.shape[outer] *= v.shape[inner];
                v.strides[outer] = v.strides[inner];
                v.shape.remove(inner);
                v.strides.remove(inner);
            }
            *axis = axis.map(|a| if a > outer { a - 1 } else { a });
        }
        d -= 1;
    }
}

/// One view's own merges (its row-major order is kept).
fn merge_alone(view: BView) -> BView {
    let mut views = [view];
    merge_jointly(&mut views, &mut None);
    let [view] = views;
    view
}

#[cfg(test)]
mod tests {
    use cranelift_entity::EntityRef;

    use super::*;
    use crate::tile::Buf;

    fn view(buf: usize, shape: &[u32], strides: &[i64]) -> BView {
        BView {
            buf: Buf::new(buf),
            offset: 0,
            shape: shape.to_vec(),
            strides: strides.to_vec(),
        }
    }

    fn dense(buf: usize, shape: &[u32]) -> BView {
        BView::whole(Buf::new(buf), shape)
    }

    #[test]
    fn rank_seven_broadcast_merges_to_three() {
        let shape = [2u32; 7];
        let input = view(1, &shape, &[0, 0, 0, 0, 0, 1, 0]);
        let out = fit_views(vec![dense(0, &shape), input], None);
        assert_eq!(out.len(), 1);
        let (vs, _) = &out[0];
        assert_eq!(vs[0].shape, [32, 2, 2]);
        assert_eq!(vs[0].strides, [4, 2, 1]);
        assert_eq!(vs[1].strides, [0, 1, 0]);
    }

    #[test]
    fn unmergeable_views_unroll() {
        // A transposed rank-5 view against a dense one: nothing merges.
        let shape = [2u32, 3, 2, 3, 2];
        let t = view(1, &shape, &[1, 2, 6, 12, 36]);
        let out = fit_views(vec![dense(0, &shape), t], None);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].0[0].offset, 36);
        assert_eq!(out[1].0[1].offset, 1);
        assert!(out
            .iter()
            .all(|(vs, _)| vs.iter().all(|v| v.shape.len() == 4)));
    }

    #[test]
    fn reductions_keep_their_axis() {
        let shape = [2u32, 2, 2, 2, 2, 2];
        let mut axis = Some(3);
        let mut views = vec![dense(0, &shape)];
        merge_jointly(&mut views, &mut axis);
        assert_eq!(views[0].shape, [8, 2, 4]);
        assert_eq!(axis, Some(1));
    }
}
