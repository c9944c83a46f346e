//! Walks the store folder and brings the record of every article file up to date: files whose
//! stamp matches the index cache are taken from it, the rest are read and parsed in parallel.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use walkdir::WalkDir;

use super::ParseContext;
use super::article::{FileError, Format, Problem};
use super::decode::{decode_text, decode_utf8};
use super::index::{FileRecord, Outcome, Stamp};
use super::markdown;
use super::path::{self, ArticleName};
use super::press_text;

/// The store as found now.
#[derive(Debug, Default)]
pub struct Scan {
    /// A record per article file, sorted by path.
    pub records: Vec<FileRecord>,
    /// Files read and parsed this time.
    pub files_read: usize,
    /// Files whose record came from the cache.
    pub files_reused: usize,
    /// Entries the walk could not look at (unreadable folders, non-UTF-8 names).
    pub walk_problems: Vec<Problem>,
    /// Whether any record differs from the cache (the cache needs writing).
    pub is_changed: bool,
}

struct Candidate {
    rel: String,
    name: ArticleName,
}

/// Scans the store folder of `ctx.config`, reusing `cached` records whose stamp still matches.
pub fn scan(ctx: &ParseContext, mut cached: HashMap<String, FileRecord>) -> Scan {
    let dir = &ctx.config.store.dir;
    let mut scan = Scan::default();
    let mut candidates = Vec::new();
    let walker = WalkDir::new(dir).follow_links(true).sort_by_file_name().into_iter();
    // Hidden folders (.git, .cache) are never part of the store.
    let walker = walker.filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().map_or_else(|| dir.clone(), Path::to_path_buf);
                scan.walk_problems.push(Problem { path, line: None, message: format!("cannot read: {e}") });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(rel) = relative(dir, entry.path()) else {
            scan.walk_problems.push(Problem {
                path: entry.path().to_path_buf(),
                line: None,
                message: "file name is not valid UTF-8; skipped".into(),
            });
            continue;
        };
        if let Some(name) = path::parse(&rel) {
            candidates.push(Candidate { rel, name });
        }
    }

    let stamped: Vec<(Candidate, std::io::Result<Stamp>)> = candidates
        .into_par_iter()
        .map(|c| {
            let stamp = stamp(&dir.join(&c.rel));
            (c, stamp)
        })
        .collect();

    let mut to_read = Vec::new();
    for (candidate, stamp) in stamped {
        match stamp {
            Ok(stamp) => match cached.remove(&candidate.rel) {
                Some(record) if record.stamp == stamp => scan.records.push(record),
                _ => to_read.push((candidate, stamp)),
            },
            Err(e) => scan.walk_problems.push(Problem {
                path: dir.join(&candidate.rel),
                line: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    scan.files_reused = scan.records.len();
    scan.files_read = to_read.len();
    scan.is_changed = !to_read.is_empty() || !cached.is_empty();

    let read: Vec<FileRecord> = to_read
        .into_par_iter()
        .map(|(c, stamp)| {
            let outcome = read_file(&dir.join(&c.rel), &c.rel, &c.name, ctx);
            FileRecord { path: c.rel, stamp, outcome }
        })
        .collect();
    scan.records.extend(read);
    scan.records.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    scan
}

fn relative(dir: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(dir).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn stamp(path: &PathBuf) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    Ok(Stamp {
        size: m.len(),
        mtime_ns: m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec()),
        ctime_ns: m.ctime().saturating_mul(1_000_000_000).saturating_add(m.ctime_nsec()),
        inode: m.ino(),
    })
}

/// Reads and parses one article file into its outcome.
pub fn read_file(abs: &Path, rel: &str, name: &ArticleName, ctx: &ParseContext) -> Outcome {
    if let Some(lang) = &name.lang
        && ctx.config.language(lang).is_none()
    {
        return Outcome::Articles {
            metas: Vec::new(),
            notices: vec![format!("language '{lang}' is not configured; skipped")],
        };
    }
    let bytes = match std::fs::read(abs) {
        Ok(bytes) => bytes,
        Err(e) => return Outcome::Broken(FileError::whole(format!("cannot read: {e}"))),
    };
    let result = match name.format {
        Format::Markdown => decode_utf8(&bytes)
            .map_err(|e| FileError::at(e.line, e.message))
            .and_then(|text| markdown::read_meta(&text, name, rel, ctx))
            .map(|meta| (vec![meta], Vec::new())),
        Format::PressRelease => decode_text(&bytes)
            .map_err(|e| FileError::at(e.line, e.message))
            .and_then(|text| press_text::read_metas(&text, name, rel, ctx)),
    };
    match result {
        Ok((metas, notices)) => Outcome::Articles { metas, notices },
        Err(e) => Outcome::Broken(e),
    }
}
