//! Scalar operands of the control processor: registers, `reg + imm`
//! operands and the read-only special registers.
//!
//! Every engine instruction field that may depend on a loop (an address, a
//! stride of a kernel argument, a valid extent, a semaphore wait value) is
//! an [`Operand`]: `imm` plus an optional register, added with wrap-around
//! in 64 bits. The control processor evaluates operands when it *dispatches*
//! the instruction, so the engine sees the register values of that moment.

use std::fmt;

/// Number of scalar registers of a control processor (`r0`..`r63`).
pub const NUM_REGS: usize = 64;

/// A 64-bit scalar register `r0`..`r63` of a control processor. All
/// registers are general purpose and start at zero in every program
/// instance.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(pub u8);

impl Reg {
    /// The register's index.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// Whether the index is below [`NUM_REGS`].
    pub fn is_valid(self) -> bool {
        self.index() < NUM_REGS
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// `reg + imm` (wrapping 64-bit), or just `imm`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Operand {
    pub reg: Option<Reg>,
    pub imm: i64,
}

impl Operand {
    /// The constant `imm`.
    pub const fn imm(imm: i64) -> Operand {
        Operand { reg: None, imm }
    }

    /// The value of `reg`.
    pub const fn reg(reg: Reg) -> Operand {
        Operand {
            reg: Some(reg),
            imm: 0,
        }
    }

    /// `reg + imm`.
    pub const fn reg_plus(reg: Reg, imm: i64) -> Operand {
        Operand {
            reg: Some(reg),
            imm,
        }
    }

    /// The constant value when no register is involved.
    pub fn as_imm(&self) -> Option<i64> {
        match self.reg {
            None => Some(self.imm),
            Some(_) => None,
        }
    }

    /// Evaluates the operand against a register file (wrapping add).
    #[inline]
    pub fn eval(&self, regs: &[u64; NUM_REGS]) -> u64 {
        let base = self.reg.map_or(0, |r| regs[r.index() % NUM_REGS]);
        base.wrapping_add(self.imm as u64)
    }
}

impl From<i64> for Operand {
    fn from(imm: i64) -> Operand {
        Operand::imm(imm)
    }
}

impl From<Reg> for Operand {
    fn from(reg: Reg) -> Operand {
        Operand::reg(reg)
    }
}

impl fmt::Display for Operand {
    /// `r3`, `r3+8`, `r3-8`, `8`, `-8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.reg, self.imm) {
            (None, imm) => write!(f, "{imm}"),
            (Some(r), 0) => write!(f, "{r}"),
            (Some(r), imm) if imm < 0 => write!(f, "{r}-{}", imm.unsigned_abs()),
            (Some(r), imm) => write!(f, "{r}+{imm}"),
        }
    }
}

/// Read-only special registers (`rdspec rD, %name`).
///
/// The grid of a launch is `num_programs`; each program *instance* a tile
/// runs sees its own `pid`. Tiles are numbered globally as
/// `cluster × tiles_per_cluster + local_tile`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Special {
    /// `tl.program_id(axis)` of the running instance (axis 0..3).
    ProgramId(u8),
    /// `tl.num_programs(axis)` of the launch (axis 0..3).
    NumPrograms(u8),
    /// Global index of this tile (0 in a cluster program).
    TileId,
    /// Index of this tile's cluster.
    ClusterId,
    /// Index of this tile inside its cluster (0 in a cluster program).
    LocalTileId,
    /// How many instances this tile ran before the current one (0, 1, ...).
    Instance,
}

impl Special {
    /// Every special register, in encoding order.
    pub const ALL: [Special; 10] = [
        Special::ProgramId(0),
        Special::ProgramId(1),
        Special::ProgramId(2),
        Special::NumPrograms(0),
        Special::NumPrograms(1),
        Special::NumPrograms(2),
        Special::TileId,
        Special::ClusterId,
        Special::LocalTileId,
        Special::Instance,
    ];

    /// The assembly spelling without the `%`.
    pub fn name(self) -> &'static str {
        match self {
            Special::ProgramId(0) => "pid.x",
            Special::ProgramId(1) => "pid.y",
            Special::ProgramId(_) => "pid.z",
            Special::NumPrograms(0) => "nprog.x",
            Special::NumPrograms(1) => "nprog.y",
            Special::NumPrograms(_) => "nprog.z",
            Special::TileId => "tile",
            Special::ClusterId => "cluster",
            Special::LocalTileId => "ltile",
            Special::Instance => "instance",
        }
    }

    pub fn from_name(name: &str) -> Option<Special> {
        Special::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The binary code (index in [`Special::ALL`]).
    pub fn code(self) -> u8 {
        Special::ALL.iter().position(|&s| s == self).unwrap_or(0) as u8
    }

    pub fn from_code(code: u8) -> Option<Special> {
        Special::ALL.get(usize::from(code)).copied()
    }
}

impl fmt::Display for Special {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_print_and_evaluate() {
        let mut regs = [0u64; NUM_REGS];
        regs[3] = 100;
        let cases = [
            (Operand::imm(-8), "-8", (-8i64) as u64),
            (Operand::reg(Reg(3)), "r3", 100),
            (Operand::reg_plus(Reg(3), 8), "r3+8", 108),
            (Operand::reg_plus(Reg(3), -8), "r3-8", 92),
        ];
        for (op, text, value) in cases {
            assert_eq!(op.to_string(), text);
            assert_eq!(op.eval(&regs), value);
        }
    }

    #[test]
    fn specials_round_trip() {
        for s in Special::ALL {
            assert_eq!(Special::from_name(s.name()), Some(s));
            assert_eq!(Special::from_code(s.code()), Some(s));
        }
    }
}
