//! `maiac interp`: the whole command as functions, so the CLI only forwards
//! its arguments. Every failure comes back as a fully rendered message
//! (TTIR excerpt, Python line, notes) ready for stderr.

use std::path::Path;

use maiac_ir::Module;
use maiac_runtime_emu::launch::{bind, write_outputs, LaunchSpec};

use super::{kernel_params, run_kernel_with, InterpOutcome, DEFAULT_MAX_STEPS};

/// Runs a parsed module with command-line launch arguments (`--grid`,
/// `--arg NAME=VALUE`, `--out NAME=FILE`) and writes the `--out` files.
/// `source` is the TTIR text, used to render excerpts in errors.
pub fn interp_module(
    module: &Module,
    source: Option<&str>,
    grid: &str,
    args: &[String],
    outs: &[String],
) -> Result<InterpOutcome, String> {
    interp_module_with(module, source, grid, args, outs, DEFAULT_MAX_STEPS)
}

/// [`interp_module`] with an endless-loop guard of `max_steps` (see
/// [`super::run_kernel_with`]).
pub fn interp_module_with(
    module: &Module,
    source: Option<&str>,
    grid: &str,
    args: &[String],
    outs: &[String],
    max_steps: u64,
) -> Result<InterpOutcome, String> {
    let render = |d: maiac_ir::Diagnostic| d.render(source);
    let params = kernel_params(module).map_err(render)?;
    let spec = LaunchSpec::from_cli(grid, args, outs).map_err(|e| format!("error: {e}\n"))?;
    let launch = bind(&params, &spec).map_err(|e| format!("error: {e}\n"))?;
    let outcome = run_kernel_with(module, &launch, max_steps).map_err(render)?;
    write_outputs(&launch, &outcome.buffers).map_err(|e| format!("error: {e}\n"))?;
    Ok(outcome)
}

/// Reads a TTIR file, parses and verifies it ([`maiac_ir::check::check_text`],
/// as every maiac command does). Returns the module and its source text (for
/// rendering later diagnostics), or every diagnostic rendered.
pub fn load_module(path: &Path) -> Result<(Module, String), String> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| format!("error: cannot read {}: {e}\n", path.display()))?;
    let name = path.display().to_string();
    match maiac_ir::check::check_text(&source, &name) {
        Ok(module) => Ok((module, source)),
        Err(diagnostics) => Err(diagnostics
            .iter()
            .map(|d| d.render(Some(&source)))
            .collect()),
    }
}

/// `maiac interp KERNEL.ttir --grid G --arg NAME=VALUE... --out NAME=FILE...`:
/// read, parse and verify the kernel, bind the launch, run it on the
/// reference interpreter and write the `--out` buffers.
pub fn interp_command(
    ttir_path: &Path,
    grid: &str,
    args: &[String],
    outs: &[String],
    max_steps: u64,
) -> Result<(), String> {
    let (module, source) = load_module(ttir_path)?;
    interp_module_with(&module, Some(&source), grid, args, outs, max_steps).map(|_| ())
}
