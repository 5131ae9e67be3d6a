//! `tt.reduce` and `tt.scan` with arbitrary combiner regions over one or
//! more operands.
//!
//! Order (documented in docs/semantics.md): a reduction is the sequential
//! left fold along the axis starting at index 0,
//! `acc = x[0]; acc = combine(acc, x[1]); …`; a scan is inclusive,
//! `out[0] = x[0]; out[i] = combine(out[i−1], x[i])`, and with
//! `reverse = true` runs from the last index down:
//! `out[n−1] = x[n−1]; out[i] = combine(out[i+1], x[i])`.
//!
//! The combiner is written for scalars; when it only holds elementwise ops
//! and constants it is evaluated once per step on whole slices (one element
//! per output position), which gives the same results as running it per
//! element. A single-op combiner on the block arguments (`addf`, `maxnumf`,
//! …) is applied directly without entering the region. Any other combiner
//! runs per element.

use maiac_ir::semantics::ElementwiseOp;
use maiac_ir::{Diagnostic, Op, Opcode, Region};

use super::exec::{Frame, Interp};
use super::shape::{for_each_index, row_major_strides, strided_copy};
use super::value::{RValue, Tensor};

/// How to evaluate a combiner region.
enum Combiner {
    /// One elementwise op on the two block arguments; `swapped` when it
    /// takes them as (x, acc).
    Direct { op: ElementwiseOp, swapped: bool },
    /// Elementwise ops and constants only: evaluate the region on slices.
    Sliced,
    /// Anything else: evaluate the region per element.
    PerElement,
}

/// Everything a reduction or scan needs: its inputs, how to slice them and
/// how to combine.
struct Fold {
    inputs: Vec<std::rc::Rc<Tensor>>,
    slices: AxisSlices,
    region: Region,
    combiner: Combiner,
}

/// Slices of a tensor along `axis`: slice `i` holds the elements with index
/// `i` along the axis, in row-major order of the other dimensions.
struct AxisSlices {
    len: usize,
    outer_shape: Vec<usize>,
    outer_strides: Vec<usize>,
    /// Flat offset of each outer position (axis index 0).
    outer_positions: Vec<usize>,
    axis_stride: usize,
}

impl AxisSlices {
    fn new(shape: &[usize], axis: usize) -> AxisSlices {
        let strides = row_major_strides(shape);
        let mut outer_shape = shape.to_vec();
        let mut outer_strides = strides.clone();
        outer_shape.remove(axis);
        outer_strides.remove(axis);
        let outer_positions = strided_positions(&outer_shape, &outer_strides);
        AxisSlices {
            len: shape[axis],
            outer_shape,
            outer_strides,
            outer_positions,
            axis_stride: strides[axis],
        }
    }

    fn slice(&self, data: &[u64], i: usize) -> Vec<u64> {
        strided_copy(
            data,
            i * self.axis_stride,
            &self.outer_strides,
            &self.outer_shape,
        )
    }

    /// Writes `values` (one per outer position) at axis index `i` of `out`.
    fn scatter(&self, out: &mut [u64], i: usize, values: &[u64]) {
        for (&p, &v) in self.outer_positions.iter().zip(values) {
            out[p + i * self.axis_stride] = v;
        }
    }
}

/// Flat offsets of every multi-index of `shape` under `strides`.
fn strided_positions(shape: &[usize], strides: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(shape.iter().product());
    for_each_index(shape, |_, idx| {
        out.push(idx.iter().zip(strides).map(|(i, s)| i * s).sum())
    });
    out
}

impl Interp<'_> {
    /// Classifies the combiner region of `op` (`n` operands).
    fn combiner(&mut self, region: Region, n: usize) -> Result<Combiner, Diagnostic> {
        let module = self.module;
        let blocks = module.layout.blocks(region);
        let [block] = blocks else {
            return Ok(Combiner::PerElement);
        };
        let ops = module.layout.ops(*block);
        let args = &module.dfg.blocks[*block].args;
        if n == 1 && ops.len() == 2 && args.len() == 2 {
            let (inner, ret) = (ops[0], ops[1]);
            let inner_operands = module.dfg.operands(inner);
            let returns_inner = module.dfg.operands(ret) == module.dfg.results(inner);
            if module.dfg.opcode(inner).is_elementwise()
                && returns_inner
                && inner_operands.len() == 2
            {
                let swapped = match inner_operands {
                    [x, y] if *x == args[0] && *y == args[1] => Some(false),
                    [x, y] if *x == args[1] && *y == args[0] => Some(true),
                    _ => None,
                };
                if let Some(swapped) = swapped {
                    return Ok(Combiner::Direct {
                        op: self.elementwise_op(inner)?,
                        swapped,
                    });
                }
            }
        }
        let sliceable = ops.iter().all(|&o| {
            let opcode = module.dfg.opcode(o);
            opcode.is_elementwise()
                || matches!(
                    opcode,
                    Opcode::Constant | Opcode::ReduceReturn | Opcode::ScanReturn
                )
        });
        Ok(if sliceable {
            Combiner::Sliced
        } else {
            Combiner::PerElement
        })
    }

    /// Applies the combiner: `acc[j] = combine(acc[j], x[j])` for every
    /// operand group; all vectors have `width` elements.
    fn combine(
        &mut self,
        frame: &mut Frame,
        op: Op,
        fold: &Fold,
        acc: &mut [Vec<u64>],
        x: &[Vec<u64>],
    ) -> Result<(), Diagnostic> {
        let width: usize = fold.slices.outer_shape.iter().product();
        let region = fold.region;
        match &fold.combiner {
            Combiner::Direct { op: e, swapped } => {
                for (a, &b) in acc[0].iter_mut().zip(&x[0]) {
                    *a = if *swapped {
                        e.eval(&[b, *a])
                    } else {
                        e.eval(&[*a, b])
                    };
                }
                Ok(())
            }
            Combiner::Sliced => {
                let args = acc
                    .iter()
                    .chain(x)
                    .map(|v| RValue::tensor(Tensor::new(vec![width], v.clone())))
                    .collect();
                let results = self.run_region(frame, op, region, args)?;
                for (slot, r) in acc.iter_mut().zip(results) {
                    *slot = self.combiner_values(op, r, width)?;
                }
                Ok(())
            }
            Combiner::PerElement => {
                for j in 0..width {
                    let args = acc.iter().chain(x).map(|v| RValue::scalar(v[j])).collect();
                    let results = self.run_region(frame, op, region, args)?;
                    for (slot, r) in acc.iter_mut().zip(results) {
                        slot[j] = self.combiner_values(op, r, 1)?[0];
                    }
                }
                Ok(())
            }
        }
    }

    /// A combiner result as `width` elements (a constant result broadcasts).
    fn combiner_values(&self, op: Op, value: RValue, width: usize) -> Result<Vec<u64>, Diagnostic> {
        match value {
            RValue::Tensor(t) if t.len() == width => Ok(t.data.clone()),
            RValue::Tensor(t) if t.len() == 1 => Ok(vec![t.data[0]; width]),
            _ => Err(self.error(op, "the combiner must return scalars")),
        }
    }

    /// Common set-up: operands, axis, slices, combiner.
    fn fold_setup(&mut self, frame: &Frame, op: Op) -> Result<Fold, Diagnostic> {
        let inputs = (0..self.module.dfg.operands(op).len())
            .map(|i| self.operand(frame, op, i))
            .collect::<Result<Vec<_>, _>>()?;
        let first = inputs
            .first()
            .ok_or_else(|| self.error(op, "needs at least one operand"))?;
        let shape = first.shape.clone();
        if inputs.iter().any(|t| t.shape != shape) {
            return Err(self.error(op, "all operands must have the same shape"));
        }
        let axis = self.int_attr(op, "axis")?;
        let axis = usize::try_from(axis)
            .ok()
            .filter(|&a| a < shape.len())
            .ok_or_else(|| self.error(op, format!("axis {axis} is out of range for {shape:?}")))?;
        let slices = AxisSlices::new(&shape, axis);
        if slices.len == 0 {
            return Err(self.error(op, "cannot combine along an empty axis"));
        }
        let region = *self.module.dfg.ops[op]
            .regions
            .first()
            .ok_or_else(|| self.error(op, "missing combiner region"))?;
        let combiner = self.combiner(region, inputs.len())?;
        Ok(Fold {
            inputs,
            slices,
            region,
            combiner,
        })
    }

    pub(super) fn exec_reduce(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let fold = self.fold_setup(frame, op)?;
        let slices = &fold.slices;
        let mut acc: Vec<Vec<u64>> = fold
            .inputs
            .iter()
            .map(|t| slices.slice(&t.data, 0))
            .collect();
        for i in 1..slices.len {
            let x: Vec<Vec<u64>> = fold
                .inputs
                .iter()
                .map(|t| slices.slice(&t.data, i))
                .collect();
            self.combine(frame, op, &fold, &mut acc, &x)?;
        }
        let results = acc
            .into_iter()
            .map(|data| RValue::tensor(Tensor::new(fold.slices.outer_shape.clone(), data)))
            .collect();
        self.set_results(frame, op, results)
    }

    pub(super) fn exec_scan(&mut self, frame: &mut Frame, op: Op) -> Result<(), Diagnostic> {
        let fold = self.fold_setup(frame, op)?;
        let (inputs, slices) = (&fold.inputs, &fold.slices);
        let reverse = self
            .module
            .dfg
            .attr(op, "reverse")
            .and_then(|a| a.as_int())
            .is_some_and(|v| v != 0);
        let order: Vec<usize> = if reverse {
            (0..slices.len).rev().collect()
        } else {
            (0..slices.len).collect()
        };
        let mut outputs: Vec<Vec<u64>> = inputs.iter().map(|t| vec![0; t.len()]).collect();
        let mut acc: Vec<Vec<u64>> = inputs
            .iter()
            .map(|t| slices.slice(&t.data, order[0]))
            .collect();
        for (out, a) in outputs.iter_mut().zip(&acc) {
            slices.scatter(out, order[0], a);
        }
        for &i in &order[1..] {
            let x: Vec<Vec<u64>> = inputs.iter().map(|t| slices.slice(&t.data, i)).collect();
            self.combine(frame, op, &fold, &mut acc, &x)?;
            for (out, a) in outputs.iter_mut().zip(&acc) {
                slices.scatter(out, i, a);
            }
        }
        let shape = inputs[0].shape.clone();
        let results = outputs
            .into_iter()
            .map(|data| RValue::tensor(Tensor::new(shape.clone(), data)))
            .collect();
        self.set_results(frame, op, results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_slices_of_a_matrix() {
        let data: Vec<u64> = (0..6).collect(); // 2x3
        let rows = AxisSlices::new(&[2, 3], 0);
        assert_eq!(rows.slice(&data, 1), vec![3, 4, 5]);
        let cols = AxisSlices::new(&[2, 3], 1);
        assert_eq!(cols.slice(&data, 2), vec![2, 5]);
        let mut out = vec![0; 6];
        cols.scatter(&mut out, 1, &[7, 8]);
        assert_eq!(out, vec![0, 7, 0, 0, 8, 0]);
    }

    #[test]
    fn strided_positions_enumerate_offsets() {
        assert_eq!(strided_positions(&[2, 2], &[3, 1]), vec![0, 1, 3, 4]);
        assert_eq!(strided_positions(&[], &[]), vec![0]);
    }
}
