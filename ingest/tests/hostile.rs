//! Inputs built to hurt the reader (SPEC §8): each becomes a reject or damage that names the
//! `[ingest]` limit it hit, nothing crashes, and the good records around it still come out.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
mod common;

use std::io::Write;
use std::ops::ControlFlow;

use common::{fixture, read_with};
use privtrail_ingest::{Batch, Limits, Options, read_file};

/// One Event XML record of the crate's fixture (`wevtutil` output holds several).
fn one_xml_event() -> String {
    let text = std::fs::read_to_string(fixture("wevtutil.xml")).unwrap();
    let start = text.find("<Event ").unwrap();
    let end = text[start..].find("</Event>").unwrap() + start + "</Event>".len();
    text[start..end].to_owned()
}

fn one_jsonl_line() -> String {
    std::fs::read_to_string(fixture("winlogbeat8.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn half_a_million_nested_xml_elements_are_one_reject_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let good = one_xml_event();
    let depth = 500_000;
    let mut text = String::with_capacity(depth * 8 + 2 * good.len());
    text.push_str(&good);
    text.push_str(
        "\n<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>",
    );
    for _ in 0..depth {
        text.push_str("<a>");
    }
    for _ in 0..depth {
        text.push_str("</a>");
    }
    text.push_str("</System></Event>\n");
    text.push_str(&good.replace("<EventRecordID>", "<EventRecordID>9"));
    let path = write(&dir, "deep.xml", text.as_bytes());
    let r = read_with(&path, &Options::default());
    assert_eq!(
        r.events.len(),
        2,
        "the records around it: {:?}",
        r.report.errors
    );
    assert_eq!(r.rejects.len(), 1);
    assert!(
        r.rejects[0].reason.contains("max_xml_depth"),
        "{}",
        r.rejects[0].reason
    );
}

#[test]
fn an_oversized_xml_record_is_rejected_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = one_xml_event();
    let huge = good.replace(
        "</System>",
        &format!(
            "</System><EventData><Data Name='x'>{}</Data></EventData>",
            "A".repeat(70_000)
        ),
    );
    let text = format!("{huge}\n{good}\n");
    let path = write(&dir, "big.xml", text.as_bytes());
    let opts = Options {
        limits: Limits {
            max_record_bytes: 64 * 1024,
            ..Limits::default()
        },
        ..Options::default()
    };
    let r = read_with(&path, &opts);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.rejects.len(), 1);
    assert!(r.rejects[0].reason.contains("max_record_bytes"));
}

/// A gzip file of `members` copies of one member holding `chunk` (MultiGz reads them all): a
/// bomb that expands `members × chunk` bytes from a few KB.
fn gzip_bomb(chunk: &[u8], members: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(chunk).unwrap();
    let member = gz.finish().unwrap();
    member.repeat(members)
}

#[test]
fn a_gzip_bomb_is_stopped_by_ratio_and_by_size_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let line = one_jsonl_line();
    let mut chunk = String::new();
    while chunk.len() < 1 << 20 {
        chunk.push_str(&line);
        chunk.push('\n');
    }
    let lines_per_chunk = chunk.lines().count();
    let bomb = gzip_bomb(chunk.as_bytes(), 64);
    assert!(bomb.len() < 4 << 20, "{} bytes", bomb.len());
    let path = write(&dir, "bomb.jsonl.gz", &bomb);
    let read = |limits: Limits| {
        let opts = Options {
            limits,
            ..Options::default()
        };
        let mut records = 0u64;
        let report = read_file(&path, &opts, &|_| {}, &mut |b: Batch| {
            records += (b.events.len() + b.rejects.len()) as u64;
            ControlFlow::Continue(())
        })
        .unwrap();
        (report, records)
    };
    // By ratio: at most 10× the compressed bytes past the first MiB.
    let (report, records) = read(Limits {
        max_compression_ratio: 10,
        ..Limits::default()
    });
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("max_compression_ratio")),
        "{:?}",
        report.errors
    );
    assert!(
        records > 0 && records < (64 * lines_per_chunk) as u64 / 2,
        "{records}"
    );
    // By size: at most 3 MiB, whatever the ratio.
    let (report, records) = read(Limits {
        max_decompressed_bytes: 3 << 20,
        max_compression_ratio: 100_000,
        ..Limits::default()
    });
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("max_decompressed_bytes")),
        "{:?}",
        report.errors
    );
    assert!(records <= (3 * lines_per_chunk) as u64 + 1, "{records}");
    // Within the limits the same file reads whole.
    let (report, records) = read(Limits {
        max_compression_ratio: 100_000,
        ..Limits::default()
    });
    assert_eq!(report.error_count, 0, "{:?}", report.errors);
    assert_eq!(records, (64 * lines_per_chunk) as u64);
}

#[test]
fn files_read_whole_stop_at_their_limit_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let good = one_xml_event();
    let text = format!("{good}\n{}", good.repeat(40));
    // UTF-16 (as `wevtutil` output redirected by PowerShell is) is read whole.
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let path = write(&dir, "utf16.xml", &utf16);
    let cap = (good.len() * 2 + 64) as u64 * 2;
    let opts = Options {
        limits: Limits {
            max_whole_file_bytes: cap,
            ..Limits::default()
        },
        ..Options::default()
    };
    let r = read_with(&path, &opts);
    assert!(
        r.report
            .errors
            .iter()
            .any(|e| e.contains("max_whole_file_bytes")),
        "{:?}",
        r.report.errors
    );
    assert!(
        !r.events.is_empty() && r.events.len() < 41,
        "{}",
        r.events.len()
    );
}

#[test]
fn entra_json_lines_past_the_record_limit_are_rejected_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let rec = |id: &str, name: &str| {
        serde_json::json!({
            "id": id, "category": "UserManagement", "activityDisplayName": name,
            "activityDateTime": "2024-05-01T10:00:00Z", "loggedByService": "Core Directory",
            "operationType": "Update", "result": "success",
            "initiatedBy": {"user": {"userPrincipalName": "a@contoso.com"}},
            "targetResources": [], "additionalDetails": [],
        })
        .to_string()
    };
    let big = rec("2", &"x".repeat(200_000));
    let text = format!(
        "{}\n{big}\n{}\n",
        rec("1", "Update user"),
        rec("3", "Update user")
    );
    let path = write(&dir, "audit.jsonl", text.as_bytes());
    let opts = Options {
        limits: Limits {
            max_record_bytes: 64 * 1024,
            ..Limits::default()
        },
        ..Options::default()
    };
    let r = read_with(&path, &opts);
    assert_eq!(r.events.len(), 2, "{:?}", r.rejects);
    assert_eq!(r.rejects.len(), 1);
    assert_eq!(r.rejects[0].location, "line 2");
    assert!(r.rejects[0].reason.contains("max_record_bytes"));
}

#[test]
fn concatenated_entra_objects_keep_their_line_numbers() {
    // Thousands of pretty-printed objects one after another (a `Get-MgAuditLogDirectoryAudit |
    // ConvertTo-Json` habit); every 1000th is broken and must be named by its own line.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut broken_lines = Vec::new();
    for i in 0..5000 {
        let line = text.lines().count() + 1;
        if i % 1000 == 999 {
            text.push_str("{\n  \"id\": \"broken\",\n  \"activityDateTime\": \n}\n");
            broken_lines.push(format!("line {line}"));
        } else {
            text.push_str(&format!(
                "{{\n  \"id\": \"{i}\",\n  \"category\": \"UserManagement\",\n  \"activityDisplayName\": \"Update user\",\n  \"activityDateTime\": \"2024-05-01T10:00:00Z\",\n  \"loggedByService\": \"Core Directory\",\n  \"result\": \"success\",\n  \"targetResources\": []\n}}\n"
            ));
        }
    }
    let path = write(&dir, "concat.json", text.as_bytes());
    let r = read_with(&path, &Options::default());
    assert_eq!(r.events.len(), 4995);
    let got: Vec<&str> = r.rejects.iter().map(|x| x.location.as_str()).collect();
    assert_eq!(got, broken_lines);
}

#[test]
fn batches_are_bounded_by_bytes_as_well_as_by_count() {
    let dir = tempfile::tempdir().unwrap();
    let line = one_jsonl_line();
    let text: String = (0..200).map(|_| format!("{line}\n")).collect();
    let path = write(&dir, "many.jsonl", text.as_bytes());
    let opts = Options {
        batch_size: 10_000,
        limits: Limits {
            max_batch_bytes: 20 * (line.len() + 512),
            ..Limits::default()
        },
        ..Options::default()
    };
    let mut sizes = Vec::new();
    read_file(&path, &opts, &|_| {}, &mut |b: Batch| {
        sizes.push(b.events.len());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(sizes.iter().sum::<usize>(), 200);
    assert!(sizes.len() >= 5, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 20), "{sizes:?}");
}
