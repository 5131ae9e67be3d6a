//! Reading TTIR the way every maiac command does: parse, then verify.
//!
//! `maiac check`, `fmt`, `interp` and the compiler all go through
//! [`check_text`], so a malformed kernel is rejected the same way everywhere,
//! with every diagnostic located in the TTIR text (and in Python, where the
//! op's `loc` says).

use crate::diagnostic::Diagnostic;
use crate::module::Module;

/// Parses `text` (the contents of the TTIR file `name`) and verifies it.
///
/// A syntax error yields that one diagnostic (parsing stops there); a module
/// that parses yields every verifier diagnostic, ordered by position.
pub fn check_text(text: &str, name: &str) -> Result<Module, Vec<Diagnostic>> {
    let module = crate::parser::parse_module(text, name).map_err(|d| vec![d])?;
    crate::verifier::verify(&module)?;
    Ok(module)
}
