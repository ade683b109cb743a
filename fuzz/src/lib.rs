//! The fuzz targets' bodies: each takes arbitrary bytes and must neither panic, overflow the
//! stack, nor take time or memory out of proportion to the input (libFuzzer's `-rss_limit_mb`
//! and `-timeout` catch those). `fuzz_targets/*.rs` wrap them in `fuzz_target!`; `scripts/fuzz`
//! runs them all with seed corpora from `../shared/data` and the crates' fixtures.

use std::ops::ControlFlow;
use std::path::PathBuf;

use privtrail_ingest::{Format, Limits, Options};

/// Small limits so that one input cannot use more than libFuzzer allows (the defaults are for
/// real files of gigabytes).
fn options(format: Format) -> Options {
    Options {
        format,
        limits: Limits {
            max_record_bytes: 1 << 20,
            max_whole_file_bytes: 16 << 20,
            max_decompressed_bytes: 64 << 20,
            max_compression_ratio: 200,
            max_xml_depth: 64,
            max_batch_bytes: 1 << 20,
        },
        ..Options::default()
    }
}

/// The readers take files: the input goes to one per process in memory-backed /dev/shm.
fn file(name: &str, data: &[u8]) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let p = dir.join(format!("privtrail-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&p, data).expect("write the fuzz input");
    p
}

/// Reads `data` as a file of `format` (`Auto`: detected, gzip and UTF-16 undone).
pub fn read_as(format: Format, data: &[u8]) {
    let path = file(format.as_str(), data);
    let mut n = 0usize;
    let _ = privtrail_ingest::read_file(&path, &options(format), &|_| {}, &mut |b| {
        n += b.events.len() + b.rejects.len();
        ControlFlow::Continue(())
    });
}

/// Every line through the push endpoint's normalizer (any JSON shape the importer knows).
pub fn json_lines(data: &[u8]) {
    let opts = options(Format::Auto);
    for line in String::from_utf8_lossy(data).lines() {
        let _ = privtrail_ingest::normalize_json_line(line, &opts);
    }
}

/// A Graph response body: `directoryAudits` through the Entra normalizer, and the PIM and user
/// shapes through their readers.
pub fn graph_page(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let values: Vec<&serde_json::Value> = match v.get("value").and_then(|x| x.as_array()) {
        Some(a) => a.iter().collect(),
        None => vec![&v],
    };
    for r in values {
        let _ = privtrail_ingest::entra::normalize_directory_audit(r, "fuzz");
        let _ = privtrail_ingest::graph::PimInstance::from_graph(r);
        let _ = privtrail_ingest::graph::RoleDefinition::from_graph(r);
        let _ = privtrail_ingest::graph::DirectoryUser::from_graph(r);
    }
}

/// A search query as the CLI and the API take it.
pub fn search_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = privtrail_store::query::check(&privtrail_store::SearchRequest::new(text, 10));
}

/// A configuration file, with `${NAME}` answered by a value built from the name.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = privtrail_app::config::Config::parse(&text, |name| {
        Some(format!("{name}\"\\\n${{{name}}}"))
    });
}
