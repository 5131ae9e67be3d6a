//! Capacity, bounds, race and deadlock violations are errors that name the
//! instruction and its source line; runs are deterministic whatever the
//! thread count.

mod common;

use common::*;
use maiac_runtime_emu::emu::{EmuError, RunOptions};

const VEC_ADD: &str = include_str!("../../backend/asm/vec_add.s");
const SOFTMAX: &str = include_str!("../../backend/asm/softmax_rows.s");

fn vec_add_args(x_len: usize, n: usize) -> Vec<Arg> {
    vec![
        Arg::Buffer(f32_bytes(&values(x_len, 1))),
        Arg::Buffer(f32_bytes(&values(n, 2))),
        Arg::Buffer(vec![0; 4 * n]),
        Arg::Scalar(n as u64),
    ]
}

#[test]
fn hbm_out_of_bounds_names_instruction_and_line() {
    let m = machine("tiny");
    let module = module_for(VEC_ADD, &m);
    let err = launch(
        &module,
        &m,
        [1, 1, 1],
        vec_add_args(100, 1000),
        &RunOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EmuError::Fault { .. }), "{text}");
    assert!(text.contains("out of bounds"), "{text}");
    assert!(text.contains("dma.copy"), "{text}");
    assert!(text.contains("vec_add.py:8"), "{text}");
}

/// A DMA into TSRAM at a register offset (so only execution can catch it).
fn tsram_store_at(offset: u64, bytes: u32) -> String {
    format!(
        r#".kernel "k"
.machine "tiny"
.arg "x" ptr f32
.dispatch round_robin tiles=0
.loc "tt.load" 3 5 "k.py" 4 9

.tile
    arg r1, 0
    mov r2, {offset}
.line 0
    dma.copy f32 src=hbm[r1] dst=tsram[r2] dims=[({n} 1 1)] signal=t0
.line none
    halt
"#,
        n = bytes / 4
    )
}

#[test]
fn tsram_capacity_violation_is_caught() {
    let m = machine("tiny");
    let cap = m.tile.tsram_bytes;
    let ok = module_for(&tsram_store_at(cap - 1024, 1024), &m);
    launch(
        &ok,
        &m,
        [1, 1, 1],
        vec![Arg::Buffer(vec![0; 1024])],
        &RunOptions::default(),
    )
    .unwrap();
    let bad = module_for(&tsram_store_at(cap - 512, 1024), &m);
    let err = launch(
        &bad,
        &m,
        [1, 1, 1],
        vec![Arg::Buffer(vec![0; 1024])],
        &RunOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("capacity of the TSRAM of tile 0"), "{text}");
    assert!(text.contains("k.py:4"), "{text}");
}

#[test]
fn missing_semaphore_wait_is_a_race() {
    let m = machine("tiny");
    let racy = SOFTMAX.replacen(
        "out=[(f32 tsram[512] [] [])] wait=[t0>=1]",
        "out=[(f32 tsram[512] [] [])]",
        1,
    );
    assert_ne!(racy, SOFTMAX);
    let module = module_for(&racy, &m);
    let args = vec![
        Arg::Buffer(f32_bytes(&values(128, 3))),
        Arg::Buffer(vec![0; 512]),
        Arg::Scalar(128),
        Arg::Scalar(128),
    ];
    let err = launch(&module, &m, [1, 1, 1], args, &RunOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, EmuError::Race { .. }), "{text}");
    assert!(text.starts_with("race between `dma.copy"), "{text}");
    assert!(
        text.contains("softmax.py:7") && text.contains("softmax.py:8"),
        "{text}"
    );
}

#[test]
fn unsatisfiable_wait_is_a_deadlock() {
    let m = machine("tiny");
    let stuck = SOFTMAX.replacen("wait=[t0>=1]", "wait=[t0>=2]", 1);
    let module = module_for(&stuck, &m);
    let args = vec![
        Arg::Buffer(f32_bytes(&values(128, 3))),
        Arg::Buffer(vec![0; 512]),
        Arg::Scalar(128),
        Arg::Scalar(128),
    ];
    let err = launch(&module, &m, [1, 1, 1], args, &RunOptions::default()).unwrap_err();
    assert!(matches!(err, EmuError::Deadlock(_)), "{err}");
    assert!(err.to_string().contains("tvp"), "{err}");
}

#[test]
fn same_bits_with_one_and_many_threads() {
    let m = machine("tiny");
    let module = module_for(VEC_ADD, &m);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let opts = RunOptions {
                trace: true,
                ..RunOptions::default()
            };
            launch(&module, &m, [3, 1, 1], vec_add_args(3000, 3000), &opts).unwrap()
        })
    };
    let (a, b) = (run(1), run(4));
    assert_eq!(a.buffers, b.buffers);
    assert_eq!(a.stats, b.stats);
    assert_eq!(a.trace, b.trace);
}

#[test]
fn trace_has_one_track_per_engine_per_tile() {
    let m = machine("tiny");
    let module = module_for(VEC_ADD, &m);
    let opts = RunOptions {
        trace: true,
        ..RunOptions::default()
    };
    let r = launch(&module, &m, [2, 1, 1], vec_add_args(2048, 2048), &opts).unwrap();
    let json: serde_json::Value = serde_json::from_str(r.trace.as_deref().unwrap()).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"tile 1 tvp") && names.contains(&"tile 0 dma"),
        "{names:?}"
    );
    assert!(events
        .iter()
        .any(|e| e["ph"] == "X" && e["name"] == "tvp.map"));
    let stats: serde_json::Value = serde_json::from_str(&r.stats.to_json()).unwrap();
    for key in [
        "cycles",
        "seconds",
        "flops",
        "hbm_bytes",
        "roofline_cycles",
        "roofline_fraction",
        "engine_busy",
        "by_source_line",
    ] {
        assert!(stats.get(key).is_some(), "missing {key}");
    }
    assert!(stats["by_source_line"]["vec_add.py:9"].as_u64().unwrap() > 0);
}
