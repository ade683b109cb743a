//! Small codecs: base64url (no padding), the opaque `$skiptoken`, and the `$filter` on
//! `activityDateTime` that the directory audit endpoint accepts.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub(crate) fn b64url_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url or standard base64, padded or not; `None` on any other character.
pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if s.len() % 4 == 1 {
        return None;
    }
    Some(out)
}

/// Where a page ends, carried in `$skiptoken`: the endpoint, the listing's filter (hashed), and
/// the position (an offset, or for audits the last record's `activityDateTime|id` key so a record
/// arriving late never shifts a pull in progress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub endpoint: String,
    pub filter_hash: String,
    pub position: String,
}

fn mac(secret: &str, payload: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update([0]);
    h.update(payload.as_bytes());
    hex::encode(&h.finalize()[..12])
}

pub(crate) fn filter_hash(filter: &str) -> String {
    hex::encode(&Sha256::digest(filter.as_bytes())[..8])
}

/// Encodes a cursor as an opaque token, authenticated with the server's secret.
pub(crate) fn encode_cursor(secret: &str, c: &Cursor) -> String {
    let payload = format!("{}\n{}\n{}", c.endpoint, c.filter_hash, c.position);
    let token = format!("{payload}\n{}", mac(secret, &payload));
    b64url_encode(token.as_bytes())
}

/// `None` when the token was not made by this server (tampered, truncated, made up).
pub(crate) fn decode_cursor(secret: &str, token: &str) -> Option<Cursor> {
    let bytes = b64url_decode(token)?;
    let text = String::from_utf8(bytes).ok()?;
    let (payload, tag) = text.rsplit_once('\n')?;
    if mac(secret, payload) != tag {
        return None;
    }
    let mut parts = payload.splitn(3, '\n');
    Some(Cursor {
        endpoint: parts.next()?.to_owned(),
        filter_hash: parts.next()?.to_owned(),
        position: parts.next()?.to_owned(),
    })
}

/// One comparison on `activityDateTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Ge,
    Gt,
    Le,
    Lt,
}

/// Parses `activityDateTime ge 2026-11-19T00:00:00Z` (also `gt`, `le`, `lt`, clauses joined with
/// `and`, fractional seconds, offsets). Errors are Graph-style messages.
pub(crate) fn parse_audit_filter(filter: &str) -> Result<Vec<(Cmp, DateTime<Utc>)>, String> {
    let mut out = Vec::new();
    for clause in split_and(filter) {
        let words: Vec<&str> = clause.split_whitespace().collect();
        let [field, op, value] = words.as_slice() else {
            return Err(format!("Invalid filter clause: '{clause}'"));
        };
        if !field.eq_ignore_ascii_case("activityDateTime") {
            return Err(format!(
                "Invalid filter clause: the simulator filters on activityDateTime only, not '{field}'"
            ));
        }
        let cmp = match op.to_ascii_lowercase().as_str() {
            "ge" => Cmp::Ge,
            "gt" => Cmp::Gt,
            "le" => Cmp::Le,
            "lt" => Cmp::Lt,
            _ => {
                return Err(format!(
                    "Invalid filter clause: unsupported operator '{op}'"
                ));
            }
        };
        let v = value.trim_matches('\'');
        let t = DateTime::parse_from_rfc3339(v)
            .map_err(|_| format!("Invalid filter clause: '{v}' is not a valid DateTimeOffset"))?;
        out.push((cmp, t.with_timezone(&Utc)));
    }
    if out.is_empty() {
        return Err("Invalid filter clause: empty".into());
    }
    Ok(out)
}

fn split_and(filter: &str) -> Vec<String> {
    // A `+` in an offset decodes to a space in a form-encoded query: undo that first.
    let mut clauses = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    for w in filter.split_whitespace() {
        if w.eq_ignore_ascii_case("and") {
            clauses.push(cur.join(" "));
            cur.clear();
        } else if cur.len() == 3 && looks_like_offset(w) {
            let last = cur.pop().unwrap_or_default();
            let joined = format!("{last}+{w}");
            clauses.push(format!("{} {}", cur.join(" "), joined));
            cur.clear();
        } else {
            cur.push(w);
        }
    }
    if !cur.is_empty() {
        clauses.push(cur.join(" "));
    }
    clauses.retain(|c| !c.trim().is_empty());
    clauses
}

fn looks_like_offset(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
}

pub(crate) fn matches(filter: &[(Cmp, DateTime<Utc>)], t: DateTime<Utc>) -> bool {
    filter.iter().all(|&(cmp, v)| match cmp {
        Cmp::Ge => t >= v,
        Cmp::Gt => t > v,
        Cmp::Le => t <= v,
        Cmp::Lt => t < v,
    })
}

/// `2026-11-24T09:15:02.1234567Z`: Graph's seven fractional digits.
pub(crate) fn graph_time(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_cursor_detects_tampering() {
        for n in 0..20 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 5) as u8).collect();
            assert_eq!(b64url_decode(&b64url_encode(&data)), Some(data));
        }
        let c = Cursor {
            endpoint: "directoryAudits".into(),
            filter_hash: filter_hash("x"),
            position: "2026-01-01T00:00:00Z|abc".into(),
        };
        let t = encode_cursor("s", &c);
        assert_eq!(decode_cursor("s", &t), Some(c));
        assert_eq!(decode_cursor("other", &t), None);
        let mut bad = t.clone().into_bytes();
        bad[3] = if bad[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            decode_cursor("s", &String::from_utf8(bad).unwrap_or_default()),
            None
        );
    }

    #[test]
    fn filters_parse() {
        let f =
            parse_audit_filter("activityDateTime ge 2026-11-19T00:00:00.000Z").unwrap_or_default();
        assert_eq!(f.len(), 1);
        let f = parse_audit_filter("activityDateTime ge 2026-11-19T00:00:00 00:00 and activityDateTime lt 2026-11-20T00:00:00Z")
            .unwrap_or_default();
        assert_eq!(f.len(), 2);
        assert!(parse_audit_filter("category eq 'x'").is_err());
        assert!(parse_audit_filter("activityDateTime ge yesterday").is_err());
    }
}
