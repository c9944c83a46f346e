//! Press-release text files as articles: one file yields a `zh` version and, when it has an
//! English half, an `en` version, translations of each other. Parsing the file itself is
//! [`super::press_release`]'s job.

use super::ParseContext;
use super::article::{Article, ArticleMeta, FileError, Format};
use super::dates::local_to_timestamp;
use super::path::ArticleName;
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

fn meta(
    release: &PressRelease,
    lang: &str,
    half: &Half,
    name: &ArticleName,
    path: &str,
    ctx: &ParseContext,
) -> ArticleMeta {
    // Both halves are classified on the whole file so the translations share their sectors.
    let mut texts: Vec<&str> = Vec::new();
    for (_, h) in halves(release) {
        texts.push(&h.title);
        texts.extend(h.paragraphs.iter().map(String::as_str));
    }
    let published = timestamp(&release.published, ctx);
    ArticleMeta {
        path: path.to_owned(),
        format: Format::PressRelease,
        key: name.key.clone(),
        slug: name.slug.clone(),
        lang: lang.to_owned(),
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
pub fn read_metas(
    text: &str,
    name: &ArticleName,
    path: &str,
    ctx: &ParseContext,
) -> Result<(Vec<ArticleMeta>, Vec<String>), FileError> {
    let release = parse(text)?;
    let mut metas = Vec::new();
    let mut notices = Vec::new();
    for (lang, half) in halves(&release) {
        if ctx.config.language(lang).is_some() {
            metas.push(meta(&release, lang, half, name, path, ctx));
        } else {
            notices.push(format!("language '{lang}' is not configured; that half is skipped"));
        }
    }
    Ok((metas, notices))
}

/// Reads the `lang` version of a press release in full.
pub fn read_article(
    text: &str,
    name: &ArticleName,
    path: &str,
    lang: &str,
    ctx: &ParseContext,
) -> Result<Article, FileError> {
    let release = parse(text)?;
    let (_, half) = halves(&release)
        .find(|(l, _)| *l == lang)
        .ok_or_else(|| FileError::whole(format!("no {lang} half any more")))?;
    let meta = meta(&release, lang, half, name, path, ctx);
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
