//! Chip barriers order one tile's HBM writes before another tile's reads;
//! without the barrier the same exchange is reported as a race. Scatter
//! writes by address list.

mod common;

use common::*;
use maiac_runtime_emu::emu::{EmuError, RunOptions};
use maiac_runtime_emu::launch::buffer_base;

/// Each of two tiles writes 4 values to `a[pid]`, then reads the other
/// tile's 4 values and stores them to `b[pid]`.
const EXCHANGE: &str = r#".kernel "exchange"
.machine "tiny"
.arg "src" ptr f32
.arg "a" ptr f32
.arg "b" ptr f32
.dispatch round_robin tiles=2
.loc "tt.store" 3 5 "exchange.py" 5 5
.loc "tt.load" 4 5 "exchange.py" 7 9

.tile
    arg r1, 0
    arg r2, 1
    arg r3, 2
    rdspec r5, %pid.x
    shl r6, r5, 4
    add r7, r1, r6
    add r8, r2, r6
    add r9, r3, r6
    xor r10, r5, 1
    shl r10, r10, 4
    add r11, r2, r10
    dma.copy f32 src=hbm[r7] dst=tsram[0] dims=[(4 1 1)] signal=t0
.line 0
    dma.copy f32 src=tsram[0] dst=hbm[r8] dims=[(4 1 1)] wait=[t0>=1]
.line none
    barrier chip
.line 1
    dma.copy f32 src=hbm[r11] dst=tsram[64] dims=[(4 1 1)] signal=t1
.line none
    dma.copy f32 src=tsram[64] dst=hbm[r9] dims=[(4 1 1)] wait=[t1>=1]
    halt
"#;

fn exchange(text: &str) -> Result<Vec<f32>, EmuError> {
    let m = machine("tiny");
    let module = module_for(text, &m);
    let src: Vec<f32> = (0..8).map(|i| i as f32).collect();
    let args = vec![
        Arg::Buffer(f32_bytes(&src)),
        Arg::Buffer(vec![0; 32]),
        Arg::Buffer(vec![0; 32]),
    ];
    launch(&module, &m, [2, 1, 1], args, &RunOptions::default()).map(|r| bytes_f32(&r.buffers[2]))
}

#[test]
fn chip_barrier_orders_tiles() {
    let b = exchange(EXCHANGE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b, vec![4.0, 5.0, 6.0, 7.0, 0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn exchange_without_barrier_is_a_race() {
    let err = exchange(&EXCHANGE.replace("    barrier chip\n", "    nop\n")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EmuError::Race { .. }), "{text}");
    assert!(
        text.contains("exchange.py:5") && text.contains("exchange.py:7"),
        "{text}"
    );
}

#[test]
fn scatter_writes_by_address() {
    let text = r#".kernel "scatter"
.machine "tiny"
.arg "addrs" ptr i64
.arg "vals" ptr i32
.arg "out" ptr i32
.dispatch round_robin tiles=1

.tile
    arg r1, 0
    arg r2, 1
    dma.copy i64 src=hbm[r1] dst=tsram[0] dims=[(8 1 1)]
    dma.copy i32 src=hbm[r2] dst=tsram[128] dims=[(8 1 1)]
    dma.scatter i32 n=8 addrs=tsram[0] src=tsram[128]
    halt
"#;
    let m = machine("tiny");
    let module = module_for(text, &m);
    let addrs: Vec<u8> = (0..8u64)
        .flat_map(|i| (buffer_base(2) + 4 * (7 - i)).to_le_bytes())
        .collect();
    let vals: Vec<u8> = (10..18i32).flat_map(|v| v.to_le_bytes()).collect();
    let r = launch(
        &module,
        &m,
        [1, 1, 1],
        vec![
            Arg::Buffer(addrs),
            Arg::Buffer(vals),
            Arg::Buffer(vec![0; 32]),
        ],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out: Vec<i32> = r.buffers[2]
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(out, (10..18).rev().collect::<Vec<i32>>());
    // One address past the end of `out` is an out-of-bounds error.
    let bad: Vec<u8> = (0..8u64)
        .flat_map(|i| (buffer_base(2) + 4 * (8 - i)).to_le_bytes())
        .collect();
    let vals: Vec<u8> = (10..18i32).flat_map(|v| v.to_le_bytes()).collect();
    let err = launch(
        &module,
        &m,
        [1, 1, 1],
        vec![
            Arg::Buffer(bad),
            Arg::Buffer(vals),
            Arg::Buffer(vec![0; 32]),
        ],
        &RunOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("dma.scatter"), "{err}");
}
