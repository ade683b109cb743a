#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use privtrail_ingest::{FileReport, Options, read_file};
use privtrail_model::{Event, Reject};

/// A file of the shared real test data (`../shared/data` from the project root).
pub fn data(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")).join(rel)
}

/// A fixture of this crate.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(rel)
}

pub struct Read {
    pub report: FileReport,
    pub events: Vec<Event>,
    pub rejects: Vec<Reject>,
}

impl Read {
    pub fn count_code(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for e in &self.events {
            *m.entry(e.event_code.clone()).or_insert(0) += 1;
        }
        m
    }
    pub fn with_code(&self, code: &str) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| e.event_code == code)
            .collect()
    }
}

pub fn read_with(path: &Path, opts: &Options) -> Read {
    let mut events = Vec::new();
    let mut rejects = Vec::new();
    let report = read_file(path, opts, &|_| {}, &mut |b| {
        events.extend(b.events);
        rejects.extend(b.rejects);
        ControlFlow::Continue(())
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Read {
        report,
        events,
        rejects,
    }
}

pub fn read(path: &Path) -> Read {
    read_with(path, &Options::default())
}
