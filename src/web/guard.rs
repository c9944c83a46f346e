//! What a request says about its sender, checked before a handler acts: the client address
//! (for rate limits), whether a form post comes from another site (refused), and the language
//! the reader wants.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};

use crate::config::Config;

/// The client's address: the peer, or behind a reverse proxy the address it forwarded for
/// (read as [`super::client`] explains).
pub fn client_ip(config: &Config, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    super::client::client_ip(&config.http, peer, headers)
}

/// The key a client is rate-limited by: its IPv4 address, or the /64 network of its IPv6
/// address (one subscriber line gets a whole /64, so single IPv6 addresses cost nothing).
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

/// Is this form post from another site? Browsers say so in `Sec-Fetch-Site`; older ones send
/// `Origin`, which must then be this site's. A request with neither (a command-line client)
/// is no cross-site forgery: no browser sent it on a user's behalf.
pub fn is_cross_site(config: &Config, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return false };
    let ours = url::Url::parse(&config.site.base_url).ok().map(|u| u.origin().ascii_serialization());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same_host = host.is_some_and(|h| origin == format!("http://{h}") || origin == format!("https://{h}"));
    !(ours.as_deref() == Some(origin) || same_host)
}

/// The configured language a reader wants: `asked` (`?lang=`) when configured, else the best
/// of `Accept-Language` (by quality, matching `zh-CN` to `zh`), else the default language.
pub fn language(config: &Config, asked: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(lang) = asked.filter(|l| config.language(l).is_some()) {
        return lang.to_owned();
    }
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut best: Option<(f32, &str)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let tag = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
        let found = config.languages.iter().find(|l| tag == l.code || tag.starts_with(&format!("{}-", l.code)));
        if let Some(l) = found
            && q > 0.0
            && best.is_none_or(|(bq, _)| q > bq)
        {
            best = Some((q, l.code.as_str()));
        }
    }
    best.map_or_else(|| config.site.default_language.clone(), |(_, l)| l.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config(extra: &str) -> Config {
        let text = format!(
            "[site]\nbase_url = \"https://news.example.gov.cn\"\ntimezone = \"Asia/Shanghai\"\ndefault_language = \"zh\"\n\
             [languages.zh]\ntitle = \"新闻\"\nauthor = \"外办\"\n[languages.en]\ntitle = \"News\"\nauthor = \"FAO\"\n{extra}"
        );
        Config::parse(&text, std::path::Path::new("/srv/config.toml")).unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn picks_the_language_by_parameter_then_header_then_default() {
        let c = config("");
        assert_eq!(language(&c, Some("en"), &headers(&[("accept-language", "zh-CN")])), "en");
        assert_eq!(language(&c, Some("xx"), &headers(&[("accept-language", "en-US,en;q=0.9")])), "en");
        assert_eq!(language(&c, None, &headers(&[("accept-language", "fr, zh-Hans-CN;q=0.5, en;q=0.8")])), "en");
        assert_eq!(language(&c, None, &headers(&[("accept-language", "fr")])), "zh");
        assert_eq!(language(&c, None, &headers(&[])), "zh");
    }

    #[test]
    fn refuses_posts_from_other_sites() {
        let c = config("");
        assert!(is_cross_site(&c, &headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!is_cross_site(&c, &headers(&[("sec-fetch-site", "same-origin")])));
        assert!(is_cross_site(&c, &headers(&[("origin", "https://evil.example")])));
        assert!(is_cross_site(&c, &headers(&[("origin", "null")])));
        assert!(!is_cross_site(&c, &headers(&[("origin", "https://news.example.gov.cn")])));
        assert!(!is_cross_site(&c, &headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")])));
        assert!(!is_cross_site(&c, &headers(&[])));
    }

    #[test]
    fn rate_limits_count_ipv6_clients_by_their_64_network() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(rate_key(ip("2001:db8:1:2:aaaa::1")), rate_key(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(rate_key(ip("2001:db8:1:2::1")), rate_key(ip("2001:db8:1:3::1")));
        assert_eq!(rate_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(rate_key(ip("192.0.2.7")), ip("192.0.2.7"));
    }
}
