//! Building again: the same store gives the same bytes and leaves files untouched; the index
//! cache notices added, edited and deleted articles, and is ignored when corrupt; entry ids do
//! not depend on titles.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime};

use crate::helpers::{Site, copy_dir, files};

/// Every output file's bytes, by relative path.
fn contents(site: &Site) -> BTreeMap<String, Vec<u8>> {
    site.files().into_iter().map(|rel| (rel.clone(), std::fs::read(site.out.join(&rel)).expect("read"))).collect()
}

fn ids_by_title(site: &Site, dir: &str) -> BTreeMap<String, String> {
    let feed = site.json_feed(dir);
    feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["title"].as_str().expect("title").to_owned(), i["id"].as_str().expect("id").to_owned()))
        .collect()
}

#[test]
fn output_is_byte_stable_and_unchanged_files_are_not_rewritten() {
    let site = Site::with_store("hostile");
    site.build().success();
    let first = contents(&site);

    // Age every file so a rewrite, even within the same second, would show.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mut stamps = BTreeMap::new();
    for rel in first.keys() {
        let file = std::fs::File::options().write(true).open(site.out.join(rel)).expect("open");
        file.set_modified(old).expect("set mtime");
        let meta = file.metadata().expect("metadata");
        stamps.insert(rel.clone(), (meta.ino(), meta.modified().expect("mtime")));
    }

    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("changed"), 0, "{run}");
    assert_eq!(contents(&site), first, "a second build changed bytes");
    for (rel, (inode, mtime)) in &stamps {
        let meta = std::fs::metadata(site.out.join(rel)).expect("metadata");
        assert_eq!((meta.ino(), meta.modified().expect("mtime")), (*inode, *mtime), "{rel} was rewritten");
    }

    // A fresh site (no cache, another temp path) writes the very same bytes.
    let fresh = Site::with_store("hostile");
    fresh.build().success();
    assert_eq!(contents(&fresh), first, "output depends on the cache or the folder");
    assert!(!files(&site.out).iter().any(|f| f.contains(".gazette-")), "a temporary file was left behind");
}

#[test]
fn rebuild_picks_up_added_edited_and_deleted_articles() {
    let site = Site::with_store("snapshot");
    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("files_read"), 4, "{run}");
    assert!(site.index().is_file(), "no index cache at {}", site.index().display());

    site.write_article("2023/new-visit.en.md", "+++\ntitle = \"Newly Added Visit\"\ndate = 2023-07-01\n+++\nNew.\n");
    let edited = site.store.join("2023/office-hours.en.md");
    let text = std::fs::read_to_string(&edited).expect("read");
    std::fs::write(&edited, text.replace("Office Hours During the Summer Break", "Edited: Summer Hours"))
        .expect("edit");
    std::fs::remove_file(site.store.join("2023/consul-visit.en.md")).expect("delete");

    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("files_read"), 2, "only the new and the edited file are read\n{run}");
    assert_eq!(run.summary_field("files_cached"), 2, "{run}");
    let en = ids_by_title(&site, "en");
    assert!(en.contains_key("Newly Added Visit"), "{en:?}");
    assert!(en.contains_key("Edited: Summer Hours"), "{en:?}");
    assert!(!en.contains_key("Office Hours During the Summer Break"), "{en:?}");
    assert!(!en.keys().any(|t| t.contains("Consul-General")), "the deleted article is still published: {en:?}");
    assert!(!site.read("zh/atom.xml").contains("/en/articles/consul-visit/"), "zh still links the deleted translation");
    crate::validators::validate_all(&site.out);

    // The cache after the rebuild equals one made from scratch.
    let fresh = Site::copy_of(&site.store);
    fresh.build().success();
    assert_eq!(contents(&fresh), contents(&site));
}

#[test]
fn corrupt_index_cache_is_ignored() {
    let site = Site::with_store("snapshot");
    site.build().success();
    let good = contents(&site);
    let index = site.index();
    let bytes = std::fs::read(&index).expect("index");

    let truncated = bytes[..bytes.len() / 2].to_vec();
    let flipped: Vec<u8> = bytes.iter().map(|b| b ^ 0x5a).collect();
    for (what, corrupt) in
        [("garbage", b"not an index at all".to_vec()), ("truncated", truncated), ("flipped", flipped)]
    {
        std::fs::write(&index, &corrupt).expect("corrupt");
        std::fs::remove_dir_all(&site.out).expect("clear output");
        let run = site.build();
        run.success();
        assert_eq!(run.summary_field("files_read"), 4, "{what} cache: every file is read again\n{run}");
        assert_eq!(contents(&site), good, "{what} cache changed the output");
        let again = site.build();
        assert_eq!(again.summary_field("files_read"), 0, "{what} cache was not rewritten\n{again}");
    }

    // A cache that is a folder cannot be written: the build still succeeds.
    std::fs::remove_file(&index).expect("remove");
    std::fs::create_dir_all(&index).expect("folder in its place");
    std::fs::remove_dir_all(&site.out).expect("clear output");
    site.build().success();
    assert_eq!(contents(&site), good);
}

#[test]
fn entry_ids_survive_title_edits() {
    let site = Site::with_store("snapshot");
    site.build().success();
    let before = ids_by_title(&site, "zh");
    let id = before.get("日本驻沈阳总领事拜会市政府外办").expect("zh consul visit").clone();

    let path = site.store.join("2023/consul-visit.zh.md");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        text.replace("日本驻沈阳总领事拜会市政府外办", "（更新）日本总领事到访外办")
            .replace("交换了意见", "深入交换了意见"),
    )
    .expect("edit");
    site.build().success();
    let after = ids_by_title(&site, "zh");
    assert_eq!(after.get("（更新）日本总领事到访外办"), Some(&id), "{after:?}");
    assert_eq!(after.len(), before.len());
    // The translation link in the other language carries the new title.
    let en = site.read("en/atom.xml");
    assert!(en.contains("title=\"（更新）日本总领事到访外办\""), "{en}");

    // Moving the articles into another folder keeps the ids too: they hold no path.
    let moved = Site::empty();
    copy_dir(&site.store, &moved.store.join("archive"));
    moved.build().success();
    assert_eq!(ids_by_title(&moved, "zh"), after);
}

#[test]
fn config_changes_invalidate_the_index_cache() {
    let site = Site::with_store("snapshot");
    site.build().success();
    assert!(site.read("zh/trade/feed.json").contains("trade-fair"), "classified by the keyword 博览会");

    // Other keywords, another time zone, shorter summaries: cached records must not survive.
    let edit = |config: &mut toml::Table| {
        crate::helpers::table(config, "site").insert("timezone".into(), "Europe/Berlin".into());
        let sectors = crate::helpers::table(config, "sectors");
        crate::helpers::table(sectors, "trade").insert("keywords".into(), vec!["tariff"].into());
        crate::helpers::table(config, "feeds").insert("summary_chars".into(), 20.into());
    };
    site.write_config(edit);
    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("files_read"), 4, "the cache was reused under another config\n{run}");
    assert!(!site.read("zh/trade/feed.json").contains("trade-fair"), "still classified by the old keywords");
    assert!(site.read("zh/rss.xml").contains("+0200</pubDate>"), "dates not in the new time zone");

    let fresh = Site::with_store("snapshot");
    fresh.write_config(edit);
    fresh.build().success();
    assert_eq!(contents(&fresh), contents(&site), "a cached rebuild differs from a fresh build");
}

#[test]
fn the_daemon_rebuilds_only_the_files_that_changed_and_writes_what_a_full_build_writes() {
    use crate::service::{Daemon, get, served_site};
    let (site, port) = served_site("file://outbox", |_| {});
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", Duration::from_secs(20));
    // An edit, an addition and a removal in folders that exist: the watcher names each file.
    let park = site.store.join("2026/sino-german-park-consulate.en.md");
    let text = std::fs::read_to_string(&park).expect("article");
    let title = text.lines().find(|l| l.starts_with("title")).expect("a title line").to_owned();
    std::fs::write(&park, text.replace(&title, "title = \"Park Visit, Edited\"")).expect("edit");
    site.write_article(
        "2026/rebuilt-alone.en.md",
        "+++\ntitle = \"Rebuilt Alone\"\ndate = 2026-11-20\n+++\nTrade fair news.\n",
    );
    std::fs::remove_file(site.store.join("2026/novosibirsk-business-meeting.ru.md")).expect("remove");
    daemon.wait("the three changes served", Duration::from_secs(20), || {
        let en = daemon.send(&get("/feeds/en/atom.xml")).text();
        let ru = daemon.send(&get("/feeds/ru/atom.xml")).text();
        en.contains("Park Visit, Edited")
            && en.contains("Rebuilt Alone")
            && !ru.contains("novosibirsk-business-meeting")
    });
    assert!(daemon.log().contains("changed files read"), "no rebuild of the changed files alone:\n{}", daemon.log());
    std::thread::sleep(Duration::from_millis(800));
    let incremental = contents(&site);
    drop(daemon);

    // A full build with no index cache writes exactly the same bytes.
    std::fs::remove_file(site.index()).expect("the index cache exists");
    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("changed"), 0, "{run}");
    assert_eq!(contents(&site), incremental);
}
