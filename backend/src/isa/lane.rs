//! Lane ops: the scalar operations of TVP micro-programs, and THE
//! definition of what each computes on raw bits.
//!
//! A lane value is raw bits in a `u64` at its type's value width (upper bits
//! zero): integers in two's complement, floats in their storage encoding,
//! pointers as 64-bit byte addresses. Every op is *total*: no input panics
//! or is undefined.
//!
//! The arithmetic is not re-implemented here: each op delegates to
//! [`maiac_ir::semantics`], the module the reference interpreter evaluates
//! TTIR elementwise ops with, so a lane op and the TTIR op it lowers from
//! agree bit for bit ([`LaneOp::from_elementwise`] is that lowering). The
//! rules, in short (docs/semantics.md and docs/isa.md have the full tables):
//!
//! - integers wrap at their width; `x / 0` is all ones (−1), `x % 0` is `x`,
//!   `INT_MIN / −1` is `INT_MIN`, `INT_MIN % −1` is 0; shifts by ≥ width give
//!   0 (`shl`, `shru`) or the sign fill (`shrs`);
//! - floats: IEEE arithmetic (narrow formats computed in f32, rounded once),
//!   transcendentals from the pure-Rust `libm` crate, canonical quiet NaN
//!   results, `maximumf`/`minimumf` NaN-propagating and `maxnumf`/`minnumf`
//!   NaN-ignoring with `−0 < +0`;
//! - conversions round to nearest even (or toward zero when asked);
//!   `fptosi`/`fptoui` truncate, saturate to the integer range and map NaN
//!   to 0 (Rust's `as`);
//! - conversions *to* the OCP MX storage formats (FP6, FP4, E8M0) use
//!   [`maiac_ir::numerics`] (nearest even, saturating to the format's max
//!   normal; see that module), from them decode exactly.
//! - `sigmoid(x)` is exactly `1 / (1 + exp(−x))` evaluated op by op in the
//!   type's semantics, so fusing that TTIR pattern into it is bit-exact.

use std::fmt;

use maiac_ir::semantics::bits::{bit_unary, BitUnaryOp};
use maiac_ir::semantics::convert::{
    self, convert_float, f64_to_float_bits, f64_to_float_bits_rounded, IntRounding, Rounding,
};
use maiac_ir::semantics::directed::{DirectedOp, Direction};
use maiac_ir::semantics::float::{self, FloatBinaryOp, FloatIntOp, FloatPredicate, FloatUnaryOp};
use maiac_ir::semantics::int::{self, IntBinaryOp, IntPredicate};
use maiac_ir::semantics::{ElementwiseOp, FloatClass};
use maiac_ir::FloatType;

use super::dtype::DType;

/// One scalar operation of a micro-program. Widths are integer widths in
/// bits (1, 8, 16, 32 or 64).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum LaneOp {
    /// `(a, b) → a op b` on `width`-bit integers.
    Int { op: IntBinaryOp, width: u32 },
    /// `|a|` (`INT_MIN` stays `INT_MIN`).
    IntAbs { width: u32 },
    /// popcount / clz / ffs / bit reverse, result truncated to `result_width`.
    Bit {
        op: BitUnaryOp,
        width: u32,
        result_width: u32,
    },
    /// Integer compare → `i1`.
    IntCmp { pred: IntPredicate, width: u32 },
    /// `(a, b) → a op b` on floats.
    Float { op: FloatBinaryOp, ty: FloatType },
    /// `a → op(a)` on floats (neg, abs, exp, log, sqrt, rsqrt, recip, tanh, erf, floor, ...).
    FloatUnary { op: FloatUnaryOp, ty: FloatType },
    /// `(a, n) → op(a, n)`: a float and a `width`-bit integer (`ldexpf`,
    /// `powif`).
    FloatInt {
        op: FloatIntOp,
        ty: FloatType,
        width: u32,
    },
    /// `1 / (1 + exp(−a))`, each step rounded in `ty`.
    Sigmoid { ty: FloatType },
    /// Float compare (all 16 predicates) → `i1`.
    FloatCmp { pred: FloatPredicate, ty: FloatType },
    /// isnan / isinf / isfinite / signbit → 0/1 at `result_width`.
    FloatClass {
        class: FloatClass,
        ty: FloatType,
        result_width: u32,
    },
    /// `a × b + c` with one rounding.
    Fma { ty: FloatType },
    /// `(x, lo, hi) → min(max(x, lo), hi)`, NaN-propagating or not.
    Clamp { ty: FloatType, propagate_nan: bool },
    /// `(cond: i1, a, b) → cond ? a : b` (bits moved unchanged).
    Select { ty: DType },
    /// Sign extension `from → to` bits.
    ExtSigned { from: u32, to: u32 },
    /// Zero extension `from → to` bits.
    ExtUnsigned { from: u32, to: u32 },
    /// Truncation `from → to` bits.
    Trunc { from: u32, to: u32 },
    /// `sitofp` / `uitofp` (nearest even).
    IntToFloat {
        width: u32,
        signed: bool,
        to: FloatType,
    },
    /// `fptosi` / `fptoui` (toward zero, saturating, NaN → 0), or with the
    /// integer picked by another `rounding` (libdevice `float2int_rn`, …).
    FloatToInt {
        from: FloatType,
        width: u32,
        signed: bool,
        rounding: IntRounding,
    },
    /// Float format conversion, including to and from FP6/FP4/E8M0.
    Convert {
        from: DType,
        to: DType,
        rounding: Rounding,
    },
    /// `(ptr: i64, offset: i<offset_width>) → ptr + sext(offset) × elem_size`.
    AddPtr { offset_width: u32, elem_size: u64 },
    /// Reinterprets bits between two types of one value width.
    Bitcast { from: DType, to: DType },
}

impl LaneOp {
    /// The lowering of a resolved TTIR elementwise op (what the reference
    /// interpreter evaluates) to the lane op computing the same bits.
    /// `operand_types`/`result_type` are the element types of the TTIR op
    /// (needed for the ops whose resolved form forgets them: `select`,
    /// extensions, bitcasts). `None` when a type has no machine counterpart.
    pub fn from_elementwise(
        op: ElementwiseOp,
        operand_types: &[DType],
        result_type: DType,
    ) -> Option<LaneOp> {
        use ElementwiseOp as E;
        let int_width = |t: DType| t.int_width();
        Some(match op {
            E::Int { op, width } => LaneOp::Int { op, width },
            E::IntAbs { width } => LaneOp::IntAbs { width },
            E::Bit {
                op,
                width,
                result_width,
            } => LaneOp::Bit {
                op,
                width,
                result_width,
            },
            E::IntCmp { pred, width } => LaneOp::IntCmp { pred, width },
            E::Float { op, ty } => LaneOp::Float { op, ty },
            E::FloatUnary { op, ty } => LaneOp::FloatUnary { op, ty },
            E::FloatInt { op, ty, width } => LaneOp::FloatInt { op, ty, width },
            E::FloatCmp { pred, ty } => LaneOp::FloatCmp { pred, ty },
            E::FloatClass {
                class,
                ty,
                result_width,
            } => LaneOp::FloatClass {
                class,
                ty,
                result_width,
            },
            E::Fma { ty } => LaneOp::Fma { ty },
            E::Clamp { ty, propagate_nan } => LaneOp::Clamp { ty, propagate_nan },
            E::Select => LaneOp::Select { ty: result_type },
            E::ExtSigned { from, to } => LaneOp::ExtSigned { from, to },
            E::ExtUnsigned { from } => LaneOp::ExtUnsigned {
                from,
                to: int_width(result_type)?,
            },
            E::Trunc { to } => LaneOp::Trunc {
                from: int_width(*operand_types.first()?)?,
                to,
            },
            E::IntToFloat { width, signed, to } => LaneOp::IntToFloat { width, signed, to },
            E::FloatToInt {
                from,
                width,
                signed,
                rounding,
            } => LaneOp::FloatToInt {
                from,
                width,
                signed,
                rounding,
            },
            E::FloatConvert { from, to, rounding } => LaneOp::Convert {
                from: DType::float(from),
                to: DType::float(to),
                rounding,
            },
            E::AddPtr {
                offset_width,
                elem_size,
            } => LaneOp::AddPtr {
                offset_width,
                elem_size,
            },
            E::Identity => LaneOp::Bitcast {
                from: *operand_types.first()?,
                to: result_type,
            },
        })
    }

    /// The conversion used when a value of type `from` is stored into a
    /// location of type `to` without an explicit micro-program (e.g. a TTU
    /// drain): float → float converts (nearest even), int → int
    /// sign-extends or truncates, int → float is `sitofp`, float → int is
    /// `fptosi`. `None` for the identity.
    pub fn cast(from: DType, to: DType) -> Option<LaneOp> {
        if from == to {
            return None;
        }
        Some(
            match (
                from.int_width(),
                to.int_width(),
                from.float_type(),
                to.float_type(),
            ) {
                (Some(f), Some(t), _, _) if t > f => LaneOp::ExtSigned { from: f, to: t },
                (Some(f), Some(t), _, _) => LaneOp::Trunc { from: f, to: t },
                (Some(width), None, _, Some(ft)) => LaneOp::IntToFloat {
                    width,
                    signed: true,
                    to: ft,
                },
                (None, Some(width), Some(ff), _) => LaneOp::FloatToInt {
                    from: ff,
                    width,
                    signed: true,
                    rounding: IntRounding::TowardZero,
                },
                _ => LaneOp::Convert {
                    from,
                    to,
                    rounding: Rounding::NearestEven,
                },
            },
        )
    }

    /// Number of operands.
    pub fn arity(&self) -> usize {
        match self {
            LaneOp::Int { .. }
            | LaneOp::IntCmp { .. }
            | LaneOp::Float { .. }
            | LaneOp::FloatCmp { .. }
            | LaneOp::FloatInt { .. }
            | LaneOp::AddPtr { .. } => 2,
            LaneOp::Fma { .. } | LaneOp::Clamp { .. } | LaneOp::Select { .. } => 3,
            _ => 1,
        }
    }

    /// The operand types the op expects, in order.
    pub fn operand_types(&self) -> Vec<Option<DType>> {
        let i = DType::int;
        let f = |t: FloatType| Some(DType::float(t));
        match *self {
            LaneOp::Int { width, .. } | LaneOp::IntCmp { width, .. } => vec![i(width), i(width)],
            LaneOp::IntAbs { width } | LaneOp::Bit { width, .. } => vec![i(width)],
            LaneOp::Float { ty, .. } | LaneOp::FloatCmp { ty, .. } => vec![f(ty), f(ty)],
            LaneOp::FloatInt { ty, width, .. } => vec![f(ty), i(width)],
            LaneOp::FloatUnary { ty, .. }
            | LaneOp::Sigmoid { ty }
            | LaneOp::FloatClass { ty, .. } => vec![f(ty)],
            LaneOp::Fma { ty } | LaneOp::Clamp { ty, .. } => vec![f(ty), f(ty), f(ty)],
            LaneOp::Select { ty } => vec![Some(DType::I1), Some(ty), Some(ty)],
            LaneOp::ExtSigned { from, .. }
            | LaneOp::ExtUnsigned { from, .. }
            | LaneOp::Trunc { from, .. } => {
                vec![i(from)]
            }
            LaneOp::IntToFloat { width, .. } => vec![i(width)],
            LaneOp::FloatToInt { from, .. } => vec![f(from)],
            LaneOp::Convert { from, .. } | LaneOp::Bitcast { from, .. } => vec![Some(from)],
            LaneOp::AddPtr { offset_width, .. } => vec![Some(DType::I64), i(offset_width)],
        }
    }

    /// The result type; `None` when a width is not a machine integer width.
    pub fn result_type(&self) -> Option<DType> {
        match *self {
            LaneOp::Int { width, .. } | LaneOp::IntAbs { width } => DType::int(width),
            LaneOp::Bit { result_width, .. } | LaneOp::FloatClass { result_width, .. } => {
                DType::int(result_width)
            }
            LaneOp::IntCmp { .. } | LaneOp::FloatCmp { .. } => Some(DType::I1),
            LaneOp::Float { ty, .. }
            | LaneOp::FloatUnary { ty, .. }
            | LaneOp::FloatInt { ty, .. }
            | LaneOp::Sigmoid { ty }
            | LaneOp::Fma { ty }
            | LaneOp::Clamp { ty, .. } => Some(DType::float(ty)),
            LaneOp::Select { ty } => Some(ty),
            LaneOp::ExtSigned { to, .. }
            | LaneOp::ExtUnsigned { to, .. }
            | LaneOp::Trunc { to, .. } => DType::int(to),
            LaneOp::IntToFloat { to, .. } => Some(DType::float(to)),
            LaneOp::FloatToInt { width, .. } => DType::int(width),
            LaneOp::Convert { to, .. } | LaneOp::Bitcast { to, .. } => Some(to),
            LaneOp::AddPtr { .. } => Some(DType::I64),
        }
    }

    /// Checks the op's own parameters (widths, directions of extensions,
    /// conversion formats). The message says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        for t in self.operand_types() {
            t.ok_or_else(|| {
                format!("`{self}` has an operand width that is not 1, 8, 16, 32 or 64")
            })?;
        }
        self.result_type()
            .ok_or_else(|| format!("`{self}` has a result width that is not 1, 8, 16, 32 or 64"))?;
        match *self {
            LaneOp::ExtSigned { from, to } | LaneOp::ExtUnsigned { from, to } if to <= from => {
                Err(format!("`{self}` must widen"))
            }
            LaneOp::Trunc { from, to } if to >= from => Err(format!("`{self}` must narrow")),
            LaneOp::Convert { from, to, .. } if from.is_int() || to.is_int() => {
                Err(format!("`{self}` converts between float formats only"))
            }
            LaneOp::Bitcast { from, to } if from.value_bits() != to.value_bits() => {
                Err(format!("`{self}` needs types of one width"))
            }
            _ => Ok(()),
        }
    }

    /// Whether the op is one of the transcendental / iterative functions the
    /// cost model charges `tvp.transcendental_cost` for.
    pub fn is_transcendental(&self) -> bool {
        use FloatUnaryOp::*;
        match self {
            LaneOp::FloatUnary { op, .. } => !matches!(
                op,
                Neg | Abs | Floor | Ceil | Trunc | Round | RoundEven | Saturate | Logb
            ),
            LaneOp::Sigmoid { .. } => true,
            LaneOp::Float { op, .. } => {
                matches!(
                    op,
                    FloatBinaryOp::Div
                        | FloatBinaryOp::Rem
                        | FloatBinaryOp::Remainder
                        | FloatBinaryOp::Rhypot
                        | FloatBinaryOp::Directed(DirectedOp::Div, _)
                        | FloatBinaryOp::Pow
                        | FloatBinaryOp::Atan2
                        | FloatBinaryOp::Hypot
                )
            }
            LaneOp::Int { op, .. } => matches!(
                op,
                IntBinaryOp::DivS
                    | IntBinaryOp::DivU
                    | IntBinaryOp::CeilDivS
                    | IntBinaryOp::CeilDivU
                    | IntBinaryOp::FloorDivS
                    | IntBinaryOp::RemS
                    | IntBinaryOp::RemU
            ),
            _ => false,
        }
    }

    /// Applies the op to one lane (`args.len() == arity()`; missing operands
    /// read as 0, extra ones are ignored, so this never panics). Operand bits
    /// above the operand's width are ignored.
    #[inline]
    pub fn eval(&self, args: &[u64]) -> u64 {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let (a, b, c) = (arg(0), arg(1), arg(2));
        match *self {
            LaneOp::Int { op, width } => {
                int::int_binary(op, width, a & int::mask(width), b & int::mask(width))
            }
            LaneOp::IntAbs { width } => int::abs_int(width, a & int::mask(width)),
            LaneOp::Bit {
                op,
                width,
                result_width,
            } => int::truncate(bit_unary(op, width, a), result_width),
            LaneOp::IntCmp { pred, width } => u64::from(int::cmp_int(
                pred,
                width,
                a & int::mask(width),
                b & int::mask(width),
            )),
            LaneOp::Float { op, ty } => float::float_binary(op, ty, a & fmask(ty), b & fmask(ty)),
            LaneOp::FloatUnary { op, ty } => float::float_unary(op, ty, a & fmask(ty)),
            LaneOp::FloatInt { op, ty, width } => {
                float::float_int(op, ty, a & fmask(ty), b & int::mask(width), width)
            }
            LaneOp::Sigmoid { ty } => sigmoid(ty, a & fmask(ty)),
            LaneOp::FloatCmp { pred, ty } => {
                u64::from(float::cmp_float(pred, ty, a & fmask(ty), b & fmask(ty)))
            }
            LaneOp::FloatClass {
                class,
                ty,
                result_width,
            } => int::truncate(
                maiac_ir::semantics::float_class(class, ty, a & fmask(ty)),
                result_width,
            ),
            LaneOp::Fma { ty } => float::fma(ty, a & fmask(ty), b & fmask(ty), c & fmask(ty)),
            LaneOp::Clamp { ty, propagate_nan } => float::clamp(
                ty,
                a & fmask(ty),
                b & fmask(ty),
                c & fmask(ty),
                propagate_nan,
            ),
            LaneOp::Select { ty } => {
                if a & 1 != 0 {
                    b & ty.value_mask()
                } else {
                    c & ty.value_mask()
                }
            }
            LaneOp::ExtSigned { from, to } => int::ext_signed(from, to, a),
            LaneOp::ExtUnsigned { from, .. } => int::ext_unsigned(from, a),
            LaneOp::Trunc { to, .. } => int::truncate(a, to),
            LaneOp::IntToFloat { width, signed, to } => convert::int_to_float(a, width, signed, to),
            LaneOp::FloatToInt {
                from,
                width,
                signed,
                rounding,
            } => convert::float_to_int_rounded(a & fmask(from), from, width, signed, rounding),
            LaneOp::Convert { from, to, rounding } => {
                convert_any(a & from.value_mask(), from, to, rounding)
            }
            LaneOp::AddPtr {
                offset_width,
                elem_size,
            } => {
                let offset = int::sign_extend(b, offset_width);
                a.wrapping_add((offset as u64).wrapping_mul(elem_size))
            }
            LaneOp::Bitcast { to, .. } => a & to.value_mask(),
        }
    }

    /// Applies the op lane-wise to whole slices: `out[i] = eval(args[0][i],
    /// args[1][i], ...)`. Slices shorter than `out` read as 0 past their end.
    /// The op is matched once, outside the loop, so the per-lane work is a
    /// straight call the compiler can inline.
    pub fn eval_slices(&self, args: &[&[u64]], out: &mut [u64]) {
        let get = |k: usize, i: usize| args.get(k).and_then(|s| s.get(i)).copied().unwrap_or(0);
        match self.arity() {
            1 => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.eval(&[get(0, i)]);
                }
            }
            2 => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.eval(&[get(0, i), get(1, i)]);
                }
            }
            _ => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.eval(&[get(0, i), get(1, i), get(2, i)]);
                }
            }
        }
    }
}

/// Value mask of an IR float type.
#[inline]
fn fmask(ty: FloatType) -> u64 {
    int::mask(ty.bits())
}

/// `1 / (1 + exp(−x))`, each step in `ty`'s semantics.
fn sigmoid(ty: FloatType, x: u64) -> u64 {
    let one = f64_to_float_bits(1.0, ty);
    let e = float::float_unary(FloatUnaryOp::Exp, ty, float::negate(ty, x));
    let denominator = float::float_binary(FloatBinaryOp::Add, ty, one, e);
    float::float_binary(FloatBinaryOp::Div, ty, one, denominator)
}

/// Float → float conversion between any two float formats.
fn convert_any(bits: u64, from: DType, to: DType, rounding: Rounding) -> u64 {
    match (from.float_type(), to.float_type()) {
        (Some(f), Some(t)) => convert_float(bits, f, t, rounding),
        // FP6/FP4/E8M0 sources decode exactly; one rounding to the target.
        (None, Some(t)) => f64_to_float_bits_rounded(from.decode_f64(bits), t, rounding),
        (_, None) => super::mx::encode_storage_float(from.decode_f64(bits), to, rounding),
    }
}

// ---------------------------------------------------------------------------
// Names: the assembly mnemonics and binary codes of the semantic enums.

/// Every integer binary op, in binary-code order.
pub const INT_BINARY_OPS: [IntBinaryOp; 28] = {
    use IntBinaryOp::*;
    [
        Add, Sub, Mul, DivS, DivU, CeilDivS, CeilDivU, FloorDivS, RemS, RemU, And, Or, Xor, Shl,
        ShrS, ShrU, MaxS, MaxU, MinS, MinU, MulHiU, MulHiS, HAddS, HAddU, RHAddS, RHAddU, Mul24S,
        Mul24U,
    ]
};

pub fn int_binary_name(op: IntBinaryOp) -> &'static str {
    use IntBinaryOp::*;
    match op {
        Add => "add",
        Sub => "sub",
        Mul => "mul",
        DivS => "divs",
        DivU => "divu",
        CeilDivS => "ceildivs",
        CeilDivU => "ceildivu",
        FloorDivS => "floordivs",
        RemS => "rems",
        RemU => "remu",
        And => "and",
        Or => "or",
        Xor => "xor",
        Shl => "shl",
        ShrS => "shrs",
        ShrU => "shru",
        MaxS => "maxs",
        MaxU => "maxu",
        MinS => "mins",
        MinU => "minu",
        MulHiU => "mulhiu",
        MulHiS => "mulhis",
        HAddS => "hadds",
        HAddU => "haddu",
        RHAddS => "rhadds",
        RHAddU => "rhaddu",
        Mul24S => "mul24s",
        Mul24U => "mul24u",
    }
}

/// Every unary float op, in binary-code order.
pub const FLOAT_UNARY_OPS: [FloatUnaryOp; 50] = {
    use Direction::*;
    use FloatUnaryOp::*;
    [
        Neg,
        Abs,
        Exp,
        Exp2,
        Exp10,
        Expm1,
        Log,
        Log2,
        Log10,
        Log1p,
        Sqrt,
        Rsqrt,
        Cbrt,
        Sin,
        Cos,
        Tan,
        Asin,
        Acos,
        Atan,
        Sinh,
        Cosh,
        Tanh,
        Asinh,
        Acosh,
        Atanh,
        Erf,
        Erfc,
        Floor,
        Ceil,
        Trunc,
        Round,
        RoundEven,
        Recip,
        Lgamma,
        Tgamma,
        Erfinv,
        Erfcinv,
        Normcdf,
        Normcdfinv,
        Rcbrt,
        Saturate,
        Logb,
        SqrtDirected(TowardZero),
        SqrtDirected(Down),
        SqrtDirected(Up),
        RecipDirected(TowardZero),
        RecipDirected(Down),
        RecipDirected(Up),
        Sinpi,
        Cospi,
    ]
};

pub fn float_unary_name(op: FloatUnaryOp) -> &'static str {
    use FloatUnaryOp::*;
    match op {
        Neg => "negf",
        Abs => "absf",
        Exp => "exp",
        Exp2 => "exp2",
        Exp10 => "exp10",
        Expm1 => "expm1",
        Log => "log",
        Log2 => "log2",
        Log10 => "log10",
        Log1p => "log1p",
        Sqrt => "sqrt",
        Rsqrt => "rsqrt",
        Cbrt => "cbrt",
        Sin => "sin",
        Cos => "cos",
        Tan => "tan",
        Asin => "asin",
        Acos => "acos",
        Atan => "atan",
        Sinh => "sinh",
        Cosh => "cosh",
        Tanh => "tanh",
        Asinh => "asinh",
        Acosh => "acosh",
        Atanh => "atanh",
        Erf => "erf",
        Erfc => "erfc",
        Floor => "floor",
        Ceil => "ceil",
        Trunc => "truncf",
        Round => "round",
        RoundEven => "roundeven",
        Recip => "recip",
        Lgamma => "lgamma",
        Tgamma => "tgamma",
        Erfinv => "erfinv",
        Erfcinv => "erfcinv",
        Normcdf => "normcdf",
        Normcdfinv => "normcdfinv",
        Rcbrt => "rcbrt",
        Saturate => "saturate",
        Logb => "logb",
        Sinpi => "sinpi",
        Cospi => "cospi",
        SqrtDirected(Direction::TowardZero) => "sqrt_rz",
        SqrtDirected(Direction::Down) => "sqrt_rd",
        SqrtDirected(Direction::Up) => "sqrt_ru",
        RecipDirected(Direction::TowardZero) => "recip_rz",
        RecipDirected(Direction::Down) => "recip_rd",
        RecipDirected(Direction::Up) => "recip_ru",
    }
}

/// Every binary float op, in binary-code order.
pub const FLOAT_BINARY_OPS: [FloatBinaryOp; 29] = {
    use DirectedOp as D;
    use Direction::*;
    use FloatBinaryOp::*;
    [
        Add,
        Sub,
        Mul,
        Div,
        Rem,
        Maximum,
        Minimum,
        MaxNum,
        MinNum,
        Pow,
        Atan2,
        Hypot,
        CopySign,
        NextAfter,
        Fdim,
        Remainder,
        Directed(D::Add, TowardZero),
        Directed(D::Add, Down),
        Directed(D::Add, Up),
        Directed(D::Sub, TowardZero),
        Directed(D::Sub, Down),
        Directed(D::Sub, Up),
        Directed(D::Mul, TowardZero),
        Directed(D::Mul, Down),
        Directed(D::Mul, Up),
        Directed(D::Div, TowardZero),
        Directed(D::Div, Down),
        Directed(D::Div, Up),
        Rhypot,
    ]
};

pub fn float_binary_name(op: FloatBinaryOp) -> &'static str {
    use FloatBinaryOp::*;
    match op {
        Add => "addf",
        Sub => "subf",
        Mul => "mulf",
        Div => "divf",
        Rem => "remf",
        Maximum => "maximumf",
        Minimum => "minimumf",
        MaxNum => "maxnumf",
        MinNum => "minnumf",
        Pow => "powf",
        Atan2 => "atan2f",
        Hypot => "hypotf",
        CopySign => "copysignf",
        NextAfter => "nextafterf",
        Fdim => "fdimf",
        Remainder => "remainderf",
        Rhypot => "rhypotf",
        Directed(op, dir) => match (op, dir) {
            (DirectedOp::Add, Direction::TowardZero) => "addf_rz",
            (DirectedOp::Add, Direction::Down) => "addf_rd",
            (DirectedOp::Add, Direction::Up) => "addf_ru",
            (DirectedOp::Sub, Direction::TowardZero) => "subf_rz",
            (DirectedOp::Sub, Direction::Down) => "subf_rd",
            (DirectedOp::Sub, Direction::Up) => "subf_ru",
            (DirectedOp::Mul, Direction::TowardZero) => "mulf_rz",
            (DirectedOp::Mul, Direction::Down) => "mulf_rd",
            (DirectedOp::Mul, Direction::Up) => "mulf_ru",
            (DirectedOp::Div, Direction::TowardZero) => "divf_rz",
            (DirectedOp::Div, Direction::Down) => "divf_rd",
            (DirectedOp::Div, Direction::Up) => "divf_ru",
        },
    }
}

/// Every float-and-int op, in binary-code order.
pub const FLOAT_INT_OPS: [FloatIntOp; 2] = [FloatIntOp::Ldexp, FloatIntOp::Powi];

pub fn float_int_name(op: FloatIntOp) -> &'static str {
    match op {
        FloatIntOp::Ldexp => "ldexpf",
        FloatIntOp::Powi => "powif",
    }
}

/// Every float → int rounding, in binary-code order (toward zero first:
/// it is `fptosi`'s and encodes as 0).
pub const INT_ROUNDINGS: [IntRounding; 5] = [
    IntRounding::TowardZero,
    IntRounding::NearestEven,
    IntRounding::NearestAway,
    IntRounding::Down,
    IntRounding::Up,
];

pub fn int_rounding_name(rounding: IntRounding) -> &'static str {
    match rounding {
        IntRounding::TowardZero => "rz",
        IntRounding::NearestEven => "rn",
        IntRounding::NearestAway => "rna",
        IntRounding::Down => "rd",
        IntRounding::Up => "ru",
    }
}

/// Every integer predicate, in binary-code order (MLIR's order).
pub const INT_PREDICATES: [IntPredicate; 10] = {
    use IntPredicate::*;
    [Eq, Ne, Slt, Sle, Sgt, Sge, Ult, Ule, Ugt, Uge]
};

pub fn int_predicate_name(pred: IntPredicate) -> &'static str {
    use IntPredicate::*;
    match pred {
        Eq => "eq",
        Ne => "ne",
        Slt => "slt",
        Sle => "sle",
        Sgt => "sgt",
        Sge => "sge",
        Ult => "ult",
        Ule => "ule",
        Ugt => "ugt",
        Uge => "uge",
    }
}

/// Every float predicate, in binary-code order (MLIR's order).
pub const FLOAT_PREDICATES: [FloatPredicate; 16] = {
    use FloatPredicate::*;
    [
        False, Oeq, Ogt, Oge, Olt, Ole, One, Ord, Ueq, Ugt, Uge, Ult, Ule, Une, Uno, True,
    ]
};

pub fn float_predicate_name(pred: FloatPredicate) -> &'static str {
    use FloatPredicate::*;
    match pred {
        False => "false",
        Oeq => "oeq",
        Ogt => "ogt",
        Oge => "oge",
        Olt => "olt",
        Ole => "ole",
        One => "one",
        Ord => "ord",
        Ueq => "ueq",
        Ugt => "ugt",
        Uge => "uge",
        Ult => "ult",
        Ule => "ule",
        Une => "une",
        Uno => "uno",
        True => "true",
    }
}

/// Every bit op, in binary-code order.
pub const BIT_OPS: [BitUnaryOp; 4] = [
    BitUnaryOp::PopCount,
    BitUnaryOp::LeadingZeros,
    BitUnaryOp::FindFirstSet,
    BitUnaryOp::Reverse,
];

pub fn bit_op_name(op: BitUnaryOp) -> &'static str {
    match op {
        BitUnaryOp::PopCount => "popc",
        BitUnaryOp::LeadingZeros => "clz",
        BitUnaryOp::FindFirstSet => "ffs",
        BitUnaryOp::Reverse => "brev",
    }
}

/// Every float class test, in binary-code order.
pub const FLOAT_CLASSES: [FloatClass; 5] = [
    FloatClass::IsNan,
    FloatClass::IsInf,
    FloatClass::IsFinite,
    FloatClass::SignBit,
    FloatClass::Ilogb,
];

pub fn float_class_name(class: FloatClass) -> &'static str {
    match class {
        FloatClass::IsNan => "isnan",
        FloatClass::IsInf => "isinf",
        FloatClass::IsFinite => "isfinite",
        FloatClass::SignBit => "signbit",
        FloatClass::Ilogb => "ilogb",
    }
}

/// Both roundings, in binary-code order.
pub const ROUNDINGS: [Rounding; 2] = [Rounding::NearestEven, Rounding::TowardZero];

pub fn rounding_name(rounding: Rounding) -> &'static str {
    match rounding {
        Rounding::NearestEven => "rtne",
        Rounding::TowardZero => "rtz",
    }
}

/// Position of `item` in `table` (the binary code).
pub fn code_of<T: PartialEq>(table: &[T], item: &T) -> u8 {
    table.iter().position(|t| t == item).unwrap_or(0) as u8
}

/// Finds the entry of `table` whose name is `name`.
pub fn by_name<T: Copy>(table: &[T], name_of: fn(T) -> &'static str, name: &str) -> Option<T> {
    table.iter().copied().find(|&t| name_of(t) == name)
}

fn ty_name(t: FloatType) -> &'static str {
    DType::float(t).name()
}

fn int_name(width: u32) -> String {
    format!("i{width}")
}

impl fmt::Display for LaneOp {
    /// The mnemonic: `add.i32`, `cmpf.olt.f32`, `cvt.f32.bf16.rtne`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LaneOp::Int { op, width } => write!(f, "{}.{}", int_binary_name(op), int_name(width)),
            LaneOp::IntAbs { width } => write!(f, "abs.{}", int_name(width)),
            LaneOp::Bit {
                op,
                width,
                result_width,
            } => {
                write!(
                    f,
                    "{}.{}.{}",
                    bit_op_name(op),
                    int_name(width),
                    int_name(result_width)
                )
            }
            LaneOp::IntCmp { pred, width } => {
                write!(f, "cmp.{}.{}", int_predicate_name(pred), int_name(width))
            }
            LaneOp::Float { op, ty } => write!(f, "{}.{}", float_binary_name(op), ty_name(ty)),
            LaneOp::FloatUnary { op, ty } => write!(f, "{}.{}", float_unary_name(op), ty_name(ty)),
            LaneOp::Sigmoid { ty } => write!(f, "sigmoid.{}", ty_name(ty)),
            LaneOp::FloatCmp { pred, ty } => {
                write!(f, "cmpf.{}.{}", float_predicate_name(pred), ty_name(ty))
            }
            LaneOp::FloatClass {
                class,
                ty,
                result_width,
            } => {
                write!(
                    f,
                    "{}.{}.{}",
                    float_class_name(class),
                    ty_name(ty),
                    int_name(result_width)
                )
            }
            LaneOp::Fma { ty } => write!(f, "fma.{}", ty_name(ty)),
            LaneOp::FloatInt { op, ty, width } => write!(
                f,
                "{}.{}.{}",
                float_int_name(op),
                ty_name(ty),
                int_name(width)
            ),
            LaneOp::Clamp { ty, propagate_nan } => {
                write!(
                    f,
                    "clampf.{}.{}",
                    if propagate_nan { "all" } else { "none" },
                    ty_name(ty)
                )
            }
            LaneOp::Select { ty } => write!(f, "select.{ty}"),
            LaneOp::ExtSigned { from, to } => {
                write!(f, "extsi.{}.{}", int_name(from), int_name(to))
            }
            LaneOp::ExtUnsigned { from, to } => {
                write!(f, "extui.{}.{}", int_name(from), int_name(to))
            }
            LaneOp::Trunc { from, to } => write!(f, "trunci.{}.{}", int_name(from), int_name(to)),
            LaneOp::IntToFloat { width, signed, to } => {
                write!(
                    f,
                    "{}.{}.{}",
                    if signed { "sitofp" } else { "uitofp" },
                    int_name(width),
                    ty_name(to)
                )
            }
            LaneOp::FloatToInt {
                from,
                width,
                signed,
                rounding,
            } => {
                write!(f, "{}", if signed { "fptosi" } else { "fptoui" })?;
                if rounding != IntRounding::TowardZero {
                    write!(f, ".{}", int_rounding_name(rounding))?;
                }
                write!(f, ".{}.{}", ty_name(from), int_name(width))
            }
            LaneOp::Convert { from, to, rounding } => {
                write!(f, "cvt.{from}.{to}.{}", rounding_name(rounding))
            }
            LaneOp::AddPtr {
                offset_width,
                elem_size,
            } => write!(f, "addptr.{}.x{elem_size}", int_name(offset_width)),
            LaneOp::Bitcast { from, to } => write!(f, "bitcast.{from}.{to}"),
        }
    }
}

impl LaneOp {
    /// Parses a mnemonic printed by `Display`.
    pub fn parse(text: &str) -> Result<LaneOp, String> {
        let parts: Vec<&str> = text.split('.').collect();
        let bad = || format!("unknown lane op `{text}`");
        let width = |s: &str| -> Result<u32, String> {
            s.strip_prefix('i')
                .and_then(|w| w.parse::<u32>().ok())
                .filter(|w| DType::int(*w).is_some())
                .ok_or_else(|| {
                    format!("`{s}` is not an integer type (i1, i8, i16, i32, i64) in `{text}`")
                })
        };
        let float_ty = |s: &str| -> Result<FloatType, String> {
            DType::from_name(s)
                .and_then(DType::float_type)
                .ok_or_else(|| format!("`{s}` is not an arithmetic float type in `{text}`"))
        };
        let dtype =
            |s: &str| DType::from_name(s).ok_or_else(|| format!("unknown type `{s}` in `{text}`"));
        let op = match parts.as_slice() {
            ["abs", w] => LaneOp::IntAbs { width: width(w)? },
            ["sigmoid", t] => LaneOp::Sigmoid { ty: float_ty(t)? },
            ["fma", t] => LaneOp::Fma { ty: float_ty(t)? },
            ["select", t] => LaneOp::Select { ty: dtype(t)? },
            ["clampf", mode, t] => LaneOp::Clamp {
                ty: float_ty(t)?,
                propagate_nan: match *mode {
                    "all" => true,
                    "none" => false,
                    _ => return Err(bad()),
                },
            },
            ["cmp", p, w] => LaneOp::IntCmp {
                pred: by_name(&INT_PREDICATES, int_predicate_name, p).ok_or_else(bad)?,
                width: width(w)?,
            },
            ["cmpf", p, t] => LaneOp::FloatCmp {
                pred: by_name(&FLOAT_PREDICATES, float_predicate_name, p).ok_or_else(bad)?,
                ty: float_ty(t)?,
            },
            ["extsi", a, b] => LaneOp::ExtSigned {
                from: width(a)?,
                to: width(b)?,
            },
            ["extui", a, b] => LaneOp::ExtUnsigned {
                from: width(a)?,
                to: width(b)?,
            },
            ["trunci", a, b] => LaneOp::Trunc {
                from: width(a)?,
                to: width(b)?,
            },
            [s @ ("sitofp" | "uitofp"), a, b] => LaneOp::IntToFloat {
                width: width(a)?,
                signed: *s == "sitofp",
                to: float_ty(b)?,
            },
            [s @ ("fptosi" | "fptoui"), a, b] => LaneOp::FloatToInt {
                from: float_ty(a)?,
                width: width(b)?,
                signed: *s == "fptosi",
                rounding: IntRounding::TowardZero,
            },
            [s @ ("fptosi" | "fptoui"), r, a, b] => LaneOp::FloatToInt {
                from: float_ty(a)?,
                width: width(b)?,
                signed: *s == "fptosi",
                rounding: by_name(&INT_ROUNDINGS, int_rounding_name, r).ok_or_else(bad)?,
            },
            ["cvt", a, b, r] => LaneOp::Convert {
                from: dtype(a)?,
                to: dtype(b)?,
                rounding: by_name(&ROUNDINGS, rounding_name, r).ok_or_else(bad)?,
            },
            ["addptr", w, size] => LaneOp::AddPtr {
                offset_width: width(w)?,
                elem_size: size
                    .strip_prefix('x')
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(bad)?,
            },
            ["bitcast", a, b] => LaneOp::Bitcast {
                from: dtype(a)?,
                to: dtype(b)?,
            },
            [name, a, b] => {
                if let Some(op) = by_name(&BIT_OPS, bit_op_name, name) {
                    LaneOp::Bit {
                        op,
                        width: width(a)?,
                        result_width: width(b)?,
                    }
                } else if let Some(op) = by_name(&FLOAT_INT_OPS, float_int_name, name) {
                    LaneOp::FloatInt {
                        op,
                        ty: float_ty(a)?,
                        width: width(b)?,
                    }
                } else if let Some(class) = by_name(&FLOAT_CLASSES, float_class_name, name) {
                    LaneOp::FloatClass {
                        class,
                        ty: float_ty(a)?,
                        result_width: width(b)?,
                    }
                } else {
                    return Err(bad());
                }
            }
            [name, t] => {
                if let Some(op) = by_name(&INT_BINARY_OPS, int_binary_name, name) {
                    LaneOp::Int {
                        op,
                        width: width(t)?,
                    }
                } else if let Some(op) = by_name(&FLOAT_BINARY_OPS, float_binary_name, name) {
                    LaneOp::Float {
                        op,
                        ty: float_ty(t)?,
                    }
                } else if let Some(op) = by_name(&FLOAT_UNARY_OPS, float_unary_name, name) {
                    LaneOp::FloatUnary {
                        op,
                        ty: float_ty(t)?,
                    }
                } else {
                    return Err(bad());
                }
            }
            _ => return Err(bad()),
        };
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32b(x: f32) -> u64 {
        u64::from(x.to_bits())
    }

    #[test]
    fn integer_edge_cases_are_total() {
        let div = LaneOp::Int {
            op: IntBinaryOp::DivS,
            width: 32,
        };
        assert_eq!(div.eval(&[7, 0]), 0xFFFF_FFFF);
        assert_eq!(div.eval(&[0x8000_0000, 0xFFFF_FFFF]), 0x8000_0000);
        let rem = LaneOp::Int {
            op: IntBinaryOp::RemU,
            width: 32,
        };
        assert_eq!(rem.eval(&[7, 0]), 7);
        let shl = LaneOp::Int {
            op: IntBinaryOp::Shl,
            width: 8,
        };
        assert_eq!(shl.eval(&[1, 8]), 0);
        let shrs = LaneOp::Int {
            op: IntBinaryOp::ShrS,
            width: 8,
        };
        assert_eq!(shrs.eval(&[0x80, 200]), 0xFF);
        // Bits above the width are ignored.
        let add = LaneOp::Int {
            op: IntBinaryOp::Add,
            width: 8,
        };
        assert_eq!(add.eval(&[0x1FF, 1]), 0);
    }

    #[test]
    fn float_ops_follow_the_shared_semantics() {
        let fptosi = LaneOp::FloatToInt {
            from: FloatType::F32,
            width: 32,
            signed: true,
            rounding: IntRounding::TowardZero,
        };
        assert_eq!(fptosi.eval(&[f32b(f32::NAN)]), 0);
        assert_eq!(fptosi.eval(&[f32b(1e20)]), 0x7FFF_FFFF);
        let maximum = LaneOp::Float {
            op: FloatBinaryOp::Maximum,
            ty: FloatType::F32,
        };
        assert_eq!(maximum.eval(&[f32b(1.0), f32b(f32::NAN)]), 0x7FC0_0000);
        let sig = LaneOp::Sigmoid { ty: FloatType::F32 };
        assert_eq!(sig.eval(&[f32b(0.0)]), f32b(0.5));
        let cvt = LaneOp::Convert {
            from: DType::F32,
            to: DType::BF16,
            rounding: Rounding::NearestEven,
        };
        assert_eq!(cvt.eval(&[f32b(1.0)]), 0x3F80);
        let up = LaneOp::Convert {
            from: DType::F4E2M1,
            to: DType::F32,
            rounding: Rounding::NearestEven,
        };
        assert_eq!(up.eval(&[0xF]), f32b(-6.0));
    }

    #[test]
    fn agrees_with_the_interpreter_semantics() {
        let ops = [
            ElementwiseOp::Int {
                op: IntBinaryOp::MulHiU,
                width: 32,
            },
            ElementwiseOp::FloatUnary {
                op: FloatUnaryOp::Exp,
                ty: FloatType::F32,
            },
            ElementwiseOp::Float {
                op: FloatBinaryOp::Div,
                ty: FloatType::BF16,
            },
        ];
        let samples = [
            0u64,
            1,
            0x3F80_0000,
            0xBF80,
            0x7FC0_0000,
            0xFFFF_FFFF,
            0x4049_0FDB,
        ];
        for op in ops {
            let ty = match op {
                ElementwiseOp::Float { .. } => DType::BF16,
                _ => DType::I32,
            };
            let lane = LaneOp::from_elementwise(op, &[ty, ty], ty).unwrap();
            for &a in &samples {
                for &b in &samples {
                    let args = [a & ty.value_mask(), b & ty.value_mask()];
                    assert_eq!(
                        lane.eval(&args[..lane.arity()]),
                        op.eval(&args[..op.arity()]),
                        "{lane}"
                    );
                }
            }
        }
    }

    #[test]
    fn mnemonics_round_trip() {
        let mut ops = vec![
            LaneOp::IntAbs { width: 16 },
            LaneOp::Sigmoid { ty: FloatType::F16 },
            LaneOp::Fma { ty: FloatType::F64 },
            LaneOp::Select { ty: DType::BF16 },
            LaneOp::Clamp {
                ty: FloatType::F32,
                propagate_nan: true,
            },
            LaneOp::ExtSigned { from: 8, to: 32 },
            LaneOp::ExtUnsigned { from: 1, to: 32 },
            LaneOp::Trunc { from: 64, to: 32 },
            LaneOp::IntToFloat {
                width: 32,
                signed: false,
                to: FloatType::F32,
            },
            LaneOp::FloatToInt {
                from: FloatType::BF16,
                width: 8,
                signed: true,
                rounding: IntRounding::TowardZero,
            },
            LaneOp::FloatToInt {
                from: FloatType::F32,
                width: 64,
                signed: false,
                rounding: IntRounding::NearestAway,
            },
            LaneOp::FloatInt {
                op: FloatIntOp::Ldexp,
                ty: FloatType::F32,
                width: 32,
            },
            LaneOp::FloatInt {
                op: FloatIntOp::Powi,
                ty: FloatType::F64,
                width: 32,
            },
            LaneOp::Convert {
                from: DType::F32,
                to: DType::F6E2M3,
                rounding: Rounding::TowardZero,
            },
            LaneOp::AddPtr {
                offset_width: 32,
                elem_size: 4,
            },
            LaneOp::Bitcast {
                from: DType::F32,
                to: DType::I32,
            },
        ];
        ops.extend(INT_BINARY_OPS.map(|op| LaneOp::Int { op, width: 64 }));
        ops.extend(FLOAT_UNARY_OPS.map(|op| LaneOp::FloatUnary {
            op,
            ty: FloatType::F32,
        }));
        ops.extend(FLOAT_BINARY_OPS.map(|op| LaneOp::Float {
            op,
            ty: FloatType::F32,
        }));
        ops.extend(INT_PREDICATES.map(|pred| LaneOp::IntCmp { pred, width: 1 }));
        ops.extend(FLOAT_PREDICATES.map(|pred| LaneOp::FloatCmp {
            pred,
            ty: FloatType::F8E5M2,
        }));
        ops.extend(BIT_OPS.map(|op| LaneOp::Bit {
            op,
            width: 32,
            result_width: 32,
        }));
        ops.extend(FLOAT_CLASSES.map(|class| LaneOp::FloatClass {
            class,
            ty: FloatType::F32,
            result_width: 1,
        }));
        for op in ops {
            assert_eq!(LaneOp::parse(&op.to_string()), Ok(op), "{op}");
            assert!(op.check().is_ok(), "{op}");
        }
        assert!(LaneOp::parse("add.i7").is_err());
        assert!(LaneOp::parse("frobnicate.f32").is_err());
    }

    #[test]
    fn check_rejects_inconsistent_parameters() {
        assert!(LaneOp::ExtSigned { from: 32, to: 8 }.check().is_err());
        assert!(LaneOp::Int {
            op: IntBinaryOp::Add,
            width: 12
        }
        .check()
        .is_err());
        assert!(LaneOp::Bitcast {
            from: DType::F32,
            to: DType::I16
        }
        .check()
        .is_err());
        assert!(LaneOp::Convert {
            from: DType::I32,
            to: DType::F32,
            rounding: Rounding::NearestEven
        }
        .check()
        .is_err());
    }
}
