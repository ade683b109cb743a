//! `/alerts` (filters: status, severity, rule) and `/alerts/{id}`: the evidence (events and
//! elevation), the history (who acknowledged or resolved it, when, their note) and, for reviewers,
//! the acknowledge and resolve forms (POST with the session's CSRF token and a note), and the
//! alert's remediation action with its approve and reject forms (`remediation.rs`).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::{Markup, html};
use privtrail_app::services::{ElevationQuery, ElevationView};
use privtrail_app::types::{Alert, AlertStatus, Event};
use privtrail_app::views::{alert_rules, filter_alerts};
use serde::Deserialize;

use super::timeline::state_badge;
use super::{
    enc, error_page, event_href, html_response, layout, opt_time_el, principal_href, qs, reader,
    severity_badge, time_el,
};
use crate::ApiState;
use crate::auth::{Caller, MaybeCaller};
use crate::error::ApiError;
use crate::review::{MAX_NOTE, Op, check_note};

/// Alerts per page of the list.
const PAGE: usize = 100;
/// Evidence events shown on an alert's page at most.
const MAX_EVIDENCE: usize = 50;
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];
const STATUSES: [(&str, &str); 5] = [
    ("active", "open or acknowledged"),
    ("open", "open"),
    ("acknowledged", "acknowledged"),
    ("resolved", "resolved"),
    ("all", "all"),
];

#[derive(Debug, Default, Deserialize)]
pub struct AlertParams {
    status: Option<String>,
    severity: Option<String>,
    rule: Option<String>,
    page: Option<usize>,
}

fn status_cell(a: &Alert) -> Markup {
    html! { span class=(format!("status status-{}", a.status.as_str())) { (a.status.as_str()) } }
}

pub async fn list(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Query(p): Query<AlertParams>,
) -> Response {
    let c = match reader(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let status = p
        .status
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "active".into());
    if !STATUSES.iter().any(|(k, _)| *k == status) {
        let e = ApiError::bad_request(format!(
            "status {status:?}: active, open, acknowledged, resolved or all"
        ));
        return error_page(&c, "/alerts", "Alerts", &e);
    }
    let result = state.blocking(|app| Ok(app.alerts(None)?)).await;
    let all = match result {
        Ok(a) => a,
        Err(e) => return error_page(&c, "/alerts", "Alerts", &e),
    };
    let rules = alert_rules(&all);
    let severity = p.severity.clone().unwrap_or_default();
    let rule = p.rule.clone().unwrap_or_default();
    let shown = filter_alerts(all, Some(&status), Some(&severity), Some(&rule));
    let page = p.page.unwrap_or(1).max(1) - 1;
    let pages = shown.len().div_ceil(PAGE).max(1);
    let href = |page: usize| {
        format!(
            "/alerts{}",
            qs(&[
                ("status", &status),
                ("severity", &severity),
                ("rule", &rule),
                ("page", &page.to_string())
            ])
        )
    };
    let body = html! {
        div.page-head {
            h1 { "Alerts" }
            p.muted { (shown.len()) " alert" @if shown.len() != 1 { "s" } " match" @if shown.len() == 1 { "es" } }
        }
        form.filters method="get" action="/alerts" {
            div.field { label for="a-status" { "Status" }
                select #a-status name="status" {
                    @for (k, label) in STATUSES { option value=(k) selected[status == k] { (label) } }
                }
            }
            div.field { label for="a-sev" { "Severity" }
                select #a-sev name="severity" {
                    option value="" selected[severity.is_empty()] { "any" }
                    @for s in SEVERITIES { option value=(s) selected[severity == s] { (s) } }
                }
            }
            div.field { label for="a-rule" { "Rule" }
                select #a-rule name="rule" {
                    option value="" selected[rule.is_empty()] { "any" }
                    @for (r, n) in &rules { option value=(r) selected[rule == *r] { (r) " (" (n) ")" } }
                }
            }
            div.field.buttons { button type="submit" { "Show" } a href="/alerts" { "Reset" } }
        }
        @if shown.is_empty() {
            p.muted { "No alert matches." }
        } @else {
            table.list.alerts {
                thead { tr { th { "Severity" } th { "Rule" } th { "Summary" } th { "Opened (UTC)" } th { "Status" } } }
                tbody {
                    @for a in shown.iter().skip(page * PAGE).take(PAGE) {
                        tr {
                            td { (severity_badge(a.severity)) }
                            td { (a.rule) }
                            td { a href=(format!("/alerts/{}", enc(&a.id))) { (a.summary) } }
                            td { (time_el(a.opened_at)) }
                            td { (status_cell(a)) }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav.pager aria-label="Pages" {
                    @if page > 0 { a href=(href(page)) rel="prev" { "← Previous" } }
                    span { "Page " (page + 1) " of " (pages) }
                    @if page + 1 < pages { a href=(href(page + 2)) rel="next" { "Next →" } }
                }
            }
        }
    };
    html_response(StatusCode::OK, layout("Alerts", &c, "/alerts", body))
}

struct Detail {
    alert: Alert,
    events: Vec<Event>,
    elevation: Option<ElevationView>,
    remediation: Option<privtrail_app::remediate::Remediation>,
}

async fn load(state: &ApiState, id: String) -> Result<Detail, ApiError> {
    state
        .blocking(move |app| {
            let alert = app
                .alert(&id)?
                .ok_or_else(|| ApiError::not_found(format!("no alert with id {id:?}")))?;
            let mut events: Vec<Event> = alert
                .event_ids
                .iter()
                .take(MAX_EVIDENCE)
                .filter_map(|i| app.store().get_event(i).transpose())
                .collect::<Result<_, _>>()
                .map_err(privtrail_app::AppError::from)?;
            events.sort_by_key(|e| std::cmp::Reverse(e.time));
            let elevation = match &alert.elevation_id {
                Some(eid) => app
                    .elevations(&ElevationQuery::default(), Utc::now())?
                    .into_iter()
                    .find(|v| &v.elevation.id == eid),
                None => None,
            };
            let remediation = app
                .remediations()?
                .into_iter()
                .find(|r| r.alert_id == alert.id);
            Ok(Detail {
                alert,
                events,
                elevation,
                remediation,
            })
        })
        .await
}

fn detail_page(c: &Caller, d: &Detail, message: Option<&str>) -> Markup {
    let a = &d.alert;
    let csrf = c.csrf.as_deref().unwrap_or("");
    html! {
        div.page-head {
            p.crumbs { a href="/alerts" { "Alerts" } " / " (a.rule) }
            h1.summary { (severity_badge(a.severity)) " " (a.summary) }
            p.muted {
                "Status " (status_cell(a)) " · opened " (time_el(a.opened_at)) " UTC · updated " (time_el(a.updated_at)) " UTC"
                @if let Some(r) = a.resolved_at { " · resolved " (time_el(r)) " UTC" }
            }
        }
        @if let Some(m) = message { p.error.box role="alert" { (m) } }
        div.cols {
            section.col {
                h2 { "Subject" }
                table.fields { tbody {
                    tr { th { "Rule" } td { a href=(format!("/alerts{}", qs(&[("rule", &a.rule), ("status", "all")]))) { (a.rule) } } }
                    @if let Some(p) = &a.principal {
                        tr { th { "Principal" } td.id { a href=(principal_href(p, a.elevation_id.as_deref())) { (p) } } }
                    }
                    @if let Some(p) = &a.privilege { tr { th { "Privilege" } td { (p) } } }
                    @if let Some(s) = &a.scope { tr { th { "Scope" } td { (s) } } }
                    tr { th { "Alert id" } td.id { code { (a.id) } } }
                } }
                @if let Some(v) = &d.elevation {
                    @let e = &v.elevation;
                    h2 { "Elevation" }
                    table.fields { tbody {
                        tr { th { "Held" } td { a href=(principal_href(&e.principal, Some(&e.id))) { (e.privilege) " at " (e.scope) } } }
                        tr { th { "Started (UTC)" } td { (time_el(e.started_at)) } }
                        tr { th { "Promised end (UTC)" } td { (opt_time_el(e.expected_end)) } }
                        tr { th { "Ended (UTC)" } td { (opt_time_el(e.ended_at)) } }
                        tr { th { "State" } td { (state_badge(v)) } }
                    } }
                }
            }
            section.col {
                h2 { "History" }
                @if a.history.is_empty() {
                    p.muted { "Nobody has acknowledged or resolved this alert yet." }
                } @else {
                    ol.history {
                        @for h in &a.history {
                            li {
                                strong { (h.by) } " " (h.action) " it at " (time_el(h.at)) " UTC"
                                @if let Some(n) = h.note.as_deref().filter(|n| !n.trim().is_empty()) {
                                    blockquote.note { (n) }
                                }
                            }
                        }
                    }
                }
                @if c.role.can_review() && a.status != AlertStatus::Resolved {
                    div.actions {
                        @if a.status == AlertStatus::Open {
                            form.act method="post" action=(format!("/alerts/{}/ack", enc(&a.id))) {
                                input type="hidden" name="csrf" value=(csrf);
                                label for="ack-note" { "Acknowledge with a note" }
                                textarea #ack-note name="note" rows="3" maxlength=(MAX_NOTE) placeholder="What you checked, who you asked" {}
                                button type="submit" { "Acknowledge" }
                            }
                        }
                        form.act method="post" action=(format!("/alerts/{}/resolve", enc(&a.id))) {
                            input type="hidden" name="csrf" value=(csrf);
                            label for="resolve-note" { "Resolve with a note" }
                            textarea #resolve-note name="note" rows="3" maxlength=(MAX_NOTE) placeholder="How it was settled" {}
                            button type="submit" { "Resolve" }
                        }
                    }
                } @else if !c.role.can_review() {
                    p.muted { "Your role (" (c.role.as_str()) ") may read alerts; a reviewer acknowledges and resolves them." }
                }
            }
        }
        @if let Some(r) = &d.remediation { (super::remediation::section(c, r)) }
        section {
            h2 { "Evidence: " (a.event_ids.len()) " event" @if a.event_ids.len() != 1 { "s" } }
            @if a.event_ids.len() > MAX_EVIDENCE { p.muted { "The first " (MAX_EVIDENCE) " are shown." } }
            @if d.events.is_empty() {
                p.muted { "No stored event." }
            } @else {
                table.list.events {
                    thead { tr { th.t { "Time (UTC)" } th { "Action" } th { "Host / tenant" } th { "What happened" } } }
                    tbody {
                        @for e in &d.events {
                            tr {
                                td.t { a href=(event_href(e.id.as_str())) { (time_el(e.time)) } }
                                td { a href=(event_href(e.id.as_str())) { (e.action.as_str()) } }
                                td { (e.host.as_deref().or(e.tenant.as_deref()).unwrap_or("")) }
                                td { (e.message) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn detail(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> Response {
    let c = match reader(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match load(&state, id).await {
        Ok(d) => {
            let title = format!("Alert: {}", d.alert.rule);
            html_response(
                StatusCode::OK,
                layout(&title, &c, "/alerts", detail_page(&c, &d, None)),
            )
        }
        Err(e) => error_page(&c, "/alerts", "Alert", &e),
    }
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    csrf: Option<String>,
    note: Option<String>,
}

async fn transition(
    state: ApiState,
    caller: MaybeCaller,
    id: String,
    f: NoteForm,
    op: Op,
) -> Response {
    let Some(c) = caller.0 else {
        return Redirect::to("/login").into_response();
    };
    let forbidden = |e: ApiError| error_page(&c, "/alerts", "Not allowed", &e);
    if let Err(e) = c.require_review() {
        return forbidden(e);
    }
    if let Err(e) = c.check_csrf(f.csrf.as_deref()) {
        return forbidden(e);
    }
    let note = f
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if let Err(e) = check_note(note.as_deref()) {
        return error_page(&c, "/alerts", "Alert", &e);
    }
    let by = c.name.clone();
    let target = format!("/alerts/{}", enc(&id));
    let id2 = id.clone();
    let result = state
        .blocking(move |app| op.apply(app, &id2, &by, note.as_deref()))
        .await;
    match result {
        Ok(_) => Redirect::to(&target).into_response(),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            // Not allowed in this state (already resolved): the alert as it is, with the reason.
            match load(&state, id).await {
                Ok(d) => html_response(
                    StatusCode::CONFLICT,
                    layout(
                        "Alert",
                        &c,
                        "/alerts",
                        detail_page(&c, &d, Some(&e.message)),
                    ),
                ),
                Err(e2) => error_page(&c, "/alerts", "Alert", &e2),
            }
        }
        Err(e) => error_page(&c, "/alerts", "Alert", &e),
    }
}

pub async fn ack(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    transition(state, caller, id, f, Op::Ack).await
}

pub async fn resolve(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    transition(state, caller, id, f, Op::Resolve).await
}

pub async fn approve(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    transition(state, caller, id, f, Op::Approve).await
}

pub async fn reject(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> Response {
    transition(state, caller, id, f, Op::Reject).await
}
