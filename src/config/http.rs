//! `[http]`: where the daemon listens and how it treats clients: the public address and the
//! operations address (`/healthz`, `/metrics`), whether a reverse proxy in front tells it who
//! the client is (and which proxies to believe), the `Host` check, and how often one client
//! may sign up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Result, bail};
use serde::Deserialize;

/// The HTTP server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The address and port to listen on (`127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Where `/healthz` and `/metrics` are served.
    pub ops: OpsListen,
    /// True when a reverse proxy (nginx, a CDN) is in front: the client address is the last
    /// entry the proxy appended to [`HttpConfig::proxy_header`]. Leave false when clients
    /// reach gazette directly, or anyone could claim any address.
    pub behind_proxy: bool,
    /// The one header the proxy writes; the other is ignored (see `web::client`).
    pub proxy_header: ProxyHeader,
    /// When set, forwarded headers count only from a peer in these networks, and the client
    /// is the rightmost forwarded address outside them.
    pub trusted_proxies: Option<Vec<IpNetwork>>,
    /// Refuse (400) a `Host` that is neither `site.base_url`'s host nor the listen address.
    pub check_host: bool,
    /// Sign-ups one client address may make per hour.
    pub subscribe_per_hour: u32,
}

/// Where the operations endpoints are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpsListen {
    /// On their own listener (the default, `127.0.0.1:9464`), out of the public's reach.
    Separate(SocketAddr),
    /// On the public listener, next to the pages (`ops_listen = "public"`).
    Public,
}

/// The forwarding header a reverse proxy writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`, most CDNs).
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

/// An IP network such as `10.0.0.0/8`; a single address is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address; host bits must be zero.
    pub fn parse(text: &str) -> Result<IpNetwork> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let Ok(address) = address.parse::<IpAddr>() else { bail!("'{text}' is not an IP address or network") };
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= bits => p,
                _ => bail!("'{text}': the prefix length must be 0 to {bits}"),
            },
        };
        let network = IpNetwork { address, prefix };
        if network.masked(address) != address {
            bail!("'{text}' has bits set past the prefix; the network is {}", network.masked(address));
        }
        Ok(network)
    }

    /// Is `ip` in this network? An IPv4-mapped IPv6 address counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.address.is_ipv4() && self.masked(ip) == self.address
    }

    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                IpAddr::V4((v4.to_bits() & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                IpAddr::V6((v6.to_bits() & mask).into())
            }
        }
    }
}

/// `[http]` as written; one `Default` gives every missing key its value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawHttp {
    listen: String,
    ops_listen: String,
    behind_proxy: bool,
    proxy_header: String,
    trusted_proxies: Option<Vec<String>>,
    check_host: bool,
    subscribe_per_hour: u32,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080).to_string(),
            ops_listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9464).to_string(),
            behind_proxy: false,
            proxy_header: "x-forwarded-for".to_owned(),
            trusted_proxies: None,
            check_host: false,
            subscribe_per_hour: 10,
        }
    }
}

impl RawHttp {
    pub(super) fn validate(self) -> Result<HttpConfig> {
        let Ok(listen) = self.listen.parse::<SocketAddr>() else {
            bail!("http.listen: '{}' is not an address and port such as 127.0.0.1:8080 or [::]:8080", self.listen);
        };
        let ops = if self.ops_listen == "public" {
            OpsListen::Public
        } else {
            let Ok(address) = self.ops_listen.parse::<SocketAddr>() else {
                bail!(
                    "http.ops_listen: '{}' is not an address and port such as 127.0.0.1:9464, or \"public\"",
                    self.ops_listen
                );
            };
            if address == listen {
                bail!("http.ops_listen: {address} is http.listen too; write \"public\" to serve /metrics there");
            }
            OpsListen::Separate(address)
        };
        let proxy_header = match self.proxy_header.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => ProxyHeader::XForwardedFor,
            "forwarded" => ProxyHeader::Forwarded,
            _ => bail!("http.proxy_header: '{}' is neither \"x-forwarded-for\" nor \"forwarded\"", self.proxy_header),
        };
        let trusted_proxies = match self.trusted_proxies {
            None => None,
            Some(_) if !self.behind_proxy => {
                bail!("http.trusted_proxies: only read with http.behind_proxy = true; set that too, or remove it")
            }
            Some(list) if list.is_empty() => {
                bail!("http.trusted_proxies: empty; leave it out to believe any peer, or list the proxies")
            }
            Some(list) => Some(
                list.iter()
                    .map(|t| IpNetwork::parse(t).map_err(|e| anyhow::anyhow!("http.trusted_proxies: {e}")))
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        if self.subscribe_per_hour == 0 {
            bail!("http.subscribe_per_hour: must be at least 1");
        }
        Ok(HttpConfig {
            listen,
            ops,
            behind_proxy: self.behind_proxy,
            proxy_header,
            trusted_proxies,
            check_host: self.check_host,
            subscribe_per_hour: self.subscribe_per_hour,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(text: &str) -> Result<HttpConfig> {
        toml::from_str::<RawHttp>(text).map_err(anyhow::Error::from).and_then(RawHttp::validate)
    }

    #[test]
    fn networks_parse_and_contain_their_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let ten = IpNetwork::parse("10.0.0.0/8").unwrap();
        assert!(ten.contains(ip("10.200.3.4")) && !ten.contains(ip("11.0.0.1")));
        assert!(ten.contains(ip("::ffff:10.0.0.1")), "an IPv4-mapped peer is its IPv4 address");
        assert!(!ten.contains(ip("::1")));
        let one = IpNetwork::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6 = IpNetwork::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(IpNetwork::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.1")));
        for bad in ["10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "example.org", "::/129"] {
            assert!(IpNetwork::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_keep_operations_on_loopback_and_trust_no_header() {
        let c = http("").unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.ops, OpsListen::Separate("127.0.0.1:9464".parse().unwrap()));
        assert!(!c.behind_proxy && !c.check_host && c.trusted_proxies.is_none());
        assert_eq!(c.proxy_header, ProxyHeader::XForwardedFor);
        assert_eq!(http("ops_listen = \"public\"").unwrap().ops, OpsListen::Public);
    }

    #[test]
    fn bad_settings_name_their_key() {
        for (text, key) in [
            ("ops_listen = \"9464\"", "http.ops_listen"),
            ("listen = \"127.0.0.1:1\"\nops_listen = \"127.0.0.1:1\"", "http.ops_listen"),
            ("proxy_header = \"x-real-ip\"", "http.proxy_header"),
            ("trusted_proxies = [\"10.0.0.0/8\"]", "http.trusted_proxies"),
            ("behind_proxy = true\ntrusted_proxies = []", "http.trusted_proxies"),
            ("behind_proxy = true\ntrusted_proxies = [\"10.0.0.1/8\"]", "http.trusted_proxies"),
        ] {
            let e = format!("{:#}", http(text).unwrap_err());
            assert!(e.starts_with(key), "{text}: {e}");
        }
        let c = http("behind_proxy = true\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]").unwrap();
        assert_eq!(c.trusted_proxies.map(|t| t.len()), Some(2));
    }
}
