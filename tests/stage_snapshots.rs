//! Snapshots of every fixture kernel after each compiler stage: the tile IR
//! after lowering and the tile-IR passes (egg fusion, tiling), the scheduled
//! program (registers, SRAM placement, dispatch) and the emitted assembly,
//! on the default `maia200-like` machine. A change to any stage shows up as
//! a reviewable diff here (`cargo insta review`); the compile also must be
//! deterministic, which the second compile checks.

use maiac_compiler::driver::{compile_module, CompileOptions, Stage};
use maiac_compiler::tile::TOp;
use maiac_tests::case::{discover_cases, fixtures_dir};

/// Passes that rename buffers rely on `TOpKind::views_mut` listing every
/// view `reads`/`writes` report; checked on every op of every fixture.
fn views_mut_covers_reads_and_writes(name: &str, body: &[TOp]) {
    for op in body {
        let mut kind = op.kind.clone();
        let listed: Vec<_> = op
            .kind
            .reads()
            .into_iter()
            .chain(op.kind.writes())
            .cloned()
            .collect();
        let all: Vec<_> = kind.views_mut().into_iter().map(|v| v.clone()).collect();
        for v in &listed {
            assert!(
                all.contains(v),
                "{name}: views_mut misses {v:?} of {:?}",
                op.kind
            );
        }
        for inner in op.kind.bodies() {
            views_mut_covers_reads_and_writes(name, inner);
        }
    }
}

#[test]
fn every_fixture_kernel_after_each_stage() {
    let machine = maiac_backend::machine::resolve_or_default(None).expect("the default machine");
    let dirs = discover_cases(&fixtures_dir());
    assert!(!dirs.is_empty());
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots/stages");
    settings.bind(|| {
        for dir in &dirs {
            let name = dir
                .file_name()
                .expect("a case folder")
                .to_string_lossy()
                .into_owned();
            let kernel = dir.join("kernel.ttir");
            let source = std::fs::read_to_string(&kernel).expect("kernel.ttir");
            let compile = || {
                let mut module = maiac_ir::check::check_text(&source, "kernel.ttir")
                    .unwrap_or_else(|_| panic!("{name}: the fixture verifies"));
                compile_module(&mut module, &machine, &CompileOptions::default())
                    .unwrap_or_else(|d| panic!("{name}: {}", d.render(Some(&source))))
            };
            let (first, second) = (compile(), compile());
            views_mut_covers_reads_and_writes(&name, &first.tile.body);
            for (stage, label) in [
                (Stage::Tile, "tile"),
                (Stage::Sched, "sched"),
                (Stage::Asm, "asm"),
            ] {
                let text = first.text(stage).unwrap_or_default();
                assert_eq!(
                    Some(&text),
                    second.text(stage).as_ref(),
                    "{name}: the {label} stage is not deterministic"
                );
                insta::assert_snapshot!(format!("{name}__{label}"), text);
            }
        }
    });
}
