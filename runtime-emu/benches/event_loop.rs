//! Emulator throughput of the event loop itself (not of the engines'
//! functional work): 128 programs on the 128 tiles of `maia200-like`,
//! race detection on as in `maiac run`. `cp_loop` is register-bound CP
//! code (a 3-instruction loop, 20,000 iterations per tile: 60,002 modelled
//! cycles, 7.68 M instructions); `dma_wait` is a loop of a small DMA copy
//! and a semaphore wait per iteration (500 per tile: 21,502 cycles), so
//! every iteration goes through engine events and wake-ups. Figures go in
//! docs/performance.md under "Emulator".

use maiac_backend::asm::assemble;
use maiac_backend::machine::builtin;
use maiac_runtime_emu::emu::{run_raw, RunOptions};

fn main() {
    divan::main();
}

const CP_LOOP: &str = r#".kernel "cp_loop"
.machine "maia200-like"
.dispatch round_robin tiles=0
.tile
    mov r1, 20000
L1:
    add r2, r2, 3
    xor r3, r3, r2
    loop r1, L1
    halt
"#;

const DMA_WAIT: &str = r#".kernel "dma_wait"
.machine "maia200-like"
.dispatch round_robin tiles=0
.tile
    mov r1, 500
L1:
    dma.copy i32 src=tsram[0] dst=tsram[64] dims=[(16 1 1)] signal=t0
    add r61, r61, 1
    nop wait=[t0>=r61]
    loop r1, L1
    halt
"#;

fn bench_kernel(bencher: divan::Bencher, text: &str, cycles: u64) {
    let machine = builtin("maia200-like").expect("maia200-like machine");
    let mut module = assemble(text).expect("kernel assembles");
    module.machine = machine.reference();
    let opts = RunOptions::default();
    bencher.bench(|| {
        let out = run_raw(&module, &machine, [128, 1, 1], &[], Vec::new(), &opts).expect("runs");
        assert_eq!(out.stats.cycles, cycles);
        out
    });
}

/// Register-bound CP loops on every tile.
#[divan::bench]
fn cp_loop_128_tiles(bencher: divan::Bencher) {
    bench_kernel(bencher, CP_LOOP, 60_002);
}

/// DMA + semaphore wait per iteration on every tile.
#[divan::bench]
fn dma_wait_128_tiles(bencher: divan::Bencher) {
    bench_kernel(bencher, DMA_WAIT, 21_502);
}
