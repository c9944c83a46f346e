//! The repository's own example store (`articles/`), built as shipped.

use std::collections::BTreeSet;

use crate::helpers::{Site, repo};
use crate::readback::assert_reads_back;
use crate::validators::validate_all;

fn example_site() -> Site {
    let site = Site::copy_of(&repo().join("articles"));
    site.build().success();
    site
}

/// `(language, sector)` of every feed config asks for: each language, alone and per sector.
pub fn configured_feeds() -> Vec<String> {
    let config: toml::Table = toml::from_str(&crate::helpers::config_text(|_| {})).expect("config");
    let languages: Vec<&String> = config["languages"].as_table().expect("languages").keys().collect();
    let sectors: Vec<&String> = config["sectors"].as_table().expect("sectors").keys().collect();
    let mut dirs = Vec::new();
    for lang in languages {
        dirs.push(lang.clone());
        dirs.extend(sectors.iter().map(|s| format!("{lang}/{s}")));
    }
    dirs
}

#[test]
fn example_store_feeds_pass_every_validator() {
    let site = Site::copy_of(&crate::helpers::repo().join("articles"));
    // The archive pages too: written as files, as another web server would serve them.
    site.write_config(|config| {
        crate::helpers::table(config, "feeds").insert("archive_files".into(), true.into());
    });
    site.build().success();
    let count = validate_all(&site.out);
    let archive_files = site.files().iter().filter(|f| f.contains("/archive/")).count();
    assert!(archive_files > 0, "the feeds have archive pages: {:?}", site.files());
    assert_eq!(
        count - archive_files,
        configured_feeds().len() * 3 + 1,
        "three files per feed and index.opml, besides the archive pages: {:?}",
        site.files()
    );
    for dir in configured_feeds() {
        assert_reads_back(&site, &dir);
    }
}

#[test]
fn every_configured_feed_of_the_example_store_has_entries() {
    let site = example_site();
    let opml = site.read("index.opml");
    for dir in configured_feeds() {
        let json = site.json_feed(&dir);
        let items = json["items"].as_array().map_or(0, Vec::len);
        assert!(items > 0, "{dir}/feed.json has no items");
        for format in ["atom.xml", "rss.xml"] {
            let feed = crate::validators::feed_rs(&site.out.join(format!("{dir}/{format}")));
            assert_eq!(feed.entries.len(), items, "{dir}/{format} and {dir}/feed.json disagree");
        }
        // One outline per feed (its Atom version), so an import subscribes to each feed once.
        let atom = format!("xmlUrl=\"{}/feeds/{dir}/atom.xml\"", crate::helpers::BASE_URL);
        assert_eq!(opml.matches(&atom).count(), 1, "index.opml must list {atom} once");
        let rss = format!("xmlUrl=\"{}/feeds/{dir}/rss.xml\"", crate::helpers::BASE_URL);
        assert!(!opml.contains(&rss), "index.opml lists {rss} besides the Atom feed");
    }
    let written: BTreeSet<String> = site.files().into_iter().collect();
    let mut wanted: BTreeSet<String> = configured_feeds()
        .iter()
        .flat_map(|dir| ["atom.xml", "rss.xml", "feed.json"].map(|f| format!("{dir}/{f}")))
        .collect();
    wanted.insert("index.opml".into());
    assert_eq!(
        written, wanted,
        "the output folder holds exactly the configured feeds (archive pages are rendered when asked)"
    );
}
