//! `privtrail bench`'s input: many hosts' ordinary days as Winlogbeat 8 JSON lines, streamed.

use std::io::Write;

use super::day::machine_day;
use super::estate::Estate;
use super::record::{DAY, Rec, Ticks, ticks_of};
use super::{agent, winlogbeat};
use crate::SimError;
use crate::rng::Rng;

/// Hosts in the benchmark estate.
const HOSTS: usize = 250;

/// Writes exactly `n` realistic Security events (the estate's mix over many hosts) as Winlogbeat 8
/// JSON lines to `out`, one host-day at a time (memory does not grow with `n`). Deterministic per
/// `seed`; record ids increase per host.
/// Fails with [`SimError::Output`] when `out` does.
pub fn write_bulk_jsonl(n: u64, seed: u64, out: &mut dyn Write) -> Result<(), SimError> {
    let e = Estate::new(seed, HOSTS);
    let agents: Vec<_> = e
        .machines
        .iter()
        .enumerate()
        .map(|(i, m)| agent(seed, i, m))
        .collect();
    let mut next_id: Vec<u64> = (0..HOSTS as u64)
        .map(|i| Rng::derive(seed, 0x1D, i).range(10_000, 2_000_000))
        .collect();
    let base: Ticks = chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
        .map_or(0, |t| ticks_of(t.to_utc()));
    let mut recs: Vec<Rec> = Vec::with_capacity(4096);
    let mut buf = String::with_capacity(1 << 20);
    let mut left = n;
    let mut day_index: i64 = 0;
    while left > 0 {
        let day = base + day_index * DAY;
        for mi in 0..HOSTS {
            if left == 0 {
                break;
            }
            recs.clear();
            let mut rng = Rng::derive(seed, mi as u64 + 1, day_index as u64);
            machine_day(&e, mi, day, &mut rng, &mut recs);
            recs.sort_by_key(|r| r.ticks);
            let take = recs.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            for r in &mut recs[..take] {
                r.record_id = next_id[mi];
                next_id[mi] += 1;
                winlogbeat::render(&mut buf, r, &agents[mi]);
                if buf.len() > (1 << 20) - 16384 {
                    out.write_all(buf.as_bytes()).map_err(SimError::Output)?;
                    buf.clear();
                }
            }
            left -= take as u64;
        }
        day_index += 1;
    }
    out.write_all(buf.as_bytes()).map_err(SimError::Output)?;
    Ok(())
}
