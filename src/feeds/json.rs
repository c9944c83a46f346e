//! JSON Feed 1.1 (<https://www.jsonfeed.org/version/1.1/>). Translations go in a `_gazette`
//! extension object, the spec's way to add fields.

use anyhow::{Context, Result};
use serde::Serialize;

use super::model::{Entry, FeedInfo};

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    description: &'a str,
    language: &'a str,
    authors: [Author<'a>; 1],
    /// JSON Feed's paging: the next older page of items (RFC 5005's `prev-archive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<Item<'a>>,
}

/// JSON Feed 1.1 `hubs`: endpoints for real-time notification.
#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    language: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<JsonAttachment<'a>>,
    #[serde(rename = "_gazette", skip_serializing_if = "Option::is_none")]
    extension: Option<Extension<'a>>,
}

/// JSON Feed 1.1 `attachments`: `url` and `mime_type` required, `title` and `size_in_bytes`
/// optional.
#[derive(Serialize)]
struct JsonAttachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    title: &'a str,
    size_in_bytes: u64,
}

#[derive(Serialize)]
struct Extension<'a> {
    translations: Vec<Translation<'a>>,
}

#[derive(Serialize)]
struct Translation<'a> {
    language: &'a str,
    url: &'a str,
    title: &'a str,
}

fn item<'a>(e: &'a Entry) -> Item<'a> {
    Item {
        id: &e.id,
        url: &e.url,
        title: e.title,
        content_html: e.content_html,
        summary: e.summary,
        image: e.image,
        date_published: e.published.to_rfc3339(),
        date_modified: e.updated.to_rfc3339(),
        authors: e.author.map(|name| Author { name }).into_iter().collect(),
        tags: e.categories.iter().map(|c| c.label.as_str()).collect(),
        language: e.lang,
        attachments: e
            .attachments
            .iter()
            .map(|a| JsonAttachment { url: &a.url, mime_type: a.media_type, title: &a.name, size_in_bytes: a.length })
            .collect(),
        extension: (!e.translations.is_empty()).then(|| Extension {
            translations: e
                .translations
                .iter()
                .map(|t| Translation { language: &t.lang, url: &t.url, title: &t.title })
                .collect(),
        }),
    }
}

/// The JSON Feed document for a feed.
pub fn render(info: &FeedInfo, entries: &[&Entry]) -> Result<Vec<u8>> {
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &info.title,
        home_page_url: &info.page_url,
        // The feed's identity, the same on every page of it.
        feed_url: &info.json_id,
        description: &info.description,
        language: &info.lang,
        authors: [Author { name: &info.author }],
        next_url: info.history.prev.as_ref().map(|u| u.json.as_str()),
        hubs: info.hubs.iter().map(|url| Hub { kind: "WebSub", url }).collect(),
        items: entries.iter().map(|e| item(e)).collect(),
    };
    let mut out = serde_json::to_vec_pretty(&feed).context("cannot write JSON Feed")?;
    out.push(b'\n');
    Ok(out)
}
