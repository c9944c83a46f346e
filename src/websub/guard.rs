//! Which callbacks the hub will call: strangers name them, so a callback must be an `http` or
//! `https` URL whose host resolves only to public addresses: not loopback, private,
//! link-local, multicast, unspecified, documentation or other special-purpose ranges (IPv4
//! and IPv6, IPv4-mapped ones too), unless `websub.allow_private_callbacks` is set. The
//! client ([`super::client`]) checks again the address it actually connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;
use url::Url;

/// Why a callback is not called; the verifier only logs it, the tests branch on it.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Refused {
    /// Not `http` or `https`.
    #[error("callback scheme '{0}' is not http or https")]
    Scheme(String),
    /// No host, or credentials in the URL.
    #[error("callback has no host, or carries credentials")]
    Host,
    /// The name did not resolve.
    #[error("callback host does not resolve: {0}")]
    Unresolved(String),
    /// An address the policy does not allow.
    #[error("callback address {0} is not public")]
    Private(IpAddr),
}

/// A parsed callback URL the hub may try: scheme and host checked, not yet resolved.
pub fn check_url(text: &str) -> Result<Url, Refused> {
    let url = Url::parse(text).map_err(|_| Refused::Host)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Scheme(url.scheme().to_owned()));
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Host);
    }
    Ok(url)
}

/// Whether the policy lets the hub connect to `ip`.
pub fn is_allowed(ip: IpAddr, allow_private: bool) -> bool {
    allow_private || is_public(ip)
}

/// Is `ip` a globally reachable unicast address?
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT (RFC 6598).
        || (a == 100 && (b & 0xc0) == 64)
        // 192.0.0.0/24, IETF protocol assignments; 198.18.0.0/15, benchmarking.
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        // 240.0.0.0/4, reserved.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 old site-local.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // 2001:db8::/32 documentation; 64:ff9b:1::/48 local NAT64; ::/96 IPv4-compatible.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || (first == 0x0064 && ip.segments()[1] == 0xff9b && ip.segments()[2] == 1)
        || ip.segments()[..6].iter().all(|&s| s == 0))
}

/// The addresses of `url`'s host the policy allows, in resolver order; an error if it does
/// not resolve or any address is refused (a name with one private address among public ones
/// is refused whole: which one a later lookup picks is the attacker's choice).
pub async fn resolve(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, Refused> {
    let host = url.host_str().ok_or(Refused::Host)?;
    let port = url.port_or_known_default().ok_or(Refused::Host)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            tokio::net::lookup_host((host, port)).await.map_err(|e| Refused::Unresolved(e.to_string()))?.collect()
        }
    };
    if addresses.is_empty() {
        return Err(Refused::Unresolved("no address".to_owned()));
    }
    if let Some(bad) = addresses.iter().find(|a| !is_allowed(a.ip(), allow_private)) {
        return Err(Refused::Private(bad.ip()));
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(!is_public(ip), "{private}");
            assert!(is_allowed(ip, true), "{private} with allow_private_callbacks");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn callbacks_must_be_plain_http_urls() {
        assert_eq!(check_url("ftp://example.org/x"), Err(Refused::Scheme("ftp".into())));
        assert_eq!(check_url("file:///etc/passwd"), Err(Refused::Scheme("file".into())));
        assert_eq!(check_url("http://user:pw@example.org/"), Err(Refused::Host));
        assert_eq!(check_url("not a url"), Err(Refused::Host));
        assert!(check_url("https://example.org/cb?x=1").is_ok());
    }

    #[tokio::test]
    async fn names_and_literals_resolving_to_loopback_are_refused() {
        for url in ["http://127.0.0.1:9/cb", "http://[::1]:9/cb", "http://localhost:9/cb", "http://2130706433:9/"] {
            let url = check_url(url).unwrap();
            assert!(matches!(resolve(&url, false).await, Err(Refused::Private(_))), "{url}");
        }
        let url = check_url("http://127.0.0.1:9/cb").unwrap();
        assert_eq!(resolve(&url, true).await.unwrap(), vec!["127.0.0.1:9".parse().unwrap()]);
    }
}
