//! The daemon's jobs and when they run: the feed build (on `feeds.schedule`, on a change in
//! the store, when a held-back article's date comes, and once at start) and each digest (on
//! its own cron expression in its own time zone).
//!
//! Each job's last due time is stored, so a restart knows what it missed: a digest due while
//! gazette was down runs once at start if that was within its `catch_up` window, and is
//! skipped with a log line if older; an interrupted digest run is resumed at once. A job never
//! runs twice at once: builds go through one worker, and a digest whose run is still going
//! when its next time comes is not started again (the digest's lock file guards against
//! other processes too).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use tokio::sync::{Notify, oneshot};

use super::changes::BuildRequests;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::systemd;
use crate::config::Digest;
use crate::live::Live;
use crate::metrics::metrics;
use crate::schedule::CronSchedule;
use crate::state::Database;

mod builds;

/// The longest single sleep: wall-clock time is checked again after it (the clock may jump).
const LONGEST_SLEEP: Duration = Duration::from_secs(30);
/// The job name of the feed build.
pub const BUILD: &str = "build";
/// How soon a digest run that stopped on an error (the mail server away for longer than its
/// retries) is taken up again, rather than at the digest's next time.
const RETRY_RUN: Duration = Duration::from_secs(300);

/// What a restart finds about a digest's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// Nothing was due while gazette was down.
    Nothing,
    /// A run due at this time (Unix seconds), within the catch-up window, was missed.
    CatchUp(i64),
    /// Runs were missed, the first due at this time, all older than the window.
    TooOld(i64),
}

/// What was missed between `last_due` and `now` by `schedule` in `zone`, given the window.
pub fn missed(schedule: &CronSchedule, zone: Tz, last_due: i64, now: DateTime<Utc>, window: Duration) -> Missed {
    let Some(last) = Utc.timestamp_opt(last_due, 0).single() else { return Missed::Nothing };
    let Some(first) = schedule.next_after(&last.with_timezone(&zone)) else { return Missed::Nothing };
    if first > now {
        return Missed::Nothing;
    }
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let start = now.checked_sub_signed(window).map_or(last, |s| s.max(last));
    let mut latest = None;
    let mut t = start.with_timezone(&zone);
    while let Some(next) = schedule.next_after(&t).filter(|n| *n <= now) {
        latest = Some(next.timestamp());
        t = next;
    }
    latest.map_or(Missed::TooOld(first.timestamp()), Missed::CatchUp)
}

/// Runs `work` on a thread of its own (builds and digest runs are blocking work with their own
/// thread pools) and waits for it without holding an async worker.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new().name("gazette-job".into()).spawn(move || {
        let _ = tx.send(work());
    })?;
    rx.await.map_err(|_| anyhow::anyhow!("the job panicked"))
}

/// Sleeps until wall-clock time `at`; false if `stop` came first.
async fn sleep_until(at: DateTime<Utc>, stop: &CancellationToken) -> bool {
    loop {
        let now = Utc::now();
        if now >= at {
            return true;
        }
        let wait = (at - now).to_std().unwrap_or_default().min(LONGEST_SLEEP);
        tokio::select! {
            () = stop.cancelled() => return false,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Records in the database (on the calling thread) that `job` started, logging a failure.
fn record_start(db: &Database, job: &str, due: i64, now: i64, outcome: Option<&str>) {
    let recorded = db.get().and_then(|mut s| s.job_started(job, due, now, outcome));
    if let Err(e) = recorded {
        tracing::warn!(job, error = format!("{e:#}"), "cannot record the job's start");
    }
}

fn record_end(db: &Database, job: &str, outcome: &str) {
    let recorded = db.get().and_then(|mut s| s.job_finished(job, Utc::now().timestamp(), outcome));
    if let Err(e) = recorded {
        tracing::warn!(job, error = format!("{e:#}"), "cannot record the job's end");
    }
}

/// The jobs of one daemon.
pub struct Jobs {
    live: Arc<Live>,
    /// Told which feeds each build changed.
    hub: Arc<crate::websub::Hub>,
    /// Asks the build worker for a build; requests while one runs make one more build.
    pub build_requests: Arc<BuildRequests>,
    /// The index fingerprint of the settings the live catalog was built under (none before
    /// the first build): a rebuild of changed files alone reuses its records only under the
    /// same settings.
    built_with: Mutex<Option<String>>,
    /// When the next held-back article becomes due (Unix seconds; 0 for none).
    next_release: AtomicI64,
    release_changed: Notify,
    /// Held while a digest runs, by digest id.
    running: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Runs that stopped on an error: (due time, when to try again), by digest id.
    retries: Mutex<HashMap<String, (i64, DateTime<Utc>)>>,
    retry_changed: Notify,
    /// The process's stop: runs in flight finish their current message and return.
    stop: CancellationToken,
    /// Builds and digest runs in flight (waited for at shutdown).
    pub work: TaskTracker,
}

impl Jobs {
    /// The jobs of a daemon: they read `live` and replace its catalog.
    pub fn new(live: Arc<Live>, hub: Arc<crate::websub::Hub>, stop: CancellationToken) -> Arc<Jobs> {
        Arc::new(Jobs {
            live,
            hub,
            build_requests: Arc::default(),
            built_with: Mutex::new(None),
            next_release: AtomicI64::new(0),
            release_changed: Notify::new(),
            running: Mutex::new(HashMap::new()),
            retries: Mutex::new(HashMap::new()),
            retry_changed: Notify::new(),
            stop,
            work: TaskTracker::new(),
        })
    }

    /// Once a day (the first time at start), deletes the delivery rows of digest runs older
    /// than `state.keep_runs`: a million subscribers would otherwise add a million rows a day
    /// for ever. The runs stay (a few rows each): they are the past digests readers open.
    pub async fn prune_daily(self: Arc<Self>) {
        loop {
            let config = self.live.site.load().config.clone();
            let keep = chrono::Duration::from_std(config.state.keep_runs).unwrap_or(chrono::Duration::MAX);
            let now = Utc::now();
            let before = now.checked_sub_signed(keep).map_or(0, |t| t.timestamp());
            // Once a day across every instance on the database: whichever comes first.
            let today = now.timestamp() - now.timestamp().rem_euclid(86_400);
            let now = now.timestamp();
            let pruned = self
                .live
                .db
                .with(move |state| {
                    if !state.take_job("prune", today, now)? {
                        return Ok((0, 0));
                    }
                    let pruned = state.prune(before)?;
                    state.job_finished("prune", Utc::now().timestamp(), "ok")?;
                    Ok(pruned)
                })
                .await;
            match pruned {
                Ok((0, _)) => {}
                Ok((runs, deliveries)) => {
                    tracing::info!(runs, deliveries, "old digest runs pruned of their deliveries")
                }
                Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot delete old digest runs"),
            }
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(24 * 3600)) => {}
            }
        }
    }

    /// Deletes sign-ups whose confirmation link expired unconfirmed: daily, or as often as
    /// links expire when that is sooner (the first time at start).
    pub async fn purge_signups(self: Arc<Self>) {
        loop {
            let config = self.live.site.load().config.clone();
            let every = config.subscriptions.confirm_within.min(Duration::from_secs(24 * 3600));
            let now = Utc::now().timestamp();
            let period = i64::try_from(every.as_secs()).unwrap_or(86_400).max(1);
            let due = now - now.rem_euclid(period);
            let purged = self
                .live
                .db
                .with(move |state| {
                    // Once a period across every instance on the database.
                    if !state.take_job("purge-signups", due, now)? {
                        return Ok(0);
                    }
                    let purged = crate::subscription::purge_expired(state, now, &config.subscriptions)?;
                    state.job_finished("purge-signups", Utc::now().timestamp(), "ok")?;
                    Ok(purged)
                })
                .await;
            match purged {
                Ok(0) => {}
                Ok(count) => {
                    metrics().signups_expired.inc_by(u64::try_from(count).unwrap_or(0));
                    tracing::info!(count, "expired sign-ups deleted");
                }
                Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot delete expired sign-ups"),
            }
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Asks for a build when a held-back article's date comes.
    pub async fn release_timer(self: Arc<Self>) {
        loop {
            let due = self.next_release.load(Ordering::Relaxed);
            let now = Utc::now().timestamp();
            if due > 0 && now >= due {
                self.next_release.store(0, Ordering::Relaxed);
                tracing::info!("a held-back article is due: building");
                self.build_requests.full();
                continue;
            }
            let wait = if due > 0 { Duration::from_secs((due - now).unsigned_abs()) } else { LONGEST_SLEEP };
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = self.release_changed.notified() => {}
                () = tokio::time::sleep(wait.min(LONGEST_SLEEP)) => {}
            }
        }
    }

    /// Asks for a build at each time of `schedule` in `zone`, until `stop`.
    pub async fn feed_schedule(self: Arc<Self>, schedule: CronSchedule, zone: Tz, stop: CancellationToken) {
        loop {
            let Some(next) = schedule.next_after(&Utc::now().with_timezone(&zone)) else { return };
            if !sleep_until(next.with_timezone(&Utc), &stop).await {
                return;
            }
            self.build_requests.full();
        }
    }

    /// Runs `digest` at each of its times until `stop`. When gazette starts (`at_start`; not
    /// on a reload), first resumes an interrupted run, or catches up a missed one.
    pub async fn digest_schedule(self: Arc<Self>, digest: Digest, stop: CancellationToken, at_start: bool) {
        let d = digest;
        let mut last_due = Utc::now().timestamp();
        if at_start && let Some(due) = self.start_digest(&d).await {
            last_due = last_due.max(due);
        }
        loop {
            // After the last due time as well as now: a clock stepped back does not fire a
            // time twice.
            let after = Utc.timestamp_opt(last_due, 0).single().unwrap_or_else(Utc::now).max(Utc::now());
            let Some(next) = d.schedule.next_after(&after.with_timezone(&d.timezone)) else {
                tracing::warn!(digest = d.id, "the schedule has no future time");
                return;
            };
            let mut next = next.with_timezone(&Utc);
            let mut due = next.timestamp();
            // A run that stopped on an error is taken up again soon, as the run it was.
            if let Some((failed_due, at)) = self.retry_of(&d.id).filter(|&(_, at)| at < next) {
                (next, due) = (at, failed_due);
            }
            tracing::debug!(digest = d.id, next = %next, "next digest run");
            tokio::select! {
                woke = sleep_until(next, &stop) => if !woke { return },
                // A run (of this or the previous config) stopped and wants a retry.
                () = self.retry_changed.notified() => continue,
            }
            self.run_digest(&d.id, due, due).await;
            last_due = last_due.max(due);
        }
    }

    /// What a start owes `digest`: resume its interrupted run, or send a run missed (within
    /// its catch-up window) while gazette was down or that ended badly; returns the due time
    /// it ran for.
    async fn start_digest(&self, d: &Digest) -> Option<i64> {
        let job = format!("digest:{}", d.id);
        let id = d.id.clone();
        let found = self
            .live
            .db
            .with(move |state| Ok((state.job_due(&format!("digest:{id}"))?, state.unfinished_run(&id)?)))
            .await;
        let now = Utc::now();
        let window = chrono::Duration::from_std(d.catch_up).unwrap_or(chrono::Duration::MAX);
        let verdict = match found {
            Err(e) => {
                tracing::error!(digest = d.id, error = format!("{e:#}"), "cannot read the digest's last run");
                return None;
            }
            Ok((last, Some((run, due)))) => {
                let age = last.map_or(0, |(due, _)| now.timestamp() - due);
                tracing::info!(digest = d.id, run, age_s = age, "resuming the interrupted digest run");
                // The run of its own due time, so that one another instance finished meanwhile
                // is found finished, not opened again (a run an operator started has none).
                let due = due.unwrap_or(now.timestamp());
                // Recorded as handled until now, as the schedule goes on from now.
                return self.run_digest(&d.id, due, now.timestamp()).await.then_some(now.timestamp());
            }
            Ok((None, None)) => {
                self.record(&job, now, "scheduled from now").await;
                return None;
            }
            // Started and never ended well (killed before its run opened, or failed): missed.
            Ok((Some((last, false)), None)) if now.timestamp() - last <= window.num_seconds() => Missed::CatchUp(last),
            Ok((Some((last, _)), None)) => missed(&d.schedule, d.timezone, last, now, d.catch_up),
        };
        match verdict {
            Missed::Nothing => None,
            Missed::CatchUp(due) => {
                tracing::info!(digest = d.id, due, "a run was due while gazette was down: sending it now");
                self.run_digest(&d.id, due, due).await.then_some(due)
            }
            Missed::TooOld(due) => {
                let since = Utc.timestamp_opt(due, 0).single().unwrap_or(now);
                tracing::warn!(
                    digest = d.id,
                    missed_since = %since.to_rfc3339(),
                    catch_up = %humantime::format_duration(d.catch_up),
                    "runs due while gazette was down are older than the catch-up window: skipped"
                );
                self.record(&job, now, "skipped: too old").await;
                None
            }
        }
    }

    /// Records that `job` was settled at `now` without running (`outcome` says how).
    async fn record(&self, job: &str, now: DateTime<Utc>, outcome: &'static str) {
        let db = self.live.db.clone();
        let job = job.to_owned();
        let _ = blocking(move || record_start(&db, &job, now.timestamp(), now.timestamp(), Some(outcome))).await;
    }

    /// The retry (due time, when) a stopped run of digest `id` is waiting for.
    fn retry_of(&self, id: &str) -> Option<(i64, DateTime<Utc>)> {
        self.retries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(id).copied()
    }

    /// Sends digest `id` (the run due at `due`) now, unless a run of it is still going, and
    /// records the job as due at `handled` (`due`, or now for a run resumed); returns
    /// whether it ran. A run that stops on an error is retried in [`RETRY_RUN`], as the run
    /// for the same due time (kept here, so a reload does not lose it).
    async fn run_digest(&self, id: &str, due: i64, handled: i64) -> bool {
        let guard = {
            let mut running = self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            running.entry(id.to_owned()).or_default().clone()
        };
        let Ok(_held) = guard.try_lock_owned() else {
            tracing::warn!(digest = id, "the previous run is still going: this one is not started");
            return false;
        };
        if self.stop.is_cancelled() {
            return false;
        }
        self.set_retry(id, None);
        let config = self.live.site.load().config.clone();
        let job = format!("digest:{id}");
        let now = Utc::now();
        metrics().job_started(&job, now.timestamp());
        systemd::status(&format!("sending digest {id}"));
        let stop = self.stop.clone();
        let digest = id.to_owned();
        let db = self.live.db.clone();
        let result = self
            .work
            .track_future(blocking(move || {
                record_start(&db, &job, handled, now.timestamp(), None);
                let result = crate::digest::run::send(&config, &db, &digest, Some(due), Utc::now(), &stop);
                let outcome = match &result {
                    Ok(r) if r.is_finished => {
                        format!("ok: {} sent, {} skipped, {} failed", r.sent, r.skipped, r.failed)
                    }
                    Ok(r) => format!("stopped: {} sent, {} skipped, {} failed", r.sent, r.skipped, r.failed),
                    Err(e) => format!("error: {e:#}"),
                };
                record_end(&db, &job, &outcome);
                result
            }))
            .await
            .and_then(|r| r);
        let job = format!("digest:{id}");
        match result {
            Ok(report) => {
                metrics().job_ended(&job, report.failed == 0);
                systemd::status(&format!("serving; digest {id} sent to {}", report.sent));
            }
            Err(e) => {
                metrics().job_ended(&job, false);
                let again = Utc::now() + chrono::Duration::from_std(RETRY_RUN).unwrap_or_default();
                tracing::error!(
                    digest = id,
                    error = format!("{e:#}"),
                    retry_at = %again.to_rfc3339(),
                    "digest run stopped; the rest stay pending"
                );
                systemd::status(&format!(
                    "serving; digest {id} stopped on an error, retrying at {}",
                    again.format("%H:%M")
                ));
                self.set_retry(id, Some((due, again)));
            }
        }
        true
    }

    fn set_retry(&self, id: &str, retry: Option<(i64, DateTime<Utc>)>) {
        let mut retries = self.retries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match retry {
            Some(retry) => {
                retries.insert(id.to_owned(), retry);
            }
            None => {
                retries.remove(id);
            }
        }
        drop(retries);
        self.retry_changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    fn at(text: &str) -> DateTime<Utc> {
        let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        Shanghai.from_local_datetime(&local).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_run_missed_within_the_window_is_caught_up_once_and_older_ones_are_skipped() {
        let daily = CronSchedule::parse("0 8 * * *").unwrap();
        let six_hours = Duration::from_secs(6 * 3600);
        let last = at("2026-11-23 08:00").timestamp();
        // Down from 07:00 to 07:59: nothing was due.
        assert_eq!(missed(&daily, Shanghai, last, at("2026-11-24 07:59"), six_hours), Missed::Nothing);
        // Back at 09:30: the 08:00 run is 90 minutes late, within the window.
        let due = at("2026-11-24 08:00").timestamp();
        assert_eq!(missed(&daily, Shanghai, last, at("2026-11-24 09:30"), six_hours), Missed::CatchUp(due));
        // Back at 15:00: seven hours late, skipped.
        assert_eq!(missed(&daily, Shanghai, last, at("2026-11-24 15:00"), six_hours), Missed::TooOld(due));
        // Down for three days and back at 08:30: only the latest run is sent.
        let latest = at("2026-11-26 08:00").timestamp();
        assert_eq!(missed(&daily, Shanghai, last, at("2026-11-26 08:30"), six_hours), Missed::CatchUp(latest));
        // The run that is recorded as done is not caught up again.
        assert_eq!(missed(&daily, Shanghai, latest, at("2026-11-26 08:30"), six_hours), Missed::Nothing);
    }
}
