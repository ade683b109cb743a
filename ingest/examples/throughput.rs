//! Parse + normalize throughput (not a test): `cargo run --release -p privtrail-ingest --example
//! throughput [FILE…]`. Defaults to the shared security.evtx and the NXLog sample. For each file it
//! prints the median of several runs of `read_file` (parse, normalize, batch; the sink only counts),
//! and for EVTX beside it the `evtx` crate alone rendering every record to JSON (the parse-only limit).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use privtrail_ingest::{Options, read_file};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let data = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"));
    let mut files: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        files = vec![
            data.join("evtx/security.evtx"),
            data.join("nxlog/empire_wmic_add_user_backdoor.security.jsonl.gz"),
        ];
    }
    let opts = Options::default();
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    for path in files {
        let mut rates = Vec::new();
        let mut records = 0;
        for _ in 0..runs {
            let mut events = 0u64;
            let start = Instant::now();
            let report = match read_file(&path, &opts, &|_| {}, &mut |b| {
                events += b.events.len() as u64;
                ControlFlow::Continue(())
            }) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return;
                }
            };
            let secs = start.elapsed().as_secs_f64();
            records = report.records;
            rates.push(report.records as f64 / secs);
        }
        let ingest = median(rates);
        println!(
            "{}: {records} records, read_file (parse+normalize): {:.0} records/s ({:.2} µs/record), median of {runs}",
            path.display(),
            ingest,
            1e6 / ingest
        );
        if path.extension().is_some_and(|e| e == "evtx") {
            let mut rates = Vec::new();
            for _ in 0..runs {
                let start = Instant::now();
                let mut n = 0u64;
                let Ok(parser) = evtx::EvtxParser::from_path(&path) else {
                    return;
                };
                let mut parser = parser
                    .with_configuration(evtx::ParserSettings::new().num_threads(1).indent(false));
                for r in parser.records_json() {
                    if r.is_ok() {
                        n += 1;
                    }
                }
                rates.push(n as f64 / start.elapsed().as_secs_f64());
            }
            let raw = median(rates);
            println!(
                "  evtx crate alone (records_json, 1 thread): {:.0} records/s ({:.2} µs/record); normalize adds {:.2} µs/record",
                raw,
                1e6 / raw,
                1e6 / ingest - 1e6 / raw
            );
        }
    }
}
