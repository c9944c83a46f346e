//! The reading pages: a front page per language listing recent articles, a page per sector,
//! and a page per article version at the URL feeds and emails link to, with `hreflang` links
//! between translations and `<link rel="alternate">` feed autodiscovery. Also the common
//! frame every page is rendered in.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Serialize;

use super::{Shared, Site, guard};
use crate::links;
use crate::store::dates::in_zone;
use crate::store::{ArticleMeta, ParseContext};

/// Articles on a front or sector page.
const LISTED: usize = 50;
/// Pages that show what a link in an email does: no script, no other origin, no referrer
/// (the URL holds a token), no framing.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A feed link as pages show it.
#[derive(Serialize)]
pub(super) struct FeedLink {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub media_type: &'static str,
    pub title: String,
    pub url: String,
}

/// A link to the same page in another language.
#[derive(Serialize)]
pub(super) struct LanguageLink {
    pub lang: String,
    pub name: String,
    pub url: String,
}

/// An article in a listing.
#[derive(Serialize)]
pub(super) struct Listed {
    title: String,
    url: String,
    date: String,
    datetime: String,
    sectors: Vec<String>,
}

/// How a page may be kept.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// A public page: caches may keep it a minute.
    Public,
    /// A public page that differs by request (language, what was typed): nobody keeps it.
    Uncached,
    /// A page for one person (a token in its URL): nobody keeps it, no search engine lists it.
    Private,
}

/// Renders page template `name` in `lang` with `title` and `extra`, in the common frame.
pub fn render(
    site: &Site,
    lang: &str,
    name: &str,
    title: &str,
    extra: Value,
    status: StatusCode,
    caching: Caching,
) -> Response {
    let config = &site.config;
    let languages: Vec<LanguageLink> = config
        .languages
        .iter()
        .map(|l| LanguageLink {
            lang: l.code.clone(),
            name: site.renderer.string(&l.code, "language_name"),
            url: format!("/{}/", l.code),
        })
        .collect();
    let base = context! {
        lang,
        dir => site.renderer.direction(lang),
        t => site.renderer.strings(lang),
        site_title => site.renderer.site_title(lang),
        title,
        languages,
        noindex => caching == Caching::Private,
    };
    match site.renderer.render(name, &context! { ..extra, ..base }) {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(match caching {
                    Caching::Public => "public, max-age=60",
                    Caching::Uncached | Caching::Private => "no-store",
                }),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), template = name, "cannot render a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page cannot be shown; the error is logged").into_response()
        }
    }
}

/// A page of short paragraphs, with a button that posts `token` to `action` when given.
pub fn message(
    site: &Site,
    lang: &str,
    title_key: &str,
    paragraphs: &[String],
    form: Option<(&str, &str, &str)>,
    status: StatusCode,
) -> Response {
    let title = site.renderer.string(lang, title_key);
    let (action, token, button) = form.map_or((None, None, None), |(a, t, b)| (Some(a), Some(t), Some(b)));
    let extra = context! { text => paragraphs, action, token, button };
    render(site, lang, "pages/message.html", &title, extra, status, Caching::Private)
}

/// `/`: the front page of the reader's language.
pub async fn root(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let site = shared.live.site.load();
    let lang = guard::language(&site.config, None, &headers);
    let mut response = Redirect::to(&format!("/{lang}/")).into_response();
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    response
}

/// `/zh` → `/zh/`; `/sitemap-N.xml`, a part of a large sitemap; any other one-segment path
/// is not found.
pub async fn to_front(
    State(shared): State<Arc<Shared>>,
    Path(lang): Path<String>,
    query: Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(part) = super::sitemap::part_number(&lang) {
        return super::sitemap::part(&shared, part);
    }
    if shared.live.site.load().config.language(&lang).is_none() {
        return not_found(State(shared), query, headers).await;
    }
    Redirect::permanent(&format!("/{lang}/")).into_response()
}

/// `/{lang}/`: the newest articles in `lang`, and `?page=N` the older ones.
pub async fn front(
    State(shared): State<Arc<Shared>>,
    Path(lang): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    listing(&shared, &lang, None, query.get("page").map(String::as_str))
}

/// `/{lang}/sectors/{sector}/`: the newest articles of one sector, paged like the front page.
pub async fn sector(
    State(shared): State<Arc<Shared>>,
    Path((lang, sector)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    listing(&shared, &lang, Some(&sector), query.get("page").map(String::as_str))
}

/// The feed links of pages: autodiscovery in the head (machines follow these).
pub(super) fn feed_links(site: &Site, lang: &str, sector: Option<&str>, title: &str) -> Vec<FeedLink> {
    [
        ("Atom", "application/atom+xml", "atom.xml"),
        ("RSS", "application/rss+xml", "rss.xml"),
        ("JSON Feed", "application/feed+json", "feed.json"),
    ]
    .into_iter()
    .map(|(name, media_type, file)| FeedLink {
        name,
        media_type,
        title: format!("{title} ({name})"),
        url: links::feed_url(&site.config, lang, sector, file),
    })
    .collect()
}

fn listing(shared: &Shared, lang: &str, sector: Option<&str>, page: Option<&str>) -> Response {
    let site = shared.live.site.load();
    let config = &site.config;
    let Some(language) = config.language(lang) else {
        return not_found_page(&site, &config.site.default_language);
    };
    let position = match sector {
        Some(id) => match config.sectors.iter().position(|s| s.id == id) {
            Some(p) => Some(p),
            None => return not_found_page(&site, lang),
        },
        None => None,
    };
    // `?page=1` is the page itself; anything but a page that exists is not found.
    let page = match page.map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return not_found_page(&site, lang),
    };
    let catalog = shared.live.catalog.load();
    let (shown, total) = catalog.select_page(lang, position, page - 1, LISTED);
    let pages = total.div_ceil(LISTED).max(1);
    if page > pages {
        return not_found_page(&site, lang);
    }
    let articles: Vec<Listed> = shown.iter().map(|m| listed(&site, lang, m)).collect();
    let title = match position {
        Some(p) => format!("{} · {}", config.sectors[p].name(lang, &config.site.default_language), language.title),
        None => language.title.clone(),
    };
    let sectors: Vec<Value> = config
        .sectors
        .iter()
        .enumerate()
        .map(|(i, s)| {
            context! {
                name => s.name(lang, &config.site.default_language),
                url => format!("/{lang}/sectors/{}/", s.id),
                current => Some(i) == position,
            }
        })
        .collect();
    let home = links::listing_page(config, lang, sector);
    let page_url = |n: usize| if n == 1 { home.clone() } else { format!("{home}?page={n}") };
    let pager = (pages > 1).then(|| super::history::Pager {
        label: site
            .renderer
            .string(lang, "page_of")
            .replace("{page}", &page.to_string())
            .replace("{pages}", &pages.to_string()),
        newer: (page > 1).then(|| page_url(page - 1)),
        older: (page < pages).then(|| page_url(page + 1)),
    });
    let alternates: Vec<Value> = if page == 1 {
        config
            .languages
            .iter()
            .map(|l| context! { lang => &l.code, url => links::listing_page(config, &l.code, sector) })
            .collect()
    } else {
        Vec::new()
    };
    let extra = context! {
        articles,
        sectors,
        pager,
        feeds => feed_links(&site, lang, sector, &title),
        feed_page => super::feed_page::url(lang, sector),
        canonical => page_url(page),
        alternates,
    };
    render(&site, lang, "pages/list.html", &title, extra, StatusCode::OK, Caching::Public)
}

/// An article as listings show it, dated in `lang`.
pub(super) fn listed(site: &Site, lang: &str, meta: &ArticleMeta) -> Listed {
    let config = &site.config;
    let at = in_zone(meta.published, config.site.timezone);
    Listed {
        title: meta.title.to_owned(),
        url: links::article_page(config, meta.lang, meta.slug),
        date: site.renderer.date(lang, at.date_naive()),
        datetime: at.to_rfc3339(),
        sectors: meta.sector_names(config, lang),
    }
}

/// `/{lang}/articles/{slug}/`: one article version.
pub async fn article(State(shared): State<Arc<Shared>>, Path((lang, slug)): Path<(String, String)>) -> Response {
    let site = shared.live.site.load_full();
    let catalog = shared.live.catalog.load_full();
    // Reading the file is blocking work.
    let page = tokio::task::spawn_blocking(move || {
        let config = &site.config;
        let Some(meta) = catalog.find(&lang, &slug) else { return not_found_page(&site, &lang) };
        let ctx = ParseContext { config, classifier: &site.classifier };
        let article = match crate::store::load_article(&ctx, meta) {
            Ok(article) => article,
            Err(problem) => {
                tracing::warn!("{problem}");
                return not_found_page(&site, &lang);
            }
        };
        let shown = listed(&site, &lang, &meta);
        let translations = catalog.translations(&meta);
        let translation_links: Vec<LanguageLink> = translations
            .iter()
            .map(|t| LanguageLink {
                lang: t.lang.to_owned(),
                name: site.renderer.string(t.lang, "language_name"),
                url: links::article_page(config, t.lang, t.slug),
            })
            .collect();
        let mut alternates: Vec<Value> = vec![context! { lang => &lang, url => links::article_page(config, &lang, &slug) }];
        alternates.extend(translation_links.iter().map(|t| context! { lang => &t.lang, url => &t.url }));
        let extra = context! {
            datetime => shown.datetime,
            date => shown.date,
            sectors => shown.sectors,
            author => article.author,
            source => article.source,
            editor => article.editor,
            attachments => article.attachments.iter().map(|a| context! {
                name => &a.name,
                url => &a.url,
                media_type => a.media_type,
                size => human_size(a.length),
            }).collect::<Vec<_>>(),
            // Sanitised when the article was read, as for the feeds.
            content => Value::from_safe_string(article.content_html),
            translations => translation_links,
            canonical => links::article_link(config, &meta),
            alternates,
            feeds => feed_links(&site, &lang, None, &config.language(&lang).map(|l| l.title.clone()).unwrap_or_default()),
        };
        render(&site, &lang, "pages/article.html", meta.title, extra, StatusCode::OK, Caching::Public)
    })
    .await;
    page.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `12 KB`, `3.4 MB`: a size as a download link shows it, with no words to translate.
fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    match bytes {
        0..KB => format!("{bytes} B"),
        KB..1_048_576 => format!("{} KB", bytes.div_ceil(KB)),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

/// The not-found page in `lang` (the default language when `lang` is not one).
pub(super) fn not_found_page(site: &Site, lang: &str) -> Response {
    let lang = if site.config.language(lang).is_some() { lang } else { &site.config.site.default_language };
    let text = vec![site.renderer.string(lang, "not_found_text")];
    message(site, lang, "not_found_title", &text, None, StatusCode::NOT_FOUND)
}

/// Anything else: a page that says so, in the reader's language.
pub async fn not_found(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let site = shared.live.site.load();
    let lang = guard::language(&site.config, query.get("lang").map(String::as_str), &headers);
    not_found_page(&site, &lang)
}
