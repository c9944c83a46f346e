//! gazette's WebSub hub (W3C WebSub Recommendation, 2018, the hub's side towards subscribers)
//! and the pings to external hubs. Topics are gazette's own feeds, `{base}/feeds/{path}`.
//!
//! - [`hub`]: `POST /websub`, subscribe and unsubscribe requests, answered 202 at once.
//! - [`verify`]: verification of intent (`hub.challenge`), then the subscription is stored.
//! - [`deliver`]: after a build that changed a topic, its new body to every subscriber, signed,
//!   retried with backoff, given up after `websub.give_up_after`; leases expire.
//! - [`guard`]: which callback addresses may be called; [`client`]: the HTTP client that keeps
//!   to it at connect time.

pub mod client;
pub mod deliver;
pub mod guard;
pub mod hub;
pub mod verify;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use anyhow::Result;
use governor::DefaultKeyedRateLimiter;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::feeds::model;
use crate::live::Live;
use crate::state::HubLimits;

/// The feed files a subscriber may subscribe to, relative to the feed folder.
const FORMATS: [&str; 3] = ["atom.xml", "rss.xml", "feed.json"];
/// Verifications running at once at most.
const VERIFYING: usize = 16;
/// Verifications waiting at most; more requests get 503.
const WAITING: usize = 1024;

/// The hub of one daemon: shared by the request handler, the verifiers and the deliverer.
pub struct Hub {
    live: Arc<Live>,
    requests: DefaultKeyedRateLimiter<IpAddr>,
    verifying: Semaphore,
    waiting: AtomicUsize,
    /// Wakes the deliverer: something was queued.
    pub queued: Notify,
    /// Verifications in flight (waited for at shutdown).
    pub tasks: TaskTracker,
    stop: CancellationToken,
}

impl Hub {
    /// The hub serving `live`'s feeds until `stop`.
    pub fn new(live: Arc<Live>, stop: CancellationToken) -> Arc<Hub> {
        let per_minute = live.site.load().config.websub.requests_per_minute;
        let quota = governor::Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Arc::new(Hub {
            live,
            requests: DefaultKeyedRateLimiter::keyed(quota),
            verifying: Semaphore::new(VERIFYING),
            waiting: AtomicUsize::new(0),
            queued: Notify::new(),
            tasks: TaskTracker::new(),
            stop,
        })
    }

    /// Forgets rate-limit entries of clients back to a full allowance.
    pub fn forget_idle_clients(&self) {
        self.requests.retain_recent();
    }

    fn config(&self) -> Arc<Config> {
        self.live.site.load().config.clone()
    }

    fn db(&self) -> &crate::state::Database {
        &self.live.db
    }
}

/// The subscription limits `config` sets.
fn limits(config: &Config) -> HubLimits {
    HubLimits { per_topic: config.websub.per_topic, per_callback_host: config.websub.per_callback_host }
}

/// Every topic of `config`, relative to the feed folder (`en/atom.xml`, `en/trade/rss.xml`).
pub fn topics(config: &Config) -> Vec<String> {
    model::plan(config).iter().flat_map(|spec| FORMATS.map(|file| format!("{}/{file}", spec.dir()))).collect()
}

/// The topic `url` names, if it is one of gazette's feeds.
pub fn topic_of(config: &Config, url: &str) -> Option<String> {
    let rel = url.strip_prefix(&config.site.base_url)?.strip_prefix("/feeds/")?;
    topics(config).into_iter().find(|t| t == rel)
}

/// The URL of topic `rel`.
pub fn topic_url(config: &Config, rel: &str) -> String {
    format!("{}/feeds/{rel}", config.site.base_url)
}

/// The `Link` header a topic is served and delivered with (WebSub 4): each hub, then `self`;
/// `None` for a file that is not a topic.
pub fn link_header(config: &Config, rel: &str) -> Option<String> {
    if !FORMATS.iter().any(|f| rel.ends_with(f)) || !topics(config).iter().any(|t| t == rel) {
        return None;
    }
    let mut value: Vec<String> = crate::links::hubs(config).iter().map(|h| format!("<{h}>; rel=\"hub\"")).collect();
    value.push(format!("<{}>; rel=\"self\"", topic_url(config, rel)));
    Some(value.join(", "))
}

/// After a build: queues a delivery for every subscription to one of the `changed` files
/// (relative to the feed folder), wakes the deliverer, and pings the external hubs.
pub async fn feeds_changed(hub: &Arc<Hub>, changed: Vec<String>, now_ms: i64) -> Result<usize> {
    let config = hub.config();
    let topics: Vec<String> = changed.into_iter().filter(|c| link_header(&config, c).is_some()).collect();
    if topics.is_empty() {
        return Ok(0);
    }
    let queued = if config.websub.is_hub {
        let own = topics.clone();
        let queued = hub.db().with(move |state| state.hub_enqueue(&own, now_ms)).await?;
        if queued > 0 {
            hub.queued.notify_one();
        }
        queued
    } else {
        0
    };
    if !config.websub.hubs.is_empty() {
        hub.tasks.spawn(deliver::ping_hubs(config, topics, hub.stop.clone()));
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(extra: &str) -> Config {
        let text = format!("{}\n[websub]\n{extra}", include_str!("../../config.toml"));
        Config::parse(&text, Path::new("/srv/config.toml")).unwrap()
    }

    #[test]
    fn topics_are_the_feeds_and_nothing_else() {
        let c = config("");
        let base = &c.site.base_url;
        assert_eq!(topic_of(&c, &format!("{base}/feeds/en/atom.xml")).as_deref(), Some("en/atom.xml"));
        assert_eq!(topic_of(&c, &format!("{base}/feeds/zh/trade/feed.json")).as_deref(), Some("zh/trade/feed.json"));
        for bad in ["/feeds/index.opml", "/feeds/en/../en/atom.xml", "/feeds/xx/atom.xml", "/en/"] {
            assert_eq!(topic_of(&c, &format!("{base}{bad}")), None, "{bad}");
        }
        assert_eq!(topic_of(&c, "https://elsewhere.example/feeds/en/atom.xml"), None);
    }

    #[test]
    fn the_link_header_names_every_hub_then_self() {
        let c = config("hubs = [\"https://hub.example/\"]");
        let base = &c.site.base_url;
        assert_eq!(
            link_header(&c, "en/rss.xml").unwrap(),
            format!(
                "<{base}/websub>; rel=\"hub\", <https://hub.example/>; rel=\"hub\", <{base}/feeds/en/rss.xml>; rel=\"self\""
            )
        );
        assert_eq!(link_header(&c, "index.opml"), None);
    }
}
