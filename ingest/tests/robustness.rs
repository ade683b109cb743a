//! Damaged input of every kind: never a panic, always a report or an error naming the file.

mod common;

use std::ops::ControlFlow;

use common::{data, fixture};
use privtrail_ingest::{Options, read_file};

fn read_any(path: &std::path::Path) -> Result<(u64, u64), String> {
    let mut n = 0u64;
    read_file(path, &Options::default(), &|_| {}, &mut |b| {
        n += b.events.len() as u64;
        ControlFlow::Continue(())
    })
    .map(|r| {
        assert_eq!(r.records, n + r.skipped + r.rejected);
        (n, r.error_count)
    })
    .map_err(|e| {
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        msg
    })
}

#[test]
fn truncated_text_inputs_at_many_points() {
    let dir = tempfile::tempdir().expect("tmp");
    for name in ["wevtutil.xml", "winlogbeat8.jsonl"] {
        let bytes = std::fs::read(fixture(name)).expect("fixture");
        let path = dir.path().join(name);
        for cut in (1..bytes.len()).step_by(53) {
            std::fs::write(&path, &bytes[..cut]).expect("write");
            let _ = read_any(&path);
        }
    }
}

#[test]
fn corrupted_evtx_bytes() {
    let bytes = std::fs::read(data(
        "evtx/ID4732-4733-Quick added-removed user from local group.evtx",
    ))
    .expect("read");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("corrupt.evtx");
    // Deterministic corruption: overwrite small runs at spread-out offsets.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..40 {
        let mut b = bytes.clone();
        for _ in 0..(1 + round % 5) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = 4096 + (seed as usize % (b.len() - 4096 - 16));
            for (i, x) in b[at..at + 8].iter_mut().enumerate() {
                *x = (seed >> (i * 8)) as u8;
            }
        }
        std::fs::write(&path, &b).expect("write");
        let _ = read_any(&path);
    }
    // A header-only file and a damaged header.
    std::fs::write(&path, &bytes[..4096]).expect("write");
    let _ = read_any(&path);
    std::fs::write(&path, &bytes[..100]).expect("write");
    assert!(read_any(&path).is_err());
}
