//! Control-processor (CP) instructions: scalar arithmetic, kernel
//! arguments, scalar loads/stores of TSRAM/CSRAM, branches, a counted loop,
//! barriers, traps and halt.
//!
//! The CP executes its own instructions in order, one at a time; engine
//! instructions it meets are *dispatched* (operands evaluated, then pushed
//! onto the engine's queue — the CP stalls while the queue is full).
//! Integer semantics are [`maiac_ir::semantics::int`] at 64 bits: division
//! by zero gives all ones, remainder by zero the dividend, `INT_MIN / −1`
//! is `INT_MIN`, shifts by ≥ 64 give 0 (or the sign fill for `ashr`).

use std::fmt;

use maiac_ir::semantics::int::{cmp_int, int_binary, IntBinaryOp, IntPredicate};

use super::address::Address;
use super::operand::{Operand, Reg, Special};
use super::sync::BarrierScope;

/// A branch target: an instruction index in the same program.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(pub u32);

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

/// 64-bit ALU operations; compares produce 0 or 1.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    MulHiS,
    MulHiU,
    DivS,
    DivU,
    RemS,
    RemU,
    And,
    Or,
    Xor,
    Shl,
    LShr,
    AShr,
    MinS,
    MinU,
    MaxS,
    MaxU,
    Eq,
    Ne,
    LtS,
    LeS,
    GtS,
    GeS,
    LtU,
    LeU,
    GtU,
    GeU,
}

impl AluOp {
    pub const ALL: [AluOp; 29] = {
        use AluOp::*;
        [
            Add, Sub, Mul, MulHiS, MulHiU, DivS, DivU, RemS, RemU, And, Or, Xor, Shl, LShr, AShr,
            MinS, MinU, MaxS, MaxU, Eq, Ne, LtS, LeS, GtS, GeS, LtU, LeU, GtU, GeU,
        ]
    };

    pub fn name(self) -> &'static str {
        use AluOp::*;
        match self {
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            MulHiS => "mulhs",
            MulHiU => "mulhu",
            DivS => "divs",
            DivU => "divu",
            RemS => "rems",
            RemU => "remu",
            And => "and",
            Or => "or",
            Xor => "xor",
            Shl => "shl",
            LShr => "lshr",
            AShr => "ashr",
            MinS => "mins",
            MinU => "minu",
            MaxS => "maxs",
            MaxU => "maxu",
            Eq => "seq",
            Ne => "sne",
            LtS => "slts",
            LeS => "sles",
            GtS => "sgts",
            GeS => "sges",
            LtU => "sltu",
            LeU => "sleu",
            GtU => "sgtu",
            GeU => "sgeu",
        }
    }

    pub fn from_name(name: &str) -> Option<AluOp> {
        AluOp::ALL.into_iter().find(|o| o.name() == name)
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<AluOp> {
        AluOp::ALL.get(usize::from(code)).copied()
    }

    /// Evaluates the op on two 64-bit values (total).
    #[inline]
    pub fn eval(self, a: u64, b: u64) -> u64 {
        use AluOp::*;
        let int = |op| int_binary(op, 64, a, b);
        let cmp = |pred| u64::from(cmp_int(pred, 64, a, b));
        match self {
            Add => int(IntBinaryOp::Add),
            Sub => int(IntBinaryOp::Sub),
            Mul => int(IntBinaryOp::Mul),
            MulHiS => int(IntBinaryOp::MulHiS),
            MulHiU => int(IntBinaryOp::MulHiU),
            DivS => int(IntBinaryOp::DivS),
            DivU => int(IntBinaryOp::DivU),
            RemS => int(IntBinaryOp::RemS),
            RemU => int(IntBinaryOp::RemU),
            And => int(IntBinaryOp::And),
            Or => int(IntBinaryOp::Or),
            Xor => int(IntBinaryOp::Xor),
            Shl => int(IntBinaryOp::Shl),
            LShr => int(IntBinaryOp::ShrU),
            AShr => int(IntBinaryOp::ShrS),
            MinS => int(IntBinaryOp::MinS),
            MinU => int(IntBinaryOp::MinU),
            MaxS => int(IntBinaryOp::MaxS),
            MaxU => int(IntBinaryOp::MaxU),
            Eq => cmp(IntPredicate::Eq),
            Ne => cmp(IntPredicate::Ne),
            LtS => cmp(IntPredicate::Slt),
            LeS => cmp(IntPredicate::Sle),
            GtS => cmp(IntPredicate::Sgt),
            GeS => cmp(IntPredicate::Sge),
            LtU => cmp(IntPredicate::Ult),
            LeU => cmp(IntPredicate::Ule),
            GtU => cmp(IntPredicate::Ugt),
            GeU => cmp(IntPredicate::Uge),
        }
    }
}

impl fmt::Display for AluOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Width of a scalar load/store: 1, 2, 4 or 8 bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MemWidth {
    B1,
    B2,
    B4,
    B8,
}

impl MemWidth {
    pub const ALL: [MemWidth; 4] = [MemWidth::B1, MemWidth::B2, MemWidth::B4, MemWidth::B8];

    pub fn bytes(self) -> u32 {
        match self {
            MemWidth::B1 => 1,
            MemWidth::B2 => 2,
            MemWidth::B4 => 4,
            MemWidth::B8 => 8,
        }
    }

    pub fn from_bytes(bytes: u32) -> Option<MemWidth> {
        MemWidth::ALL.into_iter().find(|w| w.bytes() == bytes)
    }
}

/// A control-processor instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CpOp {
    /// `mov rD, op`: `rD = op` (covers load-immediate and register moves).
    Mov {
        dst: Reg,
        src: Operand,
    },
    /// `alu rD, rA, op`: `rD = rA <op> b`.
    Alu {
        op: AluOp,
        dst: Reg,
        a: Reg,
        b: Operand,
    },
    /// `select rD, rC, a, b`: `rD = rC != 0 ? a : b`.
    Select {
        dst: Reg,
        cond: Reg,
        a: Operand,
        b: Operand,
    },
    /// `rdspec rD, %name`.
    ReadSpecial {
        dst: Reg,
        special: Special,
    },
    /// `arg rD, i`: kernel argument `i` — a pointer's HBM address, a
    /// scalar's bits (integers sign-extended to 64 bits, `i1` as 0/1, floats
    /// zero-extended raw bits).
    Arg {
        dst: Reg,
        index: u16,
    },
    /// `ld.wN[s|u] rD, addr`: little-endian load of `width` bytes from
    /// TSRAM/CSRAM (local or remote), sign- or zero-extended.
    Load {
        dst: Reg,
        addr: Address,
        width: MemWidth,
        signed: bool,
    },
    /// `st.wN rS, addr`: stores the low `width` bytes of `rS`.
    Store {
        src: Reg,
        addr: Address,
        width: MemWidth,
    },
    /// Unconditional jump.
    Jump {
        target: Label,
    },
    /// `bnz rC, L` (`if_zero = false`) / `bz rC, L` (`if_zero = true`).
    Branch {
        cond: Reg,
        if_zero: bool,
        target: Label,
    },
    /// Counted loop back-edge: `rC -= 1; if rC > 0 (signed) goto target`.
    Loop {
        counter: Reg,
        target: Label,
    },
    /// Waits until every engine queue of this tile (or the cluster DMA, in
    /// a cluster program) is empty and idle.
    Fence,
    /// Fence, then wait until every participant reached its matching
    /// barrier (the n-th barrier of each participant matches).
    Barrier {
        scope: BarrierScope,
    },
    /// Stops the launch with an error carrying `code` (device assertions).
    Trap {
        code: u32,
    },
    /// Fence, then end this program instance.
    Halt,
    Nop,
}

impl CpOp {
    /// The assembly mnemonic.
    pub fn mnemonic(&self) -> String {
        match self {
            CpOp::Mov { .. } => "mov".into(),
            CpOp::Alu { op, .. } => op.name().into(),
            CpOp::Select { .. } => "select".into(),
            CpOp::ReadSpecial { .. } => "rdspec".into(),
            CpOp::Arg { .. } => "arg".into(),
            CpOp::Load { width, signed, .. } => {
                format!("ld.w{}{}", width.bytes(), if *signed { "s" } else { "u" })
            }
            CpOp::Store { width, .. } => format!("st.w{}", width.bytes()),
            CpOp::Jump { .. } => "jump".into(),
            CpOp::Branch { if_zero: true, .. } => "bz".into(),
            CpOp::Branch { if_zero: false, .. } => "bnz".into(),
            CpOp::Loop { .. } => "loop".into(),
            CpOp::Fence => "fence".into(),
            CpOp::Barrier { .. } => "barrier".into(),
            CpOp::Trap { .. } => "trap".into(),
            CpOp::Halt => "halt".into(),
            CpOp::Nop => "nop".into(),
        }
    }

    /// The branch target, if the instruction can branch.
    pub fn target(&self) -> Option<Label> {
        match self {
            CpOp::Jump { target } | CpOp::Branch { target, .. } | CpOp::Loop { target, .. } => {
                Some(*target)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alu_is_total_and_named() {
        assert_eq!(AluOp::DivS.eval(5, 0), u64::MAX);
        assert_eq!(AluOp::RemU.eval(5, 0), 5);
        assert_eq!(AluOp::Shl.eval(1, 64), 0);
        assert_eq!(AluOp::AShr.eval(u64::MAX, 100), u64::MAX);
        assert_eq!(AluOp::LtS.eval(u64::MAX, 0), 1);
        assert_eq!(AluOp::LtU.eval(u64::MAX, 0), 0);
        for op in AluOp::ALL {
            assert_eq!(AluOp::from_name(op.name()), Some(op));
            assert_eq!(AluOp::from_code(op.code()), Some(op));
        }
    }
}
