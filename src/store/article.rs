//! The article types: [`ArticleMeta`], the small record the index keeps for every language
//! version so that selection never reads a file twice, and [`Article`], the full text loaded
//! only for the entries that make it into a feed. Also [`Problem`], a bad file and why.

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

/// One language version of an article, as selection needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleMeta {
    /// The file, relative to the store, with `/` separators.
    pub path: String,
    /// How the file is read.
    pub format: Format,
    /// Translation group: the relative path without language suffix and extension.
    pub key: String,
    /// URL slug, unique per language.
    pub slug: String,
    /// Language code.
    pub lang: String,
    /// Title, plain text.
    pub title: String,
    /// First publication, Unix seconds.
    pub published: i64,
    /// Last update, Unix seconds (`published` when never updated).
    pub updated: i64,
    /// Configured sector ids, sorted.
    pub sectors: Vec<String>,
    /// Drafts are never published.
    pub is_draft: bool,
    /// Canonical link from front matter, when the article lives elsewhere.
    pub canonical_url: Option<String>,
}

/// A language version with its rendered text, for the entries a feed shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// What the index knows.
    pub meta: ArticleMeta,
    /// Plain-text summary (front matter `summary`, else the first paragraph, shortened).
    pub summary: String,
    /// Full text as sanitised HTML with absolute links.
    pub content_html: String,
    /// Author's name, when given.
    pub author: Option<String>,
    /// Where the news came from (`来源`), when given.
    pub source: Option<String>,
    /// Lead image URL (absolute), when given.
    pub image: Option<String>,
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
