//! `gazette run` as a process, end to end: the store watched, digests on their schedule, a
//! missed digest caught up or skipped, `kill -9` and SIGTERM in the middle of a run, SIGHUP
//! with a broken config, the systemd notify messages, and the unit file.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use chrono::{DateTime, Timelike as _, Utc};
use gazette::state::RunReport;

use crate::helpers::{Site, repo};
use crate::mailsink::{free_port, sink};
use crate::service::{Daemon, get, served_site};

/// `[[digests]]` in UTC with empty digests sent (every confirmed subscriber gets a message),
/// one per (id, schedule, catch_up).
fn digests(config: &mut toml::Table, list: &[(&str, &str, &str)]) {
    let array: Vec<toml::Value> = list
        .iter()
        .map(|(id, schedule, catch_up)| {
            let mut t = toml::Table::new();
            t.insert("id".into(), (*id).into());
            t.insert("schedule".into(), (*schedule).into());
            t.insert("timezone".into(), "UTC".into());
            t.insert("send_empty".into(), true.into());
            t.insert("catch_up".into(), (*catch_up).into());
            toml::Value::Table(t)
        })
        .collect();
    config.insert("digests".into(), array.into());
}

/// A daily schedule (seconds first) firing at `t`'s time of day.
fn daily_at(t: DateTime<Utc>) -> String {
    format!("{} {} {} * * *", t.second(), t.minute(), t.hour())
}

/// Every digest run with what became of it, by id: runs are numbered from 1 and never deleted.
fn runs(site: &Site) -> Vec<(i64, RunReport)> {
    let count = i64::try_from(site.rows("digest_runs")).expect("a count");
    let state = site.state().get().expect("a connection");
    let report = |id| state.run_report(id).expect("the report").unwrap_or_else(|| panic!("no run {id}"));
    (1..=count).map(|id| (id, report(id))).collect()
}

/// The ids of the finished digest runs.
fn finished_runs(site: &Site) -> Vec<i64> {
    runs(site).into_iter().filter(|(_, r)| r.finished_at.is_some()).map(|(id, _)| id).collect()
}

/// How many runs of `digest` there are.
fn runs_of(site: &Site, digest: &str) -> usize {
    runs(site).iter().filter(|(_, r)| r.digest == digest).count()
}

/// When `job` was last due and whether that run ended well, if it ever ran.
fn job_due(site: &Site, job: &str) -> Option<(i64, bool)> {
    site.state().get().expect("a connection").job_due(job).expect("the job")
}

fn daemon_log_count(site: &Site, needle: &str) -> usize {
    std::fs::read_to_string(site.root.join("daemon.log")).unwrap_or_default().matches(needle).count()
}

fn outbox(site: &Site) -> Vec<String> {
    crate::helpers::files(&site.root.join("outbox"))
}

/// Adds `count` confirmed subscribers (`reader0000@example.org`, …) through the CSV import.
fn readers(site: &Site, count: usize) {
    let mut csv = String::from("email,language,digest\n");
    for i in 0..count {
        csv.push_str(&format!("reader{i:04}@example.org,{},daily\n", if i % 2 == 0 { "en" } else { "zh" }));
    }
    let path = site.root.join("readers.csv");
    std::fs::write(&path, csv).expect("write csv");
    site.subscribers(&["import", path.to_str().expect("utf-8"), "--confirmed"]).success();
}

#[test]
fn an_article_dropped_into_the_store_is_in_the_feeds_and_pages_within_seconds() {
    let (site, port) = served_site("file://outbox", |_| {});
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", Duration::from_secs(20));
    let feed = daemon.send(&get("/feeds/en/atom.xml"));
    assert_eq!(feed.status, 200);
    assert!(!feed.text().contains("Harbin Trade Delegation"));

    let dropped = Instant::now();
    site.write_article(
        "2026/harbin-delegation.en.md",
        "+++\ntitle = \"Harbin Trade Delegation Visits\"\ndate = 2026-11-01T10:00:00+08:00\nsectors = [\"trade\"]\n+++\nA delegation from Harbin met exporters.\n",
    );
    // Feeds are replaced one file at a time: wait for the last of those it goes into.
    daemon.wait("the new article in the feeds", Duration::from_secs(10), || {
        ["/feeds/en/atom.xml", "/feeds/en/trade/rss.xml"]
            .iter()
            .all(|feed| daemon.send(&get(feed)).text().contains("Harbin Trade Delegation Visits"))
    });
    eprintln!("a dropped article was in the served feeds after {:?}", dropped.elapsed());
    // The pages follow once the build hands over its catalog, a moment after the last feed.
    daemon.wait("the article's page", Duration::from_secs(5), || {
        daemon.send(&get("/en/articles/harbin-delegation/")).status == 200
    });
    let page = daemon.send(&get("/en/articles/harbin-delegation/"));
    assert!(page.text().contains("<h1>Harbin Trade Delegation Visits</h1>"), "{}", page.text());
    assert!(daemon.send(&get("/en/")).text().contains("/en/articles/harbin-delegation/"));
}

#[test]
fn a_digest_fires_at_its_scheduled_time_and_a_reload_mid_run_does_not_double_it() {
    let (site, port) = served_site("file://outbox", |config| {
        // Every 2 seconds, while a run of 12 messages at 4 a second takes 3: the next time
        // comes while a run is still going.
        digests(config, &[("daily", "*/2 * * * * *", "6h")]);
        crate::helpers::table(config, "mail").insert("rate".into(), 4.into());
    });
    readers(&site, 12);
    let mut daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("digest run started", Duration::from_secs(10));
    // A reload starts the schedules again; the new one's time comes while the run goes on.
    daemon.signal("HUP");
    daemon.wait_log("the previous run is still going: this one is not started", Duration::from_secs(10));
    daemon.wait("two finished runs", Duration::from_secs(30), || finished_runs(&site).len() >= 2);
    let (status, _) = daemon.terminate(Duration::from_secs(10));
    assert!(status.success());

    // One message per subscriber per finished run, each with its own Message-ID.
    for id in finished_runs(&site) {
        let sent = outbox(&site).iter().filter(|f| f.starts_with(&format!("gazette.daily.{id}."))).count();
        assert_eq!(sent, 12, "run {id}");
    }
    let (due, _) = job_due(&site, "digest:daily").expect("the job is recorded");
    assert!(due % 2 == 0, "the job's due time is a scheduled time ({due})");
}

#[test]
fn a_digest_missed_while_down_is_caught_up_within_its_window_and_skipped_when_older() {
    let now = Utc::now();
    let an_hour_ago = now - chrono::Duration::hours(1);
    let schedule = daily_at(an_hour_ago);
    let (site, port) = served_site("file://outbox", |config| {
        digests(config, &[("daily", &schedule, "2h"), ("weekly", &schedule, "30min")]);
    });
    site.subscribers(&["add", "li@example.org", "--lang", "en", "--digest", "daily", "--confirmed"]).success();
    site.subscribers(&["add", "ann@example.org", "--lang", "en", "--digest", "weekly", "--confirmed"]).success();
    // Both last ran a day before the time they missed.
    let last = (an_hour_ago - chrono::Duration::days(1)).timestamp();
    site.sql(&format!(
        "INSERT INTO jobs (job, due_at, started_at, finished_at, outcome) VALUES
         ('digest:daily', {last}, {last}, {last}, 'ok'), ('digest:weekly', {last}, {last}, {last}, 'ok')"
    ));
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait("the caught-up digest", Duration::from_secs(20), || {
        outbox(&site).iter().any(|f| f.starts_with("gazette.daily."))
    });
    daemon.wait_log("older than the catch-up window: skipped", Duration::from_secs(10));
    daemon.wait_log("a run was due while gazette was down: sending it now", Duration::from_secs(1));
    assert_eq!(runs_of(&site, "weekly"), 0);
    assert!(!outbox(&site).iter().any(|f| f.starts_with("gazette.weekly.")));
    assert_eq!(job_due(&site, "digest:daily").map(|(due, _)| due), Some(an_hour_ago.timestamp()));
    let port = daemon.port;
    drop(daemon);

    // Started again: the caught-up run is recorded, so nothing is sent twice.
    let scheduled = daemon_log_count(&site, "next digest run");
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait("both digests scheduled", Duration::from_secs(20), || {
        daemon_log_count(&site, "next digest run") >= scheduled + 2
    });
    assert_eq!(runs_of(&site, "daily"), 1, "{}", daemon.log());
}

#[test]
fn a_run_that_started_but_never_ended_is_sent_at_the_next_start() {
    // Killed after the job was marked started, before its run was opened: no run to resume,
    // and the schedule's next time is tomorrow. The job's record says it never ended.
    let due = Utc::now() - chrono::Duration::minutes(30);
    let (site, port) = served_site("file://outbox", |config| {
        digests(config, &[("daily", &daily_at(due), "2h")]);
    });
    site.subscribers(&["add", "li@example.org", "--lang", "en", "--confirmed"]).success();
    let due = due.timestamp();
    site.sql(&format!(
        "INSERT INTO jobs (job, due_at, started_at, finished_at, outcome) VALUES ('digest:daily', {due}, {due}, NULL, NULL)"
    ));
    let daemon = Daemon::start(&site, port, &[]);
    let sent = || outbox(&site).iter().any(|f| f.starts_with("gazette.daily."));
    let started = Instant::now();
    while !sent() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the digest that never ended was not sent:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon.wait("the job recorded as done", Duration::from_secs(10), || {
        job_due(&site, "digest:daily").is_some_and(|(_, ended_well)| ended_well)
    });
}

#[test]
fn the_deliveries_of_digest_runs_older_than_state_keep_runs_are_deleted_and_the_runs_stay() {
    let (site, port) = served_site("file://outbox", |_| {});
    site.subscribers(&["add", "li@example.org", "--lang", "en", "--confirmed"]).success();
    for _ in 0..2 {
        site.run(["digest", "send", "daily"].map(std::ffi::OsStr::new)).success();
    }
    // Both finished long ago (the default keeps 90 days).
    site.sql("UPDATE digest_runs SET finished_at = 1000");
    assert_eq!(site.rows("deliveries"), 2);
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("old digest runs pruned", Duration::from_secs(20));
    assert!(daemon.log().contains("runs=2 deliveries=2"), "{}", daemon.log());
    // Who was sent what is gone; the runs, past digests with web copies, stay.
    assert_eq!(site.rows("deliveries"), 0);
    assert_eq!(site.rows("digest_runs"), 2);
}

/// A site whose digest goes out when the daemon starts, to 400 readers at 100 a second, over
/// SMTP to a sink on `mail_port`.
fn slow_run_site(mail_port: u16) -> (Site, u16) {
    // Due a minute ago, last run a day before: the run goes out as soon as the daemon starts,
    // however long that takes on a busy machine.
    let due = Utc::now() - chrono::Duration::minutes(1);
    let (site, port) = served_site(&format!("smtp://127.0.0.1:{mail_port}?tls=none"), |config| {
        digests(config, &[("daily", &daily_at(due), "6h")]);
        crate::helpers::table(config, "mail").insert("rate".into(), 100.into());
    });
    readers(&site, 400);
    let last = (due - chrono::Duration::days(1)).timestamp();
    site.sql(&format!(
        "INSERT INTO jobs (job, due_at, started_at, finished_at, outcome) VALUES ('digest:daily', {last}, {last}, {last}, 'ok')"
    ));
    (site, port)
}

fn wait_for_finished_run(site: &Site, daemon: &Daemon) {
    daemon.wait("the resumed run to finish", Duration::from_secs(30), || finished_runs(site).len() == 1);
}

#[test]
fn killed_mid_digest_and_started_again_the_run_finishes_with_no_duplicate_and_no_gap() {
    // The sink listens first: its port is taken at once, not after the site is made.
    let (mail_port, dumps) = (free_port(), tempfile::tempdir().expect("temp dir"));
    let sink = sink(mail_port, dumps.path(), &[]);
    let (site, port) = slow_run_site(mail_port);
    let mut daemon = Daemon::start(&site, port, &[]);
    daemon.wait("100 messages", Duration::from_secs(30), || crate::helpers::files(&sink.dump).len() >= 100);
    let port = daemon.port;
    daemon.kill(); // kill -9, mid-run
    let before = crate::helpers::files(&sink.dump).len();
    assert!(before < 400, "killed before the run finished ({before})");

    let daemon = Daemon::start(&site, port, &[]);
    wait_for_finished_run(&site, &daemon);
    assert!(daemon.log().contains("resuming the interrupted digest run"), "{}", daemon.log());
    let recipients = sink.recipients();
    let mut unique = recipients.clone();
    unique.dedup();
    assert_eq!(unique.len(), 400, "nobody is skipped");
    assert!(recipients.len() <= 400 + 4, "at most one duplicate per connection: {}", recipients.len());
    assert_eq!(site.rows("digest_runs"), 1, "the run was resumed, not started again");
}

#[test]
fn sigterm_mid_digest_exits_0_within_10_seconds_having_recorded_every_message_sent() {
    // The sink listens first: its port is taken at once, not after the site is made.
    let (mail_port, dumps) = (free_port(), tempfile::tempdir().expect("temp dir"));
    let sink = sink(mail_port, dumps.path(), &[]);
    let (site, port) = slow_run_site(mail_port);
    let mut daemon = Daemon::start(&site, port, &[]);
    daemon.wait("50 messages", Duration::from_secs(30), || crate::helpers::files(&sink.dump).len() >= 50);
    let port = daemon.port;
    let (status, took) = daemon.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
    eprintln!("SIGTERM mid-run: exited in {took:?}");
    let log = std::fs::read_to_string(&daemon.log).expect("log");
    assert!(log.contains("SIGTERM: stopping") && log.contains("stopped"), "{log}");
    let sent: i64 = runs(&site).iter().map(|(_, r)| r.delivered("sent")).sum();
    assert!(sent < 400, "stopped mid-run");
    assert_eq!(sent as usize, sink.recipients().len(), "every message sent was recorded, and no other");

    let daemon = Daemon::start(&site, port, &[]);
    wait_for_finished_run(&site, &daemon);
    drop(daemon);
    let recipients = sink.recipients();
    let mut unique = recipients.clone();
    unique.dedup();
    assert_eq!((unique.len(), recipients.len()), (400, 400), "after a clean stop: no gap and no duplicate");
}

#[test]
fn sighup_with_a_broken_config_keeps_the_old_one_and_a_good_one_is_taken() {
    let (site, port) = served_site("file://outbox", |_| {});
    let daemon = Daemon::start(&site, port, &[]);
    let good = std::fs::read_to_string(&site.config).expect("config");
    std::fs::write(&site.config, good.replace("[site]", "[site]\nbogus_key = 1")).expect("write");
    daemon.signal("HUP");
    daemon.wait_log("the new config is not valid; still running on the old one", Duration::from_secs(10));
    assert!(daemon.log().contains("bogus_key"), "the log says what is wrong:\n{}", daemon.log());
    assert_eq!(daemon.ops_send(&get("/healthz")).status, 200);
    assert!(daemon.send(&get("/en/")).text().contains("Shenyang Foreign Affairs Office News"));

    std::fs::write(&site.config, good.replace("Shenyang Foreign Affairs Office News", "Shenyang FAO Bulletin"))
        .expect("write");
    daemon.signal("HUP");
    daemon.wait_log("config and templates reloaded", Duration::from_secs(10));
    let page = daemon.send(&get("/en/")).text();
    assert!(page.contains("<title>Shenyang FAO Bulletin</title>"), "{page}");
    daemon.wait("the feeds rebuilt with the new title", Duration::from_secs(10), || {
        daemon.send(&get("/feeds/en/atom.xml")).text().contains("<title>Shenyang FAO Bulletin</title>")
    });
}

#[test]
fn systemd_hears_ready_watchdog_reloading_and_stopping_on_the_notify_socket() {
    let (site, port) = served_site("file://outbox", |_| {});
    let socket_path = site.root.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notify socket");
    socket.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let path = socket_path.to_str().expect("utf-8").to_owned();
    let mut daemon = Daemon::start(&site, port, &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "1000000")]);
    let mut heard = String::new();
    let mut listen = |until: &str, limit: Duration| {
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        while !heard.contains(until) {
            assert!(started.elapsed() < limit, "'{until}' not heard within {limit:?}; heard:\n{heard}");
            if let Ok(n) = socket.recv(&mut buf) {
                heard.push_str(&String::from_utf8_lossy(&buf[..n]));
                heard.push_str("--\n");
            }
        }
    };
    listen("READY=1", Duration::from_secs(5));
    listen("WATCHDOG=1", Duration::from_secs(5));
    daemon.signal("HUP");
    listen("RELOADING=1", Duration::from_secs(5));
    listen("MONOTONIC_USEC=", Duration::from_secs(1));
    let (status, _) = daemon.terminate(Duration::from_secs(10));
    assert!(status.success());
    listen("STOPPING=1", Duration::from_secs(1));
    assert!(heard.contains(&format!("STATUS=serving on http://127.0.0.1:{}", daemon.port)), "{heard}");
    let ready_after_reload = heard.split("RELOADING=1").nth(1).is_some_and(|rest| rest.contains("READY=1"));
    assert!(ready_after_reload, "READY=1 follows a reload:\n{heard}");
}

#[test]
fn the_unit_file_verifies_with_systemd_analyze() {
    let unit = std::fs::read_to_string(repo().join("deploy/gazette.service")).expect("deploy/gazette.service");
    for needed in ["Type=notify", "WatchdogSec=", "Restart=on-failure", "User=gazette", "StateDirectory=gazette"] {
        assert!(unit.contains(needed), "the unit has {needed}");
    }
    for hardening in ["ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "ReadWritePaths="] {
        assert!(unit.contains(hardening), "the unit has {hardening}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    // The unit names the installed binary; verify it against the one just built.
    let local = unit.replace("/usr/bin/gazette", env!("CARGO_BIN_EXE_gazette"));
    let path = dir.path().join("gazette.service");
    std::fs::write(&path, local).expect("write unit");
    let output = std::process::Command::new("systemd-analyze")
        // Documentation= names the man pages the package installs (tests/it/package.rs), not
        // installed on this machine.
        .args(["verify", "--man=no", path.to_str().expect("utf-8")])
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze runs (scripts/test installs systemd)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "systemd-analyze verify failed:\n{stderr}");
    let own: Vec<&str> = stderr.lines().filter(|l| l.contains("gazette.service")).collect();
    assert!(own.is_empty(), "warnings about the unit:\n{stderr}");
}
