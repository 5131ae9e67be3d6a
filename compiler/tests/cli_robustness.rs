//! Inputs found by the robustness hunt (tools/fuzz_ttir.py and hand-written
//! cases): deeply nested control flow compiles quickly, kernels that never
//! end stop with a located message, launches too large for the cycle limit
//! and machine files outside the supported ranges are rejected; every one
//! exits 1 without a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn maiac(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_maiac"))
        .args(args)
        .output()
        .expect("maiac runs")
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(rel)
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("maiac-cli-robust-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_user_error(o: &Output, expect: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// A kernel storing 1.0 through `%p` inside `depth` nested `scf.for` (or
/// `scf.if`) ops.
fn nested(depth: usize, loops: bool) -> String {
    let mut s = String::from(
        "module {\n  tt.func public @k(%p: !tt.ptr<f32>, %c: i32) {\n    %one = arith.constant 1 : i32\n    %z = arith.constant 0 : i32\n    %f = arith.constant 1.0 : f32\n    %t = arith.cmpi sgt, %c, %z : i32\n",
    );
    for i in 0..depth {
        if loops {
            s += &format!("    scf.for %i{i} = %z to %one step %one : i32 {{\n");
        } else {
            s += "    scf.if %t {\n";
        }
    }
    s += "    tt.store %p, %f : !tt.ptr<f32>\n";
    s += &"    }\n".repeat(depth);
    s += "    tt.return\n  }\n}\n";
    s
}

/// Nested loops and branches used to take time exponential in the depth
/// (tile DCE's per-loop fixpoints, the cleanup's removability walk, the
/// code generator's per-loop dry runs): depth 40 hung.
#[test]
fn deeply_nested_control_flow_compiles_quickly_and_runs_right() {
    let dir = scratch("nested");
    let buf = fixture("corpus/vec_add/out_ptr.npy");
    for loops in [true, false] {
        let k = dir.join(format!("nested_{loops}.ttir"));
        std::fs::write(&k, nested(40, loops)).unwrap();
        let k = k.to_str().unwrap();
        let start = Instant::now();
        let o = maiac(&["compile", k, "-o", dir.join("k.mbin").to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "compile took {:?}",
            start.elapsed()
        );
        let mut outs = Vec::new();
        for cmd in ["interp", "run"] {
            let out = dir.join(format!("{cmd}.npy"));
            let o = maiac(&[
                cmd,
                k,
                "--grid",
                "1",
                "--arg",
                &format!("p={}", buf.display()),
                "--arg",
                "c=1",
                "--out",
                &format!("p={}", out.display()),
            ]);
            assert!(o.status.success(), "{cmd}: {}", stderr(&o));
            outs.push(std::fs::read(&out).unwrap());
        }
        assert_eq!(outs[0], outs[1], "run writes what interp writes");
    }
}

const ENDLESS: &str = "module {
  tt.func public @k(%p: !tt.ptr<f32>, %n: i32) {
    %z = arith.constant 0 : i32
    %r = scf.while (%a = %z) : (i32) -> i32 {
      %c = arith.cmpi sge, %a, %z : i32
      scf.condition(%c) %a : i32
    } do {
    ^bb0(%b: i32):
      %s = arith.muli %b, %z : i32
      scf.yield %s : i32
    }
    %f = arith.sitofp %r : i32 to f32
    tt.store %p, %f : !tt.ptr<f32>
    tt.return
  }
}
";

/// A kernel that never ends used to hang both the interpreter (no limit)
/// and the emulator (a 2^40-cycle limit, hours of emulation).
#[test]
fn an_endless_loop_stops_with_a_located_message() {
    let dir = scratch("endless");
    let k = dir.join("endless.ttir");
    std::fs::write(&k, ENDLESS).unwrap();
    let k = k.to_str().unwrap();
    let buf = format!("p={}", fixture("corpus/vec_add/out_ptr.npy").display());
    let launch = ["--grid", "2", "--arg", &buf, "--arg", "n=3"];
    let o = maiac(&[&["interp", k][..], &launch, &["--max-steps", "1000"]].concat());
    assert_user_error(
        &o,
        &[
            "endless loop",
            "endless.ttir:4:",
            "--max-steps",
            "program (0, 0, 0)",
        ],
    );
    let o = maiac(&[&["run", k][..], &launch, &["--max-cycles", "20000"]].concat());
    assert_user_error(&o, &["cycle limit of 20000", "TTIR", "--max-cycles"]);
    // The defaults stop it too (in seconds).
    let o = maiac(&[&["interp", k][..], &launch].concat());
    assert_user_error(&o, &["endless loop"]);
}

/// 2^31 programs used to materialise every program id before running
/// (tens of GB); a launch that cannot finish within the cycle limit is
/// refused up front.
#[test]
fn an_absurd_launch_is_refused_up_front() {
    let k = fixture("corpus/vec_add/kernel.ttir");
    let arg = |n: &str| {
        format!(
            "{n}={}",
            fixture(&format!("corpus/vec_add/{n}.npy")).display()
        )
    };
    let o = maiac(&[
        "run",
        k.to_str().unwrap(),
        "--grid",
        "2147483648",
        "--arg",
        &arg("x_ptr"),
        "--arg",
        &arg("y_ptr"),
        "--arg",
        &arg("out_ptr"),
        "--arg",
        "n=4",
    ]);
    assert_user_error(&o, &["2147483648 programs", "more than the emulator runs"]);
}

/// Machine files with figures the compiler and emulator cannot represent
/// used to overflow (a panic), abort allocating, or give an internal
/// compiler error.
#[test]
fn machine_files_out_of_range_are_rejected() {
    let dir = scratch("machines");
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/machines/tiny.toml"),
    )
    .unwrap();
    let cases = [
        ("clusters = 2\n", "clusters = 1000000000\n", "at most 65536"),
        (
            "tsram_bytes = 262144\n",
            "tsram_bytes = 18446744073709551615\n",
            "tile.tsram_bytes",
        ),
        ("semaphores = 16\n", "semaphores = 1\n", "tile.semaphores"),
    ];
    let k = fixture("corpus/vec_add/kernel.ttir");
    for (i, (from, to, expect)) in cases.iter().enumerate() {
        assert!(base.contains(from));
        let m = dir.join(format!("m{i}.toml"));
        std::fs::write(&m, base.replacen(from, to, 1)).unwrap();
        let m = m.to_str().unwrap();
        assert_user_error(&maiac(&["machine", "--machine", m]), &[expect]);
        let o = maiac(&[
            "compile",
            k.to_str().unwrap(),
            "--machine",
            m,
            "--emit",
            "asm",
        ]);
        assert_user_error(&o, &[expect]);
    }
}
