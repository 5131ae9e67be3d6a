//! Errors of the launch contract: every one names the command-line argument
//! (or file) it is about and says what was expected, because they are shown
//! verbatim to the user by `maiac interp` and `maiac run`.

use std::path::PathBuf;

use super::npy::NpyError;

/// A user error while parsing or binding a launch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// `--grid` is malformed, empty or too large.
    #[error("--grid {text:?}: {reason}")]
    Grid { text: String, reason: String },

    /// `--arg`/`--out` without `NAME=VALUE` shape.
    #[error("{flag} {text:?}: expected NAME=VALUE")]
    Syntax { flag: &'static str, text: String },

    /// The same name given twice to `--arg` (or to `--out`).
    #[error("{flag} {name}: given more than once")]
    Duplicate { flag: &'static str, name: String },

    /// A kernel parameter without `--arg`.
    #[error("missing argument `{name}` ({ty}): pass --arg {name}={hint}")]
    MissingArg {
        name: String,
        ty: String,
        hint: &'static str,
    },

    /// An `--arg` or `--out` whose name is not a kernel parameter.
    #[error("{flag} {name}: the kernel has no parameter `{name}` (its parameters are: {params})")]
    UnknownParam {
        flag: &'static str,
        name: String,
        params: String,
    },

    /// A scalar argument that does not parse as the parameter's type.
    #[error("--arg {name}={text}: {reason}")]
    BadScalar {
        name: String,
        text: String,
        reason: String,
    },

    /// A pointer argument given something other than a buffer.
    #[error("--arg {name}: {reason}")]
    BadBuffer { name: String, reason: String },

    /// A `.npy` file that cannot be read or decoded.
    #[error("--arg {name}: {}: {error}", path.display())]
    Npy {
        name: String,
        path: PathBuf,
        error: NpyError,
    },

    /// A `.npy` dtype that does not hold the parameter's pointee type.
    #[error(
        "--arg {name}: {}: dtype '{found}' does not match the parameter type {ty}: expected {expected}",
        path.display()
    )]
    DtypeMismatch {
        name: String,
        path: PathBuf,
        found: String,
        ty: String,
        expected: String,
    },

    /// `--out` for something that is not a pointer parameter.
    #[error("--out {name}: {reason}")]
    BadOut { name: String, reason: String },

    /// Writing an output file failed.
    #[error("--out {name}: {}: {reason}", path.display())]
    Write {
        name: String,
        path: PathBuf,
        reason: String,
    },
}
