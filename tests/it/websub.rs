//! The WebSub hub, tested as the websub.rocks hub suite tests a hub: subscribe; verification
//! with a wrong and a right challenge; distribution with and without a secret, the signature
//! checked by the subscriber; unsubscribe; retries and giving up; lease expiry and renewal;
//! a restart; the callback address policy; and an independent subscriber library (Python's
//! Flask-WebSub) discovering the hub from the served feed and receiving a delivery.

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gazette::state::HubSubscription;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::helpers::{Site, table};
use crate::service::{Daemon, get, post_form, served_site};
use crate::subscriber::Subscriber;

const LONG: Duration = Duration::from_secs(20);

/// A served site whose hub calls loopback callbacks and retries quickly; `edit` goes last.
fn hub_site(edit: impl FnOnce(&mut toml::Table)) -> (Site, Daemon) {
    let (site, port) = served_site("file://outbox", |config| {
        let w = table(config, "websub");
        w.insert("allow_private_callbacks".into(), true.into());
        w.insert("lease_min".into(), "1s".into());
        w.insert("retry_first".into(), "300ms".into());
        w.insert("retry_max".into(), "1s".into());
        w.insert("callback_timeout".into(), "3s".into());
        edit(config);
    });
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", LONG);
    (site, daemon)
}

fn topic(daemon: &Daemon, rel: &str) -> String {
    format!("http://127.0.0.1:{}/feeds/{rel}", daemon.port)
}

fn subscribe(daemon: &Daemon, mode: &str, topic: &str, callback: &str, extra: &[(&str, &str)]) {
    let mut fields = vec![("hub.mode", mode), ("hub.topic", topic), ("hub.callback", callback)];
    fields.extend_from_slice(extra);
    let response = daemon.send(&post_form("/websub", &fields, &[]));
    assert_eq!(response.status, 202, "{}", response.text());
}

/// The stored subscription of `callback` to `topic` (as the hub names it: `en/atom.xml`), asked
/// as of the epoch: one whose lease ended is found until its row is deleted.
fn subscription(site: &Site, topic: &str, callback: &str) -> Option<HubSubscription> {
    site.state().get().expect("a connection").hub_subscription(topic, callback, 0).expect("the subscription")
}

fn wait_until(what: &str, daemon: &Daemon, mut done: impl FnMut() -> bool) {
    daemon.wait(what, LONG, &mut done);
}

/// Adds an English article dated a minute ago.
fn add_article(site: &Site, slug: &str) {
    let date = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    site.write_article(
        &format!("2026/{slug}.en.md"),
        &format!("+++\ntitle = \"WebSub {slug}\"\ndate = {date}\nsectors = [\"trade\"]\n+++\nNews about {slug}.\n"),
    );
}

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn websub_feeds_name_the_hub_and_self_in_the_body_and_the_headers() {
    let (site, daemon) = hub_site(|_| {});
    let hub = format!("http://127.0.0.1:{}/websub", daemon.port);
    for rel in ["en/atom.xml", "en/rss.xml", "zh/trade/feed.json"] {
        let response = daemon.send(&get(&format!("/feeds/{rel}")));
        assert_eq!(response.status, 200);
        let link = response.header("link").unwrap_or_else(|| panic!("no Link header on {rel}"));
        assert_eq!(link, format!("<{hub}>; rel=\"hub\", <{}>; rel=\"self\"", topic(&daemon, rel)));
        let body = response.text();
        if rel.ends_with(".json") {
            assert!(body.contains(&format!("\"url\": \"{hub}\"")) && body.contains("\"type\": \"WebSub\""), "{body}");
        } else {
            assert!(body.contains(&format!("href=\"{hub}\" rel=\"hub\"")), "{rel}: {body}");
        }
    }
    assert!(daemon.send(&get("/feeds/index.opml")).header("link").is_none());
    drop(site);
}

#[test]
fn websub_subscribe_verify_distribute_signed_and_unsubscribe() {
    let (site, daemon) = hub_site(|_| {});
    let atom = topic(&daemon, "en/atom.xml");
    let rss = topic(&daemon, "en/rss.xml");

    // A subscriber that echoes a wrong challenge is asked, and never subscribed.
    let liar = Subscriber::start();
    liar.is_lying.store(true, Ordering::SeqCst);
    subscribe(&daemon, "subscribe", &atom, &liar.callback("liar"), &[]);
    let asked = liar.wait_for("GET", 1, LONG);
    assert_eq!(asked[0].query.get("hub.mode").map(String::as_str), Some("subscribe"));
    daemon.wait_log("the callback did not echo the challenge", LONG);
    assert!(subscription(&site, "en/atom.xml", &liar.callback("liar")).is_none());

    // The right challenge: subscribed, with the lease asked for (within the range).
    let signed = Subscriber::start();
    subscribe(
        &daemon,
        "subscribe",
        &atom,
        &signed.callback("signed"),
        &[("hub.secret", "s3cret"), ("hub.lease_seconds", "3600")],
    );
    let plain = Subscriber::start();
    subscribe(&daemon, "subscribe", &rss, &plain.callback("plain"), &[]);
    let verification = &signed.wait_for("GET", 1, LONG)[0];
    assert_eq!(verification.query.get("hub.topic"), Some(&atom));
    assert_eq!(verification.query.get("hub.lease_seconds").map(String::as_str), Some("3600"));
    assert!(verification.query.get("hub.challenge").is_some_and(|c| c.len() >= 16));
    wait_until("both subscribed", &daemon, || {
        subscription(&site, "en/atom.xml", &signed.callback("signed")).is_some()
            && subscription(&site, "en/rss.xml", &plain.callback("plain")).is_some()
    });

    // A new article: each subscriber gets its topic's new body, signed when it has a secret.
    let written = Instant::now();
    add_article(&site, "first");
    let delivered = &signed.wait_for("POST", 1, LONG)[0];
    println!("article to signed delivery: {:?}", written.elapsed());
    let served = daemon.send(&get("/feeds/en/atom.xml"));
    assert_eq!(delivered.body, served.body, "the delivery is the feed as served");
    assert!(String::from_utf8_lossy(&delivered.body).contains("WebSub first"));
    assert_eq!(delivered.headers.get("content-type").map(String::as_str), Some("application/atom+xml; charset=utf-8"));
    assert_eq!(delivered.headers.get("link").map(String::as_str), served.header("link"));
    let expected = format!("sha256={}", signature("s3cret", &delivered.body));
    assert_eq!(delivered.headers.get("x-hub-signature"), Some(&expected), "the subscriber checks the signature");
    assert_ne!(expected, format!("sha256={}", signature("other", &delivered.body)));
    let rss_delivery = &plain.wait_for("POST", 1, LONG)[0];
    assert!(String::from_utf8_lossy(&rss_delivery.body).contains("<rss"));
    assert_eq!(
        rss_delivery.headers.get("content-type").map(String::as_str),
        Some("application/rss+xml; charset=utf-8")
    );
    assert!(!rss_delivery.headers.contains_key("x-hub-signature"), "no secret, no signature");
    assert!(liar.of("POST").is_empty(), "the liar got content");

    // Unsubscribe: verified like a subscription, then nothing more is sent.
    subscribe(&daemon, "unsubscribe", &atom, &signed.callback("signed"), &[]);
    let asked = signed.wait_for("GET", 2, LONG);
    assert_eq!(asked[1].query.get("hub.mode").map(String::as_str), Some("unsubscribe"));
    wait_until("unsubscribed", &daemon, || subscription(&site, "en/atom.xml", &signed.callback("signed")).is_none());
    add_article(&site, "second");
    plain.wait_for("POST", 2, LONG);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(signed.of("POST").len(), 1, "an unsubscribed callback got content");
}

#[test]
fn websub_a_failing_callback_is_retried_then_given_up_and_deliveries_survive_a_restart() {
    let (site, mut daemon) = hub_site(|config| {
        table(config, "websub").insert("give_up_after".into(), "4s".into());
    });
    let atom = topic(&daemon, "en/atom.xml");
    let flaky = Subscriber::start();
    subscribe(&daemon, "subscribe", &atom, &flaky.callback("flaky"), &[]);
    wait_until("subscribed", &daemon, || subscription(&site, "en/atom.xml", &flaky.callback("flaky")).is_some());

    // Failing: tried again with growing waits, then given up.
    flaky.post_status.store(503, Ordering::SeqCst);
    add_article(&site, "retried");
    flaky.wait_for("POST", 3, LONG);
    daemon.wait_log("websub delivery given up", LONG);
    assert_eq!(site.rows("websub_deliveries"), 0);
    let attempts = flaky.of("POST").len();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(flaky.of("POST").len(), attempts, "a given-up delivery was tried again");

    // A delivery waiting when the process is killed is sent after the restart.
    add_article(&site, "pending");
    flaky.wait_for("POST", attempts + 1, LONG);
    // Killed once that failed attempt is recorded (its retry due within seconds), not while
    // it is being sent: a delivery the killed process had claimed waits out its claim (half a
    // minute and more) before another may send it.
    wait_until("the attempt recorded", &daemon, || {
        let due = site.state().get().expect("a connection").hub_next_due().expect("the next due delivery");
        due.is_some_and(|due| due < chrono::Utc::now().timestamp_millis() + 10_000)
    });
    daemon.kill();
    assert_eq!(site.rows("websub_deliveries"), 1, "the delivery waits in the database");
    flaky.post_status.store(200, Ordering::SeqCst);
    let daemon = Daemon::start(&site, daemon.port, &[]);
    let got = flaky.wait_for("POST", attempts + 2, LONG);
    assert!(String::from_utf8_lossy(&got[attempts + 1].body).contains("WebSub pending"));
    wait_until("delivered", &daemon, || site.rows("websub_deliveries") == 0);
    assert!(
        subscription(&site, "en/atom.xml", &flaky.callback("flaky")).is_some(),
        "the subscription survived the restart"
    );
}

#[test]
fn websub_leases_expire_and_renewing_extends_them() {
    let (site, daemon) = hub_site(|config| {
        table(config, "websub").insert("lease_max".into(), "6s".into());
        table(config, "websub").insert("lease_default".into(), "2s".into());
    });
    let atom = topic(&daemon, "en/atom.xml");
    let lease_of = |s: &Subscriber, n: usize| s.wait_for("GET", n, LONG)[n - 1].query.get("hub.lease_seconds").cloned();
    // Asked for a year: clamped to lease_max, never perpetual.
    let greedy = Subscriber::start();
    subscribe(&daemon, "subscribe", &atom, &greedy.callback("greedy"), &[("hub.lease_seconds", "31536000")]);
    assert_eq!(lease_of(&greedy, 1).as_deref(), Some("6"));
    let short = Subscriber::start();
    let renewed = Subscriber::start();
    subscribe(&daemon, "subscribe", &atom, &short.callback("short"), &[]);
    subscribe(&daemon, "subscribe", &atom, &renewed.callback("renewed"), &[]);
    assert_eq!(lease_of(&short, 1).as_deref(), Some("2"), "the default lease");
    wait_until("subscribed", &daemon, || {
        subscription(&site, "en/atom.xml", &short.callback("short")).is_some()
            && subscription(&site, "en/atom.xml", &renewed.callback("renewed")).is_some()
    });
    let expires = |cb: &str| subscription(&site, "en/atom.xml", cb).expect("subscribed").expires_at;
    let first = expires(&renewed.callback("renewed"));
    // Subscribing again renews: the same row, a later end.
    subscribe(&daemon, "subscribe", &atom, &renewed.callback("renewed"), &[("hub.lease_seconds", "6")]);
    assert_eq!(lease_of(&renewed, 2).as_deref(), Some("6"));
    wait_until("renewed", &daemon, || expires(&renewed.callback("renewed")) > first);
    assert_eq!(site.rows("websub_subscriptions"), 3, "a renewal is not a second row");

    // The short lease ends (its row is deleted when it does); the renewed one still gets content.
    wait_until("the short lease ended", &daemon, || {
        subscription(&site, "en/atom.xml", &short.callback("short")).is_none()
    });
    add_article(&site, "after-expiry");
    renewed.wait_for("POST", 1, LONG);
    std::thread::sleep(Duration::from_millis(500));
    assert!(short.of("POST").is_empty(), "an expired lease got content");
}

#[test]
fn websub_refuses_loopback_callbacks_unless_allowed() {
    let (site, daemon) = hub_site(|config| {
        table(config, "websub").insert("allow_private_callbacks".into(), false.into());
    });
    let atom = topic(&daemon, "en/atom.xml");
    let listener = Subscriber::start();
    for callback in [listener.callback("direct"), format!("http://localhost:{}/named", listener.port)] {
        subscribe(&daemon, "subscribe", &atom, &callback, &[]);
    }
    daemon.wait("both refused", LONG, || daemon.log().matches("is not public").count() >= 2);
    add_article(&site, "unseen");
    daemon.wait_log("feeds built", LONG);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(listener.received().is_empty(), "a request reached the loopback listener: {:?}", listener.received());
    assert_eq!(site.rows("websub_subscriptions"), 0);
    // Malformed requests are refused at once, with the reason.
    let bad = daemon.send(&post_form(
        "/websub",
        &[("hub.mode", "subscribe"), ("hub.topic", &atom), ("hub.callback", "file:///etc/passwd")],
        &[],
    ));
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("scheme"), "{}", bad.text());
}

#[test]
fn websub_a_published_subscriber_library_discovers_subscribes_and_receives() {
    let Ok(python) = std::env::var("GAZETTE_PYTHON") else {
        panic!("GAZETTE_PYTHON is not set: scripts/test installs Flask-WebSub into .venv and sets it");
    };
    let (site, daemon) = hub_site(|_| {});
    let port = crate::mailsink::free_port();
    let script = crate::helpers::repo().join("tests/websub_subscriber.py");
    let mut child = Command::new(python)
        .arg(script)
        .args([&port.to_string(), &topic(&daemon, "en/atom.xml"), site.root.join("flask.db").to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python runs");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let expect = |prefix: &str| loop {
        let line = rx.recv_timeout(LONG).unwrap_or_else(|_| panic!("no '{prefix}' from the subscriber"));
        if line.starts_with(prefix) {
            break line;
        }
    };
    let discovered = expect("discovered ");
    assert!(discovered.contains(&format!("hub=http://127.0.0.1:{}/websub", daemon.port)), "{discovered}");
    expect("subscribed ");
    add_article(&site, "flask");
    let received = expect("notified ");
    assert!(received.contains("WebSub flask"), "{received}");
    let _ = child.kill();
    let _ = child.wait();
}
