//! Digest runs and their deliveries: opening a run (one pending delivery per confirmed
//! subscriber), reading it a page at a time, recording outcomes, the articles runs have seen,
//! and pruning old runs.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::{Conn, Tx, subscriber};
use crate::state::{NewsItem, Outcome, ReturnEntry, Run, RunNews, RunReport, Subscriber};

impl Conn {
    /// The run of `digest` due at `due` if there is one (another instance opened it, or it
    /// was interrupted), else the unfinished run if there is one (after a crash), else a new run
    /// with cutoff `now` and a pending delivery for every confirmed subscriber of the digest.
    pub fn open_run(&mut self, digest: &str, due: Option<i64>, now: i64) -> Result<Run> {
        let tx = self.conn.transaction()?;
        let open = tx
            .query_row(
                "SELECT id, cutoff FROM digest_runs WHERE digest = ?1 AND (due_at = ?2 OR finished_at IS NULL)
                 ORDER BY due_at IS NOT ?2 LIMIT 1",
                params![digest, due],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?;
        let run = match open {
            Some((id, cutoff)) => Run { id, cutoff, is_resumed: true },
            None => {
                // Cutoffs are whole seconds and each run takes what came after the last one's:
                // two runs within one second must still have different cutoffs.
                let last: Option<i64> =
                    tx.query_row("SELECT MAX(cutoff) FROM digest_runs WHERE digest = ?1", [digest], |r| r.get(0))?;
                let now = last.map_or(now, |last| now.max(last + 1));
                tx.execute(
                    "INSERT INTO digest_runs (digest, cutoff, started_at, due_at) VALUES (?1, ?2, ?2, ?3)",
                    params![digest, now, due],
                )?;
                let id = tx.last_insert_rowid();
                // One statement, however many subscribers: nothing is held in memory.
                tx.execute(
                    "INSERT INTO deliveries (run_id, subscriber_id)
                     SELECT ?1, id FROM subscribers WHERE digest = ?2 AND status = 'confirmed'",
                    params![id, digest],
                )?;
                Run { id, cutoff: now, is_resumed: false }
            }
        };
        tx.commit()?;
        Ok(run)
    }

    /// Claims up to `limit` pending deliveries of `run` for `sender` until `lease_until`, by
    /// subscriber id, leaving those it holds (`held`), and returns their subscribers. Here one
    /// sender at a time holds the digest's lock, so a delivery another sender claimed is that
    /// of a process that has ended: it is taken whatever its lease.
    pub fn claim(&mut self, run: i64, sender: &str, held: &[i64], lease: i64, limit: usize) -> Result<Vec<Subscriber>> {
        // One sender at a time holds the digest's lock: the lease is only written down.
        let lease_until = chrono::Utc::now().timestamp().saturating_add(lease);
        let tx = self.conn.transaction()?;
        let claimed = {
            let mut claim = tx.prepare_cached(
                "UPDATE deliveries SET claimed_by = ?2, lease_until = ?3
                 WHERE (run_id, subscriber_id) IN (
                     SELECT run_id, subscriber_id FROM deliveries
                     WHERE run_id = ?1 AND status = 'pending'
                       AND subscriber_id NOT IN (SELECT value FROM json_each(?5))
                     ORDER BY subscriber_id LIMIT ?4)
                 RETURNING subscriber_id",
            )?;
            let mut ids = claim
                .query_map(params![run, sender, lease_until, limit as i64, id_list(held)], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.sort_unstable();
            let mut by_id = tx.prepare_cached("SELECT * FROM subscribers WHERE id = ?1")?;
            ids.iter().map(|id| by_id.query_row([id], subscriber)).collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.commit()?;
        Ok(claimed)
    }

    /// Extends the leases of the pending deliveries of `run` that `sender` holds, of those in
    /// `held`; the ones extended.
    pub fn renew_claims(&mut self, run: i64, sender: &str, held: &[i64], lease: i64) -> Result<Vec<i64>> {
        let lease_until = chrono::Utc::now().timestamp().saturating_add(lease);
        let mut renew = self.conn.prepare_cached(
            "UPDATE deliveries SET lease_until = ?3
             WHERE run_id = ?1 AND claimed_by = ?2 AND status = 'pending'
               AND subscriber_id IN (SELECT value FROM json_each(?4))
             RETURNING subscriber_id",
        )?;
        let renewed = renew.query_map(params![run, sender, lease_until, id_list(held)], |r| r.get::<_, i64>(0))?;
        Ok(renewed.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// [`Tx::record_outcomes`] in a transaction of its own.
    pub fn record_outcomes(
        &mut self,
        run: &Run,
        sender: &str,
        outcomes: &[(i64, Outcome)],
        now: i64,
    ) -> Result<Vec<i64>> {
        self.write(|tx| tx.record_outcomes(run, sender, outcomes, now))
    }

    /// Gives back the pending deliveries of `run` that `sender` holds (it stops): others may
    /// take them at once.
    pub fn release_claims(&mut self, run: i64, sender: &str) -> Result<usize> {
        Ok(self
            .conn
            .prepare_cached(
                "UPDATE deliveries SET claimed_by = NULL, lease_until = NULL
                 WHERE run_id = ?1 AND claimed_by = ?2 AND status = 'pending'",
            )?
            .execute(params![run, sender])?)
    }

    /// Up to `limit` confirmed subscribers of `digest` after subscriber id `after`, by id.
    pub fn confirmed(&self, digest: &str, after: i64, limit: usize) -> Result<Vec<Subscriber>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT * FROM subscribers WHERE digest = ?1 AND status = 'confirmed' AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![digest, after, limit as i64], subscriber)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// When digests first saw each of `articles` (language, slug, publication time), recording
    /// it for those never seen before by `run`: now, if an earlier run's cutoff had already
    /// passed the article's date (it reached the store late, and those runs could not have
    /// sent it), else its publication time (it is simply new).
    pub fn see_articles(&mut self, run: &Run, articles: &[(&str, &str, i64)], now: i64) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let passed: Option<i64> = tx
            .prepare_cached("SELECT MAX(cutoff) FROM digest_runs WHERE id < ?1")?
            .query_row([run.id], |r| r.get(0))?;
        let mut seen = Vec::with_capacity(articles.len());
        for &(lang, slug, published) in articles {
            let is_late = passed.is_some_and(|passed| published <= passed);
            let when = if is_late { now.max(run.cutoff) } else { published };
            tx.prepare_cached("INSERT OR IGNORE INTO articles_seen (lang, slug, first_seen) VALUES (?1, ?2, ?3)")?
                .execute(params![lang, slug, when])?;
            seen.push(
                tx.prepare_cached("SELECT first_seen FROM articles_seen WHERE lang = ?1 AND slug = ?2")?
                    .query_row(params![lang, slug], |r| r.get(0))?,
            );
        }
        tx.commit()?;
        Ok(seen)
    }

    /// When digests first saw each of `articles` (language, slug), if they did; records nothing.
    pub fn seen_articles(&self, articles: &[(&str, &str)]) -> Result<Vec<Option<i64>>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT first_seen FROM articles_seen WHERE lang = ?1 AND slug = ?2")?;
        articles.iter().map(|&(lang, slug)| Ok(stmt.query_row(params![lang, slug], |r| r.get(0)).optional()?)).collect()
    }

    /// The cutoff of the run of `digest` before `run`, if there was one.
    pub fn previous_cutoff(&self, digest: &str, run: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT MAX(cutoff) FROM digest_runs WHERE digest = ?1 AND id < ?2")?
            .query_row(params![digest, run], |r| r.get(0))?)
    }

    /// Records what `run` offers a reader of each language: `articles` (reader's language,
    /// the item), each language's in the order its readers' messages list them. Only once per
    /// run: a resumed run keeps what it offered when it opened, so its copies stay those of the
    /// messages already sent.
    pub fn record_news(&mut self, run: &Run, articles: &[(&str, NewsItem)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let recorded: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM run_news WHERE run_id = ?1)")?
            .query_row([run.id], |r| r.get(0))?;
        if !recorded {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO run_news (run_id, lang, version_lang, slug, news_at, is_fallback, position)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (position, (lang, item)) in articles.iter().enumerate() {
                let position = i64::try_from(position).unwrap_or(i64::MAX);
                insert.execute(params![run.id, lang, item.lang, item.slug, item.at, item.is_fallback, position])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// What run `run` offered a reader of `lang`, if there is such a run (with no articles when
    /// it offered them none).
    pub fn run_news(&self, run: i64, lang: &str) -> Result<Option<RunNews>> {
        let head = self
            .conn
            .prepare_cached("SELECT digest, cutoff FROM digest_runs WHERE id = ?1")?
            .query_row([run], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .optional()?;
        let Some((digest, cutoff)) = head else { return Ok(None) };
        Ok(Some(RunNews { run, digest, cutoff, articles: self.news_of(run, lang)? }))
    }

    /// Runs that offered a reader of `lang` something, one at a time, newest first from before
    /// run `before` (or oldest first from after run `after`, when given), until `each` returns
    /// `false`.
    pub fn for_each_run_news(
        &self,
        lang: &str,
        before: Option<i64>,
        after: Option<i64>,
        mut each: impl FnMut(RunNews) -> Result<bool>,
    ) -> Result<()> {
        let sql = if after.is_some() {
            "SELECT id, digest, cutoff FROM digest_runs r WHERE id > ?1
               AND EXISTS (SELECT 1 FROM run_news n WHERE n.run_id = r.id AND n.lang = ?2) ORDER BY id"
        } else {
            "SELECT id, digest, cutoff FROM digest_runs r WHERE id < ?1
               AND EXISTS (SELECT 1 FROM run_news n WHERE n.run_id = r.id AND n.lang = ?2) ORDER BY id DESC"
        };
        let from = after.or(before).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params![from, lang])?;
        while let Some(row) = rows.next()? {
            let run: i64 = row.get(0)?;
            let news = RunNews { run, digest: row.get(1)?, cutoff: row.get(2)?, articles: self.news_of(run, lang)? };
            if !each(news)? {
                break;
            }
        }
        Ok(())
    }

    fn news_of(&self, run: i64, lang: &str) -> Result<Vec<NewsItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT version_lang, slug, news_at, is_fallback FROM run_news WHERE run_id = ?1 AND lang = ?2
             ORDER BY position",
        )?;
        let rows = stmt.query_map(params![run, lang], |r| {
            Ok(NewsItem { lang: r.get(0)?, slug: r.get(1)?, at: r.get(2)?, is_fallback: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// How many deliveries of `run` are pending.
    pub fn count_pending(&self, run: i64) -> Result<usize> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM deliveries WHERE run_id = ?1 AND status = 'pending'")?
            .query_row([run], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Marks `run` finished if no delivery in it is pending; returns whether it is finished
    /// (now, or already: another sender of the run may have finished it).
    pub fn finish_run(&mut self, run: i64, now: i64) -> Result<bool> {
        self.conn.execute(
            "UPDATE digest_runs SET finished_at = ?2 WHERE id = ?1 AND finished_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM deliveries WHERE run_id = ?1 AND status = 'pending')",
            params![run, now],
        )?;
        let finished: Option<i64> =
            self.conn.query_row("SELECT finished_at FROM digest_runs WHERE id = ?1", [run], |r| r.get(0))?;
        Ok(finished.is_some())
    }

    /// Counts of the deliveries of `run` by status.
    pub fn run_counts(&self, run: i64) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT status, COUNT(*) FROM deliveries WHERE run_id = ?1 GROUP BY status ORDER BY status",
        )?;
        let rows = stmt.query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The id of `digest`'s unfinished run, if one is waiting to be resumed.
    pub fn unfinished_run(&self, digest: &str) -> Result<Option<(i64, Option<i64>)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT id, due_at FROM digest_runs WHERE digest = ?1 AND finished_at IS NULL")?;
        Ok(stmt.query_row([digest], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    /// Deletes the delivery rows of digest runs that finished before `before` (Unix seconds)
    /// and forgets when articles older than that were first seen. The runs themselves stay,
    /// with what they had to offer (a few rows each): the next run's cutoff follows the last
    /// one's, and each is a past digest readers can still open. Returns (runs whose deliveries
    /// were deleted, deliveries).
    pub fn prune(&mut self, before: i64) -> Result<(usize, usize)> {
        let tx = self.conn.transaction()?;
        let old = "SELECT id FROM digest_runs WHERE finished_at IS NOT NULL AND finished_at < ?1";
        let runs: i64 = tx.query_row(
            &format!("SELECT COUNT(DISTINCT run_id) FROM deliveries WHERE run_id IN ({old})"),
            [before],
            |r| r.get(0),
        )?;
        let deliveries = tx.execute(&format!("DELETE FROM deliveries WHERE run_id IN ({old})"), [before])?;
        tx.execute("DELETE FROM articles_seen WHERE first_seen < ?1", [before])?;
        tx.commit()?;
        Ok((usize::try_from(runs).unwrap_or(0), deliveries))
    }
}

/// Recording a run's outcomes, inside a write transaction with the bounce rules that follow
/// from them ([`crate::subscription::record_outcomes`]).
impl Tx<'_> {
    /// Records how deliveries in `run` ended: a message sent (or nothing to send) moves the
    /// subscriber's next digest's start to the run's cutoff.
    pub fn record_outcomes(&self, run: &Run, sender: &str, outcomes: &[(i64, Outcome)], now: i64) -> Result<Vec<i64>> {
        let mut recorded = Vec::with_capacity(outcomes.len());
        for (subscriber, outcome) in outcomes {
            let (status, error) = match outcome {
                Outcome::Sent => ("sent", None),
                Outcome::Skipped => ("skipped", None),
                Outcome::Failed { error, .. } => ("failed", Some(error.as_str())),
            };
            // Only a delivery still pending and still `sender`'s.
            let changed = self
                .tx
                .prepare_cached(
                    "UPDATE deliveries SET status = ?3, error = ?4, done_at = ?5, attempts = attempts + 1
                     WHERE run_id = ?1 AND subscriber_id = ?2 AND status = 'pending' AND claimed_by = ?6",
                )?
                .execute(params![run.id, subscriber, status, error, now, sender])?;
            if changed == 0 {
                continue;
            }
            recorded.push(*subscriber);
            if matches!(outcome, Outcome::Sent | Outcome::Skipped) {
                self.tx
                    .prepare_cached(
                        "UPDATE subscribers SET last_cutoff = MAX(COALESCE(last_cutoff, ?2), ?2) WHERE id = ?1",
                    )?
                    .execute(params![subscriber, run.cutoff])?;
            }
        }
        Ok(recorded)
    }
}

/// Subscriber ids as a JSON array, for `json_each`.
fn id_list(ids: &[i64]) -> String {
    let mut list = String::with_capacity(ids.len() * 8 + 2);
    list.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push_str(&id.to_string());
    }
    list.push(']');
    list
}

/// What came back after a message left: the log that makes reading one twice count once.
impl Tx<'_> {
    /// The status of subscriber `subscriber`'s delivery in run `run`, if there is one.
    pub fn delivery_status(&self, run: i64, subscriber: i64) -> Result<Option<String>> {
        let mut stmt =
            self.tx.prepare_cached("SELECT status FROM deliveries WHERE run_id = ?1 AND subscriber_id = ?2")?;
        Ok(stmt.query_row(params![run, subscriber], |r| r.get(0)).optional()?)
    }

    /// Notes on a delivery what came back for it (`bounced`, `soft`, `complained`, …), unless
    /// something that says more came back before: a complaint over a bounce, a bounce over a
    /// soft one, a soft one over one not understood.
    pub fn mark_returned(&self, run: i64, subscriber: i64, what: &str, now: i64) -> Result<()> {
        const RANK: &str = "CASE {} WHEN 'complained' THEN 4 WHEN 'bounced' THEN 3 WHEN 'soft' THEN 2 \
                            WHEN 'unclassified' THEN 1 ELSE 0 END";
        let (new, old) = (RANK.replace("{}", "?3"), RANK.replace("{}", "returned"));
        self.tx
            .prepare_cached(&format!(
                "UPDATE deliveries SET returned = ?3, returned_at = ?4
                 WHERE run_id = ?1 AND subscriber_id = ?2 AND {new} >= {old}"
            ))?
            .execute(params![run, subscriber, what, now])?;
        Ok(())
    }

    /// Logs a returned message; false when one with the same `fingerprint` was logged before
    /// (the same message handed over again), and then nothing is written.
    pub fn log_return(&self, fingerprint: &[u8], entry: &ReturnEntry, now: i64) -> Result<bool> {
        let inserted = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO returns (fingerprint, received_at, kind, subscriber_id, run_id, signup_id,
                     status, diagnostic) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                fingerprint,
                now,
                entry.kind,
                entry.subscriber,
                entry.run,
                entry.signup,
                entry.status,
                entry.diagnostic
            ])?;
        Ok(inserted > 0)
    }
}

impl Conn {
    /// Calls `each` with every returned message logged since `since`, oldest first.
    pub fn for_each_return(&self, since: i64, mut each: impl FnMut(ReturnEntry, i64) -> Result<()>) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT kind, subscriber_id, run_id, signup_id, status, diagnostic, received_at FROM returns
             WHERE received_at >= ?1 ORDER BY id",
        )?;
        let mut rows = stmt.query([since])?;
        while let Some(row) = rows.next()? {
            let entry = ReturnEntry {
                kind: row.get(0)?,
                subscriber: row.get(1)?,
                run: row.get(2)?,
                signup: row.get(3)?,
                status: row.get(4)?,
                diagnostic: row.get(5)?,
            };
            each(entry, row.get(6)?)?;
        }
        Ok(())
    }
}

impl Conn {
    /// What became of run `run`, if there is one.
    pub fn run_report(&self, run: i64) -> Result<Option<RunReport>> {
        let head: Option<(String, i64, Option<i64>)> = self
            .conn
            .prepare_cached("SELECT digest, started_at, finished_at FROM digest_runs WHERE id = ?1")?
            .query_row([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((digest, started_at, finished_at)) = head else { return Ok(None) };
        let counts = |sql: &str| -> Result<Vec<(String, i64)>> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        };
        let by_status = counts("SELECT status, COUNT(*) FROM deliveries WHERE run_id = ?1 GROUP BY status")?;
        let returned = counts(
            "SELECT returned, COUNT(*) FROM deliveries WHERE run_id = ?1 AND returned IS NOT NULL GROUP BY returned",
        )?;
        let unsubscribed_since: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
                 WHERE d.run_id = ?1 AND s.status = 'unsubscribed' AND s.unsubscribed_at >= ?2",
            )?
            .query_row(params![run, started_at], |r| r.get(0))?;
        Ok(Some(RunReport { digest, started_at, finished_at, by_status, returned, unsubscribed_since }))
    }
}
