//! The article store: a folder of Markdown articles and press-release text files.
//!
//! [`scan`] walks the folder and reads each new or changed file into [`ArticleMeta`] records
//! (unchanged files come from the [`index`] cache); [`catalog`] turns those into the published,
//! ordered list with translations and every problem found; [`load_article`] reads the full
//! text of the few entries a feed shows.

pub mod article;
pub mod catalog;
pub mod classify;
pub mod dates;
pub mod decode;
pub mod index;
pub mod markdown;
pub mod path;
pub mod press_release;
pub mod press_text;
pub mod render;
pub mod scan;


use std::path::Path;

pub use article::{Article, ArticleMeta, Format, Problem};
pub use catalog::Catalog;

use crate::config::Config;
use article::FileError;
use classify::Classifier;

/// What parsing a file needs besides its text.
pub struct ParseContext<'a> {
    /// The configuration (time zone, languages, sectors).
    pub config: &'a Config,
    /// Sector keywords, compiled once per build.
    pub classifier: &'a Classifier,
}

impl ParseContext<'_> {
    /// Checks sector ids from front matter against config; sorted in config order, deduplicated.
    pub fn known_sectors(&self, listed: &[String]) -> Result<Vec<String>, String> {
        if let Some(unknown) = listed.iter().find(|s| self.config.sector(s.trim()).is_none()) {
            let known: Vec<&str> = self.config.sectors.iter().map(|s| s.id.as_str()).collect();
            return Err(format!("unknown sector '{unknown}' (configured: {})", known.join(", ")));
        }
        Ok(self
            .config
            .sectors
            .iter()
            .filter(|s| listed.iter().any(|l| l.trim() == s.id))
            .map(|s| s.id.clone())
            .collect())
    }
}

/// Reads the full text of one article version, for a feed entry.
pub fn load_article(ctx: &ParseContext, meta: &ArticleMeta) -> Result<Article, Problem> {
    let store_dir = &ctx.config.store.dir;
    let problem = |e: FileError| Problem { path: store_dir.join(&meta.path), line: e.line, message: e.message };
    let name = path::parse(&meta.path).ok_or_else(|| problem(FileError::whole("no longer an article file name")))?;
    let bytes = std::fs::read(store_dir.join(&meta.path))
        .map_err(|e| problem(FileError::whole(format!("cannot read: {e}"))))?;
    match meta.format {
        Format::Markdown => {
            let text = decode::decode_utf8(&bytes).map_err(|e| problem(FileError::at(e.line, e.message)))?;
            markdown::read_article(&text, &name, &meta.path, ctx).map_err(problem)
        }
        Format::PressRelease => {
            let text = decode::decode_text(&bytes).map_err(|e| problem(FileError::at(e.line, e.message)))?;
            press_text::read_article(&text, &name, &meta.path, &meta.lang, ctx).map_err(problem)
        }
    }
}

/// `dir` joined with a store-relative path (for messages).
pub fn display_path(dir: &Path, rel: &str) -> std::path::PathBuf {
    dir.join(rel)
}
