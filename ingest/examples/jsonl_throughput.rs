//! JSON-lines throughput (not a test): `cargo run --release -p privtrail-ingest --example
//! jsonl_throughput [N]`. Generates N (default 200,000) Winlogbeat 8 lines shaped like the demo
//! generator's (`src/demo/winlogbeat.rs`), writes them to a temporary file and prints the median of
//! several runs of `read_file` on it (parse, normalize, batch; the sink only counts).

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::time::Instant;

use privtrail_ingest::{Options, read_file};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// (event id, task, failure, user_data element, event data)
type Kind = (
    u32,
    &'static str,
    bool,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

const KINDS: &[Kind] = &[
    (
        4624,
        "Logon",
        false,
        None,
        &[
            ("SubjectUserSid", "S-1-5-18"),
            ("SubjectUserName", "SRV01$"),
            ("SubjectDomainName", "CONTOSO"),
            ("SubjectLogonId", "0x3e7"),
            (
                "TargetUserSid",
                "S-1-5-21-1004336348-1177238915-682003330-1105",
            ),
            ("TargetUserName", "alice"),
            ("TargetDomainName", "CONTOSO"),
            ("TargetLogonId", "0x4a5c1"),
            ("LogonType", "3"),
            ("LogonProcessName", "NtLmSsp "),
            ("AuthenticationPackageName", "NTLM"),
            ("WorkstationName", "WS042"),
            ("LogonGuid", "{00000000-0000-0000-0000-000000000000}"),
            ("TransmittedServices", "-"),
            ("LmPackageName", "NTLM V2"),
            ("KeyLength", "128"),
            ("ProcessId", "0x0"),
            ("ProcessName", "-"),
            ("IpAddress", "10.0.4.17"),
            ("IpPort", "50212"),
            ("ImpersonationLevel", "%%1833"),
            ("RestrictedAdminMode", "-"),
            ("TargetOutboundUserName", "-"),
            ("TargetOutboundDomainName", "-"),
            ("VirtualAccount", "%%1843"),
            ("TargetLinkedLogonId", "0x0"),
            ("ElevatedToken", "%%1843"),
        ],
    ),
    (
        4625,
        "Logon",
        true,
        None,
        &[
            ("SubjectUserSid", "S-1-0-0"),
            ("SubjectUserName", "-"),
            ("SubjectDomainName", "-"),
            ("SubjectLogonId", "0x0"),
            ("TargetUserSid", "S-1-0-0"),
            ("TargetUserName", "administrator"),
            ("TargetDomainName", "SRV01"),
            ("Status", "0xc000006d"),
            ("FailureReason", "%%2313"),
            ("SubStatus", "0xc000006a"),
            ("LogonType", "3"),
            ("IpAddress", "203.0.113.7"),
            ("IpPort", "0"),
        ],
    ),
    (
        4672,
        "Special Logon",
        false,
        None,
        &[
            (
                "SubjectUserSid",
                "S-1-5-21-1004336348-1177238915-682003330-1105",
            ),
            ("SubjectUserName", "alice"),
            ("SubjectDomainName", "CONTOSO"),
            ("SubjectLogonId", "0x4a5c1"),
            (
                "PrivilegeList",
                "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeDebugPrivilege",
            ),
        ],
    ),
    (
        4732,
        "Security Group Management",
        false,
        None,
        &[
            ("MemberName", "-"),
            ("MemberSid", "S-1-5-21-1004336348-1177238915-682003330-1105"),
            ("TargetUserName", "Administrators"),
            ("TargetDomainName", "Builtin"),
            ("TargetSid", "S-1-5-32-544"),
            (
                "SubjectUserSid",
                "S-1-5-21-1004336348-1177238915-682003330-500",
            ),
            ("SubjectUserName", "svc-rmm"),
            ("SubjectDomainName", "CONTOSO"),
            ("SubjectLogonId", "0x3e7"),
            ("PrivilegeList", "-"),
        ],
    ),
    (
        4634,
        "Logoff",
        false,
        None,
        &[
            (
                "TargetUserSid",
                "S-1-5-21-1004336348-1177238915-682003330-1105",
            ),
            ("TargetUserName", "alice"),
            ("TargetDomainName", "CONTOSO"),
            ("TargetLogonId", "0x4a5c1"),
            ("LogonType", "3"),
        ],
    ),
    (
        1102,
        "Log clear",
        false,
        Some("LogFileCleared"),
        &[
            (
                "SubjectUserSid",
                "S-1-5-21-1004336348-1177238915-682003330-500",
            ),
            ("SubjectUserName", "Administrator"),
            ("SubjectDomainName", "CONTOSO"),
            ("SubjectLogonId", "0x4a5c1"),
        ],
    ),
];

fn json_str(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One line as the demo's Winlogbeat 8 renderer writes it.
fn line(out: &mut String, i: usize) {
    let (id, task, failure, user_data, data) = KINDS[i % KINDS.len()];
    let provider = if id == 1102 {
        "Microsoft-Windows-Eventlog"
    } else {
        "Microsoft-Windows-Security-Auditing"
    };
    let (s, ms) = (i / 1000, i % 1000);
    let ts = format!(
        "2024-03-{:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        1 + s / 86_400 % 28,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    );
    let host = format!("ws{:03}", i % 97);
    let _ = write!(
        out,
        "{{\"@timestamp\":\"{ts}\",\"agent\":{{\"ephemeral_id\":\"0b1f6c2e-8d4c-4b7a-9a51-2f1e5d6c7b8a\",\"id\":\"5e2c9d8a-3f4b-4c1d-8e7f-6a5b4c3d2e1f\",\"name\":\"{host}\",\"type\":\"winlogbeat\",\"version\":\"8.17.4\"}},\"ecs\":{{\"version\":\"8.0.0\"}},\"event\":{{\"action\":"
    );
    json_str(out, task);
    let _ = write!(
        out,
        ",\"code\":\"{id}\",\"created\":\"{ts}\",\"kind\":\"event\",\"outcome\":\"{}\",\"provider\":\"{provider}\"}},\"host\":{{\"name\":\"{host}\"}},\"log\":{{\"level\":\"information\"}},\"message\":",
        if failure { "failure" } else { "success" }
    );
    let mut msg = format!("{task}\n\nSubject:");
    for (k, v) in data.iter().take(4) {
        let _ = write!(msg, "\n\t{k}:\t\t{v}");
    }
    json_str(out, &msg);
    let _ = write!(
        out,
        ",\"winlog\":{{\"api\":\"wineventlog\",\"channel\":\"Security\",\"computer_name\":\"{host}.contoso.local\",{}",
        if user_data.is_some() {
            "\"user_data\":{"
        } else {
            "\"event_data\":{"
        }
    );
    if let Some(el) = user_data {
        let _ = write!(out, "\"xml_name\":\"{el}\",");
    }
    for (j, (k, v)) in data.iter().enumerate() {
        if j > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{k}\":");
        json_str(out, v);
    }
    let _ = write!(
        out,
        "}},\"event_id\":\"{id}\",\"keywords\":[\"{}\"],\"opcode\":\"Info\",\"process\":{{\"pid\":{},\"thread\":{{\"id\":{}}}}},\"provider_guid\":\"{{54849625-5478-4994-a5ba-3e3b0328c30d}}\",\"provider_name\":\"{provider}\",\"record_id\":{},\"task\":",
        if failure {
            "Audit Failure"
        } else {
            "Audit Success"
        },
        600 + i % 7,
        700 + i % 13,
        100_000 + i
    );
    json_str(out, task);
    out.push_str(",\"version\":2}}\n");
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut text = String::with_capacity(n * 1600);
    for i in 0..n {
        line(&mut text, i);
    }
    let dir = std::env::temp_dir().join(format!("privtrail-jsonl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("winlogbeat8.jsonl");
    std::fs::write(&path, &text).expect("write temp file");
    let opts = Options::default();
    let mut rates = Vec::new();
    let mut records = 0;
    for _ in 0..runs {
        let mut events = 0u64;
        let start = Instant::now();
        let report = read_file(&path, &opts, &|_| {}, &mut |b| {
            events += b.events.len() as u64;
            ControlFlow::Continue(())
        })
        .expect("read_file");
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(report.rejected, 0, "rejects in generated input");
        assert_eq!(events, n as u64);
        records = report.records;
        rates.push(report.records as f64 / secs);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let rate = median(rates);
    println!(
        "{n} Winlogbeat 8 lines ({:.0} bytes/line): {records} records, read_file (parse+normalize): {rate:.0} records/s ({:.2} µs/record), median of {runs}",
        text.len() as f64 / n as f64,
        1e6 / rate
    );
}
