//! `tt.dot` and `tt.dot_scaled` on the TTU: matmul into accumulators, drain, tiling to the accumulator capacity.

use maiac_ir::{Diagnostic, Op};

use super::Lowerer;

impl Lowerer<'_> {
    pub(super) fn lower_dot(&mut self, op: Op) -> Result<(), Diagnostic> {
        Err(self.error(op, "not yet lowered"))
    }
}
