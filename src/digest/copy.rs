//! The web copy of a digest: what one run offered a reader of one language and set of
//! sectors, chosen from the news the run recorded ([`crate::state::RunNews`]) by the same
//! rule as each subscriber's message ([`Reader::accepts`]), and nothing about whom it was sent
//! to. Also the sector set's spelling in a copy's URL.

use super::select::{Item, Reader};
use crate::config::Config;
use crate::state::RunNews;
use crate::store::Catalog;

/// Separates sector ids in a copy's URL (`trade+consular`): sector ids are `a-z 0-9 - _`.
const SEPARATOR: char = '+';

/// The articles of `news` for `reader`, at most `max_items`, newest first: those still
/// published (a deleted article leaves its copies; an edited one shows as it is now).
pub fn items<'a>(
    config: &Config,
    catalog: &'a Catalog,
    news: &RunNews,
    reader: &Reader,
    max_items: usize,
) -> Vec<Item<'a>> {
    news.articles
        .iter()
        .filter_map(|(lang, slug, _)| catalog.find(lang, slug))
        .filter_map(|meta| reader.accepts(config, catalog, meta))
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
