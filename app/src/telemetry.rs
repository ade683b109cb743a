//! [`Telemetry`]: the daemon's counters and latency histograms, kept by the writer handle (every
//! store goes through it) and read by `/metrics`. Plain atomics: recording never blocks a job.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use privtrail_model::Source;

/// Counts per event source, in the order of [`SOURCES`].
pub const SOURCES: [Source; 4] = [
    Source::Windows,
    Source::Entra,
    Source::Endpoint,
    Source::Privtrail,
];

/// A latency histogram with fixed bucket bounds (seconds), Prometheus-style (cumulative on render).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Bucket bounds for latencies from a millisecond to ten seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// `(upper bound, cumulative count)` per bucket, the total count and the sum in seconds.
    pub fn snapshot(&self) -> (Vec<(f64, u64)>, u64, f64) {
        let mut acc = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(&self.counts)
            .map(|(b, c)| {
                acc += c.load(Ordering::Relaxed);
                (*b, acc)
            })
            .collect();
        (
            buckets,
            self.count.load(Ordering::Relaxed),
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }
}

/// What the process did since it started.
#[derive(Debug)]
pub struct Telemetry {
    stored: [AtomicU64; 4],
    duplicates: [AtomicU64; 4],
    rejected: [AtomicU64; 4],
    deliveries_failed: Mutex<BTreeMap<String, u64>>,
    /// Time to store one batch (the writer's transaction).
    pub ingest_batch: Histogram,
    /// Time to answer a search (index query and loading the events).
    pub search: Histogram,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            stored: Default::default(),
            duplicates: Default::default(),
            rejected: Default::default(),
            deliveries_failed: Mutex::new(BTreeMap::new()),
            ingest_batch: Histogram::new(LATENCY_BUCKETS),
            search: Histogram::new(LATENCY_BUCKETS),
        }
    }
}

fn slot(s: Source) -> usize {
    SOURCES.iter().position(|x| *x == s).unwrap_or(0)
}

impl Telemetry {
    /// One stored batch of `source`.
    pub fn batch(
        &self,
        source: Source,
        stored: u64,
        duplicates: u64,
        rejected: u64,
        took: Duration,
    ) {
        let i = slot(source);
        self.stored[i].fetch_add(stored, Ordering::Relaxed);
        self.duplicates[i].fetch_add(duplicates, Ordering::Relaxed);
        self.rejected[i].fetch_add(rejected, Ordering::Relaxed);
        self.ingest_batch.observe(took);
    }

    /// Failed delivery attempts on `channel`.
    pub fn delivery_failed(&self, channel: &str, n: u64) {
        if let Ok(mut m) = self.deliveries_failed.lock() {
            *m.entry(channel.to_owned()).or_insert(0) += n;
        }
    }

    /// `(source, stored, duplicates, rejected)` per source.
    pub fn per_source(&self) -> Vec<(Source, u64, u64, u64)> {
        SOURCES
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    *s,
                    self.stored[i].load(Ordering::Relaxed),
                    self.duplicates[i].load(Ordering::Relaxed),
                    self.rejected[i].load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Failed delivery attempts per channel.
    pub fn deliveries_failed(&self) -> BTreeMap<String, u64> {
        self.deliveries_failed
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new(&[0.01, 0.1, 1.0]);
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_secs(5));
        let (b, n, sum) = h.snapshot();
        assert_eq!(b, vec![(0.01, 1), (0.1, 3), (1.0, 3)]);
        assert_eq!(n, 4);
        assert!((sum - 5.105).abs() < 1e-6);
    }
}
