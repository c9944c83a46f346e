//! Language versions of one article link each other: Atom entries (and RSS items, through
//! `atom:link`) carry an `alternate` link with `hreflang` per translation, while the link a
//! reader opens stays the entry's own page.

use serde_json::Value;

use crate::helpers::{Site, configured_languages, repo};
use crate::readback::expected;
use crate::validators::{feed_rs, feedparser};

fn example_site() -> Site {
    let site = Site::copy_of(&repo().join("articles"));
    site.build().success();
    site
}

fn entries(parsed: &Value) -> &Vec<Value> {
    parsed["entries"].as_array().expect("entries")
}

#[test]
fn atom_entries_link_translations_with_hreflang() {
    let site = example_site();
    let languages = configured_languages();
    let feeds: Vec<_> = languages.iter().map(|lang| expected(&site, lang).1).collect();
    let mut pairs = 0;
    for (lang, mine) in languages.iter().zip(&feeds) {
        let lang = lang.as_str();
        let others: Vec<_> = feeds.iter().flatten().filter(|e| e.language != lang).collect();
        let parsed = feedparser(&site.out.join(format!("{lang}/atom.xml")));
        let feed = feed_rs(&site.out.join(format!("{lang}/atom.xml")));
        for ((want, got), rs) in mine.iter().zip(entries(&parsed)).zip(&feed.entries) {
            let alternates: Vec<&Value> =
                got["links"].as_array().expect("links").iter().filter(|l| l["rel"] == "alternate").collect();
            // Own page, translations, and (with translations) the own page again without hreflang.
            let repeated = usize::from(!want.translations.is_empty());
            assert_eq!(alternates.len(), 1 + want.translations.len() + repeated, "{}: {alternates:?}", want.id);
            let own = alternates.iter().find(|l| l["hreflang"] == lang).expect("a link in the entry's own language");
            assert_eq!(own["href"], want.url.as_str());
            for (other_lang, url, title) in &want.translations {
                let link = alternates.iter().find(|l| l["hreflang"] == other_lang.as_str());
                let link = link.unwrap_or_else(|| panic!("{}: no hreflang={other_lang} link", want.id));
                assert_eq!(link["href"], url.as_str());
                assert_eq!(link["title"], title.as_str());
                assert_eq!(link["type"], "text/html");
                // The translation is published, and links back.
                let back = others
                    .iter()
                    .find(|o| &o.url == url && o.language == *other_lang)
                    .unwrap_or_else(|| panic!("{url} is not in a feed"));
                assert_eq!(&back.title, title);
                assert!(
                    back.translations.iter().any(|(l, u, _)| l == lang && u == &want.url),
                    "{url} does not link back"
                );
                pairs += 1;
            }
            let rs_langs: Vec<Option<&str>> = rs.links.iter().map(|l| l.href_lang.as_deref()).collect();
            assert_eq!(rs_langs.len(), alternates.len(), "feed-rs: {rs_langs:?}");
        }
    }
    assert!(pairs >= 20, "the example store has translated articles; only {pairs} translation links found");

    // The link a feedparser-based reader opens (`entry.link`) must be the entry's own page.
    for (lang, mine) in languages.iter().zip(&feeds) {
        let parsed = feedparser(&site.out.join(format!("{lang}/atom.xml")));
        for (want, got) in mine.iter().zip(entries(&parsed)) {
            assert_eq!(
                got["link"],
                want.url.as_str(),
                "{lang}/atom.xml: feedparser's entry.link for {} is not the entry's own page (links: {})",
                want.id,
                got["links"]
            );
        }
    }
}

#[test]
fn rss_items_link_their_own_language_page() {
    let site = example_site();
    for lang in configured_languages() {
        let (_, mine) = expected(&site, &lang);
        let parsed = feedparser(&site.out.join(format!("{lang}/rss.xml")));
        for (want, got) in mine.iter().zip(entries(&parsed)) {
            let links = got["links"].as_array().expect("links");
            for (other, url, _) in &want.translations {
                assert!(
                    links.iter().any(|l| l["hreflang"] == other.as_str() && l["href"] == url.as_str()),
                    "{lang}/rss.xml: {} has no atom:link hreflang={other}: {links:?}",
                    want.id
                );
            }
            assert_eq!(
                got["link"],
                want.url.as_str(),
                "{lang}/rss.xml: feedparser's entry.link for {} is not the item's own page (links: {links:?})",
                want.id
            );
        }
    }
}
