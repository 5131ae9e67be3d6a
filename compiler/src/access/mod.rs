//! Access analysis: every memory op's addresses as *base + affine function*.
//!
//! For each `tt.load`, `tt.store`, `tt.atomic_rmw`, `tt.atomic_cas` and
//! descriptor op of a function, [`analyze`] decides whether the elements it
//! touches can be described as a strided box — what a DMA engine moves —
//! or must be treated as a gather/scatter of individually computed
//! addresses. The result is an [`AccessMap`].
//!
//! # The strided form
//!
//! A [`StridedAccess`] of a tile of shape `[n_0, …, n_{r−1}]` touches, for
//! every index `i` with `0 ≤ i_d < n_d`,
//!
//! ```text
//! address(i) = base + elem_bytes × Σ_d stride_d × idx_d(i_d)      (mod 2^64)
//! idx_d(i)   = i                          plain dimension
//!            = (wrap.start + i) mod wrap.modulus   wrapped dimension (`% M`)
//! ```
//!
//! where `base` (a byte address) and the `stride_d` (`i64`, in elements)
//! are [`ScalarExpr`]s — small trees over scalar SSA values (kernel
//! arguments, program ids, loop induction variables, scalar results, loop-
//! carried registers) that the control processor evaluates at run time.
//!
//! A wrapped dimension whose modulus is smaller than its size visits some
//! addresses more than once (a GEMM's `% M` on a short matrix, a histogram's
//! buckets): loads simply read them again; the elements of a store land in
//! row-major order, the last write winning; atomics apply every element.
//!
//! Only the elements inside the [`ValidBox`] are accessed when there is one:
//! `i` is valid iff `cond ∧ ∀d: begin_d ≤ i_d < end_d`. This is how the
//! usual bounds-check masks (`offs < n`, their `&` across dimensions,
//! `boundaryCheck` of block pointers, the edges of a tensor descriptor)
//! become a bounded DMA; a load fills the other elements with its [`Fill`]
//! (the `other` operand when it is a splat, zero without one, the padding of
//! block pointers and descriptors). When `other` is not uniform the fill is
//! [`Fill::SelectAfterLoad`]: load the box with any fill, then select.
//!
//! **Guards.** The kernel computes offsets in `i32` with wrapping
//! arithmetic; the affine form equals what the kernel computes only when
//! those offsets do not overflow over the tile (and similar conditions for
//! remainders and masks). Each such condition is an `i1` [`ScalarExpr`] in
//! [`StridedAccess::guards`]: when all hold at run time, the strided form is
//! exact; otherwise the consumer must use the elementwise fallback for that
//! execution (the pointer tensor is still in the IR). Guards that always
//! hold are dropped statically (e.g. constant offsets).
//!
//! **Loop-carried values.** A pointer (or offset) tensor carried by an
//! `scf.for` keeps its per-dimension strides; its varying scalar part lives
//! in a register the codegen keeps ([`CarriedValue`]): initialized before the
//! loop, updated with `next` at the end of each iteration (`increment` when
//! the update is "add a loop-invariant amount"). Accesses in the loop read
//! the register as [`Atom::Carried`]. Block pointers advanced in a loop
//! (`scf.for` or `scf.while`) carry one register per dimension's offset.
//!
//! # The fallback
//!
//! Anything else — offsets loaded from memory, `select` in an offset,
//! non-affine index math, masks that are not boxes, values coming out of
//! `scf.if`/`scf.while` — is a [`MemAccess::Gather`] (reads) or
//! [`MemAccess::Scatter`] (writes) with the reason, which is always correct:
//! the pointer tensor and mask are computed elementwise. The analysis never
//! fails.
//!
//! [`AccessMap::render`] prints the result (used by snapshots and
//! `--emit`); [`StridedAccess::address`] and friends evaluate it for given
//! atom values (used by the differential tests).

pub mod affine;
mod analyze;
pub mod mask;
pub mod names;
mod print;
pub mod provenance;
pub mod scalar;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;

use cranelift_entity::SecondaryMap;
use maiac_ir::{Module, Op, Type, Value};

pub use affine::{Affine, Dim, Wrap, WrapKind};
pub use mask::BoxMask;
pub use names::ValueNames;
pub use scalar::{Atom, CastKind, ScalarExpr};

/// Analyzes the memory accesses of `func` (a `tt.func` of `module`).
pub fn analyze(module: &Module, func: Op) -> AccessMap {
    analyze::Analyzer::new(module, func).run()
}

/// What a memory op does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    Load,
    Store,
    AtomicRmw,
    AtomicCas,
    DescriptorLoad,
    DescriptorStore,
    DescriptorGather,
    DescriptorScatter,
}

impl AccessKind {
    /// Whether the op writes memory.
    pub fn writes(self) -> bool {
        !matches!(
            self,
            AccessKind::Load | AccessKind::DescriptorLoad | AccessKind::DescriptorGather
        )
    }
}

/// One dimension of a strided access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessDim {
    /// The tile's size along the dimension.
    pub size: i64,
    /// The stride in elements (an `i64` expression).
    pub stride: ScalarExpr,
    /// Set when the index along this dimension wraps around.
    pub wrap: Option<Wrap>,
}

/// The accessed elements of a masked strided access (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidBox {
    /// First valid index per dimension (`i64`, in `[0, size]`).
    pub begin: Vec<ScalarExpr>,
    /// One past the last valid index per dimension (`i64`, in `[0, size]`);
    /// the valid extent is `max(end − begin, 0)`.
    pub end: Vec<ScalarExpr>,
    /// A uniform condition; when false, no element is accessed.
    pub cond: ScalarExpr,
}

/// The value of the elements a masked load does not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Raw bits at the element width: a constant or a scalar register.
    Value(ScalarExpr),
    /// `other` is not uniform: after the load, select between the loaded
    /// tile and this tensor with the mask.
    SelectAfterLoad(Value),
}

/// A memory op described as a strided box (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StridedAccess {
    pub kind: AccessKind,
    /// The element type in memory.
    pub elem: Type,
    pub elem_bytes: u64,
    /// The byte address of element `(0, …, 0)` (a 64-bit expression).
    pub base: ScalarExpr,
    /// One entry per tile dimension (none for a scalar access).
    pub dims: Vec<AccessDim>,
    /// `None` when every element of the tile is accessed.
    pub valid: Option<ValidBox>,
    /// For masked loads, the value of the elements outside the box.
    pub fill: Option<Fill>,
    /// `i1` conditions under which this description is exact.
    pub guards: Vec<ScalarExpr>,
}

/// A memory op whose addresses are computed element by element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndirectAccess {
    pub kind: AccessKind,
    pub elem: Type,
    pub elem_bytes: u64,
    /// The tile shape.
    pub shape: Vec<i64>,
    /// The pointer tensor, block pointer or descriptor operand.
    pub source: Value,
    /// The mask operand, if any.
    pub mask: Option<Value>,
    /// For masked loads, the value of masked-off elements.
    pub fill: Option<Fill>,
    /// Why the strided form does not apply.
    pub reason: String,
}

/// The access of one memory op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemAccess {
    Strided(StridedAccess),
    /// A read through individually computed addresses.
    Gather(IndirectAccess),
    /// A write (or read-modify-write) through individually computed addresses.
    Scatter(IndirectAccess),
}

impl MemAccess {
    pub fn kind(&self) -> AccessKind {
        match self {
            MemAccess::Strided(s) => s.kind,
            MemAccess::Gather(i) | MemAccess::Scatter(i) => i.kind,
        }
    }

    /// The strided description, if any.
    pub fn as_strided(&self) -> Option<&StridedAccess> {
        match self {
            MemAccess::Strided(s) => Some(s),
            _ => None,
        }
    }
}

/// A block pointer (`tt.make_tensor_ptr`, `tt.advance`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockPtrForm {
    /// The base pointer (a 64-bit byte address).
    pub base: ScalarExpr,
    pub elem_bytes: u64,
    pub block_shape: Vec<i64>,
    /// The global tensor's shape, strides (in elements) and the block's
    /// offsets, all `i64`.
    pub shape: Vec<ScalarExpr>,
    pub strides: Vec<ScalarExpr>,
    pub offsets: Vec<ScalarExpr>,
}

/// A tensor descriptor (`tt.make_tensor_descriptor`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptorForm {
    pub base: ScalarExpr,
    pub elem_bytes: u64,
    pub block_shape: Vec<i64>,
    /// The global tensor's shape and strides (elements), `i64`.
    pub shape: Vec<ScalarExpr>,
    pub strides: Vec<ScalarExpr>,
    /// Out-of-bounds elements read as NaN rather than zero.
    pub pad_nan: bool,
}

/// What the analysis knows about a pointer-typed (or descriptor) value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueForm {
    /// A pointer (tensor) `offset + Σ_d coef_d × idx_d` ([`Affine`] with
    /// `elem_bytes` set: `offset` in bytes, coefficients in elements).
    Affine(Affine),
    BlockPtr(BlockPtrForm),
    Descriptor(DescriptorForm),
    /// Not analyzable; the reason.
    Opaque(String),
}

/// What one register of a loop-carried value holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CarriedPart {
    /// The uniform part: a byte address for pointer tensors, the offset for
    /// integer tensors (slot 0).
    Base,
    /// The coefficient (stride) of a dimension that changes across
    /// iterations (slot `1 + d`).
    Coefficient(usize),
    /// A block pointer's offset along a dimension (slot `d`).
    BlockOffset(usize),
}

/// One register of a loop-carried value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarriedSlot {
    pub slot: u32,
    pub part: CarriedPart,
    /// The value before the first iteration (evaluated before the loop).
    pub init: ScalarExpr,
    /// The value for the next iteration, evaluated at the end of the body;
    /// reads the register itself as [`Atom::Carried`].
    pub next: ScalarExpr,
    /// `Some(x)` when `next = register + x` with `x` not reading the
    /// register: the codegen adds `x` each iteration.
    pub increment: Option<ScalarExpr>,
}

/// A tensor `iter_arg` of an `scf.for` whose affine form survives the loop
/// (or a block pointer carried by an `scf.for` or `scf.while`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarriedValue {
    /// The loop: an `scf.for`, or an `scf.while` (block pointers only).
    pub for_op: Op,
    /// Which iter_arg (0-based, not counting the induction variable).
    pub index: usize,
    /// The body's block argument (what [`Atom::Carried`] names).
    pub arg: Value,
    pub slots: Vec<CarriedSlot>,
}

/// The analysis of one function.
#[derive(Clone, Debug)]
pub struct AccessMap {
    pub func: Op,
    accesses: SecondaryMap<Op, Option<MemAccess>>,
    /// The memory ops in program order.
    order: Vec<Op>,
    /// The form of every pointer-typed, block-pointer and descriptor value.
    pub values: BTreeMap<Value, ValueForm>,
    /// Loop-carried values, by (`scf.for`, iter_arg index).
    pub carried: BTreeMap<(Op, usize), CarriedValue>,
    /// Display names of the function's values.
    pub names: ValueNames,
}

impl AccessMap {
    /// The access of a memory op.
    pub fn get(&self, op: Op) -> Option<&MemAccess> {
        self.accesses[op].as_ref()
    }

    /// Every memory op and its access, in program order.
    pub fn iter(&self) -> impl Iterator<Item = (Op, &MemAccess)> + '_ {
        self.order
            .iter()
            .filter_map(|&op| self.accesses[op].as_ref().map(|a| (op, a)))
    }

    /// The loop-carried value whose body argument is `arg`.
    pub fn carried_value(&self, arg: Value) -> Option<&CarriedValue> {
        self.carried.values().find(|c| c.arg == arg)
    }

    /// Renders an atom with the function's value names.
    pub fn atom_name(&self, atom: Atom) -> String {
        match atom {
            Atom::Value(v) => self.names.name(v),
            Atom::Carried { arg, slot } => format!("carry({}, {slot})", self.names.name(arg)),
        }
    }

    /// Renders a scalar expression with the function's value names.
    pub fn show(&self, e: &ScalarExpr) -> String {
        e.display(&|a| self.atom_name(a)).to_string()
    }

    /// A readable listing of the analysis (deterministic; used by snapshots).
    pub fn render(&self, module: &Module) -> String {
        print::render(self, module)
    }
}

impl StridedAccess {
    /// The byte address of the element at `index` (one entry per
    /// dimension), or `None` if an atom is unknown.
    pub fn address(&self, index: &[i64], env: &dyn Fn(Atom) -> Option<u64>) -> Option<u64> {
        let mut addr = self.base.eval(env)?;
        for (dim, &i) in self.dims.iter().zip(index) {
            let idx: i128 = match &dim.wrap {
                None => i128::from(i),
                Some(w) => {
                    let start = i128::from(w.start.eval_signed(env)?);
                    let modulus = i128::from(w.modulus.eval_signed(env)?);
                    Wrap::index(w.kind, start, modulus, i128::from(i))?
                }
            };
            let stride = dim.stride.eval(env)?;
            let step = (idx as u64)
                .wrapping_mul(stride)
                .wrapping_mul(self.elem_bytes);
            addr = addr.wrapping_add(step);
        }
        Some(addr)
    }

    /// Whether the element at `index` is accessed.
    pub fn is_valid(&self, index: &[i64], env: &dyn Fn(Atom) -> Option<u64>) -> Option<bool> {
        let Some(valid) = &self.valid else {
            return Some(true);
        };
        if valid.cond.eval(env)? & 1 == 0 {
            return Some(false);
        }
        for (d, &i) in index.iter().enumerate() {
            let begin = valid.begin[d].eval_signed(env)?;
            let end = valid.end[d].eval_signed(env)?;
            if i < begin || i >= end {
                return Some(false);
            }
        }
        Some(true)
    }

    /// Whether every guard holds.
    pub fn guards_hold(&self, env: &dyn Fn(Atom) -> Option<u64>) -> Option<bool> {
        for g in &self.guards {
            if g.eval(env)? & 1 == 0 {
                return Some(false);
            }
        }
        Some(true)
    }

    /// The tile shape.
    pub fn shape(&self) -> Vec<i64> {
        self.dims.iter().map(|d| d.size).collect()
    }
}
