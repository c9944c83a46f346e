//! `gazette returns …`: returned mail from the command line. `process` reads messages from
//! files, mailboxes (mbox, Maildir) or standard input (for a pipe transport, procmail or a
//! `.forward`) and acts on each as the service does ([`crate::returns::process`]); `list`
//! shows what came back.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Subcommand;

use crate::config::Config;
use crate::returns::process::{Handled, handle};
use crate::state::{Database, State};
use crate::tokens::Signer;

/// Largest message read (a bounce quotes at most the original): bigger ones are skipped.
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

/// Exit code asking a pipe transport to try again later (sysexits `EX_TEMPFAIL`).
const TEMPFAIL: u8 = 75;

/// The returned-mail subcommands.
#[derive(Debug, Subcommand)]
pub enum ReturnsCommand {
    /// Act on returned messages: each FILE is a message, an mbox or a Maildir; none reads
    /// one message from standard input.
    Process {
        /// Message files, mbox files or Maildir folders.
        files: Vec<PathBuf>,
        /// The envelope recipient (the return path), as a pipe transport passes it
        /// (Postfix: `${recipient}`); else read from `Delivered-To`, `X-Original-To` or `To`.
        #[arg(long)]
        recipient: Option<String>,
    },
    /// List what came back, oldest first.
    List {
        /// How far back (`7d`, `24h`; default 7d).
        #[arg(long, default_value = "7d")]
        since: String,
    },
}

/// Runs a returns subcommand.
pub fn run(config: &Config, command: &ReturnsCommand) -> Result<ExitCode> {
    match command {
        ReturnsCommand::Process { files, recipient } => process(config, files, recipient.as_deref()),
        ReturnsCommand::List { since } => list(config, since),
    }
}

fn process(config: &Config, files: &[PathBuf], recipient: Option<&str>) -> Result<ExitCode> {
    if config.mail.returns.is_none() {
        anyhow::bail!("no [mail.returns] in {}: returned mail cannot be attributed", config.path.display());
    }
    let signer = Signer::load(&config.tokens)?;
    // The database being away is the one failure the mail server should retry.
    let mut state = match Database::open(&config.state).and_then(|db| db.get()) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(TEMPFAIL));
        }
    };
    let mut counts: std::collections::BTreeMap<&'static str, usize> = std::collections::BTreeMap::new();
    let mut each = |name: &str, raw: &[u8]| -> Result<()> {
        let handled = handle(&mut state, config, &signer, raw, recipient, Utc::now().timestamp())
            .with_context(|| format!("{name}: cannot record it"))?;
        *counts.entry(handled.as_str()).or_default() += 1;
        if matches!(handled, Handled::NotOurs | Handled::Other) {
            tracing::info!(message = name, what = handled.as_str(), "returned message dropped");
        }
        Ok(())
    };
    if files.is_empty() {
        let mut raw = Vec::new();
        std::io::stdin().take(MAX_MESSAGE as u64 + 1).read_to_end(&mut raw).context("cannot read standard input")?;
        if raw.len() > MAX_MESSAGE {
            eprintln!("notice: standard input: larger than {MAX_MESSAGE} bytes, skipped");
        } else if let Err(e) = each("standard input", &raw) {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(TEMPFAIL));
        }
    }
    let mut failed = false;
    for file in files {
        if let Err(e) = for_each_message(file, &mut each) {
            eprintln!("error: {e:#}");
            failed = true;
        }
    }
    let summary: Vec<String> = counts.iter().map(|(what, n)| format!("{n} {what}")).collect();
    println!("{}", if summary.is_empty() { "nothing read".to_owned() } else { summary.join(", ") });
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Calls `each` with every message in `path`: a Maildir (`cur/` and `new/`), an mbox (messages
/// after `From ` lines) or one message.
fn for_each_message(path: &Path, each: &mut impl FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
    let name = path.display().to_string();
    if path.is_dir() {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            let dir = path.join(sub);
            let entries = std::fs::read_dir(&dir).with_context(|| format!("{}: not a Maildir", dir.display()))?;
            for entry in entries {
                files.push(entry.with_context(|| format!("cannot list {}", dir.display()))?.path());
            }
        }
        files.sort();
        for file in files.iter().filter(|f| f.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.'))) {
            let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            each(&file.display().to_string(), &raw)?;
        }
        return Ok(());
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?;
    let mut reader = std::io::BufReader::new(file);
    let is_mbox =
        std::io::BufRead::fill_buf(&mut reader).with_context(|| format!("cannot read {name}"))?.starts_with(b"From ");
    if !is_mbox {
        let mut raw = Vec::new();
        reader.take(MAX_MESSAGE as u64 + 1).read_to_end(&mut raw).with_context(|| format!("cannot read {name}"))?;
        if raw.len() > MAX_MESSAGE {
            eprintln!("notice: {name}: larger than {MAX_MESSAGE} bytes, skipped");
            return Ok(());
        }
        return each(&name, &raw);
    }
    let mut count = 0;
    mbox_messages(&mut reader, |message| {
        count += 1;
        each(&format!("{name} message {count}"), message)
    })
    .with_context(|| format!("cannot read {name}"))
}

/// Calls `each` with the messages of an mbox, one at a time (a mailbox of any size is never
/// held): each starts after a `From ` line, and `>From ` lines inside lose one `>` (mboxrd).
/// A message over [`MAX_MESSAGE`] is skipped with a notice.
fn mbox_messages(reader: &mut impl std::io::BufRead, mut each: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut current: Option<Vec<u8>> = None;
    let mut line = Vec::new();
    let mut deliver = |message: Option<Vec<u8>>| -> Result<()> {
        match message {
            Some(m) if m.len() > MAX_MESSAGE => {
                eprintln!("notice: a message larger than {MAX_MESSAGE} bytes, skipped");
                Ok(())
            }
            Some(m) => each(&m),
            None => Ok(()),
        }
    };
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return deliver(current.take());
        }
        if line.starts_with(b"From ") {
            deliver(current.replace(Vec::new()))?;
            continue;
        }
        let Some(message) = current.as_mut() else { continue };
        if message.len() > MAX_MESSAGE {
            continue;
        }
        let quoted = line.iter().take_while(|&&b| b == b'>').count();
        if quoted > 0 && line[quoted..].starts_with(b"From ") {
            message.extend_from_slice(&line[1..]);
        } else {
            message.extend_from_slice(&line);
        }
    }
}

fn list(config: &Config, since: &str) -> Result<ExitCode> {
    let window = humantime::parse_duration(since)
        .with_context(|| format!("--since: '{since}' is not a duration such as '7d'"))?;
    let since = Utc::now().timestamp() - i64::try_from(window.as_secs()).unwrap_or(i64::MAX / 2);
    let state = Database::open(&config.state)?.get()?;
    let mut out = std::io::stdout().lock();
    state.for_each_return(since, |entry, at| {
        let when = chrono::DateTime::from_timestamp(at, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
        let whom = match (entry.subscriber, entry.signup) {
            (Some(id), _) => shortened(&state, id),
            (None, Some(signup)) => format!("sign-up {signup}"),
            (None, None) => "-".to_owned(),
        };
        let run = entry.run.map_or_else(|| "-".to_owned(), |r| format!("run {r}"));
        writeln!(
            out,
            "{when}\t{}\t{whom}\t{run}\t{}\t{}",
            entry.kind,
            entry.status.as_deref().unwrap_or("-"),
            entry.diagnostic.as_deref().unwrap_or("")
        )?;
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Subscriber `id` as the logs show people: `li…@example.org`.
fn shortened(state: &State, id: i64) -> String {
    match state.subscriber_by_id(id) {
        Ok(Some(s)) => match s.email.rsplit_once('@') {
            Some((local, domain)) => format!("{}…@{domain}", local.chars().take(2).collect::<String>()),
            None => format!("subscriber {id}"),
        },
        _ => format!("subscriber {id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mbox_is_split_at_its_from_lines_and_unquoted() {
        let raw = b"From a@b Thu Jan  1 00:00:00 2026\nSubject: one\n\n>From here\n\nFrom c@d Thu Jan  1 00:00:01 2026\nSubject: two\n\nbody\n";
        let mut messages = Vec::new();
        mbox_messages(&mut &raw[..], |m| {
            messages.push(m.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], b"Subject: one\n\nFrom here\n\n");
        assert_eq!(messages[1], b"Subject: two\n\nbody\n");
    }
}
