//! End-to-end programs on the emulator: vector add with double-buffered
//! DMA, row softmax, GEMMs in BF16, FP8 and MXFP4 against Rust references.

mod common;

use common::*;
use maiac_backend::isa::DType;
use maiac_runtime_emu::emu::RunOptions;

const VEC_ADD: &str = include_str!("../../backend/asm/vec_add.s");
const SOFTMAX: &str = include_str!("../../backend/asm/softmax_rows.s");
const GEMM_MXFP4: &str = include_str!("../../backend/asm/gemm_mxfp4.s");

fn vec_add_on(machine_name: &str) {
    let m = machine(machine_name);
    let module = module_for(VEC_ADD, &m);
    let n = 3000usize;
    let (x, y) = (values(n, 1), values(n, 2));
    let out = vec![0u8; 4 * n];
    let grid = [n.div_ceil(1024) as u32, 1, 1];
    let r = launch(
        &module,
        &m,
        grid,
        vec![
            Arg::Buffer(f32_bytes(&x)),
            Arg::Buffer(f32_bytes(&y)),
            Arg::Buffer(out),
            Arg::Scalar(n as u64),
        ],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let got = bytes_f32(&r.buffers[2]);
    for i in 0..n {
        assert_eq!(got[i].to_bits(), (x[i] + y[i]).to_bits(), "element {i}");
    }
    assert!(r.stats.cycles > 0);
    assert_eq!(r.stats.hbm_bytes, 3 * 4 * n as u64);
    assert!(r.stats.roofline_fraction <= 1.0);
}

#[test]
fn vec_add_double_buffered_on_tiny() {
    vec_add_on("tiny");
}

#[test]
fn vec_add_double_buffered_on_maia200_like() {
    vec_add_on("maia200-like");
}

#[test]
fn row_softmax_matches_reference() {
    let m = machine("tiny");
    let module = module_for(SOFTMAX, &m);
    let (rows, cols, stride) = (6usize, 100usize, 128usize);
    let x = values(rows * stride, 7);
    let r = launch(
        &module,
        &m,
        [rows as u32, 1, 1],
        vec![
            Arg::Buffer(f32_bytes(&x)),
            Arg::Buffer(vec![0; 4 * rows * stride]),
            Arg::Scalar(stride as u64),
            Arg::Scalar(cols as u64),
        ],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let got = bytes_f32(&r.buffers[1]);
    for row in 0..rows {
        let xs = &x[row * stride..row * stride + cols];
        let mx = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = xs.iter().map(|&v| (v - mx).exp()).collect();
        let s = e.iter().fold(0f32, |a, &b| a + b);
        for c in 0..cols {
            let want = e[c] / s;
            let have = got[row * stride + c];
            assert!(
                (want - have).abs() <= 1e-6 * want.abs().max(1e-30) + 1e-9,
                "row {row} col {c}: {have} vs {want}"
            );
        }
        // Columns past n_cols are masked stores: untouched.
        assert!(got[row * stride + cols..(row + 1) * stride]
            .iter()
            .all(|&v| v == 0.0));
    }
}

/// A 256×256×256 GEMM, one 128×128 output block per program (grid 2×2).
fn gemm_text(dtype: &str, bytes: u32) -> String {
    let a_block = 128 * 256 * bytes; // 128 rows of A
    let b_block = 128 * bytes; // 128 columns of B
    format!(
        r#".kernel "gemm"
.machine "tiny"
.arg "a" ptr {dtype}
.arg "b" ptr {dtype}
.arg "c" ptr f32
.dispatch round_robin tiles=0
.loc "tt.load" 10 5 "gemm.py" 20 9
.loc "tt.dot" 12 5 "gemm.py" 21 11
.loc "tt.store" 14 5 "gemm.py" 22 5

.tile
    arg r1, 0
    arg r2, 1
    arg r3, 2
    rdspec r5, %pid.x
    rdspec r6, %pid.y
    mul r7, r6, {a_block}
    add r1, r1, r7
    mul r8, r5, {b_block}
    add r2, r2, r8
    mul r9, r6, 131072
    mul r10, r5, 512
    add r3, r3, r9
    add r3, r3, r10
.line 0
    dma.copy {dtype} src=hbm[r1] dst=tsram[0] dims=[(128 256 256), (256 1 1)] signal=t0
    dma.copy {dtype} src=hbm[r2] dst=tsram[65536] dims=[(256 256 128), (128 1 1)] signal=t0
.line 1
    ttu.matmul m=128 n=128 k=256 a=({dtype} tsram[0] 256) b=({dtype} tsram[65536] 128) out=(f32 acc[0] 128) accumulate=0 wait=[t0>=2]
    ttu.drain src=(f32 acc[0] [128,128] [128,1]) dst=(f32 tsram[131072] [128,128] [128,1]) signal=t1
.line 2
    dma.copy f32 src=tsram[131072] dst=hbm[r3] dims=[(128 128 256), (128 1 1)] wait=[t1>=1]
.line none
    halt
"#
    )
}

/// Reference: sequential-k fl32 products and sums from +0.
fn reference_gemm(a: &[f32], b: &[f32], n: usize) -> Vec<f32> {
    let mut c = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            let mut acc = 0f32;
            for k in 0..n {
                acc += a[i * n + k] * b[k * n + j];
            }
            c[i * n + j] = acc;
        }
    }
    c
}

fn gemm_case(dtype: DType, encode: impl Fn(f32) -> Vec<u8>, bytes: u32) {
    let m = machine("tiny");
    let module = module_for(&gemm_text(dtype.name(), bytes), &m);
    let n = 256usize;
    let a_raw: Vec<u8> = values(n * n, 11).into_iter().flat_map(&encode).collect();
    let b_raw: Vec<u8> = values(n * n, 12).into_iter().flat_map(&encode).collect();
    let decode = |raw: &[u8]| -> Vec<f32> {
        raw.chunks_exact(bytes as usize)
            .map(|c| {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                dtype.decode_f32(u64::from_le_bytes(w))
            })
            .collect()
    };
    let want = reference_gemm(&decode(&a_raw), &decode(&b_raw), n);
    let r = launch(
        &module,
        &m,
        [2, 2, 1],
        vec![
            Arg::Buffer(a_raw),
            Arg::Buffer(b_raw),
            Arg::Buffer(vec![0; 4 * n * n]),
        ],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let got = bytes_f32(&r.buffers[2]);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "element {i}: {g} vs {w}");
    }
    let flops = 2 * (n as u64).pow(3);
    assert_eq!(r.stats.total_flops, flops);
    assert!(r.stats.cycles as f64 >= r.stats.roofline_cycles);
    assert!(
        r.stats.by_source_line.contains_key("gemm.py:21"),
        "{:?}",
        r.stats.by_source_line
    );
}

#[test]
fn gemm_bf16_matches_reference() {
    gemm_case(
        DType::BF16,
        |v| half::bf16::from_f32(v).to_bits().to_le_bytes().to_vec(),
        2,
    );
}

#[test]
fn gemm_fp8_matches_reference() {
    // E4M3FN codes from the value's top bits: any byte except the NaNs is a valid code.
    gemm_case(
        DType::F8E4M3FN,
        |v| {
            let code = ((v * 127.0) as i32 as u8) & 0xF7;
            vec![code]
        },
        1,
    );
}

#[test]
fn gemm_mxfp4_with_scales_matches_reference() {
    let m = machine("tiny");
    let module = module_for(GEMM_MXFP4, &m);
    let (mm, nn, kk) = (128usize, 128usize, 256usize);
    let codes = |n: usize, seed: u64| -> Vec<u8> {
        values(n, seed)
            .into_iter()
            .map(|v| ((v + 1.0) * 127.9) as u8)
            .collect()
    };
    let a = codes(mm * kk / 2, 21);
    let b = codes(nn * kk / 2, 22);
    let scales = |n: usize, seed: u64| -> Vec<u8> {
        values(n, seed)
            .into_iter()
            .map(|v| (124.0 + v * 4.0) as u8)
            .collect()
    };
    let (sa, sb) = (scales(mm * kk / 32, 23), scales(nn * kk / 32, 24));
    let nib = |bytes: &[u8], i: usize| -> u64 { u64::from((bytes[i / 2] >> (4 * (i % 2))) & 0xF) };
    let val = |codes: &[u8], sc: &[u8], row: usize, k: usize| -> f32 {
        let e = sc[row * (kk / 32) + k / 32];
        (DType::F4E2M1.decode_f64(nib(codes, row * kk + k)) * 2f64.powi(i32::from(e) - 127)) as f32
    };
    let r = launch(
        &module,
        &m,
        [1, 1, 1],
        vec![
            Arg::Buffer(a.clone()),
            Arg::Buffer(sa.clone()),
            Arg::Buffer(b.clone()),
            Arg::Buffer(sb.clone()),
            Arg::Buffer(vec![0; 4 * mm * nn]),
        ],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let got = bytes_f32(&r.buffers[4]);
    for i in 0..mm {
        for j in 0..nn {
            let mut acc = 0f32;
            for k in 0..kk {
                acc += val(&a, &sa, i, k) * val(&b, &sb, j, k);
            }
            assert_eq!(got[i * nn + j].to_bits(), acc.to_bits(), "({i}, {j})");
        }
    }
    assert_eq!(r.stats.flops.get("fp4"), Some(&(2 * (mm * nn * kk) as u64)));
}

#[test]
fn gemm_bits_do_not_depend_on_the_thread_count() {
    let m = machine("tiny");
    let module = module_for(&gemm_text("bf16", 2), &m);
    let n = 256usize;
    let enc = |seed| -> Vec<u8> {
        values(n * n, seed)
            .into_iter()
            .flat_map(|v| half::bf16::from_f32(v).to_bits().to_le_bytes())
            .collect()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            launch(
                &module,
                &m,
                [2, 2, 1],
                vec![
                    Arg::Buffer(enc(31)),
                    Arg::Buffer(enc(32)),
                    Arg::Buffer(vec![0; 4 * n * n]),
                ],
                &RunOptions::default(),
            )
            .unwrap()
        })
    };
    let (one, many) = (run(1), run(4));
    assert_eq!(one.buffers, many.buffers);
    assert_eq!(one.stats, many.stats);
}
