//! Where things live: the absolute URLs of articles, feeds and pages, and the ids of entries.
//! Feeds, digests and the HTTP server all link through here, so a URL is decided once.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::config::Config;
use crate::store::ArticleMeta;
use crate::store::dates::in_zone;

/// Characters escaped in a URL path segment (RFC 3986 `pchar` keeps the rest).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// The page of an article version on this site: `{base}/{lang}/articles/{slug}/`.
pub fn article_page(config: &Config, lang: &str, slug: &str) -> String {
    format!("{}/{lang}/articles/{}/", config.site.base_url, utf8_percent_encode(slug, SEGMENT))
}

/// Where an attachment of an article version is served: beside its page,
/// `{base}/{lang}/articles/{slug}/{name}`, the name percent-encoded (RFC 3986: UTF-8 bytes),
/// so the URL stays the same as long as the article's slug and the file's name do.
pub fn attachment_url(config: &Config, meta: &ArticleMeta, name: &str) -> String {
    format!("{}{}", article_page(config, meta.lang, meta.slug), utf8_percent_encode(name, SEGMENT))
}

/// Where an article version is read: its canonical URL when front matter gives one, else its page.
pub fn article_link(config: &Config, meta: &ArticleMeta) -> String {
    meta.canonical_url.map_or_else(|| article_page(config, meta.lang, meta.slug), str::to_owned)
}

/// A stable entry id (RFC 4151 `tag:` URI): authority, publication date, language and slug.
/// Editing the title or text never changes it.
pub fn entry_id(config: &Config, meta: &ArticleMeta) -> String {
    let day = in_zone(meta.published, config.site.timezone).format("%Y-%m-%d");
    format!("tag:{},{day}:{}/{}", config.site.tag_authority, meta.lang, utf8_percent_encode(meta.slug, SEGMENT))
}

/// The folder of a feed under the feeds root: `zh` or `zh/trade`.
pub fn feed_dir(lang: &str, sector: Option<&str>) -> String {
    match sector {
        Some(sector) => format!("{lang}/{sector}"),
        None => lang.to_owned(),
    }
}

/// The absolute URL a feed file is served at: `{base}/feeds/{dir}/{file}`.
pub fn feed_url(config: &Config, lang: &str, sector: Option<&str>, file: &str) -> String {
    format!("{}/feeds/{}/{file}", config.site.base_url, feed_dir(lang, sector))
}

/// The WebSub hubs every feed names (`rel="hub"`): gazette's own hub, `{base}/websub`, unless
/// `websub.hub = false`, then the external `websub.hubs`.
pub fn hubs(config: &Config) -> Vec<String> {
    let own = config.websub.is_hub.then(|| format!("{}/websub", config.site.base_url));
    own.into_iter().chain(config.websub.hubs.iter().map(|u| u.as_str().to_owned())).collect()
}

/// The HTML page a feed mirrors: the language front page, or a sector's page.
pub fn listing_page(config: &Config, lang: &str, sector: Option<&str>) -> String {
    match sector {
        Some(sector) => format!("{}/{lang}/sectors/{sector}/", config.site.base_url),
        None => format!("{}/{lang}/", config.site.base_url),
    }
}

/// The list of past digests in `lang`: `{base}/{lang}/digests/`.
pub fn digest_list(config: &Config, lang: &str) -> String {
    format!("{}/{lang}/digests/", config.site.base_url)
}

/// The Atom feed of past digests in `lang`: `{base}/{lang}/digests/atom.xml`.
pub fn digest_list_feed(config: &Config, lang: &str) -> String {
    format!("{}/{lang}/digests/atom.xml", config.site.base_url)
}

/// The web copy of run `run` of digest `digest` in `lang` for the sector set `sectors` (its
/// URL segment, `None` for every sector): `{base}/{lang}/digests/{digest}/{run}/[{sectors}/]`.
/// It names no subscriber: everyone with that language and those sectors has the same one.
pub fn digest_copy(config: &Config, lang: &str, digest: &str, run: i64, sectors: Option<String>) -> String {
    let list = digest_list(config, lang);
    match sectors {
        Some(sectors) => format!("{list}{}/{run}/{sectors}/", utf8_percent_encode(digest, SEGMENT)),
        None => format!("{list}{}/{run}/", utf8_percent_encode(digest, SEGMENT)),
    }
}

/// The page that unsubscribes (GET shows a button; POST, also RFC 8058 one-click, acts).
pub fn unsubscribe_url(config: &Config, token: &str) -> String {
    format!("{}/unsubscribe?token={token}", config.site.base_url)
}

/// The page where a subscriber changes language, sectors or digest.
pub fn preferences_url(config: &Config, token: &str) -> String {
    format!("{}/preferences?token={token}", config.site.base_url)
}

/// The page that confirms a subscription (double opt-in).
pub fn confirm_url(config: &Config, token: &str) -> String {
    format!("{}/confirm?token={token}", config.site.base_url)
}
