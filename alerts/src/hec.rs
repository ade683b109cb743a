//! Splunk HTTP Event Collector: batches to `POST {url}/services/collector/event`.
//!
//! Body: one JSON object per message, concatenated (see [`body`]); header `Authorization: Splunk
//! <token>`. Responses: `200 {"code":0}` = all accepted. `400` with `invalid-event-number: n`
//! (Splunk indexes the events before the bad one and stops there) gives a [`DeliveryError`] with
//! `accepted = n`, `rejected = Some(n)`, not retriable: the outbox marks `batch[..n]` delivered,
//! dead-letters `batch[n]` and sends the rest again. `429`/`503` (server busy, queue full) and other
//! `5xx` are retried (`Retry-After`), so are `401`/`403` (bad or disabled token: an authentication
//! failure of the channel, see [`DeliveryError::auth`]); other `4xx` refuse the batch.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ChannelConfig, ConfigError, DeliveryError, Message, Notifier, Payload, Secret};

/// `type = "splunk_hec"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HecConfig {
    /// The base URL, e.g. `https://splunk.example.com:8088`.
    pub url: String,
    pub token: Secret,
    pub index: Option<String>,
    /// Default `privtrail`.
    pub source: Option<String>,
    /// Default `privtrail:alert` / `privtrail:event`.
    pub sourcetype: Option<String>,
    /// PEM file of the only CA to trust (default: the platform's roots).
    pub ca_file: Option<PathBuf>,
    /// Messages per request, default 100.
    pub batch: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct HecNotifier {
    name: String,
    endpoint: reqwest::Url,
    token: Secret,
    fields: Fields,
    batch: usize,
    http: reqwest::Client,
}

/// The metadata fields of every HEC event.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pub index: Option<String>,
    pub source: Option<String>,
    pub sourcetype: Option<String>,
}

impl HecNotifier {
    pub(crate) fn new(config: &ChannelConfig, c: &HecConfig) -> Result<Self, ConfigError> {
        let base = crate::http::check_url(config, "url", &c.url)?;
        let endpoint = base
            .join("/services/collector/event")
            .map_err(|e| config.err("url", e.to_string()))?;
        if c.token.expose().trim().is_empty() {
            return Err(config.err("token", "must not be empty"));
        }
        let batch = c.batch.unwrap_or(100);
        if batch == 0 {
            return Err(config.err("batch", "must be at least 1"));
        }
        Ok(HecNotifier {
            name: config.name.clone(),
            endpoint,
            token: c.token.clone(),
            fields: Fields {
                index: c.index.clone(),
                source: c.source.clone(),
                sourcetype: c.sourcetype.clone(),
            },
            batch,
            http: crate::http::client(config, c.ca_file.as_deref())?,
        })
    }
}

/// One HEC event object for `m`.
pub fn event_object(m: &Message, f: &Fields) -> Value {
    let t = m.payload.time();
    let time = t.timestamp() as f64 + f64::from(t.timestamp_subsec_millis()) / 1000.0;
    let mut event = serde_json::to_value(&m.payload).unwrap_or(Value::Null);
    event["idempotency_key"] = json!(m.idempotency_key);
    let mut o = json!({
        "time": time,
        "source": f.source.as_deref().unwrap_or("privtrail"),
        "sourcetype": f.sourcetype.clone().unwrap_or_else(|| format!("privtrail:{}", m.payload.kind())),
        "event": event,
    });
    let host = match &m.payload {
        Payload::Alert(a) => a.scope.clone(),
        Payload::Event(e) => e.host.clone().or(e.tenant.clone()),
        Payload::Anchor(_) => None,
    };
    if let Some(h) = host {
        o["host"] = json!(h);
    }
    if let Some(i) = &f.index {
        o["index"] = json!(i);
    }
    o
}

/// The request body: the event objects of `batch`, concatenated, one per line.
pub fn body(batch: &[Message], f: &Fields) -> String {
    let mut s = String::new();
    for m in batch {
        s.push_str(&event_object(m, f).to_string());
        s.push('\n');
    }
    s
}

#[derive(Deserialize, Default)]
struct Reply {
    #[serde(default)]
    text: String,
    code: Option<i64>,
    #[serde(rename = "invalid-event-number")]
    invalid_event_number: Option<usize>,
}

#[async_trait::async_trait]
impl Notifier for HecNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, batch: &[Message]) -> Result<(), DeliveryError> {
        if batch.is_empty() {
            return Ok(());
        }
        let resp = self
            .http
            .post(self.endpoint.clone())
            .header("Authorization", format!("Splunk {}", self.token.expose()))
            .header("Content-Type", "application/json")
            .body(body(batch, &self.fields))
            .send()
            .await
            .map_err(|e| crate::http::transport_error("splunk_hec", &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let reply: Reply = serde_json::from_str(&text).unwrap_or_default();
        if status.is_success() && reply.code.unwrap_or(0) == 0 {
            return Ok(());
        }
        if status.as_u16() == 400
            && let Some(n) = reply.invalid_event_number
            && n < batch.len()
        {
            return Err(DeliveryError {
                accepted: n,
                rejected: Some(n),
                ..DeliveryError::permanent(format!(
                    "splunk_hec: event {n} of the batch ({}) refused: {} (code {})",
                    batch[n].idempotency_key,
                    reply.text,
                    reply.code.unwrap_or(-1)
                ))
            });
        }
        Err(crate::http::status_error(
            "splunk_hec",
            status,
            &headers,
            &text,
        ))
    }

    fn max_batch(&self) -> usize {
        self.batch
    }
}
