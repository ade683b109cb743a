//! Syslog (RFC 5424) over UDP, TCP or TLS, with a CEF or JSON message.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [privtrail@32473 id="…"] MSG` ([`format_message`]):
//! PRI = facility × 8 + severity (critical 2, high 3, medium 4, low 5; events 6, `audit.log_cleared`
//! 2); TIMESTAMP is the alert's last update or the event's time; MSGID `alert` or `event`; MSG the
//! CEF line ([`crate::cef`]) or the payload's JSON, without a BOM. TCP and TLS frame each message by
//! octet counting (RFC 6587 §3.4.1, `LEN SP MSG`); UDP sends one datagram per message. One
//! connection per batch; a TLS stream is shut down properly (close_notify) before it is dropped.
//!
//! A message longer than `max_message_bytes` (UDP: default [`UDP_DEFAULT_MAX`], at most
//! [`UDP_MAX`]; TCP/TLS: no limit unless set) is shortened by [`format_within`], not failed: the
//! payload's fields are cut by [`Payload::shortened`] until it fits, and the receiver sees
//! `truncated="true"` in the structured data (and `"truncated":true` in JSON,
//! `cs6Label=truncated cs6=true` in CEF).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::{ChannelConfig, ConfigError, DeliveryError, Message, Notifier};

mod format;

pub use format::{Header, escape_sd, format_message, format_within, frame};

/// The default longest UDP message: rsyslog's default `maxMessageSize`, which most receivers take.
pub const UDP_DEFAULT_MAX: usize = 8192;
/// The largest payload of one UDP datagram over IPv4.
pub const UDP_MAX: usize = 65_507;
/// The shortest limit that can be set (RFC 5426 §3.2: every receiver takes 480 octets).
pub const MIN_MAX: usize = 480;

/// `type = "syslog"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    #[serde(default)]
    pub transport: Transport,
    pub host: String,
    /// Default 514 (UDP, TCP) or 6514 (TLS).
    pub port: Option<u16>,
    /// TLS: PEM file of the only CA to trust (default: the platform verifier).
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub format: Format,
    /// Default `privtrail`.
    pub app_name: Option<String>,
    /// A name (`auth`, `authpriv`, `local0`…`local7`, …) or a number 0-23; default `authpriv` (10).
    pub facility: Option<String>,
    /// HOSTNAME field; default this machine's name.
    pub hostname: Option<String>,
    /// Longest message in bytes; longer ones are shortened and marked `truncated="true"`.
    /// Default 8192 for UDP (at most 65507), none for TCP and TLS.
    pub max_message_bytes: Option<usize>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Cef,
    Json,
}

pub(crate) struct SyslogNotifier {
    name: String,
    transport: Transport,
    host: String,
    port: u16,
    header: Header,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    max_bytes: Option<usize>,
}

impl std::fmt::Debug for SyslogNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogNotifier")
            .field("name", &self.name)
            .field("transport", &self.transport)
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Facility number of a name or number.
pub fn facility(s: &str) -> Option<u8> {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    if let Ok(n) = s.parse::<u8>() {
        return (n < 24).then_some(n);
    }
    NAMES.iter().position(|n| *n == s).map(|i| i as u8)
}

fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

impl SyslogNotifier {
    pub(crate) fn new(config: &ChannelConfig, c: &SyslogConfig) -> Result<Self, ConfigError> {
        if c.host.trim().is_empty() {
            return Err(config.err("host", "must not be empty"));
        }
        let facility = match &c.facility {
            None => 10,
            Some(f) => facility(f)
                .ok_or_else(|| config.err("facility", format!("unknown facility {f:?}")))?,
        };
        let tls = match c.transport {
            Transport::Tls => Some(crate::tls::client_config(config, c.ca_file.as_deref())?),
            _ if c.ca_file.is_some() => {
                return Err(config.err("ca_file", "only used with transport = \"tls\""));
            }
            _ => None,
        };
        let port = c.port.unwrap_or(if c.transport == Transport::Tls {
            6514
        } else {
            514
        });
        let max_bytes = match (c.transport, c.max_message_bytes) {
            (_, Some(n)) if n < MIN_MAX => {
                return Err(config.err(
                    "max_message_bytes",
                    format!("{n} is less than {MIN_MAX}, which every syslog receiver takes"),
                ));
            }
            (Transport::Udp, Some(n)) if n > UDP_MAX => {
                return Err(config.err(
                    "max_message_bytes",
                    format!("{n} does not fit in one UDP datagram (at most {UDP_MAX})"),
                ));
            }
            (Transport::Udp, n) => Some(n.unwrap_or(UDP_DEFAULT_MAX)),
            (_, n) => n,
        };
        Ok(SyslogNotifier {
            name: config.name.clone(),
            transport: c.transport,
            host: c.host.clone(),
            port,
            header: Header {
                facility,
                hostname: c.hostname.clone().unwrap_or_else(machine_hostname),
                app_name: c.app_name.clone().unwrap_or_else(|| "privtrail".to_owned()),
                procid: std::process::id().to_string(),
                format: c.format,
            },
            timeout: config.timeout()?,
            tls,
            max_bytes,
        })
    }

    /// The message for `m`, shortened to the channel's limit when it has one.
    fn format(&self, m: &Message) -> String {
        match self.max_bytes {
            Some(max) => format_within(&self.header, m, max),
            None => format_message(&self.header, m),
        }
    }

    async fn within<T>(
        &self,
        what: &str,
        f: impl Future<Output = std::io::Result<T>>,
    ) -> Result<T, DeliveryError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(DeliveryError::retriable(format!(
                "syslog {}:{}: {what}: {e}",
                self.host, self.port
            ))),
            Err(_) => Err(DeliveryError::retriable(format!(
                "syslog {}:{}: {what}: timed out",
                self.host, self.port
            ))),
        }
    }

    async fn addr(&self) -> Result<SocketAddr, DeliveryError> {
        let mut addrs = self
            .within(
                "resolve",
                tokio::net::lookup_host((self.host.as_str(), self.port)),
            )
            .await?;
        addrs
            .next()
            .ok_or_else(|| DeliveryError::retriable(format!("syslog {}: no address", self.host)))
    }

    async fn write_framed<S: AsyncWrite + Unpin>(
        &self,
        s: &mut S,
        batch: &[Message],
    ) -> Result<(), DeliveryError> {
        let mut buf = String::new();
        for m in batch {
            buf.push_str(&frame(&self.format(m)));
        }
        self.within("write", s.write_all(buf.as_bytes())).await?;
        self.within("flush", s.flush()).await
    }
}

#[async_trait::async_trait]
impl Notifier for SyslogNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, batch: &[Message]) -> Result<(), DeliveryError> {
        if batch.is_empty() {
            return Ok(());
        }
        let addr = self.addr().await?;
        match self.transport {
            Transport::Udp => {
                let bind: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let sock = self
                    .within("bind", tokio::net::UdpSocket::bind(bind))
                    .await?;
                for (i, m) in batch.iter().enumerate() {
                    let msg = self.format(m);
                    self.within("send", sock.send_to(msg.as_bytes(), addr))
                        .await
                        .map_err(|e| e.at(i))?;
                }
                Ok(())
            }
            Transport::Tcp => {
                let mut s = self
                    .within("connect", tokio::net::TcpStream::connect(addr))
                    .await?;
                self.write_framed(&mut s, batch).await?;
                self.within("close", s.shutdown()).await
            }
            Transport::Tls => {
                let Some(tls) = &self.tls else {
                    return Err(DeliveryError::permanent("syslog: TLS not set up"));
                };
                let server =
                    rustls_pki_types::ServerName::try_from(self.host.clone()).map_err(|e| {
                        DeliveryError::permanent(format!("syslog: host {:?}: {e}", self.host))
                    })?;
                let tcp = self
                    .within("connect", tokio::net::TcpStream::connect(addr))
                    .await?;
                let connector = tokio_rustls::TlsConnector::from(tls.clone());
                let mut s = self
                    .within("TLS handshake", connector.connect(server, tcp))
                    .await?;
                self.write_framed(&mut s, batch).await?;
                // close_notify: without it rsyslog logs GnuTLS error -110.
                self.within("close", s.shutdown()).await
            }
        }
    }

    fn max_batch(&self) -> usize {
        100
    }
}
