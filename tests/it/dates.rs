//! Feed dates: RSS dates carry numeric offsets (`+0800`), never zone names, since feedparser and
//! feed-rs read `CST` as US Central time; every parser reads the instant the article states.

use crate::helpers::{Site, repo, table};
use crate::readback::{assert_reads_back, has_numeric_offset};

/// The text of every `<tag>…</tag>` in `xml`.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(open.as_str()).skip(1).map(|rest| rest.split(close.as_str()).next().expect("closed")).collect()
}

#[track_caller]
fn assert_numeric_rss_dates(site: &Site) -> usize {
    let mut seen = 0;
    for rel in site.files().iter().filter(|f| f.ends_with("rss.xml")) {
        let xml = site.read(rel);
        for tag in ["pubDate", "lastBuildDate"] {
            for date in elements(&xml, tag) {
                assert!(has_numeric_offset(date), "{rel}: <{tag}>{date}</{tag}> has no numeric offset");
                chrono::DateTime::parse_from_rfc2822(date).unwrap_or_else(|e| panic!("{rel}: {date:?}: {e}"));
                seen += 1;
            }
        }
    }
    seen
}

#[test]
fn rss_dates_use_numeric_offsets() {
    let site = Site::copy_of(&repo().join("articles"));
    site.build().success();
    assert!(assert_numeric_rss_dates(&site) > 10);
    let xml = site.read("zh/rss.xml");
    assert!(xml.contains("+0800</pubDate>"), "Asia/Shanghai dates are +0800: {xml}");
    for dir in ["zh", "en", "zh/trade", "en/foreign-affairs"] {
        assert_reads_back(&site, dir);
    }
}

/// In a zone whose abbreviation really is CST, with daylight saving: offsets follow the date.
#[test]
fn rss_dates_follow_daylight_saving_with_numeric_offsets() {
    let site = Site::empty();
    site.write_config(|config| {
        table(config, "site").insert("timezone".into(), "America/Chicago".into());
    });
    site.write_article("winter.en.md", "+++\ntitle = \"Winter\"\ndate = 2023-01-15T09:00:00\n+++\nCold.\n");
    site.write_article("summer.en.md", "+++\ntitle = \"Summer\"\ndate = 2023-07-15\n+++\nWarm.\n");
    site.write_article("offset.en.md", "+++\ntitle = \"Offset\"\ndate = 2023-03-01T12:00:00+08:00\n+++\nAway.\n");
    site.build().success();
    assert_numeric_rss_dates(&site);
    let xml = site.read("en/rss.xml");
    for date in
        ["Sat, 15 Jul 2023 00:00:00 -0500", "Sun, 15 Jan 2023 09:00:00 -0600", "Tue, 28 Feb 2023 22:00:00 -0600"]
    {
        assert!(xml.contains(&format!("<pubDate>{date}</pubDate>")), "no pubDate {date}: {xml}");
    }
    let expected = assert_reads_back(&site, "en");
    let instants: Vec<String> = expected.iter().map(|e| crate::readback::utc_iso(e.published)).collect();
    assert_eq!(instants, ["2023-07-15T05:00:00Z", "2023-03-01T04:00:00Z", "2023-01-15T15:00:00Z"]);
}
