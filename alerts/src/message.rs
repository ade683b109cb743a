use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an alert looks like to a channel (the binary converts the rules crate's alert into it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlertNotice {
    pub id: String,
    /// The rule id, e.g. `standing-access`.
    pub rule: String,
    /// `low` | `medium` | `high` | `critical`.
    pub severity: String,
    pub status: String,
    pub principal: Option<String>,
    pub privilege: Option<String>,
    pub scope: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub summary: String,
    pub event_ids: Vec<String>,
    pub elevation_id: Option<String>,
    /// The alert's page in the web UI.
    pub link: Option<String>,
}

/// A published point of privtrail's integrity chain: a witness (a SIEM) keeps it so that a later
/// rewrite of the store's chain is caught (`privtrail verify` compares).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AnchorNotice {
    /// The data directory whose chain this is.
    pub store: String,
    pub seq: i64,
    /// The link hash at `seq`, hex.
    pub hash: String,
    pub at: DateTime<Utc>,
}

/// What is delivered: an alert, a forwarded event, or a chain anchor. JSON: their fields plus
/// `"kind": "alert" | "event" | "anchor"`.
///
/// Deserialize it from JSON text (`serde_json::from_str`/`from_slice`): an event's `raw` is kept as
/// JSON text, which serde_json can only do from text.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Payload {
    Alert(AlertNotice),
    Event(privtrail_model::Event),
    Anchor(AnchorNotice),
}

/// One outbox entry handed to a channel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub outbox_id: i64,
    /// Stable across retries; receivers can dedupe on it.
    pub idempotency_key: String,
    pub payload: Payload,
}

// serde's derived internally tagged enums buffer the content, and an event's `raw` (a `RawValue`)
// cannot be read from that buffer: read the text once, look at `kind`, then parse the text again.
impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Kind {
            kind: String,
        }
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        let kind: Kind = serde_json::from_str(raw.get()).map_err(D::Error::custom)?;
        match kind.kind.as_str() {
            "alert" => serde_json::from_str(raw.get())
                .map(Payload::Alert)
                .map_err(D::Error::custom),
            "event" => serde_json::from_str(raw.get())
                .map(Payload::Event)
                .map_err(D::Error::custom),
            "anchor" => serde_json::from_str(raw.get())
                .map(Payload::Anchor)
                .map_err(D::Error::custom),
            other => Err(D::Error::unknown_variant(
                other,
                &["alert", "event", "anchor"],
            )),
        }
    }
}

impl Payload {
    /// `alert` or `event` (syslog MSGID, HEC sourcetype suffix).
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Alert(_) => "alert",
            Payload::Event(_) => "event",
            Payload::Anchor(_) => "anchor",
        }
    }

    /// The alert id, the event id, or the anchor's hash.
    pub fn id(&self) -> &str {
        match self {
            Payload::Alert(a) => &a.id,
            Payload::Event(e) => e.id.as_str(),
            Payload::Anchor(a) => &a.hash,
        }
    }

    /// When it happened: the alert's last update, or the event's time.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Payload::Alert(a) => a.updated_at,
            Payload::Event(e) => e.time,
            Payload::Anchor(a) => a.at,
        }
    }
}
