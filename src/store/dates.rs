//! Article dates → instants. A date with no time is midnight in the site's time zone, a time
//! with no offset is local to that zone, an offset is taken as written. Front matter may hold a
//! TOML date/datetime or a string in the same forms.

use chrono::{DateTime, Datelike as _, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Unix seconds of a local date-time in `tz`. In a DST gap the time moves forward past it;
/// in a repeated hour the earlier instant wins.
pub fn local_to_timestamp(local: NaiveDateTime, tz: Tz) -> i64 {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return t.timestamp();
    }
    // Inside a DST gap: the same wall time an hour later exists.
    let later = local + chrono::Duration::hours(1);
    tz.from_local_datetime(&later).earliest().map_or_else(|| local.and_utc().timestamp(), |t| t.timestamp())
}

/// The instants feeds can write: RFC 3339 and RFC 2822 dates have four-digit years, and a
/// day of margin keeps every time zone's view of the instant inside 1000–9999.
const EARLIEST: i64 = -30_610_137_600; // 1000-01-02T00:00:00Z
const LATEST: i64 = 253_402_128_000; // 9999-12-30T00:00:00Z

/// `ts`, if feeds can write it.
pub fn in_range(ts: i64, shown: &dyn std::fmt::Display) -> Result<i64, String> {
    if (EARLIEST..=LATEST).contains(&ts) {
        Ok(ts)
    } else {
        Err(format!("'{shown}' is out of range (years 1000 to 9999)"))
    }
}

/// Reads a TOML date value (as the `toml` crate parsed it).
pub fn from_toml(value: &toml::value::Datetime, tz: Tz) -> Result<i64, String> {
    in_range(toml_timestamp(value, tz)?, value)
}

fn toml_timestamp(value: &toml::value::Datetime, tz: Tz) -> Result<i64, String> {
    let date = value.date.ok_or_else(|| format!("'{value}' has a time but no date"))?;
    let naive_date = NaiveDate::from_ymd_opt(date.year.into(), date.month.into(), date.day.into())
        .ok_or_else(|| format!("impossible date '{value}'"))?;
    let naive_time = match value.time {
        None => NaiveTime::MIN,
        Some(t) => NaiveTime::from_hms_nano_opt(
            t.hour.into(),
            t.minute.into(),
            t.second.unwrap_or(0).into(),
            t.nanosecond.unwrap_or(0),
        )
        .ok_or_else(|| format!("impossible time '{value}'"))?,
    };
    let local = naive_date.and_time(naive_time);
    match value.offset {
        None => Ok(local_to_timestamp(local, tz)),
        Some(toml::value::Offset::Z) => Ok(local.and_utc().timestamp()),
        Some(toml::value::Offset::Custom { minutes }) => Ok(local.and_utc().timestamp() - i64::from(minutes) * 60),
    }
}

/// Reads a date written as a string: `2023-05-08`, `2023-05-08 09:30[:00]`, or RFC 3339.
pub fn from_str(s: &str, tz: Tz) -> Result<i64, String> {
    let s = s.trim();
    // chrono accepts signed and five-digit years; an article date has four digits.
    if !s.get(..4).is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit())) || s.as_bytes().get(4) != Some(&b'-') {
        return Err(format!("'{s}' is not a date (expected 2023-05-08 or RFC 3339 like 2023-05-08T09:30:00+08:00)"));
    }
    in_range(str_timestamp(s, tz)?, &s)
}

fn str_timestamp(s: &str, tz: Tz) -> Result<i64, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(local_to_timestamp(local, tz));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(local_to_timestamp(date.and_time(NaiveTime::MIN), tz));
    }
    let looks_like_date = s.len() >= 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
    if looks_like_date {
        Err(format!("impossible date '{s}'"))
    } else {
        Err(format!("'{s}' is not a date (expected 2023-05-08 or RFC 3339 like 2023-05-08T09:30:00+08:00)"))
    }
}

/// The instant `ts` as a date-time in `tz` (what feeds print).
pub fn in_zone(ts: i64, tz: Tz) -> DateTime<Tz> {
    let utc = DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    utc.with_timezone(&tz)
}

/// A calendar month, written `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// The year.
    pub year: i32,
    /// The month, 1–12.
    pub month: u32,
}

impl Month {
    /// The month, in zone `tz`, of the moment `ts` (Unix seconds).
    pub fn of(ts: i64, tz: Tz) -> Month {
        let date = in_zone(ts, tz);
        Month { year: date.year(), month: date.month() }
    }

    /// Reads `2026-11`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Month> {
        let (year, month) = text.split_once('-')?;
        let digits = |s: &str, n| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return None;
        }
        let month: u32 = month.parse().ok()?;
        (1..=12).contains(&month).then_some(Month { year: year.parse().ok()?, month })
    }

    /// The month `months` after this one (before it, when negative).
    pub fn plus(self, months: i32) -> Month {
        let index = self.year * 12 + self.month as i32 - 1 + months;
        Month { year: index.div_euclid(12), month: index.rem_euclid(12) as u32 + 1 }
    }

    /// The moments (Unix seconds, from inclusive, to exclusive) it spans in zone `tz`; `None`
    /// when a midnight that bounds it does not exist there (a zone that skipped it).
    pub fn span(self, tz: Tz) -> Option<(i64, i64)> {
        let start = |m: Month| {
            let midnight = m.first_day()?.and_hms_opt(0, 0, 0)?;
            Some(tz.from_local_datetime(&midnight).earliest()?.timestamp())
        };
        Some((start(self)?, start(self.plus(1))?))
    }

    /// Its first day.
    pub fn first_day(self) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    #[test]
    fn months_read_and_write_as_year_dash_month() {
        assert_eq!(Month::parse("2026-11"), Some(Month { year: 2026, month: 11 }));
        assert_eq!(Month { year: 2026, month: 3 }.to_string(), "2026-03");
        assert_eq!(Month { year: 2026, month: 12 }.plus(1), Month { year: 2027, month: 1 });
        assert_eq!(Month { year: 2026, month: 1 }.plus(-1), Month { year: 2025, month: 12 });
        for bad in ["2026-13", "2026-00", "26-11", "2026-1", "2026/11", "abcd-ef", "2026-11-01", ""] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_month_spans_its_days_in_the_zone() {
        for (tz, month) in
            [(Shanghai, Month { year: 2026, month: 11 }), (chrono_tz::Europe::Berlin, Month { year: 2026, month: 3 })]
        {
            let (from, to) = month.span(tz).unwrap();
            assert_eq!(Month::of(from, tz), month);
            assert_eq!(Month::of(to - 1, tz), month);
            assert_eq!(Month::of(from - 1, tz), month.plus(-1));
            assert_eq!(Month::of(to, tz), month.plus(1));
        }
    }

    #[test]
    fn a_bare_date_is_midnight_in_the_site_zone() {
        let ts = from_str("2022-10-11", Shanghai).unwrap();
        assert_eq!(in_zone(ts, Shanghai).to_rfc3339(), "2022-10-11T00:00:00+08:00");
        let toml_date: toml::value::Datetime = "2022-10-11".parse().unwrap();
        assert_eq!(from_toml(&toml_date, Shanghai).unwrap(), ts);
    }

    #[test]
    fn an_offset_is_taken_as_written() {
        let ts = from_str("2022-10-11T09:00:00+02:00", Shanghai).unwrap();
        assert_eq!(in_zone(ts, Shanghai).to_rfc3339(), "2022-10-11T15:00:00+08:00");
        let toml_date: toml::value::Datetime = "2022-10-11T09:00:00+02:00".parse().unwrap();
        assert_eq!(from_toml(&toml_date, Shanghai).unwrap(), ts);
    }

    #[test]
    fn rejects_years_feeds_cannot_write() {
        assert!(from_str("-2023-05-08", Shanghai).unwrap_err().contains("not a date"));
        assert!(from_str("0999-05-08", Shanghai).unwrap_err().contains("out of range"));
        let far: toml::value::Datetime = "0001-01-01".parse().unwrap();
        assert!(from_toml(&far, Shanghai).unwrap_err().contains("out of range"));
        assert!(from_str("9999-12-29", Shanghai).is_ok());
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(from_str("2023-02-30", Shanghai).unwrap_err().contains("impossible date '2023-02-30'"));
        assert!(from_str("last tuesday", Shanghai).unwrap_err().contains("not a date"));
    }
}
