//! Scalar expressions: the part of an address the control processor (CP)
//! computes at run time.
//!
//! A [`ScalarExpr`] is a small tree over [`Atom`]s — scalar SSA values the
//! CP already holds in registers (kernel arguments, program ids, loop
//! induction variables, scalar arith results, scalar loads) and loop-carried
//! registers the codegen keeps for pointer tensors — and integer constants.
//! Every node has a bit width and the exact TTIR semantics of the op it
//! stands for ([`maiac_ir::semantics::int`]: two's complement, wrapping), so
//! evaluating an expression gives the same bits the kernel computes.
//!
//! The constructors ([`ScalarExpr::binary`], [`ScalarExpr::cast`], ...)
//! simplify as they build (constant folding, `x + 0`, `x * 1`, reassociation
//! of constants), using only identities that hold modulo 2^w, so a
//! simplified expression is still exact. [`ScalarExpr::signed_range`] is a
//! conservative interval analysis used to drop guards that always hold.

use std::fmt;

use maiac_ir::semantics::int::{self, IntBinaryOp, IntPredicate};
use maiac_ir::Value;

/// A runtime scalar the CP holds in a register.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Atom {
    /// A scalar SSA value (integer, pointer or float raw bits).
    Value(Value),
    /// Register `slot` of the loop-carried tensor value `arg` (an
    /// `scf.for` body argument): see [`super::CarriedValue`].
    Carried { arg: Value, slot: u32 },
}

/// Integer width conversions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CastKind {
    /// `arith.extsi`.
    SignExtend,
    /// `arith.extui`.
    ZeroExtend,
    /// `arith.trunci`.
    Truncate,
}

/// A scalar expression; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ScalarExpr {
    /// A constant: raw bits at `width` (upper bits zero).
    Const { bits: u64, width: u32 },
    /// A register value of `width` bits.
    Atom { atom: Atom, width: u32 },
    /// A wrapping integer op at `width` bits (both operands have that width).
    Binary {
        op: IntBinaryOp,
        width: u32,
        lhs: Box<ScalarExpr>,
        rhs: Box<ScalarExpr>,
    },
    /// `arith.cmpi` of two operands of equal width; an `i1`.
    Cmp {
        pred: IntPredicate,
        lhs: Box<ScalarExpr>,
        rhs: Box<ScalarExpr>,
    },
    /// A width conversion to `to` bits.
    Cast {
        kind: CastKind,
        to: u32,
        arg: Box<ScalarExpr>,
    },
    /// `cond ? if_true : if_false` (`cond` is an `i1`).
    Select {
        cond: Box<ScalarExpr>,
        if_true: Box<ScalarExpr>,
        if_false: Box<ScalarExpr>,
    },
    /// `clamp(bound − start + (plus_one ? 1 : 0), 0, max)` computed exactly
    /// (no wrapping) on the signed values of `bound` and `start` (which
    /// share a width); an `i64`. It counts the indices `i ∈ [0, max)` with
    /// `start + i < bound` (or `≤ bound` with `plus_one`): the valid extent
    /// of a masked dimension.
    ClampDiff {
        bound: Box<ScalarExpr>,
        start: Box<ScalarExpr>,
        plus_one: bool,
        max: u64,
    },
}

/// The signed range of a `width`-bit integer.
pub fn width_range(width: u32) -> (i128, i128) {
    match width {
        0 => (0, 0),
        1 => (-1, 0),
        w => (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1),
    }
}

impl ScalarExpr {
    // ---- leaves ---------------------------------------------------------

    /// The constant `value` truncated to `width` bits.
    pub fn constant(value: i128, width: u32) -> ScalarExpr {
        ScalarExpr::Const {
            bits: (value as u64) & int::mask(width),
            width,
        }
    }

    /// A register value.
    pub fn atom(atom: Atom, width: u32) -> ScalarExpr {
        ScalarExpr::Atom { atom, width }
    }

    /// The `i1` constant.
    pub fn bool(value: bool) -> ScalarExpr {
        ScalarExpr::constant(i128::from(value), 1)
    }

    // ---- queries ----------------------------------------------------------

    /// The width of the value in bits.
    pub fn width(&self) -> u32 {
        match self {
            ScalarExpr::Const { width, .. }
            | ScalarExpr::Atom { width, .. }
            | ScalarExpr::Binary { width, .. } => *width,
            ScalarExpr::Cmp { .. } => 1,
            ScalarExpr::Cast { to, .. } => *to,
            ScalarExpr::Select { if_true, .. } => if_true.width(),
            ScalarExpr::ClampDiff { .. } => 64,
        }
    }

    /// The raw bits of a constant.
    pub fn as_const(&self) -> Option<u64> {
        match self {
            ScalarExpr::Const { bits, .. } => Some(*bits),
            _ => None,
        }
    }

    /// The signed value of a constant.
    pub fn as_signed_const(&self) -> Option<i64> {
        match self {
            ScalarExpr::Const { bits, width } => Some(int::sign_extend(*bits, *width)),
            _ => None,
        }
    }

    /// Whether this is the constant zero.
    pub fn is_zero(&self) -> bool {
        self.as_const() == Some(0)
    }

    /// Whether this is the constant one.
    pub fn is_one(&self) -> bool {
        self.as_const() == Some(1)
    }

    /// Whether this is the `i1` constant `true`.
    pub fn is_true(&self) -> bool {
        self.width() == 1 && self.as_const() == Some(1)
    }

    /// Whether this is the `i1` constant `false`.
    pub fn is_false(&self) -> bool {
        self.width() == 1 && self.as_const() == Some(0)
    }

    /// The atoms the expression reads, in first-use order, without repeats.
    pub fn atoms(&self) -> Vec<Atom> {
        let mut out = Vec::new();
        self.collect_atoms(&mut out);
        out
    }

    fn collect_atoms(&self, out: &mut Vec<Atom>) {
        match self {
            ScalarExpr::Const { .. } => {}
            ScalarExpr::Atom { atom, .. } => {
                if !out.contains(atom) {
                    out.push(*atom);
                }
            }
            ScalarExpr::Binary { lhs, rhs, .. } | ScalarExpr::Cmp { lhs, rhs, .. } => {
                lhs.collect_atoms(out);
                rhs.collect_atoms(out);
            }
            ScalarExpr::Cast { arg, .. } => arg.collect_atoms(out),
            ScalarExpr::Select {
                cond,
                if_true,
                if_false,
            } => {
                cond.collect_atoms(out);
                if_true.collect_atoms(out);
                if_false.collect_atoms(out);
            }
            ScalarExpr::ClampDiff { bound, start, .. } => {
                bound.collect_atoms(out);
                start.collect_atoms(out);
            }
        }
    }

    /// Whether the expression reads an atom satisfying `pred`.
    pub fn reads(&self, pred: &dyn Fn(Atom) -> bool) -> bool {
        self.atoms().into_iter().any(pred)
    }

    // ---- simplifying constructors --------------------------------------

    /// `lhs op rhs` at the operands' width, simplified.
    pub fn binary(op: IntBinaryOp, lhs: ScalarExpr, rhs: ScalarExpr) -> ScalarExpr {
        use IntBinaryOp::*;
        let width = lhs.width();
        debug_assert_eq!(width, rhs.width(), "{op:?} of mismatched widths");
        if let (Some(a), Some(b)) = (lhs.as_const(), rhs.as_const()) {
            return ScalarExpr::Const {
                bits: int::int_binary(op, width, a, b),
                width,
            };
        }
        let commutative = matches!(op, Add | Mul | And | Or | Xor | MaxS | MaxU | MinS | MinU);
        // Canonical order: a constant operand goes right.
        let (lhs, rhs) = if commutative && lhs.as_const().is_some() {
            (rhs, lhs)
        } else {
            (lhs, rhs)
        };
        let all_ones = int::mask(width);
        match (op, rhs.as_const()) {
            (Add | Sub | Or | Xor | Shl | ShrS | ShrU, Some(0)) => return lhs,
            (Mul | DivS | DivU, Some(1)) => return lhs,
            (Mul | And, Some(0)) => return rhs,
            (And, Some(m)) if m == all_ones => return lhs,
            (Sub, Some(c)) => {
                // x − c ≡ x + (−c) (mod 2^w): one canonical form for offsets.
                let neg = ScalarExpr::Const {
                    bits: c.wrapping_neg() & all_ones,
                    width,
                };
                return ScalarExpr::binary(Add, lhs, neg);
            }
            _ => {}
        }
        if matches!(op, Sub) && lhs == rhs {
            return ScalarExpr::Const { bits: 0, width };
        }
        if matches!(op, And | Or | MaxS | MaxU | MinS | MinU) && lhs == rhs {
            return lhs;
        }
        // A signed min/max decided by the operands' ranges.
        if matches!(op, MinS | MaxS) {
            let (a, b) = (lhs.signed_range(), rhs.signed_range());
            let (lhs_smaller, rhs_smaller) = (a.1 <= b.0, b.1 <= a.0);
            match (op, lhs_smaller, rhs_smaller) {
                (MinS, true, _) | (MaxS, _, true) => return lhs,
                (MinS, _, true) | (MaxS, true, _) => return rhs,
                _ => {}
            }
        }
        // (x op c1) op c2 → x op (c1 op c2) for associative add and mul.
        if let (Add | Mul, Some(c2)) = (op, rhs.as_const()) {
            if let ScalarExpr::Binary {
                op: inner,
                lhs: x,
                rhs: c1,
                ..
            } = &lhs
            {
                if *inner == op {
                    if let Some(c1) = c1.as_const() {
                        let c = ScalarExpr::Const {
                            bits: int::int_binary(op, width, c1, c2),
                            width,
                        };
                        return ScalarExpr::binary(op, (**x).clone(), c);
                    }
                }
            }
        }
        // (x + c) * k → x*k + c*k keeps constants outermost, so offsets built
        // in different orders compare equal.
        if let (Mul, Some(k)) = (op, rhs.as_const()) {
            if let ScalarExpr::Binary {
                op: Add,
                lhs: x,
                rhs: c,
                ..
            } = &lhs
            {
                if let Some(c) = c.as_const() {
                    let scaled = ScalarExpr::binary(Mul, (**x).clone(), rhs.clone());
                    let c = ScalarExpr::Const {
                        bits: int::int_binary(Mul, width, c, k),
                        width,
                    };
                    return ScalarExpr::binary(Add, scaled, c);
                }
            }
        }
        // (x + c) + y → (x + y) + c, likewise.
        if let Add = op {
            if rhs.as_const().is_none() {
                if let ScalarExpr::Binary {
                    op: Add,
                    lhs: x,
                    rhs: c,
                    ..
                } = &lhs
                {
                    if c.as_const().is_some() {
                        let sum = ScalarExpr::binary(Add, (**x).clone(), rhs);
                        return ScalarExpr::binary(Add, sum, (**c).clone());
                    }
                }
            }
        }
        ScalarExpr::Binary {
            op,
            width,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    // `add`, `sub` and `mul` build expressions (simplifying as they go);
    // they are not arithmetic on values, hence not the `std::ops` traits.

    /// `a + b`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        ScalarExpr::binary(IntBinaryOp::Add, a, b)
    }

    /// `a − b`.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        ScalarExpr::binary(IntBinaryOp::Sub, a, b)
    }

    /// `a × b`.
    #[allow(clippy::should_implement_trait)]
    pub fn mul(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        ScalarExpr::binary(IntBinaryOp::Mul, a, b)
    }

    /// Signed minimum.
    pub fn min_s(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        ScalarExpr::binary(IntBinaryOp::MinS, a, b)
    }

    /// Signed maximum.
    pub fn max_s(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        ScalarExpr::binary(IntBinaryOp::MaxS, a, b)
    }

    /// `a ∧ b` on `i1`s.
    pub fn and(a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        if a.is_false() || b.is_true() {
            return a;
        }
        if b.is_false() || a.is_true() {
            return b;
        }
        ScalarExpr::binary(IntBinaryOp::And, a, b)
    }

    /// `arith.cmpi pred, lhs, rhs`, folded when constants or the operands'
    /// ranges decide it.
    pub fn cmp(pred: IntPredicate, lhs: ScalarExpr, rhs: ScalarExpr) -> ScalarExpr {
        let width = lhs.width();
        debug_assert_eq!(width, rhs.width(), "cmpi of mismatched widths");
        if let (Some(a), Some(b)) = (lhs.as_const(), rhs.as_const()) {
            return ScalarExpr::bool(int::cmp_int(pred, width, a, b));
        }
        if lhs == rhs {
            use IntPredicate::*;
            return ScalarExpr::bool(matches!(pred, Eq | Sle | Sge | Ule | Uge));
        }
        if width > 1 {
            let (a, b) = (lhs.signed_range(), rhs.signed_range());
            let decided = match pred {
                IntPredicate::Slt if a.1 < b.0 => Some(true),
                IntPredicate::Slt if a.0 >= b.1 => Some(false),
                IntPredicate::Sle if a.1 <= b.0 => Some(true),
                IntPredicate::Sle if a.0 > b.1 => Some(false),
                IntPredicate::Sgt if a.0 > b.1 => Some(true),
                IntPredicate::Sgt if a.1 <= b.0 => Some(false),
                IntPredicate::Sge if a.0 >= b.1 => Some(true),
                IntPredicate::Sge if a.1 < b.0 => Some(false),
                _ => None,
            };
            if let Some(v) = decided {
                return ScalarExpr::bool(v);
            }
        }
        ScalarExpr::Cmp {
            pred,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    /// A width conversion, simplified.
    pub fn cast(kind: CastKind, to: u32, arg: ScalarExpr) -> ScalarExpr {
        let from = arg.width();
        if from == to {
            return arg;
        }
        if let Some(bits) = arg.as_const() {
            let bits = match kind {
                CastKind::SignExtend => int::ext_signed(from, to, bits),
                CastKind::ZeroExtend => int::ext_unsigned(from, bits),
                CastKind::Truncate => int::truncate(bits, to),
            };
            return ScalarExpr::Const { bits, width: to };
        }
        match (&arg, kind) {
            // sext(sext(x)) = sext(x); zext(zext(x)) = zext(x).
            (
                ScalarExpr::Cast {
                    kind: inner,
                    arg: x,
                    ..
                },
                CastKind::SignExtend | CastKind::ZeroExtend,
            ) if *inner == kind => {
                return ScalarExpr::cast(kind, to, (**x).clone());
            }
            // trunc(ext(x)) back to x's width (or narrower) only drops the extension.
            (
                ScalarExpr::Cast {
                    kind: CastKind::SignExtend | CastKind::ZeroExtend,
                    arg: x,
                    ..
                },
                CastKind::Truncate,
            ) if x.width() >= to => {
                return ScalarExpr::cast(CastKind::Truncate, to, (**x).clone());
            }
            (
                ScalarExpr::Cast {
                    kind: CastKind::Truncate,
                    arg: x,
                    ..
                },
                CastKind::Truncate,
            ) => {
                return ScalarExpr::cast(CastKind::Truncate, to, (**x).clone());
            }
            _ => {}
        }
        ScalarExpr::Cast {
            kind,
            to,
            arg: Box::new(arg),
        }
    }

    /// Sign extension to `to` bits.
    pub fn sext(to: u32, arg: ScalarExpr) -> ScalarExpr {
        ScalarExpr::cast(CastKind::SignExtend, to, arg)
    }

    /// Sign extension or truncation to `to` bits, whichever applies.
    pub fn resize_signed(to: u32, arg: ScalarExpr) -> ScalarExpr {
        let kind = if to >= arg.width() {
            CastKind::SignExtend
        } else {
            CastKind::Truncate
        };
        ScalarExpr::cast(kind, to, arg)
    }

    /// `cond ? a : b`.
    pub fn select(cond: ScalarExpr, a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        if cond.is_true() || a == b {
            return a;
        }
        if cond.is_false() {
            return b;
        }
        ScalarExpr::Select {
            cond: Box::new(cond),
            if_true: Box::new(a),
            if_false: Box::new(b),
        }
    }

    /// `clamp(bound − start (+1), 0, max)` computed exactly (see
    /// [`ScalarExpr::ClampDiff`]).
    pub fn clamp_diff(
        bound: ScalarExpr,
        start: ScalarExpr,
        plus_one: bool,
        max: u64,
    ) -> ScalarExpr {
        debug_assert_eq!(
            bound.width(),
            start.width(),
            "clamp_diff of mismatched widths"
        );
        let (b, s) = (bound.signed_range(), start.signed_range());
        let k = i128::from(plus_one);
        let (lo, hi) = (b.0 - s.1 + k, b.1 - s.0 + k);
        let max_i = i128::from(max);
        if hi <= 0 {
            return ScalarExpr::constant(0, 64);
        }
        if lo >= max_i {
            return ScalarExpr::constant(max_i, 64);
        }
        if let (Some(b), Some(s)) = (bound.as_signed_const(), start.as_signed_const()) {
            let v = (i128::from(b) - i128::from(s) + k).clamp(0, max_i);
            return ScalarExpr::constant(v, 64);
        }
        ScalarExpr::ClampDiff {
            bound: Box::new(bound),
            start: Box::new(start),
            plus_one,
            max,
        }
    }

    // ---- analysis ----------------------------------------------------------

    /// A conservative range of the value read as a signed integer.
    pub fn signed_range(&self) -> (i128, i128) {
        let full = width_range(self.width());
        let fits = |(lo, hi): (i128, i128)| {
            if lo >= full.0 && hi <= full.1 {
                (lo, hi)
            } else {
                full
            }
        };
        match self {
            ScalarExpr::Const { bits, width } => {
                let v = i128::from(int::sign_extend(*bits, *width));
                (v, v)
            }
            ScalarExpr::Atom { .. } | ScalarExpr::Cmp { .. } => full,
            ScalarExpr::Binary { op, lhs, rhs, .. } => {
                let (a, b) = (lhs.signed_range(), rhs.signed_range());
                match op {
                    IntBinaryOp::Add => fits((a.0 + b.0, a.1 + b.1)),
                    IntBinaryOp::Sub => fits((a.0 - b.1, a.1 - b.0)),
                    IntBinaryOp::Mul => {
                        let products = [a.0 * b.0, a.0 * b.1, a.1 * b.0, a.1 * b.1];
                        let lo = products.iter().copied().min().unwrap_or(0);
                        let hi = products.iter().copied().max().unwrap_or(0);
                        fits((lo, hi))
                    }
                    IntBinaryOp::MinS => (a.0.min(b.0), a.1.min(b.1)),
                    IntBinaryOp::MaxS => (a.0.max(b.0), a.1.max(b.1)),
                    _ => full,
                }
            }
            ScalarExpr::Cast { kind, to, arg } => {
                let r = arg.signed_range();
                match kind {
                    CastKind::SignExtend => r,
                    CastKind::ZeroExtend if r.0 >= 0 => r,
                    CastKind::ZeroExtend => fits((0, (1i128 << arg.width()) - 1)),
                    CastKind::Truncate => {
                        let target = width_range(*to);
                        if r.0 >= target.0 && r.1 <= target.1 {
                            r
                        } else {
                            target
                        }
                    }
                }
            }
            ScalarExpr::Select {
                if_true, if_false, ..
            } => {
                let (a, b) = (if_true.signed_range(), if_false.signed_range());
                (a.0.min(b.0), a.1.max(b.1))
            }
            ScalarExpr::ClampDiff { max, .. } => (0, i128::from(*max)),
        }
    }

    // ---- evaluation --------------------------------------------------------

    /// Evaluates the expression; `env` gives the raw bits of each atom
    /// (`None` when unknown, which makes the result unknown).
    pub fn eval(&self, env: &dyn Fn(Atom) -> Option<u64>) -> Option<u64> {
        Some(match self {
            ScalarExpr::Const { bits, .. } => *bits,
            ScalarExpr::Atom { atom, width } => int::truncate(env(*atom)?, *width),
            ScalarExpr::Binary {
                op,
                width,
                lhs,
                rhs,
            } => int::int_binary(*op, *width, lhs.eval(env)?, rhs.eval(env)?),
            ScalarExpr::Cmp { pred, lhs, rhs } => u64::from(int::cmp_int(
                *pred,
                lhs.width(),
                lhs.eval(env)?,
                rhs.eval(env)?,
            )),
            ScalarExpr::Cast { kind, to, arg } => {
                let v = arg.eval(env)?;
                match kind {
                    CastKind::SignExtend => int::ext_signed(arg.width(), *to, v),
                    CastKind::ZeroExtend => int::ext_unsigned(arg.width(), v),
                    CastKind::Truncate => int::truncate(v, *to),
                }
            }
            ScalarExpr::Select {
                cond,
                if_true,
                if_false,
            } => {
                if cond.eval(env)? & 1 != 0 {
                    if_true.eval(env)?
                } else {
                    if_false.eval(env)?
                }
            }
            ScalarExpr::ClampDiff {
                bound,
                start,
                plus_one,
                max,
            } => {
                let w = bound.width();
                let b = i128::from(int::sign_extend(bound.eval(env)?, w));
                let s = i128::from(int::sign_extend(start.eval(env)?, w));
                (b - s + i128::from(*plus_one)).clamp(0, i128::from(*max)) as u64
            }
        })
    }

    /// Evaluates to a signed integer.
    pub fn eval_signed(&self, env: &dyn Fn(Atom) -> Option<u64>) -> Option<i64> {
        self.eval(env)
            .map(|bits| int::sign_extend(bits, self.width()))
    }

    // ---- printing ------------------------------------------------------------

    /// A printable view; `names` renders atoms (`%pid`, ...).
    pub fn display<'a>(&'a self, names: &'a dyn Fn(Atom) -> String) -> DisplayExpr<'a> {
        DisplayExpr { expr: self, names }
    }
}

/// See [`ScalarExpr::display`].
pub struct DisplayExpr<'a> {
    expr: &'a ScalarExpr,
    names: &'a dyn Fn(Atom) -> String,
}

fn infix(op: IntBinaryOp) -> Option<&'static str> {
    use IntBinaryOp::*;
    Some(match op {
        Add => "+",
        Sub => "-",
        Mul => "*",
        DivS => "/s",
        DivU => "/u",
        RemS => "%s",
        RemU => "%u",
        And => "&",
        Or => "|",
        Xor => "^",
        Shl => "<<",
        ShrS => ">>s",
        ShrU => ">>u",
        _ => return None,
    })
}

fn function_name(op: IntBinaryOp) -> &'static str {
    use IntBinaryOp::*;
    match op {
        MaxS => "maxs",
        MaxU => "maxu",
        MinS => "mins",
        MinU => "minu",
        CeilDivS => "ceildivs",
        CeilDivU => "ceildivu",
        FloorDivS => "floordivs",
        MulHiU => "mulhiu",
        MulHiS => "mulhis",
        HAddS => "hadds",
        HAddU => "haddu",
        RHAddS => "rhadds",
        RHAddU => "rhaddu",
        Mul24S => "mul24s",
        Mul24U => "mul24u",
        _ => "op",
    }
}

fn predicate_symbol(pred: IntPredicate) -> &'static str {
    use IntPredicate::*;
    match pred {
        Eq => "==",
        Ne => "!=",
        Slt => "<s",
        Sle => "<=s",
        Sgt => ">s",
        Sge => ">=s",
        Ult => "<u",
        Ule => "<=u",
        Ugt => ">u",
        Uge => ">=u",
    }
}

impl fmt::Display for DisplayExpr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sub = |e: &'_ ScalarExpr| {
            DisplayExpr {
                expr: e,
                names: self.names,
            }
            .to_string()
        };
        match self.expr {
            ScalarExpr::Const { bits, width: 1 } => write!(f, "{}", *bits != 0),
            ScalarExpr::Const { bits, width } => write!(f, "{}", int::sign_extend(*bits, *width)),
            ScalarExpr::Atom { atom, .. } => write!(f, "{}", (self.names)(*atom)),
            ScalarExpr::Binary { op, lhs, rhs, .. } => match infix(*op) {
                Some(sym) => write!(f, "({} {sym} {})", sub(lhs), sub(rhs)),
                None => write!(f, "{}({}, {})", function_name(*op), sub(lhs), sub(rhs)),
            },
            ScalarExpr::Cmp { pred, lhs, rhs } => {
                write!(f, "({} {} {})", sub(lhs), predicate_symbol(*pred), sub(rhs))
            }
            ScalarExpr::Cast { kind, to, arg } => {
                let name = match kind {
                    CastKind::SignExtend => "sext",
                    CastKind::ZeroExtend => "zext",
                    CastKind::Truncate => "trunc",
                };
                write!(f, "{name}{to}({})", sub(arg))
            }
            ScalarExpr::Select {
                cond,
                if_true,
                if_false,
            } => {
                write!(
                    f,
                    "select({}, {}, {})",
                    sub(cond),
                    sub(if_true),
                    sub(if_false)
                )
            }
            ScalarExpr::ClampDiff {
                bound,
                start,
                plus_one,
                max,
            } => {
                let one = if *plus_one { " + 1" } else { "" };
                if start.is_zero() {
                    write!(f, "clamp({}{one}, 0, {max})", sub(bound))
                } else {
                    write!(f, "clamp({} - {}{one}, 0, {max})", sub(bound), sub(start))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_entity::EntityRef;

    fn v(i: usize, width: u32) -> ScalarExpr {
        ScalarExpr::atom(Atom::Value(Value::new(i)), width)
    }

    fn c(value: i128, width: u32) -> ScalarExpr {
        ScalarExpr::constant(value, width)
    }

    fn names(a: Atom) -> String {
        match a {
            Atom::Value(v) => format!("%{v}"),
            Atom::Carried { arg, slot } => format!("carried(%{arg}, {slot})"),
        }
    }

    fn env(a: Atom) -> Option<u64> {
        match a {
            Atom::Value(v) => Some(1000 + v.index() as u64),
            Atom::Carried { .. } => None,
        }
    }

    #[test]
    fn simplifies_with_ring_identities() {
        let x = v(1, 32);
        assert_eq!(ScalarExpr::add(x.clone(), c(0, 32)), x);
        assert_eq!(ScalarExpr::mul(c(1, 32), x.clone()), x);
        assert!(ScalarExpr::mul(x.clone(), c(0, 32)).is_zero());
        assert!(ScalarExpr::sub(x.clone(), x.clone()).is_zero());
        // (x + 3) * 4 + 5 → x*4 + 17
        let e = ScalarExpr::add(
            ScalarExpr::mul(ScalarExpr::add(x.clone(), c(3, 32)), c(4, 32)),
            c(5, 32),
        );
        assert_eq!(e.display(&names).to_string(), "((%v1 * 4) + 17)");
        // (x + 1) + y → (x + y) + 1
        let e = ScalarExpr::add(ScalarExpr::add(x.clone(), c(1, 32)), v(2, 32));
        assert_eq!(e.display(&names).to_string(), "((%v1 + %v2) + 1)");
        assert_eq!(
            ScalarExpr::sub(x.clone(), c(2, 32))
                .display(&names)
                .to_string(),
            "(%v1 + -2)"
        );
    }

    #[test]
    fn folding_matches_evaluation_at_the_width() {
        let e = ScalarExpr::mul(c(0x7FFF_FFFF, 32), c(2, 32));
        assert_eq!(e.as_const(), Some(0xFFFF_FFFE));
        let x = v(3, 32);
        let e = ScalarExpr::add(ScalarExpr::mul(x.clone(), c(3, 32)), c(-5, 32));
        assert_eq!(e.eval(&env), Some(1003 * 3 - 5));
        let s = ScalarExpr::sext(64, ScalarExpr::sub(c(0, 32), x));
        assert_eq!(s.eval_signed(&env), Some(-1003));
    }

    #[test]
    fn ranges_decide_comparisons_and_clamps() {
        let narrow = ScalarExpr::sext(64, v(1, 32));
        let limit = c(i128::from(i32::MAX) + 1, 64);
        assert!(ScalarExpr::cmp(IntPredicate::Slt, narrow.clone(), limit).is_true());
        assert!(!ScalarExpr::cmp(IntPredicate::Slt, v(1, 32), c(7, 32)).is_true());
        assert_eq!(
            ScalarExpr::clamp_diff(c(100, 32), c(30, 32), false, 64).as_signed_const(),
            Some(64)
        );
        assert_eq!(
            ScalarExpr::clamp_diff(c(40, 32), c(30, 32), true, 64).as_signed_const(),
            Some(11)
        );
        let e = ScalarExpr::clamp_diff(v(5, 32), v(6, 32), false, 64);
        assert_eq!(e.display(&names).to_string(), "clamp(%v5 - %v6, 0, 64)");
        assert_eq!(e.eval(&env), Some(0));
        let e = ScalarExpr::clamp_diff(v(9, 32), c(1000, 32), false, 64);
        assert_eq!(e.eval(&env), Some(9));
    }

    #[test]
    fn casts_collapse() {
        let x = v(1, 8);
        let e = ScalarExpr::sext(64, ScalarExpr::sext(32, x.clone()));
        assert_eq!(e.display(&names).to_string(), "sext64(%v1)");
        let t = ScalarExpr::cast(CastKind::Truncate, 8, e);
        assert_eq!(t, x);
        assert_eq!(ScalarExpr::sext(64, c(-1, 32)).as_signed_const(), Some(-1));
    }
}
