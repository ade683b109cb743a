//! The crate's one error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong in the simulators. Each variant says what was being done; the underlying
/// error, if any, is its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A fault description that does not parse, names unknown endpoints, or withholds audit
    /// records that do not exist (checked before the server starts).
    #[error("invalid faults: {reason}")]
    InvalidFaults { reason: String },
    /// The simulated tenant cannot bind its listening address.
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The async runtime of [`serve_scenario`](crate::serve_scenario) cannot start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// [`serve_scenario`](crate::serve_scenario) cannot print its `listening on` line.
    #[error("cannot write to standard output")]
    Stdout(#[source] std::io::Error),
    /// A file of the simulated estate cannot be created or written.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The benchmark's generated events cannot be written to their output.
    #[error("cannot write the generated events")]
    Output(#[source] std::io::Error),
}
