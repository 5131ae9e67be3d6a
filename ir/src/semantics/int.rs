//! Integer semantics: two's complement at the op's width (i1 … i64), on raw
//! bits held in a `u64` with the bits above the width zero.
//!
//! LLVM leaves some cases undefined; maiac defines them all, following RISC-V:
//!
//! | case | result |
//! |---|---|
//! | `x / 0` (divsi, divui, ceildivsi, ceildivui, floordivsi) | all ones (`-1` signed, `2^w − 1` unsigned) |
//! | `x % 0` (remsi, remui) | `x` |
//! | `INT_MIN / -1` (all signed divisions) | `INT_MIN` (wraps) |
//! | `INT_MIN % -1` | `0` |
//! | `shli`/`shrui` by `≥ w` (amount read unsigned) | `0` |
//! | `shrsi` by `≥ w` | sign fill (`0` or all ones) |
//! | `absi(INT_MIN)` | `INT_MIN` (wraps) |
//!
//! For `i1`, the signed view of `1` is `-1`, as in MLIR.

/// The all-ones mask of a `width`-bit integer.
#[inline]
pub fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Sign-extends the low `width` bits of `bits` to an `i64`.
#[inline]
pub fn sign_extend(bits: u64, width: u32) -> i64 {
    if width >= 64 {
        bits as i64
    } else {
        let shift = 64 - width;
        ((bits << shift) as i64) >> shift
    }
}

/// Keeps the low `width` bits.
#[inline]
pub fn truncate(bits: u64, width: u32) -> u64 {
    bits & mask(width)
}

/// Binary integer ops (operands and result share one width).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntBinaryOp {
    Add,
    Sub,
    Mul,
    DivS,
    DivU,
    CeilDivS,
    CeilDivU,
    FloorDivS,
    RemS,
    RemU,
    And,
    Or,
    Xor,
    Shl,
    ShrS,
    ShrU,
    MaxS,
    MaxU,
    MinS,
    MinU,
    /// High half of the unsigned double-width product (`tt.mulhiui`).
    MulHiU,
    /// High half of the signed double-width product.
    MulHiS,
    /// `(a + b) >> 1` on signed values, without overflow (libdevice
    /// `__nv_hadd`: the floor of the average).
    HAddS,
    /// `(a + b) >> 1` on unsigned values, without overflow (`__nv_uhadd`).
    HAddU,
    /// `(a + b + 1) >> 1` on signed values, without overflow (`__nv_rhadd`).
    RHAddS,
    /// `(a + b + 1) >> 1` on unsigned values, without overflow (`__nv_urhadd`).
    RHAddU,
    /// The low `width` bits of the product of the low 24 bits of `a` and
    /// `b`, each sign-extended from bit 23 (`__nv_mul24`, PTX `mul24.lo.s32`).
    Mul24S,
    /// The same with the low 24 bits zero-extended (`__nv_umul24`).
    Mul24U,
}

/// Evaluates a binary integer op at `width` bits.
#[inline]
pub fn int_binary(op: IntBinaryOp, width: u32, a: u64, b: u64) -> u64 {
    use IntBinaryOp::*;
    let m = mask(width);
    let (a, b) = (a & m, b & m);
    let (sa, sb) = (sign_extend(a, width), sign_extend(b, width));
    let r = match op {
        Add => a.wrapping_add(b),
        Sub => a.wrapping_sub(b),
        Mul => a.wrapping_mul(b),
        DivS if b == 0 => m,
        // i64::wrapping_div wraps INT_MIN / -1 to INT_MIN; below 64 bits the
        // exact quotient 2^(w-1) truncates to INT_MIN's bits as well.
        DivS => sa.wrapping_div(sb) as u64,
        DivU if b == 0 => m,
        DivU => a / b,
        CeilDivS | FloorDivS if b == 0 => m,
        CeilDivS | FloorDivS => {
            let (q, r) = (
                i128::from(sa) / i128::from(sb),
                i128::from(sa) % i128::from(sb),
            );
            let adjust = match op {
                CeilDivS if r != 0 && (r < 0) == (sb < 0) => 1,
                FloorDivS if r != 0 && (r < 0) != (sb < 0) => -1,
                _ => 0,
            };
            (q + adjust) as u64
        }
        CeilDivU if b == 0 => m,
        CeilDivU => a / b + u64::from(a % b != 0),
        RemS if b == 0 => a,
        RemS => sa.wrapping_rem(sb) as u64,
        RemU if b == 0 => a,
        RemU => a % b,
        And => a & b,
        Or => a | b,
        Xor => a ^ b,
        Shl if b >= u64::from(width) => 0,
        Shl => a << b,
        ShrU if b >= u64::from(width) => 0,
        ShrU => a >> b,
        ShrS if b >= u64::from(width) => {
            if sa < 0 {
                m
            } else {
                0
            }
        }
        ShrS => (sa >> b) as u64,
        MaxS => sa.max(sb) as u64,
        MaxU => a.max(b),
        MinS => sa.min(sb) as u64,
        MinU => a.min(b),
        MulHiU => ((u128::from(a) * u128::from(b)) >> width) as u64,
        MulHiS => ((i128::from(sa) * i128::from(sb)) >> width) as u64,
        // In i128 the sum cannot overflow; `>>` on i128 is the floor.
        HAddS => ((i128::from(sa) + i128::from(sb)) >> 1) as u64,
        HAddU => ((u128::from(a) + u128::from(b)) >> 1) as u64,
        RHAddS => ((i128::from(sa) + i128::from(sb) + 1) >> 1) as u64,
        RHAddU => ((u128::from(a) + u128::from(b) + 1) >> 1) as u64,
        Mul24S => {
            sign_extend(a & 0xFF_FFFF, 24).wrapping_mul(sign_extend(b & 0xFF_FFFF, 24)) as u64
        }
        Mul24U => (a & 0xFF_FFFF).wrapping_mul(b & 0xFF_FFFF),
    };
    r & m
}

/// `arith.mulsi_extended` / `arith.mului_extended`: (low, high) halves of
/// the double-width product.
pub fn mul_extended(signed: bool, width: u32, a: u64, b: u64) -> (u64, u64) {
    let high = if signed {
        IntBinaryOp::MulHiS
    } else {
        IntBinaryOp::MulHiU
    };
    (
        int_binary(IntBinaryOp::Mul, width, a, b),
        int_binary(high, width, a, b),
    )
}

/// `math.absi`: wraps at `INT_MIN`.
#[inline]
pub fn abs_int(width: u32, a: u64) -> u64 {
    (sign_extend(a, width).wrapping_abs() as u64) & mask(width)
}

/// `arith.cmpi` predicates.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum IntPredicate {
    Eq,
    Ne,
    Slt,
    Sle,
    Sgt,
    Sge,
    Ult,
    Ule,
    Ugt,
    Uge,
}

impl IntPredicate {
    /// From MLIR's keyword (`slt`, ...).
    pub fn from_keyword(name: &str) -> Option<IntPredicate> {
        use IntPredicate::*;
        Some(match name {
            "eq" => Eq,
            "ne" => Ne,
            "slt" => Slt,
            "sle" => Sle,
            "sgt" => Sgt,
            "sge" => Sge,
            "ult" => Ult,
            "ule" => Ule,
            "ugt" => Ugt,
            "uge" => Uge,
            _ => return None,
        })
    }
}

/// `arith.cmpi`.
#[inline]
pub fn cmp_int(pred: IntPredicate, width: u32, a: u64, b: u64) -> bool {
    use IntPredicate::*;
    let m = mask(width);
    let (a, b) = (a & m, b & m);
    let (sa, sb) = (sign_extend(a, width), sign_extend(b, width));
    match pred {
        Eq => a == b,
        Ne => a != b,
        Slt => sa < sb,
        Sle => sa <= sb,
        Sgt => sa > sb,
        Sge => sa >= sb,
        Ult => a < b,
        Ule => a <= b,
        Ugt => a > b,
        Uge => a >= b,
    }
}

/// `arith.extsi`: sign-extends from `from` bits to `to` bits.
#[inline]
pub fn ext_signed(from: u32, to: u32, a: u64) -> u64 {
    (sign_extend(a, from) as u64) & mask(to)
}

/// `arith.extui`: zero-extends.
#[inline]
pub fn ext_unsigned(from: u32, a: u64) -> u64 {
    a & mask(from)
}

#[cfg(test)]
mod tests {
    use super::IntBinaryOp::*;
    use super::*;

    fn i32b(v: i32) -> u64 {
        u64::from(v as u32)
    }

    #[test]
    fn wraps_at_the_width() {
        assert_eq!(int_binary(Add, 8, 0xFF, 1), 0);
        assert_eq!(int_binary(Sub, 8, 0, 1), 0xFF);
        assert_eq!(int_binary(Mul, 16, 0x100, 0x100), 0);
        assert_eq!(int_binary(Add, 1, 1, 1), 0);
        assert_eq!(int_binary(Add, 64, u64::MAX, 2), 1);
    }

    #[test]
    fn division_by_zero_and_overflow_are_defined() {
        assert_eq!(int_binary(DivS, 32, 7, 0), 0xFFFF_FFFF);
        assert_eq!(int_binary(DivU, 32, 7, 0), 0xFFFF_FFFF);
        assert_eq!(int_binary(CeilDivS, 32, 7, 0), 0xFFFF_FFFF);
        assert_eq!(int_binary(FloorDivS, 8, 7, 0), 0xFF);
        assert_eq!(int_binary(CeilDivU, 64, 7, 0), u64::MAX);
        assert_eq!(int_binary(RemS, 32, 7, 0), 7);
        assert_eq!(int_binary(RemU, 32, 7, 0), 7);
        assert_eq!(
            int_binary(DivS, 32, i32b(i32::MIN), i32b(-1)),
            i32b(i32::MIN)
        );
        assert_eq!(
            int_binary(DivS, 64, i64::MIN as u64, u64::MAX),
            i64::MIN as u64
        );
        assert_eq!(int_binary(RemS, 32, i32b(i32::MIN), i32b(-1)), 0);
        assert_eq!(int_binary(FloorDivS, 8, 0x80, 0xFF), 0x80);
        assert_eq!(int_binary(CeilDivS, 8, 0x80, 0xFF), 0x80);
    }

    #[test]
    fn signed_division_rounding() {
        assert_eq!(int_binary(DivS, 32, i32b(-7), 2), i32b(-3));
        assert_eq!(int_binary(RemS, 32, i32b(-7), 2), i32b(-1));
        assert_eq!(int_binary(FloorDivS, 32, i32b(-7), 2), i32b(-4));
        assert_eq!(int_binary(CeilDivS, 32, i32b(-7), 2), i32b(-3));
        assert_eq!(int_binary(CeilDivS, 32, 7, 2), 4);
        assert_eq!(int_binary(CeilDivS, 32, i32b(-7), i32b(-2)), 4);
        assert_eq!(int_binary(FloorDivS, 32, 7, i32b(-2)), i32b(-4));
        assert_eq!(int_binary(CeilDivU, 32, 7, 2), 4);
        assert_eq!(
            int_binary(CeilDivU, 32, u64::from(u32::MAX), 1),
            u64::from(u32::MAX)
        );
    }

    #[test]
    fn shifts_past_the_width() {
        assert_eq!(int_binary(Shl, 32, 1, 31), 0x8000_0000);
        assert_eq!(int_binary(Shl, 32, 1, 32), 0);
        assert_eq!(int_binary(Shl, 32, 1, 0xFFFF_FFFF), 0);
        assert_eq!(int_binary(ShrU, 32, 0x8000_0000, 40), 0);
        assert_eq!(int_binary(ShrS, 32, 0x8000_0000, 40), 0xFFFF_FFFF);
        assert_eq!(int_binary(ShrS, 32, 0x4000_0000, 40), 0);
        assert_eq!(int_binary(ShrS, 8, 0x80, 7), 0xFF);
        assert_eq!(int_binary(Shl, 64, 1, 64), 0);
    }

    #[test]
    fn min_max_and_high_products() {
        assert_eq!(int_binary(MaxS, 8, 0xFF, 1), 1);
        assert_eq!(int_binary(MaxU, 8, 0xFF, 1), 0xFF);
        assert_eq!(int_binary(MinS, 8, 0xFF, 1), 0xFF);
        assert_eq!(
            int_binary(MulHiU, 32, 0xFFFF_FFFF, 0xFFFF_FFFF),
            0xFFFF_FFFE
        );
        assert_eq!(int_binary(MulHiS, 32, 0xFFFF_FFFF, 0xFFFF_FFFF), 0);
        assert_eq!(int_binary(MulHiU, 64, u64::MAX, 2), 1);
        assert_eq!(mul_extended(true, 8, 0x80, 0x02), (0x00, 0xFF));
        assert_eq!(abs_int(32, i32b(i32::MIN)), i32b(i32::MIN));
        assert_eq!(abs_int(32, i32b(-5)), 5);
    }

    #[test]
    fn comparisons_and_extensions() {
        assert!(cmp_int(IntPredicate::Slt, 32, i32b(-1), 0));
        assert!(!cmp_int(IntPredicate::Ult, 32, i32b(-1), 0));
        assert!(
            cmp_int(IntPredicate::Slt, 1, 1, 0),
            "i1 true is -1 when signed"
        );
        assert_eq!(ext_signed(8, 32, 0x80), 0xFFFF_FF80);
        assert_eq!(ext_signed(1, 32, 1), 0xFFFF_FFFF);
        assert_eq!(ext_unsigned(8, 0x80), 0x80);
        for name in [
            "eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge",
        ] {
            assert!(IntPredicate::from_keyword(name).is_some());
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every op agrees with the same computation on wide integers
        /// reduced modulo 2^w, away from the specially defined cases.
        #[test]
        fn matches_wide_arithmetic(a in any::<u64>(), b in any::<u64>(), w in prop::sample::select(vec![1u32, 8, 16, 32, 64])) {
            let (a, b) = (a & mask(w), b & mask(w));
            let (sa, sb) = (i128::from(sign_extend(a, w)), i128::from(sign_extend(b, w)));
            let wrap = |v: i128| (v as u64) & mask(w);
            prop_assert_eq!(int_binary(IntBinaryOp::Add, w, a, b), wrap(sa + sb));
            prop_assert_eq!(int_binary(IntBinaryOp::Sub, w, a, b), wrap(sa - sb));
            prop_assert_eq!(int_binary(IntBinaryOp::Mul, w, a, b), wrap(sa * sb));
            if b != 0 {
                prop_assert_eq!(int_binary(IntBinaryOp::DivU, w, a, b), a / b);
                prop_assert_eq!(int_binary(IntBinaryOp::RemU, w, a, b), a % b);
                prop_assert_eq!(int_binary(IntBinaryOp::DivS, w, a, b), wrap(sa / sb));
                prop_assert_eq!(int_binary(IntBinaryOp::RemS, w, a, b), wrap(sa % sb));
                prop_assert_eq!(int_binary(IntBinaryOp::FloorDivS, w, a, b), wrap(sa.div_euclid(sb) - i128::from(sb < 0 && sa.rem_euclid(sb) != 0)));
            }
            prop_assert_eq!(int_binary(IntBinaryOp::MulHiU, w, a, b), ((u128::from(a) * u128::from(b)) >> w) as u64 & mask(w));
            prop_assert_eq!(cmp_int(IntPredicate::Slt, w, a, b), sa < sb);
            prop_assert_eq!(cmp_int(IntPredicate::Ult, w, a, b), a < b);
        }
    }
}
