//! What `bench api`'s clients push: generated Winlogbeat lines, live (time-ordered, dated after the
//! store and later every round) or backfilled (as generated, inside the stored range).

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

/// The clients' input: generated Winlogbeat lines, re-sent every round under new host names.
pub(super) struct BulkInput {
    pub lines: Vec<String>,
    /// Part of every host name, so that a run on a kept store (`--work-dir`) sends new events,
    /// not the last run's again: the store's size when the run started.
    run: i64,
    /// Live input: each line's dates move by `first + round * span` days.
    live: Option<(i64, i64)>,
}

impl BulkInput {
    /// `n` lines; live (time-ordered, dated after `after` and moving on every round) when
    /// `after` is given, else as generated (inside the stored range).
    pub fn new(n: u64, run: i64, after: Option<DateTime<Utc>>) -> Result<BulkInput> {
        let mut buf = Vec::new();
        privtrail_sim::write_bulk_jsonl(n, 7, &mut buf)?;
        let mut lines: Vec<String> = String::from_utf8(buf)?.lines().map(str::to_owned).collect();
        let Some(after) = after else {
            return Ok(BulkInput {
                lines,
                run,
                live: None,
            });
        };
        let stamp = |l: &str| {
            l.split_once("\"@timestamp\":\"")
                .and_then(|(_, t)| t.get(..24))
                .map(str::to_owned)
                .unwrap_or_default()
        };
        lines.sort_by_cached_key(|l| stamp(l));
        let day = |l: &str| {
            chrono::NaiveDate::parse_from_str(stamp(l).get(..10).unwrap_or(""), "%Y-%m-%d")
        };
        let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
            bail!("no input generated");
        };
        let (first, last) = (day(first)?, day(last)?);
        let span = (last - first).num_days() + 1;
        let offset = (after.date_naive() - first).num_days() + 1;
        Ok(BulkInput {
            lines,
            run,
            live: Some((offset, span)),
        })
    }

    /// Line `line` as sent in round `round` by client `k`.
    pub fn render(&self, line: &str, k: usize, round: u64, out: &mut String) {
        let prefix = format!("\"computer_name\":\"S{}C{k}R{round}-", self.run);
        let line = line.replacen("\"computer_name\":\"", &prefix, 1);
        match self.live {
            None => out.push_str(&line),
            Some((offset, span)) => {
                let days = offset + span * i64::try_from(round).unwrap_or(0);
                shift_dates(&line, days, out);
            }
        }
    }
}

/// Copies `line` to `out` with every JSON string that starts with a date (`"YYYY-MM-DDT…`)
/// moved by `days`.
fn shift_dates(line: &str, days: i64, out: &mut String) {
    let b = line.as_bytes();
    let mut copied = 0;
    let mut i = 0;
    while i + 12 <= b.len() {
        let is_date = b[i] == b'"'
            && b[i + 5] == b'-'
            && b[i + 8] == b'-'
            && b[i + 11] == b'T'
            && [1, 2, 3, 4, 6, 7, 9, 10]
                .iter()
                .all(|&j| b[i + j].is_ascii_digit());
        if is_date
            && let Ok(d) = chrono::NaiveDate::parse_from_str(&line[i + 1..i + 11], "%Y-%m-%d")
            && let Some(moved) = d.checked_add_signed(chrono::Duration::days(days))
        {
            out.push_str(&line[copied..=i]);
            out.push_str(&moved.format("%Y-%m-%d").to_string());
            copied = i + 11;
            i += 11;
        } else {
            i += 1;
        }
    }
    out.push_str(&line[copied..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_move_by_whole_days_and_nothing_else_changes() {
        let line = r#"{"@timestamp":"2026-01-31T23:59:59.123Z","event":{"created":"2026-02-01T00:00:00.5Z"},"note":"2026-01-31 not a time","id":"1234-56-78T"}"#;
        let mut out = String::new();
        shift_dates(line, 1, &mut out);
        assert_eq!(
            out,
            r#"{"@timestamp":"2026-02-01T23:59:59.123Z","event":{"created":"2026-02-02T00:00:00.5Z"},"note":"2026-01-31 not a time","id":"1234-56-78T"}"#
        );
        out.clear();
        shift_dates(line, 0, &mut out);
        assert_eq!(out, line);
    }

    #[test]
    fn live_input_is_in_time_order_after_the_store_and_each_round_later() {
        let newest = "2026-03-10T12:00:00Z"
            .parse::<DateTime<Utc>>()
            .expect("time");
        let input = BulkInput::new(3_000, 7, Some(newest)).expect("input");
        let stamp = |l: &str| -> DateTime<Utc> {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["@timestamp"]
                .as_str()
                .expect("@timestamp")
                .parse()
                .expect("time")
        };
        let render = |line: &str, round| {
            let mut s = String::new();
            input.render(line, 0, round, &mut s);
            s
        };
        let first = stamp(&render(&input.lines[0], 0));
        let last = stamp(&render(&input.lines[input.lines.len() - 1], 0));
        assert!(first > newest, "{first} after {newest}");
        assert!(
            input.lines.windows(2).all(|w| stamp(&w[0]) <= stamp(&w[1])),
            "sorted by time"
        );
        let next_round = stamp(&render(&input.lines[0], 1));
        assert!(next_round > last, "round 1 starts after round 0 ended");
        assert!(render(&input.lines[0], 1).contains("\"computer_name\":\"S7C0R1-"));
        let backfill = BulkInput::new(100, 7, None).expect("input");
        assert!(backfill.live.is_none());
    }
}
