//! The reference interpreter: executes a TTIR kernel over a launch grid with
//! exact semantics. It is the golden model every later stage (the compiled
//! binary on the emulator) is tested against.
//!
//! - Programs run one after another in linear order (x fastest, then y,
//!   then z); within a program ops run in program order, so atomics and
//!   racing stores take effect in that order.
//! - Elementwise ops use [`maiac_ir::semantics`], shared bit for bit with
//!   the emulator; memory uses the launch contract's address map
//!   ([`maiac_runtime_emu::launch`]): buffer `i` at `(i + 1) << 32`.
//! - Dots, reductions and scans have a fixed, documented evaluation order
//!   ([`dot`], [`reduce`]); loads/stores/atomics/descriptors are described in
//!   [`memory_ops`]. `docs/semantics.md` collects every rule.
//!
//! Entry points: [`run_kernel`] on a parsed module and a bound launch, and
//! [`interp_command`], the whole `maiac interp` command.

mod command;
mod debug_ops;
mod dot;
mod elementwise;
mod exec;
mod map_elementwise;
mod memory;
mod memory_ops;
mod reduce;
mod shape;
#[cfg(test)]
mod tests;
mod value;

pub use command::{interp_command, interp_module, interp_module_with, load_module};
pub use exec::MAX_CALL_DEPTH;

use maiac_ir::{Diagnostic, Module, Op};
use maiac_runtime_emu::launch::{BoundLaunch, KernelParam};

use exec::Interp;
use memory::Memory;
use value::RValue;

/// The result of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterpOutcome {
    /// Final contents of every buffer, in buffer order (as
    /// [`BoundLaunch::buffers`]); pass to
    /// [`maiac_runtime_emu::launch::write_outputs`].
    pub buffers: Vec<Vec<u8>>,
    /// Number of program instances executed.
    pub programs: u64,
}

/// The kernel a launch runs: the module's first public function.
pub fn kernel_function(module: &Module) -> Result<Op, Diagnostic> {
    module.kernel().ok_or_else(|| {
        Diagnostic::new("the module has no tt.func to launch").at(&module.source_name, None)
    })
}

/// The parameters of the module's kernel (names as written in the TTIR,
/// `argN` for unnamed ones), for [`maiac_runtime_emu::launch::bind`].
pub fn kernel_params(module: &Module) -> Result<Vec<KernelParam>, Diagnostic> {
    let func = kernel_function(module)?;
    let entry = module.func_entry(func).ok_or_else(|| {
        Diagnostic::new(format!(
            "the kernel @{} has no body",
            module.func_name(func)
        ))
        .at(&module.source_name, module.dfg.ops[func].pos)
    })?;
    Ok(module.dfg.blocks[entry]
        .args
        .iter()
        .enumerate()
        .map(|(i, &v)| KernelParam {
            name: module.dfg.values[v]
                .name
                .clone()
                .unwrap_or_else(|| format!("arg{i}")),
            ty: module.dfg.value_type(v).clone(),
        })
        .collect())
}

/// The default endless-loop guard of [`run_kernel`]: loop iterations
/// (`scf.for`, `scf.while`) and branches (`cf.br`, `cf.cond_br`) in one
/// program instance. Far above any real kernel's count, and reached in
/// seconds by a kernel that never ends.
pub const DEFAULT_MAX_STEPS: u64 = 1 << 22;

/// Runs the module's kernel over the launch grid.
pub fn run_kernel(module: &Module, launch: &BoundLaunch) -> Result<InterpOutcome, Diagnostic> {
    run_kernel_with(module, launch, DEFAULT_MAX_STEPS)
}

/// [`run_kernel`] with an endless-loop guard of `max_steps` loop iterations
/// and branches per program instance.
pub fn run_kernel_with(
    module: &Module,
    launch: &BoundLaunch,
    max_steps: u64,
) -> Result<InterpOutcome, Diagnostic> {
    let func = kernel_function(module)?;
    let params = kernel_params(module)?;
    if params.len() != launch.args.len() {
        return Err(Diagnostic::new(format!(
            "the launch binds {} arguments but @{} takes {}",
            launch.args.len(),
            module.func_name(func),
            params.len()
        ))
        .at(&module.source_name, module.dfg.ops[func].pos));
    }
    let mut interp = Interp::new(module, Memory::from_launch(launch), launch.grid.dims());
    interp.max_steps = max_steps;
    let programs = launch.grid.num_programs();
    for index in 0..programs {
        interp.pid = launch.grid.program_id(index);
        interp.steps = 0;
        let args = (0..params.len())
            .map(|i| RValue::scalar(launch.arg_bits(i)))
            .collect();
        interp.call_function(None, func, args)?;
    }
    Ok(InterpOutcome {
        buffers: interp.memory.into_buffers(),
        programs,
    })
}
