//! The HTTP side: one [`GraphClient`] per tenant, with its token, budget and retry loop.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::error::{ErrorKind, GraphError, from_graph_response};
use super::pim::DirectoryUser;
use super::ratelimit::RateLimiter;
use super::token::{self, ClientCertificate, Signer, Token, TokenRequest};
use super::{Credential, TenantSettings};
use privtrail_model::Secret;

/// The largest response body read: a full `$top=999` audit page is a few MB; this bounds memory
/// if a server (or something in between) sends garbage without end.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A Graph client for one tenant. Cheap to share by reference; all state is behind locks.
pub struct GraphClient {
    settings: TenantSettings,
    http: reqwest::Client,
    signer: Signer,
    token: tokio::sync::Mutex<Option<Token>>,
    limiter: RateLimiter,
    /// `{graph_url}/v1.0`
    base: String,
    token_url: String,
    scope: String,
    /// User lookups for the process lifetime (`None`: not found, so not asked again).
    pub(crate) users: Mutex<HashMap<String, Option<DirectoryUser>>>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("tenant", &self.settings.name)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn config_error(s: &TenantSettings, message: String) -> GraphError {
    GraphError::new(ErrorKind::Config, "settings", &s.name, message)
}

/// An https URL, or http to this machine only: the client secret and the bearer token travel to
/// these URLs (SPEC §8).
fn check_url(s: &TenantSettings, what: &str, url: &str) -> Result<String, GraphError> {
    let url = url.trim_end_matches('/');
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Ok(url.to_owned()),
        Ok(u)
            if u.scheme() == "http"
                && u.host_str().is_some_and(privtrail_model::is_loopback_host) =>
        {
            Ok(url.to_owned())
        }
        Ok(u) if u.scheme() == "http" => Err(config_error(
            s,
            format!(
                "{what} {url:?}: http:// to a remote host would send the credentials in clear; use https://"
            ),
        )),
        _ => Err(config_error(
            s,
            format!("{what} {url:?} is not an https:// URL"),
        )),
    }
}

impl GraphClient {
    /// Checks the settings and reads the certificate, so a broken config fails at start-up with a
    /// [`ErrorKind::Config`] error rather than at the first request.
    pub fn new(settings: TenantSettings) -> Result<Self, GraphError> {
        let s = &settings;
        let safe = |v: &str| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        };
        if !safe(&s.tenant_id) {
            return Err(config_error(
                s,
                format!("tenant id {:?} is not a GUID or domain", s.tenant_id),
            ));
        }
        if s.client_id.trim().is_empty() {
            return Err(config_error(s, "client id is empty".into()));
        }
        if s.timeout.is_zero() || s.rate_limit.1.is_zero() {
            return Err(config_error(
                s,
                "timeout and rate-limit window must be positive".into(),
            ));
        }
        let login = check_url(s, "login URL", &s.login_url)?;
        let graph = check_url(s, "Graph URL", &s.graph_url)?;
        let signer = match &s.credential {
            Credential::Secret(secret) if secret.is_empty() => {
                return Err(config_error(s, "client secret is empty".into()));
            }
            Credential::Secret(secret) => Signer::Secret(secret.clone()),
            Credential::Certificate { pem } => Signer::Certificate(
                ClientCertificate::from_pem(pem)
                    .map_err(|m| config_error(s, format!("client certificate: {m}")))?,
            ),
        };
        // No redirects: a redirect to another host must not receive the bearer token.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("privtrail/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(s.timeout)
            .build()
            .map_err(|e| config_error(s, format!("HTTP client: {e}")))?;
        Ok(GraphClient {
            token_url: format!("{login}/{}/oauth2/v2.0/token", s.tenant_id),
            scope: format!("{graph}/.default"),
            base: format!("{graph}/v1.0"),
            limiter: RateLimiter::new(s.rate_limit.0, s.rate_limit.1),
            token: tokio::sync::Mutex::new(None),
            users: Mutex::new(HashMap::new()),
            http,
            signer,
            settings,
        })
    }

    pub fn settings(&self) -> &TenantSettings {
        &self.settings
    }

    /// The tenant's request budget (shared by every request of this client).
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// `{graph_url}/v1.0` + `path`.
    pub fn url(&self, path: &str) -> String {
        let sep = if path.starts_with('/') { "" } else { "/" };
        format!("{}{sep}{path}", self.base)
    }

    /// The endpoint name used in errors: the path below `/v1.0`, no query, user ids folded.
    pub fn endpoint_of(&self, url: &str) -> String {
        let path = url.strip_prefix(&self.base).unwrap_or(url);
        let path = path.split(['?', '#']).next().unwrap_or("");
        match path.strip_prefix("/users/") {
            Some(_) => "/users/{id}".to_owned(),
            None => path.to_owned(),
        }
    }

    /// GETs a Graph path (`/auditLogs/directoryAudits?...`) or an absolute URL Graph handed out
    /// (`@odata.nextLink`, used exactly as given), and parses the JSON body.
    ///
    /// Absolute URLs must lie under `{graph_url}/`: the bearer token goes nowhere else.
    pub async fn get_json(&self, url_or_path: &str) -> Result<serde_json::Value, GraphError> {
        let url = if url_or_path.starts_with("https://") || url_or_path.starts_with("http://") {
            if !url_or_path.starts_with(&format!(
                "{}/",
                self.settings.graph_url.trim_end_matches('/')
            )) {
                return Err(GraphError::new(
                    ErrorKind::Malformed,
                    &self.endpoint_of(url_or_path),
                    &self.settings.name,
                    format!("refusing to follow a link outside the Graph URL: {url_or_path}"),
                ));
            }
            url_or_path.to_owned()
        } else {
            self.url(url_or_path)
        };
        let endpoint = self.endpoint_of(&url);
        let policy = &self.settings.retry;
        let mut delays = ExponentialBuilder::default()
            // backon adds jitter to the first delay before capping it: a huge `retry_base` from
            // the config would overflow there.
            .with_min_delay(policy.base.min(policy.max_delay))
            .with_max_delay(policy.max_delay)
            .with_jitter()
            .without_max_times()
            .build();
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut stale: Option<Secret> = None;
        loop {
            attempt += 1;
            let mut err = match self.attempt(&url, &endpoint, stale.take(), None).await {
                Ok(v) => return Ok(v),
                Err((_, Some(rejected))) if !refreshed => {
                    // The token was revoked or expired early: fetch a new one, once per request.
                    tracing::info!(tenant = %self.settings.name, %endpoint, "Graph answered 401, refreshing the token");
                    refreshed = true;
                    stale = Some(rejected);
                    attempt -= 1;
                    continue;
                }
                Err((e, _)) => e,
            };
            let give_up = !err.is_retriable()
                || attempt >= policy.max_attempts.max(1)
                || err
                    .retry_after
                    .is_some_and(|ra| ra > policy.max_retry_after);
            if give_up {
                if err.is_retriable() {
                    err.message
                        .push_str(&format!(" (gave up after {attempt} attempts)"));
                }
                return Err(err);
            }
            let wait = err.retry_after.unwrap_or_else(|| {
                delays
                    .next()
                    .unwrap_or(policy.max_delay)
                    .min(policy.max_delay)
            });
            tracing::warn!(tenant = %self.settings.name, %endpoint, attempt, ?wait, error = %err.message, "Graph request failed, retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// POSTs `body` to a Graph path and parses the JSON answer (200 or 201).
    ///
    /// Not retried (a POST that changes the directory may have taken effect even when its answer
    /// was lost: the caller checks before trying again), except once with a fresh token after a
    /// 401, which Graph answers before doing anything.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, GraphError> {
        let url = self.url(path);
        let endpoint = self.endpoint_of(&url);
        match self.attempt(&url, &endpoint, None, Some(body)).await {
            Ok(v) => Ok(v),
            Err((_, Some(rejected))) => {
                tracing::info!(tenant = %self.settings.name, %endpoint, "Graph answered 401, refreshing the token");
                self.attempt(&url, &endpoint, Some(rejected), Some(body))
                    .await
                    .map_err(|(e, _)| e)
            }
            Err((e, None)) => Err(e),
        }
    }

    /// One try: budget, token, request (a GET, or a POST of `body`). A 401 comes back with the
    /// token it rejected.
    async fn attempt(
        &self,
        url: &str,
        endpoint: &str,
        stale: Option<Secret>,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, (GraphError, Option<Secret>)> {
        let tenant = &self.settings.name;
        let token = self.token(stale.as_ref()).await.map_err(|e| (e, None))?;
        self.limiter.acquire().await;
        let req = match body {
            None => self.http.get(url),
            Some(b) => self.http.post(url).json(b),
        };
        let resp = req
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.settings.timeout)
            .send()
            .await
            .map_err(|e| (network_error(&e, endpoint, tenant), None))?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers(), Utc::now());
        let body = read_body(resp, endpoint, tenant)
            .await
            .map_err(|e| (e, None))?;
        if status == 200 || status == 201 {
            return serde_json::from_slice(&body).map_err(|e| {
                let msg = format!("Graph response from {endpoint} is not JSON: {e}");
                (
                    GraphError::new(ErrorKind::Malformed, endpoint, tenant, msg),
                    None,
                )
            });
        }
        let err = from_graph_response(status, &body, endpoint, tenant, retry_after);
        Err((err, (status == 401).then_some(token)))
    }

    /// The cached token, or a new one when it is due for refresh or is the one Graph just rejected.
    async fn token(&self, rejected: Option<&Secret>) -> Result<Secret, GraphError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            let rejected = rejected.is_some_and(|r| *r == t.value);
            if !rejected && tokio::time::Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        *cached = None;
        let req = TokenRequest {
            http: &self.http,
            token_url: &self.token_url,
            client_id: &self.settings.client_id,
            scope: &self.scope,
            tenant: &self.settings.name,
            timeout: self.settings.timeout,
        };
        let t = token::fetch(&req, &self.signer).await?;
        let value = t.value.clone();
        *cached = Some(t);
        Ok(value)
    }
}

/// A failed send (connect, TLS, timeout): transient. The URL is left out (it may carry a long skip
/// token); the cause chain is kept because reqwest's top-level message alone says little.
pub(crate) fn network_error(e: &reqwest::Error, endpoint: &str, tenant: &str) -> GraphError {
    let mut msg = if e.is_timeout() {
        format!("request to {endpoint} timed out")
    } else {
        format!("request to {endpoint} failed")
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    GraphError::new(ErrorKind::Transient, endpoint, tenant, msg)
}

/// Reads a body up to [`MAX_BODY`].
pub(crate) async fn read_body(
    mut resp: reqwest::Response,
    endpoint: &str,
    tenant: &str,
) -> Result<Vec<u8>, GraphError> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    let msg = format!("response from {endpoint} is larger than {MAX_BODY} bytes");
                    return Err(GraphError::new(ErrorKind::Malformed, endpoint, tenant, msg));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(network_error(&e, endpoint, tenant)),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date (the one reader: [`privtrail_model::parse_retry_after`],
/// capped).
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    privtrail_model::parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("date");
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:27:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
