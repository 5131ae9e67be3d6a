//! Property tests over randomly generated valid modules:
//! - encode → decode is the identity, and so is disassemble → assemble
//!   (which also gives the identical binary);
//! - decoding a mutated or truncated binary never panics (with and without
//!   the checksum patched, so the structural checks are exercised too).
//!
//! Modules come from a seeded generator that builds every instruction kind
//! with valid operands (proptest supplies the seeds).

use maiac_backend::asm::{assemble, disassemble};
use maiac_backend::binary::{decode, encode, format::CHECKSUM_OFFSET};
use maiac_backend::isa::lane::{
    FLOAT_BINARY_OPS, FLOAT_PREDICATES, FLOAT_UNARY_OPS, INT_BINARY_OPS, INT_PREDICATES,
    INT_ROUNDINGS,
};
use maiac_backend::isa::*;
use maiac_backend::machine::hash::fnv1a;
use maiac_ir::semantics::Rounding;
use maiac_ir::FloatType;
use proptest::prelude::*;

/// splitmix64: a tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const ELEMENT_TYPES: [DType; 8] = [
    DType::F32,
    DType::BF16,
    DType::F16,
    DType::I32,
    DType::I8,
    DType::I1,
    DType::F8E4M3FN,
    DType::I64,
];

struct Gen {
    rng: Rng,
    module: Module,
}

impl Gen {
    fn reg(&mut self) -> Reg {
        Reg(self.rng.below(NUM_REGS as u64) as u8)
    }

    fn operand(&mut self) -> Operand {
        let imm = if self.rng.chance(10) {
            self.rng.next() as i64
        } else {
            self.rng.range(-64, 4096)
        };
        if self.rng.chance(50) {
            Operand {
                reg: Some(self.reg()),
                imm,
            }
        } else {
            Operand::imm(imm)
        }
    }

    fn address(&mut self, space: Space) -> Address {
        let unit = if matches!(space, Space::Tsram | Space::Csram) && self.rng.chance(20) {
            Unit::Remote(self.operand())
        } else {
            Unit::Local
        };
        Address {
            space,
            unit,
            offset: self.operand(),
        }
    }

    fn local(&mut self, space: Space) -> Address {
        Address {
            space,
            unit: Unit::Local,
            offset: self.operand(),
        }
    }

    fn shape(&mut self, rank: usize) -> Vec<u32> {
        (0..rank).map(|_| self.rng.range(1, 5) as u32).collect()
    }

    fn view_of(&mut self, dtype: DType, shape: &[u32]) -> View {
        let space = if self.rng.chance(80) {
            Space::Tsram
        } else {
            Space::Acc
        };
        let strides = shape.iter().map(|_| self.rng.range(-3, 9)).collect();
        View {
            addr: self.local(space),
            dtype,
            shape: shape.to_vec(),
            strides,
        }
    }

    fn sem(&mut self) -> SemRef {
        let index = self.rng.below(8) as u16;
        if self.rng.chance(70) {
            SemRef::tile(index)
        } else {
            SemRef::cluster(index)
        }
    }

    fn sync(&mut self) -> Sync {
        let mut sync = Sync::none();
        for _ in 0..self.rng.below(MAX_WAITS as u64 + 1) {
            let sem = self.sem();
            let value = self.operand();
            sync.waits.push(SemWait { sem, value });
        }
        if self.rng.chance(40) {
            sync.signal = Some(self.sem());
        }
        sync
    }

    fn value_bits(&mut self, t: DType) -> u64 {
        self.rng.next() & t.value_mask()
    }

    /// A random straight-line micro-program with the given input and
    /// output types; its body combines values with type-correct ops.
    fn micro(&mut self, inputs: &[DType], outputs: &[DType]) -> MicroId {
        let mut program = MicroProgram {
            inputs: inputs.to_vec(),
            ..Default::default()
        };
        let mut available: Vec<(LaneSrc, DType)> = inputs
            .iter()
            .enumerate()
            .map(|(i, &t)| (LaneSrc::Input(i as u16), t))
            .collect();
        for _ in 0..self.rng.below(6) {
            let op = self.lane_op();
            let args = op
                .operand_types()
                .into_iter()
                .map(|t| self.source_of(&available, t.unwrap_or(DType::I32)))
                .collect();
            let result = op.result_type().unwrap_or(DType::I32);
            available.push((LaneSrc::Value(program.body.len() as u16), result));
            program.body.push(LaneInstr { op, args });
        }
        program.outputs = outputs
            .iter()
            .map(|&t| self.source_of(&available, t))
            .collect();
        self.module.intern_micro(program)
    }

    fn source_of(&mut self, available: &[(LaneSrc, DType)], t: DType) -> LaneSrc {
        let matching: Vec<LaneSrc> = available
            .iter()
            .filter(|(_, ty)| *ty == t)
            .map(|(s, _)| *s)
            .collect();
        if !matching.is_empty() && self.rng.chance(80) {
            self.rng.pick(&matching)
        } else {
            LaneSrc::Imm {
                ty: t,
                bits: self.value_bits(t),
            }
        }
    }

    fn lane_op(&mut self) -> LaneOp {
        let width = self.rng.pick(&[1u32, 8, 16, 32, 64]);
        let fty = self.rng.pick(&[
            FloatType::F32,
            FloatType::BF16,
            FloatType::F16,
            FloatType::F8E5M2,
        ]);
        match self.rng.below(10) {
            0 => LaneOp::Int {
                op: self.rng.pick(&INT_BINARY_OPS),
                width,
            },
            1 => LaneOp::Float {
                op: self.rng.pick(&FLOAT_BINARY_OPS),
                ty: fty,
            },
            2 => LaneOp::FloatUnary {
                op: self.rng.pick(&FLOAT_UNARY_OPS),
                ty: fty,
            },
            3 => LaneOp::IntCmp {
                pred: self.rng.pick(&INT_PREDICATES),
                width,
            },
            4 => LaneOp::FloatCmp {
                pred: self.rng.pick(&FLOAT_PREDICATES),
                ty: fty,
            },
            5 => LaneOp::Select {
                ty: self.rng.pick(&ELEMENT_TYPES),
            },
            6 => LaneOp::IntToFloat {
                width,
                signed: self.rng.chance(50),
                to: fty,
            },
            7 => LaneOp::FloatToInt {
                from: fty,
                width,
                signed: self.rng.chance(50),
                rounding: self.rng.pick(&INT_ROUNDINGS),
            },
            8 => LaneOp::Convert {
                from: DType::float(fty),
                to: self
                    .rng
                    .pick(&[DType::F32, DType::F6E2M3, DType::F4E2M1, DType::BF16]),
                rounding: self
                    .rng
                    .pick(&[Rounding::NearestEven, Rounding::TowardZero]),
            },
            _ => LaneOp::Fma { ty: fty },
        }
    }

    fn strided_copy(&mut self) -> StridedCopy {
        let spaces = [Space::Hbm, Space::Csram, Space::Tsram];
        let dtype = self.rng.pick(&ELEMENT_TYPES);
        let dims = (0..self.rng.range(1, 4))
            .map(|_| DmaDim {
                extent: self.rng.range(1, 64) as u32,
                src_stride: self.operand(),
                dst_stride: self.operand(),
                valid: if self.rng.chance(30) {
                    Some(self.operand())
                } else {
                    None
                },
                start: if self.rng.chance(20) {
                    Some(self.operand())
                } else {
                    None
                },
            })
            .collect();
        let (src_space, dst_space) = (self.rng.pick(&spaces), self.rng.pick(&spaces));
        StridedCopy {
            dtype,
            src: self.address(src_space),
            dst: self.address(dst_space),
            dims,
            fill: if self.rng.chance(50) {
                Some(self.value_bits(dtype))
            } else {
                None
            },
        }
    }

    fn opt_tile_addr(&mut self) -> Option<Address> {
        if self.rng.chance(50) {
            Some(self.local(Space::Tsram))
        } else {
            None
        }
    }

    fn dma(&mut self) -> DmaOp {
        match self.rng.below(5) {
            0 => DmaOp::Copy(self.strided_copy()),
            1 => {
                let mut copy = self.strided_copy();
                let space = self.rng.pick(&[Space::Csram, Space::Tsram]);
                copy.dst = self.local(space);
                let to = match self.rng.below(3) {
                    0 => UnitSet::All,
                    1 => UnitSet::OwnCluster,
                    _ => UnitSet::List(vec![0, 2, 3]),
                };
                DmaOp::Broadcast { copy, to }
            }
            2 => {
                let dtype = self.rng.pick(&ELEMENT_TYPES);
                DmaOp::Gather(maiac_backend::isa::dma::Gather {
                    dtype,
                    count: self.rng.range(1, 512) as u32,
                    addrs: self.local(Space::Tsram),
                    mask: self.opt_tile_addr(),
                    dst: self.local(Space::Tsram),
                    fill: self.value_bits(dtype),
                })
            }
            3 => DmaOp::Scatter(Scatter {
                dtype: self.rng.pick(&ELEMENT_TYPES),
                count: self.rng.range(1, 512) as u32,
                addrs: self.local(Space::Tsram),
                mask: self.opt_tile_addr(),
                src: self.local(Space::Tsram),
            }),
            _ => {
                let (kind, dtype) = loop {
                    let kind = self.rng.pick(&AtomicKind::ALL);
                    let dtype = self
                        .rng
                        .pick(&[DType::I32, DType::F32, DType::I64, DType::F16]);
                    if kind.supports(dtype) {
                        break (kind, dtype);
                    }
                };
                DmaOp::Atomic(Atomic {
                    kind,
                    dtype,
                    count: self.rng.range(1, 64) as u32,
                    addrs: self.local(Space::Tsram),
                    values: self.local(Space::Tsram),
                    compare: (kind == AtomicKind::Cas).then(|| self.local(Space::Tsram)),
                    mask: self.opt_tile_addr(),
                    old: self.opt_tile_addr(),
                })
            }
        }
    }

    fn mat_operand(
        &mut self,
        dtype: DType,
        row_len: u32,
        k: u32,
        transposed: bool,
        scaled: bool,
    ) -> MatOperand {
        let mut row_stride = row_len + self.rng.below(8) as u32;
        if dtype == DType::F4E2M1 {
            row_stride += row_stride % 2;
        }
        MatOperand {
            addr: self.local(Space::Tsram),
            dtype,
            row_stride,
            transposed,
            scale: scaled.then(|| ScaleOperand {
                addr: self.local(Space::Tsram),
                row_stride: k / MX_BLOCK + 1,
            }),
        }
    }

    fn ttu(&mut self) -> TtuOp {
        if self.rng.chance(50) {
            let (m, n) = (self.rng.range(1, 256) as u32, self.rng.range(1, 256) as u32);
            let k = 32 * self.rng.range(1, 8) as u32;
            let ints = self.rng.chance(20);
            let floats = [
                DType::BF16,
                DType::F16,
                DType::F32,
                DType::F8E4M3FN,
                DType::F8E5M2,
                DType::F6E2M3,
                DType::F4E2M1,
            ];
            let (a_t, b_t) = if ints {
                (DType::I8, DType::I8)
            } else {
                (self.rng.pick(&floats), self.rng.pick(&floats))
            };
            let (ta, tb) = (self.rng.chance(50), self.rng.chance(50));
            let scaled = !ints && self.rng.chance(40);
            let a = self.mat_operand(a_t, if ta { m } else { k }, k, ta, scaled);
            let b = self.mat_operand(b_t, if tb { k } else { n }, k, tb, scaled);
            let out_space = self.rng.pick(&[Space::Acc, Space::Tsram]);
            TtuOp::Matmul(Matmul {
                m,
                n,
                k,
                a,
                b,
                out: self.local(out_space),
                out_dtype: if ints { DType::I32 } else { DType::F32 },
                out_row_stride: n + self.rng.below(4) as u32,
                accumulate: self.rng.chance(50),
            })
        } else {
            let rank = self.rng.range(1, 2) as usize;
            let shape = self.shape(rank);
            let src = self.view_of(DType::F32, &shape);
            let dst_t = self
                .rng
                .pick(&[DType::F32, DType::BF16, DType::F16, DType::I32]);
            let dst = self.view_of(dst_t, &shape);
            let epilogue = if self.rng.chance(50) {
                let extra_t = self.rng.pick(&ELEMENT_TYPES);
                let program = self.micro(&[DType::F32, extra_t], &[dst_t]);
                let extra = vec![self.map_input(extra_t, &shape)];
                Some(Epilogue { program, extra })
            } else {
                None
            };
            TtuOp::Drain(Drain { src, dst, epilogue })
        }
    }

    fn map_input(&mut self, t: DType, shape: &[u32]) -> MapInput {
        if self.rng.chance(25) {
            MapInput::Scalar(self.operand())
        } else {
            MapInput::View(self.view_of(t, shape))
        }
    }

    fn combiner(&mut self, types: &[DType]) -> MicroId {
        let inputs: Vec<DType> = types.iter().chain(types).copied().collect();
        self.micro(&inputs, types)
    }

    fn tvp(&mut self) -> TvpOp {
        let rank = self.rng.range(1, 4) as usize;
        let shape = self.shape(rank);
        let axis = self.rng.below(rank as u64) as u8;
        let reduced: Vec<u32> = shape
            .iter()
            .enumerate()
            .filter(|(d, _)| *d != usize::from(axis))
            .map(|(_, &s)| s)
            .collect();
        match self.rng.below(10) {
            0 => {
                let ins: Vec<DType> = (0..self.rng.range(0, 3))
                    .map(|_| self.rng.pick(&ELEMENT_TYPES))
                    .collect();
                let outs: Vec<DType> = (0..self.rng.range(1, 2))
                    .map(|_| self.rng.pick(&ELEMENT_TYPES))
                    .collect();
                let program = self.micro(&ins, &outs);
                let inputs = ins.iter().map(|&t| self.map_input(t, &shape)).collect();
                let outputs = outs.iter().map(|&t| self.view_of(t, &shape)).collect();
                TvpOp::Map(Map {
                    program,
                    inputs,
                    outputs,
                })
            }
            1 | 2 => {
                let types: Vec<DType> = (0..self.rng.range(1, 2))
                    .map(|_| self.rng.pick(&ELEMENT_TYPES))
                    .collect();
                let combiner = self.combiner(&types);
                let inputs = types.iter().map(|&t| self.view_of(t, &shape)).collect();
                if self.rng.chance(50) {
                    let outputs = types.iter().map(|&t| self.view_of(t, &reduced)).collect();
                    TvpOp::Reduce(Reduce {
                        combiner,
                        axis,
                        inputs,
                        outputs,
                    })
                } else {
                    let outputs = types.iter().map(|&t| self.view_of(t, &shape)).collect();
                    TvpOp::Scan(Scan {
                        combiner,
                        axis,
                        reverse: self.rng.chance(50),
                        inputs,
                        outputs,
                    })
                }
            }
            3 => TvpOp::Iota(Iota {
                dst: {
                    let t = self.rng.pick(&[DType::I32, DType::I64, DType::I8]);
                    self.view_of(t, &shape)
                },
                start: self.operand(),
                axis,
            }),
            4 => {
                let t = self.rng.pick(&ELEMENT_TYPES);
                let n: u32 = shape.iter().product();
                TvpOp::Copy(maiac_backend::isa::tvp::Copy {
                    src: self.view_of(t, &shape),
                    dst: self.view_of(t, &[n]),
                })
            }
            5 => {
                let t = self.rng.pick(&ELEMENT_TYPES);
                TvpOp::Gather(maiac_backend::isa::tvp::Gather {
                    src: self.view_of(t, &shape),
                    index: self.view_of(DType::I32, &shape),
                    dst: self.view_of(t, &shape),
                    axis,
                })
            }
            6 => {
                let src = self.view_of(DType::I32, &shape);
                let mask = self.rng.chance(50).then(|| self.view_of(DType::I1, &shape));
                let bins = [self.rng.range(1, 16) as u32];
                TvpOp::Histogram(Histogram {
                    src,
                    mask,
                    dst: self.view_of(DType::I32, &bins),
                })
            }
            7 => {
                let t = self.rng.pick(&[DType::F32, DType::BF16, DType::I32]);
                let x = self.rng.pick(&ELEMENT_TYPES);
                let program = self.micro(&[x], &[t]);
                let combiner = self.combiner(&[t]);
                let inputs = vec![self.map_input(x, &shape)];
                TvpOp::ActivationReduce(ActivationReduce {
                    program,
                    inputs,
                    output: self.view_of(t, &shape),
                    combiner,
                    axis,
                    reduced: self.view_of(t, &reduced),
                })
            }
            _ => {
                let format = self.rng.pick(&MxFormat::ALL);
                let mut values = shape.clone();
                *values.last_mut().unwrap() = 32 * self.rng.range(1, 3) as u32;
                let mut scale_shape = values.clone();
                *scale_shape.last_mut().unwrap() /= 32;
                let src_t = self.rng.pick(&[DType::F32, DType::BF16, DType::F16]);
                let values_view = self.view_of(src_t, &values);
                let codes = self.view_of(format.element(), &values);
                let scales = self.view_of(DType::E8M0, &scale_shape);
                if self.rng.chance(50) {
                    TvpOp::MxQuantize(MxQuantize {
                        format,
                        src: values_view,
                        codes,
                        scales,
                    })
                } else {
                    TvpOp::MxDequantize(MxDequantize {
                        format,
                        codes,
                        scales,
                        dst: values_view,
                    })
                }
            }
        }
    }

    fn cp(&mut self, len: u32, cluster: bool) -> CpOp {
        let target = Label(self.rng.below(u64::from(len)) as u32);
        match self.rng.below(if cluster { 14 } else { 15 }) {
            0 => CpOp::Mov {
                dst: self.reg(),
                src: self.operand(),
            },
            1 => CpOp::Alu {
                op: self.rng.pick(&AluOp::ALL),
                dst: self.reg(),
                a: self.reg(),
                b: self.operand(),
            },
            2 => CpOp::Select {
                dst: self.reg(),
                cond: self.reg(),
                a: self.operand(),
                b: self.operand(),
            },
            3 => CpOp::ReadSpecial {
                dst: self.reg(),
                special: self.rng.pick(&Special::ALL),
            },
            4 if !self.module.args.is_empty() => CpOp::Arg {
                dst: self.reg(),
                index: self.rng.below(self.module.args.len() as u64) as u16,
            },
            5 => {
                let space = self.rng.pick(&[Space::Tsram, Space::Csram]);
                CpOp::Load {
                    dst: self.reg(),
                    addr: self.address(space),
                    width: self.rng.pick(&MemWidth::ALL),
                    signed: self.rng.chance(50),
                }
            }
            6 => {
                let space = self.rng.pick(&[Space::Tsram, Space::Csram]);
                CpOp::Store {
                    src: self.reg(),
                    addr: self.address(space),
                    width: self.rng.pick(&MemWidth::ALL),
                }
            }
            7 => CpOp::Jump { target },
            8 => CpOp::Branch {
                cond: self.reg(),
                if_zero: self.rng.chance(50),
                target,
            },
            9 => CpOp::Loop {
                counter: self.reg(),
                target,
            },
            10 => CpOp::Fence,
            11 => CpOp::Trap {
                code: self.rng.next() as u32,
            },
            12 => CpOp::Halt,
            14 => CpOp::Barrier {
                scope: self.rng.pick(&[BarrierScope::Cluster, BarrierScope::Chip]),
            },
            _ => CpOp::Nop,
        }
    }

    fn program(&mut self, cluster: bool) -> Program {
        let len = self.rng.range(1, 40) as u32;
        let mut program = Program::default();
        for pc in 0..len {
            let op: Op = match self.rng.below(if cluster { 2 } else { 4 }) {
                0 => self.cp(len, cluster).into(),
                1 if self.rng.chance(10) => Op::EngineNop(if cluster {
                    Engine::Dma
                } else {
                    self.rng.pick(&[Engine::Dma, Engine::Ttu, Engine::Tvp])
                }),
                1 => self.dma().into(),
                2 => self.ttu().into(),
                _ => self.tvp().into(),
            };
            let sync = self.sync();
            let loc = if self.module.debug_locs.is_empty() || self.rng.chance(30) {
                None
            } else {
                Some(DebugLocId(
                    self.rng.below(self.module.debug_locs.len() as u64) as u32,
                ))
            };
            if pc == 0 || self.rng.chance(30) {
                program.lines.push(LineEntry { pc, loc });
            }
            program.code.push(Instr { op, sync });
        }
        program
    }
}

fn random_module(seed: u64) -> Module {
    let mut rng = Rng(seed);
    let machine = MachineRef {
        name: format!("m{}", rng.below(100)),
        hash: rng.next(),
    };
    let mut g = Gen {
        module: Module::new(format!("kernel_{}", rng.below(1000)), machine),
        rng,
    };
    for i in 0..g.rng.below(5) {
        let dtype = g.rng.pick(&ELEMENT_TYPES);
        let kind = if g.rng.chance(60) {
            ArgKind::Pointer { pointee: dtype }
        } else {
            ArgKind::Scalar { dtype }
        };
        g.module.args.push(ArgDecl {
            name: format!("arg \"{i}\"\n"),
            kind,
        });
    }
    for i in 0..g.rng.below(4) {
        let python = g.rng.chance(50).then(|| PyLoc {
            file: format!("k{i}.py"),
            line: i as u32 + 3,
            col: 7,
        });
        g.module.debug_locs.push(DebugLoc {
            op_name: "tt.load".into(),
            ttir_line: 10 + i as u32,
            ttir_col: 5,
            python,
        });
    }
    for _ in 0..g.rng.below(3) {
        let bytes = (0..g.rng.below(20)).map(|_| g.rng.next() as u8).collect();
        let space = g.rng.pick(&[Space::Tsram, Space::Csram]);
        g.module.constants.push(Constant {
            space,
            units: UnitSet::List(vec![1, 5]),
            offset: g.rng.below(4096),
            bytes,
        });
    }
    g.module.dispatch = match g.rng.below(4) {
        0 => Dispatch::RoundRobin {
            tiles: g.rng.below(8) as u32,
        },
        1 => Dispatch::Blocked {
            tiles: g.rng.below(8) as u32,
        },
        2 => Dispatch::Persistent {
            tiles: g.rng.below(8) as u32,
        },
        _ => Dispatch::Explicit {
            grid: [2, 1, 1],
            tiles: vec![vec![1], vec![], vec![0]],
        },
    };
    g.module.tile_program = g.program(false);
    if g.rng.chance(40) {
        let p = g.program(true);
        g.module.cluster_program = Some(p);
    }
    g.module
}

fn with_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= CHECKSUM_OFFSET + 8 {
        bytes[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8].fill(0);
        let sum = fnv1a(&bytes);
        bytes[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8].copy_from_slice(&sum.to_le_bytes());
    }
    bytes
}

#[test]
fn generated_modules_are_valid() {
    for seed in 0..200 {
        let m = random_module(seed);
        m.verify().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn binary_round_trip(seed in any::<u64>()) {
        let m = random_module(seed);
        let bytes = encode(&m).unwrap();
        prop_assert_eq!(decode(&bytes).unwrap(), m);
    }

    #[test]
    fn text_round_trip_gives_identical_binaries(seed in any::<u64>()) {
        let m = random_module(seed);
        let text = disassemble(&m);
        let back = assemble(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(encode(&back).unwrap(), encode(&m).unwrap());
        prop_assert_eq!(back, m);
    }

    #[test]
    fn mutated_binaries_never_panic(
        seed in any::<u64>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = encode(&random_module(seed)).unwrap();
        let mut mutated = bytes.clone();
        for (at, value) in &edits {
            let i = at.index(mutated.len());
            mutated[i] = *value;
        }
        let _ = decode(&mutated);
        let _ = decode(&with_checksum(mutated.clone()));
        let truncated = &bytes[..cut.index(bytes.len())];
        prop_assert!(decode(truncated).is_err());
        let _ = decode(&with_checksum(truncated.to_vec()));
    }
}

#[test]
fn corruption_is_reported_with_an_offset() {
    let bytes = encode(&random_module(7)).unwrap();
    let err = decode(&bytes[..bytes.len() - 3]).unwrap_err().to_string();
    assert!(err.starts_with("offset 0x"), "{err}");
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    let err = decode(&flipped).unwrap_err().to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    let mut bad_magic = bytes;
    bad_magic[0] = b'X';
    assert!(decode(&bad_magic)
        .unwrap_err()
        .to_string()
        .contains("bad magic"));
}

#[test]
fn lane_and_scalar_micro_program_evaluation_agree() {
    for seed in 0..60 {
        let module = random_module(seed);
        let mut rng = Rng(seed ^ 0xABCD);
        for program in &module.micro_programs {
            const N: usize = 6;
            let columns: Vec<Vec<u64>> = program
                .inputs
                .iter()
                .map(|t| (0..N).map(|_| rng.next() & t.value_mask()).collect())
                .collect();
            let lanes: Vec<Lanes> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        Lanes::Slice(c)
                    } else {
                        Lanes::Splat(c[0])
                    }
                })
                .collect();
            let mut outputs = vec![Vec::new(); program.outputs.len()];
            program.eval_lanes(N, &lanes, &mut outputs);
            for lane in 0..N {
                let inputs: Vec<u64> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| if i % 2 == 0 { c[lane] } else { c[0] })
                    .collect();
                let (mut values, mut out) = (Vec::new(), vec![0u64; program.outputs.len()]);
                program.eval(&inputs, &mut values, &mut out);
                for (o, column) in out.iter().zip(&outputs) {
                    assert_eq!(*o, column[lane], "seed {seed}");
                }
            }
        }
    }
}
