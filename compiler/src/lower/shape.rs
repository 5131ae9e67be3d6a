//! Shape ops as views (broadcast, expand_dims, trans, reshape) or TVP copies (cat, join, split, splat).

use maiac_ir::{Diagnostic, Op};

use super::Lowerer;

impl Lowerer<'_> {
    pub(super) fn lower_shape(&mut self, op: Op) -> Result<(), Diagnostic> {
        Err(self.error(op, "not yet lowered"))
    }
}
