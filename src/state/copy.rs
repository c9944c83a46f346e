//! `gazette state copy`: every row of one database into another that holds nothing yet (a
//! SQLite deployment moving to PostgreSQL for several instances, or back), read as of one
//! moment, written in one transaction, and checked by counting each table on both sides.

use anyhow::{Result, bail};

use super::Database;

/// One table as copied: its columns, in the order both schemas list them.
pub struct Table {
    /// Its name.
    pub name: &'static str,
    /// The columns copied.
    pub columns: &'static [&'static str],
    /// Its identity column, whose sequence must continue after the copied ids (PostgreSQL).
    pub identity: Option<&'static str>,
}

/// Every table of the state, parents before the tables that refer to them.
pub const TABLES: &[Table] = &[
    Table {
        name: "subscribers",
        columns: &[
            "id",
            "email",
            "email_key",
            "name",
            "language",
            "sectors",
            "digest",
            "status",
            "consent",
            "created_at",
            "confirmed_at",
            "unsubscribed_at",
            "bounces",
            "last_cutoff",
            "link_email",
            "bounce_score",
            "last_bounce_at",
        ],
        identity: Some("id"),
    },
    Table {
        name: "digest_runs",
        columns: &["id", "digest", "cutoff", "started_at", "finished_at", "due_at"],
        identity: Some("id"),
    },
    Table {
        name: "deliveries",
        columns: &["run_id", "subscriber_id", "status", "attempts", "error", "done_at", "returned", "returned_at"],
        identity: None,
    },
    Table { name: "articles_seen", columns: &["lang", "slug", "first_seen"], identity: None },
    Table { name: "suppressed", columns: &["email_hash", "reason", "at"], identity: None },
    Table { name: "jobs", columns: &["job", "due_at", "started_at", "finished_at", "outcome"], identity: None },
    Table {
        name: "signups",
        columns: &[
            "id",
            "email",
            "email_key",
            "domain",
            "name",
            "language",
            "sectors",
            "digest",
            "consent",
            "created_at",
        ],
        identity: Some("id"),
    },
    Table {
        name: "returns",
        columns: &[
            "id",
            "fingerprint",
            "received_at",
            "kind",
            "subscriber_id",
            "run_id",
            "signup_id",
            "status",
            "diagnostic",
        ],
        identity: Some("id"),
    },
    Table {
        name: "websub_subscriptions",
        columns: &["id", "topic", "callback", "callback_host", "secret", "created_at", "expires_at"],
        identity: Some("id"),
    },
    Table {
        name: "websub_deliveries",
        columns: &["subscription_id", "version", "attempts", "first_at", "next_at", "last_error"],
        identity: None,
    },
    Table {
        name: "run_news",
        columns: &["run_id", "lang", "version_lang", "slug", "news_at", "is_fallback", "position"],
        identity: None,
    },
    Table { name: "allowances", columns: &["key", "used_to"], identity: None },
];

/// One value of a row, whichever database it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL's NULL.
    Null,
    /// An integer (SQLite's booleans are integers too).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// A boolean (PostgreSQL's).
    Bool(bool),
}

/// Rows copied, by table.
pub type Copied = Vec<(&'static str, u64)>;

/// Copies every row of `from` into `to`, which must hold nothing yet; returns the rows of each
/// table, counted again in both after the copy.
pub fn copy(from: &Database, to: &Database) -> Result<Copied> {
    let mut source = from.get()?;
    let mut target = to.get()?;
    for table in TABLES {
        let rows = target.count_rows(table)?;
        if rows > 0 {
            bail!(
                "{} already holds {rows} rows in {}: gazette copies only into an empty database",
                to.url(),
                table.name
            );
        }
    }
    target.import(TABLES, |load| source.export(TABLES, |table, row| load(table, row)))?;
    let mut copied = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let (there, here) = (source.count_rows(table)?, target.count_rows(table)?);
        // The source may have changed since its snapshot (a daemon still running on it).
        if here > there {
            bail!("{}: {here} rows copied but {there} in {}", table.name, from.url());
        }
        if here < there {
            bail!(
                "{}: {there} rows in {} but {here} copied (was gazette still running on it?)",
                table.name,
                from.url()
            );
        }
        copied.push((table.name, here));
    }
    Ok(copied)
}
