//! The exact scalar semantics of every TTIR elementwise op, in one place.
//!
//! Values are raw bits in a `u64` at their type's width (upper bits zero):
//! integers in two's complement, floats in their storage encoding, pointers
//! as byte addresses. The reference interpreter and the emulator's vector
//! unit both evaluate elementwise ops through this module, so they agree bit
//! for bit. `docs/semantics.md` is the user-facing version of these rules.
//!
//! - [`int`]: two's-complement integer ops, with every LLVM-undefined case
//!   given a total definition (RISC-V style: `x / 0` = all ones, `x % 0` = x,
//!   `INT_MIN / -1` = INT_MIN, over-wide shifts give 0 or the sign fill).
//! - [`float`]: IEEE arithmetic (f32/f64 native; narrow types in f32 then
//!   rounded once), `libm` transcendentals (platform-independent), NaN
//!   results canonicalized, min/max NaN rules, `cmpf`, `fma`, `clampf`.
//! - [`convert`]: float ↔ float (nearest even or toward zero, through
//!   [`crate::numerics`]), int ↔ float (nearest even; saturating toward
//!   zero, NaN → 0).
//! - [`directed`]: `+ − × ÷ √ 1/x` rounded toward zero, −∞ or +∞ (the
//!   libdevice `_rz`/`_rd`/`_ru` functions), exact via error-free transforms.
//! - [`mx`]: OCP MX element (FP4/FP6/FP8) and E8M0 scale decoding.
//! - [`bits`]: popcount, clz, ffs, bit reverse (for libdevice).
//! - [`elementwise`]: [`ElementwiseOp`], an op resolved against its types,
//!   evaluated per element; [`libdevice`] maps `tt.extern_elementwise`
//!   symbols onto it.

pub mod bits;
pub mod convert;
pub mod directed;
pub mod elementwise;
pub mod float;
pub mod int;
pub mod libdevice;
pub mod mx;

pub use convert::Rounding;
pub use elementwise::{float_class, ElementwiseOp, FloatClass, ScalarKind};
pub use float::{FloatBinaryOp, FloatIntOp, FloatPredicate, FloatUnaryOp};
pub use int::{IntBinaryOp, IntPredicate};
