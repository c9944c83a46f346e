//! Every SQL statement gazette runs, against one SQLite file: schema migrations (applied at
//! open, tracked in `user_version`), then the subscriber queries. WAL mode, so the HTTP server
//! can read while a digest run writes.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};
use rusqlite_migration::{M, Migrations};

use super::{Outcome, Preferences, Run, Saved, Status, Subscriber};

/// The schema, one step per release that changed it; never edit a step once released.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE subscribers (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            email_key TEXT NOT NULL UNIQUE,
            name TEXT,
            language TEXT NOT NULL,
            sectors TEXT NOT NULL,
            digest TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'bounced')),
            consent TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            confirmed_at INTEGER,
            unsubscribed_at INTEGER,
            bounces INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX subscribers_by_digest ON subscribers (digest, status);",
        ),
        // A run is one sending of one digest; a delivery, one subscriber's message in it. The
        // partial unique index allows one unfinished run per digest: a restart resumes it.
        M::up(
            "CREATE TABLE digest_runs (
                id INTEGER PRIMARY KEY,
                digest TEXT NOT NULL,
                cutoff INTEGER NOT NULL,
                started_at INTEGER NOT NULL,
                finished_at INTEGER
            );
            CREATE UNIQUE INDEX one_open_run_per_digest ON digest_runs (digest) WHERE finished_at IS NULL;
            CREATE TABLE deliveries (
                run_id INTEGER NOT NULL REFERENCES digest_runs (id) ON DELETE CASCADE,
                subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
                status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
                attempts INTEGER NOT NULL DEFAULT 0,
                error TEXT,
                done_at INTEGER,
                PRIMARY KEY (run_id, subscriber_id)
            ) WITHOUT ROWID;
            CREATE INDEX deliveries_by_subscriber ON deliveries (subscriber_id, status);",
        ),
        // `last_cutoff`: where the subscriber's next digest starts, kept on their row rather
        // than found in every delivery they ever had. `articles_seen`: when a digest run first
        // saw each article (one dated midnight but added at noon is new at noon). `suppressed`:
        // hashes of removed addresses that imports must not bring back.
        M::up(
            "ALTER TABLE subscribers ADD COLUMN last_cutoff INTEGER;
            UPDATE subscribers SET last_cutoff = (
                SELECT MAX(r.cutoff) FROM deliveries d JOIN digest_runs r ON r.id = d.run_id
                WHERE d.subscriber_id = subscribers.id AND r.digest = subscribers.digest
                  AND d.status IN ('sent', 'skipped'));
            CREATE INDEX deliveries_pending ON deliveries (run_id, subscriber_id) WHERE status = 'pending';
            CREATE TABLE articles_seen (
                lang TEXT NOT NULL,
                slug TEXT NOT NULL,
                first_seen INTEGER NOT NULL,
                PRIMARY KEY (lang, slug)
            ) WITHOUT ROWID;
            CREATE TABLE suppressed (
                email_hash BLOB PRIMARY KEY,
                reason TEXT NOT NULL,
                at INTEGER NOT NULL
            ) WITHOUT ROWID;",
        ),
        // The daemon's jobs (`build`, `digest:daily`): the last time each was due and how it
        // went, so a restart knows what it missed.
        M::up(
            "CREATE TABLE jobs (
                job TEXT PRIMARY KEY,
                due_at INTEGER NOT NULL,
                started_at INTEGER,
                finished_at INTEGER,
                outcome TEXT
            ) WITHOUT ROWID;",
        ),
    ])
}

/// The open database.
pub struct State {
    conn: Connection,
}

/// The key an address is unique by: the whole address, lowercased.
fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// What the suppression list keeps of a removed address: a SHA-256 of its key, enough to
/// recognise it and not to read it.
fn email_hash(email: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(email_key(email).as_bytes()).to_vec()
}

fn sectors_column(sectors: &[String]) -> String {
    sectors.join(",")
}

fn subscriber(row: &Row) -> rusqlite::Result<Subscriber> {
    let sectors: String = row.get("sectors")?;
    let status: String = row.get("status")?;
    Ok(Subscriber {
        id: row.get("id")?,
        email: row.get("email")?,
        preferences: Preferences {
            name: row.get("name")?,
            language: row.get("language")?,
            sectors: sectors.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            digest: row.get("digest")?,
        },
        status: status
            .parse()
            .map_err(|e: String| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into()))?,
        consent: row.get("consent")?,
        created_at: row.get("created_at")?,
        confirmed_at: row.get("confirmed_at")?,
        unsubscribed_at: row.get("unsubscribed_at")?,
        last_cutoff: row.get("last_cutoff")?,
    })
}

impl State {
    /// Opens (creating if need be) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<State> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
        }
        let mut conn =
            Connection::open(path).with_context(|| format!("cannot open the database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
            // What is deleted (a removed subscriber) is overwritten, not left in free pages.
            .and_then(|()| conn.pragma_update(None, "secure_delete", "ON"))
            .and_then(|()| conn.busy_timeout(std::time::Duration::from_secs(10)))
            .with_context(|| format!("cannot set up the database {}", path.display()))?;
        // Every transaction here writes. Begun deferred, one that reads first and writes later
        // fails at once with "database is locked" when another process (the CLI, the daemon's
        // other jobs) committed in between: the busy timeout does not apply to that upgrade.
        // Immediate transactions take the write lock first and wait their turn.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        migrations()
            .to_latest(&mut conn)
            .with_context(|| format!("cannot bring the database {} up to date", path.display()))?;
        Ok(State { conn })
    }

    /// Saves `preferences` for `email`: adds a new subscriber with `status`, or updates the
    /// preferences of a pending or confirmed one (its status stays). An unsubscribed or bounced
    /// subscriber is left alone. One address at a time is a deliberate act (an operator, or the
    /// person on the web), so an address removed before may come back this way.
    pub fn save_subscriber(
        &mut self,
        email: &str,
        preferences: &Preferences,
        status: Status,
        consent: &str,
        now: i64,
    ) -> Result<Saved> {
        let tx = self.conn.transaction()?;
        let saved = save(&tx, email, preferences, status, consent, now, false)?;
        if saved == Saved::Added {
            tx.prepare_cached("DELETE FROM suppressed WHERE email_hash = ?1")?.execute([email_hash(email)])?;
        }
        tx.commit()?;
        Ok(saved)
    }

    /// Saves many subscribers in one transaction (an import); one outcome per entry, in order.
    /// An address removed before is not brought back by a list.
    pub fn save_subscribers<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (&'a str, &'a Preferences)>,
        status: Status,
        consent: &str,
        now: i64,
    ) -> Result<Vec<Saved>> {
        let tx = self.conn.transaction()?;
        let saved = entries
            .into_iter()
            .map(|(email, preferences)| save(&tx, email, preferences, status, consent, now, true))
            .collect::<Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(saved)
    }

    /// Calls `each` with every subscriber, in the order they were added, one row at a time
    /// (a list of any size is never held).
    pub fn for_each_subscriber(&self, mut each: impl FnMut(Subscriber) -> Result<()>) -> Result<()> {
        let mut stmt = self.conn.prepare_cached("SELECT * FROM subscribers ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            each(subscriber(row)?)?;
        }
        Ok(())
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

    /// The current status of subscriber `id`; `None` once removed.
    pub fn status_of(&self, id: i64) -> Result<Option<Status>> {
        let mut stmt = self.conn.prepare_cached("SELECT status FROM subscribers WHERE id = ?1")?;
        let status: Option<String> = stmt.query_row([id], |r| r.get(0)).optional()?;
        status.map(|s| s.parse::<Status>().map_err(anyhow::Error::msg)).transpose()
    }

    /// The subscriber with address `email` (any case), if any.
    pub fn subscriber(&self, email: &str) -> Result<Option<Subscriber>> {
        let mut stmt = self.conn.prepare_cached("SELECT * FROM subscribers WHERE email_key = ?1")?;
        Ok(stmt.query_row([email_key(email)], subscriber).optional()?)
    }

    /// Deletes the subscriber with address `email` and everything kept about them but a hash
    /// of the address, so that an import does not bring them back; false when there was none.
    pub fn remove_subscriber(&mut self, email: &str, now: i64) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let status: Option<String> = tx
            .query_row("SELECT status FROM subscribers WHERE email_key = ?1", [email_key(email)], |r| r.get(0))
            .optional()?;
        if let Some(status) = &status {
            tx.execute("DELETE FROM subscribers WHERE email_key = ?1", [email_key(email)])?;
            tx.execute(
                "INSERT OR REPLACE INTO suppressed (email_hash, reason, at) VALUES (?1, ?2, ?3)",
                params![email_hash(email), format!("removed while {status}"), now],
            )?;
        }
        tx.commit()?;
        if status.is_some() {
            // Old copies of their row wait in the write-ahead log until a checkpoint: now.
            self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(status.is_some())
    }
}

impl State {
    /// The unfinished run of `digest` if there is one (after a crash), else a new run with
    /// cutoff `now` and a pending delivery for every confirmed subscriber of the digest.
    pub fn open_run(&mut self, digest: &str, now: i64) -> Result<Run> {
        let tx = self.conn.transaction()?;
        let open = tx
            .query_row("SELECT id, cutoff FROM digest_runs WHERE digest = ?1 AND finished_at IS NULL", [digest], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
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
                    "INSERT INTO digest_runs (digest, cutoff, started_at) VALUES (?1, ?2, ?2)",
                    params![digest, now],
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

    /// Up to `limit` subscribers whose delivery in `run` is pending, after subscriber id
    /// `after`, by id (a cursor, so a run of any size is read in pages).
    pub fn pending(&self, run: i64, after: i64, limit: usize) -> Result<Vec<Subscriber>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.* FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
             WHERE d.run_id = ?1 AND d.status = 'pending' AND d.subscriber_id > ?2
             ORDER BY d.subscriber_id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![run, after, limit as i64], subscriber)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Up to `limit` confirmed subscribers of `digest` after subscriber id `after`, by id.
    pub fn confirmed(&self, digest: &str, after: i64, limit: usize) -> Result<Vec<Subscriber>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT * FROM subscribers WHERE digest = ?1 AND status = 'confirmed' AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![digest, after, limit as i64], subscriber)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Records how deliveries in `run` ended, all in one transaction, and what each means for
    /// its subscriber: a message sent (or nothing to send) moves their next digest's start to
    /// the run's cutoff; a hard bounce counts towards `bounce_limit` (then they are marked
    /// bounced), and a sent message resets the count.
    pub fn record(&mut self, run: &Run, outcomes: &[(i64, Outcome)], bounce_limit: u32, now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (subscriber, outcome) in outcomes {
            let (status, error) = match outcome {
                Outcome::Sent => ("sent", None),
                Outcome::Skipped => ("skipped", None),
                Outcome::Failed { error, .. } => ("failed", Some(error.as_str())),
            };
            tx.prepare_cached(
                "UPDATE deliveries SET status = ?3, error = ?4, done_at = ?5, attempts = attempts + 1
                 WHERE run_id = ?1 AND subscriber_id = ?2",
            )?
            .execute(params![run.id, subscriber, status, error, now])?;
            match outcome {
                Outcome::Sent => {
                    tx.prepare_cached(
                        "UPDATE subscribers SET bounces = 0, last_cutoff = MAX(COALESCE(last_cutoff, ?2), ?2)
                         WHERE id = ?1",
                    )?
                    .execute(params![subscriber, run.cutoff])?;
                }
                Outcome::Skipped => {
                    tx.prepare_cached(
                        "UPDATE subscribers SET last_cutoff = MAX(COALESCE(last_cutoff, ?2), ?2) WHERE id = ?1",
                    )?
                    .execute(params![subscriber, run.cutoff])?;
                }
                Outcome::Failed { is_permanent: true, .. } => {
                    tx.prepare_cached(
                        "UPDATE subscribers SET bounces = bounces + 1,
                            status = CASE WHEN bounces + 1 >= ?2 THEN 'bounced' ELSE status END
                         WHERE id = ?1",
                    )?
                    .execute(params![subscriber, bounce_limit])?;
                }
                Outcome::Failed { .. } => {}
            }
        }
        tx.commit()?;
        Ok(())
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

    /// How many deliveries of `run` are pending.
    pub fn count_pending(&self, run: i64) -> Result<usize> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM deliveries WHERE run_id = ?1 AND status = 'pending'")?
            .query_row([run], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Marks `run` finished if no delivery in it is pending; returns whether it is.
    pub fn finish_run(&mut self, run: i64, now: i64) -> Result<bool> {
        let changed = self.conn.execute(
            "UPDATE digest_runs SET finished_at = ?2 WHERE id = ?1 AND finished_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM deliveries WHERE run_id = ?1 AND status = 'pending')",
            params![run, now],
        )?;
        Ok(changed > 0)
    }

    /// Counts of the deliveries of `run` by status.
    pub fn run_counts(&self, run: i64) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT status, COUNT(*) FROM deliveries WHERE run_id = ?1 GROUP BY status ORDER BY status",
        )?;
        let rows = stmt.query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// Sign-ups and choices made on the web pages, and the daemon's job log.
impl State {
    /// The subscriber with row id `id`, if any.
    pub fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        let mut stmt = self.conn.prepare_cached("SELECT * FROM subscribers WHERE id = ?1")?;
        Ok(stmt.query_row([id], subscriber).optional()?)
    }

    /// A sign-up on the subscribe form, before confirmation: a new address is added pending;
    /// a pending one takes the new preferences; one that unsubscribed or bounced becomes
    /// pending again with them (the person asked). A confirmed subscriber is left exactly as
    /// is: anyone can type an address into the form, so only a signed link changes it.
    /// Returns the subscriber as stored afterwards and whether they were confirmed before.
    pub fn sign_up(
        &mut self,
        email: &str,
        preferences: &Preferences,
        consent: &str,
        now: i64,
    ) -> Result<(Subscriber, bool)> {
        let tx = self.conn.transaction()?;
        let key = email_key(email);
        let existing = tx
            .prepare_cached("SELECT * FROM subscribers WHERE email_key = ?1")?
            .query_row([&key], subscriber)
            .optional()?;
        let was_confirmed = existing.as_ref().is_some_and(|s| s.status == Status::Confirmed);
        match existing {
            // A removed address stays on the suppression list until its owner confirms.
            None => {
                save(&tx, email, preferences, Status::Pending, consent, now, false)?;
            }
            Some(old) if old.status == Status::Confirmed => {}
            Some(old) => {
                tx.prepare_cached(
                    "UPDATE subscribers SET name = COALESCE(?2, name), language = ?3, sectors = ?4, digest = ?5,
                         status = 'pending', consent = ?6, bounces = 0 WHERE id = ?1",
                )?
                .execute(params![
                    old.id,
                    preferences.name,
                    preferences.language,
                    sectors_column(&preferences.sectors),
                    preferences.digest,
                    consent
                ])?;
            }
        }
        let stored =
            tx.prepare_cached("SELECT * FROM subscribers WHERE email_key = ?1")?.query_row([&key], subscriber)?;
        tx.commit()?;
        Ok((stored, was_confirmed))
    }

    /// Confirms pending subscriber `id` (the link in the confirmation email): their first
    /// digest holds what is published from now on, and their address leaves the suppression
    /// list (its owner asked). False when they were not pending.
    pub fn confirm(&mut self, id: i64, now: i64) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let changed = tx
            .prepare_cached(
                "UPDATE subscribers SET status = 'confirmed', confirmed_at = ?2, last_cutoff = ?2, unsubscribed_at = NULL
                 WHERE id = ?1 AND status = 'pending'",
            )?
            .execute(params![id, now])?;
        if changed > 0 {
            let email: String = tx.query_row("SELECT email FROM subscribers WHERE id = ?1", [id], |r| r.get(0))?;
            tx.prepare_cached("DELETE FROM suppressed WHERE email_hash = ?1")?.execute([email_hash(&email)])?;
        }
        tx.commit()?;
        Ok(changed > 0)
    }

    /// Unsubscribes subscriber `id`: no digest is sent to them from now on, in a run under
    /// way too. False when they were not subscribed (already out, or bounced).
    pub fn unsubscribe(&mut self, id: i64, now: i64) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?2
             WHERE id = ?1 AND status IN ('pending', 'confirmed')",
            )?
            .execute(params![id, now])?;
        Ok(changed > 0)
    }

    /// Saves new `preferences` for subscriber `id` (the preferences page); the name is kept
    /// when `preferences.name` is `None`. False when there is no such subscriber.
    pub fn set_preferences(&mut self, id: i64, preferences: &Preferences) -> Result<bool> {
        let changed = self.conn.prepare_cached(
            "UPDATE subscribers SET name = COALESCE(?2, name), language = ?3, sectors = ?4, digest = ?5 WHERE id = ?1",
        )?
        .execute(params![
            id,
            preferences.name,
            preferences.language,
            sectors_column(&preferences.sectors),
            preferences.digest
        ])?;
        Ok(changed > 0)
    }

    /// The id of `digest`'s unfinished run, if one is waiting to be resumed.
    pub fn unfinished_run(&self, digest: &str) -> Result<Option<i64>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT id FROM digest_runs WHERE digest = ?1 AND finished_at IS NULL")?;
        Ok(stmt.query_row([digest], |r| r.get(0)).optional()?)
    }

    /// Whether the database answers (the health check): one trivial query.
    pub fn ping(&self) -> Result<()> {
        self.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Deletes digest runs that finished before `before` (Unix seconds), with their delivery
    /// rows, keeping the newest run of each digest (the next run's cutoff follows it), and
    /// forgets when articles older than that were first seen. Returns (runs, deliveries).
    pub fn prune(&mut self, before: i64) -> Result<(usize, usize)> {
        let tx = self.conn.transaction()?;
        let old = "SELECT id FROM digest_runs WHERE finished_at IS NOT NULL AND finished_at < ?1
                   AND id NOT IN (SELECT MAX(id) FROM digest_runs GROUP BY digest)";
        let deliveries = tx.execute(&format!("DELETE FROM deliveries WHERE run_id IN ({old})"), [before])?;
        let runs = tx.execute(&format!("DELETE FROM digest_runs WHERE id IN ({old})"), [before])?;
        tx.execute("DELETE FROM articles_seen WHERE first_seen < ?1", [before])?;
        tx.commit()?;
        Ok((runs, deliveries))
    }

    /// Subscribers of each status (for the metrics).
    pub fn count_by_status(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT status, COUNT(*) FROM subscribers GROUP BY status ORDER BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// When `job` was last due (Unix seconds) and whether that run ended well (finished, and
    /// not with an error), if it ever ran under the daemon.
    pub fn job_due(&self, job: &str) -> Result<Option<(i64, bool)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT due_at, finished_at IS NOT NULL AND COALESCE(outcome, '') NOT LIKE 'error%' FROM jobs WHERE job = ?1",
        )?;
        Ok(stmt.query_row([job], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    /// Records that `job`, due at `due`, started at `now`; with an `outcome` (skipped, say),
    /// that it also ended then.
    pub fn job_started(&mut self, job: &str, due: i64, now: i64, outcome: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO jobs (job, due_at, started_at, finished_at, outcome)
                 VALUES (?1, ?2, ?3, CASE WHEN ?4 IS NULL THEN NULL ELSE ?3 END, ?4)
                 ON CONFLICT (job) DO UPDATE SET due_at = ?2, started_at = ?3,
                     finished_at = CASE WHEN ?4 IS NULL THEN NULL ELSE ?3 END, outcome = ?4",
            )?
            .execute(params![job, due, now, outcome])?;
        Ok(())
    }

    /// Records how `job` ended.
    pub fn job_finished(&mut self, job: &str, now: i64, outcome: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE jobs SET finished_at = ?2, outcome = ?3 WHERE job = ?1")?
            .execute(params![job, now, outcome])?;
        Ok(())
    }
}

fn save(
    tx: &rusqlite::Transaction,
    email: &str,
    preferences: &Preferences,
    status: Status,
    consent: &str,
    now: i64,
    respect_suppression: bool,
) -> Result<Saved> {
    let key = email_key(email);
    let existing = {
        let mut stmt = tx.prepare_cached("SELECT * FROM subscribers WHERE email_key = ?1")?;
        stmt.query_row([&key], subscriber).optional()?
    };
    let sectors = sectors_column(&preferences.sectors);
    match existing {
        None if respect_suppression
            && tx.prepare_cached("SELECT 1 FROM suppressed WHERE email_hash = ?1")?.exists([email_hash(email)])? =>
        {
            Ok(Saved::Suppressed)
        }
        None => {
            let confirmed_at = (status == Status::Confirmed).then_some(now);
            tx.prepare_cached(
                "INSERT INTO subscribers (email, email_key, name, language, sectors, digest, status, consent,
                     created_at, confirmed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                email,
                key,
                preferences.name,
                preferences.language,
                sectors,
                preferences.digest,
                status.as_str(),
                consent,
                now,
                confirmed_at
            ])?;
            Ok(Saved::Added)
        }
        Some(old) if matches!(old.status, Status::Unsubscribed | Status::Bounced) => Ok(Saved::Kept(old.status)),
        // Consent given now (`--confirmed`) confirms a pending subscriber.
        Some(old) if old.status == Status::Pending && status == Status::Confirmed => {
            tx.prepare_cached(
                "UPDATE subscribers SET name = ?2, language = ?3, sectors = ?4, digest = ?5,
                     status = 'confirmed', confirmed_at = ?6 WHERE id = ?1",
            )?
            .execute(params![
                old.id,
                preferences.name,
                preferences.language,
                sectors,
                preferences.digest,
                now
            ])?;
            Ok(Saved::Updated)
        }
        Some(old) if old.preferences == *preferences => Ok(Saved::Unchanged),
        Some(old) => {
            tx.prepare_cached(
                "UPDATE subscribers SET name = ?2, language = ?3, sectors = ?4, digest = ?5 WHERE id = ?1",
            )?
            .execute(params![
                old.id,
                preferences.name,
                preferences.language,
                sectors,
                preferences.digest
            ])?;
            Ok(Saved::Updated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefs(language: &str, sectors: &[&str]) -> Preferences {
        Preferences {
            name: Some("Li Wei".into()),
            language: language.into(),
            sectors: sectors.iter().map(|s| s.to_string()).collect(),
            digest: "daily".into(),
        }
    }

    #[test]
    fn saves_updates_and_never_resubscribes_an_unsubscribed_address() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("state/gazette.db")).unwrap();
        let p = prefs("en", &["trade"]);
        assert_eq!(state.save_subscriber("Li@Example.org", &p, Status::Pending, "cli", 10).unwrap(), Saved::Added);
        assert_eq!(state.save_subscriber("li@example.org", &p, Status::Pending, "cli", 11).unwrap(), Saved::Unchanged);
        let zh = prefs("zh", &[]);
        assert_eq!(state.save_subscriber("LI@example.org", &zh, Status::Confirmed, "cli", 12).unwrap(), Saved::Updated);
        let stored = state.subscriber("li@EXAMPLE.org").unwrap().unwrap();
        // Consent given with the update confirms the pending subscriber.
        assert_eq!(
            (stored.email.as_str(), stored.status, stored.created_at, stored.confirmed_at),
            ("Li@Example.org", Status::Confirmed, 10, Some(12))
        );
        assert_eq!(stored.preferences, zh);

        state.conn.execute("UPDATE subscribers SET status = 'unsubscribed'", []).unwrap();
        let saved = state.save_subscriber("li@example.org", &p, Status::Confirmed, "import:x.csv", 13).unwrap();
        assert_eq!(saved, Saved::Kept(Status::Unsubscribed));
        assert!(state.remove_subscriber("LI@EXAMPLE.ORG", 0).unwrap());
        assert!(state.subscribers().unwrap().is_empty());
    }

    #[test]
    fn a_web_sign_up_of_a_removed_address_lifts_its_suppression_only_when_confirmed() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("gazette.db")).unwrap();
        let p = prefs("en", &[]);
        state.save_subscriber("li@example.org", &p, Status::Confirmed, "cli", 1).unwrap();
        assert!(state.remove_subscriber("li@example.org", 2).unwrap());
        let (pending, was_confirmed) = state.sign_up("li@example.org", &p, "web:192.0.2.1", 3).unwrap();
        assert_eq!((pending.status, was_confirmed), (Status::Pending, false));
        let suppressed =
            |s: &State| s.conn.query_row("SELECT COUNT(*) FROM suppressed", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(suppressed(&state), 1, "typing an address into the form lifts nothing");
        assert!(state.confirm(pending.id, 4).unwrap());
        assert_eq!(suppressed(&state), 0, "its owner confirmed");
        let (confirmed, was_confirmed) = state.sign_up("li@example.org", &prefs("zh", &["trade"]), "web:x", 5).unwrap();
        assert!(was_confirmed);
        assert_eq!(confirmed.preferences, p, "a confirmed subscriber's choices change only by a signed link");
    }

    #[test]
    fn pruning_drops_old_finished_runs_and_their_deliveries_but_the_newest_of_each_digest() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("gazette.db")).unwrap();
        state.save_subscriber("li@example.org", &prefs("en", &[]), Status::Confirmed, "cli", 1).unwrap();
        for day in [10, 20, 30] {
            let run = state.open_run("daily", day * 86_400).unwrap();
            state.record(&run, &[(1, Outcome::Sent)], 3, day * 86_400).unwrap();
            assert!(state.finish_run(run.id, day * 86_400).unwrap());
        }
        let open = state.open_run("daily", 40 * 86_400).unwrap();
        let count = |s: &State, table: &str| {
            s.conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap()
        };
        // Runs finished before day 25: day 10 and day 20. The unfinished run stays whatever.
        assert_eq!(state.prune(25 * 86_400).unwrap(), (2, 2));
        assert_eq!((count(&state, "digest_runs"), count(&state, "deliveries")), (2, 2));
        // Even past everything, the newest finished run of a digest stays: cutoffs follow it.
        state.record(&open, &[(1, Outcome::Sent)], 3, 40 * 86_400).unwrap();
        state.finish_run(open.id, 40 * 86_400).unwrap();
        assert_eq!(state.prune(100 * 86_400).unwrap(), (1, 1));
        let next = state.open_run("daily", 1).unwrap();
        assert!(next.cutoff > 40 * 86_400, "the next cutoff still follows the last run's");
    }

    #[test]
    fn a_run_opened_while_another_connection_writes_waits_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gazette.db");
        let mut writer = State::open(&path).unwrap();
        writer.save_subscriber("li@example.org", &prefs("en", &[]), Status::Confirmed, "cli", 1).unwrap();
        let tx = writer.conn.transaction().unwrap();
        tx.execute("UPDATE subscribers SET bounces = 0", []).unwrap();
        // Another connection reads and then writes (open_run) while this one holds the lock:
        // begun deferred, its read snapshot would be stale by the time it may write.
        let opening = std::thread::spawn(move || State::open(&path).unwrap().open_run("daily", 10));
        std::thread::sleep(std::time::Duration::from_millis(300));
        tx.commit().unwrap();
        let run = opening.join().unwrap().expect("the run opens once the other write is done");
        assert_eq!(run.cutoff, 10);
    }

    #[test]
    fn reopening_keeps_the_data_and_the_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gazette.db");
        State::open(&path)
            .unwrap()
            .save_subscriber("a@example.org", &prefs("en", &[]), Status::Confirmed, "cli", 1)
            .unwrap();
        let state = State::open(&path).unwrap();
        assert_eq!(state.subscribers().unwrap().len(), 1);
        let mode: String = state.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }
}
