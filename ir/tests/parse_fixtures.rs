//! Every committed TTIR fixture (corpus copies and real Triton 3.2/3.9
//! kernels) parses, its printed form is snapshotted, and printing is a fixed
//! point: print(parse(print(m))) == print(m).

use std::path::{Path, PathBuf};

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn fixture_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![fixtures_root()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ttir") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_fixture_parses_and_prints_to_a_fixed_point() {
    let root = fixtures_root();
    let files = fixture_files();
    assert!(!files.is_empty(), "no fixtures found");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        let m = maiac_ir::parser::parse_module(&text, &name)
            .unwrap_or_else(|d| panic!("{}", d.render(Some(&text))));
        let printed = maiac_ir::printer::print_module(&m);
        let m2 = maiac_ir::parser::parse_module(&printed, &name)
            .unwrap_or_else(|d| panic!("reparse of printed {name}:\n{}", d.render(Some(&printed))));
        let printed2 = maiac_ir::printer::print_module(&m2);
        assert_eq!(printed, printed2, "printing {name} is not idempotent");
        let rel = path.strip_prefix(&root).unwrap_or(&path).with_extension("");
        let snapshot = rel.to_string_lossy().replace(['/', '\\'], "__");
        insta::assert_snapshot!(snapshot, printed);
    }
}
