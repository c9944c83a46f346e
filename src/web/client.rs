//! Who sent a request, for the rate limits: the peer, or behind a reverse proxy the address
//! the proxy says it forwarded for. Owns reading `X-Forwarded-For` and `Forwarded` (RFC 7239);
//! what the address is then used for is the handlers' business.
//!
//! Only what a believed proxy wrote counts. A proxy appends one entry for the host it heard
//! from and passes the rest through as the client sent them, so only the last entry is the
//! proxy's word (with `http.trusted_proxies`: the entries written by listed proxies, read
//! right to left). An entry that is not an address (`unknown`, an obfuscated `_name`, junk)
//! is counted against the hop that wrote it, never skipped: skipping it would hand the
//! decision to the forged entry before it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::HeaderMap;

use crate::config::{HttpConfig, IpNetwork, ProxyHeader};

/// The client's address as `http` says to read it. Only the header named by
/// `http.proxy_header` is read, never both: a proxy passes the header it does not write
/// through untouched, so the client could forge that one whole, and no rule for "both
/// present" is safe for every proxy (nginx writes `X-Forwarded-For` and passes `Forwarded`;
/// others do the opposite).
pub fn client_ip(http: &HttpConfig, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let peer = peer.ip().to_canonical();
    if !http.behind_proxy {
        return peer;
    }
    let trusted = http.trusted_proxies.as_deref();
    if trusted.is_some_and(|t| !is_listed(t, peer)) {
        // Not one of our proxies: what it says about others is not believed.
        return peer;
    }
    let hops = match http.proxy_header {
        ProxyHeader::XForwardedFor => list(headers, "x-forwarded-for").iter().map(|e| node(e)).collect::<Vec<_>>(),
        ProxyHeader::Forwarded => list(headers, "forwarded").iter().map(|e| forwarded_for(e)).collect(),
    };
    // Walk from the entry the peer wrote leftwards while the writer is a believed proxy.
    let mut writer = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = hop.map(|ip| ip.to_canonical()) else { return writer };
        match trusted {
            Some(t) if is_listed(t, ip) => writer = ip,
            _ => return ip,
        }
    }
    // No header (a request from the proxy host itself), or every hop is a listed proxy.
    writer
}

fn is_listed(networks: &[IpNetwork], ip: IpAddr) -> bool {
    networks.iter().any(|n| n.contains(ip))
}

/// The comma-separated entries of every `name` header line, in order (RFC 9110 5.3: lines
/// of a list header join with commas). The split ignores quoting on purpose: the entry a
/// proxy appends never holds a comma, and honouring quotes would let an unbalanced `"` sent
/// by the client swallow the proxy's entry into a forged one.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    let lines: Vec<String> =
        headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
    if lines.is_empty() {
        return Vec::new();
    }
    lines.join(",").split(',').map(|e| e.trim().to_owned()).collect()
}

/// The `for=` node of one `Forwarded` element (`for=192.0.2.60;proto=https`), if it is an
/// address.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then(|| value.trim())
    })?;
    // A quoted-string (RFC 7239 4: needed for IPv6 and ports); backslash escapes nothing an
    // address holds, so dropping them is enough.
    let unquoted = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace('\\', ""),
        None => value.to_owned(),
    };
    node(&unquoted)
}

/// An address as proxies write it: `192.0.2.7`, `192.0.2.7:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711` (the port may be RFC 7239's obfuscated `_x`).
fn node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, port) = text.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    let is_number = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    let is_obfuscated = text.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    });
    is_number || is_obfuscated
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const PEER: &str = "10.0.0.2:5000";

    fn http(extra: &str) -> HttpConfig {
        let text = format!(
            "[site]\nbase_url = \"https://news.example.gov.cn\"\ntimezone = \"Asia/Shanghai\"\ndefault_language = \"en\"\n\
             [languages.en]\ntitle = \"News\"\nauthor = \"FAO\"\n[http]\n{extra}"
        );
        crate::config::Config::parse(&text, std::path::Path::new("/srv/config.toml")).unwrap().http
    }

    fn client(http: &HttpConfig, peer: &str, pairs: &[(&'static str, &'static str)]) -> String {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(*k, HeaderValue::from_static(v));
        }
        client_ip(http, peer.parse().unwrap(), &headers).to_string()
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_proxy() {
        let direct = http("");
        assert_eq!(client(&direct, PEER, &[("x-forwarded-for", "203.0.113.9")]), "10.0.0.2");
        assert_eq!(client(&direct, PEER, &[("forwarded", "for=203.0.113.9")]), "10.0.0.2");
    }

    #[test]
    fn the_last_x_forwarded_for_entry_is_the_client_whatever_its_spelling() {
        let c = http("behind_proxy = true");
        for (value, expected) in [
            ("203.0.113.9, 198.51.100.7", "198.51.100.7"),
            ("198.51.100.7:4711", "198.51.100.7"),
            ("1.2.3.4, 198.51.100.7:4711", "198.51.100.7"),
            ("1.2.3.4, [2001:db8::1]", "2001:db8::1"),
            ("1.2.3.4, [2001:db8::1]:4711", "2001:db8::1"),
            ("1.2.3.4, 2001:db8::1", "2001:db8::1"),
            ("1.2.3.4, ::ffff:198.51.100.7", "198.51.100.7"),
            // Not an address: the proxy's own, never the forged entry before it.
            ("1.2.3.4, unknown", "10.0.0.2"),
            ("1.2.3.4, [2001:db8::1", "10.0.0.2"),
            ("1.2.3.4, 198.51.100.7:port", "10.0.0.2"),
            ("1.2.3.4,", "10.0.0.2"),
            ("", "10.0.0.2"),
        ] {
            let pairs = [("x-forwarded-for", value)];
            assert_eq!(client(&c, PEER, &pairs), expected, "{value}");
        }
        // Header lines join: the last entry of the last line.
        let lines = [("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "198.51.100.7")];
        assert_eq!(client(&c, PEER, &lines), "198.51.100.7");
        assert_eq!(client(&c, PEER, &[]), "10.0.0.2", "no header: the peer");
    }

    #[test]
    fn the_last_forwarded_element_is_the_client() {
        let c = http("behind_proxy = true\nproxy_header = \"forwarded\"");
        for (value, expected) in [
            ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
            ("for=1.2.3.4, for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=1.2.3.4, For=\"[2001:db8:cafe::17]\"", "2001:db8:cafe::17"),
            ("for=1.2.3.4, proto=https;for=\"192.0.2.43:47011\"", "192.0.2.43"),
            ("for=1.2.3.4, for=unknown", "10.0.0.2"),
            ("for=1.2.3.4, for=_hidden", "10.0.0.2"),
            ("for=1.2.3.4, proto=https", "10.0.0.2"),
            // An unbalanced quote sent by the client cannot take the proxy's element.
            ("for=\"1.2.3.4, for=192.0.2.60", "192.0.2.60"),
        ] {
            assert_eq!(client(&c, PEER, &[("forwarded", value)]), expected, "{value}");
        }
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let xff = http("behind_proxy = true");
        let both = [("x-forwarded-for", "198.51.100.7"), ("forwarded", "for=1.2.3.4")];
        assert_eq!(client(&xff, PEER, &both), "198.51.100.7");
        assert_eq!(client(&xff, PEER, &[("forwarded", "for=1.2.3.4")]), "10.0.0.2");
        let fwd = http("behind_proxy = true\nproxy_header = \"forwarded\"");
        assert_eq!(client(&fwd, PEER, &both), "1.2.3.4");
        assert_eq!(client(&fwd, PEER, &[("x-forwarded-for", "198.51.100.7")]), "10.0.0.2");
    }

    #[test]
    fn trusted_proxies_are_walked_right_to_left() {
        let c = http("behind_proxy = true\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]");
        let xff = |v: &'static str| [("x-forwarded-for", v)];
        // A peer that is not a listed proxy: its headers are not believed.
        assert_eq!(client(&c, "203.0.113.50:1", &xff("198.51.100.7")), "203.0.113.50");
        assert_eq!(client(&c, PEER, &xff("1.2.3.4, 198.51.100.7, 10.1.1.1")), "198.51.100.7");
        assert_eq!(client(&c, PEER, &xff("1.2.3.4, 198.51.100.7:80, 10.1.1.1:443")), "198.51.100.7");
        // The entry a listed proxy could not name is counted against that proxy.
        assert_eq!(client(&c, PEER, &xff("1.2.3.4, unknown, 10.1.1.1")), "10.1.1.1");
        assert_eq!(client(&c, PEER, &xff("10.9.9.9, 127.0.0.1")), "10.9.9.9", "all proxies: the farthest");
        assert_eq!(client(&c, "[::ffff:10.0.0.2]:5000", &xff("198.51.100.7")), "198.51.100.7");
        let fwd = http("behind_proxy = true\nproxy_header = \"forwarded\"\ntrusted_proxies = [\"10.0.0.0/8\"]");
        let value = [("forwarded", "for=1.2.3.4, for=\"[2001:db8::5]:1\", for=10.3.3.3")];
        assert_eq!(client(&fwd, PEER, &value), "2001:db8::5");
    }
}
