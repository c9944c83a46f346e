//! The WebSub hub's rows on PostgreSQL: subscriptions with their leases and the deliveries
//! waiting for their callback.

use anyhow::Result;
use postgres::Row;

use super::{Conn, Sql, count, limit};
use crate::state::{HubDelivery, HubLimits, HubRefusal, HubSubscription};

fn hub_subscription(row: &Row) -> Result<HubSubscription> {
    Ok(HubSubscription {
        id: row.try_get("id")?,
        topic: row.try_get("topic")?,
        callback: row.try_get("callback")?,
        secret: row.try_get("secret")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn refusal(
    db: &impl Sql,
    topic: &str,
    callback: &str,
    host: &str,
    limits: HubLimits,
    now: i64,
) -> Result<Option<HubRefusal>> {
    limits.refusal(
        || {
            let sql =
                "SELECT COUNT(*) FROM websub_subscriptions WHERE topic = $1 AND callback <> $2 AND expires_at > $3";
            Ok(db.one(sql, &[&topic, &callback, &now])?.try_get(0)?)
        },
        || {
            let sql = "SELECT COUNT(*) FROM websub_subscriptions WHERE callback_host = $1 AND expires_at > $3
                       AND NOT (callback = $2 AND topic = $4)";
            Ok(db.one(sql, &[&host, &callback, &now, &topic])?.try_get(0)?)
        },
    )
}

impl Conn {
    pub fn hub_refusal(
        &self,
        topic: &str,
        callback: &str,
        host: &str,
        limits: HubLimits,
        now: i64,
    ) -> Result<Option<HubRefusal>> {
        refusal(self, topic, callback, host, limits, now)
    }

    pub fn hub_activate(
        &mut self,
        sub: &HubSubscription,
        host: &str,
        limits: HubLimits,
        now: i64,
    ) -> Result<Option<HubRefusal>> {
        let tx = self.transaction()?;
        let refused = refusal(&tx, &sub.topic, &sub.callback, host, limits, now)?;
        if refused.is_none() {
            tx.exec(
                "INSERT INTO websub_subscriptions (topic, callback, callback_host, secret, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (topic, callback) DO UPDATE SET secret = $4, callback_host = $3, expires_at = $6",
                &[&sub.topic, &sub.callback, &host, &sub.secret, &now, &sub.expires_at],
            )?;
        }
        tx.tx.into_inner().commit()?;
        Ok(refused)
    }

    pub fn hub_unsubscribe(&mut self, topic: &str, callback: &str) -> Result<bool> {
        let n =
            self.exec("DELETE FROM websub_subscriptions WHERE topic = $1 AND callback = $2", &[&topic, &callback])?;
        Ok(n > 0)
    }

    pub fn hub_subscription(&self, topic: &str, callback: &str, now: i64) -> Result<Option<HubSubscription>> {
        let row = self.row(
            "SELECT * FROM websub_subscriptions WHERE topic = $1 AND callback = $2 AND expires_at > $3",
            &[&topic, &callback, &now],
        )?;
        row.map(|r| hub_subscription(&r)).transpose()
    }

    pub fn hub_enqueue(&mut self, topics: &[String], now_ms: i64) -> Result<usize> {
        let tx = self.transaction()?;
        let mut queued = 0;
        for topic in topics {
            queued += tx.exec(
                "INSERT INTO websub_deliveries (subscription_id, version, attempts, first_at, next_at)
                 SELECT id, 1, 0, $2, $2 FROM websub_subscriptions WHERE topic = $1 AND expires_at * 1000 > $2
                 ON CONFLICT (subscription_id) DO UPDATE SET version = websub_deliveries.version + 1",
                &[topic, &now_ms],
            )?;
        }
        tx.tx.into_inner().commit()?;
        Ok(count(queued))
    }

    pub fn hub_claim(&mut self, now_ms: i64, lease_until_ms: i64, max: usize) -> Result<Vec<HubDelivery>> {
        // One statement: what other instances are claiming this moment is skipped.
        let rows = self.rows(
            "WITH picked AS (
                 SELECT d.subscription_id FROM websub_deliveries d
                 JOIN websub_subscriptions s ON s.id = d.subscription_id
                 WHERE d.next_at <= $1 AND s.expires_at * 1000 > $1 ORDER BY d.next_at LIMIT $3
                 FOR UPDATE OF d SKIP LOCKED
             ), claimed AS (
                 UPDATE websub_deliveries d SET next_at = $2 FROM picked p
                 WHERE d.subscription_id = p.subscription_id RETURNING d.subscription_id, d.version, d.attempts, d.first_at
             )
             SELECT s.*, c.version, c.attempts, c.first_at FROM claimed c
             JOIN websub_subscriptions s ON s.id = c.subscription_id",
            &[&now_ms, &lease_until_ms, &limit(max)],
        )?;
        rows.iter()
            .map(|row| {
                Ok(HubDelivery {
                    subscription: hub_subscription(row)?,
                    version: row.try_get("version")?,
                    attempts: row.try_get("attempts")?,
                    first_at: row.try_get("first_at")?,
                })
            })
            .collect()
    }

    pub fn hub_next_due(&self) -> Result<Option<i64>> {
        let row = self.one(
            "SELECT MIN(t) FROM (SELECT MIN(next_at) AS t FROM websub_deliveries
             UNION ALL SELECT MIN(expires_at) * 1000 FROM websub_subscriptions) AS soonest",
            &[],
        )?;
        Ok(row.try_get(0)?)
    }

    pub fn hub_delivered(&mut self, delivery: &HubDelivery, now_ms: i64) -> Result<()> {
        let id = delivery.subscription.id;
        let tx = self.transaction()?;
        tx.exec(
            "DELETE FROM websub_deliveries WHERE subscription_id = $1 AND version = $2",
            &[&id, &delivery.version],
        )?;
        tx.exec(
            "UPDATE websub_deliveries SET attempts = 0, first_at = $2, next_at = $2, last_error = NULL
             WHERE subscription_id = $1",
            &[&id, &now_ms],
        )?;
        tx.tx.into_inner().commit()?;
        Ok(())
    }

    pub fn hub_retry(&mut self, delivery: &HubDelivery, next_ms: i64, error: &str) -> Result<()> {
        self.exec(
            "UPDATE websub_deliveries SET attempts = attempts + 1, next_at = $2, last_error = $3
             WHERE subscription_id = $1",
            &[&delivery.subscription.id, &next_ms, &error],
        )?;
        Ok(())
    }

    pub fn hub_give_up(&mut self, delivery: &HubDelivery) -> Result<()> {
        self.exec("DELETE FROM websub_deliveries WHERE subscription_id = $1", &[&delivery.subscription.id])?;
        Ok(())
    }

    pub fn hub_expire(&mut self, now: i64) -> Result<usize> {
        Ok(count(self.exec("DELETE FROM websub_subscriptions WHERE expires_at <= $1", &[&now])?))
    }
}
