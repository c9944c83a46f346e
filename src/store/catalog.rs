//! The published articles at a moment: from the scan's records, drop drafts and articles dated
//! in the future, reject duplicate slugs, order newest first, and link translations. Every
//! problem and notice is kept with its file so `check` and `build` can report them.
//!
//! The catalog owns the records and hands out [`ArticleMeta`] views into them, so a store of
//! 100,000 files is ordered without copying a string.

use std::collections::hash_map::Entry;

use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHashMap;

use super::article::{ArticleMeta, Problem, Version};
use super::index::{FileRecord, Outcome};
use super::path;
use crate::config::Config;

/// A version's place: (record, version within the record).
type Slot = (u32, u8);

/// The published articles and what was wrong with the rest.
#[derive(Debug, Default)]
pub struct Catalog {
    records: Vec<FileRecord>,
    /// Language codes by config position.
    languages: Vec<String>,
    /// Published versions, newest first (ties by language, then slug).
    published: Vec<Slot>,
    /// Positions in `published`, sorted by translation key.
    by_key: Vec<u32>,
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
}

impl Catalog {
    /// Builds the catalog of `records` (sorted by path) as of `now` (Unix seconds).
    pub fn new(config: &Config, records: Vec<FileRecord>, now: i64) -> Catalog {
        let mut catalog =
            Catalog { languages: config.languages.iter().map(|l| l.code.clone()).collect(), ..Catalog::default() };
        let dir = &config.store.dir;
        // (language, slug) → the file that claimed it first, in path order.
        let mut slugs: FxHashMap<(u8, &str), &str> = FxHashMap::default();
        slugs.reserve(records.len());
        for (r, record) in records.iter().enumerate() {
            let problem = |line, message| Problem { path: dir.join(&record.path), line, message };
            let (versions, notices) = match &record.outcome {
                Outcome::Broken(e) => {
                    catalog.errors.push(problem(e.line, e.message.clone()));
                    continue;
                }
                Outcome::Articles { versions, notices } => (versions, notices),
            };
            catalog.notices.extend(notices.iter().map(|n| problem(None, n.clone())));
            let Some(name) = path::parse(&record.path) else { continue };
            for (v, version) in versions.iter().enumerate() {
                match slugs.entry((version.lang, name.slug)) {
                    Entry::Occupied(first) => {
                        let lang = catalog.languages.get(usize::from(version.lang)).map_or("?", String::as_str);
                        catalog.errors.push(problem(
                            None,
                            format!(
                                "duplicate slug '{}' in language '{lang}': {} has it already; skipped",
                                name.slug,
                                dir.join(first.get()).display()
                            ),
                        ));
                        continue;
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(&record.path);
                    }
                }
                if version.is_draft {
                    catalog.drafts += 1;
                } else if version.published > now {
                    catalog.held_back += 1;
                    catalog.next_release =
                        Some(catalog.next_release.map_or(version.published, |t| t.min(version.published)));
                } else if let (Ok(r), Ok(v)) = (u32::try_from(r), u8::try_from(v)) {
                    catalog.published.push((r, v));
                }
            }
        }
        drop(slugs);
        catalog.records = records;
        // Sort keys are computed once per version, not once per comparison.
        let mut keyed: Vec<(i64, u8, &str, Slot)> = catalog
            .published
            .iter()
            .map(|&slot| {
                let (record, version) = catalog.version(slot);
                let slug = path::parse(&record.path).map_or(record.path.as_str(), |n| n.slug);
                (version.published, version.lang, slug, slot)
            })
            .collect();
        keyed.par_sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.cmp(b.2)));
        let published: Vec<Slot> = keyed.into_iter().map(|k| k.3).collect();
        let mut by_key: Vec<(&str, u32)> = published
            .iter()
            .enumerate()
            .map(|(i, &slot)| {
                let (record, _) = catalog.version(slot);
                (path::parse(&record.path).map_or(record.path.as_str(), |n| n.key), i as u32)
            })
            .collect();
        by_key.par_sort_unstable();
        let by_key: Vec<u32> = by_key.into_iter().map(|k| k.1).collect();
        catalog.published = published;
        catalog.by_key = by_key;
        catalog
    }

    fn version(&self, (r, v): Slot) -> (&FileRecord, &Version) {
        let record = &self.records[r as usize];
        match &record.outcome {
            Outcome::Articles { versions, .. } => (record, &versions[usize::from(v)]),
            // Slots are only made for records with versions.
            Outcome::Broken(_) => unreachable!("a published slot points at a broken record"),
        }
    }

    fn meta(&self, slot: Slot) -> ArticleMeta<'_> {
        let (record, version) = self.version(slot);
        let name = path::parse(&record.path).unwrap_or(path::ArticleName {
            format: super::Format::Markdown,
            key: &record.path,
            slug: &record.path,
            lang: None,
        });
        ArticleMeta {
            path: &record.path,
            format: name.format,
            key: name.key,
            slug: name.slug,
            lang: self.languages.get(usize::from(version.lang)).map_or("", String::as_str),
            title: &version.title,
            published: version.published,
            updated: version.updated,
            sectors: version.sectors,
            is_draft: version.is_draft,
            canonical_url: version.canonical_url.as_deref(),
        }
    }

    fn meta_at(&self, i: u32) -> ArticleMeta<'_> {
        self.meta(self.published[i as usize])
    }

    /// How many versions are published.
    pub fn len(&self) -> usize {
        self.published.len()
    }

    /// Is nothing published?
    pub fn is_empty(&self) -> bool {
        self.published.is_empty()
    }

    /// The published versions, newest first.
    pub fn articles(&self) -> impl Iterator<Item = ArticleMeta<'_>> {
        self.published.iter().map(|&slot| self.meta(slot))
    }

    /// The other published language versions of `meta`, ordered by language code.
    pub fn translations(&self, meta: &ArticleMeta) -> Vec<ArticleMeta<'_>> {
        let start = self.by_key.partition_point(|&i| self.meta_at(i).key < meta.key);
        let mut found: Vec<ArticleMeta> = self.by_key[start..]
            .iter()
            .map(|&i| self.meta_at(i))
            .take_while(|other| other.key == meta.key)
            .filter(|other| other.lang != meta.lang)
            .collect();
        found.sort_by(|a, b| a.lang.cmp(b.lang));
        found
    }

    /// The newest `limit` published versions in language `lang`, in sector position `sector`
    /// when given.
    pub fn select(&self, lang: &str, sector: Option<usize>, limit: usize) -> Vec<ArticleMeta<'_>> {
        let Some(lang) = self.languages.iter().position(|l| l == lang) else { return Vec::new() };
        self.published
            .iter()
            .filter(|&&slot| {
                let (_, version) = self.version(slot);
                usize::from(version.lang) == lang && sector.is_none_or(|s| version.sectors.contains(s))
            })
            .take(limit)
            .map(|&slot| self.meta(slot))
            .collect()
    }
}
