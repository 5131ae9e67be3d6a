//! The types of TTIR values: integers, floats (including the 8-bit formats),
//! `!tt.ptr<T>`, ranked tensors and `!tt.tensordesc<...>`.

use std::fmt;

/// Floating-point element types that can appear in TTIR.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FloatType {
    F16,
    BF16,
    F32,
    F64,
    F8E4M3FN,
    F8E5M2,
    F8E4M3FNUZ,
    F8E5M2FNUZ,
}

impl FloatType {
    /// All float types, in a stable order.
    pub const ALL: [FloatType; 8] = [
        FloatType::F16,
        FloatType::BF16,
        FloatType::F32,
        FloatType::F64,
        FloatType::F8E4M3FN,
        FloatType::F8E5M2,
        FloatType::F8E4M3FNUZ,
        FloatType::F8E5M2FNUZ,
    ];

    /// The MLIR spelling (`f16`, `bf16`, `f8E4M3FN`, ...).
    pub fn mlir_name(self) -> &'static str {
        match self {
            FloatType::F16 => "f16",
            FloatType::BF16 => "bf16",
            FloatType::F32 => "f32",
            FloatType::F64 => "f64",
            FloatType::F8E4M3FN => "f8E4M3FN",
            FloatType::F8E5M2 => "f8E5M2",
            FloatType::F8E4M3FNUZ => "f8E4M3FNUZ",
            FloatType::F8E5M2FNUZ => "f8E5M2FNUZ",
        }
    }

    /// Parses an MLIR float type keyword.
    pub fn from_mlir_name(name: &str) -> Option<FloatType> {
        FloatType::ALL.into_iter().find(|f| f.mlir_name() == name)
    }

    /// Storage width in bits.
    pub fn bits(self) -> u32 {
        match self {
            FloatType::F16 | FloatType::BF16 => 16,
            FloatType::F32 => 32,
            FloatType::F64 => 64,
            FloatType::F8E4M3FN
            | FloatType::F8E5M2
            | FloatType::F8E4M3FNUZ
            | FloatType::F8E5M2FNUZ => 8,
        }
    }
}

/// A TTIR type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// Signless integer `iN` (N ∈ {1, 8, 16, 32, 64}, other widths are rejected by the verifier).
    Int(u32),
    /// MLIR `index` (rare in TTIR; treated as a 64-bit integer).
    Index,
    /// A floating-point scalar.
    Float(FloatType),
    /// `!tt.ptr<T, addrspace>`; the pointee is a scalar type or, for block pointers, a tensor.
    Ptr { pointee: Box<Type>, addr_space: u32 },
    /// `tensor<d0 x d1 x ... x T>` with a static shape; `T` is a scalar or a pointer.
    Tensor { shape: Vec<i64>, elem: Box<Type> },
    /// `!tt.tensordesc<tensor<...>>`: a TMA-style descriptor of a block of a global tensor.
    TensorDesc { block: Box<Type> },
}

impl Type {
    pub const I1: Type = Type::Int(1);
    pub const I8: Type = Type::Int(8);
    pub const I16: Type = Type::Int(16);
    pub const I32: Type = Type::Int(32);
    pub const I64: Type = Type::Int(64);
    pub const F32: Type = Type::Float(FloatType::F32);

    /// A pointer in the default address space.
    pub fn ptr(pointee: Type) -> Type {
        Type::Ptr {
            pointee: Box::new(pointee),
            addr_space: 1,
        }
    }

    /// A ranked tensor.
    pub fn tensor(shape: Vec<i64>, elem: Type) -> Type {
        Type::Tensor {
            shape,
            elem: Box::new(elem),
        }
    }

    /// The element type of a tensor, or the type itself for scalars.
    pub fn element(&self) -> &Type {
        match self {
            Type::Tensor { elem, .. } => elem,
            other => other,
        }
    }

    /// The shape of a tensor; empty for scalars.
    pub fn shape(&self) -> &[i64] {
        match self {
            Type::Tensor { shape, .. } => shape,
            _ => &[],
        }
    }

    /// Number of elements (1 for scalars). Saturates instead of overflowing.
    pub fn num_elements(&self) -> u64 {
        self.shape()
            .iter()
            .fold(1u64, |acc, &d| acc.saturating_mul(d.max(0) as u64))
    }

    pub fn is_tensor(&self) -> bool {
        matches!(self, Type::Tensor { .. })
    }

    pub fn is_int(&self) -> bool {
        matches!(self, Type::Int(_) | Type::Index)
    }

    pub fn is_float(&self) -> bool {
        matches!(self, Type::Float(_))
    }

    pub fn is_ptr(&self) -> bool {
        matches!(self, Type::Ptr { .. })
    }

    /// Integer width in bits (`index` counts as 64).
    pub fn int_width(&self) -> Option<u32> {
        match self {
            Type::Int(w) => Some(*w),
            Type::Index => Some(64),
            _ => None,
        }
    }

    /// The float type, if this is a float scalar.
    pub fn float_type(&self) -> Option<FloatType> {
        match self {
            Type::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The pointee of a pointer.
    pub fn pointee(&self) -> Option<&Type> {
        match self {
            Type::Ptr { pointee, .. } => Some(pointee),
            _ => None,
        }
    }

    /// The same kind of container with another element type: a tensor of the
    /// same shape, or the scalar itself.
    pub fn with_element(&self, elem: Type) -> Type {
        match self {
            Type::Tensor { shape, .. } => Type::tensor(shape.clone(), elem),
            _ => elem,
        }
    }

    /// Size of one scalar element in bytes as stored in memory (i1 takes a byte;
    /// pointers take 8).
    pub fn scalar_size_bytes(&self) -> u64 {
        match self.element() {
            Type::Int(w) => (u64::from(*w)).div_ceil(8).max(1),
            Type::Index => 8,
            Type::Float(f) => u64::from(f.bits() / 8),
            Type::Ptr { .. } | Type::TensorDesc { .. } => 8,
            Type::Tensor { .. } => 8,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Int(w) => write!(f, "i{w}"),
            Type::Index => write!(f, "index"),
            Type::Float(ft) => write!(f, "{}", ft.mlir_name()),
            Type::Ptr {
                pointee,
                addr_space: 1,
            } => write!(f, "!tt.ptr<{pointee}>"),
            Type::Ptr {
                pointee,
                addr_space,
            } => write!(f, "!tt.ptr<{pointee}, {addr_space}>"),
            Type::Tensor { shape, elem } => {
                write!(f, "tensor<")?;
                for d in shape {
                    write!(f, "{d}x")?;
                }
                write!(f, "{elem}>")
            }
            Type::TensorDesc { block } => match &**block {
                Type::Tensor { shape, elem } => {
                    write!(f, "!tt.tensordesc<")?;
                    for d in shape {
                        write!(f, "{d}x")?;
                    }
                    write!(f, "{elem}>")
                }
                other => write!(f, "!tt.tensordesc<{other}>"),
            },
        }
    }
}
