//! `group-burst`: group memberships granted in a burst, or by someone who never granted one.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::Duration;
use privtrail_model::{Action, Event, EventId, Outcome, format_time, names};

use crate::elevation::grant_actor;
use crate::hash::{FastMap, FastSet};
use crate::rule::{Context, Finding, Rule, Severity};
use crate::time::format_duration;

/// Group names a summary lists before "and N more".
const LISTED: usize = 8;

/// `group-burst`: one principal added to `count` or more distinct groups within `within` (any
/// groups: an attacker's tooling adds an account to every group it can reach, privileged or not),
/// or added to a privileged group by a subject that never granted privileged membership before
/// (a new granter is an account used in a new way).
///
/// - **Burst**: occurrence, reported when a new add completes such a window; subject =
///   `burst|` + member + the UTC day of the window's first add (more adds in the same series
///   update the alert). A group is its SID (else name) at its scope: Administrators on two hosts
///   are two groups.
/// - **New granter**: occurrence, subject = `granter|` + the canonical granter (one alert per new
///   granter). "Never before" is judged against [`Context::granters`], the first privileged grant
///   of each granter in the whole stored history (so it holds across runs and restarts); a grant
///   counts as new only when it is its granter's first. Approved granters
///   (`approved_local_admin_granters`) are never new. With `baseline`, grants made before the
///   history is `baseline` long are learned, not reported (a first import would otherwise report
///   every granter it contains).
#[derive(Debug, Clone)]
pub struct GroupBurst {
    pub severity: Severity,
    /// Distinct groups that make a burst (0: no burst detection).
    pub count: usize,
    pub within: Duration,
    /// Report the first privileged grant of each granter.
    pub new_granters: bool,
    /// How long the history of grants must be before a first grant is reported.
    pub baseline: Duration,
}

/// A successful add of a member, not the second record of one change.
fn is_add(e: &Event) -> bool {
    e.action == Action::GroupMemberAdded
        && e.outcome == Outcome::Success
        && e.linked_to.is_none()
        && e.target.as_deref().is_some_and(|t| !t.trim().is_empty())
}

/// A group: its SID (else its name) and its scope (else its host), lower-cased.
type GroupKey = (String, String);

fn group_key(e: &Event) -> GroupKey {
    let group = e
        .privilege_id
        .as_deref()
        .or(e.privilege.as_deref())
        .unwrap_or("?")
        .trim()
        .to_lowercase();
    let scope = e
        .scope
        .as_deref()
        .or(e.host.as_deref())
        .unwrap_or("")
        .trim()
        .to_lowercase();
    (group, scope)
}

fn group_name(e: &Event) -> &str {
    e.privilege
        .as_deref()
        .or(e.privilege_id.as_deref())
        .unwrap_or("unknown group")
}

fn member(e: &Event) -> String {
    names::display(e.target.as_deref().unwrap_or("?"), e.target_name.as_deref())
}

impl GroupBurst {
    fn bursts(&self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        if self.count == 0 {
            return;
        }
        let p = ctx.policy;
        let principal = |e: &Event| p.canonical(e.target.as_deref().unwrap_or(""));
        let fresh: FastSet<&EventId> = ctx
            .new_events
            .iter()
            .filter(|e| is_add(e))
            .map(|e| &e.id)
            .collect();
        if fresh.is_empty() {
            return;
        }
        let wanted: HashSet<String> = ctx
            .new_events
            .iter()
            .filter(|e| is_add(e))
            .map(principal)
            .collect();
        // Each wanted principal's adds (recent and new, each once), oldest first, with their
        // group: principal and group are computed once per add, and every window is a slice of
        // its principal's list. (Each new add's window used to be filtered from all the adds:
        // quadratic, a second per million events after an import of copied EVTX files, and a
        // lever for whoever writes a machine's logs.)
        let mut seen = HashSet::new();
        let mut by_who: BTreeMap<String, Vec<(&Event, GroupKey)>> = BTreeMap::new();
        for e in ctx.recent_events.iter().chain(ctx.new_events) {
            if !is_add(e) || !seen.insert(&e.id) {
                continue;
            }
            let who = principal(e);
            if wanted.contains(&who) {
                by_who.entry(who).or_default().push((e, group_key(e)));
            }
        }
        for adds in by_who.values_mut() {
            adds.sort_by(|a, b| (a.0.time, &a.0.id).cmp(&(b.0.time, &b.0.id)));
        }
        // Per subject: its principal's adds and the windows that made a burst, as ranges.
        type Windows<'a, 'e> = (&'a [(&'e Event, GroupKey)], Vec<(usize, usize)>);
        let mut found: BTreeMap<String, Windows<'_, '_>> = BTreeMap::new();
        for (who, adds) in &by_who {
            // The window of a new add `e` holds the adds timed in (e.time - within, e.time]; both
            // ends only move forward as `e` does, the distinct groups counted on the way.
            let mut groups: FastMap<&GroupKey, usize> = FastMap::default();
            let (mut lo, mut hi) = (0, 0);
            for (e, _) in adds.iter().filter(|(e, _)| fresh.contains(&e.id)) {
                let from = e
                    .time
                    .checked_sub_signed(self.within)
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
                while hi < adds.len() && adds[hi].0.time <= e.time {
                    *groups.entry(&adds[hi].1).or_default() += 1;
                    hi += 1;
                }
                while lo < hi && adds[lo].0.time <= from {
                    if let Some(n) = groups.get_mut(&adds[lo].1) {
                        *n -= 1;
                        if *n == 0 {
                            groups.remove(&adds[lo].1);
                        }
                    }
                    lo += 1;
                }
                if groups.len() < self.count {
                    continue;
                }
                let subject = format!("burst|{who}|{}", adds[lo].0.time.date_naive());
                let (_, ranges) = found
                    .entry(subject)
                    .or_insert_with(|| (adds.as_slice(), Vec::new()));
                match ranges.last_mut() {
                    Some(last) if last.1 >= lo => last.1 = last.1.max(hi),
                    _ => ranges.push((lo, hi)),
                }
            }
        }
        let found = found.into_iter().map(|(subject, (adds, ranges))| {
            // Ranges in order and disjoint once merged: each add once, oldest first.
            let window = || ranges.iter().flat_map(|&(a, b)| &adds[a..b]);
            let events: Vec<&Event> = window().map(|(e, _)| *e).collect();
            let groups: BTreeSet<GroupKey> = window().map(|(_, g)| g.clone()).collect();
            (subject, (events, groups))
        });
        for (subject, (adds, groups)) in found {
            let first = adds[0];
            let last = adds[adds.len() - 1];
            let mut names: Vec<String> = Vec::new();
            let mut listed: HashSet<GroupKey> = HashSet::new();
            let mut privileged = 0;
            for a in &adds {
                if listed.insert(group_key(a)) {
                    let is_privileged = privtrail_model::privilege::is_privileged(
                        a.privilege_id.as_deref(),
                        a.privilege.as_deref(),
                        &p.privileged_groups,
                    );
                    if is_privileged {
                        privileged += 1;
                    }
                    names.push(group_name(a).to_owned());
                }
            }
            let more = names.len().saturating_sub(LISTED);
            names.truncate(LISTED);
            let mut list = names.join(", ");
            if more > 0 {
                list.push_str(&format!(" and {more} more"));
            }
            let actors: BTreeSet<&str> = adds.iter().filter_map(|a| a.actor.as_deref()).collect();
            let summary = format!(
                "{} was added to {} groups ({privileged} privileged) within {} by {}, from {} to {}: {list}",
                member(last),
                groups.len(),
                format_duration(self.within),
                if actors.is_empty() {
                    "unknown actor".to_owned()
                } else {
                    actors.into_iter().collect::<Vec<_>>().join(", ")
                },
                format_time(first.time),
                format_time(last.time),
            );
            out.push(Finding {
                rule: self.id().to_owned(),
                severity: self.severity,
                subject,
                principal: last.target.as_deref().map(|t| p.resolve(t)),
                privilege: None,
                scope: last.scope.clone().or_else(|| last.host.clone()),
                summary,
                event_ids: adds.iter().map(|a| a.id.clone()).collect(),
                elevation_id: None,
                condition: false,
            });
        }
    }

    fn new_granters(&self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        if !self.new_granters {
            return;
        }
        let p = ctx.policy;
        let g = ctx.granters;
        let learned_until = g.since().and_then(|s| s.checked_add_signed(self.baseline));
        let new_ids: FastSet<&EventId> = ctx.new_events.iter().map(|e| &e.id).collect();
        // Older history arrived (the earliest grant is among the new events): a first grant that
        // the shorter history held back as baseline may be past the baseline now, whichever
        // order the events came in. The start before this batch is the earliest first grant
        // that is not new.
        let before = g
            .firsts()
            .filter(|e| !new_ids.contains(&e.id))
            .map(|e| e.time)
            .min()
            .and_then(|s| s.checked_add_signed(self.baseline));
        let held_back = g.firsts().filter(|e| {
            !new_ids.contains(&e.id)
                && learned_until.is_some_and(|l| e.time >= l)
                && before.is_some_and(|b| e.time < b)
        });
        let mut reported: HashSet<&EventId> = HashSet::new();
        for e in ctx
            .new_events
            .iter()
            .filter(|e| g.is_first(e, p))
            .chain(held_back)
        {
            if !reported.insert(&e.id) || learned_until.is_some_and(|l| e.time < l) {
                continue;
            }
            let Some(actor) = e.actor.as_deref() else {
                continue;
            };
            if p.is_approved_granter(actor, &[]) {
                continue;
            }
            let canonical = grant_actor(e, p).unwrap_or_default();
            let since = g.since().filter(|s| *s < e.time).map_or_else(
                || "no earlier grant by anyone is on record".to_owned(),
                |s| format!("grants on record since {}", format_time(s)),
            );
            out.push(Finding {
                rule: self.id().to_owned(),
                severity: self.severity,
                subject: format!("granter|{canonical}"),
                principal: e.target.as_deref().map(|t| p.resolve(t)),
                privilege: Some(group_name(e).to_owned()),
                scope: e.scope.clone().or_else(|| e.host.clone()),
                summary: format!(
                    "{actor} added {} to {} on {} at {}: the first privileged group membership {actor} has granted ({since})",
                    member(e),
                    group_name(e),
                    e.scope.as_deref().or(e.host.as_deref()).unwrap_or("?"),
                    format_time(e.time),
                ),
                event_ids: vec![e.id.clone()],
                elevation_id: None,
                condition: false,
            });
        }
    }
}

impl Rule for GroupBurst {
    fn id(&self) -> &str {
        "group-burst"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn lookback(&self) -> Duration {
        if self.count == 0 {
            Duration::zero()
        } else {
            self.within
        }
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![Action::GroupMemberAdded])
    }
    fn description(&self) -> String {
        let burst = format!(
            "a principal is added to {} or more groups within {}",
            self.count,
            format_duration(self.within)
        );
        let granter = "a privileged group membership is granted by someone who never granted one";
        match (self.count > 0, self.new_granters) {
            (true, true) => format!("{burst}, or {granter}"),
            (true, false) => burst,
            (false, true) => granter.to_owned(),
            (false, false) => "nothing (burst count 0, new granters off)".to_owned(),
        }
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        self.bursts(ctx, &mut out);
        self.new_granters(ctx, &mut out);
        out
    }
}
