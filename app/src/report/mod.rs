//! The access review report (`privtrail report`): for a period, who held each privilege, how
//! often and how long, what ran over, what stands, the alerts and how people resolved them, and
//! the part of the hash chain that backs it all.
//!
//! [`build`] reads the store into a [`Report`] (plain data, serializable); [`render`] writes it as
//! one self-contained printable HTML file, Markdown or CSV. Durations count only the time inside
//! the period (an elevation still open counts up to the end of the period, or now).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use privtrail_model::Source;
use privtrail_rules::{Alert, AlertStatus, Elevation, ElevationKind};
use serde::Serialize;

use crate::App;
use crate::error::{AppError, Result};
use crate::evidence::ManifestAnchor;

mod html;
pub mod render;

pub use render::{Format, render};

/// The rule whose alerts mark standing access.
const STANDING_RULE: &str = crate::views::STANDING_RULE;

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Walk the whole chain (and every anchor) and state the result in the footer.
    pub verify: bool,
}

/// The report (see the module's doc).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(with = "privtrail_model::serde_time")]
    pub since: DateTime<Utc>,
    #[serde(with = "privtrail_model::serde_time")]
    pub until: DateTime<Utc>,
    #[serde(with = "privtrail_model::serde_time")]
    pub generated_at: DateTime<Utc>,
    pub privtrail_version: String,
    /// The data directory the report was made from.
    pub store: String,
    pub totals: Totals,
    pub privileges: Vec<PrivilegeSection>,
    pub alerts: Vec<AlertLine>,
    pub evidence: Evidence,
}

/// The numbers at the top.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub elevations: usize,
    pub principals: usize,
    pub privileges: usize,
    /// Elevations that ran past their expected end plus the grace.
    pub overdue: usize,
    /// Elevations still held at the end of the period.
    pub open_at_end: usize,
    /// Holders with standing access (a permanent assignment, or a standing-access alert).
    pub standing: usize,
    pub alerts: usize,
    pub alerts_unresolved: usize,
}

/// One privilege and its holders in the period.
#[derive(Debug, Clone, Serialize)]
pub struct PrivilegeSection {
    pub privilege: String,
    pub privilege_id: Option<String>,
    /// `Entra ID role`, `local group` or `domain group`.
    pub kind: &'static str,
    /// The longest total first.
    pub holders: Vec<Holder>,
}

/// One principal's holding of one privilege in the period.
#[derive(Debug, Clone, Serialize)]
pub struct Holder {
    pub principal: String,
    pub principal_name: Option<String>,
    /// Hosts, domains or directory scopes, sorted.
    pub scopes: Vec<String>,
    pub elevations: usize,
    /// Inside the period, in seconds.
    pub total_seconds: i64,
    pub longest_seconds: i64,
    pub overdue: usize,
    pub open_at_end: usize,
    pub standing: bool,
}

impl Holder {
    /// `CONTOSO\nina.patel (S-1-5-21-…-1601)`.
    pub fn who_short(&self) -> String {
        privtrail_model::names::display_short(&self.principal, self.principal_name.as_deref())
    }
}

/// A person's action on an alert.
#[derive(Debug, Clone, Serialize)]
pub struct ActionLine {
    pub by: String,
    #[serde(with = "privtrail_model::serde_time")]
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// One alert of the period (raised in it, open in it, or about its events and elevations) and
/// what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertLine {
    pub id: String,
    pub rule: String,
    pub severity: String,
    pub status: String,
    #[serde(with = "privtrail_model::serde_time")]
    pub opened_at: DateTime<Utc>,
    pub summary: String,
    pub acknowledged: Option<ActionLine>,
    /// Who resolved it, when and why; `privtrail` when the condition cleared by itself.
    pub resolved: Option<ActionLine>,
}

/// The part of the chain that backs the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    /// Events whose time lies in the period.
    pub events: u64,
    /// Their first and last chain positions.
    pub seq_range: Option<(i64, i64)>,
    /// The link the first of them follows, and the last one's link (hex).
    pub chain_before_first: Option<String>,
    pub chain_after_last: Option<String>,
    /// From which seq links are keyed (HMAC-SHA256).
    pub keyed_from: Option<i64>,
    /// Published chain heads at or after the first seq: a verifier compares them.
    pub anchors: Vec<ManifestAnchor>,
    /// The result of walking the chain when the report was made (`None`: not checked).
    pub verified: Option<Verdict>,
}

/// What `verify` said when the report was made.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub intact: bool,
    pub checked: u64,
    pub head_seq: i64,
    pub anchors_matched: usize,
    /// Where the first broken link is, and why.
    pub broken: Option<String>,
    pub anchor_sources: Vec<String>,
}

/// Reads the period from the store.
pub fn build(app: &App, req: &ReportRequest) -> Result<Report> {
    if req.until <= req.since {
        return Err(AppError::Usage("--until must be after --since".into()));
    }
    let now = Utc::now();
    let end = req.until.min(now);
    let grace = app.engine().overdue_grace;
    let elevations: Vec<Elevation> = crate::engine::load_elevations(app.store())?
        .into_iter()
        .filter(|e| e.started_at < req.until && e.ended_at.is_none_or(|x| x > req.since))
        .collect();
    // Alerts raised or open in the period, and those about it: history imported later is
    // judged when it arrives, so an alert about July may be opened in November.
    let in_period = |t: DateTime<Utc>| t >= req.since && t < req.until;
    let mut alerts = Vec::new();
    for a in app.alerts(None)? {
        let live = a.opened_at < req.until && a.resolved_at.is_none_or(|r| r >= req.since);
        let about = a
            .elevation_id
            .as_deref()
            .is_some_and(|id| elevations.iter().any(|e| e.id == id))
            || match a.event_ids.first() {
                Some(id) => app
                    .store()
                    .get_event(id)?
                    .is_some_and(|e| in_period(e.time)),
                None => false,
            };
        if live || about {
            alerts.push(a);
        }
    }
    let standing_alerted: Vec<&str> = alerts
        .iter()
        .filter(|a| a.rule == STANDING_RULE)
        .filter_map(|a| a.elevation_id.as_deref())
        .collect();

    let mut sections: BTreeMap<(String, String), PrivilegeSection> = BTreeMap::new();
    let mut holders: BTreeMap<(String, String), BTreeMap<String, Holder>> = BTreeMap::new();
    let mut totals = Totals::default();
    for el in &elevations {
        let pkey = (
            el.privilege.to_lowercase(),
            el.privilege_id.clone().unwrap_or_default().to_lowercase(),
        );
        sections
            .entry(pkey.clone())
            .or_insert_with(|| PrivilegeSection {
                privilege: el.privilege.clone(),
                privilege_id: el.privilege_id.clone(),
                kind: kind_of(el),
                holders: Vec::new(),
            });
        let from = el.started_at.max(req.since);
        let to = el.ended_at.unwrap_or(end).min(end);
        let held = (to - from).max(Duration::zero()).num_seconds();
        let overran = el
            .expected_end
            .is_some_and(|x| el.ended_at.unwrap_or(end) > x + grace);
        let open_at_end = el.ended_at.is_none_or(|x| x >= end);
        let standing = (el.kind == ElevationKind::Assignment && el.expected_end.is_none())
            || standing_alerted.contains(&el.id.as_str());
        let h = holders
            .entry(pkey)
            .or_default()
            .entry(el.principal.to_lowercase())
            .or_insert_with(|| Holder {
                principal: el.principal.clone(),
                principal_name: el.principal_name.clone(),
                scopes: Vec::new(),
                elevations: 0,
                total_seconds: 0,
                longest_seconds: 0,
                overdue: 0,
                open_at_end: 0,
                standing: false,
            });
        if !h.scopes.contains(&el.scope) {
            h.scopes.push(el.scope.clone());
        }
        h.elevations += 1;
        h.total_seconds += held;
        h.longest_seconds = h.longest_seconds.max(held);
        h.overdue += usize::from(overran);
        h.open_at_end += usize::from(open_at_end);
        h.standing |= standing;
        if h.principal_name.is_none() {
            h.principal_name = el.principal_name.clone();
        }
        totals.elevations += 1;
        totals.overdue += usize::from(overran);
        totals.open_at_end += usize::from(open_at_end);
    }
    let mut privileges = Vec::new();
    let mut principals: Vec<String> = Vec::new();
    for (key, mut section) in sections {
        let mut list: Vec<Holder> = holders
            .remove(&key)
            .unwrap_or_default()
            .into_values()
            .collect();
        for h in &mut list {
            h.scopes.sort();
            totals.standing += usize::from(h.standing);
            let p = h.principal.to_lowercase();
            if !principals.contains(&p) {
                principals.push(p);
            }
        }
        list.sort_by(|a, b| {
            b.total_seconds
                .cmp(&a.total_seconds)
                .then_with(|| a.principal.cmp(&b.principal))
        });
        section.holders = list;
        privileges.push(section);
    }
    totals.principals = principals.len();
    totals.privileges = privileges.len();
    totals.alerts = alerts.len();
    totals.alerts_unresolved = alerts.iter().filter(|a| a.is_active()).count();
    // What a reviewer reads first: the worst, then the oldest.
    alerts.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.opened_at.cmp(&b.opened_at))
            .then_with(|| a.id.cmp(&b.id))
    });
    let alerts = alerts.iter().map(alert_line).collect();
    Ok(Report {
        since: req.since,
        until: req.until,
        generated_at: now,
        privtrail_version: env!("CARGO_PKG_VERSION").to_owned(),
        store: app.data_dir().display().to_string(),
        totals,
        privileges,
        alerts,
        evidence: evidence(app, req)?,
    })
}

fn kind_of(el: &Elevation) -> &'static str {
    match (el.source, el.kind) {
        (Source::Entra, _) => "Entra ID role",
        (_, ElevationKind::Membership)
            if el
                .host
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(&el.scope)) =>
        {
            "local group"
        }
        _ if el.privilege_id.as_deref().is_some_and(|p| {
            p.get(..9)
                .is_some_and(|s| s.eq_ignore_ascii_case("S-1-5-32-"))
        }) =>
        {
            "local group"
        }
        _ => "domain group",
    }
}

fn alert_line(a: &Alert) -> AlertLine {
    let act = |what: &str| {
        a.history
            .iter()
            .rfind(|h| h.action == what)
            .map(|h| ActionLine {
                by: h.by.clone(),
                at: h.at,
                note: h.note.clone(),
            })
    };
    let resolved = act("resolved").or_else(|| {
        (a.status == AlertStatus::Resolved).then(|| ActionLine {
            by: "privtrail".into(),
            at: a.resolved_at.unwrap_or(a.updated_at),
            note: Some("the condition cleared".into()),
        })
    });
    AlertLine {
        id: a.id.clone(),
        rule: a.rule.clone(),
        severity: a.severity.as_str().to_owned(),
        status: a.status.as_str().to_owned(),
        opened_at: a.opened_at,
        summary: a.summary.clone(),
        acknowledged: act("acknowledged"),
        resolved,
    }
}

fn evidence(app: &App, req: &ReportRequest) -> Result<Evidence> {
    let store = app.store();
    let mut ev = Evidence {
        keyed_from: store.verify_keyed_from()?,
        ..Evidence::default()
    };
    if let Some((first, last, n)) = store.seq_range(req.since, req.until)? {
        ev.events = n;
        ev.seq_range = Some((first, last));
        let rows = store.events_by_seqs(&[first, last])?;
        ev.chain_before_first = rows.first().map(|r| hex::encode(r.3));
        ev.chain_after_last = rows.last().map(|r| hex::encode(r.2));
        ev.anchors = store
            .recorded_anchors()?
            .into_iter()
            .chain(match &app.config().integrity.anchor_file {
                Some(p) if p.exists() => crate::anchor::read_file(p, Some(app.data_dir()))?,
                _ => Vec::new(),
            })
            .filter(|a| a.seq >= first)
            .map(|a| ManifestAnchor {
                seq: a.seq,
                hash: hex::encode(a.hash),
                at: a.at,
                source: a.source,
            })
            .collect();
        ev.anchors.sort_by_key(|a| (a.seq, a.at));
    }
    if req.verify {
        let (r, sources) = crate::evidence::verify_store(app, None)?;
        ev.verified = Some(Verdict {
            intact: r.first_broken.is_none(),
            checked: r.checked,
            head_seq: r.head.0,
            anchors_matched: r.anchors_matched,
            broken: r.first_broken.map(|b| {
                format!(
                    "seq {}{}: {}",
                    b.seq,
                    if b.event_id.is_empty() {
                        String::new()
                    } else {
                        format!(" (event {})", b.event_id)
                    },
                    b.reason
                )
            }),
            anchor_sources: sources,
        });
    }
    Ok(ev)
}
