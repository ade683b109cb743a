//! The HTTP side: one axum router serving the token endpoint, the Graph endpoints privtrail reads,
//! and `GET /_sim/stats`. Request counting, faults and authentication happen in [`State::gate`]
//! before each Graph handler runs.

// Handlers return early with a ready `Response` as their error (axum's idiom); it is large, but
// built once per failed request.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::TenantSim;
use super::faults::Faults;

const GRAPH_CONTENT_TYPE: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// An audit record with its sort key and the `directoryAudits` request it first appears on.
#[derive(Debug)]
pub(crate) struct Audit {
    pub time: DateTime<Utc>,
    pub id: String,
    pub from_request: u64,
    pub value: Value,
}

#[derive(Debug)]
pub(crate) struct Token {
    pub expires: Instant,
    pub issued_at_graph: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub per_endpoint: BTreeMap<String, u64>,
    pub graph: u64,
    pub tokens_issued: u64,
    pub tokens_refused: u64,
    pub statuses: BTreeMap<u16, u64>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub sim: TenantSim,
    /// Newest first, ties by id descending.
    pub audits: Vec<Audit>,
    pub faults: Faults,
    pub base_url: String,
    /// Authenticates skip tokens; random per server.
    pub secret: String,
    pub counters: Mutex<Counters>,
    pub tokens: Mutex<HashMap<String, Token>>,
    /// What changed while serving (remediation's `adminRemove`s).
    pub live: Mutex<super::requests::Live>,
}

pub(crate) type Shared = Arc<State>;

impl State {
    pub(crate) fn new(sim: TenantSim, faults: Faults, base_url: String) -> Result<Self, String> {
        faults.validate(sim.audits.len())?;
        let withheld: HashMap<usize, u64> = faults
            .late_audits
            .iter()
            .filter_map(|l| l.index.map(|i| (i, l.from_request)))
            .collect();
        let mut audits = Vec::new();
        let extra = faults
            .late_audits
            .iter()
            .filter_map(|l| l.record.clone().map(|r| (r, l.from_request)));
        let all = sim
            .audits
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, r)| (r, withheld.get(&i).copied().unwrap_or(0)))
            .chain(extra);
        for (value, from_request) in all {
            let id = value
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let time = value
                .get("activityDateTime")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .ok_or_else(|| format!("audit record {id:?} has no valid activityDateTime"))?
                .with_timezone(&Utc);
            audits.push(Audit {
                time,
                id,
                from_request,
                value,
            });
        }
        audits.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
        let dated = dated_copies(&faults.dated_audits, &audits)?;
        audits.extend(dated);
        audits.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
        Ok(State {
            sim,
            audits,
            faults,
            base_url,
            secret: super::random_hex(16),
            counters: Mutex::new(Counters::default()),
            tokens: Mutex::new(HashMap::new()),
            live: Mutex::new(super::requests::Live::default()),
        })
    }

    pub(crate) fn counters(&self) -> MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn live(&self) -> MutexGuard<'_, super::requests::Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn tokens(&self) -> MutexGuard<'_, HashMap<String, Token>> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts the request; answers it with a fault, 401 or 403 when one applies. Returns this
    /// request's number at its endpoint.
    pub(crate) async fn gate(&self, endpoint: &str, headers: &HeaderMap) -> Result<u64, Response> {
        let (n, global) = {
            let mut c = self.counters();
            c.graph += 1;
            let n = c.per_endpoint.entry(endpoint.to_owned()).or_default();
            *n += 1;
            (*n, c.graph)
        };
        if let Some(ms) = self.faults.delay_ms.filter(|ms| *ms > 0) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(rule) = Faults::hit(&self.faults.throttle, endpoint, n, Some(global)) {
            let secs = rule.retry_after_secs.unwrap_or(1);
            let mut r = graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Err(r);
        }
        if let Some(rule) = Faults::hit(&self.faults.unavailable, endpoint, n, Some(global)) {
            let mut r = graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable. Please retry later.",
            );
            if let Some(secs) = rule.retry_after_secs {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return Err(r);
        }
        self.authenticate(headers, global)?;
        if self.faults.deny.iter().any(|d| d == endpoint) {
            return Err(graph_error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
        Ok(n)
    }

    /// `global` is this request's Graph request number (already counted).
    fn authenticate(&self, headers: &HeaderMap, global: u64) -> Result<(), Response> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let refuse = |message: &str| {
            self.counters().tokens_refused += 1;
            let mut r = graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""),
            );
            r
        };
        let Some(token) = bearer else {
            return Err(refuse("Access token is empty."));
        };
        let valid = self.tokens().get(token).is_some_and(|t| {
            let revoked = self.faults.revoke_tokens_after_requests.is_some_and(|n| {
                let n = n.max(1);
                let revoked_at = (t.issued_at_graph / n + 1) * n;
                global > revoked_at
            });
            t.expires > Instant::now() && !revoked
        });
        if valid {
            Ok(())
        } else {
            Err(refuse("Access token has expired or is not yet valid."))
        }
    }

    pub(crate) fn stats(&self) -> Value {
        let c = self.counters();
        let mut requests = serde_json::Map::new();
        for e in super::faults::ENDPOINTS {
            requests.insert(e.into(), json!(c.per_endpoint.get(e).copied().unwrap_or(0)));
        }
        let statuses: serde_json::Map<String, Value> = c
            .statuses
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        json!({
            "tenant_id": self.sim.tenant_id,
            "client_id": self.sim.client_id,
            "graph_requests": c.graph,
            "requests": requests,
            "tokens_issued": c.tokens_issued,
            "tokens_refused": c.tokens_refused,
            "statuses": statuses,
            "audits": self.audits.len() + self.live().audits.len(),
            "schedule_requests": self.live().requests.len(),
        })
    }
}

/// Copies of the newest audit record re-dated at each of `times` (validated as RFC 3339).
fn dated_copies(times: &[String], audits: &[Audit]) -> Result<Vec<Audit>, String> {
    let Some(model) = audits.first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(times.len());
    for (n, t) in times.iter().enumerate() {
        let time = DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("dated audit {t:?}: {e}"))?
            .with_timezone(&Utc);
        let id = format!("dated-{n}-{}", model.id);
        let mut value = model.value.clone();
        value["id"] = json!(id);
        value["activityDateTime"] = json!(t);
        // Not the original's partner: the store would link the two as one change.
        value["correlationId"] = json!(super::random_guid());
        out.push(Audit {
            time,
            id,
            from_request: 0,
            value,
        });
    }
    Ok(out)
}

/// The router for `state` (tests drive it with `oneshot`; [`super::start`] serves it).
pub(crate) fn router(state: Shared) -> Router {
    let counting = state.clone();
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(super::token::handle))
        .route("/v1.0/auditLogs/directoryAudits", get(super::graph::audits))
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances",
            get(|s, h, q| super::graph::list(s, h, q, "roleAssignmentScheduleInstances")),
        )
        .route(
            "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
            get(|s, h, q| super::graph::list(s, h, q, "roleEligibilityScheduleInstances")),
        )
        .route(
            "/v1.0/roleManagement/directory/roleDefinitions",
            get(|s, h, q| super::graph::list(s, h, q, "roleDefinitions")),
        )
        .route("/v1.0/users/{id}", get(super::graph::user))
        .route(
            "/v1.0/policies/roleManagementPolicyAssignments",
            get(super::policies::list),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
            post(super::requests::create).get(super::requests::list),
        )
        .route(
            "/_sim/stats",
            get(|AxState(s): AxState<Shared>| async move { Json(s.stats()) }),
        )
        .fallback(|uri: axum::http::Uri| async move {
            let seg = uri.path().trim_start_matches('/').to_owned();
            graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Resource not found for the segment '{seg}'."),
            )
        })
        .layer(axum::middleware::map_response(move |r: Response| {
            let s = counting.clone();
            async move {
                *s.counters()
                    .statuses
                    .entry(r.status().as_u16())
                    .or_default() += 1;
                r
            }
        }))
        .with_state(state)
}

pub(crate) fn graph_json(status: StatusCode, body: &Value) -> Response {
    with_request_id(status, body, &super::random_guid())
}

fn with_request_id(status: StatusCode, body: &Value, rid: &str) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(GRAPH_CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(rid) {
        r.headers_mut().insert("request-id", v.clone());
        r.headers_mut().insert("client-request-id", v);
    }
    r
}

/// Graph's error body: `{"error":{"code","message","innerError":{date,request-id,client-request-id}}}`.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let rid = super::random_guid();
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": rid,
            "client-request-id": rid,
        }
    }});
    with_request_id(status, &body, &rid)
}
