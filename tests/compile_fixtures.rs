//! Compiles every case folder under `tests/fixtures/` with the default
//! pipeline (`maiac_compiler::driver`), runs the binary on the emulator and
//! compares each written buffer with its `NAME.expected.npy`, exactly like
//! `shared/tools/check_case.py --mode run`.
//!
//! A second sweep runs every case on the `tiny` machine (4 tiles), so
//! that most grids put several instances on a tile — the path of the
//! `instance-loop` pass and of round robin's later instances, which the
//! default machine's 128 tiles rarely take with fixture-sized grids.
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

/// Why a compile for a machine failed.
enum Failure {
    /// The kernel's working set does not fit the machine's SRAM (a located
    /// diagnostic, the right answer on a small machine).
    DoesNotFit(String),
    Other(String),
}

impl From<String> for Failure {
    fn from(e: String) -> Failure {
        Failure::Other(e)
    }
}

impl From<&str> for Failure {
    fn from(e: &str) -> Failure {
        Failure::Other(e.to_string())
    }
}

/// Compiles and runs one case on the default machine; the error says what
/// went wrong.
fn run_case(case: &Case) -> Result<(), String> {
    run_case_on(case, None).map_err(|f| match f {
        Failure::DoesNotFit(e) | Failure::Other(e) => e,
    })
}

/// Compiles and runs one case on `machine` (a built-in name; `None`: the
/// default machine).
fn run_case_on(case: &Case, machine: Option<&str>) -> Result<(), Failure> {
    let source = std::fs::read_to_string(&case.kernel).map_err(|e| e.to_string())?;
    let mut module = maiac_ir::check::check_text(&source, &case.kernel.display().to_string())
        .map_err(|ds| {
            ds.iter()
                .map(|d| d.render(Some(&source)))
                .collect::<String>()
        })?;
    let machine = maiac_backend::machine::resolve_or_default(machine).map_err(|e| e.to_string())?;
    let compiled =
        compile_module(&mut module, &machine, &CompileOptions::default()).map_err(|d| {
            let text = d.render(Some(&source));
            if d.message.contains("does not fit in") {
                Failure::DoesNotFit(text)
            } else {
                Failure::Other(text)
            }
        })?;
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

#[test]
fn compiled_kernels_match_every_fixture_case_on_the_tiny_machine() {
    let dirs = discover_cases(&fixtures_dir());
    let (mut passed, mut too_big, mut failures) = (0, Vec::new(), Vec::new());
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = std::panic::catch_unwind(|| {
            Case::load(dir)
                .map_err(Failure::Other)
                .and_then(|case| run_case_on(&case, Some("tiny")))
        })
        .unwrap_or_else(|_| Err(Failure::Other("panicked".to_string())));
        match result {
            Ok(()) => passed += 1,
            Err(Failure::DoesNotFit(_)) => too_big.push(name),
            Err(Failure::Other(e)) => {
                eprintln!("FAIL {name} (tiny): {e}");
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    eprintln!(
        "tiny machine: {passed} passed, {} do not fit its SRAM ({}), {} failed, of {}",
        too_big.len(),
        too_big.join(", "),
        failures.len(),
        dirs.len()
    );
    // Nearly every fixture fits a 4-tile machine with small SRAMs; the few
    // that do not are the ones written to need large blocks.
    assert!(
        too_big.len() * 10 <= dirs.len(),
        "too many fixtures do not fit the tiny machine: {}",
        too_big.join(", ")
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
