//! Press-release text files as articles: one file yields a `zh` version and, when it has an
//! English half, an `en` version, translations of each other. Parsing the file itself is
//! [`super::press_release`]'s job.

use super::ParseContext;
use super::article::{Article, ArticleMeta, FileError, Version};
use super::dates::{self, local_to_timestamp};
use super::press_release::{self, Half, PressDate, PressRelease};
use super::render::paragraphs_to_html;
use crate::text::{one_line, shorten};

/// The language codes of a press release's two halves.
const ZH: &str = "zh";
const EN: &str = "en";

fn parse(text: &str) -> Result<PressRelease, FileError> {
    Ok(press_release::parse(text)?)
}

fn timestamp(date: &PressDate, ctx: &ParseContext) -> Result<i64, FileError> {
    let local = match date {
        PressDate::Date(d) => d.and_time(chrono::NaiveTime::MIN),
        PressDate::DateTime(dt) => *dt,
    };
    dates::in_range(local_to_timestamp(local, ctx.config.site.timezone), &local)
        .map_err(|e| FileError::whole(format!("date: {e}")))
}

/// The halves present, with their language codes.
fn halves(release: &PressRelease) -> impl Iterator<Item = (&'static str, &Half)> {
    std::iter::once((ZH, &release.zh)).chain(release.en.as_ref().map(|en| (EN, en)))
}

/// Reads the index records of a press release: one per configured language, plus a notice
/// for each half whose language config does not publish. Both halves share the sectors
/// classified on the whole file, so the translations land in the same feeds.
pub fn read_versions(text: &str, ctx: &ParseContext) -> Result<(Vec<Version>, Vec<String>), FileError> {
    let release = parse(text)?;
    let published = timestamp(&release.published, ctx)?;
    let mut texts: Vec<&str> = Vec::new();
    for (_, h) in halves(&release) {
        texts.push(&h.title);
        texts.extend(h.paragraphs.iter().map(String::as_str));
    }
    let sectors = ctx.classifier.classify(&texts);
    let mut versions = Vec::new();
    let mut notices = Vec::new();
    for (code, half) in halves(&release) {
        let Some(lang) = ctx.language_index(code) else {
            notices.push(format!("language '{code}' is not configured; that half is skipped"));
            continue;
        };
        let title = one_line(&half.title);
        if title.is_empty() {
            return Err(FileError::whole(format!("the {code} title is empty")));
        }
        versions.push(Version {
            lang,
            title,
            published,
            updated: published,
            sectors,
            has_listed_sectors: false,
            is_draft: false,
            canonical_url: None,
        });
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
