//! `gazette check --explain FILE`: a press release's parse told line by line, so an operator
//! can see what the reader took for title, metadata, halves and attachments, and which lines it
//! dropped and why, before adjusting `[store.press_release] strip`.

use std::fmt::Write as _;

use super::{Half, PressDate, PressRelease};

/// The parse of `release` as text; `language_of` names the language a half is published in
/// (or why it is skipped).
pub fn explain(release: &PressRelease, language_of: &dyn Fn(usize, &Half) -> String) -> String {
    let mut out = String::new();
    let first = &release.halves[0];
    let _ = writeln!(out, "title: {}", first.title);
    let _ = writeln!(out, "published: {}", date(&release.published));
    for field in &release.metadata {
        let _ = writeln!(out, "metadata line {}: {} = {}", field.line, field.key, field.value);
    }
    for (i, half) in release.halves.iter().enumerate() {
        let script = half.script.map_or_else(|| "no script".to_owned(), |s| s.to_string());
        let _ = writeln!(out, "half {} ({script}, {}): {}", i + 1, language_of(i, half), half.title);
        let _ = writeln!(out, "  paragraphs: {}", half.paragraphs.len());
        if let Some(summary) = half.summary_paragraph() {
            let _ = writeln!(out, "  summary from: {}", shorten(summary));
        }
        let fields = &half.fields;
        for (name, value) in [("author", &fields.author), ("source", &fields.source), ("editor", &fields.editor)] {
            if let Some(value) = value {
                let _ = writeln!(out, "  {name}: {value}");
            }
        }
        if let Some(d) = &fields.date {
            let _ = writeln!(out, "  date: {}", date(d));
        }
        for name in &half.attachments {
            let _ = writeln!(out, "  attachment: {name}");
        }
    }
    for dropped in &release.dropped {
        let _ = writeln!(out, "dropped line {}: {} ({})", dropped.line, shorten(&dropped.text), dropped.why);
    }
    for notice in &release.notices {
        let _ = writeln!(out, "notice: {notice}");
    }
    out
}

fn date(date: &PressDate) -> String {
    match date {
        PressDate::Date(d) => d.to_string(),
        PressDate::DateTime(dt) => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

/// The first 40 characters, so that one line of output stays one line.
fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}
