//! Every real kernel verifies clean: the shared corpus and every
//! `tests/fixtures/**/kernel.ttir` the project generated with Triton
//! (discovered when the test runs, so new fixtures are covered automatically).

mod verify_support;

use std::path::PathBuf;

use verify_support::{find_files, fixtures_dir, read_lossy, render_all, shared_corpus_dir};

/// Checks every kernel and reports all failures at once.
fn check_all(kernels: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for path in kernels {
        let text = read_lossy(path);
        let name = path.display().to_string();
        if let Err(diagnostics) = maiac_ir::check_text(&text, &name) {
            failures.push(render_all(&diagnostics, &text));
        }
    }
    failures
}

#[test]
fn real_kernels_verify_clean() {
    let mut kernels = find_files(&shared_corpus_dir(), "kernel.ttir");
    kernels.extend(find_files(&fixtures_dir(), "kernel.ttir"));
    assert!(
        !kernels.is_empty(),
        "no kernels found under {} or {}",
        shared_corpus_dir().display(),
        fixtures_dir().display()
    );
    let failures = check_all(&kernels);
    assert!(
        failures.is_empty(),
        "{} of {} kernels were rejected:\n{}",
        failures.len(),
        kernels.len(),
        failures.join("\n")
    );
}

/// The verifier is deterministic and leaves the module alone: verifying
/// twice gives the same answer.
#[test]
fn verification_is_repeatable() {
    for path in find_files(&shared_corpus_dir(), "kernel.ttir") {
        let text = read_lossy(&path);
        let module = maiac_ir::check_text(&text, "k.ttir").expect("corpus kernel verifies");
        assert_eq!(maiac_ir::verifier::verify(&module), Ok(()));
    }
}
