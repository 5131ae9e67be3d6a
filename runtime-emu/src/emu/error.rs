//! Execution errors of the emulator: every violation names the
//! instruction, its program counter and its source line.

use std::fmt;

/// An error that stops an emulated launch. `Display` renders the full
/// message (what went wrong, where, and the debug line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmuError {
    /// The module or the launch cannot run on this machine at all.
    Setup(String),
    /// An instruction faulted (out of bounds, capacity, bad register...).
    Fault {
        /// `tile 3` or `cluster 0`.
        unit: String,
        /// `Module::describe_pc` of the faulting instruction.
        location: String,
        message: String,
    },
    /// Two unordered engine instructions touched overlapping bytes and one wrote.
    Race {
        first: String,
        second: String,
        region: String,
    },
    /// No instruction can make progress.
    Deadlock(String),
    /// A `trap` instruction executed.
    Trap {
        unit: String,
        location: String,
        code: u32,
    },
}

impl fmt::Display for EmuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmuError::Setup(msg) => write!(f, "cannot run the binary: {msg}"),
            EmuError::Fault {
                unit,
                location,
                message,
            } => {
                write!(f, "{unit}: {location}: {message}")
            }
            EmuError::Race {
                first,
                second,
                region,
            } => write!(
                f,
                "race between {first} and {second}: they access overlapping bytes of {region} \
                 without a semaphore ordering them"
            ),
            EmuError::Deadlock(msg) => write!(f, "deadlock: {msg}"),
            EmuError::Trap {
                unit,
                location,
                code,
            } => {
                write!(f, "{unit}: {location}: device trap with code {code}")
            }
        }
    }
}

impl std::error::Error for EmuError {}

/// A fault raised while executing one instruction, before the scheduler
/// attaches the instruction's location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault(pub String);

impl Fault {
    pub fn new(message: impl Into<String>) -> Fault {
        Fault(message.into())
    }
}

/// Shorthand for fallible instruction execution.
pub type ExecResult<T> = Result<T, Fault>;
