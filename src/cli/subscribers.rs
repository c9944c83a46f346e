//! `gazette subscribers …`: the subscriber list from the command line. The rules are
//! [`crate::subscription`]'s (an operator may add any address a relay accepts); this turns
//! what they did into output.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::Subcommand;

use crate::config::Config;
use crate::state::{Database, Saved, Status};
use crate::subscription::{self, Address, Giver, export, import, preferences};

/// The subscriber subcommands.
#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Add a subscriber, or change the preferences of an existing one.
    Add {
        /// The email address.
        address: String,
        /// Language of the digest (default: site.default_language).
        #[arg(long)]
        lang: Option<String>,
        /// Sectors, comma-separated (default: every sector).
        #[arg(long, default_value = "")]
        sectors: String,
        /// Digest id (default: the first configured digest).
        #[arg(long)]
        digest: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Consent is already confirmed (no confirmation email is needed).
        #[arg(long)]
        confirmed: bool,
    },
    /// Import a CSV file with the header `email,name,language,sectors,digest`.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Consent is already confirmed for the new subscribers.
        #[arg(long)]
        confirmed: bool,
    },
    /// Write every subscriber as CSV to standard output.
    Export,
    /// List every subscriber.
    List,
    /// Delete a subscriber and everything kept about them but a hash of the address, which
    /// keeps imports from adding them again (`add` still can).
    Remove {
        /// The email address.
        address: String,
    },
}

fn status(confirmed: bool) -> Status {
    if confirmed { Status::Confirmed } else { Status::Pending }
}

/// Runs a subscriber subcommand.
pub fn run(config: &Config, command: &SubscribersCommand) -> Result<ExitCode> {
    let db = Database::open(&config.state)?;
    let mut state = db.get()?;
    let now = Utc::now().timestamp();
    match command {
        SubscribersCommand::Add { address, lang, sectors, digest, name, confirmed } => {
            let email = Address::parse(address, Giver::Operator)?;
            let lang = lang.as_deref().unwrap_or(&config.site.default_language);
            let Some(digest) = digest.as_deref().or(config.digests.first().map(|d| d.id.as_str())) else {
                bail!("no [[digests]] in {}: configure one first", config.path.display());
            };
            let prefs = preferences(config, name.as_deref(), lang, sectors, digest).map_err(anyhow::Error::msg)?;
            let saved = subscription::add(&mut state, &email, &prefs, status(*confirmed), "cli", now)?;
            let said = match saved {
                Saved::Added => format!("added {email} ({})", status(*confirmed)),
                Saved::Updated => format!("updated the preferences of {email}"),
                Saved::Unchanged => format!("{email} is already subscribed so"),
                Saved::Kept(status) => format!("left {email} alone: {status} (only they can subscribe again)"),
                Saved::Suppressed => format!("left {email} alone: removed before"),
            };
            println!("{said}");
            Ok(ExitCode::SUCCESS)
        }
        SubscribersCommand::Import { file, confirmed } => {
            let input = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
            let source = file.display().to_string();
            let report = import(config, &mut state, &source, input, status(*confirmed), now)?;
            for error in &report.errors {
                println!("error: {error}");
            }
            for kept in &report.kept {
                println!("left alone: {source}:{kept}");
            }
            println!(
                "{} added, {} updated, {} unchanged, {} left alone, {} errors",
                report.added,
                report.updated,
                report.unchanged,
                report.kept.len(),
                report.errors.len()
            );
            Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        SubscribersCommand::Export => {
            let stdout = std::io::stdout();
            export(&state, stdout.lock())?;
            Ok(ExitCode::SUCCESS)
        }
        SubscribersCommand::List => {
            let mut out = std::io::stdout().lock();
            state.for_each_subscriber(|s| {
                let p = &s.preferences;
                let sectors = if p.sectors.is_empty() { "all".to_owned() } else { p.sectors.join(",") };
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    s.email,
                    p.name.as_deref().unwrap_or("-"),
                    p.language,
                    sectors,
                    p.digest,
                    s.status
                )?;
                Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        SubscribersCommand::Remove { address } => {
            // A row kept from an earlier release may hold an address today's parser refuses:
            // it is found by the key it is stored under.
            let removed = match Address::parse(address, Giver::Operator) {
                Ok(email) => subscription::remove(&mut state, &email, now)?,
                Err(_) => subscription::remove_unparsed(&mut state, address, now)?,
            };
            let email = address.trim();
            if removed {
                println!("removed {email}");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("no subscriber {email}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
