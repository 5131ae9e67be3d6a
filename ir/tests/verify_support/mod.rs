//! Shared helpers for the `verify_*` integration tests: where the TTIR
//! inputs live and how diagnostics are shown when a test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use maiac_ir::Diagnostic;

/// The `ir/` crate directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The project's fixtures (`tests/fixtures`, generated with Triton).
pub fn fixtures_dir() -> PathBuf {
    crate_dir().join("../tests/fixtures")
}

/// The shared public corpus, which sits beside the repository.
pub fn shared_corpus_dir() -> PathBuf {
    crate_dir().join("../../shared/corpus")
}

/// The hand-made malformed inputs.
pub fn malformed_dir() -> PathBuf {
    crate_dir().join("tests/data/malformed")
}

/// Every file named `file_name` under `root` (recursively), sorted.
pub fn find_files(root: &Path, file_name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|n| n == file_name) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A file's text; bytes that are not UTF-8 become U+FFFD, as the CLI reads them.
pub fn read_lossy(path: &Path) -> String {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Diagnostics rendered against their source, for failure messages.
pub fn render_all(diagnostics: &[Diagnostic], source: &str) -> String {
    diagnostics
        .iter()
        .map(|d| d.render(Some(source)))
        .collect::<Vec<_>>()
        .join("\n")
}
