//! Compiles every case folder under `tests/fixtures/` with the default
//! pipeline (`maiac_compiler::driver`), runs the binary on the emulator and
//! compares each written buffer with its `NAME.expected.npy`, exactly like
//! `shared/tools/check_case.py --mode run`.
//!
//! Cases that do not pass yet are listed in [`EXPECTED_FAILURES`] with the
//! reason; the test fails on any *other* failure, so nothing regresses
//! silently. A listed case that passes is reported so the list can shrink.

use std::time::Instant;

use maiac_compiler::driver::{compile_module, CompileOptions};
use maiac_compiler::run::binary_params;
use maiac_runtime_emu::emu::{run, RunOptions};
use maiac_runtime_emu::launch::{bind, HostBuffer};
use maiac_tests::case::{compare_buffers, discover_cases, fixtures_dir, Case};

/// `(case folder name, why it fails)`. Shrink this as work lands.
const EXPECTED_FAILURES: &[(&str, &str)] = &[];

/// Compiles and runs one case; the error says what went wrong.
fn run_case(case: &Case) -> Result<(), String> {
    let source = std::fs::read_to_string(&case.kernel).map_err(|e| e.to_string())?;
    let mut module = maiac_ir::check::check_text(&source, &case.kernel.display().to_string())
        .map_err(|ds| {
            ds.iter()
                .map(|d| d.render(Some(&source)))
                .collect::<String>()
        })?;
    let machine = maiac_backend::machine::resolve_or_default(None).map_err(|e| e.to_string())?;
    let compiled = compile_module(&mut module, &machine, &CompileOptions::default())
        .map_err(|d| d.render(Some(&source)))?;
    let binary = compiled
        .module
        .ok_or("the compiler stopped before code generation")?;
    let params = binary_params(&binary);
    let spec = case.launch_spec()?;
    let launch = bind(&params, &spec).map_err(|e| e.to_string())?;
    let outcome =
        run(&binary, &machine, &launch, &RunOptions::default()).map_err(|e| e.to_string())?;
    for arg in case.outputs() {
        // Arguments bind by name, or by position when the TTIR renamed the
        // parameters (Triton 3.2's `%argN`).
        let param_name = if params.iter().any(|p| p.name == arg.name) {
            arg.name.clone()
        } else {
            spec.args
                .iter()
                .position(|(n, _)| *n == arg.name)
                .and_then(|i| params.get(i))
                .map(|p| p.name.clone())
                .unwrap_or_else(|| arg.name.clone())
        };
        let index = launch
            .buffers
            .iter()
            .position(|b| b.name == param_name)
            .ok_or_else(|| format!("{} is not a buffer of the kernel", arg.name))?;
        let input = &launch.buffers[index].host;
        let got = HostBuffer {
            dtype: input.dtype.clone(),
            shape: input.shape.clone(),
            bytes: outcome.buffers[index].clone(),
        };
        let expected_path = arg
            .expected
            .as_ref()
            .expect("outputs have an expected file");
        let expected = HostBuffer::read(expected_path)
            .map_err(|e| format!("{}: {e}", expected_path.display()))?;
        compare_buffers(&arg.name, &arg.ty, &got, &expected, case.atol, case.rtol)?;
    }
    Ok(())
}

#[test]
fn compiled_kernels_match_every_fixture_case() {
    let dirs = discover_cases(&fixtures_dir());
    assert!(
        !dirs.is_empty(),
        "no case folders under {}",
        fixtures_dir().display()
    );
    let (mut passed, mut expected_failures, mut unexpected, mut now_passing) =
        (0, 0, Vec::new(), Vec::new());
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let listed = EXPECTED_FAILURES.iter().find(|(n, _)| *n == name);
        let start = Instant::now();
        // A panic in the compiler or emulator is a failure of this case, not
        // of the whole sweep.
        let result = std::panic::catch_unwind(|| Case::load(dir).and_then(|case| run_case(&case)))
            .unwrap_or_else(|_| Err("panicked".to_string()));
        let ms = start.elapsed().as_secs_f64() * 1e3;
        match (result, listed) {
            (Ok(()), None) => {
                passed += 1;
                eprintln!("PASS {name} ({ms:.1} ms)");
            }
            (Ok(()), Some(_)) => {
                passed += 1;
                eprintln!("PASS {name} ({ms:.1} ms) -- listed as an expected failure: remove it from the list");
                now_passing.push(name);
            }
            (Err(e), Some((_, reason))) => {
                expected_failures += 1;
                let first = e.lines().next().unwrap_or("");
                eprintln!("XFAIL {name}: {reason} ({first})");
            }
            (Err(e), None) => {
                eprintln!("FAIL {name}: {e}");
                unexpected.push(format!("{name}: {e}"));
            }
        }
    }
    eprintln!(
        "compiled fixtures: {passed} passed, {expected_failures} expected failures, {} unexpected failures, of {}",
        unexpected.len(),
        dirs.len()
    );
    if !now_passing.is_empty() {
        eprintln!(
            "now passing (remove from EXPECTED_FAILURES): {}",
            now_passing.join(", ")
        );
    }
    assert!(
        unexpected.is_empty(),
        "unexpected failures:\n{}",
        unexpected.join("\n")
    );
}
