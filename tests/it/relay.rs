//! Digests through a real Postfix relay ([`crate::postfix`]): gazette submits over STARTTLS
//! with a private CA and SMTP AUTH; the relay hands mail to a next hop that refuses or defers
//! some recipients, writes the DSNs itself and delivers them to gazette's LMTP listener through
//! its transport map. Complaints and forged bounces come the same way; a `kill -9` of gazette
//! while the relay delivers loses nothing and counts nothing twice.

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{Run, Site, gazette_with, repo, table};
use crate::mailsink::{Sink, free_port, sink};
use crate::postfix::{PASSWORD, Postfix, USER};
use crate::service::{Daemon, served_site};

const RETURNS: &str = "bounces@news.example.gov.cn";

/// What the next hop says to the refused and the deferred.
fn refused(address: &str) -> (String, String) {
    (address.to_owned(), format!("550 5.1.1 <{address}>: Recipient address rejected: User unknown"))
}
fn deferred(address: &str) -> (String, String) {
    (address.to_owned(), format!("450 4.2.0 <{address}>: Recipient address rejected: Mailbox busy"))
}

/// A relay in front of a next hop (a Postfix answering `replies`, or none) in front of
/// `smtp-sink`, and a site mailing through the relay's submission port as [`USER`], trusting
/// its CA, with returned mail over LMTP and `mail.bounce_limit = 1`; `subscribers` confirmed.
/// A failing test prints every log.
struct World {
    site: Site,
    /// The site's HTTP port.
    port: u16,
    relay: Postfix,
    next_hop: Option<Postfix>,
    /// The last hop.
    sink: Sink,
}

impl World {
    fn new(replies: Option<&[(String, String)]>, relay_extra: &[&str], subscribers: &[&str]) -> World {
        let (sink_port, lmtp) = (free_port(), free_port());
        let next_hop = replies.map(|replies| Postfix::next_hop(sink_port, replies));
        let relay = Postfix::relay(next_hop.as_ref().map_or(sink_port, |n| n.smtp_port), lmtp, relay_extra);
        let sink = sink(sink_port, &relay.root.join("sink"), &[]);
        let url = format!("smtp://{USER}@127.0.0.1:{}?tls=starttls", relay.submission_port);
        let (site, port) = served_site(&url, |config| {
            let mail = table(config, "mail");
            mail.insert("ca_file".into(), relay.ca().to_str().expect("utf-8").into());
            mail.insert("bounce_limit".into(), 1.into());
            let mut returns = toml::Table::new();
            returns.insert("address".into(), RETURNS.into());
            returns.insert("listen".into(), format!("127.0.0.1:{lmtp}").into());
            mail.insert("returns".into(), returns.into());
        });
        let csv: String = subscribers.iter().map(|email| format!("{email},en,daily\n")).collect();
        let file = site.root.join("subscribers.csv");
        std::fs::write(&file, format!("email,language,digest\n{csv}")).expect("csv");
        site.subscribers(&["import", file.to_str().expect("utf-8"), "--confirmed"]).success();
        site.sql("UPDATE subscribers SET confirmed_at = 0");
        World { site, port, relay, next_hop, sink }
    }

    /// `gazette run` with the SMTP password.
    fn start(&self) -> Daemon {
        Daemon::start(&self.site, self.port, &[("GAZETTE_SMTP_PASSWORD", PASSWORD)])
    }

    /// Waits up to `limit` for `done`; on timeout fails (and the logs are printed).
    #[track_caller]
    fn wait(&self, what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn status(&self, email: &str) -> String {
        self.site.subscription(email).0
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let daemon = std::fs::read_to_string(self.site.root.join("daemon.log")).unwrap_or_default();
            eprintln!("--- relay maillog\n{}", self.relay.maillog());
            if let Some(next_hop) = &self.next_hop {
                eprintln!("--- next hop maillog\n{}", next_hop.maillog());
            }
            eprintln!("--- gazette run\n{daemon}");
        }
    }
}

/// Sets `mail.url` and `mail.ca_file` in the site's config.
fn mail_settings(site: &Site, url: &str, ca_file: &std::path::Path) {
    let text = std::fs::read_to_string(&site.config).expect("config");
    let mut config: toml::Table = toml::from_str(&text).expect("config is TOML");
    let mail = table(&mut config, "mail");
    mail.insert("url".into(), url.into());
    mail.insert("ca_file".into(), ca_file.to_str().expect("utf-8").into());
    std::fs::write(&site.config, toml::to_string(&config).expect("TOML")).expect("config");
}

/// `gazette digest send daily [--dry-run]` with `password` in `GAZETTE_SMTP_PASSWORD`.
fn send(site: &Site, password: &str, extra: &[&str]) -> Run {
    let mut args = vec![OsStr::new("--config"), site.config.as_os_str(), "digest".as_ref(), "send".as_ref()];
    args.push("daily".as_ref());
    args.extend(extra.iter().map(OsStr::new));
    gazette_with(&args, &[("GAZETTE_SMTP_PASSWORD", password)])
}

/// `gazette returns list`, one line a returned message.
fn returns(site: &Site) -> Vec<String> {
    site.run(["returns", "list"].map(OsStr::new)).success().stdout.lines().map(str::to_owned).collect()
}

/// How many returned messages the state has recorded (counted, not listed: cheap enough to poll).
fn returns_recorded(site: &Site) -> u64 {
    site.rows("returns")
}

/// Hands `message` to the relay's plain port (as a receiving ISP or a forger would) from
/// `from` to `to`; returns the reply to the final `.`.
fn submit(port: u16, from: &str, to: &str, message: &str) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the relay");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut reply = || {
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).expect("a reply");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_owned();
            }
        }
    };
    let greeting = reply();
    assert!(greeting.starts_with("220"), "{greeting}");
    let mut say = |command: &str| {
        (&stream).write_all(command.as_bytes()).expect("write");
        reply()
    };
    for command in
        ["EHLO mail.example.net\r\n".to_owned(), format!("MAIL FROM:<{from}>\r\n"), format!("RCPT TO:<{to}>\r\n")]
    {
        let answer = say(&command);
        assert!(answer.starts_with("250"), "{command}: {answer}");
    }
    assert!(say("DATA\r\n").starts_with("354"));
    let mut body = message.replace("\r\n", "\n").replace('\n', "\r\n");
    body = body.replace("\r\n.", "\r\n..");
    if !body.ends_with("\r\n") {
        body.push_str("\r\n");
    }
    let answer = say(&format!("{body}.\r\n"));
    say("QUIT\r\n");
    answer
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/returns").join(name)).expect("sample")
}

const ALL: [&str; 3] = ["ann@example.org", "li@example.org", "wang@example.cn"];

#[test]
fn digests_go_through_a_relay_over_starttls_with_auth_and_bad_credentials_or_certificates_stop_the_run() {
    let started = Instant::now();
    let world = World::new(None, &[], &ALL);
    let (site, relay) = (&world.site, &world.relay);
    let good = format!("smtp://{USER}@127.0.0.1:{}?tls=starttls", relay.submission_port);
    let misnamed = format!("smtp://{USER}@127.0.0.1:{}?tls=starttls", relay.misnamed_port);

    for (what, url, ca, password) in [
        ("a wrong password", &good, relay.ca(), "not-the-password"),
        ("an unknown CA", &good, relay.other_ca(), PASSWORD),
        ("a certificate for another name", &misnamed, relay.ca(), PASSWORD),
    ] {
        mail_settings(site, url, &ca);
        let run = send(site, password, &[]);
        assert_ne!(run.code, Some(0), "{what} stops the run:\n{run}");
        assert!(run.stderr.contains("refuses to send for gazette"), "{what}:\n{run}");
        let list = site.subscribers(&["list"]);
        assert_eq!(list.success().stdout.matches("\tconfirmed").count(), 3, "{what}: nobody is bounced\n{list}");
        let report = site.run(["digest", "status", "1"].map(OsStr::new));
        assert!(
            report.success().stdout.contains("0 sent, 0 with nothing new, 0 failed, 3 pending"),
            "{what}:\n{report}"
        );
    }
    assert!(relay.maillog().contains("SASL PLAIN authentication failed"), "the relay saw the wrong password");

    mail_settings(site, &good, &relay.ca());
    let run = send(site, PASSWORD, &[]);
    assert!(run.success().stdout.contains("(resumed): 3 sent"), "{run}");
    world.wait("the relay forwards the three digests", Duration::from_secs(20), || world.sink.messages().len() == 3);
    assert_eq!(world.sink.recipients(), ALL);
    for raw in world.sink.messages() {
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("with ESMTPSA"), "the relay took it over TLS with AUTH:\n{text}");
    }
    assert!(relay.maillog().contains(&format!("sasl_username={USER}@relay.example.test")));
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn refusals_after_the_relay_come_back_as_its_dsns_over_lmtp_and_bounce_only_the_refused() {
    let started = Instant::now();
    let (gone, busy) = (["gone@absent1.example.org", "gone@absent2.example.org"], "slow@busy.example.org");
    let replies = [refused(gone[0]), refused(gone[1]), deferred(busy)];
    let world = World::new(Some(&replies), &[], &["li@example.org", "ann@example.org", gone[0], gone[1], busy]);
    let site = &world.site;
    let _daemon = world.start();
    assert!(send(site, PASSWORD, &[]).success().stdout.contains("5 sent"), "the relay takes all five");

    world
        .wait("the refused are bounced", Duration::from_secs(20), || gone.iter().all(|g| world.status(g) == "bounced"));
    // The deferred one expires after maximal_queue_lifetime (10 s) and comes back as failed 4.x.x.
    world.wait("the deferred one comes back", Duration::from_secs(40), || returns(site).len() == 3);
    let list = returns(site);
    for g in gone {
        let short = format!("go…@{}", g.split_once('@').expect("@").1);
        assert!(list.iter().any(|l| l.contains(&format!("\thard\t{short}\trun 1\t5.1.1\t"))), "{list:#?}");
    }
    assert!(list.iter().any(|l| l.contains("\tsoft\tsl…@busy.example.org\trun 1\t4.2.0\t")), "{list:#?}");
    assert_eq!(world.status(busy), "confirmed", "a soft bounce is half a point");
    assert_eq!(world.status("li@example.org"), "confirmed");
    assert_eq!(world.status("ann@example.org"), "confirmed");
    world.wait("the delivered reach the last hop", Duration::from_secs(10), || world.sink.messages().len() == 2);
    assert_eq!(world.sink.recipients(), ["ann@example.org", "li@example.org"]);
    let report = site.run(["digest", "status", "1"].map(OsStr::new));
    assert!(report.success().stdout.contains("came back: 2 bounced, 1 soft, 0 unclassified, 0 complaints"), "{report}");

    site.sql("UPDATE subscribers SET last_cutoff = 0");
    let next = send(site, PASSWORD, &["--dry-run"]);
    assert!(next.success().stdout.contains("of 3 confirmed subscribers"), "the bounced are skipped:\n{next}");
    eprintln!("took {:?}", started.elapsed());
}

/// A world with li and ann, a digest sent to both through the relay, and li's return path.
fn sent_to_li_and_ann() -> (World, Daemon, String) {
    let world = World::new(None, &[], &["li@example.org", "ann@example.org"]);
    let daemon = world.start();
    assert!(send(&world.site, PASSWORD, &[]).success().stdout.contains("2 sent"));
    world.wait("the digests reach the last hop", Duration::from_secs(20), || world.sink.messages().len() == 2);
    let li = world.sink.return_paths().remove("li@example.org").expect("li's return path");
    (world, daemon, li)
}

#[test]
fn a_complaint_through_the_relay_unsubscribes_before_the_next_digest() {
    let started = Instant::now();
    let (world, _daemon, li) = sent_to_li_and_ann();
    let site = &world.site;
    let report =
        fixture_text("rfc5965-abuse.eml").replace("bounces+d-12-345-0123456789abcdef0123@news.example.gov.cn", &li);
    let answer = submit(world.relay.smtp_port, "abusedesk@feedback.example.net", RETURNS, &report);
    assert!(answer.starts_with("250"), "{answer}");
    world.wait("the complaint unsubscribes li", Duration::from_secs(20), || {
        world.status("li@example.org") == "unsubscribed"
    });
    assert_eq!(world.status("ann@example.org"), "confirmed");
    let list = returns(site);
    assert_eq!(list.len(), 1, "{list:#?}");
    assert!(list[0].contains("\tcomplaint\tli…@example.org\trun 1\t"), "{list:#?}");

    site.sql("UPDATE subscribers SET last_cutoff = 0");
    let next = send(site, PASSWORD, &["--dry-run"]);
    assert!(next.success().stdout.contains("of 1 confirmed subscribers"), "{next}");
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn a_forged_bounce_through_the_relay_is_refused_at_rcpt_and_changes_nothing() {
    let started = Instant::now();
    let (world, _daemon, li) = sent_to_li_and_ann();
    // A bad tag, and a genuine tag moved to a run li was never sent.
    let (untagged, _) = li.rsplit_once('-').expect("a tag");
    let forged = [format!("{untagged}-00000000000000000000@news.example.gov.cn"), li.replacen("+d-1-", "+d-2-", 1)];
    for address in &forged {
        let bounce = fixture_text("postfix-failed.eml")
            .lines()
            .map(|l| if l.starts_with("To: ") { format!("To: {address}") } else { l.to_owned() })
            .collect::<Vec<_>>()
            .join("\n");
        let answer = submit(world.relay.smtp_port, "", address, &bounce);
        assert!(answer.starts_with("250"), "the relay takes it for the return domain: {answer}");
    }
    world.wait("gazette refuses both at RCPT and the relay drops them", Duration::from_secs(20), || {
        let log = world.relay.maillog();
        forged.iter().all(|a| {
            log.lines().any(|l| l.contains(&format!("to=<{a}>")) && l.contains("status=bounced") && l.contains(" 550"))
        })
    });
    assert_eq!(world.status("li@example.org"), "confirmed");
    assert_eq!(world.status("ann@example.org"), "confirmed");
    assert_eq!(returns(&world.site), Vec::<String>::new(), "nothing recorded");
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn killing_gazette_while_the_relay_delivers_dsns_loses_none_and_counts_none_twice() {
    let started = Instant::now();
    let gone: Vec<String> = (1..=30).map(|i| format!("gone@absent{i:02}.example.org")).collect();
    let replies: Vec<(String, String)> = gone.iter().map(|g| refused(g)).collect();
    let mut everyone: Vec<&str> = gone.iter().map(String::as_str).collect();
    everyone.push("li@example.org");
    // One DSN a second, so that the kill lands mid-delivery. (Postfix 3.7 takes no rate delay
    // below a second: `200ms` reads as 200 minutes.)
    let world = World::new(Some(&replies), &["lmtp_destination_rate_delay = 1s"], &everyone);
    let site = &world.site;
    let mut daemon = world.start();
    assert!(send(site, PASSWORD, &[]).success().stdout.contains("31 sent"));

    world.wait("the first DSNs arrive", Duration::from_secs(20), || returns_recorded(site) >= 2);
    daemon.kill();
    let before = returns_recorded(site);
    assert!(before < 30, "killed mid-delivery ({before} of 30 recorded)");
    std::thread::sleep(Duration::from_secs(1));
    let _daemon = world.start();
    world.wait("every refused subscriber is bounced", Duration::from_secs(40), || returns_recorded(site) >= 30);
    // The relay retried what was not acknowledged; anything it hands over again counts once.
    std::thread::sleep(Duration::from_secs(2));
    let list = returns(site);
    assert_eq!(list.len(), 30, "{list:#?}");
    let mut whom: Vec<&str> = list.iter().map(|l| l.split('\t').nth(2).expect("a subscriber")).collect();
    whom.sort_unstable();
    whom.dedup();
    assert_eq!(whom.len(), 30, "one line per refused subscriber, none twice: {list:#?}");
    for g in &gone {
        assert_eq!(world.status(g), "bounced", "{g}");
    }
    assert_eq!(world.status("li@example.org"), "confirmed");
    eprintln!("took {:?} ({before} recorded before the kill)", started.elapsed());
}
