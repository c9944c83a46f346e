//! Behind a reverse proxy, the client the sign-up limit counts is the proxy's last entry
//! (`X-Forwarded-For` or `Forwarded`, as configured), or the proxy itself when that entry is
//! no address: entries a client forges before it change nothing, and clients with other real
//! addresses keep their own allowance. With `http.trusted_proxies`, listed proxies are
//! skipped from the right and an unlisted peer's headers are not believed.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::helpers::{Site, table};
use crate::service::{Daemon, post_form, served_site};

/// Sign-ups per client per hour in these tests.
const PER_HOUR: i64 = 2;

fn behind_proxy(edit: impl FnOnce(&mut toml::Table)) -> (Site, Daemon) {
    let (site, port) = served_site("file://outbox", |config| {
        let http = table(config, "http");
        http.insert("behind_proxy".into(), true.into());
        http.insert("subscribe_per_hour".into(), PER_HOUR.into());
        edit(config);
    });
    let daemon = Daemon::start(&site, port, &[]);
    (site, daemon)
}

/// The status of a sign-up of a new address with the forwarding header `header`.
fn sign_up(daemon: &Daemon, header: (&str, &str)) -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // A new address and domain each time: only the per-client limit can refuse.
    let email = format!("reader{n}@example{n}.org");
    let r = daemon.send(&post_form(
        "/subscribe",
        &[("email", email.as_str()), ("language", "en"), ("digest", "daily")],
        &[("Sec-Fetch-Site", "same-origin"), header],
    ));
    assert!(matches!(r.status, 200 | 429), "{header:?}: {} {}", r.status, r.text());
    r.status
}

/// `PER_HOUR` sign-ups pass for the client behind `headers` (one a sign-up, used in turn),
/// and the next is refused.
fn allowance_is_spent(daemon: &Daemon, name: &str, headers: &[&str]) {
    let mut each = headers.iter().cycle();
    for i in 0..PER_HOUR {
        let value = each.next().expect("a header");
        assert_eq!(sign_up(daemon, (name, value)), 200, "sign-up {} with {name}: {value}", i + 1);
    }
    let value = each.next().expect("a header");
    assert_eq!(sign_up(daemon, (name, value)), 429, "over the limit with {name}: {value}");
}

#[test]
fn forged_x_forwarded_for_entries_cannot_escape_the_sign_up_limit() {
    let (_site, daemon) = behind_proxy(|_| {});
    let xff = "X-Forwarded-For";
    // IP:port as the proxy appends it; the forged entries before it differ every time.
    allowance_is_spent(&daemon, xff, &["1.1.1.1, 198.51.100.1:4711", "2.2.2.2, 3.3.3.3, 198.51.100.1:5000"]);
    assert_eq!(sign_up(&daemon, (xff, "198.51.100.1")), 429, "the same client without a port");
    assert_eq!(sign_up(&daemon, (xff, "1.1.1.1, 198.51.100.2:4711")), 200, "another client, its own allowance");
    // Bracketed IPv6, with and without a port; one /64 is one client.
    allowance_is_spent(&daemon, xff, &["4.4.4.4, [2001:db8:1:2::7]:4711", "5.5.5.5, [2001:db8:1:2::8]"]);
    assert_eq!(sign_up(&daemon, (xff, "2001:db8:1:2::99")), 429, "the same /64");
    assert_eq!(sign_up(&daemon, (xff, "6.6.6.6, [2001:db8:1:3::7]")), 200, "another /64");
    // `unknown` (or junk) is the proxy's own address, not the forged entry before it.
    allowance_is_spent(&daemon, xff, &["7.7.7.7, unknown", "8.8.8.8, unknown", "9.9.9.9, not-an-address"]);
    assert_eq!(sign_up(&daemon, (xff, "10.9.9.9, unknown")), 429);
    assert_eq!(sign_up(&daemon, (xff, "unknown, 198.51.100.3")), 200, "the proxy's allowance is its own");
}

#[test]
fn the_last_forwarded_element_is_the_client() {
    let (_site, daemon) = behind_proxy(|config| {
        table(config, "http").insert("proxy_header".into(), "forwarded".into());
    });
    let fwd = "Forwarded";
    allowance_is_spent(
        &daemon,
        fwd,
        &["for=1.1.1.1, for=\"[2001:db8:5::1]:4711\";proto=https", "for=2.2.2.2;by=x, for=\"[2001:db8:5::2]\""],
    );
    assert_eq!(sign_up(&daemon, (fwd, "for=\"198.51.100.4:80\"")), 200, "another client");
    allowance_is_spent(
        &daemon,
        fwd,
        &["for=3.3.3.3, for=unknown", "for=4.4.4.4, for=_hidden", "for=5.5.5.5, proto=http"],
    );
    // X-Forwarded-For is not what this proxy writes: a client's one is ignored (the peer counts).
    assert_eq!(sign_up(&daemon, ("X-Forwarded-For", "198.51.100.5")), 429);
}

#[test]
fn trusted_proxies_are_skipped_from_the_right_and_others_are_not_believed() {
    let (_site, daemon) = behind_proxy(|config| {
        let list = toml::Value::Array(vec!["127.0.0.1".into(), "10.0.0.0/8".into()]);
        table(config, "http").insert("trusted_proxies".into(), list);
    });
    let xff = "X-Forwarded-For";
    allowance_is_spent(&daemon, xff, &["1.1.1.1, 198.51.100.6, 10.0.0.5", "2.2.2.2, 198.51.100.6:1, 10.1.2.3:443"]);
    assert_eq!(sign_up(&daemon, (xff, "198.51.100.7, 10.0.0.5")), 200, "another client behind the same proxies");

    // The daemon's peer (127.0.0.1) is not a listed proxy here: every forged header counts as it.
    let (_site, daemon) = behind_proxy(|config| {
        let list = toml::Value::Array(vec!["10.0.0.0/8".into()]);
        table(config, "http").insert("trusted_proxies".into(), list);
    });
    allowance_is_spent(&daemon, xff, &["198.51.100.8", "198.51.100.9", "198.51.100.10"]);
}
