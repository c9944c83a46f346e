//! `gazette digest send` end to end with the file outbox and a real SQLite file: one message
//! per confirmed subscriber in their language and sectors, nothing twice, nothing skipped when
//! an interrupted run resumes, nothing for the unsubscribed or when there is nothing new.

use std::ffi::OsStr;
use std::path::Path;

use mail_parser::MessageParser;

use crate::helpers::{Run, Site, copy_dir, repo};

/// A site with the example store, the repository's templates and three subscribers, all of
/// whom confirmed long before the example articles were published.
fn site() -> Site {
    let site = Site::copy_of(&repo().join("articles"));
    site.write_config(|config| {
        crate::helpers::table(config, "store").insert("dir".into(), "store".into());
    });
    copy_dir(&repo().join("templates"), &site.root.join("templates"));
    for args in [
        &["add", "li@example.org", "--lang", "en", "--sectors", "trade", "--name", "Li Wei", "--confirmed"][..],
        &["add", "wang@example.cn", "--lang", "zh", "--confirmed"][..],
        &["add", "ann@example.org", "--lang", "en", "--confirmed"][..],
        &["add", "pending@example.org", "--lang", "en"][..],
    ] {
        site.subscribers(args).success();
    }
    site.sql("UPDATE subscribers SET confirmed_at = 0 WHERE status = 'confirmed'");
    site
}

fn digest(site: &Site, args: &[&str]) -> Run {
    site.run(std::iter::once(OsStr::new("digest")).chain(args.iter().map(OsStr::new)))
}

/// Every message in the outbox: (recipient, subject, text part).
fn outbox(site: &Site) -> Vec<(String, String, String)> {
    let dir = site.root.join("outbox");
    let mut found: Vec<(String, String, String)> = crate::helpers::files(&dir)
        .iter()
        .map(|name| {
            let raw = std::fs::read(dir.join(name)).expect("read .eml");
            let message = MessageParser::default().parse(&raw).unwrap_or_else(|| panic!("{name} is not MIME"));
            let to = message.to().and_then(|a| a.first()).and_then(|a| a.address()).expect("To").to_owned();
            (to, message.subject().unwrap_or_default().to_owned(), message.body_text(0).expect("text").into_owned())
        })
        .collect();
    found.sort();
    found
}

fn exists(path: &Path) -> bool {
    path.exists()
}

#[test]
fn each_confirmed_subscriber_gets_one_message_in_their_language_and_sectors() {
    let site = site();
    let sent = digest(&site, &["send", "daily"]);
    assert!(sent.success().stdout.contains("3 sent, 0 with nothing new, 0 failed"), "{sent}");
    let messages = outbox(&site);
    let recipients: Vec<&str> = messages.iter().map(|(to, _, _)| to.as_str()).collect();
    assert_eq!(recipients, ["ann@example.org", "li@example.org", "wang@example.cn"], "nothing for the pending one");

    let (_, li_subject, li) = &messages[1];
    assert!(li_subject.starts_with("Daily news: "), "{li_subject}");
    assert!(li.contains("Dear Li Wei,"), "{li}");
    assert!(li.contains("China-ROK Business Matchmaking") && li.contains("Northeast Asia Expo"), "{li}");
    assert!(!li.contains("Consul-General of Japan"), "foreign-affairs only articles are not in a trade digest:\n{li}");
    assert!(!li.contains("Revised Office Hours"), "drafts never go out:\n{li}");

    let (_, _, ann) = &messages[0];
    // The visa reminder has no English version: it comes in Chinese, marked so.
    assert!(ann.contains("领事提醒：春节期间出境旅行请提前办理签证 (not yet available in your language)"), "{ann}");
    assert!(ann.contains("https://news.example.gov.cn/zh/articles/visa-reminder/"), "{ann}");

    let (_, wang_subject, wang) = &messages[2];
    assert!(wang_subject.starts_with("每日外事新闻："), "{wang_subject}");
    assert!(wang.contains("日本驻沈阳总领事拜会市政府外办") && !wang.contains("Consul-General of Japan"), "{wang}");
}

#[test]
fn a_second_run_sends_nothing_already_sent() {
    let site = site();
    digest(&site, &["send", "daily"]).success();
    let first = outbox(&site);
    let second = digest(&site, &["send", "daily"]);
    assert!(second.success().stdout.contains("0 sent, 3 with nothing new"), "{second}");
    assert_eq!(outbox(&site), first);
}

#[test]
fn an_interrupted_run_resumes_with_the_remaining_subscribers_only() {
    let site = site();
    // A run that died after Li's message was sent and recorded.
    site.sql(
        "INSERT INTO digest_runs (id, digest, cutoff, started_at) VALUES (9, 'daily', strftime('%s','now'), strftime('%s','now'));
         INSERT INTO deliveries (run_id, subscriber_id, status)
           SELECT 9, id, CASE email WHEN 'li@example.org' THEN 'sent' ELSE 'pending' END
           FROM subscribers WHERE status = 'confirmed';
         UPDATE subscribers SET last_cutoff = (SELECT cutoff FROM digest_runs WHERE id = 9)
           WHERE email = 'li@example.org';",
    );
    let resumed = digest(&site, &["send", "daily"]);
    assert!(resumed.success().stdout.contains("run 9 (resumed): 2 sent"), "{resumed}");
    let recipients: Vec<String> = outbox(&site).into_iter().map(|(to, _, _)| to).collect();
    assert_eq!(recipients, ["ann@example.org", "wang@example.cn"]);
    let next = digest(&site, &["send", "daily"]);
    assert!(next.success().stdout.contains("0 sent, 3 with nothing new"), "the resumed run finished:\n{next}");
}

#[test]
fn unsubscribed_and_bounced_addresses_get_nothing() {
    let site = site();
    site.sql(
        "UPDATE subscribers SET status = 'unsubscribed' WHERE email = 'li@example.org';
                UPDATE subscribers SET status = 'bounced' WHERE email = 'ann@example.org';",
    );
    let sent = digest(&site, &["send", "daily"]);
    assert!(sent.success().stdout.contains("1 sent"), "{sent}");
    let recipients: Vec<String> = outbox(&site).into_iter().map(|(to, _, _)| to).collect();
    assert_eq!(recipients, ["wang@example.cn"]);
}

/// `gazette digest preview daily --to EMAIL ARGS…` on `site`: (subject, text part, HTML part).
fn preview(site: &Site, email: &str, args: &[&str]) -> (String, String, String) {
    let out = site.root.join("preview");
    let mut all = vec!["preview", "daily", "--to", email, "--out", out.to_str().expect("utf-8")];
    all.extend(args);
    digest(site, &all).success();
    let raw = std::fs::read(out.join(format!("{email}.eml"))).expect("the preview's .eml");
    let message = MessageParser::default().parse(&raw).expect("a MIME message");
    let text = message.body_text(0).expect("text").into_owned();
    let html = message.body_html(0).expect("html").into_owned();
    (message.subject().unwrap_or_default().to_owned(), text, html)
}

#[test]
fn a_new_subscribers_preview_shows_the_latest_articles_marked_as_a_preview() {
    let site = site();
    // Confirmed just now, as a new user would be: nothing is new for them yet.
    site.subscribers(&["add", "new@example.org", "--lang", "en", "--sectors", "trade", "--confirmed"]).success();
    let (subject, text, html) = preview(&site, "new@example.org", &[]);
    let notice = "Preview, not sent: nothing is new for this subscriber yet";
    assert!(text.starts_with(&format!("[ {notice}")), "{text}");
    assert!(html.contains(notice), "{html}");
    for body in [&text, &html] {
        assert!(body.contains("China-ROK Business Matchmaking") && body.contains("Northeast Asia Expo"), "{body}");
        assert!(!body.contains("Consul-General of Japan"), "only their sectors:\n{body}");
    }
    assert_ne!(subject, "Daily news: 0 new articles");

    // Someone with new articles previews exactly their next digest: no banner.
    let (_, li, _) = preview(&site, "li@example.org", &[]);
    assert!(li.starts_with("Dear Li Wei,") && !li.contains("Preview"), "{li}");
    // In Chinese too.
    site.subscribers(&["add", "xin@example.cn", "--lang", "zh", "--confirmed"]).success();
    let (_, zh, zh_html) = preview(&site, "xin@example.cn", &[]);
    assert!(zh.starts_with("[ 预览，不会发送：") && zh.contains("日本驻沈阳总领事拜会市政府外办"), "{zh}");
    assert!(zh_html.contains("预览，不会发送："), "{zh_html}");
}

#[test]
fn a_preview_since_a_date_shows_the_articles_after_it() {
    let site = site();
    site.subscribers(&["add", "new@example.org", "--lang", "en", "--sectors", "trade", "--confirmed"]).success();
    let (subject, text, html) = preview(&site, "new@example.org", &["--since", "2099-01-01"]);
    assert_eq!(subject, "Daily news: 0 new articles");
    for body in [&text, &html] {
        assert!(body.contains("Preview, not sent: the news published since 1 January 2099."), "{body}");
        assert!(!body.contains("/en/articles/"), "nothing after a future date:\n{body}");
    }

    let (subject, text, html) = preview(&site, "new@example.org", &["--since", "2025-01-01"]);
    assert_eq!(subject, "Daily news: 2 new articles");
    for body in [&text, &html] {
        assert!(body.contains("since 1 January 2025."), "{body}");
        assert!(body.contains("China-ROK Business Matchmaking") && body.contains("Sino-German"), "{body}");
        assert!(!body.contains("Northeast Asia Expo"), "published before the date:\n{body}");
    }
    // An RFC 3339 time, and the day it names in the site's zone: 2025-09-09 is the matchmaking.
    let (_, text, _) = preview(&site, "new@example.org", &["--since", "2025-09-08T23:00:00+08:00"]);
    assert!(text.contains("since 8 September 2025 at 23:00.") && text.contains("China-ROK"), "{text}");
    let bad = digest(&site, &["preview", "daily", "--to", "new@example.org", "--since", "last week"]);
    assert!(bad.code(2).stderr.contains("--since: 'last week' is not a date"), "{bad}");
}

#[test]
fn dry_run_and_preview_send_and_record_nothing() {
    let site = site();
    let dry = digest(&site, &["send", "daily", "--dry-run"]);
    assert!(dry.success().stdout.contains("3 of 3 confirmed subscribers would get a message"), "{dry}");
    let out = site.root.join("preview");
    let preview = digest(&site, &["preview", "daily", "--to", "li@example.org", "--out", out.to_str().unwrap()]);
    preview.success();
    assert!(exists(&out.join("li@example.org.eml")) && exists(&out.join("li@example.org.html")), "{preview}");
    let html = std::fs::read_to_string(out.join("li@example.org.html")).unwrap();
    assert!(
        html.contains("<html lang=\"en\" dir=\"ltr\">") && html.contains("China-ROK Business Matchmaking"),
        "{html}"
    );
    assert!(!exists(&site.root.join("outbox")) || outbox(&site).is_empty(), "a preview sends nothing");
    assert!(digest(&site, &["send", "daily", "--dry-run"]).success().stdout.contains("3 of 3"));
}

#[test]
fn an_article_added_after_the_days_digest_but_dated_earlier_goes_in_the_next() {
    let site = site();
    digest(&site, &["send", "daily"]).success();
    let before = outbox(&site).len();
    // Dated today (midnight, before the run just made), added only now.
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d");
    site.write_article(
        "late/trade-talks.en.md",
        &format!("+++\ntitle = \"Trade talks added late\"\ndate = {today}\nsectors = [\"trade\"]\n+++\nText.\n"),
    );
    let next = digest(&site, &["send", "daily"]);
    assert!(next.success().stdout.contains("2 sent"), "{next}");
    let late: Vec<String> = outbox(&site)
        .into_iter()
        .filter(|(_, _, text)| text.contains("Trade talks added late"))
        .map(|(to, ..)| to)
        .collect();
    assert_eq!(late, ["ann@example.org", "li@example.org"], "the English readers of trade get it once");
    assert_eq!(outbox(&site).len(), before + 2);
    assert!(digest(&site, &["send", "daily"]).success().stdout.contains("0 sent"), "and never again");
}
