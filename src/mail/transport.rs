//! Where messages go: an outbox folder (one `.eml` file per message, the embedded default) or
//! an SMTP server ([`super::smtp`]), one connection per sender of a run. A failure says what it means for
//! the run ([`SendError`]): wait and retry (4xx, dropped connections), a hard bounce (this
//! address does not exist), this one message failed, or the server refuses us altogether
//! (authentication, relay): then the run stops before it marks a whole list bounced.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use lettre::transport::smtp::authentication::Credentials;

use super::message::Outgoing;
use super::smtp::{SmtpClient, SmtpConnection};
use crate::config::{Config, Transport};

/// Why a message whose gate never opened was not sent.
pub(super) const WITHHELD: &str = "the delivery is no longer this sender's, or the run stops";

/// Why a message was not sent, by what the run should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Trying again later may work (4xx, connection lost, timeout): wait, then stop the run
    /// with the delivery still pending if it lasts.
    #[error("server unavailable: {0}")]
    Unavailable(String),
    /// The mailbox does not exist or takes no mail (`5.1.x`, or 550, 551, 553 without an
    /// enhanced code): a hard bounce.
    #[error("address refused: {0}")]
    Bounced(String),
    /// This message was refused for another reason (other 5xx, an address the server cannot
    /// take): recorded as failed, not counted as a bounce.
    #[error("message refused: {0}")]
    Failed(String),
    /// The server refuses us, whatever the address (530, 535: authentication; `5.7.x`: policy;
    /// a greeting or login that fails; a certificate that does not verify): stop the run.
    #[error("server refuses to send for us: {0}")]
    Refused(String),
    /// Its [`Gate`] never opened: the message was not sent, and is not this sender's to
    /// record (the delivery was taken over, or the run stops).
    #[error("not sent: {0}")]
    Withheld(String),
}

/// Classifies an SMTP error (RFC 5321 §4.2 reply codes, RFC 3463 enhanced codes). Only a
/// refused mailbox is a bounce; a policy refusal (`5.7.x`: relaying denied, not allowed to
/// send as, DMARC) would refuse every message, so it stops the run instead.
pub(super) fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(|c| c.to_string()).unwrap_or_default();
    let said = e.to_string();
    if e.is_permanent() {
        match (code.as_str(), enhanced_class(&said)) {
            (_, Some((5, 7))) => SendError::Refused(said),
            ("530" | "534" | "535" | "538", _) => SendError::Refused(said),
            (_, Some((5, 1))) => SendError::Bounced(said),
            ("550" | "551" | "553", None) => SendError::Bounced(said),
            _ => SendError::Failed(said),
        }
    } else if e.is_client() {
        SendError::Failed(said)
    } else {
        SendError::Unavailable(said)
    }
}

/// The class and subject of the first enhanced status code (`5.1.1` gives (5, 1)) in a reply.
fn enhanced_class(reply: &str) -> Option<(u8, u8)> {
    reply.split(|c: char| !(c.is_ascii_digit() || c == '.')).find_map(|word| {
        let mut parts = word.split('.');
        let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
        let valid = parts.next().is_none() && matches!(class, "2" | "4" | "5") && !detail.is_empty();
        valid.then(|| Some((class.parse().ok()?, subject.parse().ok()?))).flatten()
    })
}

/// Whether a message's content may go now, as its sender sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Yes.
    Go,
    /// Not yet: ask again shortly.
    Wait,
    /// Never: the message is no longer this sender's to send (or the run stops).
    Never,
}

/// What a message's content waits for before it goes: the outcome of the message before it
/// on the same connection, committed, and then the sender's permit (a digest run's lease on
/// the delivery, [`crate::digest::lease`]), asked again at every attempt. The envelope (`MAIL`,
/// `RCPT`) and `DATA` are sent meanwhile, and a server takes responsibility for a message only
/// at its final `.`, so a connection never has more than one message accepted and not yet
/// recorded, while the commit's round trips overlap the next message's.
#[derive(Default)]
pub struct Gate<'a> {
    committed: Committed,
    permit: Option<Box<dyn Fn() -> Permit + Send + Sync + 'a>>,
}

/// Where the commit before stands.
#[derive(Debug, Default)]
enum Committed {
    /// Nothing to wait for.
    #[default]
    Yes,
    /// Waiting for it.
    Pending(tokio::sync::oneshot::Receiver<()>),
    /// It will never come.
    Never,
}

/// How often a gate whose permit says wait asks again.
const PERMIT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

impl<'a> Gate<'a> {
    /// The next message's content waits for `committed` to hear (the outcome of the one
    /// before).
    pub fn after(&mut self, committed: tokio::sync::oneshot::Receiver<()>) {
        self.committed = Committed::Pending(committed);
    }

    /// The next message's content goes only while `permit` says go.
    pub fn permit(&mut self, permit: impl Fn() -> Permit + Send + Sync + 'a) {
        self.permit = Some(Box::new(permit));
    }

    /// Waits for the commit before (a wait cut short, by a timeout, is waited for again);
    /// whether it came.
    pub async fn committed(&mut self) -> bool {
        if let Committed::Pending(committed) = &mut self.committed {
            // A receiver that answered is never polled again: it is replaced either way.
            self.committed = if committed.await.is_ok() { Committed::Yes } else { Committed::Never };
        }
        matches!(self.committed, Committed::Yes)
    }

    /// Waits until the content may go: true, or false when it never may (the outcome before
    /// was not committed, or the permit says never).
    pub async fn open(&mut self) -> bool {
        if !self.committed().await {
            return false;
        }
        let Some(permit) = &self.permit else { return true };
        loop {
            match permit() {
                Permit::Go => return true,
                Permit::Never => return false,
                Permit::Wait => tokio::time::sleep(PERMIT_POLL).await,
            }
        }
    }
}

/// Where a run's messages go: shared by its connections.
pub enum Mailer {
    /// `.eml` files in a folder.
    Outbox(PathBuf),
    /// An SMTP server.
    Smtp(Arc<SmtpClient>),
}

impl Mailer {
    /// The mailer `config.mail` describes; the SMTP password comes from `GAZETTE_SMTP_PASSWORD`
    /// or `mail.password_file`.
    pub fn new(config: &Config) -> Result<Mailer> {
        let mail = &config.mail;
        match &mail.transport {
            Transport::File { dir } => {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create the outbox {}", dir.display()))?;
                Ok(Mailer::Outbox(dir.clone()))
            }
            Transport::Smtp { host, port, tls, user, password_in_url } => {
                let credentials = match user {
                    Some(user) => Some(Credentials::new(user.clone(), password(config, password_in_url.as_deref())?)),
                    None => None,
                };
                let ca = match &mail.ca_file {
                    Some(path) => Some(
                        std::fs::read(path).with_context(|| format!("cannot read mail.ca_file {}", path.display()))?,
                    ),
                    None => None,
                };
                let hello = mail.from.email.domain();
                Ok(Mailer::Smtp(Arc::new(SmtpClient::new(host, *port, *tls, credentials, ca.as_deref(), hello)?)))
            }
        }
    }

    /// A connection of its own for one sender; SMTP connects when the first message goes.
    pub fn connection(&self) -> Connection {
        match self {
            Mailer::Outbox(dir) => Connection::Outbox(dir.clone()),
            Mailer::Smtp(client) => Connection::Smtp(Box::new(SmtpConnection::new(client.clone()))),
        }
    }
}

/// One sender's way out: a folder, or one SMTP connection.
pub enum Connection {
    /// `.eml` files in a folder.
    Outbox(PathBuf),
    /// One connection to the SMTP server.
    Smtp(Box<SmtpConnection>),
}

impl Connection {
    /// Sends `message` once, its content after `gate` opens.
    pub async fn send(&mut self, message: &Outgoing, gate: &mut Gate<'_>) -> Result<(), SendError> {
        match self {
            Connection::Outbox(dir) => {
                if !gate.open().await {
                    return Err(SendError::Withheld(WITHHELD.into()));
                }
                // The id is ours (`gazette.daily.7.42@domain`): safe as a file name.
                let path = dir.join(format!("{}.eml", message.id));
                crate::atomic::write(&path, &message.bytes).map_err(|e| SendError::Unavailable(format!("{e:#}")))
            }
            Connection::Smtp(conn) => conn.send(&message.envelope, &message.bytes, gate).await,
        }
    }

    /// Closes the connection politely.
    pub async fn close(&mut self) {
        if let Connection::Smtp(conn) = self {
            conn.quit().await;
        }
    }
}

/// The SMTP password: the URL's (from the environment), `GAZETTE_SMTP_PASSWORD`, or the file.
fn password(config: &Config, in_url: Option<&str>) -> Result<String> {
    if let Some(password) = in_url {
        return Ok(password.to_owned());
    }
    if let Ok(password) = std::env::var(crate::config::PASSWORD_ENV) {
        return Ok(password);
    }
    match &config.mail.password_file {
        Some(path) => Ok(std::fs::read_to_string(path)
            .with_context(|| format!("cannot read mail.password_file {}", path.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned()),
        None => anyhow::bail!(
            "the SMTP URL names a user but no password is given: set {} or mail.password_file",
            crate::config::PASSWORD_ENV
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{Gate, Permit, enhanced_class};

    #[tokio::test]
    async fn a_gate_opens_on_the_commit_and_the_permit_and_stays_shut_without_them() {
        assert!(Gate::default().open().await, "nothing before: open");
        let (done, committed) = tokio::sync::oneshot::channel();
        let permit = std::sync::atomic::AtomicU8::new(0);
        let mut gate = Gate::default();
        gate.after(committed);
        gate.permit(|| match permit.load(std::sync::atomic::Ordering::Relaxed) {
            0 => Permit::Go,
            1 => Permit::Wait,
            _ => Permit::Never,
        });
        // A wait cut short (a timeout) leaves the gate shut, to be waited for again.
        let waited = tokio::time::timeout(std::time::Duration::from_millis(20), gate.open()).await;
        assert!(waited.is_err(), "opens only once committed");
        done.send(()).unwrap();
        assert!(gate.open().await);
        permit.store(1, std::sync::atomic::Ordering::Relaxed);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(250), gate.open()).await;
        assert!(waited.is_err(), "shut while the permit says wait");
        permit.store(2, std::sync::atomic::Ordering::Relaxed);
        assert!(!gate.open().await, "never once the permit says so");
        // A commit that never comes shuts the gate for good, however often it is asked.
        let (done, committed) = tokio::sync::oneshot::channel::<()>();
        drop(done);
        let mut gate = Gate::default();
        gate.after(committed);
        assert!(!gate.open().await);
        assert!(!gate.open().await, "asked again: still shut, and no panic");
    }

    #[test]
    fn reads_enhanced_status_codes() {
        assert_eq!(enhanced_class("permanent error (550): 5.1.1 <a@b.org>: No such user"), Some((5, 1)));
        assert_eq!(enhanced_class("permanent error (550): 5.7.1 Relaying denied"), Some((5, 7)));
        assert_eq!(enhanced_class("permanent error (550): 5.7.26 Unauthenticated email from x.org"), Some((5, 7)));
        assert_eq!(enhanced_class("permanent error (550): No such user 1.2"), None);
        assert_eq!(enhanced_class("permanent error (550): Requested action not taken"), None);
    }
}
