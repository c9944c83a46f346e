//! Plain-text hygiene applied to everything read from an article: characters XML 1.0 forbids
//! are dropped at the edge so no writer ever sees them, whitespace is folded, and summaries are
//! cut where a line may break (Unicode line breaking, UAX #14): after a word in languages
//! written with spaces, between any two characters in Chinese or Japanese.

use std::borrow::Cow;

use icu_segmenter::LineSegmenter;
use icu_segmenter::options::LineBreakOptions;

/// Is `c` allowed in an XML 1.0 document (XML 1.0 §2.2 `Char`; Rust strings hold no
/// surrogates) and in HTML text, which also rules out DEL and the C1 controls (U+007F–U+009F)?
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Removes the characters XML 1.0 forbids (C0 controls but tab and newlines, U+FFFE, U+FFFF)
/// and those HTML forbids in text (DEL, C1 controls).
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

/// [`xml_safe`], then whitespace runs (also ideographic spaces) folded to one space and trimmed:
/// for titles, names and summaries, which are one line.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().filter(|&c| is_xml_char(c)));
    }
    out
}

/// `text` as an RFC 5322 quoted-string (§3.2.4): in double quotes, with `"` and `\` escaped.
/// Used for display names and for local parts that need their quotes.
pub fn quoted_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `text` with `&`, `<`, `>` and `"` escaped, for HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    // Writing into a String cannot fail.
    let _ = pulldown_cmark_escape::escape_html(&mut out, text);
    out
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Shortens `text` to at most `max_chars` characters, marking the cut with `…`. The cut falls
/// where a line may break (UAX #14): after a word where the script has spaces, after any
/// character where it has none; mid-word only when the last break is far back (a very long
/// word or URL).
pub fn shorten(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let keep = max_chars.saturating_sub(1);
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    // Whether `end` itself is a break opportunity depends on what follows it (no break before
    // `。` or `»`), so the segmenter sees a few characters more.
    let look = text[end..].char_indices().nth(4).map_or(text.len(), |(i, _)| end + i);
    let segmenter = LineSegmenter::new_for_non_complex_scripts(LineBreakOptions::default());
    // A break right after the spaces that follow `end` is a cut at `end`.
    let is_cut = |b: usize| b > 0 && b < look && (b <= end || text[end..b].trim().is_empty());
    let last_break = segmenter.segment_str(&text[..look]).filter(|&b| is_cut(b)).last().map(|b| b.min(end));
    let cut = match last_break {
        Some(b) if text[b..end].chars().count() < 20 => &text[..b],
        _ => &text[..end],
    };
    let mut out = cut.trim_end_matches(|c: char| c.is_whitespace() || ",，、;；:：-–—".contains(c)).to_owned();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_control_characters_xml_forbids() {
        assert_eq!(xml_safe("a\u{0}b\u{1b}c\u{FFFE}d\te\n\u{7f}\u{85}\u{9f}"), "abcd\te\n");
        assert!(matches!(xml_safe("plain & <ok>"), Cow::Borrowed(_)));
    }

    #[test]
    fn one_line_folds_ideographic_spaces_and_controls() {
        assert_eq!(one_line("  标题\u{3000}\u{3000}正文\n second\u{7}line "), "标题 正文 secondline");
    }

    #[test]
    fn shortens_chinese_on_a_character_boundary() {
        let s = "市政府外办携手俄领馆推动辽中区建设";
        let short = shorten(s, 10);
        assert_eq!(short.chars().count(), 10);
        assert_eq!(short, "市政府外办携手俄领…");
    }

    #[test]
    fn shortens_russian_after_a_word() {
        let s = "Генеральный консул России посетил китайско-российский индустриальный парк";
        assert_eq!(shorten(s, 30), "Генеральный консул России…");
        assert_eq!(shorten(s, 50), "Генеральный консул России посетил китайско…");
        assert_eq!(shorten("市外办。。俄领馆推动辽中区建设", 6), "市外办。。…");
    }

    #[test]
    fn shortens_english_after_a_word() {
        assert_eq!(shorten("The Foreign Affairs Office of Shenyang", 20), "The Foreign Affairs…");
        assert_eq!(shorten("short", 20), "short");
    }
}
