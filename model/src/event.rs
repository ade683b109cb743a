use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Action, EventId};

/// Where an event came from (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Entra,
    Windows,
    Endpoint,
    Privtrail,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Entra => "entra",
            Source::Windows => "windows",
            Source::Endpoint => "endpoint",
            Source::Privtrail => "privtrail",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "entra" => Source::Entra,
            "windows" => Source::Windows,
            "endpoint" => Source::Endpoint,
            "privtrail" => Source::Privtrail,
            _ => return None,
        })
    }
}

/// Whether the recorded operation succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    #[default]
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            _ => None,
        }
    }
}

/// One normalized, stored event (SPEC §2). Field names are the external names used by search,
/// JSON output and the API.
///
/// Build one with [`Event::new`] and set the fields that apply; optional fields stay `None` when the
/// source does not carry them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    /// When it happened, UTC.
    #[serde(with = "crate::time::serde_time")]
    pub time: DateTime<Utc>,
    /// When privtrail read it.
    #[serde(with = "crate::time::serde_time")]
    pub ingested_at: DateTime<Utc>,
    pub source: Source,
    pub tenant: Option<String>,
    pub host: Option<String>,
    pub action: Action,
    pub outcome: Outcome,
    /// Who did it: UPN, `DOMAIN\user`, SID or app.
    pub actor: Option<String>,
    /// Whose rights changed: UPN or SID.
    pub target: Option<String>,
    /// The target's display name, when known.
    pub target_name: Option<String>,
    /// Role or group name.
    pub privilege: Option<String>,
    /// Role template id or group SID.
    pub privilege_id: Option<String>,
    /// `/`, a directory scope, or the host.
    pub scope: Option<String>,
    #[serde(default, with = "crate::time::serde_opt_time")]
    pub expires_at: Option<DateTime<Utc>>,
    pub justification: Option<String>,
    pub correlation_id: Option<String>,
    /// For `role.assigned` / `role.unassigned`: whether the change went through PIM.
    #[serde(default)]
    pub via_pim: Option<bool>,
    /// The id of an earlier event that records the same change (Entra logs one PIM action twice:
    /// PIM's record and Core Directory's `MS-PIM` record). A linked event does not count again.
    #[serde(default)]
    pub linked_to: Option<EventId>,
    /// Windows event id or Graph `activityDisplayName`.
    pub event_code: String,
    /// The source's own record id (Windows `EventRecordID`, Graph `id`).
    pub record_id: Option<String>,
    /// A short human sentence.
    pub message: String,
    /// The original record as JSON text; printed as JSON, not as a string.
    #[serde(with = "raw_json")]
    pub raw: String,
}

impl Event {
    /// An event with the given identity and every optional field empty.
    pub fn new(
        id: EventId,
        source: Source,
        action: Action,
        time: DateTime<Utc>,
        event_code: impl Into<String>,
    ) -> Self {
        Event {
            id,
            time,
            ingested_at: time,
            source,
            tenant: None,
            host: None,
            action,
            outcome: Outcome::Success,
            actor: None,
            target: None,
            target_name: None,
            privilege: None,
            privilege_id: None,
            scope: None,
            expires_at: None,
            justification: None,
            correlation_id: None,
            via_pim: None,
            linked_to: None,
            event_code: event_code.into(),
            record_id: None,
            message: String::new(),
            raw: "{}".to_owned(),
        }
    }
}

/// `raw` is kept as JSON text (it is stored and hashed as text) but printed as embedded JSON.
mod raw_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub fn serialize<S: Serializer>(raw: &str, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(raw) {
            Ok(v) => v.serialize(s),
            // Not JSON (should not happen for stored events): keep it as a string, lose nothing.
            Err(_) => s.serialize_str(raw),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let v = Box::<RawValue>::deserialize(d)?;
        Ok(v.get().to_owned())
    }
}

/// A record that could not be normalized, kept with where it came from (SPEC §8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reject {
    /// The file, URL or endpoint the record came from.
    pub origin: String,
    /// Where in it: `line 12`, `offset 4096`, `record 77`, `chunk 3`.
    pub location: String,
    /// Why it was rejected.
    pub reason: String,
    /// The record's text as read (may be cut to a size limit).
    pub raw: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_spec_names_and_embeds_raw() {
        let t = DateTime::parse_from_rfc3339("2016-07-08T18:15:23.429Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut e = Event::new(
            EventId::windows("h", "Security", 1),
            Source::Windows,
            Action::GroupMemberAdded,
            t,
            "4732",
        );
        e.raw = r#"{"a":1}"#.into();
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["action"], "group.member.added");
        assert_eq!(v["source"], "windows");
        assert_eq!(v["outcome"], "success");
        assert_eq!(v["raw"]["a"], 1);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
