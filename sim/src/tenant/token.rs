//! `POST /{tenant}/oauth2/v2.0/token`: the Microsoft identity platform's client-credentials grant,
//! with a client secret or a JWT client assertion.
//!
//! **The assertion's signature is not verified**: any well-formed three-part JWT whose `iss` and `sub`
//! are the client id, whose `aud` ends with `/oauth2/v2.0/token` and whose `exp` (when present) is in
//! the future is accepted. The simulator checks the collector's request shape, not its cryptography.

// Handlers return early with a ready `Response` as their error (axum's idiom); it is large, but
// built once per failed request.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use super::codec::{b64url_decode, b64url_encode};
use super::server::{Shared, Token};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) async fn handle(
    AxState(state): AxState<Shared>,
    Path(tenant): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    *state
        .counters()
        .per_endpoint
        .entry("token".into())
        .or_default() += 1;
    let n = state
        .counters()
        .per_endpoint
        .get("token")
        .copied()
        .unwrap_or(0);
    if let Some(rule) = super::faults::Faults::hit(&state.faults.throttle, "token", n, None) {
        let mut r = aad_error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            50196,
            "AADSTS50196: The server terminated an operation because it encountered a client request loop.",
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(rule.retry_after_secs.unwrap_or(1)),
        );
        return r;
    }
    if let Some(rule) = super::faults::Faults::hit(&state.faults.unavailable, "token", n, None) {
        let mut r = aad_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            90033,
            "AADSTS90033: A transient error has occurred. Please try again.",
        );
        if let Some(s) = rule.retry_after_secs {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        return r;
    }
    let Ok(Form(form)) = form else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
        );
    };
    if let Err(r) = check(&state.sim, &tenant, &form) {
        return r;
    }
    let lifetime = state.faults.token_lifetime();
    let access_token = access_token(&state.sim.tenant_id, &state.sim.client_id, lifetime);
    let issued_at_graph = {
        let mut c = state.counters();
        c.tokens_issued += 1;
        c.graph
    };
    state.tokens().insert(
        access_token.clone(),
        Token {
            // `token_lifetime_secs` may be absurd on purpose (2^63): saturate, never overflow.
            expires: Instant::now()
                .checked_add(Duration::from_secs(lifetime))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400)),
            issued_at_graph,
        },
    );
    let body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    });
    json_response(StatusCode::OK, &body)
}

fn check(
    sim: &super::TenantSim,
    tenant: &str,
    f: &HashMap<String, String>,
) -> Result<(), Response> {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if !tenant.eq_ignore_ascii_case(&sim.tenant_id) {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    }
    match get("grant_type") {
        "client_credentials" => {}
        "" => {
            return Err(aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
            ));
        }
        g => {
            return Err(aad_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("AADSTS70003: The app requested an unsupported grant type '{g}'."),
            ));
        }
    }
    let client_id = get("client_id");
    if client_id.is_empty() {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
        ));
    }
    if client_id != sim.client_id {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{}'.",
                sim.tenant_id
            ),
        ));
    }
    let scope = get("scope");
    if scope.is_empty() || !scope.split_whitespace().all(|s| s.ends_with("/.default")) {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    match (f.get("client_secret"), f.get("client_assertion")) {
        (Some(secret), None) => {
            if *secret != sim.client_secret {
                return Err(aad_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000215,
                    &format!(
                        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                    ),
                ));
            }
        }
        (None, Some(assertion)) => {
            if get("client_assertion_type") != JWT_BEARER {
                return Err(aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    50027,
                    "AADSTS50027: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
                ));
            }
            check_assertion(assertion, client_id)
                .map_err(|m| aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 700027, &m))?;
        }
        (Some(_), Some(_)) => {
            return Err(aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                7000218,
                "AADSTS7000218: The request must contain either 'client_assertion' or 'client_secret', not both.",
            ));
        }
        (None, None) => {
            return Err(aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                7000218,
                "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    }
    Ok(())
}

/// Shape and claims only: see the module docs.
pub(crate) fn check_assertion(jwt: &str, client_id: &str) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(
            "AADSTS50027: JWT token is invalid or malformed (expected three parts).".into(),
        );
    };
    let decode =
        |part: &str| -> Option<Value> { serde_json::from_slice(&b64url_decode(part)?).ok() };
    let header = decode(h)
        .filter(Value::is_object)
        .ok_or("AADSTS50027: JWT token is invalid or malformed (header).")?;
    if header.get("alg").and_then(Value::as_str).is_none() {
        return Err("AADSTS50027: JWT token is invalid or malformed (no alg).".into());
    }
    let claims = decode(p)
        .filter(Value::is_object)
        .ok_or("AADSTS50027: JWT token is invalid or malformed (payload).")?;
    if s.is_empty() || b64url_decode(s).is_none() {
        return Err(
            "AADSTS700027: Client assertion failed signature validation (no signature).".into(),
        );
    }
    let claim = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("");
    if claim("iss") != client_id || claim("sub") != client_id {
        return Err(format!(
            "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter (iss and sub must be '{client_id}')."
        ));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a.ends_with("/oauth2/v2.0/token"),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|a| a.ends_with("/oauth2/v2.0/token")),
        _ => false,
    };
    if !aud_ok {
        return Err(
            "AADSTS700016: Client assertion audience claim does not match the token endpoint."
                .into(),
        );
    }
    if let Some(exp) = claims.get("exp").and_then(Value::as_i64)
        && exp <= Utc::now().timestamp()
    {
        return Err("AADSTS700024: Client assertion is not within its valid time range.".into());
    }
    Ok(())
}

/// A JWT-shaped bearer token (unsigned; Graph tokens are opaque to clients anyway).
fn access_token(tenant: &str, client: &str, lifetime: u64) -> String {
    let now = Utc::now().timestamp();
    let header = b64url_encode(br#"{"typ":"JWT","alg":"none"}"#);
    let claims = json!({
        "aud": "https://graph.microsoft.com", "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now, "nbf": now, "exp": now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX)), "appid": client, "tid": tenant,
        "roles": ["AuditLog.Read.All", "RoleManagement.Read.Directory", "User.Read.All"],
        "uti": super::random_hex(11),
    });
    format!(
        "{header}.{}.{}",
        b64url_encode(claims.to_string().as_bytes()),
        super::random_hex(32)
    )
}

fn aad_error(status: StatusCode, error: &str, code: u64, description: &str) -> Response {
    let trace = super::random_guid();
    let body = json!({
        "error": error,
        "error_description": format!("{description}\r\nTrace ID: {trace}\r\nTimestamp: {}", Utc::now().format("%Y-%m-%d %H:%M:%SZ")),
        "error_codes": [code],
        "timestamp": Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": trace,
        "correlation_id": super::random_guid(),
    });
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    r
}
