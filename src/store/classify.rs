//! Sector classification for articles whose front matter names no sectors: an article belongs
//! to every sector one of whose configured keywords occurs in its title or text, ignoring case
//! in every script (Unicode full case folding: `ТОРГОВЛЯ` is `торговля`, `STRASSE` is
//! `Straße`), as a substring (Chinese has no spaces to bound a word); one Aho–Corasick pass per
//! sector, stopping at the first keyword found.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use anyhow::Context;
use icu_casemap::CaseMapperBorrowed;

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
                let folded: Vec<String> = sector.keywords.iter().map(|k| fold(k).into_owned()).collect();
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(&folded)
                    .map(Some)
                    .with_context(|| format!("sectors.{}.keywords: cannot compile the keywords", sector.id))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Classifier { sectors })
    }

    /// The sectors whose keywords occur in any of `texts`.
    pub fn classify(&self, texts: &[&str]) -> SectorSet {
        let mut found = SectorSet::default();
        if self.sectors.iter().all(Option::is_none) {
            return found;
        }
        let texts: Vec<Cow<'_, str>> = texts.iter().map(|t| fold(t)).collect();
        for (i, matcher) in self.sectors.iter().enumerate() {
            if let Some(matcher) = matcher
                && texts.iter().any(|text| matcher.is_match(text.as_ref()))
            {
                found.insert(i);
            }
        }
        found
    }
}

/// `text` case-folded. ASCII text is left as it is: the matchers ignore ASCII case themselves,
/// and most of a store's bytes are ASCII markup or Chinese (which folding leaves alone, so it
/// is checked first, without allocating).
fn fold(text: &str) -> Cow<'_, str> {
    let mapper = CaseMapperBorrowed::new();
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let folded = mapper.fold_string(text);
    if folded == text { Cow::Borrowed(text) } else { folded }
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
    fn ignores_case_in_every_script() {
        let c = Classifier::new(&[sector("trade", &["торговля", "Straße"]), sector("affairs", &["КОНСУЛ"])]).unwrap();
        assert_eq!(c.classify(&["ВНЕШНЯЯ ТОРГОВЛЯ"]).iter().collect::<Vec<_>>(), vec![0]);
        assert_eq!(c.classify(&["DIE STRASSE"]).iter().collect::<Vec<_>>(), vec![0]);
        assert_eq!(c.classify(&["Генеральный консул России"]).iter().collect::<Vec<_>>(), vec![1]);
        assert!(c.classify(&["торг"]).is_empty());
    }

    #[test]
    fn no_keywords_means_no_sectors() {
        assert!(Classifier::new(&[sector("trade", &[])]).unwrap().classify(&["trade"]).is_empty());
    }
}
