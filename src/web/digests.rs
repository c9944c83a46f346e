//! Past digests on the web. `/{lang}/digests/` lists the runs that offered something in the
//! language, newest first, paged by run (`?before=` / `?after=` a run id);
//! `/{lang}/digests/atom.xml` is the newest of them as an Atom feed; and
//! `/{lang}/digests/{digest}/{run}/[{sectors}/]` is one run's copy for a language and sector
//! set, the page a message's "View online" link opens: the articles its message held for
//! everyone with those choices, with no name, greeting, unsubscribe or preference link, so it
//! can be shared and cached.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Redirect, Response};
use minijinja::{Value, context};
use sha2::Digest as _;

use super::pages::{Caching, FeedLink, not_found_page, render};
use super::{Shared, Site};
use crate::config::Config;
use crate::digest::compose::item_view;
use crate::digest::copy;
use crate::digest::select::{Item, Reader};
use crate::feeds::model::{Entry, FeedInfo, History};
use crate::links;
use crate::state::{RunNews, State as Db};
use crate::store::dates::in_zone;
use crate::store::{Catalog, ParseContext};

/// Runs on one page of the list, and entries in the feed.
const PER_PAGE: usize = 20;
/// Most runs one request looks at.
const EXAMINED: usize = 200;
/// Most articles a copy shows when its digest is no longer configured.
const DEFAULT_ITEMS: usize = 20;

/// One past digest in a list.
#[derive(serde::Serialize)]
struct Listed {
    run: i64,
    title: String,
    url: String,
    date: String,
    datetime: String,
    count: String,
    titles: Vec<String>,
}

/// What a reader of `lang` following every sector got from `news`.
fn everyone<'a>(config: &Config, catalog: &'a Catalog, news: &RunNews, lang: &str) -> Vec<Item<'a>> {
    let reader = Reader { language: lang, sectors: Vec::new() };
    copy::items(catalog, news, &reader, max_items(config, &news.digest))
}

fn max_items(config: &Config, digest: &str) -> usize {
    config.digest(digest).map_or(DEFAULT_ITEMS, |d| d.max_items)
}

/// `Daily news, 3 December 2026`: a run's title in `lang`.
fn run_title(site: &Site, lang: &str, news: &RunNews) -> String {
    let date = in_zone(news.cutoff, site.config.site.timezone).date_naive();
    site.renderer
        .string(lang, "digest_copy_title")
        .replace("{digest}", &digest_name(site, lang, &news.digest))
        .replace("{date}", &site.renderer.date(lang, date))
}

/// The name of digest `digest` in `lang` (its id, for a digest the strings do not name: one
/// no longer configured).
fn digest_name(site: &Site, lang: &str, digest: &str) -> String {
    site.renderer.strings(lang).get(&format!("digest_{digest}")).cloned().unwrap_or_else(|| digest.to_owned())
}

/// Up to `limit` runs that offered `lang` something, newest first, from before run `before`
/// (or the oldest after run `after`, still given newest first), each with its articles for a
/// reader of every sector.
fn runs_for<'c>(
    db: &Db,
    site: &Site,
    catalog: &'c Catalog,
    lang: &str,
    before: Option<i64>,
    after: Option<i64>,
    limit: usize,
) -> anyhow::Result<Vec<(RunNews, Vec<Item<'c>>)>> {
    let mut found = Vec::new();
    let mut examined = 0;
    db.for_each_run_news(lang, before, after, |news| {
        let items = everyone(&site.config, catalog, &news, lang);
        if !items.is_empty() {
            found.push((news, items));
        }
        examined += 1;
        // Runs whose every article was deleted since are passed over, but not without end.
        Ok(found.len() < limit && examined < EXAMINED)
    })?;
    if after.is_some() {
        found.reverse();
    }
    Ok(found)
}

fn listed(site: &Site, lang: &str, news: &RunNews, items: &[Item]) -> Listed {
    let at = in_zone(news.cutoff, site.config.site.timezone);
    Listed {
        run: news.run,
        title: run_title(site, lang, news),
        url: links::digest_copy(&site.config, lang, &news.digest, news.run, None),
        date: site.renderer.date(lang, at.date_naive()),
        datetime: at.to_rfc3339(),
        count: count(site, lang, items),
        titles: items.iter().map(|i| i.meta.title.to_owned()).collect(),
    }
}

/// `3 new articles`: how many `items` a run offered, in `lang`.
fn count(site: &Site, lang: &str, items: &[Item]) -> String {
    site.renderer.count(lang, "articles", u64::try_from(items.len()).unwrap_or(u64::MAX))
}

/// A run id from a query parameter; anything else is no page.
fn run_param(query: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ()> {
    query.get(key).map(|v| v.parse::<i64>().map_err(|_| ())).transpose()
}

/// The digest feed's link, for the pages' autodiscovery.
fn feed_link(site: &Site, lang: &str) -> FeedLink {
    FeedLink {
        name: "Atom",
        media_type: "application/atom+xml",
        title: format!("{} · {}", site.renderer.site_title(lang), site.renderer.string(lang, "digests_title")),
        url: links::digest_list_feed(&site.config, lang),
    }
}

/// `/{lang}/digests/`: the past digests in `lang`, newest first.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    Path(lang): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let site = shared.live.site.load_full();
    if site.config.language(&lang).is_none() {
        return not_found_page(&site, &site.config.site.default_language);
    }
    let (Ok(before), Ok(after)) = (run_param(&query, "before"), run_param(&query, "after")) else {
        return not_found_page(&site, &lang);
    };
    let catalog = shared.live.catalog.load_full();
    let page = shared
        .live
        .db
        .with(move |db| {
            let shown = runs_for(db, &site, &catalog, &lang, before, after, PER_PAGE)?;
            // Whether there is anything on either side of this page.
            let (newer, older) = match (shown.first(), shown.last()) {
                (Some((first, _)), Some((last, _))) => (
                    !runs_for(db, &site, &catalog, &lang, None, Some(first.run), 1)?.is_empty(),
                    !runs_for(db, &site, &catalog, &lang, Some(last.run), None, 1)?.is_empty(),
                ),
                _ => (false, false),
            };
            let list = links::digest_list(&site.config, &lang);
            let pager = (newer || older).then(|| super::history::Pager {
                label: String::new(),
                newer: newer.then(|| shown.first().map(|(n, _)| format!("{list}?after={}", n.run))).flatten(),
                older: older.then(|| shown.last().map(|(n, _)| format!("{list}?before={}", n.run))).flatten(),
            });
            let is_paged = before.is_some() || after.is_some();
            if is_paged && shown.is_empty() {
                return Ok(not_found_page(&site, &lang));
            }
            let runs: Vec<Listed> = shown.iter().map(|(news, items)| listed(&site, &lang, news, items)).collect();
            let title = site.renderer.string(&lang, "digests_title");
            let alternates: Vec<Value> = site
                .config
                .languages
                .iter()
                .map(|l| context! { lang => &l.code, url => links::digest_list(&site.config, &l.code) })
                .collect();
            let extra = context! {
                runs,
                pager,
                intro => site.renderer.string(&lang, "digests_intro"),
                feed_url => links::digest_list_feed(&site.config, &lang),
                feeds => vec![feed_link(&site, &lang)],
                canonical => if is_paged { None } else { Some(list.clone()) },
                alternates => if is_paged { Vec::new() } else { alternates },
            };
            Ok(render(&site, &lang, "pages/digests.html", &title, extra, StatusCode::OK, Caching::Public))
        })
        .await;
    or_error(page, "cannot list past digests")
}

/// `/{lang}/digests/atom.xml`: the newest past digests in `lang` as an Atom feed, each entry
/// a run's copy for every sector, listing its articles.
pub async fn feed(State(shared): State<Arc<Shared>>, Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let site = shared.live.site.load_full();
    if site.config.language(&lang).is_none() {
        return not_found_page(&site, &site.config.site.default_language);
    }
    let catalog = shared.live.catalog.load_full();
    let document = shared
        .live
        .db
        .with(move |db| {
            let shown = runs_for(db, &site, &catalog, &lang, None, None, PER_PAGE)?;
            atom_document(&site, &catalog, &lang, &shown)
        })
        .await;
    let answered = document.map(|bytes| answer(bytes, "application/atom+xml; charset=utf-8", &headers));
    or_error(answered, "cannot make the feed of past digests")
}

/// The Atom document of `shown` (runs with their articles' titles, newest first).
fn atom_document(
    site: &Site,
    catalog: &Catalog,
    lang: &str,
    shown: &[(RunNews, Vec<Item>)],
) -> anyhow::Result<Vec<u8>> {
    let config = &site.config;
    let zoned = |ts: i64| in_zone(ts, config.site.timezone).fixed_offset();
    // Each entry's content: its articles as links, titles escaped (the only HTML here).
    let parts: Vec<(&RunNews, String, String, String)> = shown
        .iter()
        .map(|(news, items)| {
            let html: String = items
                .iter()
                .map(|i| {
                    format!(
                        "<li><a href=\"{}\">{}</a></li>",
                        crate::text::escape_html(&links::article_link(config, &i.meta)),
                        crate::text::escape_html(i.meta.title)
                    )
                })
                .collect();
            (news, run_title(site, lang, news), count(site, lang, items), format!("<ul>{html}</ul>"))
        })
        .collect();
    let entries: Vec<Entry> = parts
        .iter()
        .map(|(news, title, count, html)| {
            let at = zoned(news.cutoff);
            let day = at.format("%Y-%m-%d");
            Entry {
                id: format!("tag:{},{day}:digests/{}/{}/{lang}", config.site.tag_authority, news.digest, news.run),
                url: links::digest_copy(config, lang, &news.digest, news.run, None),
                lang,
                title,
                published: at,
                updated: at,
                summary: count,
                content_html: html,
                author: None,
                image: None,
                attachments: &[],
                categories: Vec::new(),
                translations: Vec::new(),
            }
        })
        .collect();
    let self_url = links::digest_list_feed(config, lang);
    // Never "now": the same runs always give the same bytes (and the same ETag). With no run
    // yet, the language's newest article dates the feed (a plausible date, and a stable one).
    let newest_article =
        || catalog.in_language(lang).next().or_else(|| catalog.articles().next()).map_or(0, |a| a.published);
    let updated = entries.first().map_or_else(|| zoned(newest_article()), |e| e.updated);
    let info = FeedInfo {
        lang: lang.to_owned(),
        title: format!("{} · {}", site.renderer.site_title(lang), site.renderer.string(lang, "digests_title")),
        description: site.renderer.string(lang, "digests_intro"),
        author: site.renderer.site_title(lang).to_owned(),
        page_url: links::digest_list(config, lang),
        id: self_url.clone(),
        json_id: self_url.clone(),
        atom_url: self_url.clone(),
        rss_url: self_url.clone(),
        json_url: self_url,
        history: History::default(),
        updated,
        published: updated,
        category_scheme: String::new(),
        hubs: Vec::new(),
    };
    let refs: Vec<&Entry> = entries.iter().collect();
    crate::feeds::atom::render(&info, &refs)
}

/// The response, or for an error (the database unreadable) a `500` and the error logged as
/// `what`.
fn or_error(response: anyhow::Result<Response>, what: &'static str) -> Response {
    response.unwrap_or_else(|e| {
        tracing::error!(error = format!("{e:#}"), "{what}");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}

/// `bytes` as a `200` with a strong `ETag`, or `304` when the client has them.
fn answer(bytes: Vec<u8>, content_type: &'static str, headers: &HeaderMap) -> Response {
    let hash = sha2::Sha256::digest(&bytes);
    let etag: String = format!("\"{}\"", hash[..16].iter().map(|b| format!("{b:02x}")).collect::<String>());
    let is_current = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| super::feeds::none_match(v, &[etag.as_str()]));
    let mut response = if is_current {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
    };
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// `/{lang}/digests/{digest}/{run}/`: a run's copy for readers of every sector.
pub async fn copy_for_all(
    State(shared): State<Arc<Shared>>,
    Path((lang, digest, run)): Path<(String, String, String)>,
) -> Response {
    copy_page(shared, lang, digest, run, None).await
}

/// `/{lang}/digests/{digest}/{run}/{sectors}/`: a run's copy for readers of those sectors.
pub async fn copy_for_sectors(
    State(shared): State<Arc<Shared>>,
    Path((lang, digest, run, sectors)): Path<(String, String, String, String)>,
) -> Response {
    copy_page(shared, lang, digest, run, Some(sectors)).await
}

async fn copy_page(
    shared: Arc<Shared>,
    lang: String,
    digest: String,
    run: String,
    sectors: Option<String>,
) -> Response {
    let site = shared.live.site.load_full();
    let config = &site.config;
    if config.language(&lang).is_none() {
        return not_found_page(&site, &config.site.default_language);
    }
    // Only the spelling links use: `05` or `+5` is no page.
    let Some(run) = run.parse::<i64>().ok().filter(|id| id.to_string() == run) else {
        return not_found_page(&site, &lang);
    };
    let positions = match sectors.as_deref().map(|s| copy::parse_sectors(config, s)) {
        None => Vec::new(),
        Some(Some(positions)) => positions,
        Some(None) => return not_found_page(&site, &lang),
    };
    let catalog = shared.live.catalog.load_full();
    let page = shared
        .live
        .db
        .with(move |db| {
            // A run that offered this language nothing has no copy in it.
            let Some(news) = db.run_news(run, &lang)?.filter(|n| n.digest == digest && !n.articles.is_empty()) else {
                return Ok(not_found_page(&site, &lang));
            };
            // One spelling per sector set: another order (or a repeat) is sent to it.
            let canonical = copy::sectors_segment(&site.config, &positions);
            if canonical != sectors {
                let to = links::digest_copy(&site.config, &lang, &news.digest, news.run, canonical);
                return Ok(Redirect::permanent(&to).into_response());
            }
            Ok(copy_of(&site, &catalog, &lang, &news, positions, canonical))
        })
        .await;
    or_error(page, "cannot show a past digest")
}

/// The copy of `news` for readers of `lang` and the sectors at `positions` (URL segment
/// `segment`). Reads the articles' summaries from the store.
fn copy_of(
    site: &Site,
    catalog: &Catalog,
    lang: &str,
    news: &RunNews,
    positions: Vec<usize>,
    segment: Option<String>,
) -> Response {
    let config = &site.config;
    let reader = Reader { language: lang, sectors: positions };
    let items = copy::items(catalog, news, &reader, max_items(config, &news.digest));
    let ctx = ParseContext { config, classifier: &site.classifier };
    let views: Vec<_> = items
        .iter()
        .map(|item| {
            // An article that can no longer be read keeps its title and link, as in the message.
            let summary = crate::store::load_article(&ctx, item.meta).map(|a| a.summary).unwrap_or_default();
            item_view(config, &site.renderer, lang, item, &summary)
        })
        .collect();
    let sectors = if reader.sectors.is_empty() {
        site.renderer.string(lang, "all_sectors")
    } else {
        let names: Vec<&str> = reader
            .sectors
            .iter()
            .filter_map(|&i| config.sectors.get(i))
            .map(|s| s.name(lang, &config.site.default_language))
            .collect();
        names.join(", ")
    };
    let language = site.renderer.string(lang, "language_name");
    let at = in_zone(news.cutoff, config.site.timezone);
    let extra = context! {
        items => views,
        datetime => at.to_rfc3339(),
        chosen => site.renderer.string(lang, "digest_copy_for").replace("{language}", &language).replace("{sectors}", &sectors),
        list_url => links::digest_list(config, lang),
        canonical => links::digest_copy(config, lang, &news.digest, news.run, segment),
        feeds => vec![feed_link(site, lang)],
    };
    render(site, lang, "pages/digest.html", &run_title(site, lang, news), extra, StatusCode::OK, Caching::Public)
}
