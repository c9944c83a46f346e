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

pub use article::{Article, ArticleMeta, Format, Problem, SectorSet, Version};
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
    /// Checks sector ids from front matter against config.
    pub fn known_sectors(&self, listed: &[String]) -> Result<SectorSet, String> {
        let mut set = SectorSet::default();
        for id in listed {
            match self.config.sectors.iter().position(|s| s.id == id.trim()) {
                Some(i) => set.insert(i),
                None => {
                    let known: Vec<&str> = self.config.sectors.iter().map(|s| s.id.as_str()).collect();
                    return Err(format!("unknown sector '{id}' (configured: {})", known.join(", ")));
                }
            }
        }
        Ok(set)
    }

    /// The config position of language `code`, if it is published.
    pub fn language_index(&self, code: &str) -> Option<u8> {
        self.config.languages.iter().position(|l| l.code == code).and_then(|i| u8::try_from(i).ok())
    }
}

/// Reads the full text of one article version, for a feed entry.
pub fn load_article<'a>(ctx: &ParseContext, meta: ArticleMeta<'a>) -> Result<Article<'a>, Problem> {
    let store_dir = &ctx.config.store.dir;
    let problem = |e: FileError| Problem { path: store_dir.join(meta.path), line: e.line, message: e.message };
    let bytes =
        std::fs::read(store_dir.join(meta.path)).map_err(|e| problem(FileError::whole(format!("cannot read: {e}"))))?;
    match meta.format {
        Format::Markdown => {
            let text = decode::decode_utf8(&bytes).map_err(|e| problem(FileError::at(e.line, e.message)))?;
            markdown::read_article(&text, meta, ctx).map_err(problem)
        }
        Format::PressRelease => {
            let text = decode::decode_text(&bytes).map_err(|e| problem(FileError::at(e.line, e.message)))?;
            press_text::read_article(&text, meta, ctx).map_err(problem)
        }
    }
}
