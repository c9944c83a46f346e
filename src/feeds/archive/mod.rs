//! RFC 5005 archived feeds: every feed's published entries, one archive page per calendar
//! month of publication (in the site's zone), each a complete Atom, RSS and JSON Feed document
//! at `{feed}/archive/YYYY-MM/`. Months rather than runs of N entries: an article stays in
//! the page of the month it was published, so a new article changes only the newest page, a
//! back-dated one only its own month's, and a page's URL never moves.
//!
//! [`Plan`] says, from the catalog alone, which pages there are and what each holds;
//! [`Plan::digest`] what a page's bytes depend on (so a server can answer a conditional
//! request without rendering); [`render`] makes a page's three documents. Pages carry the
//! entries in full, so rendering them reads their articles: `gazette run` renders a page when
//! it is asked for and keeps it (`web::archive`), and the build writes them into the feed
//! folder only with `feeds.archive_files` ([`files`]). Rendering is deterministic, so both
//! give the same bytes.

pub mod files;

use anyhow::{Context, Result};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use super::RENDERERS;
use super::model::{self, Entry, FeedSpec, FeedUrls, History};
use crate::config::Config;
pub use crate::store::dates::Month;
use crate::store::{self, Article, ArticleMeta, Catalog, ParseContext, Problem};

/// The folder of a feed's archive pages, inside the feed's own.
pub const DIR: &str = "archive";
/// Bumped when the writers change what a page holds, so every page's digest changes.
const FORMAT: u32 = 1;

/// The page's folder inside its feed's: `archive/2026-11/`.
fn file_dir(month: Month) -> String {
    format!("{DIR}/{month}/")
}

/// One archive page: a month of one feed.
pub struct Page {
    /// The month it holds.
    pub month: Month,
    /// Positions in the catalog's article list ([`Catalog::at`]), newest first.
    entries: Vec<u32>,
}

/// Every feed's archive pages.
pub struct Plan {
    /// Each feed's pages (in [`model::plan`] order), newest first.
    pages: Vec<Vec<Page>>,
    /// What the feeds depend on in config, and the writers' version.
    settings: [u8; 32],
}

impl Plan {
    /// The pages of every feed in `specs`, from the catalog's published articles.
    pub fn new(config: &Config, catalog: &Catalog, specs: &[FeedSpec]) -> Plan {
        let tz = config.site.timezone;
        let pages = specs
            .par_iter()
            .map(|spec| {
                let mut feed: Vec<Page> = Vec::new();
                // Entries come newest first, so a month's span is worked out once, not per entry.
                let mut span = (i64::MAX, i64::MIN);
                for (position, published) in catalog.positions(&spec.lang.code, spec.sector_index()) {
                    if let Some(page) = feed.last_mut().filter(|_| (span.0..span.1).contains(&published)) {
                        page.entries.push(position);
                        continue;
                    }
                    let month = Month::of(published, tz);
                    span = month.span(tz).unwrap_or((published, published + 1));
                    match feed.last_mut() {
                        Some(page) if page.month == month => page.entries.push(position),
                        _ => feed.push(Page { month, entries: vec![position] }),
                    }
                }
                feed
            })
            .collect();
        Plan { pages, settings: settings_digest(config) }
    }

    /// The month of the newest archive page of the feed `spec` would have: that of its newest
    /// entry (what [`Plan::newest`] gives, without planning every page).
    pub fn newest_of(config: &Config, catalog: &Catalog, spec: &FeedSpec) -> Option<Month> {
        let (_, published) = catalog.positions(&spec.lang.code, spec.sector_index()).next()?;
        Some(Month::of(published, config.site.timezone))
    }

    /// The newest archive page of the feed at position `spec` of the plan, if it has any.
    pub fn newest(&self, spec: usize) -> Option<Month> {
        self.pages.get(spec)?.first().map(|p| p.month)
    }

    /// The pages of the feed at position `spec`, newest first.
    pub fn pages(&self, spec: usize) -> &[Page] {
        self.pages.get(spec).map_or(&[], Vec::as_slice)
    }

    /// The position of `month`'s page among the feed's pages, if it has one.
    pub fn find(&self, spec: usize, month: Month) -> Option<usize> {
        self.pages(spec).iter().position(|p| p.month == month)
    }

    /// Is page `page` of feed `spec` sealed: a month with a newer page after it, which changes
    /// only if one of its own articles is edited or deleted? Caches may keep it for a year.
    pub fn is_sealed(&self, page: usize) -> bool {
        page > 0
    }

    /// How many archive pages there are, over all feeds.
    pub fn len(&self) -> usize {
        self.pages.iter().map(Vec::len).sum()
    }

    /// Are there none?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A digest of everything page `page` of feed `spec` shows: it changes exactly when the
    /// page's documents would. `entry` gives an entry's digest by catalog position
    /// ([`entry_digest`], or a table of them when every page is wanted).
    pub fn digest(&self, spec: &FeedSpec, s: usize, page: usize, entry: impl Fn(u32) -> [u8; 32]) -> [u8; 32] {
        let pages = self.pages(s);
        let mut hash = Sha256::new();
        hash.update(self.settings);
        let neighbour = |i: Option<usize>| i.and_then(|i| pages.get(i)).map(|n| n.month);
        hash.update(format!(
            "{}|{:?}|{:?}|{:?}|",
            spec.dir(),
            pages.get(page).map(|p| p.month),
            neighbour(Some(page + 1)),
            neighbour(page.checked_sub(1))
        ));
        for &e in pages.get(page).map_or(&[][..], |p| p.entries.as_slice()) {
            hash.update(entry(e));
        }
        hash.finalize().into()
    }

    /// The newest update among page `page`'s entries (Unix seconds): its `Last-Modified`.
    pub fn updated(&self, catalog: &Catalog, s: usize, page: usize) -> i64 {
        let entries = self.pages(s).get(page).map_or(&[][..], |p| p.entries.as_slice());
        entries.iter().filter_map(|&e| catalog.at(e)).map(|m| m.updated.max(m.published)).max().unwrap_or(0)
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
fn settings_digest(config: &Config) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(format!("{}|{FORMAT}|{:?}|", env!("CARGO_PKG_VERSION"), config.site));
    for lang in &config.languages {
        hash.update(format!("{}|{}|{}|{}|", lang.code, lang.title, lang.description, lang.author));
    }
    for sector in &config.sectors {
        hash.update(format!("{}|{:?}|", sector.id, sector.names));
    }
    hash.finalize().into()
}

/// What the entry of the article at catalog position `position` depends on: its file as
/// read, its record, its attachments' files, and its translations' titles and links.
pub fn entry_digest(config: &Config, catalog: &Catalog, position: u32) -> [u8; 32] {
    let mut hash = Sha256::new();
    let Some(meta) = catalog.at(position) else { return hash.finalize().into() };
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
    for t in catalog.translations(&meta) {
        field(&mut hash, format!("{}|{}|{}|{:?}", t.lang, t.slug, t.title, t.canonical_url).as_bytes());
    }
    hash.finalize().into()
}

/// The articles page `page` of feed `s` shows, as the catalog knows them.
fn metas<'c>(catalog: &'c Catalog, plan: &Plan, s: usize, page: usize) -> Vec<ArticleMeta<'c>> {
    let entries = plan.pages(s).get(page).map_or(&[][..], |p| p.entries.as_slice());
    entries.iter().filter_map(|&e| catalog.at(e)).collect()
}

/// The three documents (file name, bytes) of page `page` of feed `spec` (at position `s`),
/// given its entries as read.
fn documents(
    config: &Config,
    catalog: &Catalog,
    spec: &FeedSpec,
    plan: &Plan,
    (s, page): (usize, usize),
    shown: &[&Entry],
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let pages = plan.pages(s);
    let Some(month) = pages.get(page).map(|p| p.month) else { return Ok(Vec::new()) };
    let mut info = model::info(config, catalog, spec, shown, history(config, spec, pages, page));
    let own = FeedUrls::of(config, &spec.lang.code, spec.sector_id(), &file_dir(month));
    (info.atom_url, info.rss_url, info.json_url) = (own.atom, own.rss, own.json);
    // A sealed page changes too rarely to push; the hub's topics are the subscription feeds.
    info.hubs.clear();
    RENDERERS
        .iter()
        .map(|(file, render)| {
            let bytes =
                render(&info, shown).with_context(|| format!("cannot render {}/{DIR}/{month}/{file}", spec.dir()))?;
            Ok((*file, bytes))
        })
        .collect()
}

/// A page's documents, and the articles that could not be read for it.
pub struct Rendered {
    /// (file name, bytes) of the Atom, RSS and JSON Feed documents.
    pub documents: Vec<(&'static str, Vec<u8>)>,
    /// Articles of the page that could not be read (removed since the build, say): the page
    /// goes without them.
    pub problems: Vec<Problem>,
}

/// Reads the articles of page `page` of feed `spec` (at position `s`) and renders its three
/// documents.
pub fn render(
    config: &Config,
    catalog: &Catalog,
    ctx: &ParseContext,
    spec: &FeedSpec,
    plan: &Plan,
    (s, page): (usize, usize),
) -> Result<Rendered> {
    let mut problems = Vec::new();
    let articles: Vec<Article> = metas(catalog, plan, s, page)
        .into_iter()
        .filter_map(|meta| store::load_article(ctx, meta).map_err(|p| problems.push(p)).ok())
        .collect();
    let entries: Vec<Entry> = articles.iter().map(|a| model::entry(config, catalog, a)).collect();
    let shown: Vec<&Entry> = entries.iter().collect();
    Ok(Rendered { documents: documents(config, catalog, spec, plan, (s, page), &shown)?, problems })
}
