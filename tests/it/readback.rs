//! Reading a built feed back through the outside parsers and comparing every value with what
//! gazette wrote. The expected values come from the JSON Feed of the same folder (plain JSON,
//! parsed with serde_json): feedparser and feed-rs must read the same titles, ids, links,
//! dates, languages, summaries and translation links from the Atom and RSS files, and feed-rs
//! the same from the JSON Feed.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::helpers::Site;
use crate::validators::{feed_rs, feedparser};

/// One entry as the JSON Feed states it.
#[derive(Debug, Clone)]
pub struct Expected {
    pub id: String,
    pub url: String,
    pub title: String,
    pub language: String,
    pub summary: Option<String>,
    pub content_html: String,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub tags: Vec<String>,
    /// (language, url, title) of each translation.
    pub translations: Vec<(String, String, String)>,
}

fn string(v: &Value, what: &str) -> String {
    v.as_str().unwrap_or_else(|| panic!("{what} is not a string: {v}")).to_owned()
}

fn instant(v: &Value, what: &str) -> DateTime<Utc> {
    let s = string(v, what);
    DateTime::parse_from_rfc3339(&s).unwrap_or_else(|e| panic!("{what} {s:?}: {e}")).to_utc()
}

/// `2023-05-07T16:00:00Z`, the form `feedparser_dump.py` prints.
pub fn utc_iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The entries of `dir/feed.json`, with the feed's language.
pub fn expected(site: &Site, dir: &str) -> (String, Vec<Expected>) {
    let feed = site.json_feed(dir);
    let language = string(&feed["language"], "feed language");
    let items = feed["items"].as_array().unwrap_or_else(|| panic!("{dir}/feed.json has no items array"));
    let entries = items
        .iter()
        .map(|item| Expected {
            id: string(&item["id"], "id"),
            url: string(&item["url"], "url"),
            title: string(&item["title"], "title"),
            language: string(&item["language"], "language"),
            summary: item["summary"].as_str().map(str::to_owned),
            content_html: string(&item["content_html"], "content_html"),
            published: instant(&item["date_published"], "date_published"),
            updated: instant(&item["date_modified"], "date_modified"),
            tags: item["tags"].as_array().map_or_else(Vec::new, |t| t.iter().map(|t| string(t, "tag")).collect()),
            translations: item["_gazette"]["translations"].as_array().map_or_else(Vec::new, |ts| {
                ts.iter()
                    .map(|t| {
                        (string(&t["language"], "language"), string(&t["url"], "url"), string(&t["title"], "title"))
                    })
                    .collect()
            }),
        })
        .collect();
    (language, entries)
}

/// Resolves `&lt; &gt; &amp; &quot; &#39;` once: RSS `description` is HTML, and gazette
/// escapes its plain-text summary into it.
fn html_unescape(s: &str) -> String {
    quick_xml::escape::unescape(s).unwrap_or_else(|e| panic!("bad escape in {s:?}: {e}")).into_owned()
}

/// Checks the Atom, RSS and JSON files of feed folder `dir` against its JSON Feed, through
/// feedparser and feed-rs. Returns the expected entries.
#[track_caller]
pub fn assert_reads_back(site: &Site, dir: &str) -> Vec<Expected> {
    let (language, expected) = expected(site, dir);
    assert_feedparser_atom(site, dir, &language, &expected);
    assert_feedparser_rss(site, dir, &language, &expected);
    assert_feed_rs(site, dir, &language, &expected);
    expected
}

#[track_caller]
fn assert_feedparser_atom(site: &Site, dir: &str, language: &str, expected: &[Expected]) {
    let file = format!("{dir}/atom.xml");
    let parsed = feedparser(&site.out.join(&file));
    assert_eq!(parsed["version"], "atom10", "{file}");
    assert_eq!(parsed["feed"]["language"], language, "{file}: feed language");
    let entries = parsed["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), expected.len(), "{file}: entry count");
    for (got, want) in entries.iter().zip(expected) {
        let at = format!("{file}, entry {}", want.id);
        assert_eq!(got["id"], want.id.as_str(), "{at}: id");
        assert_eq!(got["title"], want.title.as_str(), "{at}: title");
        assert_eq!(got["title_type"], "text/plain", "{at}: title type");
        // `entry.link` (the last HTML alternate, for feedparser) is checked in translations.rs.
        assert_eq!(got["published"], utc_iso(want.published).as_str(), "{at}: published ({})", got["published_raw"]);
        assert_eq!(got["updated"], utc_iso(want.updated).as_str(), "{at}: updated ({})", got["updated_raw"]);
        if let Some(summary) = &want.summary {
            assert_eq!(got["summary"], summary.as_str(), "{at}: summary");
        }
        let labels: Vec<&str> =
            got["tags"].as_array().expect("tags").iter().filter_map(|t| t["label"].as_str()).collect();
        assert_eq!(labels, want.tags, "{at}: category labels");
        let links: Vec<&Value> =
            got["links"].as_array().expect("links").iter().filter(|l| l["rel"] == "alternate").collect();
        // An entry with translations repeats its own page last, without hreflang, for readers
        // (feedparser) that take the last alternate link.
        for plain in links.iter().filter(|l| l["hreflang"].is_null()) {
            assert_eq!(
                plain["href"],
                want.url.as_str(),
                "{at}: an alternate link without hreflang must be the entry's own page"
            );
            assert!(!want.translations.is_empty(), "{at}: the repeated own link is only for entries with translations");
        }
        let mut alternates: Vec<(String, String)> = links
            .iter()
            .filter(|l| !l["hreflang"].is_null())
            .map(|l| (string(&l["hreflang"], "hreflang"), string(&l["href"], "href")))
            .collect();
        alternates.sort();
        let mut wanted = vec![(want.language.clone(), want.url.clone())];
        wanted.extend(want.translations.iter().map(|(lang, url, _)| (lang.clone(), url.clone())));
        wanted.sort();
        assert_eq!(alternates, wanted, "{at}: alternate links (hreflang, href)");
    }
}

/// Is `s` an RFC 2822 date whose zone is a numeric offset (`+0800`), never a name (`CST`)?
pub fn has_numeric_offset(s: &str) -> bool {
    let zone = s.rsplit(' ').next().unwrap_or_default();
    zone.len() == 5 && zone.starts_with(['+', '-']) && zone[1..].bytes().all(|b| b.is_ascii_digit())
}

#[track_caller]
fn assert_feedparser_rss(site: &Site, dir: &str, language: &str, expected: &[Expected]) {
    let file = format!("{dir}/rss.xml");
    let parsed = feedparser(&site.out.join(&file));
    assert_eq!(parsed["version"], "rss20", "{file}");
    assert_eq!(parsed["feed"]["language"], language, "{file}: channel language");
    let entries = parsed["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), expected.len(), "{file}: item count");
    for (got, want) in entries.iter().zip(expected) {
        let at = format!("{file}, item {}", want.id);
        assert_eq!(got["id"], want.id.as_str(), "{at}: guid");
        assert_eq!(got["title"], want.title.as_str(), "{at}: title");
        let links = got["links"].as_array().expect("links");
        assert!(links.iter().any(|l| l["href"] == want.url.as_str()), "{at}: no link to {}: {links:?}", want.url);
        let raw = string(&got["published_raw"], "pubDate");
        assert!(has_numeric_offset(&raw), "{at}: pubDate {raw:?} has no numeric offset");
        assert_eq!(got["published"], utc_iso(want.published).as_str(), "{at}: pubDate {raw:?} read as another instant");
        if let Some(summary) = &want.summary {
            let html = string(&got["summary"], "description");
            assert_eq!(html_unescape(&html), *summary, "{at}: description (HTML) {html:?}");
        }
    }
}

#[track_caller]
fn assert_feed_rs(site: &Site, dir: &str, language: &str, expected: &[Expected]) {
    for format in ["atom.xml", "rss.xml", "feed.json"] {
        let file = format!("{dir}/{format}");
        let feed = feed_rs(&site.out.join(&file));
        assert_eq!(feed.language.as_deref(), Some(language), "{file}: language (feed-rs)");
        assert_eq!(feed.entries.len(), expected.len(), "{file}: entry count (feed-rs)");
        for (got, want) in feed.entries.iter().zip(expected) {
            let at = format!("{file}, entry {} (feed-rs)", want.id);
            assert_eq!(got.id, want.id, "{at}: id");
            assert_eq!(got.title.as_ref().map(|t| t.content.as_str()), Some(want.title.as_str()), "{at}: title");
            let own = match format {
                // Atom: the alternate link in the entry's own language, wherever it stands.
                "atom.xml" => got.links.iter().find(|l| l.href_lang.as_deref() == Some(want.language.as_str())),
                _ => got.links.first(),
            };
            assert_eq!(own.map(|l| l.href.as_str()), Some(want.url.as_str()), "{at}: link ({:?})", got.links);
            assert_eq!(got.published, Some(want.published), "{at}: published");
            if format != "rss.xml" {
                // RSS has no modification date per item.
                assert_eq!(got.updated, Some(want.updated), "{at}: updated");
            }
            if format == "atom.xml" {
                // feed-rs trims the text it reads.
                let body = got.content.as_ref().and_then(|c| c.body.as_deref());
                assert_eq!(body, Some(want.content_html.trim()), "{at}: content");
                // Readers that take the first link (feed-rs among them) must get the entry's own page.
                assert_eq!(got.links.first().map(|l| l.href.as_str()), Some(want.url.as_str()), "{at}: first link");
                // Enclosures (press-release attachments) are not alternates.
                let mut hreflangs: Vec<Option<&str>> = got
                    .links
                    .iter()
                    .filter(|l| l.rel.as_deref() != Some("enclosure"))
                    .map(|l| l.href_lang.as_deref())
                    .collect();
                hreflangs.sort();
                let mut wanted = vec![Some(want.language.as_str())];
                wanted.extend(want.translations.iter().map(|(lang, _, _)| Some(lang.as_str())));
                if !want.translations.is_empty() {
                    // The own page repeated last, without hreflang, for readers that take the last link.
                    wanted.push(None);
                }
                wanted.sort();
                assert_eq!(hreflangs, wanted, "{at}: link hreflangs");
            }
        }
    }
}
