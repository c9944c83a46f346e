//! The bounce score, as Mailman keeps it: a hard bounce counts 1 and a soft one 0.5, at most
//! once a day per subscriber; reaching `mail.bounce_limit` within `mail.bounce_window` marks
//! the subscriber bounced, and a score lapses when the window passes with no bounce. Refusals
//! the mail server gives at once and bounces that come back later count alike.

use anyhow::Result;

use crate::config::MailConfig;
use crate::state::{Status, Tx};

/// How much a bounce weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// Permanent: counts 1.
    Hard,
    /// Transient: counts 0.5.
    Soft,
}

/// What counting a bounce did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Counted {
    /// The score rose to this.
    Raised(f64),
    /// A bounce was already counted in the last day: this one adds nothing.
    SameDay,
    /// The score reached the limit: the subscriber is now bounced.
    Bounced,
    /// No such subscriber, or not one who is mailed (already out).
    Nobody,
}

/// Seconds in which a second bounce adds nothing.
const DAY: i64 = 24 * 3600;

/// Counts a bounce of `weight` for subscriber `id` at `now`.
pub fn count_bounce(tx: &Tx, id: i64, weight: Weight, now: i64, mail: &MailConfig) -> Result<Counted> {
    let Some((score, last, status)) = tx.bounce_score(id)? else { return Ok(Counted::Nobody) };
    if !matches!(status, Status::Confirmed | Status::Pending) {
        return Ok(Counted::Nobody);
    }
    let window = i64::try_from(mail.bounce_window.as_secs()).unwrap_or(i64::MAX);
    if last.is_some_and(|last| now.saturating_sub(last) < DAY && now >= last) {
        return Ok(Counted::SameDay);
    }
    let lapsed = last.is_none_or(|last| now.saturating_sub(last) > window);
    let score = if lapsed { 0.0 } else { score } + if weight == Weight::Hard { 1.0 } else { 0.5 };
    tx.set_bounce_score(id, score, now)?;
    if score >= f64::from(mail.bounce_limit) {
        tx.mark_bounced(id)?;
        return Ok(Counted::Bounced);
    }
    Ok(Counted::Raised(score))
}
