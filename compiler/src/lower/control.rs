//! Structured control flow (`scf.for`, `scf.if`, `scf.while`), calls (inlined), asserts and prints.

use maiac_ir::{Diagnostic, Op};

use super::Lowerer;

impl Lowerer<'_> {
    pub(super) fn lower_control(&mut self, op: Op) -> Result<(), Diagnostic> {
        Err(self.error(op, "not yet lowered"))
    }
}
