//! Subscribers as the command line and CSV files give them: addresses parsed and preferences
//! checked against config (an unknown language, sector or digest is an error naming it), CSV
//! import (idempotent; a bad row is reported with its line and the good rows still import) and
//! export. Storing them is [`crate::state`]'s job.

use std::collections::hash_map::Entry;
use std::io::{Read, Write};

use rustc_hash::FxHashMap as HashMap;

use anyhow::{Context, Result, bail};
use lettre::Address;

use crate::config::Config;
use crate::state::{Preferences, Saved, State, Status};
use crate::text::one_line;

/// The CSV columns, in the order export writes them (`status` is export-only).
const COLUMNS: [&str; 5] = ["email", "name", "language", "sectors", "digest"];

/// Parses an address (`name@example.org`, no display name): the domain is lowercased.
pub fn parse_email(input: &str) -> Result<String, String> {
    let trimmed = input.trim();
    let address: Address =
        trimmed.parse().map_err(|e| format!("'{}' is not an email address ({e})", one_line(trimmed)))?;
    Ok(format!("{}@{}", address.user(), address.domain().to_lowercase()))
}

/// Checks preferences against `config`. `sectors` is a list separated by commas, semicolons or
/// spaces; empty means every sector.
pub fn preferences(
    config: &Config,
    name: Option<&str>,
    language: &str,
    sectors: &str,
    digest: &str,
) -> Result<Preferences, String> {
    let language = language.trim();
    if config.language(language).is_none() {
        let known: Vec<&str> = config.languages.iter().map(|l| l.code.as_str()).collect();
        return Err(format!("unknown language '{language}' (configured: {})", known.join(", ")));
    }
    let listed: Vec<&str> = sectors.split([',', ';', ' ']).map(str::trim).filter(|s| !s.is_empty()).collect();
    if let Some(unknown) = listed.iter().find(|s| config.sector(s).is_none()) {
        let known: Vec<&str> = config.sectors.iter().map(|s| s.id.as_str()).collect();
        return Err(format!("unknown sector '{unknown}' (configured: {})", known.join(", ")));
    }
    let digest = digest.trim();
    if config.digest(digest).is_none() {
        let known: Vec<&str> = config.digests.iter().map(|d| d.id.as_str()).collect();
        return Err(format!("unknown digest '{digest}' (configured: {})", known.join(", ")));
    }
    // One line: a name ends up in a `To:` header.
    let name = name.map(one_line).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err("name is longer than 200 characters".into());
    }
    Ok(Preferences {
        name,
        language: language.to_owned(),
        sectors: config.sectors.iter().filter(|s| listed.contains(&s.id.as_str())).map(|s| s.id.clone()).collect(),
        digest: digest.to_owned(),
    })
}

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
    let mut batch: Vec<(u64, String, Preferences)> = Vec::with_capacity(BATCH);
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
        let parsed = parse_email(field(0)).and_then(|email| {
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

fn address_hash(email: &str) -> [u8; 16] {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(email.to_lowercase().as_bytes());
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// Saves `batch` (emptying it) and counts what happened in `report`.
fn save_batch(
    state: &mut State,
    batch: &mut Vec<(u64, String, Preferences)>,
    status: Status,
    consent: &str,
    now: i64,
    report: &mut ImportReport,
) -> Result<()> {
    let saved = state.save_subscribers(batch.iter().map(|(_, e, p)| (e.as_str(), p)), status, consent, now)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(include_str!("../config.toml"), Path::new("/srv/config.toml")).unwrap()
    }

    #[test]
    fn parses_addresses_and_rejects_header_tricks() {
        assert_eq!(parse_email(" Li.Wei@Example.ORG ").unwrap(), "Li.Wei@example.org");
        for bad in ["li wei@example.org", "a@b\r\nBcc: x@evil.example", "Li <li@example.org>", "no-at-sign", ""] {
            assert!(parse_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_language_sector_or_digest_is_named() {
        let c = config();
        assert!(preferences(&c, None, "ru", "", "daily").unwrap_err().contains("unknown language 'ru'"));
        assert!(preferences(&c, None, "en", "trade,sport", "daily").unwrap_err().contains("unknown sector 'sport'"));
        assert!(preferences(&c, None, "en", "", "hourly").unwrap_err().contains("unknown digest 'hourly'"));
        let p = preferences(&c, Some("Li\r\nWei"), "en", "trade; foreign-affairs", "daily").unwrap();
        assert_eq!(p.sectors, vec!["foreign-affairs", "trade"]);
        assert_eq!(p.name.as_deref(), Some("Li Wei"));
    }
}
