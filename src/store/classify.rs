//! Sector classification for articles whose front matter names no sectors: an article belongs
//! to every sector one of whose configured keywords occurs in its title or text (ASCII
//! case-insensitive; one Aho–Corasick pass over the text, whatever the number of keywords).

use aho_corasick::{AhoCorasick, MatchKind};

use crate::config::Sector;

/// The compiled keywords of every sector.
pub struct Classifier {
    matcher: Option<AhoCorasick>,
    /// Sector id of each pattern, by pattern index.
    pattern_sector: Vec<usize>,
    sector_ids: Vec<String>,
}

impl Classifier {
    /// Compiles the keywords of `sectors`.
    pub fn new(sectors: &[Sector]) -> Classifier {
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
            AhoCorasick::builder().ascii_case_insensitive(true).match_kind(MatchKind::Standard).build(&patterns).ok()
        };
        Classifier { matcher, pattern_sector, sector_ids: sectors.iter().map(|s| s.id.clone()).collect() }
    }

    /// The ids of the sectors whose keywords occur in any of `texts`, in config order.
    pub fn classify(&self, texts: &[&str]) -> Vec<String> {
        let Some(matcher) = &self.matcher else { return Vec::new() };
        let mut found = vec![false; self.sector_ids.len()];
        let mut remaining = found.len();
        'texts: for text in texts {
            // Overlapping search: a short keyword inside a longer one still counts.
            for m in matcher.find_overlapping_iter(*text) {
                let sector = self.pattern_sector[m.pattern().as_usize()];
                if !found[sector] {
                    found[sector] = true;
                    remaining -= 1;
                    if remaining == 0 {
                        break 'texts;
                    }
                }
            }
        }
        self.sector_ids.iter().zip(found).filter(|(_, hit)| *hit).map(|(id, _)| id.clone()).collect()
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
        let c = Classifier::new(&[sector("foreign-affairs", &["领事", "consul"]), sector("trade", &["经贸", "trade"])]);
        assert_eq!(c.classify(&["总领事馆", ""]), vec!["foreign-affairs"]);
        assert_eq!(c.classify(&["Visit", "Free TRADE zone and the Consulate"]), vec!["foreign-affairs", "trade"]);
        assert!(c.classify(&["nothing here"]).is_empty());
    }

    #[test]
    fn no_keywords_means_no_sectors() {
        assert!(Classifier::new(&[sector("trade", &[])]).classify(&["trade"]).is_empty());
    }
}
