//! The integrity chain (SPEC §6).
//!
//! Every stored event carries `hash = SHA-256(prev_hash || canonical(event))`, where `prev_hash` is
//! the hash of the event stored just before it (by `seq`) and the first link uses 32 zero bytes.
//! A duplicate is not stored and so does not advance the chain.
//!
//! # Canonical form (version 1)
//!
//! A byte string, fed to SHA-256 after the 32-byte previous hash:
//!
//! 1. the ASCII tag `privtrail.event.v1` followed by one `0x00` byte;
//! 2. the event's fields in this fixed order: `id`, `time`, `ingested_at`, `source`, `tenant`,
//!    `host`, `action`, `outcome`, `actor`, `target`, `target_name`, `privilege`, `privilege_id`,
//!    `scope`, `expires_at`, `justification`, `correlation_id`, `event_code`, `record_id`,
//!    `message`, `raw`, `via_pim` (`true`/`false`), `linked_to`;
//! 3. each field as `0x00` when absent, or `0x01`, its UTF-8 length as a 4-byte big-endian
//!    integer, then its UTF-8 bytes;
//! 4. strings as stored (no normalization); `source`, `action`, `outcome` as their external names
//!    (`windows`, `group.member.added`, `success`); times in the fixed RFC 3339 form of
//!    [`crate::timefmt`] (`2016-07-08T18:15:23.429226300Z`); `raw` as the exact JSON text.
//!
//! `seq` is deliberately not part of the canonical form: an exported list of events (in chain
//! order) is enough to recompute every hash, and the chain itself already fixes the order.
//!
//! # Keyed links
//!
//! With a key kept outside the store (`[integrity] key`), a link is `HMAC-SHA256(key, prev_hash ||
//! canonical(event))` instead: whoever can write the database but does not hold the key cannot
//! recompute the chain after an edit. The store records from which seq links are keyed
//! (`keyed_from`); earlier links stay plain.

use hmac::{Hmac, Mac};
use privtrail_model::Event;
use sha2::{Digest, Sha256};

use crate::timefmt;

/// The key of a keyed chain; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainKey(Vec<u8>);

impl ChainKey {
    pub fn new(key: &[u8]) -> ChainKey {
        ChainKey(key.to_vec())
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey([redacted])")
    }
}

/// `prev || canonical(event)` fed to `h` in three updates: the fields before `raw` (with `raw`'s
/// length) gathered in one buffer, `raw` itself, then the two fields after it. Fed field by field
/// (some 70 small updates, each copied into the block buffer) it was a quarter of the writer
/// thread; gathered whole, copying each event into the buffer, `raw` (a Graph record's kilobyte)
/// included, was two fifths of the chain's samples. A large update is hashed in place, block by
/// block.
fn feed_linked(h: &mut impl sha2::digest::Update, prev: &Hash, event: &Event) {
    let mut buf = Vec::with_capacity(event.message.len() + 512);
    feed_head(&mut buf, prev, event);
    put_len(&mut buf, Some(event.raw.as_str()));
    h.update(&buf);
    h.update(event.raw.as_bytes());
    buf.clear();
    put(
        &mut buf,
        event.via_pim.map(|b| if b { "true" } else { "false" }),
    );
    put(&mut buf, event.linked_to.as_ref().map(|l| l.as_str()));
    h.update(&buf);
}

/// The link of `event` after `prev`, keyed with `key` when given.
pub fn link_hash_with(key: Option<&ChainKey>, prev: &Hash, event: &Event) -> Hash {
    match key {
        None => link_hash(prev, event),
        Some(k) => {
            // HMAC takes keys of any length.
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&k.0)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
            feed_linked(&mut mac, prev, event);
            mac.finalize().into_bytes().into()
        }
    }
}

/// A link hash.
pub type Hash = [u8; 32];

/// The `prev_hash` of the first link.
pub const ZERO_HASH: Hash = [0u8; 32];

const TAG: &[u8] = b"privtrail.event.v1\0";

/// `SHA-256(prev || canonical(event))`.
pub fn link_hash(prev: &Hash, event: &Event) -> Hash {
    let mut h = Sha256::new();
    feed_linked(&mut h, prev, event);
    h.finalize().into()
}

/// `prev || canonical(event)` up to `message` (included) appended to `h`.
fn feed_head(h: &mut Vec<u8>, prev: &Hash, event: &Event) {
    h.extend_from_slice(prev);
    h.extend_from_slice(TAG);
    let mut tb = String::with_capacity(32);
    put(h, Some(event.id.as_str()));
    put_time(h, &mut tb, Some(&event.time));
    put_time(h, &mut tb, Some(&event.ingested_at));
    put(h, Some(event.source.as_str()));
    put(h, event.tenant.as_deref());
    put(h, event.host.as_deref());
    put(h, Some(event.action.as_str()));
    put(h, Some(event.outcome.as_str()));
    put(h, event.actor.as_deref());
    put(h, event.target.as_deref());
    put(h, event.target_name.as_deref());
    put(h, event.privilege.as_deref());
    put(h, event.privilege_id.as_deref());
    put(h, event.scope.as_deref());
    put_time(h, &mut tb, event.expires_at.as_ref());
    put(h, event.justification.as_deref());
    put(h, event.correlation_id.as_deref());
    put(h, Some(&event.event_code));
    put(h, event.record_id.as_deref());
    put(h, Some(&event.message));
}

fn put(h: &mut Vec<u8>, v: Option<&str>) {
    put_len(h, v);
    if let Some(s) = v {
        h.extend_from_slice(s.as_bytes());
    }
}

/// A field's presence byte and length, without its bytes.
fn put_len(h: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => h.push(0),
        Some(s) => {
            h.push(1);
            // A field longer than 4 GiB cannot be stored (SQLite's limit is lower); saturate
            // rather than panic.
            h.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
        }
    }
}

fn put_time(h: &mut Vec<u8>, buf: &mut String, t: Option<&chrono::DateTime<chrono::Utc>>) {
    match t {
        None => put(h, None),
        Some(t) => {
            buf.clear();
            timefmt::push_fixed(t, buf);
            put(h, Some(buf));
        }
    }
}

/// A point of the chain published outside the store (a file, a SIEM) or recorded by privtrail:
/// at `at`, the link of `seq` was `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: Hash,
    pub at: chrono::DateTime<chrono::Utc>,
    /// Where it was read from (`anchor file …`, `recorded in the store`).
    pub source: String,
}

/// Walks the chain in `seq` order from its genesis (or from the last purge record's base) and
/// remembers the first broken link: a gap, an edited row, a link that does not match an anchor.
///
/// Fed one stored row at a time by the SQLite side; pure so that it can be tested alone.
#[derive(Debug)]
pub struct ChainWalker {
    expected_seq: i64,
    prev: Hash,
    checked: u64,
    broken: Option<crate::BrokenLink>,
    key: Option<ChainKey>,
    keyed_from: Option<i64>,
    anchors: Vec<Anchor>,
    next_anchor: usize,
    anchors_matched: usize,
}

impl ChainWalker {
    /// Starts after `base_seq`, whose link was `base_hash` (`0` and [`ZERO_HASH`]: the genesis).
    pub fn new(base_seq: i64, base_hash: Hash) -> Self {
        ChainWalker {
            expected_seq: base_seq + 1,
            prev: base_hash,
            checked: 0,
            broken: None,
            key: None,
            keyed_from: None,
            anchors: Vec::new(),
            next_anchor: 0,
            anchors_matched: 0,
        }
    }

    /// Links from `keyed_from` on are HMACs with `key` (which may be missing: then they fail).
    pub fn keyed(mut self, key: Option<ChainKey>, keyed_from: Option<i64>) -> Self {
        self.key = key;
        self.keyed_from = keyed_from;
        self
    }

    /// Anchors to hold the chain to (any order). Anchors before the base (purged) are skipped.
    pub fn anchored(mut self, mut anchors: Vec<Anchor>) -> Self {
        anchors.sort_by_key(|a| a.seq);
        let base = self.expected_seq - 1;
        anchors.retain(|a| a.seq > base);
        self.anchors = anchors;
        self
    }

    /// Checks one row. Returns `false` once a broken link was found (the caller stops).
    pub fn check(&mut self, seq: i64, event: &Event, stored_hash: &[u8]) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.checked += 1;
        if seq != self.expected_seq {
            let missing = if seq == self.expected_seq + 1 {
                format!("row seq {} is missing", self.expected_seq)
            } else {
                format!("rows seq {}..={} are missing", self.expected_seq, seq - 1)
            };
            return self.fail(seq, event, format!("gap in the chain: {missing} (deleted)"));
        }
        let keyed = self.keyed_from.is_some_and(|k| seq >= k);
        if keyed && self.key.is_none() {
            let from = self.keyed_from.unwrap_or(seq);
            return self.fail(
                seq,
                event,
                format!("links from seq {from} are keyed (HMAC-SHA256): configure [integrity] key to verify them"),
            );
        }
        let key = if keyed { self.key.as_ref() } else { None };
        let computed = link_hash_with(key, &self.prev, event);
        if stored_hash != computed {
            return self.fail(
                seq,
                event,
                "hash mismatch: the row was modified after it was written".to_owned(),
            );
        }
        while let Some(a) = self.anchors.get(self.next_anchor).filter(|a| a.seq <= seq) {
            if a.seq == seq && a.hash != computed {
                let reason = format!(
                    "the chain was rewritten: anchored at {} ({}), seq {} had hash {}; it now has {}",
                    privtrail_model::format_time(a.at),
                    a.source,
                    a.seq,
                    hex::encode(a.hash),
                    hex::encode(computed)
                );
                return self.fail(seq, event, reason);
            }
            if a.seq == seq {
                self.anchors_matched += 1;
            }
            self.next_anchor += 1;
        }
        self.prev = computed;
        self.expected_seq = seq + 1;
        true
    }

    fn fail(&mut self, seq: i64, event: &Event, reason: String) -> bool {
        self.broken = Some(crate::BrokenLink {
            seq,
            event_id: event.id.as_str().to_owned(),
            reason,
        });
        false
    }

    /// Records a row that could not be decoded at all (a column edited to an invalid value).
    pub fn undecodable(&mut self, seq: i64, id: String, reason: String) {
        if self.broken.is_none() {
            self.checked += 1;
            self.broken = Some(crate::BrokenLink {
                seq,
                event_id: id,
                reason: format!("row cannot be read back: {reason}"),
            });
        }
    }

    /// Ends the walk: anchors beyond its end mean rows deleted at the end; the head recorded at
    /// write time is a cache that must agree with what the walk computed.
    pub fn finish(mut self, head_seq: i64, head_hash: &Hash) -> crate::VerifyReport {
        let last_seq = self.expected_seq - 1;
        if self.broken.is_none()
            && let Some(a) = self.anchors.get(self.next_anchor)
        {
            self.broken = Some(crate::BrokenLink {
                seq: a.seq,
                event_id: String::new(),
                reason: format!(
                    "rows deleted at the end: anchored at {} ({}), the chain reached seq {}; it now ends at seq {last_seq}",
                    privtrail_model::format_time(a.at),
                    a.source,
                    a.seq
                ),
            });
        }
        if self.broken.is_none() {
            if last_seq != head_seq {
                self.broken = Some(crate::BrokenLink {
                    seq: head_seq,
                    event_id: String::new(),
                    reason: format!(
                        "the chain table records head seq {head_seq} but the last row is seq {last_seq} \
                         (rows deleted at the end, or the table edited)"
                    ),
                });
            } else if &self.prev != head_hash {
                self.broken = Some(crate::BrokenLink {
                    seq: head_seq,
                    event_id: String::new(),
                    reason: "the last row's hash differs from the chain head recorded in the chain table"
                        .to_owned(),
                });
            }
        }
        crate::VerifyReport {
            checked: self.checked,
            first_broken: self.broken,
            anchors_matched: self.anchors_matched,
            keyed_from: self.keyed_from,
            head: (last_seq, self.prev),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use privtrail_model::{Action, EventId, Source};

    fn ev(n: u64) -> Event {
        let t = chrono::DateTime::from_timestamp_nanos(1_467_999_323_429_226_300);
        Event::new(
            EventId::windows("h", "Security", n),
            Source::Windows,
            Action::Logon,
            t,
            "4624",
        )
    }

    /// The canonical form written out by hand from the module doc, for a fixed event: links
    /// computed by other code (an auditor's own verifier) must keep matching.
    #[test]
    fn links_follow_the_documented_form() {
        let mut e = ev(7);
        e.ingested_at = chrono::DateTime::from_timestamp_nanos(1_467_999_400_000_000_000);
        e.tenant = Some("contoso".into());
        e.host = Some("WS1".into());
        e.actor = Some("alice".into());
        e.message = "a message".into();
        e.raw = r#"{"EventID":4624}"#.into();
        e.via_pim = Some(false);
        let prev = [7u8; 32];
        let field = |out: &mut Vec<u8>, v: Option<&str>| match v {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&(s.len() as u32).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        };
        let mut bytes = prev.to_vec();
        bytes.extend_from_slice(b"privtrail.event.v1\0");
        let id = e.id.as_str().to_owned();
        for v in [
            Some(id.as_str()),
            Some("2016-07-08T17:35:23.429226300Z"),
            Some("2016-07-08T17:36:40.000000000Z"),
            Some("windows"),
            Some("contoso"),
            Some("WS1"),
            Some(e.action.as_str()),
            Some("success"),
            Some("alice"),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some("4624"),
            None,
            Some("a message"),
            Some(r#"{"EventID":4624}"#),
            Some("false"),
            None,
        ] {
            field(&mut bytes, v);
        }
        let want: Hash = Sha256::digest(&bytes).into();
        assert_eq!(link_hash(&prev, &e), want);
        assert_eq!(link_hash_with(None, &prev, &e), want);
        let key = ChainKey::new(b"k");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"k").unwrap();
        Mac::update(&mut mac, &bytes);
        let keyed: Hash = mac.finalize().into_bytes().into();
        assert_eq!(link_hash_with(Some(&key), &prev, &e), keyed);
        // And the value itself, so that a change to both sides above is seen too.
        assert_eq!(
            hex::encode(want),
            "2e27db633ca859666dbfea3be8ddb7d0916b6931d42f5147e82c84c7b4ba15d9"
        );
    }

    /// `raw` is hashed in place, apart from the fields around it: a `raw` of several blocks that
    /// starts and ends inside one, and fields after it, hash as the canonical form in one piece.
    #[test]
    fn a_long_raw_hashes_as_the_canonical_form_in_one_piece() {
        let mut e = ev(9);
        e.message = "m".repeat(70);
        e.linked_to = Some(ev(3).id);
        e.via_pim = Some(true);
        let prev = [3u8; 32];
        for len in [0, 1, 55, 64, 1000, 4099] {
            e.raw = "r".repeat(len);
            let mut head = Vec::new();
            feed_head(&mut head, &prev, &e);
            let mut whole = head.clone();
            put(&mut whole, Some(&e.raw));
            put(&mut whole, Some("true"));
            put(&mut whole, Some(e.linked_to.as_ref().unwrap().as_str()));
            let want: Hash = Sha256::digest(&whole).into();
            assert_eq!(link_hash(&prev, &e), want, "raw of {len} bytes");
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"key").unwrap();
            Mac::update(&mut mac, &whole);
            let keyed: Hash = mac.finalize().into_bytes().into();
            let key = ChainKey::new(b"key");
            assert_eq!(
                link_hash_with(Some(&key), &prev, &e),
                keyed,
                "raw of {len} bytes"
            );
        }
    }

    #[test]
    fn hash_depends_on_every_field_and_on_absence() {
        let a = ev(1);
        let base = link_hash(&ZERO_HASH, &a);
        assert_eq!(base, link_hash(&ZERO_HASH, &a.clone()));
        let mut b = a.clone();
        b.actor = Some(String::new());
        assert_ne!(base, link_hash(&ZERO_HASH, &b), "None differs from empty");
        let mut c = a.clone();
        c.actor = Some("ab".into());
        let mut d = a.clone();
        d.actor = Some("a".into());
        d.target = Some("b".into());
        assert_ne!(link_hash(&ZERO_HASH, &c), link_hash(&ZERO_HASH, &d));
        let mut e = a.clone();
        e.time += chrono::Duration::nanoseconds(100);
        assert_ne!(base, link_hash(&ZERO_HASH, &e));
        assert_ne!(base, link_hash(&[1u8; 32], &a));
    }

    #[test]
    fn walker_reports_gap_edit_and_truncation() {
        let evs: Vec<Event> = (1..=4).map(ev).collect();
        let mut hashes = Vec::new();
        let mut prev = ZERO_HASH;
        for e in &evs {
            prev = link_hash(&prev, e);
            hashes.push(prev);
        }
        let mut w = ChainWalker::new(0, ZERO_HASH);
        for (i, e) in evs.iter().enumerate() {
            assert!(w.check(i as i64 + 1, e, &hashes[i]));
        }
        assert_eq!(w.finish(4, &hashes[3]).first_broken, None);

        let mut w = ChainWalker::new(0, ZERO_HASH);
        assert!(w.check(1, &evs[0], &hashes[0]));
        assert!(!w.check(3, &evs[2], &hashes[2]));
        let r = w.finish(4, &hashes[3]);
        assert_eq!(r.first_broken.as_ref().map(|b| b.seq), Some(3));

        let mut w = ChainWalker::new(0, ZERO_HASH);
        let mut edited = evs[0].clone();
        edited.target = Some("x".into());
        assert!(!w.check(1, &edited, &hashes[0]));

        let mut w = ChainWalker::new(0, ZERO_HASH);
        for (i, e) in evs.iter().take(3).enumerate() {
            assert!(w.check(i as i64 + 1, e, &hashes[i]));
        }
        let r = w.finish(4, &hashes[3]);
        assert_eq!(r.first_broken.map(|b| b.seq), Some(4));
    }
}
