//! The archive a person browses: `/{lang}/archive/` lists every month with articles in the
//! language (newest first, grouped by year), and `/{lang}/archive/{year}/{month}/` lists every
//! article of one month, with links to the months before and after. With the paged front and
//! sector pages, every published article is a few clicks from its language's front page.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::Serialize;

use super::Shared;
use super::pages::{Caching, feed_links, listed, not_found_page, render};
use crate::links;
use crate::store::dates::Month;

/// Links between the pages of a listing.
#[derive(Serialize)]
pub struct Pager {
    /// `Page 2 of 7`, in the page's language.
    pub label: String,
    /// The page of newer articles (`rel="prev"`), if any.
    pub newer: Option<String>,
    /// The page of older articles (`rel="next"`), if any.
    pub older: Option<String>,
}

/// The page of one month: `{base}/{lang}/archive/2026/11/`.
fn month_url(base: &str, lang: &str, month: Month) -> String {
    format!("{base}/{lang}/archive/{}/{:02}/", month.year, month.month)
}

/// `/{lang}/archive/`: every month that has articles in `lang`, with how many.
pub async fn index(State(shared): State<Arc<Shared>>, Path(lang): Path<String>) -> Response {
    let site = shared.live.site.load();
    let config = &site.config;
    if config.language(&lang).is_none() {
        return not_found_page(&site, &config.site.default_language);
    }
    let catalog = shared.live.catalog.load();
    // Newest first, so months come in order and each is counted in one pass.
    let mut months: Vec<(Month, u64)> = Vec::new();
    for meta in catalog.in_language(&lang) {
        let month = Month::of(meta.published, config.site.timezone);
        match months.last_mut() {
            Some((last, n)) if *last == month => *n += 1,
            _ => months.push((month, 1)),
        }
    }
    let mut years: Vec<(i32, Vec<Value>)> = Vec::new();
    for (month, count) in months {
        let entry = context! {
            name => month.first_day().map_or_else(|| month.to_string(), |d| site.renderer.year_month(&lang, d)),
            url => month_url(&config.site.base_url, &lang, month),
            count => site.renderer.count(&lang, "archive_count", count),
        };
        match years.last_mut() {
            Some((year, list)) if *year == month.year => list.push(entry),
            _ => years.push((month.year, vec![entry])),
        }
    }
    let years: Vec<Value> = years.into_iter().map(|(year, months)| context! { year, months }).collect();
    let title = site.renderer.string(&lang, "archive_title");
    let alternates: Vec<Value> = config
        .languages
        .iter()
        .map(|l| context! { lang => &l.code, url => format!("{}/{}/archive/", config.site.base_url, l.code) })
        .collect();
    let language_title = config.language(&lang).map(|l| l.title.clone()).unwrap_or_default();
    let extra = context! {
        years,
        intro => site.renderer.string(&lang, "archive_intro"),
        canonical => format!("{}/{lang}/archive/", config.site.base_url),
        alternates,
        feeds => feed_links(&site, &lang, None, &language_title),
    };
    render(&site, &lang, "pages/archive.html", &title, extra, StatusCode::OK, Caching::Public)
}

/// `/{lang}/archive/{year}/{month}/`: every article published in `lang` that month.
pub async fn month(
    State(shared): State<Arc<Shared>>,
    Path((lang, year, month)): Path<(String, String, String)>,
) -> Response {
    let site = shared.live.site.load();
    let config = &site.config;
    if config.language(&lang).is_none() {
        return not_found_page(&site, &config.site.default_language);
    }
    let Some(month) = Month::parse(&format!("{year}-{month}")) else { return not_found_page(&site, &lang) };
    let catalog = shared.live.catalog.load();
    let tz = config.site.timezone;
    let mut articles = Vec::new();
    let (mut newer, mut older) = (None, None);
    // Newest first: months after this one come before its articles, months before it after.
    for meta in catalog.in_language(&lang) {
        let at = Month::of(meta.published, tz);
        if at > month {
            newer = Some(at);
        } else if at == month {
            articles.push(listed(&site, &lang, &meta));
        } else {
            older = Some(at);
            break;
        }
    }
    if articles.is_empty() {
        return not_found_page(&site, &lang);
    }
    let base = &config.site.base_url;
    let name = |m: Month| m.first_day().map_or_else(|| m.to_string(), |d| site.renderer.year_month(&lang, d));
    let pager = Pager {
        label: name(month),
        newer: newer.map(|m| month_url(base, &lang, m)),
        older: older.map(|m| month_url(base, &lang, m)),
    };
    let title = format!("{} · {}", name(month), site.renderer.string(&lang, "archive_title"));
    let language_title = config.language(&lang).map(|l| l.title.clone()).unwrap_or_default();
    let extra = context! {
        articles,
        pager,
        feeds => feed_links(&site, &lang, None, &language_title),
        feed_page => super::feed_page::url(&lang, None),
        canonical => month_url(base, &lang, month),
        archive_page => true,
        home => links::listing_page(config, &lang, None),
    };
    render(&site, &lang, "pages/list.html", &title, extra, StatusCode::OK, Caching::Public)
}
