//! Every SQL statement gazette runs, against one SQLite file: schema migrations (applied at
//! open, tracked in `user_version`) here, subscribers and sign-ups in [`subscribers`], digest
//! runs in [`runs`], the WebSub hub's subscriptions and deliveries in [`websub`]. WAL mode, so the HTTP server can read while a digest run writes. What the
//! rows mean and when they change is decided by [`crate::subscription`].

mod copy;
mod migrate;
mod runs;
mod subscribers;
mod websub;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};
use rusqlite_migration::{M, Migrations};

use super::{Preferences, SignUp, Subscriber};
pub use subscribers::Tx;

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
        // A sign-up waits for its confirmation in its own row, with the choices it was made
        // with: a subscriber's row changes only when the link mailed for that sign-up is
        // followed. AUTOINCREMENT: an id is never given twice, so a link names one sign-up.
        // Addresses are stored normalised (`migrate::normalise_addresses`); web sign-ups left
        // pending by earlier releases are dropped (their links could not confirm them now) and
        // those that had been subscribed before stay out until they sign up again.
        M::up_with_hook(
            "CREATE TABLE signups (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email TEXT NOT NULL,
                email_key TEXT NOT NULL,
                domain TEXT NOT NULL,
                name TEXT,
                language TEXT NOT NULL,
                sectors TEXT NOT NULL,
                digest TEXT NOT NULL,
                consent TEXT NOT NULL,
                created_at INTEGER NOT NULL
            );
            CREATE UNIQUE INDEX signups_by_key ON signups (email_key);
            ALTER TABLE subscribers ADD COLUMN link_email TEXT;
            CREATE INDEX signups_by_domain ON signups (domain);
            CREATE INDEX signups_by_age ON signups (created_at);
            DELETE FROM subscribers WHERE status = 'pending' AND consent LIKE 'web:%' AND confirmed_at IS NULL;
            UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = COALESCE(unsubscribed_at, created_at)
                WHERE status = 'pending' AND consent LIKE 'web:%';",
            migrate::normalise_addresses,
        ),
        // Bounces as a score (a hard one 1, a soft one 0.5, at most once a day) that lapses
        // when `mail.bounce_window` passes without one; the count of bounces in a row before
        // it becomes the score. What came back for a delivery is kept on its row.
        M::up(
            "ALTER TABLE subscribers ADD COLUMN bounce_score REAL NOT NULL DEFAULT 0;
            ALTER TABLE subscribers ADD COLUMN last_bounce_at INTEGER;
            UPDATE subscribers SET bounce_score = bounces,
                last_bounce_at = CASE WHEN bounces > 0 THEN CAST(strftime('%s', 'now') AS INTEGER) END;
            ALTER TABLE deliveries ADD COLUMN returned TEXT;
            ALTER TABLE deliveries ADD COLUMN returned_at INTEGER;
            CREATE TABLE returns (
                id INTEGER PRIMARY KEY,
                fingerprint BLOB NOT NULL UNIQUE,
                received_at INTEGER NOT NULL,
                kind TEXT NOT NULL,
                subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
                run_id INTEGER,
                signup_id INTEGER,
                status TEXT,
                diagnostic TEXT
            );
            CREATE INDEX returns_by_time ON returns (received_at);",
        ),
        // The WebSub hub: a subscription per (topic, callback), with its lease; at most one
        // delivery waiting per subscription, which sends the feed as it is when it goes and is
        // retried until it is given up. `version` counts the changes it carries, so a change
        // that comes while it is being sent sends it again.
        M::up(
            "CREATE TABLE websub_subscriptions (
                id INTEGER PRIMARY KEY,
                topic TEXT NOT NULL,
                callback TEXT NOT NULL,
                callback_host TEXT NOT NULL,
                secret TEXT,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                UNIQUE (topic, callback)
            );
            CREATE INDEX websub_by_host ON websub_subscriptions (callback_host);
            CREATE INDEX websub_by_expiry ON websub_subscriptions (expires_at);
            CREATE TABLE websub_deliveries (
                subscription_id INTEGER PRIMARY KEY REFERENCES websub_subscriptions (id) ON DELETE CASCADE,
                version INTEGER NOT NULL,
                attempts INTEGER NOT NULL,
                first_at INTEGER NOT NULL,
                next_at INTEGER NOT NULL,
                last_error TEXT
            );
            CREATE INDEX websub_due ON websub_deliveries (next_at);",
        ),
        // What each digest run offered a reader of each language (every article that became
        // news in it and that a reader of `lang` following every sector would get: in `lang`,
        // or `version_lang` the default one as a fallback), when, and in what order (`position`,
        // the messages' order, ties included): its web copies and the
        // list of past digests are read from it. Kept with the run, which pruning keeps (only
        // delivery rows are pruned).
        M::up(
            "CREATE TABLE run_news (
                run_id INTEGER NOT NULL REFERENCES digest_runs (id) ON DELETE CASCADE,
                lang TEXT NOT NULL,
                version_lang TEXT NOT NULL,
                slug TEXT NOT NULL,
                news_at INTEGER NOT NULL,
                is_fallback INTEGER NOT NULL,
                position INTEGER NOT NULL,
                PRIMARY KEY (run_id, lang, version_lang, slug)
            ) WITHOUT ROWID;",
        ),
        // Several senders of one run (PostgreSQL's instances; here one at a time, under the
        // digest's lock): a delivery is claimed by one (`claimed_by`, a process of its own) until
        // `lease_until`. A scheduled run is the one of its due time (`due_at`), so instances
        // whose schedules fire together join one run, and none opens a second.
        M::up(
            "ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
            ALTER TABLE deliveries ADD COLUMN lease_until INTEGER;
            ALTER TABLE digest_runs ADD COLUMN due_at INTEGER;
            CREATE UNIQUE INDEX one_run_per_due_time ON digest_runs (digest, due_at) WHERE due_at IS NOT NULL;",
        ),
        // Allowances (sign-ups per client, confirmation emails per inbox) kept with the state,
        // so every instance counts against one: a hashed key and the moment its allowance is
        // used up to (milliseconds).
        M::up(
            "CREATE TABLE allowances (
                key BLOB PRIMARY KEY,
                used_to INTEGER NOT NULL
            ) WITHOUT ROWID;",
        ),
    ])
}

/// One connection to the database.
pub struct Conn {
    conn: Connection,
}

fn sectors_column(sectors: &[String]) -> String {
    sectors.join(",")
}

/// The choice columns, which subscribers and sign-ups share.
fn preferences(row: &Row) -> rusqlite::Result<Preferences> {
    let sectors: String = row.get("sectors")?;
    Ok(Preferences {
        name: row.get("name")?,
        language: row.get("language")?,
        sectors: sectors.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        digest: row.get("digest")?,
    })
}

fn subscriber(row: &Row) -> rusqlite::Result<Subscriber> {
    let status: String = row.get("status")?;
    Ok(Subscriber {
        id: row.get("id")?,
        email: row.get("email")?,
        preferences: preferences(row)?,
        status: status
            .parse()
            .map_err(|e: String| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into()))?,
        consent: row.get("consent")?,
        created_at: row.get("created_at")?,
        confirmed_at: row.get("confirmed_at")?,
        unsubscribed_at: row.get("unsubscribed_at")?,
        last_cutoff: row.get("last_cutoff")?,
        link_email: row.get("link_email")?,
    })
}

fn signup(row: &Row) -> rusqlite::Result<SignUp> {
    Ok(SignUp {
        id: row.get("id")?,
        email: row.get("email")?,
        preferences: preferences(row)?,
        consent: row.get("consent")?,
        created_at: row.get("created_at")?,
    })
}

/// Where the SQLite file is: connections to it and the locks beside it.
pub struct Location {
    path: PathBuf,
}

impl Location {
    /// The file at `path`.
    pub fn new(path: &Path) -> Location {
        Location { path: path.to_path_buf() }
    }

    /// Creates the file (and its folder) if need be and brings its schema up to date; returns
    /// the connection that did.
    pub fn create(&self) -> Result<Conn> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
        }
        let mut state = self.connect()?;
        migrations()
            .to_latest(&mut state.conn)
            .with_context(|| format!("cannot bring the database {} up to date", self.path.display()))?;
        Ok(state)
    }

    /// A new connection to the file, set up as every connection is.
    pub fn connect(&self) -> Result<Conn> {
        let path = &self.path;
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
        Ok(Conn { conn })
    }

    /// Takes the lock of digest `digest`, a file beside the database, for as long as the file
    /// returned is open; fails at once when another process holds it.
    pub fn lock(&self, digest: &str) -> Result<std::fs::File> {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{digest}.lock"));
        let path = PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                anyhow::bail!("digest '{digest}' is being sent by another process (lock {})", path.display())
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
    }
}

impl Conn {
    /// Runs `work` in one write transaction: committed when it returns `Ok`, rolled back
    /// otherwise. The subscription rules are written against [`Tx`].
    pub fn write<T>(&mut self, work: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let tx = Tx::new(self.conn.transaction()?);
        let done = work(&tx)?;
        tx.commit()?;
        Ok(done)
    }

    /// Copies old versions of deleted rows out of the write-ahead log (a removed subscriber's
    /// address must not linger there until the next checkpoint).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Whether the database answers (the health check): one trivial query.
    pub fn ping(&self) -> Result<()> {
        self.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
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

    /// Takes `job` due at `due` for this process, unless another already took that due time
    /// (or a later one): whether this one did.
    pub fn take_job(&mut self, job: &str, due: i64, now: i64) -> Result<bool> {
        let taken = self
            .conn
            .prepare_cached(
                "INSERT INTO jobs (job, due_at, started_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (job) DO UPDATE SET due_at = excluded.due_at, started_at = excluded.started_at,
                     finished_at = NULL, outcome = NULL
                 WHERE jobs.due_at < excluded.due_at",
            )?
            .execute(params![job, due, now])?;
        Ok(taken > 0)
    }

    /// Records how `job` ended.
    pub fn job_finished(&mut self, job: &str, now: i64, outcome: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE jobs SET finished_at = ?2, outcome = ?3 WHERE job = ?1")?
            .execute(params![job, now, outcome])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;
    use crate::subscription::{Address, Giver};

    fn prefs() -> Preferences {
        Preferences { name: None, language: "en".into(), sectors: vec![], digest: "daily".into() }
    }

    fn add(state: &mut Conn, email: &str) {
        let address = Address::parse(email, Giver::Operator).unwrap();
        state.write(|tx| tx.add_subscriber(&address, &prefs(), Status::Confirmed, "cli", 1)).unwrap();
    }

    fn subscribers(conn: Conn) -> Vec<Subscriber> {
        crate::state::State::Sqlite(conn).subscribers().unwrap()
    }

    #[test]
    fn a_run_opened_while_another_connection_writes_waits_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gazette.db");
        let mut writer = Location::new(&path).create().unwrap();
        add(&mut writer, "li@example.org");
        let tx = writer.conn.transaction().unwrap();
        tx.execute("UPDATE subscribers SET bounces = 0", []).unwrap();
        // Another connection reads and then writes (open_run) while this one holds the lock:
        // begun deferred, its read snapshot would be stale by the time it may write.
        let opening = std::thread::spawn(move || Location::new(&path).create().unwrap().open_run("daily", None, 10));
        std::thread::sleep(std::time::Duration::from_millis(300));
        tx.commit().unwrap();
        let run = opening.join().unwrap().expect("the run opens once the other write is done");
        assert_eq!(run.cutoff, 10);
    }

    #[test]
    fn reopening_keeps_the_data_and_the_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gazette.db");
        add(&mut Location::new(&path).create().unwrap(), "a@example.org");
        let state = Location::new(&path).create().unwrap();
        let mode: String = state.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(subscribers(state).len(), 1);
    }

    #[test]
    fn upgrading_merges_spellings_of_one_mailbox_and_drops_web_sign_ups_left_pending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gazette.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrations().to_version(&mut conn, 4).unwrap();
            for (email, status, consent, confirmed_at) in [
                ("target@Example.org", "confirmed", "cli", Some(1)),
                ("\"target\"@example.org", "unsubscribed", "web:192.0.2.1", Some(2)),
                ("\"t\\arget\"@example.org", "confirmed", "web:192.0.2.1", Some(3)),
                ("new@example.org", "pending", "web:192.0.2.1", None),
                ("back@example.org", "pending", "web:192.0.2.1", Some(4)),
                ("info@外办.中国", "confirmed", "cli", Some(5)),
                ("ops@example.org", "pending", "cli", None),
            ] {
                conn.execute(
                    "INSERT INTO subscribers (email, email_key, language, sectors, digest, status, consent,
                         created_at, confirmed_at) VALUES (?1, lower(?1), 'en', '', 'daily', ?2, ?3, 0, ?4)",
                    params![email, status, consent, confirmed_at],
                )
                .unwrap();
            }
        }
        let subscribers = subscribers(Location::new(&path).create().unwrap());
        let info = subscribers.iter().find(|s| s.email.starts_with("info@")).unwrap();
        assert_eq!(info.link_binding(), "info@外办.中国", "links already mailed keep working");
        let rows: Vec<(String, Status)> = subscribers.into_iter().map(|s| (s.email, s.status)).collect();
        assert_eq!(
            rows,
            [
                ("target@example.org".to_owned(), Status::Unsubscribed),
                ("back@example.org".to_owned(), Status::Unsubscribed),
                ("info@xn--wfr73m.xn--fiqs8s".to_owned(), Status::Confirmed),
                ("ops@example.org".to_owned(), Status::Pending),
            ]
        );
    }
}
