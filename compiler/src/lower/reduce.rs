//! `tt.reduce`, `tt.scan`, `tt.gather` and `tt.histogram` on the TVP.

use maiac_ir::{Diagnostic, Op};

use super::Lowerer;

impl Lowerer<'_> {
    pub(super) fn lower_reduce(&mut self, op: Op) -> Result<(), Diagnostic> {
        Err(self.error(op, "not yet lowered"))
    }
}
