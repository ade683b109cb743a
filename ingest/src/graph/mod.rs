//! Microsoft Graph: the Entra ID collector's I/O (SPEC §1.1).
//!
//! # Main types
//! - [`TenantSettings`] describes one tenant: labels, credentials, URLs, limits.
//! - [`GraphClient`] gets JSON from Graph v1.0 for one tenant: it holds the token (client secret or
//!   certificate assertion, cached until shortly before expiry, refreshed once on a 401), keeps to
//!   the tenant's request budget ([`RateLimiter`]), honours `Retry-After`, backs off with jitter on
//!   transient failures, and classifies what fails as a [`GraphError`].
//! - [`AuditPull`] pages through `directoryAudits` from a stored checkpoint and hands out
//!   [`AuditPage`]s whose checkpoint the caller saves in the same transaction as their events.
//! - [`fetch_pim_snapshot`] and [`lookup_users`] read PIM's current state and the users behind it.
//! - Every paged walk (the audit pull, each PIM collection) follows `@odata.nextLink` through one
//!   pager: at most [`TenantSettings::max_pages`] pages, never the same page twice; user lookups
//!   are capped per call ([`TenantSettings::max_user_lookups`]). A watermark never passes now +
//!   [`MAX_CLOCK_SKEW`], and every duration from the config or a server saturates, never overflows.
//! - [`collector_error_event`] turns a failure into the `collector.error` event users see.
//! - [`admin_remove`] ends a PIM activation (remediation's one write to Graph) and
//!   [`find_admin_remove`] finds such a request again by its idempotency key.
//!
//! The caller (the binary) owns the store and the schedule; nothing here writes to the store, so every
//! crash-safety decision is visible in the page/checkpoint contract of [`AuditPull`].

mod audit;
mod client;
mod error;
mod event;
mod paging;
mod pim;
mod policies;
mod ratelimit;
mod requests;
mod token;

use std::time::Duration;

pub use audit::{AuditCheckpoint, AuditPage, AuditPull};
pub use client::GraphClient;
pub use error::{ErrorKind, GraphError, permission_for};
pub use event::collector_error_event;
pub use paging::DEFAULT_MAX_PAGES;
pub use pim::{
    AssignmentType, DirectoryUser, MemberType, PimInstance, PimSnapshot, RoleDefinition,
    fetch_pim_snapshot, lookup_users,
};
pub use policies::{RolePolicy, fetch_role_policies};
pub use privtrail_model::Secret;
pub use ratelimit::RateLimiter;
pub use requests::{AdminRemove, admin_remove, find_admin_remove};
pub use token::{ClientCertificate, MAX_TOKEN_LIFETIME};

/// The public cloud's sign-in endpoint; sovereign clouds configure their own.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// The public cloud's Graph endpoint.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
/// How far ahead of our clock Graph's may be: a watermark never moves past now + this, so one
/// record dated in the future cannot push the next pull's window past everything still to come.
pub const MAX_CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// Users looked up per [`lookup_users`] call unless [`TenantSettings::max_user_lookups`] says
/// otherwise: one request each, so at Graph's 5 requests per 10 s about half an hour.
pub const DEFAULT_MAX_USER_LOOKUPS: usize = 1_000;

/// How the application authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A client secret.
    Secret(Secret),
    /// One PEM text holding the RSA private key (PKCS#8 or PKCS#1) and the certificate uploaded to
    /// the app registration. Microsoft recommends certificates over secrets.
    Certificate { pem: Secret },
}

/// Retry behaviour for throttled and transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First backoff delay; it doubles per attempt, plus up to 100 % random jitter.
    pub base: Duration,
    /// Cap on one backoff delay.
    pub max_delay: Duration,
    /// Attempts per request, the first included. A 401 answered by a token refresh is not counted.
    pub max_attempts: u32,
    /// A `Retry-After` longer than this is not waited out inside one request: the error goes to the
    /// caller, which retries on its schedule instead of holding the collector.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            max_attempts: 5,
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// One tenant to collect from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    /// The label used as `Event.tenant` and in messages (e.g. `contoso`).
    pub name: String,
    /// The directory (tenant) id or a verified domain, as in the token URL.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    pub credential: Credential,
    /// Without trailing slash; [`DEFAULT_LOGIN_URL`] unless a sovereign cloud or a test.
    pub login_url: String,
    /// Without trailing slash; requests go to `{graph_url}/v1.0/...`.
    pub graph_url: String,
    /// How far before the watermark a resumed audit pull starts, because events arrive late.
    pub overlap: chrono::Duration,
    /// How far back the first audit pull reaches.
    pub backfill: chrono::Duration,
    /// At most `.0` requests per `.1` to Graph (the token endpoint is not counted).
    pub rate_limit: (u32, Duration),
    /// Per HTTP request, token requests included.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Pages one paged walk (the audit pull, each PIM collection) reads at most.
    pub max_pages: usize,
    /// Users [`lookup_users`] asks Graph for per call at most (cached ones are free); the rest
    /// wait for the next call, so a snapshot naming millions of principals cannot hold the
    /// collector for days.
    pub max_user_lookups: usize,
}

impl TenantSettings {
    /// Settings with every default: public cloud, 15 min overlap, 7 d backfill, 5 requests per
    /// 10 s, 60 s timeout, [`RetryPolicy::default`], [`DEFAULT_MAX_PAGES`] and
    /// [`DEFAULT_MAX_USER_LOOKUPS`].
    pub fn new(
        name: impl Into<String>,
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        credential: Credential,
    ) -> Self {
        TenantSettings {
            name: name.into(),
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            credential,
            login_url: DEFAULT_LOGIN_URL.to_owned(),
            graph_url: DEFAULT_GRAPH_URL.to_owned(),
            overlap: chrono::Duration::minutes(15),
            backfill: chrono::Duration::days(7),
            rate_limit: (5, Duration::from_secs(10)),
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            max_pages: DEFAULT_MAX_PAGES,
            max_user_lookups: DEFAULT_MAX_USER_LOOKUPS,
        }
    }
}
