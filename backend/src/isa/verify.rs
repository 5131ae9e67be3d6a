//! Well-formedness of a module, independent of the machine it runs on:
//! register numbers, branch targets, operand spaces, view ranks and shapes,
//! micro-program types against the views they are applied to, the line
//! table. The decoder runs it on every binary and the assembler on every
//! module it builds, so the emulator may assume it. Machine limits
//! (semaphore counts, capacities) are checked by
//! [`crate::machine::Machine::check_module`].

use super::address::{Address, Space, Unit, UnitSet};
use super::control::CpOp;
use super::dma::{AtomicKind, DmaOp, StridedCopy};
use super::dtype::DType;
use super::instr::{Instr, Op};
use super::lane::LaneOp;
use super::micro::MicroId;
use super::operand::{Operand, Special};
use super::program::{Module, Program};
use super::sync::MAX_WAITS;
use super::ttu::{MatOperand, TtuOp, TtuPrecision};
use super::tvp::{MapInput, TvpOp};
use super::view::{View, MAX_RANK};
use super::MX_BLOCK;

/// A well-formedness violation: where and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct VerifyError {
    /// `tile program pc 12 (tvp.map)`, `micro-program m3`, `constant 2`, ...
    pub location: String,
    pub message: String,
}

type Check = Result<(), String>;

fn ensure(cond: bool, message: impl FnOnce() -> String) -> Check {
    if cond {
        Ok(())
    } else {
        Err(message())
    }
}

impl Module {
    /// Checks the module; the first violation is returned.
    pub fn verify(&self) -> Result<(), VerifyError> {
        for (i, m) in self.micro_programs.iter().enumerate() {
            m.check().map_err(|message| VerifyError {
                location: format!("micro-program m{i}"),
                message,
            })?;
        }
        for (i, c) in self.constants.iter().enumerate() {
            let check = ensure(matches!(c.space, Space::Tsram | Space::Csram), || {
                format!("constants go to tsram or csram, not {}", c.space)
            })
            .and_then(|()| unit_set(&c.units));
            check.map_err(|message| VerifyError {
                location: format!("constant {i}"),
                message,
            })?;
        }
        self.verify_program(&self.tile_program, false)?;
        if let Some(p) = &self.cluster_program {
            self.verify_program(p, true)?;
        }
        Ok(())
    }

    fn verify_program(&self, program: &Program, cluster: bool) -> Result<(), VerifyError> {
        let which = if cluster {
            "cluster program"
        } else {
            "tile program"
        };
        for (pc, instr) in program.code.iter().enumerate() {
            self.verify_instr(instr, program.code.len(), cluster)
                .map_err(|message| VerifyError {
                    location: format!("{which} pc {pc} ({})", instr.op.mnemonic()),
                    message,
                })?;
        }
        let mut last = None;
        for (row, entry) in program.lines.iter().enumerate() {
            let check = ensure(last.is_none_or(|l| entry.pc > l), || {
                "line table rows must have increasing pcs".into()
            })
            .and_then(|()| {
                ensure((entry.pc as usize) < program.code.len().max(1), || {
                    format!("pc {} is past the end of the code", entry.pc)
                })
            })
            .and_then(|()| {
                ensure(
                    entry
                        .loc
                        .is_none_or(|l| (l.0 as usize) < self.debug_locs.len()),
                    || "unknown debug location".into(),
                )
            });
            check.map_err(|message| VerifyError {
                location: format!("{which} line table row {row}"),
                message,
            })?;
            last = Some(entry.pc);
        }
        Ok(())
    }

    fn verify_instr(&self, instr: &Instr, code_len: usize, cluster: bool) -> Check {
        ensure(instr.sync.waits.len() <= MAX_WAITS, || {
            format!("{} waits (at most {MAX_WAITS})", instr.sync.waits.len())
        })?;
        for w in &instr.sync.waits {
            operand(&w.value)?;
        }
        match &instr.op {
            Op::Cp(op) => self.verify_cp(op, code_len, cluster),
            Op::Dma(op) => self.verify_dma(op),
            Op::Ttu(_) | Op::Tvp(_) if cluster => Err("a cluster program has no TTU or TVP".into()),
            Op::Ttu(op) => self.verify_ttu(op),
            Op::Tvp(op) => self.verify_tvp(op),
            Op::EngineNop(super::Engine::Cp) => Err("the CP's no-op is `nop`".into()),
            Op::EngineNop(super::Engine::Ttu | super::Engine::Tvp) if cluster => {
                Err("a cluster program has no TTU or TVP".into())
            }
            Op::EngineNop(_) => Ok(()),
        }
    }

    fn verify_cp(&self, op: &CpOp, code_len: usize, cluster: bool) -> Check {
        let reg = |r: super::operand::Reg| {
            ensure(r.is_valid(), || format!("register {r} does not exist"))
        };
        if let Some(target) = op.target() {
            ensure((target.0 as usize) < code_len, || {
                format!("branch target {target} is past the end")
            })?;
        }
        match op {
            CpOp::Mov { dst, src } => reg(*dst).and(operand(src)),
            CpOp::Alu { dst, a, b, .. } => reg(*dst).and(reg(*a)).and(operand(b)),
            CpOp::Select { dst, cond, a, b } => {
                reg(*dst).and(reg(*cond)).and(operand(a)).and(operand(b))
            }
            CpOp::ReadSpecial { dst, special } => reg(*dst).and(ensure(
                !matches!(special, Special::ProgramId(a) | Special::NumPrograms(a) if *a > 2),
                || "program id axes are 0, 1, 2".into(),
            )),
            CpOp::Arg { dst, index } => {
                reg(*dst).and(ensure((*index as usize) < self.args.len(), || {
                    format!(
                        "argument {index} does not exist ({} arguments)",
                        self.args.len()
                    )
                }))
            }
            CpOp::Load { dst, addr, .. } => reg(*dst).and(scalar_address(addr)),
            CpOp::Store { src, addr, .. } => reg(*src).and(scalar_address(addr)),
            CpOp::Branch { cond: r, .. } | CpOp::Loop { counter: r, .. } => reg(*r),
            CpOp::Barrier { .. } if cluster => Err("barriers are for tile programs".into()),
            CpOp::Jump { .. }
            | CpOp::Fence
            | CpOp::Barrier { .. }
            | CpOp::Trap { .. }
            | CpOp::Halt
            | CpOp::Nop => Ok(()),
        }
    }

    fn verify_dma(&self, op: &DmaOp) -> Check {
        match op {
            DmaOp::Copy(c) => strided_copy(c),
            DmaOp::Broadcast { copy, to } => {
                strided_copy(copy)?;
                ensure(copy.dst.unit == Unit::Local, || {
                    "a broadcast destination must be a local address".into()
                })?;
                ensure(
                    matches!(copy.dst.space, Space::Csram | Space::Tsram),
                    || "a broadcast writes csram or tsram".into(),
                )?;
                unit_set(to)
            }
            DmaOp::Gather(g) => {
                tile_tensor(&g.addrs, "addresses")?;
                tile_tensor(&g.dst, "destination")?;
                g.mask.as_ref().map_or(Ok(()), |m| tile_tensor(m, "mask"))?;
                fits(g.dtype, g.fill, "fill")
            }
            DmaOp::Scatter(s) => {
                tile_tensor(&s.addrs, "addresses")?;
                tile_tensor(&s.src, "source")?;
                s.mask.as_ref().map_or(Ok(()), |m| tile_tensor(m, "mask"))
            }
            DmaOp::Atomic(a) => {
                ensure(a.kind.supports(a.dtype), || {
                    format!("atomic {} is not defined on {}", a.kind, a.dtype)
                })?;
                ensure((a.kind == AtomicKind::Cas) == a.compare.is_some(), || {
                    "compare values are required by cas and only by cas".into()
                })?;
                ensure(!a.dtype.is_storage_only() && a.dtype != DType::I1, || {
                    format!("atomics on {} are not supported", a.dtype)
                })?;
                for (addr, what) in [(Some(&a.addrs), "addresses"), (Some(&a.values), "values")]
                    .into_iter()
                    .chain([
                        (a.compare.as_ref(), "compare"),
                        (a.mask.as_ref(), "mask"),
                        (a.old.as_ref(), "old"),
                    ])
                {
                    if let Some(addr) = addr {
                        tile_tensor(addr, what)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn verify_ttu(&self, op: &TtuOp) -> Check {
        match op {
            TtuOp::Matmul(mm) => {
                ensure(mm.m > 0 && mm.n > 0 && mm.k > 0, || {
                    "m, n and k must be positive".into()
                })?;
                mat_operand(&mm.a, "a", if mm.a.transposed { mm.m } else { mm.k }, mm.k)?;
                mat_operand(&mm.b, "b", if mm.b.transposed { mm.k } else { mm.n }, mm.k)?;
                ensure(
                    matches!(mm.out.space, Space::Acc | Space::Tsram) && mm.out.unit == Unit::Local,
                    || "the output must be in local acc or tsram".into(),
                )?;
                address(&mm.out)?;
                ensure(mm.out_row_stride >= mm.n, || {
                    "the output row stride is shorter than n".into()
                })?;
                let ints = (mm.a.dtype == DType::I8, mm.b.dtype == DType::I8);
                match ints {
                    (true, true) => ensure(mm.out_dtype == DType::I32, || {
                        "i8 × i8 accumulates in i32".into()
                    }),
                    (false, false) => ensure(mm.out_dtype == DType::F32, || {
                        "float operands accumulate in f32".into()
                    }),
                    _ => Err("integer and float operands cannot be mixed".into()),
                }?;
                ensure(
                    mm.a.scale.is_none() && mm.b.scale.is_none() || !ints.0,
                    || "integer operands have no scales".into(),
                )
            }
            TtuOp::Drain(d) => {
                view(&d.src)?;
                view(&d.dst)?;
                ensure(d.src.shape == d.dst.shape, || {
                    "source and destination shapes differ".into()
                })?;
                match &d.epilogue {
                    None => match LaneOp::cast(d.src.dtype, d.dst.dtype) {
                        None => Ok(()),
                        Some(cast) => cast.check(),
                    },
                    Some(e) => {
                        let mut inputs = vec![MapInput::View(d.src.clone())];
                        inputs.extend(e.extra.iter().cloned());
                        self.map_like(e.program, &inputs, std::slice::from_ref(&d.dst))
                    }
                }
            }
        }
    }

    fn verify_tvp(&self, op: &TvpOp) -> Check {
        for v in op.reads().into_iter().chain(op.writes()) {
            view(v)?;
        }
        match op {
            TvpOp::Map(m) => self.map_like(m.program, &m.inputs, &m.outputs),
            TvpOp::Reduce(r) => {
                self.fold_like(r.combiner, r.axis, &r.inputs)?;
                for (i, o) in r.inputs.iter().zip(&r.outputs) {
                    ensure(o.dtype == i.dtype, || {
                        "output types must equal input types".into()
                    })?;
                    ensure(o.shape == without_axis(&i.shape, r.axis), || {
                        format!(
                            "output shape {:?} is not the input shape without axis {}",
                            o.shape, r.axis
                        )
                    })?;
                }
                ensure(r.inputs.len() == r.outputs.len(), || {
                    "one output per input".into()
                })
            }
            TvpOp::Scan(s) => {
                self.fold_like(s.combiner, s.axis, &s.inputs)?;
                ensure(s.inputs.len() == s.outputs.len(), || {
                    "one output per input".into()
                })?;
                for (i, o) in s.inputs.iter().zip(&s.outputs) {
                    ensure(o.dtype == i.dtype && o.shape == i.shape, || {
                        "outputs must match inputs".into()
                    })?;
                }
                Ok(())
            }
            TvpOp::Iota(i) => {
                ensure(i.dst.dtype.is_int(), || "iota writes integers".into())?;
                operand(&i.start)?;
                axis(i.axis, i.dst.rank())
            }
            TvpOp::Copy(c) => {
                ensure(c.src.dtype == c.dst.dtype, || {
                    "copy does not convert types (use map)".into()
                })?;
                ensure(c.src.num_elements() == c.dst.num_elements(), || {
                    format!(
                        "{} source elements for {} destination elements",
                        c.src.num_elements(),
                        c.dst.num_elements()
                    )
                })
            }
            TvpOp::Gather(g) => {
                ensure(g.index.dtype.is_int(), || "indices must be integers".into())?;
                ensure(g.src.dtype == g.dst.dtype, || {
                    "source and destination types differ".into()
                })?;
                ensure(g.index.shape == g.dst.shape, || {
                    "index and destination shapes differ".into()
                })?;
                ensure(g.src.rank() == g.dst.rank(), || {
                    "source and destination ranks differ".into()
                })?;
                axis(g.axis, g.src.rank())
            }
            TvpOp::Histogram(h) => {
                ensure(h.src.dtype.is_int() && h.dst.dtype.is_int(), || {
                    "histograms count integers".into()
                })?;
                ensure(h.dst.rank() == 1, || "the bins view must be 1-D".into())?;
                h.mask.as_ref().map_or(Ok(()), |m| {
                    ensure(m.shape == h.src.shape && m.dtype.is_int(), || {
                        "the mask must be an integer view of the source shape".into()
                    })
                })
            }
            TvpOp::ActivationReduce(a) => {
                self.map_like(a.program, &a.inputs, std::slice::from_ref(&a.output))?;
                self.fold_like(a.combiner, a.axis, std::slice::from_ref(&a.output))?;
                ensure(a.reduced.dtype == a.output.dtype, || {
                    "the reduction has the output's type".into()
                })?;
                ensure(
                    a.reduced.shape == without_axis(&a.output.shape, a.axis),
                    || "the reduced shape is not the output shape without the axis".into(),
                )
            }
            TvpOp::MxQuantize(q) => {
                ensure(q.src.dtype.float_type().is_some(), || {
                    "quantize reads an arithmetic float view".into()
                })?;
                mx_shapes(&q.src.shape, &q.codes, &q.scales, q.format.element())
            }
            TvpOp::MxDequantize(d) => {
                ensure(d.dst.dtype.float_type().is_some(), || {
                    "dequantize writes an arithmetic float view".into()
                })?;
                mx_shapes(&d.dst.shape, &d.codes, &d.scales, d.format.element())
            }
        }
    }

    /// `map` rules: inputs feed the micro-program's inputs (views with the
    /// input type and the output shape; scalars of any integer/float type),
    /// outputs receive its outputs with the same types and one shape.
    fn map_like(&self, id: MicroId, inputs: &[MapInput], outputs: &[View]) -> Check {
        let micro = self
            .micro(id)
            .ok_or_else(|| format!("micro-program {id} does not exist"))?;
        ensure(inputs.len() == micro.inputs.len(), || {
            format!(
                "{id} takes {} inputs, the instruction gives {}",
                micro.inputs.len(),
                inputs.len()
            )
        })?;
        let out_types = micro.output_types()?;
        ensure(outputs.len() == out_types.len(), || {
            format!(
                "{id} has {} outputs, the instruction writes {}",
                out_types.len(),
                outputs.len()
            )
        })?;
        let shape = &outputs
            .first()
            .ok_or("at least one output view is needed")?
            .shape;
        for (k, (o, t)) in outputs.iter().zip(&out_types).enumerate() {
            ensure(o.dtype == *t, || {
                format!("output {k} is {}, {id} produces {t}", o.dtype)
            })?;
            ensure(&o.shape == shape, || {
                format!("output {k} has shape {:?}, not {shape:?}", o.shape)
            })?;
        }
        for (k, (input, t)) in inputs.iter().zip(&micro.inputs).enumerate() {
            match input {
                MapInput::View(v) => {
                    view(v)?;
                    ensure(v.dtype == *t, || {
                        format!("input {k} is {}, {id} expects {t}", v.dtype)
                    })?;
                    ensure(&v.shape == shape, || {
                        format!("input {k} has shape {:?}, not {shape:?}", v.shape)
                    })?;
                }
                MapInput::Scalar(op) => operand(op)?,
            }
        }
        Ok(())
    }

    /// Combiner rules for `n` operand views of one shape: the program takes
    /// `(acc…, x…)` of the views' types and returns `n` values of them.
    fn fold_like(&self, id: MicroId, ax: u8, inputs: &[View]) -> Check {
        let micro = self
            .micro(id)
            .ok_or_else(|| format!("micro-program {id} does not exist"))?;
        let first = inputs.first().ok_or("at least one operand is needed")?;
        axis(ax, first.rank())?;
        let types: Vec<DType> = inputs.iter().map(|v| v.dtype).collect();
        for v in inputs {
            ensure(v.shape == first.shape, || {
                "operands must have one shape".into()
            })?;
        }
        let want_inputs: Vec<DType> = types.iter().chain(&types).copied().collect();
        ensure(micro.inputs == want_inputs, || {
            format!(
                "combiner {id} must take (acc..., x...) of types {want_inputs:?}, takes {:?}",
                micro.inputs
            )
        })?;
        ensure(micro.output_types()? == types, || {
            format!("combiner {id} must return {types:?}")
        })
    }
}

fn operand(op: &Operand) -> Check {
    op.reg.map_or(Ok(()), |r| {
        ensure(r.is_valid(), || format!("register {r} does not exist"))
    })
}

fn address(addr: &Address) -> Check {
    operand(&addr.offset)?;
    match addr.unit {
        Unit::Local => Ok(()),
        Unit::Remote(u) => {
            ensure(matches!(addr.space, Space::Csram | Space::Tsram), || {
                format!("{} has no remote units", addr.space)
            })?;
            operand(&u)
        }
    }
}

fn scalar_address(addr: &Address) -> Check {
    address(addr)?;
    ensure(matches!(addr.space, Space::Tsram | Space::Csram), || {
        format!(
            "scalar loads and stores access tsram or csram, not {}",
            addr.space
        )
    })
}

/// A TSRAM tensor of a gather/scatter/atomic (local).
fn tile_tensor(addr: &Address, what: &str) -> Check {
    address(addr)?;
    ensure(
        addr.space == Space::Tsram && addr.unit == Unit::Local,
        || format!("the {what} must be in local tsram"),
    )
}

fn strided_copy(c: &StridedCopy) -> Check {
    ensure(!c.dims.is_empty() && c.dims.len() <= MAX_RANK, || {
        format!("{} dimensions (1 to {MAX_RANK})", c.dims.len())
    })?;
    address(&c.src)?;
    address(&c.dst)?;
    for a in [&c.src, &c.dst] {
        ensure(a.space != Space::Acc, || {
            "DMA does not access acc (use ttu.drain or tvp views)".into()
        })?;
    }
    ensure(
        c.dtype.storage_bits() >= 8 || c.dims.last().is_some_and(|d| d.extent % 2 == 0),
        || "packed fp4 copies move whole bytes: the innermost extent must be even".into(),
    )?;
    for d in &c.dims {
        operand(&d.src_stride)?;
        operand(&d.dst_stride)?;
        for bound in d.valid.iter().chain(&d.start) {
            operand(bound)?;
        }
    }
    c.fill.map_or(Ok(()), |f| fits(c.dtype, f, "fill"))
}

fn fits(dtype: DType, bits: u64, what: &str) -> Check {
    ensure(bits & !dtype.value_mask() == 0, || {
        format!("{what} {bits:#x} does not fit {dtype}")
    })
}

fn unit_set(units: &UnitSet) -> Check {
    match units {
        UnitSet::List(list) => ensure(list.windows(2).all(|w| w[0] < w[1]), || {
            "unit lists must be ascending without duplicates".into()
        }),
        UnitSet::All | UnitSet::OwnCluster => Ok(()),
    }
}

fn view(v: &View) -> Check {
    ensure(v.rank() <= MAX_RANK, || {
        format!("rank {} (at most {MAX_RANK})", v.rank())
    })?;
    ensure(v.strides.len() == v.shape.len(), || {
        "one stride per dimension".into()
    })?;
    ensure(
        matches!(v.addr.space, Space::Tsram | Space::Acc) && v.addr.unit == Unit::Local,
        || format!("views are in local tsram or acc, not {}", v.addr),
    )?;
    address(&v.addr)
}

fn axis(ax: u8, rank: usize) -> Check {
    ensure(usize::from(ax) < rank, || {
        format!("axis {ax} is out of range for rank {rank}")
    })
}

fn without_axis(shape: &[u32], ax: u8) -> Vec<u32> {
    shape
        .iter()
        .enumerate()
        .filter(|(d, _)| *d != usize::from(ax))
        .map(|(_, &s)| s)
        .collect()
}

fn mat_operand(op: &MatOperand, name: &str, row_len: u32, k: u32) -> Check {
    ensure(TtuPrecision::of(op.dtype).is_some(), || {
        format!("the TTU cannot read {} operands", op.dtype)
    })?;
    ensure(
        op.addr.space == Space::Tsram && op.addr.unit == Unit::Local,
        || format!("{name} must be in local tsram"),
    )?;
    address(&op.addr)?;
    ensure(op.row_stride >= row_len, || {
        format!(
            "{name}'s row stride {} is shorter than its rows ({row_len})",
            op.row_stride
        )
    })?;
    ensure(
        op.dtype != DType::F4E2M1 || op.row_stride.is_multiple_of(2),
        || format!("packed fp4 rows of {name} must start on a byte: even row stride"),
    )?;
    if let Some(s) = &op.scale {
        ensure(op.dtype.is_float(), || {
            format!("{name} is not a float operand")
        })?;
        ensure(k.is_multiple_of(MX_BLOCK), || {
            format!("scaled operands need k divisible by {MX_BLOCK}")
        })?;
        ensure(
            s.addr.space == Space::Tsram && s.addr.unit == Unit::Local,
            || format!("{name}'s scales must be in local tsram"),
        )?;
        address(&s.addr)?;
        ensure(s.row_stride >= k / MX_BLOCK, || {
            format!("{name}'s scale row stride is shorter than k/32")
        })?;
    }
    Ok(())
}

fn mx_shapes(values: &[u32], codes: &View, scales: &View, element: DType) -> Check {
    ensure(codes.dtype == element, || {
        format!("codes must be {element}")
    })?;
    ensure(scales.dtype == DType::E8M0, || "scales must be e8m0".into())?;
    let last = *values.last().ok_or("MX views need rank ≥ 1")?;
    ensure(last % MX_BLOCK == 0, || {
        format!("the last axis ({last}) must be a multiple of {MX_BLOCK}")
    })?;
    ensure(codes.shape == values, || {
        "codes must have the values' shape".into()
    })?;
    let mut want = values.to_vec();
    if let Some(l) = want.last_mut() {
        *l /= MX_BLOCK;
    }
    ensure(scales.shape == want, || {
        format!("scales must have shape {want:?}")
    })
}
