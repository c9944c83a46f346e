//! Cutting a press release's body into halves, one per script: a line opens a new half when it
//! looks like a title in a script no half so far is written in.

use icu_locale::subtags::Script;

use super::Line;
use super::attachments;
use super::meta::is_han;
use crate::locale::script_of;

/// A half's title line and the script it opens.
pub(super) struct Title<'a> {
    pub(super) text: &'a str,
    pub(super) script: Option<Script>,
}

/// Cuts the body into halves. The script check keeps a quoted English name inside the Russian
/// half, and a Chinese place name inside the English one; a line that reads as an attachment
/// (`2. Meeting Agenda.pdf`) is never a title. A half's script is that of its title (for a
/// first title with no letters, `2023`, that of the line after it).
pub(super) fn split<'l, 'a>(first_title: &'a str, body: &'l [Line<'a>]) -> Vec<(Title<'a>, Vec<&'l Line<'a>>)> {
    let first_script = script_of(first_title).or_else(|| body.first().and_then(|line| script_of(line.text)));
    let mut halves = vec![(Title { text: first_title, script: first_script }, Vec::new())];
    for line in body {
        let seen = |script: Script| halves.iter().any(|(title, _)| title.script == Some(script));
        match title_script(line.text) {
            Some(script) if !seen(script) && !attachments::is_item(line.text) => {
                halves.push((Title { text: line.text, script: Some(script) }, Vec::new()));
            }
            _ => {
                let (_, lines) = halves.last_mut().unwrap_or_else(|| unreachable!("the first half is pushed above"));
                lines.push(line);
            }
        }
    }
    halves
}

/// The script of `text` when it could be a title in it: at least two words in that script,
/// and at most one word in any other per four of them. Words, not letters, are weighed, and a
/// Han, kana or Hangul character counts as a word; the two-word floor keeps a URL or a `PM2.5`
/// line inside the half it sits in.
fn title_script(text: &str) -> Option<Script> {
    let script = script_of(text)?;
    let (mut own, mut other) = (0usize, 0usize);
    for word in text.split_whitespace() {
        for piece in word_pieces(word) {
            match script_of(piece) {
                Some(s) if s == script => own += 1,
                Some(_) => other += 1,
                None => {}
            }
        }
    }
    (own >= 2 && other * 4 <= own).then_some(script)
}

/// A word split so that every character of a script written without spaces (Han, kana) is a
/// piece of its own, and each run of other characters is one piece.
fn word_pieces(word: &str) -> impl Iterator<Item = &str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (at, c) in word.char_indices() {
        if is_unspaced(c) {
            if start < at {
                pieces.push(&word[start..at]);
            }
            pieces.push(&word[at..at + c.len_utf8()]);
            start = at + c.len_utf8();
        }
    }
    if start < word.len() {
        pieces.push(&word[start..]);
    }
    pieces.into_iter()
}

/// Han ideographs and kana, where a character is about a word.
fn is_unspaced(c: char) -> bool {
    is_han(c) || matches!(c, '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}')
}
