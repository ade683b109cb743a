//! JSON lines file: appends `{"idempotency_key": …, "delivered_at": …, "payload": {…}}` per message,
//! creating the file (and its folder). For air-gapped setups and the demo.

use std::path::PathBuf;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::{ChannelConfig, ConfigError, DeliveryError, Message, Notifier};

/// `type = "file"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub path: PathBuf,
}

#[derive(Debug)]
pub(crate) struct FileNotifier {
    name: String,
    path: PathBuf,
    /// One batch is written at a time, so lines of two batches never interleave.
    lock: tokio::sync::Mutex<()>,
}

impl FileNotifier {
    pub(crate) fn new(config: &ChannelConfig, c: &FileConfig) -> Result<Self, ConfigError> {
        if c.path.as_os_str().is_empty() {
            return Err(config.err("path", "must not be empty"));
        }
        Ok(FileNotifier {
            name: config.name.clone(),
            path: c.path.clone(),
            lock: tokio::sync::Mutex::new(()),
        })
    }
}

/// The line written for `m` (without its newline).
pub fn line(m: &Message, delivered_at: chrono::DateTime<chrono::Utc>) -> String {
    serde_json::json!({
        "idempotency_key": m.idempotency_key,
        "delivered_at": delivered_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "payload": m.payload,
    })
    .to_string()
}

#[async_trait::async_trait]
impl Notifier for FileNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, batch: &[Message]) -> Result<(), DeliveryError> {
        let now = chrono::Utc::now();
        let mut buf = String::new();
        for m in batch {
            buf.push_str(&line(m, now));
            buf.push('\n');
        }
        let fail = |e: std::io::Error| {
            DeliveryError::retriable(format!("file {}: {e}", self.path.display()))
        };
        let _guard = self.lock.lock().await;
        // Alerts and forwarded events are the audit trail's content: only the owner reads them
        // (SPEC §8). Folders and the file get these modes when this creates them.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut b = tokio::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            b.mode(0o700);
            b.create(dir).await.map_err(fail)?;
        }
        let mut o = tokio::fs::OpenOptions::new();
        o.create(true).append(true);
        #[cfg(unix)]
        o.mode(0o600);
        let mut f = o.open(&self.path).await.map_err(fail)?;
        f.write_all(buf.as_bytes()).await.map_err(fail)?;
        f.flush().await.map_err(fail)?;
        f.sync_data().await.map_err(fail)?;
        Ok(())
    }

    fn max_batch(&self) -> usize {
        500
    }
}
