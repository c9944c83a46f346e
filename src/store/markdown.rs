//! Markdown articles with TOML front matter between `+++` lines (the Hugo and Zola layout).
//! Reads the front matter strictly (unknown keys are errors; `[extra]` is free) and turns it
//! into [`ArticleMeta`] for the index, or a full [`Article`] when a feed shows it.

use serde::Deserialize;
use toml::Spanned;

use super::article::{Article, ArticleMeta, FileError, Version};
use super::path::ArticleName;
use super::render::{markdown_first_paragraph, markdown_to_html};
use super::{ParseContext, dates};
use crate::links;
use crate::text::line_col;
use crate::text::{one_line, shorten, xml_safe};

/// The front matter keys gazette reads.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: Spanned<String>,
    date: Spanned<toml::Value>,
    updated: Option<Spanned<toml::Value>>,
    sectors: Option<Spanned<Vec<String>>>,
    summary: Option<String>,
    author: Option<String>,
    source: Option<String>,
    image: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    #[serde(default)]
    draft: bool,
    /// Free-form data for templates; never interpreted.
    #[serde(default, rename = "extra")]
    _extra: toml::Table,
}

/// A file split into its parsed front matter and its body.
struct Parsed<'a> {
    front: FrontMatter,
    /// The front matter text, for turning spans into lines.
    front_text: &'a str,
    body: &'a str,
}

/// Lines before the front matter text starts (the opening `+++`).
const FRONT_LINE_OFFSET: usize = 1;

fn parse(text: &str) -> Result<Parsed<'_>, FileError> {
    let rest = text
        .strip_prefix("+++\n")
        .or_else(|| (text == "+++").then_some(""))
        .ok_or_else(|| FileError::at(1, "no front matter: the file must start with a line '+++'"))?;
    let (front_text, body) = if let Some(end) = rest.find("\n+++\n") {
        (&rest[..=end], &rest[end + 5..])
    } else if let Some(front) = rest.strip_suffix("\n+++") {
        (front, "")
    } else if let Some(body) = rest.strip_prefix("+++\n") {
        ("", body)
    } else {
        return Err(FileError::at(1, "front matter opened with '+++' is never closed"));
    };
    let front: FrontMatter = toml::from_str(front_text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_col(front_text, s.start).0) + FRONT_LINE_OFFSET;
        FileError::at(line, format!("front matter: {}", e.message().trim_end()))
    })?;
    Ok(Parsed { front, front_text, body })
}

impl Parsed<'_> {
    fn line_of(&self, span: std::ops::Range<usize>) -> usize {
        line_col(self.front_text, span.start).0 + FRONT_LINE_OFFSET
    }

    fn date(&self, field: &str, value: &Spanned<toml::Value>, ctx: &ParseContext) -> Result<i64, FileError> {
        let tz = ctx.config.site.timezone;
        let result = match value.get_ref() {
            toml::Value::Datetime(d) => dates::from_toml(d, tz),
            toml::Value::String(s) => dates::from_str(s, tz),
            other => Err(format!("expected a date, found a {}", other.type_str())),
        };
        result.map_err(|e| FileError::at(self.line_of(value.span()), format!("field '{field}': {e}")))
    }

    fn version(&self, name: &ArticleName, ctx: &ParseContext) -> Result<Version, FileError> {
        let code = name.lang.unwrap_or(&ctx.config.site.default_language);
        let lang =
            ctx.language_index(code).ok_or_else(|| FileError::whole(format!("language '{code}' is not configured")))?;
        let front = &self.front;
        let title = one_line(front.title.get_ref());
        if title.is_empty() {
            return Err(FileError::at(self.line_of(front.title.span()), "field 'title' is empty"));
        }
        let published = self.date("date", &front.date, ctx)?;
        let updated = match &front.updated {
            Some(u) => self.date("updated", u, ctx)?.max(published),
            None => published,
        };
        let sectors = match &front.sectors {
            Some(listed) => {
                let line = self.line_of(listed.span());
                ctx.known_sectors(listed.get_ref()).map_err(|e| FileError::at(line, format!("field 'sectors': {e}")))?
            }
            None => ctx.classifier.classify(&[&title, self.body]),
        };
        let canonical_url = match &front.url {
            Some(url) => Some(
                absolute_url(url.get_ref())
                    .map_err(|e| FileError::at(self.line_of(url.span()), format!("field 'url': {e}")))?,
            ),
            None => None,
        };
        if let Some(image) = &front.image {
            check_image(image.get_ref()).map_err(|e| FileError::at(self.line_of(image.span()), e))?;
        }
        Ok(Version {
            lang,
            title,
            published,
            updated,
            sectors,
            has_listed_sectors: front.sectors.is_some(),
            is_draft: front.draft,
            canonical_url,
            attachments: Vec::new(),
            missing_attachments: Vec::new(),
        })
    }
}

/// An absolute http(s) URL, or why not.
fn absolute_url(s: &str) -> Result<String, String> {
    match url::Url::parse(s.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u.to_string()),
        Ok(u) => Err(format!("'{s}' must be http or https, not {}", u.scheme())),
        Err(e) => Err(format!("'{s}' is not an absolute URL ({e})")),
    }
}

/// Reads the index record of a Markdown file (`text` decoded, LF line ends).
pub fn read_version(text: &str, name: &ArticleName, ctx: &ParseContext) -> Result<Version, FileError> {
    parse(text)?.version(name, ctx)
}

/// Reads the full text of the Markdown article `meta` describes.
pub fn read_article<'a>(text: &str, meta: ArticleMeta<'a>, ctx: &ParseContext) -> Result<Article<'a>, FileError> {
    let parsed = parse(text)?;
    let config = ctx.config;
    let base = links::article_link(config, &meta);
    let body = xml_safe(parsed.body);
    let summary = match &parsed.front.summary {
        Some(s) => one_line(s),
        None => shorten(&one_line(&markdown_first_paragraph(&body)), config.feeds.summary_chars),
    };
    let image = parsed.front.image.as_ref().and_then(|src| resolve(src.get_ref(), &base));
    let optional = |s: &Option<String>| s.as_deref().map(one_line).filter(|s| !s.is_empty());
    Ok(Article {
        summary,
        content_html: markdown_to_html(&body, &base),
        author: optional(&parsed.front.author),
        source: optional(&parsed.front.source),
        image,
        editor: None,
        attachments: Vec::new(),
        meta,
    })
}

/// A lead image must be an http(s) URL or a path relative to the article.
fn check_image(src: &str) -> Result<(), String> {
    match resolve(src, "http://relative.invalid/") {
        Some(_) => Ok(()),
        None => Err(format!("field 'image': '{src}' is not an http(s) URL or a relative path")),
    }
}

/// `src` resolved against `base`, if the result is http(s).
fn resolve(src: &str, base: &str) -> Option<String> {
    let resolved = url::Url::parse(base).and_then(|b| b.join(src.trim())).ok()?;
    matches!(resolved.scheme(), "http" | "https").then(|| resolved.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::classify::Classifier;
    use std::path::Path;

    fn config() -> Config {
        let text = include_str!("../../config.toml");
        Config::parse(text, Path::new("/srv/config.toml")).unwrap()
    }

    fn meta(text: &str) -> Result<Version, FileError> {
        let config = config();
        let classifier = Classifier::new(&config.sectors).unwrap();
        let ctx = ParseContext { config: &config, classifier: &classifier };
        let name = super::super::path::parse("2023/visit.en.md").unwrap();
        read_version(text, &name, &ctx)
    }

    fn sector_ids(v: &Version) -> Vec<String> {
        let config = config();
        v.sectors.iter().map(|i| config.sectors[i].id.clone()).collect()
    }

    #[test]
    fn reads_required_and_optional_fields() {
        let m =
            meta("+++\ntitle = \"Consul  visit\"\ndate = 2023-05-08\nsectors = [\"trade\"]\ndraft = true\n+++\nBody\n")
                .unwrap();
        assert_eq!(m.title, "Consul visit");
        assert_eq!(config().languages[usize::from(m.lang)].code, "en");
        assert_eq!(sector_ids(&m), vec!["trade"]);
        assert!(m.is_draft);
        assert_eq!(m.published, m.updated);
    }

    #[test]
    fn classifies_untagged_articles_by_keywords() {
        let m = meta("+++\ntitle = \"Visit\"\ndate = 2023-05-08\n+++\nThe Consul-General met trade bodies.\n").unwrap();
        assert_eq!(sector_ids(&m), vec!["foreign-affairs", "trade"]);
    }

    #[test]
    fn reports_unclosed_front_matter() {
        let e = meta("+++\ntitle = \"x\"\ndate = 2023-05-08\nBody\n").unwrap_err();
        assert!(e.message.contains("never closed"), "{e:?}");
    }

    #[test]
    fn reports_missing_title() {
        let e = meta("+++\ndate = 2023-05-08\n+++\n").unwrap_err();
        assert!(e.message.contains("title"), "{e:?}");
    }

    #[test]
    fn reports_impossible_date_with_its_line() {
        let e = meta("+++\ntitle = \"x\"\ndate = \"2023-02-30\"\n+++\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e:?}");
        assert!(e.message.contains("field 'date'") && e.message.contains("2023-02-30"), "{e:?}");
    }

    #[test]
    fn reports_unknown_sector_and_unknown_key() {
        let e = meta("+++\ntitle = \"x\"\ndate = 2023-05-08\nsectors = [\"sport\"]\n+++\n").unwrap_err();
        assert!(e.message.contains("sport") && e.line == Some(4), "{e:?}");
        let e = meta("+++\ntitle = \"x\"\ndate = 2023-05-08\nsector = [\"trade\"]\n+++\n").unwrap_err();
        assert!(e.message.contains("sector") && e.line == Some(4), "{e:?}");
    }
}
