//! Press-release text files as articles: each half of a file becomes the version of the first
//! configured language written in its script (`[languages.x]`'s CLDR script, default language
//! first), and the versions are translations of each other. Parsing the file itself is
//! [`super::press_release`]'s job.

use std::path::Path;

use super::ParseContext;
use super::article::{Article, ArticleMeta, FileError, Version};
use super::attachment::{self, Attachment, folder_of};
use super::dates::{self, local_to_timestamp};
use super::press_release::{self, Half, Options, PressDate, PressRelease};
use super::render::paragraphs_to_html;
use crate::links;
use crate::text::{one_line, shorten};

/// Parses with the configured chrome, attachments looked for in `folder`.
fn parse(text: &str, folder: &Path, ctx: &ParseContext) -> Result<PressRelease, FileError> {
    let has_file = |name: &str| attachment::file(folder, name).is_some();
    Ok(press_release::parse_with(text, &Options { chrome: &ctx.config.store.chrome, has_file: &has_file })?)
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

/// Reads the index records of a press release (`rel`, relative to the store): one per
/// configured language, plus a notice for each half whose language config does not publish and
/// each attachment that is not there. All halves share the sectors classified on the whole
/// file, so the translations land in the same feeds.
pub fn read_versions(text: &str, rel: &str, ctx: &ParseContext) -> Result<(Vec<Version>, Vec<String>), FileError> {
    let release = parse(text, &folder_of(&ctx.config.store.dir, rel), ctx)?;
    let published = timestamp(&release.published, ctx)?;
    let mut texts: Vec<&str> = Vec::new();
    for h in &release.halves {
        texts.push(&h.title);
        texts.extend(h.paragraphs.iter().map(String::as_str));
    }
    let sectors = ctx.classifier.classify(&texts);
    let mut versions = Vec::new();
    let mut notices: Vec<String> = release.notices.iter().map(ToString::to_string).collect();
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
        let published = match &half.fields.date {
            Some(date) => timestamp(date, ctx)?,
            None => published,
        };
        versions.push(Version {
            lang,
            title,
            published,
            updated: published,
            sectors,
            has_listed_sectors: false,
            is_draft: false,
            canonical_url: None,
            attachments: half.attachments.clone(),
            missing_attachments: half.missing.clone(),
        });
    }
    Ok((versions, notices))
}

/// The parse of a press release told for `check --explain`, with the language each half is
/// published in.
pub fn explain(text: &str, folder: &Path, ctx: &ParseContext) -> Result<String, FileError> {
    let release = parse(text, folder, ctx)?;
    let found = halves(&release, ctx);
    let language_of = |i: usize, _: &Half| match &found[i] {
        Ok((lang, _)) => format!("published as {}", ctx.config.languages[usize::from(*lang)].code),
        Err(notice) => notice.clone(),
    };
    Ok(press_release::explain::explain(&release, &language_of))
}

/// Reads the press-release version `meta` describes in full. The first half carries the
/// metadata line's author and source; a later half only its own `Author:` / `Source:` lines,
/// else its language's configured publisher as author: a Chinese-only field never reaches an
/// English entry.
pub fn read_article<'a>(text: &str, meta: ArticleMeta<'a>, ctx: &ParseContext) -> Result<Article<'a>, FileError> {
    let folder = folder_of(&ctx.config.store.dir, meta.path);
    let release = parse(text, &folder, ctx)?;
    let (index, lang, half) = halves(&release, ctx)
        .into_iter()
        .enumerate()
        .filter_map(|(i, found)| found.ok().map(|(lang, half)| (i, lang, half)))
        .find(|&(_, lang, _)| ctx.config.languages.get(usize::from(lang)).is_some_and(|l| l.code == meta.lang))
        .ok_or_else(|| FileError::whole(format!("no {} half any more", meta.lang)))?;
    let summary =
        half.summary_paragraph().map(|p| shorten(&one_line(p), ctx.config.feeds.summary_chars)).unwrap_or_default();
    let field = |value: &Option<String>| value.as_deref().map(one_line).filter(|s| !s.is_empty());
    let configured_author = ctx.config.languages.get(usize::from(lang)).map(|l| l.author.clone());
    let author = match index {
        0 => field(&half.fields.author),
        _ => field(&half.fields.author).or(configured_author),
    };
    let attachments = half
        .attachments
        .iter()
        .filter_map(|name| {
            let (_, length) = attachment::file(&folder, name)?;
            Some(Attachment {
                name: name.clone(),
                url: links::attachment_url(ctx.config, &meta, name),
                length,
                media_type: attachment::media_type(name)?,
            })
        })
        .collect();
    Ok(Article {
        summary,
        content_html: paragraphs_to_html(&half.paragraphs),
        author,
        source: field(&half.fields.source),
        editor: field(&half.fields.editor),
        image: None,
        attachments,
        meta,
    })
}
