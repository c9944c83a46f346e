//! Attachment blocks: `附件：1.参会回执.docx 2.日程安排.pdf`, `附件1：…`, `Attachments:` with
//! the names on the following lines, numbered or not. A name is published only when it is a
//! plain file name (no folder, no `..`, nothing hidden) and that file exists beside the press
//! release; a line naming anything else stays text. Serving the files is the web server's job.

use std::sync::LazyLock;

use regex::Regex;

/// `附件：`, `附件1：`, `Attachment(s):`, `Приложение:`; the names may follow on the line.
static BLOCK_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:附件|附\s*件|attachments?|enclosures?|приложени[еяи])\s*\d{0,2}\s*[：:]\s*(.*)$")
        .unwrap_or_else(|e| unreachable!("the block pattern compiles: {e}"))
});

/// A line of names only, each numbered or with a file extension: `2.日程安排.pdf`,
/// `（2）报名表.xlsx`, `Meeting Agenda.pdf`.
static ITEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:\d{1,2}\s*[.、．:：)）]|[（(]\d{1,2}[)）])?\s*[^\s.。，,；;][^。，,；;]*?\.[A-Za-z0-9]{1,5}\s*)+$",
    )
    .unwrap_or_else(|e| unreachable!("the item pattern compiles: {e}"))
});

/// A leading number: `1.`, `2、`, `（3）`.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\d{1,2}\s*[.、．:：)）]|[（(]\d{1,2}[)）])\s*").unwrap_or_else(|e| unreachable!("compiles: {e}"))
});

/// One line of a block and what became of its names.
#[derive(Debug, Default)]
pub(super) struct BlockLine {
    /// Position in the lines given to [`read_block`].
    pub(super) offset: usize,
    /// Every name on it was published (or it is the block's bare `附件：` line, and an item
    /// followed): it is left out of the text.
    pub(super) is_attachment: bool,
    /// Names published.
    pub(super) found: Vec<String>,
    /// Names that look like files but are not plain names of files beside the release.
    pub(super) missing: Vec<String>,
}

/// An attachment block at the start of `lines`.
#[derive(Debug)]
pub(super) struct Block {
    pub(super) lines: Vec<BlockLine>,
}

/// Does the line read as attachment names only?
pub(super) fn is_item(text: &str) -> bool {
    ITEM.is_match(text) || BLOCK_START.is_match(text)
}

/// Reads the block that starts at `lines[0]`, if one does.
pub(super) fn read_block(lines: &[&super::Line<'_>], has_file: &dyn Fn(&str) -> bool) -> Option<Block> {
    let first = BLOCK_START.captures(lines.first()?.text)?;
    let rest = first.get(1).map_or("", |m| m.as_str());
    let mut block = Block { lines: vec![read_names(0, rest, has_file)] };
    for (offset, line) in lines.iter().enumerate().skip(1) {
        if !ITEM.is_match(line.text) {
            break;
        }
        block.lines.push(read_names(offset, line.text, has_file));
    }
    // A bare `附件：` goes when the names below it went.
    if rest.trim().is_empty() {
        block.lines[0].is_attachment = block.lines[1..].iter().any(|line| line.is_attachment);
    }
    Some(block)
}

/// The names on one line; a word that names no file (`附件：参会回执`) keeps the line as text
/// without a notice.
fn read_names(offset: usize, text: &str, has_file: &dyn Fn(&str) -> bool) -> BlockLine {
    let mut line = BlockLine { offset, ..BlockLine::default() };
    let mut other_words = 0;
    for word in split_names(text) {
        if is_plain_name(&word) && has_file(&word) {
            line.found.push(word);
        } else if looks_like_file(&word) || !is_plain_name(&word) {
            line.missing.push(word);
        } else {
            other_words += 1;
        }
    }
    line.is_attachment = !line.found.is_empty() && line.missing.is_empty() && other_words == 0;
    line
}

/// Splits a line into names: at whitespace when each piece names a file (`1.a.docx 2.b.pdf`),
/// else the whole line less its number is one name (`Meeting Agenda.pdf`).
fn split_names(text: &str) -> Vec<String> {
    let strip = |word: &str| NUMBER.replace(word, "").trim().to_owned();
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, '；' | ';' | '，' | ','))
        .map(strip)
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().all(|w| looks_like_file(w) || !is_plain_name(w)) {
        return words;
    }
    // Numbers on their own (`1. 参会回执.docx`) leave nothing; names with spaces stay whole.
    let mut names = Vec::new();
    for piece in NUMBERED_SPLIT.split(text) {
        let name = strip(piece);
        if !name.is_empty() {
            names.push(name);
        }
    }
    names
}

/// Where a numbered list on one line starts its next item.
static NUMBERED_SPLIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s+(?:\d{1,2}\s*[.、．)）]|[（(]\d{1,2}[)）])").unwrap_or_else(|e| unreachable!("compiles: {e}"))
});

/// Ends in a file extension: `.docx`, `.pdf`, `.xlsx`.
fn looks_like_file(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && (1..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// A file name that cannot leave the press release's folder or pass for another: no
/// separator, no `..`, not hidden, no control characters, no bidirectional controls or line
/// separators (a download named `x\u{202e}fdp.docx` shows as `xxcod.pdf`), at most 255 bytes.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0', ':'])
        && !name.chars().any(|c| c.is_control() || is_disguise(c))
}

/// Invisible characters that reorder or break the text around them (Unicode bidirectional
/// controls, UAX #9; the line and paragraph separators; the zero-width space and BOM).
fn is_disguise(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2028}' | '\u{2029}')
        || matches!(c, '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Why a name an attachment block gives is not published, for its notice (a name that is not
/// plain is escaped, so no control character reaches a log).
pub(super) fn refusal(name: &str) -> String {
    const MISSING: &str = "is not a file beside the press release; kept as text";
    if !is_plain_name(name) {
        return format!("attachment '{}' {MISSING}", name.escape_debug());
    }
    match crate::store::attachment::media_type(name) {
        Some(_) => format!("attachment '{name}' {MISSING}"),
        None => {
            let ext = name.rsplit_once('.').map_or(String::new(), |(_, ext)| format!(" (.{ext})"));
            format!("attachment '{name}' is not a kind of file published as an attachment{ext}; kept as text")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_in_the_folder_and_show_as_they_are() {
        for name in ["参会回执.docx", "Reply Form.docx", "a \"b\".pdf", "Résumé.pdf"] {
            assert!(is_plain_name(name), "{name}");
        }
        for name in [
            "",
            ".",
            "..",
            "...",
            ".hidden.pdf",
            "../a.pdf",
            "a/b.pdf",
            "a\\b.pdf",
            "/etc/passwd",
            "c:x.pdf",
            "a\0.pdf",
            "a\r\nSet-Cookie: x.pdf",
            "a\tb.pdf",
            "x\u{202e}fdp.docx",
            "x\u{2066}y.pdf",
            "a\u{2028}b.pdf",
            "\u{feff}a.pdf",
        ] {
            assert!(!is_plain_name(name), "{name:?}");
        }
        assert!(is_plain_name(&format!("{}.pdf", "名".repeat(83))));
        assert!(!is_plain_name(&format!("{}.pdf", "名".repeat(84))));
    }

    #[test]
    fn refusals_say_why() {
        assert!(refusal("page.html").contains("is not a kind of file published as an attachment (.html)"));
        assert!(refusal("../../etc/passwd").contains("is not a file beside the press release"));
        assert!(refusal("缺.pdf").contains("is not a file beside the press release"));
        assert_eq!(
            refusal("x\u{202e}fdp.docx"),
            "attachment 'x\\u{202e}fdp.docx' is not a file beside the press release; kept as text"
        );
    }
}
