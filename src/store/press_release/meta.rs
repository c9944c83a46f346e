//! The metadata a press release carries: the CMS's Chinese-keyed fields (时间/来源/撰稿人/
//! 责任编辑…) on the metadata line or as lines of the body (`（责任编辑：王五）`), a later
//! half's own `Source:` / `Author:` / `Date:` lines, and the dates they hold. Also what is not
//! body text for a summary: salutations and datelines.

use super::{ParseError, PressDate, error};
use chrono::{NaiveDate, NaiveTime};

/// Metadata keys as written → the key they count as; longest first so that 发布时间 is not
/// read as 时间 after 发布.
pub(super) const KEYS: [(&str, &str); 16] = [
    ("发布时间", "发布时间"),
    ("发布日期", "发布日期"),
    ("信息来源", "来源"),
    ("文章来源", "来源"),
    ("供稿部门", "供稿部门"),
    ("浏览次数", "浏览次数"),
    ("责任编辑", "编辑"),
    ("撰稿人", "撰稿人"),
    ("点击数", "点击"),
    ("时间", "时间"),
    ("日期", "日期"),
    ("来源", "来源"),
    ("作者", "作者"),
    ("编辑", "编辑"),
    ("点击", "点击"),
    ("浏览", "浏览次数"),
];

/// The keys whose value is the publication date, in order of preference.
pub(super) const DATE_KEYS: [&str; 4] = ["发布时间", "时间", "发布日期", "日期"];

/// One `key:value` of the metadata line; `key` is `None` for keys we do not use (字号, 分享…).
pub(super) struct Field<'a> {
    pub(super) key: Option<&'static str>,
    pub(super) value: &'a str,
    pub(super) line: usize,
}

/// The first field with `key` and a value: sites leave fields empty (`撰稿人: 供稿部门:…`).
pub(super) fn field_of<'f, 'a>(fields: &'f [Field<'a>], key: &str) -> Option<&'f Field<'a>> {
    fields.iter().find(|field| field.key == Some(key) && !field.value.is_empty())
}

/// A metadata line starts with a field (`时间:`, `来源：`, `字号：`…) and has a key we know,
/// so a title such as `关于调整办公时间的通知` is never taken for one.
pub(super) fn is_metadata_line(text: &str) -> bool {
    let text = text.trim_start_matches(is_field_separator);
    let fields = scan_fields(text, 0);
    let starts_with_field = key_at(text).is_some();
    starts_with_field && fields.iter().any(|field| field.key.is_some())
}

fn is_field_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '|' | '｜' | '丨' | '【' | '】' | '[' | ']')
}

/// Splits a metadata line into fields. Values may hold spaces (`2023-05-08 09:30:00`,
/// `张三 李四`), so a field ends only where the next key begins; known keys are found even
/// when glued to the previous value (`2022-10-11撰稿人:`), unknown ones only after a space.
pub(super) fn scan_fields(text: &str, line: usize) -> Vec<Field<'_>> {
    // (where the key starts, where its value starts, the key)
    let mut starts: Vec<(usize, usize, Option<&'static str>)> = Vec::new();
    let mut at = 0;
    let mut after_separator = true;
    while let Some(c) = text[at..].chars().next() {
        let found = match known_key_at(&text[at..]) {
            Some((key, length)) => Some((Some(key), length)),
            None if after_separator => unknown_key_at(&text[at..]).map(|length| (None, length)),
            None => None,
        };
        if let Some((key, length)) = found {
            starts.push((at, at + length, key));
            at += length;
            after_separator = true;
        } else {
            at += c.len_utf8();
            after_separator = is_field_separator(c);
        }
    }
    let ends = starts.iter().skip(1).map(|start| start.0).chain([text.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&(_, value_start, key), end)| Field {
            key,
            value: text[value_start..end].trim_matches(is_field_separator),
            line,
        })
        .collect()
}

/// Length of a key and its colon at the start of `text`, known or not.
fn key_at(text: &str) -> Option<usize> {
    known_key_at(text).map(|(_, length)| length).or_else(|| unknown_key_at(text))
}

/// The key (as it counts) and the length of it and its colon at the start of `text`.
pub(super) fn known_key_at(text: &str) -> Option<(&'static str, usize)> {
    KEYS.iter().find_map(|&(written, key)| {
        let after = text.strip_prefix(written)?;
        Some((key, written.len() + colon_length(after)?))
    })
}

/// An unknown key is one to six Han characters and a colon (`字号：`, `分享到：`), unless a
/// known key starts inside them: in `王五供稿部门:` the key is 供稿部门 and 王五 a value.
fn unknown_key_at(text: &str) -> Option<usize> {
    let mut length = 0;
    for (count, c) in text.chars().take_while(|&c| is_han(c)).enumerate() {
        if count == 6 || (count > 0 && known_key_at(&text[length..]).is_some()) {
            return None;
        }
        length += c.len_utf8();
    }
    if length == 0 {
        return None;
    }
    Some(length + colon_length(&text[length..])?)
}

/// Length of an ASCII or full-width colon at the start of `text`, spaces before it included.
fn colon_length(text: &str) -> Option<usize> {
    let after = text.trim_start().strip_prefix([':', '：'])?;
    Some(text.len() - after.len())
}

pub(super) fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}')
}

/// Reads `2023-05-08`, `2023/5/8`, `2023.5.8`, `2023年5月8日`, each optionally followed by a
/// time `09:30`, `09:30:00` or `T09:30:00`; text after that (`星期一`) is ignored.
pub(super) fn parse_date(value: &str, line: usize) -> Result<PressDate, ParseError> {
    let unreadable =
        || error(line, format!("unreadable date '{value}' (expected e.g. 2023-05-08, 2023/5/8 or 2023年5月8日)"));
    let mut cursor = Cursor { rest: value };
    let year = cursor.number(4, 4).ok_or_else(unreadable)?;
    let separator = cursor.one_of(&['-', '/', '.', '年']).ok_or_else(unreadable)?;
    let month = cursor.number(1, 2).ok_or_else(unreadable)?;
    let second_separator = if separator == '年' { '月' } else { separator };
    cursor.one_of(&[second_separator]).ok_or_else(unreadable)?;
    let day = cursor.number(1, 2).ok_or_else(unreadable)?;
    if separator == '年' {
        cursor.one_of(&['日', '号']);
    }
    let date_text = &value[..value.len() - cursor.rest.len()];
    let year = i32::try_from(year).map_err(|_| unreadable())?;
    let date = NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| error(line, format!("impossible date '{date_text}'")))?;

    cursor.rest = cursor.rest.trim_start();
    cursor.rest = cursor.rest.strip_prefix('T').unwrap_or(cursor.rest);
    if !cursor.rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(PressDate::Date(date));
    }
    let time_start = cursor.rest;
    let hour = cursor.number(1, 2).ok_or_else(unreadable)?;
    cursor.one_of(&[':', '：']).ok_or_else(unreadable)?;
    let minute = cursor.number(2, 2).ok_or_else(unreadable)?;
    let second = match cursor.one_of(&[':', '：']) {
        Some(_) => cursor.number(2, 2).ok_or_else(unreadable)?,
        None => 0,
    };
    if cursor.rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(unreadable());
    }
    let time_text = &time_start[..time_start.len() - cursor.rest.len()];
    let time = NaiveTime::from_hms_opt(hour, minute, second)
        .ok_or_else(|| error(line, format!("impossible time '{time_text}'")))?;
    Ok(PressDate::DateTime(date.and_time(time)))
}

/// Consumes a date string from the front.
struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    /// Takes `min..=max` ASCII digits, and fails if more digits follow.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let length = self.rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(self.rest.len());
        if length < min || length > max {
            return None;
        }
        let (digits, rest) = self.rest.split_at(length);
        self.rest = rest;
        digits.parse().ok()
    }

    fn one_of(&mut self, chars: &[char]) -> Option<char> {
        let c = self.rest.chars().next().filter(|c| chars.contains(c))?;
        self.rest = &self.rest[c.len_utf8()..];
        Some(c)
    }
}

/// What a field line of the body says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldKind {
    Author,
    Source,
    Editor,
    Date,
}

/// A field line of the body: `（责任编辑：王五）`, `来源：新华社`, `Source: Xinhua`.
pub(super) struct BodyField<'a> {
    /// The key as it counts (`编辑`) or as written (`Source`).
    pub(super) key: &'a str,
    pub(super) kind: FieldKind,
    pub(super) value: &'a str,
    /// Keyed in the CMS's Chinese, so the first half's wherever it sits.
    pub(super) is_cms: bool,
}

/// Keys of a later half's own field lines, lowercase. Words of the languages' own, as data: a
/// language whose key is missing here keeps such a line as a paragraph.
const HALF_KEYS: [(&str, FieldKind); 12] = [
    ("source", FieldKind::Source),
    ("author", FieldKind::Author),
    ("editor", FieldKind::Editor),
    ("date", FieldKind::Date),
    ("written by", FieldKind::Author),
    ("edited by", FieldKind::Editor),
    ("источник", FieldKind::Source),
    ("автор", FieldKind::Author),
    ("редактор", FieldKind::Editor),
    ("дата", FieldKind::Date),
    ("出典", FieldKind::Source),
    ("출처", FieldKind::Source),
];

/// Longest field line taken for one; anything longer is a paragraph that starts like one.
const MAX_FIELD_LINE: usize = 80;

/// Reads a body line that is a field and nothing else, in brackets or not; a line with a full
/// stop, or longer than a field line gets, stays a paragraph. Date keys count only in a later
/// half's own keys: `时间：5月8日上午。` in the Chinese body is text.
pub(super) fn body_field(text: &str) -> Option<BodyField<'_>> {
    let inner = text.trim_matches(|c| matches!(c, '（' | '）' | '(' | ')' | '【' | '】' | '[' | ']')).trim();
    if inner.chars().count() > MAX_FIELD_LINE || inner.contains('。') {
        return None;
    }
    if let Some((key, length)) = known_key_at(inner) {
        let kind = match key {
            "撰稿人" | "作者" => FieldKind::Author,
            "来源" | "供稿部门" => FieldKind::Source,
            "编辑" => FieldKind::Editor,
            _ => return None,
        };
        let value = inner[length..].trim_matches(is_field_separator);
        return Some(BodyField { key, kind, value, is_cms: true });
    }
    let colon = inner.find([':', '：'])?;
    let (key, rest) = inner.split_at(colon);
    let key = key.trim();
    let kind = HALF_KEYS.iter().find(|(k, _)| key.to_lowercase() == *k).map(|&(_, kind)| kind)?;
    let value = rest.trim_start_matches([':', '：']).trim();
    if value.is_empty() || value.ends_with(['.', '!', '?']) && value.split_whitespace().count() > 8 {
        return None;
    }
    Some(BodyField { key, kind, value, is_cms: false })
}

/// Does the line carry the publication date (a metadata line with 时间/发布时间…)? Such a
/// line is never dropped as chrome; chrome on it is cut from the values instead.
pub(super) fn has_date_field(text: &str) -> bool {
    is_metadata_line(text) && scan_fields(text, 0).iter().any(|f| f.key.is_some_and(|k| DATE_KEYS.contains(&k)))
}

/// `各有关单位：`, `尊敬的合作伙伴：`, `Dear partners:`: short, and ending in a colon.
pub(super) fn is_salutation(text: &str) -> bool {
    text.ends_with([':', '：']) && text.chars().count() <= 40 && !text.contains('。')
}

/// A line that only says where and when: `2023年5月8日`, `新华社北京5月8日电`, `（记者 张三）`,
/// `SHENYANG, May 8 --`.
pub(super) fn is_dateline(text: &str) -> bool {
    let short = text.chars().count() <= 30;
    let date_only = parse_date(text, 0).is_ok() && text.chars().filter(|c| c.is_alphabetic()).count() <= 4;
    let wire = short && (text.ends_with('电') || text.starts_with("（记者") || text.starts_with("(记者"));
    let english = text.chars().count() <= 60 && (text.ends_with("--") || text.ends_with('—') || text.ends_with('–'));
    date_only || wire || english
}
