//! End to end: alerts and forwarded events delivered through the outbox to REAL servers (aiosmtpd
//! for SMTP, rsyslog over TCP and TLS), including an outage during which alerts are raised.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::services::{self, Rsyslog, Smtp};
use common::{Env, data};

fn config(env: &Env, smtp_port: u16, tcp: u16, tls: u16, ca: &std::path::Path) -> String {
    let path = env.dir.path().join("delivery.toml");
    std::fs::write(
        &path,
        format!(
            r#"[delivery]
backoff_base = "200ms"
backoff_max = "1s"

[[channels]]
name = "soc-mail"
type = "email"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "privtrail@example.com"
to = ["soc@example.com"]
timezone = "Europe/Berlin"

[[channels]]
name = "siem"
type = "syslog"
transport = "tcp"
host = "127.0.0.1"
port = {tcp}
format = "cef"

[[channels]]
name = "siem-tls"
type = "syslog"
transport = "tls"
host = "127.0.0.1"
port = {tls}
ca_file = "{ca}"
format = "json"

[[routes]]
min_severity = "high"
channels = ["soc-mail", "siem"]

[[forward]]
categories = ["group_management"]
channels = ["siem", "siem-tls"]
"#,
            ca = ca.display()
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn outbox(env: &Env, cfg: &str) -> Vec<serde_json::Value> {
    env.ok(&[
        "--config", cfg, "outbox", "list", "--limit", "10000", "--format", "json",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

#[test]
fn an_outage_delays_but_every_message_arrives_exactly_once() {
    if !services::available() {
        return;
    }
    let env = Env::new();
    let (smtp_port, tcp, tls) = (
        services::free_port(),
        services::free_port(),
        services::free_port(),
    );
    // The CA must exist before the config is validated: make the syslog server's certificate
    // first, then stop it so that both receivers are down while the alerts are raised.
    let ca = env.dir.path().join("ca.pem");
    {
        let first = Rsyslog::start(env.dir.path(), tcp, tls);
        std::fs::copy(&first.ca, &ca).unwrap();
    }
    let cfg = config(&env, smtp_port, tcp, tls, &ca);

    let out = env.run(&[
        "--config",
        &cfg,
        "ingest",
        "--json",
        &data("evtx/security.evtx"),
        &data("evtx/ID4719-Audit policy deactivation.evtx"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let queued = outbox(&env, &cfg);
    let alerts_mail = queued.iter().filter(|m| m["channel"] == "soc-mail").count();
    assert!(alerts_mail >= 4, "{queued:?}");

    // Everything down: nothing is delivered, everything is kept for a retry.
    let r = env.ok(&["--config", &cfg, "outbox", "deliver"]);
    assert!(r.contains("delivered 0"), "{r}");
    assert!(outbox(&env, &cfg).iter().all(|m| m["status"] == "pending"));

    // The receivers come back.
    let smtp = Smtp::start(env.dir.path(), smtp_port);
    let syslog = Rsyslog::start(env.dir.path(), tcp, tls);
    let r = env.ok(&["--config", &cfg, "outbox", "deliver", "--wait", "30s"]);
    let after = outbox(&env, &cfg);
    assert!(
        after.iter().all(|m| m["status"] == "delivered"),
        "{r}\n{after:?}"
    );
    // Once more: nothing is sent again.
    let r2 = env.ok(&["--config", &cfg, "outbox", "deliver"]);
    assert!(r2.contains("delivered 0"), "{r2}");

    // Mail: exactly one per alert notification, with both parts and the subject format.
    let mails = smtp.messages();
    assert_eq!(mails.len(), alerts_mail, "one mail per key");
    let mut ids = HashMap::new();
    for m in &mails {
        let subject = m.lines().find(|l| l.starts_with("Subject:")).unwrap();
        assert!(subject.starts_with("Subject: [privtrail] "), "{subject}");
        assert!(
            m.contains("text/plain") && m.contains("text/html"),
            "both parts"
        );
        let mid = m
            .lines()
            .find(|l| l.to_lowercase().starts_with("message-id:"))
            .unwrap()
            .to_owned();
        *ids.entry(mid).or_insert(0) += 1;
    }
    assert!(
        ids.values().all(|&n| n == 1),
        "no duplicate Message-ID: {ids:?}"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.contains("CRITICAL") && m.contains("audit-tampering"))
    );

    // Syslog: every message of the plain-TCP channel arrived exactly once, as CEF.
    let siem: Vec<_> = after.iter().filter(|m| m["channel"] == "siem").collect();
    let tls_n = after.iter().filter(|m| m["channel"] == "siem-tls").count();
    let lines = syslog.lines(siem.len() + tls_n);
    let cef: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("CEF:0|privtrail|privtrail|"))
        .collect();
    assert_eq!(cef.len(), siem.len(), "{lines:?}");
    for m in &siem {
        let key = m["idempotency_key"].as_str().unwrap();
        let n = cef
            .iter()
            .filter(|l| l.contains(&format!("externalId={key}")))
            .count();
        assert_eq!(n, 1, "{key} arrived {n} times");
    }
    // The TLS channel (JSON payloads) delivered too.
    let json_lines = lines
        .iter()
        .filter(|l| l.contains("\"idempotency_key\"") || l.contains("\"kind\""))
        .count();
    assert_eq!(json_lines, tls_n, "{lines:?}");
}

#[test]
fn cef_reaches_rsyslog_exactly_as_formatted_with_escaping() {
    if !services::available() {
        return;
    }
    let env = Env::new();
    let (smtp_port, tcp, tls) = (
        services::free_port(),
        services::free_port(),
        services::free_port(),
    );
    let syslog = Rsyslog::start(env.dir.path(), tcp, tls);
    let cfg = config(&env, smtp_port, tcp, tls, &syslog.ca);
    // A Winlogbeat 8 record whose names hold the characters CEF must escape.
    let line = serde_json::json!({
        "@timestamp": "2026-11-20T08:00:00.000Z",
        "event": {"code": "4732", "provider": "Microsoft-Windows-Security-Auditing", "outcome": "success"},
        "host": {"name": "ws-1"},
        "winlog": {
            "channel": "Security", "computer_name": "WS-1.contoso.local", "event_id": "4732",
            "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": 77,
            "event_data": {
                "MemberName": "-", "MemberSid": "S-1-5-21-1-2-3-1104",
                "TargetUserName": "Admins|of=the\\lab", "TargetDomainName": "BUILTIN", "TargetSid": "S-1-5-32-544",
                "SubjectUserSid": "S-1-5-21-1-2-3-500", "SubjectUserName": "ad|m=in\\x\nnext",
                "SubjectDomainName": "CONTOSO", "SubjectLogonId": "0x3e7", "PrivilegeList": "-"
            }
        }
    });
    let file = env.dir.path().join("odd.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let out = env.run(&["--config", &cfg, "ingest", "--json", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["--config", &cfg, "outbox", "deliver", "--wait", "20s"]);

    let event: privtrail_model::Event = serde_json::from_str(
        env.ok(&["search", "event_code:4732", "--format", "json"])
            .trim(),
    )
    .unwrap();
    let key = format!("event:{}", event.id);
    let expected = privtrail_alerts::cef::event_line(&event, &key);
    let lines = syslog.lines(2);
    let got = lines
        .iter()
        .find(|l| l.contains(&key) && l.contains("CEF:0"))
        .unwrap();
    let cef = &got[got.find("CEF:0").unwrap()..];
    assert_eq!(
        cef, expected,
        "the line rsyslog wrote is exactly the CEF privtrail formatted"
    );
    assert!(
        cef.contains("suser=CONTOSO\\\\ad|m\\=in\\\\x\\nnext"),
        "extension escaping: {cef}"
    );
    assert!(cef.contains("\\|"), "header escaping of |: {cef}");
    assert!(!cef.contains('\n'));
}

#[test]
fn webhook_retries_throttling_and_errors_and_dead_letters_a_permanent_refusal() {
    use common::http::Scripted;
    let env = Env::new();
    let hook = Scripted::start(vec![(429, "Retry-After: 1\r\n", "{}"), (500, "", "{}")]);
    let refusing = Scripted::start(vec![(400, "", "{\"error\":\"bad\"}")]);
    let cfg = env.dir.path().join("hooks.toml");
    std::fs::write(
        &cfg,
        format!(
            "[delivery]\nbackoff_base = \"100ms\"\nbackoff_max = \"1s\"\n\n\
             [[channels]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}/privtrail\"\nsecret = \"s3cret\"\n\n\
             [[channels]]\nname = \"strict\"\ntype = \"webhook\"\nurl = \"{}/in\"\nsecret = \"other\"\n\n\
             [[routes]]\nmin_severity = \"critical\"\nchannels = [\"hook\", \"strict\"]\n",
            hook.url, refusing.url
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let out = env.run(&[
        "--config",
        cfg,
        "ingest",
        "--json",
        &data("evtx/ID4719-Audit policy deactivation.evtx"),
    ]);
    assert!(out.status.success());
    // The permanent refusal makes a dead letter: the run exits 1 to say so.
    let run = env.run(&["--config", cfg, "outbox", "deliver", "--wait", "20s"]);
    assert_eq!(run.status.code(), Some(1));

    // 429 (Retry-After honoured), 500, then accepted: three tries of one message, each signed.
    let reqs = hook.requests();
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![429, 500, 200]
    );
    let key = reqs[0]
        .header("X-Privtrail-Idempotency-Key")
        .unwrap()
        .to_owned();
    for r in &reqs {
        assert_eq!(r.header("X-Privtrail-Idempotency-Key"), Some(key.as_str()));
        let ts: i64 = r.header("X-Privtrail-Timestamp").unwrap().parse().unwrap();
        let expected = privtrail_alerts::webhook::sign(b"s3cret", ts, r.body.as_bytes());
        assert_eq!(
            r.header("X-Privtrail-Signature"),
            Some(expected.as_str()),
            "signature verifies"
        );
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["rule"], "audit-tampering");
    }

    // The permanent 400 dead-letters at once; `outbox retry --dead` sends it again.
    let dead = outbox_with(&env, cfg, "dead");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["channel"], "strict");
    assert_eq!(refusing.requests().len(), 1);
    env.ok(&["--config", cfg, "outbox", "retry", "--dead"]);
    env.ok(&["--config", cfg, "outbox", "deliver"]);
    assert_eq!(refusing.requests().len(), 2);
    assert!(outbox_with(&env, cfg, "dead").is_empty());
    assert_eq!(outbox_with(&env, cfg, "delivered").len(), 2);
}

fn outbox_with(env: &Env, cfg: &str, status: &str) -> Vec<serde_json::Value> {
    env.ok(&[
        "--config", cfg, "outbox", "list", "--status", status, "--format", "json",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

#[test]
fn email_digest_sends_one_mail_listing_the_alerts() {
    if !services::available() {
        return;
    }
    let env = Env::new();
    let port = services::free_port();
    let smtp = Smtp::start(env.dir.path(), port);
    let cfg = env.dir.path().join("digest.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[channels]]\nname = \"digest\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             security = \"none\"\nfrom = \"privtrail@example.com\"\nto = [\"soc@example.com\"]\n\
             cc = [\"audit@example.com\"]\ndigest = \"1s\"\ntimezone = \"Europe/Berlin\"\n\n\
             [[routes]]\nchannels = [\"digest\"]\n"
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let out = env.run(&[
        "--config",
        cfg,
        "ingest",
        "--json",
        &data("evtx/security.evtx"),
        &data("evtx/ID4719-Audit policy deactivation.evtx"),
    ]);
    assert!(out.status.success());
    let alerts = env.ok(&["alerts", "--format", "json"]).lines().count();
    assert!(alerts >= 5);
    // Within the digest interval nothing is sent; after it, one mail for all.
    let first = env.ok(&["--config", cfg, "outbox", "deliver"]);
    assert!(first.contains("delivered 0"), "{first}");
    env.ok(&["--config", cfg, "outbox", "deliver", "--wait", "10s"]);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one digest mail");
    let m = &mails[0];
    let subject = m.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subject.contains(&format!("{alerts} alerts")), "{subject}");
    assert!(
        m.lines()
            .any(|l| l.starts_with("Cc:") && l.contains("audit@example.com"))
    );
    assert!(m.contains("text/plain") && m.contains("text/html"));
    assert!(m.contains("audit-tampering") && m.contains("overdue-elevation"));
}

#[test]
fn events_are_forwarded_by_category_or_by_field_match() {
    let env = Env::new();
    let out_dir = env.dir.path();
    let cfg = out_dir.join("fwd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[channels]]\nname = \"by-match\"\ntype = \"file\"\npath = \"{m}\"\n\n\
             [[channels]]\nname = \"integrity\"\ntype = \"file\"\npath = \"{i}\"\n\n\
             [[forward]]\nmatch = [{{ field = \"event_code\", op = \"equals\", value = \"4732\" }}, {{ field = \"host\", op = \"glob\", value = \"WIN-*\" }}]\nchannels = [\"by-match\"]\n\n\
             [[forward]]\ncategories = [\"audit_integrity\"]\nchannels = [\"integrity\"]\n",
            m = out_dir.join("match.jsonl").display(),
            i = out_dir.join("integrity.jsonl").display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let out = env.run(&[
        "--config",
        cfg,
        "ingest",
        "--json",
        &data("evtx/security.evtx"),
        &data("evtx/ID104-1102-Event log cleared.evtx"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["--config", cfg, "outbox", "deliver"]);
    let lines = |f: &str| {
        std::fs::read_to_string(out_dir.join(f))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines("match.jsonl"), 6, "the six 4732 of security.evtx");
    assert_eq!(lines("integrity.jsonl"), 91, "1102 + 90 × 104");
    // A bad condition is a config error before anything starts.
    std::fs::write(out_dir.join("bad.toml"), "[[channels]]\nname = \"f\"\ntype = \"file\"\npath = \"/tmp/x\"\n[[forward]]\nmatch = [{ field = \"nope\", op = \"equals\", value = \"1\" }]\nchannels = [\"f\"]\n").unwrap();
    let bad = env.run(&[
        "--config",
        out_dir.join("bad.toml").to_str().unwrap(),
        "config",
        "check",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}
