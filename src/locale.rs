//! What CLDR knows about a configured language, through ICU4X's compiled data, so that adding a
//! language takes config and strings and no code: its script and direction (read when the
//! config loads), how it writes a date and which plural form a count takes ([`Formats`], built
//! once per language by the renderer), and which script a piece of text is written in.

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use icu_datetime::fieldsets::enums::DateFieldSet;
use icu_datetime::fieldsets::{self, YMDT};
use icu_datetime::input::{Date, DateTime, Time};
use icu_datetime::options::TimePrecision;
use icu_datetime::{DateTimeFormatter, DateTimeFormatterPreferences};
use icu_locale::subtags::Script;
use icu_locale::{Direction, Locale, LocaleDirectionality, LocaleExpander, TransformResult};
use icu_plurals::{PluralCategory, PluralRules};
use icu_properties::props::Script as ScriptProperty;
use icu_properties::{CodePointMapData, PropertyNamesShort};

/// What a language's CLDR locale says about its writing, read when the config loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writing {
    /// The CLDR locale dates and plural forms come from (`[languages.x] locale`, else the code).
    pub locale: Locale,
    /// The writing system of its text, as [`script_of`] names it (`Hani` for Chinese in either
    /// form, `Jpan`, `Kore`, `Cyrl`, `Latn`, …).
    pub script: Script,
    /// Written right to left (Arabic, Hebrew, Persian).
    pub is_rtl: bool,
}

impl Writing {
    /// Reads `tag` (a BCP 47 language tag) against CLDR: a tag CLDR knows nothing about is
    /// refused, since its dates, plural forms and script would all be guesses.
    pub fn of(tag: &str) -> Result<Writing> {
        let locale: Locale = tag.parse().with_context(|| format!("'{tag}' is not a BCP 47 language tag"))?;
        let mut full = locale.id.clone();
        if LocaleExpander::new_common().maximize(&mut full) == TransformResult::Unmodified && full.script.is_none() {
            bail!("'{tag}' is not a language CLDR has data for");
        }
        let script = full.script.map(writing_system).with_context(|| format!("CLDR gives '{tag}' no script"))?;
        let is_rtl = LocaleDirectionality::new_common().get(&full) == Some(Direction::RightToLeft);
        Ok(Writing { locale, script, is_rtl })
    }
}

/// The writing system `script` belongs to: Simplified and Traditional Han are one (a text in
/// either is told apart by no character count), Japanese and Korean stay the mixed scripts
/// their texts are written in.
fn writing_system(script: Script) -> Script {
    match script.as_str() {
        "Hans" | "Hant" => han(),
        _ => script,
    }
}

fn han() -> Script {
    Script::try_from_str("Hani").unwrap_or_else(|_| unreachable!("'Hani' is a script subtag"))
}

/// The writing system most of the letters of `text` are in (digits, punctuation and spaces
/// count for none), or `None` when it has no letters. Han text with kana is Japanese (`Jpan`),
/// Han text with Hangul is Korean (`Kore`).
pub fn script_of(text: &str) -> Option<Script> {
    let map = CodePointMapData::<ScriptProperty>::new();
    let names = PropertyNamesShort::<ScriptProperty>::new();
    let mut counts: Vec<(ScriptProperty, usize)> = Vec::new();
    for c in text.chars() {
        let script = map.get(c);
        if matches!(script, ScriptProperty::Common | ScriptProperty::Inherited | ScriptProperty::Unknown) {
            continue;
        }
        match counts.iter_mut().find(|(s, _)| *s == script) {
            Some((_, n)) => *n += 1,
            None => counts.push((script, 1)),
        }
    }
    let count = |script| counts.iter().find(|(s, _)| *s == script).map_or(0, |(_, n)| *n);
    let kana = count(ScriptProperty::Hiragana) + count(ScriptProperty::Katakana);
    let hangul = count(ScriptProperty::Hangul);
    let han_count = count(ScriptProperty::Han);
    let (top, top_count) = counts.iter().copied().max_by_key(|&(_, n)| n)?;
    let tag = |name: &str| Script::try_from_str(name).ok();
    if kana > 0 && kana + han_count >= top_count {
        return tag("Jpan");
    }
    if hangul > 0 && hangul + han_count >= top_count {
        return tag("Kore");
    }
    names.get_locale_script(top).map(writing_system)
}

/// How a date is written: CLDR's lengths (`full` names the weekday too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `2026年4月16日星期四`, `четверг, 16 апреля 2026 г.`
    Full,
    /// `2026年4月16日`, `16 апреля 2026 г.`, `16 April 2026` (en-GB); CLDR puts a narrow
    /// no-break space (U+202F) before `г.`
    Long,
    /// `2026年4月16日`, `16 апр. 2026 г.`, `16 Apr 2026`
    Medium,
    /// `2026/4/16`, `16.04.2026`, `16/04/2026`
    Short,
}

impl DateStyle {
    /// Reads `full`, `long`, `medium` or `short`.
    pub fn parse(text: &str) -> Option<DateStyle> {
        Some(match text {
            "full" => DateStyle::Full,
            "long" => DateStyle::Long,
            "medium" => DateStyle::Medium,
            "short" => DateStyle::Short,
            _ => return None,
        })
    }

    fn field_set(self) -> DateFieldSet {
        match self {
            DateStyle::Full => DateFieldSet::YMDE(fieldsets::YMDE::long()),
            DateStyle::Long => DateFieldSet::YMD(fieldsets::YMD::long()),
            DateStyle::Medium => DateFieldSet::YMD(fieldsets::YMD::medium()),
            DateStyle::Short => DateFieldSet::YMD(fieldsets::YMD::short()),
        }
    }
}

/// The CLDR plural categories by the names strings tables use for them.
pub const PLURAL_CATEGORIES: [(&str, PluralCategory); 6] = [
    ("zero", PluralCategory::Zero),
    ("one", PluralCategory::One),
    ("two", PluralCategory::Two),
    ("few", PluralCategory::Few),
    ("many", PluralCategory::Many),
    ("other", PluralCategory::Other),
];

/// The name of `category` in strings tables (`few`).
pub fn category_name(category: PluralCategory) -> &'static str {
    PLURAL_CATEGORIES.iter().find(|(_, c)| *c == category).map_or("other", |(name, _)| name)
}

/// One language's date formats and plural rules.
pub struct Formats {
    date: DateTimeFormatter<DateFieldSet>,
    date_time: DateTimeFormatter<YMDT>,
    year_month: DateTimeFormatter<fieldsets::YM>,
    plurals: PluralRules,
}

impl Formats {
    /// Loads the formats of `locale`, writing dates in `style`.
    pub fn new(locale: &Locale, style: DateStyle) -> Result<Formats> {
        let prefs: DateTimeFormatterPreferences = locale.into();
        let date = DateTimeFormatter::try_new(prefs, style.field_set())
            .with_context(|| format!("no CLDR date formats for '{locale}'"))?;
        let date_time = DateTimeFormatter::try_new(prefs, YMDT::long().with_time_precision(TimePrecision::Minute))
            .with_context(|| format!("no CLDR date formats for '{locale}'"))?;
        let year_month = DateTimeFormatter::try_new(prefs, fieldsets::YM::long())
            .with_context(|| format!("no CLDR date formats for '{locale}'"))?;
        let plurals = PluralRules::try_new_cardinal(locale.into())
            .with_context(|| format!("no CLDR plural rules for '{locale}'"))?;
        Ok(Formats { date, date_time, year_month, plurals })
    }

    /// `date` as a reader of the language writes it.
    pub fn date(&self, date: NaiveDate) -> String {
        match iso_date(date) {
            Some(d) => self.date.format(&d).to_string(),
            None => date.to_string(),
        }
    }

    /// The month of `date` and its year, as a reader of the language names a month.
    pub fn year_month(&self, date: NaiveDate) -> String {
        match iso_date(date) {
            Some(d) => self.year_month.format(&d).to_string(),
            None => format!("{}-{:02}", date.year(), date.month()),
        }
    }

    /// `at` (a local time) as a reader of the language writes a day and a time of day.
    pub fn date_time(&self, at: NaiveDateTime) -> String {
        let time = Time::try_new(at.hour() as u8, at.minute() as u8, 0, 0);
        match (iso_date(at.date()), time) {
            (Some(date), Ok(time)) => self.date_time.format(&DateTime { date, time }).to_string(),
            _ => at.to_string(),
        }
    }

    /// The plural category `count` takes.
    pub fn plural(&self, count: u64) -> PluralCategory {
        self.plurals.category_for(count)
    }

    /// Every plural category the language has.
    pub fn categories(&self) -> impl Iterator<Item = PluralCategory> + '_ {
        self.plurals.categories()
    }
}

fn iso_date(date: NaiveDate) -> Option<Date<icu_calendar::Iso>> {
    let month = u8::try_from(date.month()).ok()?;
    let day = u8::try_from(date.day()).ok()?;
    Date::try_new_iso(date.year(), month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formats(tag: &str) -> Formats {
        Formats::new(&Writing::of(tag).unwrap().locale, DateStyle::Long).unwrap()
    }

    #[test]
    fn names_months_as_each_language_does() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(formats("en-GB").year_month(day), "November 2026");
        assert_eq!(formats("zh").year_month(day), "2026年11月");
        assert!(formats("ru").year_month(day).starts_with("ноябрь 2026"), "{}", formats("ru").year_month(day));
    }

    #[test]
    fn writes_dates_as_each_language_does() {
        let day = NaiveDate::from_ymd_opt(2026, 4, 16).unwrap();
        assert_eq!(formats("ru").date(day), "16 апреля 2026\u{202f}г.");
        assert_eq!(formats("zh").date(day), "2026年4月16日");
        assert_eq!(formats("en-GB").date(day), "16 April 2026");
        assert_eq!(formats("ru").date_time(day.and_hms_opt(9, 5, 0).unwrap()), "16 апреля 2026\u{202f}г. в 09:05");
    }

    #[test]
    fn russian_counts_take_four_forms() {
        let ru = formats("ru");
        let names: Vec<_> = [1, 3, 5, 21, 11, 0, 112].iter().map(|&n| category_name(ru.plural(n))).collect();
        assert_eq!(names, ["one", "few", "many", "one", "many", "many", "many"]);
        assert_eq!(ru.categories().count(), 4);
        assert_eq!(formats("zh").categories().map(category_name).collect::<Vec<_>>(), ["other"]);
    }

    #[test]
    fn knows_scripts_and_directions_from_cldr() {
        let script = |tag: &str| Writing::of(tag).unwrap().script.to_string();
        assert_eq!(
            ["zh", "zh-Hant", "en-GB", "ru", "ja", "ko"].map(script),
            ["Hani", "Hani", "Latn", "Cyrl", "Jpan", "Kore"]
        );
        assert!(Writing::of("ar").unwrap().is_rtl && !Writing::of("ru").unwrap().is_rtl);
        assert!(Writing::of("xx").is_err() && Writing::of("not a tag").is_err());
    }

    #[test]
    fn tells_the_script_of_a_text() {
        let of = |text: &str| script_of(text).map(|s| s.to_string());
        assert_eq!(of("中俄（沈阳）经贸合作产业园 2026"), Some("Hani".into()));
        assert_eq!(of("Китайско-российский индустриальный парк (Shenyang)"), Some("Cyrl".into()));
        assert_eq!(of("China-Russia park, 沈阳"), Some("Latn".into()));
        assert_eq!(of("瀋陽市と川崎市の友好交流"), Some("Jpan".into()));
        assert_eq!(of("선양시 외사판공실 新闻"), Some("Kore".into()));
        assert_eq!(of("2026-04-16 — !"), None);
    }
}
