//! Checks on a request's head made before it is routed: exactly one `Host` (RFC 9112 3.2),
//! with `http.check_host` one naming this site, and no declared body over the limit (refused
//! before a byte of it is read). The head's own size is hyper's to check (see `server`).

use std::net::SocketAddr;

use axum::http::uri::Authority;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse as _, Response};

use crate::config::Config;

/// Largest request body accepted (a form is a few hundred bytes).
pub const BODY_LIMIT: usize = 16 * 1024;

/// The answer to a request refused on its head alone, or `None` to route it. `is_public`
/// is false on the operations listener, which a scraper reaches by any name.
pub fn refusal<B>(config: &Config, is_public: bool, request: &Request<B>) -> Option<Response> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return Some(refuse(StatusCode::BAD_REQUEST, "a request needs exactly one Host header\n"));
    };
    if is_public && config.http.check_host {
        // An absolute-form target names the host the client means (RFC 9112 3.2.2).
        let named = match request.uri().authority() {
            Some(authority) => Some(authority.clone()),
            None => host.to_str().ok().and_then(|h| h.parse::<Authority>().ok()),
        };
        if !named.is_some_and(|a| is_ours(config, &a)) {
            return Some(refuse(StatusCode::BAD_REQUEST, "this server does not serve that host\n"));
        }
    }
    // A body that will be refused anyway is not waited for: without this the client could
    // hold the request open until the request timeout, then get a 408 instead of a 413.
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Some(refuse(StatusCode::PAYLOAD_TOO_LARGE, "the request body is over 16 KiB\n"));
    }
    None
}

/// Does `authority` name this site: the host of `site.base_url` or the listen address? A port,
/// when given, must be that one's; without one the name alone decides (behind a TLS proxy the
/// `Host` carries no port, and the name is what a rebinding or host-header attack changes).
fn is_ours(config: &Config, authority: &Authority) -> bool {
    let matches = |host: &str, port: Option<u16>| {
        let asked = authority.host().trim_end_matches('.');
        asked.eq_ignore_ascii_case(host.trim_end_matches('.')) && authority.port_u16().is_none_or(|p| Some(p) == port)
    };
    let site = url::Url::parse(&config.site.base_url).ok();
    let is_site = site
        .as_ref()
        .and_then(|u| Some((u.host_str()?, u.port_or_known_default())))
        .is_some_and(|(h, p)| matches(h, p));
    is_site || matches(&listen_host(config.http.listen), Some(config.http.listen.port()))
}

/// The listen address's host as it appears in a `Host` header (IPv6 in brackets).
fn listen_host(listen: SocketAddr) -> String {
    match listen {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    }
}

/// A plain-text refusal that ends the connection: what follows the head (a body not read)
/// cannot be told from the next request.
fn refuse(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!(
            "[site]\nbase_url = \"https://news.example.gov.cn\"\ntimezone = \"Asia/Shanghai\"\ndefault_language = \"en\"\n\
             [languages.en]\ntitle = \"News\"\nauthor = \"FAO\"\n[http]\nlisten = \"127.0.0.1:8080\"\n{extra}"
        );
        Config::parse(&text, std::path::Path::new("/srv/config.toml")).unwrap()
    }

    fn status(config: &Config, is_public: bool, target: &str, headers: &[(&'static str, &'static str)]) -> Option<u16> {
        let mut request = Request::builder().uri(target);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        refusal(config, is_public, &request.body(()).unwrap()).map(|r| r.status().as_u16())
    }

    #[test]
    fn a_request_needs_one_host() {
        let c = config("");
        assert_eq!(status(&c, true, "/en/", &[]), Some(400));
        assert_eq!(status(&c, false, "/metrics", &[]), Some(400));
        assert_eq!(status(&c, true, "/en/", &[("host", "a.example"), ("host", "b.example")]), Some(400));
        assert_eq!(status(&c, true, "/en/", &[("host", "anything.example")]), None, "check_host is off");
    }

    #[test]
    fn with_check_host_only_this_site_is_served() {
        let c = config("check_host = true");
        for ok in
            ["news.example.gov.cn", "NEWS.example.gov.cn.", "news.example.gov.cn:443", "127.0.0.1:8080", "127.0.0.1"]
        {
            assert_eq!(status(&c, true, "/en/", &[("host", ok)]), None, "{ok}");
        }
        for foreign in ["evil.example", "news.example.gov.cn:8443", "127.0.0.1:9999", "localhost:8080", "not a host"] {
            assert_eq!(status(&c, true, "/en/", &[("host", foreign)]), Some(400), "{foreign}");
        }
        let absolute = "http://evil.example/en/";
        assert_eq!(status(&c, true, absolute, &[("host", "news.example.gov.cn")]), Some(400));
        assert_eq!(status(&c, false, "/metrics", &[("host", "evil.example")]), None, "not on the ops listener");
    }

    #[test]
    fn a_declared_body_over_the_limit_is_refused_at_once() {
        let c = config("");
        let host = ("host", "news.example.gov.cn");
        assert_eq!(status(&c, true, "/subscribe", &[host, ("content-length", "100000")]), Some(413));
        assert_eq!(status(&c, true, "/subscribe", &[host, ("content-length", "16384")]), None);
    }
}
