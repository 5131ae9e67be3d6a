//! `maiac run`: execute a kernel on the emulator under the same launch
//! contract as `maiac interp`, and report the cycle model's statistics. The
//! kernel is a binary (`.mbin`) or TTIR (`.ttir`, compiled in memory with
//! the default pipeline of [`crate::driver`]).

use std::path::Path;

use maiac_backend::isa::{self, ArgKind, DType};
use maiac_ir::Type;
use maiac_runtime_emu::emu::{run, RunOptions, Stats};
use maiac_runtime_emu::launch::{bind, write_outputs, KernelParam, LaunchSpec};

/// How `--stats` prints.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StatsFormat {
    Text,
    Json,
}

impl StatsFormat {
    pub fn parse(s: &str) -> Result<StatsFormat, String> {
        match s {
            "text" => Ok(StatsFormat::Text),
            "json" => Ok(StatsFormat::Json),
            other => Err(format!("--stats takes `text` or `json`, not `{other}`")),
        }
    }
}

/// The launch-contract type of an argument's element type. Formats TTIR has
/// no type for (FP6, FP4, E8M0) travel as raw bytes.
fn ir_type(dtype: DType) -> Type {
    match dtype {
        DType::I1 => Type::I1,
        DType::I8 | DType::F6E3M2 | DType::F6E2M3 | DType::F4E2M1 | DType::E8M0 => Type::I8,
        DType::I16 => Type::I16,
        DType::I32 => Type::I32,
        DType::I64 => Type::I64,
        other => other.float_type().map(Type::Float).unwrap_or(Type::I8),
    }
}

/// The kernel parameters recorded in a binary's argument table.
pub fn binary_params(module: &isa::Module) -> Vec<KernelParam> {
    module
        .args
        .iter()
        .map(|a| KernelParam {
            name: a.name.clone(),
            ty: match a.kind {
                ArgKind::Pointer { pointee } => Type::ptr(ir_type(pointee)),
                ArgKind::Scalar { dtype } => ir_type(dtype),
            },
        })
        .collect()
}

/// Renders statistics as text.
pub fn stats_text(stats: &Stats) -> String {
    let mut out = format!(
        "cycles            {}\ntime              {:.3} us\nflops             {}\nhbm bytes         {}\nhbm unique bytes  {}\nroofline cycles   {:.0}\nroofline fraction {:.3}\n",
        stats.cycles,
        stats.seconds * 1e6,
        stats.total_flops,
        stats.hbm_bytes,
        stats.hbm_unique_bytes,
        stats.roofline_cycles,
        stats.roofline_fraction
    );
    for (engine, busy) in &stats.engine_busy {
        out += &format!("busy {engine:<12} {:.1}%\n", busy * 100.0);
    }
    for (line, cycles) in &stats.by_source_line {
        out += &format!("line {line:<40} {cycles} cycles\n");
    }
    out
}

/// Options of one `maiac run`.
pub struct RunRequest<'a> {
    /// A kernel binary (`.mbin`) or TTIR (`.ttir`: compiled in memory).
    pub binary: &'a Path,
    pub machine: Option<&'a str>,
    pub grid: &'a str,
    pub args: &'a [String],
    pub outs: &'a [String],
    pub stats: Option<StatsFormat>,
    pub trace: Option<&'a Path>,
    /// The endless-loop guard ([`RunOptions::max_cycles`]).
    pub max_cycles: u64,
}

/// Whether a path names TTIR text rather than a binary.
pub fn is_ttir(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "ttir" || e == "mlir")
}

/// Runs a `.mbin` or `.ttir`; returns what to print on stdout.
pub fn run_binary_command(req: &RunRequest) -> Result<String, String> {
    // The launch is checked before compiling: a bad --grid or --arg is
    // reported as such even for a kernel that does not compile.
    let spec =
        LaunchSpec::from_cli(req.grid, req.args, req.outs).map_err(|e| format!("error: {e}\n"))?;
    let (module, machine) = if is_ttir(req.binary) {
        let machine = maiac_backend::machine::resolve_or_default(req.machine)
            .map_err(|e| format!("error: {e}\n"))?;
        let module = crate::cli::compile_file(
            req.binary,
            &machine,
            &crate::driver::CompileOptions::default(),
        )?
        .module
        .ok_or_else(|| "error: the compiler stopped before code generation\n".to_string())?;
        (module, machine)
    } else {
        let module = maiac_backend::binary::read_file(req.binary)
            .map_err(|e| format!("error: {}: {e}\n", req.binary.display()))?;
        let machine_name = req.machine.unwrap_or(&module.machine.name);
        let machine =
            maiac_backend::machine::resolve(machine_name).map_err(|e| format!("error: {e}\n"))?;
        (module, machine)
    };
    run_module(&module, &machine, &spec, req)
}

/// Runs a kernel module on the emulator, writes the `--out` buffers and the
/// trace; returns the statistics to print.
pub fn run_module(
    module: &isa::Module,
    machine: &maiac_backend::machine::Machine,
    spec: &LaunchSpec,
    req: &RunRequest,
) -> Result<String, String> {
    let params = binary_params(module);
    let launch = bind(&params, spec).map_err(|e| format!("error: {e}\n"))?;
    let opts = RunOptions {
        trace: req.trace.is_some(),
        max_cycles: req.max_cycles,
        ..RunOptions::default()
    };
    let outcome = run(module, machine, &launch, &opts).map_err(|e| format!("error: {e}\n"))?;
    write_outputs(&launch, &outcome.buffers).map_err(|e| format!("error: {e}\n"))?;
    if let (Some(path), Some(trace)) = (req.trace, &outcome.trace) {
        std::fs::write(path, trace)
            .map_err(|e| format!("error: cannot write {}: {e}\n", path.display()))?;
    }
    Ok(match req.stats {
        Some(StatsFormat::Json) => outcome.stats.to_json() + "\n",
        Some(StatsFormat::Text) => stats_text(&outcome.stats),
        None => String::new(),
    })
}
