//! The feeds: for every language `L` and sector `S`, `L/{atom.xml,rss.xml,feed.json}` and the
//! same under `L/S/`, plus `index.opml`; each feed's archive pages ([`archive`]) are made when
//! asked for, or written under `archive/` too with `feeds.archive_files`.
//! Selection works on index records; only the entries that make it into some subscription
//! feed are read in full and rendered, each once.

pub mod archive;
pub mod atom;
pub mod json;
pub mod model;
pub mod opml;
pub mod output;
pub mod rss;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::config::Config;
use crate::store::{self, Article, ArticleMeta, Catalog, ParseContext, Problem};

/// A feed format's writer.
pub(crate) type Renderer = fn(&FeedInfo, &[&model::Entry]) -> Result<Vec<u8>>;
/// Every feed document's files, by format.
pub(crate) const RENDERERS: [(&str, Renderer); 3] =
    [("atom.xml", atom::render), ("rss.xml", rss::render), ("feed.json", json::render)];
use model::{FeedInfo, FeedSpec};
use output::{Written, write_if_changed};

/// What publishing did.
#[derive(Debug, Default)]
pub struct Published {
    /// Feeds written (each in three formats).
    pub feeds: usize,
    /// Distinct articles shown across all feeds.
    pub articles_shown: usize,
    /// Files whose bytes changed, relative to the feeds folder.
    pub changed: Vec<PathBuf>,
    /// Files left as they were.
    pub unchanged: usize,
    /// Archive pages removed (their month has no entries any more), relative to the folder.
    pub removed: Vec<PathBuf>,
    /// Articles that could not be read in full after selection (removed meanwhile, say).
    pub problems: Vec<Problem>,
}

/// Writes every feed of `catalog` into `config.feeds.dir`.
pub fn publish(config: &Config, catalog: &Catalog, ctx: &ParseContext) -> Result<Published> {
    let specs = model::plan(config);
    // The full plan of archive pages only when they are written; the subscription feeds need
    // just each feed's newest month.
    let history = config.feeds.archive_files.then(|| archive::Plan::new(config, catalog, &specs));
    let selections: Vec<Vec<ArticleMeta>> =
        specs.iter().map(|spec| catalog.select(&spec.lang.code, spec.sector_index(), config.feeds.items)).collect();

    // Each selected article is read and rendered once, however many feeds show it.
    let mut needed: Vec<ArticleMeta> = selections.iter().flatten().copied().collect();
    needed.sort_unstable_by(|a, b| (&a.lang, &a.slug).cmp(&(&b.lang, &b.slug)));
    needed.dedup_by(|a, b| a.lang == b.lang && a.slug == b.slug);
    let loaded: Vec<Result<Article, Problem>> = needed.par_iter().map(|meta| store::load_article(ctx, *meta)).collect();
    let mut published = Published::default();
    let mut entries: HashMap<(&str, &str), model::Entry> = HashMap::new();
    for result in &loaded {
        match result {
            Ok(article) => {
                entries.insert((article.meta.lang, article.meta.slug), model::entry(config, catalog, article));
            }
            Err(problem) => published.problems.push(problem.clone()),
        }
    }
    published.articles_shown = entries.len();

    let mut infos: Vec<(FeedSpec, FeedInfo)> = Vec::with_capacity(specs.len());
    for (i, (spec, selection)) in specs.iter().zip(&selections).enumerate() {
        let shown: Vec<&model::Entry> = selection.iter().filter_map(|m| entries.get(&(m.lang, m.slug))).collect();
        let newest = match &history {
            Some(plan) => plan.newest(i),
            None => archive::Plan::newest_of(config, catalog, spec),
        };
        let info = model::info(config, catalog, spec, &shown, archive::subscription_history(config, spec, newest));
        let dir = PathBuf::from(spec.dir());
        for (file, render) in RENDERERS {
            let rel = dir.join(file);
            let bytes = render(&info, &shown).with_context(|| format!("cannot render {}", rel.display()))?;
            write(config, &rel, &bytes, &mut published)?;
        }
        published.feeds += 1;
        infos.push((*spec, info));
    }

    let groups: Vec<opml::Group> = config
        .languages
        .iter()
        .map(|lang| opml::Group {
            title: &lang.title,
            feeds: infos.iter().filter(|(s, _)| s.lang.code == lang.code).map(|(_, i)| i).collect(),
        })
        .collect();
    let default_title = config.languages.first().map_or("gazette", |l| l.title.as_str());
    let opml = opml::render(default_title, &groups).context("cannot render index.opml")?;
    write(config, &PathBuf::from("index.opml"), &opml, &mut published)?;
    archive::files::publish(config, catalog, ctx, &specs, history.as_ref(), &mut published)?;
    Ok(published)
}

pub(crate) fn write(config: &Config, rel: &std::path::Path, bytes: &[u8], published: &mut Published) -> Result<()> {
    match write_if_changed(&config.feeds.dir.join(rel), bytes)? {
        Written::Changed => published.changed.push(rel.to_path_buf()),
        Written::Unchanged => published.unchanged += 1,
    }
    Ok(())
}
