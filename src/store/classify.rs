//! Sector classification for articles whose front matter names no sectors: an article belongs
//! to every sector one of whose configured keywords occurs in its title or text (ASCII
//! case-insensitive; one Aho–Corasick pass per sector, stopping at the first keyword found).

use aho_corasick::{AhoCorasick, MatchKind};
use anyhow::Context;

use super::article::SectorSet;
use crate::config::Sector;

/// The compiled keywords of every sector.
pub struct Classifier {
    /// One matcher per sector (`None` for a sector without keywords), in config order.
    sectors: Vec<Option<AhoCorasick>>,
}

impl Classifier {
    /// Compiles the keywords of `sectors`.
    pub fn new(sectors: &[Sector]) -> anyhow::Result<Classifier> {
        let sectors = sectors
            .iter()
            .map(|sector| {
                if sector.keywords.is_empty() {
                    return Ok(None);
                }
                // Leftmost-first search has a prefilter (memchr on rare bytes); one matcher per
                // sector keeps "does any keyword of this sector occur" exact without
                // overlapping search, which has none.
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&sector.keywords)
                    .map(Some)
                    .with_context(|| format!("sectors.{}.keywords: cannot compile the keywords", sector.id))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Classifier { sectors })
    }

    /// The sectors whose keywords occur in any of `texts`.
    pub fn classify(&self, texts: &[&str]) -> SectorSet {
        let mut found = SectorSet::default();
        for (i, matcher) in self.sectors.iter().enumerate() {
            if let Some(matcher) = matcher
                && texts.iter().any(|text| matcher.is_match(*text))
            {
                found.insert(i);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sector(id: &str, keywords: &[&str]) -> Sector {
        Sector { id: id.into(), names: BTreeMap::new(), keywords: keywords.iter().map(|k| k.to_string()).collect() }
    }

    #[test]
    fn finds_chinese_and_english_keywords_ignoring_ascii_case() {
        let c = Classifier::new(&[sector("foreign-affairs", &["领事", "consul"]), sector("trade", &["经贸", "trade"])])
            .unwrap();
        assert_eq!(c.classify(&["总领事馆", ""]).iter().collect::<Vec<_>>(), vec![0]);
        assert_eq!(c.classify(&["Visit", "Free TRADE zone and the Consulate"]).iter().collect::<Vec<_>>(), vec![0, 1]);
        assert!(c.classify(&["nothing here"]).is_empty());
    }

    #[test]
    fn no_keywords_means_no_sectors() {
        assert!(Classifier::new(&[sector("trade", &[])]).unwrap().classify(&["trade"]).is_empty());
    }
}
