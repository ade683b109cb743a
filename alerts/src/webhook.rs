//! Signed JSON webhook: `POST url` with the payload as the body and an HMAC-SHA256 signature.
//!
//! Headers: `Content-Type: application/json`, `X-Privtrail-Timestamp: <unix seconds>`,
//! `X-Privtrail-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` (see [`sign`]),
//! `X-Privtrail-Idempotency-Key`. A receiver recomputes the signature over the raw body and rejects
//! old timestamps. `408`, `429` and `5xx` are retried (honouring `Retry-After`), so are `401`/`403`
//! (the receiver refuses the secret: [`DeliveryError::auth`]) and `404`/`410`; other `4xx` refuse
//! the message.

use std::path::PathBuf;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::{ChannelConfig, ConfigError, DeliveryError, Message, Notifier, Secret};

/// `type = "webhook"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// The HMAC key shared with the receiver.
    pub secret: Secret,
    /// PEM file of the only CA to trust (default: the platform's roots).
    pub ca_file: Option<PathBuf>,
}

/// `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Signs and posts JSON bodies to one webhook URL: the one signing path, used by the channel and by
/// remediation's Windows actions (which hand the RMM the PowerShell to run).
#[derive(Debug, Clone)]
pub struct WebhookPoster {
    url: reqwest::Url,
    secret: Secret,
    http: reqwest::Client,
}

/// A webhook's answer: its status and (the first 4 KiB of) its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAnswer {
    pub status: u16,
    pub body: String,
}

/// The most of a receiver's body kept in an answer (it becomes evidence).
const ANSWER_BYTES: usize = 4096;

impl WebhookPoster {
    /// The poster of a `type = "webhook"` channel; any other channel type is a config error.
    pub fn new(config: &ChannelConfig) -> Result<Self, ConfigError> {
        match &config.kind {
            crate::ChannelKind::Webhook(c) => Self::with(config, c),
            _ => Err(config.err("type", "must be \"webhook\" here")),
        }
    }

    fn with(config: &ChannelConfig, c: &WebhookConfig) -> Result<Self, ConfigError> {
        let url = crate::http::check_url(config, "url", &c.url)?;
        if c.secret.expose().is_empty() {
            return Err(config.err("secret", "must not be empty"));
        }
        Ok(WebhookPoster {
            url,
            secret: c.secret.clone(),
            http: crate::http::client(config, c.ca_file.as_deref())?,
        })
    }

    /// POSTs `body` signed (see the module doc) with `key` as `X-Privtrail-Idempotency-Key`.
    /// Any HTTP answer is returned (the caller judges the status); only a failed send is an error.
    pub async fn post(&self, key: &str, body: &[u8]) -> Result<WebhookAnswer, DeliveryError> {
        let resp = self
            .signed(key, body.to_vec())
            .send()
            .await
            .map_err(|e| crate::http::transport_error("webhook", &e))?;
        let status = resp.status().as_u16();
        let mut text = resp.text().await.unwrap_or_default();
        if text.len() > ANSWER_BYTES {
            let mut cut = ANSWER_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        Ok(WebhookAnswer { status, body: text })
    }

    fn signed(&self, key: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        let ts = chrono::Utc::now().timestamp();
        self.http
            .post(self.url.clone())
            .header("Content-Type", "application/json")
            .header("X-Privtrail-Timestamp", ts.to_string())
            .header(
                "X-Privtrail-Signature",
                sign(self.secret.expose().as_bytes(), ts, &body),
            )
            .header("X-Privtrail-Idempotency-Key", key)
            .body(body)
    }
}

#[derive(Debug)]
pub(crate) struct WebhookNotifier {
    name: String,
    poster: WebhookPoster,
}

impl WebhookNotifier {
    pub(crate) fn new(config: &ChannelConfig, c: &WebhookConfig) -> Result<Self, ConfigError> {
        Ok(WebhookNotifier {
            name: config.name.clone(),
            poster: WebhookPoster::with(config, c)?,
        })
    }

    async fn send_one(&self, m: &Message) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&m.payload)
            .map_err(|e| DeliveryError::permanent(format!("webhook: cannot encode: {e}")))?;
        let resp = self
            .poster
            .signed(&m.idempotency_key, body)
            .send()
            .await
            .map_err(|e| crate::http::transport_error("webhook", &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Err(crate::http::status_error(
            "webhook", status, &headers, &text,
        ))
    }
}

#[async_trait::async_trait]
impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, batch: &[Message]) -> Result<(), DeliveryError> {
        crate::send_each(batch, |m| self.send_one(m)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 's3cret'
        assert_eq!(
            sign(b"s3cret", 1_700_000_000, br#"{"a":1}"#),
            "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }
}
