//! End to end: `privtrail report` on the demo estate: the numbers agree with `elevations`, the
//! HTML is one self-contained file that shows hostile text as text, reviewers' resolutions and
//! the chain that backs it are stated, a tampered store is reported BROKEN, and Markdown and CSV
//! say the same. The HTML is rendered by headless Chromium when it is installed (the picture is
//! kept in `target/report-screenshots/` for a person to look at).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Env;

const CHROMIUM: &str = "/usr/bin/chromium";

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_access_review_report_of_the_demo() {
    let env = Env::new();
    env.ok(&["demo", "--no-serve", "--days", "2", "--machines", "4"]);

    // A reviewer resolves one alert with a note an attacker would like to see rendered.
    let alerts = json_lines(&env.ok(&["alerts", "--format", "json"]));
    let target = alerts
        .iter()
        .find(|a| a["rule"] == "unapproved-local-admin")
        .unwrap();
    let id = target["id"].as_str().unwrap();
    let note = "granted for a driver <script>alert(1)</script> [link](https://evil.example) =1+1";
    env.ok(&["alerts", "resolve", id, "--note", note]);

    // JSON: the numbers agree with the elevations listing over the same (whole) period.
    let report: serde_json::Value =
        serde_json::from_str(&env.ok(&["report", "--since", "30d", "--format", "json"])).unwrap();
    let all = json_lines(&env.ok(&["elevations", "--format", "json"]));
    assert_eq!(report["totals"]["elevations"], all.len());
    let holders: usize = report["privileges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["holders"].as_array().unwrap().len())
        .sum();
    assert!(holders >= report["totals"]["principals"].as_u64().unwrap() as usize);
    let open_now = all.iter().filter(|e| e["ended_at"].is_null()).count();
    assert_eq!(report["totals"]["open_at_end"], open_now);
    let overdue = json_lines(&env.ok(&["elevations", "--overdue", "--format", "json"])).len();
    assert!(
        report["totals"]["overdue"].as_u64().unwrap() as usize >= overdue,
        "every elevation overdue now ran past its end in the period"
    );
    let resolved = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved"]["note"], note);
    assert!(
        resolved["resolved"]["by"]
            .as_str()
            .unwrap()
            .starts_with("os:")
    );
    assert_eq!(report["evidence"]["verified"]["intact"], true);
    let (first, last) = (
        report["evidence"]["seq_range"][0].as_i64().unwrap(),
        report["evidence"]["seq_range"][1].as_i64().unwrap(),
    );
    assert!(first >= 1 && last > first);

    // HTML: self-contained, escaped, names and SIDs, the resolution and the chain.
    let html_path = env.dir.path().join("review.html");
    env.ok(&[
        "report",
        "--since",
        "30d",
        "--out",
        html_path.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("default-src 'none'"), "a CSP forbids scripts");
    for external in ["<script", "<link", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(external), "{external} in the report");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; [link](https://evil.example)"));
    assert!(html.contains("CONTOSO\\nina.patel"));
    assert!(html.contains("S-1-5-21-") && html.contains("-1601"));
    assert!(html.contains("Who held what") && html.contains("What backs this report"));
    assert!(html.contains(&format!("seq {first} to {last}")));
    assert!(html.contains("intact"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&html_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the report is evidence: {mode:o}");
    }
    screenshot(&html_path);

    // Markdown and CSV say the same; CSV defuses formulas, Markdown escapes markup.
    let md = env.ok(&["report", "--since", "30d", "--format", "md", "--no-verify"]);
    assert!(
        md.contains("| CONTOSO\\\\nina.patel (S-1-5-21-…-1601) |"),
        "{md}"
    );
    assert!(md.contains("\\<script\\>alert(1)\\</script\\> \\[link\\](https://evil.example)"));
    assert!(md.contains("Verification: not checked"));
    let csv = env.ok(&["report", "--since", "30d", "--format", "csv", "--no-verify"]);
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), holders);
    let nina = rows
        .iter()
        .find(|r| &r[4] == "CONTOSO\\nina.patel")
        .unwrap();
    assert!(nina[3].ends_with("-1601") && &nina[0] == "Administrators");

    // Someone edits an event behind privtrail's back: the report says so and exits 1.
    let db = env.data_dir().join(privtrail_store::DB_FILE);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        "UPDATE events SET message = 'nothing happened' WHERE seq = ?1",
        [first + 3],
    )
    .unwrap();
    drop(c);
    let out = env.run(&["report", "--since", "30d", "--format", "md"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("**BROKEN** at seq {}", first + 3)),
        "{text}"
    );

    // A period with nothing in it still makes a readable report; a reversed one is refused.
    let empty = env.ok(&[
        "report",
        "--since",
        "2001-01-01",
        "--until",
        "2001-02-01",
        "--format",
        "md",
        "--no-verify",
    ]);
    assert!(empty.contains("0 elevations of 0 principals"), "{empty}");
    assert!(empty.contains("No alert in this period"), "{empty}");
    let bad = env.run(&["report", "--since", "2001-02-01", "--until", "2001-01-01"]);
    assert_eq!(bad.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--until must be after --since"));
}

/// Renders the HTML in headless Chromium, bounded in time, for a person to look at.
fn screenshot(html: &Path) {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("{CHROMIUM} not installed: no screenshot of the report");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,2400",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium took more than a minute to render the report");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        shot.exists() && std::fs::metadata(&shot).unwrap().len() > 10_000,
        "chromium rendered nothing"
    );
}

/// History imported today is judged today: the report of July 2016 still lists the alerts about
/// July 2016, under the names the events gave the SIDs.
#[test]
fn a_report_of_imported_history_lists_the_alerts_about_it() {
    let env = Env::new();
    env.ingest(&[&common::data("evtx/security.evtx")]);
    let report: serde_json::Value = serde_json::from_str(&env.ok(&[
        "report",
        "--since",
        "2016-07-01",
        "--until",
        "2016-08-01",
        "--format",
        "json",
    ]))
    .unwrap();
    let alerts = report["alerts"].as_array().unwrap();
    let unapproved: Vec<&str> = alerts
        .iter()
        .filter(|a| a["rule"] == "unapproved-local-admin")
        .map(|a| a["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        unapproved.len(),
        3,
        "README: three additions to Administrators"
    );
    assert!(
        unapproved
            .iter()
            .any(|s| s.contains("added WIN-03DLIIOFRRA\\archir ("))
    );
    assert_eq!(report["totals"]["elevations"], 3);
    assert_eq!(report["totals"]["principals"], 2);
    let holders = report["privileges"][0]["holders"].as_array().unwrap();
    let fsir = holders
        .iter()
        .find(|h| h["principal_name"] == "WIN-03DLIIOFRRA\\fsir")
        .unwrap();
    assert_eq!(fsir["elevations"], 2);
    // …-1000 held Administrators 07-08 18:15:23.43 → 07-09 22:29:34.55 (1d4h14m11.1s), then
    // from 07-16 00:18:31.40 to the end of the period (15d23h41m28.6s); whole seconds each.
    let (first, second) = (101_651, 1_381_288);
    assert_eq!(fsir["total_seconds"], first + second);
    assert_eq!(fsir["longest_seconds"], second);
    assert_eq!(report["evidence"]["events"], 2172);
}
