//! End to end: names an attacker chose (in the events of a host they control) reach Teams,
//! email, CSV and the terminal as inert text (SPEC §8, issue 11 item 5).
#![allow(clippy::unwrap_used)]

mod common;

use common::http::Scripted;
use common::services::{self, Smtp};
use common::{Env, member_added};

#[test]
fn hostile_names_are_inert_in_teams_email_csv_and_the_terminal() {
    if !services::available() {
        return;
    }
    const LINK: &str = "[Approve](https://evil.example)";
    const IMG: &str = "<img src=x onerror=alert(1)>";
    const FORMULA: &str = "=cmd|' /C calc'!A0";
    let env = Env::new();
    let teams = Scripted::start(vec![]);
    let port = services::free_port();
    let smtp = Smtp::start(env.dir.path(), port);
    let cfg = env.config(
        "hostile.toml",
        &format!(
            "[[channels]]\nname = \"teams\"\ntype = \"teams\"\nurl = \"{}/workflows/x?sig=s\"\n\n\
             [[channels]]\nname = \"mail\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             security = \"none\"\nfrom = \"privtrail@example.com\"\nto = [\"soc@example.com\"]\n\n\
             [[routes]]\nmin_severity = \"high\"\nchannels = [\"teams\", \"mail\"]\n",
            teams.url
        ),
    );
    // The attacker controls the names in their own events: the actor's domain and user, the
    // group's name, the host's name.
    env.ingest_lines(
        &cfg,
        &[member_added(9, FORMULA, LINK, IMG, "WS-1\u{1b}[31mRED")],
    );
    env.ok(&["--config", &cfg, "outbox", "deliver", "--wait", "10s"]);

    // Teams: the card's texts are escaped Markdown; nothing is a link, an image or a colour.
    let reqs = teams.requests();
    assert_eq!(reqs.len(), 1);
    let card: serde_json::Value = serde_json::from_str(&reqs[0].body).unwrap();
    let body = card["attachments"][0]["content"]["body"].to_string();
    assert!(
        body.contains(r"\\[Approve\\](https://evil.example)"),
        "{body}"
    );
    assert!(!body.contains("[Approve]("), "{body}");
    assert!(body.contains(r"\\<img src=x onerror=alert(1)\\>"), "{body}");
    assert!(!body.contains(r"\u001b"), "no escape character: {body}");

    // Email: the HTML part holds the names as text.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let html_part = &mails[0][mails[0].find("Content-Type: text/html").unwrap()..];
    let html = html_part
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("href=\"https://evil"), "{html}");
    assert!(
        html.contains("=cmd|&#39; /C calc&#39;!A0\\[Approve](https://evil.example)"),
        "{html}"
    );

    // CSV: a cell that would start a formula starts with a quote instead.
    let csv = env.ok(&["search", "event_code:4732", "--format", "csv"]);
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header = rows.headers().unwrap().clone();
    let actor = header.iter().position(|h| h == "actor").unwrap();
    let row = rows.records().next().unwrap().unwrap();
    assert!(
        row[actor].starts_with("'=cmd|' /C calc'!A0"),
        "{:?}",
        &row[actor]
    );
    for listing in [
        env.ok(&["alerts", "--format", "csv"]),
        env.ok(&["search", "event_code:4732", "--format", "csv"]),
    ] {
        let mut rows = csv::Reader::from_reader(listing.as_bytes());
        let cells: Vec<String> = rows
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        assert!(cells.iter().any(|c| c.contains("=cmd")), "{listing}");
        assert!(
            cells.iter().all(|c| !c.starts_with(['=', '+', '-', '@'])),
            "{listing}"
        );
    }

    // Terminal: the escape arrives as visible text, never as an escape.
    for args in [
        vec!["search", "event_code:4732"],
        vec!["alerts"],
        vec!["elevations"],
    ] {
        let out = env.ok(&args);
        assert!(!out.contains('\u{1b}'), "{args:?}: {out:?}");
    }
    let table = env.ok(&["search", "event_code:4732"]);
    assert!(table.contains("\\u{1b}[31mRED"), "{table}");
}
