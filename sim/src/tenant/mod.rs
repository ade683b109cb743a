//! A simulated Entra tenant: a local HTTP server that behaves like Microsoft Graph v1.0 and its token
//! endpoint, for `privtrail demo` and for end-to-end tests of the Entra collector.
//!
//! One server serves both roles: point the collector's `login_url` and `graph_url` at
//! [`RunningSim::base_url`]. [`start`] runs it on the caller's tokio runtime; [`serve_scenario`]
//! runs it as a process of its own (`privtrail sim graph`). Endpoints:
//! - `POST /{tenant}/oauth2/v2.0/token` — client credentials with a secret or a JWT assertion
//!   (signature not verified, see `token.rs`);
//! - `GET /v1.0/auditLogs/directoryAudits` — `$filter` on `activityDateTime`, `$top`, newest first,
//!   `@odata.nextLink` with an opaque authenticated `$skiptoken`;
//! - `GET /v1.0/roleManagement/directory/{roleAssignmentScheduleInstances,
//!   roleEligibilityScheduleInstances, roleDefinitions}` — paged the same way;
//! - `GET /v1.0/users/{id or UPN}` — optional `$select`;
//! - `GET /v1.0/policies/roleManagementPolicyAssignments` — the roles' settings (the scope filter
//!   Graph requires; `$expand=policy($expand=rules)`);
//! - `POST /v1.0/roleManagement/directory/roleAssignmentScheduleRequests` — `adminRemove` only: the
//!   body validated, the active instance ended, a PIM audit record written (served from the next
//!   `directoryAudits` request); `GET` lists the requests made (`$filter=principalId eq '…'`);
//! - `GET /_sim/stats` — request counters (no auth).
//!
//! [`Faults`] injects throttling, outages, token expiry and revocation (any `expires_in`, 2^63
//! included), denied permissions, slow pages, late audit records, records dated in the future and
//! `@odata.nextLink` cycles. [`scenario`] builds the demo's tenant; [`scenario_facts`] says
//! what a collector should have stored from it.

mod codec;
mod facts;
#[cfg(test)]
mod fault_tests;
mod faults;
mod graph;
mod noise;
mod policies;
mod records;
#[cfg(test)]
mod request_tests;
mod requests;

mod scenario;
#[cfg(test)]
mod scenario_tests;
mod serve;
mod server;
mod stories;
#[cfg(test)]
mod tests;
mod token;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::SimError;

pub use facts::scenario_facts;
pub use faults::{ENDPOINTS, FaultRule, Faults, LISTINGS, LateAudit};
pub use scenario::scenario;
pub use serve::serve_scenario;

/// The simulated tenant's id, app (client) id and secret: the same for every seed, so a test that
/// runs `privtrail sim graph` in another process knows them.
pub const SIM_TENANT_ID: &str = "c0a7b1e2-5f3d-4e8a-9b6c-2d1e0f9a8b7c";
pub const SIM_CLIENT_ID: &str = "4d2c9e1b-7a3f-4b5e-8c6d-1e0f2a3b4c5d";
pub const SIM_CLIENT_SECRET: &str = "sim~Q8f.Zx3-privtrail-demo-secret";

/// Everything the tenant holds. Records are Graph v1.0 JSON exactly as Graph returns them.
#[derive(Clone)]
pub struct TenantSim {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// `directoryAudit` records, any order.
    pub audits: Vec<serde_json::Value>,
    /// `unifiedRoleAssignmentScheduleInstance`s (active now).
    pub assignments: Vec<serde_json::Value>,
    /// `unifiedRoleEligibilityScheduleInstance`s.
    pub eligibilities: Vec<serde_json::Value>,
    /// `unifiedRoleDefinition`s.
    pub roles: Vec<serde_json::Value>,
    /// `user`s, with every property the simulator can return (see `$select`).
    pub users: Vec<serde_json::Value>,
    /// `unifiedRoleManagementPolicyAssignment`s with their policy and rules (the role settings).
    pub policies: Vec<serde_json::Value>,
}

impl std::fmt::Debug for TenantSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSim")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("audits", &self.audits.len())
            .field("assignments", &self.assignments.len())
            .field("eligibilities", &self.eligibilities.len())
            .field("roles", &self.roles.len())
            .field("users", &self.users.len())
            .field("policies", &self.policies.len())
            .finish()
    }
}

/// A server running on the current tokio runtime. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningSim {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    state: server::Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningSim {
    /// The counters `GET /_sim/stats` shows.
    pub fn stats(&self) -> serde_json::Value {
        self.state.stats()
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `listen` (use `127.0.0.1:0` for a free port) and serves `sim` with `faults` on the current
/// tokio runtime. Fails with [`SimError::Listen`], or [`SimError::InvalidFaults`] when `faults` do
/// not fit `sim`.
pub async fn start(
    sim: TenantSim,
    faults: Faults,
    listen: SocketAddr,
) -> Result<RunningSim, SimError> {
    let bind_error = |source| SimError::Listen {
        addr: listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let base_url = format!("http://{addr}");
    let state = server::State::new(sim, faults, base_url.clone())
        .map_err(|reason| SimError::InvalidFaults { reason })?;
    let state = Arc::new(state);
    let app = server::router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "simulated Graph server stopped");
        }
    });
    Ok(RunningSim {
        base_url,
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// The router alone, for in-process tests (`tower::ServiceExt::oneshot`).
#[cfg(test)]
pub(crate) fn test_router(sim: TenantSim, faults: Faults) -> Result<axum::Router, String> {
    let state = server::State::new(sim, faults, "http://sim.test".into())?;
    Ok(server::router(Arc::new(state)))
}

/// Unpredictable hex (`n` bytes): hashes the clock, the process id and a counter. Tokens and the
/// skip-token key need to be unguessable by accident, not by an attacker.
pub(crate) fn random_hex(n: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    while out.len() < n * 2 {
        let mut h = Sha256::new();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        h.update(nanos.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        h.update(out.as_bytes());
        out.push_str(&hex::encode(h.finalize()));
    }
    out.truncate(n * 2);
    out
}

pub(crate) fn random_guid() -> String {
    let h = random_hex(16);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}
