//! The launch contract shared by `maiac interp` and `maiac run`.
//!
//! `maiac interp|run KERNEL --grid X[,Y[,Z]] --arg NAME=FILE.npy|NUMBER ... --out NAME=FILE.npy ...`
//!
//! 1. [`LaunchSpec::from_cli`] parses the command line ([`Grid`], argument text).
//! 2. [`bind`] matches it against the kernel's [`KernelParam`]s: every pointer
//!    parameter gets a separate buffer read from `.npy` ([`npy`]) whose dtype
//!    must hold the pointee ([`accepted_dtypes`]); scalars are parsed per the
//!    parameter's type ([`scalar`]); missing, extra and mistyped arguments are
//!    errors naming the argument.
//! 3. An engine runs the [`BoundLaunch`] over the memory image
//!    ([`BoundLaunch::initial_memory`]) using the shared [`address`] map:
//!    buffer `i` at byte address `(i + 1) << 32`, pointers are plain addresses.
//! 4. [`write_outputs`] writes each `--out` buffer with its input's dtype and shape.

pub mod address;
pub mod bind;
pub mod error;
pub mod grid;
pub mod npy;
pub mod scalar;
pub mod spec;

pub use address::{buffer_base, decode_address, resolve_access, AddressFault};
pub use bind::{
    accepted_dtypes, bind, write_outputs, BoundArg, BoundBuffer, BoundLaunch, KernelParam,
    OutputRequest,
};
pub use error::LaunchError;
pub use grid::Grid;
pub use npy::{HostBuffer, NpyDtype, NpyError};
pub use spec::{ArgValue, LaunchSpec};
