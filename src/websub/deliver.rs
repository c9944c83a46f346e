//! Content distribution (WebSub 7): every delivery due is sent as a `POST` of the topic's feed
//! as it is now, with its content type, the `Link` headers (hub and self) and, when the
//! subscription has a secret, `X-Hub-Signature: sha256=HMAC(secret, body)`. A 2xx answer
//! ends it; `410 Gone` ends the subscription; anything else is tried again after
//! `websub.retry_first`, doubling up to `websub.retry_max`, and given up once
//! `websub.give_up_after` has passed since the change. Leases that ended are deleted here.
//! Also the pings to external hubs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use hyper::http::{HeaderName, HeaderValue, Method, header};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::client::Client;
use super::{Hub, link_header, topic_url};
use crate::config::Config;
use crate::state::{Database, HubDelivery};

/// Deliveries taken at once.
const BATCH: usize = 64;
/// The longest sleep: leases are checked at least this often.
const IDLE: Duration = Duration::from_secs(30);

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Sends due deliveries until the hub stops.
pub async fn run(hub: Arc<Hub>) {
    loop {
        let config = hub.config();
        let wait = match round(&config, hub.db(), &hub.stop).await {
            Ok(Some(next)) => Duration::from_millis(u64::try_from(next - now_ms()).unwrap_or(0)).min(IDLE),
            Ok(None) => IDLE,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "websub deliveries");
                IDLE
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            () = hub.stop.cancelled() => return,
            () = hub.queued.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Expires leases, sends the deliveries due now (a batch at a time, all at once), records
/// each outcome; returns when there is work next, a delivery or a lease's end (milliseconds).
async fn round(config: &Arc<Config>, db: &Database, stop: &CancellationToken) -> Result<Option<i64>> {
    let now = now_ms();
    let expired = db.with(move |state| state.hub_expire(now / 1000)).await?;
    if expired > 0 {
        tracing::info!(count = expired, "websub leases ended");
    }
    let w = &config.websub;
    let client = Client::new(w.callback_timeout, w.callback_max_bytes, w.allow_private_callbacks)?;
    loop {
        let now = now_ms();
        // Claimed for long enough to send and record them; other instances leave them alone.
        let lease = i64::try_from(w.callback_timeout.as_millis()).unwrap_or(i64::MAX / 2).saturating_mul(2) + 30_000;
        let due = db.with(move |state| state.hub_claim(now, now.saturating_add(lease), BATCH)).await?;
        if due.is_empty() {
            return db.with(|state| state.hub_next_due()).await;
        }
        let sends = due.into_iter().map(|delivery| {
            let client = client.clone();
            async move {
                let outcome = send(config, &client, &delivery).await;
                (delivery, outcome)
            }
        });
        let outcomes = tokio::select! {
            () = stop.cancelled() => return Ok(None),
            outcomes = futures_util::future::join_all(sends) => outcomes,
        };
        for (delivery, outcome) in outcomes {
            record(config, db, delivery, outcome).await?;
        }
    }
}

/// The `X-Hub-Signature` value for `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> Result<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).context("cannot key HMAC-SHA256")?;
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    Ok(format!("sha256={}", tag.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// What became of one attempt.
enum Sent {
    Delivered,
    Gone,
    Failed(String),
}

async fn send(config: &Config, client: &Client, delivery: &HubDelivery) -> Sent {
    match try_send(config, client, delivery).await {
        Ok(status) if (200..300).contains(&status) => Sent::Delivered,
        Ok(410) => Sent::Gone,
        Ok(status) => Sent::Failed(format!("the callback answered {status}")),
        Err(e) => Sent::Failed(format!("{e:#}")),
    }
}

async fn try_send(config: &Config, client: &Client, delivery: &HubDelivery) -> Result<u16> {
    let topic = &delivery.subscription.topic;
    let body = Bytes::from(
        tokio::fs::read(config.feeds.dir.join(topic)).await.with_context(|| format!("cannot read the feed {topic}"))?,
    );
    let value = |text: String| HeaderValue::try_from(text).context("a header value that cannot be sent");
    let mut headers = vec![(header::CONTENT_TYPE, HeaderValue::from_static(crate::web::content_type_of(topic)))];
    if let Some(link) = link_header(config, topic) {
        headers.push((header::LINK, value(link)?));
    }
    if let Some(secret) = &delivery.subscription.secret {
        headers.push((HeaderName::from_static("x-hub-signature"), value(signature(secret, &body)?)?));
    }
    let callback = Url::parse(&delivery.subscription.callback).context("a stored callback that does not parse")?;
    Ok(client.send(Method::POST, &callback, &headers, body).await?.status)
}

/// The wait before attempt `attempts + 1`.
pub fn backoff(config: &Config, attempts: i64) -> Duration {
    let w = &config.websub;
    let doublings = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
    w.retry_first.saturating_mul(1 << doublings).min(w.retry_max)
}

async fn record(config: &Config, db: &Database, delivery: HubDelivery, sent: Sent) -> Result<()> {
    let now = now_ms();
    let host = Url::parse(&delivery.subscription.callback).ok().and_then(|u| u.host_str().map(str::to_owned));
    let host = host.unwrap_or_default();
    match sent {
        Sent::Delivered => {
            tracing::debug!(topic = delivery.subscription.topic, callback_host = host, "websub delivery sent");
            db.with(move |state| state.hub_delivered(&delivery, now)).await
        }
        Sent::Gone => {
            tracing::info!(callback_host = host, "the callback is gone: subscription ended");
            let (topic, callback) = (delivery.subscription.topic.clone(), delivery.subscription.callback.clone());
            db.with(move |state| state.hub_unsubscribe(&topic, &callback).map(drop)).await
        }
        Sent::Failed(error) => {
            let give_up_at = delivery
                .first_at
                .saturating_add(i64::try_from(config.websub.give_up_after.as_millis()).unwrap_or(i64::MAX));
            let next =
                now.saturating_add(i64::try_from(backoff(config, delivery.attempts).as_millis()).unwrap_or(i64::MAX));
            if next > give_up_at {
                tracing::warn!(
                    topic = delivery.subscription.topic,
                    callback_host = host,
                    attempts = delivery.attempts + 1,
                    error,
                    "websub delivery given up"
                );
                db.with(move |state| state.hub_give_up(&delivery)).await
            } else {
                tracing::info!(
                    topic = delivery.subscription.topic,
                    callback_host = host,
                    attempts = delivery.attempts + 1,
                    retry_in_ms = next - now,
                    error,
                    "websub delivery failed; will retry"
                );
                db.with(move |state| state.hub_retry(&delivery, next, &error)).await
            }
        }
    }
}

/// Tells each external hub that `topics` changed (`hub.mode=publish`, one `hub.url` each, as
/// hubs of the PubSubHubbub lineage take it). Hubs are the operator's own choice, so the
/// address policy for strangers' callbacks does not apply; a failure is logged.
pub async fn ping_hubs(config: Arc<Config>, topics: Vec<String>, stop: CancellationToken) {
    let w = &config.websub;
    let Ok(client) = Client::new(w.callback_timeout, w.callback_max_bytes, true) else { return };
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("hub.mode", "publish");
        for topic in &topics {
            form.append_pair("hub.url", &topic_url(&config, topic));
        }
        Bytes::from(form.finish())
    };
    let headers = [(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"))];
    for hub in &w.hubs {
        let sent = tokio::select! {
            () = stop.cancelled() => return,
            sent = client.send(Method::POST, hub, &headers, body.clone()) => sent,
        };
        match sent {
            Ok(answer) if answer.is_success() => tracing::debug!(hub = %hub, "hub pinged"),
            Ok(answer) => tracing::warn!(hub = %hub, status = answer.status, "the hub refused the ping"),
            Err(e) => tracing::warn!(hub = %hub, error = format!("{e:#}"), "cannot ping the hub"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn signatures_are_hmac_sha256_in_hex_and_waits_double_to_the_cap() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?").unwrap(),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let text =
            format!("{}\n[websub]\nretry_first = \"10s\"\nretry_max = \"1m\"", include_str!("../../config.toml"));
        let config = Config::parse(&text, Path::new("/srv/config.toml")).unwrap();
        let waits: Vec<u64> = (0..5).map(|a| backoff(&config, a).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60]);
    }
}
