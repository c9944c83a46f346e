//! Cron schedules as users write them: standard 5-field cron (`min hour dom month dow`), or
//! 6 fields with seconds first. Days of the week are numbered as in crontab(5) (0 or 7 is
//! Sunday); the `cron` crate numbers them 1–7 from Sunday, so numbers are translated here.
//! Unlike crontab, a time must match both a restricted day of month and a restricted weekday.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeZone};

/// A parsed cron expression, kept with the text it came from.
#[derive(Clone)]
pub struct CronSchedule {
    source: String,
    schedule: cron::Schedule,
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSchedule({:?})", self.source)
    }
}

impl CronSchedule {
    /// Parses a 5-field (minute first) or 6-field (second first) cron expression.
    pub fn parse(expr: &str) -> Result<CronSchedule> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let mut fields: Vec<String> = match fields.len() {
            5 => std::iter::once("0").chain(fields).map(str::to_owned).collect(),
            6 => fields.into_iter().map(str::to_owned).collect(),
            n => {
                bail!("'{expr}': expected 5 fields (minute hour day month weekday) or 6 with seconds first, found {n}")
            }
        };
        fields[5] = translate_weekdays(&fields[5]).with_context(|| format!("'{expr}': weekday field"))?;
        let schedule = cron::Schedule::from_str(&fields.join(" ")).map_err(|e| anyhow::anyhow!("'{expr}': {e}"))?;
        Ok(CronSchedule { source: expr.to_owned(), schedule })
    }

    /// The expression as written (for logs and status lines).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first time strictly after `after`, in `after`'s time zone.
    pub fn next_after<Z: TimeZone>(&self, after: &DateTime<Z>) -> Option<DateTime<Z>> {
        self.schedule.after(after).next()
    }
}

/// Rewrites crontab(5) weekday numbers (0–7, Sunday = 0 or 7) into the `cron` crate's (1–7,
/// Sunday = 1): numeric items become an explicit list of days, so ranges that wrap Sunday
/// (`5-7`, `0-7`) mean what they mean in crontab. Names (`MON-FRI`) pass through unchanged.
fn translate_weekdays(field: &str) -> Result<String> {
    if field == "*" || field == "?" {
        return Ok(field.to_owned());
    }
    let mut days = [false; 7];
    let mut names = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|&s| s > 0).with_context(|| format!("bad step in '{item}'"))?;
                (range, step)
            }
            None => (item, 1),
        };
        let (first, last) = match range.split_once('-') {
            _ if range == "*" => (0, 6),
            Some((a, b)) => match (weekday_number(a)?, weekday_number(b)?) {
                (Some(a), Some(b)) if a <= b => (a, b),
                (Some(a), Some(b)) => bail!("range {a}-{b} runs backwards"),
                (None, None) => {
                    names.push(item.to_owned());
                    continue;
                }
                _ => bail!("'{item}' mixes weekday names and numbers"),
            },
            None => match weekday_number(range)? {
                // `n/step` runs from n to the end of the week.
                Some(n) if item.contains('/') => (n, 7),
                Some(n) => (n, n),
                None => {
                    names.push(item.to_owned());
                    continue;
                }
            },
        };
        for day in (first..=last).step_by(step as usize) {
            days[(day % 7) as usize] = true;
        }
    }
    let mut out: Vec<String> = (0..7).filter(|&d| days[d]).map(|d| (d + 1).to_string()).collect();
    out.extend(names);
    Ok(out.join(","))
}

/// `Some(n)` for a weekday number 0–7, `None` for a name; an error for other numbers.
fn weekday_number(s: &str) -> Result<Option<u32>> {
    if !s.bytes().all(|b| b.is_ascii_digit()) || s.is_empty() {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(n) if n <= 7 => Ok(Some(n)),
        _ => bail!("weekday '{s}' is not 0-7"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike, Weekday};
    use chrono_tz::Asia::Shanghai;

    fn next(expr: &str, after: &str) -> DateTime<chrono_tz::Tz> {
        let after = chrono::NaiveDateTime::parse_from_str(after, "%Y-%m-%d %H:%M").unwrap();
        let after = Shanghai.from_local_datetime(&after).unwrap();
        CronSchedule::parse(expr).unwrap().next_after(&after).unwrap()
    }

    #[test]
    fn five_fields_fire_on_the_minute_in_the_given_zone() {
        let t = next("0 8 * * *", "2026-11-24 09:00");
        assert_eq!((t.day(), t.hour(), t.minute(), t.second()), (25, 8, 0, 0));
    }

    #[test]
    fn weekday_numbers_follow_crontab() {
        // 2026-11-24 is a Tuesday.
        assert_eq!(next("0 8 * * 1", "2026-11-24 09:00").weekday(), Weekday::Mon);
        assert_eq!(next("0 8 * * 0", "2026-11-24 09:00").weekday(), Weekday::Sun);
        assert_eq!(next("0 8 * * 7", "2026-11-24 09:00").weekday(), Weekday::Sun);
        assert_eq!(next("0 8 * * 1-5", "2026-11-27 09:00").weekday(), Weekday::Mon);
        assert_eq!(next("0 8 * * 6-7", "2026-11-24 09:00").weekday(), Weekday::Sat);
        assert_eq!(next("0 8 * * 6-7", "2026-11-28 09:00").weekday(), Weekday::Sun);
        assert_eq!(next("0 8 * * MON", "2026-11-24 09:00").weekday(), Weekday::Mon);
        assert_eq!(translate_weekdays("0-7").unwrap(), "1,2,3,4,5,6,7");
        assert_eq!(translate_weekdays("7-7").unwrap(), "1");
        assert_eq!(translate_weekdays("1-7/2").unwrap(), "1,2,4,6");
        assert_eq!(translate_weekdays("*/2").unwrap(), "1,3,5,7");
        assert_eq!(translate_weekdays("5-7").unwrap(), "1,6,7");
    }

    #[test]
    fn six_fields_take_seconds_first() {
        let t = next("30 */5 * * * *", "2026-11-24 09:01");
        assert_eq!((t.minute(), t.second()), (5, 30));
    }

    #[test]
    fn rejects_bad_expressions_with_the_text() {
        for bad in ["61 * * * *", "* * *", "0 8 * * 9", "0 8 * * 5-2"] {
            let err = format!("{:#}", CronSchedule::parse(bad).unwrap_err());
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }
}
