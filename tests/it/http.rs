//! The daemon's HTTP answers, over raw HTTP/1.1: feed content types, tags and conditional
//! requests, gzip and HEAD; path traversal; malformed and oversized requests; the subscribe
//! form's rate limit, cross-site refusal and its one answer for known and unknown addresses;
//! RFC 8058 one-click unsubscribe and tampered tokens; pages; `/healthz` and `/metrics` on the
//! operations port.

use std::io::Read as _;
use std::time::Duration;

use mail_parser::MessageParser;

use crate::helpers::{Site, table};
use crate::service::{Daemon, get, post_form, request, served_site};

fn started(edit: impl FnOnce(&mut toml::Table)) -> (Site, Daemon) {
    let (site, port) = served_site("file://outbox", edit);
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", Duration::from_secs(20));
    (site, daemon)
}

fn status_of(site: &Site, email: &str) -> String {
    site.subscription(email).0
}

#[test]
fn feeds_have_their_types_tags_and_conditional_answers() {
    let (_site, daemon) = started(|_| {});
    for (path, media_type) in [
        ("/feeds/en/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feeds/zh/trade/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/feeds/en/foreign-affairs/feed.json", "application/feed+json; charset=utf-8"),
        ("/feeds/index.opml", "text/x-opml; charset=utf-8"),
    ] {
        let r = daemon.send(&get(path));
        assert_eq!((r.status, r.header("content-type")), (200, Some(media_type)), "{path}");
        let etag = r.header("etag").expect("ETag").to_owned();
        assert!(etag.starts_with('"') && !etag.starts_with("W/"), "a strong tag: {etag}");
        let modified = r.header("last-modified").expect("Last-Modified").to_owned();
        assert_eq!(r.header("content-length"), Some(r.body.len().to_string().as_str()));

        let again = daemon.send(&request("GET", path, &[("If-None-Match", &etag)], b""));
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let since = daemon.send(&request("GET", path, &[("If-Modified-Since", &modified)], b""));
        assert_eq!(since.status, 304, "{path}");
        let other = daemon.send(&request("GET", path, &[("If-None-Match", "\"other\"")], b""));
        assert_eq!(other.status, 200);

        let head = daemon.send(&request("HEAD", path, &[], b""));
        assert_eq!((head.status, head.header("etag")), (200, Some(etag.as_str())));
        assert_eq!(head.header("content-length"), r.header("content-length"));
        assert!(head.body.is_empty());

        let zipped = daemon.send(&request("GET", path, &[("Accept-Encoding", "gzip, br")], b""));
        assert_eq!(zipped.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(zipped.header("vary"), Some("Accept-Encoding"));
        let zipped_tag = zipped.header("etag").expect("ETag").to_owned();
        assert_ne!(zipped_tag, etag, "the gzip copy is another entity");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(zipped.body.as_slice()).read_to_end(&mut unzipped).expect("gzip");
        assert_eq!(unzipped, r.body);
        let cached =
            daemon.send(&request("GET", path, &[("Accept-Encoding", "gzip"), ("If-None-Match", &zipped_tag)], b""));
        assert_eq!(cached.status, 304);
    }
}

#[test]
fn no_request_leaves_the_feed_folder() {
    let (site, daemon) = started(|_| {});
    std::os::unix::fs::symlink(&site.config, site.out.join("en/leak.xml")).expect("symlink");
    std::os::unix::fs::symlink(&site.root, site.out.join("up")).expect("symlink");
    for path in [
        "/feeds/../config.toml",
        "/feeds/en/../../config.toml",
        "/feeds/%2e%2e/config.toml",
        "/feeds/en%2f..%2f..%2fconfig.toml",
        "/feeds/..%5cconfig.toml",
        "/feeds//etc/passwd",
        "/feeds/en/leak.xml",
        "/feeds/up/config.toml",
        "/feeds/up/gazette.db",
        "/feeds/en/atom.xml%00.txt",
        "/feeds/",
        "/feeds/en",
    ] {
        let r = daemon.send(&get(path));
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(!r.text().contains("base_url"), "{path} leaked the config");
    }
}

#[test]
fn malformed_and_oversized_requests_are_refused_and_the_server_goes_on() {
    let (_site, daemon) = started(|_| {});
    let garbage = daemon.send(b"THIS IS NOT HTTP\r\n\r\n");
    assert_eq!(garbage.status, 400);
    let big = vec![b'a'; 64 * 1024];
    let too_big =
        daemon.send(&request("POST", "/subscribe", &[("Content-Type", "application/x-www-form-urlencoded")], &big));
    assert_eq!(too_big.status, 413);
    let huge_header = "x".repeat(200 * 1024);
    let refused = daemon.try_request(&request("GET", "/en/", &[("X-Huge", &huge_header)], b""));
    assert!(refused.is_err() || refused.is_ok_and(|r| r.status == 431), "a 200 KB header is refused");
    let not_form = daemon.send(&request("POST", "/subscribe", &[("Content-Type", "text/plain")], b"\xff\xfe"));
    assert_eq!(not_form.status, 400, "an unreadable form is a bad request");
    assert_eq!(daemon.ops_send(&get("/healthz")).status, 200);
}

#[test]
fn subscribing_answers_alike_for_every_address_is_rate_limited_and_refuses_other_sites() {
    let (site, daemon) = started(|config| {
        table(config, "http").insert("subscribe_per_hour".into(), 3.into());
    });
    site.subscribers(&["add", "known@example.org", "--lang", "en", "--sectors", "trade", "--confirmed"]).success();
    let form = |email: &'static str| {
        post_form(
            "/subscribe",
            &[("email", email), ("language", "en"), ("sectors", "foreign-affairs"), ("digest", "daily")],
            &[("Origin", "http://127.0.0.1"), ("Sec-Fetch-Site", "same-origin")],
        )
    };
    let new = daemon.send(&form("new@example.org"));
    let known = daemon.send(&form("known@example.org"));
    assert_eq!((new.status, known.status), (200, 200));
    assert_eq!(new.text(), known.text(), "the answer does not tell whether an address is subscribed");
    assert_eq!(status_of(&site, "new@example.org"), "pending");
    assert_eq!(status_of(&site, "known@example.org"), "confirmed");
    let list = site.subscribers(&["list"]).success().stdout.clone();
    assert!(list.lines().any(|l| l.starts_with("known@example.org") && l.contains("trade")), "{list}");

    // Cross-site posts change nothing.
    for headers in [[("Sec-Fetch-Site", "cross-site")], [("Origin", "https://evil.example")]] {
        let r = daemon.send(&post_form(
            "/subscribe",
            &[("email", "victim@example.org"), ("language", "en"), ("digest", "daily")],
            &headers,
        ));
        assert_eq!(r.status, 403);
    }
    assert_eq!(status_of(&site, "victim@example.org"), "absent");

    // A bad address or choice is a 400 naming the problem, with the form again.
    let bad = daemon.send(&post_form(
        "/subscribe",
        &[("email", "not an address"), ("language", "en"), ("digest", "daily")],
        &[],
    ));
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("Enter a valid email address."), "{}", bad.text());
    assert!(bad.text().contains("aria-invalid=\"true\" aria-describedby=\"form-error\""), "the field is marked");
    // That was the third sign-up of this client this hour; the fourth is refused.
    let limited = daemon.send(&form("fifth@example.org"));
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    assert_eq!(status_of(&site, "fifth@example.org"), "absent");

    // The confirmation emails: a link to confirm for the new address, to the preferences for
    // the known one.
    let outbox = site.root.join("outbox");
    let mut found = Vec::new();
    for _ in 0..100 {
        found = crate::helpers::files(&outbox);
        if found.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(found.len(), 2, "{found:?}");
    for name in found {
        let raw = std::fs::read(outbox.join(&name)).expect("read");
        let message = MessageParser::default().parse(&raw).expect("MIME");
        let to = message.to().and_then(|a| a.first()).and_then(|a| a.address()).expect("To").to_owned();
        let text = message.body_text(0).expect("text part").into_owned();
        match to.as_str() {
            "new@example.org" => assert!(text.contains("/confirm?token="), "{text}"),
            "known@example.org" => {
                assert!(text.contains("/preferences?token=") && !text.contains("/confirm?"), "{text}")
            }
            other => panic!("unexpected {other}"),
        }
        assert!(message.header_raw("List-Unsubscribe").is_none(), "a confirmation is not a list message");
    }
}

/// The one-click unsubscribe URL from a digest `li@example.org` would get.
fn unsubscribe_url(site: &Site) -> String {
    crate::service::unsubscribe_url_of(site, "li@example.org")
}

#[test]
fn one_click_unsubscribe_answers_200_with_no_redirect_or_cookie_and_tampered_tokens_change_nothing() {
    let (site, daemon) = started(|_| {});
    site.subscribers(&["add", "li@example.org", "--lang", "en", "--confirmed"]).success();
    let url = unsubscribe_url(&site);
    let path = &url[url.find("/unsubscribe").expect("path")..];
    let token = path.split("token=").nth(1).expect("token").to_owned();

    // A GET (a mail scanner following the link) changes nothing.
    let page = daemon.send(&get(path));
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<form method=\"post\" action=\"/unsubscribe\">"), "{}", page.text());
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-store"), "a page for one person is kept by nobody");
    assert!(page.text().contains("<meta name=\"robots\" content=\"noindex\">"));
    assert_eq!(status_of(&site, "li@example.org"), "confirmed");

    // Tampered: another subscriber's id, a changed signature, junk.
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let other_id = format!("2{}", &token[token.find('.').expect("dot")..]);
    for bad in [flipped.as_str(), other_id.as_str(), "junk"] {
        let one_click = daemon.send(&request(
            "POST",
            &format!("/unsubscribe?token={bad}"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"List-Unsubscribe=One-Click",
        ));
        assert_eq!(one_click.status, 400, "{bad}");
        let shown = daemon.send(&get(&format!("/unsubscribe?token={bad}")));
        assert_eq!(shown.status, 400);
        // Whose link it was is unknown: the page is in the default language.
        assert!(shown.text().contains("链接无效"), "{}", shown.text());
        let in_english = daemon.send(&get(&format!("/unsubscribe?token={bad}&lang=en")));
        assert!(in_english.text().contains("This link does not work"), "{}", in_english.text());
    }
    assert_eq!(status_of(&site, "li@example.org"), "confirmed");

    // RFC 8058: POST to the List-Unsubscribe URL with the one-click body.
    let done = daemon.send(&request(
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"List-Unsubscribe=One-Click",
    ));
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(done.header("location").is_none() && done.header("set-cookie").is_none());
    assert_eq!(status_of(&site, "li@example.org"), "unsubscribed");
    // Twice is fine.
    let again = daemon.send(&request(
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"List-Unsubscribe=One-Click",
    ));
    assert_eq!(again.status, 200);
}

#[test]
fn pages_link_translations_and_feeds_and_unknown_ones_are_404() {
    let (_site, daemon) = started(|_| {});
    let root = daemon.send(&request("GET", "/", &[("Accept-Language", "en-GB,en;q=0.9,zh;q=0.5")], b""));
    assert_eq!((root.status, root.header("location")), (303, Some("/en/")));
    let root = daemon.send(&request("GET", "/", &[("Accept-Language", "zh-CN")], b""));
    assert_eq!(root.header("location"), Some("/zh/"));

    let front = daemon.send(&get("/zh/")).text();
    assert!(front.contains("<html lang=\"zh\" dir=\"ltr\">"));
    let feed_link = "<link rel=\"alternate\" type=\"application/atom+xml\"";
    assert!(front.contains(feed_link) && front.contains("/feeds/zh/atom.xml\""), "{front}");
    assert!(front.contains("hreflang=\"en\" href=\"http://127.0.0.1:"), "{front}");

    let article = daemon.send(&get("/en/articles/sino-german-park-consulate/"));
    assert_eq!(article.status, 200);
    let text = article.text();
    assert!(text.contains("<link rel=\"alternate\" hreflang=\"zh\""), "{text}");
    assert!(text.contains("/zh/articles/sino-german-park-consulate/"), "{text}");
    assert!(article.header("content-security-policy").is_some_and(|c| c.contains("default-src 'none'")));

    let sector = daemon.send(&get("/en/sectors/trade/"));
    assert_eq!(sector.status, 200);
    assert!(sector.text().contains("/feeds/en/trade/rss.xml"));
    for missing in [
        "/en/articles/no-such-article/",
        "/fr/",
        "/en/sectors/sport/",
        "/nothing",
        "/en/articles/..%2f..%2fconfig.toml/",
    ] {
        let r = daemon.send(&get(missing));
        assert_eq!(r.status, 404, "{missing}");
    }
    assert!(daemon.send(&get("/nothing?lang=en")).text().contains("Page not found"));
    let form = daemon.send(&get("/subscribe?lang=en"));
    assert_eq!(form.header("cache-control"), Some("no-store"), "the form's language varies by request");
    assert!(!form.text().contains("noindex"), "the subscribe form can be found");
    assert_eq!(daemon.send(&get("/en/")).header("cache-control"), Some("public, max-age=60"));
}

#[test]
fn health_and_metrics_answer_in_prometheus_text_format_on_the_operations_port_only() {
    let (site, daemon) = started(|_| {});
    site.subscribers(&["add", "li@example.org", "--lang", "en", "--confirmed"]).success();
    for path in ["/healthz", "/metrics"] {
        let public = daemon.send(&get(path));
        assert_eq!(public.status, 404, "{path} on the public port");
        assert!(!public.text().contains("gazette_"), "{path}: {}", public.text());
    }
    assert_eq!(daemon.ops_send(&get("/en/")).status, 404, "pages are not on the operations port");
    let health = daemon.ops_send(&get("/healthz"));
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let metrics = daemon.ops_send(&get("/metrics"));
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").is_some_and(|t| t.starts_with("application/openmetrics-text")));
    let text = metrics.text();
    for series in [
        "gazette_builds_total{outcome=\"ok\"} 1",
        "gazette_articles 18",
        "gazette_subscribers{status=\"confirmed\"} 1",
        "gazette_job_last_run_timestamp_seconds{job=\"build\"}",
        "gazette_job_last_success{job=\"build\"} 1",
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
    // The reference parser of the Prometheus project reads it all.
    let families = crate::validators::openmetrics(&text);
    assert!(
        families.contains(&"gazette_builds".to_owned()) && families.contains(&"gazette_subscribers".to_owned()),
        "{families:?}"
    );
}
