//! The web UI in a real browser: headless Chromium driven through WebDriver (chromedriver,
//! fantoccini) over the demo's store served by `privtrail run`. The reviewer's path: log in with
//! the token, the overview, an overdue elevation and its principal, a search and one event, the
//! timeline at a picked moment, an alert acknowledged with a note that then shows in its history.
//! Every page is saved as a PNG under `target/ui-screenshots/` and checked for horizontal
//! overflow at 1366×768.
//!
//! CI installs Chromium (`.ci/run`) and sets `PRIVTRAIL_REQUIRE_SERVICES=1`, which turns a missing
//! browser into a failure instead of a skip. Every wait is bounded; the processes this test starts
//! are killed when it ends, panics included.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{Daemon, wait_until};
use common::services::free_port;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long one browser step may take.
const STEP: Duration = Duration::from_secs(45);

/// Whether Chromium and chromedriver are installed; panics when they are required but missing.
fn browser_available() -> bool {
    let ok = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !ok {
        let required = std::env::var("PRIVTRAIL_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{CHROMIUM} and {CHROMEDRIVER} are required by PRIVTRAIL_REQUIRE_SERVICES=1 \
             (apt-get install chromium chromium-driver, as .ci/run does)"
        );
        eprintln!(
            "skipping: {CHROMIUM} or {CHROMEDRIVER} missing (install chromium chromium-driver as .ci/run does)"
        );
    }
    ok
}

/// A child process killed when dropped (panics included).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a command to its end within `limit` (killed past it); stdout, stderr and success.
fn run_bounded(cmd: &mut Command, limit: Duration) -> (String, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (o, e) = (read(&out), read(&err));
    assert!(
        status.is_some(),
        "{cmd:?} did not end within {limit:?}:\n{o}\n{e}"
    );
    (o, e, status.is_some_and(|s| s.success()))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_privtrail"));
    c.env_remove("PRIVTRAIL_CONFIG")
        .env_remove("PRIVTRAIL_DATA_DIR");
    c
}

/// The URL in the daemon's `web UI and API listening` log line (JSON lines).
fn listening_url(log: &str) -> Option<String> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .or(v["message"].as_str())
                .is_some_and(|m| m.contains("web UI and API listening"))
        })
        .and_then(|v| {
            v["fields"]["url"]
                .as_str()
                .or(v["url"].as_str())
                .map(str::to_owned)
        })
}

fn screenshots_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A browser step, bounded.
async fn step<T, E: std::fmt::Debug>(what: &str, f: impl Future<Output = Result<T, E>>) -> T {
    match tokio::time::timeout(STEP, f).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{what}: {e:?}"),
        Err(_) => panic!("{what}: no answer within {STEP:?}"),
    }
}

struct Browser {
    c: Client,
    base: String,
    shots: PathBuf,
}

impl Browser {
    async fn goto(&self, path: &str) {
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        step(&format!("open {url}"), self.c.goto(&url)).await;
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        step(
            &format!("find {css}"),
            self.c.wait().at_most(STEP).for_element(Locator::Css(css)),
        )
        .await
    }

    async fn find_all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        step(
            &format!("find all {css}"),
            self.c.find_all(Locator::Css(css)),
        )
        .await
    }

    async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        step(&format!("text of {css}"), e.text()).await
    }

    async fn path(&self) -> String {
        let u = step("current url", self.c.current_url()).await;
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    async fn js(&self, script: &str) -> Value {
        step("script", self.c.execute(script, vec![])).await
    }

    /// Saves the viewport as `NAME.png` and checks that the page needs no horizontal scrolling
    /// and loaded its stylesheet and script.
    async fn shot(&self, name: &str) {
        let png = step("screenshot", self.c.screenshot()).await;
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let file = self.shots.join(format!("{name}.png"));
        std::fs::write(&file, png).unwrap();
        eprintln!("screenshot: {}", file.display());
        let fits = self
            .js("return [document.documentElement.scrollWidth, window.innerWidth];")
            .await;
        let (scroll, inner) = (fits[0].as_u64().unwrap(), fits[1].as_u64().unwrap());
        assert!(
            scroll <= inner,
            "{name}: the page is {scroll}px wide in a {inner}px window (horizontal scrolling)"
        );
        // The stylesheet applied (the CSP let it load) and the script ran.
        let styled = self
            .js("return getComputedStyle(document.body).fontSize;")
            .await;
        assert_eq!(styled, json!("14px"), "{name}: app.css not applied");
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        step(&format!("click {css}"), e.click()).await;
    }

    /// Waits until the path starts with `prefix` (`/` alone must be the whole path: every path
    /// starts with it, so the login page would pass for the overview).
    async fn wait_path(&self, prefix: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let p = self.path().await;
            if (prefix == "/" && p == "/") || (prefix != "/" && p.starts_with(prefix)) {
                return p;
            }
            assert!(Instant::now() < deadline, "never reached {prefix}: at {p}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for a URL holding `part`: after a form on a page of the same path, the old URL
    /// already starts like the new one.
    async fn wait_url_has(&self, part: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let p = self.path().await;
            if p.contains(part) {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "never reached a URL with {part}: at {p}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[test]
fn reviewer_path_through_the_web_ui() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The demo's store: a simulated estate and tenant, collected, judged.
    let (out, err, ok) = run_bounded(
        bin()
            .args(["demo", "--no-serve", "--data-dir"])
            .arg(&data)
            .env("TMPDIR", dir.path()),
        Duration::from_secs(600),
    );
    assert!(ok, "demo failed:\n{out}\n{err}");

    // The daemon serving the UI on a free port of 127.0.0.1.
    let config = dir.path().join("privtrail.toml");
    std::fs::write(&config, "[http]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let daemon = Daemon::spawn(&data, &config, &dir.path().join("daemon.log"), &[]);
    let mut url = None;
    let found = wait_until(Duration::from_secs(60), || {
        url = listening_url(&daemon.log_text());
        url.is_some()
    });
    assert!(
        found,
        "no `web UI and API listening` line in the daemon's log:\n{}",
        daemon.log_text()
    );
    let base = url.unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let (token, err, ok) = run_bounded(
        bin().arg("--data-dir").arg(&data).args(["token", "show"]),
        Duration::from_secs(60),
    );
    assert!(ok, "token show: {err}");
    let token = token.trim().to_owned();

    // chromedriver on a free port of 127.0.0.1, its log beside the data.
    let port = free_port();
    let driver_log = std::fs::File::create(dir.path().join("chromedriver.log")).unwrap();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(driver_log.try_clone().unwrap())
        .stderr(driver_log)
        .spawn()
        .unwrap();
    let _driver = Killed(driver);
    let up = wait_until(Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "chromedriver did not listen on 127.0.0.1:{port}");

    let profile = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=1366,768"
                ]
            }),
        );
        let builder = ClientBuilder::rustls()
            .expect("rustls for the WebDriver client")
            .capabilities(caps)
            .clone();
        let c = step(
            "start a Chromium session",
            builder.connect(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        let b = Browser {
            c,
            base,
            shots: screenshots_dir(),
        };
        let result = tokio::time::timeout(Duration::from_secs(300), reviewer_path(&b, &token)).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), b.c.clone().close()).await;
        result.expect("the reviewer's path took longer than 5 minutes");
    });
    drop(daemon);
}

async fn reviewer_path(b: &Browser, token: &str) {
    // Pages need a session: the login form, then the overview.
    b.goto("/elevations").await;
    assert_eq!(b.wait_path("/login").await, "/login");
    b.shot("00-login").await;
    let field = b.find("#token").await;
    step("type the token", field.send_keys(token)).await;
    b.click("button[type=submit]").await;
    assert_eq!(b.wait_path("/").await, "/");
    let h1 = b.text("main h1").await;
    assert_eq!(h1, "Overview");
    let numbers = b.text("section.numbers").await;
    assert!(numbers.contains("elevations overdue now"), "{numbers}");
    // Local time on hover: the script put it in the title.
    let title = b
        .js("var t = document.querySelector('time'); return t ? t.title : 'none';")
        .await;
    assert!(
        title
            .as_str()
            .is_some_and(|t| t == "none" || t.contains("UTC)")),
        "{title}"
    );
    // "/" focuses the search box.
    let body = b.find("body").await;
    step("press /", body.send_keys("/")).await;
    let focused = b
        .js("return document.activeElement && document.activeElement.name;")
        .await;
    assert_eq!(focused, json!("q"), "/ focuses the search box");
    b.shot("01-overview").await;
    // Events per day per source: bars that link to that day's events.
    let bars = b.find_all("svg.perday a rect.bar").await;
    assert!(!bars.is_empty(), "events per day on the overview");
    b.js("document.querySelector('svg.perday').scrollIntoView(); return null;")
        .await;
    b.shot("01b-overview-per-day").await;

    // An overdue elevation from the overview (an Entra activation when there is one: it carries a
    // justification), else from the timeline's overdue filter.
    let overdue = b
        .find_all("section.col table.list a[href^='/principals/']")
        .await;
    let mut hrefs = Vec::new();
    for a in &overdue {
        hrefs.push(step("overdue link", a.attr("href")).await.unwrap());
    }
    let target = match hrefs
        .iter()
        .position(|h| h.contains("%40"))
        .or((!hrefs.is_empty()).then_some(0))
    {
        Some(i) => {
            step("open the overdue elevation", overdue[i].click()).await;
            hrefs[i].clone()
        }
        None => {
            b.goto("/elevations?overdue=1").await;
            let spans = b.find_all("svg.timeline a.span").await;
            assert!(!spans.is_empty(), "the demo has an overdue elevation");
            let href = step("span link", spans[0].attr("href")).await.unwrap();
            b.goto(&href).await;
            href
        }
    };
    assert!(target.contains("#el-"), "{target}");
    b.wait_path("/principals/").await;
    let anchor = target.split('#').nth(1).unwrap().to_owned();
    let row = b.text(&format!("tr[id='{anchor}']")).await;
    assert!(row.contains("OVERDUE"), "the elevation is overdue: {row}");
    let justification = b.text(&format!("tr[id='{anchor}'] td.just")).await;
    assert!(!justification.is_empty());
    eprintln!("overdue elevation: {row:?}\njustification: {justification}");
    let targeted = b
        .js("var t = document.querySelector('tr:target'); return t ? t.id : null;")
        .await;
    assert_eq!(targeted, json!(anchor), "the page opens at that elevation");
    assert!(b.text("main").await.contains("Identity"));
    // Its alert, to acknowledge later.
    let mut its_alert = None;
    for a in b
        .find_all("main section table.list a[href^='/alerts/']")
        .await
    {
        let row = step("alert row", a.text()).await;
        if row.contains("expected end") {
            its_alert = step("alert link", a.attr("href")).await;
        }
    }
    b.shot("02-principal").await;

    // A search, then one event.
    b.goto("/search").await;
    let q = b.find("#q").await;
    step("type a query", q.send_keys("action:role.activated")).await;
    b.click("form.searchbar button[type=submit]").await;
    b.wait_path("/search?q=").await;
    let rows = b.find_all("table.events tbody tr").await;
    assert!(!rows.is_empty(), "the demo has activations");
    let export = b.find("a.button").await;
    let href = step("export link", export.attr("href")).await.unwrap();
    assert!(
        href.starts_with("/api/v1/export?format=csv&q=action%3Arole.activated"),
        "{href}"
    );
    b.shot("03-search").await;
    b.click("table.events tbody tr td.t a").await;
    b.wait_path("/events/").await;
    assert_eq!(b.text("main h1").await, "role.activated");
    let raw = b.text("pre.raw").await;
    assert!(
        raw.starts_with('{') && raw.contains("\n  \""),
        "pretty raw record: {raw}"
    );
    b.shot("04-event").await;

    // A malformed query: the reason on the page.
    b.goto("/search?q=action%3A(group").await;
    assert!(b.text("main").await.contains("The search failed"));

    // The timeline, then who held what at a picked moment.
    b.goto("/elevations").await;
    b.find("svg.timeline").await;
    let spans = b.find_all("svg.timeline a.span").await;
    assert!(!spans.is_empty(), "spans on the timeline");
    b.shot("05-timeline").await;
    let at = (chrono::Utc::now() - chrono::Duration::hours(2))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let field = b.find("#f-at").await;
    step("type T", field.send_keys(&at)).await;
    b.click("form.filters button[type=submit]").await;
    b.wait_url_has(&format!("at={}", &at[..10])).await;
    assert!(
        b.path().await.starts_with("/elevations?"),
        "T is kept in the URL"
    );
    b.find("svg.timeline line.at-line").await;
    let held = b.text("#held h2").await;
    assert!(held.starts_with("Held at"), "{held}");
    let listed = b.find_all("#held table tbody tr").await;
    eprintln!("{held}: {} rows", listed.len());
    b.shot("06-timeline-at").await;
    // Per privilege.
    let sel = b.find("#f-group").await;
    step("per privilege", sel.select_by_value("privilege")).await;
    b.click("form.filters button[type=submit]").await;
    let p = b.wait_url_has("group=privilege").await;
    assert!(p.starts_with("/elevations?"), "{p}");
    b.shot("07-timeline-privilege").await;

    // Alerts: the overdue elevation's alert (else the first open one), acknowledged with a note;
    // the acknowledgement is then in its history, by name and note.
    b.goto("/alerts?status=open").await;
    b.shot("08-alerts").await;
    match &its_alert {
        Some(href) => b.goto(href).await,
        None => b.click("table.alerts tbody tr td a").await,
    }
    let alert_path = b.wait_path("/alerts/").await;
    eprintln!(
        "acknowledging {alert_path} (the overdue elevation's: {})",
        its_alert.is_some()
    );
    let note = "Checked with the owner: approved change CHG-4711 (browser test)";
    let field = b.find("#ack-note").await;
    step("type the note", field.send_keys(note)).await;
    b.click("form.act button[type=submit]").await;
    let deadline = Instant::now() + STEP;
    loop {
        // Read in one script: the page may be replaced between finding and reading an element.
        let history = b
            .js("const h = document.querySelector('ol.history'); return h ? h.innerText : '';")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if history.contains(note) {
            assert!(history.contains("admin acknowledged it"), "{history}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no acknowledgement in the history: {history}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(b.path().await, alert_path, "back on the alert");
    assert!(b.text("main .page-head").await.contains("acknowledged"));
    b.shot("09-alert-acknowledged").await;

    // The demo proposes remediation of every overdue elevation (`[remediation] mode =
    // "propose"`): the alert shows the action; the reviewer rejects it with a note.
    assert!(
        its_alert.is_some(),
        "the principal's page lists its overdue elevation's alert"
    );
    {
        let section = b.text("section.remediation").await;
        assert!(section.contains("Remediation: proposed"), "{section}");
        assert!(
            section.contains("Remove-LocalGroupMember") || section.contains("adminRemove"),
            "{section}"
        );
        b.js("document.querySelector('section.remediation').scrollIntoView()")
            .await;
        b.shot("10-alert-remediation-proposed").await;
        let why = "Owner still needs it for the migration (browser test)";
        let field = b.find("#reject-note").await;
        step("type the reason", field.send_keys(why)).await;
        b.click("section.remediation form.act:last-of-type button[type=submit]")
            .await;
        let deadline = Instant::now() + STEP;
        loop {
            let section = b
                .js("const s = document.querySelector('section.remediation'); return s ? s.innerText : '';")
                .await
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if section.contains("Remediation: rejected") {
                assert!(
                    section.contains(why) && section.contains("admin"),
                    "{section}"
                );
                break;
            }
            assert!(Instant::now() < deadline, "not rejected: {section}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        b.js("document.querySelector('section.remediation').scrollIntoView()")
            .await;
        b.shot("11-alert-remediation-rejected").await;
    }
}
