//! Email over SMTP (lettre, tokio, rustls with aws-lc-rs).
//!
//! One mail per alert, or in digest mode (`digest = "1h"`: the outbox collects a batch per
//! interval, see [`crate::ChannelConfig::digest_interval`]) one mail listing every alert of the batch.
//! Subject `[privtrail] {SEVERITY} {rule}: {summary}` (digest: `[privtrail] {n} alerts: …`);
//! multipart/alternative with text and HTML parts (every value HTML-escaped); times in UTC and in
//! `timezone`; a `Message-ID` derived from the idempotency key, so a resent mail is recognizable.
//! `security = "none"` is only accepted for a loopback host. Events are not mailed (a permanent
//! error). SMTP `4xx` replies and network failures are retried, `5xx` replies are not, except a
//! refused login (`530`, `534`, `535`, `538`): that is the channel's authentication failure, retried
//! with backoff while `delivery-failure` tells the other channels.

pub mod render;

use std::path::PathBuf;

use chrono_tz::Tz;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    AlertNotice, ChannelConfig, ConfigError, DeliveryError, Message, Notifier, Payload, Secret,
};

/// `type = "email"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub host: String,
    /// Default 587 (starttls), 465 (tls), 25 (none).
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    /// IANA zone (`Europe/Berlin`) in which times are shown beside UTC.
    pub timezone: Option<String>,
    /// Digest interval, e.g. `1h`.
    pub digest: Option<privtrail_model::Span>,
    /// PEM file of the only CA to trust (default: the platform verifier).
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    #[default]
    Starttls,
    Tls,
    None,
}

pub(crate) struct EmailNotifier {
    name: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    tz: Option<Tz>,
    digest: bool,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

fn mailboxes(
    config: &ChannelConfig,
    field: &'static str,
    list: &[String],
) -> Result<Vec<Mailbox>, ConfigError> {
    list.iter()
        .map(|a| {
            a.parse::<Mailbox>()
                .map_err(|e| config.err(field, format!("{a:?}: {e}")))
        })
        .collect()
}

impl EmailNotifier {
    pub(crate) fn new(config: &ChannelConfig, c: &EmailConfig) -> Result<Self, ConfigError> {
        if c.host.trim().is_empty() {
            return Err(config.err("host", "must not be empty"));
        }
        if c.security == Security::None && !crate::config::is_loopback(&c.host) {
            return Err(config.err(
                "security",
                "\"none\" (no TLS) is only allowed for a loopback host",
            ));
        }
        let from = c
            .from
            .parse::<Mailbox>()
            .map_err(|e| config.err("from", format!("{:?}: {e}", c.from)))?;
        let to = mailboxes(config, "to", &c.to)?;
        if to.is_empty() {
            return Err(config.err("to", "needs at least one address"));
        }
        let cc = mailboxes(config, "cc", &c.cc)?;
        let tz = c
            .timezone
            .as_deref()
            .map(|z| {
                z.parse::<Tz>().map_err(|_| {
                    config.err(
                        "timezone",
                        format!("{z:?} is not an IANA zone like Europe/Berlin"),
                    )
                })
            })
            .transpose()?;
        let digest = config.digest_interval()?.is_some();

        let tls = if c.security == Security::None {
            Tls::None
        } else {
            let mut b = TlsParameters::builder(c.host.clone());
            if let Some(path) = &c.ca_file {
                let pem = crate::config::read_file(config, "ca_file", path)?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| config.err("ca_file", format!("not a PEM certificate: {e}")))?;
                b = b
                    .certificate_store(CertificateStore::None)
                    .add_root_certificate(cert);
            }
            let params = b
                .build_rustls()
                .map_err(|e| config.err("ca_file", format!("TLS set-up: {e}")))?;
            if c.security == Security::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        };
        let port = c.port.unwrap_or(match c.security {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        });
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(c.host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(config.timeout()?));
        match (&c.username, &c.password) {
            (Some(u), Some(p)) => {
                b = b.credentials(Credentials::new(u.clone(), p.expose().to_owned()))
            }
            (None, None) => {}
            _ => return Err(config.err("password", "set both username and password, or neither")),
        }
        Ok(EmailNotifier {
            name: config.name.clone(),
            transport: b.build(),
            from,
            to,
            cc,
            tz,
            digest,
        })
    }

    fn mail(
        &self,
        alerts: &[&AlertNotice],
        keys: &[&str],
    ) -> Result<lettre::Message, DeliveryError> {
        let subject = match alerts {
            [one] if !self.digest => render::subject(one),
            _ => render::digest_subject(alerts),
        };
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(message_id(keys)));
        for t in &self.to {
            b = b.to(t.clone());
        }
        for c in &self.cc {
            b = b.cc(c.clone());
        }
        b.multipart(MultiPart::alternative_plain_html(
            render::text(alerts, self.tz),
            render::html(alerts, self.tz),
        ))
        .map_err(|e| DeliveryError::permanent(format!("email: cannot build the mail: {e}")))
    }

    async fn deliver(&self, mail: lettre::Message) -> Result<(), DeliveryError> {
        self.transport
            .send(mail)
            .await
            .map(|_| ())
            .map_err(|e| smtp_error(&e))
    }
}

/// SMTP replies that refuse the channel's credentials (RFC 4954: `530` authentication required,
/// `534` mechanism too weak, `535` credentials invalid, `538` encryption required for it).
const AUTH_REPLIES: [u16; 4] = [530, 534, 535, 538];

/// How the outbox reads an SMTP failure: a refused login is the channel's authentication failure
/// (retried, alerted on), another `5xx` refuses the message, anything else may pass.
fn smtp_error(e: &lettre::transport::smtp::Error) -> DeliveryError {
    let text = format!("email: {e}");
    let code = e.status().map(u16::from);
    if code.is_some_and(|c| AUTH_REPLIES.contains(&c)) {
        DeliveryError::auth(text)
    } else if e.is_permanent() {
        DeliveryError::permanent(text)
    } else {
        DeliveryError::retriable(text)
    }
}

/// `<{first 32 hex of SHA-256 of the keys}@privtrail>`: the same for a resend of the same message(s).
pub fn message_id(keys: &[&str]) -> String {
    let mut h = Sha256::new();
    for k in keys {
        h.update(k.as_bytes());
        h.update([0]);
    }
    format!("<{}@privtrail>", &hex::encode(h.finalize())[..32])
}

fn alert_of(m: &Message) -> Result<&AlertNotice, DeliveryError> {
    match &m.payload {
        Payload::Alert(a) => Ok(a),
        Payload::Event(_) | Payload::Anchor(_) => Err(DeliveryError::permanent(
            "email: events and chain anchors are not sent by email; route them to a SIEM channel",
        )),
    }
}

#[async_trait::async_trait]
impl Notifier for EmailNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, batch: &[Message]) -> Result<(), DeliveryError> {
        if !self.digest {
            return crate::send_each(batch, |m| async move {
                let mail = self.mail(&[alert_of(m)?], &[&m.idempotency_key])?;
                self.deliver(mail).await
            })
            .await;
        }
        // An event cannot be mailed: mail the alerts before it, and report it as the rejected one.
        let end = batch
            .iter()
            .position(|m| alert_of(m).is_err())
            .unwrap_or(batch.len());
        let alerts: Vec<&AlertNotice> = batch[..end]
            .iter()
            .filter_map(|m| alert_of(m).ok())
            .collect();
        if !alerts.is_empty() {
            let keys: Vec<&str> = batch[..end]
                .iter()
                .map(|m| m.idempotency_key.as_str())
                .collect();
            self.deliver(self.mail(&alerts, &keys)?).await?;
        }
        match batch.get(end).map(alert_of) {
            Some(Err(e)) => Err(e.at(end)),
            _ => Ok(()),
        }
    }

    fn max_batch(&self) -> usize {
        if self.digest { 1000 } else { 1 }
    }
}
