//! `/feeds/{feed}/archive/YYYY-MM/{atom.xml,rss.xml,feed.json}`: the RFC 5005 archive pages,
//! rendered from the catalog when first asked for and kept (within [`BUDGET`] bytes) until
//! their digest changes. The tag comes from the page's digest, so a conditional request is
//! answered without rendering, and a sealed month (one with a newer page after it) is served
//! `immutable` for a year.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use sha2::Digest as _;

use super::Site;
use super::feeds::{Cached, MAX_AGE, SEALED, content_type_of, respond_with, unchanged};
use crate::feeds::archive::{self, Month, Plan};
use crate::feeds::model::{self, FeedSpec};
use crate::store::{Catalog, ParseContext};

/// Bytes of rendered pages kept at most (the plain copies; gzip copies come on top).
const BUDGET: usize = 64 << 20;

/// The archive pages of the current catalog.
#[derive(Default)]
pub struct ArchivePages {
    plan: Mutex<Option<Arc<Planned>>>,
    rendered: Mutex<Rendered>,
}

/// The plan of one catalog and site, with the page digests worked out so far.
struct Planned {
    site: Arc<Site>,
    catalog: Arc<Catalog>,
    plan: Plan,
    digests: Mutex<HashMap<(usize, usize), [u8; 32]>>,
}

/// A page's documents, one per format.
type Documents = Arc<Vec<Arc<Cached>>>;

/// A page's documents once rendered: requests for a page being rendered wait for that one
/// rendering instead of starting their own. `None` when it could not be rendered.
type Slot = Arc<OnceLock<Option<Documents>>>;

/// Rendered pages by page digest, oldest first in `order`.
#[derive(Default)]
struct Rendered {
    pages: HashMap<[u8; 32], Slot>,
    order: VecDeque<([u8; 32], usize)>,
    bytes: usize,
}

/// The parts of an archive page's path: the feed's folder, the month and the file name.
fn parse(decoded: &str) -> Option<(&str, Month, &str)> {
    let (rest, file) = decoded.rsplit_once('/')?;
    let (rest, month) = rest.rsplit_once('/')?;
    let feed = rest.strip_suffix(archive::DIR)?.strip_suffix('/')?;
    Some((feed, Month::parse(month)?, file))
}

/// Is `raw` (after `/feeds/`, still encoded) the path of an archive page, existing or not?
pub fn is_archive_path(raw: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    parse(&decoded).is_some()
}

impl ArchivePages {
    /// The response to a `GET` or `HEAD` of the archive page at `raw` (after `/feeds/`, as
    /// sent), or 404 when the catalog has no such page.
    pub fn respond(&self, site: Arc<Site>, catalog: Arc<Catalog>, raw: &str, headers: &HeaderMap) -> Response {
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
        let Some((feed, month, file)) = parse(&decoded) else { return StatusCode::NOT_FOUND.into_response() };
        let Some(format) = crate::feeds::RENDERERS.iter().position(|(name, _)| *name == file) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let planned = self.planned(site, catalog);
        let specs = model::plan(&planned.site.config);
        let Some(s) = specs.iter().position(|spec| spec.dir() == feed) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let spec = &specs[s];
        let Some(page) = planned.plan.find(s, month) else { return StatusCode::NOT_FOUND.into_response() };
        let digest = planned.digest(spec, s, page);
        let cache_control = if planned.plan.is_sealed(page) { SEALED } else { MAX_AGE };
        let updated = u64::try_from(planned.plan.updated(&planned.catalog, s, page)).unwrap_or(0);
        let last_modified = SystemTime::UNIX_EPOCH + Duration::from_secs(updated);
        let etag = etag(&digest, file);
        if let Some(response) = unchanged(&etag, last_modified, cache_control, headers) {
            return response;
        }
        let slot = self.slot(&digest);
        let mut rendered_here = None;
        let files = slot.get_or_init(|| {
            let rendered = self.render(&planned, spec, (s, page), digest, cache_control, last_modified);
            rendered_here = Some(rendered.as_ref().is_some_and(|(_, complete)| *complete));
            rendered.map(|(files, _)| files)
        });
        // The rendering request keeps the page (or, unless it was complete, drops its slot).
        if let Some(complete) = rendered_here {
            self.account(&digest, files.as_ref().filter(|_| complete));
        }
        let Some(files) = files else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
        files.get(format).map_or_else(|| StatusCode::NOT_FOUND.into_response(), |f| respond_with(f, headers))
    }

    /// The plan of `catalog` as `site` configures it, made once per catalog.
    fn planned(&self, site: Arc<Site>, catalog: Arc<Catalog>) -> Arc<Planned> {
        let mut plan = self.plan.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = plan.as_ref().filter(|p| Arc::ptr_eq(&p.site, &site) && Arc::ptr_eq(&p.catalog, &catalog)) {
            return p.clone();
        }
        let made = Arc::new(Planned {
            plan: Plan::new(&site.config, &catalog, &model::plan(&site.config)),
            site,
            catalog,
            digests: Mutex::default(),
        });
        *plan = Some(made.clone());
        made
    }

    /// The slot of the page with `digest`, rendered, being rendered or new.
    fn slot(&self, digest: &[u8; 32]) -> Slot {
        self.rendered.lock().unwrap_or_else(PoisonError::into_inner).pages.entry(*digest).or_default().clone()
    }

    /// Counts a page just rendered into its slot against [`BUDGET`], evicting the oldest
    /// pages; a page that could not be rendered in full is dropped, to be tried again.
    fn account(&self, digest: &[u8; 32], complete: Option<&Documents>) {
        let mut kept = self.rendered.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(files) = complete else {
            kept.pages.remove(digest);
            return;
        };
        let size: usize = files.iter().map(|f| f.len()).sum();
        while kept.bytes + size > BUDGET {
            let Some((old, old_size)) = kept.order.pop_front() else { break };
            kept.pages.remove(&old);
            kept.bytes -= old_size;
        }
        kept.order.push_back((*digest, size));
        kept.bytes += size;
    }

    /// Renders a page's three documents, and whether every article could be read.
    fn render(
        &self,
        planned: &Planned,
        spec: &FeedSpec,
        at: (usize, usize),
        digest: [u8; 32],
        cache_control: &'static str,
        last_modified: SystemTime,
    ) -> Option<(Documents, bool)> {
        let config = &planned.site.config;
        let ctx = ParseContext { config, classifier: &planned.site.classifier };
        let rendered = match archive::render(config, &planned.catalog, &ctx, spec, &planned.plan, at) {
            Ok(rendered) => rendered,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), feed = spec.dir(), "cannot render an archive page");
                return None;
            }
        };
        for problem in &rendered.problems {
            tracing::warn!(problem = %problem, "an archive page goes without an article");
        }
        let files: Documents = Arc::new(
            rendered
                .documents
                .into_iter()
                .map(|(file, bytes)| {
                    Arc::new(Cached::new(
                        Bytes::from(bytes),
                        etag(&digest, file),
                        last_modified,
                        content_type_of(file),
                        cache_control,
                    ))
                })
                .collect(),
        );
        Some((files, rendered.problems.is_empty()))
    }
}

impl Planned {
    /// The digest of page `page` of feed `spec` (at `s`), worked out once per catalog.
    fn digest(&self, spec: &FeedSpec, s: usize, page: usize) -> [u8; 32] {
        if let Some(d) = self.digests.lock().unwrap_or_else(PoisonError::into_inner).get(&(s, page)) {
            return *d;
        }
        let config = &self.site.config;
        let digest = self.plan.digest(spec, s, page, |e| archive::entry_digest(config, &self.catalog, e));
        self.digests.lock().unwrap_or_else(PoisonError::into_inner).insert((s, page), digest);
        digest
    }
}

/// A document's strong tag: its page's digest and its file name.
fn etag(digest: &[u8; 32], file: &str) -> String {
    let mut hash = sha2::Sha256::new();
    hash.update(digest);
    hash.update(file.as_bytes());
    let hash = hash.finalize();
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_name_a_feed_a_month_and_a_file() {
        let month = Month::parse("2026-11").unwrap();
        assert_eq!(parse("zh/trade/archive/2026-11/atom.xml"), Some(("zh/trade", month, "atom.xml")));
        assert_eq!(parse("en/archive/2026-11/feed.json"), Some(("en", month, "feed.json")));
        assert_eq!(parse("en/archive/archive/2026-11/rss.xml"), Some(("en/archive", month, "rss.xml")));
        for other in ["en/atom.xml", "en/archive/atom.xml", "en/archive/2026-13/atom.xml", "archive/2026-11/atom.xml"] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
