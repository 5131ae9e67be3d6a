//! Scalars on the control processor: program ids, constants, ranges.

use maiac_ir::{Diagnostic, Op};

use super::Lowerer;

impl Lowerer<'_> {
    pub(super) fn lower_program_id(&mut self, op: Op) -> Result<(), Diagnostic> {
        Err(self.error(op, "not yet lowered"))
    }
    pub(super) fn lower_constant(&mut self, op: Op) -> Result<(), Diagnostic> {
        Err(self.error(op, "not yet lowered"))
    }
    pub(super) fn lower_make_range(&mut self, op: Op) -> Result<(), Diagnostic> {
        Err(self.error(op, "not yet lowered"))
    }
}
