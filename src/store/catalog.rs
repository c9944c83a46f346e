//! The published articles at a moment: from the scan's records, drop drafts and articles dated
//! in the future, reject duplicate slugs, order newest first, and link translations. Every
//! problem and notice is kept with its file so `check` and `build` can report them.
//!
//! The catalog owns the records and hands out [`ArticleMeta`] views into them, so a store of
//! 100,000 files is ordered without copying a string.

use std::sync::OnceLock;

use rayon::prelude::*;

use super::article::{ArticleMeta, Problem, SectorSet, Version};
use super::index::{FileRecord, Outcome};
use super::path;
use crate::config::Config;

/// A version's place: (record, version within the record).
type Slot = (u32, u8);

/// A version with the keys the catalog sorts it by, borrowed from its record.
#[derive(Clone, Copy)]
struct Row<'a> {
    published: i64,
    lang: u8,
    slug: &'a str,
    key: &'a str,
    path: &'a str,
    is_draft: bool,
    slot: Slot,
}

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
    /// The earliest moment a held-back version becomes due (Unix seconds): the daemon
    /// schedules a rebuild for then.
    pub next_release: Option<i64>,
    /// The sectors versions had as read, before translations shared theirs.
    as_read: Vec<(Slot, SectorSet)>,
    /// Lookups the pages need and the build does not, made on first use ([`Lookups`]).
    lookups: OnceLock<Lookups>,
}

/// Positions in `published`, arranged for the server's lookups.
#[derive(Debug)]
struct Lookups {
    /// For each language (by config position): its versions newest first (`[0]`), then those
    /// in sector `s` (`[1 + s]`).
    lists: Vec<Vec<Vec<u32>>>,
    /// Every published version, sorted by (language, slug).
    by_slug: Vec<u32>,
}

impl Catalog {
    /// Builds the catalog of `records` (sorted by path) as of `now` (Unix seconds).
    pub fn new(config: &Config, mut records: Vec<FileRecord>, now: i64) -> Catalog {
        let as_read = share_classified_sectors(&mut records);
        let languages: Vec<String> = config.languages.iter().map(|l| l.code.clone()).collect();
        let dir = &config.store.dir;
        let mut errors = Vec::new();
        let mut notices = Vec::new();
        for record in &records {
            let problem = |line, message| Problem { path: dir.join(&record.path), line, message };
            match &record.outcome {
                Outcome::Broken(e) => errors.push(problem(e.line, e.message.clone())),
                Outcome::Articles { notices: found, .. } => {
                    notices.extend(found.iter().map(|n| problem(None, n.clone())));
                }
            }
        }

        // One row per version, with its sort keys read off the path once (in parallel).
        let mut rows: Vec<Row> = records
            .par_iter()
            .enumerate()
            .flat_map_iter(|(r, record)| {
                let versions = match &record.outcome {
                    Outcome::Articles { versions, .. } => versions.as_slice(),
                    Outcome::Broken(_) => &[],
                };
                let name = path::parse(&record.path);
                versions.iter().enumerate().filter_map(move |(v, version)| {
                    let name = name?;
                    Some(Row {
                        published: version.published,
                        lang: version.lang,
                        slug: name.slug,
                        key: name.key,
                        path: &record.path,
                        is_draft: version.is_draft,
                        slot: (u32::try_from(r).ok()?, u8::try_from(v).ok()?),
                    })
                })
            })
            .collect();

        // A (language, slug) pair belongs to the first file in path order; later ones are errors.
        rows.par_sort_unstable_by(|a, b| (a.lang, a.slug, a.path).cmp(&(b.lang, b.slug, b.path)));
        let mut kept = Vec::with_capacity(rows.len());
        let (mut drafts, mut held_back, mut next_release) = (0, 0, None::<i64>);
        let mut holder: Option<&Row> = None;
        for row in &rows {
            if let Some(first) = holder.filter(|h| (h.lang, h.slug) == (row.lang, row.slug)) {
                let lang = languages.get(usize::from(row.lang)).map_or("?", String::as_str);
                errors.push(Problem {
                    path: dir.join(row.path),
                    line: None,
                    message: format!(
                        "duplicate slug '{}' in language '{lang}': {} has it already; skipped",
                        row.slug,
                        dir.join(first.path).display()
                    ),
                });
                continue;
            }
            holder = Some(row);
            if row.is_draft {
                drafts += 1;
            } else if row.published > now {
                held_back += 1;
                next_release = Some(next_release.map_or(row.published, |t| t.min(row.published)));
            } else {
                kept.push(*row);
            }
        }
        errors.sort_by(|a, b| a.path.cmp(&b.path));

        kept.par_sort_unstable_by(|a, b| {
            b.published.cmp(&a.published).then_with(|| a.lang.cmp(&b.lang)).then_with(|| a.slug.cmp(b.slug))
        });
        let published: Vec<Slot> = kept.iter().map(|row| row.slot).collect();
        let mut by_key: Vec<(&str, u32)> = kept.iter().enumerate().map(|(i, row)| (row.key, i as u32)).collect();
        by_key.par_sort_unstable();
        let by_key: Vec<u32> = by_key.into_iter().map(|(_, i)| i).collect();
        drop(rows);
        drop(kept);
        Catalog {
            records,
            languages,
            published,
            by_key,
            errors,
            notices,
            drafts,
            held_back,
            next_release,
            as_read,
            lookups: OnceLock::new(),
        }
    }

    /// The records as the scan read them (sorted by path), for a rebuild that changes only
    /// some of them: what translations shared is undone, so it can be shared afresh.
    pub fn records_as_read(&self) -> Vec<FileRecord> {
        let mut records = self.records.clone();
        for &((r, v), sectors) in &self.as_read {
            if let Some(version) = records.get_mut(r as usize).and_then(|r| versions_mut(r).get_mut(usize::from(v))) {
                version.sectors = sectors;
            }
        }
        records
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
            canonical_url: version.canonical_url.as_deref(),
            attachments: &version.attachments,
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

    /// The published version at `position` in [`Catalog::articles`]' order, if there is one.
    pub fn at(&self, position: u32) -> Option<ArticleMeta<'_>> {
        self.published.get(position as usize).map(|&slot| self.meta(slot))
    }

    /// The stamp of the file at store-relative `path` when it was read, if the catalog holds it.
    pub fn stamp_of(&self, path: &str) -> Option<super::index::Stamp> {
        let i = self.records.binary_search_by(|r| r.path.as_str().cmp(path)).ok()?;
        Some(self.records[i].stamp)
    }

    /// The published version `slug` in language `lang`, if there is one.
    pub fn find(&self, lang: &str, slug: &str) -> Option<ArticleMeta<'_>> {
        let by_slug = &self.lookups().by_slug;
        let i = by_slug.binary_search_by(|&i| {
            let meta = self.meta_at(i);
            (meta.lang, meta.slug).cmp(&(lang, slug))
        });
        i.ok().map(|i| self.meta_at(by_slug[i]))
    }

    /// Makes the lookups the pages need now rather than on the first request, for a thread
    /// that may wait (the server's would hold up requests).
    pub fn prepare_lookups(&self) {
        self.lookups();
    }

    /// The lookups, made on first use.
    fn lookups(&self) -> &Lookups {
        self.lookups.get_or_init(|| {
            let mut lists: Vec<Vec<Vec<u32>>> = self.languages.iter().map(|_| vec![Vec::new()]).collect();
            for (i, &slot) in self.published.iter().enumerate() {
                let (_, version) = self.version(slot);
                let Some(by_sector) = lists.get_mut(usize::from(version.lang)) else { continue };
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                by_sector[0].push(i);
                for s in version.sectors.iter() {
                    if by_sector.len() <= s + 1 {
                        by_sector.resize_with(s + 2, Vec::new);
                    }
                    by_sector[s + 1].push(i);
                }
            }
            let mut by_slug: Vec<u32> = (0..u32::try_from(self.published.len()).unwrap_or(u32::MAX)).collect();
            by_slug.par_sort_unstable_by(|&a, &b| {
                let (a, b) = (self.meta_at(a), self.meta_at(b));
                (a.lang, a.slug).cmp(&(b.lang, b.slug))
            });
            Lookups { lists, by_slug }
        })
    }

    /// Positions in `published` of the versions in `lang` (and `sector`), newest first.
    fn list(&self, lang: &str, sector: Option<usize>) -> &[u32] {
        let Some(l) = self.languages.iter().position(|c| c == lang) else { return &[] };
        let by_sector = &self.lookups().lists[l];
        by_sector.get(sector.map_or(0, |s| s + 1)).map_or(&[], Vec::as_slice)
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
        self.shown(lang, sector).take(limit).map(|slot| self.meta(slot)).collect()
    }

    /// Page `page` (from 0) of `per_page` of what [`Catalog::select`] would list, and how many
    /// there are in all.
    pub fn select_page(
        &self,
        lang: &str,
        sector: Option<usize>,
        page: usize,
        per_page: usize,
    ) -> (Vec<ArticleMeta<'_>>, usize) {
        let list = self.list(lang, sector);
        let found = list.iter().skip(page.saturating_mul(per_page)).take(per_page).map(|&i| self.meta_at(i)).collect();
        (found, list.len())
    }

    /// The published versions in `lang` (in sector position `sector` when given), newest first.
    fn shown(&self, lang: &str, sector: Option<usize>) -> impl Iterator<Item = Slot> + '_ {
        let lang = self.languages.iter().position(|l| l == lang);
        self.published.iter().copied().filter(move |&slot| {
            let (_, version) = self.version(slot);
            Some(usize::from(version.lang)) == lang && sector.is_none_or(|s| version.sectors.contains(s))
        })
    }

    /// The positions (in [`Catalog::articles`]' order) and publication times of the published
    /// versions in `lang`, and in `sector` when given, newest first: what [`Catalog::select`]
    /// lists, without making each version's [`ArticleMeta`].
    pub fn positions<'c>(&'c self, lang: &str, sector: Option<usize>) -> impl Iterator<Item = (u32, i64)> + 'c {
        let lang = self.languages.iter().position(|l| l == lang);
        self.published.iter().enumerate().filter_map(move |(i, &slot)| {
            let (_, version) = self.version(slot);
            let shown = Some(usize::from(version.lang)) == lang && sector.is_none_or(|s| version.sectors.contains(s));
            shown.then(|| (u32::try_from(i).unwrap_or(u32::MAX), version.published))
        })
    }

    /// The published versions in `lang`, newest first.
    pub fn in_language<'c>(&'c self, lang: &str) -> impl Iterator<Item = ArticleMeta<'c>> + 'c {
        self.list(lang, None).iter().map(|&i| self.meta_at(i))
    }
}

/// Keywords classify an article, not one language version of it: versions whose front matter
/// lists no sectors get every sector their translations' texts matched, so a translation pair
/// sits in the same sector feeds.
fn share_classified_sectors(records: &mut [FileRecord]) -> Vec<(Slot, SectorSet)> {
    let is_classified = |r: &FileRecord| match &r.outcome {
        Outcome::Articles { versions, .. } => versions.iter().any(|v| !v.has_listed_sectors),
        Outcome::Broken(_) => false,
    };
    let key_of = |r: &FileRecord| path::parse(&r.path).map_or(0, |name| name.key.len());
    // (key length, record), sorted by key: translations end up side by side.
    let mut keyed: Vec<(usize, usize)> =
        records.iter().enumerate().filter(|(_, r)| is_classified(r)).map(|(i, r)| (key_of(r), i)).collect();
    let key = |&(len, i): &(usize, usize)| &records[i].path[..len];
    keyed.par_sort_unstable_by(|a, b| key(a).cmp(key(b)));
    let groups: Vec<Vec<usize>> = keyed
        .chunk_by(|a, b| key(a) == key(b))
        .filter(|run| run.len() > 1)
        .map(|run| run.iter().map(|&(_, i)| i).collect())
        .collect();
    let mut as_read = Vec::new();
    for group in groups {
        let mut union = SectorSet::default();
        for &i in &group {
            for v in versions_mut(&mut records[i]).iter().filter(|v| !v.has_listed_sectors) {
                union.0 |= v.sectors.0;
            }
        }
        for &i in &group {
            for (j, v) in versions_mut(&mut records[i]).iter_mut().enumerate().filter(|(_, v)| !v.has_listed_sectors) {
                if v.sectors != union
                    && let (Ok(r), Ok(j)) = (u32::try_from(i), u8::try_from(j))
                {
                    as_read.push(((r, j), v.sectors));
                }
                v.sectors = union;
            }
        }
    }
    as_read
}

fn versions_mut(record: &mut FileRecord) -> &mut [Version] {
    match &mut record.outcome {
        Outcome::Articles { versions, .. } => versions,
        Outcome::Broken(_) => &mut [],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::index::Stamp;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(include_str!("../../config.toml"), Path::new("/srv/config.toml")).unwrap()
    }

    fn record(path: &str, lang: u8, published: i64, sectors: u64, listed: bool, is_draft: bool) -> FileRecord {
        let version = Version {
            lang,
            title: path.to_owned(),
            published,
            updated: published,
            sectors: SectorSet(sectors),
            has_listed_sectors: listed,
            is_draft,
            canonical_url: None,
            attachments: Vec::new(),
            missing_attachments: Vec::new(),
        };
        FileRecord {
            path: path.to_owned(),
            stamp: Stamp { size: 0, mtime_ns: 0, ctime_ns: 0, inode: 0 },
            outcome: Outcome::Articles { versions: vec![version], notices: Vec::new() },
        }
    }

    #[test]
    fn a_held_back_article_is_published_once_its_moment_passes() {
        let records = vec![record("a.en.md", 1, 1000, 0, true, false), record("b.en.md", 1, 2000, 0, true, false)];
        let before = Catalog::new(&config(), records.clone(), 1999);
        assert_eq!(before.articles().map(|a| a.slug).collect::<Vec<_>>(), vec!["a"]);
        assert_eq!((before.held_back, before.next_release), (1, Some(2000)));
        let after = Catalog::new(&config(), records, 2000);
        assert_eq!(after.articles().map(|a| a.slug).collect::<Vec<_>>(), vec!["b", "a"]);
        assert_eq!(after.held_back, 0);
    }

    #[test]
    fn translations_share_keyword_sectors_but_keep_listed_ones() {
        let records = vec![
            record("x/visit.en.md", 1, 1000, 0b01, false, false),
            record("x/visit.zh.md", 0, 1000, 0b10, false, false),
            record("y/fair.en.md", 1, 1000, 0b01, true, false),
            record("y/fair.zh.md", 0, 1000, 0b10, false, false),
        ];
        let catalog = Catalog::new(&config(), records, 5000);
        let sectors = |slug: &str, lang: &str| {
            catalog.articles().find(|a| a.slug == slug && a.lang == lang).map(|a| a.sectors.0).unwrap()
        };
        assert_eq!((sectors("visit", "en"), sectors("visit", "zh")), (0b11, 0b11));
        assert_eq!((sectors("fair", "en"), sectors("fair", "zh")), (0b01, 0b10));
        // A rebuild starts from the sectors as read, not as shared.
        let as_read: Vec<u64> = catalog
            .records_as_read()
            .iter()
            .map(|r| match &r.outcome {
                Outcome::Articles { versions, .. } => versions[0].sectors.0,
                Outcome::Broken(_) => 0,
            })
            .collect();
        assert_eq!(as_read, [0b01, 0b10, 0b01, 0b10]);
    }

    #[test]
    fn a_duplicate_slug_is_an_error_naming_the_first_file_and_drafts_stay_out() {
        let records = vec![
            record("2023/visit.en.md", 1, 1000, 0, true, false),
            record("2024/visit.en.md", 1, 1500, 0, true, false),
            record("draft.en.md", 1, 1000, 0, true, true),
        ];
        let catalog = Catalog::new(&config(), records, 5000);
        assert_eq!(catalog.len(), 1);
        assert_eq!(catalog.drafts, 1);
        assert_eq!(catalog.errors.len(), 1);
        let error = catalog.errors[0].to_string();
        assert!(error.starts_with("/srv/articles/2024/visit.en.md: duplicate slug 'visit'"), "{error}");
        assert!(error.contains("/srv/articles/2023/visit.en.md has it already"), "{error}");
    }
}
