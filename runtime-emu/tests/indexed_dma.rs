//! Indexed DMA: HBM atomics (old values returned, several tiles adding to
//! the same counters without a race) and gathers by address list.

mod common;

use common::*;
use maiac_runtime_emu::emu::RunOptions;
use maiac_runtime_emu::launch::buffer_base;

const PROGRAM: &str = r#".kernel "histo"
.machine "tiny"
.arg "counts" ptr i32
.arg "addrs" ptr i64
.arg "vals" ptr i32
.arg "old" ptr i32
.arg "gathered" ptr i32
.dispatch round_robin tiles=0
.loc "tt.atomic_rmw" 5 5 "histo.py" 12 9

.tile
    arg r1, 0
    arg r2, 1
    arg r3, 2
    arg r4, 3
    arg r5, 4
    dma.copy i64 src=hbm[r2] dst=tsram[0] dims=[(16 1 1)]
    dma.copy i32 src=hbm[r3] dst=tsram[256] dims=[(16 1 1)]
.line 0
    dma.atomic add i32 n=16 addrs=tsram[0] values=tsram[256] old=tsram[512]
.line none
    dma.copy i32 src=tsram[512] dst=hbm[r4] dims=[(16 1 1)]
    dma.gather i32 n=16 addrs=tsram[0] dst=tsram[768] fill=0
    dma.copy i32 src=tsram[768] dst=hbm[r5] dims=[(16 1 1)]
    halt
"#;

fn i32s(b: &[u8]) -> Vec<i32> {
    b.chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn args() -> (Vec<Arg>, Vec<usize>, Vec<i32>) {
    let bins: Vec<usize> = (0..16).map(|i| (i * 5) % 8).collect();
    let vals: Vec<i32> = (1..=16).collect();
    let addrs: Vec<u8> = bins
        .iter()
        .flat_map(|&b| (buffer_base(0) + 4 * b as u64).to_le_bytes())
        .collect();
    let args = vec![
        Arg::Buffer(vec![0; 32]),
        Arg::Buffer(addrs),
        Arg::Buffer(vals.iter().flat_map(|v| v.to_le_bytes()).collect()),
        Arg::Buffer(vec![0; 64]),
        Arg::Buffer(vec![0; 64]),
    ];
    (args, bins, vals)
}

#[test]
fn atomics_return_old_values_in_element_order() {
    let m = machine("tiny");
    // The gather reads what this tile's atomics wrote, ordered by the DMA queue.
    let module = module_for(PROGRAM, &m);
    let (a, bins, vals) = args();
    let r =
        launch(&module, &m, [1, 1, 1], a, &RunOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut counts = [0i32; 8];
    let mut olds = Vec::new();
    for (&b, &v) in bins.iter().zip(&vals) {
        olds.push(counts[b]);
        counts[b] += v;
    }
    assert_eq!(i32s(&r.buffers[0]), counts.to_vec());
    assert_eq!(i32s(&r.buffers[3]), olds);
    let gathered: Vec<i32> = bins.iter().map(|&b| counts[b]).collect();
    assert_eq!(i32s(&r.buffers[4]), gathered);
}

#[test]
fn atomics_from_several_tiles_do_not_race() {
    let m = machine("tiny");
    let no_gather = PROGRAM
        .replace(
            "    dma.gather i32 n=16 addrs=tsram[0] dst=tsram[768] fill=0\n",
            "",
        )
        .replace(
            "    dma.copy i32 src=tsram[768] dst=hbm[r5] dims=[(16 1 1)]\n",
            "",
        )
        .replace(
            "    dma.copy i32 src=tsram[512] dst=hbm[r4] dims=[(16 1 1)]\n",
            "",
        );
    let module = module_for(&no_gather, &m);
    let (a, bins, vals) = args();
    let r =
        launch(&module, &m, [3, 1, 1], a, &RunOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut counts = [0i32; 8];
    for (&b, &v) in bins.iter().zip(&vals) {
        counts[b] += 3 * v;
    }
    assert_eq!(i32s(&r.buffers[0]), counts.to_vec());
}
