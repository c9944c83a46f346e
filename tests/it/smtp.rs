//! Digests over SMTP to a real server: Postfix's `smtp-sink` on a loopback port, which writes
//! every message it accepts to a file and can be told to refuse (4xx, 5xx). Covers delivery,
//! hard bounces, a server that refuses for a while, and one that is away and comes back.

use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Run, Site, copy_dir, repo, table};
use crate::mailsink::{free_port, sink};

/// A site with the example store and three confirmed subscribers, mailing to `port`.
fn site(port: u16, retries: u32, bounce_limit: u32) -> Site {
    let site = Site::copy_of(&repo().join("articles"));
    site.write_config(|config| {
        table(config, "store").insert("dir".into(), "store".into());
        let mail = table(config, "mail");
        mail.insert("url".into(), format!("smtp://127.0.0.1:{port}?tls=none").into());
        mail.insert("retries".into(), i64::from(retries).into());
        mail.insert("bounce_limit".into(), i64::from(bounce_limit).into());
    });
    copy_dir(&repo().join("templates"), &site.root.join("templates"));
    for (email, lang) in [("li@example.org", "en"), ("wang@example.cn", "zh"), ("ann@example.org", "en")] {
        site.subscribers(&["add", email, "--lang", lang, "--confirmed"]).success();
    }
    site.sql("UPDATE subscribers SET confirmed_at = 0");
    site
}

fn send(site: &Site) -> Run {
    site.run(["digest", "send", "daily"].map(OsStr::new))
}

const ALL: [&str; 3] = ["ann@example.org", "li@example.org", "wang@example.cn"];

#[test]
fn digests_reach_a_real_smtp_server_once_each() {
    let port = free_port();
    let site = site(port, 3, 3);
    let sink = sink(port, &site.root.join("sink"), &[]);
    assert!(send(&site).success().stdout.contains("3 sent"));
    assert_eq!(sink.recipients(), ALL);
    assert!(send(&site).success().stdout.contains("0 sent"), "a second run has nothing new");
    assert_eq!(sink.recipients(), ALL);
}

#[test]
fn hard_bounces_mark_the_address_bounced_when_their_score_reaches_the_limit() {
    let port = free_port();
    let site = site(port, 3, 2);
    let refusing = sink(port, &site.root.join("sink"), &["-f", "RCPT", "-B", "550 5.1.1 No such user"]);
    for _ in 0..2 {
        let run = send(&site);
        assert!(run.code(1).stdout.contains("3 failed"), "{run}");
    }
    let list = site.subscribers(&["list"]);
    assert_eq!(list.success().stdout.matches("\tconfirmed").count(), 3, "one bounce a day counts: {list}");
    // A day later the next refusal counts too, and the score reaches the limit.
    site.sql("UPDATE subscribers SET last_bounce_at = last_bounce_at - 86400");
    let run = send(&site);
    assert!(run.code(1).stdout.contains("3 failed"), "{run}");
    drop(refusing);
    let list = site.subscribers(&["list"]);
    assert_eq!(list.success().stdout.matches("\tbounced").count(), 3, "{list}");
    let _accepting = sink(port, &site.root.join("sink2"), &[]);
    assert!(send(&site).success().stdout.contains("0 sent, 0 with nothing new"), "bounced addresses get nothing");
}

#[test]
fn a_server_that_refuses_for_a_while_loses_nothing() {
    let port = free_port();
    let site = site(port, 2, 3);
    let throttling = sink(port, &site.root.join("throttled"), &["-r", "RCPT"]);
    let run = send(&site);
    assert!(run.code(2).stderr.contains("the run resumes next time"), "{run}");
    assert!(throttling.recipients().is_empty());
    drop(throttling);
    let sink = sink(port, &site.root.join("sink"), &[]);
    let resumed = send(&site);
    assert!(resumed.success().stdout.contains("(resumed): 3 sent"), "{resumed}");
    assert_eq!(sink.recipients(), ALL);
}

#[test]
fn a_server_away_for_a_while_is_waited_for() {
    let port = free_port();
    let site = site(port, 6, 3);
    let binary = env!("CARGO_BIN_EXE_gazette");
    let child = Command::new(binary)
        .args(["--config", site.config.to_str().expect("utf-8 path"), "digest", "send", "daily"])
        .env("GAZETTE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gazette runs");
    std::thread::sleep(Duration::from_millis(2500));
    let sink = sink(port, &site.root.join("sink"), &[]);
    let output = child.wait_with_output().expect("gazette ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("3 sent"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(sink.recipients(), ALL);
}

#[test]
fn killed_mid_run_and_started_again_every_subscriber_gets_one_digest() {
    let port = free_port();
    let site = site(port, 3, 3);
    let count = 400;
    let mut csv = String::from("email,language,digest\n");
    for i in 0..count {
        csv.push_str(&format!("reader{i:04}@example.org,{},daily\n", if i % 2 == 0 { "en" } else { "zh" }));
    }
    let csv_path = site.root.join("readers.csv");
    std::fs::write(&csv_path, csv).expect("write csv");
    site.subscribers(&["import", csv_path.to_str().expect("utf-8"), "--confirmed"]).success();
    site.sql("UPDATE subscribers SET confirmed_at = 0");
    let total = count + ALL.len();

    let sink = sink(port, &site.root.join("sink"), &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_gazette"))
        .args(["--config", site.config.to_str().expect("utf-8"), "digest", "send", "daily"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gazette runs");
    let started = Instant::now();
    while crate::helpers::files(&sink.dump).len() < 100 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL"); // kill -9, mid-run
    child.wait().expect("reaped");
    let before = crate::helpers::files(&sink.dump).len();
    assert!(before < total, "the run was killed before it finished ({before} of {total})");

    let resumed = send(&site);
    assert!(resumed.success().stdout.contains("(resumed)"), "{resumed}");
    let recipients = sink.recipients();
    let mut unique = recipients.clone();
    unique.dedup();
    assert_eq!(unique.len(), total, "nobody is skipped");
    // The unavoidable duplicates: a message accepted just before the kill and not yet recorded,
    // at most one for each of the pool's connections (4, the default).
    assert!(recipients.len() <= total + 4, "{} messages for {total} subscribers", recipients.len());
}

#[test]
fn a_server_that_refuses_us_stops_the_run_without_bouncing_anyone() {
    let port = free_port();
    let site = site(port, 3, 1);
    let refusing = sink(port, &site.root.join("refusing"), &["-f", "MAIL", "-B", "535 5.7.8 Authentication failed"]);
    let run = send(&site);
    assert!(run.code(2).stderr.contains("refuses to send for gazette"), "{run}");
    drop(refusing);
    let list = site.subscribers(&["list"]);
    assert_eq!(list.success().stdout.matches("\tconfirmed").count(), 3, "nobody is marked bounced:\n{list}");
    let sink = sink(port, &site.root.join("sink"), &[]);
    assert!(send(&site).success().stdout.contains("(resumed): 3 sent"));
    assert_eq!(sink.recipients(), ALL);
}

#[test]
fn two_sends_of_one_digest_at_once_cannot_both_run() {
    let port = free_port();
    let site = site(port, 6, 3);
    // The first send waits for an absent server, holding the digest's lock.
    let mut first = Command::new(env!("CARGO_BIN_EXE_gazette"))
        .args(["--config", site.config.to_str().expect("utf-8"), "digest", "send", "daily"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gazette runs");
    std::thread::sleep(Duration::from_millis(1500));
    let second = send(&site);
    assert!(second.code(2).stderr.contains("is being sent by another process"), "{second}");
    let sink = sink(port, &site.root.join("sink"), &[]);
    assert!(first.wait().expect("first send ends").success());
    assert_eq!(sink.recipients(), ALL);
}

#[test]
fn with_a_return_address_each_digest_goes_out_from_its_own_signed_return_path() {
    let port = free_port();
    let site = site(port, 3, 3);
    site.write_config(|config| {
        table(config, "store").insert("dir".into(), "store".into());
        let mail = table(config, "mail");
        mail.insert("url".into(), format!("smtp://127.0.0.1:{port}?tls=none").into());
        let mut returns = toml::Table::new();
        returns.insert("address".into(), "bounces@news.example.gov.cn".into());
        mail.insert("returns".into(), returns.into());
    });
    let sink = sink(port, &site.root.join("sink"), &[]);
    assert!(send(&site).success().stdout.contains("3 sent"));
    let mut senders = Vec::new();
    for raw in sink.messages() {
        let text = String::from_utf8_lossy(&raw).into_owned();
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let sender = head
            .lines()
            .find_map(|l| l.strip_prefix("X-Mail-Args: <"))
            .and_then(|l| l.split('>').next())
            .unwrap_or_else(|| panic!("no MAIL FROM in the dump:\n{head}"))
            .to_owned();
        assert!(sender.starts_with("bounces+d-1-") && sender.ends_with("@news.example.gov.cn"), "{sender}");
        let message = mail_parser::MessageParser::default().parse(&raw).expect("MIME");
        let from = message.from().and_then(|a| a.first()).and_then(|a| a.address()).expect("From");
        assert_ne!(from, sender, "From stays the office's address");
        assert_eq!(message.header_raw("Feedback-ID").map(str::trim), Some("1:daily:digest:gazette"));
        senders.push(sender);
    }
    senders.sort();
    senders.dedup();
    assert_eq!(senders.len(), 3, "one return path per delivery: {senders:?}");
}

/// A message whose gate stays shut once the server has said go ahead (`354`) is not delivered:
/// the connection is dropped before the content's end, and the next message, on a new one,
/// goes as usual.
#[test]
fn a_message_withheld_after_data_leaves_nothing_at_the_server() {
    use gazette::mail::message::Outgoing;
    use gazette::mail::transport::{Gate, Mailer, Permit, SendError};
    let port = free_port();
    let site = site(port, 1, 3);
    let sink = sink(port, &site.root.join("sink"), &[]);
    let config = gazette::config::Config::from_file(&site.config).expect("the site's config");
    let mailer = Mailer::new(&config).expect("the mailer");
    let message = |to: &str| {
        let message = lettre::Message::builder()
            .from("news@fao.example.gov.cn".parse().expect("from"))
            .to(to.parse().expect("to"))
            .subject(format!("for {to}"))
            .body(String::from("A line of content.\r\n"))
            .expect("a message");
        Outgoing::new(format!("{to}.test"), message, None)
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    // Quick: a client that told a server reading content QUIT would wait for an answer that
    // never comes.
    let sent = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(4), async {
            let mut conn = mailer.connection();
            let mut shut = Gate::default();
            shut.permit(|| Permit::Never);
            let withheld = conn.send(&message("withheld@example.org"), &mut shut).await;
            assert!(matches!(withheld, Err(SendError::Withheld(_))), "{withheld:?}");
            conn.send(&message("sent@example.org"), &mut Gate::default()).await.expect("the next message goes");
            conn.close().await;
        })
        .await
    });
    assert!(sent.is_ok(), "the withheld message's connection is dropped at once, not told QUIT");
    sink.wait_for("sent@example.org", "for sent@example.org", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "the withheld message is not at the server");
    assert!(String::from_utf8_lossy(&messages[0]).contains("Subject: for sent@example.org"));
}
