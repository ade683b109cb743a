//! The reviewers' web UI (see `../shared/UI.md`): server-rendered HTML (maud escapes every value),
//! the timeline as SVG drawn by the server, one stylesheet and one small script, all embedded in
//! the binary. Pages need a UI session (the login form trades a token for an `HttpOnly`,
//! `SameSite=Strict` cookie); every form POST carries the session's CSRF token. Responses carry a
//! strict Content-Security-Policy: no inline script or style, nothing from elsewhere.

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::ApiState;
use crate::auth::{Caller, MaybeCaller, SESSION_COOKIE};

/// The stylesheet and the script, embedded.
const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");

/// What every UI response may load: only this origin, no inline code, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(overview))
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

/// The frame of every page: navigation, who is logged in, the page's content.
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
                header.top {
                    a.brand href="/" { "privtrail" }
                    nav {
                        @for (href, label) in nav {
                            @if href == active {
                                a href=(href) aria-current="page" { (label) }
                            } @else {
                                a href=(href) { (label) }
                            }
                        }
                    }
                    form.logout method="post" action="/logout" {
                        span.who title=(format!("role: {}", caller.role.as_str())) { (caller.name) }
                        input type="hidden" name="csrf" value=(caller.csrf.as_deref().unwrap_or(""));
                        button type="submit" { "Log out" }
                    }
                }
                main { (content) }
            }
        }
    }
}

/// A page for a logged-in caller, or the way to the login form.
pub fn page_or_login(caller: MaybeCaller, f: impl FnOnce(Caller) -> Response) -> Response {
    match caller.0 {
        Some(c) if c.role.can_read() => f(c),
        _ => Redirect::to("/login").into_response(),
    }
}

async fn overview(State(state): State<ApiState>, caller: MaybeCaller) -> Response {
    let Some(c) = caller.0.filter(|c| c.role.can_read()) else {
        return Redirect::to("/login").into_response();
    };
    let status = state.blocking(|app| Ok(app.status()?)).await;
    let content = match status {
        Ok(s) => html! {
            h1 { "Overview" }
            section.numbers {
                @for (sev, n) in &s.open_alerts {
                    a.number href=(format!("/alerts?status=open&severity={sev}")) {
                        span.n { (n) } span.label { "open " (sev) " alerts" }
                    }
                }
            }
        },
        Err(e) => html! { p.error { (e.message) } },
    };
    html_response(StatusCode::OK, layout("Overview", &c, "/", content))
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
