//! Returned mail through `gazette returns process`: digests go out to Postfix's `smtp-sink`
//! with signed return paths, then DSNs, complaints and auto-replies built from the samples in
//! `tests/fixtures/returns/` come back to those paths, as files, an mbox, a Maildir and
//! standard input. Bounces count once, forged ones change nothing, a complaint unsubscribes.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::helpers::{Run, Site, copy_dir, repo, table};
use crate::mailsink::{Sink, free_port, sink};

const RETURNS: &str = "bounces@news.example.gov.cn";

/// The example store, three confirmed subscribers and a digest sent to `smtp-sink`; returns
/// the site, the sink and each subscriber's return path.
fn sent(bounce_limit: u32) -> (Site, Sink, HashMap<String, String>) {
    let port = free_port();
    let site = Site::copy_of(&repo().join("articles"));
    site.write_config(|config| {
        table(config, "store").insert("dir".into(), "store".into());
        let mail = table(config, "mail");
        mail.insert("url".into(), format!("smtp://127.0.0.1:{port}?tls=none").into());
        mail.insert("bounce_limit".into(), i64::from(bounce_limit).into());
        let mut returns = toml::Table::new();
        returns.insert("address".into(), RETURNS.into());
        mail.insert("returns".into(), returns.into());
    });
    copy_dir(&repo().join("templates"), &site.root.join("templates"));
    for (email, lang) in [("li@example.org", "en"), ("wang@example.cn", "zh"), ("ann@example.org", "en")] {
        site.subscribers(&["add", email, "--lang", lang, "--confirmed"]).success();
    }
    site.sql("UPDATE subscribers SET confirmed_at = 0");
    let sink = sink(port, &site.root.join("sink"), &[]);
    assert!(site.run(["digest", "send", "daily"].map(OsStr::new)).success().stdout.contains("3 sent"));
    let paths = sink.return_paths();
    (site, sink, paths)
}

/// The sample `name`, its `To:` (the return path it comes back to) set to `to`, and `edit`
/// applied to the text.
fn sample(name: &str, to: &str, edit: impl FnOnce(String) -> String) -> String {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/returns").join(name)).expect("sample");
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    for line in &mut lines {
        if line.starts_with("To: ") {
            *line = format!("To: {to}\r\n");
            break;
        }
    }
    edit(lines.concat())
}

fn process(site: &Site, files: &[&std::path::Path]) -> Run {
    let mut args = vec![OsStr::new("returns"), OsStr::new("process")];
    args.extend(files.iter().map(|f| f.as_os_str()));
    site.run(args)
}

fn status(site: &Site, email: &str) -> String {
    site.subscription(email).0
}

#[test]
fn a_bounce_to_a_signed_return_path_counts_once_and_a_forged_one_changes_nothing() {
    let (site, _sink, paths) = sent(1);
    let li = &paths["li@example.org"];
    let bounce = site.root.join("li-bounce.eml");
    std::fs::write(&bounce, sample("postfix-failed.eml", li, |t| t)).expect("write");
    let run = process(&site, &[&bounce]);
    assert_eq!(run.success().stdout.trim(), "1 hard bounce", "{run}");
    assert_eq!(status(&site, "li@example.org"), "bounced", "bounce_limit 1: one hard bounce is enough");
    let again = process(&site, &[&bounce]);
    assert_eq!(again.success().stdout.trim(), "1 already handled", "the same message counts once");

    // Forged: another subscriber's number under li's tag, a tag from another key, no token.
    let wang = &paths["wang@example.cn"];
    let wang_id = wang.split('-').nth(2).expect("subscriber number");
    let li_id = li.split('-').nth(2).expect("subscriber number");
    for (i, forged) in [
        li.replacen(&format!("-{li_id}-"), &format!("-{wang_id}-"), 1),
        format!("{}-00000000000000000000@news.example.gov.cn", wang.rsplit_once('-').expect("tag").0),
        RETURNS.to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let file = site.root.join(format!("forged-{i}.eml"));
        std::fs::write(&file, sample("postfix-failed.eml", forged, |t| t)).expect("write");
        assert_eq!(process(&site, &[&file]).success().stdout.trim(), "1 not ours", "{forged}");
    }
    assert_eq!(status(&site, "wang@example.cn"), "confirmed");
    // A genuine return path for a run the subscriber was never sent names nothing either.
    let other_run = wang.replacen("+d-1-", "+d-2-", 1);
    let file = site.root.join("other-run.eml");
    std::fs::write(&file, sample("postfix-failed.eml", &other_run, |t| t)).expect("write");
    assert_eq!(process(&site, &[&file]).success().stdout.trim(), "1 not ours");

    // The next digest skips the bounced subscriber.
    site.sql("UPDATE subscribers SET last_cutoff = 0");
    let next = site.run(["digest", "send", "daily", "--dry-run"].map(OsStr::new));
    assert!(next.success().stdout.contains("of 2 confirmed subscribers"), "{next}");
}

#[test]
fn soft_bounces_count_half_and_complaints_unsubscribe_from_an_mbox_a_maildir_and_stdin() {
    let (site, _sink, paths) = sent(3);
    let (li, wang, ann) = (&paths["li@example.org"], &paths["wang@example.cn"], &paths["ann@example.org"]);
    // An mbox with a delay for wang and an auto-reply from li.
    let mbox = site.root.join("returns.mbox");
    let mut text = String::new();
    for message in [sample("postfix-delayed.eml", wang, |t| t), sample("out-of-office.eml", li, |t| t)] {
        text.push_str("From MAILER-DAEMON Wed Dec  2 08:00:00 2026\n");
        text.push_str(&message.replace("\r\n", "\n"));
        text.push('\n');
    }
    std::fs::write(&mbox, text).expect("mbox");
    let run = process(&site, &[&mbox]);
    assert_eq!(run.success().stdout.trim(), "1 auto-reply, 1 soft bounce", "{run}");
    assert_eq!(status(&site, "wang@example.cn"), "confirmed", "a soft bounce is half a point");
    assert_eq!(status(&site, "li@example.org"), "confirmed");

    // A complaint in a Maildir: it comes to the plain return address, the original names ann.
    let maildir = site.root.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    let complaint = sample("rfc5965-abuse.eml", RETURNS, |t| {
        t.replace("bounces+d-12-345-0123456789abcdef0123@news.example.gov.cn", ann)
    });
    std::fs::write(maildir.join("new/1796188223.1.host"), complaint).expect("write");
    let run = process(&site, &[&maildir]);
    assert_eq!(run.success().stdout.trim(), "1 complaint");
    assert!(run.stderr.contains("complaint rate above 0.1 %"), "one complaint in three is far above it: {run}");
    assert_eq!(status(&site, "ann@example.org"), "unsubscribed");
    let import = site.root.join("back.csv");
    std::fs::write(&import, "email,language,digest\nann@example.org,en,daily\n").expect("csv");
    let kept = site.subscribers(&["import", import.to_str().expect("utf-8"), "--confirmed"]);
    assert!(kept.stdout.contains("left alone"), "{kept}");

    // A pipe transport hands one message on standard input with the envelope recipient.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gazette"))
        .args(["--config", site.config.to_str().expect("utf-8"), "returns", "process", "--recipient", li])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gazette runs");
    let qmail = sample("qmail.eml", RETURNS, |t| t);
    child.stdin.take().expect("stdin").write_all(qmail.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1 hard bounce");

    let list = site.run(["returns", "list"].map(OsStr::new));
    let lines: Vec<&str> = list.success().stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{list}");
    assert!(lines.iter().any(|l| l.contains("\tcomplaint\tan…@example.org\trun 1\t")), "{list}");
    assert!(lines.iter().any(|l| l.contains("\thard\tli…@example.org\trun 1\t5.1.1\t")), "{list}");
    assert!(!list.stdout.contains("li@example.org"), "addresses are shortened");

    let status = site.run(["digest", "status", "1"].map(OsStr::new));
    let text = &status.success().stdout;
    assert!(text.contains("3 sent, 0 with nothing new, 0 failed, 0 pending"), "{status}");
    assert!(text.contains("came back: 1 bounced, 1 soft, 0 unclassified, 1 complaints"), "{status}");
    assert!(text.contains("unsubscribed since: 1"), "{status}");
    assert!(text.contains("complaint rate: 33.333 %"), "{status}");
}

/// Sends `commands` in one write (as a pipelining server may) and reads until `replies` lines
/// that end a reply have come.
fn lmtp(port: u16, commands: &str, replies: usize) -> Vec<String> {
    use std::io::{BufRead as _, BufReader};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut greeting = String::new();
    reader.read_line(&mut greeting).expect("greeting");
    assert!(greeting.starts_with("220 "), "{greeting}");
    (&stream).write_all(commands.as_bytes()).expect("write");
    let mut got = Vec::new();
    while got.iter().filter(|l: &&String| l.as_bytes().get(3) == Some(&b' ')).count() < replies {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 {
            break;
        }
        got.push(line.trim_end().to_owned());
    }
    got.retain(|l| l.as_bytes().get(3) == Some(&b' '));
    got
}

#[test]
fn the_service_takes_returned_mail_over_lmtp_for_return_addresses_only() {
    let sink_port = free_port();
    let lmtp_port = free_port();
    let (site, port) = crate::service::served_site(&format!("smtp://127.0.0.1:{sink_port}?tls=none"), |config| {
        let mail = table(config, "mail");
        mail.insert("bounce_limit".into(), 1.into());
        let mut returns = toml::Table::new();
        returns.insert("address".into(), RETURNS.into());
        returns.insert("listen".into(), format!("127.0.0.1:{lmtp_port}").into());
        returns.insert("max_size".into(), 100_000.into());
        mail.insert("returns".into(), returns.into());
    });
    let sink = sink(sink_port, &site.root.join("sink"), &[]);
    for email in ["li@example.org", "ann@example.org"] {
        site.subscribers(&["add", email, "--lang", "en", "--confirmed"]).success();
    }
    site.sql("UPDATE subscribers SET confirmed_at = 0");
    let _daemon = crate::service::Daemon::start(&site, port, &[]);
    assert!(site.run(["digest", "send", "daily"].map(OsStr::new)).success().stdout.contains("2 sent"));
    let li = sink
        .messages()
        .iter()
        .map(|raw| String::from_utf8_lossy(raw).into_owned())
        .find(|t| t.contains("X-Rcpt-Args: <li@example.org>"))
        .and_then(|t| {
            t.lines().find_map(|l| l.strip_prefix("X-Mail-Args: <").map(|l| l.trim_end_matches('>').to_owned()))
        })
        .expect("li's return path");

    let bounce = sample("postfix-failed.eml", &li, |t| t.replace("\r\n.", "\r\n.."));
    let session = format!(
        "LHLO relay.example.gov.cn\r\nMAIL FROM:<> SIZE={}\r\nRCPT TO:<{li}>\r\nRCPT TO:<someone@example.org>\r\n\
         RCPT TO:<bounces+d-1-1-00000000000000000000@news.example.gov.cn>\r\nDATA\r\n{bounce}.\r\nQUIT\r\n",
        bounce.len()
    );
    let replies = lmtp(lmtp_port, &session, 8);
    let codes: Vec<&str> = replies.iter().map(|l| &l[..3]).collect();
    assert_eq!(codes, ["250", "250", "250", "550", "550", "354", "250", "221"], "{replies:?}");
    assert_eq!(site.subscription("li@example.org").0, "bounced", "committed before the 250");
    assert_eq!(site.subscription("ann@example.org").0, "confirmed");

    // Handed over again (no reply seen, say): acknowledged, counted once.
    let again = lmtp(lmtp_port, &session, 8);
    assert_eq!(again[6].get(..3), Some("250"));
    let list = site.run(["returns", "list"].map(OsStr::new));
    assert_eq!(list.success().stdout.lines().count(), 1, "{list}");

    // Too big for max_size: refused, the session goes on.
    let big = format!("Subject: x\r\n\r\n{}", format!("{}\r\n", "y".repeat(998)).repeat(200));
    let session = format!(
        "LHLO x\r\nMAIL FROM:<> SIZE=200000\r\nMAIL FROM:<>\r\nRCPT TO:<{RETURNS}>\r\nDATA\r\n{big}.\r\nNOOP\r\n"
    );
    let replies = lmtp(lmtp_port, &session, 7);
    let codes: Vec<&str> = replies.iter().map(|l| &l[..3]).collect();
    assert_eq!(codes, ["250", "552", "250", "250", "354", "552", "250"], "{replies:?}");
}
