//! The article store: a folder of Markdown articles and press-release text files.
//!
//! [`scan`] walks the folder and reads each new or changed file into [`Version`] records
//! (unchanged files come from the [`index`] cache); [`catalog`] turns those into the published,
//! ordered list of [`ArticleMeta`] views with translations and every problem found;
//! [`load_article`] reads the full text of the few entries a feed shows.

pub mod article;
pub mod attachment;
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
    let path = ctx.config.store.dir.join(meta.path);
    let read = || -> Result<Article<'a>, FileError> {
        let bytes = std::fs::read(&path).map_err(|e| FileError::whole(format!("cannot read: {e}")))?;
        let text = text_of(meta.format, &bytes)?;
        match meta.format {
            Format::Markdown => markdown::read_article(&text, meta, ctx),
            Format::PressRelease => press_text::read_article(&text, meta, ctx),
        }
    };
    read().map_err(|e| Problem { path: path.clone(), line: e.line, message: e.message })
}

/// An article file's text: Markdown must be UTF-8; press releases may also be GB18030 or Big5.
pub fn text_of(format: Format, bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, FileError> {
    Ok(match format {
        Format::Markdown => decode::decode_utf8(bytes)?,
        Format::PressRelease => decode::decode_text(bytes)?,
    })
}
