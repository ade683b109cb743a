//! [`ApiError`]: every failure of a request as `{"error": "…"}` with its status. Internal failures
//! are logged with their detail and answered with a generic message: a response never reveals
//! paths, SQL or stack traces.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use privtrail_app::AppError;

/// A request that failed, with the status and the message the client sees.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a valid token is required (Authorization: Bearer <token>)",
        )
    }

    pub fn forbidden(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this token's role may not {what}"),
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (the daemon's log has the details)",
        )
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        match &e {
            AppError::NotFound(m) => ApiError::not_found(m.clone()),
            _ if e.is_usage() => ApiError::bad_request(e.to_string()),
            AppError::Cancelled => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping")
            }
            _ => {
                tracing::error!(error = %e, "request failed");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
