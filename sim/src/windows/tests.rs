//! Reads what the generator wrote back with independent (simple) parsers and checks it.

use std::collections::{HashMap, HashSet};

use super::readback::{Parsed, parse_winlogbeat_line, read_back};
use super::record::View;
use super::*;

fn spec(seed: u64, machines: usize, days: u32) -> EstateSpec {
    EstateSpec {
        seed,
        machines,
        days,
        end: "2026-11-25T13:37:00Z".parse().expect("fixed time"),
    }
}

fn generate(s: &EstateSpec) -> (tempfile::TempDir, GeneratedEstate) {
    let dir = tempfile::tempdir().expect("temp dir");
    let g = generate_estate(s, dir.path()).expect("generate");
    (dir, g)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (_a, ga) = generate(&spec(7, 6, 2));
    let (_b, gb) = generate(&spec(7, 6, 2));
    let (_c, gc) = generate(&spec(8, 6, 2));
    assert_eq!(ga.facts, gb.facts);
    for (x, y) in ga.files.iter().zip(&gb.files) {
        assert_eq!(
            std::fs::read(x).expect("a"),
            std::fs::read(y).expect("b"),
            "{x:?}"
        );
    }
    assert_ne!(
        std::fs::read(&ga.files[0]).expect("a"),
        std::fs::read(&gc.files[0]).expect("c")
    );
}

#[test]
fn default_estate_reads_back_and_facts_hold() {
    let s = spec(1, 6, 5);
    let (_d, g) = generate(&s);
    assert_eq!(g.files.len(), 6);
    let names: Vec<String> = g
        .files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.iter().filter(|n| n.ends_with(".xml")).count(), 3);
    assert_eq!(names.iter().filter(|n| n.ends_with(".jsonl")).count(), 2);
    assert_eq!(names.iter().filter(|n| n.ends_with(".jsonl.gz")).count(), 1);
    assert!((15_000..80_000).contains(&g.events), "{} events", g.events);
    let files = read_back(&g.files);
    check_files(&s, &g, &files);
    let by = |q: &str| {
        g.facts
            .iter()
            .find(|f| f.description.contains(q))
            .map(|f| f.expected)
    };
    assert_eq!(by("Security log cleared"), Some(1));
    assert_eq!(by("accounts created"), Some(1));
    assert_eq!(by("Domain Admins"), Some(1));
    assert_eq!(by("Backup Operators"), Some(1));
    assert_eq!(by("Remote Desktop Users"), Some(1));
    assert_eq!(by("within a minute"), Some(2));
    assert_eq!(by("nina.patel on"), Some(0));
    let grants = by("local admin grants").expect("grants");
    let removals = by("local admin removals").expect("removals");
    // Two planted grants are never removed; a JIT grant still running at `end` is open too.
    assert!(
        grants >= removals + 2,
        "{grants} grants, {removals} removals"
    );
    // Noise dominates, as on real machines.
    let noise = by("windows.event").expect("noise");
    assert!(noise > 5_000 && noise < g.events);
}

#[test]
fn odd_sizes_stay_consistent() {
    for (machines, days) in [(1, 1), (2, 1), (3, 2), (13, 2)] {
        let s = spec(3, machines, days);
        let (_d, g) = generate(&s);
        assert_eq!(g.files.len(), machines);
        let files = read_back(&g.files);
        check_files(&s, &g, &files);
    }
}

fn check_files(s: &EstateSpec, g: &GeneratedEstate, files: &[Vec<Parsed>]) {
    let total: usize = files.iter().map(Vec::len).sum();
    assert_eq!(total as u64, g.events);
    let start = s.end - chrono::Duration::days(i64::from(s.days));
    for recs in files {
        assert!(!recs.is_empty());
        let computer = &recs[0].computer;
        let mut last: Option<(u64, chrono::DateTime<chrono::Utc>)> = None;
        for r in recs {
            assert_eq!(&r.computer, computer, "one machine per file");
            let t: chrono::DateTime<chrono::Utc> = r.time.parse().expect("RFC 3339 time");
            assert!(
                t >= start - chrono::Duration::milliseconds(1) && t < s.end,
                "{t} outside the window"
            );
            if let Some((id, prev)) = last {
                assert_eq!(r.record_id, id + 1, "record ids consecutive");
                assert!(t >= prev, "time ordered");
            }
            last = Some((r.record_id, t));
        }
    }
    let e = estate::Estate::new(s.seed, s.machines.max(1));
    let cast = scenario::Cast::new(&e);
    let conds = facts::fact_conditions(&e, &cast);
    let recount = facts::count_facts(&conds, files.iter().flatten().map(|r| r as &dyn View));
    assert_eq!(recount, g.facts);
    assert_eq!(g.facts[0].query, "*");
    assert_eq!(g.facts[0].expected, g.events);
}

#[test]
fn real_field_shapes() {
    let (_d, g) = generate(&spec(5, 6, 3));
    let files = read_back(&g.files);
    let all: Vec<&Parsed> = files.iter().flatten().collect();
    let one = |id: u16| {
        *all.iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
    };
    // Every record of `id`: Windows' order in XML; serde_json sorts JSON keys, so compare those as sets.
    let fields_are = |id: u16, expected: &[&str]| {
        let mut sorted = expected.to_vec();
        sorted.sort_unstable();
        let mut seen = 0;
        for r in all.iter().filter(|r| r.id == id) {
            let mut got: Vec<&str> = r.fields.iter().map(|(k, _)| k.as_str()).collect();
            if r.xml {
                assert_eq!(got, expected, "{id} in XML");
            } else {
                got.sort_unstable();
                assert_eq!(got, sorted, "{id} in JSON");
            }
            seen += 1;
        }
        assert!(seen > 0, "no {id}");
    };
    fields_are(
        4624,
        &[
            "SubjectUserSid",
            "SubjectUserName",
            "SubjectDomainName",
            "SubjectLogonId",
            "TargetUserSid",
            "TargetUserName",
            "TargetDomainName",
            "TargetLogonId",
            "LogonType",
            "LogonProcessName",
            "AuthenticationPackageName",
            "WorkstationName",
            "LogonGuid",
            "TransmittedServices",
            "LmPackageName",
            "KeyLength",
            "ProcessId",
            "ProcessName",
            "IpAddress",
            "IpPort",
            "ImpersonationLevel",
            "RestrictedAdminMode",
            "TargetOutboundUserName",
            "TargetOutboundDomainName",
            "VirtualAccount",
            "TargetLinkedLogonId",
            "ElevatedToken",
        ],
    );
    let group = [
        "MemberName",
        "MemberSid",
        "TargetUserName",
        "TargetDomainName",
        "TargetSid",
        "SubjectUserSid",
        "SubjectUserName",
        "SubjectDomainName",
        "SubjectLogonId",
        "PrivilegeList",
    ];
    fields_are(4732, &group);
    fields_are(4733, &group);
    fields_are(4728, &group);
    let subject = [
        "SubjectUserSid",
        "SubjectUserName",
        "SubjectDomainName",
        "SubjectLogonId",
    ];
    fields_are(4672, &[&subject[..], &["PrivilegeList"]].concat());
    fields_are(1102, &subject);
    let cleared = one(1102);
    assert_eq!(cleared.provider, "Microsoft-Windows-Eventlog");
    let logon_types: HashSet<&str> = all
        .iter()
        .filter(|r| r.id == 4624)
        .filter_map(|r| r.field("LogonType"))
        .collect();
    assert!(
        ["2", "3", "5", "10"]
            .iter()
            .all(|t| logon_types.contains(t)),
        "{logon_types:?}"
    );
    let privs = all
        .iter()
        .filter(|r| r.id == 4672)
        .find_map(|r| r.field("PrivilegeList"))
        .expect("4672");
    assert!(
        privs.contains("\n\t\t\t"),
        "Windows' PrivilegeList separator"
    );
    // 4672 follows its 4624 with the same logon id on the same machine.
    let logons: HashSet<(&str, &str)> = all
        .iter()
        .filter(|r| r.id == 4624)
        .map(|r| (r.computer.as_str(), r.field("TargetLogonId").unwrap_or("")))
        .collect();
    assert!(
        all.iter()
            .filter(|r| r.id == 4672)
            .all(|r| logons
                .contains(&(r.computer.as_str(), r.field("SubjectLogonId").unwrap_or(""))))
    );
    // Values that need escaping survive both formats.
    assert!(all.iter().any(|r| {
        r.field("CommandLine")
            .is_some_and(|c| c.contains("&& type") && c.contains('"'))
    }));
}

#[test]
fn bulk_writes_exactly_n_lines_deterministically() {
    for n in [0u64, 1, 777, 20_000] {
        let mut a = Vec::new();
        write_bulk_jsonl(n, 9, &mut a).expect("write");
        let text = String::from_utf8(a.clone()).expect("UTF-8");
        assert_eq!(text.lines().count() as u64, n);
        assert!(n == 0 || text.ends_with('\n'));
        let mut b = Vec::new();
        write_bulk_jsonl(n, 9, &mut b).expect("write");
        assert_eq!(a, b);
        let mut ids = HashSet::new();
        let mut codes: HashMap<u16, u64> = HashMap::new();
        for line in text.lines() {
            let p = parse_winlogbeat_line(line);
            assert!(
                ids.insert((p.computer.clone(), p.record_id)),
                "duplicate record id"
            );
            *codes.entry(p.id).or_default() += 1;
        }
        if n == 20_000 {
            assert!(
                ids.iter().map(|(c, _)| c).collect::<HashSet<_>>().len() > 20,
                "many hosts"
            );
            for id in [4624, 4634, 4672, 4688, 5156] {
                assert!(codes.contains_key(&id), "mix has {id}: {codes:?}");
            }
        }
    }
    let mut c = Vec::new();
    write_bulk_jsonl(100, 10, &mut c).expect("write");
    let mut a = Vec::new();
    write_bulk_jsonl(100, 9, &mut a).expect("write");
    assert_ne!(a, c);
}
