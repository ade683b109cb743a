//! `privtrail token show|rotate|add|list|remove`: the API tokens in the data directory's
//! `tokens.json` (0600). Works beside a running daemon, which picks up changes at once.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use privtrail_app::AppError;
use privtrail_app::tokens::{Role, Tokens};

use crate::cli::TokenCommand;

pub fn run(dir: &Path, cmd: TokenCommand) -> Result<ExitCode> {
    privtrail_app::lock::create_private_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let tokens = Tokens::new(dir);
    match cmd {
        // Alone on its line, for `TOKEN=$(privtrail token show)`.
        TokenCommand::Show => println!("{}", tokens.ensure_admin()?),
        TokenCommand::Rotate { name } => {
            println!("{}", tokens.rotate(name.as_deref().unwrap_or("admin"))?)
        }
        TokenCommand::Add { name, role } => {
            let role = Role::parse(&role)
                .filter(|r| *r != Role::Admin)
                .ok_or_else(|| {
                    AppError::Usage(format!("--role {role:?}: reader, reviewer or ingest"))
                })?;
            println!("{}", tokens.add(&name, role)?);
        }
        TokenCommand::List => {
            let rows: Vec<Vec<String>> = tokens
                .list()?
                .into_iter()
                .map(|(n, r, at)| vec![n, r.as_str().to_owned(), at])
                .collect();
            crate::output::write_table(
                &mut std::io::stdout().lock(),
                &["name", "role", "created (UTC)"],
                &rows,
            )?;
        }
        TokenCommand::Remove { name } => {
            if !tokens.remove(&name)? {
                return Err(AppError::NotFound(format!("no token named {name:?}")).into());
            }
            println!("token {name} removed");
        }
    }
    Ok(ExitCode::SUCCESS)
}
