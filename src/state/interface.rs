//! [`State`] and [`Tx`]: every read and write gazette makes of its state, each answered by the
//! backend the database is on ([`super::sqlite`] or [`super::postgres`]), which holds the SQL.
//! Nothing outside the backends writes a query.

use anyhow::Result;

use super::copy::{Table, Value};
use super::{
    HubDelivery, HubLimits, HubRefusal, HubSubscription, NewsItem, Outcome, Preferences, ReturnEntry, Run, RunNews,
    RunReport, SignUp, Status, Subscriber,
};
use super::{postgres, sqlite};
use crate::subscription::Address;

/// One connection to the state (see [`super::Database::get`]).
pub enum State {
    /// To a SQLite file.
    Sqlite(sqlite::Conn),
    /// To a PostgreSQL server.
    Postgres(Box<postgres::Conn>),
}

/// One write transaction (see [`State::write`]): the writes the subscription rules
/// ([`crate::subscription`]) are made of.
pub enum Tx<'r, 'c> {
    /// In a SQLite file.
    Sqlite(&'r sqlite::Tx<'c>),
    /// On a PostgreSQL server.
    Postgres(&'r postgres::Tx<'c>),
}

impl State {
    /// Runs `work` in one write transaction: committed when it returns `Ok`, rolled back
    /// otherwise. Write transactions happen one at a time (on PostgreSQL too, across every
    /// instance), so a rule that reads and then writes sees what it changes.
    pub fn write<T>(&mut self, work: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        match self {
            State::Sqlite(c) => c.write(|tx| work(&Tx::Sqlite(tx))),
            State::Postgres(c) => c.write(|tx| work(&Tx::Postgres(tx))),
        }
    }

    /// Whether the connection was lost (the server restarted, say): it is not used again.
    pub fn is_broken(&self) -> bool {
        match self {
            State::Sqlite(_) => false,
            State::Postgres(c) => c.is_broken(),
        }
    }

    /// How many rows `table` holds (`gazette state copy`).
    pub fn count_rows(&self, table: &Table) -> Result<u64> {
        match self {
            State::Sqlite(c) => c.count_rows(table),
            State::Postgres(c) => c.count_rows(table),
        }
    }

    /// Calls `each` with every row of each of `tables` in turn, all read as of one moment.
    pub fn export(&mut self, tables: &[Table], each: impl FnMut(&Table, Vec<Value>) -> Result<()>) -> Result<()> {
        match self {
            State::Sqlite(c) => c.export(tables, each),
            State::Postgres(c) => c.export(tables, each),
        }
    }

    /// Writes the rows `fill` hands its loader (rows of `tables`, each table's together, parents
    /// first) in one transaction: all of them, or none when anything fails.
    pub fn import(
        &mut self,
        tables: &[Table],
        fill: impl FnOnce(&mut dyn FnMut(&Table, Vec<Value>) -> Result<()>) -> Result<()>,
    ) -> Result<()> {
        match self {
            State::Sqlite(c) => c.import(tables, fill),
            State::Postgres(c) => c.import(tables, fill),
        }
    }

    /// Every subscriber, in the order they were added (for tests and small lists).
    #[cfg(test)]
    pub fn subscribers(&self) -> Result<Vec<Subscriber>> {
        let mut all = Vec::new();
        self.for_each_subscriber(|s| {
            all.push(s);
            Ok(())
        })?;
        Ok(all)
    }

    /// Copies old versions of deleted rows out of the write-ahead log (a removed subscriber's
    /// address must not linger there until the next checkpoint).
    pub fn checkpoint(&self) -> Result<()> {
        match self {
            State::Sqlite(c) => c.checkpoint(),
            State::Postgres(c) => c.checkpoint(),
        }
    }

    /// Whether the database answers (the health check): one trivial query.
    pub fn ping(&self) -> Result<()> {
        match self {
            State::Sqlite(c) => c.ping(),
            State::Postgres(c) => c.ping(),
        }
    }

    /// When `job` was last due (Unix seconds) and whether that run ended well (finished, and
    /// not with an error), if it ever ran under the daemon.
    pub fn job_due(&self, job: &str) -> Result<Option<(i64, bool)>> {
        match self {
            State::Sqlite(c) => c.job_due(job),
            State::Postgres(c) => c.job_due(job),
        }
    }

    /// Records that `job`, due at `due`, started at `now`; with an `outcome` (skipped, say),
    /// that it also ended then.
    pub fn job_started(&mut self, job: &str, due: i64, now: i64, outcome: Option<&str>) -> Result<()> {
        match self {
            State::Sqlite(c) => c.job_started(job, due, now, outcome),
            State::Postgres(c) => c.job_started(job, due, now, outcome),
        }
    }

    /// Takes `job` due at `due` for this process, unless another process on the database (an
    /// instance) already took that due time or a later one: whether this one did. A job taken
    /// so runs once per due time, however many instances there are.
    pub fn take_job(&mut self, job: &str, due: i64, now: i64) -> Result<bool> {
        match self {
            State::Sqlite(c) => c.take_job(job, due, now),
            State::Postgres(c) => c.take_job(job, due, now),
        }
    }

    /// Records how `job` ended.
    pub fn job_finished(&mut self, job: &str, now: i64, outcome: &str) -> Result<()> {
        match self {
            State::Sqlite(c) => c.job_finished(job, now, outcome),
            State::Postgres(c) => c.job_finished(job, now, outcome),
        }
    }

    /// Calls `each` with every subscriber, in the order they were added, one row at a time
    /// (a list of any size is never held).
    pub fn for_each_subscriber(&self, each: impl FnMut(Subscriber) -> Result<()>) -> Result<()> {
        match self {
            State::Sqlite(c) => c.for_each_subscriber(each),
            State::Postgres(c) => c.for_each_subscriber(each),
        }
    }

    /// The current status of subscriber `id`; `None` once removed.
    pub fn status_of(&self, id: i64) -> Result<Option<Status>> {
        match self {
            State::Sqlite(c) => c.status_of(id),
            State::Postgres(c) => c.status_of(id),
        }
    }

    /// The subscriber with this address, if any.
    pub fn subscriber(&self, address: &Address) -> Result<Option<Subscriber>> {
        match self {
            State::Sqlite(c) => c.subscriber(address),
            State::Postgres(c) => c.subscriber(address),
        }
    }

    /// The subscriber with row id `id`, if any.
    pub fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        match self {
            State::Sqlite(c) => c.subscriber_by_id(id),
            State::Postgres(c) => c.subscriber_by_id(id),
        }
    }

    /// The sign-up with row id `id`, if it still waits.
    pub fn signup(&self, id: i64) -> Result<Option<SignUp>> {
        match self {
            State::Sqlite(c) => c.signup(id),
            State::Postgres(c) => c.signup(id),
        }
    }

    /// Subscribers of each status (for the metrics).
    pub fn count_by_status(&self) -> Result<Vec<(String, i64)>> {
        match self {
            State::Sqlite(c) => c.count_by_status(),
            State::Postgres(c) => c.count_by_status(),
        }
    }

    /// Sign-ups waiting for confirmation (for the metrics).
    pub fn count_signups(&self) -> Result<i64> {
        match self {
            State::Sqlite(c) => c.count_signups(),
            State::Postgres(c) => c.count_signups(),
        }
    }

    /// The run of `digest` due at `due` if there is one (another instance opened it, or it
    /// was interrupted), else the unfinished run if there is one (after a crash), else a new run
    /// with cutoff `now` and a pending delivery for every confirmed subscriber of the digest.
    /// `due` is none for a run an operator asked for.
    pub fn open_run(&mut self, digest: &str, due: Option<i64>, now: i64) -> Result<Run> {
        match self {
            State::Sqlite(c) => c.open_run(digest, due, now),
            State::Postgres(c) => c.open_run(digest, due, now),
        }
    }

    /// Claims up to `limit` pending deliveries of `run` for `sender` (a process of its own,
    /// [`super::Database::sender`]) for `lease` seconds, by subscriber id, and returns their
    /// subscribers as they are now. Deliveries in `held` (the sender's, still being sent) are
    /// left; one of the sender's own it no longer holds is taken again. A delivery another
    /// sender holds is left to it until its lease ends (on SQLite, where one sender at a time
    /// holds the digest's lock, a claim of another is that of a process that ended, and is
    /// taken). Leases are timed by the database's clock (on PostgreSQL the server's), so the
    /// instances' clocks need not agree.
    pub fn claim(&mut self, run: i64, sender: &str, held: &[i64], lease: i64, limit: usize) -> Result<Vec<Subscriber>> {
        match self {
            State::Sqlite(c) => c.claim(run, sender, held, lease, limit),
            State::Postgres(c) => c.claim(run, sender, held, lease, limit),
        }
    }

    /// Extends to `lease` seconds from now the leases of those deliveries in `held` that are
    /// still pending and still `sender`'s; returns them. One missing was recorded, or was taken
    /// over by another sender when this one's lease ran out: it is not this sender's to send
    /// any more.
    pub fn renew_claims(&mut self, run: i64, sender: &str, held: &[i64], lease: i64) -> Result<Vec<i64>> {
        match self {
            State::Sqlite(c) => c.renew_claims(run, sender, held, lease),
            State::Postgres(c) => c.renew_claims(run, sender, held, lease),
        }
    }

    /// [`Tx::record_outcomes`] without the write lock (a transaction of its own on SQLite,
    /// one statement on PostgreSQL): for outcomes that change no subscriber's status.
    pub fn record_outcomes(
        &mut self,
        run: &Run,
        sender: &str,
        outcomes: &[(i64, Outcome)],
        now: i64,
    ) -> Result<Vec<i64>> {
        match self {
            State::Sqlite(c) => c.record_outcomes(run, sender, outcomes, now),
            State::Postgres(c) => c.record_outcomes(run, sender, outcomes, now),
        }
    }

    /// Gives back the pending deliveries of `run` that `sender` holds (it stops): other
    /// senders take them at once; how many.
    pub fn release_claims(&mut self, run: i64, sender: &str) -> Result<usize> {
        match self {
            State::Sqlite(c) => c.release_claims(run, sender),
            State::Postgres(c) => c.release_claims(run, sender),
        }
    }

    /// Up to `limit` confirmed subscribers of `digest` after subscriber id `after`, by id.
    pub fn confirmed(&self, digest: &str, after: i64, limit: usize) -> Result<Vec<Subscriber>> {
        match self {
            State::Sqlite(c) => c.confirmed(digest, after, limit),
            State::Postgres(c) => c.confirmed(digest, after, limit),
        }
    }

    /// When digests first saw each of `articles` (language, slug, publication time), recording
    /// it for those never seen before by `run`: now, if an earlier run's cutoff had already
    /// passed the article's date (it reached the store late, and those runs could not have
    /// sent it), else its publication time (it is simply new).
    pub fn see_articles(&mut self, run: &Run, articles: &[(&str, &str, i64)], now: i64) -> Result<Vec<i64>> {
        match self {
            State::Sqlite(c) => c.see_articles(run, articles, now),
            State::Postgres(c) => c.see_articles(run, articles, now),
        }
    }

    /// When digests first saw each of `articles` (language, slug), if they did; records nothing.
    pub fn seen_articles(&self, articles: &[(&str, &str)]) -> Result<Vec<Option<i64>>> {
        match self {
            State::Sqlite(c) => c.seen_articles(articles),
            State::Postgres(c) => c.seen_articles(articles),
        }
    }

    /// The cutoff of the run of `digest` before `run`, if there was one.
    pub fn previous_cutoff(&self, digest: &str, run: i64) -> Result<Option<i64>> {
        match self {
            State::Sqlite(c) => c.previous_cutoff(digest, run),
            State::Postgres(c) => c.previous_cutoff(digest, run),
        }
    }

    /// Records what `run` offers a reader of each language: `articles` (reader's language,
    /// the item), each language's in the order its readers' messages list them. Only once per
    /// run: a resumed run keeps what it offered when it opened, so its copies stay those of the
    /// messages already sent.
    pub fn record_news(&mut self, run: &Run, articles: &[(&str, NewsItem)]) -> Result<()> {
        match self {
            State::Sqlite(c) => c.record_news(run, articles),
            State::Postgres(c) => c.record_news(run, articles),
        }
    }

    /// What run `run` offered a reader of `lang`, if there is such a run (with no articles when
    /// it offered them none).
    pub fn run_news(&self, run: i64, lang: &str) -> Result<Option<RunNews>> {
        match self {
            State::Sqlite(c) => c.run_news(run, lang),
            State::Postgres(c) => c.run_news(run, lang),
        }
    }

    /// Runs that offered a reader of `lang` something, one at a time, newest first from before
    /// run `before` (or oldest first from after run `after`, when given), until `each` returns
    /// `false`.
    pub fn for_each_run_news(
        &self,
        lang: &str,
        before: Option<i64>,
        after: Option<i64>,
        each: impl FnMut(RunNews) -> Result<bool>,
    ) -> Result<()> {
        match self {
            State::Sqlite(c) => c.for_each_run_news(lang, before, after, each),
            State::Postgres(c) => c.for_each_run_news(lang, before, after, each),
        }
    }

    /// How many deliveries of `run` are pending.
    pub fn count_pending(&self, run: i64) -> Result<usize> {
        match self {
            State::Sqlite(c) => c.count_pending(run),
            State::Postgres(c) => c.count_pending(run),
        }
    }

    /// Marks `run` finished if no delivery in it is pending; returns whether it is finished
    /// (now, or already: another sender of the run may have finished it).
    pub fn finish_run(&mut self, run: i64, now: i64) -> Result<bool> {
        match self {
            State::Sqlite(c) => c.finish_run(run, now),
            State::Postgres(c) => c.finish_run(run, now),
        }
    }

    /// Counts of the deliveries of `run` by status.
    pub fn run_counts(&self, run: i64) -> Result<Vec<(String, i64)>> {
        match self {
            State::Sqlite(c) => c.run_counts(run),
            State::Postgres(c) => c.run_counts(run),
        }
    }

    /// The id and due time (none for a run an operator asked for) of `digest`'s unfinished
    /// run, if one is waiting to be resumed.
    pub fn unfinished_run(&self, digest: &str) -> Result<Option<(i64, Option<i64>)>> {
        match self {
            State::Sqlite(c) => c.unfinished_run(digest),
            State::Postgres(c) => c.unfinished_run(digest),
        }
    }

    /// Deletes the delivery rows of digest runs that finished before `before` (Unix seconds)
    /// and forgets when articles older than that were first seen. The runs themselves stay,
    /// with what they had to offer (a few rows each): the next run's cutoff follows the last
    /// one's, and each is a past digest readers can still open. Returns (runs whose deliveries
    /// were deleted, deliveries).
    pub fn prune(&mut self, before: i64) -> Result<(usize, usize)> {
        match self {
            State::Sqlite(c) => c.prune(before),
            State::Postgres(c) => c.prune(before),
        }
    }

    /// Calls `each` with every returned message logged since `since`, oldest first.
    pub fn for_each_return(&self, since: i64, each: impl FnMut(ReturnEntry, i64) -> Result<()>) -> Result<()> {
        match self {
            State::Sqlite(c) => c.for_each_return(since, each),
            State::Postgres(c) => c.for_each_return(since, each),
        }
    }

    /// What became of run `run`, if there is one.
    pub fn run_report(&self, run: i64) -> Result<Option<RunReport>> {
        match self {
            State::Sqlite(c) => c.run_report(run),
            State::Postgres(c) => c.run_report(run),
        }
    }

    /// Whether a subscription of `callback` (on `host`) to `topic` would exceed `limits`
    /// among the subscriptions live at `now`.
    pub fn hub_refusal(
        &self,
        topic: &str,
        callback: &str,
        host: &str,
        limits: HubLimits,
        now: i64,
    ) -> Result<Option<HubRefusal>> {
        match self {
            State::Sqlite(c) => c.hub_refusal(topic, callback, host, limits, now),
            State::Postgres(c) => c.hub_refusal(topic, callback, host, limits, now),
        }
    }

    /// Makes (or renews) the subscription of `callback` to `topic` until `expires_at`, with
    /// `secret` (a renewal takes the new secret, or none); the limits are checked again in the
    /// same transaction, so two verifications at once cannot pass them together.
    pub fn hub_activate(
        &mut self,
        sub: &HubSubscription,
        host: &str,
        limits: HubLimits,
        now: i64,
    ) -> Result<Option<HubRefusal>> {
        match self {
            State::Sqlite(c) => c.hub_activate(sub, host, limits, now),
            State::Postgres(c) => c.hub_activate(sub, host, limits, now),
        }
    }

    /// Ends the subscription of `callback` to `topic` (and its waiting delivery); whether
    /// there was one.
    pub fn hub_unsubscribe(&mut self, topic: &str, callback: &str) -> Result<bool> {
        match self {
            State::Sqlite(c) => c.hub_unsubscribe(topic, callback),
            State::Postgres(c) => c.hub_unsubscribe(topic, callback),
        }
    }

    /// The live subscription of `callback` to `topic`, if any.
    pub fn hub_subscription(&self, topic: &str, callback: &str, now: i64) -> Result<Option<HubSubscription>> {
        match self {
            State::Sqlite(c) => c.hub_subscription(topic, callback, now),
            State::Postgres(c) => c.hub_subscription(topic, callback, now),
        }
    }

    /// Queues a delivery, due at `now_ms`, for every live subscription to one of `topics`. A
    /// subscription with one waiting already keeps it (it sends the feed as it is when it
    /// goes) under a new version, so one being sent meanwhile is sent again; one waiting for
    /// a retry keeps its wait.
    pub fn hub_enqueue(&mut self, topics: &[String], now_ms: i64) -> Result<usize> {
        match self {
            State::Sqlite(c) => c.hub_enqueue(topics, now_ms),
            State::Postgres(c) => c.hub_enqueue(topics, now_ms),
        }
    }

    /// Claims up to `limit` deliveries due at `now_ms` whose subscription is live, soonest
    /// first, for this process, by moving them to `lease_until_ms`: one its sender does not
    /// record by then (it died) is due again, for any instance.
    pub fn hub_claim(&mut self, now_ms: i64, lease_until_ms: i64, limit: usize) -> Result<Vec<HubDelivery>> {
        match self {
            State::Sqlite(c) => c.hub_claim(now_ms, lease_until_ms, limit),
            State::Postgres(c) => c.hub_claim(now_ms, lease_until_ms, limit),
        }
    }

    /// When the hub has work next (milliseconds): a waiting delivery due, or a lease ending.
    pub fn hub_next_due(&self) -> Result<Option<i64>> {
        match self {
            State::Sqlite(c) => c.hub_next_due(),
            State::Postgres(c) => c.hub_next_due(),
        }
    }

    /// Records that `delivery` reached its callback at `now_ms`: done, unless a newer change
    /// came meanwhile, which then goes at once.
    pub fn hub_delivered(&mut self, delivery: &HubDelivery, now_ms: i64) -> Result<()> {
        match self {
            State::Sqlite(c) => c.hub_delivered(delivery, now_ms),
            State::Postgres(c) => c.hub_delivered(delivery, now_ms),
        }
    }

    /// Records a failed attempt of `delivery`: tried again at `next_ms`.
    pub fn hub_retry(&mut self, delivery: &HubDelivery, next_ms: i64, error: &str) -> Result<()> {
        match self {
            State::Sqlite(c) => c.hub_retry(delivery, next_ms, error),
            State::Postgres(c) => c.hub_retry(delivery, next_ms, error),
        }
    }

    /// Drops the waiting delivery of `delivery`'s subscription (given up).
    pub fn hub_give_up(&mut self, delivery: &HubDelivery) -> Result<()> {
        match self {
            State::Sqlite(c) => c.hub_give_up(delivery),
            State::Postgres(c) => c.hub_give_up(delivery),
        }
    }

    /// Deletes the subscriptions whose lease ended by `now` (and their deliveries); how many.
    pub fn hub_expire(&mut self, now: i64) -> Result<usize> {
        match self {
            State::Sqlite(c) => c.hub_expire(now),
            State::Postgres(c) => c.hub_expire(now),
        }
    }
}

impl Tx<'_, '_> {
    /// The subscriber with this address, if any.
    pub fn subscriber(&self, address: &Address) -> Result<Option<Subscriber>> {
        self.subscriber_by_key(&address.key())
    }

    /// Deletes every sign-up of the address; returns how many there were.
    pub fn delete_signups(&self, address: &Address) -> Result<usize> {
        self.delete_signups_by_key(&address.key())
    }

    /// The subscriber stored under `key` (see [`Address::key`]), if any.
    pub fn subscriber_by_key(&self, key: &str) -> Result<Option<Subscriber>> {
        match self {
            Tx::Sqlite(c) => c.subscriber_by_key(key),
            Tx::Postgres(c) => c.subscriber_by_key(key),
        }
    }

    /// The subscriber with row id `id`, if any.
    pub fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        match self {
            Tx::Sqlite(c) => c.subscriber_by_id(id),
            Tx::Postgres(c) => c.subscriber_by_id(id),
        }
    }

    /// Adds a subscriber; `confirmed_at` is set when `status` is confirmed. Returns the row id.
    pub fn add_subscriber(
        &self,
        address: &Address,
        preferences: &Preferences,
        status: Status,
        consent: &str,
        now: i64,
    ) -> Result<i64> {
        match self {
            Tx::Sqlite(c) => c.add_subscriber(address, preferences, status, consent, now),
            Tx::Postgres(c) => c.add_subscriber(address, preferences, status, consent, now),
        }
    }

    /// Replaces subscriber `id`'s preferences, name included.
    pub fn set_preferences(&self, id: i64, preferences: &Preferences) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.set_preferences(id, preferences),
            Tx::Postgres(c) => c.set_preferences(id, preferences),
        }
    }

    /// Marks subscriber `id` confirmed from `now` on, with consent from `consent`: their next
    /// digest starts now, their bounce count starts again.
    pub fn mark_confirmed(&self, id: i64, consent: &str, now: i64) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.mark_confirmed(id, consent, now),
            Tx::Postgres(c) => c.mark_confirmed(id, consent, now),
        }
    }

    /// Marks subscriber `id` unsubscribed at `now`.
    pub fn mark_unsubscribed(&self, id: i64, now: i64) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.mark_unsubscribed(id, now),
            Tx::Postgres(c) => c.mark_unsubscribed(id, now),
        }
    }

    /// Subscriber `id`'s bounce score, when it was last raised, and their status.
    pub fn bounce_score(&self, id: i64) -> Result<Option<(f64, Option<i64>, Status)>> {
        match self {
            Tx::Sqlite(c) => c.bounce_score(id),
            Tx::Postgres(c) => c.bounce_score(id),
        }
    }

    /// Sets subscriber `id`'s bounce score, raised at `at`.
    pub fn set_bounce_score(&self, id: i64, score: f64, at: i64) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.set_bounce_score(id, score, at),
            Tx::Postgres(c) => c.set_bounce_score(id, score, at),
        }
    }

    /// Marks subscriber `id` bounced: they get nothing from now on.
    pub fn mark_bounced(&self, id: i64) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.mark_bounced(id),
            Tx::Postgres(c) => c.mark_bounced(id),
        }
    }

    /// Deletes subscriber `id` and their deliveries.
    pub fn delete_subscriber(&self, id: i64) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.delete_subscriber(id),
            Tx::Postgres(c) => c.delete_subscriber(id),
        }
    }

    /// Whether the address was removed and is kept off lists.
    pub fn is_suppressed(&self, address: &Address) -> Result<bool> {
        match self {
            Tx::Sqlite(c) => c.is_suppressed(address),
            Tx::Postgres(c) => c.is_suppressed(address),
        }
    }

    /// Puts the address stored under `key` (as a hash) on the suppression list with `reason`.
    pub fn suppress_key(&self, key: &str, reason: &str, now: i64) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.suppress_key(key, reason, now),
            Tx::Postgres(c) => c.suppress_key(key, reason, now),
        }
    }

    /// Takes the address off the suppression list.
    pub fn unsuppress(&self, address: &Address) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.unsuppress(address),
            Tx::Postgres(c) => c.unsuppress(address),
        }
    }

    /// Stores a sign-up waiting for confirmation and returns it.
    pub fn add_signup(&self, address: &Address, preferences: &Preferences, consent: &str, now: i64) -> Result<SignUp> {
        match self {
            Tx::Sqlite(c) => c.add_signup(address, preferences, consent, now),
            Tx::Postgres(c) => c.add_signup(address, preferences, consent, now),
        }
    }

    /// The sign-up with row id `id`, if it still waits.
    pub fn signup(&self, id: i64) -> Result<Option<SignUp>> {
        match self {
            Tx::Sqlite(c) => c.signup(id),
            Tx::Postgres(c) => c.signup(id),
        }
    }

    /// Deletes sign-up `id`; returns whether there was one.
    pub fn delete_signup(&self, id: i64) -> Result<bool> {
        match self {
            Tx::Sqlite(c) => c.delete_signup(id),
            Tx::Postgres(c) => c.delete_signup(id),
        }
    }

    /// Deletes every sign-up stored under `key`; returns how many there were.
    pub fn delete_signups_by_key(&self, key: &str) -> Result<usize> {
        match self {
            Tx::Sqlite(c) => c.delete_signups_by_key(key),
            Tx::Postgres(c) => c.delete_signups_by_key(key),
        }
    }

    /// Deletes every sign-up of subscriber `id`'s address, found by the key it is stored under.
    pub fn delete_signups_of_subscriber(&self, id: i64) -> Result<usize> {
        match self {
            Tx::Sqlite(c) => c.delete_signups_of_subscriber(id),
            Tx::Postgres(c) => c.delete_signups_of_subscriber(id),
        }
    }

    /// How many sign-ups wait in all.
    pub fn count_signups(&self) -> Result<u64> {
        match self {
            Tx::Sqlite(c) => c.count_signups(),
            Tx::Postgres(c) => c.count_signups(),
        }
    }

    /// How many sign-ups wait in `domain` (a registrable domain).
    pub fn signups_in_domain(&self, domain: &str) -> Result<u64> {
        match self {
            Tx::Sqlite(c) => c.signups_in_domain(domain),
            Tx::Postgres(c) => c.signups_in_domain(domain),
        }
    }

    /// The moment the allowance of (hashed) `key` is used up to, if it was used
    /// ([`crate::subscription::allowance`]).
    pub fn allowance(&self, key: &[u8]) -> Result<Option<i64>> {
        match self {
            Tx::Sqlite(c) => c.allowance(key),
            Tx::Postgres(c) => c.allowance(key),
        }
    }

    /// Sets the moment the allowance of `key` is used up to.
    pub fn set_allowance(&self, key: &[u8], used_to: i64) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.set_allowance(key, used_to),
            Tx::Postgres(c) => c.set_allowance(key, used_to),
        }
    }

    /// Forgets the allowances used up to before `now_ms` (they are whole again); how many.
    pub fn forget_allowances(&self, now_ms: i64) -> Result<usize> {
        match self {
            Tx::Sqlite(c) => c.forget_allowances(now_ms),
            Tx::Postgres(c) => c.forget_allowances(now_ms),
        }
    }

    /// Deletes sign-ups made before `before`; returns how many.
    pub fn delete_signups_before(&self, before: i64) -> Result<usize> {
        match self {
            Tx::Sqlite(c) => c.delete_signups_before(before),
            Tx::Postgres(c) => c.delete_signups_before(before),
        }
    }

    /// Records how deliveries in `run` ended, of those still pending and still `sender`'s
    /// (one another sender took over is that sender's to record); returns the subscribers
    /// whose were recorded. A message sent (or nothing to send) moves the subscriber's next
    /// digest's start to the run's cutoff.
    pub fn record_outcomes(&self, run: &Run, sender: &str, outcomes: &[(i64, Outcome)], now: i64) -> Result<Vec<i64>> {
        match self {
            Tx::Sqlite(c) => c.record_outcomes(run, sender, outcomes, now),
            Tx::Postgres(c) => c.record_outcomes(run, sender, outcomes, now),
        }
    }

    /// The status of subscriber `subscriber`'s delivery in run `run`, if there is one.
    pub fn delivery_status(&self, run: i64, subscriber: i64) -> Result<Option<String>> {
        match self {
            Tx::Sqlite(c) => c.delivery_status(run, subscriber),
            Tx::Postgres(c) => c.delivery_status(run, subscriber),
        }
    }

    /// Notes on a delivery what came back for it (`bounced`, `soft`, `complained`, …), unless
    /// something that says more came back before: a complaint over a bounce, a bounce over a
    /// soft one, a soft one over one not understood.
    pub fn mark_returned(&self, run: i64, subscriber: i64, what: &str, now: i64) -> Result<()> {
        match self {
            Tx::Sqlite(c) => c.mark_returned(run, subscriber, what, now),
            Tx::Postgres(c) => c.mark_returned(run, subscriber, what, now),
        }
    }

    /// Logs a returned message; false when one with the same `fingerprint` was logged before
    /// (the same message handed over again), and then nothing is written.
    pub fn log_return(&self, fingerprint: &[u8], entry: &ReturnEntry, now: i64) -> Result<bool> {
        match self {
            Tx::Sqlite(c) => c.log_return(fingerprint, entry, now),
            Tx::Postgres(c) => c.log_return(fingerprint, entry, now),
        }
    }
}
