//! RFC 5005 archived feeds, read as a reader rebuilding a feed's history reads them: Python
//! feedparser follows `prev-archive` from every Atom and RSS subscription document served by
//! `gazette run` (and the JSON Feed `next_url` chain is followed here), and must meet every
//! published article exactly once. The server renders a page when asked and tags it without
//! rendering; a sealed month is cached for a year. With `feeds.archive_files` the build writes
//! the same bytes into the feed folder, rewriting only the pages whose month changed.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt as _;
use std::process::Command;

use serde_json::Value;

use std::time::Duration;

use crate::helpers::{BASE_URL, Site, repo, table};
use crate::service::{Daemon, get, request, served_site};
use crate::validators::{python, validate_file};

use crate::example_store::configured_feeds as feed_dirs;

/// The example store built with its archive pages written as files.
fn example_site() -> Site {
    let site = Site::copy_of(&repo().join("articles"));
    site.write_config(|config| {
        table(config, "feeds").insert("archive_files".into(), true.into());
    });
    site.build().success();
    site
}

/// The example store served by `gazette run` (archive pages rendered when asked for), once
/// its feeds are built.
/// Its public address is [`BASE_URL`], as behind a proxy.
fn served(edit: impl FnOnce(&mut toml::Table)) -> (Site, Daemon) {
    let (site, port) = served_site("file://outbox", |config| {
        table(config, "site").insert("base_url".into(), BASE_URL.into());
        edit(config);
    });
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", Duration::from_secs(20));
    (site, daemon)
}

/// The body of a `200 OK` to `GET path`.
fn fetch(daemon: &Daemon, path: &str) -> Vec<u8> {
    let response = daemon.send(&get(path));
    assert_eq!(response.status, 200, "GET {path}: {}", response.text());
    response.body
}

/// The ids of every article each feed publishes, from a build whose subscription feeds are
/// long enough to hold them all: a reference made by the selection code, not the archive's.
fn all_ids(site: &Site, base_url: &str) -> BTreeMap<String, BTreeSet<String>> {
    let full = Site::copy_of(&site.store);
    full.write_config(|config| {
        table(config, "site").insert("base_url".into(), base_url.into());
        table(config, "feeds").insert("items".into(), 100_000.into());
    });
    full.build().success();
    feed_dirs()
        .into_iter()
        .map(|dir| {
            let feed = full.json_feed(&dir);
            let ids = feed["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().expect("id").to_owned());
            (dir, ids.collect())
        })
        .collect()
}

/// One document of a walk, as `tests/archive_walk.py` prints it.
struct Walked {
    url: String,
    is_archive: bool,
    links: BTreeMap<String, Vec<String>>,
    ids: Vec<String>,
}

/// feedparser's walk over HTTP from the subscription document `start` (under `/feeds/`)
/// through every `prev-archive` link.
fn walk(daemon: &Daemon, start: &str) -> Vec<Walked> {
    let base = format!("{BASE_URL}/feeds/");
    let script = repo().join("tests/archive_walk.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(format!("http://127.0.0.1:{}/feeds/", daemon.port))
        .arg(&base)
        .arg(format!("{base}{start}"))
        .output()
        .expect("run archive_walk.py");
    assert!(
        out.status.success(),
        "archive_walk.py failed from {start}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pages: Vec<Value> = serde_json::from_slice(&out.stdout).expect("archive_walk.py prints JSON");
    pages
        .iter()
        .map(|p| Walked {
            url: p["url"].as_str().expect("url").to_owned(),
            is_archive: p["is_archive"].as_bool().expect("is_archive"),
            links: serde_json::from_value(p["links"].clone()).expect("links"),
            ids: p["ids"].as_array().expect("ids").iter().map(|i| i.as_str().expect("id").to_owned()).collect(),
        })
        .collect()
}

fn link<'a>(page: &'a Walked, rel: &str) -> Option<&'a str> {
    page.links.get(rel).and_then(|l| l.first()).map(String::as_str)
}

#[test]
fn following_prev_archive_from_every_feed_meets_every_article_exactly_once() {
    let (site, daemon) = served(|_| {});
    let expected = all_ids(&site, BASE_URL);
    let feeds = format!("{BASE_URL}/feeds/");
    // What was read over HTTP is validated as files, as the build's own output is.
    let fetched = tempfile::tempdir().expect("tempdir");
    for dir in feed_dirs() {
        let want = &expected[&dir];
        assert!(!want.is_empty(), "{dir} publishes articles");
        for file in ["atom.xml", "rss.xml"] {
            let pages = walk(&daemon, &format!("{dir}/{file}"));
            let (subscription, archives) = pages.split_first().expect("the subscription document");
            assert!(!subscription.is_archive, "{}: a subscription document is not an archive", subscription.url);
            assert!(!archives.is_empty(), "{dir}/{file} links prev-archive to its newest archive page");
            let mut met: BTreeMap<&str, usize> = BTreeMap::new();
            for (i, page) in archives.iter().enumerate() {
                assert!(page.is_archive, "{}: an archive page says fh:archive", page.url);
                let rel = page.url.strip_prefix(&feeds).expect("an archive page under /feeds/");
                let saved = fetched.path().join(rel);
                std::fs::create_dir_all(saved.parent().expect("folder")).expect("mkdir");
                std::fs::write(&saved, fetch(&daemon, &format!("/feeds/{rel}"))).expect("save");
                validate_file(fetched.path(), rel);
                assert_eq!(link(page, "current"), Some(subscription.url.as_str()), "{}: current", page.url);
                assert_eq!(link(page, "self"), Some(page.url.as_str()), "{}: self", page.url);
                // The chain links both ways: each page's next-archive is the page before it.
                let newer = if i == 0 { None } else { Some(archives[i - 1].url.as_str()) };
                assert_eq!(link(page, "next-archive"), newer, "{}: next-archive", page.url);
                for id in &page.ids {
                    *met.entry(id).or_default() += 1;
                }
            }
            let twice: Vec<_> = met.iter().filter(|(_, n)| **n > 1).collect();
            assert!(twice.is_empty(), "{dir}/{file}: articles met more than once in the archive: {twice:?}");
            let met: BTreeSet<String> = met.keys().map(|id| (*id).to_owned()).collect();
            assert_eq!(&met, want, "{dir}/{file}: the archive holds every published article");
            let newest = &archives[0].ids;
            assert!(
                subscription.ids.iter().all(|id| want.contains(id)) && subscription.ids.first() == newest.first(),
                "{dir}/{file}: the newest archive page starts where the subscription document does"
            );
        }

        // JSON Feed pages through the same months with next_url.
        let mut url = site.json_feed(&dir)["next_url"].as_str().map(str::to_owned);
        let mut met = Vec::new();
        while let Some(next) = url {
            let rel = next.strip_prefix(&feeds).expect("next_url under the feeds").to_owned();
            let saved = fetched.path().join(&rel);
            std::fs::create_dir_all(saved.parent().expect("folder")).expect("mkdir");
            std::fs::write(&saved, fetch(&daemon, &format!("/feeds/{rel}"))).expect("save");
            validate_file(fetched.path(), &rel);
            let page: Value = serde_json::from_slice(&std::fs::read(&saved).expect("read")).expect("json");
            assert_eq!(page["feed_url"], format!("{feeds}{dir}/feed.json"), "{rel}: the feed's identity");
            met.extend(
                page["items"].as_array().expect("items").iter().map(|i| i["id"].as_str().expect("id").to_owned()),
            );
            url = page["next_url"].as_str().map(str::to_owned);
        }
        let unique: BTreeSet<String> = met.iter().cloned().collect();
        assert_eq!(unique.len(), met.len(), "{dir}/feed.json: no article twice along next_url");
        assert_eq!(&unique, want, "{dir}/feed.json: next_url reaches every published article");
    }
    assert!(
        !site.files().iter().any(|f| f.contains("/archive/")),
        "without feeds.archive_files the build writes no archive page: {:?}",
        site.files()
    );
}

#[test]
fn archive_files_hold_the_bytes_the_server_renders_and_go_when_turned_off() {
    let (site, daemon) = served(|config| {
        table(config, "feeds").insert("archive_files".into(), true.into());
    });
    let pages: Vec<String> = site.files().into_iter().filter(|f| f.contains("/archive/")).collect();
    assert!(pages.len() >= 3 * feed_dirs().len(), "every feed has archive pages as files: {pages:?}");
    for rel in &pages {
        let file = std::fs::read(site.out.join(rel)).expect("read");
        assert!(fetch(&daemon, &format!("/feeds/{rel}")) == file, "{rel}: the file and the served page differ");
    }
    drop(daemon);
    site.write_config(|config| {
        table(config, "feeds").insert("archive_files".into(), false.into());
    });
    site.build().success();
    let left: Vec<String> = site.files().into_iter().filter(|f| f.contains("/archive/")).collect();
    assert_eq!(left, Vec::<String>::new(), "turned off, the pages go");
    for dir in feed_dirs() {
        assert!(!site.out.join(&dir).join("archive").exists(), "{dir}/archive/ goes with its pages");
    }
    assert!(!site.out.join(".archive-digests").exists(), "and so does the digest of the pages");
}

/// Every archive file's (inode, mtime in ns), by path.
fn archive_stamps(site: &Site) -> BTreeMap<String, (u64, i64)> {
    site.files()
        .into_iter()
        .filter(|f| f.contains("/archive/"))
        .map(|f| {
            let m = std::fs::metadata(site.out.join(&f)).expect("stat");
            (f, (m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec()))
        })
        .collect()
}

fn changed(before: &BTreeMap<String, (u64, i64)>, after: &BTreeMap<String, (u64, i64)>) -> BTreeSet<String> {
    let paths: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    paths.into_iter().filter(|p| before.get(*p) != after.get(*p)).cloned().collect()
}

/// The months of `dir`'s archive pages, newest first.
fn months(site: &Site, dir: &str) -> Vec<String> {
    let mut months: Vec<String> = std::fs::read_dir(site.out.join(dir).join("archive"))
        .expect("archive folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    months.sort();
    months.reverse();
    months
}

fn article(title: &str, date: &str) -> String {
    format!("+++\ntitle = \"{title}\"\ndate = {date}\nsectors = [\"trade\"]\n+++\n\nA trade fair opens in Shenyang.\n")
}

#[test]
fn rebuilds_rewrite_only_the_archive_pages_whose_month_changed() {
    let site = example_site();
    let first = archive_stamps(&site);
    let first_bytes: BTreeMap<String, Vec<u8>> =
        first.keys().map(|f| (f.clone(), std::fs::read(site.out.join(f)).expect("read"))).collect();

    site.build().success();
    assert_eq!(changed(&first, &archive_stamps(&site)), BTreeSet::new(), "an unchanged store rewrites no archive page");

    // A new article in the newest month changes that month's pages of its feeds, nothing else.
    let newest = months(&site, "en")[0].clone();
    let trade_newest = months(&site, "en/trade")[0].clone();
    site.write_article("fair-opens.en.md", &article("A Trade Fair Opens", &format!("{newest}-02T09:00:00+08:00")));
    let before = archive_stamps(&site);
    site.build().success();
    let rewritten = changed(&before, &archive_stamps(&site));
    // The trade feed's newest month may be older: then the article opens a page there, and the
    // page before it gains its next-archive link.
    let mut pages = vec![format!("en/archive/{newest}"), format!("en/trade/archive/{newest}")];
    if trade_newest != newest {
        pages.push(format!("en/trade/archive/{trade_newest}"));
    }
    let wanted: BTreeSet<String> =
        pages.iter().flat_map(|dir| ["atom.xml", "rss.xml", "feed.json"].map(|f| format!("{dir}/{f}"))).collect();
    assert_eq!(rewritten, wanted, "one new article rewrites only the newest pages of its feeds");

    // An article in a month after it adds a page, and the page before it gains next-archive.
    site.write_article("consul-visit.en.md", &article("A Consul Visits", "2026-11-20T10:00:00+08:00"));
    let before = archive_stamps(&site);
    site.build().success();
    let rewritten = changed(&before, &archive_stamps(&site));
    assert!(rewritten.contains("en/archive/2026-11/atom.xml"), "a new month has a page: {rewritten:?}");
    let older = site.read(&format!("en/archive/{newest}/atom.xml"));
    assert!(
        older.contains(&format!("href=\"{BASE_URL}/feeds/en/archive/2026-11/atom.xml\" rel=\"next-archive\"")),
        "the page before the new month links to it:\n{older}"
    );
    assert!(
        rewritten.iter().all(|f| f.contains("/archive/2026-11/") || f.contains(&format!("/archive/{newest}/"))),
        "only the new month and the one before it change: {rewritten:?}"
    );

    // An old article edited changes its own month's pages only.
    // (the oldest English Markdown article: a press release's edit would show in both languages)
    let store_files = crate::helpers::files(&site.store);
    let (old_month, path) = months(&site, "en")
        .into_iter()
        .rev()
        .find_map(|month| {
            let page = site.json_feed(&format!("en/archive/{month}"));
            page["items"].as_array().expect("items").iter().find_map(|item| {
                let slug = item["url"].as_str()?.trim_end_matches('/').rsplit('/').next()?.to_owned();
                let path = store_files.iter().find(|f| f.ends_with(&format!("/{slug}.en.md")))?.clone();
                Some((month.clone(), path))
            })
        })
        .expect("an English Markdown article in the archive");
    let text = std::fs::read_to_string(site.store.join(&path)).expect("read the article");
    site.write_article(&path, &format!("{text}\nA correction was added later.\n"));
    let before = archive_stamps(&site);
    site.build().success();
    let rewritten = changed(&before, &archive_stamps(&site));
    assert!(!rewritten.is_empty(), "the edit shows in its month's pages");
    assert!(
        rewritten.iter().all(|f| f.starts_with("en/") && f.contains(&format!("/archive/{old_month}/"))),
        "an edit of an old article rewrites only its month's pages: {rewritten:?}"
    );
    std::fs::write(site.store.join(&path), text).expect("restore");

    // Both new articles removed: the new month's pages go and every page is as first built.
    for rel in ["fair-opens.en.md", "consul-visit.en.md"] {
        std::fs::remove_file(site.store.join(rel)).expect("remove");
    }
    site.build().success();
    assert!(!site.out.join("en/archive/2026-11").exists(), "a month without articles has no page");
    let now: BTreeMap<String, Vec<u8>> = site
        .files()
        .into_iter()
        .filter(|f| f.contains("/archive/"))
        .map(|f| {
            let bytes = std::fs::read(site.out.join(&f)).expect("read");
            (f, bytes)
        })
        .collect();
    assert!(now == first_bytes, "the same store gives the same archive pages again");
}

/// The months of the served feed `dir`'s archive pages, newest first, along its JSON chain.
fn served_months(daemon: &Daemon, dir: &str) -> Vec<String> {
    let mut months = Vec::new();
    let mut page: Value = serde_json::from_slice(&fetch(daemon, &format!("/feeds/{dir}/feed.json"))).expect("json");
    while let Some(next) = page["next_url"].as_str() {
        let path = next.strip_prefix(BASE_URL).expect("under the site").to_owned();
        months.push(path.rsplit('/').nth(1).expect("month").to_owned());
        page = serde_json::from_slice(&fetch(daemon, &path)).expect("json");
    }
    months
}

#[test]
fn a_sealed_archive_month_is_cached_for_a_year_and_the_newest_for_a_minute() {
    let (site, daemon) = served(|_| {});
    let months = served_months(&daemon, "zh");
    assert!(months.len() >= 2, "the example store's Chinese feed spans several months: {months:?}");
    for file in ["atom.xml", "rss.xml", "feed.json"] {
        let sealed = daemon.send(&get(&format!("/feeds/zh/archive/{}/{file}", months[1])));
        assert_eq!(sealed.status, 200);
        assert_eq!(sealed.header("cache-control"), Some("public, max-age=31536000, immutable"), "{file}");
        let newest = daemon.send(&get(&format!("/feeds/zh/archive/{}/{file}", months[0])));
        assert_eq!(newest.header("cache-control"), Some("public, max-age=60"), "the newest page still grows: {file}");
        let tag = sealed.header("etag").expect("etag").to_owned();
        let again = daemon.send(&request(
            "GET",
            &format!("/feeds/zh/archive/{}/{file}", months[1]),
            &[("If-None-Match", &tag)],
            b"",
        ));
        assert_eq!(again.status, 304, "a sealed page revalidates like any feed");
        assert_eq!(again.header("etag"), Some(tag.as_str()));
        let gzip = daemon.send(&request(
            "GET",
            &format!("/feeds/zh/archive/{}/{file}", months[1]),
            &[("Accept-Encoding", "gzip")],
            b"",
        ));
        assert_eq!(gzip.header("content-encoding"), Some("gzip"), "{file}");
        assert_ne!(gzip.header("etag"), Some(tag.as_str()), "the gzip copy is another entity");
    }
    for missing in ["zh/archive/1999-01/atom.xml", "zh/archive/2026-13/atom.xml", "zh/nosuch/archive/2024-01/atom.xml"]
    {
        assert_eq!(daemon.send(&get(&format!("/feeds/{missing}"))).status, 404, "{missing}");
    }
    let month = &months[1];
    assert_eq!(daemon.send(&get(&format!("/feeds/zh/archive/{month}/page.html"))).status, 404);

    // A new month seals the page that was newest, though its JSON bytes stay the same.
    let newest_json = format!("/feeds/zh/archive/{}/feed.json", months[0]);
    let before = daemon.send(&get(&newest_json));
    assert_eq!(before.header("cache-control"), Some("public, max-age=60"));
    site.write_article(
        "new-month.zh.md",
        "+++\ntitle = \"新的月份\"\ndate = 2026-11-20T10:00:00+08:00\n+++\n\n沈阳举办经贸洽谈会。\n",
    );
    daemon.wait("the new month's page", Duration::from_secs(20), || {
        daemon.send(&get("/feeds/zh/archive/2026-11/atom.xml")).status == 200
    });
    let after = daemon.send(&get(&newest_json));
    assert_eq!(
        after.header("cache-control"),
        Some("public, max-age=31536000, immutable"),
        "the month before is sealed"
    );
    assert_ne!(after.header("etag"), before.header("etag"), "its atom and rss pages gained next-archive");
    assert_eq!(
        daemon.send(&get("/feeds/zh/archive/2026-11/atom.xml")).header("cache-control"),
        Some("public, max-age=60")
    );
}
