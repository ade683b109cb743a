use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an alert looks like to a channel (the binary converts the rules crate's alert into it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlertNotice {
    pub id: String,
    /// The rule id, e.g. `standing-access`.
    pub rule: String,
    /// `info` | `low` | `medium` | `high` | `critical`.
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

/// At most `n` characters, with `…` when cut.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Clips `s` in place to `n` characters; notes whether it did.
fn cut(s: &mut String, n: usize, changed: &mut bool) {
    if s.chars().count() > n {
        *s = clip(s, n);
        *changed = true;
    }
}

fn cut_opt(s: &mut Option<String>, n: usize, changed: &mut bool) {
    if let Some(s) = s {
        cut(s, n, changed);
    }
}

impl Payload {
    /// The payload shortened by the one rule channels apply when a message is too large for its
    /// transport (UDP syslog, Teams): every text field longer than `limit` characters is cut to
    /// `limit` (ending in `…`); an alert keeps the first event ids that fit in `limit` characters
    /// (at least one); an event whose `raw` record is longer than `limit` carries it as a cut JSON
    /// *string* instead of the JSON record. `None` when nothing is longer than `limit`.
    ///
    /// A channel picks the largest `limit` with which the message fits, and marks a shortened
    /// message `truncated` where its receiver sees it.
    pub fn shortened(&self, limit: usize) -> Option<Payload> {
        let mut p = self.clone();
        let mut changed = false;
        let c = &mut changed;
        match &mut p {
            Payload::Alert(a) => {
                cut(&mut a.rule, limit, c);
                cut(&mut a.summary, limit, c);
                cut_opt(&mut a.principal, limit, c);
                cut_opt(&mut a.privilege, limit, c);
                cut_opt(&mut a.scope, limit, c);
                cut_opt(&mut a.elevation_id, limit, c);
                let mut used = 0;
                let keep = a
                    .event_ids
                    .iter()
                    .take_while(|id| {
                        used += id.len() + 1;
                        used <= limit
                    })
                    .count()
                    .max(1);
                if keep < a.event_ids.len() {
                    a.event_ids.truncate(keep);
                    *c = true;
                }
            }
            Payload::Event(e) => {
                for f in [
                    &mut e.tenant,
                    &mut e.host,
                    &mut e.actor,
                    &mut e.target,
                    &mut e.target_name,
                    &mut e.privilege,
                    &mut e.privilege_id,
                    &mut e.scope,
                    &mut e.justification,
                    &mut e.correlation_id,
                    &mut e.record_id,
                ] {
                    cut_opt(f, limit, c);
                }
                cut(&mut e.event_code, limit, c);
                cut(&mut e.message, limit, c);
                // A cut record is no longer JSON: it is carried as a string (see `Event::raw`).
                cut(&mut e.raw, limit, c);
            }
            Payload::Anchor(a) => {
                cut(&mut a.store, limit, c);
            }
        }
        changed.then_some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(summary: &str, ids: usize) -> Payload {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        Payload::Alert(AlertNotice {
            id: "a-1".into(),
            rule: "standing-access".into(),
            severity: "high".into(),
            status: "open".into(),
            principal: Some("alice".into()),
            privilege: None,
            scope: None,
            opened_at: t,
            updated_at: t,
            summary: summary.into(),
            event_ids: (0..ids).map(|i| format!("e{i:04}")).collect(),
            elevation_id: None,
            link: None,
        })
    }

    #[test]
    fn shortening_cuts_long_fields_and_lists_and_leaves_short_ones() {
        assert_eq!(alert("short", 3).shortened(100), None);
        let Some(Payload::Alert(a)) = alert(&"x".repeat(500), 100).shortened(60) else {
            panic!("an alert, shortened");
        };
        assert_eq!(a.summary.chars().count(), 60);
        assert!(a.summary.ends_with('…'));
        assert_eq!(
            a.event_ids.len(),
            10,
            "six characters per id: ten fit in 60"
        );
        assert_eq!(a.principal.as_deref(), Some("alice"));
    }
}
