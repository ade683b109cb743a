//! `/`: the overview — open alerts by severity, elevations overdue now, standing access now,
//! collectors not healthy, events per day per source over the range, the newest open alerts.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, NaiveDate, Utc};
use maud::{Markup, html};
use privtrail_app::views::{DayCounts, Overview, SOURCES, STANDING_RULE};
use serde::Deserialize;

use super::{
    duration_text, error_page, fmt_n, html_response, layout, opt_time_el, principal_href,
    principal_label, qs, reader, severity_badge, time_el,
};
use crate::ApiState;
use crate::auth::MaybeCaller;
use crate::error::ApiError;

/// Days the overview's chart covers by default, and at most.
const DEFAULT_DAYS: i64 = 14;
const MAX_DAYS: i64 = 92;

#[derive(Debug, Default, Deserialize)]
pub struct OverviewParams {
    from: Option<String>,
    to: Option<String>,
}

fn day(what: &str, v: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| ApiError::bad_request(format!("{what}: a date (2024-05-01) expected")))
        })
        .transpose()
}

pub async fn page(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Query(p): Query<OverviewParams>,
) -> Response {
    let c = match reader(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = Utc::now();
    let range = (|| {
        let to = day("to", p.to.as_deref())?.unwrap_or_else(|| now.date_naive());
        let from = day("from", p.from.as_deref())?.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
        if from > to {
            return Err(ApiError::bad_request("from: after to"));
        }
        let days = ((to - from).num_days() + 1).min(MAX_DAYS);
        Ok((to - Duration::days(days - 1), days))
    })();
    let (first, days) = match range {
        Ok(r) => r,
        Err(e) => return error_page(&c, "/", "Overview", &e),
    };
    let ov = state
        .blocking(move |app| Ok(app.overview(now, first, u32::try_from(days).unwrap_or(14))?))
        .await;
    match ov {
        Ok(ov) => html_response(
            StatusCode::OK,
            layout("Overview", &c, "/", render(&ov, first, days, now)),
        ),
        Err(e) => error_page(&c, "/", "Overview", &e),
    }
}

fn render(ov: &Overview, first: NaiveDate, days: i64, now: chrono::DateTime<Utc>) -> Markup {
    let last = first + Duration::days(days - 1);
    let from_s = first.format("%Y-%m-%d").to_string();
    let to_s = last.format("%Y-%m-%d").to_string();
    html! {
        div.page-head {
            h1 { "Overview" }
            form.range method="get" action="/" {
                label { "From " input type="date" name="from" value=(from_s); }
                label { "To " input type="date" name="to" value=(to_s); }
                button type="submit" { "Apply" }
            }
        }
        section.numbers aria-label="At a glance" {
            // Notices (`info`) get a number only while some are open: the four severities are
            // what a reviewer scans for.
            @for (sev, n) in ov.status.open_alerts.iter().filter(|(s, n)| *s != "info" || *n > 0) {
                a class=(format!("number sev-edge-{sev}"))
                    href=(format!("/alerts{}", qs(&[("status", "active"), ("severity", sev)]))) {
                    span.n { (fmt_n(*n)) }
                    span.label { span class=(format!("sev sev-{sev}")) { (sev) } " alerts open" }
                }
            }
            a.number.warn[!ov.overdue_now.is_empty()] href="/elevations?overdue=1" {
                span.n { (fmt_n(ov.overdue_now.len() as u64)) }
                span.label { "elevations overdue now" }
            }
            a.number.warn[ov.standing_now > 0]
                href=(format!("/alerts{}", qs(&[("status", "active"), ("rule", STANDING_RULE)]))) {
                span.n { (fmt_n(ov.standing_now as u64)) }
                span.label { "standing access now" }
            }
            a.number.warn[!ov.stale.is_empty()] href="#collectors" {
                span.n { (fmt_n(ov.stale.len() as u64)) }
                span.label { "collectors not healthy" }
            }
        }
        div.cols {
            section.col {
                h2 { "Overdue now" }
                @if ov.overdue_now.is_empty() {
                    p.muted { "No elevation is open past its promised end." }
                } @else {
                    table.list {
                        thead { tr { th { "Principal" } th { "Privilege" } th { "Promised end (UTC)" } th { "Overdue by" } } }
                        tbody {
                            @for v in ov.overdue_now.iter().take(5) {
                                @let e = &v.elevation;
                                tr {
                                    td {
                                        a href=(principal_href(&e.principal, Some(&e.id))) {
                                            (principal_label(&e.principal, &ov.names))
                                        }
                                    }
                                    td { (e.privilege) br; span.muted { (e.scope) } }
                                    td { (opt_time_el(e.expected_end)) }
                                    td.late { (e.expected_end.map(|x| duration_text(now - x)).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                    @if ov.overdue_now.len() > 5 {
                        p { a href="/elevations?overdue=1" { "All " (ov.overdue_now.len()) " on the timeline" } }
                    }
                }
            }
            section.col {
                h2 { "Newest open alerts" }
                @if ov.newest_alerts.is_empty() {
                    p.muted { "No open alert." }
                } @else {
                    table.list {
                        thead { tr { th { "Severity" } th { "Alert" } th { "Opened (UTC)" } } }
                        tbody {
                            @for a in &ov.newest_alerts {
                                tr {
                                    td { (severity_badge(a.severity)) }
                                    td {
                                        a href=(format!("/alerts/{}", super::enc(&a.id))) { (a.summary) }
                                        br; span.muted { (a.rule) " · " (a.status.as_str()) }
                                    }
                                    td { (time_el(a.opened_at)) }
                                }
                            }
                        }
                    }
                    p { a href="/alerts?status=active" { "All open alerts" } }
                }
            }
        }
        section {
            h2 { "Events per day (UTC) by source, " (from_s) " to " (to_s) }
            (chart(&ov.per_day))
        }
        section #collectors {
            h2 { "Collectors" }
            @if ov.status.collectors.is_empty() {
                p.muted { "No Entra collector has run against this store." }
            } @else {
                table.list {
                    thead { tr { th { "Collector" } th { "State" } th { "Last success (UTC)" } th { "Last failure (UTC)" } th { "Failures" } th { "Last error" } } }
                    tbody {
                        @for col in &ov.status.collectors {
                            tr {
                                td { (col.collector) }
                                td {
                                    @if col.stale { span.sev.sev-high { "not healthy" } }
                                    @else { span.ok-text { "healthy" } }
                                }
                                td { (opt_time_el(col.last_success)) }
                                td { (opt_time_el(col.last_failure)) }
                                td.num { (col.failures) }
                                td { (col.last_error.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One strip of bars per source with events in the range; each bar links to that day's events.
fn chart(per_day: &[DayCounts]) -> Markup {
    let present: Vec<usize> = (0..SOURCES.len())
        .filter(|i| per_day.iter().any(|d| d.counts[*i] > 0))
        .collect();
    if present.is_empty() || per_day.is_empty() {
        return html! { p.muted { "No events in this range. " a href="/search" { "Search all events" } } };
    }
    const W: f64 = 1280.0;
    const X0: f64 = 110.0;
    const X1: f64 = W - 110.0;
    const STRIP: f64 = 58.0;
    const BAR_MAX: f64 = 44.0;
    let n = per_day.len() as f64;
    let slot = (X1 - X0) / n;
    let bar_w = (slot - 2.0).max(1.0);
    let height = STRIP * present.len() as f64 + 22.0;
    let label_every = (per_day.len() / 16).max(1);
    html! {
        svg.perday viewBox=(format!("0 0 {W} {height}")) role="img"
            aria-label="Events per day by source" {
            @for (row, &i) in present.iter().enumerate() {
                @let source = SOURCES[i].as_str();
                @let top = row as f64 * STRIP;
                @let max = per_day.iter().map(|d| d.counts[i]).max().unwrap_or(1).max(1);
                @let total: u64 = per_day.iter().map(|d| d.counts[i]).sum();
                text.lbl x="4" y=(top + STRIP / 2.0 + 4.0) { (source) }
                line.base x1=(X0) x2=(X1) y1=(top + BAR_MAX + 4.0) y2=(top + BAR_MAX + 4.0) {}
                @for (k, d) in per_day.iter().enumerate() {
                    @let c = d.counts[i];
                    @if c > 0 {
                        @let h = (c as f64 / max as f64 * BAR_MAX).max(1.5);
                        @let since = d.day.format("%Y-%m-%d").to_string();
                        @let until = (d.day + Duration::days(1)).format("%Y-%m-%d").to_string();
                        a href=(format!("/search{}", qs(&[("q", &format!("source:{source}")), ("since", &since), ("until", &until)]))) {
                            title { (fmt_n(c)) " " (source) " events on " (since) }
                            rect class=(format!("bar src-{source}")) x=(format!("{:.1}", X0 + k as f64 * slot + 1.0))
                                y=(format!("{:.1}", top + 4.0 + BAR_MAX - h)) width=(format!("{bar_w:.1}"))
                                height=(format!("{h:.1}")) {}
                        }
                    }
                }
                text.total x=(X1 + 8.0) y=(top + STRIP / 2.0 + 4.0) { (fmt_n(total)) }
            }
            @for (k, d) in per_day.iter().enumerate() {
                @if k % label_every == 0 {
                    text.tick x=(format!("{:.1}", X0 + (k as f64 + 0.5) * slot)) y=(height - 6.0) text-anchor="middle" {
                        (d.day.format("%m-%d"))
                    }
                }
            }
        }
    }
}
