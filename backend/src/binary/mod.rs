//! The binary container: a [`Module`] as bytes (`docs/binary-format.md`).
//!
//! Layout: a 32-byte header (magic `MAIACBIN`, version, section count,
//! machine hash, FNV-1a checksum), a section table, then the sections —
//! strings, module info, arguments, dispatch, micro-programs, DMA
//! descriptors (DMA instructions refer to them by index), tile code,
//! cluster code, constants, debug locations and line tables.
//!
//! [`encode`] verifies the module first and is deterministic; [`decode`]
//! checks every length, code and cross-reference and then runs
//! [`Module::verify`], so a truncated or corrupt binary is an error naming
//! the byte offset, never a panic.

mod decode;
mod encode;
pub mod format;
mod wire;

use std::path::Path;

use crate::isa::{Module, VerifyError};

pub use format::{
    SectionKind, HEADER_BYTES, MAGIC, SECTION_ENTRY_BYTES, VERSION_MAJOR, VERSION_MINOR,
};

/// Why bytes are not a valid binary.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes do not follow the format.
    #[error("offset {offset:#x}: {message}")]
    Malformed { offset: usize, message: String },
    /// The bytes decode, but to a module that breaks an ISA rule.
    #[error("invalid module: {0}")]
    Invalid(#[from] VerifyError),
}

/// Errors of reading or writing binary files.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid maiac binary: {source}")]
    Decode { path: String, source: DecodeError },
    #[error("cannot encode the module: {0}")]
    Encode(#[from] VerifyError),
}

/// Encodes a module (after [`Module::verify`]).
pub fn encode(module: &Module) -> Result<Vec<u8>, VerifyError> {
    module.verify()?;
    Ok(encode::encode_module(module))
}

/// Decodes and validates a binary.
pub fn decode(bytes: &[u8]) -> Result<Module, DecodeError> {
    let module = decode::decode_module(bytes)?;
    module.verify()?;
    Ok(module)
}

/// Reads and decodes a binary file.
pub fn read_file(path: &Path) -> Result<Module, BinaryError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| BinaryError::Read {
        path: shown.clone(),
        source,
    })?;
    decode(&bytes).map_err(|source| BinaryError::Decode {
        path: shown,
        source,
    })
}

/// Encodes a module into a file.
pub fn write_file(path: &Path, module: &Module) -> Result<(), BinaryError> {
    let bytes = encode(module)?;
    std::fs::write(path, bytes).map_err(|source| BinaryError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Whether `bytes` start with the binary magic (to tell binaries from
/// assembly text).
pub fn looks_like_binary(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}
