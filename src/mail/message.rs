//! A digest as a MIME message (lettre's builder): `multipart/alternative` with a UTF-8 plain
//! text and an HTML part, an encoded subject, `From`/`To` with safely encoded display names, a
//! `Message-ID` derived from (run, subscriber) so a resent message is recognisably the same,
//! `List-Id`, `List-Unsubscribe` with an HTTPS one-click URL and a mailto, and
//! `List-Unsubscribe-Post` (RFC 8058, required by Gmail and Yahoo for bulk senders).
//! Header injection is impossible: display names are encoded by [`super::display_name`], every
//! other value by lettre's encoder, and names and subjects are one line before they get here.

use std::time::SystemTime;

use anyhow::{Context, Result};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use super::display_name::mailbox_header;
use crate::config::Config;
use crate::text::one_line;

/// What a message says: its subject and its two parts, as the templates rendered them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// One line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Who a digest goes to and what it belongs to.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The subscriber's address.
    pub email: &'a str,
    /// The subscriber's display name.
    pub name: Option<&'a str>,
    /// The language the message is written in.
    pub lang: &'a str,
    /// The digest id.
    pub digest: &'a str,
    /// The digest run.
    pub run: i64,
    /// The subscriber's row id.
    pub subscriber: i64,
    /// The one-click unsubscribe URL (signed).
    pub unsubscribe_url: &'a str,
    /// When the message is dated.
    pub date: SystemTime,
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// The `Message-ID` of the digest `run` for `subscriber`, without angle brackets.
pub fn message_id(config: &Config, digest: &str, run: i64, subscriber: i64) -> String {
    format!("gazette.{digest}.{run}.{subscriber}@{}", config.mail.from.email.domain())
}

/// Builds the digest message for `envelope` from `rendered`.
pub fn digest_message(config: &Config, envelope: &Envelope, rendered: &Body) -> Result<Message> {
    let address = envelope.email.parse().with_context(|| format!("'{}' is not an address", envelope.email))?;
    let to = Mailbox::new(envelope.name.map(one_line).filter(|n| !n.is_empty()), address);
    let from = &config.mail.from;
    let domain = from.email.domain();
    let mut builder = Message::builder()
        .from(from.clone())
        .raw_header(mailbox_header("From", from))
        .to(to.clone())
        .raw_header(mailbox_header("To", &to))
        .subject(one_line(&rendered.subject))
        .date(envelope.date)
        .message_id(Some(format!("<{}>", message_id(config, envelope.digest, envelope.run, envelope.subscriber))))
        .raw_header(header("List-Id", format!("<{}.{domain}>", envelope.digest)))
        .raw_header(header(
            "List-Unsubscribe",
            format!("<{}>, <mailto:{}?subject=unsubscribe>", envelope.unsubscribe_url, from.email),
        ))
        .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()))
        // Gmail's feedback loop reports complaints per value (campaign:customer:type:sender).
        .raw_header(header("Feedback-ID", format!("{}:{}:digest:gazette", envelope.run, envelope.digest)))
        .raw_header(header("Content-Language", envelope.lang.to_owned()))
        .raw_header(header("Auto-Submitted", "auto-generated".into()));
    if let Some(reply_to) = &config.mail.reply_to {
        builder = builder.reply_to(reply_to.clone()).raw_header(mailbox_header("Reply-To", reply_to));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(rendered.text.clone(), rendered.html.clone()))
        .context("cannot build the digest message")
}

/// A message ready to go: its id (without brackets), SMTP envelope and bytes.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The `Message-ID`, without angle brackets.
    pub id: String,
    /// Sender and recipient for SMTP.
    pub envelope: lettre::address::Envelope,
    /// The message as sent.
    pub bytes: Vec<u8>,
}

impl Outgoing {
    /// `message`, signed with `dkim` when given, ready to send.
    pub fn new(id: String, mut message: Message, dkim: Option<&lettre::message::dkim::DkimConfig>) -> Outgoing {
        if let Some(dkim) = dkim {
            message.sign(dkim);
        }
        Outgoing { id, envelope: message.envelope().clone(), bytes: message.formatted() }
    }

    /// The same message with `sender` as its envelope sender (the return path bounces go to),
    /// instead of the `From` address.
    pub fn returning_to(self, sender: lettre::Address) -> Outgoing {
        let to = self.envelope.to().to_vec();
        // Recipients are the message's own, so the envelope is valid whatever the sender.
        let envelope = lettre::address::Envelope::new(Some(sender), to).unwrap_or(self.envelope);
        Outgoing { envelope, ..self }
    }
}

/// The confirmation email of the subscribe form, to `email` in `lang`: no list headers (it
/// is not a digest), and a `Message-ID` of its own (`reference`, the sign-up or subscriber it
/// is for, and when it was asked for).
pub fn confirmation_message(
    config: &Config,
    email: &str,
    lang: &str,
    reference: &str,
    now: i64,
    rendered: &Body,
) -> Result<Outgoing> {
    let address = email.parse().with_context(|| format!("'{email}' is not an address"))?;
    let id = format!("gazette.confirm.{reference}.{now}@{}", config.mail.from.email.domain());
    let mut builder = Message::builder()
        .from(config.mail.from.clone())
        .raw_header(mailbox_header("From", &config.mail.from))
        .to(Mailbox::new(None, address))
        .subject(one_line(&rendered.subject))
        .date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(now).unwrap_or(0)))
        .message_id(Some(format!("<{id}>")))
        .raw_header(header("Content-Language", lang.to_owned()))
        .raw_header(header("Auto-Submitted", "auto-generated".into()));
    if let Some(reply_to) = &config.mail.reply_to {
        builder = builder.reply_to(reply_to.clone()).raw_header(mailbox_header("Reply-To", reply_to));
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(rendered.text.clone(), rendered.html.clone()))
        .context("cannot build the confirmation message")?;
    let dkim = crate::mail::dkim::load(config)?;
    Ok(Outgoing::new(id, message, dkim.as_ref()))
}
