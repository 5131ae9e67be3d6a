//! Bit-manipulation integer ops reachable through libdevice
//! (`__nv_popc`, `__nv_clz`, `__nv_ffs`, `__nv_brev` and their 64-bit forms).

use super::int::mask;

/// Unary bit ops on a `width`-bit integer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BitUnaryOp {
    /// Number of set bits.
    PopCount,
    /// Number of leading zero bits (`width` for zero).
    LeadingZeros,
    /// One plus the index of the lowest set bit; 0 for zero (C `ffs`).
    FindFirstSet,
    /// The bits in reverse order.
    Reverse,
}

/// Evaluates a bit op on the low `width` bits of `a`; the count results are
/// returned as plain integers (the caller truncates to the result width).
pub fn bit_unary(op: BitUnaryOp, width: u32, a: u64) -> u64 {
    let a = a & mask(width);
    match op {
        BitUnaryOp::PopCount => u64::from(a.count_ones()),
        BitUnaryOp::LeadingZeros => u64::from(a.leading_zeros() - (64 - width)),
        BitUnaryOp::FindFirstSet if a == 0 => 0,
        BitUnaryOp::FindFirstSet => u64::from(a.trailing_zeros() + 1),
        BitUnaryOp::Reverse => a.reverse_bits() >> (64 - width),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_ops() {
        assert_eq!(
            bit_unary(BitUnaryOp::PopCount, 32, 0xFFFF_FFFF_0000_000F),
            4
        );
        assert_eq!(bit_unary(BitUnaryOp::LeadingZeros, 32, 1), 31);
        assert_eq!(bit_unary(BitUnaryOp::LeadingZeros, 32, 0), 32);
        assert_eq!(bit_unary(BitUnaryOp::LeadingZeros, 64, 0), 64);
        assert_eq!(bit_unary(BitUnaryOp::FindFirstSet, 32, 0), 0);
        assert_eq!(bit_unary(BitUnaryOp::FindFirstSet, 32, 8), 4);
        assert_eq!(bit_unary(BitUnaryOp::Reverse, 32, 1), 0x8000_0000);
        assert_eq!(bit_unary(BitUnaryOp::Reverse, 8, 0b0000_0110), 0b0110_0000);
    }
}
