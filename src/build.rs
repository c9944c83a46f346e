//! One feed build, the job the `build` command and the daemon's schedule both run: scan the
//! store (through the index cache), make the catalog as of `now`, write the feeds. Also the
//! survey behind `check`, which writes no feeds (only the index cache, which is a cache).
//! And the daemon's rebuild when the watcher names the files that changed: only those are
//! read, the rest comes from the last build's catalog, and the output is the same.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::feeds::{self, Published};
use crate::store::classify::Classifier;
use crate::store::scan::{Scan, patch, scan, walk_store};
use crate::store::{Catalog, ParseContext, Problem, index};

/// The store as found, and what is published from it.
pub struct Survey {
    /// Files read and reused (its records now belong to the catalog).
    pub scan: Scan,
    /// Published articles and problems.
    pub catalog: Catalog,
    /// The index cache being written in the background, if it changed.
    index_write: Option<JoinHandle<Result<()>>>,
}

impl Survey {
    /// Waits for the index cache to be written. A failure is logged, not returned: the cache
    /// only saves time, so it must not fail a build.
    fn finish_index(&mut self) {
        let result = match self.index_write.take().map(JoinHandle::join) {
            None => return,
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(anyhow::anyhow!("the index writer panicked")),
        };
        if let Err(e) = result {
            tracing::warn!(error = format!("{e:#}"), "index cache not saved");
        }
    }

    /// Every error: unreadable entries, broken files, duplicates.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.scan.walk_problems.iter().chain(&self.catalog.errors)
    }
}

/// What a build did.
pub struct BuildReport {
    /// The survey it published from.
    pub survey: Survey,
    /// What was written.
    pub published: Published,
    /// Wall time.
    pub elapsed: Duration,
}

/// Scans the store and makes the catalog as of `now`, keeping the index cache up to date.
pub fn survey(config: &Config, now: DateTime<Utc>) -> Result<Survey> {
    let classifier = Classifier::new(&config.sectors)?;
    let mut survey = survey_with(&ParseContext { config, classifier: &classifier }, now)?;
    survey.finish_index();
    Ok(survey)
}

fn survey_with(ctx: &ParseContext, now: DateTime<Utc>) -> Result<Survey> {
    let config = ctx.config;
    let dir = &config.store.dir;
    if !dir.is_dir() {
        bail!("store folder {} does not exist (store.dir in {})", dir.display(), config.path.display());
    }
    let started = Instant::now();
    let fingerprint = index::fingerprint(config);
    // Reading the cache and walking the folder are independent: do both at once.
    let (cached, walked) = rayon::join(|| index::load(&config.store.index, &fingerprint), || walk_store(dir));
    tracing::debug!(
        records = cached.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "index loaded, store walked"
    );
    let scan = scan(ctx, walked, cached);
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "store scanned");
    Ok(survey_of(ctx, scan, &fingerprint, now, started))
}

/// The survey of `scan`: the index cache written in the background, the catalog made.
fn survey_of(ctx: &ParseContext, mut scan: Scan, fingerprint: &str, now: DateTime<Utc>, started: Instant) -> Survey {
    let config = ctx.config;
    // The cache is written on a thread of its own while the catalog and the feeds are made.
    let index_write = match scan.is_changed.then(|| index::encode(fingerprint, &scan.records)) {
        Some(Ok(bytes)) => {
            let path = config.store.index.clone();
            Some(std::thread::spawn(move || crate::atomic::write(&path, &bytes)))
        }
        Some(Err(e)) => {
            tracing::warn!(error = format!("{e:#}"), "index cache not saved");
            None
        }
        None => None,
    };
    let catalog = Catalog::new(config, std::mem::take(&mut scan.records), now.timestamp());
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "catalog made");
    Survey { scan, catalog, index_write }
}

/// Builds the feeds again after the files at `changed` (store-relative) changed, taking every
/// other file's record from `previous`, the catalog of the last build. `None` when the change
/// needs a full build (a folder, an attachment).
pub fn rebuild(
    config: &Config,
    now: DateTime<Utc>,
    previous: &Catalog,
    changed: &[String],
) -> Result<Option<BuildReport>> {
    let started = Instant::now();
    let classifier = Classifier::new(&config.sectors)?;
    let ctx = ParseContext { config, classifier: &classifier };
    let Some(scan) = patch(&ctx, previous.records_as_read(), changed) else { return Ok(None) };
    tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, files = changed.len(), "changed files read");
    let mut survey = survey_of(&ctx, scan, &index::fingerprint(config), now, started);
    let published = feeds::publish(config, &survey.catalog, &ctx);
    survey.finish_index();
    let published = published?;
    Ok(Some(BuildReport { survey, published, elapsed: started.elapsed() }))
}

/// Builds every feed from the store as of `now`.
pub fn build(config: &Config, now: DateTime<Utc>) -> Result<BuildReport> {
    let started = Instant::now();
    let classifier = Classifier::new(&config.sectors)?;
    let ctx = ParseContext { config, classifier: &classifier };
    let mut survey = survey_with(&ctx, now)?;
    let published = feeds::publish(config, &survey.catalog, &ctx);
    survey.finish_index();
    let published = published?;
    Ok(BuildReport { survey, published, elapsed: started.elapsed() })
}
