//! The archive pages as files in the feed folder (`feeds.archive_files`), for a site that
//! serves the folder with another web server. A page is written only when its digest
//! ([`Plan::digest`]) changed since the last build: the digests are kept per page in
//! `.archive-digests` in the feed folder, a hidden file the server never serves. Without the
//! setting, the pages an earlier build wrote are removed.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

use super::{DIR, Month, Plan, documents, entry_digest, metas};
use crate::config::Config;
use crate::feeds::model::{self, Entry, FeedSpec};
use crate::feeds::output::{Written, write_if_changed};
use crate::feeds::{Published, RENDERERS};
use crate::store::{self, Article, Catalog, ParseContext, Problem};

/// The page digests of the last build, in the feeds folder.
const MANIFEST: &str = ".archive-digests";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digests of the last build, by page folder.
fn load_manifest(path: &Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else { return HashMap::new() };
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(digest, dir)| (dir.to_owned(), digest.to_owned()))
        .collect()
}

/// A page to render: (feed position, page position).
type PageRef = (usize, usize);

/// What rendering one language-month wrote.
#[derive(Default)]
struct Wrote {
    changed: Vec<PathBuf>,
    unchanged: usize,
    problems: Vec<Problem>,
    /// Pages whose entries could not all be read: not recorded as done.
    incomplete: Vec<PageRef>,
    /// New newest pages, written after every other page (see [`publish`]).
    held: Vec<(PathBuf, Vec<u8>)>,
}

/// Writes the archive pages of every feed that changed since the last build, and removes the
/// pages of months that no longer have entries. With `feeds.archive_files` off (and no `plan`),
/// removes every page an earlier build wrote.
pub fn publish(
    config: &Config,
    catalog: &Catalog,
    ctx: &ParseContext,
    specs: &[FeedSpec],
    plan: Option<&Plan>,
    published: &mut Published,
) -> Result<()> {
    let root = &config.feeds.dir;
    let manifest_path = root.join(MANIFEST);
    let Some(plan) = plan.filter(|_| config.feeds.archive_files) else {
        if manifest_path.exists() {
            let mut gone: Vec<String> = load_manifest(&manifest_path).into_keys().collect();
            gone.sort();
            for dir in gone {
                remove_page(root, &dir, published)?;
            }
            std::fs::remove_file(&manifest_path)
                .with_context(|| format!("cannot remove {}", manifest_path.display()))?;
        }
        return Ok(());
    };
    let before = load_manifest(&manifest_path);

    // Each article's entry digest once, however many pages show it.
    let mut positions: Vec<u32> =
        (0..specs.len()).flat_map(|s| plan.pages(s).iter().flat_map(|p| p.entries.iter().copied())).collect();
    positions.par_sort_unstable();
    positions.dedup();
    let entry_digests: HashMap<u32, [u8; 32]> =
        positions.par_iter().map(|&e| (e, entry_digest(config, catalog, e))).collect();

    // Each page's digest, and the pages that must be rendered, grouped by language and month:
    // an article is read once for its language's page and all its sectors' pages.
    let mut digests: Vec<(String, String, PageRef)> = Vec::with_capacity(plan.len());
    let mut stale: HashMap<(&str, Month), Vec<PageRef>> = HashMap::new();
    for (s, spec) in specs.iter().enumerate() {
        for (p, page) in plan.pages(s).iter().enumerate() {
            let digest = hex(&plan.digest(spec, s, p, |e| entry_digests.get(&e).copied().unwrap_or_default()));
            let dir = format!("{}/{DIR}/{}", spec.dir(), page.month);
            let is_current = before.get(&dir) == Some(&digest)
                && RENDERERS.iter().all(|(file, _)| root.join(&dir).join(file).is_file());
            if !is_current {
                stale.entry((spec.lang.code.as_str(), page.month)).or_default().push((s, p));
            }
            digests.push((dir, digest, (s, p)));
        }
    }

    let groups: Vec<Vec<PageRef>> = stale.into_values().collect();
    let results: Vec<Result<Wrote>> =
        groups.par_iter().map(|pages| render_group(config, catalog, ctx, specs, plan, pages)).collect();
    let mut incomplete = Vec::new();
    let mut held = Vec::new();
    for result in results {
        let written = result?;
        published.changed.extend(written.changed);
        published.unchanged += written.unchanged;
        published.problems.extend(written.problems);
        incomplete.extend(written.incomplete);
        held.extend(written.held);
    }
    // A reader that finds a month's page beside older ones treats the older ones as complete
    // (servers may cache them for a year): so the older pages, with their `next-archive`
    // links, are written before a new newest page appears.
    for (rel, bytes) in held {
        crate::feeds::write(config, &rel, &bytes, published)?;
    }

    // Months that no longer have entries: their pages go.
    let now: HashSet<&str> = digests.iter().map(|(dir, _, _)| dir.as_str()).collect();
    let mut gone: Vec<&String> = before.keys().filter(|dir| !now.contains(dir.as_str())).collect();
    gone.sort();
    for dir in gone {
        remove_page(root, dir, published)?;
    }

    let mut manifest = String::new();
    for (dir, digest, page) in &digests {
        if !incomplete.contains(page) {
            manifest.push_str(digest);
            manifest.push(' ');
            manifest.push_str(dir);
            manifest.push('\n');
        }
    }
    write_if_changed(&manifest_path, manifest.as_bytes())
        .with_context(|| format!("cannot write {}", manifest_path.display()))?;
    Ok(())
}

/// Reads the articles of one language's month once and writes the stale pages that show
/// them (the language's and its sectors').
fn render_group(
    config: &Config,
    catalog: &Catalog,
    ctx: &ParseContext,
    specs: &[FeedSpec],
    plan: &Plan,
    pages: &[PageRef],
) -> Result<Wrote> {
    let mut written = Wrote::default();
    let mut articles: HashMap<(&str, &str), Article> = HashMap::new();
    for &(s, p) in pages {
        for meta in metas(catalog, plan, s, p) {
            if articles.contains_key(&(meta.lang, meta.slug)) {
                continue;
            }
            match store::load_article(ctx, meta) {
                Ok(article) => {
                    articles.insert((meta.lang, meta.slug), article);
                }
                Err(problem) => written.problems.push(problem),
            }
        }
    }
    let entries: HashMap<(&str, &str), Entry> =
        articles.iter().map(|(&key, article)| (key, model::entry(config, catalog, article))).collect();

    for &(s, p) in pages {
        let spec = &specs[s];
        let wanted = metas(catalog, plan, s, p);
        let shown: Vec<&Entry> = wanted.iter().filter_map(|m| entries.get(&(m.lang, m.slug))).collect();
        if shown.len() < wanted.len() {
            written.incomplete.push((s, p));
        }
        let month = plan.pages(s)[p].month;
        let dir = PathBuf::from(format!("{}/{DIR}/{month}", spec.dir()));
        // A newest page that is new while older ones exist waits until they are written.
        let is_held = p == 0 && plan.pages(s).len() > 1 && !config.feeds.dir.join(&dir).is_dir();
        for (file, bytes) in documents(config, catalog, spec, plan, (s, p), &shown)? {
            let rel = dir.join(file);
            if is_held {
                written.held.push((rel, bytes));
                continue;
            }
            match write_if_changed(&config.feeds.dir.join(&rel), &bytes)? {
                Written::Changed => written.changed.push(rel),
                Written::Unchanged => written.unchanged += 1,
            }
        }
    }
    Ok(written)
}

/// Removes the files of the archive page in `dir` (relative to the feeds folder) and the
/// folder once empty.
fn remove_page(root: &Path, dir: &str, published: &mut Published) -> Result<()> {
    // Only a folder this module names: a manifest line is not trusted to stay inside `root`.
    let is_page = dir.rsplit_once('/').is_some_and(|(feed, month)| {
        Month::parse(month).is_some()
            && feed.ends_with(&format!("/{DIR}"))
            && feed.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
    });
    if !is_page {
        return Ok(());
    }
    for (file, _) in RENDERERS {
        let rel = Path::new(dir).join(file);
        match std::fs::remove_file(root.join(&rel)) {
            Ok(()) => published.removed.push(rel),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", root.join(&rel).display())),
        }
    }
    let _ = std::fs::remove_dir(root.join(dir));
    // The feed's archive folder too, once its last month is gone.
    if let Some((feed, _)) = dir.rsplit_once('/') {
        let _ = std::fs::remove_dir(root.join(feed));
    }
    Ok(())
}
