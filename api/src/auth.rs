//! Who is calling: a token in the `Authorization` header (`Bearer`, HTTP `Basic` with the token as
//! the password, or Elasticsearch's `ApiKey`), or a web UI session cookie made by the login form.
//!
//! Sessions live in memory (a restart logs everyone out): a random id in an `HttpOnly`,
//! `SameSite=Strict` cookie, mapped to the token's owner, with a CSRF token that every form POST
//! must carry. The raw token never goes into a cookie.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use base64::Engine as _;
use privtrail_app::tokens::{Role, TokenOwner, Tokens};

use crate::ApiState;
use crate::error::{ApiError, ApiResult};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "privtrail_session";

/// How long a UI session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Sessions at most (the oldest are dropped first): a flood of logins cannot grow memory.
const MAX_SESSIONS: usize = 10_000;

/// The token store and the UI sessions.
#[derive(Debug)]
pub struct Auth {
    pub tokens: Tokens,
    sessions: Mutex<HashMap<String, Session>>,
}

#[derive(Debug, Clone)]
struct Session {
    owner: TokenOwner,
    csrf: String,
    expires: Instant,
}

/// A logged-in browser: the cookie value and the CSRF token its forms carry.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub csrf: String,
}

fn random_hex(n: usize) -> ApiResult<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| {
        tracing::error!(error = %e, "no random source");
        ApiError::internal()
    })?;
    Ok(hex::encode(b))
}

impl Auth {
    pub fn new(tokens: Tokens) -> Auth {
        Auth {
            tokens,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Opens a session for `token` when it is valid and may read (ingest-only tokens have no use
    /// for the UI).
    pub fn login(&self, token: &str) -> ApiResult<Option<NewSession>> {
        let Some(owner) = self.tokens.verify(token) else {
            return Ok(None);
        };
        if !owner.role.can_read() {
            return Ok(None);
        }
        let s = NewSession {
            id: random_hex(32)?,
            csrf: random_hex(16)?,
        };
        let mut map = self
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, v| v.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, v)| v.expires)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            s.id.clone(),
            Session {
                owner,
                csrf: s.csrf.clone(),
                expires: now + SESSION_TTL,
            },
        );
        Ok(Some(s))
    }

    pub fn logout(&self, id: &str) {
        if let Ok(mut m) = self.sessions.lock() {
            m.remove(id);
        }
    }

    fn session(&self, id: &str) -> Option<Session> {
        let m = self.sessions.lock().ok()?;
        m.get(id).filter(|s| s.expires > Instant::now()).cloned()
    }

    /// Who the `Authorization` header names, if anyone.
    pub fn from_header(&self, value: &str) -> Option<TokenOwner> {
        let (scheme, rest) = value.trim().split_once(' ')?;
        let rest = rest.trim();
        let b64 = || {
            base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        };
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" => self.tokens.verify(rest),
            // Basic: any user name, the token as the password (what agents' configs have room for).
            "basic" => {
                let text = b64()?;
                let (_, password) = text.split_once(':')?;
                self.tokens.verify(password)
            }
            // Elasticsearch API key: base64("id:key"), the token as the key; or the token itself.
            "apikey" => match b64().and_then(|t| t.split_once(':').map(|(_, k)| k.to_owned())) {
                Some(key) => self.tokens.verify(&key),
                None => self.tokens.verify(rest),
            },
            _ => None,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The CSRF token of the caller's UI session; `None` for header tokens (no cookie, no CSRF).
    pub csrf: Option<String>,
}

impl Caller {
    pub fn require_read(&self) -> ApiResult<()> {
        if self.role.can_read() {
            Ok(())
        } else {
            Err(ApiError::forbidden("read events, elevations or alerts"))
        }
    }

    pub fn require_review(&self) -> ApiResult<()> {
        if self.role.can_review() {
            Ok(())
        } else {
            Err(ApiError::forbidden("acknowledge or resolve alerts"))
        }
    }

    pub fn require_ingest(&self) -> ApiResult<()> {
        if self.role.can_ingest() {
            Ok(())
        } else {
            Err(ApiError::forbidden("push events"))
        }
    }

    /// For a state change made by a UI session: the form's CSRF token must be the session's.
    pub fn check_csrf(&self, presented: Option<&str>) -> ApiResult<()> {
        match &self.csrf {
            None => Ok(()),
            Some(want) if presented.is_some_and(|p| p == want) => Ok(()),
            Some(_) => Err(ApiError::forbidden(
                "change anything without this page's CSRF token (reload the page)",
            )),
        }
    }
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> ApiResult<Caller> {
        let auth = state.auth();
        if let Some(h) = parts.headers.get(AUTHORIZATION) {
            let owner = h
                .to_str()
                .ok()
                .and_then(|v| auth.from_header(v))
                .ok_or_else(ApiError::unauthorized)?;
            return Ok(Caller {
                name: owner.name,
                role: owner.role,
                csrf: None,
            });
        }
        if let Some(id) = cookie(parts, SESSION_COOKIE)
            && let Some(s) = auth.session(id)
        {
            return Ok(Caller {
                name: s.owner.name,
                role: s.owner.role,
                csrf: Some(s.csrf),
            });
        }
        Err(ApiError::unauthorized())
    }
}

/// The caller when there is one (UI pages redirect to the login form instead of answering 401).
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<ApiState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> ApiResult<MaybeCaller> {
        Ok(MaybeCaller(
            Caller::from_request_parts(parts, state).await.ok(),
        ))
    }
}
