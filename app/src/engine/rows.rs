//! Elevations and alerts as stored rows (their JSON bodies), and back.

use privtrail_rules::{Alert, Elevation};
use privtrail_store::{AlertRow, ElevationRow, Store};

use crate::error::{AppError, Result};

pub(crate) fn elevation_row(e: &Elevation) -> Result<ElevationRow> {
    Ok(ElevationRow {
        id: e.id.clone(),
        principal: e.principal.clone(),
        privilege: e.privilege.clone(),
        scope: e.scope.clone(),
        started_at: e.started_at,
        ended_at: e.ended_at,
        expected_end: e.expected_end,
        body: serde_json::to_string(e).map_err(AppError::json("elevation"))?,
    })
}

pub fn alert_row(a: &Alert) -> Result<AlertRow> {
    Ok(AlertRow {
        id: a.id.clone(),
        rule: a.rule.clone(),
        subject: a.subject.clone(),
        status: a.status.as_str().to_owned(),
        severity: a.severity.as_str().to_owned(),
        opened_at: a.opened_at,
        updated_at: a.updated_at,
        body: serde_json::to_string(a).map_err(AppError::json("alert"))?,
    })
}

/// Every stored alert.
pub fn load_alerts(store: &Store) -> Result<Vec<Alert>> {
    store.alerts(None)?.iter().map(decode_alert).collect()
}

/// An alert from its stored row.
pub fn decode_alert(r: &AlertRow) -> Result<Alert> {
    serde_json::from_str(&r.body).map_err(AppError::json(format!(
        "stored alert {} is unreadable",
        r.id
    )))
}

/// Every stored elevation.
pub fn load_elevations(store: &Store) -> Result<Vec<Elevation>> {
    store
        .elevations()?
        .iter()
        .map(|r| {
            serde_json::from_str(&r.body).map_err(AppError::json(format!(
                "stored elevation {} is unreadable",
                r.id
            )))
        })
        .collect()
}
