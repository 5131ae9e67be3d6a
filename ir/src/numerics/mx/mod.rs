//! OCP Microscaling (MX v1.0) block quantization.
//!
//! An MX block is [`BLOCK_SIZE`] = 32 values sharing one E8M0 scale
//! `X = 2^s`; each value is stored as the code `Pᵢ` of an element format
//! ([`MxElement`]: FP8 E4M3/E5M2, FP6 E3M2/E2M3, FP4 E2M1) and stands for
//! `X · Pᵢ`. The conversion follows the spec's algorithm (§6.3):
//!
//! ```text
//! s  = floor(log2(max_i |Vᵢ|)) − emax_elem        (emax: 8, 15, 4, 2, 2)
//! Pᵢ = round_nearest_even(Vᵢ / 2^s), clamped to ±max normal of the element
//! ```
//!
//! `Vᵢ / 2^s` is computed exactly (in f64) and rounded once
//! ([`FloatFormat::encode_f64`] with [`Rounding::NearestEven`] and
//! [`Overflow::Saturate`]). Values in `(max normal, 2^(emax+1))` (the top of
//! the max's binade) saturate; values far below the max lose precision or
//! flush to ±0, as the format dictates.
//!
//! # Choices the spec leaves open
//!
//! maiac's choices agree with the OCP reference library (microxcaling):
//!
//! - **Scale range.** `s` is clamped to E8M0's range `[−127, 127]`. From f32
//!   inputs only the lower clamp can apply (`max |V| < 2^128` and
//!   `emax ≥ 2` keep `s ≤ 125`): a block whose max is below `2^(emax − 127)`
//!   gets `s = −127` (scale code 0), and its elements keep what precision
//!   `Vᵢ · 2^127` has in the element format — tiny elements flush to ±0.
//! - **All-zero block** (`max = 0`, where log2 is undefined): `s = −127`,
//!   scale code 0, elements ±0 (signs kept). This is the limit of the
//!   formula as the max goes to 0 (the scale stays monotone in the block's
//!   max), it is what microxcaling does (it substitutes f32's smallest
//!   normal for a zero max, whose exponent then clamps to −127), and any
//!   scale decodes zeros exactly, so the choice loses nothing.
//! - **NaN or ±Inf anywhere in the block**: the scale is NaN (code `0xFF`),
//!   so the whole block dequantizes to NaN. The element codes are then
//!   the element format's canonical NaN (`0x7F` for E4M3, `0x7E` for E5M2)
//!   or `+0` for FP6/FP4, which have no NaN. (A max of Inf gives an
//!   infinite exponent, which the spec's E8M0 cannot hold; microxcaling
//!   maps it to NaN too.)
//! - **Dequantization**: `fl32(decode(Pᵢ) · 2^(code − 127))` — exact unless
//!   it overflows f32 (E5M2's 57344 · 2^127 is +Inf); NaN (`0x7FC00000`)
//!   when the scale or the element is NaN.
//!
//! # Storage
//!
//! Element codes are one per byte, FP6 codes in the low 6 bits and FP4
//! codes in the low 4 bits; [`pack_fp4`] packs FP4 two per byte with the
//! even element in the low nibble (Triton's `tt.dot_scaled` layout). Scales
//! are E8M0 bytes, one per block, blocks along the last axis.

mod block;
mod element;
mod pack;
mod rows;

pub use block::{
    dequantize_block, dequantize_block_into, dequantize_value, quantize_block, quantize_block_into,
    scale_code, BLOCK_SIZE,
};
pub use element::MxElement;
pub use pack::{pack_fp4, unpack_fp4};
pub use rows::{dequantize_rows, quantize_rows, MxArray, MxError};

#[cfg(doc)]
use super::{FloatFormat, Overflow, Rounding};
