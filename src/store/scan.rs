//! Walks the store folder and brings the record of every article file up to date: files whose
//! stamp matches the index cache are taken from it, the rest are read and parsed in parallel.
//! Or, when the watcher names the files that changed, brings only theirs up to date.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rayon::prelude::*;

use super::ParseContext;
use super::article::{FileError, Format, Problem};
use super::index::{FileRecord, Outcome, Stamp};
use super::markdown;
use super::path;
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

/// From this many files to read on, they are read by [`io_pool`].
const MANY_FILES: usize = 4096;

/// A thread pool for reading files: four threads per core.
fn io_pool() -> Option<rayon::ThreadPool> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) * 4;
    rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("gazette-read-{i}")).build().ok()
}

/// An article file found by the walk.
struct Found {
    rel: String,
    stamp: Stamp,
}

/// The article files under the store folder, sorted by path, and what could not be looked at.
pub struct Walked {
    found: Vec<Found>,
    problems: Vec<Problem>,
}

/// Lists the article files under `dir` with their stamps.
pub fn walk_store(dir: &Path) -> Walked {
    let (found, problems) = walk(dir, "");
    debug_assert!(found.is_sorted_by(|a, b| a.rel < b.rel), "the walk lists paths in byte order");
    Walked { found, problems }
}

/// Brings the records of the `walked` files up to date, reusing `cached` records (sorted by
/// path) whose stamp still matches and reading the rest in parallel.
pub fn scan(ctx: &ParseContext, walked: Walked, cached: Vec<FileRecord>) -> Scan {
    let dir = &ctx.config.store.dir;
    let Walked { found, problems } = walked;
    let mut scan = Scan { walk_problems: problems, ..Scan::default() };

    // Both lists are sorted by path: a merge pairs each file with its cached record.
    let cached_count = cached.len();
    let mut cached = cached.into_iter().peekable();
    let mut to_read = Vec::new();
    for file in found {
        while cached.next_if(|r| r.path < file.rel).is_some() {}
        match cached.next_if(|r| r.path == file.rel) {
            Some(record) if record.stamp == file.stamp && attachments_unchanged(dir, &record) => {
                scan.records.push(record);
            }
            _ => to_read.push(file),
        }
    }
    scan.files_reused = scan.records.len();
    scan.files_read = to_read.len();
    scan.is_changed = !to_read.is_empty() || scan.files_reused != cached_count;

    let read_all = || -> Vec<FileRecord> {
        to_read
            .into_par_iter()
            .map(|f| {
                let outcome = read_file(&dir.join(&f.rel), &f.rel, f.stamp.size, ctx);
                FileRecord { path: f.rel, stamp: f.stamp, outcome }
            })
            .collect()
    };
    // Reading many files that are not in the page cache (the first build after a boot) waits
    // on the disk, not the CPU: more threads than cores keep more reads in flight.
    let read = match (scan.files_read >= MANY_FILES).then(io_pool).flatten() {
        Some(pool) => pool.install(read_all),
        None => read_all(),
    };
    if !read.is_empty() {
        scan.records.extend(read);
        scan.records.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    }
    scan
}

/// Brings `records` (sorted by path, as the last scan left them) up to date for the files at
/// `changed` (store-relative) alone: each is read again, added, or dropped when it is gone.
/// `None` when a path is not an article file (a folder, an attachment a press release may
/// name): then only a walk of the store knows what changed.
pub fn patch(ctx: &ParseContext, mut records: Vec<FileRecord>, changed: &[String]) -> Option<Scan> {
    let dir = &ctx.config.store.dir;
    let mut to_read = Vec::new();
    for rel in changed {
        path::parse(rel)?;
        match std::fs::metadata(dir.join(rel)) {
            Ok(m) if m.is_file() => to_read.push(Found { rel: rel.clone(), stamp: stamp(&m) }),
            Ok(_) => return None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Ok(at) = records.binary_search_by(|r| r.path.as_str().cmp(rel)) {
                    records.remove(at);
                }
            }
            Err(_) => return None,
        }
    }
    let files_read = to_read.len();
    let read: Vec<FileRecord> = to_read
        .into_par_iter()
        .map(|f| {
            let outcome = read_file(&dir.join(&f.rel), &f.rel, f.stamp.size, ctx);
            FileRecord { path: f.rel, stamp: f.stamp, outcome }
        })
        .collect();
    for record in read {
        match records.binary_search_by(|r| r.path.cmp(&record.path)) {
            Ok(at) => records[at] = record,
            Err(at) => records.insert(at, record),
        }
    }
    let files_reused = records.len().saturating_sub(files_read);
    Some(Scan { records, files_read, files_reused, walk_problems: Vec::new(), is_changed: true })
}

/// Whether the attachment files a cached record saw are as it saw them: a press release is
/// read again when a file it names appears or goes, though its own stamp is unchanged.
fn attachments_unchanged(dir: &Path, record: &FileRecord) -> bool {
    let Outcome::Articles { versions, .. } = &record.outcome else { return true };
    let folder = super::attachment::folder_of(dir, &record.path);
    versions.iter().all(|v| {
        v.attachments.iter().all(|name| super::attachment::file(&folder, name).is_some())
            && v.missing_attachments.iter().all(|name| super::attachment::file(&folder, name).is_none())
    })
}

/// Lists the article files under `abs` (whose store-relative path is `rel`), with stamps.
/// Folders are walked in parallel; hidden entries (`.git`, editor files) are skipped, and
/// symbolic links are followed for files but not for folders, so a link loop cannot trap the walk.
fn walk(abs: &Path, rel: &str) -> (Vec<Found>, Vec<Problem>) {
    let mut items: Vec<Item> = Vec::new();
    let mut problems = Vec::new();
    let entries = match std::fs::read_dir(abs) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(Problem { path: abs.to_path_buf(), line: None, message: format!("cannot read folder: {e}") });
            return (Vec::new(), problems);
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(Problem {
                    path: abs.to_path_buf(),
                    line: None,
                    message: format!("cannot read folder: {e}"),
                });
                continue;
            }
        };
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            problems.push(Problem {
                path: entry.path(),
                line: None,
                message: "file name is not valid UTF-8; skipped".into(),
            });
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let mut child_rel = String::with_capacity(rel.len() + 1 + name.len());
        if !rel.is_empty() {
            child_rel.push_str(rel);
            child_rel.push('/');
        }
        child_rel.push_str(name);
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem { path: entry.path(), line: None, message: format!("cannot read: {e}") });
                continue;
            }
        };
        if file_type.is_dir() {
            items.push(Item::Folder { abs: entry.path(), name_at: child_rel.len() - name.len(), rel: child_rel });
            continue;
        }
        if path::parse(&child_rel).is_none() {
            continue;
        }
        // DirEntry::metadata stats relative to the open folder; a link needs the target's.
        let metadata = if file_type.is_symlink() { std::fs::metadata(entry.path()) } else { entry.metadata() };
        match metadata {
            Ok(m) if m.is_file() => {
                let name_at = child_rel.len() - name.len();
                items.push(Item::File { found: Found { rel: child_rel, stamp: stamp(&m) }, name_at });
            }
            Ok(_) => {}
            Err(e) => problems.push(Problem { path: entry.path(), line: None, message: format!("cannot read: {e}") }),
        }
    }
    // Each folder's entries in order, folders expanded in place, give every path in byte order
    // (so no sort of the whole store is needed) when a folder sorts as its name followed by '/'.
    items.sort_unstable_by(|a, b| compare_names(a.sort_name(), b.sort_name()));
    let folders: Vec<(&Path, &str)> = items
        .iter()
        .filter_map(|item| match item {
            Item::Folder { abs, rel, .. } => Some((abs.as_path(), rel.as_str())),
            Item::File { .. } => None,
        })
        .collect();
    let nested: Vec<(Vec<Found>, Vec<Problem>)> = folders.par_iter().map(|(abs, rel)| walk(abs, rel)).collect();
    let mut nested = nested.into_iter();
    let mut found = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Item::File { found: file, .. } => found.push(file),
            Item::Folder { .. } => {
                if let Some((files, folder_problems)) = nested.next() {
                    found.extend(files);
                    problems.extend(folder_problems);
                }
            }
        }
    }
    (found, problems)
}

/// An entry of one folder; `name_at` is where its name starts in `rel`.
enum Item {
    File { found: Found, name_at: usize },
    Folder { abs: std::path::PathBuf, rel: String, name_at: usize },
}

impl Item {
    /// The entry's name, and whether it is a folder.
    fn sort_name(&self) -> (&str, bool) {
        match self {
            Item::File { found, name_at } => (&found.rel[*name_at..], false),
            Item::Folder { rel, name_at, .. } => (&rel[*name_at..], true),
        }
    }
}

/// Orders sibling names as their full paths order: a folder as its name followed by '/'.
fn compare_names((a, a_folder): (&str, bool), (b, b_folder): (&str, bool)) -> std::cmp::Ordering {
    let common = a.len().min(b.len());
    a.as_bytes()[..common].cmp(&b.as_bytes()[..common]).then_with(|| {
        let next = |name: &str, is_folder: bool| name.as_bytes().get(common).copied().or(is_folder.then_some(b'/'));
        next(a, a_folder).cmp(&next(b, b_folder))
    })
}

fn stamp(m: &std::fs::Metadata) -> Stamp {
    Stamp {
        size: m.len(),
        mtime_ns: m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec()),
        ctime_ns: m.ctime().saturating_mul(1_000_000_000).saturating_add(m.ctime_nsec()),
        inode: m.ino(),
    }
}

/// Reads and parses one article file (`rel` relative to the store) into its outcome.
pub fn read_file(abs: &Path, rel: &str, size: u64, ctx: &ParseContext) -> Outcome {
    let Some(name) = path::parse(rel) else {
        return Outcome::Broken(FileError::whole("not an article file name"));
    };
    if let Some(lang) = name.lang
        && ctx.language_index(lang).is_none()
    {
        return Outcome::Articles {
            versions: Vec::new(),
            notices: vec![format!("language '{lang}' is not configured; skipped")],
        };
    }
    let bytes = match read_bytes(abs, size) {
        Ok(bytes) => bytes,
        Err(e) => return Outcome::Broken(FileError::whole(format!("cannot read: {e}"))),
    };
    let result = super::text_of(name.format, &bytes).and_then(|text| match name.format {
        Format::Markdown => markdown::read_version(&text, &name, ctx).map(|version| (vec![version], Vec::new())),
        Format::PressRelease => press_text::read_versions(&text, rel, ctx),
    });
    match result {
        Ok((versions, notices)) => Outcome::Articles { versions, notices },
        Err(e) => Outcome::Broken(e),
    }
}

/// Reads a whole file whose size the walk already knows (saving `std::fs::read`'s own stat).
pub fn read_bytes(path: &Path, size_hint: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size_hint).unwrap_or(0).saturating_add(1));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}
