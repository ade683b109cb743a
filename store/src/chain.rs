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

use privtrail_model::Event;
use sha2::{Digest, Sha256};

use crate::timefmt;

/// A link hash.
pub type Hash = [u8; 32];

/// The `prev_hash` of the first link.
pub const ZERO_HASH: Hash = [0u8; 32];

const TAG: &[u8] = b"privtrail.event.v1\0";

/// `SHA-256(prev || canonical(event))`.
pub fn link_hash(prev: &Hash, event: &Event) -> Hash {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(TAG);
    let mut tb = String::with_capacity(32);
    put(&mut h, Some(event.id.as_str()));
    put_time(&mut h, &mut tb, Some(&event.time));
    put_time(&mut h, &mut tb, Some(&event.ingested_at));
    put(&mut h, Some(event.source.as_str()));
    put(&mut h, event.tenant.as_deref());
    put(&mut h, event.host.as_deref());
    put(&mut h, Some(event.action.as_str()));
    put(&mut h, Some(event.outcome.as_str()));
    put(&mut h, event.actor.as_deref());
    put(&mut h, event.target.as_deref());
    put(&mut h, event.target_name.as_deref());
    put(&mut h, event.privilege.as_deref());
    put(&mut h, event.privilege_id.as_deref());
    put(&mut h, event.scope.as_deref());
    put_time(&mut h, &mut tb, event.expires_at.as_ref());
    put(&mut h, event.justification.as_deref());
    put(&mut h, event.correlation_id.as_deref());
    put(&mut h, Some(&event.event_code));
    put(&mut h, event.record_id.as_deref());
    put(&mut h, Some(&event.message));
    put(&mut h, Some(&event.raw));
    put(
        &mut h,
        event.via_pim.map(|b| if b { "true" } else { "false" }),
    );
    put(&mut h, event.linked_to.as_ref().map(|l| l.as_str()));
    h.finalize().into()
}

fn put(h: &mut Sha256, v: Option<&str>) {
    match v {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            // A field longer than 4 GiB cannot be stored (SQLite's limit is lower); saturate
            // rather than panic.
            h.update(u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

fn put_time(h: &mut Sha256, buf: &mut String, t: Option<&chrono::DateTime<chrono::Utc>>) {
    match t {
        None => put(h, None),
        Some(t) => {
            buf.clear();
            timefmt::push_fixed(t, buf);
            put(h, Some(buf));
        }
    }
}

/// Walks the chain in `seq` order and remembers the first broken link.
///
/// Fed one stored row at a time by the SQLite side; pure so that it can be tested alone.
#[derive(Debug)]
pub struct ChainWalker {
    expected_seq: i64,
    prev: Hash,
    checked: u64,
    broken: Option<crate::BrokenLink>,
}

impl ChainWalker {
    /// Starts at the chain's base: the seq just before the first row and the hash it links to
    /// (`0` and [`ZERO_HASH`] unless old rows were purged by retention).
    pub fn new(base_seq: i64, base_hash: Hash) -> Self {
        ChainWalker {
            expected_seq: base_seq + 1,
            prev: base_hash,
            checked: 0,
            broken: None,
        }
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
        let computed = link_hash(&self.prev, event);
        if stored_hash != computed {
            return self.fail(
                seq,
                event,
                "hash mismatch: the row was modified after it was written".to_owned(),
            );
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

    /// Ends the walk, comparing its end with the chain head recorded at write time (which
    /// catches rows deleted at the end of the chain).
    pub fn finish(mut self, head_seq: i64, head_hash: &Hash) -> crate::VerifyReport {
        if self.broken.is_none() {
            let last_seq = self.expected_seq - 1;
            if last_seq != head_seq {
                self.broken = Some(crate::BrokenLink {
                    seq: head_seq,
                    event_id: String::new(),
                    reason: format!(
                        "chain head records seq {head_seq} but the last row is seq {last_seq} \
                         (rows deleted at the end)"
                    ),
                });
            } else if &self.prev != head_hash {
                self.broken = Some(crate::BrokenLink {
                    seq: head_seq,
                    event_id: String::new(),
                    reason: "the last row's hash differs from the chain head".to_owned(),
                });
            }
        }
        crate::VerifyReport {
            checked: self.checked,
            first_broken: self.broken,
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
