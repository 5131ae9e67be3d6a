//! Whole arrays quantized to MX along their last axis, and MX errors.

use super::block::{dequantize_block_into, quantize_block_into, BLOCK_SIZE};
use super::pack::pack_fp4;
use super::MxElement;
use crate::numerics::FloatFormat;

/// Why an MX request is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MxError {
    #[error(
        "{0} is not an OCP MX element format (expected f8E4M3FN, f8E5M2, f6E3M2FN, f6E2M3FN or f4E2M1FN)"
    )]
    NotAnElement(FloatFormat),
    #[error("the MX axis has length {0}; it must be a positive multiple of the block size 32")]
    AxisLength(usize),
    #[error("{len} values do not form whole rows of {row_len}")]
    PartialRow { len: usize, row_len: usize },
    #[error("{codes} element codes in rows of {row_len} need {expected} scales, got {got}")]
    ScaleCount {
        codes: usize,
        row_len: usize,
        expected: usize,
        got: usize,
    },
}

/// A row-major array quantized to MX along its last axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxArray {
    pub element: MxElement,
    /// Length of the last axis (a multiple of [`BLOCK_SIZE`]).
    pub row_len: usize,
    /// E8M0 scale codes, row-major `[rows, row_len / 32]`.
    pub scales: Vec<u8>,
    /// Element codes, one per value (unpacked), in the input's layout.
    pub codes: Vec<u8>,
}

impl MxArray {
    /// The values the array stands for.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.codes.len()];
        dequantize_blocks(&self.scales, &self.codes, self.element, &mut out);
        out
    }

    /// The element codes as stored: FP4 packed two per byte (low nibble
    /// first, rows stay byte-aligned since they hold a multiple of 32
    /// codes), other formats one code per byte.
    pub fn storage_codes(&self) -> Vec<u8> {
        match self.element {
            MxElement::E2M1 => pack_fp4(&self.codes),
            _ => self.codes.clone(),
        }
    }
}

fn check_shape(len: usize, row_len: usize) -> Result<(), MxError> {
    if row_len == 0 || !row_len.is_multiple_of(BLOCK_SIZE) {
        return Err(MxError::AxisLength(row_len));
    }
    if !len.is_multiple_of(row_len) {
        return Err(MxError::PartialRow { len, row_len });
    }
    Ok(())
}

/// Quantizes a row-major array whose last axis has length `row_len` (a
/// positive multiple of 32) in blocks of 32 along that axis.
pub fn quantize_rows(
    values: &[f32],
    row_len: usize,
    element: MxElement,
) -> Result<MxArray, MxError> {
    check_shape(values.len(), row_len)?;
    let mut codes = vec![0; values.len()];
    let scales = values
        .chunks(BLOCK_SIZE)
        .zip(codes.chunks_mut(BLOCK_SIZE))
        .map(|(block, block_codes)| quantize_block_into(block, element, block_codes))
        .collect();
    Ok(MxArray {
        element,
        row_len,
        scales,
        codes,
    })
}

/// Dequantizes unpacked element `codes` of a row-major array with last
/// axis `row_len` and their `scales` (`[rows, row_len / 32]`).
pub fn dequantize_rows(
    scales: &[u8],
    codes: &[u8],
    row_len: usize,
    element: MxElement,
) -> Result<Vec<f32>, MxError> {
    check_shape(codes.len(), row_len)?;
    let expected = codes.len() / BLOCK_SIZE;
    if scales.len() != expected {
        return Err(MxError::ScaleCount {
            codes: codes.len(),
            row_len,
            expected,
            got: scales.len(),
        });
    }
    let mut out = vec![0.0; codes.len()];
    dequantize_blocks(scales, codes, element, &mut out);
    Ok(out)
}

fn dequantize_blocks(scales: &[u8], codes: &[u8], element: MxElement, out: &mut [f32]) {
    for ((&scale, block), block_out) in scales
        .iter()
        .zip(codes.chunks(BLOCK_SIZE))
        .zip(out.chunks_mut(BLOCK_SIZE))
    {
        dequantize_block_into(scale, block, element, block_out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::mx::quantize_block;

    #[test]
    fn blocks_run_along_the_last_axis() {
        let values: Vec<f32> = (0..128).map(|i| (i as f32 - 50.0) * 0.37).collect();
        let array = quantize_rows(&values, 64, MxElement::E4M3).unwrap();
        assert_eq!(array.scales.len(), 4);
        for (b, block) in values.chunks(32).enumerate() {
            let (scale, codes) = quantize_block(block, MxElement::E4M3);
            assert_eq!(array.scales[b], scale);
            assert_eq!(&array.codes[b * 32..][..32], &codes[..]);
        }
        let back = dequantize_rows(&array.scales, &array.codes, 64, MxElement::E4M3).unwrap();
        assert_eq!(back, array.dequantize());
        for (x, y) in values.iter().zip(&back) {
            assert!((x - y).abs() <= x.abs() / 16.0 + 1e-6, "{x} vs {y}");
        }
    }

    #[test]
    fn fp4_storage_is_packed() {
        let values = vec![1.0f32; 64];
        let array = quantize_rows(&values, 32, MxElement::E2M1).unwrap();
        // max 1 → s = 0 − 2: elements are 4.0 (code 0x6).
        assert_eq!(array.scales, [125, 125]);
        assert_eq!(array.storage_codes(), vec![0x66; 32]);
    }

    #[test]
    fn shape_errors() {
        let values = vec![0.0f32; 96];
        assert_eq!(
            quantize_rows(&values, 48, MxElement::E4M3),
            Err(MxError::AxisLength(48))
        );
        assert_eq!(
            quantize_rows(&values, 0, MxElement::E4M3),
            Err(MxError::AxisLength(0))
        );
        assert_eq!(
            quantize_rows(&values, 64, MxElement::E4M3),
            Err(MxError::PartialRow {
                len: 96,
                row_len: 64
            })
        );
        assert_eq!(
            dequantize_rows(&[0; 2], &[0; 96], 32, MxElement::E5M2),
            Err(MxError::ScaleCount {
                codes: 96,
                row_len: 32,
                expected: 3,
                got: 2
            })
        );
        assert_eq!(
            MxError::AxisLength(48).to_string(),
            "the MX axis has length 48; it must be a positive multiple of the block size 32"
        );
        assert!(quantize_rows(&[], 32, MxElement::E4M3)
            .unwrap()
            .codes
            .is_empty());
    }
}
