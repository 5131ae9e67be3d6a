//! The cleanup pipeline on every fixture kernel: the result verifies, its
//! TTIR is snapshotted, and for case folders the reference interpreter
//! gives bit-identical buffers before and after.

use maiac_runtime_emu::launch::{bind, ArgValue, Grid, LaunchSpec};

use crate::access::tests::fixtures::{cleaned, fixtures, parse, Fixture};
use crate::interp::{kernel_params, run_kernel};
use crate::passes::render_module;

/// The case's launch: files and numbers exactly as on the command line.
fn launch_spec(f: &Fixture) -> Option<LaunchSpec> {
    let case = f.case.as_ref()?;
    let dir = f.path.parent()?;
    let grid: Vec<u32> = case["grid"]
        .as_array()?
        .iter()
        .map(|v| v.as_u64().unwrap_or(1) as u32)
        .collect();
    let mut spec = LaunchSpec::new(
        Grid::new(
            grid[0],
            *grid.get(1).unwrap_or(&1),
            *grid.get(2).unwrap_or(&1),
        )
        .ok()?,
    );
    for arg in case["args"].as_array()? {
        let name = arg["name"].as_str()?;
        let text = match (&arg["file"], &arg["value"]) {
            (serde_json::Value::String(file), _) => dir.join(file).display().to_string(),
            (_, serde_json::Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
        spec.push_arg(name, ArgValue::Text(text)).ok()?;
    }
    Some(spec)
}

#[test]
fn cleanup_verifies_and_is_snapshotted() {
    let fixtures = fixtures();
    assert!(
        !fixtures.is_empty(),
        "no fixture kernels under tests/fixtures"
    );
    for f in &fixtures {
        let m = cleaned(&parse(f));
        if let Err(errors) = maiac_ir::verifier::verify(&m) {
            panic!("{}: cleanup left invalid IR: {errors:#?}", f.name);
        }
        insta::assert_snapshot!(format!("cleanup__{}", f.name), render_module(&m));
    }
}

#[test]
fn cleanup_keeps_fixture_results_bit_exact() {
    let mut ran = 0;
    for f in &fixtures() {
        let Some(spec) = launch_spec(f) else { continue };
        let raw = parse(f);
        // A case whose arguments do not bind is a broken fixture, which the
        // interpreter's own corpus test reports; nothing to compare here.
        let Ok(launch) = kernel_params(&raw)
            .map_err(|d| d.to_string())
            .and_then(|p| bind(&p, &spec).map_err(|e| e.to_string()))
        else {
            continue;
        };
        let clean = cleaned(&raw);
        let before = run_kernel(&raw, &launch);
        let after = run_kernel(&clean, &launch);
        match (before, after) {
            (Ok(b), Ok(a)) => assert!(
                b.buffers == a.buffers,
                "{}: the cleanup pipeline changed the results",
                f.name
            ),
            // A kernel that fails (an assert, an out-of-bounds access) must
            // still fail the same way.
            (Err(b), Err(a)) => assert_eq!(b.message, a.message, "{}", f.name),
            (b, a) => panic!(
                "{}: before cleanup {:?}, after {:?}",
                f.name,
                b.err(),
                a.err()
            ),
        }
        ran += 1;
    }
    assert!(ran > 0, "no fixture case folder found");
}
