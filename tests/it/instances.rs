//! Several `gazette run` instances on one PostgreSQL database, a server of each test's own
//! (`initdb` into a temporary folder, a loopback port): one digest run sent together, with one
//! instance killed and another stopped midway; schedules run once whether the instances were
//! up or all down; the sign-up limit held across instances; the database restarted mid-run;
//! the same feeds from each; `gazette state copy` from SQLite; a database that cannot be
//! reached named at start. What the database holds is read through gazette's own interface.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};

use crate::helpers::{Site, table};
use crate::mailsink::{Sink, free_port, sink};
use crate::postgres::PgServer;
use crate::service::{Daemon, get, post_form, served_site};

/// The token key every instance signs links with (an operator gives them one key).
const SECRET: (&str, &str) = ("GAZETTE_TOKEN_SECRET", "0123456789abcdef0123456789abcdef0123456789abcdef");

/// A site on a new database of `server`, mailing to a sink on `mail_port`, with `edit`
/// applied to its config; its instances get configs of their own ([`instance`]).
fn pg_site(server: &PgServer, mail_port: u16, edit: impl FnOnce(&mut toml::Table)) -> Site {
    let url = server.create_database("gazette");
    let (site, _) = served_site(&format!("smtp://127.0.0.1:{mail_port}?tls=none"), |config| {
        table(config, "state").insert("url".into(), url.into());
        // Short, so the test sees a dead instance's deliveries taken over soon.
        table(config, "state").insert("lease".into(), "6s".into());
        edit(config);
    });
    site
}

/// Instance `n` of `site`: its config (its own ports, feed folder and index; the store, the
/// state and the token key shared), started.
fn instance(site: &Site, n: usize) -> Daemon {
    let (config, port) = instance_config(site, n);
    Daemon::start_as(&config, &site.root.join(format!("instance-{n}.log")), port, &[SECRET])
}

fn instance_config(site: &Site, n: usize) -> (PathBuf, u16) {
    let port = free_port();
    let mut config: toml::Table =
        toml::from_str(&std::fs::read_to_string(&site.config).expect("config")).expect("toml");
    table(&mut config, "http").insert("listen".into(), format!("127.0.0.1:{port}").into());
    table(&mut config, "http").insert("ops_listen".into(), format!("127.0.0.1:{}", free_port()).into());
    table(&mut config, "feeds").insert("dir".into(), format!("out-{n}").into());
    table(&mut config, "store").insert("index".into(), format!(".cache/index-{n}").into());
    let path = site.root.join(format!("instance-{n}.toml"));
    std::fs::write(&path, toml::to_string(&config).expect("toml")).expect("write config");
    (path, port)
}

/// `[[digests]]` `daily`, due every day at `due`'s time of day (UTC), sent even with nothing
/// new (this is about who gets a message, not what is in it).
fn daily_at(config: &mut toml::Table, due: DateTime<Utc>) {
    let mut digest = toml::Table::new();
    digest.insert("id".into(), "daily".into());
    digest.insert("schedule".into(), format!("{} {} {} * * *", due.second(), due.minute(), due.hour()).into());
    digest.insert("timezone".into(), "UTC".into());
    digest.insert("send_empty".into(), true.into());
    digest.insert("catch_up".into(), "6h".into());
    config.insert("digests".into(), toml::Value::Array(vec![toml::Value::Table(digest)]));
}

/// `count` confirmed readers, imported with the command line.
fn readers(site: &Site, count: usize) {
    let mut csv = String::from("email,language,digest\n");
    for i in 0..count {
        csv.push_str(&format!("reader{i:05}@example.org,{},daily\n", ["en", "zh", "ru"][i % 3]));
    }
    let path = site.root.join("readers.csv");
    std::fs::write(&path, csv).expect("write csv");
    site.subscribers(&["import", path.to_str().expect("utf-8"), "--confirmed"]).success();
}

/// Records that digest `daily` last ran at `at`, so a start owes the run due since.
fn last_ran(site: &Site, at: i64) {
    let db = site.state();
    let mut state = db.get().expect("a connection");
    state.job_started("digest:daily", at, at, Some("ok")).expect("recorded");
}

fn messages_in(sink: &Sink) -> usize {
    crate::helpers::files(&sink.dump).len()
}

/// The run `run` as the database has it: (finished, deliveries by status).
fn run_state(site: &Site, run: i64) -> Option<(bool, gazette::state::RunReport)> {
    let db = site.state();
    let state = db.get().expect("a connection");
    state.run_report(run).expect("the report").map(|r| (r.finished_at.is_some(), r))
}

/// A site on `server` whose digest a start owes (due a minute ago, last sent a day before that)
/// to `count` readers at `rate` messages a second, with the sink it mails to.
fn owed_run(server: &PgServer, count: usize, rate: u32) -> (Site, Sink, tempfile::TempDir) {
    let (mail_port, dumps) = (free_port(), tempfile::tempdir().expect("temp dir"));
    let sink = sink(mail_port, dumps.path(), &[]);
    let due = Utc::now() - chrono::Duration::minutes(1);
    let site = pg_site(server, mail_port, |config| {
        daily_at(config, due);
        table(config, "mail").insert("rate".into(), rate.into());
    });
    readers(&site, count);
    last_ran(&site, (due - chrono::Duration::days(1)).timestamp());
    (site, sink, dumps)
}

#[test]
fn three_instances_send_one_run_and_when_one_is_killed_and_one_stopped_the_third_finishes_it() {
    const READERS: usize = 30_000;
    let server = PgServer::start();
    // Each instance owes the run as it starts; the rate is for the three together.
    let (site, sink, _dumps) = owed_run(&server, READERS, 4000);

    let mut first = instance(&site, 1);
    let mut second = instance(&site, 2);
    let third = instance(&site, 3);
    first.wait("a third of the messages", Duration::from_secs(600), || messages_in(&sink) >= READERS / 3);
    first.kill(); // kill -9, with deliveries claimed and messages in flight
    second.wait("two thirds of the messages", Duration::from_secs(600), || messages_in(&sink) >= 2 * READERS / 3);
    let (status, took) = second.terminate(Duration::from_secs(15));
    assert!(status.success() && took < Duration::from_secs(10), "SIGTERM: {status:?} after {took:?}");
    // The third takes what the second gave back at once, and the first's once its leases end.
    third.wait("the run to finish", Duration::from_secs(900), || run_state(&site, 1).is_some_and(|(done, _)| done));

    let recipients = sink.recipients();
    let mut unique = recipients.clone();
    unique.dedup();
    assert_eq!(unique.len(), READERS, "every reader got the digest");
    // The window the README states: a message per SMTP connection of the instance that died
    // (mail.pool_size, 4), sent again by whoever took its delivery.
    assert!(recipients.len() <= READERS + 4, "{} messages for {READERS} readers", recipients.len());
    let (_, report) = run_state(&site, 1).expect("run 1");
    assert_eq!(report.delivered("sent"), READERS as i64, "the database counts what the sink got, once each");
    assert_eq!((report.delivered("pending"), report.delivered("failed")), (0, 0));
    assert!(run_state(&site, 2).is_none(), "one run, joined by all three");
    for log in [first.log(), second.log(), third.log()] {
        assert!(log.contains("digest run started digest=\"daily\" run=1 "), "every instance sent in run 1:\n{log}");
    }
}

#[test]
fn a_schedule_due_while_all_are_up_runs_once_and_one_due_while_all_were_down_is_caught_up_once() {
    const READERS: usize = 60;
    let server = PgServer::start();
    let (mail_port, dumps) = (free_port(), tempfile::tempdir().expect("temp dir"));
    let sink = sink(mail_port, dumps.path(), &[]);
    // Due soon after the three are up.
    let due = Utc::now() + chrono::Duration::seconds(20);
    let site = pg_site(&server, mail_port, |config| daily_at(config, due));
    readers(&site, READERS);
    let mut up: Vec<Daemon> = (1..=3).map(|n| instance(&site, n)).collect();
    up[0].wait("the run due while all are up", Duration::from_secs(60), || {
        run_state(&site, 1).is_some_and(|(done, _)| done)
    });
    assert_eq!(sink.recipients().len(), READERS, "one message each");
    std::thread::sleep(Duration::from_secs(2));
    assert!(run_state(&site, 2).is_none(), "one run for the due time, not one per instance");
    for daemon in &mut up {
        daemon.terminate(Duration::from_secs(15));
    }

    // While all three are down, the next day's run comes due (its time moved to a minute ago,
    // and the last run recorded a day before that).
    let due = Utc::now() - chrono::Duration::minutes(1);
    let text = std::fs::read_to_string(&site.config).expect("config");
    let mut config: toml::Table = toml::from_str(&text).expect("toml");
    daily_at(&mut config, due);
    std::fs::write(&site.config, toml::to_string(&config).expect("toml")).expect("config");
    last_ran(&site, (due - chrono::Duration::days(1)).timestamp());
    let up: Vec<Daemon> = (4..=6).map(|n| instance(&site, n)).collect();
    up[0].wait("the run missed while all were down", Duration::from_secs(60), || {
        run_state(&site, 2).is_some_and(|(done, _)| done)
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.recipients().len(), 2 * READERS, "caught up once: one more message each");
    assert!(run_state(&site, 3).is_none(), "one catch-up run, not one per instance");
}

#[test]
fn the_sign_up_limit_holds_across_instances() {
    let server = PgServer::start();
    let (mail_port, dumps) = (free_port(), tempfile::tempdir().expect("temp dir"));
    let _sink = sink(mail_port, dumps.path(), &[]);
    let site = pg_site(&server, mail_port, |config| {
        table(config, "http").insert("subscribe_per_hour".into(), 3.into());
    });
    let instances: Vec<Daemon> = (1..=3).map(|n| instance(&site, n)).collect();
    // Six sign-ups from one client, spread over the three instances: three go through.
    let statuses: Vec<u16> = (0..6)
        .map(|i| {
            let email = format!("reader{i}@example.org");
            let fields = [("email", email.as_str()), ("language", "en"), ("digest", "daily")];
            instances[i % 3].send(&post_form("/subscribe", &fields, &[("Sec-Fetch-Site", "same-origin")])).status
        })
        .collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 3, "{statuses:?}");
    assert!(statuses[..3].iter().all(|&s| s != 429), "the first three go through: {statuses:?}");
}

#[test]
fn the_database_restarted_mid_run_is_waited_for_and_nothing_is_lost() {
    const READERS: usize = 1_500;
    let mut server = PgServer::start();
    let (site, sink, _dumps) = owed_run(&server, READERS, 300);
    let daemon = instance(&site, 1);
    daemon.wait("some messages", Duration::from_secs(60), || messages_in(&sink) >= 300);
    server.restart();
    daemon.wait("the run to finish", Duration::from_secs(120), || run_state(&site, 1).is_some_and(|(done, _)| done));
    let recipients = sink.recipients();
    let mut unique = recipients.clone();
    unique.dedup();
    assert_eq!(unique.len(), READERS, "nobody skipped");
    assert_eq!(recipients.len(), READERS, "nobody sent twice: outcomes waited for the database");
    assert!(daemon.log().contains("the database is unavailable: waiting for it"), "{}", daemon.log());
    assert_eq!(run_state(&site, 1).expect("run").1.delivered("sent"), READERS as i64);
}

#[test]
fn each_instance_serves_the_same_feeds_with_the_same_etags() {
    let server = PgServer::start();
    let site = pg_site(&server, free_port(), |_| {});
    let (a, b) = (instance(&site, 1), instance(&site, 2));
    a.wait_log("feeds built", Duration::from_secs(30));
    b.wait_log("feeds built", Duration::from_secs(30));
    let feeds: Vec<String> = crate::helpers::files(&site.root.join("out-1"))
        .into_iter()
        .filter(|f| f.ends_with(".xml") || f.ends_with(".json") || f.ends_with(".opml"))
        .collect();
    assert!(feeds.len() > 20, "{feeds:?}");
    for feed in feeds {
        let (one, two) = (a.send(&get(&format!("/feeds/{feed}"))), b.send(&get(&format!("/feeds/{feed}"))));
        assert_eq!(one.status, 200, "{feed}");
        assert_eq!(one.header("etag"), two.header("etag"), "{feed}");
        assert!(one.header("etag").is_some(), "{feed}");
    }
}

#[test]
fn a_sqlite_deployment_moves_to_postgresql_with_state_copy() {
    let server = PgServer::start();
    let site = Site::empty();
    readers(&site, 25);
    site.subscribers(&["remove", "reader00003@example.org"]).success();
    let url = server.create_database("moved");
    let copied = site.run(["state".as_ref(), "copy".as_ref(), "--to".as_ref(), url.as_ref()]).success().stdout.clone();
    assert!(copied.contains("subscribers") && copied.contains("24"), "{copied}");
    assert!(copied.contains("suppressed") && copied.contains(&format!("next: set state.url = \"{url}\"")), "{copied}");
    let before = site.subscribers(&["export"]).success().stdout.clone();
    site.write_config(|config| {
        table(config, "state").insert("url".into(), url.clone().into());
    });
    assert_eq!(site.subscribers(&["export"]).success().stdout, before, "the same subscribers, read from PostgreSQL");
    // The removed address stays off lists on the new database too.
    let again = site.root.join("again.csv");
    std::fs::write(&again, "email,language,digest\nreader00003@example.org,en,daily\n").expect("csv");
    let import = site.subscribers(&["import", again.to_str().expect("utf-8"), "--confirmed"]);
    assert!(import.stdout.contains("removed before"), "{}", import.stdout);
    // A database that holds subscribers is never written into.
    site.write_config(|_| {});
    let refused = site.run(["state".as_ref(), "copy".as_ref(), "--to".as_ref(), url.as_ref()]).code(2).stderr.clone();
    assert!(refused.contains("already holds") && refused.contains("subscribers"), "{refused}");
}

#[test]
fn a_database_that_cannot_be_reached_is_named_at_start_without_its_password() {
    let url = format!("postgres://gazette@127.0.0.1:{}/gazette", free_port());
    let site = Site::empty();
    site.write_config(|config| {
        table(config, "state").insert("url".into(), url.clone().into());
    });
    let env = [("GAZETTE_DB_PASSWORD", "hunter2-secret")];
    for args in [&["run"][..], &["subscribers", "list"][..]] {
        let mut all: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), site.config.as_os_str()];
        all.extend(args.iter().map(std::ffi::OsStr::new));
        let run = crate::helpers::gazette_with(&all, &env);
        let err = run.code(2).stderr.clone();
        assert!(err.contains(&format!("state.url {url}")) && err.contains("cannot connect"), "{args:?}: {err}");
        assert!(!err.contains("hunter2"), "{args:?}: the password is never shown: {err}");
    }
}

/// A server that takes TCP connections over TLS only is reached with `sslmode=require` and its
/// CA in `state.ca_file`: its certificate verified, name and all. A certificate gazette cannot
/// verify (another CA's) is refused, and so is plain TCP (by the server); each refusal names
/// `state.url`.
#[test]
fn a_server_over_tls_is_reached_only_with_its_certificate_verified() {
    let certs = tempfile::tempdir().expect("a folder for certificates");
    crate::postfix::certificates(certs.path());
    let server = PgServer::start_with_tls(&certs.path().join("server.pem"), &certs.path().join("server.key"));
    let url = server.create_database("gazette");
    let site = Site::empty();
    let with = |url: &str, ca: Option<&str>| {
        site.write_config(|config| {
            let state = table(config, "state");
            state.insert("url".into(), url.into());
            match ca {
                Some(ca) => state.insert("ca_file".into(), certs.path().join(ca).to_string_lossy().into_owned().into()),
                None => state.remove("ca_file"),
            };
        });
    };
    let tls = format!("{url}?sslmode=require");
    with(&tls, Some("ca.pem"));
    site.subscribers(&["add", "li@example.org", "--confirmed"]).success();
    let listed = site.subscribers(&["list"]);
    assert!(listed.success().stdout.contains("li@example.org"), "{listed}");

    with(&tls, Some("other-ca.pem"));
    let refused = site.subscribers(&["list"]);
    let err = &refused.code(2).stderr;
    assert!(err.contains(&format!("state.url {tls}")) && err.contains("certificate"), "{err}");

    // The right CA, the wrong name: the server reached at its address but asked for by a name
    // its certificate does not hold.
    let misnamed = format!("{}&hostaddr=127.0.0.1", tls.replacen("127.0.0.1", "db.elsewhere.example", 1));
    with(&misnamed, Some("ca.pem"));
    let refused = site.subscribers(&["list"]);
    let err = &refused.code(2).stderr;
    assert!(err.contains("not valid for name \"db.elsewhere.example\""), "{err}");

    with(&url, None);
    let plain = site.subscribers(&["list"]);
    let err = &plain.code(2).stderr;
    assert!(err.contains(&format!("state.url {url}")) && err.contains("no encryption"), "{err}");

    // A SQLite deployment moves onto it over TLS with the CA given to state copy.
    let target = server.create_database("moved");
    let local = Site::empty();
    local.subscribers(&["add", "ann@example.org", "--confirmed"]).success();
    let copy = |ca: &str| {
        let ca = certs.path().join(ca);
        let args =
            ["state", "copy", "--to", &format!("{target}?sslmode=require"), "--ca-file", ca.to_str().expect("utf-8")];
        local.run(args.iter().map(std::ffi::OsStr::new))
    };
    let refused = copy("other-ca.pem");
    assert!(refused.code(2).stderr.contains("UnknownIssuer"), "{refused}");
    let copied = copy("ca.pem");
    assert!(copied.success().stdout.contains("state.ca_file"), "{copied}");
}
