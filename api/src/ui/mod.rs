//! The reviewers' web UI (see `../shared/UI.md`): server-rendered HTML (maud escapes every value),
//! the timeline as SVG drawn by the server, one stylesheet and one small script, all embedded in
//! the binary. Pages need a UI session (the login form trades a token for an `HttpOnly`,
//! `SameSite=Strict` cookie); every form POST carries the session's CSRF token. Responses carry a
//! strict Content-Security-Policy: no inline script or style, nothing from elsewhere.

mod alerts;
mod overview;
mod principal;
mod remediation;
mod search;
pub mod timeline;

use std::fmt::Write as _;

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use privtrail_app::types::Severity;
use serde::Deserialize;

use crate::ApiState;
use crate::auth::{Caller, MaybeCaller, SESSION_COOKIE};
use crate::error::ApiError;

/// The stylesheet and the script, embedded.
const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");

/// What every UI response may load: only this origin, no inline code, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(overview::page))
        .route("/elevations", get(timeline::page))
        .route("/principals/{principal}", get(principal::page))
        .route("/search", get(search::page))
        .route("/events/{id}", get(search::event_page))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{id}", get(alerts::detail))
        .route("/alerts/{id}/ack", post(alerts::ack))
        .route("/alerts/{id}/resolve", post(alerts::resolve))
        .route("/alerts/{id}/remediation/approve", post(alerts::approve))
        .route("/alerts/{id}/remediation/reject", post(alerts::reject))
        .route("/login", get(login_form).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js))
}

/// An HTML response with the UI's security headers.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut r = (status, markup.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The frame of every page: navigation, a search box (`/` focuses it), who is logged in, the
/// page's content.
pub fn layout(title: &str, caller: &Caller, active: &str, content: Markup) -> Markup {
    let nav = [
        ("/", "Overview"),
        ("/elevations", "Timeline"),
        ("/search", "Search"),
        ("/alerts", "Alerts"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · privtrail" }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "privtrail" }
                    nav aria-label="Main" {
                        @for (href, label) in nav {
                            @if href == active {
                                a href=(href) aria-current="page" { (label) }
                            } @else {
                                a href=(href) { (label) }
                            }
                        }
                    }
                    @if active != "/search" {
                        form.quick method="get" action="/search" role="search" {
                            label.sr-only for="quick-q" { "Search events" }
                            input #quick-q type="search" name="q" placeholder="Search events (press /)";
                        }
                    }
                    form.logout method="post" action="/logout" {
                        span.who title=(format!("role: {}", caller.role.as_str())) {
                            (caller.name) " "
                            span.role { "(" (caller.role.as_str()) ")" }
                        }
                        input type="hidden" name="csrf" value=(caller.csrf.as_deref().unwrap_or(""));
                        button type="submit" { "Log out" }
                    }
                }
                main #main { (content) }
            }
        }
    }
}

/// A page that could not be shown: the status and the reason, in the page frame.
pub fn error_page(caller: &Caller, active: &str, title: &str, e: &ApiError) -> Response {
    html_response(
        e.status,
        layout(
            title,
            caller,
            active,
            html! {
                h1 { (title) }
                p.error role="alert" { (e.message) }
            },
        ),
    )
}

/// A time in UTC (`2024-05-01 14:03:22`), machine-readable for the script that puts the local
/// time in its title.
pub fn time_el(t: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            title=(format!("{} UTC", t.format("%Y-%m-%d %H:%M:%S"))) {
            (t.format("%Y-%m-%d %H:%M:%S"))
        }
    }
}

/// [`time_el`], or a dash.
pub fn opt_time_el(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        Some(t) => time_el(t),
        None => html! { span.muted { "—" } },
    }
}

/// A duration as people say it: `45m`, `3h 20m`, `2d 4h`.
pub fn duration_text(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    let (days, hours, mins) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m")
    } else {
        format!("{s}s")
    }
}

/// A severity as colour and text.
pub fn severity_badge(s: Severity) -> Markup {
    html! { span class=(format!("sev sev-{}", s.as_str())) { (s.as_str()) } }
}

/// A name as a label shows it: a directory DN (`CN=Oscar Wu,OU=Staff,…`) by its common name.
pub fn short_name(name: &str) -> String {
    if !privtrail_app::views::is_dn(name) {
        return name.to_owned();
    }
    let cn = &name.trim_start()[3..];
    // The first unescaped comma ends the common name.
    let mut out = String::new();
    let mut escaped = false;
    for c in cn.chars() {
        match c {
            ',' if !escaped => break,
            '\\' if !escaped => escaped = true,
            _ => {
                out.push(c);
                escaped = false;
            }
        }
    }
    if out.trim().is_empty() {
        name.to_owned()
    } else {
        out
    }
}

/// The label of a principal: its short display name when one is known, else its id.
pub fn principal_label(
    principal: &str,
    names: &std::collections::HashMap<String, String>,
) -> String {
    names
        .get(principal)
        .map_or_else(|| principal.to_owned(), |n| short_name(n))
}

/// A number with thousands separators.
pub fn fmt_n(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Percent-encodes `s` for a path segment or a query value (everything but unreserved
/// characters).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// A query string of the non-empty pairs (`?a=1&b=2`, or nothing).
pub fn qs(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(&enc(k));
        out.push('=');
        out.push_str(&enc(v));
    }
    out
}

/// The page of one principal, at one of its elevations when `elevation` is given.
pub fn principal_href(principal: &str, elevation: Option<&str>) -> String {
    match elevation {
        Some(id) => format!("/principals/{}#el-{}", enc(principal), enc(id)),
        None => format!("/principals/{}", enc(principal)),
    }
}

/// The page of one event.
pub fn event_href(id: &str) -> String {
    format!("/events/{}", enc(id))
}

/// A time typed into a form: RFC 3339, `2024-05-01 14:00[:00]` or `2024-05-01T14:00` (UTC, an
/// optional ` UTC` suffix), a date, or a duration before now (`24h`, `7d`). Empty: `None`.
pub fn parse_ui_time(
    what: &str,
    v: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(s) = v.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let s = s
        .strip_suffix("UTC")
        .or_else(|| s.strip_suffix("utc"))
        .map_or(s, str::trim_end);
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(Some(t.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(Some(t.and_utc()));
    }
    privtrail_app::time::parse_time(s, now)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// A time as a form field shows it (`2024-05-01 14:00:00`, UTC).
pub fn form_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Whether a checkbox or flag parameter is set.
pub fn flag(v: Option<&str>) -> bool {
    v.map(str::trim)
        .is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// A page for a logged-in caller, or the way to the login form.
pub fn page_or_login(caller: MaybeCaller, f: impl FnOnce(Caller) -> Response) -> Response {
    match caller.0 {
        Some(c) if c.role.can_read() => f(c),
        _ => Redirect::to("/login").into_response(),
    }
}

/// The logged-in reader of a page, or the redirect to the login form.
#[allow(clippy::result_large_err)]
pub fn reader(caller: MaybeCaller) -> Result<Caller, Response> {
    match caller.0 {
        Some(c) if c.role.can_read() => Ok(c),
        _ => Err(Redirect::to("/login").into_response()),
    }
}

fn login_page(message: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Log in · privtrail" }
                link rel="stylesheet" href="/assets/app.css";
            }
            body.login {
                main {
                    h1 { "privtrail" }
                    p { "Paste your API token (" code { "privtrail token show" } " prints the admin token)." }
                    @if let Some(m) = message { p.error role="alert" { (m) } }
                    form method="post" action="/login" {
                        label for="token" { "Token" }
                        input #token type="password" name="token" autocomplete="current-password" required autofocus;
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    }
}

async fn login_form() -> Response {
    html_response(StatusCode::OK, login_page(None))
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<ApiState>, Form(f): Form<LoginForm>) -> Response {
    match state.auth().login(&f.token) {
        Ok(Some(s)) => {
            let secure = if state.app().config().http.cert.is_some() {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}",
                s.id
            );
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => html_response(
            StatusCode::UNAUTHORIZED,
            login_page(Some(
                "That token is not valid here (or may only push events).",
            )),
        ),
        Err(e) => html_response(e.status, login_page(Some(&e.message))),
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<ApiState>,
    caller: MaybeCaller,
    headers: axum::http::HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(c) = caller.0 {
        if c.check_csrf(f.csrf.as_deref()).is_err() {
            return StatusCode::FORBIDDEN.into_response();
        }
        let id = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == SESSION_COOKIE)
            .map(|(_, v)| v.to_owned());
        if let Some(id) = id {
            state.auth().logout(&id);
        }
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "privtrail_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}

fn asset(ctype: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}
