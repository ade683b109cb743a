//! Endpoint elevation tags (SPEC §1.3): what a script that grants local admin stamps on the
//! machine, e.g. `HKLM\SOFTWARE\Org\AdminAccessAudit` with `LastAdminGranted`, `GrantedTo`,
//! `GrantedToSid`, `GrantedBy`, `ExpiresAt`, `Ticket` / `Reason`, read as [`crate::Format::Regtag`]:
//!
//! - the text of `reg query "HKLM\SOFTWARE\Org\AdminAccessAudit"` (ASCII/UTF-8 or UTF-16 with BOM,
//!   CRLF or LF; several keys, subkeys, `/s`; a remote `\\HOST\HKLM\…` query). The host comes from a
//!   remote key path, a `host` value, a header line before the key (`# host: WS-0142`,
//!   `Host: WS-0142`), else [`crate::Options::host`] (`--host`);
//! - JSON tags posted by an endpoint or RMM tool: one object, an array, or JSON lines, keys matched
//!   ignoring case (and `_`, `-`, blanks); the host in `host`, `computer`, `hostname` or
//!   `computerName`, else `Options::host`.
//!
//! Each tag becomes one `endpoint.admin_tag` event ([`normalize_tag`], pure). Times are read by
//! [`parse_tag_time`] (RFC 3339, `yyyy-mm-dd hh:mm:ss`, `M/d/yyyy h:mm:ss AM/PM`, epoch seconds;
//! times without a zone are UTC). The event id is derived from host, `LastAdminGranted`,
//! `ExpiresAt` and the account ([`tag_record_id`]), so reading the same tag again, in either form,
//! stores it once.
//!
//! # How it fits together
//! `detect.rs` recognizes `reg query` text (`regquery::looks_like`) and JSON tags
//! (`read::json_looks_like`); `read.rs` splits a file into tags (`regquery.rs` parses the text),
//! resolves their hosts and hands events and rejects to the emitter.

mod normalize;
pub(crate) mod read;
pub(crate) mod regquery;
mod time;

pub use normalize::{
    EVENT_CODE, EXPIRES_AT, GRANTED_AT, GRANTED_BY, GRANTED_TO, GRANTED_TO_SID, HOST, PRIVILEGE,
    PRIVILEGE_ID, REASON, TICKET, TagError, is_tag, normalize_tag, tag_host, tag_record_id,
};
pub use time::parse_tag_time;

/// Whether the head of a file is a tag file (`reg query` text or JSON tags); BOM and leading
/// whitespace already skipped.
pub(crate) fn sniff(body: &[u8]) -> bool {
    match body.first() {
        Some(b'{' | b'[') => read::json_looks_like(body),
        Some(_) => regquery::looks_like(body),
        None => false,
    }
}
