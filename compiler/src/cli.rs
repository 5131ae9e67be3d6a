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
