//! The `maiac` binary as a user runs it: exit codes, stdout/stderr, and that
//! no bad input makes it panic.

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

fn tmp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("maiac-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_and_fmt_accept_a_real_kernel() {
    let k = fixture("corpus/softmax_rows/kernel.ttir");
    let o = maiac(&["check", k.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = maiac(&["fmt", k.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = tmp_file("printed.ttir", &o.stdout);
    let again = maiac(&["fmt", printed.to_str().unwrap()]);
    assert_eq!(o.stdout, again.stdout, "fmt is idempotent");
}

#[test]
fn bad_input_exits_1_with_a_located_message() {
    let cases: &[(&str, &[u8], &str)] = &[
        ("empty.ttir", b"", "empty input"),
        ("garbage.ttir", b"\xff\xfe\x00garbage{{{", "expected"),
        (
            "unknown_op.ttir",
            b"module {\n  tt.func @k() {\n    tt.frobnicate\n  }\n}\n",
            "unknown op",
        ),
        (
            "truncated.ttir",
            b"module {\n  tt.func @k() {\n",
            "never closed",
        ),
    ];
    for (name, text, expect) in cases {
        let path = tmp_file(name, text);
        for cmd in ["check", "fmt"] {
            let o = maiac(&[cmd, path.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(1), "{cmd} {name}: {}", stderr(&o));
            let err = stderr(&o);
            assert!(err.contains(expect), "{cmd} {name}: {err}");
            assert!(err.contains(name), "{cmd} {name} names the file: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

#[test]
fn interp_reports_launch_errors() {
    let k = fixture("corpus/vec_add/kernel.ttir");
    let o = maiac(&["interp", k.to_str().unwrap(), "--grid", "0", "--arg", "n=4"]);
    assert_eq!(o.status.code(), Some(1));
    let o = maiac(&["interp", k.to_str().unwrap(), "--grid", "4", "--arg", "n=4"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("x_ptr"),
        "names the missing argument: {}",
        stderr(&o)
    );
}

#[test]
fn machine_json_has_the_published_peaks() {
    let o = maiac(&["machine", "--json"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for key in [
        "\"clusters\"",
        "\"tiles_per_cluster\"",
        "\"peak_tflops\"",
        "\"hbm_tb_per_s\"",
        "\"sram_bytes\"",
    ] {
        assert!(text.contains(key), "missing {key}: {text}");
    }
    let o = maiac(&["machine", "--machine", "no-such-machine"]);
    assert_eq!(o.status.code(), Some(1));
}
