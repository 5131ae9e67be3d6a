//! A small in-memory module builder for the verifier's unit tests: one
//! `tt.func` whose body is filled op by op, with helpers for nested regions
//! and for asserting on the verifier's messages.

use crate::attributes::{AttrList, Attribute};
use crate::entities::{Block, Op, Value};
use crate::module::Module;
use crate::opcode::Opcode;
use crate::types::Type;

pub(crate) fn int_attr(value: i128, ty: Type) -> Attribute {
    Attribute::Int { value, ty }
}

pub(crate) fn i32_attr(value: i128) -> Attribute {
    int_attr(value, Type::I32)
}

pub(crate) struct Builder {
    pub m: Module,
    pub func: Op,
    /// Where new ops are appended.
    pub block: Block,
}

impl Builder {
    /// A module holding `tt.func public @kernel(args) -> ()` with an empty body.
    pub fn kernel(args: &[Type]) -> Builder {
        Builder::function("kernel", args, &[])
    }

    /// A module holding one function with the given signature.
    pub fn function(name: &str, args: &[Type], results: &[Type]) -> Builder {
        let mut m = Module::new("test.ttir");
        let mut attrs = AttrList::new();
        attrs.set("sym_name", Attribute::String(name.into()));
        attrs.set(
            "function_type",
            Attribute::FunctionType {
                inputs: args.to_vec(),
                results: results.to_vec(),
            },
        );
        let loc = m.locs.unknown();
        let func = m.dfg.make_op(Opcode::Func, &[], &[], attrs, loc);
        m.layout.append_op(m.body, func);
        let region = m.dfg.make_region(func);
        let block = m.dfg.make_block(Some(region), args);
        m.layout.append_block(region, block);
        Builder { m, func, block }
    }

    /// Argument `i` of the current function's entry block.
    pub fn arg(&self, i: usize) -> Value {
        let entry = self.m.func_entry(self.func).expect("function body");
        self.m.dfg.blocks[entry].args[i]
    }

    /// Appends an op to the current block and returns it.
    pub fn add(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        results: &[Type],
        attrs: &[(&str, Attribute)],
    ) -> Op {
        let mut list = AttrList::new();
        for (name, value) in attrs {
            list.set(name, value.clone());
        }
        let loc = self.m.locs.unknown();
        let op = self.m.dfg.make_op(opcode, operands, results, list, loc);
        self.m.layout.append_op(self.block, op);
        op
    }

    /// Appends an op without attributes; returns its first result (or a
    /// placeholder value when it has none).
    pub fn op(&mut self, opcode: Opcode, operands: &[Value], results: &[Type]) -> Value {
        self.op_attrs(opcode, operands, results, &[])
    }

    /// Appends an op with attributes; returns its first result.
    pub fn op_attrs(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        results: &[Type],
        attrs: &[(&str, Attribute)],
    ) -> Value {
        let op = self.add(opcode, operands, results, attrs);
        self.m
            .dfg
            .results(op)
            .first()
            .copied()
            .unwrap_or(Value::from_u32(u32::MAX - 1))
    }

    /// Gives `op` a new region with one block taking `arg_types`.
    pub fn region(&mut self, op: Op, arg_types: &[Type]) -> Block {
        let region = self.m.dfg.make_region(op);
        let block = self.m.dfg.make_block(Some(region), arg_types);
        self.m.layout.append_block(region, block);
        block
    }

    /// Runs `fill` with `block` as the insertion point, then restores it.
    pub fn within(&mut self, block: Block, fill: impl FnOnce(&mut Builder)) {
        let saved = std::mem::replace(&mut self.block, block);
        fill(self);
        self.block = saved;
    }

    /// Block argument `i` of `block`.
    pub fn block_arg(&self, block: Block, i: usize) -> Value {
        self.m.dfg.blocks[block].args[i]
    }

    /// Appends `tt.return` with no operands.
    pub fn ret(&mut self) {
        self.add(Opcode::Return, &[], &[], &[]);
    }

    /// The verifier's messages, in order.
    pub fn messages(&self) -> Vec<String> {
        match crate::verifier::verify(&self.m) {
            Ok(()) => Vec::new(),
            Err(diags) => diags.into_iter().map(|d| d.message).collect(),
        }
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        let messages = self.messages();
        assert!(messages.is_empty(), "unexpected errors: {messages:#?}");
    }

    /// Exactly one error, containing `needle`.
    #[track_caller]
    pub fn assert_error(&self, needle: &str) {
        self.assert_errors(&[needle]);
    }

    /// Exactly `needles.len()` errors, the i-th containing the i-th needle.
    #[track_caller]
    pub fn assert_errors(&self, needles: &[&str]) {
        let messages = self.messages();
        assert_eq!(messages.len(), needles.len(), "errors: {messages:#?}");
        for (message, needle) in messages.iter().zip(needles) {
            assert!(
                message.contains(needle),
                "expected {needle:?} in {message:?}\nall: {messages:#?}"
            );
        }
    }
}
