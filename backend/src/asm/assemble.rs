//! Assembly text → module. Errors carry `line:col`. The built module is
//! run through [`Module::verify`]; a verification failure is reported at
//! the line of the offending instruction when there is one.

use std::collections::HashMap;

use std::cell::Cell;

use super::syntax::{error, parse_lines, to_i64, AsmError, Item, Line, Pos, Spanned, Value};
use crate::isa::*;

/// Assembles a module.
pub fn assemble(text: &str) -> Result<Module, AsmError> {
    let mut asm = Assembler::default();
    for line in parse_lines(text)? {
        asm.line(line)?;
    }
    asm.finish()
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Section {
    Tile,
    Cluster,
}

/// A program under construction.
#[derive(Default)]
struct ProgramBuilder {
    program: Program,
    /// Source position of each instruction (for verification errors).
    positions: Vec<Pos>,
    labels: HashMap<String, u32>,
    /// (instruction index, label, position) to patch once labels are known.
    fixups: Vec<(usize, String, Pos)>,
    seen: bool,
}

/// A micro-program under construction.
struct MicroBuilder {
    name: String,
    pos: Pos,
    program: MicroProgram,
}

#[derive(Default)]
struct Assembler {
    kernel: Option<String>,
    machine: Option<MachineRef>,
    args: Vec<ArgDecl>,
    dispatch: Option<Dispatch>,
    debug_locs: Vec<DebugLoc>,
    constants: Vec<Constant>,
    micro_programs: Vec<MicroProgram>,
    micro_names: HashMap<String, MicroId>,
    micro: Option<MicroBuilder>,
    tile: ProgramBuilder,
    cluster: ProgramBuilder,
    section: Option<Section>,
}

impl Assembler {
    fn line(&mut self, line: Line) -> Result<(), AsmError> {
        if self.micro.is_some() {
            return self.micro_line(line);
        }
        if let Some((label, pos)) = &line.label {
            let builder = self.code_section(*pos)?;
            let pc = builder.program.code.len() as u32;
            if builder.labels.insert(label.clone(), pc).is_some() {
                return error(*pos, format!("label `{label}` is defined twice"));
            }
        }
        if let Some((_, pos)) = &line.def {
            return error(*pos, "`name = ...` lines belong inside a .micro block");
        }
        let Some((head, pos)) = line.head.clone() else {
            return Ok(());
        };
        let args = Args::new(head.clone(), pos, line.items);
        if head.starts_with('.') {
            self.directive(&head, pos, args)
        } else {
            let instr = self.instruction(&head, pos, args)?;
            let builder = self.code_section(pos)?;
            builder.program.code.push(instr.0);
            builder.positions.push(pos);
            if let Some((label, label_pos)) = instr.1 {
                builder
                    .fixups
                    .push((builder.program.code.len() - 1, label, label_pos));
            }
            Ok(())
        }
    }

    fn code_section(&mut self, pos: Pos) -> Result<&mut ProgramBuilder, AsmError> {
        match self.section {
            Some(Section::Tile) => Ok(&mut self.tile),
            Some(Section::Cluster) => Ok(&mut self.cluster),
            _ => error(
                pos,
                "instructions and labels go after `.tile` or `.cluster`",
            ),
        }
    }

    fn directive(&mut self, head: &str, pos: Pos, mut args: Args) -> Result<(), AsmError> {
        match head {
            ".kernel" => {
                let name = args.positional(0)?.string()?;
                set_once(&mut self.kernel, name, pos, ".kernel")?;
            }
            ".machine" => {
                let name_value = args.positional(0)?.clone();
                let name = name_value.string()?;
                // Without `hash=`, a built-in machine's current hash.
                let hash = match args.optional("hash") {
                    Some(h) => h.u64()?,
                    None => crate::machine::builtin(&name)
                        .map(|m| m.hash())
                        .ok_or_else(|| AsmError {
                            pos: name_value.pos,
                            message: format!(
                                "`{name}` is not a built-in machine: give its hash with `hash=`"
                            ),
                        })?,
                };
                set_once(
                    &mut self.machine,
                    MachineRef { name, hash },
                    pos,
                    ".machine",
                )?;
            }
            ".arg" => {
                let name = args.positional(0)?.string()?;
                let kind = args.positional(1)?.word()?;
                let dtype = args.positional(2)?.dtype()?;
                let kind = match kind.as_str() {
                    "ptr" => ArgKind::Pointer { pointee: dtype },
                    "scalar" => ArgKind::Scalar { dtype },
                    other => {
                        return error(
                            args.positional(1)?.pos,
                            format!("expected `ptr` or `scalar`, found `{other}`"),
                        )
                    }
                };
                self.args.push(ArgDecl { name, kind });
            }
            ".dispatch" => {
                let policy = args.positional(0)?.word()?;
                let dispatch = match policy.as_str() {
                    "round_robin" => Dispatch::RoundRobin {
                        tiles: args.required("tiles")?.u32()?,
                    },
                    "blocked" => Dispatch::Blocked {
                        tiles: args.required("tiles")?.u32()?,
                    },
                    "persistent" => Dispatch::Persistent {
                        tiles: args.required("tiles")?.u32()?,
                    },
                    "explicit" => {
                        let grid_value = args.required("grid")?.clone();
                        let grid = grid_value.list()?;
                        if grid.len() != 3 {
                            return error(grid_value.pos, "the grid has three dimensions");
                        }
                        let grid = [grid[0].u32()?, grid[1].u32()?, grid[2].u32()?];
                        let tiles = args
                            .required("tiles")?
                            .list()?
                            .iter()
                            .map(|t| t.list()?.iter().map(Spanned::u32).collect())
                            .collect::<Result<_, _>>()?;
                        Dispatch::Explicit { grid, tiles }
                    }
                    other => {
                        return error(
                            args.positional(0)?.pos,
                            format!(
                            "unknown dispatch policy `{other}` (round_robin, blocked, persistent, explicit)"
                        ),
                        )
                    }
                };
                set_once(&mut self.dispatch, dispatch, pos, ".dispatch")?;
            }
            ".loc" => {
                let op_name = args.positional(0)?.string()?;
                let ttir_line = args.positional(1)?.u32()?;
                let ttir_col = args.positional(2)?.u32()?;
                let python = match args.optional_positional(3) {
                    None => None,
                    Some(file) => {
                        let file = file.string()?;
                        Some(PyLoc {
                            file,
                            line: args.positional(4)?.u32()?,
                            col: args.positional(5)?.u32()?,
                        })
                    }
                };
                self.debug_locs.push(DebugLoc {
                    op_name,
                    ttir_line,
                    ttir_col,
                    python,
                });
            }
            ".const" => {
                let space_value = args.positional(0)?.clone();
                let space = match Space::from_name(&space_value.word()?) {
                    Some(s @ (Space::Tsram | Space::Csram)) => s,
                    _ => return error(space_value.pos, "constants go to `tsram` or `csram`"),
                };
                let units = args.positional(1)?.unit_set()?;
                let offset = args.required("offset")?.u64()?;
                let data = args.required("data")?.clone();
                let bytes = hex_bytes(&data.string()?).ok_or_else(|| AsmError {
                    pos: data.pos,
                    message: "data must be an even number of hex digits".into(),
                })?;
                self.constants.push(Constant {
                    space,
                    units,
                    offset,
                    bytes,
                });
            }
            ".micro" => {
                let name = args.positional(0)?.word()?;
                let inputs = args
                    .required("inputs")?
                    .list()?
                    .iter()
                    .map(Spanned::dtype)
                    .collect::<Result<_, _>>()?;
                if self.micro_names.contains_key(&name) {
                    return error(pos, format!("micro-program `{name}` is defined twice"));
                }
                self.micro = Some(MicroBuilder {
                    name,
                    pos,
                    program: MicroProgram {
                        inputs,
                        ..Default::default()
                    },
                });
            }
            ".tile" | ".cluster" => {
                let (section, builder) = if head == ".tile" {
                    (Section::Tile, &mut self.tile)
                } else {
                    (Section::Cluster, &mut self.cluster)
                };
                if builder.seen {
                    return error(pos, format!("`{head}` appears twice"));
                }
                builder.seen = true;
                self.section = Some(section);
            }
            ".line" => {
                let value = args.positional(0)?.clone();
                let loc = match &value.value {
                    Value::Word(w) if w == "none" => None,
                    _ => Some(DebugLocId(value.u32()?)),
                };
                let builder = self.code_section(pos)?;
                let pc = builder.program.code.len() as u32;
                if builder.program.lines.last().is_some_and(|l| l.pc == pc) {
                    return error(pos, "two `.line` rows for one instruction");
                }
                builder.program.lines.push(LineEntry { pc, loc });
            }
            ".end" => return error(pos, "`.end` without `.micro`"),
            other => return error(pos, format!("unknown directive `{other}`")),
        }
        args.finish()
    }

    fn micro_line(&mut self, line: Line) -> Result<(), AsmError> {
        let Some(micro) = self.micro.as_mut() else {
            return Ok(());
        };
        if let Some((_, pos)) = &line.label {
            return error(*pos, "labels are not allowed in micro-programs");
        }
        let Some((head, pos)) = line.head.clone() else {
            return Ok(());
        };
        let args = Args::new(head.clone(), pos, line.items);
        match (&line.def, head.as_str()) {
            (None, ".end") => {
                args.finish()?;
                let done = self.micro.take().map(|m| (m.name, m.pos, m.program));
                if let Some((name, pos, program)) = done {
                    program.check().map_err(|message| AsmError {
                        pos,
                        message: format!("micro-program `{name}`: {message}"),
                    })?;
                    let id = MicroId(self.micro_programs.len() as u32);
                    self.micro_programs.push(program);
                    self.micro_names.insert(name, id);
                }
                Ok(())
            }
            (None, "out") => {
                let outputs = args
                    .all_positional()
                    .iter()
                    .map(lane_src)
                    .collect::<Result<_, _>>()?;
                micro.program.outputs = outputs;
                args.finish()
            }
            (Some((def, def_pos)), _) => {
                let want = format!("v{}", micro.program.body.len());
                if *def != want {
                    return error(
                        *def_pos,
                        format!("expected `{want}` (values are numbered in order)"),
                    );
                }
                let op = LaneOp::parse(&head).map_err(|message| AsmError { pos, message })?;
                let lane_args = args
                    .all_positional()
                    .iter()
                    .map(lane_src)
                    .collect::<Result<_, _>>()?;
                micro.program.body.push(LaneInstr {
                    op,
                    args: lane_args,
                });
                args.finish()
            }
            (None, other) => error(
                pos,
                format!("expected `vN = op ...`, `out ...` or `.end`, found `{other}`"),
            ),
        }
    }

    fn micro_id(&self, value: &Spanned) -> Result<MicroId, AsmError> {
        let name = value.word()?;
        self.micro_names
            .get(&name)
            .copied()
            .ok_or_else(|| AsmError {
                pos: value.pos,
                message: format!(
                    "micro-program `{name}` is not defined (define it with .micro before use)"
                ),
            })
    }

    /// Builds one instruction; the second value is a label to resolve.
    fn instruction(
        &self,
        head: &str,
        pos: Pos,
        mut args: Args,
    ) -> Result<(Instr, Option<(String, Pos)>), AsmError> {
        let mut label = None;
        let op: Op = match head {
            "mov" => CpOp::Mov {
                dst: args.positional(0)?.reg()?,
                src: args.positional(1)?.operand()?,
            }
            .into(),
            "select" => CpOp::Select {
                dst: args.positional(0)?.reg()?,
                cond: args.positional(1)?.reg()?,
                a: args.positional(2)?.operand()?,
                b: args.positional(3)?.operand()?,
            }
            .into(),
            "rdspec" => {
                let dst = args.positional(0)?.reg()?;
                let value = args.positional(1)?.clone();
                let name = value.word()?;
                let special = name
                    .strip_prefix('%')
                    .and_then(Special::from_name)
                    .ok_or_else(|| AsmError {
                        pos: value.pos,
                        message: format!("unknown special register `{name}`"),
                    })?;
                CpOp::ReadSpecial { dst, special }.into()
            }
            "arg" => CpOp::Arg {
                dst: args.positional(0)?.reg()?,
                index: args.positional(1)?.u16()?,
            }
            .into(),
            "jump" | "bz" | "bnz" | "loop" => {
                let (reg, target) = if head == "jump" {
                    (None, args.positional(0)?.clone())
                } else {
                    (
                        Some(args.positional(0)?.reg()?),
                        args.positional(1)?.clone(),
                    )
                };
                label = Some((target.word()?, target.pos));
                let target = Label(0);
                match (head, reg) {
                    ("bz", Some(cond)) => CpOp::Branch {
                        cond,
                        if_zero: true,
                        target,
                    },
                    ("bnz", Some(cond)) => CpOp::Branch {
                        cond,
                        if_zero: false,
                        target,
                    },
                    ("loop", Some(counter)) => CpOp::Loop { counter, target },
                    _ => CpOp::Jump { target },
                }
                .into()
            }
            "fence" => CpOp::Fence.into(),
            "halt" => CpOp::Halt.into(),
            "nop" => CpOp::Nop.into(),
            "dma.nop" => Op::EngineNop(Engine::Dma),
            "ttu.nop" => Op::EngineNop(Engine::Ttu),
            "tvp.nop" => Op::EngineNop(Engine::Tvp),
            "trap" => CpOp::Trap {
                code: args.positional(0)?.u32()?,
            }
            .into(),
            "barrier" => {
                let value = args.positional(0)?.clone();
                let scope = BarrierScope::from_name(&value.word()?).ok_or_else(|| AsmError {
                    pos: value.pos,
                    message: "expected `cluster` or `chip`".into(),
                })?;
                CpOp::Barrier { scope }.into()
            }
            _ if head.starts_with("ld.") || head.starts_with("st.") => {
                let (width, signed) = mem_suffix(head).ok_or_else(|| AsmError {
                    pos,
                    message: format!("unknown access `{head}` (ld.w1s .. ld.w8u, st.w1 .. st.w8)"),
                })?;
                let reg = args.positional(0)?.reg()?;
                let addr = args.positional(1)?.address()?;
                match signed {
                    Some(signed) => CpOp::Load {
                        dst: reg,
                        addr,
                        width,
                        signed,
                    },
                    None => CpOp::Store {
                        src: reg,
                        addr,
                        width,
                    },
                }
                .into()
            }
            "dma.copy" | "dma.bcast" => {
                let copy = strided_copy(&mut args)?;
                if head == "dma.copy" {
                    DmaOp::Copy(copy).into()
                } else {
                    DmaOp::Broadcast {
                        copy,
                        to: args.required("to")?.unit_set()?,
                    }
                    .into()
                }
            }
            "dma.gather" => DmaOp::Gather(crate::isa::dma::Gather {
                dtype: args.positional(0)?.dtype()?,
                count: args.required("n")?.u32()?,
                addrs: args.required("addrs")?.address()?,
                mask: args.optional("mask").map(Spanned::address).transpose()?,
                dst: args.required("dst")?.address()?,
                fill: args.required("fill")?.u64()?,
            })
            .into(),
            "dma.scatter" => DmaOp::Scatter(Scatter {
                dtype: args.positional(0)?.dtype()?,
                count: args.required("n")?.u32()?,
                addrs: args.required("addrs")?.address()?,
                mask: args.optional("mask").map(Spanned::address).transpose()?,
                src: args.required("src")?.address()?,
            })
            .into(),
            "dma.atomic" => {
                let kind_value = args.positional(0)?.clone();
                let kind = AtomicKind::from_name(&kind_value.word()?).ok_or_else(|| AsmError {
                    pos: kind_value.pos,
                    message: "unknown atomic kind".into(),
                })?;
                DmaOp::Atomic(Atomic {
                    kind,
                    dtype: args.positional(1)?.dtype()?,
                    count: args.required("n")?.u32()?,
                    addrs: args.required("addrs")?.address()?,
                    values: args.required("values")?.address()?,
                    compare: args.optional("compare").map(Spanned::address).transpose()?,
                    mask: args.optional("mask").map(Spanned::address).transpose()?,
                    old: args.optional("old").map(Spanned::address).transpose()?,
                })
                .into()
            }
            "ttu.matmul" => {
                let out = args.required("out")?.group()?;
                let (out_dtype, out_addr, out_row_stride) = (
                    out.positional(0)?.dtype()?,
                    out.positional(1)?.address()?,
                    out.positional(2)?.u32()?,
                );
                out.finish()?;
                TtuOp::Matmul(Matmul {
                    m: args.required("m")?.u32()?,
                    n: args.required("n")?.u32()?,
                    k: args.required("k")?.u32()?,
                    a: mat_operand(args.required("a")?)?,
                    b: mat_operand(args.required("b")?)?,
                    out_dtype,
                    out: out_addr,
                    out_row_stride,
                    accumulate: args.required("accumulate")?.flag()?,
                })
                .into()
            }
            "ttu.drain" => {
                let epilogue = match args.optional("epilogue").cloned() {
                    None => None,
                    Some(e) => Some(Epilogue {
                        program: self.micro_id(&e)?,
                        extra: map_inputs(args.required("extra")?)?,
                    }),
                };
                TtuOp::Drain(Drain {
                    src: args.required("src")?.view()?,
                    dst: args.required("dst")?.view()?,
                    epilogue,
                })
                .into()
            }
            "tvp.map" => TvpOp::Map(Map {
                program: self.micro_id(args.positional(0)?)?,
                inputs: map_inputs(args.required("in")?)?,
                outputs: views(args.required("out")?)?,
            })
            .into(),
            "tvp.reduce" => TvpOp::Reduce(Reduce {
                combiner: self.micro_id(args.positional(0)?)?,
                axis: args.required("axis")?.u8()?,
                inputs: views(args.required("in")?)?,
                outputs: views(args.required("out")?)?,
            })
            .into(),
            "tvp.scan" => TvpOp::Scan(Scan {
                combiner: self.micro_id(args.positional(0)?)?,
                axis: args.required("axis")?.u8()?,
                reverse: args.required("reverse")?.flag()?,
                inputs: views(args.required("in")?)?,
                outputs: views(args.required("out")?)?,
            })
            .into(),
            "tvp.iota" => TvpOp::Iota(Iota {
                dst: args.required("dst")?.view()?,
                start: args.required("start")?.operand()?,
                axis: args.required("axis")?.u8()?,
            })
            .into(),
            "tvp.copy" => TvpOp::Copy(crate::isa::tvp::Copy {
                src: args.required("src")?.view()?,
                dst: args.required("dst")?.view()?,
            })
            .into(),
            "tvp.gather" => TvpOp::Gather(crate::isa::tvp::Gather {
                axis: args.required("axis")?.u8()?,
                src: args.required("src")?.view()?,
                index: args.required("index")?.view()?,
                dst: args.required("dst")?.view()?,
            })
            .into(),
            "tvp.histogram" => TvpOp::Histogram(Histogram {
                src: args.required("src")?.view()?,
                mask: args.optional("mask").map(Spanned::view).transpose()?,
                dst: args.required("dst")?.view()?,
            })
            .into(),
            "tvp.actreduce" => TvpOp::ActivationReduce(ActivationReduce {
                program: self.micro_id(args.positional(0)?)?,
                inputs: map_inputs(args.required("in")?)?,
                output: args.required("out")?.view()?,
                combiner: self.micro_id(args.required("combiner")?)?,
                axis: args.required("axis")?.u8()?,
                reduced: args.required("reduced")?.view()?,
            })
            .into(),
            "tvp.mxquant" => TvpOp::MxQuantize(MxQuantize {
                format: args.positional(0)?.mx_format()?,
                src: args.required("src")?.view()?,
                codes: args.required("codes")?.view()?,
                scales: args.required("scales")?.view()?,
            })
            .into(),
            "tvp.mxdequant" => TvpOp::MxDequantize(MxDequantize {
                format: args.positional(0)?.mx_format()?,
                codes: args.required("codes")?.view()?,
                scales: args.required("scales")?.view()?,
                dst: args.required("dst")?.view()?,
            })
            .into(),
            _ => match AluOp::from_name(head) {
                Some(op) => CpOp::Alu {
                    op,
                    dst: args.positional(0)?.reg()?,
                    a: args.positional(1)?.reg()?,
                    b: args.positional(2)?.operand()?,
                }
                .into(),
                None => return error(pos, format!("unknown instruction `{head}`")),
            },
        };
        let mut sync = Sync::none();
        if let Some(waits) = args.optional("wait").cloned() {
            for w in waits.list()? {
                let Value::Wait(sem_name, value) = &w.value else {
                    return error(w.pos, "expected `sem>=value`");
                };
                sync.waits.push(SemWait {
                    sem: sem_ref(sem_name, w.pos)?,
                    value: *value,
                });
            }
        }
        if let Some(signal) = args.optional("signal").cloned() {
            sync.signal = Some(sem_ref(&signal.word()?, signal.pos)?);
        }
        args.finish()?;
        Ok((Instr { op, sync }, label))
    }

    fn finish(mut self) -> Result<Module, AsmError> {
        if let Some(m) = &self.micro {
            return error(m.pos, format!("micro-program `{}` has no `.end`", m.name));
        }
        let kernel = self.kernel.take().ok_or_else(|| AsmError {
            pos: Pos { line: 1, col: 1 },
            message: "missing `.kernel`".into(),
        })?;
        let machine = self.machine.take().ok_or_else(|| AsmError {
            pos: Pos { line: 1, col: 1 },
            message: "missing `.machine`".into(),
        })?;
        let mut module = Module::new(kernel, machine);
        module.args = std::mem::take(&mut self.args);
        if let Some(d) = self.dispatch.take() {
            module.dispatch = d;
        }
        module.debug_locs = std::mem::take(&mut self.debug_locs);
        module.constants = std::mem::take(&mut self.constants);
        module.micro_programs = std::mem::take(&mut self.micro_programs);
        let tile_positions = resolve_labels(&mut self.tile)?;
        module.tile_program = std::mem::take(&mut self.tile.program);
        let cluster_positions = if self.cluster.seen {
            let positions = resolve_labels(&mut self.cluster)?;
            module.cluster_program = Some(std::mem::take(&mut self.cluster.program));
            positions
        } else {
            Vec::new()
        };
        module.verify().map_err(|e| {
            let pos = locate(&e.location, &tile_positions, &cluster_positions);
            AsmError {
                pos,
                message: e.to_string(),
            }
        })?;
        Ok(module)
    }
}

/// Patches label targets; returns the instruction positions.
fn resolve_labels(builder: &mut ProgramBuilder) -> Result<Vec<Pos>, AsmError> {
    for (index, name, pos) in std::mem::take(&mut builder.fixups) {
        let Some(&pc) = builder.labels.get(&name) else {
            return error(pos, format!("undefined label `{name}`"));
        };
        if let Some(Instr {
            op:
                Op::Cp(CpOp::Jump { target } | CpOp::Branch { target, .. } | CpOp::Loop { target, .. }),
            ..
        }) = builder.program.code.get_mut(index)
        {
            *target = Label(pc);
        }
    }
    Ok(std::mem::take(&mut builder.positions))
}

/// The source position of a verification error's location
/// (`tile program pc 12 (...)`), or line 1.
fn locate(location: &str, tile: &[Pos], cluster: &[Pos]) -> Pos {
    let positions = if location.starts_with("cluster program") {
        cluster
    } else {
        tile
    };
    location
        .split_whitespace()
        .skip_while(|w| *w != "pc")
        .nth(1)
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|pc| positions.get(pc).copied())
        .unwrap_or(Pos { line: 1, col: 1 })
}

fn set_once<T>(slot: &mut Option<T>, value: T, pos: Pos, what: &str) -> Result<(), AsmError> {
    if slot.is_some() {
        return error(pos, format!("`{what}` appears twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// `ld.w4s` → (4 bytes, Some(signed)); `st.w4` → (4 bytes, None).
fn mem_suffix(head: &str) -> Option<(MemWidth, Option<bool>)> {
    if let Some(rest) = head.strip_prefix("ld.w") {
        let (digits, sign) = rest.split_at(rest.len().checked_sub(1)?);
        let signed = match sign {
            "s" => true,
            "u" => false,
            _ => return None,
        };
        return Some((MemWidth::from_bytes(digits.parse().ok()?)?, Some(signed)));
    }
    let digits = head.strip_prefix("st.w")?;
    Some((MemWidth::from_bytes(digits.parse().ok()?)?, None))
}

fn sem_ref(name: &str, pos: Pos) -> Result<SemRef, AsmError> {
    let parsed = name.split_at_checked(1).and_then(|(scope, index)| {
        let index = index.parse::<u16>().ok()?;
        match scope {
            "t" => Some(SemRef::tile(index)),
            "c" => Some(SemRef::cluster(index)),
            _ => None,
        }
    });
    parsed.ok_or_else(|| AsmError {
        pos,
        message: format!("`{name}` is not a semaphore (tN or cN)"),
    })
}

fn strided_copy(args: &mut Args) -> Result<StridedCopy, AsmError> {
    let dims = args
        .required("dims")?
        .list()?
        .iter()
        .map(|d| {
            let mut g = d.group()?;
            let dim = DmaDim {
                extent: g.positional(0)?.u32()?,
                src_stride: g.positional(1)?.operand()?,
                dst_stride: g.positional(2)?.operand()?,
                valid: g.optional("valid").map(Spanned::operand).transpose()?,
                start: g.optional("start").map(Spanned::operand).transpose()?,
            };
            g.finish()?;
            Ok(dim)
        })
        .collect::<Result<_, AsmError>>()?;
    Ok(StridedCopy {
        dtype: args.positional(0)?.dtype()?,
        src: args.required("src")?.address()?,
        dst: args.required("dst")?.address()?,
        dims,
        fill: args.optional("fill").map(Spanned::u64).transpose()?,
    })
}

fn mat_operand(value: &Spanned) -> Result<MatOperand, AsmError> {
    let mut g = value.group()?;
    let dtype = g.positional(0)?.dtype()?;
    let addr = g.positional(1)?.address()?;
    let row_stride = g.positional(2)?.u32()?;
    let transposed = match g.optional_positional(3) {
        None => false,
        Some(v) if v.value == Value::Word("trans".into()) => true,
        Some(v) => return error(v.pos, "expected `trans` or `scale=(...)`"),
    };
    let scale = match g.optional("scale") {
        None => None,
        Some(s) => {
            let sg = s.group()?;
            let scale = ScaleOperand {
                addr: sg.positional(0)?.address()?,
                row_stride: sg.positional(1)?.u32()?,
            };
            sg.finish()?;
            Some(scale)
        }
    };
    g.finish()?;
    Ok(MatOperand {
        addr,
        dtype,
        row_stride,
        transposed,
        scale,
    })
}

fn views(value: &Spanned) -> Result<Vec<View>, AsmError> {
    value.list()?.iter().map(Spanned::view).collect()
}

fn map_inputs(value: &Spanned) -> Result<Vec<MapInput>, AsmError> {
    value
        .list()?
        .iter()
        .map(|v| match &v.value {
            Value::Group(_) => Ok(MapInput::View(v.view()?)),
            _ => Ok(MapInput::Scalar(v.operand()?)),
        })
        .collect()
}

fn lane_src(value: &Spanned) -> Result<LaneSrc, AsmError> {
    let pos = value.pos;
    match &value.value {
        Value::Word(w) => {
            let index = |prefix: &str| w.strip_prefix(prefix).and_then(|n| n.parse::<u16>().ok());
            if let Some(i) = index("in") {
                Ok(LaneSrc::Input(i))
            } else if let Some(j) = index("v") {
                Ok(LaneSrc::Value(j))
            } else {
                error(
                    pos,
                    format!("expected `inN`, `vN` or `type:bits`, found `{w}`"),
                )
            }
        }
        Value::Typed(t, bits) => {
            let ty = DType::from_name(t).ok_or_else(|| AsmError {
                pos,
                message: format!("unknown type `{t}`"),
            })?;
            let bits = u64::try_from(*bits).map_err(|_| AsmError {
                pos,
                message: "immediate bits must be 0..2^64".into(),
            })?;
            Ok(LaneSrc::Imm { ty, bits })
        }
        _ => error(pos, "expected `inN`, `vN` or `type:bits`"),
    }
}

/// The items of one line or group, consumed by the builders; anything left
/// over is an error.
struct Args {
    head: String,
    pos: Pos,
    positional: Vec<Spanned>,
    /// How many positional operands were consumed.
    positional_used: Cell<usize>,
    keyed: Vec<(String, Pos, Spanned, bool)>,
}

impl Args {
    fn new(head: String, pos: Pos, items: Vec<Item>) -> Args {
        let mut args = Args {
            head,
            pos,
            positional: Vec::new(),
            positional_used: Cell::new(0),
            keyed: Vec::new(),
        };
        for item in items {
            match item {
                Item::Positional(v) => args.positional.push(v),
                Item::Keyed { key, pos, value } => args.keyed.push((key, pos, value, false)),
            }
        }
        args
    }

    fn positional(&self, i: usize) -> Result<&Spanned, AsmError> {
        self.positional_used
            .set(self.positional_used.get().max(i + 1));
        self.positional.get(i).ok_or_else(|| AsmError {
            pos: self.positional.last().map_or(self.pos, |v| v.pos),
            message: format!("`{}` needs operand {}", self.head, i + 1),
        })
    }

    fn optional_positional(&self, i: usize) -> Option<&Spanned> {
        self.positional_used
            .set(self.positional_used.get().max(i + 1));
        self.positional.get(i)
    }

    fn all_positional(&self) -> &[Spanned] {
        self.positional_used.set(self.positional.len());
        &self.positional
    }

    fn optional(&mut self, key: &str) -> Option<&Spanned> {
        let entry = self.keyed.iter_mut().find(|(k, ..)| k == key)?;
        entry.3 = true;
        Some(&entry.2)
    }

    fn required(&mut self, key: &str) -> Result<&Spanned, AsmError> {
        let (head, pos) = (self.head.clone(), self.pos);
        self.optional(key).ok_or_else(|| AsmError {
            pos,
            message: format!("`{head}` needs `{key}=`"),
        })
    }

    /// Fails on duplicate or unused keys and on extra positional operands.
    fn finish(self) -> Result<(), AsmError> {
        if let Some(extra) = self.positional.get(self.positional_used.get()) {
            return error(extra.pos, format!("unexpected operand for `{}`", self.head));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (key, pos, _, used) in &self.keyed {
            if seen.contains(&key.as_str()) {
                return error(*pos, format!("`{key}=` is given twice"));
            }
            seen.push(key);
            if !used {
                return error(*pos, format!("`{}` does not take `{key}=`", self.head));
            }
        }
        Ok(())
    }
}

impl Spanned {
    fn err<T>(&self, what: &str) -> Result<T, AsmError> {
        error(self.pos, format!("expected {what}"))
    }

    fn int(&self) -> Result<i128, AsmError> {
        match self.value {
            Value::Int(i) => Ok(i),
            _ => self.err("a number"),
        }
    }

    fn u64(&self) -> Result<u64, AsmError> {
        u64::try_from(self.int()?).or_else(|_| self.err("a number in 0..2^64"))
    }

    fn u32(&self) -> Result<u32, AsmError> {
        u32::try_from(self.int()?).or_else(|_| self.err("a number in 0..2^32"))
    }

    fn u16(&self) -> Result<u16, AsmError> {
        u16::try_from(self.int()?).or_else(|_| self.err("a number in 0..65536"))
    }

    fn u8(&self) -> Result<u8, AsmError> {
        u8::try_from(self.int()?).or_else(|_| self.err("a number in 0..256"))
    }

    fn flag(&self) -> Result<bool, AsmError> {
        match self.int()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => self.err("0 or 1"),
        }
    }

    fn word(&self) -> Result<String, AsmError> {
        match &self.value {
            Value::Word(w) => Ok(w.clone()),
            _ => self.err("a name"),
        }
    }

    fn string(&self) -> Result<String, AsmError> {
        match &self.value {
            Value::Str(s) => Ok(s.clone()),
            _ => self.err("a string"),
        }
    }

    fn list(&self) -> Result<&[Spanned], AsmError> {
        match &self.value {
            Value::List(l) => Ok(l),
            _ => self.err("a list `[...]`"),
        }
    }

    fn group(&self) -> Result<Args, AsmError> {
        match &self.value {
            Value::Group(items) => Ok(Args::new("(...)".into(), self.pos, items.clone())),
            _ => self.err("a group `(...)`"),
        }
    }

    fn reg(&self) -> Result<Reg, AsmError> {
        match self.value {
            Value::Operand(Operand {
                reg: Some(r),
                imm: 0,
            }) => Ok(r),
            _ => self.err("a register"),
        }
    }

    fn operand(&self) -> Result<Operand, AsmError> {
        match self.value {
            Value::Operand(op) => Ok(op),
            Value::Int(i) => Ok(Operand::imm(to_i64(i, self.pos)?)),
            _ => self.err("a register or number"),
        }
    }

    fn address(&self) -> Result<Address, AsmError> {
        match self.value {
            Value::Address(a) => Ok(a),
            _ => self.err("an address like `tsram[r2+64]`"),
        }
    }

    fn dtype(&self) -> Result<DType, AsmError> {
        let name = self.word()?;
        DType::from_name(&name).ok_or_else(|| AsmError {
            pos: self.pos,
            message: format!("unknown element type `{name}`"),
        })
    }

    fn mx_format(&self) -> Result<MxFormat, AsmError> {
        let name = self.word()?;
        MxFormat::from_name(&name).ok_or_else(|| AsmError {
            pos: self.pos,
            message: format!("unknown MX format `{name}` (mxfp8-e4m3, mxfp8-e5m2, mxfp6-e3m2, mxfp6-e2m3, mxfp4)"),
        })
    }

    fn unit_set(&self) -> Result<UnitSet, AsmError> {
        match &self.value {
            Value::Word(w) if w == "all" => Ok(UnitSet::All),
            Value::Word(w) if w == "cluster" => Ok(UnitSet::OwnCluster),
            Value::List(l) => Ok(UnitSet::List(
                l.iter().map(Spanned::u32).collect::<Result<_, _>>()?,
            )),
            _ => self.err("`all`, `cluster` or a list of unit numbers"),
        }
    }

    /// `(dtype address [shape] [strides])`.
    fn view(&self) -> Result<View, AsmError> {
        let g = self.group()?;
        let dtype = g.positional(0)?.dtype()?;
        let addr = g.positional(1)?.address()?;
        let shape = g
            .positional(2)?
            .list()?
            .iter()
            .map(Spanned::u32)
            .collect::<Result<_, _>>()?;
        let strides = g
            .positional(3)?
            .list()?
            .iter()
            .map(|s| to_i64(s.int()?, s.pos))
            .collect::<Result<_, _>>()?;
        if let Some(extra) = g.optional_positional(4) {
            return error(extra.pos, "a view is `(dtype address [shape] [strides])`");
        }
        g.finish()?;
        Ok(View {
            addr,
            dtype,
            shape,
            strides,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = ".kernel \"k\"\n.machine \"tiny\"\n.arg \"p\" ptr f32\n";

    fn asm(body: &str) -> Result<Module, AsmError> {
        assemble(&format!("{HEADER}{body}"))
    }

    fn err(body: &str) -> String {
        asm(body).unwrap_err().to_string()
    }

    #[test]
    fn resolves_labels_forward_and_backward() {
        let m = asm(".tile\ntop:\n    bnz r1, end\n    jump top\nend:\n    halt\n").unwrap();
        assert_eq!(
            m.tile_program.code[0].op,
            Op::Cp(CpOp::Branch {
                cond: Reg(1),
                if_zero: false,
                target: Label(2)
            })
        );
        assert_eq!(
            m.tile_program.code[1].op,
            Op::Cp(CpOp::Jump { target: Label(0) })
        );
    }

    #[test]
    fn errors_point_at_line_and_column() {
        assert_eq!(
            err(".tile\n    jump nowhere\n"),
            "5:10: undefined label `nowhere`"
        );
        assert_eq!(
            err(".tile\n    frob r1\n"),
            "5:5: unknown instruction `frob`"
        );
        assert_eq!(
            err(".tile\n    mov r1, r2 bogus=3\n"),
            "5:16: `mov` does not take `bogus=`"
        );
        assert_eq!(
            err(".tile\n    mov r1, r2, r3\n"),
            "5:17: unexpected operand for `mov`"
        );
        assert_eq!(err(".tile\n    mov r1\n"), "5:9: `mov` needs operand 2");
        assert_eq!(
            err(".tile\n    arg r1, 5\n"),
            "5:5: tile program pc 0 (arg): argument 5 does not exist (1 arguments)"
        );
        assert_eq!(
            err("    nop\n"),
            "4:5: instructions and labels go after `.tile` or `.cluster`"
        );
        assert_eq!(
            err(".tile\n    nop wait=[x1>=2]\n"),
            "5:15: `x1` is not a semaphore (tN or cN)"
        );
    }

    #[test]
    fn micro_program_errors() {
        let e = err(".micro f inputs=[f32]\n    v1 = negf.f32 in0\n    out v1\n.end\n");
        assert_eq!(e, "5:5: expected `v0` (values are numbered in order)");
        let e = err(".micro f inputs=[f32]\n    v0 = addf.f32 in0, in0\n    out v0\n");
        assert_eq!(e, "4:1: micro-program `f` has no `.end`");
        let e = err(".micro f inputs=[i32]\n    v0 = negf.f32 in0\n    out v0\n.end\n");
        assert!(
            e.starts_with("4:1: micro-program `f`: v0: argument 0 of `negf.f32` is i32"),
            "{e}"
        );
        let e = err(".tile\n    tvp.map g in=[] out=[(f32 tsram[0] [4] [1])]\n");
        assert!(e.contains("micro-program `g` is not defined"), "{e}");
    }

    #[test]
    fn unknown_machines_need_a_hash() {
        let e = assemble(".kernel \"k\"\n.machine \"mine\"\n.tile\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("give its hash"), "{e}");
        assert!(assemble(".kernel \"k\"\n.machine \"mine\" hash=0x12\n.tile\n").is_ok());
    }
}
