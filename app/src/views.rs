//! Read-side views for the web UI: the overview's numbers, elevations filtered by source and
//! host/tenant, one principal's elevations with the events that opened and closed them, display
//! names learned from the events, and events per day per source. Each takes typed arguments and
//! returns data; rendering is the caller's business.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use privtrail_model::{Event, EventId, Source};
use privtrail_rules::{Alert, AlertStatus};
use privtrail_store::SearchRequest;

use crate::App;
use crate::error::Result;
use crate::services::{CollectorStatus, ElevationQuery, ElevationView, Status};

/// The rule whose open alerts are "standing access now".
pub const STANDING_RULE: &str = "standing-access";

/// Whether a name is an LDAP distinguished name (`CN=…,OU=…`): a name, but not the one people use.
pub fn is_dn(s: &str) -> bool {
    s.trim_start()
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("cn="))
}

/// Every source, in the order the UI lists them.
pub const SOURCES: [Source; 4] = [
    Source::Windows,
    Source::Entra,
    Source::Endpoint,
    Source::Privtrail,
];

/// Elevation filters beyond [`ElevationQuery`]: the source and the host or tenant.
#[derive(Debug, Clone, Default)]
pub struct ElevationFilter {
    pub query: ElevationQuery,
    /// Only elevations from this source.
    pub source: Option<Source>,
    /// Only elevations whose scope, host or tenant contains this text (case-insensitive).
    pub scope: Option<String>,
}

impl ElevationFilter {
    /// Whether `v` passes the source and host/tenant filters (the query's are applied by
    /// [`App::elevations`]).
    pub fn keeps(&self, v: &ElevationView) -> bool {
        let e = &v.elevation;
        if self.source.is_some_and(|s| e.source != s) {
            return false;
        }
        match self
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => true,
            Some(needle) => {
                let needle = needle.to_lowercase();
                [
                    Some(e.scope.as_str()),
                    e.host.as_deref(),
                    e.tenant.as_deref(),
                ]
                .into_iter()
                .flatten()
                .any(|h| h.to_lowercase().contains(&needle))
            }
        }
    }
}

/// Events counted per day and source.
#[derive(Debug, Clone)]
pub struct DayCounts {
    pub day: NaiveDate,
    /// Per source of [`SOURCES`], in that order.
    pub counts: [u64; SOURCES.len()],
}

/// What the overview shows.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub status: Status,
    /// Elevations open past their expected end plus the grace, the longest overdue first.
    pub overdue_now: Vec<ElevationView>,
    /// Display names of the principals of `overdue_now`'s first five.
    pub names: HashMap<String, String>,
    /// Unresolved `standing-access` alerts.
    pub standing_now: usize,
    /// Collectors with no success for 3 of their intervals.
    pub stale: Vec<CollectorStatus>,
    /// The five newest unresolved alerts.
    pub newest_alerts: Vec<Alert>,
    /// Events per day per source over the range, oldest day first.
    pub per_day: Vec<DayCounts>,
}

/// One name a principal was recorded under, and the first event that showed it.
#[derive(Debug, Clone)]
pub struct IdentityName {
    /// What kind of identifier: `name`, `SID`, `UPN` or `id`.
    pub kind: &'static str,
    pub value: String,
    /// Where it was learned: the source and the host or tenant.
    pub learned_from: String,
    pub event: EventId,
}

/// One principal: every elevation (oldest first), the events that opened and closed them, the
/// names it was recorded under and the alerts about it (newest first).
#[derive(Debug, Clone, Default)]
pub struct PrincipalView {
    pub principal: String,
    pub elevations: Vec<ElevationView>,
    /// The opening and closing events, by id.
    pub events: HashMap<String, Event>,
    pub names: Vec<IdentityName>,
    pub alerts: Vec<Alert>,
}

/// What kind of identifier `s` looks like.
pub fn identifier_kind(s: &str) -> &'static str {
    let s = s.trim();
    if s.len() > 4 && s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("s-1-")) {
        "SID"
    } else if s.contains('@') {
        "UPN"
    } else if s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4 {
        "object id"
    } else {
        "name"
    }
}

fn learned_from(e: &Event) -> String {
    let place = e.host.as_deref().or(e.tenant.as_deref()).unwrap_or("");
    if place.is_empty() {
        e.source.as_str().to_owned()
    } else {
        format!("{} {place}", e.source.as_str())
    }
}

impl App {
    /// Elevations matching `f`, oldest start first, each with its state at `now`.
    pub fn filtered_elevations(
        &self,
        f: &ElevationFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<ElevationView>> {
        Ok(self
            .elevations(&f.query, now)?
            .into_iter()
            .filter(|v| f.keeps(v))
            .collect())
    }

    /// The events with these ids that are stored (unknown ids are left out).
    pub fn events_by_id<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a EventId>,
    ) -> Result<HashMap<String, Event>> {
        let mut out = HashMap::new();
        for id in ids {
            if out.contains_key(id.as_str()) {
                continue;
            }
            if let Some(e) = self.store().get_event(id)? {
                out.insert(id.as_str().to_owned(), e);
            }
        }
        Ok(out)
    }

    /// A display name for each principal of `elevations` that has one: the name the store
    /// learned from the events (`CONTOSO\\nina.patel` for a SID, the one in use when the elevation
    /// started) or the directory's UPN for an object id.
    pub fn display_names<'a>(
        &self,
        elevations: impl IntoIterator<Item = &'a ElevationView>,
    ) -> Result<HashMap<String, String>> {
        let mut namer = crate::names::Namer::new(self.store());
        let mut names = HashMap::new();
        for v in elevations {
            let e = &v.elevation;
            if names.contains_key(&e.principal) {
                continue;
            }
            let name = match &e.principal_name {
                Some(n) => Some(n.clone()),
                None => namer.name(&e.principal, Some(e.started_at))?,
            };
            if let Some(n) = name {
                names.insert(e.principal.clone(), n);
            }
        }
        Ok(names)
    }

    /// One principal (matched without regard to case): see [`PrincipalView`].
    pub fn principal_view(&self, principal: &str, now: DateTime<Utc>) -> Result<PrincipalView> {
        let want = principal.trim();
        let all = self.elevations(&ElevationQuery::default(), now)?;
        let mut elevations: Vec<ElevationView> = all
            .iter()
            .filter(|v| v.elevation.principal.eq_ignore_ascii_case(want))
            .cloned()
            .collect();
        if elevations.is_empty() {
            // A name or UPN finds the SID it stands for.
            let ids: Vec<String> = self
                .store()
                .identities(want)?
                .iter()
                .map(|i| i.to_lowercase())
                .collect();
            elevations = all
                .into_iter()
                .filter(|v| ids.contains(&v.elevation.principal.to_lowercase()))
                .collect();
        }
        let want = elevations
            .first()
            .map_or(want, |v| v.elevation.principal.as_str())
            .to_owned();
        let want = want.as_str();
        let ids = elevations.iter().flat_map(|v| {
            std::iter::once(&v.elevation.opened_by).chain(v.elevation.closed_by.as_ref())
        });
        let events = self.events_by_id(ids)?;
        // Names: the principal itself, then what the events recorded it as, in time order.
        let mut names: Vec<IdentityName> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        // What the store learned first (the name in use, then older ones), then the events.
        for n in self.store().principal_names(want)? {
            seen.push(n.name.clone());
            names.push(IdentityName {
                kind: "name",
                learned_from: format!(
                    "events from {} to {}",
                    privtrail_model::format_time(n.first_seen),
                    privtrail_model::format_time(n.last_seen)
                ),
                value: n.name,
                event: EventId::from_stored(n.first_event),
            });
        }
        let mut ordered: Vec<&Event> = events.values().collect();
        ordered.sort_by(|a, b| a.time.cmp(&b.time).then(a.id.cmp(&b.id)));
        // Then what the newest events about it say (logons name a SID's account).
        let recent = self
            .search(&SearchRequest {
                query: format!("target:\"{}\"", want.replace(['"', '\\'], "")),
                since: None,
                until: None,
                limit: 50,
                after: None,
            })
            .unwrap_or_default();
        ordered.extend(recent.iter());
        for e in ordered {
            for value in [e.target.as_deref(), e.target_name.as_deref()]
                .into_iter()
                .flatten()
            {
                let value = value.trim();
                if value.is_empty() || seen.iter().any(|s| s.eq_ignore_ascii_case(value)) {
                    continue;
                }
                seen.push(value.to_owned());
                names.push(IdentityName {
                    kind: identifier_kind(value),
                    value: value.to_owned(),
                    learned_from: learned_from(e),
                    event: e.id.clone(),
                });
            }
        }
        let alerts = self
            .alerts(None)?
            .into_iter()
            .filter(|a| {
                a.principal
                    .as_deref()
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case(want))
            })
            .collect();
        Ok(PrincipalView {
            principal: elevations
                .first()
                .map_or_else(|| want.to_owned(), |v| v.elevation.principal.clone()),
            elevations,
            events,
            names,
            alerts,
        })
    }

    /// Events per day (UTC) and source for the `days` days from `first`; sources with no event in
    /// the whole range are not counted day by day.
    pub fn events_per_day(&self, first: NaiveDate, days: u32) -> Result<Vec<DayCounts>> {
        let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let last = first + Duration::days(i64::from(days));
        let count = |source: Source, since, until| {
            self.count(&SearchRequest {
                query: format!("source:{}", source.as_str()),
                since,
                until,
                limit: 0,
                after: None,
            })
        };
        let mut present = [false; SOURCES.len()];
        for (i, s) in SOURCES.iter().enumerate() {
            present[i] = count(*s, start(first), start(last))? > 0;
        }
        let mut out = Vec::with_capacity(days as usize);
        for n in 0..days {
            let day = first + Duration::days(i64::from(n));
            let mut counts = [0u64; SOURCES.len()];
            for (i, s) in SOURCES.iter().enumerate() {
                if present[i] {
                    counts[i] = count(*s, start(day), start(day + Duration::days(1)))?;
                }
            }
            out.push(DayCounts { day, counts });
        }
        Ok(out)
    }

    /// The overview at `now`, with events per day for `days` days from `first`.
    pub fn overview(&self, now: DateTime<Utc>, first: NaiveDate, days: u32) -> Result<Overview> {
        let status = self.status()?;
        let mut overdue_now = self.elevations(
            &ElevationQuery {
                overdue: true,
                ..ElevationQuery::default()
            },
            now,
        )?;
        overdue_now.sort_by_key(|v| v.elevation.expected_end);
        let names = self.display_names(overdue_now.iter().take(5))?;
        let active: Vec<Alert> = self
            .alerts(None)?
            .into_iter()
            .filter(Alert::is_active)
            .collect();
        let standing_now = active.iter().filter(|a| a.rule == STANDING_RULE).count();
        let newest_alerts = active.into_iter().take(5).collect();
        let stale = status
            .collectors
            .iter()
            .filter(|c| c.stale)
            .cloned()
            .collect();
        Ok(Overview {
            per_day: self.events_per_day(first, days)?,
            status,
            overdue_now,
            names,
            standing_now,
            stale,
            newest_alerts,
        })
    }
}

/// Alerts filtered as the UI's list filters them: `status` (`active` = open or acknowledged,
/// empty = all), severity and rule (exact).
pub fn filter_alerts(
    alerts: Vec<Alert>,
    status: Option<&str>,
    severity: Option<&str>,
    rule: Option<&str>,
) -> Vec<Alert> {
    let status = status.map(str::trim).filter(|s| !s.is_empty());
    alerts
        .into_iter()
        .filter(|a| match status {
            None | Some("all") => true,
            Some("active") => a.is_active(),
            Some(s) => AlertStatus::parse(s).is_some_and(|st| a.status == st),
        })
        .filter(|a| {
            severity
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .is_none_or(|s| a.severity.as_str().eq_ignore_ascii_case(s))
        })
        .filter(|a| {
            rule.map(str::trim)
                .filter(|s| !s.is_empty())
                .is_none_or(|r| a.rule == r)
        })
        .collect()
}

/// The rules that alerts were raised by, with how many, sorted by name.
pub fn alert_rules(alerts: &[Alert]) -> Vec<(String, usize)> {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for a in alerts {
        *m.entry(a.rule.as_str()).or_default() += 1;
    }
    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_kinds() {
        assert_eq!(identifier_kind("S-1-5-21-1-2-3-1601"), "SID");
        assert_eq!(identifier_kind("nina@contoso.com"), "UPN");
        assert_eq!(
            identifier_kind("7b3f0b8e-2a2c-4c1e-9f55-0d3f7e1a9c11"),
            "object id"
        );
        assert_eq!(identifier_kind("CONTOSO\\nina.patel"), "name");
    }
}
