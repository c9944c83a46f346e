//! Every SQL statement gazette runs against a PostgreSQL server, which several gazette
//! instances share: the schema in [`schema`], subscribers and sign-ups in [`subscribers`],
//! digest runs in [`runs`], the WebSub hub in [`websub`]. Statements are prepared once per
//! connection. Write transactions take one advisory lock, so they run one at a time across
//! every instance, as SQLite's do in one file: a rule that reads and then writes sees what it
//! changes. What the rows mean is [`crate::subscription`]'s.

mod copy;
mod runs;
mod schema;
mod subscribers;
mod tls;
mod websub;

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement, Transaction};

use crate::config::{DB_PASSWORD_ENV, PostgresUrl};
use crate::state::{Preferences, SignUp, Status, Subscriber};

/// Held by every write transaction until it ends.
const WRITE_LOCK: i64 = 0x6761_7a65_7474_6501;

/// How long connecting may take before it is an error (when the URL does not say).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server and how to log in to it.
pub struct Server {
    config: postgres::Config,
    /// `state.url` as given (no password), for errors.
    url: String,
    /// TLS, when the URL asks for it (`sslmode=require`).
    tls: Option<tls::MakeRustls>,
}

impl Server {
    /// The server `url` names, with the password from `GAZETTE_DB_PASSWORD` or
    /// `state.password_file`.
    pub fn new(url: &PostgresUrl) -> Result<Server> {
        let mut config: postgres::Config =
            url.url.parse().with_context(|| format!("state.url {} is not a PostgreSQL URL", url.url))?;
        let password = match (std::env::var(DB_PASSWORD_ENV), &url.password_file) {
            (Ok(password), _) => Some(password),
            (Err(_), Some(file)) => Some(
                std::fs::read_to_string(file)
                    .with_context(|| format!("state.password_file: cannot read {}", file.display()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
            ),
            (Err(_), None) => None,
        };
        if let Some(password) = password {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A client that vanishes inside a transaction (a lost machine) would hold the write lock
        // until TCP gave up on it, hours later, and every instance would wait: the server ends
        // such a session after a minute, and keepalives notice a dead peer within one.
        let options = config.get_options().map_or(String::new(), |o| format!("{o} "));
        config.options(&format!("{options}-c idle_in_transaction_session_timeout=60000"));
        config.keepalives(true).keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("gazette");
        }
        let tls = url.requires_tls().then(|| tls::MakeRustls::new(url.ca_file.as_deref())).transpose()?;
        Ok(Server { config, url: url.url.clone(), tls })
    }

    /// Connects and brings the schema up to date; returns the connection that did.
    pub fn create(&self) -> Result<Conn> {
        let mut conn = self.connect()?;
        schema::migrate(conn.client.get_mut())
            .with_context(|| format!("cannot bring the database {} up to date", self.url))?;
        Ok(conn)
    }

    /// A new connection.
    pub fn connect(&self) -> Result<Conn> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        let client = client.with_context(|| format!("cannot connect to the database {}", self.url))?;
        Ok(Conn { client: RefCell::new(client), statements: RefCell::default() })
    }
}

/// Prepared statements, by their SQL.
type Statements = RefCell<HashMap<String, Statement>>;

/// One connection to the server.
pub struct Conn {
    client: RefCell<Client>,
    statements: Statements,
}

/// One write transaction (see [`Conn::write`]).
pub struct Tx<'a> {
    tx: RefCell<Transaction<'a>>,
    statements: &'a Statements,
}

/// The statement for `sql` on this connection, prepared on first use.
fn prepared(statements: &Statements, client: &mut impl GenericClient, sql: &str) -> Result<Statement> {
    if let Some(statement) = statements.borrow().get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql)?;
    statements.borrow_mut().insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// Statements run on a connection or in a transaction alike.
trait Sql {
    /// Every row `sql` returns.
    fn rows(&self, sql: &str, params: Params) -> Result<Vec<Row>>;
    /// How many rows `sql` changed.
    fn exec(&self, sql: &str, params: Params) -> Result<u64>;

    /// The first row `sql` returns, if any.
    fn row(&self, sql: &str, params: Params) -> Result<Option<Row>> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }

    /// The row `sql` always returns.
    fn one(&self, sql: &str, params: Params) -> Result<Row> {
        self.row(sql, params)?.with_context(|| format!("no row from {sql}"))
    }
}

impl Sql for Conn {
    fn rows(&self, sql: &str, params: Params) -> Result<Vec<Row>> {
        let mut client = self.client.borrow_mut();
        let statement = prepared(&self.statements, &mut *client, sql)?;
        Ok(client.query(&statement, params)?)
    }

    fn exec(&self, sql: &str, params: Params) -> Result<u64> {
        let mut client = self.client.borrow_mut();
        let statement = prepared(&self.statements, &mut *client, sql)?;
        Ok(client.execute(&statement, params)?)
    }
}

impl Sql for Tx<'_> {
    fn rows(&self, sql: &str, params: Params) -> Result<Vec<Row>> {
        let mut tx = self.tx.borrow_mut();
        let statement = prepared(self.statements, &mut *tx, sql)?;
        Ok(tx.query(&statement, params)?)
    }

    fn exec(&self, sql: &str, params: Params) -> Result<u64> {
        let mut tx = self.tx.borrow_mut();
        let statement = prepared(self.statements, &mut *tx, sql)?;
        Ok(tx.execute(&statement, params)?)
    }
}

/// A count as a `usize`.
fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A number of rows as SQL's `LIMIT` takes it.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn sectors_column(sectors: &[String]) -> String {
    sectors.join(",")
}

fn preferences(row: &Row) -> Result<Preferences> {
    let sectors: String = row.try_get("sectors")?;
    Ok(Preferences {
        name: row.try_get("name")?,
        language: row.try_get("language")?,
        sectors: sectors.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        digest: row.try_get("digest")?,
    })
}

fn status(text: &str) -> Result<Status> {
    text.parse().map_err(anyhow::Error::msg)
}

fn subscriber(row: &Row) -> Result<Subscriber> {
    Ok(Subscriber {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        preferences: preferences(row)?,
        status: status(row.try_get("status")?)?,
        consent: row.try_get("consent")?,
        created_at: row.try_get("created_at")?,
        confirmed_at: row.try_get("confirmed_at")?,
        unsubscribed_at: row.try_get("unsubscribed_at")?,
        last_cutoff: row.try_get("last_cutoff")?,
        link_email: row.try_get("link_email")?,
    })
}

fn signup(row: &Row) -> Result<SignUp> {
    Ok(SignUp {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        preferences: preferences(row)?,
        consent: row.try_get("consent")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Conn {
    /// Runs `work` in one transaction under the write lock; commits when it returns `Ok`.
    pub fn write<T>(&mut self, work: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let tx = self.transaction()?;
        let done = work(&tx)?;
        tx.tx.into_inner().commit()?;
        Ok(done)
    }

    /// A transaction that holds the write lock.
    fn transaction(&mut self) -> Result<Tx<'_>> {
        let Conn { client, statements } = self;
        let mut tx = client.get_mut().transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        Ok(Tx { tx: RefCell::new(tx), statements })
    }

    /// Whether the connection was lost (the server restarted, say): it is not used again.
    pub fn is_broken(&self) -> bool {
        self.client.borrow().is_closed()
    }

    /// Reclaims the space of deleted subscriber and sign-up rows, so a removed address is
    /// overwritten sooner than autovacuum would get to it.
    pub fn checkpoint(&self) -> Result<()> {
        self.client.borrow_mut().batch_execute("VACUUM subscribers, signups, suppressed")?;
        Ok(())
    }

    pub fn ping(&self) -> Result<()> {
        self.one("SELECT 1", &[])?;
        Ok(())
    }

    pub fn job_due(&self, job: &str) -> Result<Option<(i64, bool)>> {
        let row = self.row(
            "SELECT due_at, finished_at IS NOT NULL AND COALESCE(outcome, '') NOT LIKE 'error%' FROM jobs WHERE job = $1",
            &[&job],
        )?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    pub fn job_started(&mut self, job: &str, due: i64, now: i64, outcome: Option<&str>) -> Result<()> {
        let finished = outcome.map(|_| now);
        self.exec(
            "INSERT INTO jobs (job, due_at, started_at, finished_at, outcome) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (job) DO UPDATE SET due_at = $2, started_at = $3, finished_at = $4, outcome = $5",
            &[&job, &due, &now, &finished, &outcome],
        )?;
        Ok(())
    }

    pub fn take_job(&mut self, job: &str, due: i64, now: i64) -> Result<bool> {
        let taken = self.exec(
            "INSERT INTO jobs (job, due_at, started_at) VALUES ($1, $2, $3)
             ON CONFLICT (job) DO UPDATE SET due_at = EXCLUDED.due_at, started_at = EXCLUDED.started_at,
                 finished_at = NULL, outcome = NULL
             WHERE jobs.due_at < EXCLUDED.due_at",
            &[&job, &due, &now],
        )?;
        Ok(taken > 0)
    }

    pub fn job_finished(&mut self, job: &str, now: i64, outcome: &str) -> Result<()> {
        self.exec("UPDATE jobs SET finished_at = $2, outcome = $3 WHERE job = $1", &[&job, &now, &outcome])?;
        Ok(())
    }
}
