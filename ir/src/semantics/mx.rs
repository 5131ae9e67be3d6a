//! OCP Microscaling (MX v1.0) element and scale decoding for
//! `tt.dot_scaled`.
//!
//! | element | layout | bias | values |
//! |---|---|---|---|
//! | e2m1 (FP4) | S.EE.M | 1 | ±{0, 0.5, 1, 1.5, 2, 3, 4, 6} |
//! | e2m3 (FP6) | S.EE.MMM | 1 | max 7.5 |
//! | e3m2 (FP6) | S.EEE.MM | 3 | max 28 |
//! | e4m3, e5m2 (FP8) | the `f8E4M3FN` / `f8E5M2` formats | | |
//!
//! None of the FP4/FP6 formats has Inf or NaN. The E8M0 scale is `2^(s−127)`
//! with `s = 0xFF` meaning NaN. Decoding is [`crate::numerics`]'.

use crate::numerics::FloatFormat;

/// The element formats `tt.dot_scaled` accepts.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MxElement {
    E2M1,
    E2M3,
    E3M2,
    E4M3,
    E5M2,
    BF16,
    FP16,
}

impl MxElement {
    /// From the `a_elem_type`/`b_elem_type` keyword.
    pub fn from_keyword(name: &str) -> Option<MxElement> {
        Some(match name {
            "e2m1" => MxElement::E2M1,
            "e2m3" => MxElement::E2M3,
            "e3m2" => MxElement::E3M2,
            "e4m3" => MxElement::E4M3,
            "e5m2" => MxElement::E5M2,
            "bf16" => MxElement::BF16,
            "fp16" => MxElement::FP16,
            _ => return None,
        })
    }

    /// Elements stored per byte-sized (or wider) storage element: 2 for
    /// packed e2m1, else 1.
    pub fn per_storage_element(self) -> usize {
        if self == MxElement::E2M1 {
            2
        } else {
            1
        }
    }

    /// The exact value of one element's bits (for e2m1, the 4-bit nibble).
    pub fn decode(self, bits: u64) -> f32 {
        let format = match self {
            MxElement::E2M1 => FloatFormat::F4E2M1,
            MxElement::E2M3 => FloatFormat::F6E2M3,
            MxElement::E3M2 => FloatFormat::F6E3M2,
            MxElement::E4M3 => FloatFormat::F8E4M3FN,
            MxElement::E5M2 => FloatFormat::F8E5M2,
            MxElement::BF16 => FloatFormat::BF16,
            MxElement::FP16 => FloatFormat::F16,
        };
        format.decode_f32(bits)
    }
}

/// The E8M0 scale `2^(s − 127)`; NaN for `0xFF`.
pub fn e8m0_scale(bits: u64) -> f64 {
    FloatFormat::E8M0.decode_f64(bits & 0xFF)
}

/// `element × scale` rounded once to f32.
pub fn apply_scale(element: f32, scale: f64) -> f32 {
    (f64::from(element) * scale) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp4_values() {
        let values: Vec<f32> = (0..16).map(|b| MxElement::E2M1.decode(b)).collect();
        assert_eq!(&values[..8], &[0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]);
        assert_eq!(
            &values[8..],
            &[-0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]
        );
    }

    #[test]
    fn fp6_extremes() {
        assert_eq!(MxElement::E2M3.decode(0x1F), 7.5);
        assert_eq!(MxElement::E2M3.decode(0x01), 0.125);
        assert_eq!(MxElement::E3M2.decode(0x1F), 28.0);
        assert_eq!(MxElement::E3M2.decode(0x01), 0.0625);
        assert_eq!(MxElement::E3M2.decode(0x3F), -28.0);
    }

    #[test]
    fn scales() {
        assert_eq!(e8m0_scale(127), 1.0);
        assert_eq!(e8m0_scale(0), 2f64.powi(-127));
        assert_eq!(e8m0_scale(254), 2f64.powi(127));
        assert!(e8m0_scale(255).is_nan());
        assert_eq!(apply_scale(6.0, e8m0_scale(130)), 48.0);
        assert_eq!(apply_scale(448.0, e8m0_scale(254)), f32::INFINITY);
    }
}
