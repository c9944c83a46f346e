//! Subscribers, sign-ups waiting for confirmation, and the suppression list on PostgreSQL:
//! the reads the service and the command line make, and the writes of [`Tx`] the
//! subscription rules are made of.

use anyhow::Result;

use super::{Conn, Sql, Tx, count, sectors_column, signup, status, subscriber};
use crate::state::{Preferences, SignUp, Status, Subscriber};
use crate::state::{email_hash, suppression_hashes};
use crate::subscription::Address;

/// Rows a streamed read fetches at a time.
const FETCH: i32 = 1_000;

impl Conn {
    pub fn for_each_subscriber(&self, mut each: impl FnMut(Subscriber) -> Result<()>) -> Result<()> {
        // A portal in a read-only transaction: a list of any size is read a thousand rows at a
        // time, never held whole.
        let mut client = self.client.borrow_mut();
        let mut tx = client.build_transaction().read_only(true).start()?;
        let portal = tx.bind("SELECT * FROM subscribers ORDER BY id", &[])?;
        loop {
            let rows = tx.query_portal(&portal, FETCH)?;
            for row in &rows {
                each(subscriber(row)?)?;
            }
            if rows.len() < usize::try_from(FETCH).unwrap_or(0) {
                break;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn status_of(&self, id: i64) -> Result<Option<Status>> {
        let row = self.row("SELECT status FROM subscribers WHERE id = $1", &[&id])?;
        row.map(|r| status(r.try_get(0)?)).transpose()
    }

    pub fn subscriber(&self, address: &Address) -> Result<Option<Subscriber>> {
        subscriber_by_key(self, &address.key())
    }

    pub fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        subscriber_by_id(self, id)
    }

    pub fn signup(&self, id: i64) -> Result<Option<SignUp>> {
        signup_by_id(self, id)
    }

    pub fn count_by_status(&self) -> Result<Vec<(String, i64)>> {
        let rows = self.rows("SELECT status, COUNT(*) FROM subscribers GROUP BY status ORDER BY status", &[])?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    pub fn count_signups(&self) -> Result<i64> {
        Ok(self.one("SELECT COUNT(*) FROM signups", &[])?.try_get(0)?)
    }
}

impl Tx<'_> {
    pub fn subscriber_by_key(&self, key: &str) -> Result<Option<Subscriber>> {
        subscriber_by_key(self, key)
    }

    pub fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        subscriber_by_id(self, id)
    }

    pub fn add_subscriber(
        &self,
        address: &Address,
        preferences: &Preferences,
        status: Status,
        consent: &str,
        now: i64,
    ) -> Result<i64> {
        let confirmed_at = (status == Status::Confirmed).then_some(now);
        let row = self.one(
            "INSERT INTO subscribers (email, email_key, name, language, sectors, digest, status, consent,
                 created_at, confirmed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[
                &address.as_str(),
                &address.key(),
                &preferences.name,
                &preferences.language,
                &sectors_column(&preferences.sectors),
                &preferences.digest,
                &status.as_str(),
                &consent,
                &now,
                &confirmed_at,
            ],
        )?;
        Ok(row.try_get(0)?)
    }

    pub fn set_preferences(&self, id: i64, preferences: &Preferences) -> Result<()> {
        self.exec(
            "UPDATE subscribers SET name = $2, language = $3, sectors = $4, digest = $5 WHERE id = $1",
            &[
                &id,
                &preferences.name,
                &preferences.language,
                &sectors_column(&preferences.sectors),
                &preferences.digest,
            ],
        )?;
        Ok(())
    }

    pub fn mark_confirmed(&self, id: i64, consent: &str, now: i64) -> Result<()> {
        self.exec(
            "UPDATE subscribers SET status = 'confirmed', consent = $2, confirmed_at = $3, last_cutoff = $3,
                 unsubscribed_at = NULL, bounces = 0, bounce_score = 0, last_bounce_at = NULL WHERE id = $1",
            &[&id, &consent, &now],
        )?;
        Ok(())
    }

    pub fn mark_unsubscribed(&self, id: i64, now: i64) -> Result<()> {
        self.exec("UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = $2 WHERE id = $1", &[&id, &now])?;
        Ok(())
    }

    pub fn bounce_score(&self, id: i64) -> Result<Option<(f64, Option<i64>, Status)>> {
        let row = self.row("SELECT bounce_score, last_bounce_at, status FROM subscribers WHERE id = $1", &[&id])?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, status(r.try_get(2)?)?))).transpose()
    }

    pub fn set_bounce_score(&self, id: i64, score: f64, at: i64) -> Result<()> {
        self.exec("UPDATE subscribers SET bounce_score = $2, last_bounce_at = $3 WHERE id = $1", &[&id, &score, &at])?;
        Ok(())
    }

    pub fn mark_bounced(&self, id: i64) -> Result<()> {
        self.exec("UPDATE subscribers SET status = 'bounced' WHERE id = $1", &[&id])?;
        Ok(())
    }

    pub fn delete_subscriber(&self, id: i64) -> Result<()> {
        self.exec("DELETE FROM subscribers WHERE id = $1", &[&id])?;
        Ok(())
    }

    pub fn is_suppressed(&self, address: &Address) -> Result<bool> {
        for hash in suppression_hashes(address) {
            if self.row("SELECT 1 FROM suppressed WHERE email_hash = $1", &[&hash])?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn suppress_key(&self, key: &str, reason: &str, now: i64) -> Result<()> {
        self.exec(
            "INSERT INTO suppressed (email_hash, reason, at) VALUES ($1, $2, $3)
             ON CONFLICT (email_hash) DO UPDATE SET reason = EXCLUDED.reason, at = EXCLUDED.at",
            &[&email_hash(key), &reason, &now],
        )?;
        Ok(())
    }

    pub fn unsuppress(&self, address: &Address) -> Result<()> {
        for hash in suppression_hashes(address) {
            self.exec("DELETE FROM suppressed WHERE email_hash = $1", &[&hash])?;
        }
        Ok(())
    }

    pub fn add_signup(&self, address: &Address, preferences: &Preferences, consent: &str, now: i64) -> Result<SignUp> {
        let row = self.one(
            "INSERT INTO signups (email, email_key, domain, name, language, sectors, digest, consent, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &address.as_str(),
                &address.key(),
                &address.registrable_domain(),
                &preferences.name,
                &preferences.language,
                &sectors_column(&preferences.sectors),
                &preferences.digest,
                &consent,
                &now,
            ],
        )?;
        Ok(SignUp {
            id: row.try_get(0)?,
            email: address.as_str().to_owned(),
            preferences: preferences.clone(),
            consent: consent.to_owned(),
            created_at: now,
        })
    }

    pub fn signup(&self, id: i64) -> Result<Option<SignUp>> {
        signup_by_id(self, id)
    }

    pub fn delete_signup(&self, id: i64) -> Result<bool> {
        Ok(self.exec("DELETE FROM signups WHERE id = $1", &[&id])? > 0)
    }

    pub fn delete_signups_by_key(&self, key: &str) -> Result<usize> {
        Ok(count(self.exec("DELETE FROM signups WHERE email_key = $1", &[&key])?))
    }

    pub fn delete_signups_of_subscriber(&self, id: i64) -> Result<usize> {
        let sql = "DELETE FROM signups WHERE email_key = (SELECT email_key FROM subscribers WHERE id = $1)";
        Ok(count(self.exec(sql, &[&id])?))
    }

    pub fn count_signups(&self) -> Result<u64> {
        let n: i64 = self.one("SELECT COUNT(*) FROM signups", &[])?.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn signups_in_domain(&self, domain: &str) -> Result<u64> {
        let n: i64 = self.one("SELECT COUNT(*) FROM signups WHERE domain = $1", &[&domain])?.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn allowance(&self, key: &[u8]) -> Result<Option<i64>> {
        let row = self.row("SELECT used_to FROM allowances WHERE key = $1", &[&key])?;
        row.map(|r| Ok(r.try_get(0)?)).transpose()
    }

    pub fn set_allowance(&self, key: &[u8], used_to: i64) -> Result<()> {
        self.exec(
            "INSERT INTO allowances (key, used_to) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET used_to = $2",
            &[&key, &used_to],
        )?;
        Ok(())
    }

    pub fn forget_allowances(&self, now_ms: i64) -> Result<usize> {
        Ok(count(self.exec("DELETE FROM allowances WHERE used_to < $1", &[&now_ms])?))
    }

    pub fn delete_signups_before(&self, before: i64) -> Result<usize> {
        Ok(count(self.exec("DELETE FROM signups WHERE created_at < $1", &[&before])?))
    }
}

fn subscriber_by_key(db: &impl Sql, key: &str) -> Result<Option<Subscriber>> {
    db.row("SELECT * FROM subscribers WHERE email_key = $1", &[&key])?.map(|r| subscriber(&r)).transpose()
}

fn subscriber_by_id(db: &impl Sql, id: i64) -> Result<Option<Subscriber>> {
    db.row("SELECT * FROM subscribers WHERE id = $1", &[&id])?.map(|r| subscriber(&r)).transpose()
}

fn signup_by_id(db: &impl Sql, id: i64) -> Result<Option<SignUp>> {
    db.row("SELECT * FROM signups WHERE id = $1", &[&id])?.map(|r| signup(&r)).transpose()
}
