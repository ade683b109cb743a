//! The subset of the Elasticsearch API that agents use to ship events, on a listener of its own so
//! that an agent's `output.elasticsearch` needs nothing but the URL and a credential:
//!
//! - `GET /` and `HEAD /`: the version document (and, on every response, the
//!   `X-Elastic-Product: Elasticsearch` header that clients check);
//! - `POST|PUT /_bulk` and `/{index}/_bulk`: NDJSON `index`/`create` actions with Winlogbeat 7/8,
//!   Elastic Agent or NXLog documents (gzip bodies too), answered per item as Elasticsearch does:
//!   201 stored, 200 already stored (or of a channel not kept), 400 with the reason for a record
//!   privtrail cannot read; `delete` and `update` are refused per item;
//! - the calls Beats make at startup (`/_license`, `/_xpack`, `/_cluster/health`, `/_nodes`…), so
//!   that `output.elasticsearch` with `setup.template.enabled: false` and `setup.ilm.enabled: false`
//!   works.
//!
//! Auth: the bearer token, HTTP basic with the token as the password, or `Authorization: ApiKey`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use privtrail_app::push::{PushOutcome, push_documents};
use serde_json::{Value, json};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;

/// The Elasticsearch version privtrail answers as (what Beats and clients of 8.x accept).
pub const ES_VERSION: &str = "8.17.0";

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(root).head(root_head))
        .route("/_bulk", post(bulk_default).put(bulk_default))
        .route("/{index}/_bulk", post(bulk_index).put(bulk_index))
        .route("/_license", get(license))
        .route("/_xpack", get(xpack))
        .route("/_cluster/health", get(health))
        .route("/_nodes", get(nodes))
        .route("/_nodes/{*rest}", get(nodes))
        .fallback(any(unsupported))
}

/// A JSON response with the header Elasticsearch clients check.
fn es(status: StatusCode, body: Value) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    r
}

/// An Elasticsearch-shaped error.
fn es_error(status: StatusCode, kind: &str, reason: &str) -> Response {
    let mut r = es(
        status,
        json!({
            "error": { "root_cause": [{ "type": kind, "reason": reason }], "type": kind, "reason": reason },
            "status": status.as_u16()
        }),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"privtrail\", ApiKey"),
        );
    }
    r
}

fn from_api(e: ApiError) -> Response {
    let kind = match e.status {
        StatusCode::UNAUTHORIZED => "security_exception",
        StatusCode::FORBIDDEN => "security_exception",
        StatusCode::PAYLOAD_TOO_LARGE => "content_too_long_exception",
        s if s.is_client_error() => "parse_exception",
        _ => "exception",
    };
    es_error(e.status, kind, &e.message)
}

fn version_doc() -> Value {
    json!({
        "name": "privtrail",
        "cluster_name": "privtrail",
        "cluster_uuid": "cHJpdnRyYWlsLWNsdXN0ZXI",
        "version": {
            "number": ES_VERSION,
            "build_flavor": "default",
            "build_type": "tar",
            "build_hash": "privtrail",
            "build_date": "2024-12-11T12:08:05.663969764Z",
            "build_snapshot": false,
            "lucene_version": "9.12.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    })
}

async fn root(caller: Result<Caller, ApiError>) -> Response {
    match caller {
        Ok(_) => es(StatusCode::OK, version_doc()),
        Err(e) => from_api(e),
    }
}

async fn root_head(caller: Result<Caller, ApiError>) -> Response {
    match caller {
        Ok(_) => es(StatusCode::OK, json!({})),
        Err(e) => from_api(e),
    }
}

async fn license(caller: Result<Caller, ApiError>) -> Response {
    if let Err(e) = caller {
        return from_api(e);
    }
    es(
        StatusCode::OK,
        json!({ "license": {
            "status": "active", "uid": "privtrail", "type": "basic", "issue_date_in_millis": 0,
            "max_nodes": 1000, "issued_to": "privtrail", "issuer": "privtrail", "start_date_in_millis": -1
        }}),
    )
}

async fn xpack(caller: Result<Caller, ApiError>) -> Response {
    if let Err(e) = caller {
        return from_api(e);
    }
    es(
        StatusCode::OK,
        json!({
            "build": { "hash": "privtrail", "date": "2024-12-11T12:08:05.663969764Z" },
            "license": { "uid": "privtrail", "type": "basic", "mode": "basic", "status": "active" },
            "features": {}
        }),
    )
}

async fn health(caller: Result<Caller, ApiError>) -> Response {
    if let Err(e) = caller {
        return from_api(e);
    }
    es(
        StatusCode::OK,
        json!({ "cluster_name": "privtrail", "status": "green", "timed_out": false,
                "number_of_nodes": 1, "number_of_data_nodes": 1 }),
    )
}

async fn nodes(caller: Result<Caller, ApiError>) -> Response {
    if let Err(e) = caller {
        return from_api(e);
    }
    es(
        StatusCode::OK,
        json!({ "_nodes": { "total": 1, "successful": 1, "failed": 0 }, "cluster_name": "privtrail",
                "nodes": { "privtrail": { "name": "privtrail", "version": ES_VERSION, "roles": ["data", "ingest"] } } }),
    )
}

async fn unsupported(caller: Result<Caller, ApiError>) -> Response {
    if let Err(e) = caller {
        return from_api(e);
    }
    es_error(
        StatusCode::NOT_FOUND,
        "unsupported_operation_exception",
        "privtrail answers the bulk API only (POST /_bulk); turn off setup.template and setup.ilm in the agent",
    )
}

async fn bulk_default(
    State(state): State<ApiState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(state, caller, headers, "privtrail".to_owned(), body).await
}

async fn bulk_index(
    State(state): State<ApiState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    Path(index): Path<String>,
    body: Bytes,
) -> Response {
    bulk(state, caller, headers, index, body).await
}

/// One parsed bulk action.
struct Action {
    kind: String,
    index: String,
    id: Option<String>,
    /// Index of the document in the list handed to the store.
    doc: Option<usize>,
    error: Option<String>,
}

async fn bulk(
    state: ApiState,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    default_index: String,
    body: Bytes,
) -> Response {
    let caller = match caller.and_then(|c| c.require_ingest().map(|()| c)) {
        Ok(c) => c,
        Err(e) => return from_api(e),
    };
    let started = std::time::Instant::now();
    let limit = state.app().config().http.max_body_bytes;
    let text = match crate::v1::body_text(&headers, &body, limit) {
        Ok(t) => t,
        Err(e) => return from_api(e),
    };
    let origin = format!("http:_bulk ({})", caller.name);
    let result = state
        .blocking(move |app| {
            let mut actions: Vec<Action> = Vec::new();
            let mut docs: Vec<(u64, &str)> = Vec::new();
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let mut item = 0u64;
            while let Some(line) = lines.next() {
                item += 1;
                let parsed: Result<serde_json::Map<String, Value>, _> = serde_json::from_str(line);
                let Ok(map) = parsed else {
                    return Err(ApiError::bad_request(format!(
                        "line of item {item} is not a bulk action: {}",
                        line.chars().take(120).collect::<String>()
                    )));
                };
                let Some((kind, meta)) = map.into_iter().next() else {
                    return Err(ApiError::bad_request(format!("item {item}: empty action")));
                };
                let index = meta["_index"]
                    .as_str()
                    .map_or_else(|| default_index.clone(), str::to_owned);
                let id = meta["_id"].as_str().map(str::to_owned);
                match kind.as_str() {
                    "index" | "create" => {
                        let Some(doc) = lines.next() else {
                            return Err(ApiError::bad_request(format!(
                                "item {item}: the {kind} action has no document"
                            )));
                        };
                        docs.push((item, doc));
                        actions.push(Action {
                            kind,
                            index,
                            id,
                            doc: Some(docs.len() - 1),
                            error: None,
                        });
                    }
                    "update" => {
                        let _ = lines.next();
                        actions.push(Action {
                            kind,
                            index,
                            id,
                            doc: None,
                            error: Some(
                                "privtrail keeps events as they arrived: update is not supported"
                                    .into(),
                            ),
                        });
                    }
                    "delete" => actions.push(Action {
                        kind,
                        index,
                        id,
                        doc: None,
                        error: Some(
                            "privtrail keeps events as they arrived: delete is not supported"
                                .into(),
                        ),
                    }),
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "item {item}: unknown action {other:?}"
                        )));
                    }
                }
            }
            let outcomes = push_documents(app, &docs, &origin)?;
            Ok((actions, outcomes))
        })
        .await;
    let (actions, outcomes) = match result {
        Ok(r) => r,
        Err(e) => return from_api(e),
    };
    let mut errors = false;
    let items: Vec<Value> = actions
        .into_iter()
        .map(|a| {
            let (status, extra) = match (&a.error, a.doc.and_then(|i| outcomes.get(i))) {
                (Some(why), _) => (
                    400,
                    json!({ "error": { "type": "illegal_argument_exception", "reason": why } }),
                ),
                (None, Some(PushOutcome::Stored(id))) => (
                    201,
                    json!({ "_id": id.to_string(), "result": "created", "_version": 1 }),
                ),
                (None, Some(PushOutcome::Duplicate(id))) => (
                    200,
                    json!({ "_id": id.to_string(), "result": "noop", "_version": 1 }),
                ),
                (None, Some(PushOutcome::Skipped)) => {
                    (200, json!({ "result": "noop", "_version": 1 }))
                }
                (None, Some(PushOutcome::Rejected(why))) => (
                    400,
                    json!({ "error": { "type": "document_parsing_exception", "reason": why } }),
                ),
                (None, None) => (
                    500,
                    json!({ "error": { "type": "exception", "reason": "no outcome" } }),
                ),
            };
            errors |= status >= 400;
            let mut body = json!({ "_index": a.index, "status": status });
            if let (Some(obj), Some(ex)) = (body.as_object_mut(), extra.as_object()) {
                for (k, v) in ex {
                    obj.insert(k.clone(), v.clone());
                }
                if !obj.contains_key("_id")
                    && let Some(id) = &a.id
                {
                    obj.insert("_id".into(), json!(id));
                }
            }
            json!({ a.kind: body })
        })
        .collect();
    es(
        StatusCode::OK,
        json!({ "took": started.elapsed().as_millis() as u64, "errors": errors, "items": items }),
    )
}
