//! TTU operand decoding: float codes to f32 with exactly the bits of
//! `DType::decode_f32`, through tables built with that same function
//! (same bits, less work).

use std::sync::OnceLock;

use maiac_backend::isa::DType;

/// How one dtype's packed little-endian codes (a whole number of bytes
/// each) decode: chosen once per operand, then applied run by run.
pub enum Decoder {
    /// 8-bit codes through a table of all 256.
    Table8(Vec<f32>),
    /// BF16 codes whose table is the shift into an f32's high half.
    Bf16Shift,
    /// 16-bit codes through a table of all 65536.
    Table16(&'static [f32]),
    /// Anything else, code by code.
    Direct(DType),
}

impl Decoder {
    pub fn new(dtype: DType) -> Decoder {
        match dtype.storage_bits() {
            8 => Decoder::Table8(table_8(dtype)),
            16 if dtype == DType::BF16 && bf16_is_shift() => Decoder::Bf16Shift,
            16 => table_16(dtype).map_or(Decoder::Direct(dtype), Decoder::Table16),
            _ => Decoder::Direct(dtype),
        }
    }

    /// Decodes `bytes` (whole codes) to f32, appending them to `out`.
    pub fn extend(&self, bytes: &[u8], out: &mut Vec<f32>) {
        match self {
            Decoder::Table8(table) => map_codes(bytes, out, |[b]: [u8; 1]| table[usize::from(b)]),
            Decoder::Bf16Shift => map_codes(bytes, out, |c: [u8; 2]| {
                f32::from_bits(u32::from(u16::from_le_bytes(c)) << 16)
            }),
            Decoder::Table16(table) => map_codes(bytes, out, |c: [u8; 2]| {
                table[usize::from(u16::from_le_bytes(c))]
            }),
            Decoder::Direct(dtype) => match dtype.storage_bits() {
                16 => map_codes(bytes, out, |c: [u8; 2]| {
                    dtype.decode_f32(u64::from(u16::from_le_bytes(c)))
                }),
                32 => map_codes(bytes, out, |c: [u8; 4]| {
                    dtype.decode_f32(u64::from(u32::from_le_bytes(c)))
                }),
                _ => map_codes(bytes, out, |c: [u8; 8]| {
                    dtype.decode_f32(u64::from_le_bytes(c))
                }),
            },
        }
    }
}

/// Appends `f` of each `N`-byte code of `bytes` to `out`, as a loop over
/// two slices (which vectorizes; `extend` from an iterator does not).
#[inline(always)]
fn map_codes<const N: usize>(bytes: &[u8], out: &mut Vec<f32>, f: impl Fn([u8; N]) -> f32) {
    let codes = bytes.as_chunks::<N>().0;
    let start = out.len();
    out.resize(start + codes.len(), 0.0);
    for (o, &c) in out[start..].iter_mut().zip(codes) {
        *o = f(c);
    }
}

/// Decodes one code per `u64` (any storage width) to f32.
pub fn decode_codes(dtype: DType, raw: &[u64]) -> Vec<f32> {
    if let Some(table) = table_16(dtype) {
        return raw.iter().map(|&b| table[(b & 0xFFFF) as usize]).collect();
    }
    if dtype.storage_bits() <= 8 && raw.len() > 1024 {
        let table = table_8(dtype);
        return raw.iter().map(|&b| table[(b & 0xFF) as usize]).collect();
    }
    raw.iter().map(|&b| dtype.decode_f32(b)).collect()
}

/// Every 8-bit code's value (built per call: 256 decodes).
fn table_8(dtype: DType) -> Vec<f32> {
    (0..256).map(|b| dtype.decode_f32(b)).collect()
}

/// Every code's value for BF16 and F16 (built once); `None` for others.
fn table_16(dtype: DType) -> Option<&'static [f32]> {
    static BF16: OnceLock<Vec<f32>> = OnceLock::new();
    static F16: OnceLock<Vec<f32>> = OnceLock::new();
    let build = || (0..1 << 16).map(|b| dtype.decode_f32(b)).collect();
    match dtype {
        DType::BF16 => Some(BF16.get_or_init(build)),
        DType::F16 => Some(F16.get_or_init(build)),
        _ => None,
    }
}

/// Whether every BF16 code decodes to the f32 with the code as its high
/// half (checked once against the table), so decoding is a shift.
fn bf16_is_shift() -> bool {
    static SHIFT: OnceLock<bool> = OnceLock::new();
    *SHIFT.get_or_init(|| {
        table_16(DType::BF16).is_some_and(|t| {
            t.iter()
                .enumerate()
                .all(|(code, v)| v.to_bits() == (code as u32) << 16)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_and_code_decoding_agree_with_decode_f32() {
        let types = [
            DType::BF16,
            DType::F16,
            DType::F32,
            DType::F8E4M3FN,
            DType::F6E3M2,
        ];
        for dtype in types {
            let width = (dtype.storage_bits() / 8) as usize;
            let codes: Vec<u64> = (0..1u64 << 16)
                .map(|c| match width {
                    1 => c & 0xFF,
                    2 => c,
                    _ => c * 65537,
                })
                .collect();
            let bytes: Vec<u8> = codes
                .iter()
                .flat_map(|c| c.to_le_bytes()[..width].to_vec())
                .collect();
            let want: Vec<u32> = codes
                .iter()
                .map(|&c| dtype.decode_f32(c).to_bits())
                .collect();
            let mut decoded = Vec::new();
            Decoder::new(dtype).extend(&bytes, &mut decoded);
            let got: Vec<u32> = decoded.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "{dtype}");
            let got: Vec<u32> = decode_codes(dtype, &codes)
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert_eq!(got, want, "{dtype}");
        }
    }
}
