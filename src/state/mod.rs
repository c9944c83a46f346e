//! Subscriber state: who subscribes, in which language and sectors, to which digest, and with
//! what consent; sign-ups waiting for confirmation; digest runs; the daemon's jobs; the WebSub
//! hub's subscriptions and deliveries. [`Database`] is the one way in, opened once from
//! `state.url`; [`sqlite`] holds every query. This module holds the types; the rules are
//! [`crate::subscription`]'s.

pub mod copy;
mod database;
mod interface;
mod postgres;
mod sqlite;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use database::{Database, DigestLock, Pooled, is_unavailable};
pub use interface::{State, Tx};

#[cfg(test)]
#[path = "../../tests/support/postgres.rs"]
#[allow(dead_code)] // what the integration tests use of it too
mod pg_server;

/// A database of one test's own on each backend: a SQLite file in a new temporary folder and
/// a new database on a PostgreSQL server the test process shares, with a connection to each.
#[cfg(test)]
pub(crate) fn each_backend() -> Vec<(Scratch, Pooled)> {
    [scratch_sqlite(), scratch_postgres()]
        .into_iter()
        .map(|scratch| {
            eprintln!("on {}", scratch.db.url());
            let state = scratch.db.get().expect("a connection");
            (scratch, state)
        })
        .collect()
}

/// A test's database, dropped (the SQLite one with its folder) at the end of the test.
#[cfg(test)]
pub(crate) struct Scratch {
    /// The database.
    pub db: Database,
    _dir: Option<tempfile::TempDir>,
}

#[cfg(test)]
fn scratch_config(url: crate::config::StateUrl) -> crate::config::StateConfig {
    crate::config::StateConfig {
        url,
        keep_runs: std::time::Duration::from_secs(90 * 86_400),
        lease: std::time::Duration::from_secs(60),
    }
}

/// A SQLite database of its own in a new temporary folder.
#[cfg(test)]
pub(crate) fn scratch_sqlite() -> Scratch {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = scratch_config(crate::config::StateUrl::Sqlite(dir.path().join("gazette.db")));
    Scratch { db: Database::open(&config).expect("a new database opens"), _dir: Some(dir) }
}

/// A new PostgreSQL database on the server this test process shares.
#[cfg(test)]
pub(crate) fn scratch_postgres() -> Scratch {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SERVER: OnceLock<pg_server::PgServer> = OnceLock::new();
    static DATABASES: AtomicUsize = AtomicUsize::new(0);
    let server = SERVER.get_or_init(|| {
        // Started from a thread that never ends: the server dies with the thread that started
        // it, and a test's own thread ends with the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(pg_server::PgServer::start());
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("the test server starts")
    });
    let name = format!("test_{}", DATABASES.fetch_add(1, Ordering::Relaxed));
    let url = crate::config::StateUrl::parse(&server.create_database(&name), std::path::Path::new("/"), "test")
        .expect("the test server's URL");
    Scratch { db: Database::open(&scratch_config(url)).expect("a new database opens"), _dir: None }
}

/// Where a subscriber stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Added by an operator without consent on record yet: gets no digest until they sign up
    /// and confirm, or are added again with `--confirmed`. (Sign-ups from the form wait in
    /// their own rows, [`SignUp`].)
    Pending,
    /// Confirmed: gets digests.
    Confirmed,
    /// Unsubscribed: gets nothing, and an import never subscribes them again.
    Unsubscribed,
    /// The address bounced too often: gets nothing.
    Bounced,
}

/// What the suppression list keeps of a removed address: a SHA-256 of its key, enough to
/// recognise it and not to read it.
fn email_hash(key: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(key.as_bytes()).to_vec()
}

/// The hashes a removed address may be on the suppression list under: of its key, and of the
/// key an earlier release made of it, which kept an internationalised domain in Unicode.
fn suppression_hashes(address: &crate::subscription::Address) -> Vec<Vec<u8>> {
    let key = address.key();
    let mut hashes = vec![email_hash(&key)];
    if address.domain().contains("xn--") {
        let (unicode, result) = idna::domain_to_unicode(address.domain());
        if result.is_ok() {
            let local = &key[..key.len() - address.domain().len()];
            hashes.push(email_hash(&format!("{local}{}", unicode.to_lowercase())));
        }
    }
    hashes
}

impl Status {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Unsubscribed => "unsubscribed",
            Status::Bounced => "bounced",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Status, String> {
        match s {
            "pending" => Ok(Status::Pending),
            "confirmed" => Ok(Status::Confirmed),
            "unsubscribed" => Ok(Status::Unsubscribed),
            "bounced" => Ok(Status::Bounced),
            other => Err(format!("unknown subscriber status '{other}'")),
        }
    }
}

/// What a subscriber asked for: validated against config before it reaches the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    /// Display name, one line, or none.
    pub name: Option<String>,
    /// A configured language code.
    pub language: String,
    /// Configured sector ids in config order; empty means every sector.
    pub sectors: Vec<String>,
    /// A configured digest id.
    pub digest: String,
}

/// A subscriber as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Row id.
    pub id: i64,
    /// The address as given (domain lowercased).
    pub email: String,
    /// What they asked for.
    pub preferences: Preferences,
    /// Where they stand.
    pub status: Status,
    /// Where the consent came from (`cli`, `import:FILE`, `web:ADDRESS`).
    pub consent: String,
    /// When the row was made (Unix seconds).
    pub created_at: i64,
    /// When they confirmed, if they did.
    pub confirmed_at: Option<i64>,
    /// When they unsubscribed, if they did.
    pub unsubscribed_at: Option<i64>,
    /// The cutoff of the last digest run that sent them a digest or had nothing for them.
    pub last_cutoff: Option<i64>,
    /// The address as an earlier release stored it, when normalising changed it: the links
    /// already mailed to them were signed over this one.
    pub link_email: Option<String>,
}

impl Subscriber {
    /// The moment after which their next digest starts: the last run's cutoff that reached
    /// them, else when they confirmed.
    pub fn since(&self) -> i64 {
        self.last_cutoff.or(self.confirmed_at).unwrap_or(self.created_at)
    }

    /// The address their unsubscribe and preference links are bound to (see
    /// [`crate::tokens`]): the one links were first signed over, so that none already mailed
    /// stops working.
    pub fn link_binding(&self) -> &str {
        self.link_email.as_deref().unwrap_or(&self.email)
    }
}

/// A sign-up made on the subscribe form, waiting for its confirmation link to be followed.
/// Its choices are its own: they reach a subscriber only through that link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUp {
    /// Row id; never given to another sign-up.
    pub id: i64,
    /// The normalised address it was made for.
    pub email: String,
    /// The choices made on the form.
    pub preferences: Preferences,
    /// Where it came from (`web:ADDRESS`).
    pub consent: String,
    /// When it was made (Unix seconds), also the moment its link was issued.
    pub created_at: i64,
}

/// What saving a subscriber did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// A new subscriber.
    Added,
    /// An existing subscriber's preferences changed.
    Updated,
    /// Already stored exactly so.
    Unchanged,
    /// Left alone: they unsubscribed or bounced, and only they can subscribe again.
    Kept(Status),
    /// Not added: the address was removed before, and a list does not bring it back.
    Suppressed,
}

/// One sending of one digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Row id.
    pub id: i64,
    /// Articles published up to this moment (Unix seconds) are in this run; the next run of
    /// the digest starts after it, so nothing is sent twice and nothing is skipped.
    pub cutoff: i64,
    /// True when an unfinished run (the process was stopped or killed) was taken up again.
    pub is_resumed: bool,
}

/// One digest run as its web copies in one language show it: what it offered a reader of that
/// language, with no word of whom it was sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunNews {
    /// The run's id.
    pub run: i64,
    /// The digest id.
    pub digest: String,
    /// The run's cutoff (Unix seconds): its date.
    pub cutoff: i64,
    /// What a reader of the language following every sector got, newest first.
    pub articles: Vec<NewsItem>,
}

/// One article a run offered a reader of some language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewsItem {
    /// The language of the version offered (the default language's for a fallback).
    pub lang: String,
    /// Its slug.
    pub slug: String,
    /// When it became news (Unix seconds).
    pub at: i64,
    /// Offered in the default language because the reader's had no version.
    pub is_fallback: bool,
}

/// What became of one digest run (`gazette digest status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The digest id.
    pub digest: String,
    /// When it started (Unix seconds).
    pub started_at: i64,
    /// When it finished, if it did.
    pub finished_at: Option<i64>,
    /// Deliveries by status (`sent`, `skipped`, `failed`, `pending`).
    pub by_status: Vec<(String, i64)>,
    /// Deliveries by what came back for them (`bounced`, `soft`, `complained`, …).
    pub returned: Vec<(String, i64)>,
    /// Subscribers of the run who have unsubscribed since it started.
    pub unsubscribed_since: i64,
}

impl RunReport {
    /// Deliveries with status `status`.
    pub fn delivered(&self, status: &str) -> i64 {
        count_of(&self.by_status, status)
    }

    /// Deliveries for which `what` came back.
    pub fn came_back(&self, what: &str) -> i64 {
        count_of(&self.returned, what)
    }
}

fn count_of(counts: &[(String, i64)], key: &str) -> i64 {
    counts.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
}

/// A returned message as logged: what it was and whom it concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnEntry {
    /// `hard`, `soft`, `unclassified`, `complaint`, `auto-reply`.
    pub kind: String,
    /// The subscriber it came back for, if known.
    pub subscriber: Option<i64>,
    /// The digest run it came back for, if it was a digest.
    pub run: Option<i64>,
    /// The sign-up whose confirmation came back, if it was one.
    pub signup: Option<i64>,
    /// The status code it gave (`5.1.1`).
    pub status: Option<String>,
    /// The remote server's words, one line.
    pub diagnostic: Option<String>,
}

/// How one subscriber's delivery in a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The message was accepted by the mail server (or written to the outbox).
    Sent,
    /// Nothing to send (no new articles, or the subscriber is no longer confirmed).
    Skipped,
    /// Not sent: refused by the mail server, or the message could not be made.
    Failed {
        /// The server's reply or the error.
        error: String,
        /// A permanent refusal (counts as a hard bounce).
        is_permanent: bool,
    },
}

/// A WebSub subscription held by the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSubscription {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// The feed, relative to the feed folder (`en/atom.xml`).
    pub topic: String,
    /// The subscriber's callback URL.
    pub callback: String,
    /// The HMAC key of `X-Hub-Signature`, if the subscriber gave one.
    pub secret: Option<String>,
    /// When the lease ends (Unix seconds).
    pub expires_at: i64,
}

/// A delivery waiting for its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubDelivery {
    /// Whom it goes to.
    pub subscription: HubSubscription,
    /// Changes it carries so far (a newer one sends it again).
    pub version: i64,
    /// Failed attempts so far.
    pub attempts: i64,
    /// When its first change was queued (milliseconds): it is given up some time after.
    pub first_at: i64,
}

/// How many subscriptions the hub holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubLimits {
    /// Per topic.
    pub per_topic: u64,
    /// Per callback host, over every topic.
    pub per_callback_host: u64,
}

impl HubLimits {
    /// Which limit a new subscription would exceed, given how many live subscriptions its
    /// topic and its callback's host hold besides it (the second counted only when needed).
    /// The rule both backends apply, inside the transaction that counts.
    pub fn refusal(
        self,
        per_topic: impl FnOnce() -> anyhow::Result<i64>,
        per_host: impl FnOnce() -> anyhow::Result<i64>,
    ) -> anyhow::Result<Option<HubRefusal>> {
        if u64::try_from(per_topic()?).unwrap_or(0) >= self.per_topic {
            return Ok(Some(HubRefusal::TopicFull));
        }
        if u64::try_from(per_host()?).unwrap_or(0) >= self.per_callback_host {
            return Ok(Some(HubRefusal::HostFull));
        }
        Ok(None)
    }
}

/// Why the hub refuses a subscription it otherwise would take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubRefusal {
    /// The topic has as many subscriptions as it may.
    TopicFull,
    /// The callback's host has as many subscriptions as it may.
    HostFull,
}

impl HubRefusal {
    /// The `hub.reason` told to the subscriber.
    pub fn reason(self) -> &'static str {
        match self {
            HubRefusal::TopicFull => "too many subscriptions to this topic",
            HubRefusal::HostFull => "too many subscriptions from this callback host",
        }
    }
}
