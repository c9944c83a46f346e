//! RSS 2.0 with the `rss` crate: `language`, an `atom:link rel="self"`, a stable non-permalink
//! `guid`, RFC 2822 dates with a numeric offset (`+0800`: feed parsers read `CST` as US
//! Central time), categories, `description` (the summary) and `content:encoded` (full text).
//! RFC 5005 history as `atom:link` elements and `fh:archive`, as the RFC allows for RSS.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use rss::extension::Extension;
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Enclosure, Guid, Item};

use super::atom::HISTORY_NS;
use super::model::{Entry, FeedInfo, History};

const RSS: &str = "application/rss+xml";
use crate::text::escape_html;

fn alternate(lang: &str, url: &str, title: Option<&str>) -> Extension {
    let mut attrs = BTreeMap::from([
        ("rel".to_owned(), "alternate".to_owned()),
        ("type".to_owned(), "text/html".to_owned()),
        ("hreflang".to_owned(), lang.to_owned()),
        ("href".to_owned(), url.to_owned()),
    ]);
    if let Some(title) = title {
        attrs.insert("title".to_owned(), title.to_owned());
    }
    Extension { name: "atom:link".to_owned(), value: None, attrs, children: BTreeMap::new() }
}

/// `atom:link rel="alternate" hreflang=…` elements for the translations (RSS has none of its
/// own), then one for the item's own page: feedparser takes the last alternate link as the
/// item's link, so its own page must come last.
fn translation_links(e: &Entry) -> rss::extension::ExtensionMap {
    if e.translations.is_empty() {
        return BTreeMap::new();
    }
    let mut links: Vec<Extension> = e.translations.iter().map(|t| alternate(&t.lang, &t.url, Some(&t.title))).collect();
    links.push(alternate(e.lang, &e.url, None));
    BTreeMap::from([("atom".to_owned(), BTreeMap::from([("link".to_owned(), links)]))])
}

fn item(info: &FeedInfo, e: &Entry) -> Item {
    Item {
        title: Some(e.title.to_owned()),
        link: Some(e.url.clone()),
        // Readers treat `description` as HTML: escaped, text like `<b>` or `&amp;` reads back as written.
        description: (!e.summary.is_empty()).then(|| escape_html(e.summary)),
        guid: Some(Guid { value: e.id.clone(), permalink: false }),
        pub_date: Some(e.published.to_rfc2822()),
        categories: e
            .categories
            .iter()
            .map(|c| Category { name: c.label.clone(), domain: Some(format!("{}{}/", info.category_scheme, c.term)) })
            .collect(),
        content: Some(e.content_html.to_owned()),
        // RSS `author` must be an e-mail address; a name goes in dc:creator.
        dublin_core_ext: e
            .author
            .map(|name| DublinCoreExtension { creators: vec![name.to_owned()], ..Default::default() }),
        extensions: translation_links(e),
        // RSS 2.0 allows one enclosure an item: the first attachment.
        enclosure: e.attachments.first().map(|a| Enclosure {
            url: a.url.clone(),
            length: a.length.to_string(),
            mime_type: a.media_type.to_owned(),
        }),
        ..Item::default()
    }
}

fn history_links(history: &History) -> impl Iterator<Item = Link> + '_ {
    [("current", &history.current), ("prev-archive", &history.prev), ("next-archive", &history.next)]
        .into_iter()
        .filter_map(|(rel, urls)| {
            urls.as_ref().map(|u| Link {
                href: u.rss.clone(),
                rel: rel.to_owned(),
                mime_type: Some(RSS.to_owned()),
                ..Link::default()
            })
        })
}

/// The RSS document for a feed.
pub fn render(info: &FeedInfo, entries: &[&Entry]) -> Result<Vec<u8>> {
    let channel = Channel {
        title: info.title.clone(),
        link: info.page_url.clone(),
        description: info.description.clone(),
        language: Some(info.lang.clone()),
        generator: Some("gazette".to_owned()),
        pub_date: Some(info.published.to_rfc2822()),
        last_build_date: Some(info.updated.to_rfc2822()),
        atom_ext: Some(AtomExtension {
            // WebSub 4: `self` (the topic) and each hub.
            links: std::iter::once(Link {
                href: info.rss_url.clone(),
                rel: "self".to_owned(),
                mime_type: Some(RSS.to_owned()),
                ..Link::default()
            })
            .chain(info.hubs.iter().map(|hub| Link { href: hub.clone(), rel: "hub".to_owned(), ..Link::default() }))
            .chain(history_links(&info.history))
            .collect(),
        }),
        items: entries.iter().map(|e| item(info, e)).collect(),
        ..Channel::default()
    };
    let mut channel = channel;
    if info.history.is_archive {
        channel.namespaces.insert("fh".to_owned(), HISTORY_NS.to_owned());
        let archive = Extension { name: "fh:archive".to_owned(), ..Extension::default() };
        channel.extensions.insert("fh".to_owned(), BTreeMap::from([("archive".to_owned(), vec![archive])]));
    }
    let mut out = channel.write_to(Vec::new()).context("cannot write RSS")?;
    out.push(b'\n');
    Ok(out)
}
