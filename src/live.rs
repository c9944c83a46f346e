//! What the running service knows now: the loaded config with its templates, token key and
//! mailer (swapped whole on SIGHUP), the catalog of the last feed build (swapped after each
//! build), and the state, opened once at start. The HTTP server reads it; the daemon's jobs replace it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use arc_swap::ArcSwap;

use crate::config::Config;
use crate::mail::transport::Mailer;
use crate::render::Renderer;
use crate::store::Catalog;
use crate::store::classify::Classifier;
use crate::tokens::Signer;

/// What a config loads: everything a request needs that changes only on reload.
pub struct Site {
    /// The configuration.
    pub config: Arc<Config>,
    /// Page and email templates with their strings.
    pub renderer: Renderer,
    /// Signs and checks the links in emails.
    pub signer: Signer,
    /// Where confirmation emails go.
    pub mailer: Mailer,
    /// Sector keywords (reading an article for its page needs them).
    pub classifier: Classifier,
}

impl Site {
    /// Loads templates, the token key and the mailer of `config`; an error leaves nothing
    /// half loaded (SIGHUP keeps the old site).
    pub fn load(config: Arc<Config>) -> Result<Site> {
        Ok(Site {
            renderer: Renderer::load(&config)?,
            signer: Signer::load(&config.tokens)?,
            mailer: Mailer::new(&config)?,
            classifier: Classifier::new(&config.sectors)?,
            config,
        })
    }
}

/// The current site and catalog, and the state.
pub struct Live {
    /// The state, opened at start from `state.url` (a reload does not move it).
    pub db: crate::state::Database,
    /// The loaded config and templates (replaced through [`Live::set_site`]).
    pub site: ArcSwap<Site>,
    /// The articles of the last feed build, empty until the first (replaced through
    /// [`Live::set_catalog`]).
    pub catalog: ArcSwap<Catalog>,
    /// Counts the swaps of `site` and `catalog`, so what was worked out from them can tell
    /// that it is out of date.
    generation: AtomicU64,
}

impl Live {
    /// `site` on `db`, with no articles yet.
    pub fn new(site: Site, db: crate::state::Database) -> Live {
        Live {
            db,
            site: ArcSwap::from_pointee(site),
            catalog: ArcSwap::from_pointee(Catalog::default()),
            generation: AtomicU64::new(0),
        }
    }

    /// Replaces the site (a reload).
    pub fn set_site(&self, site: Site) {
        self.site.store(Arc::new(site));
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Replaces the catalog (a build, whose feed files are in place by now).
    pub fn set_catalog(&self, catalog: Catalog) {
        self.catalog.store(Arc::new(catalog));
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// How many times the site or the catalog was replaced: read it before working something
    /// out from them, and the work is current while the count stays the same.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
