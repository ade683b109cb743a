//! What the HTTP channels (Teams, HEC, webhook) share: the client and the reading of statuses.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::{ChannelConfig, ConfigError, DeliveryError};

/// A client with the channel's time-out; with `ca_file`, that file's certificates are the only
/// trusted roots (otherwise the platform's).
pub(crate) fn client(
    config: &ChannelConfig,
    ca_file: Option<&Path>,
) -> Result<reqwest::Client, ConfigError> {
    let timeout = config.timeout()?;
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("privtrail/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem = crate::config::read_file(config, "ca_file", path)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| config.err("ca_file", format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(config.err("ca_file", "holds no certificate"));
        }
        b = b.tls_certs_only(certs);
    }
    b.build()
        .map_err(|e| config.err("ca_file", format!("cannot set up HTTPS: {e}")))
}

/// Checks that `url` is an absolute https URL, or http to this machine: every HTTP channel sends a
/// secret (a token, a signature key, or the Teams URL's own `sig=`), which must not cross a network
/// in clear (SPEC §8). Errors never repeat the URL: it may be the secret.
pub(crate) fn check_url(
    config: &ChannelConfig,
    field: &'static str,
    url: &str,
) -> Result<reqwest::Url, ConfigError> {
    let u = reqwest::Url::parse(url).map_err(|e| config.err(field, format!("not a URL: {e}")))?;
    match (u.scheme(), u.host_str()) {
        ("https", Some(_)) => Ok(u),
        ("http", Some(host)) if crate::config::is_loopback(host) => Ok(u),
        ("http", Some(_)) => Err(config.err(
            field,
            "http:// to a remote host would send the channel's secret in clear; use https:// \
             (plain http is allowed to a loopback host only)",
        )),
        _ => Err(config.err(field, "must be an https:// URL with a host")),
    }
}

/// `Retry-After` as seconds or an HTTP date (the one reader:
/// [`privtrail_model::parse_retry_after`], capped).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    privtrail_model::parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?, chrono::Utc::now())
}

/// The usual reading of a failed status. `401`, `403` and `407` say the channel's credentials
/// are refused ([`DeliveryError::auth`]); `404` and `410` that its URL leads nowhere: both are
/// the channel's problem, not the message's, so they are retried (and alerted on) rather than
/// dead-lettering every message on its first try. `408`, `429` and `5xx` may pass. Other statuses
/// (`400`, `413`, `422`…) refuse this message: it is not sent again.
pub(crate) fn status_error(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> DeliveryError {
    let snippet: String = body.chars().take(300).collect();
    let message = format!("{what}: HTTP {status}: {snippet}");
    let delay = retry_after(headers);
    match status.as_u16() {
        401 | 403 | 407 => DeliveryError::auth(message).with_retry_after(delay),
        404 | 408 | 410 | 429 => DeliveryError::retriable(message).with_retry_after(delay),
        _ if status.is_server_error() => DeliveryError::retriable(message).with_retry_after(delay),
        _ => DeliveryError::permanent(message),
    }
}

/// A request that did not get a response (connection, time-out): worth retrying. The URL is left
/// out of the text: it may carry a secret (Teams' `sig=`).
pub(crate) fn transport_error(what: &str, e: &reqwest::Error) -> DeliveryError {
    let kind = if e.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    let mut text = e.to_string();
    if let Some(u) = e.url() {
        text = text.replace(u.as_str(), "[url]");
    }
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        src = inner.source();
    }
    DeliveryError::retriable(format!("{what}: request {kind}: {text}"))
}
