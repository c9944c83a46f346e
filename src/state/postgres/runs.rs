//! Digest runs and their deliveries on PostgreSQL: opening a run, reading it a page at a time,
//! recording outcomes (a batch in one statement), the articles runs have seen, what each run
//! offered, what came back, and pruning.

use anyhow::Result;

use super::{Conn, Sql, Tx, count, limit, subscriber};
use crate::state::{NewsItem, Outcome, ReturnEntry, Run, RunNews, RunReport, Subscriber};

/// Runs read at a time when walking past digests.
const RUNS_PAGE: i64 = 50;

/// The server's time (Unix seconds, rounded down), which times every lease: the instances'
/// own clocks need not agree.
const SERVER_NOW: &str = "floor(extract(epoch FROM statement_timestamp()))::BIGINT";
/// When a lease of `$3` seconds taken now ends: rounded up, so it never ends before its holder
/// (who counts from before it asked) expects.
const LEASE_END: &str = "ceil(extract(epoch FROM statement_timestamp()))::BIGINT + $3";

impl Conn {
    pub fn open_run(&mut self, digest: &str, due: Option<i64>, now: i64) -> Result<Run> {
        let run = self.open_run_locked(digest, due, now)?;
        if !run.is_resumed {
            // The run's rows are new to the planner: until autovacuum gets to them it would
            // guess, and a guess that picks a scan of every pending delivery costs each batch
            // of outcomes milliseconds. Outside the write lock; a sample, so quick. The run is
            // open either way.
            if let Err(e) = self.client.get_mut().batch_execute("ANALYZE deliveries") {
                tracing::warn!(error = %e, "cannot analyse the new run's deliveries");
            }
        }
        Ok(run)
    }

    fn open_run_locked(&mut self, digest: &str, due: Option<i64>, now: i64) -> Result<Run> {
        let tx = self.transaction()?;
        let open = tx.row(
            "SELECT id, cutoff FROM digest_runs WHERE digest = $1 AND (due_at = $2 OR finished_at IS NULL)
             ORDER BY due_at IS NOT DISTINCT FROM $2::BIGINT DESC LIMIT 1",
            &[&digest, &due],
        )?;
        let run = match open {
            Some(row) => Run { id: row.try_get(0)?, cutoff: row.try_get(1)?, is_resumed: true },
            None => {
                // Two runs within one second must still have different cutoffs.
                let last: Option<i64> =
                    tx.one("SELECT MAX(cutoff) FROM digest_runs WHERE digest = $1", &[&digest])?.try_get(0)?;
                let now = last.map_or(now, |last| now.max(last + 1));
                let id: i64 = tx
                    .one(
                        "INSERT INTO digest_runs (digest, cutoff, started_at, due_at) VALUES ($1, $2, $2, $3)
                         RETURNING id",
                        &[&digest, &now, &due],
                    )?
                    .try_get(0)?;
                tx.exec(
                    "INSERT INTO deliveries (run_id, subscriber_id)
                     SELECT $1, id FROM subscribers WHERE digest = $2 AND status = 'confirmed'",
                    &[&id, &digest],
                )?;
                Run { id, cutoff: now, is_resumed: false }
            }
        };
        tx.tx.into_inner().commit()?;
        Ok(run)
    }

    pub fn claim(&mut self, run: i64, sender: &str, held: &[i64], lease: i64, max: usize) -> Result<Vec<Subscriber>> {
        // One statement: deliveries other senders are claiming this moment are skipped, not
        // waited for; those whose sender's lease ran out (it died) are taken over, and so are
        // this sender's own that it does not hold (a claim whose reply was lost, say).
        let rows = self.rows(
            &format!(
                "WITH picked AS (
                 SELECT subscriber_id FROM deliveries
                 WHERE run_id = $1 AND status = 'pending' AND subscriber_id <> ALL($5::BIGINT[])
                   AND (claimed_by IS NULL OR lease_until < {SERVER_NOW} OR claimed_by = $2)
                 ORDER BY subscriber_id LIMIT $4 FOR UPDATE SKIP LOCKED
             ), claimed AS (
                 UPDATE deliveries d SET claimed_by = $2, lease_until = {LEASE_END} FROM picked p
                 WHERE d.run_id = $1 AND d.subscriber_id = p.subscriber_id RETURNING d.subscriber_id
             )
             SELECT s.* FROM subscribers s JOIN claimed c ON s.id = c.subscriber_id ORDER BY s.id"
            ),
            &[&run, &sender, &lease, &limit(max), &held],
        )?;
        rows.iter().map(subscriber).collect()
    }

    pub fn renew_claims(&mut self, run: i64, sender: &str, held: &[i64], lease: i64) -> Result<Vec<i64>> {
        // A row locked this moment (its outcome being recorded, a bounce marked) is waited
        // for, not skipped: one left out would be dropped as taken over, and claimed again.
        let rows = self.rows(
            &format!(
                "UPDATE deliveries SET lease_until = {LEASE_END}
                 WHERE run_id = $1 AND subscriber_id = ANY($4::BIGINT[]) AND claimed_by = $2 AND status = 'pending'
                 RETURNING subscriber_id"
            ),
            &[&run, &sender, &lease, &held],
        )?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// [`Tx::record_outcomes`] as one statement of its own: no write lock, since it changes
    /// only deliveries `sender` holds and a cutoff that only grows.
    pub fn record_outcomes(&self, run: &Run, sender: &str, outcomes: &[(i64, Outcome)], now: i64) -> Result<Vec<i64>> {
        record_outcomes(self, run, sender, outcomes, now)
    }

    pub fn release_claims(&mut self, run: i64, sender: &str) -> Result<usize> {
        Ok(count(self.exec(
            "UPDATE deliveries SET claimed_by = NULL, lease_until = NULL
             WHERE run_id = $1 AND claimed_by = $2 AND status = 'pending'",
            &[&run, &sender],
        )?))
    }

    pub fn confirmed(&self, digest: &str, after: i64, max: usize) -> Result<Vec<Subscriber>> {
        let rows = self.rows(
            "SELECT * FROM subscribers WHERE digest = $1 AND status = 'confirmed' AND id > $2 ORDER BY id LIMIT $3",
            &[&digest, &after, &limit(max)],
        )?;
        rows.iter().map(subscriber).collect()
    }

    pub fn see_articles(&mut self, run: &Run, articles: &[(&str, &str, i64)], now: i64) -> Result<Vec<i64>> {
        let tx = self.transaction()?;
        let passed: Option<i64> =
            tx.one("SELECT MAX(cutoff) FROM digest_runs WHERE id < $1", &[&run.id])?.try_get(0)?;
        let mut seen = Vec::with_capacity(articles.len());
        for &(lang, slug, published) in articles {
            let is_late = passed.is_some_and(|passed| published <= passed);
            let when = if is_late { now.max(run.cutoff) } else { published };
            tx.exec(
                "INSERT INTO articles_seen (lang, slug, first_seen) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&lang, &slug, &when],
            )?;
            let first: i64 = tx
                .one("SELECT first_seen FROM articles_seen WHERE lang = $1 AND slug = $2", &[&lang, &slug])?
                .try_get(0)?;
            seen.push(first);
        }
        tx.tx.into_inner().commit()?;
        Ok(seen)
    }

    pub fn seen_articles(&self, articles: &[(&str, &str)]) -> Result<Vec<Option<i64>>> {
        articles
            .iter()
            .map(|&(lang, slug)| {
                let row =
                    self.row("SELECT first_seen FROM articles_seen WHERE lang = $1 AND slug = $2", &[&lang, &slug])?;
                row.map(|r| Ok(r.try_get(0)?)).transpose()
            })
            .collect()
    }

    pub fn previous_cutoff(&self, digest: &str, run: i64) -> Result<Option<i64>> {
        Ok(self
            .one("SELECT MAX(cutoff) FROM digest_runs WHERE digest = $1 AND id < $2", &[&digest, &run])?
            .try_get(0)?)
    }

    pub fn record_news(&mut self, run: &Run, articles: &[(&str, NewsItem)]) -> Result<()> {
        let tx = self.transaction()?;
        let recorded: bool =
            tx.one("SELECT EXISTS (SELECT 1 FROM run_news WHERE run_id = $1)", &[&run.id])?.try_get(0)?;
        if !recorded {
            for (position, (lang, item)) in articles.iter().enumerate() {
                let position = i64::try_from(position).unwrap_or(i64::MAX);
                tx.exec(
                    "INSERT INTO run_news (run_id, lang, version_lang, slug, news_at, is_fallback, position)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    &[&run.id, lang, &item.lang, &item.slug, &item.at, &item.is_fallback, &position],
                )?;
            }
        }
        tx.tx.into_inner().commit()?;
        Ok(())
    }

    pub fn run_news(&self, run: i64, lang: &str) -> Result<Option<RunNews>> {
        let Some(head) = self.row("SELECT digest, cutoff FROM digest_runs WHERE id = $1", &[&run])? else {
            return Ok(None);
        };
        Ok(Some(RunNews {
            run,
            digest: head.try_get(0)?,
            cutoff: head.try_get(1)?,
            articles: self.news_of(run, lang)?,
        }))
    }

    pub fn for_each_run_news(
        &self,
        lang: &str,
        before: Option<i64>,
        after: Option<i64>,
        mut each: impl FnMut(RunNews) -> Result<bool>,
    ) -> Result<()> {
        let sql = if after.is_some() {
            "SELECT id, digest, cutoff FROM digest_runs r WHERE id > $1
               AND EXISTS (SELECT 1 FROM run_news n WHERE n.run_id = r.id AND n.lang = $2) ORDER BY id LIMIT $3"
        } else {
            "SELECT id, digest, cutoff FROM digest_runs r WHERE id < $1
               AND EXISTS (SELECT 1 FROM run_news n WHERE n.run_id = r.id AND n.lang = $2) ORDER BY id DESC LIMIT $3"
        };
        // A page of runs at a time (one connection runs one statement at a time, and each run's
        // articles are read in between).
        let mut from = after.or(before).unwrap_or(i64::MAX);
        loop {
            let runs = self.rows(sql, &[&from, &lang, &RUNS_PAGE])?;
            for row in &runs {
                let run: i64 = row.try_get(0)?;
                from = run;
                let news = RunNews {
                    run,
                    digest: row.try_get(1)?,
                    cutoff: row.try_get(2)?,
                    articles: self.news_of(run, lang)?,
                };
                if !each(news)? {
                    return Ok(());
                }
            }
            if runs.len() < usize::try_from(RUNS_PAGE).unwrap_or(0) {
                return Ok(());
            }
        }
    }

    fn news_of(&self, run: i64, lang: &str) -> Result<Vec<NewsItem>> {
        let rows = self.rows(
            "SELECT version_lang, slug, news_at, is_fallback FROM run_news WHERE run_id = $1 AND lang = $2
             ORDER BY position",
            &[&run, &lang],
        )?;
        rows.iter()
            .map(|r| {
                Ok(NewsItem { lang: r.try_get(0)?, slug: r.try_get(1)?, at: r.try_get(2)?, is_fallback: r.try_get(3)? })
            })
            .collect()
    }

    pub fn count_pending(&self, run: i64) -> Result<usize> {
        let n: i64 = self
            .one("SELECT COUNT(*) FROM deliveries WHERE run_id = $1 AND status = 'pending'", &[&run])?
            .try_get(0)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    pub fn finish_run(&mut self, run: i64, now: i64) -> Result<bool> {
        self.exec(
            "UPDATE digest_runs SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM deliveries WHERE run_id = $1 AND status = 'pending')",
            &[&run, &now],
        )?;
        let finished: Option<i64> =
            self.one("SELECT finished_at FROM digest_runs WHERE id = $1", &[&run])?.try_get(0)?;
        Ok(finished.is_some())
    }

    pub fn run_counts(&self, run: i64) -> Result<Vec<(String, i64)>> {
        let rows = self.rows(
            "SELECT status, COUNT(*) FROM deliveries WHERE run_id = $1 GROUP BY status ORDER BY status",
            &[&run],
        )?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    pub fn unfinished_run(&self, digest: &str) -> Result<Option<(i64, Option<i64>)>> {
        let row =
            self.row("SELECT id, due_at FROM digest_runs WHERE digest = $1 AND finished_at IS NULL", &[&digest])?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    pub fn prune(&mut self, before: i64) -> Result<(usize, usize)> {
        let tx = self.transaction()?;
        let old = "SELECT id FROM digest_runs WHERE finished_at IS NOT NULL AND finished_at < $1";
        let runs: i64 = tx
            .one(&format!("SELECT COUNT(DISTINCT run_id) FROM deliveries WHERE run_id IN ({old})"), &[&before])?
            .try_get(0)?;
        let deliveries = tx.exec(&format!("DELETE FROM deliveries WHERE run_id IN ({old})"), &[&before])?;
        tx.exec("DELETE FROM articles_seen WHERE first_seen < $1", &[&before])?;
        tx.tx.into_inner().commit()?;
        Ok((usize::try_from(runs).unwrap_or(0), count(deliveries)))
    }

    pub fn for_each_return(&self, since: i64, mut each: impl FnMut(ReturnEntry, i64) -> Result<()>) -> Result<()> {
        let mut client = self.client.borrow_mut();
        let mut tx = client.build_transaction().read_only(true).start()?;
        let portal = tx.bind(
            "SELECT kind, subscriber_id, run_id, signup_id, status, diagnostic, received_at FROM returns
             WHERE received_at >= $1 ORDER BY id",
            &[&since],
        )?;
        loop {
            let rows = tx.query_portal(&portal, 1_000)?;
            for row in &rows {
                let entry = ReturnEntry {
                    kind: row.try_get(0)?,
                    subscriber: row.try_get(1)?,
                    run: row.try_get(2)?,
                    signup: row.try_get(3)?,
                    status: row.try_get(4)?,
                    diagnostic: row.try_get(5)?,
                };
                each(entry, row.try_get(6)?)?;
            }
            if rows.len() < 1_000 {
                break;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn run_report(&self, run: i64) -> Result<Option<RunReport>> {
        let Some(head) = self.row("SELECT digest, started_at, finished_at FROM digest_runs WHERE id = $1", &[&run])?
        else {
            return Ok(None);
        };
        let (digest, started_at, finished_at): (String, i64, Option<i64>) =
            (head.try_get(0)?, head.try_get(1)?, head.try_get(2)?);
        let by_status = self.run_counts(run)?;
        let returned = self
            .rows(
                "SELECT returned, COUNT(*) FROM deliveries WHERE run_id = $1 AND returned IS NOT NULL
                 GROUP BY returned ORDER BY returned",
                &[&run],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>>>()?;
        let unsubscribed_since: i64 = self
            .one(
                "SELECT COUNT(*) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
                 WHERE d.run_id = $1 AND s.status = 'unsubscribed' AND s.unsubscribed_at >= $2",
                &[&run, &started_at],
            )?
            .try_get(0)?;
        Ok(Some(RunReport { digest, started_at, finished_at, by_status, returned, unsubscribed_since }))
    }
}

impl Tx<'_> {
    pub fn record_outcomes(&self, run: &Run, sender: &str, outcomes: &[(i64, Outcome)], now: i64) -> Result<Vec<i64>> {
        record_outcomes(self, run, sender, outcomes, now)
    }

    pub fn delivery_status(&self, run: i64, subscriber: i64) -> Result<Option<String>> {
        let row =
            self.row("SELECT status FROM deliveries WHERE run_id = $1 AND subscriber_id = $2", &[&run, &subscriber])?;
        row.map(|r| Ok(r.try_get(0)?)).transpose()
    }

    pub fn mark_returned(&self, run: i64, subscriber: i64, what: &str, now: i64) -> Result<()> {
        const RANK: &str = "CASE {} WHEN 'complained' THEN 4 WHEN 'bounced' THEN 3 WHEN 'soft' THEN 2 \
                            WHEN 'unclassified' THEN 1 ELSE 0 END";
        let (new, old) = (RANK.replace("{}", "$3::TEXT"), RANK.replace("{}", "returned"));
        self.exec(
            &format!(
                "UPDATE deliveries SET returned = $3, returned_at = $4
                 WHERE run_id = $1 AND subscriber_id = $2 AND {new} >= {old}"
            ),
            &[&run, &subscriber, &what, &now],
        )?;
        Ok(())
    }

    pub fn log_return(&self, fingerprint: &[u8], entry: &ReturnEntry, now: i64) -> Result<bool> {
        let inserted = self.exec(
            "INSERT INTO returns (fingerprint, received_at, kind, subscriber_id, run_id, signup_id, status, diagnostic)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &[
                &fingerprint,
                &now,
                &entry.kind,
                &entry.subscriber,
                &entry.run,
                &entry.signup,
                &entry.status,
                &entry.diagnostic,
            ],
        )?;
        Ok(inserted > 0)
    }
}

/// Records outcomes of deliveries `sender` holds, in one call of the schema's
/// `record_outcomes` whatever the batch's size (round trips, not rows, are what cost);
/// returns the subscribers whose were recorded.
fn record_outcomes(sql: &impl Sql, run: &Run, sender: &str, outcomes: &[(i64, Outcome)], now: i64) -> Result<Vec<i64>> {
    let mut subscribers = Vec::with_capacity(outcomes.len());
    let mut statuses = Vec::with_capacity(outcomes.len());
    let mut errors: Vec<Option<&str>> = Vec::with_capacity(outcomes.len());
    for (subscriber, outcome) in outcomes {
        let (status, error) = match outcome {
            Outcome::Sent => ("sent", None),
            Outcome::Skipped => ("skipped", None),
            Outcome::Failed { error, .. } => ("failed", Some(error.as_str())),
        };
        subscribers.push(*subscriber);
        statuses.push(status);
        errors.push(error);
    }
    let rows = sql.rows(
        "SELECT * FROM record_outcomes($1, $2, $3, $4, $5, $6, $7)",
        &[&run.id, &sender, &subscribers, &statuses, &errors, &now, &run.cutoff],
    )?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}
