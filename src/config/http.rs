//! `[http]`: where the daemon listens and how it treats clients: the address, whether a
//! reverse proxy in front tells it who the client is, and how often one client may sign up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Result, bail};
use serde::Deserialize;

/// The HTTP server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The address and port to listen on (`127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// True when a reverse proxy (nginx, a CDN) is in front: the client address is the last
    /// one in `X-Forwarded-For`, which the proxy appends. Leave false when clients reach
    /// gazette directly, or anyone could claim any address.
    pub behind_proxy: bool,
    /// Sign-ups one client address may make per hour.
    pub subscribe_per_hour: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default)]
    behind_proxy: bool,
    #[serde(default = "default_subscribe_per_hour")]
    subscribe_per_hour: u32,
}

fn default_listen() -> String {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080).to_string()
}

fn default_subscribe_per_hour() -> u32 {
    10
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp { listen: default_listen(), behind_proxy: false, subscribe_per_hour: default_subscribe_per_hour() }
    }
}

impl RawHttp {
    pub(super) fn validate(self) -> Result<HttpConfig> {
        let Ok(listen) = self.listen.parse::<SocketAddr>() else {
            bail!("http.listen: '{}' is not an address and port such as 127.0.0.1:8080 or [::]:8080", self.listen);
        };
        if self.subscribe_per_hour == 0 {
            bail!("http.subscribe_per_hour: must be at least 1");
        }
        Ok(HttpConfig { listen, behind_proxy: self.behind_proxy, subscribe_per_hour: self.subscribe_per_hour })
    }
}
