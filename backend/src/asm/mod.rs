//! The text assembler and disassembler (`maiac asm`, `maiac disasm`).
//!
//! The syntax is line-oriented; `docs/isa.md` has the full grammar and an
//! example of every instruction. [`disassemble`] prints every field of a
//! module, so `assemble(disassemble(m)) == m` and the binaries are
//! identical; [`assemble`] reports errors as `line:col: message`.

mod assemble;
mod disassemble;
mod syntax;

use std::path::Path;

pub use assemble::assemble;
pub use disassemble::{disassemble, instruction as instruction_text, quote};
pub use syntax::{AsmError, Pos};

use crate::binary;

/// `maiac asm IN.s -o OUT.bin`: assembles a text file into a binary file.
/// Errors name the file and the `line:col`.
pub fn assemble_file(input: &Path, output: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(input)
        .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let module = assemble(&text).map_err(|e| format!("{}:{e}", input.display()))?;
    binary::write_file(output, &module).map_err(|e| e.to_string())
}

/// `maiac disasm IN.bin`: the assembly text of a binary file.
pub fn disassemble_file(input: &Path) -> Result<String, String> {
    let module = binary::read_file(input).map_err(|e| e.to_string())?;
    Ok(disassemble(&module))
}

/// Assembles text straight to binary bytes.
pub fn assemble_to_binary(text: &str) -> Result<Vec<u8>, AsmError> {
    let module = assemble(text)?;
    binary::encode(&module).map_err(|e| AsmError {
        pos: Pos { line: 1, col: 1 },
        message: e.to_string(),
    })
}
