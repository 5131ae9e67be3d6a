//! Property: over random valid programs the modelled time is never below
//! the roofline bound, the achieved fraction is at most 1, and the bound's
//! bytes are the distinct HBM bytes the program touches.

mod common;

use common::*;
use maiac_runtime_emu::emu::RunOptions;
use proptest::prelude::*;

/// A random program: `loads` HBM→TSRAM copies of `len` f32 each (distinct
/// TSRAM slots), an optional bf16 matmul `m×n×k` + drain + store, and a
/// map over the first load written back to HBM.
fn program(loads: &[u32], mm: Option<(u32, u32, u32)>) -> String {
    let mut body = String::new();
    let mut offset = 0u64;
    for &len in loads {
        body.push_str(&format!(
            "    dma.copy f32 src=hbm[r1] dst=tsram[{offset}] dims=[({len} 1 1)] signal=t0\n"
        ));
        offset += u64::from(len) * 4;
    }
    let n_loads = loads.len();
    body.push_str(&format!(
        "    tvp.map add_f32 in=[(f32 tsram[0] [{l}] [1]), (f32 tsram[0] [{l}] [1])] out=[(f32 tsram[131072] [{l}] [1])] wait=[t0>={n_loads}] signal=t1\n    dma.copy f32 src=tsram[131072] dst=hbm[r2] dims=[({l} 1 1)] wait=[t1>=1] signal=t2\n",
        l = loads[0]
    ));
    if let Some((m, n, k)) = mm {
        body.push_str(&format!(
            "    ttu.matmul m={m} n={n} k={k} a=(bf16 tsram[0] {k}) b=(bf16 tsram[0] {n}) out=(f32 acc[0] {n}) accumulate=0 wait=[t0>={n_loads}]\n    ttu.drain src=(f32 acc[0] [{m},{n}] [{n},1]) dst=(f32 tsram[196608] [{m},{n}] [{n},1]) signal=t3\n    dma.copy f32 src=tsram[196608] dst=hbm[r3] dims=[({m} {n} {n}), ({n} 1 1)] wait=[t3>=1, t2>=1]\n"
        ));
    }
    format!(
        r#".kernel "random"
.machine "tiny"
.arg "x" ptr f32
.arg "y" ptr f32
.arg "z" ptr f32
.dispatch round_robin tiles=0

.micro add_f32 inputs=[f32,f32]
    v0 = addf.f32 in0, in1
    out v0
.end

.tile
    arg r1, 0
    arg r2, 1
    arg r3, 2
    rdspec r5, %pid.x
    mul r6, r5, 65536
    add r2, r2, r6
    add r3, r3, r6
{body}    halt
"#
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn modelled_cycles_never_beat_the_roofline(
        loads in prop::collection::vec(1u32..4096, 1..5),
        mm in prop::option::of((1u32..64, 1u32..64, 1u32..64)),
        grid in 1u32..9,
    ) {
        let m = machine("tiny");
        let module = module_for(&program(&loads, mm), &m);
        let args = vec![
            Arg::Buffer(f32_bytes(&values(4096, 5))),
            Arg::Buffer(vec![0; 65536 * 9]),
            Arg::Buffer(vec![0; 65536 * 9]),
        ];
        let r = launch(&module, &m, [grid, 1, 1], args, &RunOptions::default()).unwrap();
        prop_assert!(r.stats.cycles as f64 >= r.stats.roofline_cycles, "{:?}", r.stats);
        prop_assert!(r.stats.roofline_fraction <= 1.0);
        prop_assert!(r.stats.roofline_cycles > 0.0);
        // Every program reads the same first `max(loads)` elements of `x`
        // and writes its own rows of `y` (and `z`), 64 KiB apart.
        let read = 4 * u64::from(*loads.iter().max().unwrap());
        let per_program = 4 * u64::from(loads[0]) + mm.map_or(0, |(m, n, _)| 4 * u64::from(m * n));
        let unique = read + u64::from(grid) * per_program;
        prop_assert_eq!(r.stats.hbm_unique_bytes, unique);
        prop_assert!(r.stats.hbm_unique_bytes <= r.stats.hbm_bytes);
    }
}
