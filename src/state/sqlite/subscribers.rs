//! Subscribers, sign-ups waiting for confirmation, and the suppression list: the reads the
//! service and the command line make, and [`Tx`], the writes the subscription rules
//! ([`crate::subscription`]) are made of. Nothing here decides who may do what.

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Conn, sectors_column, signup, subscriber};
use crate::state::{Preferences, SignUp, Status, Subscriber};
use crate::state::{email_hash, suppression_hashes};
use crate::subscription::Address;

impl Conn {
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

    /// The current status of subscriber `id`; `None` once removed.
    pub fn status_of(&self, id: i64) -> Result<Option<Status>> {
        let mut stmt = self.conn.prepare_cached("SELECT status FROM subscribers WHERE id = ?1")?;
        let status: Option<String> = stmt.query_row([id], |r| r.get(0)).optional()?;
        status.map(|s| s.parse::<Status>().map_err(anyhow::Error::msg)).transpose()
    }

    /// The subscriber with this address, if any.
    pub fn subscriber(&self, address: &Address) -> Result<Option<Subscriber>> {
        subscriber_by_key(&self.conn, &address.key())
    }

    /// The subscriber with row id `id`, if any.
    pub fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        subscriber_by_id(&self.conn, id)
    }

    /// The sign-up with row id `id`, if it still waits.
    pub fn signup(&self, id: i64) -> Result<Option<SignUp>> {
        signup_by_id(&self.conn, id)
    }

    /// Subscribers of each status (for the metrics).
    pub fn count_by_status(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT status, COUNT(*) FROM subscribers GROUP BY status ORDER BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Sign-ups waiting for confirmation (for the metrics).
    pub fn count_signups(&self) -> Result<i64> {
        Ok(self.conn.prepare_cached("SELECT COUNT(*) FROM signups")?.query_row([], |r| r.get(0))?)
    }
}

/// One write transaction over subscribers, sign-ups and the suppression list (see
/// [`Conn::write`]).
pub struct Tx<'a> {
    pub(super) tx: Transaction<'a>,
}

impl<'a> Tx<'a> {
    pub(super) fn new(tx: Transaction<'a>) -> Tx<'a> {
        Tx { tx }
    }

    pub(super) fn commit(self) -> rusqlite::Result<()> {
        self.tx.commit()
    }

    /// The subscriber stored under `key` (see [`Address::key`]), if any.
    pub fn subscriber_by_key(&self, key: &str) -> Result<Option<Subscriber>> {
        subscriber_by_key(&self.tx, key)
    }

    /// The subscriber with row id `id`, if any.
    pub fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        subscriber_by_id(&self.tx, id)
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
        let confirmed_at = (status == Status::Confirmed).then_some(now);
        self.tx
            .prepare_cached(
                "INSERT INTO subscribers (email, email_key, name, language, sectors, digest, status, consent,
                     created_at, confirmed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                address.as_str(),
                address.key(),
                preferences.name,
                preferences.language,
                sectors_column(&preferences.sectors),
                preferences.digest,
                status.as_str(),
                consent,
                now,
                confirmed_at
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Replaces subscriber `id`'s preferences, name included.
    pub fn set_preferences(&self, id: i64, preferences: &Preferences) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE subscribers SET name = ?2, language = ?3, sectors = ?4, digest = ?5 WHERE id = ?1")?
            .execute(params![
                id,
                preferences.name,
                preferences.language,
                sectors_column(&preferences.sectors),
                preferences.digest
            ])?;
        Ok(())
    }

    /// Marks subscriber `id` confirmed from `now` on, with consent from `consent`: their next
    /// digest starts now, their bounce count starts again.
    pub fn mark_confirmed(&self, id: i64, consent: &str, now: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE subscribers SET status = 'confirmed', consent = ?2, confirmed_at = ?3, last_cutoff = ?3,
                     unsubscribed_at = NULL, bounces = 0, bounce_score = 0, last_bounce_at = NULL WHERE id = ?1",
            )?
            .execute(params![id, consent, now])?;
        Ok(())
    }

    /// Marks subscriber `id` unsubscribed at `now`.
    pub fn mark_unsubscribed(&self, id: i64, now: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        Ok(())
    }

    /// Subscriber `id`'s bounce score, when it was last raised, and their status.
    pub fn bounce_score(&self, id: i64) -> Result<Option<(f64, Option<i64>, Status)>> {
        let mut stmt =
            self.tx.prepare_cached("SELECT bounce_score, last_bounce_at, status FROM subscribers WHERE id = ?1")?;
        let row: Option<(f64, Option<i64>, String)> =
            stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
        row.map(|(score, at, status)| Ok((score, at, status.parse::<Status>().map_err(anyhow::Error::msg)?)))
            .transpose()
    }

    /// Sets subscriber `id`'s bounce score, raised at `at`.
    pub fn set_bounce_score(&self, id: i64, score: f64, at: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE subscribers SET bounce_score = ?2, last_bounce_at = ?3 WHERE id = ?1")?
            .execute(params![id, score, at])?;
        Ok(())
    }

    /// Marks subscriber `id` bounced: they get nothing from now on.
    pub fn mark_bounced(&self, id: i64) -> Result<()> {
        self.tx.prepare_cached("UPDATE subscribers SET status = 'bounced' WHERE id = ?1")?.execute([id])?;
        Ok(())
    }

    /// Deletes subscriber `id` and their deliveries.
    pub fn delete_subscriber(&self, id: i64) -> Result<()> {
        self.tx.prepare_cached("DELETE FROM subscribers WHERE id = ?1")?.execute([id])?;
        Ok(())
    }

    /// Whether the address was removed and is kept off lists.
    pub fn is_suppressed(&self, address: &Address) -> Result<bool> {
        let mut stmt = self.tx.prepare_cached("SELECT 1 FROM suppressed WHERE email_hash = ?1")?;
        for hash in suppression_hashes(address) {
            if stmt.exists([hash])? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Puts the address stored under `key` (as a hash) on the suppression list with `reason`.
    pub fn suppress_key(&self, key: &str, reason: &str, now: i64) -> Result<()> {
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO suppressed (email_hash, reason, at) VALUES (?1, ?2, ?3)")?
            .execute(params![email_hash(key), reason, now])?;
        Ok(())
    }

    /// Takes the address off the suppression list.
    pub fn unsuppress(&self, address: &Address) -> Result<()> {
        let mut stmt = self.tx.prepare_cached("DELETE FROM suppressed WHERE email_hash = ?1")?;
        for hash in suppression_hashes(address) {
            stmt.execute([hash])?;
        }
        Ok(())
    }

    /// Stores a sign-up waiting for confirmation and returns it.
    pub fn add_signup(&self, address: &Address, preferences: &Preferences, consent: &str, now: i64) -> Result<SignUp> {
        self.tx
            .prepare_cached(
                "INSERT INTO signups (email, email_key, domain, name, language, sectors, digest, consent, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                address.as_str(),
                address.key(),
                address.registrable_domain(),
                preferences.name,
                preferences.language,
                sectors_column(&preferences.sectors),
                preferences.digest,
                consent,
                now
            ])?;
        Ok(SignUp {
            id: self.tx.last_insert_rowid(),
            email: address.as_str().to_owned(),
            preferences: preferences.clone(),
            consent: consent.to_owned(),
            created_at: now,
        })
    }

    /// The sign-up with row id `id`, if it still waits.
    pub fn signup(&self, id: i64) -> Result<Option<SignUp>> {
        signup_by_id(&self.tx, id)
    }

    /// Deletes sign-up `id`; returns whether there was one.
    pub fn delete_signup(&self, id: i64) -> Result<bool> {
        Ok(self.tx.prepare_cached("DELETE FROM signups WHERE id = ?1")?.execute([id])? > 0)
    }

    /// Deletes every sign-up stored under `key`; returns how many there were.
    pub fn delete_signups_by_key(&self, key: &str) -> Result<usize> {
        Ok(self.tx.prepare_cached("DELETE FROM signups WHERE email_key = ?1")?.execute([key])?)
    }

    /// Deletes every sign-up of subscriber `id`'s address, found by the key it is stored under.
    pub fn delete_signups_of_subscriber(&self, id: i64) -> Result<usize> {
        Ok(self
            .tx
            .prepare_cached("DELETE FROM signups WHERE email_key = (SELECT email_key FROM subscribers WHERE id = ?1)")?
            .execute([id])?)
    }

    /// How many sign-ups wait in all.
    pub fn count_signups(&self) -> Result<u64> {
        let n: i64 = self.tx.prepare_cached("SELECT COUNT(*) FROM signups")?.query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// How many sign-ups wait in `domain` (a registrable domain).
    pub fn signups_in_domain(&self, domain: &str) -> Result<u64> {
        let n: i64 = self
            .tx
            .prepare_cached("SELECT COUNT(*) FROM signups WHERE domain = ?1")?
            .query_row([domain], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The moment the allowance of (hashed) `key` is used up to, if it was used.
    pub fn allowance(&self, key: &[u8]) -> Result<Option<i64>> {
        let mut stmt = self.tx.prepare_cached("SELECT used_to FROM allowances WHERE key = ?1")?;
        Ok(stmt.query_row([key], |r| r.get(0)).optional()?)
    }

    /// Sets the moment the allowance of `key` is used up to.
    pub fn set_allowance(&self, key: &[u8], used_to: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO allowances (key, used_to) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET used_to = ?2",
            )?
            .execute(params![key, used_to])?;
        Ok(())
    }

    /// Forgets the allowances used up to before `now_ms` (they are whole again); how many.
    pub fn forget_allowances(&self, now_ms: i64) -> Result<usize> {
        Ok(self.tx.prepare_cached("DELETE FROM allowances WHERE used_to < ?1")?.execute([now_ms])?)
    }

    /// Deletes sign-ups made before `before`; returns how many.
    pub fn delete_signups_before(&self, before: i64) -> Result<usize> {
        Ok(self.tx.prepare_cached("DELETE FROM signups WHERE created_at < ?1")?.execute([before])?)
    }
}

// The lookups both a plain connection and a transaction make (a transaction derefs to one).

fn subscriber_by_key(conn: &Connection, key: &str) -> Result<Option<Subscriber>> {
    let mut stmt = conn.prepare_cached("SELECT * FROM subscribers WHERE email_key = ?1")?;
    Ok(stmt.query_row([key], subscriber).optional()?)
}

fn subscriber_by_id(conn: &Connection, id: i64) -> Result<Option<Subscriber>> {
    let mut stmt = conn.prepare_cached("SELECT * FROM subscribers WHERE id = ?1")?;
    Ok(stmt.query_row([id], subscriber).optional()?)
}

fn signup_by_id(conn: &Connection, id: i64) -> Result<Option<SignUp>> {
    let mut stmt = conn.prepare_cached("SELECT * FROM signups WHERE id = ?1")?;
    Ok(stmt.query_row([id], signup).optional()?)
}
