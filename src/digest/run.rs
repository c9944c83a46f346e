//! One digest run, the job `gazette digest send` and the daemon's schedule both run: open the
//! run (or resume the unfinished one after a crash), then send every pending subscriber their
//! digest, and record each outcome.
//!
//! Three parts work at once. A producer thread claims pending deliveries a page at a time,
//! and picks their articles and composes their messages on every core; `mail.pool_size`
//! senders, each with its own SMTP connection, send them within the rate limit, retrying while
//! the server is unavailable; a recorder thread commits outcomes, many to a transaction.
//!
//! Nothing is sent twice and nothing is skipped: deliveries are rows made when the run opens,
//! each claimed by one process for a lease it renews and sent only while that lease holds
//! ([`super::lease`]), and a sender sends a message's content only once the outcome of the one
//! before is committed (its envelope and `DATA` go meanwhile). Several instances on one PostgreSQL
//! database send one run together, each the deliveries it claimed; the leases of one that died
//! run out and the others take the rest. The one window that cannot be closed is between the
//! server's `250` reply and that commit: if the process dies exactly there, that message (at
//! most one per connection) is sent again by whoever takes its delivery (and on PostgreSQL, after
//! a crash of the server, the messages whose outcomes it had not yet written: README, *Delivery*). A database that goes
//! away meanwhile (a restart) is waited for.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rayon::iter::{IntoParallelIterator as _, ParallelIterator as _};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::compose::{Composer, Preview};
use super::copy;
use super::lease::{Held, Standing};
use super::progress::{Counts, Progress};
use super::select::{Arrivals, Item, LATE_LIMIT, Reader, news, select};
use crate::build;
use crate::config::{Config, Digest};
use crate::mail::message::Outgoing;
use crate::mail::pace::Pace;
use crate::mail::retry::send_with_retries;
use crate::mail::transport::{Connection, Gate, Mailer, Permit, SendError};
use crate::state::{Database, Outcome, Run, RunNews, State, Status, Subscriber, is_unavailable};
use crate::store::Catalog;

/// Deliveries claimed from the database at a time.
const PAGE: usize = 500;
/// How long a run waits for a database that went away before it stops.
const PATIENCE: Duration = Duration::from_secs(300);
/// Outcomes committed in one transaction at most.
const BATCH: usize = 1024;

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The run's id.
    pub run: i64,
    /// Whether an unfinished run was resumed.
    pub is_resumed: bool,
    /// Messages sent.
    pub sent: usize,
    /// Subscribers with nothing to send (or no longer confirmed).
    pub skipped: usize,
    /// Messages refused for good, or that could not be made.
    pub failed: usize,
    /// Whether every delivery of the run is done.
    pub is_finished: bool,
}

/// A message to send, and whom it is for.
struct Job {
    subscriber: i64,
    email: String,
    message: Outgoing,
}

/// An outcome for the recorder; `done` hears when it is committed.
struct Record {
    subscriber: i64,
    outcome: Outcome,
    done: Option<oneshot::Sender<()>>,
}

/// The first error that stops a run; later ones are consequences.
struct Halt {
    token: CancellationToken,
    error: Mutex<Option<anyhow::Error>>,
}

impl Halt {
    fn new(stop: &CancellationToken) -> Halt {
        Halt { token: stop.child_token(), error: Mutex::new(None) }
    }

    fn fail(&self, error: anyhow::Error) {
        let mut first = self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if first.is_none() {
            *first = Some(error);
        }
        self.token.cancel();
    }

    fn is_halted(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Sleeps `pause` unless the run halts first; whether it halted.
    fn pause(&self, pause: Duration) -> bool {
        let until = Instant::now() + pause;
        while Instant::now() < until {
            if self.is_halted() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
        }
        self.is_halted()
    }

    /// Runs `work` (on a new connection each time) until the database answers it, waiting up
    /// to [`PATIENCE`] while it is unavailable, unless the run halts meanwhile.
    fn patiently<T>(&self, db: &Database, mut work: impl FnMut(&mut State) -> Result<T>) -> Result<T> {
        let started = Instant::now();
        let mut is_waiting = false;
        loop {
            match db.get().and_then(|mut state| work(&mut state)) {
                Err(e) if is_unavailable(&e) && started.elapsed() < PATIENCE && !self.is_halted() => {
                    if !is_waiting {
                        tracing::warn!(error = format!("{e:#}"), "the database is unavailable: waiting for it");
                        is_waiting = true;
                    }
                    self.pause(Duration::from_secs(1));
                }
                done => {
                    if is_waiting && done.is_ok() {
                        tracing::info!("the database answers again");
                    }
                    return done;
                }
            }
        }
    }

    fn take_error(&self) -> Option<anyhow::Error> {
        self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

/// Sends digest `digest_id` as of `now`. When `stop` is cancelled (a signal), messages being
/// sent finish and are recorded, and the rest stay pending for the next run.
/// `due` is the schedule's due time the run is for (instances whose schedules fire together
/// join one run), none for a run an operator asked for.
pub fn send(
    config: &Config,
    db: &Database,
    digest_id: &str,
    due: Option<i64>,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<RunReport> {
    let digest = config.digest(digest_id).with_context(|| format!("unknown digest '{digest_id}'"))?;
    let survey = build::survey(config, now)?;
    let composer = Composer::load(config, digest)?;
    let mailer = Mailer::new(config)?;
    let _lock = db.lock_digest(digest_id)?;
    let mut state = db.get()?;
    let run = state.open_run(digest_id, due, now.timestamp())?;
    let recent = Arrivals::recent(&survey.catalog, now.timestamp());
    let keys: Vec<(&str, &str, i64)> = recent.iter().map(|m| (m.lang, m.slug, m.published)).collect();
    let first_seen: Vec<Option<i64>> =
        state.see_articles(&run, &keys, now.timestamp())?.into_iter().map(Some).collect();
    let arrivals = Arrivals::new(&recent, &first_seen, now.timestamp());
    let copies = record_news(&mut state, config, digest_id, &run, &survey.catalog, &arrivals)?;
    // The copies look articles up; the lookups are made here, not inside the producer's threads.
    survey.catalog.prepare_lookups();
    let total = state.count_pending(run.id)?;
    drop(state);
    tracing::info!(digest = digest_id, run = run.id, resumed = run.is_resumed, pending = total, "digest run started");

    let halt = Halt::new(stop);
    let held = Held::new(config.state.lease);
    let limiter = Pace::new(db, "digest", config.mail.rate, config.mail.pool_size);
    let (job_tx, job_rx) = mpsc::channel::<Job>(config.mail.pool_size as usize * 4);
    let (record_tx, record_rx) = std_mpsc::channel::<Record>();
    let producer = Producer {
        config,
        db,
        digest,
        composer: &composer,
        catalog: &survey.catalog,
        arrivals: &arrivals,
        run,
        held: &held,
        copies: &copies,
        copy_items: Mutex::default(),
    };
    let (renewing, renewals) = std_mpsc::channel::<()>();
    let counts = std::thread::scope(|scope| -> Result<Counts> {
        let recorder = scope.spawn(|| record(config, db, &run, &held, record_rx, total, &halt));
        let keeper = {
            let held = &held;
            let halt = &halt;
            scope.spawn(move || keep_leases(config, db, &run, held, &renewals, halt))
        };
        let producing = {
            let record_tx = record_tx.clone();
            scope.spawn(|| producer.produce(job_tx, record_tx, &halt))
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let jobs = tokio::sync::Mutex::new(job_rx);
        runtime.block_on(async {
            let senders = (0..config.mail.pool_size).map(|_| {
                sender(mailer.connection(), &jobs, record_tx.clone(), &limiter, &held, config.mail.retries, &halt)
            });
            futures_util::future::join_all(senders).await;
        });
        drop(jobs);
        drop(record_tx);
        producing.join().map_err(|_| anyhow::anyhow!("the digest producer panicked"))?;
        let counts = recorder.join().map_err(|_| anyhow::anyhow!("the digest recorder panicked"));
        drop(renewing);
        keeper.join().map_err(|_| anyhow::anyhow!("the lease keeper panicked"))?;
        counts
    })?;
    // What this process claimed and did not get to (it was stopped) is given back: the other
    // instances, or the next run, take it at once instead of after the lease.
    let released = halt.patiently(db, |state| state.release_claims(run.id, db.sender()));
    if let Err(e) = released {
        tracing::warn!(error = format!("{e:#}"), "cannot give back the deliveries claimed; they wait out their lease");
    }

    let mut report = RunReport {
        run: run.id,
        is_resumed: run.is_resumed,
        sent: counts.sent,
        skipped: counts.skipped,
        failed: counts.failed,
        is_finished: false,
    };
    let error = halt.take_error();
    if error.is_none() {
        report.is_finished = halt.patiently(db, |state| state.finish_run(run.id, Utc::now().timestamp()))?;
    }
    tracing::info!(
        digest = digest_id,
        run = run.id,
        sent = report.sent,
        skipped = report.skipped,
        failed = report.failed,
        finished = report.is_finished,
        stopped = error.is_some(),
        "digest run ended"
    );
    error.map_or(Ok(report), Err)
}

/// Records what `run` offers, for its web copies (once: a resumed run keeps what it offered
/// when it opened): every article that became news since the digest's previous run (for its
/// first run, within the week before, [`LATE_LIMIT`]) that a reader of each language gets. Returns
/// what was recorded, by language, as the copies will read it.
fn record_news(
    state: &mut State,
    config: &Config,
    digest_id: &str,
    run: &Run,
    catalog: &Catalog,
    arrivals: &Arrivals,
) -> Result<HashMap<String, RunNews>> {
    let since = state.previous_cutoff(digest_id, run.id)?.unwrap_or(run.cutoff - LATE_LIMIT);
    let offered = copy::offered(config, catalog, &news(catalog, arrivals, since, run.cutoff));
    state.record_news(run, &offered)?;
    let mut copies = HashMap::new();
    for language in &config.languages {
        if let Some(recorded) = state.run_news(run.id, &language.code)? {
            copies.insert(language.code.clone(), recorded);
        }
    }
    Ok(copies)
}

/// What the producer reads from: everything borrowed, shared with nobody mutable.
struct Producer<'a> {
    config: &'a Config,
    db: &'a Database,
    digest: &'a Digest,
    composer: &'a Composer<'a>,
    catalog: &'a Catalog,
    arrivals: &'a Arrivals<'a>,
    run: Run,
    /// The deliveries this process claimed and has not recorded.
    held: &'a Held,
    /// What the run offers readers of each language, as its web copies read it.
    copies: &'a HashMap<String, RunNews>,
    /// The articles of each copy (language, sectors) asked for so far, as (language, slug).
    copy_items: Mutex<HashMap<CopyOf, Vec<(&'a str, &'a str)>>>,
}

/// A web copy: (language, sector positions).
type CopyOf = (String, Vec<usize>);

impl Producer<'_> {
    /// Reads the run's pending subscribers a page at a time and hands each a message (to the
    /// senders) or an outcome (to the recorder), until all are handed out or the run halts.
    fn produce(&self, jobs: mpsc::Sender<Job>, records: std_mpsc::Sender<Record>, halt: &Halt) {
        let result = (|| -> Result<()> {
            let (run, sender) = (self.run.id, self.db.sender());
            let lease = i64::try_from(self.config.state.lease.as_secs()).unwrap_or(i64::MAX);
            loop {
                if halt.is_halted() {
                    return Ok(());
                }
                let page = halt.patiently(self.db, |state| {
                    let since = Instant::now();
                    let page = state.claim(run, sender, &self.held.ids(), lease, PAGE)?;
                    self.held.add(page.iter().map(|s| s.id), since);
                    Ok(page)
                })?;
                if page.is_empty() {
                    // The rest is being sent (by other instances, or this one's messages in
                    // flight): done when they are, or when their leases run out.
                    if halt.patiently(self.db, |state| state.count_pending(run))? == 0
                        || halt.pause(Duration::from_secs(1))
                    {
                        return Ok(());
                    }
                    continue;
                }
                // Messages are made on every core (a DKIM signature alone is milliseconds of
                // CPU) and handed out as each is ready; their order does not matter.
                let stopped = page.into_par_iter().try_for_each_with(records.clone(), |records, subscriber| {
                    if halt.is_halted() {
                        return Err(());
                    }
                    let handed = match self.prepare(&subscriber) {
                        Ok(message) => jobs
                            .blocking_send(Job { subscriber: subscriber.id, email: subscriber.email, message })
                            .is_ok(),
                        Err(outcome) => records.send(Record { subscriber: subscriber.id, outcome, done: None }).is_ok(),
                    };
                    if handed { Ok(()) } else { Err(()) }
                });
                if stopped.is_err() {
                    return Ok(());
                }
            }
        })();
        if let Err(e) = result {
            halt.fail(e);
        }
    }

    /// `subscriber`'s message, or the outcome that takes its place.
    fn prepare(&self, subscriber: &Subscriber) -> Result<Outgoing, Outcome> {
        // Read with the page, just before sending: an unsubscribe takes effect at once.
        if subscriber.status != Status::Confirmed {
            return Err(Outcome::Skipped);
        }
        let items = select(
            self.config,
            self.catalog,
            self.arrivals,
            &subscriber.preferences,
            subscriber.since(),
            self.run.cutoff,
            self.digest.max_items,
        );
        if items.is_empty() && !self.digest.send_empty {
            return Err(Outcome::Skipped);
        }
        let has_copy = self.copy_holds(&Reader::of(self.config, &subscriber.preferences), &items);
        match self.composer.compose(subscriber, &items, &self.run, None, has_copy) {
            Ok((_, message)) => Ok(message),
            // One subscriber's broken message (a name the mail library refuses, say) must not
            // stop everyone else's.
            Err(e) => Err(Outcome::Failed { error: format!("{e:#}"), is_permanent: false }),
        }
    }
}

impl<'a> Producer<'a> {
    /// Does the run's web copy for `reader` hold exactly `items`? Only then does a message
    /// link it: a subscriber whose digest starts elsewhere (one who confirmed mid-window, or
    /// whose last message failed and gets two runs' news) has no copy of their own.
    /// An empty message (`send_empty`) links nothing: an empty copy is no page.
    fn copy_holds(&self, reader: &Reader, items: &[Item]) -> bool {
        let Some(news) = self.copies.get(reader.language).filter(|_| !items.is_empty()) else { return false };
        let key = (reader.language.to_owned(), reader.sectors.clone());
        let same = |copy: &[(&str, &str)]| {
            copy.len() == items.len()
                && copy.iter().zip(items).all(|(&(lang, slug), i)| (lang, slug) == (i.meta.lang, i.meta.slug))
        };
        if let Some(copy) = self.lock_copies().get(&key) {
            return same(copy);
        }
        // Worked out without the lock (the catalog's lookups it reads are made before the run).
        let copy: Vec<(&'a str, &'a str)> = copy::items(self.catalog, news, reader, self.digest.max_items)
            .iter()
            .map(|i| (i.meta.lang, i.meta.slug))
            .collect();
        let holds = same(&copy);
        self.lock_copies().insert(key, copy);
        holds
    }

    fn lock_copies(&self) -> std::sync::MutexGuard<'_, HashMap<CopyOf, Vec<(&'a str, &'a str)>>> {
        // A panic while holding the lock leaves finished entries: still good.
        self.copy_items.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One sender: takes messages until there are none or the run halts, and sends each within
/// the rate limit while its lease holds, its content only once the outcome of the one before
/// is committed ([`Gate`]).
async fn sender(
    mut conn: Connection,
    jobs: &tokio::sync::Mutex<mpsc::Receiver<Job>>,
    records: std_mpsc::Sender<Record>,
    limiter: &Pace,
    held: &Held,
    attempts: u32,
    halt: &Halt,
) {
    let mut gate = Gate::default();
    loop {
        let job = tokio::select! {
            () = halt.token.cancelled() => None,
            job = async { jobs.lock().await.recv().await } => job,
        };
        let Some(job) = job else { break };
        if !is_still_held(held, job.subscriber, halt).await {
            continue;
        }
        // Asked again just before the content goes, at every attempt: the send may wait (for
        // the rate, for the commit before, between attempts) longer than the lease has left.
        let id = job.subscriber;
        gate.permit(move || permit(held, id, halt));
        let outcome = match send_with_retries(&mut conn, &job.message, attempts, limiter, &mut gate, &halt.token).await
        {
            Ok(()) => Outcome::Sent,
            // Server replies quote the address; logs name the subscriber by id only.
            Err(SendError::Bounced(e)) => {
                Outcome::Failed { error: e.replace(&job.email, "<address>"), is_permanent: true }
            }
            Err(SendError::Failed(e)) => {
                Outcome::Failed { error: e.replace(&job.email, "<address>"), is_permanent: false }
            }
            Err(SendError::Refused(e)) => {
                halt.fail(anyhow::anyhow!(
                    "the mail server refuses to send for gazette ({e}); check mail.url and the credentials"
                ));
                break;
            }
            // Not sent, and not this process's to record.
            Err(SendError::Withheld(_)) if halt.is_halted() => break,
            Err(SendError::Withheld(_)) => {
                tracing::info!(
                    subscriber = id,
                    "a delivery no longer held (its lease ran out) is left to its new sender"
                );
                continue;
            }
            Err(SendError::Unavailable(_)) if halt.is_halted() => break,
            Err(SendError::Unavailable(e)) => {
                halt.fail(anyhow::anyhow!(
                    "the mail server is unavailable after {attempts} attempts ({e}); the run resumes next time"
                ));
                break;
            }
        };
        let (done, committed) = oneshot::channel();
        if records.send(Record { subscriber: job.subscriber, outcome, done: Some(done) }).is_err() {
            break;
        }
        gate.after(committed);
    }
    // The last outcome committed before the connection closes.
    gate.committed().await;
    conn.close().await;
}

/// Whether the message for subscriber `id` may go now: while its lease holds, not while it
/// is running out unrenewed (renewals are failing), never once it was taken over or the run
/// halts.
fn permit(held: &Held, id: i64, halt: &Halt) -> Permit {
    if halt.is_halted() {
        return Permit::Never;
    }
    match held.standing(id) {
        Standing::Good => Permit::Go,
        Standing::Lapsed => Permit::Wait,
        Standing::Lost => Permit::Never,
    }
}

/// Waits while subscriber `id`'s message may not go yet; whether it may.
async fn is_still_held(held: &Held, id: i64, halt: &Halt) -> bool {
    loop {
        match permit(held, id, halt) {
            Permit::Go => return true,
            Permit::Never => {
                if !halt.is_halted() {
                    tracing::info!(
                        subscriber = id,
                        "a delivery no longer held (its lease ran out) is left to its new sender"
                    );
                }
                return false;
            }
            Permit::Wait => {
                tokio::select! {
                    () = halt.token.cancelled() => return false,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
}

/// Commits outcomes as they come, many to a transaction, and tells each sender when its is
/// safe; shows progress. Returns the counts.
fn record(
    config: &Config,
    db: &Database,
    run: &Run,
    held: &Held,
    records: std_mpsc::Receiver<Record>,
    total: usize,
    halt: &Halt,
) -> Counts {
    let mut counts = Counts::default();
    let mut progress = Progress::new(run.id, total);
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    while let Ok(first) = records.recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match records.try_recv() {
                Ok(record) => batch.push(record),
                Err(_) => break,
            }
        }
        let outcomes: Vec<(i64, Outcome)> = batch.iter().map(|r| (r.subscriber, r.outcome.clone())).collect();
        let recorded = halt.patiently(db, |state| {
            let now = Utc::now().timestamp();
            crate::subscription::record_outcomes(state, run, db.sender(), &outcomes, now, &config.mail)
        });
        let recorded = match recorded {
            Ok(recorded) => recorded,
            Err(e) => {
                halt.fail(e.context("cannot record deliveries"));
                break;
            }
        };
        held.forget(outcomes.iter().map(|(subscriber, _)| *subscriber));
        if recorded.len() < outcomes.len() {
            let recorded: std::collections::HashSet<i64> = recorded.into_iter().collect();
            for (subscriber, outcome) in &outcomes {
                if !recorded.contains(subscriber) && matches!(outcome, Outcome::Sent) {
                    tracing::warn!(
                        run = run.id,
                        subscriber,
                        "sent, but not recorded as this process's: the delivery was taken over (its lease ran out), and may be sent twice, or an attempt whose answer was lost recorded it"
                    );
                }
            }
        }
        let messages = &crate::metrics::metrics().messages;
        for record in batch.drain(..) {
            let outcome = match &record.outcome {
                Outcome::Sent => "sent",
                Outcome::Skipped => "skipped",
                Outcome::Failed { .. } => "failed",
            };
            messages.get_or_create(&crate::metrics::label("outcome", outcome)).inc();
            match &record.outcome {
                Outcome::Sent => counts.sent += 1,
                Outcome::Skipped => counts.skipped += 1,
                Outcome::Failed { error, .. } => {
                    tracing::warn!(run = run.id, subscriber = record.subscriber, error, "digest not delivered");
                    counts.failed += 1;
                }
            }
            if let Some(done) = record.done {
                let _ = done.send(());
            }
        }
        progress.update(counts);
    }
    progress.finish();
    counts
}

/// Renews the leases of the deliveries this process holds in `run`, every third of
/// `state.lease` (every second after a failure), until `done` is dropped. Renewals failing
/// for [`PATIENCE`] halt the run: its messages have been waiting for them all that time.
fn keep_leases(config: &Config, db: &Database, run: &Run, held: &Held, done: &std_mpsc::Receiver<()>, halt: &Halt) {
    let lease = config.state.lease;
    let seconds = i64::try_from(lease.as_secs()).unwrap_or(i64::MAX);
    let (mut wait, mut last_renewed) = (lease / 3, Instant::now());
    while let Err(std_mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(wait) {
        let (since, asked) = (Instant::now(), held.ids());
        if asked.is_empty() {
            last_renewed = since;
            continue;
        }
        let renewed = db.get().and_then(|mut state| state.renew_claims(run.id, db.sender(), &asked, seconds));
        match renewed {
            Ok(renewed) => {
                held.renewed(&asked, &renewed, since);
                (wait, last_renewed) = (lease / 3, since);
            }
            Err(e) if last_renewed.elapsed() >= PATIENCE => {
                halt.fail(e.context("cannot renew the leases of claimed deliveries"));
                return;
            }
            Err(e) => {
                tracing::warn!(run = run.id, error = format!("{e:#}"), "cannot renew the leases of claimed deliveries");
                wait = Duration::from_secs(1).min(lease / 3);
            }
        }
    }
}

/// What a run would send now, without sending or recording anything: (confirmed subscribers,
/// those with articles to receive).
pub fn dry_run(config: &Config, db: &Database, digest_id: &str, now: DateTime<Utc>) -> Result<(usize, usize)> {
    let digest = config.digest(digest_id).with_context(|| format!("unknown digest '{digest_id}'"))?;
    let survey = build::survey(config, now)?;
    let state = db.get()?;
    let arrivals = seen_arrivals(&state, &survey.catalog, now.timestamp())?;
    let (mut confirmed, mut with_items) = (0, 0);
    let mut after = 0;
    loop {
        let page = state.confirmed(digest_id, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for subscriber in &page {
            confirmed += 1;
            let has_items = !select(
                config,
                &survey.catalog,
                &arrivals,
                &subscriber.preferences,
                subscriber.since(),
                now.timestamp(),
                1,
            )
            .is_empty();
            if has_items || digest.send_empty {
                with_items += 1;
            }
        }
    }
    Ok((confirmed, with_items))
}

/// Writes the digest `digest_id` that `email` would get now to `out/<email>.eml` and
/// `out/<email>.html` (to open in a browser); sends and records nothing. An address that is not
/// subscribed previews the default language, every sector, and the last week's articles. With
/// `since` (Unix seconds) it shows the articles after then instead; with nothing new (a new
/// subscriber) the latest `max_items` they would get. Either says so in a banner.
pub fn preview(
    config: &Config,
    db: &Database,
    digest_id: &str,
    email: &crate::subscription::Address,
    out: &std::path::Path,
    now: DateTime<Utc>,
    since: Option<i64>,
) -> Result<Vec<std::path::PathBuf>> {
    let digest = config.digest(digest_id).with_context(|| format!("unknown digest '{digest_id}'"))?;
    let survey = build::survey(config, now)?;
    let state = db.get()?;
    let arrivals = seen_arrivals(&state, &survey.catalog, now.timestamp())?;
    let subscriber = match state.subscriber(email)? {
        Some(s) => s,
        None => Subscriber {
            id: 0,
            email: email.to_string(),
            preferences: crate::state::Preferences {
                name: None,
                language: config.site.default_language.clone(),
                sectors: Vec::new(),
                digest: digest_id.to_owned(),
            },
            status: Status::Confirmed,
            consent: "preview".into(),
            created_at: now.timestamp() - 7 * 24 * 3600,
            confirmed_at: None,
            unsubscribed_at: None,
            last_cutoff: None,
            link_email: None,
        },
    };
    let pick = |since| {
        select(config, &survey.catalog, &arrivals, &subscriber.preferences, since, now.timestamp(), digest.max_items)
    };
    let (items, preview) = match since {
        Some(since) => (pick(since), Some(Preview::Since(since))),
        None => match pick(subscriber.since()) {
            // An empty preview shows nothing of what the digest looks like.
            new if new.is_empty() => (pick(i64::MIN), Some(Preview::Latest)),
            new => (new, None),
        },
    };
    let composer = Composer::load(config, digest)?;
    let run = Run { id: 0, cutoff: now.timestamp(), is_resumed: false };
    // A preview is of no run, so it has no copy on the web to link.
    let (rendered, message) = composer.compose(&subscriber, &items, &run, preview, false)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // An address's local part may hold '/': not in a file name.
    let stem: String = subscriber.email.chars().map(|c| if c == '/' || c == '\\' { '_' } else { c }).collect();
    let eml = out.join(format!("{stem}.eml"));
    let html = out.join(format!("{stem}.html"));
    crate::atomic::write(&eml, &message.bytes)?;
    crate::atomic::write(&html, rendered.html.as_bytes())?;
    Ok(vec![eml, html])
}

/// When the recent articles of `catalog` arrived, as far as digests have seen them; records
/// nothing (for the dry run and the preview).
fn seen_arrivals<'a>(state: &State, catalog: &'a Catalog, now: i64) -> Result<Arrivals<'a>> {
    let recent = Arrivals::recent(catalog, now);
    let keys: Vec<(&str, &str)> = recent.iter().map(|m| (m.lang, m.slug)).collect();
    Ok(Arrivals::new(&recent, &state.seen_articles(&keys)?, now))
}
