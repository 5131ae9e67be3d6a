//! Box masks: `i1` tensors whose true elements form a box.
//!
//! A [`BoxMask`] says element `i` is true iff `cond` holds and
//! `begin_d ≤ i_d < end_d` along every dimension `d`, where `cond` is a
//! uniform `i1` and `begin_d`, `end_d` are `i64` [`ScalarExpr`]s in
//! `[0, n_d]`. Triton's bounds checks produce exactly this: a comparison of
//! `start + range` with a scalar bound gives one dimension's interval
//! ([`BoxMask::compare`]); `arith.andi` intersects boxes; `expand_dims`,
//! `broadcast` and `trans` move them around. Anything else (`ori`, a
//! comparison varying along two dimensions, a triangle) is not a box, and
//! the access falls back to gather/scatter with the mask tensor.

use maiac_ir::semantics::int::IntPredicate;

use super::affine::{push_guard, Affine, NotAffine};
use super::scalar::{width_range, ScalarExpr};

/// A mask whose true elements form a box (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoxMask {
    pub shape: Vec<i64>,
    pub begin: Vec<ScalarExpr>,
    pub end: Vec<ScalarExpr>,
    pub cond: ScalarExpr,
    /// Conditions under which the description is exact.
    pub guards: Vec<ScalarExpr>,
}

fn flip(pred: IntPredicate) -> Option<IntPredicate> {
    use IntPredicate::*;
    Some(match pred {
        Eq => Eq,
        Ne => Ne,
        Slt => Sgt,
        Sle => Sge,
        Sgt => Slt,
        Sge => Sle,
        Ult => Ugt,
        Ule => Uge,
        Ugt => Ult,
        Uge => Ule,
    })
}

impl BoxMask {
    /// A mask that is `cond` everywhere.
    pub fn uniform(shape: Vec<i64>, cond: ScalarExpr) -> BoxMask {
        let begin = shape.iter().map(|_| ScalarExpr::constant(0, 64)).collect();
        let end = shape
            .iter()
            .map(|&n| ScalarExpr::constant(i128::from(n), 64))
            .collect();
        BoxMask {
            shape,
            begin,
            end,
            cond,
            guards: Vec::new(),
        }
    }

    /// Whether every element is statically true.
    pub fn is_full(&self) -> bool {
        self.cond.is_true()
            && self.begin.iter().all(ScalarExpr::is_zero)
            && self
                .end
                .iter()
                .zip(&self.shape)
                .all(|(e, &n)| e.as_signed_const() == Some(n))
    }

    /// `arith.andi`.
    pub fn and(&self, other: &BoxMask) -> Result<BoxMask, NotAffine> {
        if self.shape != other.shape {
            return Err("mask shapes differ".into());
        }
        let begin = self
            .begin
            .iter()
            .zip(&other.begin)
            .map(|(a, b)| ScalarExpr::max_s(a.clone(), b.clone()))
            .collect();
        let end = self
            .end
            .iter()
            .zip(&other.end)
            .map(|(a, b)| ScalarExpr::min_s(a.clone(), b.clone()))
            .collect();
        let mut guards = self.guards.clone();
        for g in &other.guards {
            push_guard(&mut guards, g.clone());
        }
        Ok(BoxMask {
            shape: self.shape.clone(),
            begin,
            end,
            cond: ScalarExpr::and(self.cond.clone(), other.cond.clone()),
            guards,
        })
    }

    /// The condition that a size-1 dimension's only element is inside.
    fn unit_dim_inside(&self, d: usize) -> ScalarExpr {
        ScalarExpr::cmp(
            IntPredicate::Slt,
            self.begin[d].clone(),
            self.end[d].clone(),
        )
    }

    /// `tt.expand_dims {axis}`.
    pub fn expand_dims(&self, axis: usize) -> Result<BoxMask, NotAffine> {
        if axis > self.shape.len() {
            return Err(format!("axis {axis} out of range"));
        }
        let mut out = self.clone();
        out.shape.insert(axis, 1);
        out.begin.insert(axis, ScalarExpr::constant(0, 64));
        out.end.insert(axis, ScalarExpr::constant(1, 64));
        Ok(out)
    }

    /// `tt.broadcast`: a grown size-1 dimension's interval becomes part of
    /// the uniform condition.
    pub fn broadcast(&self, shape: &[i64]) -> Result<BoxMask, NotAffine> {
        if shape.len() != self.shape.len()
            || self
                .shape
                .iter()
                .zip(shape)
                .any(|(&a, &b)| a != b && a != 1)
        {
            return Err(format!("cannot broadcast {:?} to {shape:?}", self.shape));
        }
        let mut out = self.clone();
        for (d, (&from, &to)) in self.shape.iter().zip(shape).enumerate() {
            if from == 1 && to != 1 {
                out.cond = ScalarExpr::and(out.cond, self.unit_dim_inside(d));
                out.begin[d] = ScalarExpr::constant(0, 64);
                out.end[d] = ScalarExpr::constant(i128::from(to), 64);
            }
        }
        out.shape = shape.to_vec();
        Ok(out)
    }

    /// `tt.splat` of this (rank-0) mask.
    pub fn splat(&self, shape: &[i64]) -> BoxMask {
        let mut out = BoxMask::uniform(shape.to_vec(), self.cond.clone());
        out.guards = self.guards.clone();
        out
    }

    /// `tt.trans {order}`.
    pub fn trans(&self, order: &[usize]) -> Result<BoxMask, NotAffine> {
        let mut seen = vec![false; self.shape.len()];
        if order.len() != self.shape.len()
            || order
                .iter()
                .any(|&d| d >= seen.len() || std::mem::replace(&mut seen[d], true))
        {
            return Err(format!("order {order:?} is not a permutation"));
        }
        let mut out = self.clone();
        out.shape = order.iter().map(|&d| self.shape[d]).collect();
        out.begin = order.iter().map(|&d| self.begin[d].clone()).collect();
        out.end = order.iter().map(|&d| self.end[d].clone()).collect();
        Ok(out)
    }

    /// `tt.reshape` that only inserts or removes size-1 dimensions.
    pub fn reshape(&self, shape: &[i64]) -> Result<BoxMask, NotAffine> {
        let src: Vec<usize> = (0..self.shape.len())
            .filter(|&d| self.shape[d] != 1)
            .collect();
        let dst: Vec<usize> = (0..shape.len()).filter(|&d| shape[d] != 1).collect();
        if src.len() != dst.len()
            || src
                .iter()
                .zip(&dst)
                .any(|(&s, &t)| self.shape[s] != shape[t])
        {
            return Err(format!(
                "mask reshape {:?} to {shape:?} is not a box",
                self.shape
            ));
        }
        let mut out = BoxMask::uniform(shape.to_vec(), self.cond.clone());
        out.guards = self.guards.clone();
        for d in (0..self.shape.len()).filter(|&d| self.shape[d] == 1) {
            out.cond = ScalarExpr::and(out.cond, self.unit_dim_inside(d));
        }
        for (&s, &t) in src.iter().zip(&dst) {
            out.begin[t] = self.begin[s].clone();
            out.end[t] = self.end[s].clone();
        }
        Ok(out)
    }

    /// `arith.cmpi pred, lhs, rhs` on affine integers: a box when one side
    /// is uniform and the other is `start + i_d` along one dimension.
    pub fn compare(pred: IntPredicate, lhs: &Affine, rhs: &Affine) -> Result<BoxMask, NotAffine> {
        if lhs.shape != rhs.shape {
            return Err("compared shapes differ".into());
        }
        let shape = lhs.shape.clone();
        let mut guards = lhs.guards.clone();
        for g in &rhs.guards {
            push_guard(&mut guards, g.clone());
        }
        if lhs.is_uniform() && rhs.is_uniform() {
            let mut out = BoxMask::uniform(
                shape,
                ScalarExpr::cmp(pred, lhs.offset.clone(), rhs.offset.clone()),
            );
            out.guards = guards;
            return Ok(out);
        }
        let (index, bound, pred) = if rhs.is_uniform() {
            (lhs, rhs, pred)
        } else if lhs.is_uniform() {
            (rhs, lhs, flip(pred).ok_or("unknown predicate")?)
        } else {
            return Err("comparison of two index-dependent values".into());
        };
        let varying: Vec<usize> = (0..shape.len())
            .filter(|&d| {
                !(index.dims[d].coef.is_zero() || shape[d] == 1 && index.dims[d].wrap.is_none())
            })
            .collect();
        let [d] = varying[..] else {
            return Err("comparison varying along several dimensions".into());
        };
        if !index.dims[d].coef.is_one() || index.dims[d].wrap.is_some() {
            return Err("comparison of a strided or wrapped index".into());
        }
        let w = index.width();
        let (min, max) = width_range(w);
        use IntPredicate::*;
        let unsigned = matches!(pred, Ult | Ule | Ugt | Uge);
        // start + i must not wrap; unsigned comparisons agree with signed
        // ones when both sides are non-negative.
        let lo = if unsigned { 0 } else { min };
        for g in index
            .range_guards(lo, max)
            .ok_or("cannot bound a 64-bit index")?
        {
            push_guard(&mut guards, g);
        }
        if unsigned {
            push_guard(
                &mut guards,
                ScalarExpr::cmp(Sge, bound.offset.clone(), ScalarExpr::constant(0, w)),
            );
        }
        let n = shape[d] as u64;
        let s = index.offset.clone();
        let b = bound.offset.clone();
        let diff = |plus_one| ScalarExpr::clamp_diff(b.clone(), s.clone(), plus_one, n);
        let mut out = BoxMask::uniform(shape, ScalarExpr::bool(true));
        match pred {
            Slt | Ult => out.end[d] = diff(false),
            Sle | Ule => out.end[d] = diff(true),
            Sgt | Ugt => out.begin[d] = diff(true),
            Sge | Uge => out.begin[d] = diff(false),
            Eq => {
                out.begin[d] = diff(false);
                out.end[d] = diff(true);
            }
            Ne => return Err("`!=` does not describe a box".into()),
        }
        out.guards = guards;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::scalar::Atom;
    use cranelift_entity::EntityRef;
    use maiac_ir::Value;

    fn atom(i: usize, w: u32) -> ScalarExpr {
        ScalarExpr::atom(Atom::Value(Value::new(i)), w)
    }

    fn names(a: Atom) -> String {
        match a {
            Atom::Value(v) => format!("%{v}"),
            Atom::Carried { arg, slot } => format!("carried(%{arg}, {slot})"),
        }
    }

    fn show(m: &BoxMask) -> String {
        let dims: Vec<String> = m
            .begin
            .iter()
            .zip(&m.end)
            .map(|(b, e)| format!("[{}, {})", b.display(&names), e.display(&names)))
            .collect();
        format!("{} if {}", dims.join(" x "), m.cond.display(&names))
    }

    #[test]
    fn bounds_checks_of_a_2d_tile() {
        let rows = Affine::uniform(vec![32], atom(1, 32), None)
            .add(&Affine::range(0, 32))
            .unwrap()
            .expand_dims(1)
            .unwrap();
        let m_bound = Affine::uniform(vec![32, 1], atom(2, 32), None);
        let row_mask = BoxMask::compare(IntPredicate::Slt, &rows, &m_bound).unwrap();
        let cols = Affine::range(0, 16).expand_dims(0).unwrap();
        let n_bound = Affine::uniform(vec![1, 16], atom(3, 32), None);
        let col_mask = BoxMask::compare(IntPredicate::Sgt, &n_bound, &cols).unwrap();
        let mask = row_mask
            .broadcast(&[32, 16])
            .unwrap()
            .and(&col_mask.broadcast(&[32, 16]).unwrap())
            .unwrap();
        assert_eq!(
            show(&mask),
            "[0, clamp(%v2 - %v1, 0, 32)) x [0, clamp(%v3, 0, 16)) if true"
        );
        assert_eq!(mask.guards.len(), 1);
        let t = mask.trans(&[1, 0]).unwrap();
        assert_eq!(t.shape, vec![16, 32]);
    }

    #[test]
    fn unit_dims_become_conditions() {
        let one = Affine::range(0, 1);
        let m = BoxMask::compare(
            IntPredicate::Slt,
            &one,
            &Affine::uniform(vec![1], atom(4, 32), None),
        )
        .unwrap();
        let b = m.broadcast(&[8]).unwrap();
        assert!(b.cond.width() == 1 && !b.cond.is_true());
        assert!(b.end[0].as_signed_const() == Some(8));
    }

    #[test]
    fn non_boxes_are_rejected() {
        let r = Affine::range(0, 8);
        let two_r = r.add(&r).unwrap();
        assert!(BoxMask::compare(
            IntPredicate::Slt,
            &two_r,
            &Affine::uniform(vec![8], atom(1, 32), None)
        )
        .is_err());
        assert!(BoxMask::compare(
            IntPredicate::Ne,
            &r,
            &Affine::uniform(vec![8], atom(1, 32), None)
        )
        .is_err());
        let rows = r.expand_dims(1).unwrap().broadcast(&[8, 8]).unwrap();
        let cols = r.expand_dims(0).unwrap().broadcast(&[8, 8]).unwrap();
        assert!(
            BoxMask::compare(IntPredicate::Sle, &cols, &rows).is_err(),
            "a triangle is not a box"
        );
    }
}
