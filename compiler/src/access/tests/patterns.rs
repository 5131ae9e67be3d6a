//! One hand-built kernel per access pattern: the printed analysis is
//! snapshotted and checked against the reference evaluator.

use maiac_ir::{Attribute, FloatType, Module, Opcode, Type};

use super::builder::{i32_attr, Builder};
use super::check_against_evaluator;
use super::eval::Launch;
use crate::access::{AccessKind, Fill, MemAccess};

fn f32_ptr() -> Type {
    Type::ptr(Type::F32)
}

fn buffer(i: u64) -> u64 {
    (i + 1) << 32
}

fn launches(args: &[u64], pids: &[[u32; 3]], grid: [u32; 3]) -> Vec<Launch> {
    pids.iter()
        .map(|&pid| Launch {
            args: args.to_vec(),
            pid,
            grid,
            max_iterations: 4,
        })
        .collect()
}

fn f32_zero() -> Attribute {
    Attribute::Float {
        bits: 0,
        ty: FloatType::F32,
    }
}

/// `offs = pid * B + arange(B); mask = offs < n; out[offs] = x[offs] (other 0)`.
pub(crate) fn vec_add(block: i64) -> Module {
    let (mut b, p) = Builder::kernel(&[("x", f32_ptr()), ("out", f32_ptr()), ("n", Type::I32)]);
    let pid = b.program_id(0);
    let pid = b.name(pid, "pid");
    let bsz = b.const_i32(block);
    let start = b.binary(Opcode::MulI, pid, bsz);
    let start = b.name(start, "start");
    let r = b.range(0, block);
    let s = b.splat(start, &[block]);
    let offs = b.binary(Opcode::AddI, s, r);
    let n = b.splat(p[2], &[block]);
    let mask = b.cmpi("slt", offs, n);
    let xs = b.splat(p[0], &[block]);
    let xp = b.addptr(xs, offs);
    let zero = b.dense(&[block], Type::F32, f32_zero());
    let x = b.load(xp, Some(mask), Some(zero));
    let x = b.name(x, "x_tile");
    let os = b.splat(p[1], &[block]);
    let op = b.addptr(os, offs);
    b.store(op, x, Some(mask));
    b.finish()
}

#[test]
fn masked_vector_tile() {
    let m = vec_add(64);
    let args = [buffer(0), buffer(1), 200];
    let pids: Vec<[u32; 3]> = (0..5).map(|p| [p, 0, 0]).collect();
    let (map, checked) = check_against_evaluator(&m, &launches(&args, &pids, [5, 1, 1]));
    assert_eq!(checked, 10);
    let (_, load) = map.iter().next().unwrap();
    let s = load.as_strided().expect("strided");
    assert_eq!(
        s.fill,
        Some(Fill::Value(crate::access::ScalarExpr::constant(0, 32)))
    );
    insta::assert_snapshot!("masked_vector_tile", map.render(&m));
}

/// A GEMM's A and B tiles: 2-D strided pointers advanced in an `scf.for`
/// by `BK × stride`, masked by `k < K − k0`, rows wrapped with `% M`.
pub(crate) fn matmul_tiles() -> Module {
    let (mut b, p) = Builder::kernel(&[
        ("a", Type::ptr(Type::Float(FloatType::F16))),
        ("c", Type::ptr(Type::Float(FloatType::F16))),
        ("M", Type::I32),
        ("K", Type::I32),
        ("sam", Type::I32),
        ("sak", Type::I32),
    ]);
    let (bm, bk) = (16, 8);
    let pid = b.program_id(0);
    let cbm = b.const_i32(bm);
    let rm0 = b.binary(Opcode::MulI, pid, cbm);
    let rm0 = b.name(rm0, "rm0");
    let r = b.range(0, bm);
    let s = b.splat(rm0, &[bm]);
    let rm = b.binary(Opcode::AddI, s, r);
    let msplat = b.splat(p[2], &[bm]);
    let rm_wrapped = b.binary(Opcode::RemSI, rm, msplat);
    let rk = b.range(0, bk);
    let rows = b.expand_dims(rm_wrapped, 1);
    let sam = b.splat(p[4], &[bm, 1]);
    let rows = b.binary(Opcode::MulI, rows, sam);
    let base = b.splat(p[0], &[bm, 1]);
    let a_rows = b.addptr(base, rows);
    let cols = b.expand_dims(rk, 0);
    let sak = b.splat(p[5], &[1, bk]);
    let cols_scaled = b.binary(Opcode::MulI, cols, sak);
    let a_rows = b.broadcast(a_rows, &[bm, bk]);
    let cols_scaled = b.broadcast(cols_scaled, &[bm, bk]);
    let a_ptrs = b.addptr(a_rows, cols_scaled);
    let a_ptrs = b.name(a_ptrs, "a_ptrs");
    let c0 = b.const_i32(0);
    let c1 = b.const_i32(1);
    let nk = b.const_i32(3);
    let acc = b.dense(
        &[bm, bk],
        Type::Float(FloatType::F16),
        Attribute::Float {
            bits: 0,
            ty: FloatType::F16,
        },
    );
    let out = b.for_loop(c0, nk, c1, &[a_ptrs, acc], |b, k, args| {
        let b_k = b.name(k, "k");
        let cbk = b.const_i32(bk);
        let k0 = b.binary(Opcode::MulI, b_k, cbk);
        let left = b.binary(Opcode::SubI, p[3], k0);
        let left = b.name(left, "k_left");
        let ls = b.splat(left, &[1, bk]);
        let kmask = b.cmpi("slt", cols, ls);
        let kmask = b.broadcast(kmask, &[bm, bk]);
        let other = b.dense(
            &[bm, bk],
            Type::Float(FloatType::F16),
            Attribute::Float {
                bits: 0x3C00,
                ty: FloatType::F16,
            },
        );
        let a = b.load(args[0], Some(kmask), Some(other));
        let a = b.name(a, "a_tile");
        let sum = b.binary(Opcode::AddF, args[1], a);
        let step = b.binary(Opcode::MulI, p[5], cbk);
        let step = b.name(step, "a_step");
        let step_t = b.splat(step, &[bm, bk]);
        let next = b.addptr(args[0], step_t);
        vec![next, sum]
    });
    // Store the accumulator (unwrapped rows, masked by rows < M).
    let rows_c = b.expand_dims(rm, 1);
    let mc = b.splat(p[2], &[bm, 1]);
    let row_ok = b.cmpi("slt", rows_c, mc);
    let row_ok = b.broadcast(row_ok, &[bm, bk]);
    let rows_c = b.binary(Opcode::MulI, rows_c, sam);
    let cbase = b.splat(p[1], &[bm, 1]);
    let c_rows = b.addptr(cbase, rows_c);
    let c_rows = b.broadcast(c_rows, &[bm, bk]);
    let cols_c = b.broadcast(cols, &[bm, bk]);
    let c_ptrs = b.addptr(c_rows, cols_c);
    b.store(c_ptrs, out[1], Some(row_ok));
    b.finish()
}

#[test]
fn loop_carried_gemm_tiles() {
    let m = matmul_tiles();
    // M = 40 rows (the last program wraps), K = 20 (the last k-step is partial).
    let args = [buffer(0), buffer(1), 40, 20, 20, 1];
    let pids: Vec<[u32; 3]> = (0..3).map(|p| [p, 0, 0]).collect();
    let (map, checked) = check_against_evaluator(&m, &launches(&args, &pids, [3, 1, 1]));
    assert_eq!(checked, 3 * 3 + 3, "every load iteration and every store");
    assert_eq!(map.carried.len(), 1);
    let carried = map.carried.values().next().unwrap();
    assert!(carried.slots[0].increment.is_some(), "{}", map.render(&m));
    insta::assert_snapshot!("loop_carried_gemm_tiles", map.render(&m));
}

/// `table[idx[i] * D + cols]`: offsets loaded from memory gather; a scalar
/// index loaded from memory is an atom.
pub(crate) fn gathers() -> Module {
    let (mut b, p) = Builder::kernel(&[
        ("idx", Type::ptr(Type::I32)),
        ("table", f32_ptr()),
        ("out", f32_ptr()),
        ("D", Type::I32),
    ]);
    let pid = b.program_id(0);
    let r = b.range(0, 8);
    // Tensor of indices → gather.
    let is = b.splat(p[0], &[8]);
    let ip = b.addptr(is, r);
    let idx = b.load(ip, None, None);
    let idx = b.name(idx, "idx_tile");
    let ts = b.splat(p[1], &[8]);
    let tp = b.addptr(ts, idx);
    let g = b.load(tp, None, None);
    // `select(r < D, r, 0)` in the offset → a zero-past wrapped dimension
    // (strided; rows past D read row 0).
    let n = b.splat(p[3], &[8]);
    let inside = b.cmpi("slt", r, n);
    let zero = b.dense(&[8], Type::I32, i32_attr(0));
    let sel = b.val(
        Opcode::Select,
        &[inside, r, zero],
        Type::tensor(vec![8], Type::I32),
        &[],
    );
    let sp = b.addptr(ts, sel);
    let s = b.load(sp, None, None);
    // A scalar index from memory → strided with the index as an atom.
    let one = b.addptr(p[0], pid);
    let row = b.load(one, None, None);
    let row = b.name(row, "row");
    let off = b.binary(Opcode::MulI, row, p[3]);
    let rowp = b.addptr(p[1], off);
    let rs = b.splat(rowp, &[8]);
    let rp = b.addptr(rs, r);
    let v = b.load(rp, Some(inside), None);
    let os = b.splat(p[2], &[8]);
    let op = b.addptr(os, r);
    let sum = b.binary(Opcode::AddF, g, s);
    let sum = b.binary(Opcode::AddF, sum, v);
    b.store(op, sum, None);
    b.finish()
}

#[test]
fn gathers_fall_back_and_scalar_indices_stay_strided() {
    let m = gathers();
    let args = [buffer(0), buffer(1), buffer(2), 6];
    let (map, checked) =
        check_against_evaluator(&m, &launches(&args, &[[0, 0, 0], [3, 0, 0]], [4, 1, 1]));
    let kinds: Vec<&str> = map
        .iter()
        .map(|(_, a)| match a {
            MemAccess::Strided(_) => "strided",
            MemAccess::Gather(_) => "gather",
            MemAccess::Scatter(_) => "scatter",
        })
        .collect();
    assert_eq!(
        kinds,
        ["strided", "gather", "strided", "strided", "strided", "strided"]
    );
    assert_eq!(checked, 2 * 5);
    insta::assert_snapshot!("gathers", map.render(&m));
}

/// Block pointers advanced in a loop, and tensor descriptors.
pub(crate) fn block_pointers_and_descriptors() -> Module {
    let (mut b, p) = Builder::kernel(&[
        ("x", f32_ptr()),
        ("y", f32_ptr()),
        ("M", Type::I64),
        ("N", Type::I64),
        ("Mi", Type::I32),
        ("Ni", Type::I32),
    ]);
    let pid = b.program_id(0);
    let c16 = b.const_i32(16);
    let row0 = b.binary(Opcode::MulI, pid, c16);
    let row0 = b.name(row0, "row0");
    let c0 = b.const_i32(0);
    let one64 = b.constant(1, Type::I64);
    let block_ty = Type::tensor(vec![16, 8], Type::F32);
    let bp = b.val(
        Opcode::MakeTensorPtr,
        &[p[0], p[2], p[3], p[3], one64, row0, c0],
        Type::ptr(block_ty.clone()),
        &[(
            "order",
            Attribute::DenseArray {
                elem: Type::I32,
                values: vec![1, 0],
            },
        )],
    );
    let bp = b.name(bp, "bp");
    let c1 = b.const_i32(1);
    let c3 = b.const_i32(3);
    let acc = b.dense(&[16, 8], Type::F32, f32_zero());
    let c8 = b.const_i32(8);
    let out = b.for_loop(c0, c3, c1, &[bp, acc], |b, _k, args| {
        let tile = b.val(
            Opcode::Load,
            &[args[0]],
            block_ty.clone(),
            &[
                (
                    "boundaryCheck",
                    Attribute::DenseArray {
                        elem: Type::I32,
                        values: vec![0, 1],
                    },
                ),
                ("padding", Attribute::Enum("zero".into())),
            ],
        );
        let sum = b.binary(Opcode::AddF, args[1], tile);
        let next = b.val(Opcode::Advance, &[args[0], c0, c8], b.ty(args[0]), &[]);
        vec![next, sum]
    });
    let desc_ty = Type::TensorDesc {
        block: Box::new(block_ty.clone()),
    };
    let desc = b.val(
        Opcode::MakeTensorDescriptor,
        &[p[1], p[4], p[5], p[3], one64],
        desc_ty,
        &[],
    );
    let desc = b.name(desc, "desc");
    let prev = b.val(
        Opcode::DescriptorLoad,
        &[desc, row0, c8],
        block_ty.clone(),
        &[],
    );
    let sum = b.binary(Opcode::AddF, out[1], prev);
    b.op(Opcode::DescriptorStore, &[desc, sum, row0, c0], &[], &[]);
    b.finish()
}

#[test]
fn block_pointers_and_descriptors_are_boxes() {
    let m = block_pointers_and_descriptors();
    // A 40 x 20 tensor: program 2's rows and the third column block are clipped.
    let args = [buffer(0), buffer(1), 40, 20, 40, 20];
    let pids: Vec<[u32; 3]> = (0..3).map(|p| [p, 0, 0]).collect();
    let (map, checked) = check_against_evaluator(&m, &launches(&args, &pids, [3, 1, 1]));
    assert_eq!(checked, 3 * (3 + 2));
    assert!(
        map.iter().all(|(_, a)| a.as_strided().is_some()),
        "{}",
        map.render(&m)
    );
    let kinds: Vec<AccessKind> = map.iter().map(|(_, a)| a.kind()).collect();
    assert_eq!(
        kinds,
        [
            AccessKind::Load,
            AccessKind::DescriptorLoad,
            AccessKind::DescriptorStore
        ]
    );
    insta::assert_snapshot!("block_pointers_and_descriptors", map.render(&m));
}

/// 64-bit offsets, a transposed tile and a reshape.
fn casts_transposes_and_reshapes() -> Module {
    let (mut b, p) = Builder::kernel(&[("x", f32_ptr()), ("y", f32_ptr()), ("stride", Type::I64)]);
    let pid = b.program_id(0);
    let pid64 = b.cast(Opcode::ExtSI, pid, 64);
    let st = b.binary(Opcode::MulI, pid64, p[2]);
    let st = b.name(st, "row_start");
    let r = b.range(0, 4);
    let r64 = b.cast(Opcode::ExtSI, r, 64);
    let rows = b.expand_dims(r64, 1);
    let sp = b.splat(p[2], &[4, 1]);
    let rows = b.binary(Opcode::MulI, rows, sp);
    let rows = b.broadcast(rows, &[4, 8]);
    let c = b.range(0, 8);
    let c64 = b.cast(Opcode::ExtSI, c, 64);
    let cols = b.expand_dims(c64, 0);
    let cols = b.broadcast(cols, &[4, 8]);
    let offs = b.binary(Opcode::AddI, rows, cols);
    let sts = b.splat(st, &[4, 8]);
    let offs = b.binary(Opcode::AddI, offs, sts);
    let xs = b.splat(p[0], &[4, 8]);
    let xp = b.addptr(xs, offs);
    let xt = b.trans(xp, &[1, 0]);
    let tile = b.load(xt, None, None);
    // Merging the dimensions of a tile with a runtime row stride is not
    // affine (unless the stride equals the row length)...
    let flat = b.reshape(xp, &[32]);
    let gathered = b.load(flat, None, None);
    // ... with a constant row stride of 8, it is.
    let c8 = b.constant(8, Type::I64);
    let c8s = b.splat(c8, &[4, 1]);
    let rows8 = b.expand_dims(r64, 1);
    let rows8 = b.binary(Opcode::MulI, rows8, c8s);
    let rows8 = b.broadcast(rows8, &[4, 8]);
    let contiguous = b.binary(Opcode::AddI, rows8, cols);
    let xq = b.addptr(xs, contiguous);
    let flat = b.reshape(xq, &[32]);
    let flat_tile = b.load(flat, None, None);
    let flat_tile = b.binary(Opcode::AddF, flat_tile, gathered);
    // The same tile read through `i32` pointers: addresses unchanged.
    let as_int = b.val(
        Opcode::Bitcast,
        &[flat],
        Type::tensor(vec![32], Type::ptr(Type::I32)),
        &[],
    );
    let ints = b.load(as_int, None, None);
    let floats = b.val(
        Opcode::Bitcast,
        &[ints],
        Type::tensor(vec![32], Type::F32),
        &[],
    );
    let flat_tile = b.binary(Opcode::AddF, flat_tile, floats);
    let ys = b.splat(p[1], &[32]);
    let r32 = b.range(0, 32);
    let yp = b.addptr(ys, r32);
    b.store(yp, flat_tile, None);
    let ys2 = b.splat(p[1], &[8, 4]);
    let r8 = b.range(0, 8);
    let e = b.expand_dims(r8, 1);
    let c4 = b.const_i32(4);
    let c4s = b.splat(c4, &[8, 1]);
    let e = b.binary(Opcode::MulI, e, c4s);
    let e = b.broadcast(e, &[8, 4]);
    let r4 = b.range(0, 4);
    let f = b.expand_dims(r4, 0);
    let f = b.broadcast(f, &[8, 4]);
    let o = b.binary(Opcode::AddI, e, f);
    let yp2 = b.addptr(ys2, o);
    b.store(yp2, tile, None);
    b.finish()
}

#[test]
fn casts_transposes_and_reshapes_stay_affine() {
    let m = casts_transposes_and_reshapes();
    let args = [buffer(0), buffer(1), 8];
    let (map, checked) =
        check_against_evaluator(&m, &launches(&args, &[[0, 0, 0], [5, 0, 0]], [6, 1, 1]));
    assert_eq!(checked, 2 * 5, "{}", map.render(&m));
    let gathers = map
        .iter()
        .filter(|(_, a)| matches!(a, MemAccess::Gather(_)))
        .count();
    assert_eq!(gathers, 1);
    insta::assert_snapshot!("casts_transposes_and_reshapes", map.render(&m));
}

#[test]
fn overflowing_offsets_are_guarded() {
    // `start + i` for i < 64 overflows i32 when start > i32::MAX − 63: the
    // strided form then does not describe the kernel, and the guard says so.
    let m = vec_add(64);
    let func = m.kernel().unwrap();
    let map = crate::access::analyze(&m, func);
    let (_, load) = map.iter().next().unwrap();
    let s = load.as_strided().unwrap();
    let start = m.dfg.results(m.layout.ops(m.func_entry(func).unwrap())[2])[0];
    let env_for = |bits: u64| {
        move |a: crate::access::Atom| match a {
            crate::access::Atom::Value(v) if v == start => Some(bits),
            _ => Some(0),
        }
    };
    assert_eq!(s.guards_hold(&env_for(0x7FFF_FFC0)), Some(true));
    assert_eq!(
        s.guards_hold(&env_for(0x7FFF_FFC1)),
        Some(false),
        "{}",
        map.render(&m)
    );
    assert_eq!(
        s.guards_hold(&env_for(0x8000_0000)),
        Some(true),
        "a negative start does not wrap"
    );
}
