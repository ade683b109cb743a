//! `/elevations`: the timeline — one row per principal (or per privilege), each elevation a span
//! from its start to its end drawn by the server as SVG: within the promise neutral, the part past
//! the promised end red, open spans running to the right edge with an arrow, standing access (no
//! promised end) hatched. "Who held what at T" (`at`) draws a line and lists the elevations held
//! then. Everything is in the URL; rows are paged so that 100,000 elevations render quickly.
//!
//! [`Timeline::build`] and [`chart`] are pure (the page handler loads, they draw), so the cost of
//! drawing is measurable apart from the store.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, DurationRound, Utc};
use maud::{Markup, html};
use privtrail_app::services::{ElevationQuery, ElevationView};
use privtrail_app::types::Source;
use privtrail_app::views::ElevationFilter;
use serde::Deserialize;

use super::{
    duration_text, error_page, flag, form_time, html_response, layout, opt_time_el, parse_ui_time,
    principal_href, qs, reader, time_el,
};
use crate::ApiState;
use crate::auth::MaybeCaller;
use crate::error::ApiError;

/// Rows per page.
pub const ROWS_PER_PAGE: usize = 50;
/// Elevations listed under the chart for "held at T" at most.
pub const MAX_HELD_LISTED: usize = 1000;

const W: f64 = 1280.0;
const LABEL_W: f64 = 250.0;
const X0: f64 = LABEL_W + 8.0;
const X1: f64 = W - 18.0;
const AXIS_H: f64 = 30.0;
const ROW_H: f64 = 24.0;
const BAR_Y: f64 = 5.0;
const BAR_H: f64 = 14.0;

/// The timeline's URL parameters.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct TimelineParams {
    pub from: Option<String>,
    pub to: Option<String>,
    pub at: Option<String>,
    /// `principal` (default) or `privilege`.
    pub group: Option<String>,
    pub privilege: Option<String>,
    pub principal: Option<String>,
    /// `entra`, `windows`, … or empty.
    pub source: Option<String>,
    /// Host or tenant (contained in the scope, host or tenant).
    pub scope: Option<String>,
    pub overdue: Option<String>,
    /// 1-based.
    pub page: Option<usize>,
}

impl TimelineParams {
    /// The URL of this view with some parameters replaced (empty values are left out).
    fn href(&self, with: &[(&str, &str)]) -> String {
        let get = |k: &str, v: &Option<String>| -> String {
            with.iter()
                .find(|(kk, _)| *kk == k)
                .map_or_else(|| v.clone().unwrap_or_default(), |(_, v)| (*v).to_owned())
        };
        let page = self.page.map(|p| p.to_string());
        let pairs = [
            ("from", get("from", &self.from)),
            ("to", get("to", &self.to)),
            ("at", get("at", &self.at)),
            ("group", get("group", &self.group)),
            ("privilege", get("privilege", &self.privilege)),
            ("principal", get("principal", &self.principal)),
            ("source", get("source", &self.source)),
            ("scope", get("scope", &self.scope)),
            ("overdue", get("overdue", &self.overdue)),
            ("page", get("page", &page)),
        ];
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        format!("/elevations{}", qs(&refs))
    }
}

/// What the chart is drawn for.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    pub by_privilege: bool,
    /// 0-based.
    pub page: usize,
    /// The overdue grace: a closed elevation counts as late past its promise plus this.
    pub grace: Duration,
}

/// One row: a principal (or a privilege) and its elevations in the range, oldest first.
#[derive(Debug)]
pub struct Row<'a> {
    pub key: &'a str,
    pub spans: Vec<&'a ElevationView>,
    pub overdue: bool,
}

/// The rows of one page and what the page needs around them.
#[derive(Debug)]
pub struct Timeline<'a> {
    /// The rows of this page.
    pub rows: Vec<Row<'a>>,
    /// Rows in the range in all.
    pub total_rows: usize,
    /// Elevations in the range in all.
    pub total_spans: usize,
    /// The elevations held at `at` (all rows), by principal then start.
    pub held: Vec<&'a ElevationView>,
}

fn end_or(v: &ElevationView, now: DateTime<Utc>) -> DateTime<Utc> {
    v.elevation.ended_at.unwrap_or(now)
}

impl<'a> Timeline<'a> {
    /// Groups `views` into rows (those with an elevation in the range), overdue rows first, then
    /// by name; keeps the rows of `view.page`.
    pub fn build(views: &'a [ElevationView], view: &View) -> Timeline<'a> {
        let mut rows: HashMap<&'a str, Row<'a>> = HashMap::new();
        let mut total_spans = 0;
        for v in views {
            let e = &v.elevation;
            if e.started_at >= view.to || end_or(v, view.now.max(e.started_at)) <= view.from {
                continue;
            }
            total_spans += 1;
            let key = if view.by_privilege {
                e.privilege.as_str()
            } else {
                e.principal.as_str()
            };
            let row = rows.entry(key).or_insert_with(|| Row {
                key,
                spans: Vec::new(),
                overdue: false,
            });
            row.overdue |= v.overdue;
            row.spans.push(v);
        }
        let mut rows: Vec<Row<'a>> = rows.into_values().collect();
        let total_rows = rows.len();
        rows.sort_by(|a, b| {
            b.overdue
                .cmp(&a.overdue)
                .then_with(|| a.key.to_lowercase().cmp(&b.key.to_lowercase()))
                .then_with(|| a.key.cmp(b.key))
        });
        let start = view.page.saturating_mul(ROWS_PER_PAGE).min(rows.len());
        let mut rows: Vec<Row<'a>> = rows.into_iter().skip(start).take(ROWS_PER_PAGE).collect();
        for r in &mut rows {
            r.spans.sort_by_key(|v| v.elevation.started_at);
        }
        let mut held: Vec<&'a ElevationView> = match view.at {
            Some(t) => views.iter().filter(|v| v.elevation.held_at(t)).collect(),
            None => Vec::new(),
        };
        held.sort_by(|a, b| {
            a.elevation
                .principal
                .cmp(&b.elevation.principal)
                .then(a.elevation.started_at.cmp(&b.elevation.started_at))
        });
        Timeline {
            rows,
            total_rows,
            total_spans,
            held,
        }
    }
}

/// Tick spacing: the smallest step that gives at most 12 ticks.
fn tick_step(range: Duration) -> Duration {
    let steps = [
        Duration::minutes(15),
        Duration::hours(1),
        Duration::hours(3),
        Duration::hours(6),
        Duration::hours(12),
        Duration::days(1),
        Duration::days(2),
        Duration::days(7),
        Duration::days(14),
        Duration::days(30),
        Duration::days(91),
        Duration::days(365),
    ];
    steps
        .into_iter()
        .find(|s| range.num_seconds() / s.num_seconds().max(1) <= 12)
        .unwrap_or(Duration::days(365 * 5))
}

struct Scale {
    from: DateTime<Utc>,
    span_s: f64,
}

impl Scale {
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let s = (t - self.from).num_milliseconds() as f64 / 1000.0;
        (X0 + s / self.span_s * (X1 - X0)).clamp(X0, X1)
    }
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}

/// The label of a row: a display name when one is known, cut to fit.
fn row_label(key: &str, names: &HashMap<String, String>) -> String {
    let text = super::principal_label(key, names);
    // Cut in the middle: the ends tell SIDs (`s-1-5-21-…-1603`) and DNs apart.
    let max = 34;
    let n = text.chars().count();
    if n > max {
        let head: String = text.chars().take(max / 2).collect();
        let tail: String = text.chars().skip(n - (max - max / 2 - 1)).collect();
        format!("{head}…{tail}")
    } else {
        text.to_owned()
    }
}

/// What a span's tooltip says.
fn span_title(v: &ElevationView, now: DateTime<Utc>) -> String {
    let e = &v.elevation;
    let t = |x: DateTime<Utc>| x.format("%Y-%m-%d %H:%M UTC").to_string();
    let mut s = format!(
        "{} — {} at {}\nstarted {}",
        e.principal,
        e.privilege,
        e.scope,
        t(e.started_at)
    );
    match e.expected_end {
        Some(x) => s.push_str(&format!("\npromised end {}", t(x))),
        None => s.push_str("\nno promised end (standing)"),
    }
    match e.ended_at {
        Some(x) => s.push_str(&format!(
            "\nended {} ({})",
            t(x),
            e.end_reason.map_or("ended", |r| r.as_str())
        )),
        None => s.push_str(&format!("\nopen for {}", duration_text(now - e.started_at))),
    }
    if v.overdue
        && let Some(x) = e.expected_end
    {
        s.push_str(&format!("\nOVERDUE by {}", duration_text(now - x)));
    }
    s
}

/// The SVG chart of a page of rows. `names` gives row labels for principals.
pub fn chart(t: &Timeline<'_>, view: &View, names: &HashMap<String, String>) -> Markup {
    let scale = Scale {
        from: view.from,
        span_s: ((view.to - view.from).num_milliseconds() as f64 / 1000.0).max(1.0),
    };
    let height = AXIS_H + ROW_H * t.rows.len().max(1) as f64 + 6.0;
    let step = tick_step(view.to - view.from);
    let mut ticks = Vec::new();
    let mut tick = view
        .from
        .duration_trunc(if step >= Duration::days(1) {
            Duration::days(1)
        } else {
            step
        })
        .unwrap_or(view.from);
    while tick < view.from {
        tick += step;
    }
    while tick <= view.to && ticks.len() < 60 {
        ticks.push(tick);
        tick += step;
    }
    let tick_fmt = if step >= Duration::days(1) {
        "%Y-%m-%d"
    } else {
        "%m-%d %H:%M"
    };
    let bottom = height - 6.0;
    let inside = |x: DateTime<Utc>| x >= view.from && x <= view.to;
    html! {
        svg.timeline #timeline viewBox=(format!("0 0 {W} {height}"))
            data-from=(view.from.to_rfc3339()) data-to=(view.to.to_rfc3339())
            data-x0=(X0) data-x1=(X1) data-width=(W)
            role="group" aria-label="Elevations over time" {
            defs {
                pattern #hatch patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)" {
                    rect.hatch-bg width="6" height="6" {}
                    rect.hatch-stripe width="3" height="6" {}
                }
            }
            @for i in 0..t.rows.len() {
                @if i % 2 == 1 {
                    rect.row-bg x="0" y=(f1(AXIS_H + i as f64 * ROW_H)) width=(W) height=(ROW_H) {}
                }
            }
            @for tk in &ticks {
                line.grid x1=(f1(scale.x(*tk))) x2=(f1(scale.x(*tk))) y1=(AXIS_H - 6.0) y2=(bottom) {}
                text.tick x=(f1(scale.x(*tk))) y="14" text-anchor="middle" { (tk.format(tick_fmt)) }
            }
            @for (i, row) in t.rows.iter().enumerate() {
                @let y = AXIS_H + i as f64 * ROW_H;
                @let label = if view.by_privilege { row_label(row.key, &HashMap::new()) } else { row_label(row.key, names) };
                @let href = if view.by_privilege {
                    format!("/elevations{}", qs(&[("privilege", row.key), ("group", "principal")]))
                } else {
                    principal_href(row.key, None)
                };
                a.rowlabel href=(href) {
                    title { (row.key) @if let Some(n) = names.get(row.key) { " (" (n) ")" } }
                    text.lbl.late[row.overdue] x="4" y=(f1(y + 16.0)) { (label) }
                }
                (row_spans(row, y, &scale, view))
            }
            @if t.rows.is_empty() {
                text.empty x=(f1((X0 + X1) / 2.0)) y=(f1(AXIS_H + 16.0)) text-anchor="middle" {
                    "No elevation in this range"
                }
            }
            @if inside(view.now) {
                line.now-line x1=(f1(scale.x(view.now))) x2=(f1(scale.x(view.now))) y1=(AXIS_H - 8.0) y2=(bottom) {}
                text.now-label x=(f1(scale.x(view.now) - 3.0)) y="26" text-anchor="end" { "now" }
            }
            @if let Some(at) = view.at.filter(|a| inside(*a)) {
                line.at-line x1=(f1(scale.x(at))) x2=(f1(scale.x(at))) y1=(AXIS_H - 10.0) y2=(bottom) {}
                @let xa = scale.x(at);
                @if xa > X1 - 130.0 {
                    text.at-label x=(f1(xa - 4.0)) y="26" text-anchor="end" { "T " (at.format("%Y-%m-%d %H:%M")) }
                } @else {
                    text.at-label x=(f1(xa + 4.0)) y="26" { "T " (at.format("%Y-%m-%d %H:%M")) }
                }
            }
        }
    }
}

/// The spans of one row; spans that would land on pixels already drawn with the same look are
/// skipped (a row of thousands of short elevations stays a few hundred elements).
fn row_spans(row: &Row<'_>, y: f64, scale: &Scale, view: &View) -> Markup {
    struct Drawn<'a> {
        v: &'a ElevationView,
        end: DateTime<Utc>,
        xs: f64,
        xe: f64,
        late: bool,
    }
    let mut drawn_to = [f64::MIN; 3];
    let mut drawn = Vec::new();
    for v in &row.spans {
        let e = &v.elevation;
        let end = end_or(v, view.now.max(e.started_at));
        let xs = scale.x(e.started_at);
        let xe = scale.x(end).max(xs + 1.5);
        let late = match (e.expected_end, e.ended_at) {
            (Some(_), None) => v.overdue,
            (Some(p), Some(ended)) => ended > p + view.grace,
            (None, _) => false,
        };
        let kind = if e.expected_end.is_none() {
            2
        } else {
            usize::from(late)
        };
        if xe > drawn_to[kind] + 0.75 {
            drawn_to[kind] = xe;
            drawn.push(Drawn {
                v,
                end,
                xs,
                xe,
                late,
            });
        }
    }
    html! {
        @for d in &drawn {
            @let e = &d.v.elevation;
            @let (xs, xe, late) = (d.xs, d.xe, d.late);
            a.span href=(principal_href(&e.principal, Some(&e.id))) {
                title { (span_title(d.v, view.now)) }
                @match e.expected_end {
                    None => {
                        rect.standing x=(f1(xs)) y=(f1(y + BAR_Y)) width=(f1(xe - xs)) height=(BAR_H) fill="url(#hatch)" {}
                    }
                    Some(p) => {
                        @let xp = scale.x(p).clamp(xs, xe);
                        @if late {
                            @if xp > xs {
                                rect.ok x=(f1(xs)) y=(f1(y + BAR_Y)) width=(f1(xp - xs)) height=(BAR_H) {}
                            }
                            rect.late x=(f1(xp)) y=(f1(y + BAR_Y)) width=(f1((xe - xp).max(1.5))) height=(BAR_H) {}
                        } @else {
                            rect.ok x=(f1(xs)) y=(f1(y + BAR_Y)) width=(f1(xe - xs)) height=(BAR_H) {}
                        }
                    }
                }
                @if e.is_open() && d.end >= view.from {
                    @let xa = xe.min(X1 - 1.0);
                    polygon class=(if late { "arrow late" } else { "arrow" })
                        points=(format!("{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                            xa, y + BAR_Y - 3.0, xa + 9.0, y + BAR_Y + BAR_H / 2.0, xa, y + BAR_Y + BAR_H + 3.0)) {}
                }
            }
        }
    }
}

/// The table of elevations held at `at`.
fn held_table(t: &Timeline<'_>, at: DateTime<Utc>, names: &HashMap<String, String>) -> Markup {
    html! {
        section #held aria-live="polite" {
            h2 { "Held at " (time_el(at)) " UTC: " (t.held.len()) " elevation" @if t.held.len() != 1 { "s" } }
            @if t.held.is_empty() {
                p.muted { "Nobody held a matching privilege at that moment." }
            } @else {
                table.list.held {
                    thead { tr {
                        th { "Principal" } th { "Privilege" } th { "Scope" } th { "Started (UTC)" }
                        th { "Promised end (UTC)" } th { "Ended (UTC)" } th { "State" }
                    } }
                    tbody {
                        @for v in t.held.iter().take(MAX_HELD_LISTED) {
                            @let e = &v.elevation;
                            tr {
                                td {
                                    a href=(principal_href(&e.principal, Some(&e.id))) {
                                        (super::principal_label(&e.principal, names))
                                    }
                                    @if names.contains_key(&e.principal) { br; span.muted.id { (e.principal) } }
                                }
                                td { (e.privilege) }
                                td { (e.scope) }
                                td { (time_el(e.started_at)) }
                                td { (opt_time_el(e.expected_end)) }
                                td { (opt_time_el(e.ended_at)) }
                                td { (state_badge(v)) }
                            }
                        }
                    }
                }
                @if t.held.len() > MAX_HELD_LISTED {
                    p.muted { "The first " (MAX_HELD_LISTED) " are listed; narrow the filters to see the rest." }
                }
            }
        }
    }
}

/// An elevation's state as colour and text.
pub fn state_badge(v: &ElevationView) -> Markup {
    let s = v.state();
    let class = match (v.elevation.ended_at, v.overdue, v.elevation.expected_end) {
        (None, true, _) => "state state-overdue",
        (None, false, None) => "state state-standing",
        (None, false, Some(_)) => "state state-open",
        _ => "state state-ended",
    };
    html! { span class=(class) { (if v.elevation.is_open() && v.elevation.expected_end.is_none() { "open, standing".to_owned() } else { s }) } }
}

fn legend() -> Markup {
    html! {
        ul.legend aria-label="Legend" {
            li { span.swatch.ok {} "within the promised time" }
            li { span.swatch.late {} "past the promised end (overdue part)" }
            li { span.swatch.standing {} "standing: no promised end" }
            li { span.arrowmark { "▶" } "still open" }
            li { span.swatch.atmark {} "T (who held what)" }
        }
    }
}

/// The default range: the last 14 days up to now (open spans run to the right edge) when anything
/// is open or happened then, else the 30 days before the last start or end.
fn default_range(views: &[ElevationView], now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let latest = views
        .iter()
        .map(|v| {
            v.elevation
                .ended_at
                .unwrap_or(now)
                .max(v.elevation.started_at)
        })
        .max();
    match latest {
        Some(l) if l < now - Duration::days(14) => {
            let to = l + Duration::hours(12);
            (to - Duration::days(30), to)
        }
        _ => (now - Duration::days(14), now),
    }
}

fn source_of(s: Option<&str>) -> Result<Option<Source>, ApiError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Source::parse(&s.to_lowercase()).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "source {s:?}: entra, windows, endpoint or privtrail"
            ))
        }),
    }
}

fn render_page(
    app: &privtrail_app::App,
    p: &TimelineParams,
    now: DateTime<Utc>,
) -> Result<Markup, ApiError> {
    let at = parse_ui_time("at", p.at.as_deref(), now)?;
    let from = parse_ui_time("from", p.from.as_deref(), now)?;
    let to = parse_ui_time("to", p.to.as_deref(), now)?;
    let filter = ElevationFilter {
        query: ElevationQuery {
            overdue: flag(p.overdue.as_deref()),
            privilege: p.privilege.clone().filter(|s| !s.trim().is_empty()),
            principal: p.principal.clone().filter(|s| !s.trim().is_empty()),
            ..ElevationQuery::default()
        },
        source: source_of(p.source.as_deref())?,
        scope: p.scope.clone(),
    };
    let views = app.filtered_elevations(&filter, now)?;
    let (from, to) = match (from, to, at) {
        (Some(f), Some(t), _) => (f, t),
        (None, None, Some(a)) => (
            a - Duration::days(7),
            (a + Duration::days(7)).min(now).max(a + Duration::hours(1)),
        ),
        (f, t, _) => {
            let (df, dt) = default_range(&views, now);
            let to = t.unwrap_or(dt);
            (f.unwrap_or(df.min(to - Duration::days(1))), to)
        }
    };
    if from >= to {
        return Err(ApiError::bad_request("from: must be before to"));
    }
    let by_privilege = p.group.as_deref() == Some("privilege");
    let page = p.page.unwrap_or(1).max(1) - 1;
    let view = View {
        from,
        to,
        at,
        now,
        by_privilege,
        page,
        grace: app.engine().overdue_grace,
    };
    let t = Timeline::build(&views, &view);
    let names = app.display_names(
        t.rows
            .iter()
            .flat_map(|r| r.spans.first().copied())
            .chain(t.held.iter().take(MAX_HELD_LISTED).copied()),
    )?;
    let pages = t.total_rows.div_ceil(ROWS_PER_PAGE).max(1);
    let from_s = form_time(Some(from));
    let to_s = form_time(Some(to));
    let fixed = TimelineParams {
        from: Some(from_s.clone()),
        to: Some(to_s.clone()),
        ..p.clone()
    };
    let source = p.source.clone().unwrap_or_default();
    let body = html! {
        div.page-head {
            h1 { "Timeline of elevations" }
            p.muted {
                (t.total_spans) " elevation" @if t.total_spans != 1 { "s" } " in "
                (t.total_rows) " row" @if t.total_rows != 1 { "s" } " from " (time_el(from)) " to " (time_el(to)) " UTC"
            }
        }
        form.filters method="get" action="/elevations" {
            div.field { label for="f-from" { "From (UTC)" } input #f-from type="text" name="from" value=(from_s) size="19"; }
            div.field { label for="f-to" { "To (UTC)" } input #f-to type="text" name="to" value=(to_s) size="19"; }
            div.field { label for="f-group" { "One row per" }
                select #f-group name="group" {
                    option value="principal" selected[!by_privilege] { "principal" }
                    option value="privilege" selected[by_privilege] { "privilege" }
                }
            }
            div.field { label for="f-privilege" { "Privilege" } input #f-privilege type="text" name="privilege" value=(p.privilege.as_deref().unwrap_or("")) size="16" placeholder="any"; }
            div.field { label for="f-source" { "Source" }
                select #f-source name="source" {
                    option value="" selected[source.is_empty()] { "any" }
                    option value="entra" selected[source == "entra"] { "Entra" }
                    option value="windows" selected[source == "windows"] { "Windows" }
                }
            }
            div.field { label for="f-scope" { "Host / tenant" } input #f-scope type="text" name="scope" value=(p.scope.as_deref().unwrap_or("")) size="14" placeholder="any"; }
            div.field.check { label { input type="checkbox" name="overdue" value="1" checked[flag(p.overdue.as_deref())]; " only overdue" } }
            div.field.at { label for="f-at" { "Who held what at T (UTC)" } input #f-at type="text" name="at" value=(form_time(at)) size="19" placeholder=(to.format("%Y-%m-%d %H:%M").to_string()); }
            div.field.buttons {
                button type="submit" { "Show" }
                a href="/elevations" { "Reset" }
            }
        }
        (legend())
        (chart(&t, &view, &names))
        @if pages > 1 {
            nav.pager aria-label="Rows" {
                @if page > 0 {
                    a href=(fixed.href(&[("page", &page.to_string())])) rel="prev" { "← Previous rows" }
                }
                span { "Rows " (page * ROWS_PER_PAGE + 1) "–" (((page + 1) * ROWS_PER_PAGE).min(t.total_rows)) " of " (t.total_rows) " (page " (page + 1) " of " (pages) ")" }
                @if page + 1 < pages {
                    a href=(fixed.href(&[("page", &(page + 2).to_string())])) rel="next" { "Next rows →" }
                }
            }
        }
        @if let Some(at) = at {
            (held_table(&t, at, &names))
        } @else {
            p.muted.hint { "Pick a moment in “Who held what at T” (or click the chart) to list exactly who held a privilege then." }
        }
    };
    Ok(body)
}

pub async fn page(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    Query(p): Query<TimelineParams>,
) -> Response {
    let c = match reader(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let now = Utc::now();
    let result = state.blocking(move |app| render_page(app, &p, now)).await;
    match result {
        Ok(r) => html_response(StatusCode::OK, layout("Timeline", &c, "/elevations", r)),
        Err(e) => error_page(&c, "/elevations", "Timeline of elevations", &e),
    }
}
