//! The simulated Windows estate behind `privtrail demo`, and the event generator behind `privtrail bench`.
//!
//! [`generate_estate`] writes a domain's machines' Security events — half as Event XML exactly as
//! `wevtutil qe Security /f:xml` prints it, half as Winlogbeat 8 JSON lines (one of them gzipped) — and
//! returns [`Fact`]s: search queries with the exact number of events each matches, counted from what
//! was written. Everything is deterministic per seed (own SplitMix64, no `rand`).

mod bulk;
mod day;
mod estate;
mod events;
mod facts;
mod noise;
#[cfg(test)]
mod readback;
mod record;
mod scenario;
#[cfg(test)]
mod tests;
mod winlogbeat;
mod xml;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use bulk::write_bulk_jsonl;

use crate::SimError;
use crate::rng::Rng;
use day::machine_day;
use estate::Estate;
use record::{DAY, Rec, Ticks, View, ticks_of};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct EstateSpec {
    pub seed: u64,
    /// Number of Windows machines (a DC, a SQL server and a jump host first, then workstations).
    pub machines: usize,
    /// Days of history.
    pub days: u32,
    /// The last day ends here; nothing is dated at or after it.
    pub end: chrono::DateTime<chrono::Utc>,
}

impl Default for EstateSpec {
    fn default() -> Self {
        EstateSpec {
            seed: 1,
            machines: 6,
            days: 5,
            end: chrono::Utc::now(),
        }
    }
}

/// What [`generate_estate`] wrote.
#[derive(Debug, Clone)]
pub struct GeneratedEstate {
    pub files: Vec<PathBuf>,
    /// Records written over all files.
    pub events: u64,
    pub facts: Vec<Fact>,
}

/// Something notable in the estate and how to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub description: String,
    /// A search query (tantivy syntax over the SPEC §2 field names).
    pub query: String,
    /// How many events that query matches.
    pub expected: u64,
}

/// How a machine's records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    EventXml,
    Winlogbeat,
    WinlogbeatGz,
}

fn formats(n: usize) -> Vec<Format> {
    let json = n / 2;
    (0..n)
        .map(|i| match i % 2 {
            0 => Format::EventXml,
            // The last JSON machine is gzipped when there is more than one.
            _ if json > 1 && i / 2 + 1 == json => Format::WinlogbeatGz,
            _ => Format::Winlogbeat,
        })
        .collect()
}

/// Per-machine Winlogbeat agent identity, stable per seed.
fn agent(seed: u64, i: usize, m: &events::Machine) -> winlogbeat::Agent {
    let mut r = Rng::derive(seed, 0xA6E7, i as u64);
    let strip = |g: String| g.trim_matches(['{', '}']).to_owned();
    winlogbeat::Agent {
        computer: m.fqdn.clone(),
        host: m.short.to_lowercase(),
        agent_id: strip(r.guid()),
        ephemeral_id: strip(r.guid()),
    }
}

/// Puts one machine's records in time order, drops those outside `[start, end)`, and numbers them
/// from `first_id`.
fn finish(recs: &mut Vec<Rec>, (start, end): (Ticks, Ticks), first_id: u64) {
    recs.retain(|r| r.ticks >= start && r.ticks < end);
    recs.sort_by_key(|r| r.ticks);
    for (i, r) in recs.iter_mut().enumerate() {
        r.record_id = first_id + i as u64;
    }
}

/// Writes one machine's records to `path` in `format`, through `buf`.
fn write_machine(
    path: &Path,
    format: Format,
    recs: &[Rec],
    m: &events::Machine,
    a: &winlogbeat::Agent,
    buf: &mut String,
) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut write = |out: &mut dyn Write| -> std::io::Result<()> {
        for r in recs {
            match format {
                Format::EventXml => xml::render(buf, r, &m.fqdn),
                _ => winlogbeat::render(buf, r, a),
            }
            if buf.len() > (1 << 20) - 8192 {
                out.write_all(buf.as_bytes())?;
                buf.clear();
            }
        }
        out.write_all(buf.as_bytes())?;
        buf.clear();
        Ok(())
    };
    if format == Format::WinlogbeatGz {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        write(&mut gz)?;
        gz.finish()?.flush()?;
    } else {
        write(&mut file)?;
        file.flush()?;
    }
    Ok(())
}

/// Generates the estate described by `spec` into `dir` (which must exist). Fails with
/// [`SimError::Write`] naming the file that cannot be written.
pub fn generate_estate(spec: &EstateSpec, dir: &Path) -> Result<GeneratedEstate, SimError> {
    let e = Estate::new(spec.seed, spec.machines.max(1));
    let cast = scenario::Cast::new(&e);
    let end = ticks_of(spec.end);
    let start = end - i64::from(spec.days.max(1)) * DAY;
    let mut per_machine: Vec<Vec<Rec>> = vec![Vec::new(); e.machines.len()];
    for (mi, recs) in per_machine.iter_mut().enumerate() {
        let mut day = start - start.rem_euclid(DAY);
        while day < end {
            let mut rng = Rng::derive(spec.seed, mi as u64 + 1, day.div_euclid(DAY) as u64);
            machine_day(&e, mi, day, &mut rng, recs);
            day += DAY;
        }
    }
    scenario::plant(&e, &cast, spec.seed, (start, end), &mut per_machine);
    let mut id_rng = Rng::derive(spec.seed, 0x1D, 0);
    for recs in &mut per_machine {
        let first = id_rng.range(10_000, 2_000_000);
        finish(recs, (start, end), first);
    }

    let mut files = Vec::with_capacity(e.machines.len());
    let mut buf = String::with_capacity(1 << 20);
    for ((i, m), (recs, format)) in e
        .machines
        .iter()
        .enumerate()
        .zip(per_machine.iter().zip(formats(e.machines.len())))
    {
        let name = match format {
            Format::EventXml => format!("{}-Security.xml", m.short),
            Format::Winlogbeat => format!("{}-winlogbeat.jsonl", m.short.to_lowercase()),
            Format::WinlogbeatGz => format!("{}-winlogbeat.jsonl.gz", m.short.to_lowercase()),
        };
        let path = dir.join(name);
        let a = agent(spec.seed, i, m);
        write_machine(&path, format, recs, m, &a, &mut buf).map_err(|source| SimError::Write {
            path: path.clone(),
            source,
        })?;
        files.push(path);
    }
    let conds = facts::fact_conditions(&e, &cast);
    let facts = facts::count_facts(&conds, per_machine.iter().flatten().map(|r| r as &dyn View));
    Ok(GeneratedEstate {
        files,
        events: per_machine.iter().map(|r| r.len() as u64).sum(),
        facts,
    })
}
