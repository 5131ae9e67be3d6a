//! maiac's intermediate representation for Triton's `tt` dialect (TTIR).
//!
//! The IR follows Cranelift's shape: typed entity ids (`cranelift-entity`)
//! index arenas in a [`DataFlowGraph`], while the order of ops in blocks and of
//! blocks in regions lives separately in a [`Layout`]. Ops are MLIR-style and
//! generic: an [`Opcode`], operands, results, named attributes and nested
//! regions, so one parser/printer pair covers every op.
//!
//! Tour: [`types`] and [`attributes`] are the vocabulary; [`dfg`], [`layout`]
//! and [`module`] hold a program; [`location`] maps ops back to Python;
//! [`diagnostic`] renders errors; [`numerics`] defines the bit-exact number
//! formats every execution engine shares.

pub mod attributes;
pub mod check;
pub mod dfg;
pub mod diagnostic;
pub mod entities;
pub mod layout;
pub mod location;
pub mod module;
pub mod numerics;
pub mod opcode;
pub mod parser;
pub mod printer;
pub mod semantics;
pub mod types;
pub mod verifier;

pub use attributes::{AttrList, Attribute, DenseElements, NamedAttr};
pub use check::check_text;
pub use dfg::{BlockData, DataFlowGraph, OpData, RegionData, SrcPos, ValueData, ValueDef};
pub use diagnostic::Diagnostic;
pub use entities::{Block, Loc, Op, Region, Value};
pub use layout::Layout;
pub use location::{LocData, Locations, PySource};
pub use module::Module;
pub use opcode::Opcode;
pub use types::{FloatType, Type};
