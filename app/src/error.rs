//! [`AppError`]: what the application core reports, with the context a person needs to act.

use std::path::PathBuf;

use privtrail_store::StoreError;

use crate::lock::LockError;

/// Everything the pipeline jobs, the config and the services can fail with.
///
/// The binary maps [`AppError::Config`], [`AppError::Usage`] and an invalid search query to exit
/// status 2 (see [`AppError::is_usage`]); everything else is an operational failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The configuration file is missing, unreadable or invalid; names the file and the key.
    #[error("{0}")]
    Config(String),

    /// A request from the caller cannot be served as given (an unknown alert id, a bad time).
    #[error("{0}")]
    Usage(String),

    /// What was asked for does not exist (an alert id, an event id).
    #[error("{0}")]
    NotFound(String),

    /// Another process owns the data directory.
    #[error(transparent)]
    Locked(#[from] LockError),

    #[error(transparent)]
    Store(#[from] StoreError),

    #[error(transparent)]
    Ingest(#[from] privtrail_ingest::IngestError),

    /// A file operation outside the store failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A stored or received body is not the JSON it should be.
    #[error("{context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },

    /// Anything else, with what was being done.
    #[error("{context}: {reason}")]
    Failed { context: String, reason: String },

    /// The single writer stopped (its thread ended after an error, or the process is stopping).
    #[error("the store writer stopped: {0}")]
    WriterStopped(String),

    /// The job was stopped by a shutdown before it finished; what it committed is kept.
    #[error("stopped by shutdown")]
    Cancelled,
}

impl AppError {
    /// Whether this is the caller's fault (bad config, arguments or query): exit status 2.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            AppError::Config(_)
                | AppError::Usage(_)
                | AppError::NotFound(_)
                | AppError::Store(StoreError::InvalidQuery { .. })
        )
    }

    pub(crate) fn failed(context: impl Into<String>, reason: impl std::fmt::Display) -> AppError {
        AppError::Failed {
            context: context.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn json(context: impl Into<String>) -> impl FnOnce(serde_json::Error) -> AppError {
        let context = context.into();
        move |source| AppError::Json { context, source }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> AppError {
        let path = path.into();
        move |source| AppError::Io {
            action,
            path,
            source,
        }
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
