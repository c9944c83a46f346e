//! Which articles a subscriber's digest holds: those first published after their last digest
//! (or their confirmation), in their sectors, newest first, in their language, or in the
//! default language (marked so) when the article has no version in theirs.

use crate::config::Config;
use crate::state::Preferences;
use crate::store::{ArticleMeta, Catalog};

/// One article of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// The version sent.
    pub meta: ArticleMeta<'a>,
    /// True when it is in the default language because the subscriber's has none.
    pub is_fallback: bool,
}

/// The articles for a subscriber with `prefs`, published after `since` and up to `until`
/// (Unix seconds, a run's cutoff), at most `max_items`, newest first.
pub fn select<'a>(
    config: &Config,
    catalog: &'a Catalog,
    prefs: &Preferences,
    since: i64,
    until: i64,
    max_items: usize,
) -> Vec<Item<'a>> {
    let sectors: Vec<usize> =
        prefs.sectors.iter().filter_map(|id| config.sectors.iter().position(|s| &s.id == id)).collect();
    let default_language = config.site.default_language.as_str();
    let mut items: Vec<Item> = Vec::new();
    // The catalog is newest first: stop at the first article the subscriber has seen.
    for meta in catalog.articles().take_while(|a| a.published > since) {
        if items.len() == max_items {
            break;
        }
        // A resumed run sends what its cutoff saw; newer articles belong to the next run.
        if meta.published > until {
            continue;
        }
        if !sectors.is_empty() && !sectors.iter().any(|&s| meta.sectors.contains(s)) {
            continue;
        }
        if items.iter().any(|item| item.meta.key == meta.key) {
            continue;
        }
        if meta.lang == prefs.language {
            items.push(Item { meta, is_fallback: false });
        } else if meta.lang == default_language && !catalog.translations(&meta).iter().any(|t| t.lang == prefs.language)
        {
            items.push(Item { meta, is_fallback: true });
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
        fn slugs<'a>(items: Vec<Item<'a>>) -> Vec<(&'a str, &'a str, bool)> {
            items.iter().map(|i| (i.meta.slug, i.meta.lang, i.is_fallback)).collect()
        }

        let en_trade = select(&config, &catalog, &prefs("en", &["trade"]), 150, i64::MAX, 20);
        assert_eq!(slugs(en_trade), [("fair", "en", false), ("visit", "zh", true)]);
        let en_all = select(&config, &catalog, &prefs("en", &[]), 0, i64::MAX, 20);
        assert_eq!(
            slugs(en_all),
            [("fair", "en", false), ("visit", "zh", true), ("notice", "zh", true), ("old", "en", false)]
        );
        let zh_affairs = select(&config, &catalog, &prefs("zh", &["foreign-affairs"]), 0, i64::MAX, 1);
        assert_eq!(slugs(zh_affairs), [("visit", "zh", false)]);
        assert!(
            select(&config, &catalog, &prefs("en", &[]), 300, i64::MAX, 20).is_empty(),
            "nothing after the last digest"
        );
        // A run resumed later still fills its slots with what its cutoff saw.
        let resumed = select(&config, &catalog, &prefs("en", &[]), 0, 250, 2);
        assert_eq!(slugs(resumed), [("visit", "zh", true), ("notice", "zh", true)]);
    }
}
