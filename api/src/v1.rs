//! `/api/v1`: search (with a cursor), one event, elevations, alerts (acknowledge and resolve with a
//! note), export (streamed CSV or JSON lines) and pushed Windows events (JSON lines).

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use privtrail_app::export::{EVENT_FIELDS, csv_safe, event_values};
use privtrail_app::push::{PushOutcome, push_documents};
use privtrail_app::services::ElevationQuery;
use privtrail_app::types::{AlertStatus, Event, SearchCursor, SearchRequest, Severity};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::review::{Op, check_note};

/// Events per page at most.
pub const MAX_PAGE: usize = 1000;
/// Events one export streams at most.
pub const MAX_EXPORT: usize = 1_000_000;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/search", get(search))
        .route("/events/{id}", get(event))
        .route("/elevations", get(elevations))
        .route("/alerts", get(alerts))
        .route("/alerts/{id}", get(alert))
        .route(
            "/alerts/{id}/ack",
            post(ack).layer(DefaultBodyLimit::max(64 * 1024)),
        )
        .route(
            "/alerts/{id}/resolve",
            post(resolve).layer(DefaultBodyLimit::max(64 * 1024)),
        )
        .route("/remediations", get(remediations))
        .route("/remediations/{id}", get(remediation))
        .route(
            "/remediations/{id}/approve",
            post(approve).layer(DefaultBodyLimit::max(64 * 1024)),
        )
        .route(
            "/remediations/{id}/reject",
            post(reject).layer(DefaultBodyLimit::max(64 * 1024)),
        )
        .route("/export", get(export))
        .route("/ingest/windows", post(ingest_windows))
}

/// A time from a query string: RFC 3339, a date, or a duration before now.
pub fn parse_time(what: &str, v: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| privtrail_app::time::parse_time(s, Utc::now()))
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// The opaque cursor of a page: the last event's time (ns) and seq.
pub fn encode_cursor(c: SearchCursor) -> String {
    format!(
        "{}.{}",
        c.time.timestamp_nanos_opt().unwrap_or_default(),
        c.seq
    )
}

pub fn decode_cursor(s: &str) -> ApiResult<SearchCursor> {
    let bad = || ApiError::bad_request(format!("cursor {s:?} is not one this API gave out"));
    let (ns, seq) = s.split_once('.').ok_or_else(bad)?;
    let ns: i64 = ns.parse().map_err(|_| bad())?;
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    Ok(SearchCursor {
        time: DateTime::from_timestamp_nanos(ns),
        seq,
    })
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    pub q: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl SearchParams {
    /// The store request of these parameters (limits checked).
    pub fn request(&self, default_limit: usize) -> ApiResult<SearchRequest> {
        let limit = self.limit.unwrap_or(default_limit);
        if limit == 0 || limit > MAX_PAGE {
            return Err(ApiError::bad_request(format!(
                "limit must be 1..={MAX_PAGE}"
            )));
        }
        Ok(SearchRequest {
            query: self.q.clone().unwrap_or_else(|| "*".into()),
            since: parse_time("since", self.since.as_deref())?,
            until: parse_time("until", self.until.as_deref())?,
            limit,
            after: self.cursor.as_deref().map(decode_cursor).transpose()?,
        })
    }
}

/// One page of a search: events newest first and the cursor of the next page (absent at the end).
pub async fn search_page(
    state: &ApiState,
    req: SearchRequest,
) -> ApiResult<(Vec<Event>, Option<String>)> {
    state
        .blocking(move |app| {
            let started = std::time::Instant::now();
            let page = app
                .store()
                .search_page(&req)
                .map_err(privtrail_app::AppError::from)?;
            if let Ok(w) = app.writer() {
                w.telemetry().search.observe(started.elapsed());
            }
            let next = (page.len() == req.limit)
                .then(|| page.last())
                .flatten()
                .map(|(seq, e)| {
                    encode_cursor(SearchCursor {
                        time: e.time,
                        seq: *seq,
                    })
                });
            Ok((page.into_iter().map(|(_, e)| e).collect(), next))
        })
        .await
}

async fn search(
    State(state): State<ApiState>,
    caller: Caller,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<Value>> {
    caller.require_read()?;
    let req = p.request(50)?;
    let (events, next) = search_page(&state, req).await?;
    Ok(Json(json!({ "events": events, "next_cursor": next })))
}

async fn event(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Event>> {
    caller.require_read()?;
    let e = state
        .blocking(move |app| {
            app.event(&id)?
                .ok_or_else(|| ApiError::not_found(format!("no event with id {id:?}")))
        })
        .await?;
    Ok(Json(e))
}

#[derive(Debug, Deserialize)]
struct ElevationParams {
    at: Option<String>,
    open: Option<bool>,
    overdue: Option<bool>,
    principal: Option<String>,
    privilege: Option<String>,
}

async fn elevations(
    State(state): State<ApiState>,
    caller: Caller,
    Query(p): Query<ElevationParams>,
) -> ApiResult<Json<Value>> {
    caller.require_read()?;
    let q = ElevationQuery {
        at: parse_time("at", p.at.as_deref())?,
        open: p.open.unwrap_or(false),
        overdue: p.overdue.unwrap_or(false),
        principal: p.principal,
        privilege: p.privilege,
    };
    let list = state
        .blocking(move |app| Ok(app.elevations(&q, Utc::now())?))
        .await?;
    let out: Vec<Value> = list
        .iter()
        .map(|v| {
            let mut j = serde_json::to_value(&v.elevation).unwrap_or_default();
            j["overdue"] = json!(v.overdue);
            j["state"] = json!(v.state());
            j
        })
        .collect();
    Ok(Json(json!({ "elevations": out })))
}

#[derive(Debug, Deserialize)]
struct AlertParams {
    status: Option<String>,
    severity: Option<String>,
    rule: Option<String>,
}

async fn alerts(
    State(state): State<ApiState>,
    caller: Caller,
    Query(p): Query<AlertParams>,
) -> ApiResult<Json<Value>> {
    caller.require_read()?;
    let status = p
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            AlertStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!("status {s:?}: open, acknowledged or resolved"))
            })
        })
        .transpose()?;
    let severity = p
        .severity
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<Severity>().map_err(ApiError::bad_request))
        .transpose()?;
    let rule = p.rule.filter(|r| !r.is_empty());
    let list = state.blocking(move |app| Ok(app.alerts(status)?)).await?;
    let list: Vec<_> = list
        .into_iter()
        .filter(|a| severity.is_none_or(|s| a.severity == s))
        .filter(|a| rule.as_deref().is_none_or(|r| a.rule == r))
        .collect();
    Ok(Json(json!({ "alerts": list })))
}

async fn alert(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_read()?;
    let (a, r) = state
        .blocking(move |app| {
            let a = app
                .alert(&id)?
                .ok_or_else(|| ApiError::not_found(format!("no alert with id {id:?}")))?;
            let r = app.remediations()?.into_iter().find(|r| r.alert_id == a.id);
            Ok((a, r))
        })
        .await?;
    let mut v = json!(a);
    if let Some(r) = r {
        v["remediation"] = json!(r);
    }
    Ok(Json(v))
}

async fn remediations(State(state): State<ApiState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require_read()?;
    let all = state.blocking(|app| Ok(app.remediations()?)).await?;
    Ok(Json(json!({ "remediations": all })))
}

async fn remediation(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_read()?;
    let r = state
        .blocking(move |app| {
            app.remediation(&id)?
                .ok_or_else(|| ApiError::not_found(format!("no remediation {id:?}")))
        })
        .await?;
    Ok(Json(json!(r)))
}

async fn approve(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    transition(state, caller, &headers, id, body, Op::Approve).await
}

async fn reject(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    transition(state, caller, &headers, id, body, Op::Reject).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    note: Option<String>,
}

/// The optional `{"note": "…"}` body of a reviewer's action.
fn note_of(body: &[u8]) -> ApiResult<NoteBody> {
    let note: NoteBody = if body.is_empty() {
        NoteBody::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("body: {{\"note\": \"…\"}} expected: {e}"))
        })?
    };
    check_note(note.note.as_deref())?;
    Ok(note)
}

/// A reviewer's action with its optional note; who is the token's name. Answers the alert or the
/// remediation action as it now is.
async fn transition(
    state: ApiState,
    caller: Caller,
    headers: &HeaderMap,
    id: String,
    body: Bytes,
    op: Op,
) -> ApiResult<Json<Value>> {
    caller.require_review()?;
    caller.check_csrf(headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))?;
    let note = note_of(&body)?;
    let by = caller.name.clone();
    let v = state
        .blocking(move |app| op.apply(app, &id, &by, note.note.as_deref()))
        .await?;
    Ok(Json(v))
}

async fn ack(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    transition(state, caller, &headers, id, body, Op::Ack).await
}

async fn resolve(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    transition(state, caller, &headers, id, body, Op::Resolve).await
}

#[derive(Debug, Deserialize)]
struct ExportParams {
    #[serde(flatten)]
    search: SearchParams,
    format: Option<String>,
}

/// Events as CSV rows (the fields and the formula rule of `privtrail_app::export`, quoted by the
/// csv crate), the header first when `header`.
fn csv_rows(events: &[(i64, Event)], header: bool) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        let _ = w.write_record(EVENT_FIELDS);
    }
    for (_, e) in events {
        let _ = w.write_record(event_values(e).iter().map(|v| csv_safe(v)));
    }
    w.into_inner().unwrap_or_default()
}

/// Streams every match (paged through the store 1000 at a time) as CSV or JSON lines.
async fn export(
    State(state): State<ApiState>,
    caller: Caller,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    caller.require_read()?;
    let csv = match p.format.as_deref().unwrap_or("jsonl") {
        "csv" => true,
        "jsonl" | "json" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "format {other:?}: csv or jsonl"
            )));
        }
    };
    let mut req = SearchParams {
        limit: Some(MAX_PAGE),
        cursor: None,
        ..p.search
    }
    .request(MAX_PAGE)?;
    // Check the query before answering 200.
    state
        .blocking({
            let r = req.clone();
            move |app| Ok(app.count(&SearchRequest { limit: 0, ..r })?)
        })
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let app = std::sync::Arc::clone(state.app());
    tokio::task::spawn_blocking(move || {
        let mut sent = 0usize;
        loop {
            let page = match app.store().search_page(&req) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "export failed");
                    let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
                    return;
                }
            };
            let chunk = if csv {
                csv_rows(&page, sent == 0)
            } else {
                let mut out = Vec::new();
                for (_, e) in &page {
                    if serde_json::to_writer(&mut out, e).is_ok() {
                        out.push(b'\n');
                    }
                }
                out
            };
            sent += page.len();
            if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                return;
            }
            match page.last() {
                Some((seq, e)) if page.len() == req.limit && sent < MAX_EXPORT => {
                    req.after = Some(SearchCursor {
                        time: e.time,
                        seq: *seq,
                    });
                }
                _ => return,
            }
        }
    });
    let stream = tokio_stream(rx);
    let (ctype, name) = if csv {
        ("text/csv; charset=utf-8", "privtrail-export.csv")
    } else {
        ("application/x-ndjson", "privtrail-export.jsonl")
    };
    let mut resp = Body::from_stream(stream).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// An mpsc receiver as a stream (without pulling in tokio-stream for one adapter).
fn tokio_stream<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_core::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The body as text: gzip (`Content-Encoding: gzip`) inflated up to `limit` bytes.
pub fn body_text<'b>(
    headers: &HeaderMap,
    body: &'b [u8],
    limit: usize,
) -> ApiResult<std::borrow::Cow<'b, str>> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let bytes = if gzip {
        use std::io::Read;
        let mut out = Vec::new();
        let mut d = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
        d.read_to_end(&mut out)
            .map_err(|e| ApiError::bad_request(format!("gzip body: {e}")))?;
        if out.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body inflates to more than {limit} bytes"),
            ));
        }
        String::from_utf8(out)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| e.utf8_error())
    } else {
        std::str::from_utf8(body).map(std::borrow::Cow::Borrowed)
    };
    bytes.map_err(|e| ApiError::bad_request(format!("body is not UTF-8: {e}")))
}

/// `POST /api/v1/ingest/windows`: JSON lines (Winlogbeat 6/7/8, Elastic Agent, NXLog, the evtx
/// crate's JSON); each good line is stored, each bad one answered with its line number.
async fn ingest_windows(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require_ingest()?;
    let limit = state.app().config().http.max_body_bytes;
    let origin = format!("http:ingest/windows ({})", caller.name);
    let result = state
        .blocking(move |app| {
            let text = body_text(&headers, &body, limit)?;
            let docs: Vec<(u64, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| (i as u64 + 1, l))
                .collect();
            let outcomes = push_documents(app, &docs, &origin)?;
            Ok(docs
                .iter()
                .map(|(n, _)| *n)
                .zip(outcomes)
                .collect::<Vec<_>>())
        })
        .await?;
    let (mut stored, mut dup, mut skipped) = (0u64, 0u64, 0u64);
    let mut rejected = Vec::new();
    for (line, o) in &result {
        match o {
            PushOutcome::Stored(_) => stored += 1,
            PushOutcome::Duplicate(_) => dup += 1,
            PushOutcome::Skipped => skipped += 1,
            PushOutcome::Rejected(why) => rejected.push(json!({"line": line, "reason": why})),
        }
    }
    let status = if stored + dup + skipped == 0 && !rejected.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    if result.is_empty() {
        return Err(ApiError::bad_request("the body holds no JSON lines"));
    }
    Ok((
        status,
        Json(json!({
            "stored": stored, "duplicates": dup, "skipped": skipped, "rejected": rejected
        })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = SearchCursor {
            time: DateTime::from_timestamp_nanos(1_467_994_523_429_226_300),
            seq: 42,
        };
        let s = encode_cursor(c);
        assert_eq!(decode_cursor(&s).ok(), Some(c));
        assert!(decode_cursor("x").is_err());
        assert!(decode_cursor("1.x").is_err());
    }
}
