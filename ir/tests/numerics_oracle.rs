//! `maiac_ir::numerics` encoding against a brute-force oracle that knows
//! nothing of bit tricks: it lists every finite value of the format, finds
//! the two neighbours of the input by search and picks one by distance
//! (nearest-even: the even code on a tie) or by magnitude (toward zero: the
//! neighbour below). It checks f64 inputs — where `ml_dtypes` rounds twice
//! and so cannot serve — both rounding modes and both overflow policies.

use std::collections::HashMap;
use std::sync::LazyLock;

use maiac_ir::numerics::{FloatFormat, Overflow, Rounding};
use proptest::prelude::*;

/// Formats small enough to enumerate (E8M0 has its own oracle below).
const GRID_FORMATS: [FloatFormat; 9] = [
    FloatFormat::F16,
    FloatFormat::BF16,
    FloatFormat::F8E4M3FN,
    FloatFormat::F8E5M2,
    FloatFormat::F8E4M3FNUZ,
    FloatFormat::F8E5M2FNUZ,
    FloatFormat::F6E3M2,
    FloatFormat::F6E2M3,
    FloatFormat::F4E2M1,
];

/// The non-negative finite values of a format with their codes, ascending,
/// plus a virtual entry one top-binade ulp above the max: rounding to it
/// means overflow.
struct Grid {
    values: Vec<f64>,
    codes: Vec<u64>,
    max_code: u64,
}

impl Grid {
    fn new(format: FloatFormat) -> Grid {
        let mut entries: Vec<(f64, u64)> = (0..format.sign_mask())
            .map(|code| (format.decode_f64(code), code))
            .filter(|(v, _)| v.is_finite())
            .collect();
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (max, max_code) = *entries.last().unwrap();
        let top_ulp = max - entries[entries.len() - 2].0;
        entries.push((max + top_ulp, max_code + 1));
        Grid {
            values: entries.iter().map(|e| e.0).collect(),
            codes: entries.iter().map(|e| e.1).collect(),
            max_code,
        }
    }
}

static GRIDS: LazyLock<HashMap<FloatFormat, Grid>> = LazyLock::new(|| {
    GRID_FORMATS
        .into_iter()
        .map(|f| (f, Grid::new(f)))
        .collect()
});

/// What ±Inf and overflow give under each format's own rule, written out
/// independently of the implementation.
fn format_rule_overflow(format: FloatFormat, negative: bool) -> u64 {
    let sign = if negative { format.sign_mask() } else { 0 };
    match format {
        FloatFormat::F16 => 0x7C00 | sign,
        FloatFormat::BF16 => 0x7F80 | sign,
        FloatFormat::F8E5M2 => 0x7C | sign,
        FloatFormat::F8E4M3FN => 0x7F | sign,
        FloatFormat::F8E4M3FNUZ | FloatFormat::F8E5M2FNUZ => 0x80,
        FloatFormat::F6E3M2 | FloatFormat::F6E2M3 => 0x1F | sign,
        FloatFormat::F4E2M1 => 0x7 | sign,
        other => unreachable!("{other} has no grid"),
    }
}

fn oracle(format: FloatFormat, x: f64, rounding: Rounding, overflow: Overflow) -> u64 {
    assert!(x.is_finite());
    let grid = &GRIDS[&format];
    let negative = x.is_sign_negative();
    let a = x.abs();
    // values[0] = 0 <= a. Past the virtual top, nearest rounds to it
    // (overflow) and toward-zero to the max.
    let above = grid.values.partition_point(|&v| v <= a);
    let top = grid.values.len() - 1;
    let pick = if above > top {
        match rounding {
            Rounding::TowardZero => top - 1,
            Rounding::NearestEven => top,
        }
    } else if grid.values[above - 1] == a {
        above - 1
    } else {
        let (lo, hi) = (above - 1, above);
        match rounding {
            Rounding::TowardZero => lo,
            Rounding::NearestEven => {
                // Exact by Sterbenz' lemma: a lies between lo and hi <= 2 lo (or lo = 0).
                let (below, over) = (a - grid.values[lo], grid.values[hi] - a);
                if below < over || (below == over && grid.codes[lo].is_multiple_of(2)) {
                    lo
                } else {
                    hi
                }
            }
        }
    };
    let code = grid.codes[pick];
    if code > grid.max_code {
        return match overflow {
            Overflow::FormatRule => format_rule_overflow(format, negative),
            Overflow::Saturate => grid.max_code | if negative { format.sign_mask() } else { 0 },
        };
    }
    let unsigned_zero = matches!(format, FloatFormat::F8E4M3FNUZ | FloatFormat::F8E5M2FNUZ);
    if negative && !(code == 0 && unsigned_zero) {
        code | format.sign_mask()
    } else {
        code
    }
}

/// E8M0 the way `ml_dtypes` rounds it: `2^k` rounds up from `1.5 · 2^k`
/// on (ties upward), and since E8M0 has no subnormals but the conversion
/// treats code 0 as the place of zero, everything in `(2^−127, 2^−126)`
/// rounds to code 1 and everything up to `2^−127` to code 0.
fn e8m0_oracle(x: f64, rounding: Rounding, overflow: Overflow) -> u64 {
    let saturate = overflow == Overflow::Saturate;
    if x <= 0.0 {
        return if saturate { 0 } else { 0xFF };
    }
    let k = x.log2().floor() as i32;
    // log2 may be off by one near powers of two; fix k so 2^k <= x < 2^(k+1).
    let k = if 2f64.powi(k) > x {
        k - 1
    } else if 2f64.powi(k + 1) <= x {
        k + 1
    } else {
        k
    };
    let code = match rounding {
        Rounding::NearestEven if x <= 2f64.powi(-127) => 0,
        Rounding::NearestEven if x < 2f64.powi(-126) => 1,
        Rounding::NearestEven => k + 127 + i32::from(x >= 1.5 * 2f64.powi(k)),
        Rounding::TowardZero => (k + 127).max(0),
    };
    if code > 254 {
        if saturate || rounding == Rounding::TowardZero {
            0xFE
        } else {
            0xFF
        }
    } else {
        code as u64
    }
}

fn check(format: FloatFormat, x: f64) {
    for rounding in [Rounding::NearestEven, Rounding::TowardZero] {
        for overflow in [Overflow::FormatRule, Overflow::Saturate] {
            let want = if format == FloatFormat::E8M0 {
                e8m0_oracle(x, rounding, overflow)
            } else {
                oracle(format, x, rounding, overflow)
            };
            let got = format.encode_f64(x, rounding, overflow);
            assert_eq!(
                got,
                want,
                "{format} {rounding:?} {overflow:?} x = {x:e} ({:#018x})",
                x.to_bits()
            );
            let narrow = x as f32;
            let want = format.encode_f64(f64::from(narrow), rounding, overflow);
            assert_eq!(
                format.encode_f32(narrow, rounding, overflow),
                want,
                "{format} f32 {narrow:e}"
            );
        }
    }
}

/// Every value of every ≤ 8-bit format, every midpoint between neighbours,
/// and the f64 values adjacent to both, with both signs.
#[test]
fn exhaustive_neighbourhoods_of_small_formats() {
    for format in GRID_FORMATS.into_iter().filter(|f| f.bits() <= 8) {
        let grid = &GRIDS[&format];
        let mut points = Vec::new();
        for pair in grid.values.windows(2) {
            let mid = (pair[0] + pair[1]) / 2.0;
            points.extend([
                pair[0],
                mid,
                mid.next_up(),
                mid.next_down(),
                pair[0].next_up(),
            ]);
        }
        points.extend([f64::MIN_POSITIVE, f64::from_bits(1), 1e300]);
        for x in points {
            check(format, x);
            check(format, -x);
        }
    }
}

#[test]
fn e8m0_boundaries() {
    for k in -130..=129 {
        let p = 2f64.powi(k);
        for x in [
            p,
            p.next_up(),
            p.next_down(),
            1.5 * p,
            (1.5 * p).next_down(),
            1.25 * p,
        ] {
            check(FloatFormat::E8M0, x);
        }
    }
    check(FloatFormat::E8M0, 0.0);
    check(FloatFormat::E8M0, -3.0);
}

/// f64 → f32 must be Rust's (correctly rounded, hardware) `as` cast.
#[test]
fn f32_target_matches_the_hardware_cast() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..200_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let x = f64::from_bits(state);
        if x.is_nan() {
            continue;
        }
        let got = FloatFormat::F32.encode_f64(x, Rounding::NearestEven, Overflow::FormatRule);
        assert_eq!(got, u64::from((x as f32).to_bits()), "{x:e}");
        // Toward zero: the cast, stepped back one ulp if it rounded away.
        let cast = x as f32;
        let toward_zero = if cast.is_infinite() {
            f32::MAX.copysign(cast)
        } else if f64::from(cast).abs() > x.abs() {
            if cast > 0.0 {
                cast.next_down()
            } else {
                cast.next_up()
            }
        } else {
            cast
        };
        let got = FloatFormat::F32.encode_f64(x, Rounding::TowardZero, Overflow::FormatRule);
        assert_eq!(got, u64::from(toward_zero.to_bits()), "rtz {x:e}");
    }
}

fn all_formats() -> impl Strategy<Value = FloatFormat> {
    prop::sample::select(
        GRID_FORMATS
            .iter()
            .copied()
            .chain([FloatFormat::E8M0])
            .collect::<Vec<_>>(),
    )
}

/// Inputs around a format's range: random significands at exponents from
/// below its smallest subnormal to above its max, midpoints of its grid
/// nudged by a few f64 ulps, and arbitrary finite f64s.
fn input_for(format: FloatFormat) -> impl Strategy<Value = f64> {
    let low = (format.min_positive().log2() as i32) - 3;
    let high = (format.max_finite().log2() as i32) + 2;
    let scaled = (1.0f64..2.0, low..=high).prop_map(|(m, e)| m * 2f64.powi(e));
    let nudged_mid = (any::<prop::sample::Index>(), -3i32..=3).prop_map(move |(i, nudge)| {
        let values: Vec<f64> = (0..(1u64 << (format.bits() - u32::from(format.is_signed()))))
            .map(|c| format.decode_f64(c))
            .filter(|v| v.is_finite())
            .collect();
        let at = i.index(values.len() - 1);
        let mut x = (values[at] + values[at + 1]) / 2.0;
        for _ in 0..nudge.abs() {
            x = if nudge > 0 {
                x.next_up()
            } else {
                x.next_down()
            };
        }
        x
    });
    let arbitrary = any::<u64>()
        .prop_map(f64::from_bits)
        .prop_filter("finite", |x| x.is_finite());
    (
        prop_oneof![4 => scaled, 4 => nudged_mid, 1 => arbitrary],
        any::<bool>(),
    )
        .prop_map(|(x, negative)| if negative { -x } else { x })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn encode_matches_the_oracle((format, x) in all_formats().prop_flat_map(|f| (Just(f), input_for(f)))) {
        check(format, x);
    }
}
