//! The index cache: what every article file yielded the last time it was read, keyed by its
//! path and stamp (size, mtime, ctime, inode), so a rebuild reads only new and changed files.
//! A cache that is missing, corrupt, from another gazette version or made under other
//! settings is ignored and rebuilt; it is never a source of truth.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::article::{FileError, Version};
use crate::config::Config;

/// Bumped whenever the record layout or parsing rules change.
const FORMAT: u32 = 5;

/// When a file was last seen changing: any difference means it is read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Inode number (a file replaced by another).
    pub inode: u64,
}

/// What one file yielded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Article versions (none for a file in a language config does not publish), and notices.
    Articles {
        /// The versions read.
        versions: Vec<Version>,
        /// Things worth telling that do not stop publication.
        notices: Vec<String>,
    },
    /// The file cannot be published.
    Broken(FileError),
}

/// One article file and what it yielded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Path relative to the store, `/`-separated.
    pub path: String,
    /// Its stamp when read.
    pub stamp: Stamp,
    /// What reading it gave.
    pub outcome: Outcome,
}

#[derive(Deserialize)]
struct IndexFile {
    format: u32,
    fingerprint: String,
    records: Vec<FileRecord>,
}

/// The same layout as [`IndexFile`], borrowed for writing.
#[derive(Serialize)]
struct IndexFileRef<'a> {
    format: u32,
    fingerprint: &'a str,
    records: &'a [FileRecord],
}

/// The settings a cached record depends on: change one and every file is read again.
pub fn fingerprint(config: &Config) -> String {
    // The store folder too: builds of several stores that share a cache path take turns.
    let mut fp = format!(
        "{}|{}|{}|{}|",
        env!("CARGO_PKG_VERSION"),
        config.store.dir.display(),
        config.site.timezone.name(),
        config.site.default_language
    );
    // The script too: it decides which language a press-release half is.
    for lang in &config.languages {
        fp.push_str(&lang.code);
        fp.push(':');
        fp.push_str(lang.writing.script.as_str());
        fp.push(',');
    }
    fp.push('|');
    fp.push_str(config.store.chrome.fingerprint());
    for sector in &config.sectors {
        fp.push('|');
        fp.push_str(&sector.id);
        for keyword in &sector.keywords {
            fp.push('\u{1f}');
            fp.push_str(keyword);
        }
    }
    fp
}

/// Loads the cached records, sorted by path; empty when the cache is unusable for `fingerprint`.
pub fn load(path: &Path, fingerprint: &str) -> Vec<FileRecord> {
    let Ok(bytes) = std::fs::read(path) else { return Vec::new() };
    match postcard::from_bytes::<IndexFile>(&bytes) {
        Ok(index) if index.format == FORMAT && index.fingerprint == fingerprint => {
            let mut records = index.records;
            // Written sorted; a cache edited by hand still must not break the merge.
            if !records.is_sorted_by(|a, b| a.path < b.path) {
                records.sort_unstable_by(|a, b| a.path.cmp(&b.path));
                records.dedup_by(|a, b| a.path == b.path);
            }
            records
        }
        Ok(_) => {
            tracing::info!(path = %path.display(), "index cache made under other settings; reading every article");
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "index cache unreadable; reading every article");
            Vec::new()
        }
    }
}

/// The cache file's bytes for `records`; [`crate::atomic::write`] writes them.
pub fn encode(fingerprint: &str, records: &[FileRecord]) -> Result<Vec<u8>> {
    let index = IndexFileRef { format: FORMAT, fingerprint, records };
    postcard::to_stdvec(&index).context("cannot encode the index cache")
}
