//! `privtrail elevations`

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use privtrail_app::services::{ElevationQuery, ElevationView};
use privtrail_app::{App, AppError};

use crate::cli::ElevationsArgs;
use crate::output::{self, Column};

pub fn run(app: &App, args: &ElevationsArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let at = args
        .at
        .as_deref()
        .map(|s| privtrail_app::time::parse_time(s, now))
        .transpose()
        .map_err(|e| AppError::Usage(format!("--at: {e}")))?;
    let q = ElevationQuery {
        at,
        open: args.open,
        overdue: args.overdue,
        principal: args.principal.clone(),
        privilege: args.privilege.clone(),
    };
    let list = app.elevations(&q, now)?;
    let items: Vec<Item> = list.iter().map(Item).collect();
    let v = |i: &Item, k: &str| match serde_json::to_value(&i.0.elevation) {
        Ok(v) => match &v[k] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        Err(_) => String::new(),
    };
    let e = |i: &Item| i.0.elevation.clone();
    let principal = |i: &Item| e(i).principal;
    // `CONTOSO\nina.patel (S-1-5-21-…-1601)`: the name the events gave a SID, with the SID.
    let who = |i: &Item| i.0.elevation.who_short();
    let principal_name = |i: &Item| e(i).principal_name.unwrap_or_default();
    let privilege = |i: &Item| e(i).privilege;
    let scope = |i: &Item| e(i).scope;
    let kind = |i: &Item| v(i, "kind");
    let started = |i: &Item| output::time(i.0.elevation.started_at);
    let expected = |i: &Item| output::opt_time(i.0.elevation.expected_end);
    let ended = |i: &Item| output::opt_time(i.0.elevation.ended_at);
    let state = |i: &Item| i.0.state();
    let table: [Column<'_, Item>; 8] = [
        ("principal", &who),
        ("privilege", &privilege),
        ("scope", &scope),
        ("kind", &kind),
        ("started (UTC)", &started),
        ("expected end", &expected),
        ("ended", &ended),
        ("state", &state),
    ];
    let f = |k: &'static str| move |i: &Item| v(i, k);
    let (id, pid, sa, ee, ea, er, ob, cb) = (
        f("id"),
        f("privilege_id"),
        f("started_at"),
        f("expected_end"),
        f("ended_at"),
        f("end_reason"),
        f("opened_by"),
        f("closed_by"),
    );
    let csv: [Column<'_, Item>; 14] = [
        ("id", &id),
        ("principal", &principal),
        ("principal_name", &principal_name),
        ("privilege", &privilege),
        ("privilege_id", &pid),
        ("scope", &scope),
        ("kind", &kind),
        ("started_at", &sa),
        ("expected_end", &ee),
        ("ended_at", &ea),
        ("end_reason", &er),
        ("opened_by", &ob),
        ("closed_by", &cb),
        ("state", &state),
    ];
    output::print(
        &mut std::io::stdout().lock(),
        args.format,
        &items,
        &table,
        &csv,
        "no matching elevations",
    )?;
    Ok(ExitCode::SUCCESS)
}

/// An elevation as listed: JSON is the elevation itself (SPEC §3 names).
struct Item<'a>(&'a ElevationView);

impl serde::Serialize for Item<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.elevation.serialize(s)
    }
}
