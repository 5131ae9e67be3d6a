//! Runtime values of the interpreter.
//!
//! Every scalar and tensor is a [`Tensor`]: a row-major shape and a flat
//! `Vec<u64>` of raw element bits (the encoding of [`maiac_ir::semantics`]:
//! the value's bits at its type's width, upper bits zero; pointers are byte
//! addresses). Scalars are rank-0 tensors. One flat representation keeps
//! shape ops (broadcast, trans, gather, ...) element-type agnostic and avoids
//! per-element enums. Block pointers (`tt.make_tensor_ptr`) and tensor
//! descriptors are small structs of their own.
//!
//! Values are reference-counted so that passing them through block
//! arguments, `scf.yield` and calls never copies element data.

use std::rc::Rc;

/// A tensor (or a scalar, with an empty shape) of raw element bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<u64>,
}

impl Tensor {
    /// A rank-0 tensor.
    pub fn scalar(bits: u64) -> Tensor {
        Tensor {
            shape: Vec::new(),
            data: vec![bits],
        }
    }

    /// A tensor of `shape` filled with `bits`.
    pub fn filled(shape: Vec<usize>, bits: u64) -> Tensor {
        let n = shape.iter().product();
        Tensor {
            shape,
            data: vec![bits; n],
        }
    }

    /// A tensor from its parts (`data.len()` must be the shape's product).
    pub fn new(shape: Vec<usize>, data: Vec<u64>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// The single element of a scalar (or of a one-element tensor).
    pub fn scalar_bits(&self) -> u64 {
        self.data[0]
    }
}

/// `tt.make_tensor_ptr`: a block of a strided 2-D/N-D global tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockPtr {
    /// Byte address of element (0, …, 0).
    pub base: u64,
    /// The global tensor's shape (elements).
    pub shape: Vec<i64>,
    /// The global tensor's strides (elements).
    pub strides: Vec<i64>,
    /// The block's offset inside the global tensor (elements).
    pub offsets: Vec<i64>,
    /// The block's shape.
    pub block_shape: Vec<usize>,
    /// Bytes per element.
    pub elem_size: u64,
}

/// `tt.make_tensor_descriptor`: a TMA-style descriptor of a global tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorDesc {
    pub base: u64,
    pub shape: Vec<i64>,
    pub strides: Vec<i64>,
    pub block_shape: Vec<usize>,
    pub elem_size: u64,
    /// Out-of-bounds reads give NaN instead of zero (`padding = nan`).
    pub pad_nan: bool,
}

/// A runtime value.
#[derive(Clone, Debug)]
pub enum RValue {
    Tensor(Rc<Tensor>),
    BlockPtr(Rc<BlockPtr>),
    Desc(Rc<TensorDesc>),
}

impl RValue {
    pub fn tensor(t: Tensor) -> RValue {
        RValue::Tensor(Rc::new(t))
    }

    pub fn scalar(bits: u64) -> RValue {
        RValue::tensor(Tensor::scalar(bits))
    }
}
