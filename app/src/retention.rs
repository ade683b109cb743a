//! The retention job (`privtrail purge`, and the daemon on `[retention] schedule`): what may go,
//! and the purge itself through the writer. Elevations still open keep the events that opened
//! them (and so everything after): an admin right that never went away is never forgotten.

use chrono::{DateTime, Utc};
use privtrail_store::PurgePlan;

use crate::App;
use crate::error::Result;

/// What a purge at `now` would drop (`None`: nothing, or retention is off).
pub fn plan(app: &App, now: DateTime<Utc>) -> Result<Option<PurgePlan>> {
    let r = &app.config().retention;
    if !r.enabled() {
        return Ok(None);
    }
    let keep: Vec<privtrail_model::EventId> = crate::engine::load_elevations(app.store())?
        .into_iter()
        .filter(|e| e.is_open())
        .map(|e| e.opened_by)
        .collect();
    let expired = |t: DateTime<Utc>, s| r.keep(s).is_some_and(|k| now - t > k);
    Ok(app.store().purge_plan(&expired, &keep)?)
}

/// Purges what [`plan`] allows; returns the plan carried out.
pub fn purge(app: &App, now: DateTime<Utc>) -> Result<Option<PurgePlan>> {
    let Some(p) = plan(app, now)? else {
        return Ok(None);
    };
    let reason = describe(app);
    let writer = app.writer()?;
    let plan = p.clone();
    writer.call(move |w| w.purge(&plan, &reason))??;
    writer.notify_stored();
    Ok(Some(p))
}

/// The retention settings in words, for the purge record.
fn describe(app: &App) -> String {
    let r = &app.config().retention;
    let mut parts = Vec::new();
    if let Some(e) = &r.events {
        parts.push(format!("events kept {e}"));
    }
    for (s, span) in &r.sources {
        parts.push(format!("{s} kept {span}"));
    }
    format!("[retention] {}", parts.join(", "))
}
