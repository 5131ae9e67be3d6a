//! DMA instructions (tile DMA engine and cluster DMA engine).
//!
//! - [`StridedCopy`]: up to 4 dimensions, element strides for source and
//!   destination (operands, so kernel-argument strides work), per-dimension
//!   *valid* extents with a fill value for the destination elements outside
//!   the valid box — how `tl.load(..., mask=offs < n, other=x)` lowers.
//! - Broadcast: one strided copy read once and written to the same offset
//!   in many clusters' CSRAM or tiles' TSRAM.
//! - [`Gather`] / [`Scatter`]: per-element HBM byte addresses from a TSRAM
//!   `i64` tensor, optional TSRAM `i8` mask (`byte != 0` means active).
//! - [`Atomic`]: element-wise read-modify-write on HBM with the old values
//!   returned to TSRAM, in element order.
//!
//! Every HBM access is bounds-checked against the kernel's buffers by the
//! emulator; masked-off and out-of-valid-box elements are never accessed.

use std::fmt;

use maiac_ir::semantics::float::{float_binary, FloatBinaryOp};
use maiac_ir::semantics::int::{int_binary, IntBinaryOp};

use super::address::{Address, UnitSet};
use super::dtype::DType;
use super::operand::Operand;

/// One dimension of a strided copy.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct DmaDim {
    /// Number of elements along the dimension (in the destination box).
    pub extent: u32,
    /// Source stride, in elements.
    pub src_stride: Operand,
    /// Destination stride, in elements.
    pub dst_stride: Operand,
    /// Elements with an index ≥ `valid` along this dimension are not read;
    /// the destination gets the fill value. Evaluated as a signed value and
    /// clamped to `0..=extent`. `None` means the whole extent.
    pub valid: Option<Operand>,
    /// Elements with an index < `start` are not read either (a box that
    /// begins inside the tile, e.g. a block pointer at a negative offset).
    /// Signed, clamped to `0..=extent`; `None` means 0.
    pub start: Option<Operand>,
}

/// A strided copy of up to 4 dimensions (dimension 0 outermost).
///
/// For every index `i` of the box `extent[0] × … × extent[r−1]` (row-major
/// order): if `start[d] ≤ i[d] < valid[d]` for every `d`, copy the element at
/// `src + Σ i[d]·src_stride[d]` to `dst + Σ i[d]·dst_stride[d]`; otherwise
/// write `fill` (raw bits of `dtype`) there, or — without a fill — leave
/// the destination element untouched (a masked store).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StridedCopy {
    pub dtype: DType,
    pub src: Address,
    pub dst: Address,
    pub dims: Vec<DmaDim>,
    /// Raw bits written where the valid box excludes an element; `None`
    /// skips those elements (neither read nor written).
    pub fill: Option<u64>,
}

impl StridedCopy {
    /// Elements in the box.
    pub fn num_elements(&self) -> u64 {
        self.dims.iter().map(|d| u64::from(d.extent)).product()
    }

    /// Bytes written to the destination.
    pub fn bytes(&self) -> u64 {
        self.dtype.bytes_for(self.num_elements())
    }

    /// Whether any dimension has a valid extent (so a fill may be written).
    pub fn is_partial(&self) -> bool {
        self.dims
            .iter()
            .any(|d| d.valid.is_some() || d.start.is_some())
    }
}

/// `dst[i] = mask[i] ? *(dtype*)addrs[i] : fill` for `i < count`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Gather {
    pub dtype: DType,
    pub count: u32,
    /// TSRAM tensor of `count` `i64` byte addresses into HBM.
    pub addrs: Address,
    /// Optional TSRAM tensor of `count` `i8` flags.
    pub mask: Option<Address>,
    /// Contiguous TSRAM destination of `count` elements.
    pub dst: Address,
    pub fill: u64,
}

/// `if mask[i] { *(dtype*)addrs[i] = src[i] }` for `i < count`, in order
/// (a later element wins when two addresses coincide).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scatter {
    pub dtype: DType,
    pub count: u32,
    pub addrs: Address,
    pub mask: Option<Address>,
    /// Contiguous TSRAM source of `count` elements.
    pub src: Address,
}

/// Read-modify-write kinds (`tt.atomic_rmw` ops, plus `cas`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AtomicKind {
    /// Integer or float addition.
    Add,
    /// Signed integer max; `maxnumf` on floats.
    Max,
    /// Signed integer min; `minnumf` on floats.
    Min,
    UMax,
    UMin,
    And,
    Or,
    Xor,
    /// Exchange: store the new value.
    Xchg,
    /// Compare and swap: store the value when the old bits equal the
    /// compare bits (raw bit equality).
    Cas,
}

impl AtomicKind {
    pub const ALL: [AtomicKind; 10] = [
        AtomicKind::Add,
        AtomicKind::Max,
        AtomicKind::Min,
        AtomicKind::UMax,
        AtomicKind::UMin,
        AtomicKind::And,
        AtomicKind::Or,
        AtomicKind::Xor,
        AtomicKind::Xchg,
        AtomicKind::Cas,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AtomicKind::Add => "add",
            AtomicKind::Max => "max",
            AtomicKind::Min => "min",
            AtomicKind::UMax => "umax",
            AtomicKind::UMin => "umin",
            AtomicKind::And => "and",
            AtomicKind::Or => "or",
            AtomicKind::Xor => "xor",
            AtomicKind::Xchg => "xchg",
            AtomicKind::Cas => "cas",
        }
    }

    pub fn from_name(name: &str) -> Option<AtomicKind> {
        AtomicKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<AtomicKind> {
        AtomicKind::ALL.get(usize::from(code)).copied()
    }

    /// Whether the kind is defined on `dtype`: every kind on integers;
    /// `add`, `max`, `min`, `xchg` and `cas` on the arithmetic float types.
    pub fn supports(self, dtype: DType) -> bool {
        if dtype.is_int() {
            return true;
        }
        dtype.float_type().is_some()
            && matches!(
                self,
                AtomicKind::Add
                    | AtomicKind::Max
                    | AtomicKind::Min
                    | AtomicKind::Xchg
                    | AtomicKind::Cas
            )
    }

    /// The value stored given the `old` memory bits, the operand `value`
    /// and (for `cas`) the `compare` bits — the same functions as the
    /// reference interpreter's atomics. Kinds a type does not support
    /// (see [`AtomicKind::supports`]) leave memory unchanged.
    pub fn apply(self, dtype: DType, old: u64, value: u64, compare: u64) -> u64 {
        let mask = dtype.value_mask();
        let (old, value) = (old & mask, value & mask);
        match self {
            AtomicKind::Xchg => return value,
            AtomicKind::Cas => return if old == compare & mask { value } else { old },
            _ => {}
        }
        if let Some(ty) = dtype.float_type() {
            let op = match self {
                AtomicKind::Add => FloatBinaryOp::Add,
                AtomicKind::Max => FloatBinaryOp::MaxNum,
                AtomicKind::Min => FloatBinaryOp::MinNum,
                _ => return old,
            };
            return float_binary(op, ty, old, value);
        }
        let Some(width) = dtype.int_width() else {
            return old;
        };
        let op = match self {
            AtomicKind::Add => IntBinaryOp::Add,
            AtomicKind::Max => IntBinaryOp::MaxS,
            AtomicKind::Min => IntBinaryOp::MinS,
            AtomicKind::UMax => IntBinaryOp::MaxU,
            AtomicKind::UMin => IntBinaryOp::MinU,
            AtomicKind::And => IntBinaryOp::And,
            AtomicKind::Or => IntBinaryOp::Or,
            AtomicKind::Xor => IntBinaryOp::Xor,
            AtomicKind::Xchg | AtomicKind::Cas => return old,
        };
        int_binary(op, width, old, value)
    }
}

impl fmt::Display for AtomicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Element-wise atomics on HBM, element `0` first: for each active `i`,
/// `old[i] = *addrs[i]; *addrs[i] = kind.apply(old[i], values[i], compare[i])`.
/// Masked-off elements touch no memory and return 0 in `old`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Atomic {
    pub kind: AtomicKind,
    pub dtype: DType,
    pub count: u32,
    /// TSRAM tensor of `count` `i64` HBM byte addresses.
    pub addrs: Address,
    /// TSRAM tensor of `count` operand values.
    pub values: Address,
    /// TSRAM tensor of `count` compare values (`cas` only).
    pub compare: Option<Address>,
    pub mask: Option<Address>,
    /// TSRAM destination of the `count` old values, if wanted.
    pub old: Option<Address>,
}

/// A DMA engine instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DmaOp {
    /// A strided copy between any two spaces.
    Copy(StridedCopy),
    /// A strided copy read once and written to every unit of `to`; the
    /// destination address must be local (its offset is used in each unit).
    Broadcast {
        copy: StridedCopy,
        to: UnitSet,
    },
    Gather(Gather),
    Scatter(Scatter),
    Atomic(Atomic),
}

impl DmaOp {
    /// The assembly mnemonic.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            DmaOp::Copy(_) => "dma.copy",
            DmaOp::Broadcast { .. } => "dma.bcast",
            DmaOp::Gather(_) => "dma.gather",
            DmaOp::Scatter(_) => "dma.scatter",
            DmaOp::Atomic(_) => "dma.atomic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomics_match_the_interpreter_rules() {
        let f = |x: f32| u64::from(x.to_bits());
        assert_eq!(AtomicKind::Add.apply(DType::F32, f(1.5), f(2.0), 0), f(3.5));
        assert_eq!(
            AtomicKind::Max.apply(DType::F32, f(f32::NAN), f(2.0), 0),
            f(2.0)
        );
        assert_eq!(AtomicKind::Max.apply(DType::I32, 0xFFFF_FFFF, 1, 0), 1);
        assert_eq!(
            AtomicKind::UMax.apply(DType::I32, 0xFFFF_FFFF, 1, 0),
            0xFFFF_FFFF
        );
        assert_eq!(AtomicKind::Cas.apply(DType::I32, 5, 9, 5), 9);
        assert_eq!(AtomicKind::Cas.apply(DType::I32, 5, 9, 4), 5);
        assert!(!AtomicKind::And.supports(DType::F32));
        for k in AtomicKind::ALL {
            assert_eq!(AtomicKind::from_name(k.name()), Some(k));
            assert_eq!(AtomicKind::from_code(k.code()), Some(k));
        }
    }
}
