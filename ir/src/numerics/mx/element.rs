//! [`MxElement`]: the element formats an MX block can use.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::MxError;
use crate::numerics::FloatFormat;

/// An OCP MX element format.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MxElement {
    /// MXFP8 with FP8 E4M3 (`f8E4M3FN`) elements.
    E4M3,
    /// MXFP8 with FP8 E5M2 (`f8E5M2`) elements.
    E5M2,
    /// MXFP6 with FP6 E3M2 elements.
    E3M2,
    /// MXFP6 with FP6 E2M3 elements.
    E2M3,
    /// MXFP4 with FP4 E2M1 elements.
    E2M1,
}

impl MxElement {
    /// Every element format, in a stable order.
    pub const ALL: [MxElement; 5] = [
        MxElement::E4M3,
        MxElement::E5M2,
        MxElement::E3M2,
        MxElement::E2M3,
        MxElement::E2M1,
    ];

    /// The float format of the elements.
    pub fn format(self) -> FloatFormat {
        match self {
            MxElement::E4M3 => FloatFormat::F8E4M3FN,
            MxElement::E5M2 => FloatFormat::F8E5M2,
            MxElement::E3M2 => FloatFormat::F6E3M2,
            MxElement::E2M3 => FloatFormat::F6E2M3,
            MxElement::E2M1 => FloatFormat::F4E2M1,
        }
    }

    /// Triton's keyword for it (`tt.dot_scaled`'s `a_elem_type`): `e4m3`,
    /// `e5m2`, `e3m2`, `e2m3`, `e2m1`.
    pub fn name(self) -> &'static str {
        match self {
            MxElement::E4M3 => "e4m3",
            MxElement::E5M2 => "e5m2",
            MxElement::E3M2 => "e3m2",
            MxElement::E2M3 => "e2m3",
            MxElement::E2M1 => "e2m1",
        }
    }

    /// Parses a [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<MxElement> {
        MxElement::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Exponent of the element format's largest normal number (`emax_elem`).
    pub fn emax(self) -> i32 {
        self.format().emax()
    }

    /// Element code written for every element of a NaN block: the
    /// format's canonical NaN, or `+0` where it has none.
    pub(super) fn nan_block_code(self) -> u8 {
        self.format().nan_code().unwrap_or(0) as u8
    }
}

impl fmt::Display for MxElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<FloatFormat> for MxElement {
    type Error = MxError;

    fn try_from(format: FloatFormat) -> Result<MxElement, MxError> {
        MxElement::ALL
            .into_iter()
            .find(|e| e.format() == format)
            .ok_or(MxError::NotAnElement(format))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties() {
        let emax: Vec<i32> = MxElement::ALL.iter().map(|e| e.emax()).collect();
        assert_eq!(emax, [8, 15, 4, 2, 2]);
        for element in MxElement::ALL {
            assert_eq!(MxElement::from_name(element.name()), Some(element));
            assert_eq!(MxElement::try_from(element.format()), Ok(element));
        }
        assert_eq!(
            MxElement::try_from(FloatFormat::BF16),
            Err(MxError::NotAnElement(FloatFormat::BF16))
        );
        assert_eq!(MxElement::E4M3.nan_block_code(), 0x7F);
        assert_eq!(MxElement::E5M2.nan_block_code(), 0x7E);
        assert_eq!(MxElement::E2M1.nan_block_code(), 0x00);
    }
}
