//! Every fixture kernel (`tests/fixtures/**/*.ttir`, discovered at test
//! time): the printed access analysis after the cleanup pipeline is
//! snapshotted, and the analysis — of the kernel as written and after
//! cleanup — is checked against the reference evaluator for the first,
//! middle and last program of the case's grid, with the case's scalar
//! arguments and the launch contract's buffer addresses.

use std::path::{Path, PathBuf};

use maiac_ir::{Module, Type};
use maiac_runtime_emu::launch::buffer_base;
use maiac_runtime_emu::launch::scalar::parse_scalar;

use super::eval::{check, Launch};
use crate::access::analyze;
use crate::pass::PassContext;
use crate::passes::cleanup_passes;

/// A fixture kernel.
pub(crate) struct Fixture {
    /// A stable name for snapshots (`corpus__vec_add`).
    pub name: String,
    pub path: PathBuf,
    /// The case folder's `case.json` (grid and scalar arguments), if any.
    pub case: Option<serde_json::Value>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every `.ttir` file under `tests/fixtures` (or under the folder named by
/// `MAIAC_FIXTURES_DIR`, to try the tests on another corpus), sorted by path.
pub(crate) fn fixtures() -> Vec<Fixture> {
    let root = std::env::var_os("MAIAC_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("tests").join("fixtures"));
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "ttir") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap_or(&path).with_extension("");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts.len() > 1 && parts.last().is_some_and(|p| p == "kernel") {
                parts.pop();
            }
            let case = path
                .parent()
                .map(|d| d.join("case.json"))
                .filter(|c| c.is_file() && path.file_name().is_some_and(|f| f == "kernel.ttir"))
                .and_then(|c| std::fs::read_to_string(c).ok())
                .and_then(|t| serde_json::from_str(&t).ok());
            Fixture {
                name: parts.join("__"),
                path,
                case,
            }
        })
        .collect()
}

/// Parses a fixture; a fixture that does not parse is a test failure.
pub(crate) fn parse(f: &Fixture) -> Module {
    let text =
        std::fs::read_to_string(&f.path).unwrap_or_else(|e| panic!("{}: {e}", f.path.display()));
    maiac_ir::parser::parse_module(&text, &f.path.display().to_string())
        .unwrap_or_else(|d| panic!("{}", d.render(Some(&text))))
}

/// The cleanup pipeline applied to a copy of `m`.
pub(crate) fn cleaned(m: &Module) -> Module {
    let mut out = m.clone();
    cleanup_passes()
        .run(&mut out, &mut PassContext::default())
        .unwrap_or_else(|d| panic!("{d}"));
    out
}

/// Raw argument bits for the fixture's kernel: buffers at the launch
/// contract's addresses, scalars from `case.json` (else small values).
fn arguments(m: &Module, f: &Fixture) -> Vec<u64> {
    let func = m.kernel().expect("a kernel");
    let entry = m.func_entry(func).expect("a body");
    let case_args = f
        .case
        .as_ref()
        .and_then(|c| c["args"].as_array().cloned())
        .unwrap_or_default();
    let mut buffers = 0;
    m.dfg.blocks[entry]
        .args
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let ty = m.dfg.value_type(a);
            if matches!(ty, Type::Ptr { .. }) {
                buffers += 1;
                return buffer_base(buffers - 1);
            }
            let text = case_args.get(i).map(|c| match &c["value"] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            text.and_then(|t| parse_scalar(&t, ty).ok())
                .unwrap_or(48 + 16 * i as u64)
        })
        .collect()
}

fn grid(f: &Fixture) -> [u32; 3] {
    let mut grid = [1u32; 3];
    if let Some(values) = f.case.as_ref().and_then(|c| c["grid"].as_array()) {
        for (slot, v) in grid.iter_mut().zip(values) {
            *slot = v
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(1)
                .max(1);
        }
    } else {
        grid = [3, 2, 1];
    }
    grid
}

/// First, middle and last program of the grid.
fn sample_programs(grid: [u32; 3]) -> Vec<[u32; 3]> {
    let mut pids = vec![
        [0, 0, 0],
        [grid[0] / 2, grid[1] / 2, grid[2] / 2],
        [grid[0] - 1, grid[1] - 1, grid[2] - 1],
    ];
    pids.dedup();
    pids
}

#[test]
fn fixture_access_snapshots() {
    let fixtures = fixtures();
    assert!(
        !fixtures.is_empty(),
        "no fixture kernels under tests/fixtures"
    );
    for f in &fixtures {
        let m = cleaned(&parse(f));
        let mut text = String::new();
        for func in m.functions() {
            text += &analyze(&m, func).render(&m);
        }
        insta::assert_snapshot!(format!("access__{}", f.name), text);
    }
}

#[test]
fn fixture_accesses_match_the_evaluator() {
    for f in &fixtures() {
        let raw = parse(f);
        for (stage, m) in [
            ("as written", raw.clone()),
            ("after cleanup", cleaned(&raw)),
        ] {
            let func = m.kernel().expect("a kernel");
            let map = analyze(&m, func);
            let args = arguments(&m, f);
            let grid = grid(f);
            let mut checked = 0;
            for pid in sample_programs(grid) {
                let report = check(
                    &m,
                    func,
                    &map,
                    &Launch {
                        args: args.clone(),
                        pid,
                        grid,
                        max_iterations: 3,
                    },
                );
                assert!(
                    report.mismatches.is_empty(),
                    "{} ({stage}), program {pid:?}: {:#?}\n{}",
                    f.name,
                    report.mismatches,
                    map.render(&m)
                );
                checked += report.checked;
            }
            let strided = map.iter().filter(|(_, a)| a.as_strided().is_some()).count();
            // Kernels whose memory traffic goes through `tt.call` helpers
            // (Triton 3.2's frontend output) are exempt: the evaluator does
            // not follow accesses into callees yet.
            let mut has_calls = false;
            m.walk(&mut |op| has_calls |= m.dfg.opcode(op) == maiac_ir::Opcode::Call);
            assert!(
                strided == 0 || checked > 0 || has_calls,
                "{} ({stage}): no strided access was checked",
                f.name
            );
        }
    }
}
