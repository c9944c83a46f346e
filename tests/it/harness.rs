//! The validators themselves: each must reject a feed known to be wrong, so that a missing tool
//! or a check that accepts anything cannot pass unnoticed.

use std::panic::{UnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::readback::has_numeric_offset;
use crate::validators::{
    feed_rs, feedparser, feedparser_any, jing_atom, no_hazards, schematron_atom, xmllint_well_formed,
};

/// Runs `check`, which must panic; returns its message.
#[track_caller]
fn rejects(what: &str, check: impl FnOnce() + UnwindSafe) -> String {
    match catch_unwind(check) {
        Ok(()) => panic!("the validator accepted {what}"),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

const ATOM_HEAD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">"#;

fn atom(feed_children: &str, entry_children: &str) -> String {
    format!(
        "{ATOM_HEAD}<title>T</title><updated>2023-05-08T00:00:00+08:00</updated>{feed_children}\
         <entry><title>E</title><id>tag:example.org,2023:e</id><updated>2023-05-08T00:00:00+08:00</updated>\
         <link href=\"https://example.org/e\"/>{entry_children}</entry></feed>\n"
    )
}

#[test]
fn validators_accept_a_minimal_valid_atom_feed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good =
        write(dir.path(), "good.xml", &atom("<id>https://example.org/feed</id><author><name>A</name></author>", ""));
    xmllint_well_formed(&good);
    jing_atom(&good);
    schematron_atom(&good);
    feedparser(&good);
    feed_rs(&good);
    no_hazards(&good);
}

#[test]
fn validators_reject_known_bad_feeds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();

    let no_id = write(dir, "no-id.xml", &atom("<author><name>A</name></author>", ""));
    let said = rejects("an Atom feed without id", || jing_atom(&no_id));
    assert!(said.contains("jing"), "{said}");

    // Valid for the RELAX NG schema, but neither the feed nor the entry has an author.
    let no_author = write(dir, "no-author.xml", &atom("<id>https://example.org/feed</id>", ""));
    jing_atom(&no_author);
    let said = rejects("an Atom feed with no author anywhere", || schematron_atom(&no_author));
    assert!(said.contains("schematron"), "{said}");

    let broken = write(dir, "broken.xml", "<rss version=\"2.0\"><channel><title>x</channel></rss>\n");
    rejects("malformed XML (xmllint)", || xmllint_well_formed(&broken));
    rejects("malformed XML (feedparser)", || {
        feedparser(&broken);
    });
    rejects("malformed XML (feed-rs)", || {
        feed_rs(&broken);
    });

    let script = write(
        dir,
        "script.xml",
        &atom(
            "<id>https://example.org/feed</id><author><name>A</name></author>",
            "<content type=\"html\">&lt;SCRIPT&gt;x</content>",
        ),
    );
    jing_atom(&script);
    rejects("an escaped script in HTML content", || no_hazards(&script));
    let control = write(
        dir,
        "control.xml",
        &atom("<id>https://example.org/feed</id><author><name>A</name></author>", "<summary>a&#x1b;b</summary>"),
    );
    rejects("a character reference to ESC", || no_hazards(&control));
    let json = write(dir, "feed.json", r#"{"items": [{"content_html": "<img src=x OnError=alert(1)>"}]}"#);
    rejects("an event handler in a JSON Feed", || no_hazards(&json));
}

/// The trap the RSS writer avoids: feedparser reads `CST` as US Central time, 14 hours off Beijing.
#[test]
fn feedparser_reads_cst_as_us_central_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rss = |date: &str| {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><link>https://example.org/</link>\
             <description>D</description><item><title>I</title><guid isPermaLink=\"false\">i</guid>\
             <pubDate>{date}</pubDate></item></channel></rss>\n"
        )
    };
    let named = write(dir.path(), "cst.xml", &rss("Mon, 08 May 2023 00:00:00 CST"));
    let numeric = write(dir.path(), "numeric.xml", &rss("Mon, 08 May 2023 00:00:00 +0800"));
    assert_eq!(feedparser_any(&named)["entries"][0]["published"], "2023-05-08T06:00:00Z");
    assert_eq!(feedparser_any(&numeric)["entries"][0]["published"], "2023-05-07T16:00:00Z");
    assert!(!has_numeric_offset("Mon, 08 May 2023 00:00:00 CST"));
    assert!(has_numeric_offset("Mon, 8 May 2023 00:00:00 +0800"));
}

#[test]
fn entry_id_check_accepts_tag_and_http_uris_only() {
    use crate::validators::is_entry_id;
    for good in ["tag:news.example.gov.cn,2023-05-08:en/visit", "tag:example.org,2023:x", "https://example.org/a"] {
        assert!(is_entry_id(good), "{good}");
    }
    for bad in ["visit", "tag:example.org:x", "tag:example.org,23-5-8:x", "tag:example.org,2023-05-08:", "a b"] {
        assert!(!is_entry_id(bad), "{bad}");
    }
}

#[test]
fn duplicate_entry_ids_and_alternates_are_caught() {
    let dir = tempfile::tempdir().expect("temp dir");
    let entry = "<entry><title>E</title><id>tag:example.org,2023:e</id><updated>2023-05-08T00:00:00Z</updated>\
                 <link rel=\"alternate\" type=\"text/html\" hreflang=\"en\" href=\"https://example.org/e\"/></entry>";
    let twice = format!(
        "{ATOM_HEAD}<title>T</title><id>https://example.org/f</id><updated>2023-05-08T00:00:00Z</updated>\
         <author><name>A</name></author>{entry}{entry}</feed>\n"
    );
    let file = write(dir.path(), "twice.xml", &twice);
    jing_atom(&file);
    let parsed = feedparser(&file);
    let said = rejects("two entries with one id", || crate::validators::what_jing_misses(&file, &parsed));
    assert!(said.contains("duplicate entry id"), "{said}");

    let doubled = entry.replace(
        "</entry>",
        "<link rel=\"alternate\" type=\"text/html\" hreflang=\"en\" href=\"https://example.org/f\"/></entry>",
    );
    let two_links = format!(
        "{ATOM_HEAD}<title>T</title><id>https://example.org/f</id><updated>2023-05-08T00:00:00Z</updated>\
         <author><name>A</name></author>{doubled}</feed>\n"
    );
    let file = write(dir.path(), "two-links.xml", &two_links);
    jing_atom(&file);
    let parsed = feedparser(&file);
    let said =
        rejects("two alternates with one type and hreflang", || crate::validators::what_jing_misses(&file, &parsed));
    assert!(said.contains("two alternate links"), "{said}");
}
