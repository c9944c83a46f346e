//! Sector classification for articles whose front matter names no sectors: an article belongs
//! to every sector one of whose configured keywords occurs in its title or text (ASCII
//! case-insensitive; one Aho–Corasick pass over the text, whatever the number of keywords).

use aho_corasick::{AhoCorasick, MatchKind};
use anyhow::Context;

use super::article::SectorSet;
use crate::config::Sector;

/// The compiled keywords of every sector.
pub struct Classifier {
    matcher: Option<AhoCorasick>,
    /// Sector position of each pattern, by pattern index.
    pattern_sector: Vec<usize>,
    sector_count: usize,
}

impl Classifier {
    /// Compiles the keywords of `sectors`.
    pub fn new(sectors: &[Sector]) -> anyhow::Result<Classifier> {
        let mut patterns = Vec::new();
        let mut pattern_sector = Vec::new();
        for (i, sector) in sectors.iter().enumerate() {
            for keyword in &sector.keywords {
                patterns.push(keyword.as_str());
                pattern_sector.push(i);
            }
        }
        let matcher = if patterns.is_empty() {
            None
        } else {
            let matcher = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .context("sectors.*.keywords: cannot compile the keywords")?;
            Some(matcher)
        };
        Ok(Classifier { matcher, pattern_sector, sector_count: sectors.len() })
    }

    /// The sectors whose keywords occur in any of `texts`.
    pub fn classify(&self, texts: &[&str]) -> SectorSet {
        let mut found = SectorSet::default();
        let Some(matcher) = &self.matcher else { return found };
        let mut remaining = self.sector_count;
        'texts: for text in texts {
            // Overlapping search: a short keyword inside a longer one still counts.
            for m in matcher.find_overlapping_iter(*text) {
                let sector = self.pattern_sector[m.pattern().as_usize()];
                if !found.contains(sector) {
                    found.insert(sector);
                    remaining -= 1;
                    if remaining == 0 {
                        break 'texts;
                    }
                }
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
