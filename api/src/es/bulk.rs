//! `POST|PUT /_bulk` and `/{index}/_bulk`: NDJSON actions in, Elasticsearch's per-item answer out.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use privtrail_app::push::{PushOutcome, push_documents};
use serde::Serialize;
use serde_json::Value;

use super::from_api;
use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;

pub(super) async fn bulk_default(
    State(state): State<ApiState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(state, caller, headers, "privtrail".to_owned(), body).await
}

pub(super) async fn bulk_index(
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
