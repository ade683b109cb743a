//! The pure normalization of one endpoint elevation tag into an `endpoint.admin_tag` event.
//!
//! A tag is a JSON object of named values as read (`reg query` values as strings, JSON tags as
//! posted). Names are matched ignoring case and anything but letters and digits, so `ExpiresAt`,
//! `expires_at` and `Expires At` are one field.

use aws_lc_rs::digest;
use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Source, format_time};
use serde_json::{Map, Value};

use super::time::{epoch, parse_tag_time};

/// The `event_code` of every tag event.
pub const EVENT_CODE: &str = "AdminAccessAudit";
/// The privilege a tag records: the local Administrators group.
pub const PRIVILEGE: &str = "Administrators";
pub const PRIVILEGE_ID: &str = "S-1-5-32-544";

/// Field names (first one canonical), compared ignoring case and anything but letters and digits.
pub const GRANTED_AT: &[&str] = &["LastAdminGranted", "GrantedAt"];
pub const EXPIRES_AT: &[&str] = &["ExpiresAt", "Expires", "ExpiresOn"];
pub const GRANTED_TO: &[&str] = &["GrantedTo", "User", "UserName"];
pub const GRANTED_TO_SID: &[&str] = &["GrantedToSid", "UserSid"];
pub const GRANTED_BY: &[&str] = &["GrantedBy"];
pub const TICKET: &[&str] = &["Ticket", "TicketId", "Change"];
pub const REASON: &[&str] = &["Reason", "Justification"];
pub const HOST: &[&str] = &["host", "computer", "hostname", "computername"];

/// A tag that could not be normalized: why, and which field (as named in the tag) when one is to blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagError {
    pub field: Option<String>,
    pub reason: String,
}

/// A name folded for comparison: lowercase letters and digits only.
pub(crate) fn fold(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The first field present under any of `names`, with its name as it appears in the tag.
fn field<'m>(tag: &'m Map<String, Value>, names: &[&str]) -> Option<(&'m str, &'m Value)> {
    names.iter().find_map(|n| {
        let n = fold(n);
        tag.iter()
            .find(|(k, v)| fold(k) == n && text(v).is_some())
            .map(|(k, v)| (k.as_str(), v))
    })
}

/// A value as text; `None` for null, empty, containers and `reg query`'s `(value not set)`.
fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty() && s != "(value not set)").then_some(s)
}

fn field_text(tag: &Map<String, Value>, names: &[&str]) -> Option<String> {
    field(tag, names).and_then(|(_, v)| text(v))
}

/// Whether the object carries any tag field (`LastAdminGranted`, `ExpiresAt`, `GrantedTo`,
/// `GrantedToSid`); other objects are not tags.
pub fn is_tag(tag: &Map<String, Value>) -> bool {
    [GRANTED_AT, EXPIRES_AT, GRANTED_TO, GRANTED_TO_SID]
        .iter()
        .any(|names| field(tag, names).is_some())
}

/// The host a tag names itself (`host`, `computer`, `hostname`, `computerName`), without a leading
/// `\\`.
pub fn tag_host(tag: &Map<String, Value>) -> Option<String> {
    field_text(tag, HOST).and_then(|h| clean_host(&h))
}

/// A host name as given, trimmed, quotes and a leading `\\` removed; `None` when nothing is left.
pub(crate) fn clean_host(h: &str) -> Option<String> {
    let h = h
        .trim()
        .trim_matches(['"', '\''])
        .trim_start_matches('\\')
        .trim();
    (!h.is_empty()).then(|| h.to_owned())
}

fn time_field(tag: &Map<String, Value>, names: &[&str]) -> Result<Option<DateTime<Utc>>, TagError> {
    let Some((name, v)) = field(tag, names) else {
        return Ok(None);
    };
    let parsed = match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .and_then(epoch)
            .ok_or_else(|| format!("unrecognized time {n} (not Unix epoch seconds)")),
        _ => parse_tag_time(&text(v).unwrap_or_default()),
    };
    parsed.map(Some).map_err(|reason| TagError {
        field: Some(name.to_owned()),
        reason: format!("{name}: {reason}"),
    })
}

/// The stable native id of a tag: a hash of host, `LastAdminGranted`, `ExpiresAt` and the account
/// (`GrantedTo`, else `GrantedToSid`), case-folded, times in their normalized form, so the same tag
/// read again (from `reg query` text or JSON) gets the same id and is stored once.
pub fn tag_record_id(
    host: &str,
    granted_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    account: Option<&str>,
) -> String {
    let t = |t: Option<DateTime<Utc>>| t.map(format_time).unwrap_or_default();
    let joined = [
        host.trim().to_lowercase(),
        t(granted_at),
        t(expires_at),
        account.unwrap_or_default().trim().to_lowercase(),
    ]
    .join("\0");
    let d = digest::digest(&digest::SHA256, joined.as_bytes());
    d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `CONTOSO\alice` → `alice`; anything else as it is.
fn short_account(a: &str) -> &str {
    a.rsplit('\\').next().unwrap_or(a)
}

/// `WS-0142.contoso.local` → `WS-0142`; an IP address stays whole.
fn short_host(h: &str) -> &str {
    if h.parse::<std::net::IpAddr>().is_ok() {
        return h;
    }
    h.split('.').next().unwrap_or(h)
}

/// Normalize one tag read on `host` into an `endpoint.admin_tag` event (SPEC §1.3). `ingested_at` is
/// the event's `ingested_at`, and its `time` when the tag has no `LastAdminGranted` (the message says
/// so). `raw` is the tag as given. Fails only on a time that cannot be read.
pub fn normalize_tag(
    tag: &Map<String, Value>,
    host: &str,
    ingested_at: DateTime<Utc>,
) -> Result<Event, TagError> {
    let host = host.trim();
    let granted_at = time_field(tag, GRANTED_AT)?;
    let expires_at = time_field(tag, EXPIRES_AT)?;
    let granted_to = field_text(tag, GRANTED_TO);
    let sid = field_text(tag, GRANTED_TO_SID);
    let granted_by = field_text(tag, GRANTED_BY);
    let ticket = field_text(tag, TICKET);
    let reason = field_text(tag, REASON);

    let account = granted_to.as_deref().or(sid.as_deref());
    let record_id = tag_record_id(host, granted_at, expires_at, account);
    let id = EventId::native(Source::Endpoint, host, &record_id);
    let mut e = Event::new(
        id,
        Source::Endpoint,
        Action::EndpointAdminTag,
        granted_at.unwrap_or(ingested_at),
        EVENT_CODE,
    );
    e.ingested_at = ingested_at;
    e.host = Some(host.to_owned());
    e.scope = Some(host.to_owned());
    e.target = sid.clone().or_else(|| granted_to.clone());
    e.target_name = granted_to.clone();
    e.actor = granted_by.clone();
    e.privilege = Some(PRIVILEGE.to_owned());
    e.privilege_id = Some(PRIVILEGE_ID.to_owned());
    e.expires_at = expires_at;
    e.justification = match (&ticket, &reason) {
        (Some(t), Some(r)) => Some(format!("{t}: {r}")),
        (t, r) => t.clone().or_else(|| r.clone()),
    };
    e.record_id = Some(record_id);

    let mut msg = format!(
        "tag on {}: {} granted local admin",
        short_host(host),
        account.map_or("an unnamed account", short_account)
    );
    if let Some(by) = &granted_by {
        msg.push_str(&format!(" by {}", short_account(by)));
    }
    match expires_at {
        Some(t) => msg.push_str(&format!(" until {}", format_time(t))),
        None => msg.push_str(" with no expiry"),
    }
    if let Some(t) = ticket.as_ref().or(reason.as_ref()) {
        msg.push_str(&format!(" ({t})"));
    }
    if granted_at.is_none() {
        msg.push_str("; no LastAdminGranted, time is when the tag was read");
    }
    e.message = msg;
    e.raw = Value::Object(tag.clone()).to_string();
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sample() -> Map<String, Value> {
        obj(json!({
            "host": "WS-0142.contoso.local",
            "key": "HKLM\\SOFTWARE\\Org\\AdminAccessAudit",
            "LastAdminGranted": "2026-11-20T08:00:00Z",
            "GrantedTo": "CONTOSO\\alice",
            "GrantedToSid": "S-1-5-21-1-2-3-1104",
            "GrantedBy": "CONTOSO\\svc-rmm",
            "ExpiresAt": "2026-11-20T10:00:00Z",
            "Ticket": "CHG-1234"
        }))
    }

    #[test]
    fn full_tag() {
        let now = t("2026-11-21T00:00:00Z");
        let tag = sample();
        assert_eq!(tag_host(&tag).as_deref(), Some("WS-0142.contoso.local"));
        let e = normalize_tag(&tag, "WS-0142.contoso.local", now).unwrap();
        assert_eq!(e.action, Action::EndpointAdminTag);
        assert_eq!(e.source, Source::Endpoint);
        assert_eq!(e.time, t("2026-11-20T08:00:00Z"));
        assert_eq!(e.ingested_at, now);
        assert_eq!(e.expires_at, Some(t("2026-11-20T10:00:00Z")));
        assert_eq!(e.host.as_deref(), Some("WS-0142.contoso.local"));
        assert_eq!(e.scope.as_deref(), Some("WS-0142.contoso.local"));
        assert_eq!(e.target.as_deref(), Some("S-1-5-21-1-2-3-1104"));
        assert_eq!(e.target_name.as_deref(), Some("CONTOSO\\alice"));
        assert_eq!(e.actor.as_deref(), Some("CONTOSO\\svc-rmm"));
        assert_eq!(e.justification.as_deref(), Some("CHG-1234"));
        assert_eq!(e.privilege.as_deref(), Some("Administrators"));
        assert_eq!(e.privilege_id.as_deref(), Some("S-1-5-32-544"));
        assert_eq!(e.event_code, "AdminAccessAudit");
        assert_eq!(
            e.message,
            "tag on WS-0142: alice granted local admin by svc-rmm until 2026-11-20T10:00:00Z (CHG-1234)"
        );
        let raw: Value = serde_json::from_str(&e.raw).unwrap();
        assert_eq!(raw["Ticket"], "CHG-1234");
        let rid = e.record_id.clone().unwrap();
        assert_eq!(rid.len(), 32);
        assert_eq!(
            e.id,
            EventId::native(Source::Endpoint, "WS-0142.contoso.local", &rid)
        );
    }

    #[test]
    fn dedupe_key_is_stable_across_forms_and_case() {
        let now = t("2026-11-21T00:00:00Z");
        let a = normalize_tag(&sample(), "WS-0142.contoso.local", now).unwrap();
        // The same tag as reg query prints it: other time forms, other case, other names.
        let b = obj(json!({
            "lastadmingranted": "0x6afffe00",
            "Expires At": "11/20/2026 10:00:00 AM",
            "GRANTEDTO": "contoso\\ALICE",
            "GrantedBy": "someone else"
        }));
        let b = normalize_tag(&b, "ws-0142.CONTOSO.local", t("2027-01-01T00:00:00Z")).unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.record_id, b.record_id);
        // A fixed value guards against accidental changes: ids are persisted.
        assert_eq!(
            a.record_id.as_deref(),
            Some("aa0e73211bbbcbe3c2a7749c1d70a08a")
        );
        assert_eq!(
            tag_record_id("h", None, None, None),
            tag_record_id(" H ", None, None, Some(""))
        );
        let c = obj(
            json!({"LastAdminGranted": "2026-11-20T08:00:00Z", "GrantedTo": "CONTOSO\\bob",
            "ExpiresAt": "2026-11-20T10:00:00Z"}),
        );
        let c = normalize_tag(&c, "WS-0142.contoso.local", now).unwrap();
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn sparse_tag_and_numbers() {
        let now = t("2026-11-21T00:00:00Z");
        let tag = obj(
            json!({"ExpiresAt": 1795168800, "GrantedToSid": "S-1-5-21-1-2-3-1104",
            "Reason": "patching", "GrantedTo": ""}),
        );
        assert!(is_tag(&tag));
        assert_eq!(tag_host(&tag), None);
        let e = normalize_tag(&tag, "10.0.0.5", now).unwrap();
        assert_eq!(e.time, now);
        assert_eq!(e.expires_at, Some(t("2026-11-20T10:00:00Z")));
        assert_eq!(e.target.as_deref(), Some("S-1-5-21-1-2-3-1104"));
        assert_eq!(e.target_name, None);
        assert_eq!(e.justification.as_deref(), Some("patching"));
        assert_eq!(
            e.message,
            "tag on 10.0.0.5: S-1-5-21-1-2-3-1104 granted local admin until 2026-11-20T10:00:00Z \
             (patching); no LastAdminGranted, time is when the tag was read"
        );
        let none = obj(json!({"GrantedTo": "(value not set)", "Version": "1"}));
        assert!(!is_tag(&none));
        let e = normalize_tag(&obj(json!({"GrantedTo": "x"})), "h", now).unwrap();
        assert!(e.message.contains("with no expiry"), "{}", e.message);
        let both = obj(json!({"GrantedTo": "x", "Ticket": "T-1", "Reason": "r"}));
        let e = normalize_tag(&both, "h", now).unwrap();
        assert_eq!(e.justification.as_deref(), Some("T-1: r"));
        assert_eq!(
            tag_host(&obj(json!({"ComputerName": "\\\\WS-9"}))).as_deref(),
            Some("WS-9")
        );
    }

    #[test]
    fn bad_time_names_the_field() {
        let tag = obj(json!({"GrantedTo": "x", "expiresAt": "next tuesday"}));
        let err = normalize_tag(&tag, "h", Utc::now()).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("expiresAt"));
        assert!(
            err.reason.starts_with("expiresAt: unrecognized time"),
            "{}",
            err.reason
        );
    }
}
