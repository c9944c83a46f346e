//! What every feed format says, decided once: the feed's title, links and date, and each
//! entry's id, links, dates, categories and translations. The Atom, RSS and JSON Feed writers
//! only spell this out in their own syntax.

use chrono::{DateTime, FixedOffset};

use crate::config::{Config, Language, Sector};
use crate::links;
use crate::store::attachment::Attachment;
use crate::store::dates::in_zone;
use crate::store::{Article, Catalog};

/// One feed: a language, and optionally a sector within it.
#[derive(Debug, Clone, Copy)]
pub struct FeedSpec<'a> {
    /// The feed's language.
    pub lang: &'a Language,
    /// The sector and its config position, or `None` for all of the language's articles.
    pub sector: Option<(usize, &'a Sector)>,
}

impl FeedSpec<'_> {
    /// The sector id, if any.
    pub fn sector_id(&self) -> Option<&str> {
        self.sector.map(|(_, s)| s.id.as_str())
    }

    /// The sector's config position, if any.
    pub fn sector_index(&self) -> Option<usize> {
        self.sector.map(|(i, _)| i)
    }

    /// Folder under the feeds root (`zh`, `zh/trade`).
    pub fn dir(&self) -> String {
        links::feed_dir(&self.lang.code, self.sector_id())
    }
}

/// Every feed config asks for, languages in config order, each language's sectors after it.
pub fn plan(config: &Config) -> Vec<FeedSpec<'_>> {
    let mut specs = Vec::new();
    for lang in &config.languages {
        specs.push(FeedSpec { lang, sector: None });
        specs.extend(config.sectors.iter().enumerate().map(|sector| FeedSpec { lang, sector: Some(sector) }));
    }
    specs
}

/// The feed-level facts.
#[derive(Debug, Clone)]
pub struct FeedInfo {
    /// Language code (`xml:lang`, RSS `language`).
    pub lang: String,
    /// Title, with the sector's name for a sector feed.
    pub title: String,
    /// Description; never empty (RSS requires one).
    pub description: String,
    /// The publisher.
    pub author: String,
    /// The HTML page the feed mirrors.
    pub page_url: String,
    /// The feed's identity: its subscription document's Atom URL, which every archive page of
    /// the feed shares (RFC 5005 §4: an archive is a part of the same feed).
    pub id: String,
    /// The subscription document's JSON Feed URL, JSON Feed's identity of a feed.
    pub json_id: String,
    /// This document's Atom URL (its `self` link).
    pub atom_url: String,
    /// This document's RSS URL.
    pub rss_url: String,
    /// This document's JSON Feed URL.
    pub json_url: String,
    /// Where this document sits among the feed's archive pages.
    pub history: History,
    /// Newest `updated` among the entries (or the language's newest when empty): never "now",
    /// so the same store always gives the same bytes.
    pub updated: DateTime<FixedOffset>,
    /// Newest `published` among the entries, likewise.
    pub published: DateTime<FixedOffset>,
    /// Base of category scheme URIs.
    pub category_scheme: String,
    /// WebSub hubs (`rel="hub"`, JSON Feed `hubs`).
    pub hubs: Vec<String>,
}

/// One feed document in each format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUrls {
    /// The Atom document.
    pub atom: String,
    /// The RSS document.
    pub rss: String,
    /// The JSON Feed document.
    pub json: String,
}

impl FeedUrls {
    /// The three documents of `file_dir` (`""` for the subscription feed, `archive/2026-11/`
    /// for an archive page) of a feed.
    pub fn of(config: &Config, lang: &str, sector: Option<&str>, file_dir: &str) -> FeedUrls {
        let url = |file: &str| links::feed_url(config, lang, sector, &format!("{file_dir}{file}"));
        FeedUrls { atom: url("atom.xml"), rss: url("rss.xml"), json: url("feed.json") }
    }
}

/// RFC 5005 §4 (archived feeds): a subscription document links `prev-archive` to the newest
/// archive page; each archive page is marked `fh:archive`, links `current` to the subscription
/// document and `prev-archive` / `next-archive` to its neighbours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Is this document an archive page (complete for its period, never a subscription)?
    pub is_archive: bool,
    /// The subscription document, from an archive page.
    pub current: Option<FeedUrls>,
    /// The next older archive page.
    pub prev: Option<FeedUrls>,
    /// The next newer archive page.
    pub next: Option<FeedUrls>,
}

/// A category in the feed's language.
#[derive(Debug, Clone)]
pub struct Category {
    /// The sector id.
    pub term: String,
    /// Its name in the feed's language.
    pub label: String,
}

/// A link to the same article in another language.
#[derive(Debug, Clone)]
pub struct Translation {
    /// Language code.
    pub lang: String,
    /// Where it is read.
    pub url: String,
    /// Its title, in its language.
    pub title: String,
}

/// One feed entry.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Stable id (`tag:` URI).
    pub id: String,
    /// Where the article is read.
    pub url: String,
    /// The article's language.
    pub lang: &'a str,
    /// Title, plain text.
    pub title: &'a str,
    /// First publication.
    pub published: DateTime<FixedOffset>,
    /// Last update.
    pub updated: DateTime<FixedOffset>,
    /// Plain-text summary.
    pub summary: &'a str,
    /// Sanitised HTML.
    pub content_html: &'a str,
    /// Author's name.
    pub author: Option<&'a str>,
    /// Lead image URL.
    pub image: Option<&'a str>,
    /// Files published with it (Atom and JSON Feed carry all, RSS the first).
    pub attachments: &'a [Attachment],
    /// Sectors, named in the entry's language.
    pub categories: Vec<Category>,
    /// The other language versions.
    pub translations: Vec<Translation>,
}

fn zoned(config: &Config, ts: i64) -> DateTime<FixedOffset> {
    in_zone(ts, config.site.timezone).fixed_offset()
}

/// The entry for `article` in the feeds of its language.
pub fn entry<'a>(config: &Config, catalog: &Catalog, article: &'a Article) -> Entry<'a> {
    let meta = &article.meta;
    Entry {
        id: links::entry_id(config, meta),
        url: links::article_link(config, meta),
        lang: meta.lang,
        title: meta.title,
        published: zoned(config, meta.published),
        updated: zoned(config, meta.updated),
        summary: &article.summary,
        content_html: &article.content_html,
        author: article.author.as_deref(),
        image: article.image.as_deref(),
        attachments: &article.attachments,
        categories: meta
            .sectors
            .iter()
            .filter_map(|i| config.sectors.get(i))
            .map(|s| Category {
                term: s.id.clone(),
                label: s.name(meta.lang, &config.site.default_language).to_owned(),
            })
            .collect(),
        translations: catalog
            .translations(meta)
            .into_iter()
            .map(|t| Translation {
                lang: t.lang.to_owned(),
                url: links::article_link(config, &t),
                title: t.title.to_owned(),
            })
            .collect(),
    }
}

/// The feed-level facts of `spec`'s subscription document, given its entries (newest first)
/// and where its history is.
pub fn info(config: &Config, catalog: &Catalog, spec: &FeedSpec, entries: &[&Entry], history: History) -> FeedInfo {
    let lang = &spec.lang.code;
    let sector = spec.sector_id();
    // An empty feed still needs a date: the language's newest article, else the store's.
    let fallback = || {
        let newest = catalog.articles().find(|a| a.lang == lang.as_str()).or_else(|| catalog.articles().next());
        let (updated, published) = newest.map_or((0, 0), |a| (a.updated, a.published));
        (zoned(config, updated), zoned(config, published))
    };
    let (updated, published) = match (entries.iter().map(|e| e.updated).max(), entries.first()) {
        (Some(updated), Some(first)) => (updated, first.published),
        _ => fallback(),
    };
    let title = match spec.sector {
        Some((_, s)) => format!("{} · {}", spec.lang.title, s.name(lang, &config.site.default_language)),
        None => spec.lang.title.clone(),
    };
    let description =
        if spec.lang.description.trim().is_empty() { title.clone() } else { spec.lang.description.clone() };
    let own = FeedUrls::of(config, lang, sector, "");
    FeedInfo {
        lang: lang.clone(),
        title,
        description,
        author: spec.lang.author.clone(),
        page_url: links::listing_page(config, lang, sector),
        id: own.atom.clone(),
        json_id: own.json.clone(),
        atom_url: own.atom,
        rss_url: own.rss,
        json_url: own.json,
        history,
        updated,
        published,
        category_scheme: format!("{}/{lang}/sectors/", config.site.base_url),
        hubs: links::hubs(config),
    }
}
