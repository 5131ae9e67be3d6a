//! The cycle model's shared per-cluster resources: tiles of one cluster
//! reading its CSRAM at the same time share the CSRAM ports, so two
//! concurrent transfers take longer than one, while transfers in two
//! different clusters do not slow each other down.

mod common;

use common::*;
use maiac_runtime_emu::emu::RunOptions;

/// Every instance copies 64 KiB from its cluster's CSRAM into its TSRAM.
/// `tiles=` lists which global tiles the two instances run on.
fn program(tiles: &str) -> String {
    format!(
        r#".kernel "csram_read"
.machine "tiny"
.arg "out" ptr f32
.dispatch explicit grid=[2,1,1] tiles={tiles}
.tile
    dma.copy f32 src=csram[0] dst=tsram[0] dims=[(16384 1 1)] signal=t0
    nop wait=[t0>=1]
    halt
"#
    )
}

fn cycles(tiles: &str) -> u64 {
    // Tiny's tile DMA moves 32 B/cycle; ports of 48 B/cycle serve one
    // transfer at full speed but not two.
    let mut m = machine("tiny");
    m.cluster.csram_bytes_per_cycle = 48;
    let module = module_for(&program(tiles), &m);
    launch(
        &module,
        &m,
        [2, 1, 1],
        vec![Arg::Buffer(vec![0u8; 64])],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .stats
    .cycles
}

#[test]
fn tiles_of_one_cluster_share_its_csram_ports() {
    // Tiny: tiles 0 and 1 are in cluster 0, tile 2 in cluster 1.
    let same_cluster = cycles("[[0],[1]]");
    let different_clusters = cycles("[[0],[],[1]]");
    assert!(
        same_cluster > different_clusters,
        "same cluster {same_cluster} cycles, different clusters {different_clusters}"
    );
}

/// A control-processor load ordered after a TVP write by a semaphore wait
/// is not a race (the wait's ordering covers the load's own access).
#[test]
fn a_cp_load_after_a_semaphore_wait_is_ordered() {
    let text = r#".kernel "ld_after_wait"
.machine "tiny"
.arg "out" ptr i32
.dispatch round_robin tiles=1
.micro seven inputs=[]
    out i32:0x7
.end
.tile
    tvp.map seven in=[] out=[(i32 tsram[64] [] [])] signal=t2
    ld.w4s r1, tsram[64] wait=[t2>=1]
    arg r2, 0
    st.w4 r1, tsram[0]
    dma.copy i32 src=tsram[0] dst=hbm[r2] dims=[(1 1 1)] signal=t0
    halt
"#;
    let m = machine("tiny");
    let module = module_for(text, &m);
    let r = launch(
        &module,
        &m,
        [1, 1, 1],
        vec![Arg::Buffer(vec![0u8; 4])],
        &RunOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.buffers[0], 7i32.to_le_bytes());
}
