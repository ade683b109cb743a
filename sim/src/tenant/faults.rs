//! Fault injection: what the simulated Graph does wrong, and when. Deserializable from JSON so a test
//! (or `privtrail sim graph --faults FILE`) can pass a file; every field is optional.
//!
//! **Request numbers** are 1-based and counted per server: per endpoint (`token`, `directoryAudits`,
//! `roleAssignmentScheduleInstances`, `roleEligibilityScheduleInstances`, `roleDefinitions`, `users`,
//! `roleAssignmentScheduleRequests`, `roleManagementPolicyAssignments`)
//! and globally over all Graph requests (every endpoint but `token` and `/_sim/*`). Every request is
//! counted, including those answered with an error.

use serde::{Deserialize, Serialize};

use crate::SimError;

/// The endpoints, by the names used in faults and in `GET /_sim/stats`.
pub const ENDPOINTS: [&str; 8] = [
    "token",
    "directoryAudits",
    "roleAssignmentScheduleInstances",
    "roleEligibilityScheduleInstances",
    "roleDefinitions",
    "users",
    "roleAssignmentScheduleRequests",
    "roleManagementPolicyAssignments",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Records per page at most (a page is `min($top, page_size)`); default 50.
    pub page_size: Option<usize>,
    /// Lifetime of issued tokens (`expires_in`), default 3599 s.
    pub token_lifetime_secs: Option<u64>,
    /// Every token becomes invalid once N Graph requests have been made since the last multiple of N
    /// before it was issued: the tokens issued before request N+1 are refused from request N+1 on
    /// (401), those issued later from request 2N+1 on, and so on.
    pub revoke_tokens_after_requests: Option<u64>,
    /// Requests answered 429 `TooManyRequests` with `Retry-After`.
    pub throttle: Vec<FaultRule>,
    /// Requests answered 503 `ServiceUnavailable` (with `Retry-After` when the rule has one).
    pub unavailable: Vec<FaultRule>,
    /// Endpoints answered 403 `Authorization_RequestDenied` (after a valid token): the app lacks
    /// their permission (`roleAssignmentScheduleRequests`: `RoleManagement.ReadWrite.Directory`).
    pub deny: Vec<String>,
    /// Sleep before answering each Graph request (each page), milliseconds.
    pub delay_ms: Option<u64>,
    /// Sleep after an `adminRemove` took effect, before answering it (milliseconds): a caller
    /// that dies meanwhile never learns that it worked.
    pub remove_answer_delay_ms: Option<u64>,
    /// Audit records that appear only from the K-th `directoryAudits` request on.
    pub late_audits: Vec<LateAudit>,
    /// Listing endpoints (`directoryAudits` and the three role management collections) whose last
    /// page, instead of ending the listing, links back to its first page (the same query without
    /// `$skiptoken`): an `@odata.nextLink` cycle.
    pub next_link_cycle: Vec<String>,
    /// Audit records dated at these times (RFC 3339, e.g. `2099-01-01T00:00:00Z`): copies of the
    /// tenant's newest audit record with ids and correlation ids of their own, served from the
    /// first request on.
    pub dated_audits: Vec<String>,
}

/// The endpoints that page (and so can link in a cycle).
pub const LISTINGS: [&str; 4] = [
    "directoryAudits",
    "roleAssignmentScheduleInstances",
    "roleEligibilityScheduleInstances",
    "roleDefinitions",
];

/// Which requests a fault hits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    /// An endpoint name from [`ENDPOINTS`]; absent = the global Graph request number.
    pub endpoint: Option<String>,
    /// 1-based request numbers.
    pub requests: Vec<u64>,
    /// `Retry-After` in seconds. Throttling defaults to 1; 503 sends none unless set.
    pub retry_after_secs: Option<u64>,
}

/// A record withheld until the `from_request`-th `directoryAudits` request: either an index into
/// [`super::TenantSim::audits`] or a whole record of its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LateAudit {
    pub from_request: u64,
    pub index: Option<usize>,
    pub record: Option<serde_json::Value>,
}

impl Faults {
    /// Parses a fault description (the JSON shape of this struct). Whether it fits a tenant (known
    /// endpoints, existing records) is checked when the server starts.
    pub fn from_json(text: &str) -> Result<Self, SimError> {
        serde_json::from_str(text).map_err(|e| SimError::InvalidFaults {
            reason: e.to_string(),
        })
    }

    pub(crate) fn page_size(&self) -> usize {
        self.page_size.unwrap_or(50).max(1)
    }

    pub(crate) fn token_lifetime(&self) -> u64 {
        self.token_lifetime_secs.unwrap_or(3599)
    }

    /// Whether `endpoint`'s last page links back to its first.
    pub(crate) fn cycles(&self, endpoint: &str) -> bool {
        self.next_link_cycle.iter().any(|e| e == endpoint)
    }

    /// Checks names and late records before the server starts.
    pub(crate) fn validate(&self, audits: usize) -> Result<(), String> {
        for r in self.throttle.iter().chain(&self.unavailable) {
            if let Some(e) = &r.endpoint
                && !ENDPOINTS.contains(&e.as_str())
            {
                return Err(format!(
                    "unknown endpoint {e:?} in a fault rule (known: {ENDPOINTS:?})"
                ));
            }
        }
        for e in &self.deny {
            if !ENDPOINTS.contains(&e.as_str()) || e == "token" {
                return Err(format!(
                    "cannot deny {e:?} (known Graph endpoints: {:?})",
                    &ENDPOINTS[1..]
                ));
            }
        }
        for e in &self.next_link_cycle {
            if !LISTINGS.contains(&e.as_str()) {
                return Err(format!(
                    "cannot make {e:?} link in a cycle (listings: {LISTINGS:?})"
                ));
            }
        }
        for t in &self.dated_audits {
            if chrono::DateTime::parse_from_rfc3339(t).is_err() {
                return Err(format!("dated audit time {t:?} is not RFC 3339"));
            }
            if audits == 0 {
                return Err("dated audits need a tenant with an audit record to copy".into());
            }
        }
        for l in &self.late_audits {
            match (&l.index, &l.record) {
                (Some(i), None) if *i < audits => {}
                (Some(i), None) => {
                    return Err(format!("late audit index {i} out of range (0..{audits})"));
                }
                (None, Some(r))
                    if r.get("id").is_some_and(|v| v.is_string())
                        && r.get("activityDateTime").is_some_and(|v| v.is_string()) => {}
                (None, Some(_)) => {
                    return Err(
                        "a late audit record needs string `id` and `activityDateTime`".into(),
                    );
                }
                _ => return Err("a late audit needs exactly one of `index` and `record`".into()),
            }
        }
        Ok(())
    }

    /// The fault rule that hits this request, if any.
    pub(crate) fn hit<'a>(
        rules: &'a [FaultRule],
        endpoint: &str,
        endpoint_n: u64,
        global_n: Option<u64>,
    ) -> Option<&'a FaultRule> {
        rules.iter().find(|r| match (&r.endpoint, global_n) {
            (Some(e), _) => e == endpoint && r.requests.contains(&endpoint_n),
            (None, Some(g)) => r.requests.contains(&g),
            (None, None) => false,
        })
    }
}
