//! The `hostile` fixture store: titles and summaries full of markup, entities, `]]>`, control
//! characters and emoji; bodies with scripts, event handlers and `javascript:` links; a long
//! Chinese paragraph with no spaces; a non-ASCII file name; untagged articles.

use crate::helpers::{BASE_URL, Site};
use crate::readback::assert_reads_back;
use crate::validators::{feed_rs, feedparser, no_hazards, validate_all};

/// Every feed folder of the hostile store.
const DIRS: [&str; 6] = ["zh", "en", "zh/trade", "en/trade", "zh/foreign-affairs", "en/foreign-affairs"];

/// The hostile titles as written in the fixture, after gazette's documented clean-up: control
/// characters dropped as word breaks (`one_line`), everything else kept exactly.
const EN_TITLE: &str = "Tom & Jerry <b>bold</b> ]]> &amp; bellring esc[31mred 🎉 👩‍💻";
const ZH_TITLE: &str = "汤姆 & 杰瑞 <b>粗体</b> ]]> &amp; 控制字符 🎉";
const EN_SUMMARY: &str = "Sum & <i>italic</i> ]]> &amp;lt; ctl 🚀";

fn hostile_site() -> Site {
    let site = Site::with_store("hostile");
    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("errors"), 0, "{run}");
    site
}

fn item<'a>(feed: &'a serde_json::Value, url_end: &str) -> &'a serde_json::Value {
    let items = feed["items"].as_array().expect("items");
    items.iter().find(|i| i["url"].as_str().is_some_and(|u| u.ends_with(url_end))).unwrap_or_else(|| {
        panic!("no item with a url ending {url_end}: {feed:#}");
    })
}

#[test]
fn hostile_store_passes_every_validator() {
    let site = hostile_site();
    validate_all(&site.out);
    for dir in DIRS {
        assert_reads_back(&site, dir);
    }
}

#[test]
fn hostile_titles_round_trip_exactly_through_feedparser() {
    let site = hostile_site();
    for (lang, title) in [("en", EN_TITLE), ("zh", ZH_TITLE)] {
        let json = site.json_feed(lang);
        assert_eq!(item(&json, "/markup-in-title/")["title"], title, "{lang}/feed.json");
        for format in ["atom.xml", "rss.xml"] {
            let file = site.out.join(format!("{lang}/{format}"));
            let parsed = feedparser(&file);
            let titles: Vec<&str> =
                parsed["entries"].as_array().expect("entries").iter().filter_map(|e| e["title"].as_str()).collect();
            assert!(titles.contains(&title), "feedparser read {titles:?} from {lang}/{format}, not {title:?}");
            let feed = feed_rs(&file);
            assert!(
                feed.entries.iter().any(|e| e.title.as_ref().is_some_and(|t| t.content == title)),
                "feed-rs did not read {title:?} from {lang}/{format}"
            );
        }
    }
    // The Chinese title, as the English entry's translation link names it.
    let en = feedparser(&site.out.join("en/atom.xml"));
    let entry = en["entries"].as_array().expect("entries").iter().find(|e| e["title"] == EN_TITLE).expect("entry");
    let zh_link = entry["links"].as_array().expect("links").iter().find(|l| l["hreflang"] == "zh").expect("zh link");
    assert_eq!(zh_link["title"], ZH_TITLE);

    // Summaries: Atom carries plain text; RSS carries HTML that must display as that text.
    let summary = |parsed: &serde_json::Value| {
        let entries = parsed["entries"].as_array().expect("entries");
        entries.iter().find(|e| e["title"] == EN_TITLE).expect("entry")["summary"].as_str().expect("summary").to_owned()
    };
    assert_eq!(summary(&en), EN_SUMMARY);
    let rss = feedparser(&site.out.join("en/rss.xml"));
    assert_eq!(quick_xml::escape::unescape(&summary(&rss)).expect("html"), EN_SUMMARY);
    assert_eq!(item(&site.json_feed("en"), "/markup-in-title/")["summary"], EN_SUMMARY);
}

#[test]
fn no_generated_file_carries_scripts_handlers_or_forbidden_characters() {
    let site = hostile_site();
    for rel in site.files() {
        no_hazards(&site.out.join(rel));
    }
    // What is harmless survives the sanitiser: link text, images, escaped code, literal text.
    let content = item(&site.json_feed("en"), "/markup-in-title/")["content_html"].as_str().expect("html").to_owned();
    for kept in
        ["a link", "markdown link", "mixed case", "<code>&lt;b&gt;</code>", "<code>&amp;amp;</code>", "]]&gt;", "🎉"]
    {
        assert!(content.contains(kept), "{kept:?} is missing from {content}");
    }
    assert!(content.contains(&format!("src=\"{BASE_URL}/en/articles/markup-in-title/x.png\"")), "{content}");
    assert!(!content.to_lowercase().contains("<style"), "{content}");
    // Raw control bytes in a first paragraph leave no trace in the derived summary.
    let summary = item(&site.json_feed("en"), "/no-sector/")["summary"].as_str().expect("summary").to_owned();
    assert!(summary.starts_with("Staff planted trees in the park"), "{summary:?}");
}

#[test]
fn long_chinese_paragraph_summary_is_cut_on_a_character_boundary() {
    let site = hostile_site();
    let zh = site.json_feed("zh");
    let entry = item(&zh, "/long-paragraph/");
    let summary = entry["summary"].as_str().expect("summary");
    let chars = summary.chars().count();
    assert!(chars <= 200 && chars > 150, "summary of {chars} characters: {summary}");
    assert!(summary.ends_with('…'), "{summary}");
    assert!(summary.starts_with("沈阳市人民政府外事办公室会同有关部门"), "{summary}");
    let content = entry["content_html"].as_str().expect("html");
    assert!(content.chars().count() > 1500, "the body is published whole");
    let atom = feedparser(&site.out.join("zh/atom.xml"));
    let read = atom["entries"].as_array().expect("entries").iter().find(|e| e["id"] == entry["id"]).expect("entry");
    assert_eq!(read["summary"], summary);
}

#[test]
fn untagged_articles_are_classified_by_keywords() {
    let site = hostile_site();
    let urls = |dir: &str| -> Vec<String> {
        let feed = site.json_feed(dir);
        feed["items"].as_array().expect("items").iter().map(|i| i["url"].as_str().expect("url").to_owned()).collect()
    };
    let has = |dir: &str, slug: &str| urls(dir).iter().any(|u| u.ends_with(&format!("/articles/{slug}/")));
    // "INVESTMENT" matches the keyword "investment" ignoring ASCII case; 招商/投资 likewise.
    assert!(has("en/trade", "untagged-trade") && has("zh/trade", "untagged-trade"));
    assert!(!has("en/foreign-affairs", "untagged-trade"));
    // The long paragraph mentions both 领事 and 经贸.
    assert!(has("zh/trade", "long-paragraph") && has("zh/foreign-affairs", "long-paragraph"));
    // No keyword: only the language feed.
    assert!(has("en", "no-sector"));
    assert!(!has("en/trade", "no-sector") && !has("en/foreign-affairs", "no-sector"));
    // Front matter sectors win over keywords.
    assert!(has("en/trade", "markup-in-title") && !has("en/foreign-affairs", "markup-in-title"));
}

#[test]
fn article_without_english_version_links_no_translation() {
    let site = hostile_site();
    let atom = feedparser(&site.out.join("zh/atom.xml"));
    let entry = atom["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["id"].as_str().is_some_and(|id| id.ends_with(":zh/long-paragraph")));
    let links = entry.expect("long-paragraph entry")["links"].as_array().expect("links").clone();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["hreflang"], "zh");
    assert!(!site.read("en/feed.json").contains("long-paragraph"));
}

#[test]
fn non_ascii_file_name_becomes_a_percent_encoded_link_and_id() {
    let site = hostile_site();
    let slug = "%E7%AD%BE%E8%AF%81%E6%8F%90%E9%86%92";
    let json = site.json_feed("zh");
    let entry = item(&json, &format!("/zh/articles/{slug}/"));
    assert_eq!(entry["id"], format!("tag:news.example.gov.cn,2024-01-20:zh/{slug}"));
    assert!(site.read("zh/foreign-affairs/atom.xml").contains(&format!("{BASE_URL}/zh/articles/{slug}/")));
}

#[test]
fn bom_and_crlf_markdown_is_published_without_carriage_returns() {
    let site = hostile_site();
    let json = site.json_feed("en");
    let entry = item(&json, "/crlf-bom/");
    assert_eq!(entry["title"], "Windows Line Endings");
    assert_eq!(entry["summary"], "First line, second line.");
    assert_eq!(entry["content_html"], "<p>First line,\nsecond line.</p>\n<p>Another paragraph.</p>\n");
    for rel in site.files() {
        assert!(!site.read(&rel).contains(['\r', '\u{feff}']), "{rel} has a carriage return or a BOM");
    }
}
