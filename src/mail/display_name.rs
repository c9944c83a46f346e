//! Display names (`From`, `To`, `Reply-To`) as RFC 5322 phrases that readers decode back to
//! the same text: plain atoms, one quoted-string, or RFC 2047 encoded-words that each hold
//! whole words. lettre's own encoder cuts encoded-words at a byte count, inside words, and
//! readers that keep the space between adjacent encoded-words of a phrase (Python's `email`,
//! and clients with the same flaw) then show `Forei gn` (issue 9). Folding is done here too;
//! lettre gets the finished value and does not encode it again.

use base64::Engine as _;
use lettre::message::Mailbox;
use lettre::message::header::{HeaderName, HeaderValue};

use crate::text::one_line;

const PREFIX: &str = "=?utf-8?b?";
const SUFFIX: &str = "?=";
/// RFC 2047 §2: an encoded-word is at most 75 characters.
const MAX_ENCODED_WORD: usize = 75;
/// The UTF-8 bytes one encoded-word holds: base64 writes 4 characters for every 3 bytes.
const MAX_ENCODED_BYTES: usize = (MAX_ENCODED_WORD - PREFIX.len() - SUFFIX.len()) / 4 * 3;
/// RFC 2047 §2: a line that holds encoded-words is at most 76 characters.
const MAX_LINE: usize = 76;

/// The header `header` (`From`, `To`, `Reply-To`) naming `mailbox`, encoded and folded here.
pub(crate) fn mailbox_header(header: &'static str, mailbox: &Mailbox) -> HeaderValue {
    let name = mailbox.name.as_deref().map(one_line).filter(|n| !n.is_empty());
    let mut tokens = name.as_deref().map(phrase).unwrap_or_default();
    tokens.push(if tokens.is_empty() { mailbox.email.to_string() } else { format!("<{}>", mailbox.email) });
    let encoded = fold(header.len() + ": ".len(), &tokens);
    // The raw value is what lettre parses back for the SMTP envelope; the encoded one is sent.
    let raw = Mailbox::new(name, mailbox.email.clone()).to_string();
    HeaderValue::dangerous_new_pre_encoded(HeaderName::new_from_ascii_str(header), raw, encoded)
}

/// How one space-separated word of a name can be written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// RFC 5322 `atext` only: as it is.
    Atom,
    /// Other printable ASCII: inside a quoted-string.
    Quotable,
    /// Anything else: in encoded-words.
    Encoded,
}

fn kind(word: &str) -> Kind {
    // A word that looks like an encoded-word would be decoded by readers, even quoted
    // (Python's parser decodes them inside quoted-strings): it is encoded so it reads as typed.
    if word.contains("=?") || !word.bytes().all(|b| b.is_ascii_graphic()) {
        Kind::Encoded
    } else if word.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)) {
        Kind::Atom
    } else {
        Kind::Quotable
    }
}

/// `name` (one line, words separated by one space) as the tokens of a phrase, to be joined by
/// single spaces (each a place to fold). Readers disagree on the space between two
/// encoded-words (Python keeps it, RFC 2047 §6.2 drops it) and on the space before a
/// quoted-string (`mail-parser` drops it), and agree on every other space. So a quoted-string
/// comes only first, every other word that is not an atom is encoded, and consecutive encoded
/// words share encoded-words, split only where one would pass 75 characters.
fn phrase(name: &str) -> Vec<String> {
    let words: Vec<(&str, Kind)> = name.split(' ').filter(|w| !w.is_empty()).map(|w| (w, kind(w))).collect();
    let ascii = words.iter().take_while(|(_, k)| *k != Kind::Encoded).count();
    let (lead, rest) = words.split_at(ascii);
    let mut tokens: Vec<String> = if lead.iter().all(|(_, k)| *k == Kind::Atom) {
        lead.iter().map(|(w, _)| (*w).to_owned()).collect()
    } else {
        let text = lead.iter().map(|(w, _)| *w).collect::<Vec<_>>().join(" ");
        crate::text::quoted_string(&text).split(' ').map(str::to_owned).collect()
    };
    let mut rest = rest;
    while let Some(&(word, first)) = rest.first() {
        if first == Kind::Atom {
            tokens.push(word.to_owned());
            rest = &rest[1..];
            continue;
        }
        let len = rest.iter().take_while(|(_, k)| *k != Kind::Atom).count();
        let (run, after) = rest.split_at(len);
        tokens.extend(encoded_words(&run.iter().map(|(w, _)| *w).collect::<Vec<_>>().join(" ")));
        rest = after;
    }
    tokens
}

/// `text` as base64 encoded-words of at most 75 characters, each ending at a space when one
/// fits, else between characters of a script written without spaces (a long Chinese name),
/// never inside a UTF-8 sequence.
fn encoded_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = if rest.len() <= MAX_ENCODED_BYTES { rest.len() } else { cut_point(rest) };
        let (chunk, after) = rest.split_at(cut);
        words.push(format!("{PREFIX}{}{SUFFIX}", base64::engine::general_purpose::STANDARD.encode(chunk)));
        rest = after;
    }
    words
}

/// Where to end an encoded-word that starts `text` (longer than one holds): after the last
/// space that fits, else at the last boundary that is not inside a word of a spaced script,
/// else (one such word longer than an encoded-word) at the last character that fits.
fn cut_point(text: &str) -> usize {
    let boundaries: Vec<(usize, char, char)> = text
        .char_indices()
        .zip(text.chars().skip(1))
        .map(|((i, before), after)| (i + before.len_utf8(), before, after))
        .take_while(|&(end, _, _)| end <= MAX_ENCODED_BYTES)
        .collect();
    let after_space = boundaries.iter().rev().find(|&&(_, before, _)| before == ' ');
    let between_words = || boundaries.iter().rev().find(|&&(_, b, a)| !(is_spaced_letter(b) && is_spaced_letter(a)));
    after_space.or_else(between_words).or(boundaries.last()).map_or(text.len(), |&(end, _, _)| end)
}

/// Is `c` a letter or digit of a script that separates words with spaces (Latin, Cyrillic,
/// Greek, Hangul…), as opposed to Chinese and Japanese, which may be cut between characters?
fn is_spaced_letter(c: char) -> bool {
    c.is_alphanumeric()
        && !matches!(c,
            '\u{2E80}'..='\u{2FFF}'      // CJK radicals
            | '\u{3000}'..='\u{30FF}'    // CJK punctuation, hiragana, katakana
            | '\u{3100}'..='\u{9FFF}'    // bopomofo … CJK unified ideographs
            | '\u{F900}'..='\u{FAFF}'    // CJK compatibility ideographs
            | '\u{FF00}'..='\u{FFEF}'    // full-width forms
            | '\u{20000}'..='\u{3FFFF}') // CJK extensions
}

/// `tokens` joined by spaces, folded (CRLF before a space) so no line passes 76 characters
/// when one token allows; `used` is what the line already holds (`From: `). Only spaces become
/// folds, so the value holds no CR or LF of its own.
fn fold(used: usize, tokens: &[String]) -> String {
    let mut out = String::new();
    let mut line = used;
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            if line + 1 + token.len() > MAX_LINE {
                out.push_str("\r\n ");
                line = 1;
            } else {
                out.push(' ');
                line += 1;
            }
        }
        out.push_str(token);
        line += token.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFICE: &str = "沈阳市人民政府外事办公室 Foreign Affairs Office";

    fn mailbox(name: &str) -> Mailbox {
        Mailbox::new(Some(name.to_owned()), "news@fao.example.gov.cn".parse().expect("an address"))
    }

    /// The `From` header as sent.
    fn encoded(name: &str) -> String {
        let value = mailbox_header("From", &mailbox(name));
        let mut headers = lettre::message::header::Headers::new();
        headers.insert_raw(value);
        headers.to_string()
    }

    /// The display name a MIME parser (`mail-parser`) reads from `header`.
    fn read_back(header: &str) -> String {
        let raw = format!("{header}\r\nhi\r\n");
        let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a message");
        let from = message.from().and_then(|a| a.first()).expect("a From address");
        assert_eq!(from.address(), Some("news@fao.example.gov.cn"), "{header}");
        from.name().expect("a display name").to_owned()
    }

    /// Each line of `header`, and each encoded-word, within RFC 2047's limits; only printable
    /// ASCII and folds.
    fn assert_well_formed(header: &str) {
        let body = header.strip_suffix("\r\n").expect("ends with CRLF");
        for line in body.split("\r\n") {
            assert!(line.bytes().all(|b| b.is_ascii_graphic() || b == b' '), "{header:?}");
            for word in line.split(' ').filter(|w| w.starts_with("=?")) {
                assert!(word.len() <= MAX_ENCODED_WORD, "encoded-word too long: {word}");
            }
        }
    }

    /// The text of the encoded-words of `header`, in order.
    fn encoded_texts(header: &str) -> Vec<String> {
        header
            .split_whitespace()
            .filter_map(|w| w.strip_prefix(PREFIX)?.strip_suffix(SUFFIX))
            .map(|b| {
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).expect("base64")).expect("utf-8")
            })
            .collect()
    }

    #[test]
    fn the_office_name_is_one_encoded_word_then_plain_words() {
        let header = encoded(OFFICE);
        assert_eq!(
            header,
            "From: =?utf-8?b?5rKI6Ziz5biC5Lq65rCR5pS/5bqc5aSW5LqL5Yqe5YWs5a6k?= Foreign\r\n Affairs Office <news@fao.example.gov.cn>\r\n"
        );
        assert_well_formed(&header);
        assert_eq!(read_back(&header), OFFICE);
    }

    #[test]
    fn an_ascii_name_with_specials_is_one_quoted_string() {
        let name = r#"Ann "A" O'Neil, Jr."#;
        let header = encoded(name);
        assert_eq!(header, "From: \"Ann \\\"A\\\" O'Neil, Jr.\" <news@fao.example.gov.cn>\r\n");
        assert_eq!(read_back(&header), name);
        assert_eq!(encoded("Li Wei"), "From: Li Wei <news@fao.example.gov.cn>\r\n");
        assert_eq!(encoded(r"back\slash"), "From: \"back\\\\slash\" <news@fao.example.gov.cn>\r\n");
        assert_eq!(read_back(&encoded(r"back\slash")), r"back\slash");
        let long = r#"The "Foreign Affairs" Office of Shenyang Municipal People's Government, Press & Media Desk"#;
        let header = encoded(long);
        assert_well_formed(&header);
        assert!(header.split("\r\n").all(|l| l.len() <= MAX_LINE), "{header}");
        assert_eq!(read_back(&header), long);
    }

    #[test]
    fn a_long_chinese_name_is_cut_between_characters_within_the_limit() {
        let name = "中华人民共和国辽宁省沈阳市人民政府外事办公室国际交流合作中心新闻发布处";
        let header = encoded(name);
        assert_well_formed(&header);
        let texts = encoded_texts(&header);
        assert!(texts.len() > 1, "{header}");
        assert_eq!(texts.concat(), name);
        assert!(texts.iter().all(|t| t.len() == MAX_ENCODED_BYTES || t == texts.last().unwrap()), "{texts:?}");
        assert_eq!(read_back(&header), name);
    }

    #[test]
    fn long_runs_of_encoded_words_are_cut_at_spaces_never_inside_a_word() {
        let name = "Zoë Müller-Lüdenscheidt Ångström Þórsdóttir Œuvre Ærøskøbing Ñandú";
        let header = encoded(name);
        assert_well_formed(&header);
        let texts = encoded_texts(&header);
        assert!(texts.len() > 1, "{header}");
        for text in &texts[..texts.len() - 1] {
            assert!(text.ends_with(' '), "cut inside a word: {texts:?}");
        }
        assert_eq!(read_back(&header), name);
    }

    #[test]
    fn mixed_names_keep_plain_and_quoted_words_apart_from_encoded_ones() {
        for name in [
            r#"王伟 Ann "A" O'Neil, Jr."#,
            "Li 王伟 Wei",
            "王伟 李娜 Li Na",
            "Zoë (press) <desk>",
            "=?utf-8?q?not_an_encoded_word?= 王",
            "=?utf-8?q?x?=",
        ] {
            let header = encoded(name);
            assert_well_formed(&header);
            assert_eq!(read_back(&header), name, "{header}");
        }
        assert!(encoded("Li 王伟 Wei").starts_with("From: Li =?utf-8?b?546L5Lyf?= Wei <"));
        // Only first may a word be quoted: `mail-parser` drops the space before a quoted-string.
        assert!(encoded("Ann, 王伟").starts_with("From: \"Ann,\" =?utf-8?b?"));
        assert_eq!(encoded_texts(&encoded("王伟 O'Neil, Jr.")), ["王伟 O'Neil, Jr."]);
    }

    #[test]
    fn names_are_one_line_whatever_they_hold() {
        let header = encoded("Eve\r\nBcc: victim@example.org\u{0}\t王");
        assert_well_formed(&header);
        assert_eq!(read_back(&header), "Eve Bcc: victim@example.org 王");
        assert_eq!(encoded("   "), "From: news@fao.example.gov.cn\r\n");
    }
}
