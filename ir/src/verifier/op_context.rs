//! [`OpCx`]: the view of one op that the per-dialect rules check, with the
//! arity and attribute accessors they share.
//!
//! Every rule returns a [`Check`]: `Err` carries one complete, user-facing
//! message that already names the op (rustc's voice: "`arith.addi` operands
//! must have the same type: ..."). A rule stops at the first problem it finds
//! in an op, as MLIR's verifiers do, so one mistake yields one error.

use std::fmt::Display;

use crate::attributes::Attribute;
use crate::dfg::DataFlowGraph;
use crate::entities::{Block, Op, Region, Value};
use crate::module::Module;
use crate::opcode::Opcode;
use crate::types::Type;

/// The outcome of checking one rule.
pub(crate) type Check = Result<(), String>;

/// One op under verification.
#[derive(Copy, Clone)]
pub(crate) struct OpCx<'m> {
    pub module: &'m Module,
    pub op: Op,
    pub opcode: Opcode,
}

impl<'m> OpCx<'m> {
    pub fn new(module: &'m Module, op: Op) -> OpCx<'m> {
        OpCx {
            module,
            op,
            opcode: module.dfg.opcode(op),
        }
    }

    pub fn dfg(&self) -> &'m DataFlowGraph {
        &self.module.dfg
    }

    /// The op's MLIR name (`arith.addi`).
    pub fn name(&self) -> &'static str {
        self.opcode.name()
    }

    /// A message about this op: "`<op name>` <what>".
    pub fn msg(&self, what: impl Display) -> String {
        format!("`{}` {what}", self.name())
    }

    /// Fails with a message about this op.
    pub fn fail<T>(&self, what: impl Display) -> Result<T, String> {
        Err(self.msg(what))
    }

    pub fn operands(&self) -> &'m [Value] {
        self.module.dfg.operands(self.op)
    }

    pub fn results(&self) -> &'m [Value] {
        self.module.dfg.results(self.op)
    }

    pub fn ty(&self, v: Value) -> &'m Type {
        self.module.dfg.value_type(v)
    }

    pub fn operand_types(&self) -> Vec<&'m Type> {
        self.operands().iter().map(|&v| self.ty(v)).collect()
    }

    pub fn result_types(&self) -> Vec<&'m Type> {
        self.results().iter().map(|&v| self.ty(v)).collect()
    }

    pub fn regions(&self) -> &'m [Region] {
        &self.module.dfg.ops[self.op].regions
    }

    /// The single block of region `index`, if the region exists and has
    /// exactly one block (the structural checks report every other shape).
    pub fn single_block(&self, index: usize) -> Option<Block> {
        let region = *self.regions().get(index)?;
        match self.module.layout.blocks(region) {
            [block] => Some(*block),
            _ => None,
        }
    }

    /// The op whose region holds this op, with the index of that region
    /// among the parent's regions (`None` at module level).
    pub fn parent(&self) -> Option<(Op, usize)> {
        let block = self.module.layout.op_block(self.op)?;
        let region = self.module.dfg.blocks[block].region?;
        let parent = self.module.dfg.regions[region].parent?;
        let index = self.module.dfg.ops[parent]
            .regions
            .iter()
            .position(|&r| r == region)?;
        Some((parent, index))
    }

    /// The types of a block's arguments.
    pub fn block_arg_types(&self, block: Block) -> Vec<&'m Type> {
        self.module.dfg.blocks[block]
            .args
            .iter()
            .map(|&v| self.ty(v))
            .collect()
    }

    /// The types of the operands of another op (a terminator in a region of
    /// this one).
    pub fn operand_types_of(&self, op: Op) -> Vec<&'m Type> {
        self.module
            .dfg
            .operands(op)
            .iter()
            .map(|&v| self.ty(v))
            .collect()
    }

    /// Exactly `N` operands, as an array of their types.
    pub fn operands_exact<const N: usize>(&self) -> Result<[&'m Type; N], String> {
        let types = self.operand_types();
        let count = types.len();
        types.try_into().map_err(|_| {
            self.msg(format_args!(
                "expects {}, but has {count}",
                plural(N, "operand")
            ))
        })
    }

    /// Exactly `N` results, as an array of their types.
    pub fn results_exact<const N: usize>(&self) -> Result<[&'m Type; N], String> {
        let types = self.result_types();
        let count = types.len();
        types.try_into().map_err(|_| {
            self.msg(format_args!(
                "expects {}, but has {count}",
                plural(N, "result")
            ))
        })
    }

    /// Between `min` and `max` operands (inclusive), as their types.
    pub fn operands_between(&self, min: usize, max: usize) -> Result<Vec<&'m Type>, String> {
        let types = self.operand_types();
        if types.len() < min || types.len() > max {
            return self.fail(format_args!(
                "expects {min} to {max} operands, but has {}",
                types.len()
            ));
        }
        Ok(types)
    }

    /// At least `min` operands, as their types.
    pub fn operands_at_least(&self, min: usize) -> Result<Vec<&'m Type>, String> {
        let types = self.operand_types();
        if types.len() < min {
            return self.fail(format_args!(
                "expects at least {}, but has {}",
                plural(min, "operand"),
                types.len()
            ));
        }
        Ok(types)
    }

    pub fn attr(&self, name: &str) -> Option<&'m Attribute> {
        self.module.dfg.ops[self.op].attrs.get(name)
    }

    /// An attribute the op cannot do without.
    pub fn required_attr(&self, name: &str) -> Result<&'m Attribute, String> {
        self.attr(name)
            .ok_or_else(|| self.msg(format_args!("is missing its required attribute `{name}`")))
    }

    /// A required integer attribute.
    pub fn required_int(&self, name: &str) -> Result<i128, String> {
        match self.required_attr(name)? {
            Attribute::Int { value, .. } => Ok(*value),
            other => self.fail(format_args!(
                "attribute `{name}` must be an integer, but is {}",
                describe_attr(other)
            )),
        }
    }

    /// An optional boolean attribute (`true`/`false`, or a unit attribute
    /// meaning `true`).
    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, String> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attribute::Bool(b)) => Ok(Some(*b)),
            Some(Attribute::Unit) => Ok(Some(true)),
            Some(other) => self.fail(format_args!(
                "attribute `{name}` must be a boolean, but is {}",
                describe_attr(other)
            )),
        }
    }

    /// A required boolean attribute.
    pub fn required_bool(&self, name: &str) -> Result<bool, String> {
        self.required_attr(name)?;
        Ok(self.optional_bool(name)?.unwrap_or(false))
    }

    /// A string attribute (required).
    pub fn required_string(&self, name: &str) -> Result<&'m str, String> {
        match self.required_attr(name)? {
            Attribute::String(s) => Ok(s),
            other => self.fail(format_args!(
                "attribute `{name}` must be a string, but is {}",
                describe_attr(other)
            )),
        }
    }

    /// A list of integers (`array<i32: ...>` or `[...]`), if present.
    pub fn optional_int_list(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        match self.attr(name) {
            None => Ok(None),
            Some(attr) => match attr.as_int_list() {
                Some(list) => Ok(Some(list)),
                None => self.fail(format_args!(
                    "attribute `{name}` must be a list of integers, but is {}",
                    describe_attr(attr)
                )),
            },
        }
    }

    /// A required list of integers.
    pub fn required_int_list(&self, name: &str) -> Result<Vec<i64>, String> {
        self.required_attr(name)?;
        Ok(self.optional_int_list(name)?.unwrap_or_default())
    }

    /// A symbolic enum attribute whose keyword must be one of `allowed`.
    pub fn optional_enum(&self, name: &str, allowed: &[&str]) -> Result<Option<&'m str>, String> {
        let Some(attr) = self.attr(name) else {
            return Ok(None);
        };
        match attr {
            Attribute::Enum(word) if allowed.contains(&word.as_str()) => Ok(Some(word)),
            Attribute::Enum(word) => self.fail(format_args!(
                "attribute `{name}` has unknown value `{word}`; expected one of {}",
                quoted_list(allowed)
            )),
            other => self.fail(format_args!(
                "attribute `{name}` must be one of {}, but is {}",
                quoted_list(allowed),
                describe_attr(other)
            )),
        }
    }

    /// A required symbolic enum attribute.
    pub fn required_enum(&self, name: &str, allowed: &[&str]) -> Result<&'m str, String> {
        self.required_attr(name)?;
        Ok(self.optional_enum(name, allowed)?.unwrap_or_default())
    }

    /// The operand group sizes of an op with several variadic groups: the
    /// `operandSegmentSizes` attribute when present, otherwise `infer()`
    /// (which returns `None` when the split is ambiguous).
    pub fn segments(
        &self,
        groups: usize,
        infer: impl FnOnce(usize) -> Option<Vec<usize>>,
    ) -> Result<Vec<usize>, String> {
        let total = self.operands().len();
        let sizes = match self.optional_int_list("operandSegmentSizes")? {
            Some(sizes) => {
                if sizes.iter().any(|&s| s < 0) {
                    return self.fail("attribute `operandSegmentSizes` has a negative entry");
                }
                sizes.into_iter().map(|s| s as usize).collect::<Vec<_>>()
            }
            None => match infer(total) {
                Some(sizes) => sizes,
                None => {
                    return self.fail(format_args!(
                    "needs the attribute `operandSegmentSizes` to tell its {total} operands apart"
                ))
                }
            },
        };
        if sizes.len() != groups {
            return self.fail(format_args!(
                "attribute `operandSegmentSizes` must have {groups} entries, but has {}",
                sizes.len()
            ));
        }
        let sum: usize = sizes.iter().sum();
        if sum != total {
            return self.fail(format_args!(
                "attribute `operandSegmentSizes` accounts for {sum} operands, but the op has {total}"
            ));
        }
        Ok(sizes)
    }
}

/// "1 operand", "2 operands".
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "`a`, `b` or `c`".
pub(crate) fn quoted_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// A short description of an attribute's kind, for messages.
pub(crate) fn describe_attr(attr: &Attribute) -> String {
    match attr {
        Attribute::Unit => "a unit attribute".into(),
        Attribute::Bool(b) => format!("`{b}`"),
        Attribute::Int { value, ty } => format!("`{value} : {ty}`"),
        Attribute::Float { .. } => "a float".into(),
        Attribute::String(s) => format!("the string {s:?}"),
        Attribute::Type(t) => format!("the type `{t}`"),
        Attribute::FunctionType { .. } => "a function type".into(),
        Attribute::Symbol(s) => format!("the symbol `@{s}`"),
        Attribute::Enum(s) => format!("`{s}`"),
        Attribute::Array(_) => "an array".into(),
        Attribute::DenseArray { .. } => "a dense array".into(),
        Attribute::Dense { .. } => "a dense elements attribute".into(),
        Attribute::Dict(_) => "a dictionary".into(),
        Attribute::Opaque(s) => format!("`{s}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_naturally() {
        assert_eq!(quoted_list(&["a"]), "`a`");
        assert_eq!(quoted_list(&["a", "b", "c"]), "`a`, `b` or `c`");
        assert_eq!(plural(1, "operand"), "1 operand");
        assert_eq!(plural(3, "result"), "3 results");
    }
}
