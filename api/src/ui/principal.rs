//! `/principals/{principal}`: one principal — the names it was recorded under, every elevation
//! (with its promise and where the promise came from, how it ended, the justification, the
//! events that opened and closed it) and the alerts about it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use privtrail_app::services::ElevationView;
use privtrail_app::types::{Event, Source};
use privtrail_app::views::{PrincipalView, is_dn};

use super::timeline::state_badge;
use super::{
    duration_text, enc, error_page, event_href, html_response, layout, opt_time_el, qs, reader,
    severity_badge, short_name, time_el,
};
use crate::ApiState;
use crate::auth::MaybeCaller;

pub async fn page(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Path(principal): Path<String>,
) -> Response {
    let c = match reader(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = Utc::now();
    let result = state
        .blocking(move |app| {
            let v = app.principal_view(&principal, now)?;
            Ok((v, app.engine().overdue_grace))
        })
        .await;
    match result {
        Ok((v, grace)) => {
            let title = v.principal.clone();
            html_response(
                StatusCode::OK,
                layout(&title, &c, "/elevations", render(&v, now, grace)),
            )
        }
        Err(e) => error_page(&c, "/elevations", "Principal", &e),
    }
}

/// Where the promised end came from.
fn promise_source(v: &ElevationView, opening: Option<&Event>) -> &'static str {
    let e = &v.elevation;
    match e.expected_end {
        None => "none: standing",
        Some(_) if e.tagged_by.is_some() => "endpoint tag",
        Some(end) => match opening.and_then(|o| o.expires_at) {
            Some(x) if x == end && e.source == Source::Entra => "PIM schedule",
            Some(x) if x == end => "the event",
            _ => "policy maximum",
        },
    }
}

fn event_link(id: &str, label: &str, ev: Option<&Event>) -> Markup {
    html! {
        a href=(event_href(id)) title=(ev.map(|e| e.message.clone()).unwrap_or_else(|| id.to_owned())) {
            (label)
            @if let Some(e) = ev { " " span.muted { (e.event_code) } }
        }
    }
}

fn render(v: &PrincipalView, now: DateTime<Utc>, grace: chrono::Duration) -> Markup {
    let named = |n: &&privtrail_app::views::IdentityName| n.kind == "name" || n.kind == "UPN";
    // A person's name, else a UPN, else a DN's common name.
    let display = v
        .names
        .iter()
        .filter(named)
        .find(|n| n.kind == "name" && !is_dn(&n.value))
        .or_else(|| v.names.iter().find(|n| n.kind == "UPN"))
        .or_else(|| v.names.iter().find(named))
        .map(|n| short_name(&n.value));
    let display = display.as_deref();
    let open = v
        .elevations
        .iter()
        .filter(|e| e.elevation.is_open())
        .count();
    let overdue = v.elevations.iter().filter(|e| e.overdue).count();
    html! {
        div.page-head {
            h1 {
                (display.unwrap_or(&v.principal))
                @if display.is_some_and(|d| !d.eq_ignore_ascii_case(&v.principal)) {
                    " " span.muted.id { (v.principal) }
                }
            }
            p.muted {
                (v.elevations.len()) " elevations, " (open) " open"
                @if overdue > 0 { ", " span.sev.sev-high { (overdue) " overdue" } }
                " · "
                a href=(format!("/elevations{}", qs(&[("principal", &v.principal)]))) { "on the timeline" }
                " · "
                a href=(format!("/search{}", qs(&[("q", &format!("target:\"{}\"", v.principal.replace('"', ""))), ("since", ""), ("until", "")]))) { "their events" }
            }
        }
        section {
            h2 { "Identity" }
            @if v.names.is_empty() {
                p.muted { "No event names this principal." }
            } @else {
                table.list.identity {
                    thead { tr { th { "Recorded as" } th { "Kind" } th { "Learned from" } } }
                    tbody {
                        @for n in &v.names {
                            tr {
                                td.id { (n.value) }
                                td { (n.kind) }
                                td { a href=(event_href(n.event.as_str())) { (n.learned_from) } }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Elevations" }
            @if v.elevations.is_empty() {
                p.muted { "No elevation recorded for " (v.principal) "." }
            } @else {
                table.list.elevations {
                    thead { tr {
                        th { "Privilege · scope" } th { "Started (UTC)" } th { "Promised end (UTC)" }
                        th { "Ended (UTC)" } th { "Duration" } th { "Overdue by" } th { "Justification" } th { "Events" }
                    } }
                    tbody {
                        @for ev in v.elevations.iter().rev() {
                            @let e = &ev.elevation;
                            @let opening = v.events.get(e.opened_by.as_str());
                            @let closing = e.closed_by.as_ref().and_then(|id| v.events.get(id.as_str()));
                            @let end = e.ended_at.unwrap_or(now);
                            @let late_by = e.expected_end.filter(|p| end > *p).map(|p| end - p);
                            tr id=(format!("el-{}", e.id)) {
                                td {
                                    strong { (e.privilege) }
                                    br; span.muted { (e.kind.as_str()) " · " (e.scope) }
                                    @if let Some(pid) = &e.privilege_id { br; span.muted.id { (pid) } }
                                }
                                td { (time_el(e.started_at)) }
                                td {
                                    (opt_time_el(e.expected_end))
                                    br; span.muted { (promise_source(ev, opening)) }
                                }
                                td {
                                    (opt_time_el(e.ended_at))
                                    br; (state_badge(ev))
                                }
                                td { (duration_text(end - e.started_at)) @if e.is_open() { span.muted { " so far" } } }
                                td {
                                    @match late_by {
                                        Some(d) if ev.overdue || (e.ended_at.is_some() && d > grace) => { span.late { (duration_text(d)) } }
                                        Some(d) => { span.muted { (duration_text(d)) " (in grace)" } }
                                        None => { span.muted { "—" } }
                                    }
                                }
                                td.just {
                                    @match opening.and_then(|o| o.justification.as_deref()).filter(|j| !j.trim().is_empty()) {
                                        Some(j) => { (j) }
                                        None => { span.muted { "none recorded" } }
                                    }
                                }
                                td.events {
                                    (event_link(e.opened_by.as_str(), "opened", opening))
                                    @if let Some(cid) = &e.closed_by {
                                        br; (event_link(cid.as_str(), "closed", closing))
                                    }
                                    @if let Some(t) = &e.tagged_by {
                                        br; (event_link(t.as_str(), "tag", None))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Alerts about " (display.unwrap_or(&v.principal)) }
            @if v.alerts.is_empty() {
                p.muted { "None." }
            } @else {
                table.list {
                    thead { tr { th { "Severity" } th { "Alert" } th { "Opened (UTC)" } th { "Status" } } }
                    tbody {
                        @for a in &v.alerts {
                            tr {
                                td { (severity_badge(a.severity)) }
                                td { a href=(format!("/alerts/{}", enc(&a.id))) { (a.summary) } br; span.muted { (a.rule) } }
                                td { (time_el(a.opened_at)) }
                                td { span class=(format!("status status-{}", a.status.as_str())) { (a.status.as_str()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
