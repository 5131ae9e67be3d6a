//! Tests of the access analysis: hand-built kernels covering each pattern
//! (snapshots of the printed analysis, plus a differential check against
//! the reference evaluator in [`eval`]), randomly generated pointer
//! expressions ([`generated`]) and every fixture kernel ([`fixtures`]).

pub(crate) mod builder;
pub(crate) mod eval;
pub(crate) mod fixtures;
mod generated;
pub(crate) mod patterns;

use maiac_ir::Module;

use super::{analyze, AccessMap};

/// Analyzes the kernel of `m` and checks the analysis against the reference
/// evaluator for each launch; returns the analysis and the number of checked
/// strided executions.
pub(crate) fn check_against_evaluator(m: &Module, launches: &[eval::Launch]) -> (AccessMap, usize) {
    let func = m.kernel().expect("a kernel");
    let map = analyze(m, func);
    let mut checked = 0;
    for launch in launches {
        let report = eval::check(m, func, &map, launch);
        assert!(
            report.mismatches.is_empty(),
            "pid {:?}: {:#?}\n{}",
            launch.pid,
            report.mismatches,
            map.render(m)
        );
        checked += report.checked;
    }
    (map, checked)
}
