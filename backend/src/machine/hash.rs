//! The stable machine hash: FNV-1a (64-bit) of the description's canonical
//! TOML serialization (fields in declaration order, `toml`'s number
//! formatting). Comments and key order of the source file do not matter;
//! any figure that changes does.

use super::Machine;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

impl Machine {
    /// The machine hash recorded in binaries.
    pub fn hash(&self) -> u64 {
        fnv1a(self.to_toml().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::builtin;

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn hash_ignores_formatting_but_not_figures() {
        let m = builtin("tiny").unwrap();
        let reparsed = Machine::from_toml(&m.to_toml(), "x").unwrap();
        assert_eq!(reparsed.hash(), m.hash());
        let mut changed = m.clone();
        changed.hbm.latency_cycles += 1;
        assert_ne!(changed.hash(), m.hash());
        assert_ne!(builtin("maia200-like").unwrap().hash(), m.hash());
    }
}
