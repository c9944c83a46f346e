//! The web copy of a digest: what one run offered a reader of one language and set of
//! sectors, and nothing about whom it was sent to. When a run opens it records, for each
//! language, what a reader of it following every sector gets ([`offered`], by the same rule as
//! each subscriber's message, [`Reader::accepts`]); a copy for a set of sectors keeps those of
//! them in the sectors ([`items`]). Also the sector set's spelling in a copy's URL.

use super::select::{Item, Reader};
use crate::config::Config;
use crate::state::{NewsItem, RunNews};
use crate::store::{ArticleMeta, Catalog};

/// Separates sector ids in a copy's URL (`trade+consular`): sector ids are `a-z 0-9 - _`.
const SEPARATOR: char = '+';

/// What `news` (every article that became news in a run, with when, newest first) offers a
/// reader of each configured language who follows every sector: (language, item) rows.
pub fn offered<'c>(config: &'c Config, catalog: &Catalog, news: &[(i64, ArticleMeta)]) -> Vec<(&'c str, NewsItem)> {
    let mut rows = Vec::new();
    for language in &config.languages {
        let reader = Reader { language: &language.code, sectors: Vec::new() };
        for &(at, meta) in news {
            if let Some(item) = reader.accepts(config, catalog, meta) {
                let offered = NewsItem {
                    lang: item.meta.lang.to_owned(),
                    slug: item.meta.slug.to_owned(),
                    at,
                    is_fallback: item.is_fallback,
                };
                rows.push((language.code.as_str(), offered));
            }
        }
    }
    rows
}

/// The articles of `news` (what a run offered readers of `reader`'s language) in `reader`'s
/// sectors, at most `max_items`, newest first: those still published (a deleted article
/// leaves its copies; an edited one shows as it is now).
pub fn items<'a>(catalog: &'a Catalog, news: &RunNews, reader: &Reader, max_items: usize) -> Vec<Item<'a>> {
    news.articles
        .iter()
        .filter_map(|offered| {
            let meta = catalog.find(&offered.lang, &offered.slug)?;
            reader.follows(&meta).then_some(Item { meta, is_fallback: offered.is_fallback })
        })
        .take(max_items)
        .collect()
}

/// The URL path segment naming the sector set `sectors` (positions in `config.sectors`),
/// in config order, or `None` for every sector.
pub fn sectors_segment(config: &Config, sectors: &[usize]) -> Option<String> {
    let mut positions = sectors.to_vec();
    positions.sort_unstable();
    positions.dedup();
    let ids: Vec<&str> = positions.iter().filter_map(|&i| config.sectors.get(i)).map(|s| s.id.as_str()).collect();
    (!ids.is_empty()).then(|| ids.join(&SEPARATOR.to_string()))
}

/// The sector set a URL segment names (ids separated by `+`, in any order), or `None` when
/// one of them is not a configured sector.
pub fn parse_sectors(config: &Config, segment: &str) -> Option<Vec<usize>> {
    let mut positions = segment
        .split(SEPARATOR)
        .map(|id| config.sectors.iter().position(|s| s.id == id))
        .collect::<Option<Vec<usize>>>()?;
    positions.sort_unstable();
    positions.dedup();
    Some(positions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(include_str!("../../config.toml"), Path::new("/srv/config.toml")).unwrap()
    }

    #[test]
    fn a_sector_set_is_spelt_once_in_config_order() {
        let config = config();
        let ids: Vec<&str> = config.sectors.iter().map(|s| s.id.as_str()).collect();
        assert!(ids.len() >= 2, "the repository config has several sectors");
        let both = format!("{}+{}", ids[0], ids[1]);
        assert_eq!(sectors_segment(&config, &[1, 0, 1]).as_deref(), Some(both.as_str()));
        assert_eq!(sectors_segment(&config, &[]), None);
        assert_eq!(parse_sectors(&config, &format!("{}+{}", ids[1], ids[0])), Some(vec![0, 1]));
        assert_eq!(parse_sectors(&config, ids[0]), Some(vec![0]));
        for bad in ["", "nope", "trade+", "+trade", "../x"] {
            assert_eq!(parse_sectors(&config, bad), None, "{bad}");
        }
    }
}
