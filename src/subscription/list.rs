//! Subscriber lists as CSV files: import (idempotent; a bad row is reported with its line and
//! the good rows still import; each row is an operator's [`super::add`]) and export.

use std::collections::hash_map::Entry;
use std::io::{Read, Write};

use rustc_hash::FxHashMap as HashMap;

use anyhow::{Context, Result, bail};

use super::{Address, Giver, preferences};
use crate::config::Config;
use crate::state::{Preferences, Saved, State, Status};

/// The CSV columns, in the order export writes them (`status` is export-only).
const COLUMNS: [&str; 5] = ["email", "name", "language", "sectors", "digest"];

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// New subscribers.
    pub added: usize,
    /// Existing subscribers whose preferences changed.
    pub updated: usize,
    /// Rows already stored exactly so.
    pub unchanged: usize,
    /// Rows left alone because the address unsubscribed or bounced: `LINE: address (status)`.
    pub kept: Vec<String>,
    /// Rows that could not be imported: `FILE:LINE: reason`.
    pub errors: Vec<String>,
}

/// Imports CSV `input` (header `email,name,language,sectors,digest`; `name` and `sectors` may
/// be left out) named `source` in messages. New subscribers get `status`.
pub fn import(
    config: &Config,
    state: &mut State,
    source: &str,
    input: impl Read,
    status: Status,
    now: i64,
) -> Result<ImportReport> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(input);
    let header = reader.headers().with_context(|| format!("{source}: cannot read the header"))?.clone();
    let mut index = [None; 5];
    for (i, column) in header.iter().enumerate() {
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(column)) {
            Some(c) if index[c].is_none() => index[c] = Some(i),
            Some(_) => bail!("{source}:1: column '{column}' appears twice"),
            // Export's last column: the status of an imported subscriber is the import's to
            // decide (`--confirmed`), never the file's.
            None if column.eq_ignore_ascii_case("status") => {}
            None => bail!("{source}:1: unknown column '{column}' (expected {})", COLUMNS.join(",")),
        }
    }
    for required in ["email", "language", "digest"] {
        if index[COLUMNS.iter().position(|c| *c == required).unwrap_or(0)].is_none() {
            bail!("{source}:1: the header has no '{required}' column (expected {})", COLUMNS.join(","));
        }
    }

    let mut report = ImportReport::default();
    let consent = format!("import:{source}");
    let mut batch: Vec<(u64, Address, Preferences)> = Vec::with_capacity(BATCH);
    // Where each address was first seen, by a 128-bit SHA-256 prefix of it (no crafted
    // collision): a million rows fit in a few tens of MB.
    let mut seen: HashMap<[u8; 16], u64> = HashMap::default();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                report.errors.push(format!("{source}:{line}: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let field = |c: usize| index[c].and_then(|i| record.get(i)).unwrap_or("");
        let parsed = Address::parse(field(0), Giver::Operator).map_err(|e| e.to_string()).and_then(|email| {
            let name = Some(field(1)).filter(|n| !n.is_empty());
            let prefs = preferences(config, name, field(2), field(3), field(4))?;
            Ok((email, prefs))
        });
        match parsed {
            Ok((email, prefs)) => match seen.entry(address_hash(&email)) {
                // A second row for one address would make every import report it changed.
                Entry::Occupied(first) => {
                    report.errors.push(format!("{source}:{line}: {email} is already on line {}", first.get()));
                }
                Entry::Vacant(slot) => {
                    slot.insert(line);
                    batch.push((line, email, prefs));
                }
            },
            Err(e) => report.errors.push(format!("{source}:{line}: {e}")),
        }
        if batch.len() == BATCH {
            save_batch(state, &mut batch, status, &consent, now, &mut report)?;
        }
    }
    save_batch(state, &mut batch, status, &consent, now, &mut report)?;
    Ok(report)
}

/// Rows saved per transaction in an import.
const BATCH: usize = 2000;

fn address_hash(email: &Address) -> [u8; 16] {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(email.key().as_bytes());
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// Saves `batch` (emptying it) and counts what happened in `report`.
fn save_batch(
    state: &mut State,
    batch: &mut Vec<(u64, Address, Preferences)>,
    status: Status,
    consent: &str,
    now: i64,
    report: &mut ImportReport,
) -> Result<()> {
    let saved = state.write(|tx| {
        batch
            .iter()
            .map(|(_, email, prefs)| super::save(tx, email, prefs, status, consent, now, true))
            .collect::<Result<Vec<_>>>()
    })?;
    for ((line, email, _), saved) in batch.iter().zip(saved) {
        match saved {
            Saved::Added => report.added += 1,
            Saved::Updated => report.updated += 1,
            Saved::Unchanged => report.unchanged += 1,
            Saved::Kept(status) => report.kept.push(format!("{line}: {email} ({status})")),
            Saved::Suppressed => report.kept.push(format!("{line}: {email} (removed before)")),
        }
    }
    batch.clear();
    Ok(())
}

/// Writes every subscriber as CSV (the import columns, then `status`).
pub fn export(state: &State, output: impl Write) -> Result<()> {
    let mut writer = csv::Writer::from_writer(output);
    let mut header: Vec<&str> = COLUMNS.to_vec();
    header.push("status");
    writer.write_record(&header)?;
    state.for_each_subscriber(|s| {
        let p = &s.preferences;
        let sectors = p.sectors.join(",");
        writer.write_record([
            s.email.as_str(),
            p.name.as_deref().unwrap_or(""),
            &p.language,
            &sectors,
            &p.digest,
            s.status.as_str(),
        ])?;
        Ok(())
    })?;
    writer.flush()?;
    Ok(())
}
