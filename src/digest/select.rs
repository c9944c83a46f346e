//! Which articles a subscriber's digest holds: those first published after their last digest
//! (or their confirmation), in their sectors, newest first, in their language, or in the
//! default language (marked so) when the article has no version in theirs.

use crate::config::Config;
use crate::state::Preferences;
use crate::store::{ArticleMeta, Catalog};

/// How long after its date an article may first reach the store and still be news for the
/// digests: one added later is archive, and is never mailed as new.
pub const LATE_LIMIT: i64 = 7 * 24 * 3600;

/// One article of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// The version sent.
    pub meta: ArticleMeta<'a>,
    /// True when it is in the default language because the subscriber's has none.
    pub is_fallback: bool,
}

/// Articles that reached the store after their publication time: one dated midnight but
/// added at noon, after the morning digest, is new for digests at noon, not at midnight.
#[derive(Debug, Default)]
pub struct Arrivals<'a> {
    /// (when first seen, the article), newest first.
    late: Vec<(i64, ArticleMeta<'a>)>,
}

impl<'a> Arrivals<'a> {
    /// The articles of `catalog` whose arrival matters as of `now`: those published within
    /// [`LATE_LIMIT`], newest first.
    pub fn recent(catalog: &'a Catalog, now: i64) -> Vec<ArticleMeta<'a>> {
        catalog.articles().take_while(|a| a.published >= now - LATE_LIMIT).collect()
    }

    /// From `recent` and when each was first seen (`None`: not yet, so now).
    pub fn new(recent: &[ArticleMeta<'a>], first_seen: &[Option<i64>], now: i64) -> Arrivals<'a> {
        let mut late: Vec<(i64, ArticleMeta<'a>)> = recent
            .iter()
            .zip(first_seen)
            .map(|(meta, seen)| (seen.unwrap_or(now), *meta))
            .filter(|(seen, meta)| *seen > meta.published && *seen - meta.published <= LATE_LIMIT)
            .collect();
        late.sort_by_key(|&(seen, _)| std::cmp::Reverse(seen));
        Arrivals { late }
    }

    fn is_late(&self, meta: &ArticleMeta) -> bool {
        self.late.iter().any(|(_, late)| late.lang == meta.lang && late.slug == meta.slug)
    }
}

/// Who a digest is for, as far as choosing articles goes: a language and a set of sectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader<'p> {
    /// The language the digest is written in.
    pub language: &'p str,
    /// Positions in `config.sectors`; empty for every article, whatever its sectors.
    pub sectors: Vec<usize>,
}

impl<'p> Reader<'p> {
    /// The reader `prefs` describe (sectors no longer configured are left out).
    pub fn of(config: &Config, prefs: &'p Preferences) -> Reader<'p> {
        let sectors = prefs.sectors.iter().filter_map(|id| config.sectors.iter().position(|s| &s.id == id)).collect();
        Reader { language: &prefs.language, sectors }
    }

    /// Is `meta` in one of this reader's sectors (any article, when they follow every sector)?
    pub fn follows(&self, meta: &ArticleMeta) -> bool {
        self.sectors.is_empty() || self.sectors.iter().any(|&s| meta.sectors.contains(s))
    }

    /// `meta` as an item of this reader's digest, or `None` when it is not for them: in their
    /// sectors, and in their language, or in the default language when it has no version in
    /// theirs.
    pub fn accepts<'a>(&self, config: &Config, catalog: &'a Catalog, meta: ArticleMeta<'a>) -> Option<Item<'a>> {
        if !self.follows(&meta) {
            return None;
        }
        if meta.lang == self.language {
            Some(Item { meta, is_fallback: false })
        } else if meta.lang == config.site.default_language
            && !catalog.translations(&meta).iter().any(|t| t.lang == self.language)
        {
            Some(Item { meta, is_fallback: true })
        } else {
            None
        }
    }
}

/// The articles of `catalog` that became news on their publication: published after `since`
/// and up to `until`, and not late arrivals (those are news when they arrived). Newest first.
fn published_news<'a>(
    catalog: &'a Catalog,
    arrivals: &Arrivals<'a>,
    since: i64,
    until: i64,
) -> impl Iterator<Item = (i64, ArticleMeta<'a>)> {
    // The catalog is newest first: stop at the first article before the window. A resumed run
    // sends what its cutoff saw; newer articles belong to the next run.
    catalog
        .articles()
        .take_while(move |a| a.published > since)
        .filter(move |meta| meta.published <= until && !arrivals.is_late(meta))
        .map(|meta| (meta.published, meta))
}

/// The late arrivals that became news after `since` and up to `until`, newest first.
fn arrived_news<'a>(arrivals: &Arrivals<'a>, since: i64, until: i64) -> impl Iterator<Item = (i64, ArticleMeta<'a>)> {
    arrivals.late.iter().copied().filter(move |&(seen, _)| seen > since && seen <= until)
}

/// Every article that became news after `since` and up to `until`, in any language or sector,
/// with when it did, newest first: what one run of a digest has to offer, before each reader's
/// language and sectors choose from it.
pub fn news<'a>(catalog: &'a Catalog, arrivals: &Arrivals<'a>, since: i64, until: i64) -> Vec<(i64, ArticleMeta<'a>)> {
    let mut found: Vec<(i64, ArticleMeta<'a>)> =
        published_news(catalog, arrivals, since, until).chain(arrived_news(arrivals, since, until)).collect();
    found.sort_by_key(|&(at, _)| std::cmp::Reverse(at));
    found
}

/// The articles for a subscriber with `prefs` that became news after `since` and up to
/// `until` (Unix seconds, a run's cutoff): published then, or published earlier but first
/// seen then (`arrivals`). At most `max_items`, newest first.
pub fn select<'a>(
    config: &Config,
    catalog: &'a Catalog,
    arrivals: &Arrivals<'a>,
    prefs: &Preferences,
    since: i64,
    until: i64,
    max_items: usize,
) -> Vec<Item<'a>> {
    let reader = Reader::of(config, prefs);
    let accept = |(at, meta)| reader.accepts(config, catalog, meta).map(|item| (at, item));
    // Published news comes newest first, so the first `max_items` accepted of it are all of
    // it that can count; late arrivals may still come before some of them.
    let mut found: Vec<(i64, Item<'a>)> = published_news(catalog, arrivals, since, until)
        .filter_map(accept)
        .take(max_items)
        .chain(arrived_news(arrivals, since, until).filter_map(accept))
        .collect();
    found.sort_by_key(|&(at, _)| std::cmp::Reverse(at));
    let mut items: Vec<Item<'a>> = Vec::with_capacity(found.len().min(max_items));
    for (_, item) in found {
        if items.len() < max_items && !items.iter().any(|i| i.meta.key == item.meta.key) {
            items.push(item);
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::index::{FileRecord, Outcome, Stamp};
    use crate::store::{SectorSet, Version};
    use std::path::Path;

    fn config() -> Config {
        Config::parse(include_str!("../../config.toml"), Path::new("/srv/config.toml")).unwrap()
    }

    /// Sector positions in the repository config: 0 foreign-affairs, 1 trade; languages 0 zh, 1 en.
    fn record(path: &str, lang: u8, published: i64, sectors: u64) -> FileRecord {
        FileRecord {
            path: path.into(),
            stamp: Stamp { size: 0, mtime_ns: 0, ctime_ns: 0, inode: 0 },
            outcome: Outcome::Articles {
                versions: vec![Version {
                    lang,
                    title: path.into(),
                    published,
                    updated: published,
                    sectors: SectorSet(sectors),
                    has_listed_sectors: true,
                    is_draft: false,
                    canonical_url: None,
                    attachments: Vec::new(),
                    missing_attachments: Vec::new(),
                }],
                notices: Vec::new(),
            },
        }
    }

    fn prefs(language: &str, sectors: &[&str]) -> Preferences {
        Preferences {
            name: None,
            language: language.into(),
            sectors: sectors.iter().map(|s| s.to_string()).collect(),
            digest: "daily".into(),
        }
    }

    #[test]
    fn picks_new_articles_in_the_subscribers_language_and_sectors_with_fallback() {
        let config = config();
        let records = vec![
            record("fair.en.md", 1, 300, 0b10),
            record("fair.zh.md", 0, 300, 0b10),
            record("notice.zh.md", 0, 200, 0b01),
            record("old.en.md", 1, 100, 0b10),
            record("visit.zh.md", 0, 250, 0b11),
        ];
        let catalog = Catalog::new(&config, records, 1000);
        let none = Arrivals::default();
        fn slugs<'a>(items: Vec<Item<'a>>) -> Vec<(&'a str, &'a str, bool)> {
            items.iter().map(|i| (i.meta.slug, i.meta.lang, i.is_fallback)).collect()
        }

        let en_trade = select(&config, &catalog, &none, &prefs("en", &["trade"]), 150, i64::MAX, 20);
        assert_eq!(slugs(en_trade), [("fair", "en", false), ("visit", "zh", true)]);
        let en_all = select(&config, &catalog, &none, &prefs("en", &[]), 0, i64::MAX, 20);
        assert_eq!(
            slugs(en_all),
            [("fair", "en", false), ("visit", "zh", true), ("notice", "zh", true), ("old", "en", false)]
        );
        let zh_affairs = select(&config, &catalog, &none, &prefs("zh", &["foreign-affairs"]), 0, i64::MAX, 1);
        assert_eq!(slugs(zh_affairs), [("visit", "zh", false)]);
        assert!(
            select(&config, &catalog, &none, &prefs("en", &[]), 300, i64::MAX, 20).is_empty(),
            "nothing after the last digest"
        );
        // A run resumed later still fills its slots with what its cutoff saw.
        let resumed = select(&config, &catalog, &none, &prefs("en", &[]), 0, 250, 2);
        assert_eq!(slugs(resumed), [("visit", "zh", true), ("notice", "zh", true)]);
    }

    #[test]
    fn an_article_added_after_its_date_is_news_when_first_seen() {
        let config = config();
        let day = 24 * 3600;
        let records = vec![
            record("fair.en.md", 1, 10 * day, 0b10),
            // Dated day 9 but added on day 11 (late), and one from long before added then too.
            record("midnight.en.md", 1, 9 * day, 0b10),
            record("archive.en.md", 1, day, 0b10),
        ];
        let catalog = Catalog::new(&config, records, 20 * day);
        let recent = Arrivals::recent(&catalog, 11 * day);
        assert_eq!(recent.iter().map(|m| m.slug).collect::<Vec<_>>(), ["fair", "midnight"]);
        let arrivals = Arrivals::new(&recent, &[Some(10 * day), Some(11 * day)], 11 * day);
        let slugs = |since, until| -> Vec<&str> {
            select(&config, &catalog, &arrivals, &prefs("en", &[]), since, until, 20)
                .iter()
                .map(|i| i.meta.slug)
                .collect()
        };
        // The digest of day 10 (cutoff 10.5) had only the fair; day 11's has the late one.
        assert_eq!(slugs(9 * day + day / 2, 10 * day + day / 2), ["fair"]);
        assert_eq!(slugs(10 * day + day / 2, 11 * day + day / 2), ["midnight"]);
        // Late articles sort by when they arrived.
        assert_eq!(slugs(0, 20 * day), ["midnight", "fair", "archive"]);
        // What a run offers, whatever the reader: the same window, with when each became news.
        let offered = |since, until| -> Vec<(i64, &str)> {
            news(&catalog, &arrivals, since, until).iter().map(|(at, m)| (*at, m.slug)).collect()
        };
        assert_eq!(offered(9 * day + day / 2, 10 * day + day / 2), [(10 * day, "fair")]);
        assert_eq!(offered(10 * day + day / 2, 11 * day + day / 2), [(11 * day, "midnight")]);
        assert_eq!(offered(0, 20 * day), [(11 * day, "midnight"), (10 * day, "fair"), (day, "archive")]);
    }
}
