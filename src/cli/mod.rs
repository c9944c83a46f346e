//! The command line: global options and the subcommands. Each subcommand calls the same
//! library function the daemon calls; this module only turns arguments into settings and
//! results into output and an exit code.

mod digest;
mod explain;
mod generate;
mod returns;
mod state;
mod subscribers;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::build;
use crate::config::Config;

/// gazette: publishes a news office's articles as feeds and email digests.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "GAZETTE_CONFIG", default_value = "config.toml")]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event (journald adds its own timestamps).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run as a service: serve feeds and pages over HTTP, rebuild feeds on schedule and on
    /// store changes, send digests on their schedules. Stops on SIGTERM, reloads on SIGHUP.
    Run,
    /// Build every feed from the article store; problems are reported and skipped.
    Build(PathArgs),
    /// Check the article store and list every problem; exits 1 if there is one.
    Check(CheckArgs),
    /// Send, preview or dry-run a digest.
    Digest {
        /// What to do.
        #[command(subcommand)]
        command: digest::DigestCommand,
    },
    /// Act on returned mail (bounces, complaints) and list what came back.
    Returns {
        /// What to do.
        #[command(subcommand)]
        command: returns::ReturnsCommand,
    },
    /// Add, import, export, list and remove subscribers.
    Subscribers {
        /// What to do with them.
        #[command(subcommand)]
        command: subscribers::SubscribersCommand,
    },
    /// Move the state into another database (SQLite into PostgreSQL).
    State {
        /// What to do.
        #[command(subcommand)]
        command: state::StateCommand,
    },
    /// Write the man pages or shell completions (for packaging; reads no config).
    #[command(hide = true)]
    Generate {
        /// What to write.
        #[command(subcommand)]
        command: generate::GenerateCommand,
    },
}

/// `check`'s arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Paths that override config.
    #[command(flatten)]
    pub paths: PathArgs,
    /// Instead of checking the store, show how each of these press-release files is read:
    /// title, metadata, halves, attachments, and the lines dropped and why.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub explain: Vec<PathBuf>,
}

/// Paths that override config.
#[derive(Debug, Args)]
pub struct PathArgs {
    /// The article store folder (overrides store.dir).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// The feeds output folder (overrides feeds.dir).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl PathArgs {
    fn apply(&self, config: &mut Config) {
        if let Some(store) = &self.store {
            config.store.dir.clone_from(store);
        }
        if let Some(out) = &self.out {
            config.feeds.dir.clone_from(out);
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Generate { command } = &cli.command {
        return generate::run(command).map(|()| ExitCode::SUCCESS);
    }
    let mut config = Config::from_file(&cli.config)?;
    // check reports it as an error of its own; everything else goes on, saying so.
    if let Some(problem) = config.placeholder_problem()
        && !matches!(cli.command, Command::Check(_))
    {
        tracing::warn!("{problem}");
    }
    match &cli.command {
        Command::Build(paths) => {
            paths.apply(&mut config);
            run_build(&config)
        }
        Command::Check(args) => {
            args.paths.apply(&mut config);
            if args.explain.is_empty() { run_check(&config) } else { explain::run(&config, &args.explain) }
        }
        Command::Subscribers { command } => subscribers::run(&config, command),
        Command::Returns { command } => returns::run(&config, command),
        Command::Digest { command } => digest::run(&config, command),
        Command::State { command } => state::run(&config, command),
        Command::Run => crate::daemon::run(&cli.config, config).map(|()| ExitCode::SUCCESS),
        Command::Generate { .. } => unreachable!("generate returned above"),
    }
}

fn run_build(config: &Config) -> Result<ExitCode> {
    let report = build::build(config, Utc::now())?;
    let survey = &report.survey;
    for problem in survey.errors().chain(&report.published.problems) {
        tracing::error!("{problem}");
    }
    for notice in &survey.catalog.notices {
        tracing::warn!("{notice}");
    }
    let errors = survey.errors().count() + report.published.problems.len();
    tracing::info!(
        feeds = report.published.feeds,
        articles = survey.catalog.len(),
        shown = report.published.articles_shown,
        files_read = survey.scan.files_read,
        files_cached = survey.scan.files_reused,
        changed = report.published.changed.len(),
        unchanged = report.published.unchanged,
        drafts = survey.catalog.drafts,
        held_back = survey.catalog.held_back,
        errors,
        elapsed_ms = report.elapsed.as_millis() as u64,
        "built feeds into {}",
        config.feeds.dir.display()
    );
    // The process ends here: let the OS reclaim the records of a large store at once instead
    // of freeing them one by one.
    std::mem::forget(report);
    Ok(ExitCode::SUCCESS)
}

fn run_check(config: &Config) -> Result<ExitCode> {
    let survey = build::survey(config, Utc::now())?;
    let mut errors = 0;
    if let Some(problem) = config.placeholder_problem() {
        println!("error: {problem}");
        errors += 1;
    }
    for problem in survey.errors() {
        println!("error: {problem}");
        errors += 1;
    }
    for notice in &survey.catalog.notices {
        println!("notice: {notice}");
    }
    // The templates and strings are what a start would load: their errors are the store's too.
    let mut notices = survey.catalog.notices.len();
    match crate::render::Renderer::load(config) {
        Ok(renderer) => {
            for (lang, from, keys) in borrowed_by_language(&renderer) {
                println!(
                    "notice: strings: [{lang}] takes {} from [{from}] (its fallback): {}",
                    keys.len(),
                    keys.join(", ")
                );
                notices += 1;
            }
        }
        Err(e) => {
            println!("error: {e:#}");
            errors += 1;
        }
    }
    println!(
        "{} articles publishable, {} drafts, {} held back until their date, {} errors, {} notices",
        survey.catalog.len(),
        survey.catalog.drafts,
        survey.catalog.held_back,
        errors,
        notices
    );
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The strings each language borrows, grouped by language and the language lent them.
fn borrowed_by_language(renderer: &crate::render::Renderer) -> Vec<(String, String, Vec<String>)> {
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    for (lang, key, from) in renderer.borrowed() {
        match groups.iter_mut().find(|(l, f, _)| l == lang && f == from) {
            Some((_, _, keys)) => keys.push(key.to_owned()),
            None => groups.push((lang.to_owned(), from.to_owned(), vec![key.to_owned()])),
        }
    }
    groups
}
