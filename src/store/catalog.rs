//! The published articles at a moment: from the scan's records, drop drafts and articles dated
//! in the future, reject duplicate slugs, order newest first, and link translations. Every
//! problem and notice is kept with its file so `check` and `build` can report them.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::article::{ArticleMeta, Problem};
use super::index::{FileRecord, Outcome};
use crate::config::Config;

/// The published articles and what was wrong with the rest.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Published versions, newest first (ties by language, then slug).
    pub articles: Vec<ArticleMeta>,
    /// Files or versions that cannot be published, by path.
    pub errors: Vec<Problem>,
    /// Things worth telling that stopped nothing (a language config does not list).
    pub notices: Vec<Problem>,
    /// Drafts left out.
    pub drafts: usize,
    /// Versions dated after `now`, held back.
    pub held_back: usize,
    /// The earliest moment a held-back version becomes due (Unix seconds).
    pub next_release: Option<i64>,
    /// Indexes into `articles` by translation key.
    by_key: HashMap<String, Vec<usize>>,
}

impl Catalog {
    /// Builds the catalog of `records` as of `now` (Unix seconds).
    pub fn new(config: &Config, records: &[FileRecord], now: i64) -> Catalog {
        let mut catalog = Catalog::default();
        let dir = &config.store.dir;
        // (language, slug) → the file that claimed it first, in path order.
        let mut slugs: HashMap<(&str, &str), &str> = HashMap::new();
        for record in records {
            match &record.outcome {
                Outcome::Broken(e) => catalog.errors.push(Problem {
                    path: dir.join(&record.path),
                    line: e.line,
                    message: e.message.clone(),
                }),
                Outcome::Articles { metas, notices } => {
                    catalog.notices.extend(notices.iter().map(|n| Problem {
                        path: dir.join(&record.path),
                        line: None,
                        message: n.clone(),
                    }));
                    for meta in metas {
                        match slugs.entry((&meta.lang, &meta.slug)) {
                            Entry::Occupied(first) => {
                                catalog.errors.push(Problem {
                                    path: dir.join(&record.path),
                                    line: None,
                                    message: format!(
                                        "duplicate slug '{}' in language '{}': {} has it already; skipped",
                                        meta.slug,
                                        meta.lang,
                                        dir.join(first.get()).display()
                                    ),
                                });
                                continue;
                            }
                            Entry::Vacant(slot) => {
                                slot.insert(&record.path);
                            }
                        }
                        if meta.is_draft {
                            catalog.drafts += 1;
                        } else if meta.published > now {
                            catalog.held_back += 1;
                            catalog.next_release =
                                Some(catalog.next_release.map_or(meta.published, |t| t.min(meta.published)));
                        } else {
                            catalog.articles.push(meta.clone());
                        }
                    }
                }
            }
        }
        catalog.articles.sort_unstable_by(|a, b| {
            b.published.cmp(&a.published).then_with(|| a.lang.cmp(&b.lang)).then_with(|| a.slug.cmp(&b.slug))
        });
        for (i, meta) in catalog.articles.iter().enumerate() {
            catalog.by_key.entry(meta.key.clone()).or_default().push(i);
        }
        catalog
    }

    /// The other published language versions of `meta`, ordered by language code.
    pub fn translations(&self, meta: &ArticleMeta) -> Vec<&ArticleMeta> {
        let mut found: Vec<&ArticleMeta> = self
            .by_key
            .get(&meta.key)
            .into_iter()
            .flatten()
            .map(|&i| &self.articles[i])
            .filter(|other| other.lang != meta.lang)
            .collect();
        found.sort_by(|a, b| a.lang.cmp(&b.lang));
        found
    }

    /// The newest `limit` published versions in `lang`, in `sector` when given.
    pub fn select<'a>(
        &'a self,
        lang: &'a str,
        sector: Option<&'a str>,
        limit: usize,
    ) -> impl Iterator<Item = &'a ArticleMeta> + 'a {
        self.articles
            .iter()
            .filter(move |a| a.lang == lang && sector.is_none_or(|s| a.sectors.iter().any(|x| x == s)))
            .take(limit)
    }
}
