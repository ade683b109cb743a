//! The web UI, request by request (`oneshot`), over a store holding real events plus events whose
//! names are hostile: sessions and the login form, every page, the CSRF and role checks of the
//! alert forms, escaping, the security headers; and the timeline drawn over 100,000 elevations.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use privtrail_api::auth::SESSION_COOKIE;
use privtrail_api::ui::timeline::{self, Timeline, View};
use privtrail_api::{ApiState, router};
use privtrail_app::services::ElevationView;
use privtrail_app::tokens::{Role, Tokens};
use privtrail_app::types::{Action, Elevation, Event, EventId, Source};
use privtrail_app::{App, Config};
use tower::ServiceExt;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";
const MARKDOWN: &str = "[click](https://evil)";

fn data(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    assert!(p.exists(), "test data missing: {}", p.display());
    p.display().to_string()
}

struct Fixture {
    _dir: tempfile::TempDir,
    app: Arc<App>,
    state: ApiState,
    admin: String,
    reader: String,
    reviewer: String,
    ingest: String,
}

/// Events of a Windows host where a member with a hostile name was added to the local
/// Administrators two days ago (and never removed: overdue), by an actor named like a Markdown
/// link.
fn hostile_events(now: DateTime<Utc>) -> Vec<Event> {
    let mut add = Event::new(
        EventId::windows("evil-host", "Security", 9001),
        Source::Windows,
        Action::GroupMemberAdded,
        now - Duration::days(2),
        "4732",
    );
    add.host = Some("evil-host".into());
    add.actor = Some(MARKDOWN.into());
    add.target = Some(HOSTILE.into());
    add.target_name = Some(MARKDOWN.into());
    add.privilege = Some("Administrators".into());
    add.privilege_id = Some("S-1-5-32-544".into());
    add.justification = Some(format!("because {HOSTILE}"));
    add.message = format!("{HOSTILE} was added to Administrators by {MARKDOWN}");
    add.raw =
        serde_json::json!({ "TargetUserName": HOSTILE, "SubjectUserName": MARKDOWN }).to_string();
    let mut other = add.clone();
    other.id = EventId::windows("evil-host", "Security", 9002);
    other.time = now - Duration::hours(30);
    other.target = Some(MARKDOWN.into());
    other.target_name = Some(HOSTILE.into());
    other.actor = Some(HOSTILE.into());
    vec![add, other]
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse("[http]\nmax_body_bytes = 65536\n", |_| None).unwrap();
    let app = Arc::new(App::open_writer(&dir.path().join("data"), config, "test").unwrap());
    let files = [
        data("evtx/security.evtx"),
        data("evtx/ID104-1102-Event log cleared.evtx"),
    ];
    app.import(&files).unwrap();
    let now = Utc::now();
    let events = hostile_events(now);
    app.writer()
        .unwrap()
        .call(move |w| {
            w.write_batch(&events, &[])?;
            w.commit()
        })
        .unwrap()
        .unwrap();
    app.rules(now).unwrap();
    let tokens = Tokens::new(app.data_dir());
    let admin = tokens.ensure_admin().unwrap();
    let reader = tokens.add("alice", Role::Reader).unwrap();
    let reviewer = tokens.add("rita", Role::Reviewer).unwrap();
    let ingest = tokens.add("winlogbeat", Role::Ingest).unwrap();
    let state = ApiState::new(Arc::clone(&app));
    Fixture {
        _dir: dir,
        app,
        state,
        admin,
        reader,
        reviewer,
        ingest,
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(f: &Fixture, req: Request<Body>) -> Resp {
    let resp = router(f.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(f: &Fixture, uri: &str, session: Option<&str>) -> Resp {
    let mut req = Request::builder().method("GET").uri(uri);
    if let Some(s) = session {
        req = req.header(header::COOKIE, format!("{SESSION_COOKIE}={s}"));
    }
    send(f, req.body(Body::empty()).unwrap()).await
}

async fn post_form(f: &Fixture, uri: &str, session: Option<&str>, form: &str) -> Resp {
    let mut req = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(s) = session {
        req = req.header(header::COOKIE, format!("{SESSION_COOKIE}={s}"));
    }
    send(f, req.body(Body::from(form.to_owned())).unwrap()).await
}

/// Logs in through the form and returns the session cookie's value.
async fn login(f: &Fixture, token: &str) -> String {
    let r = post_form(f, "/login", None, &format!("token={}", enc(token))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/");
    let cookie = r
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains(token),
        "the token never goes into a cookie"
    );
    let (kv, _) = cookie.split_once(';').unwrap();
    let (k, v) = kv.split_once('=').unwrap();
    assert_eq!(k, SESSION_COOKIE);
    v.to_owned()
}

fn enc(s: &str) -> String {
    privtrail_api::ui::enc(s)
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..page[at..].find('"').unwrap() + at].to_owned()
}

fn assert_html(r: &Resp, status: StatusCode, needles: &[&str]) {
    assert_eq!(r.status, status, "{}", r.body);
    let csp = r
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .expect("a Content-Security-Policy")
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for n in needles {
        assert!(r.body.contains(n), "no {n:?} in:\n{}", r.body);
    }
    // What the CSP would block (and what a page must not need): checked on the elements, since
    // escaped text may say anything.
    for tag in tags(&r.body) {
        let lower = tag.to_lowercase();
        let name = lower.split_whitespace().next().unwrap_or("");
        assert!(name != "style", "a style element: {tag}");
        assert!(
            name != "script" || lower.contains(" src=\"/assets/"),
            "an inline script: {tag}"
        );
        for attr in attributes(&lower) {
            assert!(attr != "style", "an inline style: {tag}");
            assert!(!attr.starts_with("on"), "an event handler attribute: {tag}");
            assert!(
                !attr.contains("href") || !lower.contains("javascript:"),
                "{tag}"
            );
        }
    }
}

/// The start tags of an HTML page (maud escapes `<` and `>` in text and attribute values, so each
/// real tag is a `<`…`>` pair).
fn tags(html: &str) -> Vec<&str> {
    html.split('<')
        .skip(1)
        .filter(|t| !t.starts_with('/') && !t.starts_with('!'))
        .filter_map(|t| t.split_once('>').map(|(tag, _)| tag))
        .collect()
}

/// The attribute names of a start tag (values are quoted and hold no quotes).
fn attributes(tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = tag.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return out;
        }
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        out.push(rest[..end].to_owned());
        rest = &rest[end..];
        if let Some(r) = rest.strip_prefix("=\"") {
            rest = r.split_once('"').map_or("", |(_, r)| r);
        }
    }
}

#[tokio::test]
async fn pages_need_a_session_and_the_login_form_makes_one() {
    let f = fixture();
    for uri in [
        "/",
        "/elevations",
        "/search?q=*",
        "/alerts",
        "/alerts/x",
        "/principals/x",
        "/events/x",
    ] {
        let r = get(&f, uri, None).await;
        assert!(r.status.is_redirection(), "{uri}: {}", r.status);
        assert_eq!(r.location(), "/login", "{uri}");
        let r = get(&f, uri, Some("not-a-session")).await;
        assert_eq!(r.location(), "/login", "{uri}");
    }
    let r = get(&f, "/login", None).await;
    assert_html(&r, StatusCode::OK, &["name=\"token\"", "type=\"password\""]);
    // A wrong token, and a token that may only push events: no session.
    for bad in ["pt_wrong", f.ingest.as_str()] {
        let r = post_form(&f, "/login", None, &format!("token={}", enc(bad))).await;
        assert_html(&r, StatusCode::UNAUTHORIZED, &["not valid here"]);
        assert!(r.headers.get(header::SET_COOKIE).is_none());
    }
    let s = login(&f, &f.reader).await;
    let r = get(&f, "/", Some(&s)).await;
    assert_html(&r, StatusCode::OK, &["Overview", "alice", "(reader)"]);
    // Log out: the session is gone.
    let csrf = csrf_of(&r.body);
    let r = post_form(&f, "/logout", Some(&s), "csrf=wrong").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(&f, "/logout", Some(&s), &format!("csrf={csrf}")).await;
    assert_eq!(r.location(), "/login");
    let r = get(&f, "/", Some(&s)).await;
    assert_eq!(r.location(), "/login");
    // Assets are public and cached; they hold no inline-code workarounds.
    let r = get(&f, "/assets/app.css", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("pattern") || r.body.contains(".swatch.standing"));
    let r = get(&f, "/assets/app.js", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("eval("));
}

#[tokio::test]
async fn every_page_renders_with_its_answers() {
    let f = fixture();
    let s = login(&f, &f.admin).await;

    let r = get(&f, "/", Some(&s)).await;
    assert_html(
        &r,
        StatusCode::OK,
        &[
            "alerts open",
            "elevations overdue now",
            "standing access now",
            "collectors not healthy",
            "href=\"/elevations?overdue=1\"",
            "Newest open alerts",
            "Events per day",
            "<svg",
        ],
    );
    let r = get(&f, "/?from=2024-05-10&to=2024-05-01", Some(&s)).await;
    assert_html(&r, StatusCode::BAD_REQUEST, &["from"]);

    // Timeline: rows, spans linking to the principal page at the elevation, the hatch pattern,
    // the overdue part in red, the paging and filters kept in the URL.
    let r = get(&f, "/elevations", Some(&s)).await;
    assert_html(
        &r,
        StatusCode::OK,
        &[
            "<svg",
            "<pattern id=\"hatch\"",
            "class=\"late\"",
            "href=\"/principals/",
            "#el-",
            "name=\"at\"",
            "evil-host",
        ],
    );
    let r = get(
        &f,
        "/elevations?group=privilege&source=windows&overdue=1",
        Some(&s),
    )
    .await;
    assert_html(&r, StatusCode::OK, &["Administrators", "selected"]);
    let r = get(&f, "/elevations?source=entra", Some(&s)).await;
    assert_html(&r, StatusCode::OK, &["No elevation in this range"]);
    let at = (Utc::now() - Duration::hours(1))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let r = get(
        &f,
        &format!("/elevations?scope=evil&at={}", enc(&at)),
        Some(&s),
    )
    .await;
    assert_html(
        &r,
        StatusCode::OK,
        &["class=\"at-line\"", "Held at", "2 elevations", "evil-host"],
    );
    let r = get(&f, "/elevations?at=2001-01-01", Some(&s)).await;
    assert_html(&r, StatusCode::OK, &["Nobody held"]);
    let r = get(&f, "/elevations?at=yesterday-ish", Some(&s)).await;
    assert_html(&r, StatusCode::BAD_REQUEST, &["at: invalid time"]);

    // A principal from the real events: its elevations and the events behind them.
    let list = f.app.elevations(&Default::default(), Utc::now()).unwrap();
    let real = list
        .iter()
        .find(|v| v.elevation.host.as_deref() != Some("evil-host"))
        .expect("an elevation in security.evtx");
    let r = get(
        &f,
        &format!("/principals/{}", enc(&real.elevation.principal)),
        Some(&s),
    )
    .await;
    assert_html(
        &r,
        StatusCode::OK,
        &[
            "Identity",
            "Elevations",
            &format!("id=\"el-{}\"", real.elevation.id),
            &format!("/events/{}", real.elevation.opened_by.as_str()),
            &real.elevation.privilege,
            "Alerts about",
        ],
    );
    let r = get(&f, "/principals/nobody%40nowhere", Some(&s)).await;
    assert_html(
        &r,
        StatusCode::OK,
        &["No elevation recorded for nobody@nowhere"],
    );

    // Search: the cheat sheet, the table, the export link, the next page by cursor.
    let r = get(&f, "/search?q=event_code%3A4732", Some(&s)).await;
    assert_html(
        &r,
        StatusCode::OK,
        &[
            "target:*1001",
            "AND",
            "href=\"/events/",
            "/api/v1/export?format=csv&amp;q=event_code%3A4732",
            "Export CSV",
        ],
    );
    let r = get(&f, "/search", Some(&s)).await;
    assert_html(&r, StatusCode::OK, &["Next page", "cursor="]);
    let cursor_link = r
        .body
        .split("href=\"/search?")
        .find(|p| p.contains("cursor="))
        .unwrap();
    let next =
        format!("/search?{}", &cursor_link[..cursor_link.find('"').unwrap()]).replace("&amp;", "&");
    let r2 = get(&f, &next, Some(&s)).await;
    assert_html(&r2, StatusCode::OK, &["First page"]);
    assert_ne!(r.body, r2.body);
    // A malformed query: the reason on the page, 400.
    let r = get(&f, "/search?q=action%3A(group.member.added", Some(&s)).await;
    assert_html(
        &r,
        StatusCode::BAD_REQUEST,
        &["The search failed", "syntax error", "name=\"q\""],
    );
    let r = get(&f, "/search?q=*&since=someday", Some(&s)).await;
    assert_html(&r, StatusCode::BAD_REQUEST, &["since"]);

    // The event page: normalized fields and the raw record, pretty-printed.
    let id = real.elevation.opened_by.as_str();
    let r = get(&f, &format!("/events/{}", enc(id)), Some(&s)).await;
    assert_html(
        &r,
        StatusCode::OK,
        &["Normalized fields", "<pre class=\"raw\">", "\n  &quot;", id],
    );
    let r = get(&f, "/events/nope", Some(&s)).await;
    assert_html(&r, StatusCode::NOT_FOUND, &["no event with id"]);

    // Alerts: the list with its filters, one alert with its evidence.
    let r = get(&f, "/alerts?status=all", Some(&s)).await;
    assert_html(
        &r,
        StatusCode::OK,
        &["audit-tampering", "class=\"sev sev-critical\"", "critical"],
    );
    let r = get(&f, "/alerts?status=active&severity=critical", Some(&s)).await;
    assert_html(&r, StatusCode::OK, &["audit-tampering"]);
    assert!(!r.body.contains("overdue-elevation</td>"));
    let r = get(&f, "/alerts?status=bogus", Some(&s)).await;
    assert_html(&r, StatusCode::BAD_REQUEST, &["status"]);
    let alerts = f.app.alerts(None).unwrap();
    let a = alerts.iter().find(|a| a.rule == "audit-tampering").unwrap();
    let r = get(&f, &format!("/alerts/{}", a.id), Some(&s)).await;
    assert_html(
        &r,
        StatusCode::OK,
        &["Evidence", "History", "href=\"/events/", "Acknowledge"],
    );
    let r = get(&f, "/alerts/nope", Some(&s)).await;
    assert_html(&r, StatusCode::NOT_FOUND, &["no alert"]);
}

#[tokio::test]
async fn alert_forms_check_the_role_and_the_csrf_token() {
    let f = fixture();
    let alerts = f.app.alerts(None).unwrap();
    let a = alerts
        .iter()
        .find(|a| a.status.as_str() == "open")
        .unwrap()
        .clone();
    let page = format!("/alerts/{}", a.id);
    let ack = format!("/alerts/{}/ack", a.id);

    // A reader sees no form, and may not post one even with its own token.
    let reader = login(&f, &f.reader).await;
    let r = get(&f, &page, Some(&reader)).await;
    assert_html(&r, StatusCode::OK, &["may read alerts"]);
    assert!(!r.body.contains(&ack));
    let csrf = csrf_of(&r.body);
    let r = post_form(&f, &ack, Some(&reader), &format!("csrf={csrf}&note=x")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // A reviewer: without, or with another session's, CSRF token: 403; nothing changes.
    let reviewer = login(&f, &f.reviewer).await;
    let r = get(&f, &page, Some(&reviewer)).await;
    assert_html(&r, StatusCode::OK, &[&ack, "name=\"note\"", "<textarea"]);
    let csrf = csrf_of(&r.body);
    let r = post_form(&f, &ack, Some(&reviewer), "note=no+token").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let other = csrf_of(&get(&f, &page, Some(&reader)).await.body);
    let r = post_form(&f, &ack, Some(&reviewer), &format!("csrf={other}&note=x")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(f.app.alert(&a.id).unwrap().unwrap().status.as_str(), "open");
    // No session at all: to the login form.
    let r = post_form(&f, &ack, None, &format!("csrf={csrf}&note=x")).await;
    assert_eq!(r.location(), "/login");

    // With the token: acknowledged, back to the alert, the note and the name in its history.
    let note = format!("called the owner {HOSTILE}");
    let r = post_form(
        &f,
        &ack,
        Some(&reviewer),
        &format!("csrf={csrf}&note={}", enc(&note)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), page);
    let r = get(&f, &page, Some(&reviewer)).await;
    assert_html(
        &r,
        StatusCode::OK,
        &[
            "rita",
            "acknowledged",
            "called the owner &lt;img src=x onerror=alert(1)&gt;",
        ],
    );
    assert!(!r.body.contains(HOSTILE));
    let stored = f.app.alert(&a.id).unwrap().unwrap();
    assert_eq!(stored.history[0].by, "rita");
    assert_eq!(stored.history[0].note.as_deref(), Some(note.as_str()));

    // Resolve, then try again: the alert as it is, with the reason.
    let resolve = format!("/alerts/{}/resolve", a.id);
    let r = post_form(
        &f,
        &resolve,
        Some(&reviewer),
        &format!("csrf={csrf}&note=done"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = post_form(
        &f,
        &resolve,
        Some(&reviewer),
        &format!("csrf={csrf}&note=again"),
    )
    .await;
    assert_html(&r, StatusCode::CONFLICT, &["already resolved"]);
    let long = "x".repeat(4001);
    let r = post_form(
        &f,
        &ack,
        Some(&reviewer),
        &format!("csrf={csrf}&note={long}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn hostile_names_render_as_text_everywhere() {
    let f = fixture();
    let s = login(&f, &f.admin).await;
    let principal = HOSTILE.to_lowercase();
    let alerts = f.app.alerts(None).unwrap();
    let hostile_alert = alerts
        .iter()
        .find(|a| a.principal.as_deref() == Some(principal.as_str()))
        .expect("an alert about the hostile principal");
    let ids: Vec<String> = hostile_events(Utc::now())
        .iter()
        .map(|e| e.id.as_str().to_owned())
        .collect();
    let pages = [
        "/".to_owned(),
        "/elevations?scope=evil-host".to_owned(),
        format!(
            "/elevations?scope=evil-host&at={}",
            enc(&(Utc::now() - Duration::hours(1)).to_rfc3339())
        ),
        "/elevations?group=privilege&scope=evil-host".to_owned(),
        format!("/principals/{}", enc(&principal)),
        format!("/principals/{}", enc(&MARKDOWN.to_lowercase())),
        "/search?q=host%3Aevil-host".to_owned(),
        format!("/search?q={}", enc("<script>alert(1)</script>")),
        format!("/events/{}", ids[0]),
        format!("/events/{}", ids[1]),
        "/alerts?status=all".to_owned(),
        format!("/alerts/{}", hostile_alert.id),
    ];
    let mut seen_escaped = 0;
    for uri in &pages {
        let r = get(&f, uri, Some(&s)).await;
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::BAD_REQUEST,
            "{uri}: {}",
            r.status
        );
        assert_html(&r, r.status, &[]);
        assert!(
            !r.body.contains("<img"),
            "{uri}: an img element:\n{}",
            r.body
        );
        assert!(!r.body.contains("<script>"), "{uri}");
        assert!(
            !r.body.contains("href=\"https://evil"),
            "{uri}: a link to evil"
        );
        if r.body.contains("&lt;img src=x onerror=alert(1)&gt;") {
            seen_escaped += 1;
        }
    }
    assert!(
        seen_escaped >= 8,
        "the hostile name shows, as text, on most pages ({seen_escaped})"
    );
    // A principal whose id holds `/` and brackets: its page, by the percent-encoded path.
    let r = get(
        &f,
        &format!("/principals/{}", enc(&MARKDOWN.to_lowercase())),
        Some(&s),
    )
    .await;
    assert_html(
        &r,
        StatusCode::OK,
        &["evil-host", "Administrators", "id=\"el-"],
    );
    // The principal page names it as it was recorded, Markdown untouched.
    let r = get(&f, &format!("/principals/{}", enc(&principal)), Some(&s)).await;
    assert!(r.body.contains(MARKDOWN), "{}", r.body);
    assert!(
        r.body
            .contains("because &lt;img src=x onerror=alert(1)&gt;")
    );
}

/// Synthetic elevations: `n` over 1,000 principals and 90 days; some open, some overdue, some
/// standing.
fn synthetic(n: usize, now: DateTime<Utc>) -> Vec<ElevationView> {
    (0..n)
        .map(|i| {
            let start = now - Duration::minutes(1 + ((i * 7919) % (90 * 24 * 60)) as i64);
            let open = i % 17 == 0;
            let standing = i % 101 == 0;
            let t = |x: DateTime<Utc>| x.to_rfc3339();
            let privilege = ["Global Administrator", "Administrators", "Exchange Administrator"][i % 3];
            let e: Elevation = serde_json::from_value(serde_json::json!({
                "id": format!("{i:032x}"),
                "principal": format!("user{:04}@contoso.com", i % 1000),
                "privilege": privilege,
                "privilege_id": null,
                "scope": format!("host{}", i % 50),
                "kind": "membership",
                "source": "windows",
                "tenant": null,
                "host": format!("host{}", i % 50),
                "started_at": t(start),
                "expected_end": (!standing).then(|| t(start + Duration::hours(8))),
                "ended_at": (!open).then(|| t(start + Duration::hours(if i % 5 == 0 { 11 } else { 2 }))),
                "end_reason": null,
                "opened_by": format!("{i:x}"),
                "closed_by": null,
                "via_pim": null,
            }))
            .unwrap();
            let overdue = e.is_overdue(now, Duration::minutes(15));
            ElevationView {
                elevation: e,
                overdue,
            }
        })
        .collect()
}

/// How long the timeline takes to draw a page over 100,000 elevations (printed, not asserted:
/// performance is measured, not asserted by timed tests). The page holds 50 rows.
#[test]
fn timeline_draws_a_page_of_100k_elevations() {
    let now = Utc::now();
    let views = synthetic(100_000, now);
    let view = View {
        from: now - Duration::days(90),
        to: now,
        at: Some(now - Duration::days(3)),
        now,
        by_privilege: false,
        page: 3,
        grace: Duration::minutes(15),
    };
    let started = std::time::Instant::now();
    let t = Timeline::build(&views, &view);
    let svg = timeline::chart(&t, &view, &Default::default()).into_string();
    let took = started.elapsed();
    println!(
        "timeline: 100,000 elevations, {} rows, page of {} rows: {} bytes of SVG in {:.1} ms ({} held at T)",
        t.total_rows,
        t.rows.len(),
        svg.len(),
        took.as_secs_f64() * 1000.0,
        t.held.len()
    );
    assert_eq!(t.total_rows, 1000);
    assert_eq!(t.rows.len(), timeline::ROWS_PER_PAGE);
    assert_eq!(t.total_spans, 100_000);
    assert!(svg.contains("class=\"at-line\""));
    assert!(svg.contains("class=\"late\""));
    assert!(svg.contains("fill=\"url(#hatch)\""));
    assert_eq!(
        t.held.len(),
        views
            .iter()
            .filter(|v| v.elevation.held_at(now - Duration::days(3)))
            .count()
    );
    // Per privilege: three rows.
    let by = View {
        by_privilege: true,
        page: 0,
        ..view
    };
    let t = Timeline::build(&views, &by);
    assert_eq!(t.total_rows, 3);
    let started = std::time::Instant::now();
    let svg = timeline::chart(&t, &by, &Default::default()).into_string();
    println!(
        "timeline per privilege: 3 rows of ~33,000 elevations: {} bytes of SVG in {:.1} ms",
        svg.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert!(svg.len() < 5_000_000, "coalesced spans keep the SVG small");
}

/// The whole timeline page (load, filter, group, draw) over 100,000 stored elevations, through the
/// router: the time is printed, not asserted.
#[tokio::test]
async fn timeline_page_over_100k_stored_elevations() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse("", |_| None).unwrap();
    let app = Arc::new(App::open_writer(&dir.path().join("data"), config, "test").unwrap());
    let now = Utc::now();
    let rows: Vec<privtrail_store::ElevationRow> = synthetic(100_000, now)
        .into_iter()
        .map(|v| {
            let e = v.elevation;
            privtrail_store::ElevationRow {
                body: serde_json::to_string(&e).unwrap(),
                id: e.id,
                principal: e.principal,
                privilege: e.privilege,
                scope: e.scope,
                started_at: e.started_at,
                ended_at: e.ended_at,
                expected_end: e.expected_end,
            }
        })
        .collect();
    app.writer()
        .unwrap()
        .call(move |w| w.replace_elevations(&rows))
        .unwrap()
        .unwrap();
    let admin = Tokens::new(app.data_dir()).ensure_admin().unwrap();
    let f = Fixture {
        state: ApiState::new(Arc::clone(&app)),
        _dir: dir,
        app,
        reader: admin.clone(),
        reviewer: admin.clone(),
        ingest: admin.clone(),
        admin,
    };
    let started = std::time::Instant::now();
    let loaded = f.app.elevations(&Default::default(), now).unwrap().len();
    println!(
        "loading {loaded} stored elevations (SQLite, JSON, overdue state): {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let s = login(&f, &f.admin).await;
    let at = enc(&form_time(now - Duration::days(3)));
    for uri in [
        "/elevations".to_owned(),
        format!("/elevations?from=90d&to=0s&at={at}&page=7"),
        "/elevations?group=privilege&overdue=1".to_owned(),
    ] {
        let started = std::time::Instant::now();
        let r = get(&f, &uri, Some(&s)).await;
        let took = started.elapsed();
        assert_html(&r, StatusCode::OK, &["<svg", "Timeline of elevations"]);
        println!(
            "GET {uri} over 100,000 stored elevations: {} bytes in {:.0} ms",
            r.body.len(),
            took.as_secs_f64() * 1000.0
        );
    }
}

fn form_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}
