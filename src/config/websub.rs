//! `[websub]`: gazette's own WebSub hub (on by default), the external hubs it pings after a
//! build, and the limits the hub keeps towards subscribers it does not know. The hub itself is
//! [`crate::websub`]'s.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use url::Url;

/// The hub's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSubConfig {
    /// Whether gazette is a hub itself (`/websub`, advertised in every feed).
    pub is_hub: bool,
    /// External hubs, advertised in every feed and pinged after a build that changed a feed.
    pub hubs: Vec<Url>,
    /// The shortest, default and longest lease a subscription gets (never perpetual).
    pub lease_min: Duration,
    /// The lease of a request that names none.
    pub lease_default: Duration,
    /// The longest lease; longer requests are cut to it.
    pub lease_max: Duration,
    /// The wait before the first retry of a failed delivery; it doubles from there.
    pub retry_first: Duration,
    /// The longest wait between retries.
    pub retry_max: Duration,
    /// A delivery still failing this long after the change it carries is dropped.
    pub give_up_after: Duration,
    /// How long one request to a callback may take, connection included.
    pub callback_timeout: Duration,
    /// The most a callback's answer may hold (the echoed challenge); more fails the request.
    pub callback_max_bytes: usize,
    /// Subscriptions per topic at most.
    pub per_topic: u64,
    /// Subscriptions per callback host at most, over every topic.
    pub per_callback_host: u64,
    /// Hub requests per client address per minute.
    pub requests_per_minute: u32,
    /// Callbacks on loopback, private, link-local and multicast addresses are allowed (tests,
    /// or a hub that serves only an internal network).
    pub allow_private_callbacks: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawWebSub {
    hub: bool,
    hubs: Vec<String>,
    lease_min: String,
    lease_default: String,
    lease_max: String,
    retry_first: String,
    retry_max: String,
    give_up_after: String,
    callback_timeout: String,
    callback_max_bytes: usize,
    per_topic: u64,
    per_callback_host: u64,
    requests_per_minute: u32,
    allow_private_callbacks: bool,
}

impl Default for RawWebSub {
    fn default() -> Self {
        RawWebSub {
            hub: true,
            hubs: Vec::new(),
            lease_min: "1h".to_owned(),
            lease_default: "10d".to_owned(),
            lease_max: "30d".to_owned(),
            retry_first: "10s".to_owned(),
            retry_max: "1h".to_owned(),
            give_up_after: "1d".to_owned(),
            callback_timeout: "10s".to_owned(),
            callback_max_bytes: 64 * 1024,
            per_topic: 10_000,
            per_callback_host: 100,
            requests_per_minute: 60,
            allow_private_callbacks: false,
        }
    }
}

fn duration(key: &str, text: &str) -> Result<Duration> {
    let d = humantime::parse_duration(text)
        .with_context(|| format!("websub.{key}: '{text}' is not a duration such as '10d'"))?;
    if d.is_zero() {
        bail!("websub.{key}: must be longer than zero");
    }
    Ok(d)
}

impl RawWebSub {
    pub(super) fn validate(self) -> Result<WebSubConfig> {
        let hubs = self
            .hubs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let url =
                    Url::parse(text).with_context(|| format!("websub.hubs[{i}]: not an absolute URL: '{text}'"))?;
                if !matches!(url.scheme(), "http" | "https") {
                    bail!("websub.hubs[{i}]: must be http or https, not '{}'", url.scheme());
                }
                Ok(url)
            })
            .collect::<Result<Vec<_>>>()?;
        let lease_min = duration("lease_min", &self.lease_min)?;
        let lease_default = duration("lease_default", &self.lease_default)?;
        let lease_max = duration("lease_max", &self.lease_max)?;
        if !(lease_min <= lease_default && lease_default <= lease_max) {
            bail!("websub.lease_default: must lie between websub.lease_min and websub.lease_max");
        }
        let retry_first = duration("retry_first", &self.retry_first)?;
        let retry_max = duration("retry_max", &self.retry_max)?;
        if retry_max < retry_first {
            bail!("websub.retry_max: must be at least websub.retry_first");
        }
        for (key, value) in [
            ("callback_max_bytes", self.callback_max_bytes as u64),
            ("per_topic", self.per_topic),
            ("per_callback_host", self.per_callback_host),
            ("requests_per_minute", u64::from(self.requests_per_minute)),
        ] {
            if value == 0 {
                bail!("websub.{key}: must be at least 1");
            }
        }
        Ok(WebSubConfig {
            is_hub: self.hub,
            hubs,
            lease_min,
            lease_default,
            lease_max,
            retry_first,
            retry_max,
            give_up_after: duration("give_up_after", &self.give_up_after)?,
            callback_timeout: duration("callback_timeout", &self.callback_timeout)?,
            callback_max_bytes: self.callback_max_bytes,
            per_topic: self.per_topic,
            per_callback_host: self.per_callback_host,
            requests_per_minute: self.requests_per_minute,
            allow_private_callbacks: self.allow_private_callbacks,
        })
    }
}

impl WebSubConfig {
    /// The lease for a request that asked for `asked` seconds (or none): within the range.
    pub fn lease_for(&self, asked: Option<u64>) -> Duration {
        asked.map_or(self.lease_default, Duration::from_secs).clamp(self.lease_min, self.lease_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebSubConfig> {
        toml::from_str::<RawWebSub>(text).map_err(anyhow::Error::from).and_then(RawWebSub::validate)
    }

    #[test]
    fn leases_are_clamped_to_the_range_and_never_perpetual() {
        let c = parse("lease_min = \"1h\"\nlease_default = \"1d\"\nlease_max = \"2d\"").unwrap();
        assert_eq!(c.lease_for(None), Duration::from_secs(86_400));
        assert_eq!(c.lease_for(Some(5)), Duration::from_secs(3600));
        assert_eq!(c.lease_for(Some(u64::MAX)), Duration::from_secs(2 * 86_400));
        assert_eq!(c.lease_for(Some(7200)), Duration::from_secs(7200));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("hubs = [\"ftp://hub.example\"]", "websub.hubs[0]"),
            ("lease_min = \"11d\"", "websub.lease_default"),
            ("retry_first = \"soon\"", "websub.retry_first"),
            ("per_topic = 0", "websub.per_topic"),
        ] {
            let e = format!("{:#}", parse(text).unwrap_err());
            assert!(e.contains(key), "{text}: {e}");
        }
        assert!(parse("").unwrap().is_hub, "gazette is its own hub by default");
    }
}
