//! The crate's error type.

use std::path::PathBuf;

/// Why a file, an input spec or a record could not be read.
///
/// Every variant names where it happened (file, input spec, line/offset/record), so the message can be
/// shown to a user as it is.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An input spec (file, folder or glob) that matches no file.
    #[error("{spec}: no such file, folder or matching glob")]
    NoMatch { spec: String },
    /// An input spec that is not a valid glob pattern.
    #[error("{spec}: invalid glob pattern: {reason}")]
    BadPattern { spec: String, reason: String },
    /// A file with nothing in it (or only whitespace).
    #[error("{}: empty file", path.display())]
    Empty { path: PathBuf },
    /// A file whose content is none of the supported formats.
    #[error("{}: unrecognized format (starts with {head})", path.display())]
    UnknownFormat { path: PathBuf, head: String },
    /// A JSON file that is recognizably no audit log (e.g. a Graph `roleAssignmentScheduleInstances`
    /// page): Entra imports take `directoryAudits`, Log Analytics `AuditLogs` and Azure Monitor records.
    #[error(
        "{}: not an audit log: {what} (expected Graph directoryAudits, a Log Analytics AuditLogs export or Azure Monitor AuditLogs records)",
        path.display()
    )]
    NotAuditLog { path: PathBuf, what: String },
    /// An EVTX file whose file header cannot be read.
    #[error("{}: unreadable EVTX file: {reason}", path.display())]
    Evtx { path: PathBuf, reason: String },
    /// An endpoint tag file that names no host, read without [`crate::Options::host`].
    #[error(
        "{}: the endpoint tags name no host: give it with --host NAME, or add a `# host: NAME` line before the key (or query the remote key, `reg query \\\\NAME\\HKLM\\…`, or add a \"host\" key to JSON tags)",
        path.display()
    )]
    NoHost { path: PathBuf },
    /// A record that cannot be parsed or normalized.
    #[error("{origin}: {location}: {reason}")]
    Malformed {
        origin: String,
        location: String,
        reason: String,
    },
    /// A `--format` name that is not one of [`crate::Format`]'s.
    #[error(
        "unknown input format {0:?} (expected auto, evtx, winlogbeat, nxlog, event-xml, graph, loganalytics, azure-monitor or regtag)"
    )]
    UnknownFormatName(String),
}

impl IngestError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        IngestError::Io {
            path: path.to_owned(),
            source,
        }
    }
}
