//! Press-release text files as articles: one file yields a `zh` version and, when it has an
//! English half, an `en` version, translations of each other. Parsing the file itself is
//! [`super::press_release`]'s job.

use super::ParseContext;
use super::article::{Article, ArticleMeta, FileError, Version};
use super::dates::local_to_timestamp;
use super::press_release::{self, Half, PressDate, PressRelease};
use super::render::paragraphs_to_html;
use crate::text::{one_line, shorten};

/// The language codes of a press release's two halves.
const ZH: &str = "zh";
const EN: &str = "en";

fn parse(text: &str) -> Result<PressRelease, FileError> {
    press_release::parse(text).map_err(|e| FileError::at(e.line, e.message))
}

fn timestamp(date: &PressDate, ctx: &ParseContext) -> i64 {
    let local = match date {
        PressDate::Date(d) => d.and_time(chrono::NaiveTime::MIN),
        PressDate::DateTime(dt) => *dt,
    };
    local_to_timestamp(local, ctx.config.site.timezone)
}

/// The halves present, with their language codes.
fn halves(release: &PressRelease) -> impl Iterator<Item = (&'static str, &Half)> {
    std::iter::once((ZH, &release.zh)).chain(release.en.as_ref().map(|en| (EN, en)))
}

fn version(release: &PressRelease, lang: u8, half: &Half, ctx: &ParseContext) -> Version {
    // Both halves are classified on the whole file so the translations share their sectors.
    let mut texts: Vec<&str> = Vec::new();
    for (_, h) in halves(release) {
        texts.push(&h.title);
        texts.extend(h.paragraphs.iter().map(String::as_str));
    }
    let published = timestamp(&release.published, ctx);
    Version {
        lang,
        title: one_line(&half.title),
        published,
        updated: published,
        sectors: ctx.classifier.classify(&texts),
        is_draft: false,
        canonical_url: None,
    }
}

/// Reads the index records of a press release: one per configured language, plus a notice
/// for each half whose language config does not publish.
pub fn read_versions(text: &str, ctx: &ParseContext) -> Result<(Vec<Version>, Vec<String>), FileError> {
    let release = parse(text)?;
    let mut versions = Vec::new();
    let mut notices = Vec::new();
    for (code, half) in halves(&release) {
        match ctx.language_index(code) {
            Some(lang) => versions.push(version(&release, lang, half, ctx)),
            None => notices.push(format!("language '{code}' is not configured; that half is skipped")),
        }
    }
    Ok((versions, notices))
}

/// Reads the press-release version `meta` describes in full.
pub fn read_article<'a>(text: &str, meta: ArticleMeta<'a>, ctx: &ParseContext) -> Result<Article<'a>, FileError> {
    let release = parse(text)?;
    let (_, half) = halves(&release)
        .find(|(code, _)| *code == meta.lang)
        .ok_or_else(|| FileError::whole(format!("no {} half any more", meta.lang)))?;
    let summary =
        half.paragraphs.first().map(|p| shorten(&one_line(p), ctx.config.feeds.summary_chars)).unwrap_or_default();
    Ok(Article {
        summary,
        content_html: paragraphs_to_html(&half.paragraphs),
        author: release.author.as_deref().map(one_line).filter(|s| !s.is_empty()),
        source: release.source.as_deref().map(one_line).filter(|s| !s.is_empty()),
        image: None,
        meta,
    })
}
