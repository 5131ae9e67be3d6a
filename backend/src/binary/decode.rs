//! Bytes → module, checking every field: header, checksum, section table,
//! enum codes, counts (against the bytes left, before allocating) and
//! cross-references (strings, DMA descriptors). ISA-level rules are left
//! to [`Module::verify`], which [`super::decode`] runs afterwards.

use std::collections::HashMap;

use maiac_ir::FloatType;

use super::encode::checksum;
use super::format::{
    dma_kind, lane_kind, opcode, SectionKind, CHECKSUM_OFFSET, HEADER_BYTES, MAGIC,
    SECTION_ENTRY_BYTES, VERSION_MAJOR, VERSION_MINOR,
};
use super::wire::Reader;
use super::DecodeError;
use crate::isa::lane::{
    BIT_OPS, FLOAT_BINARY_OPS, FLOAT_CLASSES, FLOAT_INT_OPS, FLOAT_PREDICATES, FLOAT_UNARY_OPS,
    INT_BINARY_OPS, INT_PREDICATES, INT_ROUNDINGS, ROUNDINGS,
};
use crate::isa::*;
use maiac_ir::semantics::convert::IntRounding;

type R<T> = Result<T, DecodeError>;

/// Cross-reference tables filled section by section.
struct Decoder {
    strings: Vec<String>,
    descriptors: Vec<DmaOp>,
}

pub(super) fn decode_module(bytes: &[u8]) -> R<Module> {
    let mut header = Reader::new(bytes, 0);
    let magic = header.bytes(MAGIC.len(), "magic")?;
    if magic != MAGIC {
        return Err(header.error_at(0, "not a maiac binary (bad magic; expected `MAIACBIN`)"));
    }
    let major = header.u16("major version")?;
    let minor = header.u16("minor version")?;
    if major != VERSION_MAJOR || minor > VERSION_MINOR {
        return Err(header.error_at(
            8,
            format!("format version {major}.{minor} is not supported (this maiac reads {VERSION_MAJOR}.0 to {VERSION_MAJOR}.{VERSION_MINOR})"),
        ));
    }
    let at = header.offset();
    let count = header.u32("section count")? as usize;
    if count > SectionKind::ALL.len() {
        return Err(header.error_at(
            at,
            format!("{count} sections (at most {})", SectionKind::ALL.len()),
        ));
    }
    let machine_hash = header.u64("machine hash")?;
    let stored = header.u64("checksum")?;
    debug_assert_eq!(header.offset(), HEADER_BYTES);
    let table_end = HEADER_BYTES + count * SECTION_ENTRY_BYTES;
    if bytes.len() < table_end {
        return Err(header.error(format!(
            "truncated section table: needs {table_end} bytes, the file has {}",
            bytes.len()
        )));
    }
    let actual = checksum(bytes);
    if stored != actual {
        return Err(header.error_at(
            CHECKSUM_OFFSET,
            format!("checksum mismatch (stored {stored:016x}, computed {actual:016x}): the file is corrupt or truncated"),
        ));
    }

    let mut sections: HashMap<SectionKind, (usize, &[u8])> = HashMap::new();
    let mut end_of_previous = table_end;
    for _ in 0..count {
        let entry_at = header.offset();
        let code = header.u32("section kind")?;
        let kind = SectionKind::from_code(code)
            .ok_or_else(|| header.error_at(entry_at, format!("unknown section kind {code}")))?;
        if header.u32("reserved")? != 0 {
            return Err(header.error_at(entry_at + 4, "reserved section field is not zero"));
        }
        let offset = header.u64("section offset")?;
        let length = header.u64("section length")?;
        let end = offset
            .checked_add(length)
            .filter(|&e| e <= bytes.len() as u64)
            .ok_or_else(|| {
                header.error_at(
                    entry_at,
                    format!(
                        "{} section {offset:#x}+{length:#x} lies outside the {}-byte file",
                        kind.name(),
                        bytes.len()
                    ),
                )
            })?;
        if offset as usize != end_of_previous {
            return Err(header.error_at(
                entry_at,
                format!("{} section starts at {offset:#x}, expected {end_of_previous:#x} (sections are contiguous)", kind.name()),
            ));
        }
        if sections
            .insert(
                kind,
                (offset as usize, &bytes[offset as usize..end as usize]),
            )
            .is_some()
        {
            return Err(header.error_at(entry_at, format!("duplicate {} section", kind.name())));
        }
        end_of_previous = end as usize;
    }
    if end_of_previous != bytes.len() {
        return Err(header.error_at(
            end_of_previous,
            format!(
                "{} trailing bytes after the last section",
                bytes.len() - end_of_previous
            ),
        ));
    }
    for kind in SectionKind::ALL {
        if kind.required() && !sections.contains_key(&kind) {
            return Err(header.error_at(HEADER_BYTES, format!("missing {} section", kind.name())));
        }
    }
    if sections.contains_key(&SectionKind::ClusterCode)
        != sections.contains_key(&SectionKind::ClusterLines)
    {
        return Err(header.error_at(
            HEADER_BYTES,
            "cluster code and cluster line table must come together",
        ));
    }
    let reader = |kind: SectionKind| {
        sections
            .get(&kind)
            .map(|&(offset, data)| Reader::new(data, offset))
    };
    // `required()` sections were checked present above.
    let required = |kind: SectionKind| reader(kind).unwrap_or_else(|| Reader::new(&[], 0));

    let mut dec = Decoder {
        strings: Vec::new(),
        descriptors: Vec::new(),
    };
    section(required(SectionKind::Strings), SectionKind::Strings, |r| {
        let n = r.count("string count", 4)?;
        for _ in 0..n {
            let at = r.offset();
            let raw = r.blob("string")?;
            let s = std::str::from_utf8(raw).map_err(|_| r.error_at(at, "string is not UTF-8"))?;
            dec.strings.push(s.to_string());
        }
        Ok(())
    })?;
    let (kernel, machine) = section(
        required(SectionKind::ModuleInfo),
        SectionKind::ModuleInfo,
        |r| {
            let kernel = dec.string(r)?;
            let name = dec.string(r)?;
            let at = r.offset();
            let hash = r.u64("machine hash")?;
            if hash != machine_hash {
                return Err(r.error_at(at, "machine hash differs from the header's"));
            }
            Ok((kernel, MachineRef { name, hash }))
        },
    )?;
    let mut module = Module::new(kernel, machine);
    module.args = section(required(SectionKind::Args), SectionKind::Args, |r| {
        let n = r.count("argument count", 6)?;
        (0..n)
            .map(|_| {
                let name = dec.string(r)?;
                let at = r.offset();
                let kind = r.u8("argument kind")?;
                let dtype = dtype(r)?;
                let kind = match kind {
                    0 => ArgKind::Pointer { pointee: dtype },
                    1 => ArgKind::Scalar { dtype },
                    k => return Err(r.error_at(at, format!("unknown argument kind {k}"))),
                };
                Ok(ArgDecl { name, kind })
            })
            .collect()
    })?;
    module.dispatch = section(
        required(SectionKind::Dispatch),
        SectionKind::Dispatch,
        dispatch_policy,
    )?;
    module.micro_programs = section(
        required(SectionKind::MicroPrograms),
        SectionKind::MicroPrograms,
        |r| {
            let n = r.count("micro-program count", 8)?;
            (0..n).map(|_| micro_program(r)).collect()
        },
    )?;
    section(
        required(SectionKind::DmaDescriptors),
        SectionKind::DmaDescriptors,
        |r| {
            let n = r.count("descriptor count", 1)?;
            for _ in 0..n {
                let d = dma_op(r)?;
                dec.descriptors.push(d);
            }
            Ok(())
        },
    )?;
    module.tile_program.code = section(
        required(SectionKind::TileCode),
        SectionKind::TileCode,
        |r| dec.code(r),
    )?;
    if let Some(r) = reader(SectionKind::ClusterCode) {
        let code = section(r, SectionKind::ClusterCode, |r| dec.code(r))?;
        module.cluster_program = Some(Program::new(code));
    }
    module.constants = section(
        required(SectionKind::Constants),
        SectionKind::Constants,
        |r| {
            let n = r.count("constant count", 18)?;
            (0..n)
                .map(|_| {
                    let space = space(r)?;
                    let units = unit_set(r)?;
                    let offset = r.u64("constant offset")?;
                    let bytes = r.blob("constant bytes")?.to_vec();
                    Ok(Constant {
                        space,
                        units,
                        offset,
                        bytes,
                    })
                })
                .collect()
        },
    )?;
    module.debug_locs = section(
        required(SectionKind::DebugLocs),
        SectionKind::DebugLocs,
        |r| {
            let n = r.count("debug location count", 13)?;
            (0..n)
                .map(|_| {
                    let op_name = dec.string(r)?;
                    let ttir_line = r.u32("TTIR line")?;
                    let ttir_col = r.u32("TTIR column")?;
                    let python = if flag(r, "python location flag")? {
                        let file = dec.string(r)?;
                        Some(PyLoc {
                            file,
                            line: r.u32("Python line")?,
                            col: r.u32("Python column")?,
                        })
                    } else {
                        None
                    };
                    Ok(DebugLoc {
                        op_name,
                        ttir_line,
                        ttir_col,
                        python,
                    })
                })
                .collect()
        },
    )?;
    module.tile_program.lines = section(
        required(SectionKind::TileLines),
        SectionKind::TileLines,
        line_table,
    )?;
    if let (Some(r), Some(p)) = (
        reader(SectionKind::ClusterLines),
        module.cluster_program.as_mut(),
    ) {
        p.lines = section(r, SectionKind::ClusterLines, line_table)?;
    }
    Ok(module)
}

/// Runs `f` on a section's reader and requires it to consume every byte.
fn section<'a, T>(
    mut r: Reader<'a>,
    kind: SectionKind,
    f: impl FnOnce(&mut Reader<'a>) -> R<T>,
) -> R<T> {
    let value = f(&mut r)?;
    r.finish(kind.name())?;
    Ok(value)
}

impl Decoder {
    fn string(&self, r: &mut Reader) -> R<String> {
        let at = r.offset();
        let id = r.u32("string index")?;
        self.strings.get(id as usize).cloned().ok_or_else(|| {
            r.error_at(
                at,
                format!(
                    "string index {id} is out of range ({} strings)",
                    self.strings.len()
                ),
            )
        })
    }

    fn code(&self, r: &mut Reader) -> R<Vec<Instr>> {
        let n = r.count("instruction count", 3)?;
        (0..n).map(|_| self.instr(r)).collect()
    }

    fn instr(&self, r: &mut Reader) -> R<Instr> {
        let at = r.offset();
        let code = r.u8("opcode")?;
        let sync = sync(r)?;
        let op: Op = match code {
            opcode::MOV => CpOp::Mov {
                dst: reg(r)?,
                src: operand(r)?,
            }
            .into(),
            opcode::ALU => {
                let op_at = r.offset();
                let op = AluOp::from_code(r.u8("ALU op")?)
                    .ok_or_else(|| r.error_at(op_at, "unknown ALU op"))?;
                CpOp::Alu {
                    op,
                    dst: reg(r)?,
                    a: reg(r)?,
                    b: operand(r)?,
                }
                .into()
            }
            opcode::SELECT => CpOp::Select {
                dst: reg(r)?,
                cond: reg(r)?,
                a: operand(r)?,
                b: operand(r)?,
            }
            .into(),
            opcode::READ_SPECIAL => {
                let dst = reg(r)?;
                let sp_at = r.offset();
                let special = Special::from_code(r.u8("special register")?)
                    .ok_or_else(|| r.error_at(sp_at, "unknown special register"))?;
                CpOp::ReadSpecial { dst, special }.into()
            }
            opcode::ARG => CpOp::Arg {
                dst: reg(r)?,
                index: r.u16("argument index")?,
            }
            .into(),
            opcode::LOAD => CpOp::Load {
                dst: reg(r)?,
                addr: address(r)?,
                width: mem_width(r)?,
                signed: flag(r, "signed flag")?,
            }
            .into(),
            opcode::STORE => CpOp::Store {
                src: reg(r)?,
                addr: address(r)?,
                width: mem_width(r)?,
            }
            .into(),
            opcode::JUMP => CpOp::Jump {
                target: Label(r.u32("jump target")?),
            }
            .into(),
            opcode::BRANCH => CpOp::Branch {
                cond: reg(r)?,
                if_zero: flag(r, "branch polarity")?,
                target: Label(r.u32("branch target")?),
            }
            .into(),
            opcode::LOOP => CpOp::Loop {
                counter: reg(r)?,
                target: Label(r.u32("loop target")?),
            }
            .into(),
            opcode::FENCE => CpOp::Fence.into(),
            opcode::BARRIER => {
                let scope = match r.u8("barrier scope")? {
                    0 => BarrierScope::Cluster,
                    1 => BarrierScope::Chip,
                    other => return Err(r.error(format!("unknown barrier scope {other}"))),
                };
                CpOp::Barrier { scope }.into()
            }
            opcode::TRAP => CpOp::Trap {
                code: r.u32("trap code")?,
            }
            .into(),
            opcode::HALT => CpOp::Halt.into(),
            opcode::NOP => CpOp::Nop.into(),
            opcode::ENGINE_NOP => {
                let engine_at = r.offset();
                let code = r.u8("engine")?;
                let engine = [Engine::Dma, Engine::Ttu, Engine::Tvp]
                    .into_iter()
                    .find(|&e| super::encode::engine_code(e) == code)
                    .ok_or_else(|| {
                        r.error_at(engine_at, format!("engine code {code} is not 1, 2 or 3"))
                    })?;
                Op::EngineNop(engine)
            }
            opcode::DMA => {
                let id_at = r.offset();
                let id = r.u32("descriptor index")?;
                let d = self.descriptors.get(id as usize).ok_or_else(|| {
                    r.error_at(
                        id_at,
                        format!(
                            "DMA descriptor {id} does not exist ({} descriptors)",
                            self.descriptors.len()
                        ),
                    )
                })?;
                Op::Dma(d.clone())
            }
            opcode::MATMUL => {
                let (m, n, k) = (r.u32("m")?, r.u32("n")?, r.u32("k")?);
                let a = mat_operand(r)?;
                let b = mat_operand(r)?;
                TtuOp::Matmul(Matmul {
                    m,
                    n,
                    k,
                    a,
                    b,
                    out: address(r)?,
                    out_dtype: dtype(r)?,
                    out_row_stride: r.u32("output row stride")?,
                    accumulate: flag(r, "accumulate flag")?,
                })
                .into()
            }
            opcode::DRAIN => {
                let src = view(r)?;
                let dst = view(r)?;
                let epilogue = if flag(r, "epilogue flag")? {
                    Some(Epilogue {
                        program: MicroId(r.u32("epilogue")?),
                        extra: map_inputs(r)?,
                    })
                } else {
                    None
                };
                TtuOp::Drain(Drain { src, dst, epilogue }).into()
            }
            opcode::MAP => TvpOp::Map(Map {
                program: MicroId(r.u32("micro-program")?),
                inputs: map_inputs(r)?,
                outputs: views(r)?,
            })
            .into(),
            opcode::REDUCE => TvpOp::Reduce(Reduce {
                combiner: MicroId(r.u32("combiner")?),
                axis: r.u8("axis")?,
                inputs: views(r)?,
                outputs: views(r)?,
            })
            .into(),
            opcode::SCAN => TvpOp::Scan(Scan {
                combiner: MicroId(r.u32("combiner")?),
                axis: r.u8("axis")?,
                reverse: flag(r, "reverse flag")?,
                inputs: views(r)?,
                outputs: views(r)?,
            })
            .into(),
            opcode::IOTA => TvpOp::Iota(Iota {
                dst: view(r)?,
                start: operand(r)?,
                axis: r.u8("axis")?,
            })
            .into(),
            opcode::COPY => TvpOp::Copy(crate::isa::tvp::Copy {
                src: view(r)?,
                dst: view(r)?,
            })
            .into(),
            opcode::GATHER => {
                let axis = r.u8("axis")?;
                TvpOp::Gather(crate::isa::tvp::Gather {
                    axis,
                    src: view(r)?,
                    index: view(r)?,
                    dst: view(r)?,
                })
                .into()
            }
            opcode::HISTOGRAM => {
                let src = view(r)?;
                let mask = if flag(r, "mask flag")? {
                    Some(view(r)?)
                } else {
                    None
                };
                TvpOp::Histogram(Histogram {
                    src,
                    mask,
                    dst: view(r)?,
                })
                .into()
            }
            opcode::ACT_REDUCE => TvpOp::ActivationReduce(ActivationReduce {
                program: MicroId(r.u32("micro-program")?),
                inputs: map_inputs(r)?,
                output: view(r)?,
                combiner: MicroId(r.u32("combiner")?),
                axis: r.u8("axis")?,
                reduced: view(r)?,
            })
            .into(),
            opcode::MX_QUANTIZE => TvpOp::MxQuantize(MxQuantize {
                format: mx_format(r)?,
                src: view(r)?,
                codes: view(r)?,
                scales: view(r)?,
            })
            .into(),
            opcode::MX_DEQUANTIZE => TvpOp::MxDequantize(MxDequantize {
                format: mx_format(r)?,
                codes: view(r)?,
                scales: view(r)?,
                dst: view(r)?,
            })
            .into(),
            other => return Err(r.error_at(at, format!("unknown opcode {other:#04x}"))),
        };
        Ok(Instr { op, sync })
    }
}

fn flag(r: &mut Reader, what: &str) -> R<bool> {
    r.bool(what)
}

fn reg(r: &mut Reader) -> R<Reg> {
    let at = r.offset();
    let n = r.u8("register")?;
    let reg = Reg(n);
    if !reg.is_valid() {
        return Err(r.error_at(at, format!("register r{n} does not exist")));
    }
    Ok(reg)
}

fn dtype(r: &mut Reader) -> R<DType> {
    let at = r.offset();
    let code = r.u8("element type")?;
    DType::from_code(code)
        .ok_or_else(|| r.error_at(at, format!("unknown element type code {code}")))
}

fn float_type(r: &mut Reader) -> R<FloatType> {
    let at = r.offset();
    let t = dtype(r)?;
    t.float_type()
        .ok_or_else(|| r.error_at(at, format!("{t} is not an arithmetic float type")))
}

fn width(r: &mut Reader) -> R<u32> {
    let at = r.offset();
    let w = u32::from(r.u8("integer width")?);
    DType::int(w)
        .map(|_| w)
        .ok_or_else(|| r.error_at(at, format!("integer width {w} is not 1, 8, 16, 32 or 64")))
}

fn table<T: Copy>(r: &mut Reader, table: &[T], what: &str) -> R<T> {
    let at = r.offset();
    let code = r.u8(what)?;
    table
        .get(usize::from(code))
        .copied()
        .ok_or_else(|| r.error_at(at, format!("unknown {what} {code}")))
}

fn space(r: &mut Reader) -> R<Space> {
    let at = r.offset();
    let code = r.u8("memory space")?;
    Space::from_code(code).ok_or_else(|| r.error_at(at, format!("unknown memory space {code}")))
}

fn mem_width(r: &mut Reader) -> R<MemWidth> {
    let at = r.offset();
    let n = r.u8("access width")?;
    MemWidth::from_bytes(u32::from(n))
        .ok_or_else(|| r.error_at(at, format!("access width {n} is not 1, 2, 4 or 8")))
}

fn mx_format(r: &mut Reader) -> R<MxFormat> {
    let at = r.offset();
    let code = r.u8("MX format")?;
    MxFormat::from_code(code).ok_or_else(|| r.error_at(at, format!("unknown MX format {code}")))
}

fn operand(r: &mut Reader) -> R<Operand> {
    let at = r.offset();
    let reg = match r.u8("operand tag")? {
        0 => None,
        1 => Some(reg(r)?),
        t => return Err(r.error_at(at, format!("unknown operand tag {t}"))),
    };
    Ok(Operand {
        reg,
        imm: r.i64("immediate")?,
    })
}

fn address(r: &mut Reader) -> R<Address> {
    let space = space(r)?;
    let at = r.offset();
    let unit = match r.u8("unit tag")? {
        0 => Unit::Local,
        1 => Unit::Remote(operand(r)?),
        t => return Err(r.error_at(at, format!("unknown unit tag {t}"))),
    };
    Ok(Address {
        space,
        unit,
        offset: operand(r)?,
    })
}

fn opt_address(r: &mut Reader, what: &str) -> R<Option<Address>> {
    Ok(if flag(r, what)? {
        Some(address(r)?)
    } else {
        None
    })
}

fn unit_set(r: &mut Reader) -> R<UnitSet> {
    let at = r.offset();
    Ok(match r.u8("unit set tag")? {
        0 => UnitSet::All,
        1 => UnitSet::OwnCluster,
        2 => {
            let n = r.count("unit count", 4)?;
            UnitSet::List((0..n).map(|_| r.u32("unit")).collect::<R<_>>()?)
        }
        t => return Err(r.error_at(at, format!("unknown unit set tag {t}"))),
    })
}

fn view(r: &mut Reader) -> R<View> {
    let addr = address(r)?;
    let dtype = dtype(r)?;
    let at = r.offset();
    let rank = usize::from(r.u8("rank")?);
    if rank > MAX_RANK {
        return Err(r.error_at(at, format!("view rank {rank} exceeds {MAX_RANK}")));
    }
    let shape = (0..rank).map(|_| r.u32("extent")).collect::<R<Vec<_>>>()?;
    let strides = (0..rank).map(|_| r.i64("stride")).collect::<R<Vec<_>>>()?;
    Ok(View {
        addr,
        dtype,
        shape,
        strides,
    })
}

fn views(r: &mut Reader) -> R<Vec<View>> {
    let n = r.count("view count", 8)?;
    (0..n).map(|_| view(r)).collect()
}

fn map_inputs(r: &mut Reader) -> R<Vec<MapInput>> {
    let n = r.count("input count", 9)?;
    (0..n)
        .map(|_| {
            let at = r.offset();
            match r.u8("input tag")? {
                0 => Ok(MapInput::View(view(r)?)),
                1 => Ok(MapInput::Scalar(operand(r)?)),
                t => Err(r.error_at(at, format!("unknown input tag {t}"))),
            }
        })
        .collect()
}

fn sem(r: &mut Reader) -> R<SemRef> {
    let at = r.offset();
    let scope = match r.u8("semaphore scope")? {
        0 => SemScope::Tile,
        1 => SemScope::Cluster,
        s => return Err(r.error_at(at, format!("unknown semaphore scope {s}"))),
    };
    Ok(SemRef {
        scope,
        index: r.u16("semaphore index")?,
    })
}

fn sync(r: &mut Reader) -> R<Sync> {
    let at = r.offset();
    let n = usize::from(r.u8("wait count")?);
    if n > MAX_WAITS {
        return Err(r.error_at(at, format!("{n} waits (at most {MAX_WAITS})")));
    }
    let waits = (0..n)
        .map(|_| {
            Ok(SemWait {
                sem: sem(r)?,
                value: operand(r)?,
            })
        })
        .collect::<R<_>>()?;
    let signal = if flag(r, "signal flag")? {
        Some(sem(r)?)
    } else {
        None
    };
    Ok(Sync { waits, signal })
}

fn strided_copy(r: &mut Reader) -> R<StridedCopy> {
    let dtype = dtype(r)?;
    let src = address(r)?;
    let dst = address(r)?;
    let at = r.offset();
    let n = usize::from(r.u8("dimension count")?);
    if n > MAX_RANK {
        return Err(r.error_at(at, format!("{n} copy dimensions (at most {MAX_RANK})")));
    }
    let dims = (0..n)
        .map(|_| {
            let extent = r.u32("extent")?;
            let src_stride = operand(r)?;
            let dst_stride = operand(r)?;
            let at = r.offset();
            let bounds = r.u8("bound flags")?;
            if bounds > 0b11 {
                return Err(r.error_at(
                    at,
                    format!("bound flags {bounds:#x} (only bits 0 and 1 exist)"),
                ));
            }
            let valid = if bounds & 1 != 0 {
                Some(operand(r)?)
            } else {
                None
            };
            let start = if bounds & 2 != 0 {
                Some(operand(r)?)
            } else {
                None
            };
            Ok(DmaDim {
                extent,
                src_stride,
                dst_stride,
                valid,
                start,
            })
        })
        .collect::<R<_>>()?;
    let fill = if flag(r, "fill flag")? {
        Some(r.u64("fill")?)
    } else {
        None
    };
    Ok(StridedCopy {
        dtype,
        src,
        dst,
        dims,
        fill,
    })
}

fn dma_op(r: &mut Reader) -> R<DmaOp> {
    let at = r.offset();
    Ok(match r.u8("DMA kind")? {
        dma_kind::COPY => DmaOp::Copy(strided_copy(r)?),
        dma_kind::BROADCAST => DmaOp::Broadcast {
            copy: strided_copy(r)?,
            to: unit_set(r)?,
        },
        dma_kind::GATHER => DmaOp::Gather(crate::isa::dma::Gather {
            dtype: dtype(r)?,
            count: r.u32("count")?,
            addrs: address(r)?,
            mask: opt_address(r, "mask flag")?,
            dst: address(r)?,
            fill: r.u64("fill")?,
        }),
        dma_kind::SCATTER => DmaOp::Scatter(Scatter {
            dtype: dtype(r)?,
            count: r.u32("count")?,
            addrs: address(r)?,
            mask: opt_address(r, "mask flag")?,
            src: address(r)?,
        }),
        dma_kind::ATOMIC => {
            let kind_at = r.offset();
            let kind = AtomicKind::from_code(r.u8("atomic kind")?)
                .ok_or_else(|| r.error_at(kind_at, "unknown atomic kind"))?;
            DmaOp::Atomic(Atomic {
                kind,
                dtype: dtype(r)?,
                count: r.u32("count")?,
                addrs: address(r)?,
                values: address(r)?,
                compare: opt_address(r, "compare flag")?,
                mask: opt_address(r, "mask flag")?,
                old: opt_address(r, "old flag")?,
            })
        }
        k => return Err(r.error_at(at, format!("unknown DMA kind {k}"))),
    })
}

fn mat_operand(r: &mut Reader) -> R<MatOperand> {
    Ok(MatOperand {
        addr: address(r)?,
        dtype: dtype(r)?,
        row_stride: r.u32("row stride")?,
        transposed: flag(r, "transposed flag")?,
        scale: if flag(r, "scale flag")? {
            Some(ScaleOperand {
                addr: address(r)?,
                row_stride: r.u32("scale row stride")?,
            })
        } else {
            None
        },
    })
}

fn dispatch_policy(r: &mut Reader) -> R<Dispatch> {
    let at = r.offset();
    Ok(match r.u8("dispatch policy")? {
        0 => Dispatch::RoundRobin {
            tiles: r.u32("tiles")?,
        },
        1 => Dispatch::Blocked {
            tiles: r.u32("tiles")?,
        },
        2 => {
            let grid = [r.u32("grid x")?, r.u32("grid y")?, r.u32("grid z")?];
            let n = r.count("tile count", 4)?;
            let tiles = (0..n)
                .map(|_| {
                    let k = r.count("instance count", 4)?;
                    (0..k).map(|_| r.u32("instance")).collect::<R<Vec<_>>>()
                })
                .collect::<R<_>>()?;
            Dispatch::Explicit { grid, tiles }
        }
        3 => Dispatch::Persistent {
            tiles: r.u32("tiles")?,
        },
        p => return Err(r.error_at(at, format!("unknown dispatch policy {p}"))),
    })
}

fn line_table(r: &mut Reader) -> R<Vec<LineEntry>> {
    let n = r.count("line count", 5)?;
    (0..n)
        .map(|_| {
            let pc = r.u32("pc")?;
            let loc = if flag(r, "location flag")? {
                Some(DebugLocId(r.u32("location")?))
            } else {
                None
            };
            Ok(LineEntry { pc, loc })
        })
        .collect()
}

fn micro_program(r: &mut Reader) -> R<MicroProgram> {
    let at = r.offset();
    let n_inputs = usize::from(r.u16("input count")?);
    if n_inputs > r.remaining() {
        return Err(r.error_at(at, format!("input count {n_inputs} exceeds the bytes left")));
    }
    let inputs = (0..n_inputs).map(|_| dtype(r)).collect::<R<_>>()?;
    let n_body = r.count("lane instruction count", 3)?;
    let body = (0..n_body)
        .map(|_| {
            let op = lane_op(r)?;
            let n_args = usize::from(r.u8("argument count")?);
            let args = (0..n_args).map(|_| lane_src(r)).collect::<R<_>>()?;
            Ok(LaneInstr { op, args })
        })
        .collect::<R<_>>()?;
    let at = r.offset();
    let n_outputs = usize::from(r.u16("output count")?);
    if n_outputs > r.remaining() {
        return Err(r.error_at(
            at,
            format!("output count {n_outputs} exceeds the bytes left"),
        ));
    }
    let outputs = (0..n_outputs).map(|_| lane_src(r)).collect::<R<_>>()?;
    Ok(MicroProgram {
        inputs,
        body,
        outputs,
    })
}

fn lane_src(r: &mut Reader) -> R<LaneSrc> {
    let at = r.offset();
    Ok(match r.u8("lane source tag")? {
        0 => LaneSrc::Input(r.u16("input index")?),
        1 => LaneSrc::Value(r.u16("value index")?),
        2 => LaneSrc::Imm {
            ty: dtype(r)?,
            bits: r.u64("immediate bits")?,
        },
        t => return Err(r.error_at(at, format!("unknown lane source tag {t}"))),
    })
}

fn lane_op(r: &mut Reader) -> R<LaneOp> {
    let at = r.offset();
    Ok(match r.u8("lane op kind")? {
        lane_kind::INT => LaneOp::Int {
            op: table(r, &INT_BINARY_OPS, "integer op")?,
            width: width(r)?,
        },
        lane_kind::INT_ABS => LaneOp::IntAbs { width: width(r)? },
        lane_kind::BIT => LaneOp::Bit {
            op: table(r, &BIT_OPS, "bit op")?,
            width: width(r)?,
            result_width: width(r)?,
        },
        lane_kind::INT_CMP => LaneOp::IntCmp {
            pred: table(r, &INT_PREDICATES, "integer predicate")?,
            width: width(r)?,
        },
        lane_kind::FLOAT => LaneOp::Float {
            op: table(r, &FLOAT_BINARY_OPS, "float op")?,
            ty: float_type(r)?,
        },
        lane_kind::FLOAT_UNARY => LaneOp::FloatUnary {
            op: table(r, &FLOAT_UNARY_OPS, "float function")?,
            ty: float_type(r)?,
        },
        lane_kind::SIGMOID => LaneOp::Sigmoid { ty: float_type(r)? },
        lane_kind::FLOAT_CMP => LaneOp::FloatCmp {
            pred: table(r, &FLOAT_PREDICATES, "float predicate")?,
            ty: float_type(r)?,
        },
        lane_kind::FLOAT_CLASS => LaneOp::FloatClass {
            class: table(r, &FLOAT_CLASSES, "float class")?,
            ty: float_type(r)?,
            result_width: width(r)?,
        },
        lane_kind::FMA => LaneOp::Fma { ty: float_type(r)? },
        lane_kind::FLOAT_INT => LaneOp::FloatInt {
            op: table(r, &FLOAT_INT_OPS, "float-int op")?,
            ty: float_type(r)?,
            width: width(r)?,
        },
        lane_kind::CLAMP => LaneOp::Clamp {
            ty: float_type(r)?,
            propagate_nan: flag(r, "NaN flag")?,
        },
        lane_kind::SELECT => LaneOp::Select { ty: dtype(r)? },
        lane_kind::EXT_SIGNED => LaneOp::ExtSigned {
            from: width(r)?,
            to: width(r)?,
        },
        lane_kind::EXT_UNSIGNED => LaneOp::ExtUnsigned {
            from: width(r)?,
            to: width(r)?,
        },
        lane_kind::TRUNC => LaneOp::Trunc {
            from: width(r)?,
            to: width(r)?,
        },
        lane_kind::INT_TO_FLOAT => LaneOp::IntToFloat {
            width: width(r)?,
            signed: flag(r, "signed flag")?,
            to: float_type(r)?,
        },
        lane_kind::FLOAT_TO_INT => LaneOp::FloatToInt {
            from: float_type(r)?,
            width: width(r)?,
            signed: flag(r, "signed flag")?,
            rounding: IntRounding::TowardZero,
        },
        lane_kind::FLOAT_TO_INT_ROUNDED => LaneOp::FloatToInt {
            from: float_type(r)?,
            width: width(r)?,
            signed: flag(r, "signed flag")?,
            rounding: table(r, &INT_ROUNDINGS, "float-to-int rounding")?,
        },
        lane_kind::CONVERT => LaneOp::Convert {
            from: dtype(r)?,
            to: dtype(r)?,
            rounding: table(r, &ROUNDINGS, "rounding")?,
        },
        lane_kind::ADD_PTR => LaneOp::AddPtr {
            offset_width: width(r)?,
            elem_size: r.u64("element size")?,
        },
        lane_kind::BITCAST => LaneOp::Bitcast {
            from: dtype(r)?,
            to: dtype(r)?,
        },
        k => return Err(r.error_at(at, format!("unknown lane op kind {k}"))),
    })
}
