//! The `maiac fmt` and `maiac check` commands as library functions: the
//! binary only forwards arguments, and every failure comes back as a fully
//! rendered message for stderr.

use std::io::Read;
use std::path::Path;

use maiac_ir::Module;

/// Reads TTIR from a file, or from stdin when the path is `-`. Invalid UTF-8
/// is replaced (the parser then reports where the text stops making sense).
pub fn read_source(path: &Path) -> Result<(String, String), String> {
    let mut bytes = Vec::new();
    let name = if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("error: cannot read standard input: {e}\n"))?;
        "<stdin>".to_string()
    } else {
        bytes = std::fs::read(path)
            .map_err(|e| format!("error: cannot read {}: {e}\n", path.display()))?;
        path.display().to_string()
    };
    Ok((String::from_utf8_lossy(&bytes).into_owned(), name))
}

/// Parses and verifies, rendering every diagnostic on failure.
pub fn check_source(text: &str, name: &str) -> Result<Module, String> {
    maiac_ir::check::check_text(text, name)
        .map_err(|diags| diags.iter().map(|d| d.render(Some(text))).collect())
}

/// `maiac fmt FILE|-`: the module printed as canonical TTIR.
pub fn fmt_command(path: &Path) -> Result<String, String> {
    let (text, name) = read_source(path)?;
    let module = check_source(&text, &name)?;
    Ok(maiac_ir::printer::print_module(&module))
}

/// `maiac check FILE|-`: parse and verify; returns a one-line summary.
pub fn check_command(path: &Path) -> Result<String, String> {
    let (text, name) = read_source(path)?;
    let module = check_source(&text, &name)?;
    let funcs = module.functions().count();
    Ok(format!(
        "{name}: ok ({funcs} function{})\n",
        if funcs == 1 { "" } else { "s" }
    ))
}

/// Options of one `maiac compile`.
pub struct CompileRequest<'a> {
    pub input: &'a Path,
    /// Where to write the output (default: the binary next to the input;
    /// text stages print to stdout).
    pub output: Option<&'a Path>,
    pub machine: Option<&'a str>,
    pub emit: crate::driver::Stage,
    pub print_ir_after_all: bool,
}

/// What a command prints.
#[derive(Debug, Default)]
pub struct CommandOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Reads, verifies and compiles a TTIR file; a failure is the rendered
/// diagnostic (TTIR line:col, the source line and the Python location).
pub fn compile_file(
    path: &Path,
    machine: &maiac_backend::machine::Machine,
    opts: &crate::driver::CompileOptions,
) -> Result<crate::driver::Compiled, String> {
    compile_file_until(path, machine, opts, crate::driver::Stage::Bin)
}

fn compile_file_until(
    path: &Path,
    machine: &maiac_backend::machine::Machine,
    opts: &crate::driver::CompileOptions,
    stop_after: crate::driver::Stage,
) -> Result<crate::driver::Compiled, String> {
    let (text, name) = read_source(path)?;
    let mut module = check_source(&text, &name)?;
    let mut pm = crate::driver::PassManager::new(machine);
    pm.stop_after(stop_after);
    // A panic is a compiler bug, but the user still gets exit code 1 and a
    // message rather than an abort.
    let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pm.compile(&mut module, machine, opts)
    }))
    .map_err(|payload| {
        let what = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("error: internal compiler error while compiling {name}: {what}\n")
    })?;
    compiled.map_err(|d| d.render(Some(&text)))
}

/// `maiac compile KERNEL.ttir [-o OUT] [--machine M] [--emit STAGE]
/// [--print-ir-after-all]`.
pub fn compile_command(req: &CompileRequest) -> Result<CommandOutput, String> {
    use crate::driver::Stage;
    let machine = maiac_backend::machine::resolve_or_default(req.machine)
        .map_err(|e| format!("error: {e}\n"))?;
    let opts = crate::driver::CompileOptions {
        print_ir_after_all: req.print_ir_after_all,
    };
    let stop_after = match req.emit {
        Stage::Ttir | Stage::Tile => req.emit,
        _ => Stage::Bin,
    };
    let compiled = compile_file_until(req.input, &machine, &opts, stop_after)?;
    let mut out = CommandOutput::default();
    for (pass, ir) in &compiled.dumps {
        out.stderr += &format!("// ----- IR after {pass} -----\n{ir}\n");
    }
    match req.emit {
        Stage::Bin => {
            let module = compiled.module.as_ref().ok_or_else(|| {
                "error: the compiler stopped before code generation\n".to_string()
            })?;
            let path = req
                .output
                .map(Path::to_path_buf)
                .unwrap_or_else(|| req.input.with_extension("mbin"));
            maiac_backend::binary::write_file(&path, module)
                .map_err(|e| format!("error: cannot write {}: {e}\n", path.display()))?;
        }
        stage => {
            let text = compiled.text(stage).ok_or_else(|| {
                "error: the compiler stopped before code generation\n".to_string()
            })?;
            match req.output {
                Some(path) => std::fs::write(path, &text)
                    .map_err(|e| format!("error: cannot write {}: {e}\n", path.display()))?,
                None => out.stdout = text,
            }
        }
    }
    Ok(out)
}
