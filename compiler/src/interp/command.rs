//! `maiac interp`: the whole command as functions, so the CLI only forwards
//! its arguments. Every failure comes back as a fully rendered message
//! (TTIR excerpt, Python line, notes) ready for stderr.

use maiac_ir::Module;
use maiac_runtime_emu::launch::{bind, write_outputs, LaunchSpec};

use super::{kernel_params, run_kernel, InterpOutcome};

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
    let render = |d: maiac_ir::Diagnostic| d.render(source);
    let params = kernel_params(module).map_err(render)?;
    let spec = LaunchSpec::from_cli(grid, args, outs).map_err(|e| format!("error: {e}\n"))?;
    let launch = bind(&params, &spec).map_err(|e| format!("error: {e}\n"))?;
    let outcome = run_kernel(module, &launch).map_err(render)?;
    write_outputs(&launch, &outcome.buffers).map_err(|e| format!("error: {e}\n"))?;
    Ok(outcome)
}
