//! Store throughput benchmark: writes generated events in batches of 2048 and reports events/s,
//! the final index commit, `verify` time, search latency and peak memory.
//!
//! ```text
//! cargo run --release -p privtrail-store --example ingest_bench -- [EVENTS] [DATA_DIR]
//! ```
//! EVENTS defaults to 1,000,000; DATA_DIR to a fresh temporary directory (deleted at the end).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Source};
use privtrail_store::{SearchRequest, Store};

const BATCH: usize = 2048;
const HOSTS: u64 = 64;

fn event(i: u64, base: DateTime<Utc>) -> Event {
    let host_n = i % HOSTS;
    let host = format!("WIN-HOST{host_n:04}");
    let record = i / HOSTS + 1;
    // 100 ns ticks, like EVTX.
    let time = base + chrono::Duration::nanoseconds(i as i64 * 1_000_100);
    let (action, code) = match i % 5 {
        0 => (Action::GroupMemberAdded, "4732"),
        1 => (Action::GroupMemberRemoved, "4733"),
        2 => (Action::Logon, "4624"),
        3 => (Action::LogonSpecialPrivileges, "4672"),
        _ => (Action::LogonExplicitCredentials, "4648"),
    };
    let mut e = Event::new(
        EventId::windows(&host, "Security", record),
        Source::Windows,
        action,
        time,
        code,
    );
    let target = format!(
        "S-1-5-21-3623811015-3361044348-30300820-{}",
        1000 + i % 5000
    );
    e.host = Some(host.clone());
    e.actor = Some(format!("CORP\\user{}", i % 997));
    e.target = Some(target.clone());
    e.target_name = Some(format!("CORP\\member{}", i % 5000));
    e.privilege = Some("Administrators".into());
    e.privilege_id = Some("S-1-5-32-544".into());
    e.scope = Some(host.clone());
    e.record_id = Some(record.to_string());
    e.message = format!(
        "{target} was added to Administrators on {host} by CORP\\user{}",
        i % 997
    );
    e.raw = format!(
        r#"{{"System":{{"Provider":{{"Name":"Microsoft-Windows-Security-Auditing","Guid":"{{54849625-5478-4994-a5ba-3e3b0328c30d}}"}},"EventID":{code},"Version":0,"Level":0,"Task":13826,"Opcode":0,"Keywords":"0x8020000000000000","TimeCreated":"{}","EventRecordID":{record},"Channel":"Security","Computer":"{host}"}},"EventData":{{"MemberName":"-","MemberSid":"{target}","TargetUserName":"Administrators","TargetDomainName":"Builtin","TargetSid":"S-1-5-32-544","SubjectUserSid":"S-1-5-21-1-2-3-500","SubjectUserName":"user{}","SubjectDomainName":"CORP","SubjectLogonId":"0x3e7"}}}}"#,
        time.to_rfc3339(),
        i % 997
    );
    e
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tmp;
    let dir = match args.next() {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_owned()
        }
    };
    let base = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")?.with_timezone(&Utc);

    let store = Store::open(&dir)?;
    let mut writer = store.writer()?;
    let started = Instant::now();
    let mut gen_time = Duration::ZERO;
    let mut write_time = Duration::ZERO;
    let mut stored = 0;
    let mut i = 0;
    while i < total {
        let g = Instant::now();
        let n = BATCH.min((total - i) as usize) as u64;
        let batch: Vec<Event> = (i..i + n).map(|k| event(k, base)).collect();
        gen_time += g.elapsed();
        let w = Instant::now();
        stored += writer.write_batch(&batch, &[])?.stored;
        write_time += w.elapsed();
        i += n;
    }
    let c = Instant::now();
    writer.commit()?;
    let commit_time = c.elapsed();
    drop(writer);
    let elapsed = started.elapsed();
    let store_time = elapsed - gen_time;
    println!("events stored            {stored}");
    println!(
        "end to end (gen+store)   {:.1} s  {:.0} events/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "store only (excl. gen)   {:.1} s  {:.0} events/s  (write_batch {:.1} s, final index commit + drop {:.1} s, generation {:.1} s)",
        store_time.as_secs_f64(),
        total as f64 / store_time.as_secs_f64(),
        write_time.as_secs_f64(),
        commit_time.as_secs_f64(),
        gen_time.as_secs_f64()
    );

    let v = Instant::now();
    let report = store.verify()?;
    let vt = v.elapsed();
    println!(
        "verify                   {:.1} s  {:.0} events/s  checked {} broken {:?}",
        vt.as_secs_f64(),
        report.checked as f64 / vt.as_secs_f64(),
        report.checked,
        report.first_broken
    );

    let queries = [
        "host:win-host0007 AND event_code:4732",
        "target:*30300820-1234",
        "privilege_id:\"S-1-5-32-544\" AND actor:corp\\\\user42",
        "message:\"added to administrators\" AND host:win-host0003",
        "*",
    ];
    for q in queries {
        let req = SearchRequest::new(q, 50);
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..20 {
            let s = Instant::now();
            hits = store.search(&req)?.len();
            times.push(s.elapsed());
        }
        times.sort();
        let count = store.count(&req)?;
        println!(
            "search {q:<55} p50 {:>7.2} ms  p99 {:>7.2} ms  ({hits} shown of {count})",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
        );
    }
    if let Some(mb) = peak_rss_mb() {
        println!("peak RSS                 {mb:.0} MB");
    }
    Ok(())
}
