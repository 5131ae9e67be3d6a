//! `tt.map_elementwise`: the scalar region run once per group of `pack`
//! elements.
//!
//! Groups are `pack` consecutive elements in row-major order (group `g`
//! holds flat elements `g·pack … g·pack + pack − 1`; Triton groups a
//! thread's consecutive registers, which for an elementwise function gives
//! the same results). The region's entry block takes, operand by operand,
//! the group's `pack` scalars; `tt.map_elementwise.return` gives, result
//! by result, the group's `pack` scalars. The region runs with the
//! interpreter's ordinary control flow (`scf.if`, `cf` branches, loops), so
//! only the branch an element takes is evaluated, as in Triton.

use maiac_ir::{Diagnostic, Op};

use super::exec::{Frame, Interp};
use super::value::{RValue, Tensor};

impl Interp<'_> {
    pub(super) fn exec_map_elementwise(
        &mut self,
        frame: &mut Frame,
        op: Op,
    ) -> Result<(), Diagnostic> {
        let module = self.module;
        let region = *module.dfg.ops[op]
            .regions
            .first()
            .ok_or_else(|| self.error(op, "missing the scalar region"))?;
        let pack = module.dfg.ops[op]
            .attrs
            .int("pack")
            .map_or(Ok(1), |p| {
                usize::try_from(p).ok().filter(|&p| p > 0).ok_or(p)
            })
            .map_err(|p| self.error(op, format!("`pack` {p} is not positive")))?;
        let inputs = (0..module.dfg.operands(op).len())
            .map(|i| self.operand(frame, op, i))
            .collect::<Result<Vec<_>, _>>()?;
        let shape = inputs[0].shape.clone();
        let n = inputs[0].len();
        if inputs.iter().any(|t| t.len() != n) || n % pack != 0 {
            return Err(self.error(
                op,
                format!("operands of {n} elements cannot be split into groups of {pack}"),
            ));
        }
        let results = module.dfg.results(op).len();
        let mut outputs = vec![vec![0u64; n]; results];
        let mut args = Vec::with_capacity(inputs.len() * pack);
        for group in 0..n / pack {
            let first = group * pack;
            args.clear();
            for input in &inputs {
                for j in 0..pack {
                    args.push(RValue::scalar(input.data[first + j]));
                }
            }
            let returned = self.run_region(frame, op, region, args.clone())?;
            if returned.len() != results * pack {
                return Err(self.error(
                    op,
                    format!(
                        "the scalar region returned {} values, expected {}",
                        returned.len(),
                        results * pack
                    ),
                ));
            }
            for (i, value) in returned.iter().enumerate() {
                let bits = match value {
                    RValue::Tensor(t) if t.len() == 1 => t.scalar_bits(),
                    _ => return Err(self.error(op, "the scalar region returned a non-scalar")),
                };
                outputs[i / pack][first + i % pack] = bits;
            }
        }
        let values = outputs
            .into_iter()
            .map(|data| RValue::tensor(Tensor::new(shape.clone(), data)))
            .collect();
        self.set_results(frame, op, values)
    }
}
