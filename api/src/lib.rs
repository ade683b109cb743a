//! privtrail's HTTP side, served by `privtrail run`: the JSON API (`/api/v1`), Prometheus metrics
//! (`/metrics`), the reviewers' web UI (`/`), and — on a listener of its own — the subset of the
//! Elasticsearch API that agents use to ship events (`/_bulk`).
//!
//! # Main types and how they relate
//!
//! ```text
//!  ApiState { App (services, writer), Auth (Tokens + UI sessions) }
//!     │
//!     ├── router(state) ──► /healthz, /metrics, /api/v1/… (v1), / … (ui)     ─┐
//!     └── es_router(state) ──► GET /, POST /_bulk, /{index}/_bulk, … (es)       ├─► serve(listener, TLS?, shutdown)
//!                                                                              ─┘
//!  every handler: Caller (extracted from the Authorization header or the session cookie) ──► role
//!  check ──► App service (blocking work on a blocking thread) ──► JSON, or ApiError {"error": …}
//! ```
//!
//! - [`ApiState`] is cheap to clone; it holds the [`privtrail_app::App`] and the [`auth::Auth`].
//! - [`auth::Caller`] is who calls; roles: `reader` (search, list), `reviewer` (+ acknowledge,
//!   resolve), `ingest` (push only), `admin` (all). No token → 401, wrong role → 403.
//! - [`error::ApiError`] is every failure as `{"error": "…"}`; internal errors are logged, not
//!   shown.
//! - [`serve`] runs a router on a listener, with rustls when a certificate is configured, until the
//!   daemon's shutdown.
//!
//! # Invariants
//!
//! - Every route but `/healthz` (and the UI's login form and static assets) needs a token.
//! - Request bodies are bounded (413 past `[http] max_body_bytes`; gzip inflation too), every
//!   request has a time limit, searches are bounded in size (store limits) and page length.
//! - Blocking work (SQLite, tantivy) runs on blocking threads, never on the executor.
//! - The UI escapes every value (maud) and sends a strict Content-Security-Policy.

pub mod auth;
pub mod error;
pub mod es;
mod metrics;
mod review;
mod serve;
pub mod ui;
mod v1;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::get;
use privtrail_app::App;
use privtrail_app::tokens::Tokens;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub use serve::{Listener, serve};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    app: Arc<App>,
    auth: Auth,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}

impl ApiState {
    /// The state over an open app; tokens come from its data directory.
    pub fn new(app: Arc<App>) -> ApiState {
        let tokens = Tokens::new(app.data_dir());
        ApiState {
            inner: Arc::new(Inner {
                app,
                auth: Auth::new(tokens),
            }),
        }
    }

    pub fn app(&self) -> &Arc<App> {
        &self.inner.app
    }

    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// Runs blocking work (SQLite, tantivy, parsing) on a blocking thread.
    pub async fn blocking<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&App) -> ApiResult<T> + Send + 'static,
    {
        let app = Arc::clone(&self.inner.app);
        tokio::task::spawn_blocking(move || f(&app))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "request task failed");
                ApiError::internal()
            })?
    }
}

/// The API, metrics and the web UI: `privtrail run`'s main listener.
pub fn router(state: ApiState) -> Router {
    let config = &state.app().config().http;
    let max_body = config.max_body_bytes;
    let timeout = config
        .request_timeout
        .0
        .to_std()
        .unwrap_or(Duration::from_secs(30));
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/v1", v1::routes())
        .merge(ui::routes())
        .fallback(not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// The Elasticsearch bulk subset: `privtrail run`'s second listener (`[http.elasticsearch]`).
pub fn es_router(state: ApiState) -> Router {
    let max_body = state.app().config().http.max_body_bytes;
    es::routes()
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
