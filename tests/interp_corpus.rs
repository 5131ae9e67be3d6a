//! Runs every case folder under `tests/fixtures/` (the public corpus copies
//! in `corpus/` and our own kernels in `kernels/`) through
//! parse → bind → `run_kernel` and compares each written buffer with its
//! `NAME.expected.npy` like `shared/tools/check_case.py`.

use std::time::Instant;

use maiac_compiler::interp::{kernel_params, load_module, run_kernel};
use maiac_runtime_emu::launch::{bind, HostBuffer};
use maiac_tests::case::{compare_buffers, discover_cases, fixtures_dir, Case};

/// Runs one case; the error says what went wrong.
fn run_case(case: &Case) -> Result<(), String> {
    let (module, source) = load_module(&case.kernel)?;
    let params = kernel_params(&module).map_err(|d| d.render(Some(&source)))?;
    let spec = case.launch_spec()?;
    let launch = bind(&params, &spec).map_err(|e| e.to_string())?;
    let outcome = run_kernel(&module, &launch).map_err(|d| d.render(Some(&source)))?;
    for arg in case.outputs() {
        // Arguments bind by name, or by position when the TTIR renamed the
        // parameters (Triton 3.2's `%argN`): find the parameter it bound to.
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
fn interp_matches_every_fixture_case() {
    let dirs = discover_cases(&fixtures_dir());
    assert!(
        !dirs.is_empty(),
        "no case folders under {}",
        fixtures_dir().display()
    );
    let (mut passed, mut failures) = (0, Vec::new());
    for dir in &dirs {
        let start = Instant::now();
        let result = Case::load(dir).and_then(|case| run_case(&case));
        let ms = start.elapsed().as_secs_f64() * 1e3;
        match result {
            Ok(()) => {
                passed += 1;
                eprintln!("PASS {} ({ms:.1} ms)", dir.display());
            }
            Err(e) => {
                eprintln!("FAIL {} ({ms:.1} ms): {e}", dir.display());
                failures.push(format!("{}: {e}", dir.display()));
            }
        }
    }
    eprintln!("interp corpus: {passed} passed, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
