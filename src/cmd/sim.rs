//! `privtrail sim graph` (hidden): runs the simulated tenant ([`privtrail_sim::serve_scenario`]) in its
//! own process for end-to-end tests. Prints exactly one line, `listening on http://127.0.0.1:PORT`,
//! then serves until killed or, when standard input is a pipe, until that pipe closes.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};
use privtrail_sim::{Faults, SimError};

use crate::UsageError;
use crate::cli::SimGraphArgs;

pub fn graph(args: &SimGraphArgs) -> Result<ExitCode> {
    let now = match &args.now {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|e| UsageError(format!("--now {t:?} is not RFC 3339: {e}")))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let faults = match &args.faults {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))?;
            Faults::from_json(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())))?
        }
        None => Faults::default(),
    };
    match privtrail_sim::serve_scenario(args.listen, faults, args.seed, now) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ SimError::InvalidFaults { .. }) => Err(UsageError(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}
