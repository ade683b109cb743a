//! `[http]` (the API and the web UI) and `[http.elasticsearch]` (the bulk endpoint agents ship to).

use std::net::SocketAddr;
use std::path::PathBuf;

use privtrail_model::Span;
use serde::Deserialize;

use super::invalid;
use crate::error::Result;

/// `[http]`: served by `privtrail run`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `false` turns the API and UI off. Default `true`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Address of the API and web UI. Default `127.0.0.1:8470`.
    #[serde(default = "d_listen")]
    pub listen: SocketAddr,
    /// TLS: certificate chain (PEM); with `key`.
    pub cert: Option<PathBuf>,
    /// TLS: private key (PEM).
    pub key: Option<PathBuf>,
    /// Largest request body (pushed events, bulk); larger ones get 413. Default 32 MiB.
    #[serde(default = "d_body")]
    pub max_body_bytes: usize,
    /// Longest a request may take. Default `30s`.
    #[serde(default = "d_timeout")]
    pub request_timeout: Span,
    /// The Elasticsearch bulk subset for agents, on a listener of its own (off unless set).
    pub elasticsearch: Option<EsConfig>,
}

/// `[http.elasticsearch]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsConfig {
    /// e.g. `127.0.0.1:9200`.
    pub listen: SocketAddr,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

fn yes() -> bool {
    true
}
fn d_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8470))
}
fn d_body() -> usize {
    32 << 20
}
fn d_timeout() -> Span {
    Span(chrono::Duration::seconds(30))
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            listen: d_listen(),
            cert: None,
            key: None,
            max_body_bytes: d_body(),
            request_timeout: d_timeout(),
            elasticsearch: None,
        }
    }
}

impl HttpConfig {
    pub fn validate(&self) -> Result<()> {
        let tls = |what: &str, cert: &Option<PathBuf>, key: &Option<PathBuf>| -> Result<()> {
            match (cert, key) {
                (Some(_), None) | (None, Some(_)) => {
                    invalid!("{what}: set both cert and key for TLS, or neither")
                }
                _ => Ok(()),
            }
        };
        tls("[http]", &self.cert, &self.key)?;
        if let Some(es) = &self.elasticsearch {
            tls("[http.elasticsearch]", &es.cert, &es.key)?;
            if es.listen == self.listen && es.listen.port() != 0 {
                invalid!("[http.elasticsearch] listen must differ from [http] listen");
            }
        }
        if self.max_body_bytes < 1024 {
            invalid!("[http] max_body_bytes must be at least 1024");
        }
        if self.request_timeout.0 <= chrono::Duration::zero() {
            invalid!("[http] request_timeout must be longer than 0s");
        }
        Ok(())
    }

    /// Whether `addr` is reachable from other machines while `tls` is off: the caller warns.
    pub fn exposed_without_tls(addr: &SocketAddr, tls: bool) -> bool {
        !tls && !addr.ip().is_loopback()
    }
}
