//! `/search`: the query syntax of the CLI over a time range, a paged table of events (newest
//! first, "next page" by cursor), each row opening `/events/{id}` (normalized fields and the raw
//! record), and "Export CSV" of the current query through the API.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};
use privtrail_app::types::Event;

use super::{
    enc, error_page, event_href, html_response, layout, opt_time_el, parse_ui_time, principal_href,
    qs, reader, time_el,
};
use crate::ApiState;
use crate::auth::MaybeCaller;
use crate::error::ApiError;
use crate::v1::{SearchParams, decode_cursor, search_page};

/// Events per page.
pub const PAGE: usize = 50;

fn form(p: &SearchParams) -> Markup {
    html! {
        form.searchbar method="get" action="/search" role="search" {
            div.field.q {
                label for="q" { "Query" }
                input #q type="search" name="q" value=(p.q.as_deref().unwrap_or(""))
                    placeholder="e.g. action:role.activated AND target:*nina*" autofocus;
            }
            div.field { label for="since" { "Since" } input #since type="text" name="since" value=(p.since.as_deref().unwrap_or("")) size="16" placeholder="7d or 2024-05-01"; }
            div.field { label for="until" { "Until" } input #until type="text" name="until" value=(p.until.as_deref().unwrap_or("")) size="16" placeholder="now"; }
            div.field.buttons { button type="submit" { "Search" } }
        }
        p.cheats {
            "Syntax: " code { "field:value" } " · " code { "\"a phrase\"" } " · "
            code { "AND" } " " code { "OR" } " " code { "NOT" } " · wildcards " code { "target:*1001" } " · "
            code { "*" } " for all · fields: " code { "action" } ", " code { "host" } ", " code { "tenant" } ", "
            code { "actor" } ", " code { "target" } ", " code { "privilege" } ", " code { "event_code" } ", " code { "source" }
            " · times: RFC 3339, a date, or " code { "24h" } "/" code { "7d" } " ago"
        }
    }
}

fn place(e: &Event) -> &str {
    e.host.as_deref().or(e.tenant.as_deref()).unwrap_or("")
}

fn results(p: &SearchParams, events: &[Event], next: Option<&str>) -> Markup {
    let q = p.q.as_deref().unwrap_or("");
    let since = p.since.as_deref().unwrap_or("");
    let until = p.until.as_deref().unwrap_or("");
    let export = format!(
        "/api/v1/export{}",
        qs(&[
            ("format", "csv"),
            ("q", if q.trim().is_empty() { "*" } else { q }),
            ("since", since),
            ("until", until)
        ])
    );
    html! {
        div.resultbar {
            span.muted {
                (events.len()) " event" @if events.len() != 1 { "s" } " on this page, newest first"
                @if p.cursor.is_some() { " (a later page)" }
            }
            a.button href=(export) download { "Export CSV" }
        }
        @if events.is_empty() {
            p.muted { "No event matches." }
        } @else {
            table.list.events.search {
                colgroup {
                    col.c-time; col.c-action; col.c-place; col.c-actor; col.c-target; col.c-priv; col.c-code;
                }
                thead { tr {
                    th.t { "Time (UTC)" } th { "Action" } th { "Host / tenant" } th { "Actor" }
                    th { "Target" } th { "Privilege" } th.code { "Code" }
                } }
                tbody {
                    @for e in events {
                        tr.failure[e.outcome.as_str() == "failure"] {
                            td.t { a href=(event_href(e.id.as_str())) { (time_el(e.time)) } }
                            td { a href=(event_href(e.id.as_str())) { (e.action.as_str()) } }
                            td { (place(e)) }
                            td.id { (e.actor.as_deref().unwrap_or("")) }
                            td.id {
                                (e.target_name.as_deref().or(e.target.as_deref()).unwrap_or(""))
                                @if let (Some(_), Some(t)) = (&e.target_name, &e.target) { br; span.muted { (t) } }
                            }
                            td { (e.privilege.as_deref().unwrap_or("")) }
                            td.code { (e.event_code) }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if p.cursor.is_some() {
                a href=(format!("/search{}", qs(&[("q", q), ("since", since), ("until", until)]))) { "← First page" }
            }
            @if let Some(n) = next {
                a href=(format!("/search{}", qs(&[("q", q), ("since", since), ("until", until), ("cursor", n)]))) rel="next" { "Next page →" }
            }
        }
    }
}

pub async fn page(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Query(p): Query<SearchParams>,
) -> Response {
    let c = match reader(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = Utc::now();
    let req = (|| {
        let mut req = SearchParams {
            q: p.q.clone(),
            since: None,
            until: None,
            limit: Some(PAGE),
            cursor: None,
        }
        .request(PAGE)?;
        if req.query.trim().is_empty() {
            req.query = "*".into();
        }
        req.since = parse_ui_time("since", p.since.as_deref(), now)?;
        req.until = parse_ui_time("until", p.until.as_deref(), now)?;
        req.after = p
            .cursor
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(decode_cursor)
            .transpose()?;
        Ok::<_, ApiError>(req)
    })();
    let result = match req {
        Ok(req) => search_page(&state, req).await,
        Err(e) => Err(e),
    };
    let (status, body) = match result {
        Ok((events, next)) => (
            StatusCode::OK,
            html! { (form(&p)) (results(&p, &events, next.as_deref())) },
        ),
        Err(e) => (
            e.status,
            html! {
                (form(&p))
                div.error.box role="alert" {
                    strong { "The search failed: " } (e.message)
                }
            },
        ),
    };
    html_response(
        status,
        layout(
            "Search",
            &c,
            "/search",
            html! { h1.sr-only { "Search events" } (body) },
        ),
    )
}

/// The raw record pretty-printed (as it was when it is not JSON).
fn pretty(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| raw.to_owned())
}

pub async fn event_page(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> Response {
    let c = match reader(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = state
        .blocking(move |app| {
            app.event(&id)?
                .ok_or_else(|| ApiError::not_found(format!("no event with id {id:?}")))
        })
        .await;
    let e = match result {
        Ok(e) => e,
        Err(e) => return error_page(&c, "/search", "Event", &e),
    };
    let row = |k: &str, v: Option<&str>| {
        html! {
            @if let Some(v) = v.filter(|v| !v.is_empty()) {
                tr { th { (k) } td.id { (v) } }
            }
        }
    };
    let title = format!(
        "{} · {}",
        e.action.as_str(),
        e.time.format("%Y-%m-%d %H:%M:%S")
    );
    let body = html! {
        div.page-head {
            h1 { (e.action.as_str()) }
            p.lead { (e.message) }
        }
        div.cols {
            section.col {
                h2 { "Normalized fields" }
                table.fields {
                    tbody {
                        tr { th { "Time (UTC)" } td { (time_el(e.time)) } }
                        tr { th { "Ingested (UTC)" } td { (time_el(e.ingested_at)) } }
                        tr { th { "Source" } td { (e.source.as_str()) } }
                        (row("Tenant", e.tenant.as_deref()))
                        (row("Host", e.host.as_deref()))
                        tr { th { "Outcome" } td { (e.outcome.as_str()) } }
                        (row("Actor", e.actor.as_deref()))
                        @if let Some(t) = &e.target {
                            tr { th { "Target" } td.id { a href=(principal_href(&t.to_lowercase(), None)) { (t) } } }
                        }
                        (row("Target name", e.target_name.as_deref()))
                        (row("Privilege", e.privilege.as_deref()))
                        (row("Privilege id", e.privilege_id.as_deref()))
                        (row("Scope", e.scope.as_deref()))
                        @if e.expires_at.is_some() { tr { th { "Expires (UTC)" } td { (opt_time_el(e.expires_at)) } } }
                        (row("Justification", e.justification.as_deref()))
                        (row("Correlation id", e.correlation_id.as_deref()))
                        @if let Some(p) = e.via_pim { tr { th { "Through PIM" } td { (if p { "yes" } else { "no" }) } } }
                        @if let Some(l) = &e.linked_to {
                            tr { th { "Same change as" } td.id { a href=(event_href(l.as_str())) { (l.as_str()) } } }
                        }
                        tr { th { "Event code" } td { (e.event_code) } }
                        (row("Record id", e.record_id.as_deref()))
                        tr { th { "Event id" } td.id { code { (e.id.as_str()) } } }
                    }
                }
            }
            section.col.wide {
                h2 { "Raw record" }
                pre.raw { (pretty(&e.raw)) }
            }
        }
        p {
            a href="/search" { "← Search" } " · "
            a href=(format!("/api/v1/events/{}", enc(e.id.as_str()))) { "as JSON" }
        }
    };
    html_response(StatusCode::OK, layout(&title, &c, "/search", body))
}
