//! The affine lattice: integer and pointer tensors whose element at index
//! `i = (i_0, …, i_{r−1})` is `offset + Σ_d coef_d · idx_d(i_d)`.
//!
//! For an integer tensor of width `w` the equation holds modulo 2^w (it is
//! how the kernel computes it: add, sub, mul and trunc are ring operations,
//! so any order of wrapping ops gives the same residue). For a pointer
//! tensor `offset` is a byte address and `coef_d` an element stride, and the
//! equation holds modulo 2^64, like the hardware's address arithmetic.
//!
//! Leaving the ring — sign-extending an `i32` offset to 64 bits (explicitly
//! with `extsi`, or implicitly in `tt.addptr`), comparing in a mask, taking a
//! remainder — needs the mathematical value, which equals the residue only
//! if the sum does not overflow over the whole tile. Those points add a
//! *guard* (an `i1` [`ScalarExpr`]) to the value; the affine form is exact
//! whenever every guard holds at run time. Guards are sufficient conditions:
//! a false guard only means "use the elementwise fallback".
//!
//! `idx_d(i)` is `i` for a plain dimension, or `(start + i) mod modulus` for
//! a [`Wrap`]ped one (`arith.remsi` of `start + range` by a scalar).

use maiac_ir::semantics::int::IntBinaryOp;

use super::scalar::{width_range, CastKind, ScalarExpr};

/// A wrapped dimension: the index along it is `(start + i) mod modulus`
/// ([`WrapKind::Modulo`]) or `start + i < modulus ? start + i : 0`
/// ([`WrapKind::ZeroPast`]) (`start ≥ 0`, `modulus ≥ 1`, both of the width
/// the index was computed at; the mathematical value of the index lies in
/// `[0, modulus)`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Wrap {
    pub start: ScalarExpr,
    pub modulus: ScalarExpr,
    pub kind: WrapKind,
}

/// What becomes of an index that reaches the modulus.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum WrapKind {
    /// `arith.remsi` of `start + range` by a scalar (`% M`): it wraps
    /// around.
    Modulo,
    /// `arith.select(start + range < M, start + range, 0)` (Triton's
    /// persistent-matmul idiom `tl.where(offs < M, offs, 0)`): it reads
    /// index 0.
    ZeroPast,
}

impl Wrap {
    /// The mathematical index at position `i` (`None` for a zero modulus).
    pub fn index(kind: WrapKind, start: i128, modulus: i128, i: i128) -> Option<i128> {
        if modulus == 0 {
            return None;
        }
        Some(match kind {
            WrapKind::Modulo => (start + i).rem_euclid(modulus),
            WrapKind::ZeroPast if start + i < modulus => start + i,
            WrapKind::ZeroPast => 0,
        })
    }

    /// The largest index value over `0 ≤ i < n`, as an `i64`:
    /// `min(modulus − 1, start + n − 1)`.
    pub fn max_index(&self, n: i64) -> ScalarExpr {
        let m = ScalarExpr::sext(64, self.modulus.clone());
        let s = ScalarExpr::sext(64, self.start.clone());
        ScalarExpr::min_s(
            ScalarExpr::add(m, ScalarExpr::constant(-1, 64)),
            ScalarExpr::add(s, ScalarExpr::constant(i128::from(n - 1), 64)),
        )
    }

    /// The index value at `i`, for a dimension of size 1 (`start mod
    /// modulus`, or `start < modulus ? start : 0`).
    fn first_index(&self) -> ScalarExpr {
        match self.kind {
            WrapKind::Modulo => {
                ScalarExpr::binary(IntBinaryOp::RemS, self.start.clone(), self.modulus.clone())
            }
            WrapKind::ZeroPast => {
                let w = self.start.width();
                ScalarExpr::select(
                    ScalarExpr::cmp(
                        maiac_ir::semantics::int::IntPredicate::Slt,
                        self.start.clone(),
                        self.modulus.clone(),
                    ),
                    self.start.clone(),
                    ScalarExpr::constant(0, w),
                )
            }
        }
    }
}

/// One dimension of an affine value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dim {
    /// The coefficient (integers: at the value's width; pointers: an `i64`
    /// element stride).
    pub coef: ScalarExpr,
    pub wrap: Option<Wrap>,
}

impl Dim {
    fn zero(width: u32) -> Dim {
        Dim {
            coef: ScalarExpr::constant(0, width),
            wrap: None,
        }
    }

    fn plain(coef: ScalarExpr) -> Dim {
        Dim { coef, wrap: None }
    }
}

/// An affine integer or pointer value (a scalar is rank 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Affine {
    pub shape: Vec<i64>,
    /// The uniform part (integers: at the value's width; pointers: a byte
    /// address).
    pub offset: ScalarExpr,
    pub dims: Vec<Dim>,
    /// Conditions under which the form is exact (see the module docs).
    pub guards: Vec<ScalarExpr>,
    /// `Some(pointee size)` for pointer values.
    pub elem_bytes: Option<u64>,
}

/// Why a value has no affine form (shown in the fallback's reason).
pub type NotAffine = String;

fn merge_guards(a: &[ScalarExpr], b: &[ScalarExpr]) -> Vec<ScalarExpr> {
    let mut out = a.to_vec();
    for g in b {
        push_guard(&mut out, g.clone());
    }
    out
}

/// Adds a guard unless it is trivially true or already present. A guard
/// that is trivially false is kept: the form is then never usable, which
/// the caller reports.
pub fn push_guard(guards: &mut Vec<ScalarExpr>, g: ScalarExpr) {
    if !g.is_true() && !guards.contains(&g) {
        guards.push(g);
    }
}

/// The largest magnitude of one term kept exactly by [`Affine::range_guards`]
/// (see there).
fn term_cap(width: u32) -> i128 {
    if width < 64 {
        1i128 << width
    } else {
        1i128 << 58
    }
}

impl Affine {
    /// A uniform value (every element equal to `offset`).
    pub fn uniform(shape: Vec<i64>, offset: ScalarExpr, elem_bytes: Option<u64>) -> Affine {
        let coef_width = if elem_bytes.is_some() {
            64
        } else {
            offset.width()
        };
        let dims = shape.iter().map(|_| Dim::zero(coef_width)).collect();
        Affine {
            shape,
            offset,
            dims,
            guards: Vec::new(),
            elem_bytes,
        }
    }

    /// `tt.make_range {start, end}`: an `i32` tensor `start + i`.
    pub fn range(start: i64, len: i64) -> Affine {
        Affine {
            shape: vec![len],
            offset: ScalarExpr::constant(i128::from(start), 32),
            dims: vec![Dim::plain(ScalarExpr::constant(1, 32))],
            guards: Vec::new(),
            elem_bytes: None,
        }
    }

    /// The width of the offset (64 for pointers).
    pub fn width(&self) -> u32 {
        self.offset.width()
    }

    fn coef_width(&self) -> u32 {
        if self.elem_bytes.is_some() {
            64
        } else {
            self.width()
        }
    }

    /// Whether every element is equal (all coefficients are zero).
    pub fn is_uniform(&self) -> bool {
        self.dims
            .iter()
            .enumerate()
            .all(|(d, dim)| dim.coef.is_zero() || self.shape[d] == 1 && dim.wrap.is_none())
    }

    /// The index value of dimension `d` as an expression of the loop index
    /// is only needed for size-1 dimensions: its contribution then is a
    /// constant part of the offset. Folds every size-1 dimension into the
    /// offset so that broadcasting it is free.
    fn fold_unit_dims(mut self) -> Affine {
        let coef_width = self.coef_width();
        for d in 0..self.dims.len() {
            if self.shape[d] != 1 {
                continue;
            }
            let dim = std::mem::replace(&mut self.dims[d], Dim::zero(coef_width));
            if let Some(wrap) = dim.wrap {
                if !dim.coef.is_zero() {
                    let index = ScalarExpr::resize_signed(coef_width, wrap.first_index());
                    let term = ScalarExpr::mul(dim.coef, index);
                    self.offset = self.add_scaled_to_offset(term);
                }
            }
        }
        self
    }

    /// `offset + term` where `term` is at the coefficient width (scaled by
    /// the element size for pointers).
    fn add_scaled_to_offset(&self, term: ScalarExpr) -> ScalarExpr {
        match self.elem_bytes {
            Some(es) => ScalarExpr::add(
                self.offset.clone(),
                ScalarExpr::mul(term, ScalarExpr::constant(i128::from(es), 64)),
            ),
            None => ScalarExpr::add(self.offset.clone(), term),
        }
    }

    /// Guards that `offset + Σ coef_d · idx_d` stays within `[lo, hi]` (as
    /// a mathematical integer, `offset` and coefficients read as signed) for
    /// every index of the tile. `None` when no safe guard can be built (a
    /// 64-bit coefficient of unknown magnitude).
    ///
    /// Each term `coef_d · max_idx_d` is split into its positive and
    /// negative parts, each capped at 2^w: a larger term violates the bound
    /// anyway (for w < 64), so the cap keeps the guard exact while the sums
    /// stay far from overflowing i64. For w = 64 the cap makes the guard
    /// merely sufficient.
    pub fn range_guards(&self, lo: i128, hi: i128) -> Option<Vec<ScalarExpr>> {
        use maiac_ir::semantics::int::IntPredicate::{Sge, Sle};
        let w = self.width();
        let cap = term_cap(w);
        // Σ over dimensions of coef_d × max_idx_d, split by sign: constant
        // terms summed here, variable ones kept as `i64` expressions.
        let mut terms = Vec::new();
        let mut const_pos: i128 = 0;
        let mut const_neg: i128 = 0;
        for (d, dim) in self.dims.iter().enumerate() {
            if dim.coef.is_zero() || self.shape[d] == 1 && dim.wrap.is_none() {
                continue;
            }
            let n = self.shape[d];
            let max_index = match &dim.wrap {
                None => ScalarExpr::constant(i128::from(n - 1), 64),
                Some(wrap) => wrap.max_index(n),
            };
            let coef = ScalarExpr::sext(64, dim.coef.clone());
            if let (Some(c), Some(m)) = (coef.as_signed_const(), max_index.as_signed_const()) {
                let t = i128::from(c) * i128::from(m);
                const_pos += t.max(0).min(cap);
                const_neg += (-t).max(0).min(cap);
                continue;
            }
            // The product itself must stay far from overflowing i64.
            let coef_range = coef.signed_range();
            let extreme =
                coef_range.0.abs().max(coef_range.1.abs()) * max_index.signed_range().1.max(0);
            if extreme > 1i128 << 62 {
                return None;
            }
            terms.push(ScalarExpr::mul(coef, max_index));
        }
        let (wlo, whi) = width_range(w);
        let upper = hi - const_pos;
        let lower = lo + const_neg;
        // `offset ≤ upper` and `offset ≥ lower` at the offset's own width.
        let offset_bound = |pred, bound: i128| {
            if bound < wlo || bound > whi {
                let always = if pred == Sle {
                    bound >= whi
                } else {
                    bound <= wlo
                };
                ScalarExpr::bool(always)
            } else {
                ScalarExpr::cmp(pred, self.offset.clone(), ScalarExpr::constant(bound, w))
            }
        };
        let mut guards = Vec::new();
        match terms.len() {
            0 => {
                push_guard(&mut guards, offset_bound(Sle, upper));
                push_guard(&mut guards, offset_bound(Sge, lower));
            }
            1 if w < 64 => {
                // With one variable term T:
                //   offset + Σpos + max(T, 0) ≤ hi ⇔ offset + T ≤ upper ∧ offset ≤ upper
                //   offset − Σneg + min(T, 0) ≥ lo ⇔ offset + T ≥ lower ∧ offset ≥ lower
                // (|offset| < 2^63 − 2^62 since w < 64, so the sum cannot wrap).
                let t = terms.pop().unwrap_or_else(|| ScalarExpr::constant(0, 64));
                let (upper_sum, lower_sum) = match self.offset.as_signed_const() {
                    Some(c) => (
                        ScalarExpr::cmp(
                            Sle,
                            t.clone(),
                            ScalarExpr::constant(upper - i128::from(c), 64),
                        ),
                        ScalarExpr::cmp(Sge, t, ScalarExpr::constant(lower - i128::from(c), 64)),
                    ),
                    None => {
                        let sum = ScalarExpr::add(ScalarExpr::sext(64, self.offset.clone()), t);
                        (
                            ScalarExpr::cmp(Sle, sum.clone(), ScalarExpr::constant(upper, 64)),
                            ScalarExpr::cmp(Sge, sum, ScalarExpr::constant(lower, 64)),
                        )
                    }
                };
                push_guard(&mut guards, upper_sum);
                push_guard(&mut guards, offset_bound(Sle, upper));
                push_guard(&mut guards, lower_sum);
                push_guard(&mut guards, offset_bound(Sge, lower));
            }
            _ => {
                // Several variable terms: each part capped (see above) so
                // the sums cannot wrap.
                let cap_e = ScalarExpr::constant(cap, 64);
                let zero = ScalarExpr::constant(0, 64);
                let capped = |t: ScalarExpr| {
                    ScalarExpr::min_s(ScalarExpr::max_s(t, zero.clone()), cap_e.clone())
                };
                let pos = terms
                    .iter()
                    .cloned()
                    .map(&capped)
                    .fold(ScalarExpr::constant(0, 64), ScalarExpr::add);
                let neg = terms
                    .into_iter()
                    .map(|t| capped(ScalarExpr::sub(zero.clone(), t)))
                    .fold(ScalarExpr::constant(0, 64), ScalarExpr::add);
                let offset = ScalarExpr::sext(64, self.offset.clone());
                let upper = ScalarExpr::sub(ScalarExpr::constant(upper, 64), pos);
                let lower = ScalarExpr::add(ScalarExpr::constant(lower, 64), neg);
                push_guard(&mut guards, ScalarExpr::cmp(Sle, offset.clone(), upper));
                push_guard(&mut guards, ScalarExpr::cmp(Sge, offset, lower));
            }
        }
        Some(guards)
    }

    /// Guards that the value does not wrap at its width (signed).
    pub fn no_wrap_guards(&self) -> Option<Vec<ScalarExpr>> {
        let (lo, hi) = width_range(self.width());
        self.range_guards(lo, hi)
    }

    // ---- elementwise -------------------------------------------------------

    /// Combines two same-shaped affine values dimension by dimension.
    fn combine(
        &self,
        other: &Affine,
        offset: ScalarExpr,
        coef: impl Fn(&ScalarExpr, &ScalarExpr) -> ScalarExpr,
        extra_guards: &[ScalarExpr],
    ) -> Result<Affine, NotAffine> {
        if self.shape != other.shape {
            return Err(format!(
                "shapes {:?} and {:?} differ",
                self.shape, other.shape
            ));
        }
        let mut dims = Vec::with_capacity(self.dims.len());
        for (a, b) in self.dims.iter().zip(&other.dims) {
            let wrap = match (a.coef.is_zero(), b.coef.is_zero()) {
                (true, _) => b.wrap.clone(),
                (_, true) => a.wrap.clone(),
                _ if a.wrap == b.wrap => a.wrap.clone(),
                _ => return Err("a dimension is indexed both plainly and modulo a bound".into()),
            };
            let c = coef(&a.coef, &b.coef);
            let wrap = if c.is_zero() { None } else { wrap };
            dims.push(Dim { coef: c, wrap });
        }
        let guards = merge_guards(&merge_guards(&self.guards, &other.guards), extra_guards);
        Ok(Affine {
            shape: self.shape.clone(),
            offset,
            dims,
            guards,
            elem_bytes: self.elem_bytes,
        })
    }

    /// `arith.addi`.
    pub fn add(&self, other: &Affine) -> Result<Affine, NotAffine> {
        let offset = ScalarExpr::add(self.offset.clone(), other.offset.clone());
        self.combine(
            other,
            offset,
            |a, b| ScalarExpr::add(a.clone(), b.clone()),
            &[],
        )
    }

    /// `arith.subi`.
    pub fn sub(&self, other: &Affine) -> Result<Affine, NotAffine> {
        let offset = ScalarExpr::sub(self.offset.clone(), other.offset.clone());
        self.combine(
            other,
            offset,
            |a, b| ScalarExpr::sub(a.clone(), b.clone()),
            &[],
        )
    }

    /// Multiplies every part by a scalar of the same width.
    fn scale(&self, k: &ScalarExpr, guards: &[ScalarExpr]) -> Affine {
        let dims = self
            .dims
            .iter()
            .map(|d| {
                let coef = ScalarExpr::mul(d.coef.clone(), k.clone());
                let wrap = if coef.is_zero() { None } else { d.wrap.clone() };
                Dim { coef, wrap }
            })
            .collect();
        Affine {
            shape: self.shape.clone(),
            offset: ScalarExpr::mul(self.offset.clone(), k.clone()),
            dims,
            guards: merge_guards(&self.guards, guards),
            elem_bytes: self.elem_bytes,
        }
    }

    /// `arith.muli`: one side must be uniform.
    pub fn mul(&self, other: &Affine) -> Result<Affine, NotAffine> {
        if other.is_uniform() {
            Ok(self.scale(&other.offset, &other.guards))
        } else if self.is_uniform() {
            Ok(other.scale(&self.offset, &self.guards))
        } else {
            Err("product of two index-dependent values".into())
        }
    }

    /// `arith.shli` by a uniform constant below the width: a multiplication.
    pub fn shl(&self, amount: &Affine) -> Result<Affine, NotAffine> {
        let w = self.width();
        match amount.offset.as_const() {
            Some(k) if amount.is_uniform() && k < u64::from(w) => {
                Ok(self.scale(&ScalarExpr::constant(1i128 << k, w), &amount.guards))
            }
            _ => Err("shift by a non-constant amount".into()),
        }
    }

    /// Any integer binary op on two uniform values.
    pub fn uniform_binary(&self, op: IntBinaryOp, other: &Affine) -> Result<Affine, NotAffine> {
        if !(self.is_uniform() && other.is_uniform()) {
            return Err(format!("{op:?} of an index-dependent value is not affine"));
        }
        let mut out = Affine::uniform(
            self.shape.clone(),
            ScalarExpr::binary(op, self.offset.clone(), other.offset.clone()),
            None,
        );
        out.guards = merge_guards(&self.guards, &other.guards);
        Ok(out)
    }

    /// `arith.extsi` / `arith.extui` / `arith.trunci` (and index casts) to `to` bits.
    pub fn cast(&self, kind: CastKind, to: u32) -> Result<Affine, NotAffine> {
        let from = self.width();
        if self.is_uniform() {
            let mut out = Affine::uniform(
                self.shape.clone(),
                ScalarExpr::cast(kind, to, self.offset.clone()),
                None,
            );
            out.guards = self.guards.clone();
            return Ok(out);
        }
        let mut guards = self.guards.clone();
        if to > from {
            // Extension needs the mathematical value: no wrap (and, for a
            // zero extension, no negative element, making it equal to sext).
            let lo = if kind == CastKind::ZeroExtend {
                0
            } else {
                width_range(from).0
            };
            let new = self
                .range_guards(lo, width_range(from).1)
                .ok_or("cannot bound a 64-bit offset")?;
            for g in new {
                push_guard(&mut guards, g);
            }
        }
        let cast_kind = if to > from {
            CastKind::SignExtend
        } else {
            CastKind::Truncate
        };
        let dims = self
            .dims
            .iter()
            .map(|d| Dim {
                coef: ScalarExpr::cast(cast_kind, to, d.coef.clone()),
                wrap: d.wrap.clone(),
            })
            .collect();
        Ok(Affine {
            shape: self.shape.clone(),
            offset: ScalarExpr::cast(cast_kind, to, self.offset.clone()),
            dims,
            guards,
            elem_bytes: None,
        })
    }

    /// `arith.remsi` / `arith.remui` by a uniform modulus: `(start + i) mod M`
    /// along a single dimension becomes a wrapped dimension.
    pub fn rem(&self, modulus: &Affine, signed: bool) -> Result<Affine, NotAffine> {
        let op = if signed {
            IntBinaryOp::RemS
        } else {
            IntBinaryOp::RemU
        };
        if !modulus.is_uniform() {
            return Err("remainder by an index-dependent value".into());
        }
        if self.is_uniform() {
            return self.uniform_binary(op, modulus);
        }
        self.wrapped(modulus, WrapKind::Modulo)
    }

    /// `select(self < bound, self, 0)` for a uniform `bound`: `start + i`
    /// along a single dimension becomes a [`WrapKind::ZeroPast`] dimension.
    pub fn zero_past(&self, bound: &Affine) -> Result<Affine, NotAffine> {
        if !bound.is_uniform() || self.is_uniform() {
            return Err("a select of index-dependent values is not affine".into());
        }
        self.wrapped(bound, WrapKind::ZeroPast)
    }

    /// `start + i` along one dimension, wrapped at a uniform `modulus`.
    fn wrapped(&self, modulus: &Affine, kind: WrapKind) -> Result<Affine, NotAffine> {
        let varying: Vec<usize> = (0..self.dims.len())
            .filter(|&d| {
                !(self.dims[d].coef.is_zero() || self.shape[d] == 1 && self.dims[d].wrap.is_none())
            })
            .collect();
        let [d] = varying[..] else {
            return Err("a wrapped value varying along several dimensions".into());
        };
        if !self.dims[d].coef.is_one() || self.dims[d].wrap.is_some() {
            return Err("a wrap of a strided or already wrapped index".into());
        }
        let w = self.width();
        let mut guards = merge_guards(&self.guards, &modulus.guards);
        // start + i must not wrap, start ≥ 0 (so the dividend is
        // non-negative and remsi = remui = mod) and M ≥ 1.
        let (_, max) = width_range(w);
        for g in self
            .range_guards(0, max)
            .ok_or("cannot bound a 64-bit index")?
        {
            push_guard(&mut guards, g);
        }
        use maiac_ir::semantics::int::IntPredicate::Sge;
        push_guard(
            &mut guards,
            ScalarExpr::cmp(Sge, modulus.offset.clone(), ScalarExpr::constant(1, w)),
        );
        let mut dims: Vec<Dim> = self.dims.iter().map(|_| Dim::zero(w)).collect();
        dims[d] = Dim {
            coef: ScalarExpr::constant(1, w),
            wrap: Some(Wrap {
                start: self.offset.clone(),
                modulus: modulus.offset.clone(),
                kind,
            }),
        };
        Ok(Affine {
            shape: self.shape.clone(),
            offset: ScalarExpr::constant(0, w),
            dims,
            guards,
            elem_bytes: None,
        })
    }

    /// `tt.addptr self, offsets` (`self` a pointer, `offsets` an integer
    /// value): `ptr + sext64(offset) × elem_bytes`.
    pub fn add_offsets(&self, offsets: &Affine) -> Result<Affine, NotAffine> {
        let es = self.elem_bytes.ok_or("tt.addptr of a non-pointer")?;
        let es_expr = ScalarExpr::constant(i128::from(es), 64);
        let mut guards = Vec::new();
        let widened = if offsets.width() == 64 {
            offsets.clone()
        } else {
            // A uniform offset is sign-extended as one scalar (exact); an
            // index-dependent one needs the no-wrap guard.
            offsets.cast(CastKind::SignExtend, 64)?
        };
        guards.extend(widened.guards.iter().cloned());
        let offset = ScalarExpr::add(
            self.offset.clone(),
            ScalarExpr::mul(widened.offset.clone(), es_expr),
        );
        let mut widened_ptr = widened.clone();
        widened_ptr.elem_bytes = self.elem_bytes;
        self.combine(
            &widened_ptr,
            offset,
            |a, b| ScalarExpr::add(a.clone(), b.clone()),
            &guards,
        )
    }

    // ---- shape ops ---------------------------------------------------------

    /// `tt.bitcast` of a pointer to a pointee of `elem_bytes` bytes: the
    /// addresses stay, element strides are rescaled (exactly: only to a
    /// pointee whose size divides the old one).
    pub fn with_elem_bytes(&self, elem_bytes: u64) -> Result<Affine, NotAffine> {
        let old = self.elem_bytes.ok_or("bitcast of a non-pointer")?;
        if elem_bytes == 0 || old % elem_bytes != 0 {
            return Err(format!(
                "{old}-byte strides are not whole {elem_bytes}-byte elements"
            ));
        }
        let ratio = ScalarExpr::constant(i128::from(old / elem_bytes), 64);
        let mut out = self.scale_coefs(&ratio);
        out.elem_bytes = Some(elem_bytes);
        Ok(out)
    }

    fn scale_coefs(&self, k: &ScalarExpr) -> Affine {
        let mut out = self.clone();
        for d in &mut out.dims {
            d.coef = ScalarExpr::mul(d.coef.clone(), k.clone());
        }
        out
    }

    /// `tt.expand_dims {axis}`.
    pub fn expand_dims(&self, axis: usize) -> Result<Affine, NotAffine> {
        if axis > self.shape.len() {
            return Err(format!("axis {axis} out of range"));
        }
        let mut out = self.clone();
        out.shape.insert(axis, 1);
        out.dims.insert(axis, Dim::zero(self.coef_width()));
        Ok(out)
    }

    /// `tt.broadcast` to `shape` (size-1 dimensions grow).
    pub fn broadcast(&self, shape: &[i64]) -> Result<Affine, NotAffine> {
        if shape.len() != self.shape.len()
            || self
                .shape
                .iter()
                .zip(shape)
                .any(|(&a, &b)| a != b && a != 1)
        {
            return Err(format!("cannot broadcast {:?} to {shape:?}", self.shape));
        }
        let mut out = self.clone().fold_unit_dims();
        out.shape = shape.to_vec();
        Ok(out)
    }

    /// `tt.splat` of this uniform value to `shape`.
    pub fn splat(&self, shape: &[i64]) -> Affine {
        let mut out = Affine::uniform(shape.to_vec(), self.offset.clone(), self.elem_bytes);
        out.guards = self.guards.clone();
        out
    }

    /// `tt.trans {order}`: result dimension `k` is source dimension `order[k]`.
    pub fn trans(&self, order: &[usize]) -> Result<Affine, NotAffine> {
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
        out.dims = order.iter().map(|&d| self.dims[d].clone()).collect();
        Ok(out)
    }

    /// `tt.reshape` (row-major): dimensions may be split freely; merging
    /// consecutive dimensions needs `coef_j = coef_{j+1} · n_{j+1}`.
    pub fn reshape(&self, shape: &[i64]) -> Result<Affine, NotAffine> {
        let src = self.clone().fold_unit_dims();
        let cw = self.coef_width();
        // Non-unit dimensions of source and target.
        let s: Vec<usize> = (0..src.shape.len())
            .filter(|&d| src.shape[d] != 1)
            .collect();
        let t: Vec<usize> = (0..shape.len()).filter(|&d| shape[d] != 1).collect();
        let mut dims: Vec<Dim> = shape.iter().map(|_| Dim::zero(cw)).collect();
        let (mut si, mut ti) = (0, 0);
        while si < s.len() || ti < t.len() {
            // Grow a group until the element counts agree.
            let (mut sg, mut tg) = (vec![], vec![]);
            let (mut sp, mut tp) = (1i128, 1i128);
            loop {
                if sp <= tp && si < s.len() {
                    sp *= i128::from(src.shape[s[si]]);
                    sg.push(s[si]);
                    si += 1;
                } else if ti < t.len() {
                    tp *= i128::from(shape[t[ti]]);
                    tg.push(t[ti]);
                    ti += 1;
                } else {
                    break;
                }
                if sp == tp && !sg.is_empty() && !tg.is_empty() {
                    break;
                }
            }
            if sp != tp {
                return Err(format!("cannot reshape {:?} to {shape:?}", self.shape));
            }
            if sg.len() == 1 && tg.len() == 1 {
                dims[tg[0]] = src.dims[sg[0]].clone();
                continue;
            }
            // The group's values must be linear in its row-major flat index.
            let last = &src.dims[*sg.last().unwrap_or(&0)];
            for pair in sg.windows(2) {
                let (outer, inner) = (&src.dims[pair[0]], &src.dims[pair[1]]);
                let expected = ScalarExpr::mul(
                    inner.coef.clone(),
                    ScalarExpr::constant(i128::from(src.shape[pair[1]]), cw),
                );
                if outer.wrap.is_some() || inner.wrap.is_some() || outer.coef != expected {
                    return Err(format!(
                        "reshape of {:?} to {shape:?} is not affine",
                        self.shape
                    ));
                }
            }
            let mut stride = last.coef.clone();
            for &d in tg.iter().rev() {
                dims[d] = Dim::plain(stride.clone());
                stride = ScalarExpr::mul(stride, ScalarExpr::constant(i128::from(shape[d]), cw));
            }
        }
        Ok(Affine {
            shape: shape.to_vec(),
            offset: src.offset,
            dims,
            guards: src.guards,
            elem_bytes: src.elem_bytes,
        })
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

    fn show(a: &Affine) -> String {
        let dims: Vec<String> = a
            .dims
            .iter()
            .map(|d| d.coef.display(&names).to_string())
            .collect();
        let guards: Vec<String> = a
            .guards
            .iter()
            .map(|g| g.display(&names).to_string())
            .collect();
        format!(
            "{} + [{}] if [{}]",
            a.offset.display(&names),
            dims.join(", "),
            guards.join(", ")
        )
    }

    #[test]
    fn offsets_of_a_2d_tile() {
        // (pid*64 + range)[:, None] * stride + range[None, :]
        let rows = Affine::uniform(vec![64], atom(1, 32), None)
            .add(&Affine::range(0, 64))
            .unwrap();
        let rows = rows.expand_dims(1).unwrap();
        let stride = Affine::uniform(vec![64, 1], atom(2, 32), None);
        let rows = rows.mul(&stride).unwrap().broadcast(&[64, 32]).unwrap();
        let cols = Affine::range(0, 32)
            .expand_dims(0)
            .unwrap()
            .broadcast(&[64, 32])
            .unwrap();
        let offs = rows.add(&cols).unwrap();
        assert_eq!(show(&offs), "(%v1 * %v2) + [%v2, 1] if []");
        let ptr = Affine::uniform(vec![64, 32], atom(0, 64), Some(4));
        let p = ptr.add_offsets(&offs).unwrap();
        assert_eq!(
            p.offset.display(&names).to_string(),
            "(%v0 + (sext64((%v1 * %v2)) * 4))"
        );
        assert_eq!(p.dims[1].coef.as_signed_const(), Some(1));
        assert_eq!(p.guards.len(), 3, "{}", show(&p));
    }

    #[test]
    fn constant_offsets_need_no_guard() {
        let offs = Affine::range(0, 128)
            .add(&Affine::uniform(
                vec![128],
                ScalarExpr::constant(7, 32),
                None,
            ))
            .unwrap();
        let p = Affine::uniform(vec![128], atom(0, 64), Some(2))
            .add_offsets(&offs)
            .unwrap();
        assert!(p.guards.is_empty(), "{}", show(&p));
        let too_far = Affine::range(0, 128)
            .add(&Affine::uniform(
                vec![128],
                ScalarExpr::constant(i128::from(i32::MAX), 32),
                None,
            ))
            .unwrap();
        let g = too_far.no_wrap_guards().unwrap();
        assert_eq!(g, vec![ScalarExpr::bool(false)]);
    }

    #[test]
    fn reshape_merges_contiguous_dims_and_splits_any() {
        let a = Affine::range(0, 8).expand_dims(1).unwrap();
        let a = a
            .mul(&Affine::uniform(
                vec![8, 1],
                ScalarExpr::constant(4, 32),
                None,
            ))
            .unwrap()
            .broadcast(&[8, 4])
            .unwrap();
        let b = Affine::range(0, 4)
            .expand_dims(0)
            .unwrap()
            .broadcast(&[8, 4])
            .unwrap();
        let flat = a.add(&b).unwrap().reshape(&[32]).unwrap();
        assert_eq!(show(&flat), "0 + [1] if []");
        let split = flat.reshape(&[2, 16]).unwrap();
        assert_eq!(show(&split), "0 + [16, 1] if []");
        let bad = a
            .add(
                &b.mul(&Affine::uniform(
                    vec![8, 4],
                    ScalarExpr::constant(3, 32),
                    None,
                ))
                .unwrap(),
            )
            .unwrap();
        assert!(bad.reshape(&[32]).is_err());
    }

    #[test]
    fn remainder_makes_a_wrapped_dimension() {
        let x = Affine::uniform(vec![64], atom(1, 32), None)
            .add(&Affine::range(0, 64))
            .unwrap();
        let m = Affine::uniform(vec![64], atom(2, 32), None);
        let r = x.rem(&m, true).unwrap();
        assert!(r.dims[0].wrap.is_some());
        assert_eq!(r.guards.len(), 3, "{}", show(&r));
        let scaled = r
            .mul(&Affine::uniform(vec![64], atom(3, 32), None))
            .unwrap();
        assert!(scaled.dims[0].wrap.is_some());
        assert!(scaled.rem(&m, true).is_err());
    }
}
