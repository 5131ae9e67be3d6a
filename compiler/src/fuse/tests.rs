//! Tests of the fusion and tiling passes on hand-built tile kernels, the
//! bit-exactness of every rewrite rule, a property test of map-chain fusion,
//! machine-dependent tiling and the bounded runner.

use std::collections::BTreeMap;

use maiac_backend::isa::{DType, LaneInstr, LaneOp, LaneSrc, MicroProgram};
use maiac_backend::machine::{resolve, Machine};
use proptest::prelude::*;

use super::act_reduce::{choose_fusions, ActReduceFusion, PairCycles};
use super::elementwise::{EggFusion, EggLimits};
use super::lang::{simplify_rule_texts, Lane};
use super::tiling::{choose_tile, split_matmul, MatmulShape};
use super::{passes, EpilogueDrain, TileDce, TtuTiling};
use crate::pass::{Pass, PassContext};
use crate::tile::{self, BView, Buf, BufSpace, SOp, TDim, TInput, TMat, TOp, TOpKind, TileKernel};

fn machine() -> Machine {
    resolve("maia200-like").expect("the default machine")
}

fn lane(op: &str) -> LaneOp {
    LaneOp::parse(op).expect("a lane op mnemonic")
}

fn instr(op: &str, args: Vec<LaneSrc>) -> LaneInstr {
    LaneInstr { op: lane(op), args }
}

fn imm(ty: DType, bits: u64) -> LaneSrc {
    LaneSrc::Imm { ty, bits }
}

fn op(kind: TOpKind) -> TOp {
    TOp { kind, loc: None }
}

fn whole(kernel: &TileKernel, buf: Buf) -> BView {
    BView::whole(buf, &kernel.bufs[buf].shape)
}

/// A one-instruction map `out = op(ins…)`.
fn map1(kernel: &TileKernel, code: &str, ins: &[Buf], extra: Vec<LaneSrc>, out: Buf) -> TOp {
    let types: Vec<DType> = ins.iter().map(|&b| kernel.bufs[b].dtype).collect();
    let mut args: Vec<LaneSrc> = (0..ins.len() as u16).map(LaneSrc::Input).collect();
    args.extend(extra);
    op(TOpKind::Map {
        micro: MicroProgram {
            inputs: types,
            body: vec![instr(code, args)],
            outputs: vec![LaneSrc::Value(0)],
        },
        inputs: ins
            .iter()
            .map(|&b| TInput::View(whole(kernel, b)))
            .collect(),
        outputs: vec![whole(kernel, out)],
    })
}

fn store(kernel: &TileKernel, buf: Buf, hbm: SOp) -> TOp {
    let data = &kernel.bufs[buf];
    op(TOpKind::DmaStore {
        dtype: data.dtype,
        src: whole(kernel, buf),
        hbm,
        dims: vec![TDim {
            extent: data.shape[0],
            hbm_stride: SOp::Imm(1),
            valid: None,
            start: None,
        }],
    })
}

fn load(kernel: &TileKernel, buf: Buf, hbm: SOp) -> TOp {
    let data = &kernel.bufs[buf];
    op(TOpKind::DmaLoad {
        dtype: data.dtype,
        hbm,
        dims: vec![TDim {
            extent: data.shape[0],
            hbm_stride: SOp::Imm(1),
            valid: None,
            start: None,
        }],
        dst: whole(kernel, buf),
        fill: None,
    })
}

fn run_pass(pass: &mut impl Pass<TileKernel>, kernel: &mut TileKernel) {
    pass.run(kernel, &mut PassContext::default())
        .expect("the pass succeeds");
}

fn count_ops(body: &[TOp], pred: &dyn Fn(&TOpKind) -> bool) -> usize {
    let mut n = 0;
    super::walk::for_each_op(body, &mut |op| n += usize::from(pred(&op.kind)));
    n
}

// ---------------------------------------------------------------------------
// Evaluation of map-only kernels, lane by lane (`MicroProgram::eval`).

type Memory = BTreeMap<Buf, Vec<u64>>;

fn element(view: &BView, idx: &[u32]) -> usize {
    let e = view.offset
        + idx
            .iter()
            .zip(&view.strides)
            .map(|(&i, &s)| i64::from(i) * s)
            .sum::<i64>();
    e as usize
}

fn indices(shape: &[u32]) -> Vec<Vec<u32>> {
    let mut all = vec![vec![]];
    for &d in shape {
        all = all
            .into_iter()
            .flat_map(|p| (0..d).map(move |i| [p.clone(), vec![i]].concat()))
            .collect();
    }
    all
}

/// Runs `micro` over the lanes of `outputs` and writes them (all inputs
/// are read before any output is written).
fn eval_map(memory: &mut Memory, micro: &MicroProgram, inputs: &[TInput], outputs: &[BView]) {
    let lanes = indices(&outputs[0].shape);
    let mut results = vec![vec![0u64; outputs.len()]; lanes.len()];
    let mut values = Vec::new();
    for (lane_idx, idx) in lanes.iter().enumerate() {
        let args: Vec<u64> = inputs
            .iter()
            .zip(&micro.inputs)
            .map(|(input, ty)| match input {
                TInput::View(v) => memory[&v.buf][element(v, idx)],
                TInput::Scalar(SOp::Imm(x)) => (*x as u64) & ty.value_mask(),
                TInput::Scalar(SOp::Reg(_)) => 0,
            })
            .collect();
        micro.eval(&args, &mut values, &mut results[lane_idx]);
    }
    for (idx, res) in lanes.iter().zip(results) {
        for (out, bits) in outputs.iter().zip(res) {
            let e = element(out, idx);
            memory.get_mut(&out.buf).expect("allocated")[e] = bits;
        }
    }
}

/// The ISA fold of one operand: `acc = x[.., 0, ..]; acc = c(acc, x[.., j, ..])`,
/// written to `output` (the input shape without `axis`).
fn eval_fold(
    memory: &mut Memory,
    combiner: &MicroProgram,
    axis: u8,
    input: &BView,
    output: &BView,
) {
    let axis = usize::from(axis);
    let mut values = Vec::new();
    let mut results = Vec::new();
    for idx in indices(&output.shape) {
        let at = |j: u32| {
            let mut full = idx.clone();
            full.insert(axis, j);
            memory[&input.buf][element(input, &full)]
        };
        let mut acc = at(0);
        for j in 1..input.shape[axis] {
            let mut out = [0u64];
            combiner.eval(&[acc, at(j)], &mut values, &mut out);
            acc = out[0];
        }
        results.push((element(output, &idx), acc));
    }
    let dst = memory.get_mut(&output.buf).expect("allocated");
    for (e, bits) in results {
        dst[e] = bits;
    }
}

/// Runs the maps, reductions, actreduces, drains and matmuls (f32
/// operands) of a straight-line body.
fn eval_body(kernel: &TileKernel, memory: &mut Memory) {
    for top in &kernel.body {
        match &top.kind {
            TOpKind::Map {
                micro,
                inputs,
                outputs,
            } => eval_map(memory, micro, inputs, outputs),
            TOpKind::Reduce {
                combiner,
                axis,
                inputs,
                outputs,
            } => {
                assert_eq!(inputs.len(), 1, "the evaluator folds one operand");
                eval_fold(memory, combiner, *axis, &inputs[0], &outputs[0]);
            }
            TOpKind::ActReduce {
                micro,
                inputs,
                output,
                combiner,
                axis,
                reduced,
            } => {
                eval_map(memory, micro, inputs, std::slice::from_ref(output));
                // The fold reads the stored output.
                eval_fold(memory, combiner, *axis, output, reduced);
            }
            TOpKind::Drain { src, dst, epilogue } => {
                let (from, to) = (kernel.bufs[src.buf].dtype, kernel.bufs[dst.buf].dtype);
                let (micro, extra) = match epilogue {
                    Some((micro, extra)) => (micro.clone(), extra.clone()),
                    None => (
                        MicroProgram {
                            inputs: vec![from],
                            body: vec![LaneInstr {
                                op: LaneOp::cast(from, to).expect("a cast"),
                                args: vec![LaneSrc::Input(0)],
                            }],
                            outputs: vec![LaneSrc::Value(0)],
                        },
                        Vec::new(),
                    ),
                };
                let mut inputs = vec![TInput::View(src.clone())];
                inputs.extend(extra);
                eval_map(memory, &micro, &inputs, std::slice::from_ref(dst));
            }
            TOpKind::Matmul {
                m,
                n,
                k,
                a,
                b,
                out,
                accumulate,
            } => {
                let get = |mat: &TMat, r: u32, c: u32| {
                    let (r, c) = if mat.transposed { (c, r) } else { (r, c) };
                    f32::from_bits(memory[&mat.view.buf][element(&mat.view, &[r, c])] as u32)
                };
                let mut updates = Vec::new();
                for i in 0..*m {
                    for j in 0..*n {
                        let e = element(out, &[i, j]);
                        let mut acc = if *accumulate {
                            f32::from_bits(memory[&out.buf][e] as u32)
                        } else {
                            0.0
                        };
                        for kk in 0..*k {
                            acc += get(a, i, kk) * get(b, kk, j);
                        }
                        updates.push((e, u64::from(acc.to_bits())));
                    }
                }
                let dst = memory.get_mut(&out.buf).expect("allocated");
                for (e, bits) in updates {
                    dst[e] = bits;
                }
            }
            _ => {}
        }
    }
}

fn fresh_memory(kernel: &TileKernel, seed: u64) -> Memory {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    kernel
        .bufs
        .iter()
        .map(|(buf, data)| {
            let values = (0..data.num_elements())
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let bits = match data.dtype {
                        // Small finite floats keep arithmetic interesting.
                        DType::F32 => u64::from(((state % 2000) as f32 / 64.0 - 15.0).to_bits()),
                        _ => state,
                    };
                    bits & data.dtype.value_mask()
                })
                .collect();
            (buf, values)
        })
        .collect()
}

/// Bits of every buffer a DMA store reads, after running `kernel`.
fn observed(kernel: &TileKernel, seed: u64) -> Vec<(Buf, Vec<u64>)> {
    let mut memory = fresh_memory(kernel, seed);
    eval_body(kernel, &mut memory);
    let mut stored: Vec<Buf> = Vec::new();
    super::walk::for_each_op(&kernel.body, &mut |op| {
        if let TOpKind::DmaStore { src, .. } = &op.kind {
            stored.push(src.buf);
        }
    });
    stored
        .into_iter()
        .map(|b| (b, memory[&b].clone()))
        .collect()
}

// ---------------------------------------------------------------------------
// Tile DCE.

/// The lowering's typical waste: an address tensor (iota + addptr map)
/// next to a strided DMA that does not need it.
fn kernel_with_dead_address_tensor() -> TileKernel {
    let mut k = TileKernel {
        name: "dce".into(),
        ..Default::default()
    };
    let ptr = k.new_sreg(64, "x_ptr");
    let out_ptr = k.new_sreg(64, "out_ptr");
    let offsets = k.new_buf(DType::I32, &[64], BufSpace::Tsram, "offsets");
    let addrs = k.new_buf(DType::I64, &[64], BufSpace::Tsram, "addrs");
    let x = k.new_buf(DType::F32, &[64], BufSpace::Tsram, "x");
    let y = k.new_buf(DType::F32, &[64], BufSpace::Tsram, "y");
    let dead_reg = k.new_sreg(64, "unused");
    k.body = vec![
        op(TOpKind::Arg { dst: ptr, index: 0 }),
        op(TOpKind::Arg {
            dst: out_ptr,
            index: 1,
        }),
        op(TOpKind::Alu {
            op: maiac_backend::isa::AluOp::Add,
            dst: dead_reg,
            a: SOp::Reg(ptr),
            b: SOp::Imm(4),
        }),
        op(TOpKind::Iota {
            dst: whole(&k, offsets),
            start: SOp::Imm(0),
            axis: 0,
        }),
        op(TOpKind::Map {
            micro: MicroProgram {
                inputs: vec![DType::I64, DType::I32],
                body: vec![instr(
                    "addptr.i32.x4",
                    vec![LaneSrc::Input(0), LaneSrc::Input(1)],
                )],
                outputs: vec![LaneSrc::Value(0)],
            },
            inputs: vec![
                TInput::Scalar(SOp::Reg(ptr)),
                TInput::View(whole(&k, offsets)),
            ],
            outputs: vec![whole(&k, addrs)],
        }),
        load(&k, x, SOp::Reg(ptr)),
        map1(&k, "exp.f32", &[x], vec![], y),
        store(&k, y, SOp::Reg(out_ptr)),
    ];
    k
}

#[test]
fn dce_removes_unused_address_tensors() {
    let mut k = kernel_with_dead_address_tensor();
    let before = tile::render(&k);
    run_pass(&mut TileDce, &mut k);
    let after = tile::render(&k);
    insta::assert_snapshot!("dce_before", before);
    insta::assert_snapshot!("dce_after", after);
    assert_eq!(
        count_ops(&k.body, &|o| matches!(o, TOpKind::Iota { .. })),
        0
    );
    assert_eq!(k.body.len(), 5, "{after}");
}

#[test]
fn dce_keeps_loop_carried_buffers_and_registers() {
    let mut k = TileKernel {
        name: "carried".into(),
        ..Default::default()
    };
    let out_ptr = k.new_sreg(64, "out_ptr");
    let iv = k.new_sreg(32, "i");
    let sum = k.new_sreg(64, "sum");
    let next = k.new_sreg(64, "next");
    let acc = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "acc");
    let tmp = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "tmp");
    let dead = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "dead");
    let result = k.new_buf(DType::I64, &[1], BufSpace::Tsram, "result");
    k.body = vec![
        op(TOpKind::Arg {
            dst: out_ptr,
            index: 0,
        }),
        op(TOpKind::Mov {
            dst: sum,
            src: SOp::Imm(0),
        }),
        op(TOpKind::For {
            iv,
            lb: SOp::Imm(0),
            ub: SOp::Imm(4),
            step: SOp::Imm(1),
            body: vec![
                // Reads last iteration's `acc` and `sum`, overwritten below.
                map1(&k, "addf.f32", &[acc, acc], vec![], tmp),
                map1(&k, "mulf.f32", &[acc, acc], vec![], dead),
                op(TOpKind::Alu {
                    op: maiac_backend::isa::AluOp::Add,
                    dst: next,
                    a: SOp::Reg(sum),
                    b: SOp::Reg(iv),
                }),
                op(TOpKind::Mov {
                    dst: sum,
                    src: SOp::Reg(next),
                }),
                op(TOpKind::Copy {
                    src: whole(&k, tmp),
                    dst: whole(&k, acc),
                }),
            ],
        }),
        op(TOpKind::StoreScalar {
            src: SOp::Reg(sum),
            dst: whole(&k, result),
            bytes: 8,
        }),
        store(&k, result, SOp::Reg(out_ptr)),
        store(&k, acc, SOp::Reg(out_ptr)),
    ];
    run_pass(&mut TileDce, &mut k);
    let text = tile::render(&k);
    insta::assert_snapshot!("dce_loop_carried", text);
    let TOpKind::For { body, .. } = &k.body[2].kind else {
        panic!("the loop stays: {text}")
    };
    // Only the `dead` map goes: the register chain and the acc copy are carried.
    assert_eq!(body.len(), 4, "{text}");
    assert_eq!(k.body.len(), 6, "{text}");
}

// ---------------------------------------------------------------------------
// Scalar loop-invariant code motion.

fn alu(op: maiac_backend::isa::AluOp, dst: tile::SReg, a: SOp, b: SOp) -> TOp {
    self::op(TOpKind::Alu { op, dst, a, b })
}

#[test]
fn scalar_licm_moves_only_what_no_iteration_can_tell_apart() {
    use maiac_backend::isa::AluOp::{Add, Mul};
    let mut k = TileKernel {
        name: "licm".into(),
        ..Default::default()
    };
    let base = k.new_sreg(64, "base");
    let stride = k.new_sreg(64, "stride");
    let iv = k.new_sreg(32, "i");
    let scaled = k.new_sreg(64, "scaled"); // base·stride: invariant
    let bytes = k.new_sreg(64, "bytes"); // scaled·2: invariant, depends on a hoisted op
    let addr = k.new_sreg(64, "addr"); // uses the induction variable
    let carried = k.new_sreg(64, "carried"); // read before its definition
    let twice = k.new_sreg(64, "twice"); // defined in two places
    let after = k.new_sreg(64, "after"); // read after the loop
    let buf = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "x");
    k.body = vec![
        op(TOpKind::Arg {
            dst: base,
            index: 0,
        }),
        op(TOpKind::Arg {
            dst: stride,
            index: 1,
        }),
        op(TOpKind::Mov {
            dst: twice,
            src: SOp::Imm(0),
        }),
        op(TOpKind::For {
            iv,
            lb: SOp::Imm(0),
            ub: SOp::Imm(4),
            step: SOp::Imm(1),
            body: vec![
                store(&k, buf, SOp::Reg(carried)),
                alu(Mul, scaled, SOp::Reg(base), SOp::Reg(stride)),
                alu(Mul, bytes, SOp::Reg(scaled), SOp::Imm(2)),
                alu(Add, addr, SOp::Reg(bytes), SOp::Reg(iv)),
                alu(Add, carried, SOp::Reg(base), SOp::Imm(8)),
                alu(Add, twice, SOp::Reg(base), SOp::Imm(1)),
                alu(Add, after, SOp::Reg(base), SOp::Imm(2)),
                store(&k, buf, SOp::Reg(addr)),
                store(&k, buf, SOp::Reg(twice)),
            ],
        }),
        store(&k, buf, SOp::Reg(after)),
    ];
    run_pass(&mut super::ScalarLicm, &mut k);
    let text = tile::render(&k);
    // `scaled` and `bytes` move in front of the loop, in order.
    assert_eq!(k.body.len(), 7, "{text}");
    assert!(
        matches!(k.body[3].kind, TOpKind::Alu { dst, .. } if dst == scaled),
        "{text}"
    );
    assert!(
        matches!(k.body[4].kind, TOpKind::Alu { dst, .. } if dst == bytes),
        "{text}"
    );
    let TOpKind::For { body, .. } = &k.body[5].kind else {
        panic!("the loop stays: {text}")
    };
    let kept: Vec<_> = body.iter().filter_map(|o| o.kind.scalar_def()).collect();
    assert_eq!(kept, vec![addr, carried, twice, after], "{text}");
}

#[test]
fn loop_unswitch_splits_on_invariant_guards_only() {
    use maiac_backend::isa::AluOp::{Add, LtS};
    let mut k = TileKernel {
        name: "unswitch".into(),
        ..Default::default()
    };
    let guard = k.new_sreg(1, "guard"); // defined before the loop: invariant
    let other = k.new_sreg(1, "other"); // a second invariant guard
    let iv = k.new_sreg(32, "i");
    let addr = k.new_sreg(64, "addr"); // only the loop references it
    let early = k.new_sreg(1, "early"); // depends on the induction variable
    let buf = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "x");
    let guarded = |k: &TileKernel, cond: tile::SReg, then_hbm: i64, else_hbm: i64| {
        op(TOpKind::If {
            cond: SOp::Reg(cond),
            then_body: vec![store(k, buf, SOp::Imm(then_hbm))],
            // A fallback: it traps.
            else_body: vec![
                store(k, buf, SOp::Imm(else_hbm)),
                op(TOpKind::Trap { code: 7 }),
            ],
        })
    };
    let body = vec![
        alu(Add, addr, SOp::Reg(iv), SOp::Imm(64)),
        guarded(&k, guard, 1, 2),
        op(TOpKind::If {
            cond: SOp::Reg(early),
            then_body: vec![guarded(&k, other, 3, 4)],
            else_body: vec![store(&k, buf, SOp::Reg(addr))],
        }),
        alu(LtS, early, SOp::Reg(iv), SOp::Imm(2)),
    ];
    k.body = vec![
        op(TOpKind::Arg {
            dst: guard,
            index: 0,
        }),
        op(TOpKind::Arg {
            dst: other,
            index: 1,
        }),
        op(TOpKind::For {
            iv,
            lb: SOp::Imm(0),
            ub: SOp::Imm(4),
            step: SOp::Imm(1),
            body: body.clone(),
        }),
    ];
    run_pass(&mut super::LoopUnswitch, &mut k);
    let text = tile::render(&k);
    // guard_ne, other_ne, both, if
    assert_eq!(k.body.len(), 2 + 4, "{text}");
    let TOpKind::If {
        cond: SOp::Reg(all),
        then_body,
        else_body,
    } = &k.body[5].kind
    else {
        panic!("the loop is unswitched: {text}")
    };
    assert!(
        matches!(k.body[4].kind, TOpKind::Alu { dst, .. } if dst == *all),
        "{text}"
    );
    // The original loop is the else arm, untouched.
    let TOpKind::For { body: slow, .. } = &else_body[0].kind else {
        panic!("{text}")
    };
    assert_eq!(*slow, body, "{text}");
    // The fast copy took both invariant branches' then arms, keeps the
    // branch on `early`, and has its own induction variable and `addr`.
    let TOpKind::For {
        iv: fast_iv,
        body: fast,
        ..
    } = &then_body[0].kind
    else {
        panic!("{text}")
    };
    assert_ne!(*fast_iv, iv, "{text}");
    assert!(
        matches!(
            &fast[1].kind,
            TOpKind::DmaStore {
                hbm: SOp::Imm(1),
                ..
            }
        ),
        "{text}"
    );
    let TOpKind::If {
        cond: SOp::Reg(c),
        then_body: inner,
        else_body: fallback,
    } = &fast[2].kind
    else {
        panic!("{text}")
    };
    assert_ne!(*c, early, "loop-local registers are renamed: {text}");
    assert!(
        matches!(
            &inner[..],
            [TOp {
                kind: TOpKind::DmaStore {
                    hbm: SOp::Imm(3),
                    ..
                },
                ..
            }]
        ),
        "{text}"
    );
    assert!(
        matches!(&fallback[..], [TOp { kind: TOpKind::DmaStore { hbm: SOp::Reg(r), .. }, .. }] if *r != addr),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// Elementwise fusion.

/// `out = exp(x·y + z)` as three maps, plus an unrelated load between them.
fn chain_kernel() -> TileKernel {
    let mut k = TileKernel {
        name: "chain".into(),
        ..Default::default()
    };
    let [px, pw, po] = [0, 1, 2].map(|i| {
        let r = k.new_sreg(64, format!("p{i}"));
        (r, i)
    });
    let bufs: Vec<Buf> = ["x", "y", "z", "t", "u", "out", "w"]
        .iter()
        .map(|n| k.new_buf(DType::F32, &[32], BufSpace::Tsram, *n))
        .collect();
    let [x, y, z, t, u, out, w] = bufs[..] else {
        unreachable!()
    };
    k.body = vec![
        op(TOpKind::Arg {
            dst: px.0,
            index: px.1,
        }),
        op(TOpKind::Arg {
            dst: pw.0,
            index: pw.1,
        }),
        op(TOpKind::Arg {
            dst: po.0,
            index: po.1,
        }),
        load(&k, x, SOp::Reg(px.0)),
        map1(&k, "mulf.f32", &[x, y], vec![], t),
        load(&k, w, SOp::Reg(pw.0)),
        map1(&k, "addf.f32", &[t, z], vec![], u),
        map1(&k, "exp.f32", &[u], vec![], out),
        store(&k, out, SOp::Reg(po.0)),
        store(&k, w, SOp::Reg(po.0)),
    ];
    k
}

#[test]
fn fuses_a_chain_into_one_map() {
    let mut k = chain_kernel();
    let reference = observed(&k, 7);
    let before = tile::render(&k);
    let mut pass = EggFusion::new(machine());
    run_pass(&mut pass, &mut k);
    let after = tile::render(&k);
    insta::assert_snapshot!("fusion_before", before);
    insta::assert_snapshot!("fusion_after", after);
    assert_eq!(pass.fused_groups, 1);
    assert_eq!(
        count_ops(&k.body, &|o| matches!(o, TOpKind::Map { .. })),
        1,
        "{after}"
    );
    let TOpKind::Map {
        micro,
        inputs,
        outputs,
    } = &k.body[5].kind
    else {
        panic!("{after}")
    };
    assert_eq!((micro.body.len(), inputs.len(), outputs.len()), (3, 3, 1));
    assert_eq!(observed(&k, 7), reference);
}

#[test]
fn intermediates_read_elsewhere_stay_outputs() {
    let mut k = chain_kernel();
    // Store the intermediate `u` too: it must still be written.
    let u = Buf::from_u32(4);
    let po = crate::tile::SReg::from_u32(2);
    k.body.push(store(&k, u, SOp::Reg(po)));
    let reference = observed(&k, 3);
    run_pass(&mut EggFusion::new(machine()), &mut k);
    let text = tile::render(&k);
    let maps: Vec<&TOpKind> = k
        .body
        .iter()
        .map(|o| &o.kind)
        .filter(|o| matches!(o, TOpKind::Map { .. }))
        .collect();
    assert_eq!(maps.len(), 1, "{text}");
    let TOpKind::Map { outputs, .. } = maps[0] else {
        unreachable!()
    };
    assert_eq!(
        outputs.iter().map(|o| o.buf).collect::<Vec<_>>(),
        vec![u, Buf::from_u32(5)],
        "{text}"
    );
    assert_eq!(observed(&k, 3), reference);
}

#[test]
fn does_not_move_a_map_past_a_conflicting_op() {
    let mut k = chain_kernel();
    // Overwrite the producer's input `y` between producer and consumer: the
    // producer cannot move down to the consumer.
    let y = Buf::from_u32(1);
    let z = Buf::from_u32(2);
    k.body.insert(
        5,
        op(TOpKind::Copy {
            src: whole(&k, z),
            dst: whole(&k, y),
        }),
    );
    let reference = observed(&k, 5);
    run_pass(&mut EggFusion::new(machine()), &mut k);
    let text = tile::render(&k);
    // The mul stays; add and exp fuse.
    assert_eq!(
        count_ops(&k.body, &|o| matches!(o, TOpKind::Map { .. })),
        2,
        "{text}"
    );
    assert_eq!(observed(&k, 5), reference);
}

#[test]
fn loop_carried_intermediates_are_kept() {
    let mut k = TileKernel {
        name: "loop".into(),
        ..Default::default()
    };
    let po = k.new_sreg(64, "out");
    let iv = k.new_sreg(32, "i");
    let acc = k.new_buf(DType::F32, &[8], BufSpace::Tsram, "acc");
    let t = k.new_buf(DType::F32, &[8], BufSpace::Tsram, "t");
    k.body = vec![
        op(TOpKind::Arg { dst: po, index: 0 }),
        op(TOpKind::For {
            iv,
            lb: SOp::Imm(0),
            ub: SOp::Imm(3),
            step: SOp::Imm(1),
            body: vec![
                map1(&k, "addf.f32", &[acc, acc], vec![], t),
                map1(&k, "mulf.f32", &[t, t], vec![], acc),
            ],
        }),
        store(&k, acc, SOp::Reg(po)),
    ];
    run_pass(&mut EggFusion::new(machine()), &mut k);
    let text = tile::render(&k);
    let TOpKind::For { body, .. } = &k.body[1].kind else {
        panic!("{text}")
    };
    assert_eq!(body.len(), 1, "{text}");
    // `acc` is written by the fused map (carried to the next iteration and
    // stored after the loop); `t` is gone.
    let TOpKind::Map { outputs, micro, .. } = &body[0].kind else {
        panic!("{text}")
    };
    assert_eq!(outputs.len(), 1, "{text}");
    assert_eq!(outputs[0].buf, acc);
    assert_eq!(micro.body.len(), 2);
}

#[test]
fn simplifications_apply_inside_a_fused_group() {
    let mut k = TileKernel {
        name: "simplify".into(),
        ..Default::default()
    };
    let po = k.new_sreg(64, "out");
    let a = k.new_buf(DType::I32, &[16], BufSpace::Tsram, "a");
    let b = k.new_buf(DType::I32, &[16], BufSpace::Tsram, "b");
    let c = k.new_buf(DType::I32, &[16], BufSpace::Tsram, "c");
    let d = k.new_buf(DType::I32, &[16], BufSpace::Tsram, "d");
    let ones = imm(DType::I32, 0xffff_ffff);
    k.body = vec![
        op(TOpKind::Arg { dst: po, index: 0 }),
        map1(&k, "xor.i32", &[a], vec![ones], b),
        map1(&k, "xor.i32", &[b], vec![ones], c),
        map1(&k, "mul.i32", &[c], vec![imm(DType::I32, 1)], d),
        store(&k, d, SOp::Reg(po)),
    ];
    let reference = observed(&k, 11);
    run_pass(&mut EggFusion::new(machine()), &mut k);
    let text = tile::render(&k);
    insta::assert_snapshot!("fusion_simplified", text);
    let TOpKind::Map { micro, .. } = &k.body[1].kind else {
        panic!("{text}")
    };
    // not(not(a)) · 1 = a: nothing left to compute.
    assert!(micro.body.is_empty(), "{text}");
    assert_eq!(observed(&k, 11), reference);
}

#[test]
fn fusion_is_deterministic() {
    let mut a = chain_kernel();
    let mut b = chain_kernel();
    for k in [&mut a, &mut b] {
        let mut cx = PassContext::default();
        passes(&machine()).run(k, &mut cx).unwrap();
    }
    assert_eq!(tile::render(&a), tile::render(&b));
}

/// A chain of `len` one-instruction integer maps.
fn long_chain(len: usize) -> TileKernel {
    let mut k = TileKernel {
        name: "long".into(),
        ..Default::default()
    };
    let po = k.new_sreg(64, "out");
    let mut prev = k.new_buf(DType::I32, &[4], BufSpace::Tsram, "x0");
    k.body.push(op(TOpKind::Arg { dst: po, index: 0 }));
    for i in 0..len {
        let next = k.new_buf(DType::I32, &[4], BufSpace::Tsram, format!("x{}", i + 1));
        let code = ["add.i32", "mul.i32", "xor.i32"][i % 3];
        k.body.push(map1(
            &k,
            code,
            &[prev],
            vec![imm(DType::I32, (i as u64 % 5) + 1)],
            next,
        ));
        prev = next;
    }
    k.body.push(store(&k, prev, SOp::Reg(po)));
    k
}

#[test]
fn huge_chains_respect_limits_and_stay_exact() {
    let original = long_chain(1500);
    let reference = observed(&original, 1);
    // Tiny limits: the runner stops early; whatever it fused is still exact.
    for limits in [
        EggLimits {
            node_limit: 50,
            iter_limit: 1,
            time_limit: std::time::Duration::from_secs(1),
        },
        EggLimits::default(),
    ] {
        let mut k = original.clone();
        let mut pass = EggFusion::new(machine()).with_limits(limits);
        run_pass(&mut pass, &mut k);
        let mut again = original.clone();
        run_pass(
            &mut EggFusion::new(machine()).with_limits(limits),
            &mut again,
        );
        assert_eq!(
            tile::render(&k),
            tile::render(&again),
            "deterministic under {limits:?}"
        );
        super::walk::for_each_op(&k.body, &mut |o| {
            if let TOpKind::Map { micro, .. } = &o.kind {
                micro
                    .check()
                    .expect("every fused program fits the micro-program limits");
            }
        });
        assert_eq!(observed(&k, 1), reference, "{limits:?}");
    }
    // With the default limits the 1500 maps become two programs (1024 max).
    let mut k = original.clone();
    run_pass(&mut EggFusion::new(machine()), &mut k);
    assert_eq!(count_ops(&k.body, &|o| matches!(o, TOpKind::Map { .. })), 2);
}

// ---------------------------------------------------------------------------
// Rewrite rules are bit-exact.

/// Evaluates a rule pattern on concrete bits for its variables.
fn eval_pattern(
    pattern: &egg::Pattern<Lane>,
    env: &BTreeMap<egg::Var, u64>,
) -> (u64, Option<DType>) {
    let mut values: Vec<(u64, Option<DType>)> = Vec::new();
    for node in pattern.ast.as_ref() {
        let value = match node {
            egg::ENodeOrVar::Var(v) => (env[v], None),
            egg::ENodeOrVar::ENode(Lane::Imm(i)) => (i.bits, Some(i.ty)),
            egg::ENodeOrVar::ENode(Lane::Op(op, args)) => {
                let args: Vec<u64> = args.iter().map(|a| values[usize::from(*a)].0).collect();
                (op.0.eval(&args), op.0.result_type())
            }
            egg::ENodeOrVar::ENode(other) => panic!("unexpected node in a rule: {other}"),
        };
        values.push(value);
    }
    *values.last().expect("patterns are not empty")
}

#[test]
fn every_simplification_rule_is_bit_exact() {
    let mut samples: Vec<u64> = (0..=0xffffu64).collect();
    let specials = [
        0x8000_0000u64,
        0x7fff_ffff,
        0xffff_ffff,
        0x7f80_0000,
        0xff80_0000,
        0x7fc0_0001,
        0xffc0_1234,
        0x3f80_0000,
        0x8000_0000_0000_0000,
        0x7ff8_0000_0000_0001,
        0xffff_ffff_ffff_ffff,
        0x1234_5678_9abc_def0,
    ];
    samples.extend(specials);
    for (name, lhs, rhs) in simplify_rule_texts() {
        let lhs: egg::Pattern<Lane> = lhs.parse().unwrap();
        let rhs: egg::Pattern<Lane> = rhs.parse().unwrap();
        let vars = lhs.vars();
        let cases: Vec<BTreeMap<egg::Var, u64>> = match vars.len() {
            1 => samples
                .iter()
                .map(|&s| BTreeMap::from([(vars[0], s)]))
                .collect(),
            _ => {
                let few: Vec<u64> = (0..64u64)
                    .chain(specials)
                    .chain([0xff, 0x80, 0x7f, 0xffff, 0x8000])
                    .collect();
                let mut cases = Vec::new();
                for &a in &few {
                    for &b in &few {
                        for &c in &[0u64, 1] {
                            let vals = [c, a, b];
                            let env = vars
                                .iter()
                                .enumerate()
                                .map(|(i, &v)| (v, vals[(i + 3 - vars.len()) % 3]))
                                .collect();
                            cases.push(env);
                        }
                    }
                }
                cases
            }
        };
        for env in cases {
            let (l, ty) = eval_pattern(&lhs, &env);
            let (r, _) = eval_pattern(&rhs, &env);
            let mask = ty.expect("rules are rooted at an op").value_mask();
            assert_eq!(l & mask, r & mask, "rule {name} on {env:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Property: random map chains fuse to the same bits.

#[derive(Clone, Debug)]
enum Step {
    Int(&'static str, usize, usize),
    Float(&'static str, usize, usize),
    IntImm(&'static str, usize, u64),
    NotNot(usize),
    SelectSame(usize, usize),
    ExtTrunc(usize),
    IntToFloat(usize),
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let idx = 0usize..64;
    prop_oneof![
        (
            prop::sample::select(vec!["add.i32", "mul.i32", "xor.i32", "sub.i32", "maxs.i32"]),
            idx.clone(),
            idx.clone()
        )
            .prop_map(|(o, a, b)| Step::Int(o, a, b)),
        (
            prop::sample::select(vec!["addf.f32", "mulf.f32", "subf.f32", "maxnumf.f32"]),
            idx.clone(),
            idx.clone()
        )
            .prop_map(|(o, a, b)| Step::Float(o, a, b)),
        (
            prop::sample::select(vec!["add.i32", "mul.i32", "shl.i32"]),
            idx.clone(),
            prop::sample::select(vec![0u64, 1, 3])
        )
            .prop_map(|(o, a, c)| Step::IntImm(o, a, c)),
        idx.clone().prop_map(Step::NotNot),
        (idx.clone(), idx.clone()).prop_map(|(a, c)| Step::SelectSame(a, c)),
        idx.clone().prop_map(Step::ExtTrunc),
        idx.prop_map(Step::IntToFloat),
    ]
}

/// Builds a kernel from steps over two i32 and two f32 input buffers; every
/// step is one map, some results are stored.
fn chain_from_steps(steps: &[Step], stored: &[bool]) -> TileKernel {
    let mut k = TileKernel {
        name: "prop".into(),
        ..Default::default()
    };
    let po = k.new_sreg(64, "out");
    k.body.push(op(TOpKind::Arg { dst: po, index: 0 }));
    let mut ints: Vec<Buf> = (0..2)
        .map(|i| k.new_buf(DType::I32, &[6], BufSpace::Tsram, format!("i{i}")))
        .collect();
    let mut floats: Vec<Buf> = (0..2)
        .map(|i| k.new_buf(DType::F32, &[6], BufSpace::Tsram, format!("f{i}")))
        .collect();
    for (n, step) in steps.iter().enumerate() {
        let pick = |v: &[Buf], i: usize| v[i % v.len()];
        let (micro_op, out_ty): (TOp, DType) = match *step {
            Step::Int(o, a, b) => {
                let out = k.new_buf(DType::I32, &[6], BufSpace::Tsram, format!("v{n}"));
                (
                    map1(&k, o, &[pick(&ints, a), pick(&ints, b)], vec![], out),
                    DType::I32,
                )
            }
            Step::Float(o, a, b) => {
                let out = k.new_buf(DType::F32, &[6], BufSpace::Tsram, format!("v{n}"));
                (
                    map1(&k, o, &[pick(&floats, a), pick(&floats, b)], vec![], out),
                    DType::F32,
                )
            }
            Step::IntImm(o, a, c) => {
                let out = k.new_buf(DType::I32, &[6], BufSpace::Tsram, format!("v{n}"));
                (
                    map1(&k, o, &[pick(&ints, a)], vec![imm(DType::I32, c)], out),
                    DType::I32,
                )
            }
            Step::NotNot(a) => {
                let out = k.new_buf(DType::I32, &[6], BufSpace::Tsram, format!("v{n}"));
                let ones = imm(DType::I32, 0xffff_ffff);
                let micro = MicroProgram {
                    inputs: vec![DType::I32],
                    body: vec![
                        instr("xor.i32", vec![LaneSrc::Input(0), ones]),
                        instr("xor.i32", vec![LaneSrc::Value(0), ones]),
                    ],
                    outputs: vec![LaneSrc::Value(1)],
                };
                let input = TInput::View(whole(&k, pick(&ints, a)));
                (
                    op(TOpKind::Map {
                        micro,
                        inputs: vec![input],
                        outputs: vec![whole(&k, out)],
                    }),
                    DType::I32,
                )
            }
            Step::SelectSame(a, c) => {
                let out = k.new_buf(DType::F32, &[6], BufSpace::Tsram, format!("v{n}"));
                let micro = MicroProgram {
                    inputs: vec![DType::I32, DType::F32],
                    body: vec![
                        instr("cmp.slt.i32", vec![LaneSrc::Input(0), imm(DType::I32, 7)]),
                        instr(
                            "select.f32",
                            vec![LaneSrc::Value(0), LaneSrc::Input(1), LaneSrc::Input(1)],
                        ),
                    ],
                    outputs: vec![LaneSrc::Value(1)],
                };
                let inputs = vec![
                    TInput::View(whole(&k, pick(&ints, c))),
                    TInput::View(whole(&k, pick(&floats, a))),
                ];
                (
                    op(TOpKind::Map {
                        micro,
                        inputs,
                        outputs: vec![whole(&k, out)],
                    }),
                    DType::F32,
                )
            }
            Step::ExtTrunc(a) => {
                let wide = k.new_buf(DType::I64, &[6], BufSpace::Tsram, format!("w{n}"));
                let src = pick(&ints, a);
                k.body.push(map1(&k, "extsi.i32.i64", &[src], vec![], wide));
                let out = k.new_buf(DType::I32, &[6], BufSpace::Tsram, format!("v{n}"));
                (map1(&k, "trunci.i64.i32", &[wide], vec![], out), DType::I32)
            }
            Step::IntToFloat(a) => {
                let out = k.new_buf(DType::F32, &[6], BufSpace::Tsram, format!("v{n}"));
                (
                    map1(&k, "sitofp.i32.f32", &[pick(&ints, a)], vec![], out),
                    DType::F32,
                )
            }
        };
        let TOpKind::Map { outputs, .. } = &micro_op.kind else {
            unreachable!()
        };
        let out = outputs[0].buf;
        k.body.push(micro_op);
        if out_ty == DType::I32 {
            ints.push(out)
        } else {
            floats.push(out)
        }
        if stored.get(n).copied().unwrap_or(false) || n + 1 == steps.len() {
            k.body.push(store(&k, out, SOp::Reg(po)));
        }
    }
    k
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn fused_map_chains_compute_identical_bits(
        steps in prop::collection::vec(step_strategy(), 1..14),
        stored in prop::collection::vec(any::<bool>(), 14),
        seed in any::<u64>(),
    ) {
        let original = chain_from_steps(&steps, &stored);
        let mut fused = original.clone();
        let mut cx = PassContext::default();
        passes(&machine()).run(&mut fused, &mut cx).unwrap();
        super::walk::for_each_op(&fused.body, &mut |o| {
            if let TOpKind::Map { micro, .. } = &o.kind {
                micro.check().expect("fused programs type-check");
            }
        });
        prop_assert_eq!(observed(&fused, seed), observed(&original, seed));
    }
}

// ---------------------------------------------------------------------------
// Matmul tiling.

fn bf16_shape() -> MatmulShape {
    MatmulShape {
        a_dtype: DType::BF16,
        b_dtype: DType::BF16,
        out_bytes: 4,
        out_in_acc: true,
        scaled: false,
    }
}

#[test]
fn tiling_follows_the_machine() {
    let base = machine();
    // Fits the accumulator: stays one instruction.
    assert_eq!(
        choose_tile(&base, &bf16_shape(), 128, 128, 64),
        Some((128, 128, 64))
    );
    let big = choose_tile(&base, &bf16_shape(), 512, 512, 512).expect("a tiling fits");
    assert_ne!(big, (512, 512, 512));
    let (tm, tn, _) = big;
    assert!(u64::from(tm * tn * 4) <= base.tile.acc_bytes / 2, "{big:?}");

    // A quarter of the accumulator: smaller output tiles.
    let mut small_acc = base.clone();
    small_acc.tile.acc_bytes /= 4;
    let small = choose_tile(&small_acc, &bf16_shape(), 512, 512, 512).expect("a tiling fits");
    assert_ne!(small, big);
    assert!(small.0 * small.1 < tm * tn, "{small:?} vs {big:?}");

    // Less TSRAM: the operand working set shrinks (shorter K chunks).
    let mut small_sram = base.clone();
    small_sram.tile.tsram_bytes /= 8;
    let sram = choose_tile(&small_sram, &bf16_shape(), 512, 512, 512).expect("a tiling fits");
    assert_ne!(sram, big);

    // Nothing fits at all: left alone.
    let mut none = base.clone();
    none.tile.acc_bytes = 64;
    assert_eq!(choose_tile(&none, &bf16_shape(), 512, 512, 512), None);
}

#[test]
fn tiled_matmuls_compute_identical_bits() {
    let mut k = TileKernel {
        name: "mm".into(),
        ..Default::default()
    };
    let po = k.new_sreg(64, "out");
    let (m, n, kk) = (64u32, 48u32, 96u32);
    let a = k.new_buf(DType::F32, &[kk, m], BufSpace::Tsram, "a_t");
    let b = k.new_buf(DType::F32, &[kk, n], BufSpace::Tsram, "b");
    let out = k.new_buf(DType::F32, &[m, n], BufSpace::Acc, "acc");
    k.body = vec![
        op(TOpKind::Arg { dst: po, index: 0 }),
        op(TOpKind::Matmul {
            m,
            n,
            k: kk,
            a: TMat {
                view: whole(&k, a),
                dtype: DType::F32,
                transposed: true,
                scale: None,
            },
            b: TMat {
                view: whole(&k, b),
                dtype: DType::F32,
                transposed: false,
                scale: None,
            },
            out: whole(&k, out),
            accumulate: true,
        }),
        store(&k, out, SOp::Reg(po)),
    ];
    let reference = observed(&k, 9);
    let kind = k.body[1].kind.clone();
    let tiles = split_matmul(&kind, (32, 16, 32));
    assert_eq!(tiles.len(), 2 * 3 * 3);
    let mut tiled = k.clone();
    tiled.body.splice(1..2, tiles.into_iter().map(op));
    insta::assert_snapshot!("tiling_split", tile::render(&tiled));
    assert_eq!(observed(&tiled, 9), reference);

    // The pass itself on a machine whose accumulator holds a quarter of it.
    let mut tiny_acc = machine();
    tiny_acc.tile.acc_bytes = u64::from(m * n * 4) / 2;
    let mut by_pass = k.clone();
    run_pass(&mut TtuTiling::new(tiny_acc), &mut by_pass);
    assert!(count_ops(&by_pass.body, &|o| matches!(o, TOpKind::Matmul { .. })) > 1);
    assert_eq!(observed(&by_pass, 9), reference);
}

// ---------------------------------------------------------------------------
// Activation-with-reduction fusion.

/// The buffers of [`softmax_step`]: `x[4, 128]`, the row maxima `m[4]`,
/// `e = exp(x − m)` and its row sums `s[4]`, plus `other[4, 128]`.
struct SoftmaxBufs {
    x: Buf,
    m: Buf,
    e: Buf,
    s: Buf,
    other: Buf,
}

/// A two-instruction combiner `[t, t] → t`.
fn combiner(code: &str, ty: DType) -> MicroProgram {
    MicroProgram {
        inputs: vec![ty, ty],
        body: vec![instr(code, vec![LaneSrc::Input(0), LaneSrc::Input(1)])],
        outputs: vec![LaneSrc::Value(0)],
    }
}

fn reduce_rows(kernel: &TileKernel, code: &str, input: Buf, output: Buf) -> TOp {
    op(TOpKind::Reduce {
        combiner: combiner(code, DType::F32),
        axis: 1,
        inputs: vec![whole(kernel, input)],
        outputs: vec![whole(kernel, output)],
    })
}

/// The softmax step over the rows of `x`: `e = exp(x − m)` (the row maxima
/// broadcast along axis 1), then `s = Σ e` along axis 1; `between` goes
/// between the map and the reduce. `e` and `s` are stored.
fn softmax_step(between: impl FnOnce(&TileKernel, &SoftmaxBufs) -> Vec<TOp>) -> TileKernel {
    let mut k = TileKernel {
        name: "softmax".into(),
        ..Default::default()
    };
    let p = k.new_sreg(64, "p");
    let b = SoftmaxBufs {
        x: k.new_buf(DType::F32, &[4, 128], BufSpace::Tsram, "x"),
        m: k.new_buf(DType::F32, &[4], BufSpace::Tsram, "m"),
        e: k.new_buf(DType::F32, &[4, 128], BufSpace::Tsram, "e"),
        s: k.new_buf(DType::F32, &[4], BufSpace::Tsram, "s"),
        other: k.new_buf(DType::F32, &[4, 128], BufSpace::Tsram, "other"),
    };
    let exp_sub = op(TOpKind::Map {
        micro: MicroProgram {
            inputs: vec![DType::F32, DType::F32],
            body: vec![
                instr("subf.f32", vec![LaneSrc::Input(0), LaneSrc::Input(1)]),
                instr("exp.f32", vec![LaneSrc::Value(0)]),
            ],
            outputs: vec![LaneSrc::Value(1)],
        },
        inputs: vec![
            TInput::View(whole(&k, b.x)),
            TInput::View(BView {
                buf: b.m,
                offset: 0,
                shape: vec![4, 128],
                strides: vec![1, 0],
            }),
        ],
        outputs: vec![whole(&k, b.e)],
    });
    let mut body = vec![
        op(TOpKind::Arg { dst: p, index: 0 }),
        load(&k, b.x, SOp::Reg(p)),
        reduce_rows(&k, "maxnumf.f32", b.x, b.m),
        exp_sub,
    ];
    body.extend(between(&k, &b));
    body.push(reduce_rows(&k, "addf.f32", b.e, b.s));
    body.push(store(&k, b.e, SOp::Reg(p)));
    body.push(store(&k, b.s, SOp::Reg(p)));
    body.push(store(&k, b.other, SOp::Reg(p)));
    k.body = body;
    k
}

fn act_reduces(kernel: &TileKernel) -> usize {
    count_ops(&kernel.body, &|o| matches!(o, TOpKind::ActReduce { .. }))
}

fn reduces(kernel: &TileKernel) -> usize {
    count_ops(&kernel.body, &|o| matches!(o, TOpKind::Reduce { .. }))
}

/// Runs `act-reduce` on `kernel` and checks the stored bits are unchanged.
fn act_reduce_exactly(machine: &Machine, kernel: &TileKernel) -> TileKernel {
    let mut fused = kernel.clone();
    run_pass(&mut ActReduceFusion::new(machine.clone()), &mut fused);
    for seed in 0..4 {
        assert_eq!(
            observed(kernel, seed),
            observed(&fused, seed),
            "seed {seed}"
        );
    }
    fused
}

#[test]
fn fuses_the_softmax_step_into_one_actreduce() {
    let kernel = softmax_step(|_, _| Vec::new());
    let fused = act_reduce_exactly(&machine(), &kernel);
    assert_eq!(act_reduces(&fused), 1, "{}", tile::render(&fused));
    // The max reduce reads a loaded buffer, not a map output: it stays.
    assert_eq!(reduces(&fused), 1);
    let text = tile::render(&fused);
    assert!(text.contains("tvp.actreduce"), "{text}");
    assert!(text.contains("axis=1"), "{text}");
    // The fused op sits where the map was, still writing `e` (stored later).
    let kinds: Vec<&TOpKind> = fused.body.iter().map(|o| &o.kind).collect();
    assert!(matches!(kinds[3], TOpKind::ActReduce { .. }));
    assert!(matches!(kinds[4], TOpKind::DmaStore { .. }));
}

#[test]
fn fuses_the_max_reduce_of_a_cast_map_too() {
    // `max(cvt(x))` then `exp(cvt(x) − max)`: both maps feed reduces.
    let mut kernel = softmax_step(|_, _| Vec::new());
    let (x, half) = (
        kernel.bufs.keys().next().expect("x"),
        kernel.new_buf(DType::F16, &[4, 128], BufSpace::Tsram, "xh"),
    );
    let cvt = op(TOpKind::Map {
        micro: MicroProgram {
            inputs: vec![DType::F16],
            body: vec![instr("cvt.f16.f32.rtne", vec![LaneSrc::Input(0)])],
            outputs: vec![LaneSrc::Value(0)],
        },
        inputs: vec![TInput::View(whole(&kernel, half))],
        outputs: vec![whole(&kernel, x)],
    });
    kernel.body[1] = load(&kernel, half, SOp::Reg(crate::tile::SReg::from_u32(0)));
    kernel.body.insert(2, cvt);
    let fused = act_reduce_exactly(&machine(), &kernel);
    assert_eq!(act_reduces(&fused), 2, "{}", tile::render(&fused));
    assert_eq!(reduces(&fused), 0);
}

#[test]
fn does_not_fuse_a_reduce_of_another_buffer_or_view() {
    // The sum reads `other`, not the map's output.
    let mut kernel = softmax_step(|_, _| Vec::new());
    let (e, other) = (
        kernel.bufs.keys().nth(2).unwrap(),
        kernel.bufs.keys().nth(4).unwrap(),
    );
    for top in &mut kernel.body {
        if let TOpKind::Reduce { inputs, .. } = &mut top.kind {
            if inputs[0].buf == e {
                inputs[0].buf = other;
            }
        }
    }
    let fused = act_reduce_exactly(&machine(), &kernel);
    assert_eq!(act_reduces(&fused), 0, "{}", tile::render(&fused));

    // The sum reads only the first 64 columns of `e`: a different view.
    let mut kernel = softmax_step(|_, _| Vec::new());
    for top in &mut kernel.body {
        if let TOpKind::Reduce { inputs, .. } = &mut top.kind {
            if inputs[0].buf == e {
                inputs[0].shape = vec![4, 64];
            }
        }
    }
    let fused = act_reduce_exactly(&machine(), &kernel);
    assert_eq!(act_reduces(&fused), 0, "{}", tile::render(&fused));
}

#[test]
fn does_not_hoist_a_reduce_over_a_conflicting_op() {
    // Rewrites `e` in between (a copy): the reduce sums the new bits.
    let overwrite_e = |k: &TileKernel, b: &SoftmaxBufs| {
        vec![op(TOpKind::Copy {
            src: whole(k, b.x),
            dst: whole(k, b.e),
        })]
    };
    // Reads the old `s` in between.
    let read_s = |k: &TileKernel, b: &SoftmaxBufs| {
        vec![op(TOpKind::Map {
            micro: MicroProgram {
                inputs: vec![DType::F32, DType::F32],
                body: vec![instr(
                    "mulf.f32",
                    vec![LaneSrc::Input(0), LaneSrc::Input(1)],
                )],
                outputs: vec![LaneSrc::Value(0)],
            },
            inputs: vec![
                TInput::View(whole(k, b.x)),
                TInput::View(BView {
                    buf: b.s,
                    offset: 0,
                    shape: vec![4, 128],
                    strides: vec![1, 0],
                }),
            ],
            outputs: vec![whole(k, b.other)],
        })]
    };
    // Writes `s` in between (a reduce of `x` into it).
    let write_s = |k: &TileKernel, b: &SoftmaxBufs| vec![reduce_rows(k, "minnumf.f32", b.x, b.s)];
    for (name, kernel) in [
        ("overwrite e", softmax_step(overwrite_e)),
        ("read s", softmax_step(read_s)),
        ("write s", softmax_step(write_s)),
    ] {
        let fused = act_reduce_exactly(&machine(), &kernel);
        assert_eq!(act_reduces(&fused), 0, "{name}: {}", tile::render(&fused));
    }
}

#[test]
fn a_later_map_overwriting_the_output_is_the_one_fused() {
    // `e` is rewritten by a second map before the sum: the sum belongs to
    // that map, and the first one stays a plain map.
    let kernel = softmax_step(|k, b| vec![map1(k, "addf.f32", &[b.x, b.x], vec![], b.e)]);
    let fused = act_reduce_exactly(&machine(), &kernel);
    assert_eq!(act_reduces(&fused), 1, "{}", tile::render(&fused));
    let text = tile::render(&fused);
    assert!(
        text.contains("tvp.actreduce [f32,f32] { v0 = addf.f32"),
        "{text}"
    );
}

#[test]
fn hoists_a_reduce_over_unrelated_ops() {
    // Overwriting the map's input `x` and reading `e` in between are fine:
    // the fused op stays at the map's position.
    let kernel = softmax_step(|k, b| {
        vec![
            map1(k, "mulf.f32", &[b.e, b.e], vec![], b.other),
            map1(k, "addf.f32", &[b.x, b.x], vec![], b.x),
        ]
    });
    let fused = act_reduce_exactly(&machine(), &kernel);
    assert_eq!(act_reduces(&fused), 1, "{}", tile::render(&fused));
}

#[test]
fn does_not_fuse_multi_operand_reduces_or_multi_output_maps() {
    // An argmax-like two-operand reduce of (e, e).
    let mut kernel = softmax_step(|_, _| Vec::new());
    let e = kernel.bufs.keys().nth(2).unwrap();
    let idx = kernel.new_buf(DType::F32, &[4], BufSpace::Tsram, "idx");
    let two = TOpKind::Reduce {
        combiner: MicroProgram {
            inputs: vec![DType::F32; 4],
            body: vec![
                instr("maxnumf.f32", vec![LaneSrc::Input(0), LaneSrc::Input(2)]),
                instr("minnumf.f32", vec![LaneSrc::Input(1), LaneSrc::Input(3)]),
            ],
            outputs: vec![LaneSrc::Value(0), LaneSrc::Value(1)],
        },
        axis: 1,
        inputs: vec![whole(&kernel, e), whole(&kernel, e)],
        outputs: vec![
            whole(&kernel, kernel.bufs.keys().nth(3).unwrap()),
            whole(&kernel, idx),
        ],
    };
    let at = kernel
        .body
        .iter()
        .rposition(|o| matches!(o.kind, TOpKind::Reduce { .. }))
        .unwrap();
    kernel.body[at].kind = two;
    let mut fused = kernel.clone();
    run_pass(&mut ActReduceFusion::new(machine()), &mut fused);
    assert_eq!(act_reduces(&fused), 0, "{}", tile::render(&fused));

    // A map with two outputs: the actreduce writes one.
    let mut kernel = softmax_step(|_, _| Vec::new());
    let other = whole(&kernel, kernel.bufs.keys().nth(4).unwrap());
    for top in &mut kernel.body {
        if let TOpKind::Map { micro, outputs, .. } = &mut top.kind {
            micro.outputs.push(LaneSrc::Value(0));
            outputs.push(other.clone());
        }
    }
    let fused = act_reduce_exactly(&machine(), &kernel);
    assert_eq!(act_reduces(&fused), 0, "{}", tile::render(&fused));
}

#[test]
fn act_reduce_follows_the_machine() {
    let kernel = softmax_step(|_, _| Vec::new());
    let base = machine();
    let fused = act_reduce_exactly(&base, &kernel);
    assert_eq!(act_reduces(&fused), 1);

    // No instruction latency and unbounded TSRAM bandwidth: the fused form
    // costs exactly the two instructions' issue slots, a tie — nothing to
    // gain, so the program is left as it was.
    let mut flat = base.clone();
    flat.tvp.latency_cycles = 0;
    flat.tile.tsram_bytes_per_cycle = u32::MAX;
    let unfused = act_reduce_exactly(&flat, &kernel);
    assert_eq!(act_reduces(&unfused), 0, "{}", tile::render(&unfused));
    assert_eq!(tile::render(&unfused), tile::render(&kernel));

    // The extraction itself: the fused form wins only when strictly cheaper.
    let pair = |map, reduce, fused| PairCycles { map, reduce, fused };
    assert_eq!(
        choose_fusions(
            &[pair(10, 10, 19), pair(10, 10, 20), pair(10, 10, 25)],
            EggLimits::default()
        ),
        vec![true, false, false]
    );
}

#[test]
fn act_reduce_is_deterministic() {
    let kernel = softmax_step(|_, _| Vec::new());
    let a = act_reduce_exactly(&machine(), &kernel);
    let b = act_reduce_exactly(&machine(), &kernel);
    assert_eq!(tile::render(&a), tile::render(&b));
}

// ---------------------------------------------------------------------------
// Epilogue fusion into the accumulator drain.

/// `x = a × b` (16 × 16, f32) followed by `out = f16(max(x + bias, 0))`
/// (or, with `cast_only`, `out = f16(x)`), `out` stored.
fn matmul_epilogue_kernel(cast_only: bool) -> (TileKernel, Buf) {
    let mut k = TileKernel {
        name: "mm_epilogue".into(),
        ..Default::default()
    };
    let po = k.new_sreg(64, "out");
    let (m, n, kk) = (16u32, 16u32, 32u32);
    let a = k.new_buf(DType::F32, &[m, kk], BufSpace::Tsram, "a");
    let b = k.new_buf(DType::F32, &[kk, n], BufSpace::Tsram, "b");
    let x = k.new_buf(DType::F32, &[m, n], BufSpace::Tsram, "acc");
    let bias = k.new_buf(DType::F32, &[n], BufSpace::Tsram, "bias");
    let out = k.new_buf(DType::F16, &[m, n], BufSpace::Tsram, "out");
    let mat = |k: &TileKernel, buf| TMat {
        view: whole(k, buf),
        dtype: DType::F32,
        transposed: false,
        scale: None,
    };
    let matmul = op(TOpKind::Matmul {
        m,
        n,
        k: kk,
        a: mat(&k, a),
        b: mat(&k, b),
        out: whole(&k, x),
        accumulate: false,
    });
    let (micro, inputs) = if cast_only {
        (
            MicroProgram {
                inputs: vec![DType::F32],
                body: vec![instr("cvt.f32.f16.rtne", vec![LaneSrc::Input(0)])],
                outputs: vec![LaneSrc::Value(0)],
            },
            vec![TInput::View(whole(&k, x))],
        )
    } else {
        // The bias first: the accumulator is not input 0 of the map.
        (
            MicroProgram {
                inputs: vec![DType::F32, DType::F32],
                body: vec![
                    instr("addf.f32", vec![LaneSrc::Input(1), LaneSrc::Input(0)]),
                    instr("maxnumf.f32", vec![LaneSrc::Value(0), imm(DType::F32, 0)]),
                    instr("cvt.f32.f16.rtne", vec![LaneSrc::Value(1)]),
                ],
                outputs: vec![LaneSrc::Value(2)],
            },
            vec![
                TInput::View(BView {
                    buf: bias,
                    offset: 0,
                    shape: vec![m, n],
                    strides: vec![0, 1],
                }),
                TInput::View(whole(&k, x)),
            ],
        )
    };
    let map = op(TOpKind::Map {
        micro,
        inputs,
        outputs: vec![whole(&k, out)],
    });
    k.body = vec![
        op(TOpKind::Arg { dst: po, index: 0 }),
        matmul,
        map,
        store(&k, out, SOp::Reg(po)),
    ];
    (k, x)
}

fn drains(k: &TileKernel) -> Vec<TOpKind> {
    let mut found = Vec::new();
    super::walk::for_each_op(&k.body, &mut |o| {
        if matches!(o.kind, TOpKind::Drain { .. }) {
            found.push(o.kind.clone());
        }
    });
    found
}

#[test]
fn bias_activation_epilogue_moves_into_the_drain() {
    let (k, x) = matmul_epilogue_kernel(false);
    let reference = observed(&k, 5);
    let mut fused = k.clone();
    let mut pass = EpilogueDrain::new(machine());
    run_pass(&mut pass, &mut fused);
    assert_eq!(pass.drained, 1);
    assert_eq!(fused.bufs[x].space, BufSpace::Acc);
    assert_eq!(
        count_ops(&fused.body, &|o| matches!(o, TOpKind::Map { .. })),
        0
    );
    let found = drains(&fused);
    let [TOpKind::Drain { src, epilogue, .. }] = found.as_slice() else {
        panic!("one drain expected: {found:?}");
    };
    assert_eq!(src.buf, x);
    let (micro, extra) = epilogue.clone().expect("an epilogue");
    assert_eq!(micro.inputs, [DType::F32, DType::F32]);
    assert_eq!(extra.len(), 1, "the bias");
    insta::assert_snapshot!("epilogue_drain", tile::render(&fused));
    assert_eq!(observed(&fused, 5), reference);
    assert_eq!(observed(&fused, 11), observed(&k, 11));
}

#[test]
fn a_cast_only_epilogue_drains_without_a_program() {
    let (k, _) = matmul_epilogue_kernel(true);
    let mut fused = k.clone();
    run_pass(&mut EpilogueDrain::new(machine()), &mut fused);
    let found = drains(&fused);
    assert!(
        matches!(&found[..], [TOpKind::Drain { epilogue: None, .. }]),
        "{found:?}"
    );
    assert_eq!(observed(&fused, 3), observed(&k, 3));
}

#[test]
fn an_accumulator_read_twice_or_later_is_not_drained() {
    let machine = machine();
    // The map reads the accumulator through two inputs.
    let (mut twice, x) = matmul_epilogue_kernel(false);
    let x_view = whole(&twice, x);
    if let TOpKind::Map { inputs, .. } = &mut twice.body[2].kind {
        inputs[0] = TInput::View(x_view);
    }
    let mut pass = EpilogueDrain::new(machine.clone());
    run_pass(&mut pass, &mut twice);
    assert_eq!(pass.drained, 0);

    // The accumulator is copied out after the epilogue.
    let (mut later, x) = matmul_epilogue_kernel(false);
    let again = later.new_buf(DType::F32, &[16, 16], BufSpace::Tsram, "again");
    let reread = op(TOpKind::Copy {
        src: whole(&later, x),
        dst: whole(&later, again),
    });
    later.body.push(reread);
    run_pass(&mut pass, &mut later);
    assert_eq!(pass.drained, 0);
    assert!(later.bufs.values().all(|b| b.space == BufSpace::Tsram));

    // The epilogue inside a loop that does not recompute the accumulator:
    // the next iteration reads it again.
    let (mut looped, _) = matmul_epilogue_kernel(false);
    let iv = looped.new_sreg(64, "i");
    let map = looped.body.remove(2);
    looped.body.insert(
        2,
        op(TOpKind::For {
            iv,
            lb: SOp::Imm(0),
            ub: SOp::Imm(2),
            step: SOp::Imm(1),
            body: vec![map],
        }),
    );
    run_pass(&mut pass, &mut looped);
    assert_eq!(pass.drained, 0);

    // ... but one that recomputes it first is drained.
    let (mut recomputed, _) = matmul_epilogue_kernel(false);
    let iv = recomputed.new_sreg(64, "i");
    let body: Vec<TOp> = recomputed.body.drain(1..3).collect();
    recomputed.body.insert(
        1,
        op(TOpKind::For {
            iv,
            lb: SOp::Imm(0),
            ub: SOp::Imm(2),
            step: SOp::Imm(1),
            body,
        }),
    );
    run_pass(&mut pass, &mut recomputed);
    assert_eq!(pass.drained, 1);
}

#[test]
fn the_machine_model_decides_the_drain() {
    let (k, _) = matmul_epilogue_kernel(false);
    let drained_on = |machine: Machine| {
        let mut fused = k.clone();
        let mut pass = EpilogueDrain::new(machine);
        run_pass(&mut pass, &mut fused);
        pass.drained
    };
    assert_eq!(drained_on(machine()), 1);
    // A TVP without issue latency and a slow drain: the map stays.
    let mut cheap_tvp = machine();
    cheap_tvp.tvp.latency_cycles = 0;
    cheap_tvp.ttu.drain_elements_per_cycle = 1;
    assert_eq!(drained_on(cheap_tvp), 0);
    // An accumulator memory smaller than the accumulator: the map stays.
    let mut tiny_acc = machine();
    tiny_acc.tile.acc_bytes = 512;
    assert_eq!(drained_on(tiny_acc), 0);
}

#[test]
fn fixture_epilogues_drain_where_the_model_prefers_it() {
    // The loop-carried accumulator of a K loop with a bias + SiLU epilogue
    // small enough (16 × 32) that the drain's missing issue latency wins.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/kernels/nk_matmul_bias_silu_bk64/kernel.ttir");
    let text = std::fs::read_to_string(&path).expect("readable fixture");
    let mut module =
        maiac_ir::parser::parse_module(&text, &path.display().to_string()).expect("parses");
    crate::passes::cleanup_passes()
        .run(&mut module, &mut PassContext::default())
        .expect("cleans up");
    let func = module.kernel().expect("a kernel");
    let machine = machine();
    let mut k = crate::lower::lower(&module, func, &machine).expect("lowers");
    passes(&machine)
        .run(&mut k, &mut PassContext::default())
        .expect("the passes succeed");
    let found = drains(&k);
    assert!(
        matches!(
            &found[..],
            [TOpKind::Drain {
                epilogue: Some(_),
                ..
            }]
        ),
        "{found:?}"
    );
}

// ---------------------------------------------------------------------------
// Real kernels.

/// Every fixture kernel that lowers goes through the passes deterministically
/// and comes out with valid micro-programs and no more TVP maps than it had.
#[test]
fn fixture_kernels_fuse_deterministically() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut dirs: Vec<std::path::PathBuf> = ["kernels", "corpus"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("kernel.ttir").is_file())
        .collect();
    dirs.sort();
    let machine = machine();
    let mut lowered = 0;
    let mut with_act_reduce = std::collections::BTreeSet::new();
    for dir in dirs {
        let path = dir.join("kernel.ttir");
        let text = std::fs::read_to_string(&path).expect("readable fixture");
        let Ok(mut module) = maiac_ir::parser::parse_module(&text, &path.display().to_string())
        else {
            continue;
        };
        if crate::passes::cleanup_passes()
            .run(&mut module, &mut PassContext::default())
            .is_err()
        {
            continue;
        }
        let Some(func) = module.kernel() else {
            continue;
        };
        let Ok(kernel) = crate::lower::lower(&module, func, &machine) else {
            continue;
        };
        lowered += 1;
        // Maps on the expected path (else arms are the lowering's gather
        // fallbacks, where `sink-into-branches` may clone work).
        fn expected_path_maps(body: &[TOp]) -> usize {
            body.iter()
                .map(|o| match &o.kind {
                    TOpKind::Map { .. } => 1,
                    TOpKind::If { then_body, .. } => expected_path_maps(then_body),
                    kind => kind
                        .bodies()
                        .into_iter()
                        .map(|b| expected_path_maps(b))
                        .sum(),
                })
                .sum()
        }
        let maps = |k: &TileKernel| expected_path_maps(&k.body);
        let mut runs = Vec::new();
        for _ in 0..2 {
            let mut k = kernel.clone();
            passes(&machine)
                .run(&mut k, &mut PassContext::default())
                .expect("the passes succeed");
            super::walk::for_each_op(&k.body, &mut |o| match &o.kind {
                TOpKind::Map { micro, .. } => micro
                    .check()
                    .unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
                TOpKind::ActReduce {
                    micro, combiner, ..
                } => {
                    for m in [micro, combiner] {
                        m.check()
                            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                    }
                    if let Some(name) = dir.file_name() {
                        with_act_reduce.insert(name.to_string_lossy().into_owned());
                    }
                }
                _ => {}
            });
            assert!(maps(&k) <= maps(&kernel), "{}", dir.display());
            runs.push(tile::render(&k));
        }
        assert_eq!(runs[0], runs[1], "{} is not deterministic", dir.display());
    }
    assert!(lowered > 40, "only {lowered} fixtures lowered");
    // The softmax / normalisation steps fold a map's output: act-reduce
    // fuses them (rmsnorm's sum is of a loop-carried accumulator, no map).
    for name in [
        "softmax_rows_f32",
        "softmax_multirow",
        "t32_softmax_rows",
        "layernorm_fwd_f16",
        "nk_softmax_online",
        "flash_attn_causal",
    ] {
        assert!(
            with_act_reduce.contains(name),
            "{name}: {with_act_reduce:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Coalescing loop-carried tensors.

/// `for { body }` over four iterations with the given body.
fn in_loop(k: &mut TileKernel, body: Vec<TOp>) -> TOp {
    let iv = k.new_sreg(32, "i");
    op(TOpKind::For {
        iv,
        lb: SOp::Imm(0),
        ub: SOp::Imm(4),
        step: SOp::Imm(1),
        body,
    })
}

fn copies(k: &TileKernel) -> usize {
    count_ops(&k.body, &|kind| matches!(kind, TOpKind::Copy { .. }))
}

#[test]
fn accumulating_matmul_works_in_the_carried_buffer() {
    let mut k = TileKernel::default();
    let a = k.new_buf(DType::F32, &[8, 8], BufSpace::Tsram, "a");
    let c = k.new_buf(DType::F32, &[8, 8], BufSpace::Tsram, "acc");
    let x = k.new_buf(DType::F32, &[8, 8], BufSpace::Tsram, "next");
    let mat = |k: &TileKernel| TMat {
        view: whole(k, a),
        dtype: DType::F32,
        transposed: false,
        scale: None,
    };
    let body = vec![
        load(&k, a, SOp::Imm(0)),
        op(TOpKind::Copy {
            src: whole(&k, c),
            dst: whole(&k, x),
        }),
        op(TOpKind::Matmul {
            m: 8,
            n: 8,
            k: 8,
            a: mat(&k),
            b: mat(&k),
            out: whole(&k, x),
            accumulate: true,
        }),
        op(TOpKind::Copy {
            src: whole(&k, x),
            dst: whole(&k, c),
        }),
    ];
    let l = in_loop(&mut k, body);
    k.body = vec![l, store(&k, c, SOp::Imm(0))];
    run_pass(&mut super::CoalesceCarried, &mut k);
    let text = tile::render(&k);
    assert_eq!(copies(&k), 0, "{text}");
    let TOpKind::For { body, .. } = &k.body[0].kind else {
        panic!("{text}")
    };
    assert!(
        matches!(&body[1].kind, TOpKind::Matmul { out, accumulate: true, .. } if out.buf == c),
        "{text}"
    );
}

#[test]
fn carried_value_read_meanwhile_is_not_coalesced() {
    // `x = c + c; y = c · x; c = x` — `c`'s old value is read after `x` is
    // defined, so `x` cannot live in `c`.
    let mut k = TileKernel::default();
    let c = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "m");
    let x = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "m_new");
    let y = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "alpha");
    let body = vec![
        map1(&k, "addf.f32", &[c, c], vec![], x),
        map1(&k, "mulf.f32", &[c, x], vec![], y),
        store(&k, y, SOp::Imm(0)),
        op(TOpKind::Copy {
            src: whole(&k, x),
            dst: whole(&k, c),
        }),
    ];
    let l = in_loop(&mut k, body);
    k.body = vec![l, store(&k, c, SOp::Imm(0))];
    let before = tile::render(&k);
    run_pass(&mut super::CoalesceCarried, &mut k);
    assert_eq!(tile::render(&k), before);
}

#[test]
fn elementwise_update_becomes_in_place_only_with_identical_views() {
    // `x = c + c; c = x` is an in-place update of `c`.
    let mut k = TileKernel::default();
    let c = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "ptrs");
    let x = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "ptrs_next");
    let body = vec![
        map1(&k, "addf.f32", &[c, c], vec![], x),
        op(TOpKind::Copy {
            src: whole(&k, x),
            dst: whole(&k, c),
        }),
    ];
    let l = in_loop(&mut k, body);
    k.body = vec![l, store(&k, c, SOp::Imm(0))];
    run_pass(&mut super::CoalesceCarried, &mut k);
    let text = tile::render(&k);
    assert_eq!(copies(&k), 0, "{text}");

    // Reading `c` reversed while writing it in place would read elements
    // already overwritten: not coalesced.
    let mut k = TileKernel::default();
    let c = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "v");
    let x = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "v_next");
    let mut reversed = map1(&k, "addf.f32", &[c, c], vec![], x);
    if let TOpKind::Map { inputs, .. } = &mut reversed.kind {
        inputs[1] = TInput::View(BView {
            buf: c,
            offset: 15,
            shape: vec![16],
            strides: vec![-1],
        });
    }
    let body = vec![
        reversed,
        op(TOpKind::Copy {
            src: whole(&k, x),
            dst: whole(&k, c),
        }),
    ];
    let l = in_loop(&mut k, body);
    k.body = vec![l, store(&k, c, SOp::Imm(0))];
    run_pass(&mut super::CoalesceCarried, &mut k);
    assert_eq!(copies(&k), 1, "{}", tile::render(&k));
}

// ---------------------------------------------------------------------------
// Sinking into branches.

/// `t = x + x` then `if c { store x } else { store t }` — plus `extra`
/// ops between the two.
fn branch_kernel(t_in_then_of_second: bool, clobber_input: bool) -> (TileKernel, Buf) {
    let mut k = TileKernel::default();
    let c = k.new_sreg(1, "c");
    let x = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "x");
    let t = k.new_buf(DType::F32, &[16], BufSpace::Tsram, "t");
    let mut body = vec![
        load(&k, x, SOp::Imm(0)),
        map1(&k, "addf.f32", &[x, x], vec![], t),
    ];
    if clobber_input {
        body.push(load(&k, x, SOp::Imm(64)));
    }
    body.push(op(TOpKind::If {
        cond: SOp::Reg(c),
        then_body: vec![store(&k, x, SOp::Imm(0))],
        else_body: vec![store(&k, t, SOp::Imm(0))],
    }));
    let second = if t_in_then_of_second { t } else { x };
    body.push(op(TOpKind::If {
        cond: SOp::Reg(c),
        then_body: vec![store(&k, second, SOp::Imm(128))],
        else_body: vec![store(&k, t, SOp::Imm(128))],
    }));
    k.body = body;
    (k, t)
}

fn top_level_writes(k: &TileKernel, buf: Buf) -> usize {
    k.body
        .iter()
        .filter(|o| o.kind.writes().iter().any(|v| v.buf == buf))
        .count()
}

#[test]
fn fallback_only_work_moves_into_the_else_arms() {
    let (mut k, t) = branch_kernel(false, false);
    run_pass(&mut super::SinkIntoBranches, &mut k);
    let text = tile::render(&k);
    assert_eq!(top_level_writes(&k, t), 0, "{text}");
    // One clone per else arm, each with its own buffer.
    assert_eq!(
        count_ops(&k.body, &|o| matches!(o, TOpKind::Map { .. })),
        2,
        "{text}"
    );
    for branch in &k.body[1..] {
        let TOpKind::If { else_body, .. } = &branch.kind else {
            panic!("{text}")
        };
        assert!(matches!(else_body[0].kind, TOpKind::Map { .. }), "{text}");
    }
}

#[test]
fn work_needed_on_the_expected_path_twice_stays_put() {
    // `t` read in the then arm of one branch sinks (one clone on the
    // expected path); read in the then arms of both, it would run twice
    // there, so it stays.
    let (mut once, t) = branch_kernel(true, false);
    run_pass(&mut super::SinkIntoBranches, &mut once);
    assert_eq!(top_level_writes(&once, t), 0, "{}", tile::render(&once));

    let (mut twice, t) = branch_kernel(true, false);
    let extra = store(&twice, t, SOp::Imm(512));
    if let TOpKind::If { then_body, .. } = &mut twice.body[2].kind {
        then_body.push(extra);
    }
    run_pass(&mut super::SinkIntoBranches, &mut twice);
    assert_eq!(top_level_writes(&twice, t), 1, "{}", tile::render(&twice));
}

#[test]
fn work_whose_input_changes_before_the_branch_stays_put() {
    let (mut k, t) = branch_kernel(false, true);
    run_pass(&mut super::SinkIntoBranches, &mut k);
    assert_eq!(top_level_writes(&k, t), 1, "{}", tile::render(&k));
}
