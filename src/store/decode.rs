//! Article file bytes → text: UTF-8 (BOM stripped) on the fast path, GB18030 or Big5 when
//! chardetng says so, CRLF and lone CR normalised to LF.
//! Never yields U+FFFD: bytes that no allowed encoding reads are an error naming their line.
//! Parsing the text is left to `press_release` and the Markdown reader.

use std::borrow::Cow;

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{BIG5, DecoderResult, Encoding, GB18030, GBK};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why an article file's bytes could not be read as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DecodeError {
    /// 1-based line of the first undecodable byte.
    pub line: usize,
    /// What went wrong, lowercase, without the line.
    pub message: String,
}

/// Decodes an article file's bytes into text.
///
/// Strips a UTF-8 BOM (a UTF-16 BOM is an error), accepts UTF-8, and tells GB18030/GBK and
/// Big5 from UTF-8 with chardetng; GBK-detected input is decoded as GB18030, its superset.
/// CRLF and lone CR become LF.
pub fn decode_text(bytes: &[u8]) -> Result<Cow<'_, str>, DecodeError> {
    reject_utf16_bom(bytes)?;
    let (body, has_bom) = match bytes.strip_prefix(UTF8_BOM) {
        Some(body) => (body, true),
        None => (bytes, false),
    };
    // Most files are UTF-8: validating it (with SIMD: Chinese text is all multi-byte) is cheap,
    // running chardetng on 100,000 files is not.
    let utf8_error = match simdutf8::compat::from_utf8(body) {
        Ok(text) => return Ok(normalise_newlines(text)),
        Err(error) => error,
    };
    let not_utf8 =
        |offset: usize, message: &str| DecodeError { line: line_of(body, offset), message: message.to_owned() };
    // A UTF-8 BOM is an explicit label; sniffing past it would turn a corrupt UTF-8 file into
    // GB18030 mojibake ("锘" is what the BOM reads as in GBK).
    if has_bom {
        return Err(not_utf8(
            utf8_error.valid_up_to(),
            "undecodable bytes (the file starts with a UTF-8 byte order mark but is not UTF-8)",
        ));
    }
    // Text that reads as UTF-8 Chinese for a while and then breaks is corrupt UTF-8: almost any
    // byte pair is valid GB18030, so sniffing would publish it as nonsense instead.
    let valid_prefix = std::str::from_utf8(&body[..utf8_error.valid_up_to()]).unwrap_or_default();
    if valid_prefix.chars().filter(|c| !c.is_ascii()).nth(3).is_some() {
        return Err(not_utf8(utf8_error.valid_up_to(), "undecodable bytes (not UTF-8)"));
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(body, true);
    let guess = detector.guess(None, Utf8Detection::Deny);
    let encoding = if guess == GBK || guess == GB18030 {
        GB18030
    } else if guess == BIG5 {
        BIG5
    } else {
        // Report where the likelier reading broke: whichever of UTF-8 and GB18030 got further
        // is probably the file's real encoding, so its stop is the corrupt byte.
        let gb18030_stop = malformed_offset(GB18030, body).unwrap_or(0);
        return Err(not_utf8(
            utf8_error.valid_up_to().max(gb18030_stop),
            "undecodable bytes (not UTF-8, and not GB18030 either)",
        ));
    };
    match encoding.decode_without_bom_handling_and_without_replacement(body) {
        Some(text) => Ok(Cow::Owned(normalise_newlines(&text).into_owned())),
        None => {
            let offset = malformed_offset(encoding, body).unwrap_or(utf8_error.valid_up_to());
            Err(not_utf8(
                offset,
                &format!(
                    "undecodable bytes (not UTF-8, and not {} either)",
                    if encoding == BIG5 { "Big5" } else { "GB18030" }
                ),
            ))
        }
    }
}

/// Like [`decode_text`] but only UTF-8 is allowed (for Markdown files): a UTF-8 BOM is
/// stripped, CRLF and lone CR become LF.
pub fn decode_utf8(bytes: &[u8]) -> Result<Cow<'_, str>, DecodeError> {
    reject_utf16_bom(bytes)?;
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    match simdutf8::compat::from_utf8(body) {
        Ok(text) => Ok(normalise_newlines(text)),
        Err(error) => Err(DecodeError {
            line: line_of(body, error.valid_up_to()),
            message: "undecodable bytes (not UTF-8)".to_owned(),
        }),
    }
}

/// UTF-16 text that is mostly ASCII is valid UTF-8 full of NULs, so the BOM is the only
/// reliable sign; GB18030 never starts with FF FE or FE FF (0xFF is neither lead nor trail).
fn reject_utf16_bom(bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(DecodeError {
            line: 1,
            message: "the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8".to_owned(),
        });
    }
    Ok(())
}

/// Byte offset of the first malformed sequence when `bytes` are read as `encoding`.
fn malformed_offset(encoding: &'static Encoding, bytes: &[u8]) -> Option<usize> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder.max_utf8_buffer_length_without_replacement(bytes.len())?;
    let mut sink = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut sink, true);
    match result {
        // `read` counts the malformed sequence and the `reread` bytes consumed after it.
        DecoderResult::Malformed(length, reread) => {
            Some(read.saturating_sub(usize::from(length) + usize::from(reread)))
        }
        DecoderResult::InputEmpty | DecoderResult::OutputFull => None,
    }
}

/// 1-based line of `offset`, counting LF, CRLF and lone CR as line ends, as
/// [`normalise_newlines`] will. Safe on GB18030 and Big5 bytes: neither uses 0x0A or 0x0D
/// inside a multi-byte character.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    let before = &bytes[..offset.min(bytes.len())];
    let mut line = 1;
    for (i, &byte) in before.iter().enumerate() {
        let is_lone_cr = byte == b'\r' && bytes.get(i + 1) != Some(&b'\n');
        if byte == b'\n' || is_lone_cr {
            line += 1;
        }
    }
    line
}

fn normalise_newlines(text: &str) -> Cow<'_, str> {
    // Most files have LF line ends already: then the text is borrowed, not copied.
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(cr) = rest.find('\r') {
        out.push_str(&rest[..cr]);
        out.push('\n');
        rest = &rest[cr + 1..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &[u8] = include_bytes!("../../tests/fixtures/press-releases/press-release-2022-10-11.txt");
    const CRLF_BOM: &[u8] = include_bytes!("../../tests/fixtures/press-releases/crlf-bom.txt");
    const GB18030_FILE: &[u8] = include_bytes!("../../tests/fixtures/press-releases/gb18030.txt");
    const UNDECODABLE: &[u8] = include_bytes!("../../tests/fixtures/press-releases/broken-undecodable.txt");

    #[test]
    fn reads_utf8_file_unchanged() {
        let text = decode_text(REAL).unwrap();
        assert_eq!(text.as_bytes(), REAL);
    }

    #[test]
    fn strips_utf8_bom_and_normalises_crlf() {
        let text = decode_text(CRLF_BOM).unwrap();
        assert!(text.starts_with("您现在的位置:首页 > 工作动态\n市外办赴苏家屯区调研外资企业\n"));
        assert!(!text.contains('\r'));
        assert!(!text.contains('\u{feff}'));
        assert!(text.ends_with("foreign investors."));
    }

    #[test]
    fn normalises_lone_cr_and_crlf_to_lf() {
        assert_eq!(decode_text(b"a\rb\r\nc\n\r").unwrap(), "a\nb\nc\n\n");
        assert_eq!(decode_utf8(b"a\rb\r\nc").unwrap(), "a\nb\nc");
    }

    #[test]
    fn reads_gb18030_file_as_chinese_text() {
        let text = decode_text(GB18030_FILE).unwrap();
        assert!(text.starts_with("您现在的位置：首页 > 工作动态\n市外办接待日本川崎市友好交流代表团\n"));
        // U+20BB7 is not in GBK: only a GB18030 decoder reads its four bytes.
        assert!(text.contains("代表团团长𠮷田一郎表示"));
        assert!(!text.contains('\u{fffd}'));
        assert!(!text.contains('\r'));
    }

    #[test]
    fn reads_big5_file_as_chinese_text() {
        let original = "中華民國外交部今日發布新聞稿，說明本年度國際交流與合作計畫的執行情形。\n\
                        外交部表示，將持續推動與各國城市的友好往來。\n";
        let (bytes, _, had_errors) = BIG5.encode(original);
        assert!(!had_errors);
        assert_eq!(decode_text(&bytes).unwrap(), original);
    }

    #[test]
    fn rejects_undecodable_bytes_naming_the_line() {
        let error = decode_text(UNDECODABLE).unwrap_err();
        assert_eq!(error.line, 6);
        assert_eq!(error.to_string(), "line 6: undecodable bytes (not UTF-8)");
    }

    #[test]
    fn names_the_line_of_a_corrupt_byte_in_a_gb18030_file() {
        // Line 1 is where UTF-8 fails; line 7 is where the file is actually broken.
        let needle = GB18030.encode("代表团团长").0;
        let at = GB18030_FILE.windows(needle.len()).position(|window| window == needle.as_ref()).unwrap();
        let mut bytes = GB18030_FILE.to_vec();
        bytes.insert(at, 0xFF);
        let error = decode_text(&bytes).unwrap_err();
        assert_eq!(error.line, 7);
    }

    #[test]
    fn counts_lone_cr_as_a_line_end_in_errors() {
        let error = decode_utf8(b"a\rb\r\nc\n\xff").unwrap_err();
        assert_eq!(error.line, 4);
    }

    #[test]
    fn rejects_utf16_bom() {
        let error = decode_text(b"\xff\xfea\x00b\x00").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(error.message.contains("UTF-16"), "{error}");
        assert!(decode_utf8(b"\xfe\xff\x00a").is_err());
    }

    #[test]
    fn rejects_invalid_utf8_after_a_utf8_bom_without_sniffing() {
        let mut bytes = b"\xef\xbb\xbfline one\n".to_vec();
        bytes.extend_from_slice(&GB18030.encode("第二行").0);
        let error = decode_text(&bytes).unwrap_err();
        assert_eq!(error.line, 2);
    }

    #[test]
    fn decode_utf8_rejects_gb18030_naming_the_line() {
        let error = decode_utf8(GB18030_FILE).unwrap_err();
        assert_eq!(error.to_string(), "line 1: undecodable bytes (not UTF-8)");
    }

    #[test]
    fn decode_utf8_strips_bom_and_crlf() {
        let text = decode_utf8(CRLF_BOM).unwrap();
        assert_eq!(text, decode_text(CRLF_BOM).unwrap());
        assert!(text.starts_with('您'));
    }

    #[test]
    fn rejects_utf8_chinese_with_a_truncated_character_instead_of_sniffing() {
        let text = "市政府外办携手俄领馆\n推动建设\n".as_bytes();
        // Cut the last character of line 2 to its first two bytes.
        let cut = text.len() - 2;
        let mut bytes = text[..cut - 1].to_vec();
        bytes.extend_from_slice(b"\n");
        let error = decode_text(&bytes).unwrap_err();
        assert_eq!(error.to_string(), "line 2: undecodable bytes (not UTF-8)");
    }

    #[test]
    fn never_produces_replacement_characters() {
        for bytes in [&b"\x80"[..], b"abc\xc3", b"\xe4\xb8", b"\x81\x30"] {
            if let Ok(text) = decode_text(bytes) {
                assert!(!text.contains('\u{fffd}'), "{bytes:?} gave {text:?}");
            }
        }
    }
}
