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
use serde::Serialize;
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

/// Everything but the response's headers runs on a blocking thread: inflating and checking the
/// body, parsing, storing, and writing the per-item answer (a few hundred bytes per document:
/// built as `serde_json::Value`s it cost as much CPU as normalizing the documents).
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
    let origin = format!("http:_bulk ({})", caller.name);
    let result = state
        .blocking(move |app| {
            let text = crate::v1::body_text(&headers, &body, limit)?;
            let (actions, docs) = parse_actions(&text, &default_index)?;
            let outcomes = push_documents(app, &docs, &origin)?;
            let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            answer(took, &actions, &outcomes).map_err(|e| {
                tracing::error!(error = %e, "writing the bulk answer");
                ApiError::internal()
            })
        })
        .await;
    match result {
        Ok(bytes) => {
            let mut r = (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response();
            r.headers_mut().insert(
                "x-elastic-product",
                HeaderValue::from_static("Elasticsearch"),
            );
            r
        }
        Err(e) => from_api(e),
    }
}

/// A bulk body's documents to store, as `(item number, JSON text)`.
type Docs<'t> = Vec<(u64, &'t str)>;

/// The NDJSON body's actions, and the documents to store.
fn parse_actions<'t>(
    text: &'t str,
    default_index: &str,
) -> Result<(Vec<Action>, Docs<'t>), ApiError> {
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
            .map_or_else(|| default_index.to_owned(), str::to_owned);
        let id = meta["_id"].as_str().map(str::to_owned);
        let refused = |why: &str| Action {
            kind: kind.clone(),
            index: index.clone(),
            id: id.clone(),
            doc: None,
            error: Some(format!("privtrail keeps events as they arrived: {why}")),
        };
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
                actions.push(refused("update is not supported"));
            }
            "delete" => actions.push(refused("delete is not supported")),
            other => {
                return Err(ApiError::bad_request(format!(
                    "item {item}: unknown action {other:?}"
                )));
            }
        }
    }
    Ok((actions, docs))
}

/// Elasticsearch's bulk answer: `{"took", "errors", "items": [{"<action>": {…}}]}`.
#[derive(Serialize)]
struct Answer<'a> {
    took: u64,
    errors: bool,
    items: Vec<ItemOf<'a>>,
}

/// `{"<action>": item}`.
struct ItemOf<'a>(&'a str, Item<'a>);

impl Serialize for ItemOf<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, &self.1)?;
        m.end()
    }
}

#[derive(Serialize)]
struct Item<'a> {
    #[serde(rename = "_index")]
    index: &'a str,
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'static str>,
    #[serde(rename = "_version", skip_serializing_if = "Option::is_none")]
    version: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ItemError<'a>>,
}

#[derive(Serialize)]
struct ItemError<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    reason: &'a str,
}

fn answer(
    took: u64,
    actions: &[Action],
    outcomes: &[PushOutcome],
) -> Result<Vec<u8>, serde_json::Error> {
    let mut errors = false;
    let items = actions
        .iter()
        .map(|a| {
            let mut item = Item {
                index: &a.index,
                id: a.id.as_deref(),
                status: 200,
                result: None,
                version: None,
                error: None,
            };
            let failed = |kind, reason| Some(ItemError { kind, reason });
            match (&a.error, a.doc.and_then(|i| outcomes.get(i))) {
                (Some(why), _) => {
                    item.status = 400;
                    item.error = failed("illegal_argument_exception", why);
                }
                (None, Some(PushOutcome::Stored(id))) => {
                    (item.status, item.id, item.result) = (201, Some(id.as_str()), Some("created"));
                    item.version = Some(1);
                }
                (None, Some(PushOutcome::Duplicate(id))) => {
                    (item.id, item.result, item.version) =
                        (Some(id.as_str()), Some("noop"), Some(1));
                }
                (None, Some(PushOutcome::Skipped)) => {
                    (item.result, item.version) = (Some("noop"), Some(1));
                }
                (None, Some(PushOutcome::Rejected(why))) => {
                    item.status = 400;
                    item.error = failed("document_parsing_exception", why);
                }
                (None, None) => {
                    item.status = 500;
                    item.error = failed("exception", "no outcome");
                }
            }
            errors |= item.status >= 400;
            ItemOf(&a.kind, item)
        })
        .collect();
    serde_json::to_vec(&Answer {
        took,
        errors,
        items,
    })
}
