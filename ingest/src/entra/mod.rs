//! Entra ID audit records (SPEC §1.1): the pure normalization of a Graph v1.0 `directoryAudit`
//! ([`normalize_directory_audit`]), the link between PIM's and Core Directory's records of one change
//! ([`same_change`]), and the file imports ([`crate::Format::Graph`], [`crate::Format::LogAnalytics`],
//! [`crate::Format::AzureMonitor`]) that `read_file` dispatches to.
//!
//! # How it fits together
//! `detect.rs` recognizes the formats by content; `imports.rs` reads a file into records (JSON lines —
//! parsed on a second thread by `lines.rs` —, whole documents, CSV); `pages.rs` turns one top-level
//! JSON value into records, through the borrowed `node::Node` tree when it is plain Graph (read
//! with the records' compact texts in one pass, `node/parse.rs`), else through
//! `serde_json::Value`, where `convert.rs` turns each record of any shape into a
//! `directoryAudit`; `normalize.rs` (generic over both trees, `node::JsonValue`) makes the
//! [`privtrail_model::Event`]. The tenant of an imported record is
//! [`crate::Options::tenant`] when set, else the record's own tenant id (Log Analytics `TenantId`,
//! Azure Monitor `tenantId`), else [`DEFAULT_TENANT`].

mod compact;
mod convert;
pub(crate) mod detect;
pub(crate) mod imports;
mod json;
mod lines;
mod link;
mod message;
mod node;
mod normalize;
mod pages;
#[cfg(test)]
mod test_json;

pub use imports::DEFAULT_TENANT;
pub use link::same_change;
pub use normalize::{EXPIRY_KEYS, JUSTIFICATION_KEYS, MS_PIM_APP, normalize_directory_audit};
