//! A reviewer's action on an alert or a remediation action, with its note: one definition for the
//! JSON API (`POST /api/v1/alerts/{id}/ack` …) and the web UI's forms.

use chrono::Utc;
use privtrail_app::App;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// Notes longer than this are refused (a note is a sentence or two, not a document).
pub(crate) const MAX_NOTE: usize = 4000;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Ack,
    Resolve,
    Approve,
    Reject,
}

/// Refuses a note past [`MAX_NOTE`] characters.
pub(crate) fn check_note(note: Option<&str>) -> ApiResult<()> {
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(ApiError::bad_request(format!(
            "the note is longer than {MAX_NOTE} characters"
        )));
    }
    Ok(())
}

impl Op {
    /// Carries the action out now as `by`; answers the alert or the remediation action as it now is.
    pub(crate) fn apply(
        self,
        app: &App,
        id: &str,
        by: &str,
        note: Option<&str>,
    ) -> ApiResult<Value> {
        let now = Utc::now();
        let json = |v: Result<Value, serde_json::Error>| {
            v.map_err(|e| {
                tracing::error!(error = %e, "writing a reviewer action's answer");
                ApiError::internal()
            })
        };
        Ok(match self {
            Op::Ack => json(serde_json::to_value(app.ack_alert(id, now, by, note)?))?,
            Op::Resolve => json(serde_json::to_value(app.resolve_alert(id, now, by, note)?))?,
            Op::Approve => json(serde_json::to_value(
                app.remediation_approve(id, now, by, note)?,
            ))?,
            Op::Reject => json(serde_json::to_value(
                app.remediation_reject(id, now, by, note)?,
            ))?,
        })
    }
}
