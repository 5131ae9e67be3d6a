//! Arithmetic with a directed rounding: libdevice's `__nv_fadd_rz`,
//! `__nv_fmul_ru`, `__nv_fdiv_rd`, `__nv_fsqrt_ru`, `__nv_frcp_rz`, … (and
//! their `d…` f64 forms), i.e. IEEE 754 `roundTowardZero`,
//! `roundTowardNegative` and `roundTowardPositive`.
//!
//! The exact result `x op y` is never formed. Instead the f64 result `s`
//! rounded to nearest is computed together with the *sign* of the rounding
//! error `exact − s`, which f64 gives exactly with an error-free transform:
//! two-sum for `+`/`−`, `fma(x, y, −s)` for `×`, the residual
//! `fma(−q, y, x)` for `÷` and `fma(−s, s, x)` for `√`. The nearest value
//! `r` of the target format is then compared with the exact result (no
//! value of the target format lies strictly between `s` and the exact
//! result, so comparing with `s` and breaking ties with the error's sign is
//! exact) and stepped once toward the wanted direction when it lies on the
//! wrong side.
//!
//! Exact for f32 operands (every error term is representable). For f64 the
//! error terms are exact unless the result is in the subnormal range, where
//! the f64 result is the nearest-even one stepped by the (possibly inexact)
//! error sign. An exactly zero sum is `−0` when rounding down and `+0`
//! otherwise (IEEE 754 §6.3); NaN results are canonical.

use std::cmp::Ordering;

use super::convert::{canonical_nan, f64_to_float_bits, float_to_f64};
use super::float::next_after;
use crate::types::FloatType;

/// The rounding direction of a directed op.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Toward zero (`_rz`).
    TowardZero,
    /// Toward −∞ (`_rd`).
    Down,
    /// Toward +∞ (`_ru`).
    Up,
}

/// The arithmetic a directed binary op rounds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DirectedOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// `a op b` on `ty` bits, rounded in direction `dir`.
pub fn directed_binary(op: DirectedOp, dir: Direction, ty: FloatType, a: u64, b: u64) -> u64 {
    let x = float_to_f64(a, ty);
    let y = float_to_f64(b, ty);
    let (s, err) = match op {
        DirectedOp::Add => two_sum(x, y),
        DirectedOp::Sub => two_sum(x, -y),
        DirectedOp::Mul => {
            let s = x * y;
            (s, x.mul_add(y, -s))
        }
        DirectedOp::Div => div_with_residual(x, y),
    };
    if s == 0.0 && err == 0.0 && matches!(op, DirectedOp::Add | DirectedOp::Sub) {
        // An exact zero sum: its sign is the IEEE rule's, not the error's.
        let y = if op == DirectedOp::Sub { -y } else { y };
        let negative = if dir == Direction::Down {
            x.is_sign_negative() || y.is_sign_negative()
        } else {
            x.is_sign_negative() && y.is_sign_negative()
        };
        return f64_to_float_bits(if negative { -0.0 } else { 0.0 }, ty);
    }
    // Infinite while the exact value is finite: the f64 result overflowed.
    let overflowed =
        s.is_infinite() && x.is_finite() && y.is_finite() && !(op == DirectedOp::Div && y == 0.0);
    round(s, err, overflowed, dir, ty)
}

/// `√a` on `ty` bits, rounded in direction `dir`.
pub fn directed_sqrt(dir: Direction, ty: FloatType, a: u64) -> u64 {
    let x = float_to_f64(a, ty);
    let s = x.sqrt();
    let err = if s.is_finite() && s != 0.0 {
        (-s).mul_add(s, x)
    } else {
        0.0
    };
    round(s, err, false, dir, ty)
}

/// `1 / a` on `ty` bits, rounded in direction `dir`.
pub fn directed_recip(dir: Direction, ty: FloatType, a: u64) -> u64 {
    let one = f64_to_float_bits(1.0, ty);
    directed_binary(DirectedOp::Div, dir, ty, one, a)
}

/// `x + y` rounded to nearest, and the exact error `x + y − s` (Knuth).
fn two_sum(x: f64, y: f64) -> (f64, f64) {
    let s = x + y;
    if !s.is_finite() {
        return (s, 0.0);
    }
    let bb = s - x;
    let err = (x - (s - bb)) + (y - bb);
    (s, err)
}

/// `x / y` rounded to nearest, and a value whose sign is that of
/// `x / y − q` (the residual `x − q·y`, exact by fma, over the sign of `y`).
fn div_with_residual(x: f64, y: f64) -> (f64, f64) {
    let q = x / y;
    if !q.is_finite() || q == 0.0 && x == 0.0 {
        return (q, 0.0);
    }
    let r = (-q).mul_add(y, x);
    (q, if y < 0.0 { -r } else { r })
}

/// Rounds the exact value `s + err` (`s` the f64 nearest, `err` carrying the
/// sign of the remainder) to `ty` in direction `dir`. `overflowed`: `s` is
/// ±∞ while the exact value is finite (beyond f64's range), as opposed to
/// an exactly infinite result.
fn round(s: f64, err: f64, overflowed: bool, dir: Direction, ty: FloatType) -> u64 {
    if s.is_nan() {
        return canonical_nan(ty);
    }
    // Where the exact value lies relative to `s`.
    let exact_vs_s = if s.is_infinite() {
        if !overflowed {
            return f64_to_float_bits(s, ty);
        }
        // Overflowed in f64: the exact value is finite, toward zero from s.
        if s > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    } else {
        err.partial_cmp(&0.0).unwrap_or(Ordering::Equal)
    };
    let nearest = f64_to_float_bits(s, ty);
    let value = float_to_f64(nearest, ty);
    // `value` compared with the exact result.
    let vs_exact = match value.partial_cmp(&s) {
        Some(Ordering::Equal) | None => exact_vs_s.reverse(),
        Some(o) => o,
    };
    let exact_positive = s > 0.0 || (s == 0.0 && exact_vs_s == Ordering::Greater);
    let step_down = match dir {
        Direction::Down => vs_exact == Ordering::Greater,
        Direction::Up => false,
        Direction::TowardZero => exact_positive && vs_exact == Ordering::Greater,
    };
    let step_up = match dir {
        Direction::Down => false,
        Direction::Up => vs_exact == Ordering::Less,
        Direction::TowardZero => !exact_positive && vs_exact == Ordering::Less,
    };
    if step_down {
        next_after(ty, nearest, f64_to_float_bits(f64::NEG_INFINITY, ty))
    } else if step_up {
        next_after(ty, nearest, f64_to_float_bits(f64::INFINITY, ty))
    } else {
        nearest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F32: FloatType = FloatType::F32;
    const F64: FloatType = FloatType::F64;

    fn b(x: f32) -> u64 {
        u64::from(x.to_bits())
    }

    fn f(bits: u64) -> f32 {
        f32::from_bits(bits as u32)
    }

    fn add(dir: Direction, x: f32, y: f32) -> f32 {
        f(directed_binary(DirectedOp::Add, dir, F32, b(x), b(y)))
    }

    #[test]
    fn inexact_sums_step_toward_the_direction() {
        use Direction::*;
        let tiny = 2f32.powi(-30);
        assert_eq!(add(TowardZero, 1.0, tiny), 1.0);
        assert_eq!(add(Down, 1.0, tiny), 1.0);
        assert_eq!(add(Up, 1.0, tiny), 1.0 + f32::EPSILON);
        assert_eq!(add(TowardZero, -1.0, -tiny), -1.0);
        assert_eq!(add(Down, -1.0, -tiny), -1.0 - f32::EPSILON);
        assert_eq!(add(Up, -1.0, -tiny), -1.0);
        // below 1.0 the spacing halves
        assert_eq!(add(Down, 1.0, -tiny), 1.0 - f32::EPSILON / 2.0);
        assert_eq!(add(TowardZero, 1.0, -tiny), 1.0 - f32::EPSILON / 2.0);
        assert_eq!(add(Up, 1.0, -tiny), 1.0);
    }

    #[test]
    fn overflow_saturates_toward_zero_and_down() {
        use Direction::*;
        assert_eq!(add(TowardZero, f32::MAX, f32::MAX), f32::MAX);
        assert_eq!(add(Down, f32::MAX, f32::MAX), f32::MAX);
        assert_eq!(add(Up, f32::MAX, f32::MAX), f32::INFINITY);
        assert_eq!(add(Up, -f32::MAX, -f32::MAX), -f32::MAX);
        assert_eq!(add(Down, -f32::MAX, -f32::MAX), f32::NEG_INFINITY);
        assert_eq!(add(TowardZero, f32::INFINITY, 1.0), f32::INFINITY);
        assert!(add(Up, f32::INFINITY, f32::NEG_INFINITY).is_nan());
        let mul = |x: f64, y: f64| {
            f64::from_bits(directed_binary(
                DirectedOp::Mul,
                TowardZero,
                F64,
                x.to_bits(),
                y.to_bits(),
            ))
        };
        assert_eq!(mul(f64::MAX, 2.0), f64::MAX);
    }

    #[test]
    fn exact_zero_sums_follow_ieee_signs() {
        use Direction::*;
        assert!(add(Down, 3.0, -3.0).is_sign_negative());
        assert!(add(Up, 3.0, -3.0).is_sign_positive());
        assert!(add(TowardZero, -0.0, -0.0).is_sign_negative());
        assert!(add(Down, 0.0, 0.0).is_sign_positive());
    }

    #[test]
    fn quotients_roots_and_reciprocals() {
        use Direction::*;
        let div = |dir, x: f32, y: f32| f(directed_binary(DirectedOp::Div, dir, F32, b(x), b(y)));
        let third = 1.0f32 / 3.0; // nearest is above 1/3 (0x3EAAAAAB)
        let below = f32::from_bits(third.to_bits() - 1);
        assert_eq!(div(TowardZero, 1.0, 3.0), below);
        assert_eq!(div(Down, 1.0, 3.0), below);
        assert_eq!(div(Up, 1.0, 3.0), third);
        assert_eq!(div(Down, -1.0, 3.0), -third);
        assert_eq!(div(TowardZero, -1.0, 3.0), -below);
        assert_eq!(div(Up, 6.0, 3.0), 2.0);
        let sqrt = |dir, x: f32| f(directed_sqrt(dir, F32, b(x)));
        let r2 = 2f32.sqrt(); // nearest is below √2
        assert_eq!(sqrt(Down, 2.0), r2);
        assert_eq!(sqrt(Up, 2.0), f32::from_bits(r2.to_bits() + 1));
        assert_eq!(sqrt(Up, 4.0), 2.0);
        assert!(sqrt(Up, -1.0).is_nan());
        assert_eq!(f(directed_recip(TowardZero, F32, b(3.0))), below);
        // a tiny positive product rounds up to the smallest subnormal
        let tiny = f(directed_binary(
            DirectedOp::Mul,
            Up,
            F32,
            b(1e-30),
            b(1e-30),
        ));
        assert_eq!(tiny, f32::from_bits(1));
    }
}
