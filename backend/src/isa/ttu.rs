//! TTU (tile tensor unit) instructions: matrix multiply into accumulators,
//! and draining accumulators to TSRAM through an optional epilogue.
//!
//! # Matmul numerics (equal to the reference interpreter's `tt.dot`)
//!
//! For each output element `(m, n)`, with `a(m, k)` and `b(k, n)` the
//! logical operand elements:
//!
//! ```text
//! acc = accumulate ? out[m, n] : +0
//! for k in 0..K:            // sequential, k ascending
//!     acc = fl32(acc + fl32(A(m, k) × B(k, n)))     // no fused multiply-add
//! out[m, n] = acc
//! ```
//!
//! where `A(m, k) = decode_f32(a(m, k))` — exact for every input format — or,
//! with an MX scale, `fl32(decode(a(m, k)) × 2^(scale(m, k / 32) − 127))`
//! (likewise `B`). Integer matmuls (`i8 × i8 → i32`) sum exact products
//! with wrap-around at 32 bits. Float and integer operands cannot be mixed;
//! any two float formats can.
//!
//! # Operand layout
//!
//! Row-major with a row stride in elements: A is stored `[M, K]` (or
//! `[K, M]` when `transposed`), B `[K, N]` (or `[N, K]` when `transposed`),
//! the output `[M, N]`. Packed FP4 rows count nibbles (low nibble first),
//! so packing is always along the stored row. A's scales are stored
//! `[M, K/32]`, B's `[N, K/32]`, E8M0 bytes with their own row stride.

use super::address::Address;
use super::dtype::DType;
use super::micro::MicroId;
use super::tvp::MapInput;
use super::view::View;

/// E8M0 block scales of a matmul operand (one per 32 elements along K).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScaleOperand {
    pub addr: Address,
    /// Row stride in bytes (= E8M0 elements).
    pub row_stride: u32,
}

/// One matmul operand in TSRAM.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct MatOperand {
    pub addr: Address,
    pub dtype: DType,
    /// Elements between consecutive stored rows.
    pub row_stride: u32,
    /// Stored transposed (`[K, M]` for A, `[N, K]` for B).
    pub transposed: bool,
    pub scale: Option<ScaleOperand>,
}

impl MatOperand {
    /// Element offset of stored `(row, col)`.
    pub fn element_offset(&self, row: u32, col: u32) -> u64 {
        u64::from(row) * u64::from(self.row_stride) + u64::from(col)
    }

    /// Element offset of a *logical* element: `(m, k)` of A or `(k, n)` of
    /// B, swapping the coordinates when the operand is stored transposed.
    pub fn logical_offset(&self, row: u32, col: u32) -> u64 {
        if self.transposed {
            self.element_offset(col, row)
        } else {
            self.element_offset(row, col)
        }
    }
}

/// `out[M, N] (+)= A[M, K] × B[K, N]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Matmul {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub a: MatOperand,
    pub b: MatOperand,
    /// ACC (or TSRAM) address of the output tile.
    pub out: Address,
    /// `f32` for float operands, `i32` for `i8` operands.
    pub out_dtype: DType,
    /// Elements between consecutive output rows.
    pub out_row_stride: u32,
    /// Add to the existing output instead of starting from zero.
    pub accumulate: bool,
}

impl Matmul {
    /// Multiply-accumulates performed.
    pub fn macs(&self) -> u64 {
        u64::from(self.m) * u64::from(self.n) * u64::from(self.k)
    }
}

/// The epilogue of a drain: a micro-program whose input 0 is the
/// accumulator element and whose further inputs are `extra`; one output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Epilogue {
    pub program: MicroId,
    pub extra: Vec<MapInput>,
}

/// Drain: `dst[i] = epilogue(src[i], extra[i]...)`, or without an
/// epilogue `dst[i] = cast(src[i])` ([`crate::isa::LaneOp::cast`]). `src` is
/// usually an ACC view, `dst` a TSRAM view of the same shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Drain {
    pub src: View,
    pub dst: View,
    pub epilogue: Option<Epilogue>,
}

/// A TTU engine instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TtuOp {
    Matmul(Matmul),
    Drain(Drain),
}

impl TtuOp {
    pub fn mnemonic(&self) -> &'static str {
        match self {
            TtuOp::Matmul(_) => "ttu.matmul",
            TtuOp::Drain(_) => "ttu.drain",
        }
    }
}

/// The TTU precision class of an operand pair, which selects the
/// MACs-per-cycle figure of the machine: the *wider* of the two formats.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TtuPrecision {
    Fp4,
    Fp6,
    Fp8,
    Int8,
    Bf16,
    Fp32,
}

impl TtuPrecision {
    /// The class of one format; `None` if the TTU cannot read it.
    pub fn of(dtype: DType) -> Option<TtuPrecision> {
        Some(match dtype {
            DType::F4E2M1 => TtuPrecision::Fp4,
            DType::F6E2M3 | DType::F6E3M2 => TtuPrecision::Fp6,
            DType::F8E4M3FN | DType::F8E5M2 | DType::F8E4M3FNUZ | DType::F8E5M2FNUZ => {
                TtuPrecision::Fp8
            }
            DType::I8 => TtuPrecision::Int8,
            DType::BF16 | DType::F16 => TtuPrecision::Bf16,
            DType::F32 => TtuPrecision::Fp32,
            _ => return None,
        })
    }

    /// The class of a matmul (the slower of its two operands).
    pub fn of_pair(a: DType, b: DType) -> Option<TtuPrecision> {
        Some(TtuPrecision::of(a)?.max(TtuPrecision::of(b)?))
    }

    pub fn name(self) -> &'static str {
        match self {
            TtuPrecision::Fp4 => "fp4",
            TtuPrecision::Fp6 => "fp6",
            TtuPrecision::Fp8 => "fp8",
            TtuPrecision::Int8 => "int8",
            TtuPrecision::Bf16 => "bf16",
            TtuPrecision::Fp32 => "fp32",
        }
    }
}
