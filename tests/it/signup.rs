//! The subscription lifecycle against the real `gazette run`, its confirmation emails counted
//! at Postfix's `smtp-sink`: spellings of one mailbox are one subscriber, an old link cannot
//! undo an unsubscribe, a stranger's post changes nobody's choices, refusals say why in the
//! reader's language, and unconfirmed sign-ups are bounded per domain and expire.

use std::time::Duration;

use mail_parser::MessageParser;

use crate::helpers::{Site, table};
use crate::mailsink::{Sink, free_port, sink};
use crate::service::{Daemon, Response, get, post_form, served_site};

const PATIENCE: Duration = Duration::from_secs(20);

/// A daemon mailing to a fresh `smtp-sink`, with `edit` applied to its config.
fn started(edit: impl FnOnce(&mut toml::Table)) -> (Site, Daemon, Sink) {
    let sink_port = free_port();
    let (site, port) = served_site(&format!("smtp://127.0.0.1:{sink_port}?tls=none"), |config| {
        table(config, "http").insert("subscribe_per_hour".into(), 100.into());
        edit(config);
    });
    let sink = sink(sink_port, &site.root.join("sink"), &[]);
    let daemon = Daemon::start(&site, port, &[]);
    (site, daemon, sink)
}

fn subscribe(daemon: &Daemon, email: &str, lang: &str, sectors: &[&str]) -> Response {
    let mut fields = vec![("email", email), ("language", lang), ("digest", "daily")];
    fields.extend(sectors.iter().map(|s| ("sectors", *s)));
    daemon.send(&post_form("/subscribe", &fields, &[("Sec-Fetch-Site", "same-origin")]))
}

/// The confirmation emails the sink got for `to` (envelope recipient), oldest first.
fn confirmations_to(sink: &Sink, to: &str) -> Vec<Vec<u8>> {
    sink.messages()
        .into_iter()
        .filter(|raw| {
            let text = String::from_utf8_lossy(raw);
            let head = text.split("\r\n\r\n").next().unwrap_or_default().to_ascii_lowercase();
            head.lines().any(|l| l.starts_with("x-rcpt-args:") && l.contains(&format!("<{to}>")))
        })
        .collect()
}

/// Waits for the `n`th confirmation email to `to` and returns its link starting with `prefix`.
fn nth_link(sink: &Sink, to: &str, n: usize, prefix: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let found = confirmations_to(sink, to);
        if let Some(raw) = found.get(n - 1) {
            let message = MessageParser::default().parse(raw).expect("MIME");
            let text = message.body_text(0).expect("text part").into_owned();
            let start = text.find(prefix).unwrap_or_else(|| panic!("no {prefix} in:\n{text}"));
            let end = text[start..].find(char::is_whitespace).map_or(text.len(), |e| start + e);
            return text[start..end].to_owned();
        }
        assert!(started.elapsed() < PATIENCE, "confirmation {n} to {to} did not come; got {}", found.len());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn token_of(link: &str) -> String {
    link.split_once("token=").expect("a token").1.to_owned()
}

fn post_token(daemon: &Daemon, path: &str, token: &str) -> Response {
    daemon.send(&post_form(path, &[("token", token), ("lang", "en")], &[("Sec-Fetch-Site", "same-origin")]))
}

#[test]
fn spellings_of_one_mailbox_are_one_subscriber_and_share_one_mail_allowance() {
    let (site, daemon, sink) = started(|_| {});
    let spellings = [
        "\"target\"@example.org",
        "\"t\\arget\"@example.org",
        "target@EXAMPLE.org",
        "\"\\t\\a\\r\\g\\e\\t\"@example.org",
        "TARGET@example.org",
        "target@Example.Org",
    ];
    for spelling in spellings {
        let answer = subscribe(&daemon, spelling, "en", &[]);
        assert_eq!(answer.status, 200, "{spelling}: {}", answer.text());
    }
    nth_link(&sink, "target@example.org", 2, "http");
    // Give a third email, were one coming, time to arrive.
    std::thread::sleep(Duration::from_secs(2));
    let mailed = confirmations_to(&sink, "target@example.org").len();
    assert_eq!(mailed, 2, "two confirmation emails per mailbox per five minutes, however it is spelled");
    assert_eq!(sink.messages().len(), 2, "and none to any other spelling");
    let waiting = site.state().get().expect("a connection").count_signups().expect("count the sign-ups");
    assert_eq!(waiting, 1, "one sign-up waits for the one mailbox");
    assert_eq!(site.subscription("target@example.org").0, "pending");
}

#[test]
fn an_old_confirmation_link_cannot_undo_an_unsubscribe() {
    let (site, daemon, sink) = started(|_| {});
    let email = "li@example.org";
    subscribe(&daemon, email, "en", &["trade"]);
    let old = token_of(&nth_link(&sink, email, 1, "http"));
    assert_eq!(post_token(&daemon, "/confirm", &old).status, 200);
    assert_eq!(site.subscription(email).0, "confirmed");

    let url = crate::service::unsubscribe_url_of(&site, email);
    let path = &url[url.find("/unsubscribe").expect("path")..];
    let done = daemon.send(&post_form(path, &[("List-Unsubscribe", "One-Click")], &[]));
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(site.subscription(email).0, "unsubscribed");

    // Anyone posts the address again; then the week-old link is followed.
    subscribe(&daemon, email, "zh", &[]);
    nth_link(&sink, email, 2, "http");
    for answer in [daemon.send(&get(&format!("/confirm?token={old}&lang=en"))), post_token(&daemon, "/confirm", &old)] {
        assert_eq!(answer.status, 400, "{}", answer.text());
        assert!(answer.text().contains("has expired"), "says it expired: {}", answer.text());
        assert!(!answer.text().contains("already confirmed"), "never 'already confirmed': {}", answer.text());
    }
    assert_eq!(site.subscription(email).0, "unsubscribed", "the old link changed nothing");
}

#[test]
fn a_strangers_post_changes_nobodys_choices() {
    let (site, daemon, sink) = started(|_| {});
    let email = "ann@example.org";
    subscribe(&daemon, email, "en", &["trade"]);
    let own = token_of(&nth_link(&sink, email, 1, "http"));
    // A stranger posts the address with other choices: nothing is stored for the address
    // but a new sign-up, which takes effect only if its own link (mailed to Ann) is followed.
    subscribe(&daemon, email, "zh", &["foreign-affairs"]);
    let strangers = token_of(&nth_link(&sink, email, 2, "http"));
    assert_eq!(site.subscription(email), ("pending".into(), "zh".into(), "foreign-affairs".into(), "daily".into()));
    let by_status = site.state().get().expect("a connection").count_by_status().expect("count the subscribers");
    let subscribers: i64 = by_status.iter().map(|(_, n)| n).sum();
    assert_eq!(subscribers, 0, "no subscriber row before a confirmation");
    // The page of a link shows what its sign-up asks for, in its language.
    let page = daemon.send(&get(&format!("/confirm?token={strangers}"))).text();
    assert!(page.contains("此次订阅：每日外事新闻，中文，领域：外事。"), "{page}");
    // The first link was replaced: it confirms nothing, and the second does what it says.
    assert_eq!(post_token(&daemon, "/confirm", &own).status, 400);
    assert_eq!(post_token(&daemon, "/confirm", &strangers).status, 200);
    assert_eq!(site.subscription(email), ("confirmed".into(), "zh".into(), "foreign-affairs".into(), "daily".into()));

    // Once confirmed, a post for the address changes nothing at all (and, the address having
    // had its two emails these five minutes, sends nothing either).
    assert_eq!(subscribe(&daemon, email, "en", &["trade"]).status, 200);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(site.subscription(email), ("confirmed".into(), "zh".into(), "foreign-affairs".into(), "daily".into()));
    assert_eq!(confirmations_to(&sink, email).len(), 2);
}

#[test]
fn public_sign_up_refuses_what_cannot_be_mailed_and_says_why_in_the_readers_language() {
    let (_site, daemon, sink) = started(|_| {});
    let strings = std::fs::read_to_string(crate::helpers::repo().join("templates/strings.toml")).expect("strings");
    let strings: toml::Table = toml::from_str(&strings).expect("strings parse");
    let say = |lang: &str, key: &str| strings[lang][key].as_str().expect("a string").to_owned();
    for (email, key) in [
        ("\"a b\"@example.org", "email_needs_quoting"),
        ("root@[192.0.2.1]", "email_ip_literal"),
        ("root@192.0.2.1", "email_ip_literal"),
        ("root@localhost", "email_not_public"),
        ("root@mail.localhost", "email_not_public"),
        ("root@example.invalid", "email_not_public"),
        ("root@intranet", "email_not_public"),
        ("王伟@example.cn", "email_unmailable"),
        ("not an address", "bad_email"),
    ] {
        for lang in ["en", "zh"] {
            let answer = subscribe(&daemon, email, lang, &[]);
            assert_eq!(answer.status, 400, "{email}");
            let html = answer.text();
            let expected = escape(&say(lang, key));
            assert!(html.contains(&expected), "{email} in {lang}: expected {expected:?} in\n{html}");
            assert!(html.contains(&format!("lang=\"{lang}\"")), "{email}: the page is in {lang}");
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(sink.messages().is_empty(), "nothing was mailed");
}

#[test]
fn sign_ups_waiting_per_domain_are_bounded_and_unconfirmed_ones_expire() {
    let (site, daemon, sink) = started(|config| {
        let subscriptions = table(config, "subscriptions");
        subscriptions.insert("pending_per_domain".into(), 2.into());
        subscriptions.insert("confirm_within".into(), "3s".into());
    });
    assert_eq!(subscribe(&daemon, "a@flood.example.com", "en", &[]).status, 200);
    assert_eq!(subscribe(&daemon, "b@flood.example.com", "en", &[]).status, 200);
    let full = subscribe(&daemon, "c@flood.example.com", "en", &[]);
    assert_eq!(full.status, 503, "{}", full.text());
    assert!(full.header("retry-after").is_some());
    assert_eq!(site.subscription("c@flood.example.com").0, "absent");
    assert_eq!(subscribe(&daemon, "d@other.example.net", "en", &[]).status, 200, "other domains are not held up");

    let link = nth_link(&sink, "a@flood.example.com", 1, "http");
    daemon.wait("the unconfirmed sign-ups are deleted", PATIENCE, || {
        ["a@flood.example.com", "b@flood.example.com", "d@other.example.net"]
            .iter()
            .all(|e| site.subscription(e).0 == "absent")
    });
    daemon.wait_log("expired sign-ups deleted", PATIENCE);
    let metrics = daemon.ops_send(&get("/metrics")).text();
    assert!(metrics.contains("gazette_signups_expired_total 3"), "{metrics}");
    assert!(metrics.contains("gazette_signups_pending 0"), "{metrics}");
    let answer = daemon.send(&get(&format!("/confirm?token={}&lang=en", token_of(&link))));
    assert!(answer.text().contains("has expired"), "{}", answer.text());
    assert_eq!(subscribe(&daemon, "c@flood.example.com", "en", &[]).status, 200, "room again once they expired");
}

/// `text` as the page templates escape it.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '/' => out.push_str("&#x2f;"),
            c => out.push(c),
        }
    }
    out
}
