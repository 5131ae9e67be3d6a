//! `maiac compile` and `maiac run KERNEL.ttir` as a user runs them: outputs,
//! exit codes, located diagnostics, launch errors naming the argument.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("maiac-cli-compile-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 1 with a message, and no panic.
fn assert_user_error(o: &Output, expect: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains(expect), "expected {expect:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn compile_writes_the_binary_next_to_the_input_or_to_dash_o() {
    let dir = scratch("binary");
    let kernel = dir.join("vec_add.ttir");
    std::fs::copy(fixture("corpus/vec_add/kernel.ttir"), &kernel).unwrap();
    let o = maiac(&["compile", kernel.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let default_out = dir.join("vec_add.mbin");
    assert!(
        default_out.is_file(),
        "{} was not written",
        default_out.display()
    );
    // The binary disassembles.
    let o = maiac(&["disasm", default_out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let named = dir.join("other.mbin");
    let o = maiac(&[
        "compile",
        kernel.to_str().unwrap(),
        "-o",
        named.to_str().unwrap(),
        "--machine",
        "maia200-like",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&named).unwrap(),
        std::fs::read(&default_out).unwrap(),
        "compiles are deterministic"
    );
}

#[test]
fn emit_prints_every_stage() {
    let kernel = fixture("corpus/softmax_rows/kernel.ttir");
    for (stage, marker) in [
        ("ttir", "tt.func"),
        ("tile", "tile.kernel"),
        ("sched", ""),
        ("asm", ""),
    ] {
        let o = maiac(&["compile", kernel.to_str().unwrap(), "--emit", stage]);
        assert!(o.status.success(), "--emit {stage}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(!text.trim().is_empty(), "--emit {stage} printed nothing");
        assert!(text.contains(marker), "--emit {stage}: {text}");
    }
    let o = maiac(&[
        "compile",
        kernel.to_str().unwrap(),
        "--emit",
        "tile",
        "--print-ir-after-all",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dumps = stderr(&o);
    assert!(
        dumps.contains("IR after constant-fold") && dumps.contains("IR after lower"),
        "{dumps}"
    );
}

#[test]
fn compile_errors_exit_1_with_the_location() {
    let o = maiac(&[
        "compile",
        fixture("corpus/vec_add/kernel.ttir").to_str().unwrap(),
        "--emit",
        "llvm",
    ]);
    assert_user_error(&o, "--emit");
    let o = maiac(&["compile", "/nonexistent/kernel.ttir"]);
    assert_user_error(&o, "cannot read");
    let o = maiac(&[
        "compile",
        fixture("corpus/vec_add/kernel.ttir").to_str().unwrap(),
        "--machine",
        "no-such-machine",
    ]);
    assert_user_error(&o, "no-such-machine");

    // A loop made of branches is refused at the back-edge, with line:col
    // (acyclic branches, Triton's early `return`, compile to ifs).
    let dir = scratch("cf");
    let kernel = dir.join("branchy.ttir");
    std::fs::write(
        &kernel,
        "module {\n  tt.func public @k(%p: !tt.ptr<f32>) {\n    cf.br ^bb1\n  ^bb1:\n    cf.br ^bb1\n  }\n}\n",
    )
    .unwrap();
    let o = maiac(&["check", kernel.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "the kernel is valid TTIR: {}",
        stderr(&o)
    );
    let o = maiac(&["compile", kernel.to_str().unwrap()]);
    assert_user_error(&o, "unstructured control flow");
    assert!(stderr(&o).contains("branchy.ttir:5:5"), "{}", stderr(&o));
}

#[test]
fn run_compiles_ttir_in_memory() {
    let case = fixture("corpus/vec_add");
    let dir = scratch("run");
    let out = dir.join("out.npy");
    let arg = |name: &str| format!("{name}={}", case.join(format!("{name}.npy")).display());
    let (x, y, o_in) = (arg("x_ptr"), arg("y_ptr"), arg("out_ptr"));
    let out_arg = format!("out_ptr={}", out.display());
    let kernel = case.join("kernel.ttir");
    let base = ["run", kernel.to_str().unwrap()];
    let launch = [
        "--arg", &x, "--arg", &y, "--arg", &o_in, "--arg", "n=4000", "--out", &out_arg,
    ];

    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--grid", "4", "--stats", "json"]);
    args.extend(launch);
    let o = maiac(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(stdout(&o).trim()).expect("exactly one JSON object on stdout");
    assert!(json.is_object());
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(case.join("out_ptr.expected.npy")).unwrap()
    );

    for grid in ["0", "4294967296", "1,0"] {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--grid", grid]);
        args.extend(launch);
        assert_user_error(&maiac(&args), "--grid");
    }
}

/// A kernel whose blocks cannot fit the tile's SRAM is refused at the op
/// where the working set peaks, naming the file, line:col and Python line.
#[test]
fn a_kernel_that_does_not_fit_sram_exits_1_with_the_location() {
    let source = std::fs::read_to_string(fixture("corpus/vec_add/kernel.ttir")).unwrap();
    // The same kernel with BLOCK = 2^19 elements per program.
    let huge = source.replace("1024", "524288");
    let dir = scratch("sram");
    let kernel = dir.join("huge.ttir");
    std::fs::write(&kernel, huge).unwrap();
    let o = maiac(&["compile", kernel.to_str().unwrap(), "--machine", "tiny"]);
    assert_user_error(&o, "does not fit in TSRAM");
    let err = stderr(&o);
    assert!(err.contains("huge.ttir:"), "{err}");
    assert!(err.contains("python:"), "{err}");
}
