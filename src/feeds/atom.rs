//! Atom 1.0 (RFC 4287) with `atom_syndication`: `xml:lang`, a `self` link, stable `tag:` ids,
//! `published` and `updated`, sector categories, HTML content plus summary, and on every entry
//! that exists in other languages an `alternate` link with `hreflang` to each translation.
//! RFC 5005 history: `prev-archive` / `next-archive` / `current` links, and `fh:archive` on an
//! archive page.

use anyhow::{Context, Result};
use atom_syndication::{Category, Content, Entry as AtomEntry, Feed, Generator, Link, Person, Text};

use super::model::{Entry, FeedInfo, History};

const HTML: &str = "text/html";
const ATOM: &str = "application/atom+xml";
/// RFC 5005's namespace.
pub const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

fn link(href: &str, rel: &str, mime: &str, hreflang: Option<&str>, title: Option<&str>) -> Link {
    Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        hreflang: hreflang.map(str::to_owned),
        mime_type: Some(mime.to_owned()),
        title: title.map(str::to_owned),
        length: None,
    }
}

fn entry(info: &FeedInfo, e: &Entry) -> AtomEntry {
    // Readers disagree on which alternate link is "the" link: most take the first, feedparser
    // takes the last. So when translations follow the entry's own page, its page comes last
    // again, without hreflang so that every (type, hreflang) pair stays unique (RFC 4287 §4.2.7.2).
    let mut links = vec![link(&e.url, "alternate", HTML, Some(e.lang), None)];
    if !e.translations.is_empty() {
        links.extend(e.translations.iter().map(|t| link(&t.url, "alternate", HTML, Some(&t.lang), Some(&t.title))));
        links.push(link(&e.url, "alternate", HTML, None, None));
    }
    // RFC 4287 §4.2.7.2: an enclosure link may be large and says its length.
    links.extend(e.attachments.iter().map(|a| Link {
        length: Some(a.length.to_string()),
        ..link(&a.url, "enclosure", a.media_type, None, Some(&a.name))
    }));
    let mut atom = AtomEntry::default();
    atom.set_title(Text::plain(e.title));
    atom.set_id(e.id.clone());
    atom.set_updated(e.updated);
    atom.set_published(Some(e.published));
    atom.set_links(links);
    atom.set_authors(
        e.author.map(|name| vec![Person { name: name.to_owned(), ..Person::default() }]).unwrap_or_default(),
    );
    atom.set_categories(
        e.categories
            .iter()
            .map(|c| Category {
                term: c.term.clone(),
                scheme: Some(info.category_scheme.clone()),
                label: Some(c.label.clone()),
            })
            .collect::<Vec<_>>(),
    );
    if !e.summary.is_empty() {
        atom.set_summary(Some(Text::plain(e.summary)));
    }
    atom.set_content(Some(Content {
        content_type: Some("html".to_owned()),
        value: Some(e.content_html.to_owned()),
        ..Content::default()
    }));
    atom
}

fn history_links(history: &History) -> impl Iterator<Item = Link> + '_ {
    [("current", &history.current), ("prev-archive", &history.prev), ("next-archive", &history.next)]
        .into_iter()
        .filter_map(|(rel, urls)| urls.as_ref().map(|u| link(&u.atom, rel, ATOM, None, None)))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The Atom document for a feed.
pub fn render(info: &FeedInfo, entries: &[&Entry]) -> Result<Vec<u8>> {
    let mut feed = Feed::default();
    feed.set_title(Text::plain(info.title.as_str()));
    feed.set_subtitle(Some(Text::plain(info.description.as_str())));
    feed.set_id(info.id.clone());
    feed.set_updated(info.updated);
    feed.set_lang(Some(info.lang.clone()));
    feed.set_authors(vec![Person { name: info.author.clone(), ..Person::default() }]);
    feed.set_generator(Some(Generator { value: "gazette".to_owned(), uri: None, version: None }));
    let mut links = vec![
        link(&info.atom_url, "self", ATOM, None, None),
        link(&info.page_url, "alternate", HTML, Some(&info.lang), None),
    ];
    // WebSub 4: the hub, beside `self` (the topic).
    links.extend(info.hubs.iter().map(|hub| Link { href: hub.clone(), rel: "hub".to_owned(), ..Link::default() }));
    links.extend(history_links(&info.history));
    feed.set_links(links);
    if info.history.is_archive {
        feed.set_namespaces(std::collections::BTreeMap::from([("fh".to_owned(), HISTORY_NS.to_owned())]));
    }
    feed.set_entries(entries.iter().map(|e| entry(info, e)).collect::<Vec<_>>());
    let mut out = feed.write_to(Vec::new()).context("cannot write Atom XML")?;
    if info.history.is_archive {
        // RFC 4287's schema takes extension elements of a feed only before its entries, and the
        // writer puts them after: so `fh:archive` goes in by hand, before the first entry (no
        // text the writer escaped can hold a raw `<entry`).
        let at = find(&out, b"<entry").or_else(|| find(&out, b"</feed>")).context("the Atom writer wrote no feed")?;
        out.splice(at..at, b"<fh:archive/>".iter().copied());
    }
    out.push(b'\n');
    Ok(out)
}
