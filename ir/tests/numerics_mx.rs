//! MX block quantization against the independent Python implementation of
//! the OCP MX v1.0 conversion in tools/numerics/gen_tables.py (spec logic
//! in Python, element rounding by `ml_dtypes`), plus properties of the
//! round trip.

use std::path::PathBuf;

use maiac_ir::numerics::mx::{self, MxElement, BLOCK_SIZE};
use proptest::prelude::*;

fn read(name: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "data",
        "numerics",
        name,
    ]
    .iter()
    .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn blocks() -> Vec<f32> {
    read("mx_inputs.bin")
        .chunks_exact(4)
        .map(|b| f32::from_bits(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .collect()
}

#[test]
fn blocks_match_the_python_reference() {
    let values = blocks();
    assert_eq!(values.len() % BLOCK_SIZE, 0);
    for element in MxElement::ALL {
        let expected = read(&format!("mx_{}.bin", element.name()));
        assert_eq!(expected.len(), values.len() / BLOCK_SIZE * (BLOCK_SIZE + 1));
        for (b, (block, want)) in values
            .chunks(BLOCK_SIZE)
            .zip(expected.chunks(BLOCK_SIZE + 1))
            .enumerate()
        {
            let (scale, codes) = mx::quantize_block(block, element);
            assert_eq!(
                scale, want[0],
                "{element} block {b} scale; block = {block:?}"
            );
            assert_eq!(
                &codes[..],
                &want[1..],
                "{element} block {b} codes; block = {block:?}"
            );
        }
    }
}

#[test]
fn rows_are_blocks_along_the_last_axis() {
    let values = blocks();
    let row_len = 4 * BLOCK_SIZE;
    let rows = values.len() / row_len;
    let values = &values[..rows * row_len];
    for element in MxElement::ALL {
        let expected = read(&format!("mx_{}.bin", element.name()));
        let array = mx::quantize_rows(values, row_len, element).unwrap();
        for (b, want) in expected
            .chunks(BLOCK_SIZE + 1)
            .take(array.scales.len())
            .enumerate()
        {
            assert_eq!(array.scales[b], want[0]);
            assert_eq!(&array.codes[b * BLOCK_SIZE..][..BLOCK_SIZE], &want[1..]);
        }
        let back = mx::dequantize_rows(&array.scales, &array.codes, row_len, element).unwrap();
        assert_eq!(back.len(), values.len());
        if element == MxElement::E2M1 {
            assert_eq!(mx::unpack_fp4(&array.storage_codes()), array.codes);
        }
    }
}

/// A block of f32s spanning `spread` binades around 2^`center`, with zeros.
fn block_strategy() -> impl Strategy<Value = Vec<f32>> {
    (-140i32..120, 0i32..30).prop_flat_map(|(center, spread)| {
        prop::collection::vec(
            (
                any::<bool>(),
                1.0f32..2.0,
                0..=spread,
                prop::bool::weighted(0.1),
            )
                .prop_map(move |(negative, m, down, zero)| {
                    let x = if zero {
                        0.0
                    } else {
                        m * 2f32.powi(center - down)
                    };
                    if negative {
                        -x
                    } else {
                        x
                    }
                }),
            BLOCK_SIZE,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Each dequantized value is the element-format rounding of v / 2^s:
    /// within half an element ulp (at the max's binade) of v, and the
    /// block's max itself never saturates by more than the format's gap
    /// between max normal and 2^(emax+1).
    #[test]
    fn round_trip_error_is_bounded(block in block_strategy(), index in 0usize..5) {
        let element = MxElement::ALL[index];
        let format = element.format();
        let (scale, codes) = mx::quantize_block(&block, element);
        let back = mx::dequantize_block(scale, &codes, element);
        let s = f64::from(scale) - 127.0;
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        if amax == 0.0 {
            prop_assert_eq!(scale, 0);
        } else {
            prop_assert!(f64::from(amax) < 2f64.powf(s + f64::from(format.emax()) + 1.0) || scale == 0);
        }
        // Largest element ulp: at the top binade, 2^(emax − mantissa_bits).
        let top_ulp = 2f64.powf(s + f64::from(format.emax() - format.mantissa_bits() as i32));
        let saturation_gap = 2f64.powf(s + f64::from(format.emax() + 1)) - format.max_finite() * 2f64.powf(s);
        for (v, y) in block.iter().zip(&back) {
            let error = (f64::from(*v) - f64::from(*y)).abs();
            prop_assert!(error <= (top_ulp / 2.0).max(saturation_gap), "{v} -> {y}, scale {scale}");
            prop_assert_eq!(v.is_sign_negative() && *y != 0.0, y.is_sign_negative() && *y != 0.0);
        }
    }

    /// Quantizing a dequantized block gives back the same scale and codes:
    /// the max stays in its binade (2^emax is representable and saturation
    /// stops short of 2^(emax+1)) and every element is exactly representable.
    #[test]
    fn requantizing_is_stable(block in block_strategy(), index in 0usize..5) {
        let element = MxElement::ALL[index];
        let (scale, codes) = mx::quantize_block(&block, element);
        let back = mx::dequantize_block(scale, &codes, element);
        let (scale2, codes2) = mx::quantize_block(&back, element);
        prop_assert_eq!(scale2, scale);
        prop_assert_eq!(codes2, codes);
    }
}
