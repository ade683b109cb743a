//! The Graph listing endpoints: directory audits (filtered, newest first, keyset-paged), the role
//! management collections (offset-paged) and single users (`$select`).

// Handlers return early with a ready `Response` as their error (axum's idiom); it is large, but
// built once per failed request.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::codec::{self, Cursor};
use super::server::{Audit, Shared, State, graph_error, graph_json};

pub(crate) type Params =
    Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

pub(crate) fn params(q: Params) -> Result<HashMap<String, String>, Response> {
    q.map(|Query(m)| m).map_err(|e| {
        graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Invalid query: {e}"),
        )
    })
}

pub(crate) fn bad_request(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// `$top` (default and cap: the page size).
fn page_len(state: &State, q: &HashMap<String, String>) -> Result<usize, Response> {
    let size = state.faults.page_size();
    match q.get("$top") {
        None => Ok(size),
        Some(t) => match t.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n.min(size)),
            _ => Err(bad_request(&format!("Invalid value '{t}' for $top."))),
        },
    }
}

/// Checks a `$skiptoken` against the endpoint and filter it was made for.
fn cursor(
    state: &State,
    endpoint: &str,
    filter: &str,
    q: &HashMap<String, String>,
) -> Result<Option<Cursor>, Response> {
    let Some(token) = q.get("$skiptoken") else {
        return Ok(None);
    };
    match codec::decode_cursor(&state.secret, token) {
        Some(c) if c.endpoint == endpoint && c.filter_hash == codec::filter_hash(filter) => {
            Ok(Some(c))
        }
        _ => Err(bad_request(
            "Invalid $skiptoken: the token is malformed or does not belong to this query.",
        )),
    }
}

fn next_link(state: &State, path: &str, q: &HashMap<String, String>, c: &Cursor) -> String {
    let mut url = format!("{}/v1.0/{path}?", state.base_url);
    for key in ["$top", "$filter", "$select"] {
        if let Some(v) = q.get(key) {
            url.push_str(&format!("{key}={}&", percent(v)));
        }
    }
    url.push_str("$skiptoken=");
    url.push_str(&codec::encode_cursor(&state.secret, c));
    url
}

/// The link a cycling listing's last page ends with: its first page (the query without
/// `$skiptoken`).
fn first_link(state: &State, path: &str, q: &HashMap<String, String>) -> String {
    let mut url = format!("{}/v1.0/{path}?", state.base_url);
    for key in ["$top", "$filter", "$select"] {
        if let Some(v) = q.get(key) {
            url.push_str(&format!("{key}={}&", percent(v)));
        }
    }
    url.pop();
    url
}

fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn page(state: &State, context: &str, value: Vec<Value>, next: Option<String>) -> Response {
    let mut body = serde_json::Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#{context}", state.base_url)),
    );
    if let Some(n) = next {
        body.insert("@odata.nextLink".into(), json!(n));
    }
    body.insert("value".into(), Value::Array(value));
    graph_json(StatusCode::OK, &Value::Object(body))
}

pub(crate) async fn audits(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    q: Params,
) -> Response {
    const EP: &str = "directoryAudits";
    let n = match state.gate(EP, &headers).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let run = || -> Result<Response, Response> {
        let q = params(q)?;
        let filter_text = q.get("$filter").cloned().unwrap_or_default();
        let filter = if filter_text.trim().is_empty() {
            Vec::new()
        } else {
            codec::parse_audit_filter(&filter_text).map_err(|m| bad_request(&m))?
        };
        let len = page_len(&state, &q)?;
        let after = cursor(&state, EP, &filter_text, &q)?
            .map(|c| {
                let (t, id) = c.position.split_once('|').unwrap_or_default();
                DateTime::parse_from_rfc3339(t)
                    .map(|t| (t.with_timezone(&Utc), id.to_owned()))
                    .map_err(|_| bad_request("Invalid $skiptoken."))
            })
            .transpose()?;
        // The tenant's own records and those written while serving, newest first.
        let live = state.live();
        let mut merged: Vec<&Audit> = Vec::new();
        let all: Box<dyn Iterator<Item = &Audit>> = if live.audits.is_empty() {
            Box::new(state.audits.iter())
        } else {
            merged.extend(state.audits.iter().chain(live.audits.iter()));
            merged.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
            Box::new(merged.iter().copied())
        };
        let mut rows = all.filter(|a| {
            a.from_request <= n
                && codec::matches(&filter, a.time)
                && after
                    .as_ref()
                    .is_none_or(|(t, id)| (a.time, &a.id) < (*t, id))
        });
        let chosen: Vec<&Audit> = rows.by_ref().take(len).collect();
        let more = rows.next().is_some();
        let next = match (more, chosen.last()) {
            (true, Some(last)) => Some(next_link(
                &state,
                "auditLogs/directoryAudits",
                &q,
                &Cursor {
                    endpoint: EP.into(),
                    filter_hash: codec::filter_hash(&filter_text),
                    position: format!(
                        "{}|{}",
                        last.time
                            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                        last.id
                    ),
                },
            )),
            _ if state.faults.cycles(EP) => {
                Some(first_link(&state, "auditLogs/directoryAudits", &q))
            }
            _ => None,
        };
        let values = chosen.into_iter().map(|a| a.value.clone()).collect();
        Ok(page(&state, "auditLogs/directoryAudits", values, next))
    };
    run().unwrap_or_else(|r| r)
}

pub(crate) async fn list(
    state: AxState<Shared>,
    headers: HeaderMap,
    q: Params,
    ep: &'static str,
) -> Response {
    let AxState(state) = state;
    if let Err(r) = state.gate(ep, &headers).await {
        return r;
    }
    let run = || -> Result<Response, Response> {
        let q = params(q)?;
        if q.contains_key("$filter") {
            return Err(bad_request(
                "The simulated tenant does not support $filter on this endpoint.",
            ));
        }
        let len = page_len(&state, &q)?;
        let offset = match cursor(&state, ep, "", &q)? {
            Some(c) => c
                .position
                .parse::<usize>()
                .map_err(|_| bad_request("Invalid $skiptoken."))?,
            None => 0,
        };
        let all = match ep {
            "roleAssignmentScheduleInstances" => &state.sim.assignments,
            "roleEligibilityScheduleInstances" => &state.sim.eligibilities,
            _ => &state.sim.roles,
        };
        let live = state.live();
        let removed = &live.removed;
        let all: Vec<&Value> = all
            .iter()
            .filter(|v| {
                v.get("id")
                    .and_then(Value::as_str)
                    .is_none_or(|id| !removed.contains(id))
            })
            .collect();
        let chosen: Vec<Value> = all
            .iter()
            .skip(offset)
            .take(len)
            .map(|v| (*v).clone())
            .collect();
        let end = offset + chosen.len();
        let path = format!("roleManagement/directory/{ep}");
        let next = if end < all.len() {
            let c = Cursor {
                endpoint: ep.into(),
                filter_hash: codec::filter_hash(""),
                position: end.to_string(),
            };
            Some(next_link(&state, &path, &q, &c))
        } else if state.faults.cycles(ep) {
            Some(first_link(&state, &path, &q))
        } else {
            None
        };
        Ok(page(
            &state,
            &format!("roleManagement/directory/{ep}"),
            chosen,
            next,
        ))
    };
    run().unwrap_or_else(|r| r)
}

/// Properties `GET /users/{id}` returns without `$select` (Graph v1.0's default set: notably
/// *not* `onPremisesSecurityIdentifier`, which must be selected).
const USER_DEFAULT: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

pub(crate) async fn user(
    AxState(state): AxState<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Params,
) -> Response {
    if let Err(r) = state.gate("users", &headers).await {
        return r;
    }
    let q = match params(q) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let found = state.sim.users.iter().find(|u| {
        u.get("id").and_then(Value::as_str) == Some(id.as_str())
            || u.get("userPrincipalName")
                .and_then(Value::as_str)
                .is_some_and(|upn| upn.eq_ignore_ascii_case(&id))
    });
    let Some(u) = found else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        );
    };
    let select: Vec<String> = match q.get("$select") {
        Some(s) => s
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        None => Vec::new(),
    };
    let context = if select.is_empty() {
        "users/$entity".to_owned()
    } else {
        format!("users({})/$entity", select.join(","))
    };
    let keys: Vec<&str> = if select.is_empty() {
        USER_DEFAULT.to_vec()
    } else {
        select.iter().map(String::as_str).collect()
    };
    let mut body = serde_json::Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#{context}", state.base_url)),
    );
    for k in keys {
        body.insert(k.to_owned(), u.get(k).cloned().unwrap_or(Value::Null));
    }
    graph_json(StatusCode::OK, &Value::Object(body))
}
