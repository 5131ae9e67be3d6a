//! The pipelined DMA engine: independent transfers overlap their latency
//! (up to `dma.max_outstanding` in flight), transfers that touch an
//! in-flight transfer's bytes wait for it, transfers retire in issue order,
//! and a signal orders only the accesses of its own transfer and the ones
//! before it.

mod common;

use common::*;
use maiac_backend::machine::Machine;
use maiac_runtime_emu::emu::{EmuError, RunOptions};

/// Eight 1 KiB loads from HBM into disjoint TSRAM rows, all signalling
/// `t0`; the CP waits for all of them.
const EIGHT_LOADS: &str = r#".kernel "eight_loads"
.machine "tiny"
.arg "x" ptr f32
.dispatch round_robin tiles=1
.tile
    arg r1, 0
    dma.copy f32 src=hbm[r1] dst=tsram[0] dims=[(256 1 1)] signal=t0
    dma.copy f32 src=hbm[r1] dst=tsram[1024] dims=[(256 1 1)] signal=t0
    dma.copy f32 src=hbm[r1] dst=tsram[2048] dims=[(256 1 1)] signal=t0
    dma.copy f32 src=hbm[r1] dst=tsram[3072] dims=[(256 1 1)] signal=t0
    dma.copy f32 src=hbm[r1] dst=tsram[4096] dims=[(256 1 1)] signal=t0
    dma.copy f32 src=hbm[r1] dst=tsram[5120] dims=[(256 1 1)] signal=t0
    dma.copy f32 src=hbm[r1] dst=tsram[6144] dims=[(256 1 1)] signal=t0
    dma.copy f32 src=hbm[r1] dst=tsram[7168] dims=[(256 1 1)] signal=t0
    nop wait=[t0>=8]
    halt
"#;

fn tiny_with_outstanding(n: u32) -> Machine {
    let mut m = machine("tiny");
    m.dma.max_outstanding = n;
    m
}

fn cycles(text: &str, m: &Machine, args: Vec<Arg>) -> u64 {
    let module = module_for(text, m);
    launch(&module, m, [1, 1, 1], args, &RunOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .stats
        .cycles
}

#[test]
fn independent_transfers_overlap_their_latency() {
    let serial = tiny_with_outstanding(1);
    let latency = u64::from(serial.hbm.latency_cycles);
    let one = |m: &Machine| cycles(EIGHT_LOADS, m, vec![Arg::Buffer(vec![0; 1024])]);
    let t1 = one(&serial);
    let t8 = one(&tiny_with_outstanding(8));
    // One at a time, every transfer waits out its own latency; eight in
    // flight, the latency is paid about once.
    assert!(t1 >= 8 * latency, "serial: {t1} cycles");
    assert!(t8 + 6 * latency <= t1, "pipelined {t8} vs serial {t1}");
    // More in flight than there are transfers changes nothing.
    assert_eq!(one(&tiny_with_outstanding(64)), t8);
}

/// A load into TSRAM then a store of the same bytes, with no semaphore
/// between them: the store must see the loaded data.
fn load_then_store(store_from: u32) -> String {
    format!(
        r#".kernel "copy_through"
.machine "tiny"
.arg "x" ptr f32
.arg "y" ptr f32
.dispatch round_robin tiles=1
.tile
    arg r1, 0
    arg r2, 1
    dma.copy f32 src=hbm[r1] dst=tsram[0] dims=[(64 1 1)]
    dma.copy f32 src=tsram[{store_from}] dst=hbm[r2] dims=[(64 1 1)] signal=t0
    nop wait=[t0>=1]
    halt
"#
    )
}

#[test]
fn a_transfer_reading_in_flight_bytes_waits_for_them() {
    let m = tiny_with_outstanding(8);
    let x = f32_bytes(&values(64, 7));
    let module = module_for(&load_then_store(0), &m);
    let run = launch(
        &module,
        &m,
        [1, 1, 1],
        vec![Arg::Buffer(x.clone()), Arg::Buffer(vec![0; 256])],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.buffers[1], x);
    // The dependent store pays the load's latency before its own; a store
    // of other bytes overlaps it.
    let dependent = run.stats.cycles;
    let independent = cycles(
        &load_then_store(512),
        &m,
        vec![Arg::Buffer(x), Arg::Buffer(vec![0; 256])],
    );
    let latency = u64::from(m.hbm.latency_cycles);
    assert!(
        dependent >= independent + latency / 2,
        "dependent {dependent}, independent {independent}"
    );
}

/// Two loads signalling `t1` and `t2`; the CP reads the bytes of load
/// `read` after waiting for semaphore `wait`.
fn two_loads_then_read(wait: &str, read: u32) -> String {
    format!(
        r#".kernel "two_loads"
.machine "tiny"
.arg "x" ptr i32
.dispatch round_robin tiles=1
.tile
    arg r1, 0
    dma.copy i32 src=hbm[r1] dst=tsram[0] dims=[(64 1 1)] signal=t1
    dma.copy i32 src=hbm[r1] dst=tsram[256] dims=[(64 1 1)] signal=t2
    ld.w4s r3, tsram[{read}] wait=[{wait}>=1]
    nop wait=[t1>=1, t2>=1]
    halt
"#
    )
}

#[test]
fn transfers_retire_in_order_and_signal_only_what_came_before() {
    let m = tiny_with_outstanding(8);
    let run = |text: String| {
        let module = module_for(&text, &m);
        launch(
            &module,
            &m,
            [1, 1, 1],
            vec![Arg::Buffer(vec![1; 256])],
            &RunOptions::default(),
        )
    };
    // The second load's signal implies the first has retired.
    run(two_loads_then_read("t2", 0)).unwrap_or_else(|e| panic!("{e}"));
    // The first load's signal says nothing about the second, still in flight.
    let err = run(two_loads_then_read("t1", 256)).unwrap_err();
    assert!(matches!(err, EmuError::Race { .. }), "{err}");
}
