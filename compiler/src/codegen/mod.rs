//! Code generation: a [`Scheduled`] kernel → an `isa::Module`.
//!
//! - [`sync`]: the semaphore scheme (per-engine semaphores and issue
//!   counters, a byte-range scoreboard, flushes at control-flow
//!   boundaries);
//! - [`emit`]: instruction selection for every tile-IR op and the
//!   structured control flow;
//! - [`cluster`]: the cluster program that stages shared read-only
//!   operands in CSRAM.
//!
//! The module gets the kernel's argument table, its debug locations (every
//! instruction is attributed to the op it came from, so the line table maps
//! back to TTIR `line:col` and the Python line), the dispatch policy of the
//! schedule and the interned micro-programs; it ends with `halt` and is
//! checked with `Module::verify` and the machine's limits.

mod cluster;
mod emit;
pub mod sync;

#[cfg(test)]
mod tests;

use maiac_backend::isa::Module;
use maiac_backend::machine::Machine;
use maiac_ir::Diagnostic;

use crate::sched::Scheduled;

/// Emits the kernel module of a scheduled kernel.
pub fn emit(s: &Scheduled, machine: &Machine) -> Result<Module, Diagnostic> {
    let mut module = Module::new(s.kernel.name.clone(), machine.reference());
    module.args = s.kernel.args.clone();
    module.debug_locs = s.kernel.locs.clone();
    module.dispatch = s.dispatch.clone();
    let mut e = emit::Emitter::new(s, module);
    e.body(&s.kernel.body)?;
    e.finish();
    let mut module = e.module;
    module.cluster_program = cluster::cluster_program(&s.kernel, machine)?;
    let internal = |what: &str, msg: String| {
        Diagnostic::new(format!(
            "internal compiler error: the emitted {what}: {msg}"
        ))
    };
    module
        .verify()
        .map_err(|err| internal("module is malformed", err.to_string()))?;
    machine
        .check_module(&module)
        .map_err(|err| internal("module exceeds the machine", err.to_string()))?;
    Ok(module)
}
