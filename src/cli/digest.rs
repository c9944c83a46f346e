//! `gazette digest …`: send a digest now, preview one, or count what a run would send. The
//! daemon's schedule calls the same [`crate::digest::run`] functions.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use clap::Subcommand;

use crate::config::Config;
use crate::digest::run;
use crate::state::Database;
use crate::store::dates;
use crate::subscription::{Address, Giver};

/// The digest subcommands.
#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// What became of digest run RUN: sent, failed, what came back, who left since.
    Status {
        /// The run number (as `digest send` prints it).
        run: i64,
    },
    /// Send digest ID now to every confirmed subscriber (or resume an interrupted run).
    Send {
        /// The digest id (`daily`).
        id: String,
        /// Count who would get what; send and record nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the digest an address would get now, as .eml and .html files.
    Preview {
        /// The digest id.
        id: String,
        /// The address (a subscriber's preferences are used; others get the defaults).
        #[arg(long)]
        to: String,
        /// Where to write the files.
        #[arg(long, default_value = "preview")]
        out: PathBuf,
        /// Show the articles published after DATE (`2026-11-01`, `2026-11-01 09:30` in the
        /// site's time zone, or RFC 3339) instead of those new for the address.
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
}

/// Runs a digest subcommand.
pub fn run(config: &Config, command: &DigestCommand) -> Result<ExitCode> {
    let now = Utc::now();
    let db = Database::open(&config.state)?;
    match command {
        DigestCommand::Status { run } => status(&db, *run),
        DigestCommand::Send { id, dry_run: true } => {
            let (confirmed, receiving) = run::dry_run(config, &db, id, now)?;
            println!("digest {id}: {receiving} of {confirmed} confirmed subscribers would get a message");
            Ok(ExitCode::SUCCESS)
        }
        DigestCommand::Send { id, dry_run: false } => {
            let report = run::send(config, &db, id, None, now, &tokio_util::sync::CancellationToken::new())?;
            println!(
                "digest {id}, run {}{}: {} sent, {} with nothing new, {} failed",
                report.run,
                if report.is_resumed { " (resumed)" } else { "" },
                report.sent,
                report.skipped,
                report.failed
            );
            Ok(if report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        DigestCommand::Preview { id, to, out, since } => {
            let email = Address::parse(to, Giver::Operator)?;
            let since = since
                .as_deref()
                .map(|s| dates::from_str(s, config.site.timezone).map_err(|e| anyhow::anyhow!("--since: {e}")))
                .transpose()?;
            for path in run::preview(config, &db, id, &email, out, now, since)? {
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn status(db: &Database, run: i64) -> Result<ExitCode> {
    let state = db.get()?;
    let Some(report) = state.run_report(run)? else {
        println!("no digest run {run}");
        return Ok(ExitCode::FAILURE);
    };
    let when = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
    let finished = report.finished_at.map_or_else(|| "unfinished".to_owned(), |t| format!("finished {}", when(t)));
    println!("digest {}, run {run}: started {}, {finished}", report.digest, when(report.started_at));
    let sent = report.delivered("sent");
    println!(
        "{sent} sent, {} with nothing new, {} failed, {} pending",
        report.delivered("skipped"),
        report.delivered("failed"),
        report.delivered("pending")
    );
    let complaints = report.came_back("complained");
    println!(
        "came back: {} bounced, {} soft, {} unclassified, {complaints} complaints",
        report.came_back("bounced"),
        report.came_back("soft"),
        report.came_back("unclassified")
    );
    println!("unsubscribed since: {}", report.unsubscribed_since);
    if sent > 0 {
        println!("complaint rate: {:.3} %", crate::returns::process::complaint_rate(complaints, sent));
    }
    Ok(ExitCode::SUCCESS)
}
