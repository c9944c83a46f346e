//! RFC 5005 archived feeds: every feed's published entries, one archive page per calendar
//! month of publication (in the site's zone), each a complete Atom, RSS and JSON Feed document
//! under `{feed}/archive/YYYY-MM/`. Months rather than runs of N entries: an article stays in
//! the page of the month it was published, so a new article changes only the newest page, a
//! back-dated one only its own month's, and a page's URL never moves.
//!
//! A page is rendered only when what it shows changed: a digest of its inputs (its entries'
//! files and records, its neighbours, the settings feeds depend on) is kept per page in
//! `.archive-digests` in the feeds folder, a hidden file the server never serves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use super::model::{self, Entry, FeedSpec, FeedUrls, History};
use super::{Published, RENDERERS};
use crate::config::Config;
pub use crate::store::dates::Month;
use crate::store::{self, Article, ArticleMeta, Catalog, ParseContext, Problem};

/// The folder of a feed's archive pages, inside the feed's own.
pub const DIR: &str = "archive";
/// The page digests of the last build, in the feeds folder.
const MANIFEST: &str = ".archive-digests";
/// Bumped when the writers change what a page holds, so every page is rendered again once.
const FORMAT: u32 = 1;

/// The page's folder inside its feed's: `archive/2026-11/`.
fn file_dir(month: Month) -> String {
    format!("{DIR}/{month}/")
}

/// One archive page: a month of one feed.
struct Page {
    month: Month,
    /// Positions in the language's article list, newest first.
    entries: Vec<u32>,
}

/// Every feed's archive pages.
pub struct Plan<'c> {
    /// Each language's published articles (config order), newest first.
    by_lang: Vec<Vec<ArticleMeta<'c>>>,
    /// Each feed's pages (in [`model::plan`] order), newest first.
    pages: Vec<Vec<Page>>,
}

impl<'c> Plan<'c> {
    /// The pages of every feed in `specs`, from the catalog's published articles.
    pub fn new(config: &Config, catalog: &'c Catalog, specs: &[FeedSpec]) -> Plan<'c> {
        let mut by_lang: Vec<Vec<ArticleMeta>> = vec![Vec::new(); config.languages.len()];
        for meta in catalog.articles() {
            if let Some(i) = config.languages.iter().position(|l| l.code == meta.lang) {
                by_lang[i].push(meta);
            }
        }
        let pages = specs
            .iter()
            .map(|spec| {
                let lang = config.languages.iter().position(|l| l.code == spec.lang.code).unwrap_or(0);
                let mut pages: Vec<Page> = Vec::new();
                let shown = by_lang[lang]
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| spec.sector_index().is_none_or(|s| m.sectors.contains(s)));
                for (i, meta) in shown {
                    let month = Month::of(meta.published, config.site.timezone);
                    let position = u32::try_from(i).unwrap_or(u32::MAX);
                    match pages.last_mut() {
                        Some(page) if page.month == month => page.entries.push(position),
                        _ => pages.push(Page { month, entries: vec![position] }),
                    }
                }
                pages
            })
            .collect();
        Plan { by_lang, pages }
    }

    /// The newest archive page of the feed at position `spec` of the plan, if it has any.
    pub fn newest(&self, spec: usize) -> Option<Month> {
        self.pages.get(spec)?.first().map(|p| p.month)
    }

    /// How many archive pages there are, over all feeds.
    pub fn len(&self) -> usize {
        self.pages.iter().map(Vec::len).sum()
    }

    /// Are there none?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where page `page` of the feed `spec` (pages newest first) sits in its history.
fn history(config: &Config, spec: &FeedSpec, pages: &[Page], page: usize) -> History {
    let (lang, sector) = (&spec.lang.code, spec.sector_id());
    let urls = |p: &Page| FeedUrls::of(config, lang, sector, &file_dir(p.month));
    History {
        is_archive: true,
        current: Some(FeedUrls::of(config, lang, sector, "")),
        prev: pages.get(page + 1).map(urls),
        next: page.checked_sub(1).and_then(|i| pages.get(i)).map(urls),
    }
}

/// The history of a feed's subscription document: `prev-archive` to its newest page.
pub fn subscription_history(config: &Config, spec: &FeedSpec, newest: Option<Month>) -> History {
    History {
        prev: newest.map(|m| FeedUrls::of(config, &spec.lang.code, spec.sector_id(), &file_dir(m))),
        ..History::default()
    }
}

/// What the feeds depend on in config, and the writers' version.
fn settings_digest(config: &Config) -> Sha256 {
    let mut hash = Sha256::new();
    hash.update(format!("{}|{FORMAT}|{:?}|", env!("CARGO_PKG_VERSION"), config.site));
    for lang in &config.languages {
        hash.update(format!("{}|{}|{}|{}|", lang.code, lang.title, lang.description, lang.author));
    }
    for sector in &config.sectors {
        hash.update(format!("{}|{:?}|", sector.id, sector.names));
    }
    hash
}

/// What an article's entry depends on: its file as read, its record, its attachments' files
/// and (`group`) its translations' titles and links.
fn entry_digest(config: &Config, catalog: &Catalog, meta: &ArticleMeta, group: Option<&[u8; 32]>) -> [u8; 32] {
    let mut hash = Sha256::new();
    let field = |hash: &mut Sha256, bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(&mut hash, meta.path.as_bytes());
    if let Some(stamp) = catalog.stamp_of(meta.path) {
        for n in [stamp.size as i64, stamp.mtime_ns, stamp.ctime_ns, stamp.inode as i64] {
            hash.update(n.to_le_bytes());
        }
    }
    field(&mut hash, meta.title.as_bytes());
    for n in [meta.published, meta.updated, meta.sectors.0 as i64] {
        hash.update(n.to_le_bytes());
    }
    field(&mut hash, meta.canonical_url.unwrap_or_default().as_bytes());
    if !meta.attachments.is_empty() {
        let folder = store::attachment::folder_of(&config.store.dir, meta.path);
        for name in meta.attachments {
            let seen = std::fs::metadata(folder.join(name)).ok().map(|m| (m.len(), m.modified().ok()));
            field(&mut hash, format!("{name}|{seen:?}").as_bytes());
        }
    }
    hash.update(group.copied().unwrap_or_default());
    hash.finalize().into()
}

/// For each translation key with more than one published version, a digest of every
/// version's language, slug, title and link: what an entry shows of its translations.
fn translation_groups<'c>(plan: &Plan<'c>) -> HashMap<&'c str, [u8; 32]> {
    let mut versions: Vec<&ArticleMeta<'c>> = plan.by_lang.iter().flatten().collect();
    versions.par_sort_unstable_by(|a, b| (a.key, a.lang).cmp(&(b.key, b.lang)));
    versions
        .chunk_by(|a, b| a.key == b.key)
        .filter(|group| group.len() > 1)
        .map(|group| {
            let mut hash = Sha256::new();
            for v in group {
                hash.update(format!("{}|{}|{}|{:?}|", v.lang, v.slug, v.title, v.canonical_url));
            }
            (group[0].key, hash.finalize().into())
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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
struct Rendered {
    changed: Vec<PathBuf>,
    unchanged: usize,
    problems: Vec<Problem>,
    /// Pages whose entries could not all be read: not recorded as done.
    incomplete: Vec<PageRef>,
    /// New newest pages, written after every other page (see [`publish`]).
    held: Vec<(PathBuf, Vec<u8>)>,
}

/// Writes the archive pages of every feed that changed since the last build, and removes the
/// pages of months that no longer have entries.
pub fn publish(
    config: &Config,
    catalog: &Catalog,
    ctx: &ParseContext,
    specs: &[FeedSpec],
    plan: &Plan,
    published: &mut Published,
) -> Result<()> {
    let root = &config.feeds.dir;
    let manifest_path = root.join(MANIFEST);
    let before = load_manifest(&manifest_path);
    let settings = settings_digest(config);

    let groups = translation_groups(plan);
    let entry_digests: Vec<Vec<[u8; 32]>> = plan
        .by_lang
        .iter()
        .map(|metas| metas.par_iter().map(|m| entry_digest(config, catalog, m, groups.get(m.key))).collect())
        .collect();

    // Each page's digest, and the pages that must be rendered, grouped by language and month:
    // an article is read once for its language's page and all its sectors' pages.
    let mut digests: Vec<(String, String, PageRef)> = Vec::with_capacity(plan.len());
    let mut stale: HashMap<(usize, Month), Vec<PageRef>> = HashMap::new();
    for (s, (spec, pages)) in specs.iter().zip(&plan.pages).enumerate() {
        let lang = config.languages.iter().position(|l| l.code == spec.lang.code).unwrap_or(0);
        for (p, page) in pages.iter().enumerate() {
            let mut hash = settings.clone();
            let neighbour = |i: Option<usize>| i.and_then(|i| pages.get(i)).map(|n| n.month);
            hash.update(format!(
                "{}|{}|{:?}|{:?}|",
                spec.dir(),
                page.month,
                neighbour(Some(p + 1)),
                neighbour(p.checked_sub(1))
            ));
            for &e in &page.entries {
                hash.update(entry_digests[lang][e as usize]);
            }
            let digest = hex(&hash.finalize());
            let dir = format!("{}/{DIR}/{}", spec.dir(), page.month);
            let is_current = before.get(&dir) == Some(&digest)
                && RENDERERS.iter().all(|(file, _)| root.join(&dir).join(file).is_file());
            if !is_current {
                stale.entry((lang, page.month)).or_default().push((s, p));
            }
            digests.push((dir, digest, (s, p)));
        }
    }

    let groups: Vec<((usize, Month), Vec<PageRef>)> = stale.into_iter().collect();
    let results: Vec<Result<Rendered>> = groups
        .par_iter()
        .map(|((lang, _), pages)| render_group(config, catalog, ctx, specs, plan, *lang, pages))
        .collect();
    let mut incomplete = Vec::new();
    let mut held = Vec::new();
    for result in results {
        let rendered = result?;
        published.changed.extend(rendered.changed);
        published.unchanged += rendered.unchanged;
        published.problems.extend(rendered.problems);
        incomplete.extend(rendered.incomplete);
        held.extend(rendered.held);
    }
    // A reader that finds a month's page beside older ones treats the older ones as complete
    // (the server caches them for a year): so the older pages, with their `next-archive`
    // links, are written before a new newest page appears.
    for (rel, bytes) in held {
        super::write(config, &rel, &bytes, published)?;
    }

    // Months that no longer have entries: their pages go.
    let now: std::collections::HashSet<&str> = digests.iter().map(|(dir, _, _)| dir.as_str()).collect();
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
    super::output::write_if_changed(&manifest_path, manifest.as_bytes())
        .with_context(|| format!("cannot write {}", manifest_path.display()))?;
    Ok(())
}

/// Reads the articles of one language's month once and renders the stale pages that show
/// them (the language's and its sectors').
fn render_group(
    config: &Config,
    catalog: &Catalog,
    ctx: &ParseContext,
    specs: &[FeedSpec],
    plan: &Plan,
    lang: usize,
    pages: &[PageRef],
) -> Result<Rendered> {
    let mut needed: Vec<u32> = pages.iter().flat_map(|&(s, p)| plan.pages[s][p].entries.iter().copied()).collect();
    needed.sort_unstable();
    needed.dedup();
    let metas = &plan.by_lang[lang];
    let mut rendered = Rendered::default();
    let mut articles: HashMap<u32, Article> = HashMap::with_capacity(needed.len());
    for i in needed {
        match store::load_article(ctx, metas[i as usize]) {
            Ok(article) => {
                articles.insert(i, article);
            }
            Err(problem) => rendered.problems.push(problem),
        }
    }
    let entries: HashMap<u32, Entry> =
        articles.iter().map(|(&i, article)| (i, model::entry(config, catalog, article))).collect();

    for &(s, p) in pages {
        let spec = &specs[s];
        let feed_pages = &plan.pages[s];
        let page = &feed_pages[p];
        let shown: Vec<&Entry> = page.entries.iter().filter_map(|i| entries.get(i)).collect();
        if shown.len() < page.entries.len() {
            rendered.incomplete.push((s, p));
        }
        let mut info = model::info(config, catalog, spec, &shown, history(config, spec, feed_pages, p));
        let own = FeedUrls::of(config, &spec.lang.code, spec.sector_id(), &file_dir(page.month));
        (info.atom_url, info.rss_url, info.json_url) = (own.atom, own.rss, own.json);
        // A sealed page changes too rarely to push; the hub's topics are the subscription feeds.
        info.hubs.clear();
        let dir = PathBuf::from(format!("{}/{DIR}/{}", spec.dir(), page.month));
        // A newest page that is new while older ones exist waits until they are written.
        let is_held = p == 0 && feed_pages.len() > 1 && !config.feeds.dir.join(&dir).is_dir();
        for (file, render) in RENDERERS {
            let rel = dir.join(file);
            let bytes = render(&info, &shown).with_context(|| format!("cannot render {}", rel.display()))?;
            if is_held {
                rendered.held.push((rel, bytes));
                continue;
            }
            match super::output::write_if_changed(&config.feeds.dir.join(&rel), &bytes)? {
                super::output::Written::Changed => rendered.changed.push(rel),
                super::output::Written::Unchanged => rendered.unchanged += 1,
            }
        }
    }
    Ok(rendered)
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
    Ok(())
}

/// Is the archive page at `rel` (relative to the feeds folder `root`) sealed: a page of a month
/// with a newer page beside it, which changes only if one of its own articles is edited or
/// deleted? The server lets caches keep such a page for a year.
pub fn is_sealed(root: &Path, rel: &Path) -> bool {
    let mut parts = rel.iter().rev().skip(1);
    let (Some(month), Some(archive)) = (parts.next(), parts.next()) else { return false };
    let Some(month) = month.to_str().and_then(Month::parse) else { return false };
    if archive != DIR {
        return false;
    }
    let Some(folder) = rel.parent().and_then(Path::parent) else { return false };
    let Ok(siblings) = std::fs::read_dir(root.join(folder)) else { return false };
    siblings
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(Month::parse))
        .any(|other| other > month)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_sealed_only_when_a_newer_month_sits_beside_it() {
        let root = tempfile::tempdir().unwrap();
        for month in ["2026-10", "2026-11"] {
            std::fs::create_dir_all(root.path().join("zh/trade/archive").join(month)).unwrap();
        }
        let sealed = |rel: &str| is_sealed(root.path(), Path::new(rel));
        assert!(sealed("zh/trade/archive/2026-10/atom.xml"));
        assert!(!sealed("zh/trade/archive/2026-11/atom.xml"));
        assert!(!sealed("zh/trade/atom.xml"));
        assert!(!sealed("zh/trade/archive/latest/atom.xml"));
    }
}
