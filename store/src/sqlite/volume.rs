//! How many Windows events each host wrote in a period, per event code: the daily input of the
//! `noisy-audit-policy` rule, which cannot be handed a day of events (a domain controller writes
//! millions).

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::{CodeVolume, HostVolume, StoreError};

/// Grouped in SQLite: only the (host, code) groups come out, never the events.
fn query() -> String {
    format!(
        "SELECT host, event_code, sum(outcome = 'failure'), count(*) FROM events \
         WHERE {} AND time >= ?1 AND time < ?2 AND source = 'windows' AND host IS NOT NULL \
         GROUP BY host, event_code ORDER BY count(*) DESC, host, event_code",
        super::events::IN_SPANS
    )
}

/// Hosts with their Windows events of `from <= time < to` (nanoseconds): totals, and per event
/// code (most frequent first) the success and failure counts of at most `max_codes` codes. Host
/// names that differ only in case are one host (agents disagree on the case of `computer_name`);
/// the first spelling read is kept. Hosts in name order.
///
/// One pass over the period through the `time` index, grouped in SQLite; it reads every event of
/// the period once, which is why the engine asks once a day.
pub fn windows_volume(
    conn: &Connection,
    from: i64,
    to: i64,
    max_codes: usize,
) -> Result<Vec<HostVolume>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&query())
        .map_err(StoreError::sqlite("prepare windows volume"))?;
    let mut rows = stmt
        .query(params![from, to])
        .map_err(StoreError::sqlite("select windows volume"))?;
    let mut hosts: HashMap<String, HostVolume> = HashMap::new();
    let count = |v: i64| u64::try_from(v).unwrap_or(0);
    while let Some(row) = rows
        .next()
        .map_err(StoreError::sqlite("read windows volume"))?
    {
        let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(String, String, i64, i64)> {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        };
        let (host, code, failure, all) =
            read(row).map_err(StoreError::sqlite("decode windows volume"))?;
        let (failure, all) = (count(failure), count(all));
        let h = hosts
            .entry(host.to_lowercase())
            .or_insert_with(|| HostVolume {
                host,
                total: 0,
                codes: Vec::new(),
            });
        h.total += all;
        // Rows come most frequent first, so the codes kept are the most frequent ones (but for
        // hosts spelled in several cases, which merge below).
        if let Some(c) = h.codes.iter_mut().find(|c| c.code == code) {
            c.success += all - failure;
            c.failure += failure;
        } else if h.codes.len() < max_codes {
            h.codes.push(CodeVolume {
                code,
                success: all - failure,
                failure,
            });
        }
    }
    let mut out: Vec<HostVolume> = hosts.into_values().collect();
    for h in &mut out {
        h.codes.sort_by(|a, b| {
            (b.success + b.failure)
                .cmp(&(a.success + a.failure))
                .then_with(|| a.code.cmp(&b.code))
        });
    }
    out.sort_by(|a, b| a.host.cmp(&b.host));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The day is read through the `time` index, not by scanning every event of the store.
    #[test]
    fn reads_the_period_through_the_time_index() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.db");
        let mut conn = crate::sqlite::open(&path, true)?;
        crate::sqlite::schema::migrate(&mut conn, &path)?;
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", query()))?
            .query_map(params![0i64, 1i64], |r| r.get::<_, String>(3))?
            .collect::<Result<_, _>>()?;
        let plan = plan.join("\n");
        assert!(plan.contains("USING INDEX events_span_time"), "{plan}");
        Ok(())
    }
}
