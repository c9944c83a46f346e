//! The WebSub hub's rows: subscriptions (topic, callback, secret, lease) and the deliveries
//! waiting for their callback, one per subscription, so that they survive a restart. What a
//! lease is, when to retry and when to give up is [`crate::websub`]'s.

use anyhow::Result;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Conn;
use crate::state::{HubDelivery, HubLimits, HubRefusal, HubSubscription};

fn hub_subscription(row: &Row) -> rusqlite::Result<HubSubscription> {
    Ok(HubSubscription {
        id: row.get("id")?,
        topic: row.get("topic")?,
        callback: row.get("callback")?,
        secret: row.get("secret")?,
        expires_at: row.get("expires_at")?,
    })
}

/// Whether a subscription of `callback` (on `host`) to `topic` would exceed `limits` among
/// the subscriptions live at `now` (renewing one's own never does).
fn refusal(
    conn: &Connection,
    topic: &str,
    callback: &str,
    host: &str,
    limits: HubLimits,
    now: i64,
) -> Result<Option<HubRefusal>> {
    limits.refusal(
        || {
            let sql =
                "SELECT COUNT(*) FROM websub_subscriptions WHERE topic = ?1 AND callback <> ?2 AND expires_at > ?3";
            Ok(conn.prepare_cached(sql)?.query_row(params![topic, callback, now], |r| r.get(0))?)
        },
        || {
            let sql = "SELECT COUNT(*) FROM websub_subscriptions WHERE callback_host = ?1 AND expires_at > ?3
                       AND NOT (callback = ?2 AND topic = ?4)";
            Ok(conn.prepare_cached(sql)?.query_row(params![host, callback, now, topic], |r| r.get(0))?)
        },
    )
}

impl Conn {
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
        refusal(&self.conn, topic, callback, host, limits, now)
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
        let tx = self.conn.transaction()?;
        let refused = refusal(&tx, &sub.topic, &sub.callback, host, limits, now)?;
        if refused.is_none() {
            tx.execute(
                "INSERT INTO websub_subscriptions (topic, callback, callback_host, secret, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (topic, callback) DO UPDATE SET secret = ?4, callback_host = ?3, expires_at = ?6",
                params![sub.topic, sub.callback, host, sub.secret, now, sub.expires_at],
            )?;
        }
        tx.commit()?;
        Ok(refused)
    }

    /// Ends the subscription of `callback` to `topic` (and its waiting delivery); whether
    /// there was one.
    pub fn hub_unsubscribe(&mut self, topic: &str, callback: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM websub_subscriptions WHERE topic = ?1 AND callback = ?2")?
            .execute(params![topic, callback])?;
        Ok(n > 0)
    }

    /// The live subscription of `callback` to `topic`, if any.
    pub fn hub_subscription(&self, topic: &str, callback: &str, now: i64) -> Result<Option<HubSubscription>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT * FROM websub_subscriptions WHERE topic = ?1 AND callback = ?2 AND expires_at > ?3",
        )?;
        Ok(stmt.query_row(params![topic, callback, now], hub_subscription).optional()?)
    }

    /// Queues a delivery, due at `now_ms`, for every live subscription to one of `topics`. A
    /// subscription with one waiting already keeps it (it sends the feed as it is when it
    /// goes) under a new version, so one being sent meanwhile is sent again; one waiting for
    /// a retry keeps its wait.
    pub fn hub_enqueue(&mut self, topics: &[String], now_ms: i64) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut queued = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO websub_deliveries (subscription_id, version, attempts, first_at, next_at)
                 SELECT id, 1, 0, ?2, ?2 FROM websub_subscriptions WHERE topic = ?1 AND expires_at * 1000 > ?2
                 ON CONFLICT (subscription_id) DO UPDATE SET version = version + 1",
            )?;
            for topic in topics {
                queued += stmt.execute(params![topic, now_ms])?;
            }
        }
        tx.commit()?;
        Ok(queued)
    }

    /// Claims up to `limit` deliveries due at `now_ms` whose subscription is live, soonest
    /// first, by moving them to `lease_until_ms`: one that is not recorded by then (its sender
    /// died) is due again.
    pub fn hub_claim(&mut self, now_ms: i64, lease_until_ms: i64, limit: usize) -> Result<Vec<HubDelivery>> {
        let tx = self.conn.transaction()?;
        let claimed = {
            let ids = tx
                .prepare_cached(
                    "UPDATE websub_deliveries SET next_at = ?2 WHERE subscription_id IN (
                         SELECT d.subscription_id FROM websub_deliveries d
                         JOIN websub_subscriptions s ON s.id = d.subscription_id
                         WHERE d.next_at <= ?1 AND s.expires_at * 1000 > ?1 ORDER BY d.next_at LIMIT ?3)
                     RETURNING subscription_id",
                )?
                .query_map(params![now_ms, lease_until_ms, limit as i64], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut stmt = tx.prepare_cached(
                "SELECT s.*, d.version, d.attempts, d.first_at FROM websub_deliveries d
                 JOIN websub_subscriptions s ON s.id = d.subscription_id WHERE d.subscription_id = ?1",
            )?;
            ids.iter()
                .map(|id| {
                    stmt.query_row([id], |row| {
                        Ok(HubDelivery {
                            subscription: hub_subscription(row)?,
                            version: row.get("version")?,
                            attempts: row.get("attempts")?,
                            first_at: row.get("first_at")?,
                        })
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.commit()?;
        Ok(claimed)
    }

    /// When the hub has work next (milliseconds): a waiting delivery due, or a lease ending.
    pub fn hub_next_due(&self) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MIN(t) FROM (SELECT MIN(next_at) AS t FROM websub_deliveries
             UNION ALL SELECT MIN(expires_at) * 1000 FROM websub_subscriptions)",
            [],
            |r| r.get(0),
        )?)
    }

    /// Records that `delivery` reached its callback at `now_ms`: done, unless a newer change
    /// came meanwhile, which then goes at once.
    pub fn hub_delivered(&mut self, delivery: &HubDelivery, now_ms: i64) -> Result<()> {
        let id = delivery.subscription.id;
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM websub_deliveries WHERE subscription_id = ?1 AND version = ?2",
            params![id, delivery.version],
        )?;
        tx.execute(
            "UPDATE websub_deliveries SET attempts = 0, first_at = ?2, next_at = ?2, last_error = NULL
             WHERE subscription_id = ?1",
            params![id, now_ms],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed attempt of `delivery`: tried again at `next_ms`.
    pub fn hub_retry(&mut self, delivery: &HubDelivery, next_ms: i64, error: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE websub_deliveries SET attempts = attempts + 1, next_at = ?2, last_error = ?3
                 WHERE subscription_id = ?1",
            )?
            .execute(params![delivery.subscription.id, next_ms, error])?;
        Ok(())
    }

    /// Drops the waiting delivery of `delivery`'s subscription (given up).
    pub fn hub_give_up(&mut self, delivery: &HubDelivery) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM websub_deliveries WHERE subscription_id = ?1")?
            .execute([delivery.subscription.id])?;
        Ok(())
    }

    /// Deletes the subscriptions whose lease ended by `now` (and their deliveries); how many.
    pub fn hub_expire(&mut self, now: i64) -> Result<usize> {
        Ok(self.conn.prepare_cached("DELETE FROM websub_subscriptions WHERE expires_at <= ?1")?.execute([now])?)
    }
}
