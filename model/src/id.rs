use std::cell::RefCell;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Source;

/// The stable id of an event: the store's dedupe key.
///
/// 32 lowercase hex digits: 16 for the *stream* (source + host or tenant + channel, case-folded) and
/// 16 for the record within it. A Windows record's suffix is its `EventRecordID` in hex, so that ids
/// of one stream sort in record order (the store's unique index then grows at its end instead of
/// at random places); an opaque native id (Graph's `id`) is hashed. The same record read from an
/// EVTX file and from an agent's JSON gets the same id, so it is stored once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(String);

fn hash64(parts: &[&str]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.to_lowercase().as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// Streams remembered per thread.
const REMEMBERED: usize = 8;
/// Streams whose parts are longer together are hashed every time, not remembered: a log that
/// names its host with megabytes holds no thread's memory.
const REMEMBERED_BYTES: usize = 512;

thread_local! {
    /// The streams hashed last on this thread, by their exact parts joined with NULs (as
    /// [`hash64`] reads them). An import's records share a few streams (one tenant; a host's
    /// channels), and hashing each record's again cost a SHA-256 and a lowercased copy of every
    /// part per event.
    static STREAMS: RefCell<(Vec<(String, u64)>, usize)> = const { RefCell::new((Vec::new(), 0)) };
}

/// [`hash64`] of `parts`, from the thread's remembered streams when it is one of them.
fn stream(parts: &[&str]) -> u64 {
    let joined_is = |key: &str| {
        let mut rest = key.as_bytes();
        for p in parts {
            match rest
                .strip_prefix(p.as_bytes())
                .and_then(|r| r.strip_prefix(b"\0"))
            {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    };
    STREAMS.with_borrow_mut(|(known, next)| {
        if let Some((_, h)) = known.iter().find(|(k, _)| joined_is(k)) {
            return *h;
        }
        let h = hash64(parts);
        let len = parts.iter().map(|p| p.len() + 1).sum();
        if len > REMEMBERED_BYTES {
            return h;
        }
        let mut key = String::with_capacity(len);
        for p in parts {
            key.push_str(p);
            key.push('\0');
        }
        if known.len() < REMEMBERED {
            known.push((key, h));
        } else {
            known[*next] = (key, h);
            *next = (*next + 1) % REMEMBERED;
        }
        h
    })
}

/// `bytes` as lowercase hex digits appended to `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

/// The first 8 bytes of SHA-256 of `native`.
fn native_hash(native: &str) -> [u8; 8] {
    let d = Sha256::digest(native.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    b
}

impl EventId {
    /// A Windows event: computer + channel + `EventRecordID`.
    pub fn windows(computer: &str, channel: &str, record_id: u64) -> Self {
        let mut id = String::with_capacity(32);
        push_hex(
            &mut id,
            &stream(&["windows", computer, channel]).to_be_bytes(),
        );
        push_hex(&mut id, &record_id.to_be_bytes());
        EventId(id)
    }

    /// Any other record: `scope` is the tenant or host, `native` the source's own record id
    /// (opaque, compared exactly).
    pub fn native(source: Source, scope: &str, native: &str) -> Self {
        let mut id = String::with_capacity(32);
        push_hex(&mut id, &stream(&[source.as_str(), scope]).to_be_bytes());
        push_hex(&mut id, &native_hash(native));
        EventId(id)
    }

    /// An Entra audit record: [`EventId::native`]'s stream, then the minute of `time` (8 hex
    /// digits), then the hash of the record's id — 40 hex digits. A tenant's records of one minute
    /// sort together, so that the store's unique index grows where the recent records are
    /// instead of at random places (Graph's record ids are opaque: hashed alone, every insert
    /// touched another page of the index). The minute, not the exact time: the same record read
    /// from Graph and from a Log Analytics export must get the same id, and an export may write
    /// fewer fractional digits.
    pub fn entra(tenant: &str, native: &str, time: DateTime<Utc>) -> Self {
        // Clamped: before 1970 sorts first, after the year 10136 last.
        let minute = time
            .timestamp()
            .div_euclid(60)
            .clamp(0, i64::from(u32::MAX));
        let minute = u32::try_from(minute).unwrap_or(u32::MAX);
        let mut id = String::with_capacity(40);
        push_hex(
            &mut id,
            &stream(&[Source::Entra.as_str(), tenant]).to_be_bytes(),
        );
        push_hex(&mut id, &minute.to_be_bytes());
        push_hex(&mut id, &native_hash(native));
        EventId(id)
    }

    /// Wraps an id read back from the store. Not validated: ids are opaque outside this module.
    pub fn from_stored(s: String) -> Self {
        EventId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` is a GUID as Graph writes object ids (`8-4-4-4-12` hex digits).
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_ids_sort_by_minute_within_a_tenant_and_keep_the_stream() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .expect("time")
        };
        let a = EventId::entra(
            "contoso",
            "Directory_ZZZ",
            at("2024-05-01T10:00:59.9999999Z"),
        );
        let b = EventId::entra("contoso", "Directory_AAA", at("2024-05-01T10:01:00Z"));
        assert_eq!(a.as_str().len(), 40);
        assert!(a < b, "{a} {b}: a later minute sorts after");
        // The tenant's stream is the one `native` gives, case-folded.
        let old = EventId::native(Source::Entra, "CONTOSO", "Directory_ZZZ");
        assert_eq!(a.as_str()[..16], old.as_str()[..16]);
        // Within a minute the record id decides; fewer fractional digits give the same id.
        assert_eq!(
            a,
            EventId::entra("contoso", "Directory_ZZZ", at("2024-05-01T10:00:59.999Z"))
        );
        assert_ne!(
            a,
            EventId::entra("contoso", "directory_zzz", at("2024-05-01T10:00:59Z")),
            "record ids compare exactly"
        );
        // 2024-05-01T10:00Z is minute 28,575,960 of the Unix epoch.
        assert_eq!(&a.as_str()[16..24], format!("{:08x}", 28_575_960));
    }

    #[test]
    fn windows_ids_are_stable_case_folded_and_ordered() {
        let a = EventId::windows("WIN-03DLIIOFRRA", "Security", 10);
        let b = EventId::windows("win-03dliiofrra", "security", 10);
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), 32);
        let c = EventId::windows("WIN-03DLIIOFRRA", "Security", 11);
        assert!(a < c);
        assert_ne!(a, EventId::windows("other", "Security", 10));
        assert_ne!(a, EventId::windows("WIN-03DLIIOFRRA", "System", 10));
        // A fixed value guards against accidental changes: ids are persisted.
        assert_eq!(
            EventId::windows("host", "Security", 255).as_str(),
            format!(
                "{:016x}00000000000000ff",
                hash64(&["windows", "host", "Security"])
            )
        );
    }

    #[test]
    fn ids_are_what_they_were() {
        // Ids are persisted (the store's dedupe key): these were printed by the build before
        // the streams were remembered and the digits written by hand.
        let t = DateTime::parse_from_rfc3339("2024-05-01T10:00:59.9999999Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("time");
        let ids = || {
            [
                EventId::windows("WIN-03DLIIOFRRA", "Security", 4242),
                EventId::windows(
                    "dc01.contoso.com",
                    "Microsoft-Windows-Sysmon/Operational",
                    1,
                ),
                EventId::native(Source::Entra, "Contoso", "Directory_ABC"),
                EventId::entra("contoso", "Directory_ZZZ", t),
                EventId::entra("fabrikam.onmicrosoft.com", "bench-000000000001", t),
                EventId::entra("ÄÖ-Tenant", "x", t),
            ]
        };
        let want = [
            "1ab4c790a6fc3dde0000000000001092",
            "afa74f0134491c740000000000000001",
            "2792a0739fcc77368a6555373e85211a",
            "2792a0739fcc773601b408d80c88a88ea014858c",
            "c92cdbe58c1a4efe01b408d814a2353978b71c74",
            "f416d7215b2e82a401b408d82d711642b726b044",
        ];
        // Twice: hashed, then remembered.
        for _ in 0..2 {
            let got = ids();
            assert_eq!(got.iter().map(EventId::as_str).collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn remembered_streams_are_the_streams() {
        // More streams than are remembered, in turns, with parts whose joins could be confused.
        let streams: Vec<[String; 3]> = (0..3 * REMEMBERED)
            .map(|i| {
                [
                    "windows".into(),
                    format!("host{}", i % 11),
                    format!("ch{i}"),
                ]
            })
            .chain([
                ["windows".into(), "a".into(), "bc".into()],
                ["windows".into(), "ab".into(), "c".into()],
                ["windows".into(), "".into(), "abc".into()],
            ])
            .collect();
        for round in 0..3 {
            for s in streams.iter().skip(round) {
                let parts = [s[0].as_str(), s[1].as_str(), s[2].as_str()];
                assert_eq!(stream(&parts), hash64(&parts), "{parts:?}");
            }
        }
        assert_ne!(
            stream(&["windows", "a", "bc"]),
            stream(&["windows", "ab", "c"])
        );
        // A long name is hashed, not kept.
        let long = "h".repeat(REMEMBERED_BYTES);
        for _ in 0..2 {
            assert_eq!(
                stream(&["windows", &long, "Security"]),
                hash64(&["windows", &long, "Security"])
            );
        }
        let kept = STREAMS.with_borrow(|(known, _)| known.iter().map(|(k, _)| k.len()).max());
        assert!(kept.is_some_and(|n| n <= REMEMBERED_BYTES));
    }

    #[test]
    fn native_ids_are_opaque_and_exact() {
        let a = EventId::native(Source::Entra, "contoso", "Directory_ABC");
        assert_eq!(
            a,
            EventId::native(Source::Entra, "CONTOSO", "Directory_ABC")
        );
        assert_ne!(
            a,
            EventId::native(Source::Entra, "contoso", "directory_abc")
        );
        assert_ne!(
            a,
            EventId::native(Source::Endpoint, "contoso", "Directory_ABC")
        );
    }
}
