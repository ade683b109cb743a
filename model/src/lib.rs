//! The shared event model of privtrail: pure data, no I/O.
//!
//! Every source (Entra ID, Windows, endpoint tags, privtrail itself) is normalized into an [`Event`]
//! (SPEC §2). An event's [`Action`] is the vocabulary users query by; its [`EventId`] is stable, derived
//! from the source and the record's native id, and is the dedupe key of the store.
//! [`privilege`] knows which Windows groups are privileged; [`names`] what the events say a SID is
//! called. [`Reject`] describes a record that could
//! not be normalized, with where it came from.
//!
//! Also the few things every crate must do the same way: the one duration syntax
//! ([`parse_duration`], [`Span`] for config values, [`format_duration`]), the one `Retry-After`
//! reader ([`parse_retry_after`], capped at [`MAX_RETRY_AFTER`]), the one redacting [`Secret`],
//! times as privtrail writes them ([`format_time`]) and [`is_loopback_host`].
//!
//! Crates that ingest, store, evaluate or deliver events depend on this crate and on nothing else of
//! privtrail's; keep it free of I/O and heavy dependencies.

mod action;
mod duration;
mod event;
mod id;
pub mod names;
pub mod privilege;
mod secret;
mod time;

pub use action::{Action, UnknownAction};
pub use duration::{
    MAX_RETRY_AFTER, Span, format_duration, parse_duration, parse_iso8601_duration,
    parse_retry_after,
};
pub use event::{Event, Outcome, Reject, Source};
pub use id::{EventId, is_guid};
pub use secret::Secret;

/// Whether `host` (a name or an IP literal, IPv6 in brackets or not) names this machine's loopback
/// interface: where a secret may travel over plain `http://` or SMTP (SPEC §8).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
pub use time::{format_time, serde_opt_time, serde_time};
