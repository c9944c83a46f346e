//! The page a person lands on who clicks a feed link: what a feed is, the address to copy into
//! a reader, the feed's other formats and the same feed in the other languages. Pages link
//! here rather than to raw XML, which a browser shows as text or downloads (no XSLT: browsers
//! are dropping it). Feed readers still find the feeds themselves in each page's head.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};

use super::Shared;
use super::pages::{Caching, feed_links, not_found_page, render};
use crate::links;

/// Where the page of a feed is: `/{lang}/feed/` or `/{lang}/sectors/{sector}/feed/`.
pub fn url(lang: &str, sector: Option<&str>) -> String {
    match sector {
        Some(sector) => format!("/{lang}/sectors/{sector}/feed/"),
        None => format!("/{lang}/feed/"),
    }
}

/// `/{lang}/feed/`: the language's feed.
pub async fn language(State(shared): State<Arc<Shared>>, Path(lang): Path<String>) -> Response {
    page(&shared, &lang, None)
}

/// `/{lang}/sectors/{sector}/feed/`: a sector's feed.
pub async fn sector(State(shared): State<Arc<Shared>>, Path((lang, sector)): Path<(String, String)>) -> Response {
    page(&shared, &lang, Some(&sector))
}

fn page(shared: &Shared, lang: &str, sector: Option<&str>) -> Response {
    let site = shared.live.site.load();
    let config = &site.config;
    let Some(language) = config.language(lang) else {
        return not_found_page(&site, &config.site.default_language);
    };
    let sector_config = match sector {
        Some(id) => match config.sectors.iter().find(|s| s.id == id) {
            Some(s) => Some(s),
            None => return not_found_page(&site, lang),
        },
        None => None,
    };
    let feed_title = match sector_config {
        Some(s) => format!("{} · {}", language.title, s.name(lang, &config.site.default_language)),
        None => language.title.clone(),
    };
    let title = site.renderer.string(lang, "feed_page_title").replace("{feed}", &feed_title);
    let feeds = feed_links(&site, lang, sector, &feed_title);
    let others: Vec<Value> = config
        .languages
        .iter()
        .filter(|l| l.code != lang)
        .map(|l| {
            context! {
                lang => &l.code,
                name => site.renderer.string(&l.code, "language_name"),
                url => url(&l.code, sector),
            }
        })
        .collect();
    let alternates: Vec<Value> = config
        .languages
        .iter()
        .map(|l| context! { lang => &l.code, url => format!("{}{}", config.site.base_url, url(&l.code, sector)) })
        .collect();
    let extra = context! {
        address => links::feed_url(config, lang, sector, "atom.xml"),
        formats => &feeds,
        others,
        listing => links::listing_page(config, lang, sector),
        feed_title,
        canonical => format!("{}{}", config.site.base_url, url(lang, sector)),
        alternates,
        feeds,
    };
    render(&site, lang, "pages/feed.html", &title, extra, StatusCode::OK, Caching::Public)
}
