//! Packing of FP4 element codes, two per byte.
//!
//! Element `2i` goes in the low nibble of byte `i`, element `2i + 1` in
//! the high nibble (Triton's `tt.dot_scaled` e2m1 layout). FP8 and FP6 codes
//! are not packed: one code per byte, FP6 in the low 6 bits.

/// Packs FP4 codes (low 4 bits of each byte) two per byte; an odd count
/// leaves the last high nibble zero.
pub fn pack_fp4(codes: &[u8]) -> Vec<u8> {
    codes
        .chunks(2)
        .map(|pair| (pair[0] & 0xF) | (pair.get(1).map_or(0, |high| high & 0xF) << 4))
        .collect()
}

/// Unpacks bytes into two FP4 codes each, low nibble first.
pub fn unpack_fp4(packed: &[u8]) -> Vec<u8> {
    packed
        .iter()
        .flat_map(|&byte| [byte & 0xF, byte >> 4])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nibble_order() {
        assert_eq!(pack_fp4(&[0x1, 0x2, 0x3, 0xF]), [0x21, 0xF3]);
        assert_eq!(pack_fp4(&[0x7]), [0x07]);
        assert_eq!(
            pack_fp4(&[0xA5, 0x5A]),
            [0xA5],
            "only the low nibble of each code counts"
        );
        assert_eq!(unpack_fp4(&[0x21, 0xF3]), [0x1, 0x2, 0x3, 0xF]);
        let codes: Vec<u8> = (0..16).collect();
        assert_eq!(unpack_fp4(&pack_fp4(&codes)), codes);
    }
}
