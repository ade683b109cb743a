//! Winlogbeat 8 JSON lines, as Winlogbeat's file/Logstash outputs write them (before any Elasticsearch
//! ingest pipeline): Elastic's documented `winlog.*` fields, `event_id` as a string, `record_id` as a
//! number, all `event_data` values as strings, 1102's fields under `winlog.user_data`.

use super::record::{Rec, SEC, push_time};

/// Per-machine constants of the Winlogbeat document.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    /// `winlog.computer_name`: the FQDN from the record's `Computer`.
    pub computer: String,
    /// `host.name` / `agent.name`: the agent's (lowercase) hostname.
    pub host: String,
    pub agent_id: String,
    pub ephemeral_id: String,
}

/// Appends `v` as a JSON string literal.
pub(crate) fn json_str(out: &mut String, v: &str) {
    out.push('"');
    let bytes = v.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&v[start..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&v[start..]);
    out.push('"');
}

fn num(out: &mut String, n: impl std::fmt::Display) {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let _ = write!(out, "{n}");
}

/// The rendered message: the title and Windows' main blocks for the fields the record has.
pub(crate) fn message(out: &mut String, r: &Rec) {
    use super::record::View;
    out.push_str(r.kind.title);
    let block = |out: &mut String, header: &str, lines: &[(&str, &str)]| {
        let present: Vec<_> = lines
            .iter()
            .filter_map(|(l, f)| r.field(f).map(|v| (*l, v)))
            .collect();
        if present.is_empty() {
            return;
        }
        out.push_str("\n\n");
        out.push_str(header);
        out.push(':');
        for (label, v) in present {
            out.push_str("\n\t");
            out.push_str(label);
            out.push_str(":\t\t");
            out.push_str(v);
        }
    };
    block(
        out,
        "Subject",
        &[
            ("Security ID", "SubjectUserSid"),
            ("Account Name", "SubjectUserName"),
            ("Account Domain", "SubjectDomainName"),
            ("Logon ID", "SubjectLogonId"),
        ],
    );
    match r.kind.id {
        4728 | 4732 | 4733 => {
            block(
                out,
                "Member",
                &[("Security ID", "MemberSid"), ("Account Name", "MemberName")],
            );
            block(
                out,
                "Group",
                &[
                    ("Security ID", "TargetSid"),
                    ("Group Name", "TargetUserName"),
                    ("Group Domain", "TargetDomainName"),
                ],
            );
        }
        4624 | 4634 | 4647 => block(
            out,
            if r.kind.id == 4624 {
                "New Logon"
            } else {
                "Account"
            },
            &[
                ("Security ID", "TargetUserSid"),
                ("Account Name", "TargetUserName"),
                ("Account Domain", "TargetDomainName"),
                ("Logon ID", "TargetLogonId"),
                ("Logon Type", "LogonType"),
                ("Source Network Address", "IpAddress"),
                ("Elevated Token", "ElevatedToken"),
            ],
        ),
        4672 => block(out, "Privileges", &[("Privileges", "PrivilegeList")]),
        _ => {}
    }
}

/// Appends one JSON line for record `r` of machine `a`.
pub(crate) fn render(out: &mut String, r: &Rec, a: &Agent) {
    let k = r.kind;
    out.push_str("{\"@timestamp\":\"");
    push_time(out, r.ticks, 3);
    out.push_str("\",\"agent\":{\"ephemeral_id\":\"");
    out.push_str(&a.ephemeral_id);
    out.push_str("\",\"id\":\"");
    out.push_str(&a.agent_id);
    out.push_str("\",\"name\":");
    json_str(out, &a.host);
    out.push_str(",\"type\":\"winlogbeat\",\"version\":\"8.17.4\"},\"ecs\":{\"version\":\"8.0.0\"},\"event\":{\"action\":");
    json_str(out, k.task_name);
    out.push_str(",\"code\":\"");
    num(out, k.id);
    out.push_str("\",\"created\":\"");
    push_time(out, r.ticks + SEC + i64::from(r.tid % 1000) * 10_000, 3);
    out.push_str("\",\"kind\":\"event\",\"outcome\":\"");
    out.push_str(if k.failure { "failure" } else { "success" });
    out.push_str("\",\"provider\":\"");
    out.push_str(k.provider.name());
    out.push_str("\"},\"host\":{\"name\":");
    json_str(out, &a.host);
    out.push_str("},\"log\":{\"level\":\"");
    out.push_str(if k.level == 4 || k.level == 0 {
        "information"
    } else {
        "warning"
    });
    out.push_str("\"},\"message\":");
    let mut msg = String::with_capacity(256);
    message(&mut msg, r);
    json_str(out, &msg);
    out.push_str(
        ",\"winlog\":{\"api\":\"wineventlog\",\"channel\":\"Security\",\"computer_name\":",
    );
    json_str(out, &a.computer);
    out.push_str(if r.user_data.is_some() {
        ",\"user_data\":{"
    } else {
        ",\"event_data\":{"
    });
    if let Some(element) = r.user_data {
        out.push_str("\"xml_name\":");
        json_str(out, element);
        if !r.data.is_empty() {
            out.push(',');
        }
    }
    for (i, (name, value)) in r.data.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        json_str(out, value);
    }
    out.push_str("},\"event_id\":\"");
    num(out, k.id);
    out.push_str("\",\"keywords\":[\"");
    out.push_str(if k.failure {
        "Audit Failure"
    } else {
        "Audit Success"
    });
    out.push_str("\"],\"opcode\":\"Info\",\"process\":{\"pid\":");
    num(out, r.pid);
    out.push_str(",\"thread\":{\"id\":");
    num(out, r.tid);
    out.push_str("}},\"provider_guid\":\"");
    out.push_str(k.provider.guid());
    out.push_str("\",\"provider_name\":\"");
    out.push_str(k.provider.name());
    out.push_str("\",\"record_id\":");
    num(out, r.record_id);
    out.push_str(",\"task\":");
    json_str(out, k.task_name);
    if k.version > 0 {
        out.push_str(",\"version\":");
        num(out, k.version);
    }
    out.push_str("}}\n");
}
