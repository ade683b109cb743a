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
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};

mod bulk;

use bulk::{bulk_default, bulk_index};

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
