//! `privtrail ingest PATH…`

use std::process::ExitCode;

use anyhow::Result;
use privtrail_store::Store;

use crate::cli::IngestArgs;
use crate::config::Config;
use crate::import;

pub fn run(store: &Store, args: &IngestArgs, config: &Config) -> Result<ExitCode> {
    let mut opts = super::ingest_options(config, &args.channels);
    opts.format = args.format;
    opts.tenant = args.tenant.clone();
    let summary = import::import(store, &args.paths, &opts, !args.json, None)?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        import::print_summary(&summary, &mut std::io::stdout().lock())?;
    }
    // Damaged inputs that still yielded records are reported, not failed: only an input that
    // could not be read at all makes the run fail.
    Ok(if summary.failed_inputs() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
