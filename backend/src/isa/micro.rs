//! Micro-programs: the straight-line lane programs TVP instructions run per
//! element (a `map` body, a reduction/scan combiner, a drain epilogue).
//!
//! A micro-program declares the types of its inputs, then lists lane
//! instructions in SSA order: instruction `j` defines value `v{j}`, and its
//! arguments name inputs (`in{i}`), earlier values or typed immediates. Its
//! outputs name values or inputs. Micro-programs are data: they live in the
//! module's micro-program table and instructions refer to them by
//! [`MicroId`].
//!
//! Conventions by use:
//! - `map`: inputs are the instruction's inputs in order, outputs its output
//!   views in order.
//! - `reduce`/`scan` combiner over `n` operands: `2n` inputs — the running
//!   accumulators `acc_0..acc_{n−1}` first, then the next elements
//!   `x_0..x_{n−1}` — and `n` outputs, the new accumulators.
//! - TTU drain epilogue: input 0 is the accumulator element, then the extra
//!   inputs; one output.

use std::fmt;

use super::dtype::DType;
use super::lane::LaneOp;

/// Index of a micro-program in [`crate::isa::Module::micro_programs`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MicroId(pub u32);

impl fmt::Display for MicroId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

/// An argument of a lane instruction or an output of a micro-program.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum LaneSrc {
    /// Input `i` of the micro-program.
    Input(u16),
    /// The result of lane instruction `j` (which must come earlier).
    Value(u16),
    /// A constant: raw bits of `ty` (bits above the type's width are zero).
    Imm { ty: DType, bits: u64 },
}

impl fmt::Display for LaneSrc {
    /// `in0`, `v3`, `f32:0x3f800000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaneSrc::Input(i) => write!(f, "in{i}"),
            LaneSrc::Value(j) => write!(f, "v{j}"),
            LaneSrc::Imm { ty, bits } => write!(f, "{ty}:{bits:#x}"),
        }
    }
}

/// One lane instruction: `v{j} = op args...`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LaneInstr {
    pub op: LaneOp,
    pub args: Vec<LaneSrc>,
}

/// A straight-line lane program.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MicroProgram {
    /// Type of each input.
    pub inputs: Vec<DType>,
    pub body: Vec<LaneInstr>,
    pub outputs: Vec<LaneSrc>,
}

/// Upper bounds that keep micro-programs small enough for a real lane
/// sequencer (and the binary's 16-bit operand fields).
pub const MAX_MICRO_INPUTS: usize = 16;
pub const MAX_MICRO_OUTPUTS: usize = 8;
pub const MAX_MICRO_BODY: usize = 1024;

impl MicroProgram {
    /// The type of a source, or why it is invalid.
    pub fn type_of(&self, src: LaneSrc, before: usize) -> Result<DType, String> {
        match src {
            LaneSrc::Input(i) => self
                .inputs
                .get(usize::from(i))
                .copied()
                .ok_or_else(|| format!("in{i} does not exist ({} inputs)", self.inputs.len())),
            LaneSrc::Value(j) if usize::from(j) < before => self.body[usize::from(j)]
                .op
                .result_type()
                .ok_or_else(|| format!("v{j} has no machine type")),
            LaneSrc::Value(j) => Err(format!("v{j} is used before it is defined")),
            LaneSrc::Imm { ty, bits } if bits & !ty.value_mask() != 0 => {
                Err(format!("immediate {bits:#x} does not fit {ty}"))
            }
            LaneSrc::Imm { ty, .. } => Ok(ty),
        }
    }

    /// The types of the outputs (after [`MicroProgram::check`] succeeded).
    pub fn output_types(&self) -> Result<Vec<DType>, String> {
        self.outputs
            .iter()
            .map(|&o| self.type_of(o, self.body.len()))
            .collect()
    }

    /// Type-checks the program: every op's parameters, argument count and
    /// argument types, SSA order, and the sizes above.
    pub fn check(&self) -> Result<(), String> {
        if self.inputs.len() > MAX_MICRO_INPUTS {
            return Err(format!(
                "{} inputs (at most {MAX_MICRO_INPUTS})",
                self.inputs.len()
            ));
        }
        if self.outputs.len() > MAX_MICRO_OUTPUTS {
            return Err(format!(
                "{} outputs (at most {MAX_MICRO_OUTPUTS})",
                self.outputs.len()
            ));
        }
        if self.body.len() > MAX_MICRO_BODY {
            return Err(format!(
                "{} lane instructions (at most {MAX_MICRO_BODY})",
                self.body.len()
            ));
        }
        for (j, instr) in self.body.iter().enumerate() {
            instr.op.check().map_err(|e| format!("v{j}: {e}"))?;
            if instr.args.len() != instr.op.arity() {
                return Err(format!(
                    "v{j}: `{}` takes {} arguments, got {}",
                    instr.op,
                    instr.op.arity(),
                    instr.args.len()
                ));
            }
            for (k, (&arg, want)) in instr.args.iter().zip(instr.op.operand_types()).enumerate() {
                let got = self.type_of(arg, j).map_err(|e| format!("v{j}: {e}"))?;
                if Some(got) != want {
                    return Err(format!(
                        "v{j}: argument {k} of `{}` is {got}, expected {}",
                        instr.op,
                        want.map_or("?".to_string(), |t| t.to_string())
                    ));
                }
            }
        }
        for (k, &out) in self.outputs.iter().enumerate() {
            self.type_of(out, self.body.len())
                .map_err(|e| format!("output {k}: {e}"))?;
        }
        Ok(())
    }

    /// Evaluates the program on one lane: `inputs` are the input bits,
    /// `values` is scratch space (resized as needed), the results are
    /// written to `outputs` (one per output; extra slots are left alone).
    /// This is the reference semantics; it never panics, even on programs
    /// that fail [`MicroProgram::check`] (invalid sources read as 0).
    pub fn eval(&self, inputs: &[u64], values: &mut Vec<u64>, outputs: &mut [u64]) {
        values.clear();
        let mut args = [0u64; 3];
        for instr in &self.body {
            for (slot, &src) in args.iter_mut().zip(&instr.args) {
                *slot = read(src, inputs, values);
            }
            let n = instr.args.len().min(3);
            let result = instr.op.eval(&args[..n]);
            values.push(result);
        }
        for (slot, &src) in outputs.iter_mut().zip(&self.outputs) {
            *slot = read(src, inputs, values);
        }
    }

    /// Evaluates the program on `n` lanes at once, op by op over whole
    /// slices (the vectorizable form of [`MicroProgram::eval`], same bits):
    /// input `i` is `inputs[i]` — a slice of at least `n` lanes or one value
    /// broadcast to all — and output `o` is written to `outputs[o]`
    /// (resized to `n`).
    pub fn eval_lanes(&self, n: usize, inputs: &[Lanes<'_>], outputs: &mut [Vec<u64>]) {
        let mut values: Vec<Vec<u64>> = Vec::with_capacity(self.body.len());
        let mut splats: Vec<Vec<u64>> = Vec::new();
        for instr in &self.body {
            // Materialize broadcast arguments first so every argument is a slice.
            splats.clear();
            for &src in &instr.args {
                if let Some(v) = splat_of(src, inputs) {
                    splats.push(vec![v; n]);
                }
            }
            let mut splat_iter = splats.iter();
            let args: Vec<&[u64]> = instr
                .args
                .iter()
                .map(|&src| match (src, splat_of(src, inputs)) {
                    (_, Some(_)) => splat_iter.next().map_or(&[][..], |v| &v[..]),
                    (LaneSrc::Input(i), None) => match inputs.get(usize::from(i)) {
                        Some(Lanes::Slice(s)) => &s[..n.min(s.len())],
                        _ => &[][..],
                    },
                    (LaneSrc::Value(j), None) => {
                        values.get(usize::from(j)).map_or(&[][..], |v| &v[..])
                    }
                    (LaneSrc::Imm { .. }, None) => &[][..],
                })
                .collect();
            let mut out = vec![0u64; n];
            instr.op.eval_slices(&args, &mut out);
            values.push(out);
        }
        for (slot, &src) in outputs.iter_mut().zip(&self.outputs) {
            slot.clear();
            match (src, splat_of(src, inputs)) {
                (_, Some(v)) => slot.resize(n, v),
                (LaneSrc::Input(i), None) => match inputs.get(usize::from(i)) {
                    Some(Lanes::Slice(s)) => {
                        slot.extend_from_slice(&s[..n.min(s.len())]);
                        slot.resize(n, 0);
                    }
                    _ => slot.resize(n, 0),
                },
                (LaneSrc::Value(j), None) => match values.get(usize::from(j)) {
                    Some(v) => slot.extend_from_slice(v),
                    None => slot.resize(n, 0),
                },
                (LaneSrc::Imm { .. }, None) => slot.resize(n, 0),
            }
        }
    }

    /// Cost in TVP issue slots of one pass over a vector of lanes: the sum
    /// of each op's slot cost (`simple` or `transcendental` from the
    /// machine description).
    pub fn issue_slots(&self, simple: u32, transcendental: u32) -> u64 {
        self.body
            .iter()
            .map(|i| {
                u64::from(if i.op.is_transcendental() {
                    transcendental
                } else {
                    simple
                })
            })
            .sum()
    }
}

/// The lanes of one micro-program input in [`MicroProgram::eval_lanes`].
#[derive(Copy, Clone, Debug)]
pub enum Lanes<'a> {
    /// One value per lane.
    Slice(&'a [u64]),
    /// One value for every lane (a scalar operand or a stride-0 view).
    Splat(u64),
}

/// The broadcast value of a source, if it is the same in every lane.
fn splat_of(src: LaneSrc, inputs: &[Lanes<'_>]) -> Option<u64> {
    match src {
        LaneSrc::Imm { bits, .. } => Some(bits),
        LaneSrc::Input(i) => match inputs.get(usize::from(i)) {
            Some(Lanes::Splat(v)) => Some(*v),
            Some(Lanes::Slice(_)) => None,
            None => Some(0),
        },
        LaneSrc::Value(_) => None,
    }
}

#[inline]
fn read(src: LaneSrc, inputs: &[u64], values: &[u64]) -> u64 {
    match src {
        LaneSrc::Input(i) => inputs.get(usize::from(i)).copied().unwrap_or(0),
        LaneSrc::Value(j) => values.get(usize::from(j)).copied().unwrap_or(0),
        LaneSrc::Imm { bits, .. } => bits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maiac_ir::semantics::float::FloatBinaryOp;
    use maiac_ir::FloatType;

    fn axpy() -> MicroProgram {
        // out = 2 * in0 + in1
        MicroProgram {
            inputs: vec![DType::F32, DType::F32],
            body: vec![
                LaneInstr {
                    op: LaneOp::Float {
                        op: FloatBinaryOp::Mul,
                        ty: FloatType::F32,
                    },
                    args: vec![
                        LaneSrc::Input(0),
                        LaneSrc::Imm {
                            ty: DType::F32,
                            bits: 0x4000_0000,
                        },
                    ],
                },
                LaneInstr {
                    op: LaneOp::Float {
                        op: FloatBinaryOp::Add,
                        ty: FloatType::F32,
                    },
                    args: vec![LaneSrc::Value(0), LaneSrc::Input(1)],
                },
            ],
            outputs: vec![LaneSrc::Value(1)],
        }
    }

    #[test]
    fn checks_and_evaluates() {
        let p = axpy();
        assert_eq!(p.check(), Ok(()));
        assert_eq!(p.output_types(), Ok(vec![DType::F32]));
        let mut values = Vec::new();
        let mut out = [0u64];
        p.eval(
            &[u64::from(3f32.to_bits()), u64::from(1f32.to_bits())],
            &mut values,
            &mut out,
        );
        assert_eq!(f32::from_bits(out[0] as u32), 7.0);
    }

    #[test]
    fn lane_evaluation_matches_scalar_evaluation() {
        let p = axpy();
        let xs: Vec<u64> = [1.0f32, -2.5, 3.0]
            .iter()
            .map(|x| u64::from(x.to_bits()))
            .collect();
        let one = u64::from(1f32.to_bits());
        let mut outputs = vec![Vec::new()];
        p.eval_lanes(3, &[Lanes::Slice(&xs), Lanes::Splat(one)], &mut outputs);
        for (i, &x) in xs.iter().enumerate() {
            let (mut values, mut out) = (Vec::new(), [0u64]);
            p.eval(&[x, one], &mut values, &mut out);
            assert_eq!(outputs[0][i], out[0]);
        }
    }

    #[test]
    fn rejects_type_errors_and_forward_references() {
        let mut p = axpy();
        p.inputs[1] = DType::I32;
        assert!(p.check().unwrap_err().contains("argument 1"));
        let mut p = axpy();
        p.body[0].args[0] = LaneSrc::Value(1);
        assert!(p.check().unwrap_err().contains("before it is defined"));
        let mut p = axpy();
        p.body[0].args[1] = LaneSrc::Imm {
            ty: DType::F32,
            bits: 1 << 40,
        };
        assert!(p.check().unwrap_err().contains("does not fit"));
    }
}
