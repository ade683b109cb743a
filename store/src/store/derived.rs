//! The read side of the derived state kept beside the events: PIM snapshots, directory users,
//! elevations, alerts, silences, the outbox, and the time- and seq-ordered reads the engine needs.

use chrono::{DateTime, Utc};
use privtrail_model::{Event, EventId};

use super::Store;
use crate::sqlite::names::{self, KnownNames, PrincipalName};
use crate::sqlite::{directory, events, meta, outbox, state, volume};
use crate::{
    AlertRow, DirectoryUser, ElevationRow, EventFilter, OutboxMessage, OutboxStatus, SilenceRow,
    Snapshot, StoreError, timefmt,
};

impl Store {
    /// Sets the configured identity map (pairs of alias and canonical principal), which
    /// [`Store::identities`] and `principal:` searches follow.
    pub fn set_identity_map(&self, pairs: &[(String, String)]) {
        let lower = pairs
            .iter()
            .map(|(a, c)| (a.trim().to_lowercase(), c.trim().to_lowercase()))
            .collect();
        *self.aliases.write().unwrap_or_else(|p| p.into_inner()) = lower;
    }

    /// Every name the events gave `sid`, best first (see [`PrincipalName`]).
    pub fn principal_names(&self, sid: &str) -> Result<Vec<PrincipalName>, StoreError> {
        self.readers.with(|c| names::of_sid(c, sid))
    }

    /// The name to print beside `principal` at time `at` (see [`KnownNames::at`]); `None` when
    /// nothing better than the identifier itself is known.
    pub fn name_of(
        &self,
        principal: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.known_names(principal)?.at(at).map(str::to_owned))
    }

    /// What is known about `principal`'s names: a well-known SID's fixed name, the names the
    /// events gave a SID, or the directory's UPN for an object id or an on-premises SID.
    pub fn known_names(&self, principal: &str) -> Result<KnownNames, StoreError> {
        let p = principal.trim();
        let mut known = KnownNames::default();
        if privtrail_model::names::is_sid(p) {
            if let Some(n) = privtrail_model::names::well_known(p) {
                known.fixed = Some(n.to_owned());
                return Ok(known);
            }
            known.learned = self.principal_names(p)?;
            if !known.learned.is_empty() {
                return Ok(known);
            }
        }
        if !p.contains('@') {
            let users = self.readers.with(|c| directory::users_matching(c, p))?;
            known.fixed = users
                .into_iter()
                .find(|u| {
                    u.id.eq_ignore_ascii_case(p)
                        || u.on_prem_sid
                            .as_deref()
                            .is_some_and(|s| s.eq_ignore_ascii_case(p))
                })
                .and_then(|u| u.upn);
        }
        Ok(known)
    }

    /// What is known about the names of every principal at once (one read of each table): for a
    /// pass over many elevations, where [`Store::known_names`] per principal would be thousands of
    /// queries. Keys are lower-cased identifiers (SIDs, object ids, on-premises SIDs).
    pub fn all_known_names(
        &self,
    ) -> Result<std::collections::HashMap<String, KnownNames>, StoreError> {
        let mut out: std::collections::HashMap<String, KnownNames> =
            std::collections::HashMap::new();
        let (learned, users) = self
            .readers
            .with(|c| Ok((names::all(c)?, directory::all_users(c)?)))?;
        for n in learned {
            out.entry(n.sid.to_lowercase()).or_default().learned.push(n);
        }
        for u in users {
            let Some(upn) = u.upn else { continue };
            for key in std::iter::once(u.id).chain(u.on_prem_sid) {
                let k = out.entry(key.trim().to_lowercase()).or_default();
                if k.learned.is_empty() && k.fixed.is_none() {
                    k.fixed = Some(upn.clone());
                }
            }
        }
        Ok(out)
    }

    /// Every identifier `who` is known under, itself first: the identity map's aliases, the SIDs
    /// the events named so (`nina.patel`, `CONTOSO\nina.patel`) and their other names, and the
    /// directory users matching any of them (UPN, object id, on-premises SID). At most
    /// [`crate::query::MAX_IDENTITIES`], compared without regard to case.
    pub fn identities(&self, who: &str) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = Vec::new();
        let push = |out: &mut Vec<String>, v: &str| {
            let v = v.trim();
            if !v.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(v)) {
                out.push(v.to_owned());
            }
        };
        push(&mut out, who);
        let aliases = self
            .aliases
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let follow_aliases = |out: &mut Vec<String>| {
            for v in out.clone() {
                let v = v.to_lowercase();
                let canon = aliases
                    .iter()
                    .find(|(a, _)| *a == v)
                    .map_or(v.clone(), |(_, c)| c.clone());
                push(out, &canon);
                for (a, c) in &aliases {
                    if *c == canon {
                        push(out, a);
                    }
                }
            }
        };
        follow_aliases(&mut out);
        self.readers.with(|c| {
            for v in out.clone() {
                if !privtrail_model::names::is_sid(&v) {
                    for sid in names::sids_named(c, &v)? {
                        push(&mut out, &sid);
                    }
                }
            }
            for v in out.clone() {
                for u in directory::users_matching(c, &v)? {
                    push(&mut out, &u.id);
                    for x in [u.upn, u.on_prem_sid].into_iter().flatten() {
                        push(&mut out, &x);
                    }
                }
            }
            for v in out.clone() {
                if privtrail_model::names::is_sid(&v) {
                    for n in names::of_sid(c, &v)? {
                        push(&mut out, &n.name);
                    }
                }
            }
            Ok(())
        })?;
        follow_aliases(&mut out);
        out.truncate(crate::query::MAX_IDENTITIES);
        Ok(out)
    }

    /// [`Store::identities`] for a search: a failing lookup leaves the term as it was written.
    pub(crate) fn identities_or_self(&self, who: &str) -> Vec<String> {
        self.identities(who).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot resolve a principal's identities");
            vec![who.to_owned()]
        })
    }

    /// The newest snapshot of `kind` for `tenant`.
    pub fn latest_snapshot(
        &self,
        tenant: &str,
        kind: &str,
    ) -> Result<Option<Snapshot>, StoreError> {
        self.readers
            .with(|c| directory::latest_snapshot(c, tenant, kind))
    }

    /// The directory users of every tenant that have an on-premises SID (and a UPN): the joins
    /// between Windows SIDs and Entra identities, whether or not the tenant is still configured.
    pub fn synced_users(&self) -> Result<Vec<DirectoryUser>, StoreError> {
        self.readers.with(directory::synced_users)
    }

    /// The directory users recorded for `tenant`.
    pub fn directory_users(&self, tenant: &str) -> Result<Vec<DirectoryUser>, StoreError> {
        self.readers.with(|c| directory::users(c, tenant))
    }

    /// Events with `from <= time < to` that match `filter` (exactly, on the stored values),
    /// oldest first, at most `limit`.
    pub fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let (Some(a), Some(b)) = (timefmt::to_nanos(&from), timefmt::to_nanos(&to)) else {
            return Ok(Vec::new());
        };
        self.readers
            .with(|c| events::between(c, a, b, filter, limit))
    }

    /// Per host, the Windows events of `from <= time < to`: totals and per event code (at most
    /// `max_codes`, the most frequent) by outcome. Reads every event of the period once (through
    /// the `time` index): meant for one call per day, not per evaluation.
    pub fn windows_volume(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max_codes: usize,
    ) -> Result<Vec<crate::HostVolume>, StoreError> {
        let (Some(a), Some(b)) = (timefmt::to_nanos(&from), timefmt::to_nanos(&to)) else {
            return Ok(Vec::new());
        };
        self.readers
            .with(|c| volume::windows_volume(c, a, b, max_codes))
    }

    /// Whether an event with this id is stored (cheaper than [`Store::get_event`]).
    pub fn contains(&self, id: &EventId) -> Result<bool, StoreError> {
        self.readers.with(|c| events::contains(c, id.as_str()))
    }

    /// Every stored elevation, oldest start first.
    pub fn elevations(&self) -> Result<Vec<ElevationRow>, StoreError> {
        self.readers.with(state::elevations)
    }

    /// Alerts, newest first; only those with `status` when given.
    pub fn alerts(&self, status: Option<&str>) -> Result<Vec<AlertRow>, StoreError> {
        self.readers.with(|c| state::alerts(c, status))
    }

    /// One alert by id.
    pub fn alert(&self, id: &str) -> Result<Option<AlertRow>, StoreError> {
        self.readers.with(|c| state::alert(c, id))
    }

    /// Pending outbox messages of `channel` with `next_attempt_at <= now`, at most `limit`: the
    /// longest due first, then in enqueue order.
    pub fn outbox_due(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let now = outbox::nanos(&now);
        self.readers.with(|c| outbox::due(c, channel, now, limit))
    }

    /// The channels with pending outbox messages (due or not), in name order.
    pub fn outbox_channels_pending(&self) -> Result<Vec<String>, StoreError> {
        self.readers.with(outbox::channels_pending)
    }

    /// Outbox messages, newest first, at most `limit`; only those with `status` when given.
    pub fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.readers.with(|c| outbox::list(c, status, limit))
    }

    /// The number of outbox messages per channel and status (only non-zero counts), ordered by
    /// channel, then status name.
    pub fn outbox_counts(&self) -> Result<Vec<(String, OutboxStatus, u64)>, StoreError> {
        self.readers.with(outbox::counts)
    }

    /// When the earliest pending outbox message is due (possibly in the past), or `None` when
    /// nothing is pending: how long a delivery worker may sleep.
    pub fn outbox_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.readers.with(outbox::next_due)
    }

    /// Every silence (expired ones too; the rules engine ignores those).
    pub fn silences(&self) -> Result<Vec<SilenceRow>, StoreError> {
        self.readers.with(state::silences)
    }

    /// Every event whose action is one of `actions` (e.g. the rules crate's elevation inputs),
    /// oldest first, without `raw`.
    pub fn events_with_actions(&self, actions: &[&str]) -> Result<Vec<Event>, StoreError> {
        self.readers.with(|c| events::with_actions(c, actions))
    }

    /// [`Store::events_with_actions`] in pieces of at most `limit`, after the position (time
    /// column, seq) of the last event of the previous piece — without `message`,
    /// `justification`, `correlation_id` and `record_id` (empty): what rebuilding elevations
    /// reads of every input in the store. `skip`: `(a, b)` leaves out the events with
    /// `a < seq <= b` (a caller that has them already), without reading their rows.
    pub fn events_with_actions_after(
        &self,
        actions: &[&str],
        after: Option<events::TimeSeq>,
        skip: Option<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<(events::TimeSeq, Event)>, StoreError> {
        self.readers.with(|c| {
            events::with_actions_after(c, events::COLUMNS_INPUT, actions, after, skip, limit)
        })
    }

    /// The sequence number of the oldest stored event (0 when empty); a purge moves it.
    pub fn first_seq(&self) -> Result<i64, StoreError> {
        self.readers.with(|c| {
            c.query_row("SELECT coalesce(min(seq), 0) FROM events", [], |r| r.get(0))
                .map_err(StoreError::sqlite("read first seq"))
        })
    }

    /// The sequence number of the newest stored event (0 when empty).
    pub fn last_seq(&self) -> Result<i64, StoreError> {
        self.readers.with(|c| {
            c.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
                .map_err(StoreError::sqlite("read last seq"))
        })
    }

    /// The rules cursor: the last event seq the rules job judged (committed with its results by
    /// [`crate::Writer::save_rules_result`]).
    pub fn rules_cursor(&self) -> Result<i64, StoreError> {
        self.readers.with(state::rules_cursor)
    }

    /// Events with `seq < s <= upto`, with their seq, in storage order, at most `limit`, **with
    /// `raw` left empty** but for the events whose action is one of `raw_of`; only events whose
    /// action is one of `actions` when given. When `whole` is given, the events of other actions
    /// come with only their identity (`id`, `time`, `ingested_at`, `source`, `action`, `outcome`;
    /// every other field empty).
    pub fn events_after_seq(
        &self,
        seq: i64,
        upto: i64,
        actions: Option<&[&str]>,
        raw_of: &[&str],
        whole: Option<&[&str]>,
        limit: usize,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        self.readers
            .with(|c| events::after_with_seq(c, seq, upto, actions, raw_of, whole, limit))
    }

    /// Every checkpoint whose key starts with `prefix`, as `(key, value)`, in key order.
    pub fn checkpoints_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.readers
            .with(|c| meta::checkpoints_with_prefix(c, prefix))
    }

    /// The chain positions of the events with `since <= time < until`: (first seq, last seq,
    /// how many). Late-arriving events interleave, so other periods' events may lie between.
    pub fn seq_range(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<(i64, i64, u64)>, StoreError> {
        let (Some(a), Some(b)) = (timefmt::to_nanos(&since), timefmt::to_nanos(&until)) else {
            return Ok(None);
        };
        self.readers.with(|c| {
            c.query_row(
                &format!(
                    "SELECT min(seq), max(seq), count(*) FROM events WHERE {} \
                     AND time >= ?1 AND time < ?2",
                    crate::sqlite::events::IN_SPANS
                ),
                [a, b],
                |r| {
                    Ok(r.get::<_, Option<i64>>(0)?
                        .zip(r.get::<_, Option<i64>>(1)?)
                        .map(|(f, l)| (f, l, r.get::<_, i64>(2).unwrap_or(0).max(0) as u64)))
                },
            )
            .map_err(StoreError::sqlite("read the period's chain range"))
        })
    }

    /// The events with these seqs (in the order given; missing ones are left out), each with its
    /// stored link hash and the hash of the link before it (the purge record's base when that
    /// link was purged): what an export needs so that every line can be checked on its own.
    pub fn events_by_seqs(
        &self,
        seqs: &[i64],
    ) -> Result<Vec<(i64, Event, crate::chain::Hash, crate::chain::Hash)>, StoreError> {
        self.readers.with(|conn| {
            let tx = conn
                .unchecked_transaction()
                .map_err(StoreError::sqlite("begin export read"))?;
            let base = meta::purge_base(&tx)?;
            let mut out = Vec::with_capacity(seqs.len());
            for &seq in seqs {
                let Some(e) = events::by_seq(&tx, seq)? else {
                    continue;
                };
                let hash = events::hash_of(&tx, seq)?.unwrap_or([0; 32]);
                let prev = match events::hash_of(&tx, seq - 1)? {
                    Some(h) => h,
                    None => match base {
                        Some((b, h)) if b == seq - 1 => h,
                        _ if seq == 1 => crate::chain::ZERO_HASH,
                        _ => [0xff; 32],
                    },
                };
                out.push((seq, e, hash, prev));
            }
            Ok(out)
        })
    }
}
