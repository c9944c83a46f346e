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
    let mut paths = HashMap::new();
    for raw in sink.messages() {
        let text = String::from_utf8_lossy(&raw).into_owned();
        let arg = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|l| l.trim().strip_prefix('<'))
                .and_then(|l| l.split('>').next())
                .expect("smtp-sink records the envelope")
                .to_owned()
        };
        paths.insert(arg("X-Rcpt-Args:"), arg("X-Mail-Args:"));
    }
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
    assert_eq!(process(&site, &[&maildir]).success().stdout.trim(), "1 complaint");
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
}
