//! What reconstruction reads of an event ([`View`]), and the compact form the tracker keeps its
//! inputs in ([`Input`], its strings in a [`Strings`] table).
//!
//! The tracker keeps every input of every key for as long as it lives (a million PIM records are
//! a million inputs): as `Event`s, without their text, that was ~900 bytes each (a 1M-record
//! Graph import's rules run peaked at ~900 MB). An `Input` is ~100 bytes plus its id: the
//! few distinct principals, roles, scopes and tenants are stored once, and an input refers to them
//! by number. Reconstruction reads both kinds of events through a borrowed [`View`], so nothing is
//! copied back into `Event`s to recompute a key.

use crate::hash::FastMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, Outcome, Source};

/// The fields of an event that reconstruction reads, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub id: &'a str,
    pub time: DateTime<Utc>,
    pub source: Source,
    pub action: Action,
    pub outcome: Outcome,
    pub tenant: Option<&'a str>,
    pub host: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub target: Option<&'a str>,
    pub privilege: Option<&'a str>,
    pub privilege_id: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
    pub via_pim: Option<bool>,
    pub linked_to: Option<&'a str>,
    pub event_code: &'a str,
}

impl<'a> View<'a> {
    pub fn of(e: &'a Event) -> Self {
        View {
            id: e.id.as_str(),
            time: e.time,
            source: e.source,
            action: e.action,
            outcome: e.outcome,
            tenant: e.tenant.as_deref(),
            host: e.host.as_deref(),
            actor: e.actor.as_deref(),
            target: e.target.as_deref(),
            privilege: e.privilege.as_deref(),
            privilege_id: e.privilege_id.as_deref(),
            scope: e.scope.as_deref(),
            expires_at: e.expires_at,
            via_pim: e.via_pim,
            linked_to: e.linked_to.as_ref().map(|l| l.as_str()),
            event_code: &e.event_code,
        }
    }
}

/// The distinct strings of a tracker's inputs, each stored once and named by its number.
#[derive(Debug, Default)]
pub(crate) struct Strings {
    all: Vec<Arc<str>>,
    index: FastMap<Arc<str>, u32>,
}

/// No string (`None`).
const NONE: u32 = u32::MAX;

impl Strings {
    fn intern(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else {
            return NONE;
        };
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        // Past u32::MAX - 1 distinct strings (never, in practice) the table would overflow its
        // numbering; saturating would alias strings, so stop loudly instead.
        let i = u32::try_from(self.all.len())
            .ok()
            .filter(|&i| i < NONE)
            .expect("fewer than 2^32 - 1 distinct strings in elevation inputs");
        let s: Arc<str> = Arc::from(s);
        self.all.push(s.clone());
        self.index.insert(s, i);
        i
    }

    fn get(&self, i: u32) -> Option<&str> {
        (i != NONE).then(|| &*self.all[i as usize])
    }
}

/// An input as the tracker keeps it: a [`View`]'s fields with the strings in a [`Strings`] table.
#[derive(Debug)]
pub(crate) struct Input {
    /// Shared with the tracker's set of seen ids.
    pub id: Arc<str>,
    time: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    linked_to: Option<Box<str>>,
    /// tenant, host, actor, target, privilege, privilege_id, scope, event_code.
    strings: [u32; 8],
    source: Source,
    action: Action,
    outcome: Outcome,
    via_pim: Option<bool>,
}

impl Input {
    pub fn new(v: &View<'_>, id: Arc<str>, table: &mut Strings) -> Self {
        let strings = [
            v.tenant,
            v.host,
            v.actor,
            v.target,
            v.privilege,
            v.privilege_id,
            v.scope,
            Some(v.event_code),
        ]
        .map(|s| table.intern(s));
        Input {
            id,
            time: v.time,
            expires_at: v.expires_at,
            linked_to: v.linked_to.map(Box::from),
            strings,
            source: v.source,
            action: v.action,
            outcome: v.outcome,
            via_pim: v.via_pim,
        }
    }

    pub fn view<'a>(&'a self, table: &'a Strings) -> View<'a> {
        let s = |i: usize| table.get(self.strings[i]);
        View {
            id: &self.id,
            time: self.time,
            source: self.source,
            action: self.action,
            outcome: self.outcome,
            tenant: s(0),
            host: s(1),
            actor: s(2),
            target: s(3),
            privilege: s(4),
            privilege_id: s(5),
            scope: s(6),
            expires_at: self.expires_at,
            via_pim: self.via_pim,
            linked_to: self.linked_to.as_deref(),
            event_code: s(7).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use privtrail_model::EventId;

    #[test]
    fn an_input_reads_back_as_the_view_it_was_made_from() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("time");
        let mut e = Event::new(
            EventId::native(Source::Entra, "t", "r1"),
            Source::Entra,
            Action::RoleActivated,
            t,
            "Add member to role completed (PIM activation)",
        );
        e.tenant = Some("contoso".into());
        e.actor = Some("Nina@contoso.com".into());
        e.target = Some("nina@contoso.com".into());
        e.privilege = Some("Global Administrator".into());
        e.privilege_id = Some("62e90394-69f5-4237-9190-012177145e10".into());
        e.scope = Some("/".into());
        e.expires_at = Some(t + chrono::Duration::hours(1));
        e.via_pim = Some(true);
        e.linked_to = Some(EventId::from_stored("abc".into()));
        let mut table = Strings::default();
        let v = View::of(&e);
        let input = Input::new(&v, Arc::from(v.id), &mut table);
        let back = input.view(&table);
        assert_eq!(format!("{back:?}"), format!("{v:?}"));
        // The same strings again add nothing to the table.
        let mut other = e.clone();
        other.id = EventId::native(Source::Entra, "t", "r2");
        let v2 = View::of(&other);
        let before = table.all.len();
        Input::new(&v2, Arc::from(v2.id), &mut table);
        assert_eq!(table.all.len(), before);
    }
}
