//! `index.opml` (OPML 2.0): every feed (its Atom version) with its title, grouped by
//! language, so a reader can subscribe to all of them at once.

use anyhow::{Context, Result};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::model::FeedInfo;

/// One outline group: a language's title and its feeds.
pub struct Group<'a> {
    /// The language's feed title.
    pub title: &'a str,
    /// Its feeds.
    pub feeds: Vec<&'a FeedInfo>,
}

/// The OPML document listing `groups`.
pub fn render(title: &str, groups: &[Group]) -> Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let result: std::io::Result<()> = (|| {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.write_event(Event::Start(BytesStart::new("opml").with_attributes([("version", "2.0")])))?;
        w.write_event(Event::Start(BytesStart::new("head")))?;
        w.create_element("title").write_text_content(BytesText::new(title))?;
        w.write_event(Event::End(BytesEnd::new("head")))?;
        w.write_event(Event::Start(BytesStart::new("body")))?;
        for group in groups {
            // A folder: only `text` (other attributes would call for a `type`, OPML 2.0).
            w.write_event(Event::Start(BytesStart::new("outline").with_attributes([("text", group.title)])))?;
            for feed in &group.feeds {
                // One outline per feed, so importing the list subscribes to each feed once:
                // the Atom one (OPML's `type="rss"` stands for any feed format).
                w.write_event(Event::Empty(BytesStart::new("outline").with_attributes([
                    ("type", "rss"),
                    ("text", feed.title.as_str()),
                    ("title", feed.title.as_str()),
                    ("language", feed.lang.as_str()),
                    ("xmlUrl", feed.atom_url.as_str()),
                    ("htmlUrl", feed.page_url.as_str()),
                ])))?;
            }
            w.write_event(Event::End(BytesEnd::new("outline")))?;
        }
        w.write_event(Event::End(BytesEnd::new("body")))?;
        w.write_event(Event::End(BytesEnd::new("opml")))?;
        Ok(())
    })();
    result.context("cannot write OPML")?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}
