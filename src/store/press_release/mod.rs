//! The office's press-release `.txt` files, already decoded (see `decode`), parsed into a
//! [`PressRelease`]: page chrome dropped ([`chrome`]), optional breadcrumb, title, metadata line
//! (时间/来源/撰稿人…, the CMS's Chinese keys, read by [`meta`]), paragraphs, then any further
//! halves (English, Russian…, cut by [`halves`]), each with its own field lines and attachment
//! blocks ([`attachments`]). Which language a half is, is config's business (`press_text`).
//! Text is kept verbatim apart from trimming; escaping is the writers'.

pub mod attachments;
pub mod chrome;
pub mod explain;
mod halves;
mod meta;

use chrono::{NaiveDate, NaiveDateTime};
use icu_locale::subtags::Script;

pub use chrome::Chrome;
use meta::{DATE_KEYS, Field, field_of, known_key_at, parse_date, scan_fields};

/// One press release: its halves in file order, the first one (under the metadata line) always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PressRelease {
    /// The date (and maybe time) of the metadata line.
    pub published: PressDate,
    /// The known fields of the metadata line as read, for `check --explain`.
    pub metadata: Vec<MetaField>,
    /// The halves, each in its own script; the first has at least one paragraph, a later one
    /// may have none (a file that ends at a title).
    pub halves: Vec<Half>,
    /// Lines that are neither title nor paragraph, and why (chrome, breadcrumb, fields…).
    pub dropped: Vec<Dropped>,
    /// Things worth telling that do not stop publication (an attachment that is not there).
    pub notices: Vec<ParseError>,
}

/// The date of the metadata line: a calendar date, or a date with a time of day (no zone: the
/// caller applies the site's time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PressDate {
    /// Only a day was given, e.g. `2023/5/8`.
    Date(NaiveDate),
    /// A day and a time of day were given, e.g. `2023-05-08 09:30:00`.
    DateTime(NaiveDateTime),
}

/// One language's half: title, paragraphs, its own fields and attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Half {
    /// The writing system of its title, as [`crate::locale::script_of`] names it; `None` for a
    /// half with no letters to tell.
    pub script: Option<Script>,
    /// The title line, trimmed.
    pub title: String,
    /// One paragraph per non-empty line, trimmed, in file order (never empty strings).
    pub paragraphs: Vec<String>,
    /// What this half says about itself: the metadata line for the first half, `Source:`,
    /// `Author:`, `Date:` lines for the others. Never copied from one half to another.
    pub fields: Fields,
    /// Files beside the press release that its attachment block names and that exist.
    pub attachments: Vec<String>,
    /// Names its attachment block gives that are no such file (the line stays text).
    pub missing: Vec<String>,
}

impl Half {
    /// The paragraph a summary starts at: the first that is body text, not a salutation
    /// (`各有关单位：`, `Dear partners:`) nor a dateline (`2023年5月8日`, `新华社北京5月8日电`).
    pub fn summary_paragraph(&self) -> Option<&str> {
        self.paragraphs.iter().map(String::as_str).find(|p| !meta::is_salutation(p) && !meta::is_dateline(p))
    }
}

/// The fields a half carries; `None` when missing or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// 撰稿人, else 作者; `Author:`.
    pub author: Option<String>,
    /// 来源 (or 信息来源, 文章来源), else 供稿部门; `Source:`.
    pub source: Option<String>,
    /// 责任编辑 / 编辑; `Editor:`.
    pub editor: Option<String>,
    /// A half's own `Date:` (the first half's date is [`PressRelease::published`]).
    pub date: Option<PressDate>,
}

/// One known field of the metadata line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaField {
    /// 1-based line.
    pub line: usize,
    /// The key it counts as (`发布时间`, `来源`, `编辑`…).
    pub key: String,
    /// Its value, page chrome cut off.
    pub value: String,
}

/// A line left out of the text, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// 1-based line.
    pub line: usize,
    /// The line, trimmed.
    pub text: String,
    /// Why: `page chrome (print and close controls)`, `breadcrumb`, `field 编辑`, `attachment`…
    pub why: String,
}

/// Why a press-release file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line the problem was found on.
    pub line: usize,
    /// What went wrong, lowercase, without the line.
    pub message: String,
}

/// What parsing needs besides the text: the chrome patterns, and whether a file named by an
/// attachment block exists beside the press release.
pub struct Options<'a> {
    /// Lines to drop.
    pub chrome: &'a Chrome,
    /// Is there a regular file of this (plain, checked) name beside the press release?
    pub has_file: &'a dyn Fn(&str) -> bool,
}

/// Files one half may publish: a block naming more (a runaway export) publishes the first
/// ones and keeps the rest as text, so one release cannot swell every feed it is in.
pub const MAX_ATTACHMENTS: usize = 100;

/// How many non-empty lines at the top may hold breadcrumb, title and metadata: one each,
/// plus one spare for a breadcrumb split over two lines.
const HEADER_LINES: usize = 4;

const NO_DATE: &str = "no date in the metadata line (expected 时间: or 发布时间:)";

/// Parses decoded text with the default chrome patterns and no attachment files.
pub fn parse(text: &str) -> Result<PressRelease, ParseError> {
    parse_with(text, &Options { chrome: Chrome::defaults(), has_file: &|_| false })
}

/// Parses decoded text (LF line ends). Errors name the 1-based line.
pub fn parse_with(text: &str, options: &Options<'_>) -> Result<PressRelease, ParseError> {
    // decode.rs strips the BOM; this guards callers that read the file some other way.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // `trim` covers U+3000 indents, U+00A0 and the U+2002 the real files end paragraphs with.
    let all: Vec<Line<'_>> = text
        .split('\n')
        .enumerate()
        .map(|(index, raw)| Line { number: index + 1, text: raw.trim() })
        .filter(|line| !line.text.is_empty())
        .collect();
    if all.is_empty() {
        return Err(error(1, "empty file"));
    }
    let mut dropped = Vec::new();
    let lines = options.chrome.strip(all, &mut dropped);
    if lines.is_empty() {
        return Err(error(1, "nothing but page chrome"));
    }

    let meta_at = lines
        .iter()
        .take(HEADER_LINES)
        .position(|line| meta::is_metadata_line(line.text))
        .ok_or_else(|| missing_metadata(&lines))?;
    let meta_number = lines[meta_at].number;
    // The title sits right above the metadata; anything higher is navigation.
    let title = match meta_at.checked_sub(1).map(|at| &lines[at]) {
        Some(line) if !is_breadcrumb(line.text) => line.text,
        _ => return Err(error(meta_number, "no title before the metadata line")),
    };
    for line in &lines[..meta_at - 1] {
        dropped.push(Dropped { line: line.number, text: line.text.to_owned(), why: "breadcrumb".to_owned() });
    }
    // Some sites wrap the metadata over two lines (时间 on one, 来源 on the next). Only a
    // known key without a full stop continues it, so a first paragraph such as
    // `时间：5月8日上午。` stays a paragraph.
    let meta_end = meta_at
        + 1
        + lines[meta_at + 1..]
            .iter()
            .take_while(|line| known_key_at(line.text).is_some() && !line.text.contains('。'))
            .count();
    let fields: Vec<Field<'_>> = lines[meta_at..meta_end]
        .iter()
        .flat_map(|line| scan_fields(line.text, line.number))
        .map(|field| Field { value: options.chrome.clean_value(field.value), ..field })
        .collect();

    let date_field =
        DATE_KEYS.iter().find_map(|key| field_of(&fields, key)).ok_or_else(|| error(meta_number, NO_DATE))?;
    let published = parse_date(date_field.value, date_field.line)?;
    let value_of = |key| field_of(&fields, key).map(|field| field.value.to_owned());
    let first_fields = Fields {
        author: value_of("撰稿人").or_else(|| value_of("作者")),
        source: value_of("来源").or_else(|| value_of("供稿部门")),
        editor: value_of("编辑"),
        date: None,
    };
    let metadata = fields
        .iter()
        .filter_map(|field| {
            let key = field.key?;
            (!field.value.is_empty()).then(|| MetaField {
                line: field.line,
                key: key.to_owned(),
                value: field.value.to_owned(),
            })
        })
        .collect();

    let mut notices = Vec::new();
    let mut halves = Vec::new();
    for (index, (title, body)) in halves::split(title, &lines[meta_end..]).into_iter().enumerate() {
        let mut half = Half {
            script: title.script,
            title: title.text.to_owned(),
            paragraphs: Vec::new(),
            fields: if index == 0 { first_fields.clone() } else { Fields::default() },
            attachments: Vec::new(),
            missing: Vec::new(),
        };
        read_body(&body, &mut half, &mut halves, options, &mut dropped, &mut notices);
        halves.push(half);
    }
    if halves[0].paragraphs.is_empty() {
        return Err(error(meta_number, "the Chinese half has no paragraphs after the metadata line"));
    }
    dropped.sort_by_key(|d| d.line);
    Ok(PressRelease { published, metadata, halves, dropped, notices })
}

/// Reads a half's body lines into paragraphs, field lines and attachment blocks. A Chinese-keyed
/// field line (`（责任编辑：王五）`) is the CMS's, so it belongs to the first half (`earlier[0]`,
/// or `half` itself when it is the first) wherever it sits.
fn read_body(
    body: &[&Line<'_>],
    half: &mut Half,
    earlier: &mut [Half],
    options: &Options<'_>,
    dropped: &mut Vec<Dropped>,
    notices: &mut Vec<ParseError>,
) {
    let mut at = 0;
    let mut is_over_told = false;
    while at < body.len() {
        let line = body[at];
        let drop = |why: String| Dropped { line: line.number, text: line.text.to_owned(), why };
        if let Some(found) = meta::body_field(line.text) {
            let fields = match (found.is_cms, earlier.first_mut()) {
                (true, Some(first)) => &mut first.fields,
                _ => &mut half.fields,
            };
            let why = match found.kind {
                meta::FieldKind::Author => fill(&mut fields.author, found.value),
                meta::FieldKind::Source => fill(&mut fields.source, found.value),
                meta::FieldKind::Editor => fill(&mut fields.editor, found.value),
                meta::FieldKind::Date => match parse_date(found.value, line.number) {
                    Ok(date) => {
                        fields.date.get_or_insert(date);
                        "date"
                    }
                    Err(e) => {
                        notices.push(e);
                        "date (unreadable, ignored)"
                    }
                },
            };
            let why =
                if why.is_empty() { format!("field {}", found.key) } else { format!("field {} {why}", found.key) };
            dropped.push(drop(why));
            at += 1;
            continue;
        }
        if let Some(block) = attachments::read_block(&body[at..], options.has_file) {
            for item in &block.lines {
                let line = body[at + item.offset];
                let fresh: Vec<&String> = item.found.iter().filter(|n| !half.attachments.contains(n)).collect();
                let is_over = half.attachments.len() + fresh.len() > MAX_ATTACHMENTS;
                if is_over && !is_over_told {
                    is_over_told = true;
                    notices.push(error(
                        line.number,
                        format!("attachments: more than {MAX_ATTACHMENTS} in one half; the rest are kept as text"),
                    ));
                }
                if item.is_attachment && !is_over {
                    dropped.push(Dropped {
                        line: line.number,
                        text: line.text.to_owned(),
                        why: "attachment".to_owned(),
                    });
                } else {
                    half.paragraphs.push(line.text.to_owned());
                }
                for name in &item.missing {
                    half.missing.push(name.clone());
                    notices.push(error(line.number, attachments::refusal(name)));
                }
                if !is_over {
                    half.attachments.extend(fresh.into_iter().cloned());
                }
            }
            at += block.lines.len();
            continue;
        }
        half.paragraphs.push(line.text.to_owned());
        at += 1;
    }
}

/// Sets an empty field; says whether the line was used or a value was already there.
fn fill(field: &mut Option<String>, value: &str) -> &'static str {
    if value.is_empty() {
        return "(empty)";
    }
    match field {
        Some(_) => "(already set, ignored)",
        None => {
            *field = Some(value.to_owned());
            ""
        }
    }
}

/// A non-empty line, trimmed, with its 1-based number in the file.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    number: usize,
    text: &'a str,
}

fn error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError { line, message: message.into() }
}

/// Names the line where the metadata should have been: the one after the title.
fn missing_metadata(lines: &[Line<'_>]) -> ParseError {
    let title_at = lines.iter().position(|line| !is_breadcrumb(line.text)).unwrap_or(0);
    let number = match lines.get(title_at + 1) {
        Some(line) => line.number,
        None => lines[title_at].number + 1,
    };
    error(number, "no metadata line after the title (expected 时间: or 发布时间:)")
}

/// `您现在的位置:首页 > 工作动态`, `当前位置：首页 > 新闻`, `首页 » 通知公告`.
fn is_breadcrumb(text: &str) -> bool {
    const PREFIXES: [&str; 6] = ["您现在的位置", "您当前的位置", "您的位置", "当前位置", "所在位置", "现在位置"];
    PREFIXES.iter().any(|prefix| text.starts_with(prefix))
        || (text.contains("首页") && text.contains(['>', '＞', '»', '›', '→']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::decode::decode_text;

    const REAL: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/press-release-2022-10-11.txt");
    const FULLWIDTH_COLONS: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/fullwidth-colons.txt");
    const CHINESE_DATE: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/chinese-date.txt");
    const ZH_ONLY: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/zh-only.txt");
    const CRLF_BOM: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/crlf-bom.txt");
    const GB18030_FILE: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/gb18030.txt");
    const NO_DATE_FILE: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/broken-no-date.txt");
    const THREE_HALVES: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/three-halves.txt");
    const GB18030_CYRILLIC: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/gb18030-cyrillic.txt");
    const EXAMPLE: &[u8] = include_bytes!("../../../articles/press-release-2022-10-11.txt");
    const IMPOSSIBLE_DATE: &[u8] = include_bytes!("../../../tests/fixtures/press-releases/broken-impossible-date.txt");

    fn parse_fixture(bytes: &[u8]) -> Result<PressRelease, ParseError> {
        parse(&decode_text(bytes).expect("fixture decodes"))
    }

    fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("valid test date")
    }

    fn ymd_hms(date: (i32, u32, u32), hour: u32, minute: u32, second: u32) -> PressDate {
        let (year, month, day) = date;
        PressDate::DateTime(ymd(year, month, day).and_hms_opt(hour, minute, second).expect("valid test time"))
    }

    fn published(value: &str) -> Result<PressDate, ParseError> {
        parse(&format!("标题\n时间：{value}\n正文。")).map(|release| release.published)
    }

    #[test]
    fn parses_real_file_with_breadcrumb_and_english_half() {
        let release = parse_fixture(REAL).unwrap();
        assert_eq!(release.published, PressDate::Date(ymd(2022, 10, 11)));
        assert_eq!(release.halves[0].fields.author, None);
        assert_eq!(release.halves[0].fields.source.as_deref(), Some("本站原创"));
        assert_eq!(release.halves[0].title, "市政府外办携手俄领馆推动辽中区“中俄(沈阳)经贸合作产业园”建设");
        assert_eq!(release.halves[0].paragraphs.len(), 4);
        let first = &release.halves[0].paragraphs[0];
        assert!(first.starts_with("10月10日,市政府外办与俄罗斯驻沈阳总领事馆赴辽中区实地考察调研。"));
        assert!(first.ends_with("“中俄(沈阳)经贸合作产业园”进行了充分交流。"));
        let last = &release.halves[0].paragraphs[3];
        assert!(last.starts_with("陈双伟表示,沈阳市委、市政府高度重视对俄交流合作,"));
        assert!(last.ends_with("为沈阳建设国家中心城市,打造东北亚对外开放新高地贡献外事力量。"));

        let en = release.halves.get(1).expect("english half");
        assert_eq!(
            en.title,
            "Shenyang Foreign Affairs Office Works Together with Russian Consulate-General in \
             Shenyang to Support Liaozhong District in Developing China-Russia (Shenyang) \
             Economic and Trade Cooperation Industrial Park"
        );
        assert_eq!(en.paragraphs.len(), 4);
        // The file ends this paragraph with U+2002 EN SPACE, which trimming removes.
        assert!(en.paragraphs[0].starts_with("The Foreign Affairs Office of Shenyang Municipal"));
        assert!(en.paragraphs[0].ends_with("Economic and Trade Cooperation Industrial Park."));
        assert!(en.paragraphs[3].starts_with("Chen Shuangwei noted that the CPC Shenyang"));
        assert!(en.paragraphs[3].ends_with("exploring new horizons of opening-up."));
    }

    #[test]
    fn reads_fullwidth_colons_ideographic_spaces_and_datetime() {
        let release = parse_fixture(FULLWIDTH_COLONS).unwrap();
        assert_eq!(release.published, ymd_hms((2023, 5, 8), 9, 30, 0));
        assert_eq!(release.halves[0].fields.author.as_deref(), Some("李明"));
        assert_eq!(release.halves[0].fields.source.as_deref(), Some("沈阳市人民政府外事办公室"));
        assert_eq!(release.halves[0].title, "市外办召开2023年对外交流工作会议");
        assert_eq!(
            release.halves[0].paragraphs,
            [
                "5月8日，市外办召开2023年对外交流工作会议，总结去年工作并部署今年任务。",
                "会议强调，要做好“请进来”与“走出去”两篇文章，推动<b>友城</b>合作提质增效 & 扩大对外开放。",
                "会议要求各处室抓好落实，确保各项任务按期完成。]]>",
            ]
        );
        let en = release.halves.get(1).expect("english half");
        assert_eq!(en.title, "Shenyang Foreign Affairs Office Holds 2023 Work Conference on International Exchanges");
        assert_eq!(
            en.paragraphs,
            [
                "On May 8, the Shenyang Foreign Affairs Office held its 2023 work conference on international exchanges.",
                "The meeting called for <b>sister-city</b> cooperation & wider opening-up ]]> to deliver results.",
            ]
        );
    }

    #[test]
    fn reads_chinese_date_with_time_and_skips_empty_fields() {
        let release = parse_fixture(CHINESE_DATE).unwrap();
        assert_eq!(release.published, ymd_hms((2023, 5, 8), 9, 30, 0));
        // 撰稿人 and 来源 are empty, so 作者 and 供稿部门 stand in.
        assert_eq!(release.halves[0].fields.author.as_deref(), Some("张伟"));
        assert_eq!(release.halves[0].fields.source.as_deref(), Some("市外办"));
        assert_eq!(release.halves[0].title, "沈阳市与日本川崎市举行友好城市缔结四十周年线上交流活动");
        assert_eq!(release.halves[0].paragraphs.len(), 2);
        assert_eq!(release.halves[0].paragraphs[1], "双方回顾了四十年来的友好交往历程，并就下一步合作交换了意见。");
        let en = release.halves.get(1).expect("english half");
        assert_eq!(en.title, "Shenyang and Kawasaki Mark 40 Years of Sister-City Ties Online");
        assert_eq!(en.paragraphs.len(), 1);
    }

    #[test]
    fn parses_file_with_only_a_chinese_half() {
        let release = parse_fixture(ZH_ONLY).unwrap();
        assert_eq!(release.published, PressDate::Date(ymd(2023, 5, 8)));
        assert_eq!(release.halves[0].fields.author, None);
        assert_eq!(release.halves[0].fields.source.as_deref(), Some("本站"));
        assert_eq!(release.halves[0].title, "关于2023年因公出国（境）团组信息公开的通知");
        assert_eq!(
            release.halves[0].paragraphs,
            [
                "根据有关规定，现将2023年第一季度因公出国（境）团组信息予以公开。",
                "如有意见，请于5月15日前反馈至市外办办公室。",
            ]
        );
        assert_eq!(release.halves.len(), 1);
    }

    #[test]
    fn parses_crlf_file_with_bom_after_decoding() {
        let release = parse_fixture(CRLF_BOM).unwrap();
        assert_eq!(release.published, PressDate::Date(ymd(2023, 6, 1)));
        assert_eq!(release.halves[0].fields.author.as_deref(), Some("赵六"));
        assert_eq!(release.halves[0].fields.source.as_deref(), Some("本站原创"));
        assert_eq!(release.halves[0].title, "市外办赴苏家屯区调研外资企业");
        assert_eq!(release.halves[0].paragraphs.len(), 2);
        let en = release.halves.get(1).expect("english half");
        assert_eq!(en.title, "Shenyang Foreign Affairs Office Visits Foreign-Funded Enterprises in Sujiatun District");
        assert_eq!(
            en.paragraphs.last().map(String::as_str),
            Some("The office pledged to keep improving the business environment for foreign investors.")
        );
    }

    #[test]
    fn parses_gb18030_file_after_decoding() {
        let release = parse_fixture(GB18030_FILE).unwrap();
        assert_eq!(release.published, PressDate::Date(ymd(2023, 7, 12)));
        assert_eq!(release.halves[0].fields.author.as_deref(), Some("刘洋"));
        assert_eq!(release.halves[0].title, "市外办接待日本川崎市友好交流代表团");
        assert_eq!(
            release.halves[0].paragraphs.last().map(String::as_str),
            Some("代表团团长𠮷田一郎表示，愿进一步深化两市友好关系。")
        );
        let en = release.halves.get(1).expect("english half");
        assert_eq!(en.title, "Shenyang Foreign Affairs Office Receives Friendship Delegation from Kawasaki");
        assert_eq!(en.paragraphs.len(), 1);
    }

    #[test]
    fn rejects_missing_date_naming_the_line() {
        let error = parse_fixture(NO_DATE_FILE).unwrap_err();
        assert_eq!(error.to_string(), "line 3: no date in the metadata line (expected 时间: or 发布时间:)");
    }

    #[test]
    fn rejects_impossible_date_naming_the_line() {
        let error = parse_fixture(IMPOSSIBLE_DATE).unwrap_err();
        assert_eq!(error.to_string(), "line 3: impossible date '2023-02-30'");
        let error = parse("\n标题\n发布时间：2023年2月29日\n正文。").unwrap_err();
        assert_eq!(error.to_string(), "line 3: impossible date '2023年2月29日'");
    }

    #[test]
    fn rejects_empty_file() {
        for text in ["", "\n\n", " \u{3000}\n\u{a0}\n"] {
            assert_eq!(parse(text).unwrap_err().to_string(), "line 1: empty file");
        }
    }

    #[test]
    fn rejects_metadata_line_in_place_of_the_title() {
        let error = parse("时间：2023-05-08\n正文。").unwrap_err();
        assert_eq!(error.to_string(), "line 1: no title before the metadata line");
        let error = parse("您现在的位置：首页 > 工作动态\n\n时间：2023-05-08\n正文。").unwrap_err();
        assert_eq!(error.to_string(), "line 3: no title before the metadata line");
    }

    #[test]
    fn rejects_file_without_metadata_line_naming_where_it_was_expected() {
        let error = parse("您现在的位置：首页 > 工作动态\n标题\n\n正文一。\n正文二。").unwrap_err();
        assert_eq!(error.to_string(), "line 4: no metadata line after the title (expected 时间: or 发布时间:)");
        // 时间 inside a title is not a metadata key: it has no colon.
        assert!(parse("关于调整办公时间的通知\n\n正文。").is_err());
    }

    #[test]
    fn rejects_chinese_half_without_paragraphs() {
        let message = "line 2: the Chinese half has no paragraphs after the metadata line";
        let error = parse("标题\n时间：2023-05-08\n").unwrap_err();
        assert_eq!(error.to_string(), message);
        let error = parse("标题\n时间：2023-05-08\n\nEnglish Title Here\nBody text.").unwrap_err();
        assert_eq!(error.to_string(), message);
    }

    #[test]
    fn reads_the_date_formats_sites_produce() {
        let day = PressDate::Date(ymd(2023, 5, 8));
        assert_eq!(published("2023-05-08").unwrap(), day);
        assert_eq!(published("2023/5/8").unwrap(), day);
        assert_eq!(published("2023.05.08").unwrap(), day);
        assert_eq!(published("2023年5月8日").unwrap(), day);
        assert_eq!(published(" 2023-05-08 星期一").unwrap(), day);
        let morning = ymd_hms((2023, 5, 8), 9, 30, 0);
        assert_eq!(published("2023年05月08日 09:30").unwrap(), morning);
        assert_eq!(published("2023年5月8日9:30").unwrap(), morning);
        assert_eq!(published("2023-05-08 09:30:00").unwrap(), morning);
        assert_eq!(published("2023-05-08T09:30:00").unwrap(), morning);
        assert_eq!(published("2023-05-08\u{3000}09：30：00").unwrap(), morning);
        assert_eq!(published("2023-05-08 23:59:59").unwrap(), ymd_hms((2023, 5, 8), 23, 59, 59));
    }

    #[test]
    fn rejects_unreadable_dates_and_impossible_times() {
        let error = published("昨天").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 2: unreadable date '昨天' (expected e.g. 2023-05-08, 2023/5/8 or 2023年5月8日)"
        );
        assert!(published("23-05-08").is_err());
        assert!(published("2023-05/08").is_err());
        assert!(published("2023-05-088").is_err());
        assert_eq!(published("2023-05-08 25:00").unwrap_err().to_string(), "line 2: impossible time '25:00'");
    }

    #[test]
    fn reads_fields_glued_together_or_on_two_lines() {
        let release = parse("标题\n时间:2022-10-11撰稿人:王五供稿部门:本站原创\n正文。").unwrap();
        assert_eq!(release.halves[0].fields.author.as_deref(), Some("王五"));
        assert_eq!(release.halves[0].fields.source.as_deref(), Some("本站原创"));
        let release = parse("标题\n发布时间：2023-05-08\n来源：新华社\n正文。").unwrap();
        assert_eq!(release.published, PressDate::Date(ymd(2023, 5, 8)));
        assert_eq!(release.halves[0].fields.source.as_deref(), Some("新华社"));
        assert_eq!(release.halves[0].paragraphs, ["正文。"]);
        let error = parse("标题\n来源：新华社\n时间：2023-02-30\n正文。").unwrap_err();
        assert_eq!(error.to_string(), "line 3: impossible date '2023-02-30'");
    }

    #[test]
    fn keeps_a_first_paragraph_that_starts_like_a_field() {
        let release = parse("标题\n来源：本站 时间：2023-05-08\n时间：5月8日上午。地点：市政府。").unwrap();
        assert_eq!(release.halves[0].paragraphs, ["时间：5月8日上午。地点：市政府。"]);
    }

    #[test]
    fn ignores_unknown_fields_and_separators() {
        let release =
            parse("标题\n【分享到：微信 | 发布时间：2023-05-08 | 作者：张三 李四 | 字号：大 中 小】\n正文。").unwrap();
        assert_eq!(release.published, PressDate::Date(ymd(2023, 5, 8)));
        assert_eq!(release.halves[0].fields.author.as_deref(), Some("张三 李四"));
        assert_eq!(release.halves[0].fields.source, None);
        let release = parse("标题\n信息来源：市外办 发布时间：2023-05-08 点击数：12\n正文。").unwrap();
        assert_eq!(release.halves[0].fields.source.as_deref(), Some("市外办"));
    }

    #[test]
    fn keeps_latin_lines_inside_the_chinese_half() {
        let release = parse(
            "标题\n时间：2023-05-08\n正文。\nhttp://wsb.shenyang.gov.cn\nAPEC 商务旅行卡办理指南\n\nEnglish Title\nText.",
        )
        .unwrap();
        assert_eq!(release.halves[0].paragraphs.len(), 3);
        let en = release.halves.get(1).expect("english half");
        assert_eq!(en.title, "English Title");
        assert_eq!(en.paragraphs, ["Text."]);
    }

    #[test]
    fn keeps_an_english_title_without_paragraphs() {
        let release = parse("标题\n时间：2023-05-08\n正文。\nEnglish Title Only").unwrap();
        let en = release.halves.get(1).expect("english half");
        assert_eq!(en.title, "English Title Only");
        assert!(en.paragraphs.is_empty());
    }

    fn scripts(release: &PressRelease) -> Vec<String> {
        release.halves.iter().map(|half| half.script.map(|s| s.to_string()).unwrap_or_default()).collect()
    }

    #[test]
    fn splits_chinese_english_and_russian_halves_by_script() {
        let release = parse_fixture(THREE_HALVES).unwrap();
        assert_eq!(scripts(&release), ["Hani", "Latn", "Cyrl"]);
        assert_eq!(release.halves[0].title, "市外办举办中俄经贸合作对接会");
        assert_eq!(
            release.halves[1].title,
            "Shenyang Foreign Affairs Office Hosts China-Russia Business Matchmaking Meeting"
        );
        assert_eq!(
            release.halves[2].title,
            "Канцелярия по иностранным делам г. Шэньян провела российско-китайскую встречу деловых партнёров"
        );
        assert_eq!(release.halves.iter().map(|h| h.paragraphs.len()).collect::<Vec<_>>(), [2, 2, 2]);
    }

    #[test]
    fn example_press_release_has_a_russian_half_as_long_as_the_english_one() {
        let release = parse_fixture(EXAMPLE).unwrap();
        assert_eq!(scripts(&release), ["Hani", "Latn", "Cyrl"]);
        assert_eq!(release.halves[2].paragraphs.len(), 4);
        assert!(release.halves[2].paragraphs[0].starts_with("10 октября Канцелярия по иностранным делам"));
    }

    #[test]
    fn decodes_gb18030_file_with_a_cyrillic_half() {
        let release = parse_fixture(GB18030_CYRILLIC).unwrap();
        assert_eq!(scripts(&release), ["Hani", "Cyrl"]);
        let ru = &release.halves[1];
        assert_eq!(ru.title, "Генеральное консульство России в Шэньяне открыло Неделю русского языка и культуры");
        assert!(ru.paragraphs[0].ends_with("Ёлка, щи и «Катюша» — всё это было в программе."), "{:?}", ru.paragraphs);
    }

    #[test]
    fn keeps_lines_in_a_script_already_seen_inside_the_current_half() {
        let release =
            parse("标题\n时间：2023-05-08\n正文。\nEnglish Title\nText.\nЗаголовок на русском языке\nShenyang Foreign Affairs Office\n沈阳市 外事 办公室\n")
                .unwrap();
        assert_eq!(scripts(&release), ["Hani", "Latn", "Cyrl"]);
        assert_eq!(release.halves[2].paragraphs, ["Shenyang Foreign Affairs Office", "沈阳市 外事 办公室"]);
    }

    #[test]
    fn a_later_half_keeps_its_own_fields_and_chinese_field_lines_go_to_the_first() {
        let release = parse(
            "标题\n时间：2024-05-06 作者：李华\n正文。\n（责任编辑：周宁）\nEnglish Title Here\nSource: Xinhua\nDate: 2024-05-07\nText.\n（责任编辑：王五）",
        )
        .unwrap();
        let (zh, en) = (&release.halves[0], &release.halves[1]);
        assert_eq!(zh.fields.editor.as_deref(), Some("周宁"));
        assert_eq!(zh.paragraphs, ["正文。"]);
        assert_eq!(en.fields.source.as_deref(), Some("Xinhua"));
        assert_eq!(en.fields.author, None);
        assert_eq!(en.fields.date, Some(PressDate::Date(ymd(2024, 5, 7))));
        assert_eq!(en.paragraphs, ["Text."]);
    }

    #[test]
    fn summary_skips_salutations_and_datelines() {
        let release = parse("通知\n时间：2024-05-06\n各有关单位：\n2024年5月6日\n正文第一段。\n").unwrap();
        assert_eq!(release.halves[0].summary_paragraph(), Some("正文第一段。"));
        assert_eq!(release.halves[0].paragraphs.len(), 3);
    }

    #[test]
    fn attachment_names_that_leave_the_folder_or_are_missing_stay_text() {
        let has_file = |name: &str| name == "回执.docx";
        let options = Options { chrome: Chrome::defaults(), has_file: &has_file };
        let text =
            "通知\n时间：2024-05-06\n正文。\n附件：1.回执.docx 2.缺.pdf\n附件：../../etc/passwd\n附件：\n1.回执.docx\n";
        let release = parse_with(text, &options).unwrap();
        let half = &release.halves[0];
        assert_eq!(half.attachments, ["回执.docx"]);
        assert_eq!(half.paragraphs, ["正文。", "附件：1.回执.docx 2.缺.pdf", "附件：../../etc/passwd"]);
        let notices: Vec<String> = release.notices.iter().map(ToString::to_string).collect();
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(notices[1].starts_with("line 5: attachment '../../etc/passwd'"));
    }

    #[test]
    fn a_runaway_block_publishes_the_first_hundred_names_and_keeps_the_rest_as_text() {
        let options = Options { chrome: Chrome::defaults(), has_file: &|_| true };
        let mut text = "通知\n时间：2024-05-06\n正文。\nAttachments:\n".to_owned();
        for i in 0..150 {
            text.push_str(&format!("f{i:03}.pdf\n"));
        }
        let release = parse_with(&text, &options).unwrap();
        let half = &release.halves[0];
        assert_eq!(half.attachments.len(), MAX_ATTACHMENTS);
        assert_eq!(half.attachments.last().map(String::as_str), Some("f099.pdf"));
        assert_eq!(half.paragraphs.len(), 1 + 50, "{:?}", half.paragraphs);
        assert_eq!(half.paragraphs[1], "f100.pdf");
        let notices: Vec<String> = release.notices.iter().map(ToString::to_string).collect();
        assert_eq!(notices, ["line 105: attachments: more than 100 in one half; the rest are kept as text"]);
    }
}
