//! Loads, stores, atomics, block pointers and tensor descriptors: strided DMA from the access analysis, gather/scatter otherwise.

use maiac_ir::{Diagnostic, Op};

use super::Lowerer;

impl Lowerer<'_> {
    pub(super) fn lower_memory(&mut self, op: Op) -> Result<(), Diagnostic> {
        Err(self.error(op, "not yet lowered"))
    }
}

impl Lowerer<'_> {
    /// Called by the `scf.for` lowering before the loop: evaluates the
    /// initial value of every carried register the access analysis gave
    /// this loop (`AccessMap::carried` entries with `for_op`).
    pub(super) fn begin_carried(&mut self, _for_op: Op) -> Result<(), Diagnostic> {
        Ok(())
    }

    /// Called by the `scf.for` lowering at the end of the loop body (before
    /// the yielded values are moved into the iter_args): computes every
    /// carried register's next value.
    pub(super) fn end_carried(&mut self, _for_op: Op) -> Result<(), Diagnostic> {
        Ok(())
    }
}
