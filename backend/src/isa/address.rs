//! Memory spaces and byte addresses.
//!
//! | space | scope | holds |
//! |---|---|---|
//! | `hbm` | chip | kernel buffers (buffer `i` at `(i + 1) << 32`, the launch contract's map) |
//! | `csram` | per cluster | staging shared by a cluster's tiles (multi-banked) |
//! | `tsram` | per tile | the engines' working memory; remotely addressable by other tiles |
//! | `acc` | per tile | the TTU's fp32/i32 accumulators |
//!
//! An [`Address`] is a space, the unit (which cluster's CSRAM, which tile's
//! TSRAM; the issuer's own by default) and a byte offset [`Operand`]
//! inside that unit's memory (for HBM: the chip address).

use std::fmt;

use super::operand::Operand;

/// A memory space.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    Hbm,
    Csram,
    Tsram,
    Acc,
}

impl Space {
    pub const ALL: [Space; 4] = [Space::Hbm, Space::Csram, Space::Tsram, Space::Acc];

    pub fn name(self) -> &'static str {
        match self {
            Space::Hbm => "hbm",
            Space::Csram => "csram",
            Space::Tsram => "tsram",
            Space::Acc => "acc",
        }
    }

    pub fn from_name(name: &str) -> Option<Space> {
        Space::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Space> {
        Space::ALL.get(usize::from(code)).copied()
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which instance of a per-cluster or per-tile memory an address names.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// The issuer's own CSRAM (its cluster) or TSRAM/ACC (its tile). Always
    /// `Local` for HBM.
    Local,
    /// CSRAM of cluster `n`, or TSRAM of global tile `n` (ACC is never
    /// remote). Evaluated at dispatch like every operand.
    Remote(Operand),
}

/// A byte address: `space[@unit][offset]`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    pub space: Space,
    pub unit: Unit,
    pub offset: Operand,
}

impl Address {
    /// A local address in `space`.
    pub fn local(space: Space, offset: impl Into<Operand>) -> Address {
        Address {
            space,
            unit: Unit::Local,
            offset: offset.into(),
        }
    }

    /// `hbm[offset]`.
    pub fn hbm(offset: impl Into<Operand>) -> Address {
        Address::local(Space::Hbm, offset)
    }

    /// `tsram[offset]` of the issuing tile.
    pub fn tsram(offset: impl Into<Operand>) -> Address {
        Address::local(Space::Tsram, offset)
    }

    /// `csram[offset]` of the issuer's cluster.
    pub fn csram(offset: impl Into<Operand>) -> Address {
        Address::local(Space::Csram, offset)
    }

    /// `acc[offset]` of the issuing tile.
    pub fn acc(offset: impl Into<Operand>) -> Address {
        Address::local(Space::Acc, offset)
    }

    /// The same address `bytes` further.
    pub fn offset_by(self, bytes: i64) -> Address {
        let offset = Operand {
            reg: self.offset.reg,
            imm: self.offset.imm.wrapping_add(bytes),
        };
        Address { offset, ..self }
    }
}

impl fmt::Display for Address {
    /// `hbm[r3+64]`, `tsram@r9[0]`, `csram@2[128]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.space.name())?;
        if let Unit::Remote(unit) = self.unit {
            write!(f, "@{unit}")?;
        }
        write!(f, "[{}]", self.offset)
    }
}

/// A set of destination units of a broadcast or of a constant: clusters
/// when the memory is CSRAM, global tiles when it is TSRAM.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnitSet {
    /// Every cluster (CSRAM) or every tile of the chip (TSRAM).
    All,
    /// The issuer's own cluster (CSRAM) or every tile of the issuer's
    /// cluster (TSRAM).
    OwnCluster,
    /// Explicit cluster or global tile numbers (ascending, no duplicates).
    List(Vec<u32>),
}

impl fmt::Display for UnitSet {
    /// `all`, `cluster`, `[0,3,5]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitSet::All => f.write_str("all"),
            UnitSet::OwnCluster => f.write_str("cluster"),
            UnitSet::List(units) => {
                f.write_str("[")?;
                for (i, u) in units.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{u}")?;
                }
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::operand::Reg;

    #[test]
    fn addresses_print() {
        assert_eq!(
            Address::hbm(Operand::reg_plus(Reg(3), 64)).to_string(),
            "hbm[r3+64]"
        );
        let remote = Address {
            space: Space::Tsram,
            unit: Unit::Remote(Operand::reg(Reg(9))),
            offset: 0.into(),
        };
        assert_eq!(remote.to_string(), "tsram@r9[0]");
        assert_eq!(UnitSet::List(vec![0, 3]).to_string(), "[0,3]");
    }
}
