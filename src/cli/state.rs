//! `gazette state …`: move the state into another database (a SQLite deployment growing to
//! several instances on PostgreSQL). The copying is [`crate::state::copy`]'s.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::config::{Config, StateConfig, StateUrl};
use crate::state::Database;

/// The state subcommands.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy everything in the state (subscribers, sign-ups, the suppression list, runs,
    /// deliveries, jobs, returned mail, WebSub subscriptions) into another database, which must
    /// be empty; then point state.url at it. Stop gazette first.
    Copy {
        /// The database to copy into: postgres://USER@HOST[:PORT]/DB (the password in
        /// GAZETTE_DB_PASSWORD) or sqlite://FILE.
        #[arg(long, value_name = "URL")]
        to: String,
        /// With sslmode=require in --to: the certificates (PEM) to trust for the server's, as
        /// state.ca_file.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<std::path::PathBuf>,
    },
}

/// Runs a state subcommand.
pub fn run(config: &Config, command: &StateCommand) -> Result<ExitCode> {
    match command {
        StateCommand::Copy { to, ca_file } => {
            let url = match (StateUrl::parse(to, &std::env::current_dir()?, "--to")?, ca_file) {
                (StateUrl::Postgres(postgres), Some(file)) if postgres.requires_tls() => {
                    StateUrl::Postgres(crate::config::PostgresUrl { ca_file: Some(file.clone()), ..postgres })
                }
                (_, Some(_)) => bail!("--ca-file: --to does not ask for TLS (add sslmode=require to its URL)"),
                (url, None) => url,
            };
            if url == config.state.url {
                bail!("--to: {url} is the database state.url already names");
            }
            let from = Database::open(&config.state)?;
            let to = Database::open(&StateConfig { url, ..config.state.clone() })?;
            let copied = crate::state::copy::copy(&from, &to)?;
            for (table, rows) in &copied {
                println!("{table:<22} {rows:>10}");
            }
            println!("copied {} into {}, checked by counting each table in both", from.url(), to.url());
            println!("next: set state.url = \"{}\" in {} and start gazette", to.url(), config.path.display());
            if let Some(file) = ca_file {
                println!("      and state.ca_file = \"{}\"", file.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
