//! The two knobs of every encoding: how a value between two codes is
//! rounded ([`Rounding`]) and what happens beyond the largest finite value
//! ([`Overflow`]).

use serde::{Deserialize, Serialize};

/// Rounding direction for values that fall between two codes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rounding {
    /// Round to nearest, ties to even (IEEE 754 `roundTiesToEven`; Triton's
    /// `rtne`). The default everywhere.
    #[default]
    NearestEven,
    /// Round toward zero, i.e. truncate the magnitude (Triton's `rtz`). As in
    /// IEEE 754, a finite value never rounds to Inf this way: it stops at
    /// the largest finite magnitude.
    TowardZero,
}

/// What a finite value beyond the largest finite code, or an infinity,
/// becomes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Overflow {
    /// The format's own rule, as `ml_dtypes`' `astype` applies it: ±Inf
    /// where the format has Inf (f64, f32, f16, bf16, E5M2); NaN where it
    /// has NaN but no Inf (E4M3FN: `S.1111.111`; the FNUZ formats: `0x80`;
    /// E8M0: `0xFF`); ±max finite where it has neither (FP6, FP4).
    #[default]
    FormatRule,
    /// Clamp to ±max finite, infinities included (NVIDIA's `satfinite`, the
    /// OCP MX element conversion). For unsigned E8M0, values below its range
    /// (zero and negatives) clamp to its smallest code. NaN stays NaN.
    Saturate,
}
