//! Press-release text files as articles: each half of a file becomes the version of the first
//! configured language written in its script (`[languages.x]`'s CLDR script, default language
//! first), and the versions are translations of each other. Parsing the file itself is
//! [`super::press_release`]'s job.

use super::ParseContext;
use super::article::{Article, ArticleMeta, FileError, Version};
use super::dates::{self, local_to_timestamp};
use super::press_release::{self, Half, PressDate, PressRelease};
use super::render::paragraphs_to_html;
use crate::text::{one_line, shorten};

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

/// Each half with the config position of its language, or the notice that skips it: a half
/// in a script no configured language writes, or a second half in a language already taken.
fn halves<'r>(release: &'r PressRelease, ctx: &ParseContext) -> Vec<Result<(u8, &'r Half), String>> {
    let mut taken: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for half in &release.halves {
        let Some(script) = half.script else {
            out.push(Err(format!("the half titled '{}' has no letters to tell its language; skipped", half.title)));
            continue;
        };
        let lang =
            ctx.config.languages.iter().position(|l| l.writing.script == script).and_then(|i| u8::try_from(i).ok());
        out.push(match lang {
            None => Err(format!(
                "no configured language is written in {script}; the half titled '{}' is skipped",
                half.title
            )),
            Some(lang) if taken.contains(&lang) => Err(format!(
                "a second half in {} ('{}'); skipped",
                ctx.config.languages[usize::from(lang)].code,
                half.title
            )),
            Some(lang) => {
                taken.push(lang);
                Ok((lang, half))
            }
        });
    }
    out
}

/// Reads the index records of a press release: one per configured language, plus a notice
/// for each half whose language config does not publish. Both halves share the sectors
/// classified on the whole file, so the translations land in the same feeds.
pub fn read_versions(text: &str, ctx: &ParseContext) -> Result<(Vec<Version>, Vec<String>), FileError> {
    let release = parse(text)?;
    let published = timestamp(&release.published, ctx)?;
    let mut texts: Vec<&str> = Vec::new();
    for h in &release.halves {
        texts.push(&h.title);
        texts.extend(h.paragraphs.iter().map(String::as_str));
    }
    let sectors = ctx.classifier.classify(&texts);
    let mut versions = Vec::new();
    let mut notices = Vec::new();
    for found in halves(&release, ctx) {
        let (lang, half) = match found {
            Ok(found) => found,
            Err(notice) => {
                notices.push(notice);
                continue;
            }
        };
        let title = one_line(&half.title);
        if title.is_empty() {
            return Err(FileError::whole(format!(
                "the title of the half in {} is empty",
                ctx.config.languages[usize::from(lang)].code
            )));
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
    let half = halves(&release, ctx)
        .into_iter()
        .flatten()
        .find(|&(lang, _)| ctx.config.languages.get(usize::from(lang)).is_some_and(|l| l.code == meta.lang))
        .map(|(_, half)| half)
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
