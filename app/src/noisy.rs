//! The daily input of `noisy-audit-policy`: the Windows event volume of the last completed UTC
//! day, per host and event id, read from the store once per day.
//!
//! The rules job asks [`due`] on every run; it answers only when the day [`day_to_judge`] names
//! has not been judged yet (the checkpoint [`LAST_DAY`] holds the last day judged, so restarts
//! and several processes sharing the data directory judge each day once). The checkpoint is
//! written after the results of the evaluation that judged the day: a crash in between judges the
//! day again, which changes nothing, because the rule's findings are conditions (the same
//! findings update nothing).
//!
//! Cost: one pass over the day's events through the `time` index (a grouped count in SQLite, no
//! event decoded), once per day — seconds for a domain controller's millions of events, on a read
//! connection that does not hold up ingestion.

use chrono::{DateTime, NaiveDate, Utc};
use privtrail_rules::builtin::{MAX_CODES, NOISY_AUDIT_POLICY, day_bounds, day_to_judge};
use privtrail_rules::{CodeCount, DayVolume, HostVolume};
use privtrail_store::{Store, StoreError, Writer};

use crate::engine::Engine;
use crate::error::Result;

/// The checkpoint holding the last day judged (`YYYY-MM-DD`).
pub const LAST_DAY: &str = "noisy:last_day";

/// The volume of the day to judge at `now`, when `noisy-audit-policy` is enabled and that day has
/// not been judged yet; `None` otherwise (almost every run).
pub fn due(store: &Store, engine: &Engine, now: DateTime<Utc>) -> Result<Option<DayVolume>> {
    if !engine.rules.iter().any(|r| r.id() == NOISY_AUDIT_POLICY) {
        return Ok(None);
    }
    let Some(day) = day_to_judge(now) else {
        return Ok(None);
    };
    if last_judged(store)?.is_some_and(|last| last >= day) {
        return Ok(None);
    }
    let (from, to) = day_bounds(day);
    let hosts = store
        .windows_volume(from, to, MAX_CODES)?
        .into_iter()
        .map(|h| HostVolume {
            host: h.host,
            total: h.total,
            codes: h
                .codes
                .into_iter()
                .map(|c| CodeCount {
                    code: c.code,
                    success: c.success,
                    failure: c.failure,
                })
                .collect(),
        })
        .collect();
    Ok(Some(DayVolume { day, hosts }))
}

/// The last day judged; an unreadable checkpoint counts as none (the day is judged again, which
/// is harmless).
pub fn last_judged(store: &Store) -> Result<Option<NaiveDate>> {
    Ok(store
        .checkpoint(LAST_DAY)?
        .and_then(|s| s.trim().parse::<NaiveDate>().ok()))
}

/// Records that `day` was judged (on the writer thread, in the job that saves the results of
/// the judgement: see [`crate::engine::evaluate`]).
pub fn mark_judged(w: &mut Writer, day: NaiveDate) -> std::result::Result<(), StoreError> {
    w.set_checkpoint(LAST_DAY, &day.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use privtrail_model::{Action, Event, EventId, Source};

    use super::*;
    use crate::{App, Config};

    type R = std::result::Result<(), Box<dyn std::error::Error>>;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    /// `n` events of `code` on `host`, one a minute from `from`.
    fn events(host: &str, first: u64, from: &str, code: &str, n: u64) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut e = Event::new(
                    EventId::windows(host, "Security", first + i),
                    Source::Windows,
                    Action::WindowsEvent,
                    t(from) + Duration::seconds(i as i64 * 30),
                    code,
                );
                e.host = Some(host.to_owned());
                e
            })
            .collect()
    }

    fn store(app: &App, events: Vec<Event>) -> R {
        app.writer()?.call(move |w| w.write_batch(&events, &[]))??;
        Ok(())
    }

    fn noisy_alerts(app: &App) -> Result<Vec<privtrail_rules::Alert>> {
        Ok(crate::engine::load_alerts(app.store())?
            .into_iter()
            .filter(|a| a.rule == NOISY_AUDIT_POLICY)
            .collect())
    }

    /// The rules job judges the last settled day once — a later run the same day, or a restart,
    /// does not judge it again — and the next day's judgement resolves the alert.
    #[test]
    fn each_day_is_judged_once_across_runs_and_restarts() -> R {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let app = App::open_writer(&data, Config::default(), "test")?;
        store(
            &app,
            events("FS01", 1, "2024-05-01T08:00:00Z", "5156", 1_500),
        )?;
        store(
            &app,
            events("FS01", 10_000, "2024-05-01T09:00:00Z", "4624", 100),
        )?;
        store(
            &app,
            events("WS7", 1, "2024-05-01T08:00:00Z", "4624", 1_500),
        )?;

        // Before the day has settled, nothing is judged.
        let ev = app.rules(t("2024-05-02T00:30:00Z"))?;
        assert!(ev.opened.is_empty());
        assert!(
            last_judged(app.store())?
                < Some(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default())
        );

        let ev = app.rules(t("2024-05-02T01:00:00Z"))?;
        assert_eq!(ev.opened.len(), 1, "{:#?}", ev.opened);
        let a = &ev.opened[0];
        assert_eq!(a.rule, NOISY_AUDIT_POLICY);
        assert_eq!(a.subject, "host|fs01");
        assert!(a.summary.contains("FS01: 93.8%"), "{}", a.summary);
        assert!(a.summary.contains(
            "5156 ×1500 (auditpol /set /subcategory:\"Filtering Platform Connection\" /success:disable)"
        ));
        assert_eq!(
            last_judged(app.store())?.map(|d| d.to_string()).as_deref(),
            Some("2024-05-01")
        );

        // The same day, after a restart: the day is not judged again (had it been, the quiet
        // events stored since would have resolved the alert).
        store(
            &app,
            events("FS01", 20_000, "2024-05-01T10:00:00Z", "4624", 30_000),
        )?;
        drop(app);
        let app = App::open_writer(&data, Config::default(), "test")?;
        let ev = app.rules(t("2024-05-02T12:00:00Z"))?;
        assert!(ev.opened.is_empty() && ev.resolved.is_empty());
        assert_eq!(noisy_alerts(&app)?.len(), 1);
        assert!(noisy_alerts(&app)?[0].is_active());

        // The next day FS01 is quiet: judged the day after, the condition resolves.
        store(
            &app,
            events("FS01", 100_000, "2024-05-02T08:00:00Z", "4624", 1_500),
        )?;
        let ev = app.rules(t("2024-05-03T01:30:00Z"))?;
        assert_eq!(ev.resolved.len(), 1);
        assert_eq!(ev.resolved[0].subject, "host|fs01");
        assert_eq!(
            last_judged(app.store())?.map(|d| d.to_string()).as_deref(),
            Some("2024-05-02")
        );
        Ok(())
    }

    /// Turned off, the rule costs nothing: the day is never read nor marked.
    #[test]
    fn off_means_no_reading() -> R {
        let dir = tempfile::tempdir()?;
        let config: Config = toml::from_str("[rules.noisy-audit-policy]\nenabled = false\n")?;
        let app = App::open_writer(&dir.path().join("data"), config, "test")?;
        store(
            &app,
            events("FS01", 1, "2024-05-01T08:00:00Z", "5156", 1_500),
        )?;
        let ev = app.rules(t("2024-05-02T01:00:00Z"))?;
        assert!(ev.opened.is_empty());
        assert_eq!(last_judged(app.store())?, None);
        Ok(())
    }
}
