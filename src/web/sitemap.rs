//! `/sitemap.xml` (the sitemaps.org protocol 0.9) listing every article page with
//! `xhtml:link rel="alternate" hreflang` to its translations, and each language's front and
//! archive pages; past 50,000 URLs, the protocol's limit for one file, `/sitemap.xml` is an
//! index of `/sitemap-1.xml`, `/sitemap-2.xml`, … (at the root, since a sitemap may only list
//! URLs under its own folder). Made once per catalog and kept. Also `/robots.txt`, which
//! points to it.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;

use super::{Shared, Site};
use crate::config::Config;
use crate::links;
use crate::store::Catalog;
use crate::store::dates::in_zone;
use crate::text::escape_html;

/// The protocol's limit of URLs in one file.
const MAX_URLS: usize = 50_000;

/// The documents of the last catalog and site they were made for.
#[derive(Default)]
pub struct Sitemaps {
    made: Mutex<Option<Made>>,
}

struct Made {
    site: Arc<Site>,
    catalog: Arc<Catalog>,
    /// `/sitemap.xml` first, then the parts it indexes, if any.
    documents: Arc<Vec<Bytes>>,
}

impl Sitemaps {
    fn documents(&self, site: Arc<Site>, catalog: Arc<Catalog>) -> Arc<Vec<Bytes>> {
        let mut made = self.made.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(m) = made.as_ref().filter(|m| Arc::ptr_eq(&m.site, &site) && Arc::ptr_eq(&m.catalog, &catalog)) {
            return m.documents.clone();
        }
        let documents = Arc::new(documents(&site.config, &catalog, MAX_URLS));
        *made = Some(Made { site, catalog, documents: documents.clone() });
        documents
    }
}

/// One `<url>`: its location, when it last changed and its other language versions.
struct Url {
    loc: String,
    lastmod: Option<String>,
    alternates: Vec<(String, String)>,
}

fn urls(config: &Config, catalog: &Catalog) -> Vec<Url> {
    let base = &config.site.base_url;
    let mut urls = Vec::with_capacity(catalog.len() + 2 * config.languages.len());
    let fronts: Vec<(String, String)> =
        config.languages.iter().map(|l| (l.code.clone(), format!("{base}/{}/", l.code))).collect();
    for (_, front) in &fronts {
        urls.push(Url { loc: front.clone(), lastmod: None, alternates: fronts.clone() });
    }
    let archives: Vec<(String, String)> =
        config.languages.iter().map(|l| (l.code.clone(), format!("{base}/{}/archive/", l.code))).collect();
    for (_, archive) in &archives {
        urls.push(Url { loc: archive.clone(), lastmod: None, alternates: archives.clone() });
    }
    for meta in catalog.articles() {
        let translations = catalog.translations(&meta);
        let mut alternates: Vec<(String, String)> = Vec::with_capacity(translations.len() + 1);
        if !translations.is_empty() {
            // The protocol's alternates list every version, the page's own included.
            alternates.push((meta.lang.to_owned(), links::article_page(config, meta.lang, meta.slug)));
            alternates
                .extend(translations.iter().map(|t| (t.lang.to_owned(), links::article_page(config, t.lang, t.slug))));
            alternates.sort();
        }
        urls.push(Url {
            loc: links::article_page(config, meta.lang, meta.slug),
            lastmod: Some(in_zone(meta.updated, config.site.timezone).to_rfc3339()),
            alternates,
        });
    }
    urls
}

fn urlset(urls: &[Url]) -> Bytes {
    let mut out = String::with_capacity(urls.len() * 300);
    out.push_str(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        "\n",
        r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">"#,
        "\n"
    ));
    for url in urls {
        let _ = write!(out, "<url><loc>{}</loc>", escape_html(&url.loc));
        if let Some(lastmod) = &url.lastmod {
            let _ = write!(out, "<lastmod>{lastmod}</lastmod>");
        }
        for (lang, href) in &url.alternates {
            let _ = write!(
                out,
                r#"<xhtml:link rel="alternate" hreflang="{}" href="{}"/>"#,
                escape_html(lang),
                escape_html(href)
            );
        }
        out.push_str("</url>\n");
    }
    out.push_str("</urlset>\n");
    Bytes::from(out)
}

/// `/sitemap.xml` and, when there are more than `per_file` URLs, the parts it indexes.
fn documents(config: &Config, catalog: &Catalog, per_file: usize) -> Vec<Bytes> {
    let urls = urls(config, catalog);
    if urls.len() <= per_file {
        return vec![urlset(&urls)];
    }
    let parts: Vec<Bytes> = urls.chunks(per_file.max(1)).map(urlset).collect();
    let mut index = String::from(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        "\n",
        r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">"#,
        "\n"
    ));
    for n in 1..=parts.len() {
        let _ = writeln!(index, "<sitemap><loc>{}/sitemap-{n}.xml</loc></sitemap>", escape_html(&config.site.base_url));
    }
    index.push_str("</sitemapindex>\n");
    std::iter::once(Bytes::from(index)).chain(parts).collect()
}

fn xml(body: Bytes) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// `/sitemap.xml`.
pub async fn index(axum::extract::State(shared): axum::extract::State<Arc<Shared>>) -> Response {
    let documents = shared.sitemaps.documents(shared.live.site.load_full(), shared.live.catalog.load_full());
    documents.first().cloned().map_or_else(|| StatusCode::NOT_FOUND.into_response(), xml)
}

/// The part number `n` of `sitemap-n.xml`, if `segment` names one.
pub fn part_number(segment: &str) -> Option<usize> {
    let n = segment.strip_prefix("sitemap-")?.strip_suffix(".xml")?;
    if n.is_empty() || n.starts_with('0') || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// `/sitemap-{n}.xml`: a part of a sitemap too large for one file.
pub fn part(shared: &Shared, n: usize) -> Response {
    let documents = shared.sitemaps.documents(shared.live.site.load_full(), shared.live.catalog.load_full());
    match documents.get(n).filter(|_| documents.len() > 1) {
        Some(body) => xml(body.clone()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `/robots.txt`: everything may be crawled but the pages a link in an email opens, and the
/// sitemap is here.
pub async fn robots(axum::extract::State(shared): axum::extract::State<Arc<Shared>>) -> Response {
    let base = shared.live.site.load().config.site.base_url.clone();
    let body = format!(
        "User-agent: *\nDisallow: /confirm\nDisallow: /unsubscribe\nDisallow: /preferences\n\nSitemap: {base}/sitemap.xml\n"
    );
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Version;
    use crate::store::index::{FileRecord, Outcome, Stamp};

    fn config() -> Config {
        Config::parse(include_str!("../../config.toml"), std::path::Path::new("/srv/config.toml")).unwrap()
    }

    fn record(path: &str, lang: u8, title: &str) -> FileRecord {
        let version = Version {
            lang,
            title: title.to_owned(),
            published: 1_700_000_000,
            updated: 1_700_000_000,
            sectors: crate::store::SectorSet(0),
            has_listed_sectors: true,
            is_draft: false,
            canonical_url: None,
            attachments: Vec::new(),
            missing_attachments: Vec::new(),
        };
        FileRecord {
            path: path.to_owned(),
            stamp: Stamp { size: 0, mtime_ns: 0, ctime_ns: 0, inode: 0 },
            outcome: Outcome::Articles { versions: vec![version], notices: Vec::new() },
        }
    }

    #[test]
    fn a_large_sitemap_becomes_an_index_of_parts_that_list_every_page_once() {
        let config = config();
        let records =
            vec![record("fair.en.md", 1, "Fair"), record("fair.zh.md", 0, "博览会"), record("visit.en.md", 1, "Visit")];
        let catalog = Catalog::new(&config, records, 2_000_000_000);
        let all = urls(&config, &catalog).len();
        let docs = documents(&config, &catalog, 2);
        assert_eq!(docs.len(), 1 + all.div_ceil(2), "an index and its parts");
        let index = std::str::from_utf8(&docs[0]).unwrap();
        assert!(index.contains("<sitemapindex"), "{index}");
        assert_eq!(index.matches("<sitemap>").count(), docs.len() - 1);
        let parts: String = docs[1..].iter().map(|d| std::str::from_utf8(d).unwrap().to_owned()).collect();
        assert_eq!(parts.matches("<url>").count(), all, "every URL once over the parts");
        let fair = format!("<loc>{}/en/articles/fair/</loc>", config.site.base_url);
        assert_eq!(parts.matches(&fair).count(), 1);
        assert!(parts.contains(&format!(r#"hreflang="zh" href="{}/zh/articles/fair/""#, config.site.base_url)));
        let single = documents(&config, &catalog, MAX_URLS);
        assert_eq!(single.len(), 1, "a small sitemap is one file");
        assert!(std::str::from_utf8(&single[0]).unwrap().contains("<urlset"));
    }

    #[test]
    fn parts_are_numbered_from_one_without_leading_zeros() {
        assert_eq!(part_number("sitemap-1.xml"), Some(1));
        assert_eq!(part_number("sitemap-12.xml"), Some(12));
        for bad in ["sitemap-0.xml", "sitemap-01.xml", "sitemap-.xml", "sitemap-1.xml.gz", "sitemap.xml", "zh"] {
            assert_eq!(part_number(bad), None, "{bad}");
        }
    }
}
