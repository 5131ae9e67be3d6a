//! TVP instructions beyond map/reduce: scan, iota, transposing copy and an
//! MX quantize → dequantize round trip, checked against Rust references.

mod common;

use common::*;
use maiac_backend::isa::MxFormat;
use maiac_runtime_emu::emu::RunOptions;

const PROGRAM: &str = r#".kernel "vector_ops"
.machine "tiny"
.arg "x" ptr f32
.arg "scan" ptr f32
.arg "iota" ptr i32
.arg "transposed" ptr f32
.arg "mx" ptr f32
.dispatch round_robin tiles=1

.micro add_f32 inputs=[f32,f32]
    v0 = addf.f32 in0, in1
    out v0
.end

.tile
    arg r1, 0
    arg r2, 1
    arg r3, 2
    arg r4, 3
    arg r5, 4
    dma.copy f32 src=hbm[r1] dst=tsram[0] dims=[(128 1 1)] signal=t0
    tvp.scan add_f32 axis=1 reverse=0 in=[(f32 tsram[0] [4,32] [32,1])] out=[(f32 tsram[1024] [4,32] [32,1])] wait=[t0>=1]
    tvp.iota dst=(i32 tsram[2048] [4,32] [32,1]) start=5 axis=1
    tvp.copy src=(f32 tsram[0] [32,4] [1,32]) dst=(f32 tsram[3072] [32,4] [4,1])
    tvp.mxquant mxfp8-e4m3 src=(f32 tsram[0] [4,32] [32,1]) codes=(f8e4m3fn tsram[4096] [4,32] [32,1]) scales=(e8m0 tsram[4352] [4,1] [1,1])
    tvp.mxdequant mxfp8-e4m3 codes=(f8e4m3fn tsram[4096] [4,32] [32,1]) scales=(e8m0 tsram[4352] [4,1] [1,1]) dst=(f32 tsram[4608] [4,32] [32,1]) signal=t1
    dma.copy f32 src=tsram[1024] dst=hbm[r2] dims=[(128 1 1)] wait=[t1>=1]
    dma.copy i32 src=tsram[2048] dst=hbm[r3] dims=[(128 1 1)]
    dma.copy f32 src=tsram[3072] dst=hbm[r4] dims=[(128 1 1)]
    dma.copy f32 src=tsram[4608] dst=hbm[r5] dims=[(128 1 1)]
    halt
"#;

#[test]
fn scan_iota_copy_and_mx_round_trip() {
    let m = machine("tiny");
    let module = module_for(PROGRAM, &m);
    let x: Vec<f32> = values(128, 9).into_iter().map(|v| v * 10.0).collect();
    let zeros = || Arg::Buffer(vec![0; 512]);
    let r = launch(
        &module,
        &m,
        [1, 1, 1],
        vec![
            Arg::Buffer(f32_bytes(&x)),
            zeros(),
            zeros(),
            zeros(),
            zeros(),
        ],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let scan = bytes_f32(&r.buffers[1]);
    let iota: Vec<i32> = r.buffers[2]
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let transposed = bytes_f32(&r.buffers[3]);
    let mx = bytes_f32(&r.buffers[4]);
    for row in 0..4 {
        let mut acc = x[row * 32];
        for col in 0..32 {
            if col > 0 {
                acc += x[row * 32 + col];
            }
            assert_eq!(
                scan[row * 32 + col].to_bits(),
                acc.to_bits(),
                "scan ({row}, {col})"
            );
            assert_eq!(iota[row * 32 + col], 5 + col as i32);
            assert_eq!(
                transposed[col * 4 + row].to_bits(),
                x[row * 32 + col].to_bits()
            );
        }
        let mut codes = [0u8; 32];
        let fmt = MxFormat::from_name("mxfp8-e4m3").unwrap();
        let scale = fmt.quantize_block(&x[row * 32..row * 32 + 32], &mut codes);
        for col in 0..32 {
            let want = fmt.dequantize(u64::from(codes[col]), u64::from(scale));
            assert_eq!(
                mx[row * 32 + col].to_bits(),
                want.to_bits(),
                "mx ({row}, {col})"
            );
        }
    }
}
