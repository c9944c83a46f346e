//! The article types: [`Version`], the small record the index keeps for every language
//! version so that selection never reads a file twice; [`ArticleMeta`], a version seen through
//! its file's path; and [`Article`], the full text loaded only for the entries that make it
//! into a feed. Also [`Problem`], a bad file and why.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which parser reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// `<slug>.<lang>.md` with TOML front matter.
    Markdown,
    /// The office's bilingual press-release `.txt` files.
    PressRelease,
}

/// A set of configured sectors, by their position in config (at most 64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorSet(pub u64);

impl SectorSet {
    /// Adds the sector at config position `i`.
    pub fn insert(&mut self, i: usize) {
        self.0 |= 1 << i;
    }

    /// Does the set hold the sector at config position `i`?
    pub fn contains(self, i: usize) -> bool {
        i < 64 && self.0 & (1 << i) != 0
    }

    /// Config positions in the set, ascending.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..64).filter(move |&i| self.contains(i))
    }

    /// Is the set empty?
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One language version as the index cache keeps it: what selection needs and nothing the
/// file's path already says (slug, key and format are read off the path when wanted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// Position of the language in config.
    pub lang: u8,
    /// Title, plain text.
    pub title: String,
    /// First publication, Unix seconds.
    pub published: i64,
    /// Last update, Unix seconds (`published` when never updated).
    pub updated: i64,
    /// Sectors the version belongs to.
    pub sectors: SectorSet,
    /// Whether front matter listed the sectors (else keywords classified the text, and the
    /// catalog shares the result among the article's translations).
    pub has_listed_sectors: bool,
    /// Drafts are never published.
    pub is_draft: bool,
    /// Canonical link from front matter, when the article lives elsewhere.
    pub canonical_url: Option<String>,
    /// Attachment files beside a press release that its half names and that existed when read.
    pub attachments: Vec<String>,
    /// Names its attachment block gave that were not there: the file is read again when one
    /// appears, or when one of `attachments` goes.
    pub missing_attachments: Vec<String>,
}

/// One language version of an article, as selection and the writers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArticleMeta<'a> {
    /// The file, relative to the store, with `/` separators.
    pub path: &'a str,
    /// How the file is read.
    pub format: Format,
    /// Translation group: the relative path without language suffix and extension.
    pub key: &'a str,
    /// URL slug, unique per language.
    pub slug: &'a str,
    /// Language code.
    pub lang: &'a str,
    /// Title, plain text.
    pub title: &'a str,
    /// First publication, Unix seconds.
    pub published: i64,
    /// Last update, Unix seconds.
    pub updated: i64,
    /// Sectors, by config position.
    pub sectors: SectorSet,
    /// Canonical link from front matter.
    pub canonical_url: Option<&'a str>,
    /// Attachment file names (beside the article file) it publishes.
    pub attachments: &'a [String],
}

impl ArticleMeta<'_> {
    /// The names of its sectors in `lang` (falling back to the default language's), in config
    /// order: as listings, digests and feeds show them.
    pub fn sector_names(&self, config: &crate::config::Config, lang: &str) -> Vec<String> {
        self.sectors
            .iter()
            .filter_map(|i| config.sectors.get(i))
            .map(|s| s.name(lang, &config.site.default_language).to_owned())
            .collect()
    }
}

/// A language version with its rendered text, for the entries a feed shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article<'a> {
    /// What the index knows.
    pub meta: ArticleMeta<'a>,
    /// Plain-text summary (front matter `summary`, else the first paragraph, shortened).
    pub summary: String,
    /// Full text as sanitised HTML with absolute links.
    pub content_html: String,
    /// Author's name, when given.
    pub author: Option<String>,
    /// Where the news came from (`来源`), when given: for article pages and digests; feeds
    /// have no field that means this.
    pub source: Option<String>,
    /// Who edited it (`责任编辑`), when given: for article pages only.
    pub editor: Option<String>,
    /// Lead image URL (absolute), when given.
    pub image: Option<String>,
    /// Files published with it, in the order the text names them.
    pub attachments: Vec<super::attachment::Attachment>,
}

/// A file that cannot be published, or a notice about one, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The file, as the user would type it (store folder joined with the relative path).
    pub path: PathBuf,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong, lowercase, naming the field or value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// A problem found while reading one file, before the store folder is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl FileError {
    /// An error at `line`.
    pub fn at(line: usize, message: impl Into<String>) -> FileError {
        FileError { line: Some(line), message: message.into() }
    }

    /// An error about the whole file.
    pub fn whole(message: impl Into<String>) -> FileError {
        FileError { line: None, message: message.into() }
    }
}

impl From<super::decode::DecodeError> for FileError {
    fn from(e: super::decode::DecodeError) -> FileError {
        FileError::at(e.line, e.message)
    }
}

impl From<super::press_release::ParseError> for FileError {
    fn from(e: super::press_release::ParseError) -> FileError {
        FileError::at(e.line, e.message)
    }
}
