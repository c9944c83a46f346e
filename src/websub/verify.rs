//! Validation and verification of intent (WebSub 5.2, 5.3): the topic must be one of
//! gazette's feeds and the limits leave room, else the callback is told `hub.mode=denied`;
//! then the callback gets a `GET` with a fresh `hub.challenge` and must answer 2xx with exactly
//! that challenge before the subscription is stored (or removed). Runs after the request was
//! answered; a callback the address policy refuses is never called.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Result;
use hyper::http::Method;
use url::Url;

use super::client::Client;
use super::hub::{Intent, Mode};
use super::{Hub, limits, topic_of};
use crate::config::Config;
use crate::state::{Database, HubSubscription};

/// Verifies `intent` and acts on it; logs the outcome, never the secret or the whole callback.
pub async fn verify(hub: Arc<Hub>, intent: Intent) {
    let _waiting = Waiting(&hub);
    let Ok(_permit) = (tokio::select! {
        () = hub.stop.cancelled() => return,
        permit = hub.verifying.acquire() => permit,
    }) else {
        return;
    };
    let config = hub.config();
    let host = intent.callback.host_str().unwrap_or_default().to_owned();
    let outcome = tokio::select! {
        () = hub.stop.cancelled() => return,
        outcome = settle(&config, hub.db(), &intent, &host, chrono::Utc::now().timestamp()) => outcome,
    };
    // A new lease may end before the deliverer would next wake: let it look again.
    hub.queued.notify_one();
    match outcome {
        Ok(what) => tracing::info!(mode = intent.mode.as_str(), callback_host = host, outcome = what, "hub request"),
        Err(e) => tracing::info!(
            mode = intent.mode.as_str(),
            callback_host = host,
            error = format!("{e:#}"),
            "hub request not verified"
        ),
    }
}

/// Counts a verification as waiting until it ends.
struct Waiting<'a>(&'a Hub);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn settle(config: &Config, db: &Database, intent: &Intent, host: &str, now: i64) -> Result<&'static str> {
    let w = &config.websub;
    let client = Client::new(w.callback_timeout, w.callback_max_bytes, w.allow_private_callbacks)?;
    let Some(topic) = topic_of(config, &intent.topic) else {
        deny(&client, intent, "the topic is not a feed of this hub").await;
        return Ok("denied: not a topic of this hub");
    };
    let callback = intent.callback.as_str().to_owned();
    let lease = w.lease_for(intent.lease_seconds);
    if intent.mode == Mode::Subscribe {
        let refusal = db
            .with({
                let (topic, callback, host) = (topic.clone(), callback.clone(), host.to_owned());
                let limits = limits(config);
                move |state| state.hub_refusal(&topic, &callback, &host, limits, now)
            })
            .await?;
        if let Some(refusal) = refusal {
            deny(&client, intent, refusal.reason()).await;
            return Ok("denied: over a limit");
        }
    }
    let challenge = challenge()?;
    let mut url = intent.callback.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("hub.mode", intent.mode.as_str()).append_pair("hub.topic", &intent.topic);
        query.append_pair("hub.challenge", &challenge);
        if intent.mode == Mode::Subscribe {
            query.append_pair("hub.lease_seconds", &lease.as_secs().to_string());
        }
    }
    let answer = client.send(Method::GET, &url, &[], bytes::Bytes::new()).await?;
    if !answer.is_success() {
        anyhow::bail!("the callback answered {}", answer.status);
    }
    if answer.body != challenge.as_bytes() {
        anyhow::bail!("the callback did not echo the challenge");
    }
    match intent.mode {
        Mode::Subscribe => {
            let expires_at = now.saturating_add(i64::try_from(lease.as_secs()).unwrap_or(i64::MAX));
            let subscription = HubSubscription { id: 0, topic, callback, secret: intent.secret.clone(), expires_at };
            let limits = limits(config);
            let host = host.to_owned();
            let refused = db.with(move |state| state.hub_activate(&subscription, &host, limits, now)).await?;
            Ok(if refused.is_some() { "refused: over a limit" } else { "subscribed" })
        }
        Mode::Unsubscribe => {
            let removed = db.with(move |state| state.hub_unsubscribe(&topic, &callback)).await?;
            Ok(if removed { "unsubscribed" } else { "unsubscribed: was not subscribed" })
        }
    }
}

/// Tells the callback the hub refuses the subscription (WebSub 5.2). The address policy
/// applies here too; failures are only logged.
async fn deny(client: &Client, intent: &Intent, reason: &str) {
    let mut url: Url = intent.callback.clone();
    url.query_pairs_mut()
        .append_pair("hub.mode", "denied")
        .append_pair("hub.topic", &intent.topic)
        .append_pair("hub.reason", reason);
    if let Err(e) = client.send(Method::GET, &url, &[], bytes::Bytes::new()).await {
        tracing::debug!(error = format!("{e:#}"), "the denial did not reach the callback");
    }
}

/// 128 random bits, as hex.
fn challenge() -> Result<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("cannot get random bytes: {e}"))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}
