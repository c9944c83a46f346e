//! One returned message, acted on: attributed by the return path it came to (or, for a
//! complaint, by the original's return path or signed unsubscribe link), read for what it says
//! ([`super::report`]), then counted, in one transaction with a log entry that makes the same
//! message handed over twice count once. Nothing a stranger sends can act on a subscriber it
//! does not name with a valid signature, or on a delivery that was never sent.

use anyhow::Result;
use sha2::Digest as _;

use super::report::{self, Report, Severity};
use super::verp::{ReturnOf, returned_for};
use crate::config::Config;
use crate::state::{ReturnEntry, State, Tx};
use crate::subscription::bounces::{self, Weight};
use crate::tokens::{Purpose, Signer, Token};

/// The complaint rate (per cent of messages sent) above which a run is logged with a warning:
/// Gmail's target for bulk senders (it refuses mail above 0.3 %).
const COMPLAINT_WARNING: f64 = 0.1;

/// Complaints per hundred messages sent.
pub fn complaint_rate(complaints: i64, sent: i64) -> f64 {
    if sent == 0 { 0.0 } else { complaints as f64 * 100.0 / sent as f64 }
}

/// What handling a returned message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A bounce was counted for a subscriber (or a sign-up's confirmation came back).
    Bounce(Severity),
    /// A complaint unsubscribed its subscriber.
    Complaint,
    /// An auto-reply, logged.
    AutoReply,
    /// The same message was handled before: nothing more was done.
    Duplicate,
    /// It names no delivery gazette made (no return path, a bad signature, or a delivery
    /// that was never sent): nothing was done.
    NotOurs,
    /// Not a bounce, complaint or auto-reply: dropped.
    Other,
}

impl Handled {
    /// A word for summaries and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Handled::Bounce(Severity::Hard) => "hard bounce",
            Handled::Bounce(Severity::Soft) => "soft bounce",
            Handled::Bounce(Severity::Unclassified) => "unclassified bounce",
            Handled::Complaint => "complaint",
            Handled::AutoReply => "auto-reply",
            Handled::Duplicate => "already handled",
            Handled::NotOurs => "not ours",
            Handled::Other => "other",
        }
    }
}

/// Handles `raw`, which came to `recipient` (the envelope recipient, when known; else read
/// from the message's `Delivered-To`, `X-Original-To` or `To`).
pub fn handle(
    state: &mut State,
    config: &Config,
    signer: &Signer,
    raw: &[u8],
    recipient: Option<&str>,
    now: i64,
) -> Result<Handled> {
    let Some(returns) = &config.mail.returns else { return Ok(Handled::NotOurs) };
    let recipient = recipient.map(str::to_owned).or_else(|| recipient_in(raw));
    let mut what = recipient.as_deref().and_then(|r| returned_for(signer, &returns.address, r));
    let report = report::read(raw);
    if let Report::Complaint(complaint) = &report {
        // The report comes to the plain return address; the original names the delivery.
        what = complaint
            .original_return_path
            .as_deref()
            .and_then(|path| returned_for(signer, &returns.address, path))
            .or(what);
        if what.is_none()
            && let Some(list) = complaint.original_list_unsubscribe.as_deref()
            && let Some(subscriber) = signed_subscriber(state, signer, list)?
        {
            what = Some(subscriber);
        }
    }
    let Some(what) = what else { return Ok(Handled::NotOurs) };
    let fingerprint = fingerprint(raw, what);
    let mail = &config.mail;
    let handled = state.write(|tx| {
        let (subscriber, run, signup) = match what {
            ReturnOf::Delivery { run, subscriber } => {
                // A return path is signed when the message is made, so only one that went out
                // can come back: sent, or still pending when it came back before the run
                // recorded it (outcomes are committed in batches) or after a crash.
                if !matches!(tx.delivery_status(run, subscriber)?.as_deref(), Some("sent" | "pending")) {
                    return Ok(Handled::NotOurs);
                }
                (Some(subscriber), Some(run), None)
            }
            ReturnOf::Subscriber { id, since } => {
                if tx.subscriber_by_id(id)?.is_none_or(|s| s.created_at != since) {
                    return Ok(Handled::NotOurs);
                }
                (Some(id), None, None)
            }
            ReturnOf::SignUp(id) => (None, None, Some(id)),
        };
        let (kind, status, diagnostic, handled) = match &report {
            Report::Bounces(found) => {
                let worst = found.iter().min_by_key(|b| severity_rank(b.severity));
                let severity = worst.map_or(Severity::Unclassified, |b| b.severity);
                let kind = match severity {
                    Severity::Hard => "hard",
                    Severity::Soft => "soft",
                    Severity::Unclassified => "unclassified",
                };
                (
                    kind,
                    worst.and_then(|b| b.status.clone()),
                    worst.and_then(|b| b.diagnostic.clone()),
                    Handled::Bounce(severity),
                )
            }
            Report::Complaint(c) => ("complaint", None, Some(c.feedback_type.clone()), Handled::Complaint),
            Report::AutoReply => ("auto-reply", None, None, Handled::AutoReply),
            Report::Other => return Ok(Handled::Other),
        };
        let entry = ReturnEntry { kind: kind.to_owned(), subscriber, run, signup, status, diagnostic };
        if !tx.log_return(&fingerprint, &entry, now)? {
            return Ok(Handled::Duplicate);
        }
        act(tx, &entry, handled, now, mail)?;
        Ok(handled)
    })?;
    crate::metrics::metrics().returns.get_or_create(&crate::metrics::label("kind", handled.as_str())).inc();
    if let (Handled::Complaint, ReturnOf::Delivery { run, .. }) = (handled, what) {
        warn_of_complaints(state, run)?;
    }
    Ok(handled)
}

/// Logs run `run`'s complaint rate, with a warning past [`COMPLAINT_WARNING`].
fn warn_of_complaints(state: &State, run: i64) -> Result<()> {
    let Some(report) = state.run_report(run)? else { return Ok(()) };
    let (complaints, sent) = (report.came_back("complained"), report.delivered("sent"));
    let rate = complaint_rate(complaints, sent);
    if rate > COMPLAINT_WARNING {
        tracing::warn!(
            run,
            complaints,
            sent,
            rate = format!("{rate:.3} %"),
            "complaint rate above 0.1 % (Gmail refuses bulk mail above 0.3 %)"
        );
    } else {
        tracing::info!(run, complaints, sent, rate = format!("{rate:.3} %"), "complaint recorded");
    }
    Ok(())
}

/// What a logged return does to the subscriber, delivery or sign-up it names.
fn act(tx: &Tx, entry: &ReturnEntry, handled: Handled, now: i64, mail: &crate::config::MailConfig) -> Result<()> {
    // What the delivery row keeps: the latest failure or complaint (an auto-reply says nothing
    // about the delivery, and is only logged).
    let returned = match handled {
        Handled::Bounce(Severity::Hard) => Some("bounced"),
        Handled::Bounce(Severity::Soft) => Some("soft"),
        Handled::Bounce(Severity::Unclassified) => Some("unclassified"),
        Handled::Complaint => Some("complained"),
        _ => None,
    };
    if let (Some(run), Some(subscriber), Some(returned)) = (entry.run, entry.subscriber, returned) {
        tx.mark_returned(run, subscriber, returned, now)?;
    }
    match (handled, entry.subscriber, entry.signup) {
        (Handled::Bounce(Severity::Hard), Some(id), _) => {
            bounces::count_bounce(tx, id, Weight::Hard, now, mail)?;
        }
        (Handled::Bounce(Severity::Soft), Some(id), _) => {
            bounces::count_bounce(tx, id, Weight::Soft, now, mail)?;
        }
        // A confirmation that cannot be delivered can never be followed.
        (Handled::Bounce(Severity::Hard), None, Some(signup)) => {
            tx.delete_signup(signup)?;
        }
        (Handled::Complaint, Some(id), _) => {
            crate::subscription::complaint(tx, id, now)?;
        }
        _ => {}
    }
    Ok(())
}

fn severity_rank(severity: Severity) -> u8 {
    match severity {
        Severity::Hard => 0,
        Severity::Soft => 1,
        Severity::Unclassified => 2,
    }
}

/// The address a saved message was delivered to: `Delivered-To`, `X-Original-To` or `To`.
fn recipient_in(raw: &[u8]) -> Option<String> {
    let message = mail_parser::MessageParser::default().parse_headers(raw)?;
    ["Delivered-To", "X-Original-To"]
        .iter()
        .find_map(|h| message.header_raw(*h).map(|v| v.trim().to_owned()))
        .or_else(|| message.to().and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_owned))
}

/// The subscriber a signed unsubscribe link in `list_unsubscribe` names, if its token
/// verifies. A database error is an error (the sender tries again), not "nobody".
fn signed_subscriber(state: &State, signer: &Signer, list_unsubscribe: &str) -> Result<Option<ReturnOf>> {
    let Some(start) = list_unsubscribe.find("token=").map(|i| i + "token=".len()) else { return Ok(None) };
    let Some(token) = list_unsubscribe[start..].split(['>', '&', ' ', ',']).next() else { return Ok(None) };
    let Ok(token) = Token::parse(token) else { return Ok(None) };
    let subscriber = state.subscriber_by_id(token.id)?;
    if signer.verify(&token, Purpose::Unsubscribe, subscriber.as_ref().map(|s| s.link_binding())).is_err() {
        return Ok(None);
    }
    Ok(subscriber.map(|s| ReturnOf::Subscriber { id: s.id, since: s.created_at }))
}

/// What makes two hand-overs of one message the same: what it came back for (however its
/// return path was spelled) and its `Message-ID`, or its bytes when it has none.
fn fingerprint(raw: &[u8], what: ReturnOf) -> Vec<u8> {
    let mut hash = sha2::Sha256::new();
    hash.update(format!("{what:?}").as_bytes());
    hash.update(b"\0");
    let message_id =
        mail_parser::MessageParser::default().parse_headers(raw).and_then(|m| m.message_id().map(str::to_owned));
    match message_id {
        Some(id) => hash.update(id.as_bytes()),
        None => hash.update(raw),
    }
    hash.finalize().to_vec()
}
