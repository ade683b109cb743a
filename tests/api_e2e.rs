//! End to end: `privtrail run` serving its API and the Elasticsearch bulk endpoint on free ports;
//! a real Elasticsearch client (the Python `elasticsearch` package's bulk helper, as agents and
//! scripts use it) pushes Winlogbeat 8 documents; they are found through `/api/v1/search`, and the
//! alerts they raise through `/api/v1/alerts`.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::daemon::{Daemon, wait_until};
use common::http::get;
use common::*;

/// The `url` field of the daemon's JSON log line whose message starts with `message`.
fn logged_url(d: &Daemon, message: &str) -> Option<String> {
    d.log_text().lines().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        v["fields"]["message"]
            .as_str()?
            .starts_with(message)
            .then(|| {
                v["fields"]["url"]
                    .as_str()
                    .map(|u| u.trim_end_matches('/').to_owned())
            })
            .flatten()
    })
}

/// Whether the Python Elasticsearch client is installed; required in CI.
fn python_client() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import elasticsearch"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let required = std::env::var("PRIVTRAIL_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "python3 -m pip install elasticsearch: required by PRIVTRAIL_REQUIRE_SERVICES=1"
        );
        eprintln!("skipping: the Python elasticsearch client is missing (.ci/run installs it)");
    }
    ok
}

const PUSH: &str = r#"
import sys
from elasticsearch import Elasticsearch, helpers
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
es = Elasticsearch(url, basic_auth=("elastic", token), request_timeout=30)
assert es.info()["version"]["number"].startswith("8."), es.info()
def doc(i):
    if i % 2:
        data = {"channel": "Security", "computer_name": "ES-HOST-%d" % i, "event_id": "1102",
                "provider_name": "Microsoft-Windows-Eventlog", "record_id": i,
                "user_data": {"SubjectUserName": "eve", "SubjectDomainName": "CORP"}}
    else:
        data = {"channel": "Security", "computer_name": "ES-HOST-%d" % i, "event_id": "4732",
                "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": i,
                "event_data": {"MemberSid": "S-1-5-21-1-2-3-%d" % (1000 + i), "MemberName": "-",
                               "TargetSid": "S-1-5-32-544", "TargetUserName": "Administrators",
                               "TargetDomainName": "Builtin", "SubjectUserName": "mallory",
                               "SubjectDomainName": "CORP", "SubjectUserSid": "S-1-5-21-1-2-3-666"}}
    return {"_index": "winlogbeat-8.17.0", "_op_type": "create",
            "_source": {"@timestamp": "2024-03-03T10:%02d:00Z" % i, "event": {"code": data["event_id"]},
                        "winlog": data}}
ok, errors = helpers.bulk(es, (doc(i) for i in range(1, n + 1)), chunk_size=7, raise_on_error=False)
print(ok, len(errors))
# Sent again: already stored, answered 200 per item, not an error.
ok2, errors2 = helpers.bulk(es, (doc(i) for i in range(1, n + 1)), raise_on_error=False)
print(ok2, len(errors2))
"#;

#[test]
fn agents_push_through_bulk_and_reviewers_find_it_through_the_api() {
    if !python_client() {
        return;
    }
    let env = Env::new();
    let cfg = env.dir.path().join("privtrail.toml");
    std::fs::write(
        &cfg,
        "[http]\nlisten = \"127.0.0.1:0\"\n[http.elasticsearch]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let log = env.dir.path().join("daemon.log");
    let d = Daemon::start(&env.data_dir(), &cfg, &log);
    let api = logged_url(&d, "web UI and API listening").unwrap();
    let es = logged_url(&d, "Elasticsearch bulk endpoint listening").unwrap();
    let token = env.ok(&["token", "show"]).trim().to_owned();
    assert!(token.starts_with("pt_"));
    let (s, _) = get(&format!("{api}/api/v1/search?q=*"), "pt_wrong");
    assert_eq!(s, 401);

    let script = env.dir.path().join("push.py");
    std::fs::write(&script, PUSH).unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .args([&es, &token, "20"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        ["20 0", "20 0"]
    );

    // Searchable once the index commits (within seconds).
    let found = wait_until(Duration::from_secs(30), || {
        let (s, body) = get(
            &format!("{api}/api/v1/search?q=host:es-host-*&limit=100"),
            &token,
        );
        s == 200
            && serde_json::from_str::<serde_json::Value>(&body).unwrap()["events"]
                .as_array()
                .unwrap()
                .len()
                == 20
    });
    assert!(found);
    // The alerts they raise: a cleared log per host, an unapproved local admin per add.
    let alerts = || -> Vec<serde_json::Value> {
        let (_, body) = get(&format!("{api}/api/v1/alerts?status=open"), &token);
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["alerts"]
            .as_array()
            .unwrap()
            .clone()
    };
    assert!(wait_until(Duration::from_secs(30), || {
        let a = alerts();
        a.iter().filter(|a| a["rule"] == "audit-tampering").count() == 10
            && a.iter()
                .filter(|a| a["rule"] == "unapproved-local-admin")
                .count()
                == 10
    }));
    let (s, body) = get(&format!("{api}/metrics"), &token);
    assert_eq!(s, 200);
    assert!(
        body.contains("privtrail_events_stored_total{source=\"windows\"} 20"),
        "{body}"
    );
    assert!(
        body.contains("privtrail_events_duplicates_total{source=\"windows\"} 20"),
        "{body}"
    );
    assert!(d.terminate(Duration::from_secs(20)).success());
}

#[test]
fn demo_serves_the_ui_until_interrupted() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_privtrail"))
        .args(["--data-dir"])
        .arg(env.data_dir())
        .args(["demo", "--days", "1", "--machines", "2"])
        .env("TMPDIR", env.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut url = None;
    let mut token = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while (url.is_none() || token.is_none()) && std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(u) = line.strip_prefix("The web UI over this estate: ") {
                url = Some(u.trim().trim_end_matches('/').to_owned());
            }
            if let Some(t) = line
                .trim()
                .strip_prefix("token (paste it into the login form): ")
            {
                token = Some(t.to_owned());
            }
        }
    }
    let (url, token) = (url.expect("the demo printed its URL"), token.unwrap());
    let (s, _) = get(&format!("{url}/healthz"), "");
    assert_eq!(s, 200);
    let (s, body) = get(&format!("{url}/api/v1/alerts"), &token);
    assert_eq!(s, 200);
    assert!(body.contains("overdue-elevation"), "{body}");
    // Ctrl-C ends it.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(wait_until(Duration::from_secs(20), || child
        .try_wait()
        .unwrap()
        .is_some()));
}
