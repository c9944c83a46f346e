//! The HTTP server of `gazette run` (axum): the feed folder under `/feeds/`, the article and
//! front pages the feeds and emails link to (paged, with a month archive, a page per feed,
//! `sitemap.xml` and `robots.txt`), the past digests with their web copies, the subscription pages (subscribe, confirm,
//! unsubscribe including RFC 8058 one-click, preferences); and on the operations listener
//! `/healthz` and `/metrics`.
//!
//! What the pages show comes from [`Live`]: the loaded config and templates (swapped whole
//! on SIGHUP) and the catalog of the last feed build (swapped after each build).

mod account;
mod archive;
mod attachments;
mod client;
mod conditional;
mod digests;
mod feed_page;
mod feeds;
mod guard;
mod history;
mod limits;
mod pages;
mod server;
mod sitemap;
mod status;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse as _;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::live::{Live, Site};

pub use feeds::FeedFiles;
pub(crate) use feeds::content_type_of;
pub(crate) use guard::{client_ip, rate_key};
pub use server::{Listeners, bind, serve};

/// Longest a request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// State shared by every request.
pub struct Shared {
    /// The loaded config and templates, and the articles of the last feed build.
    pub live: Arc<Live>,
    feeds: FeedFiles,
    /// The archive pages of the current catalog, rendered when asked for.
    archive: archive::ArchivePages,
    /// The sitemap of the current catalog, made on first request.
    sitemaps: sitemap::Sitemaps,
    /// `mail.rate` for all confirmation emails together.
    confirm_rate: crate::mail::pace::Pace,
    /// Confirmation emails being sent (waited for at shutdown).
    pub mail_tasks: TaskTracker,
    /// Cancelled at shutdown: confirmation emails waiting for the mail server give up.
    pub stop: CancellationToken,
    /// The WebSub hub.
    pub hub: Arc<crate::websub::Hub>,
}

impl Shared {
    /// The shared state of a server showing `live`.
    pub fn new(live: Arc<Live>, hub: Arc<crate::websub::Hub>, stop: CancellationToken) -> Shared {
        let site = live.site.load_full();
        let confirm_rate = crate::mail::pace::Pace::new(&live.db, "confirm", site.config.mail.rate, 1);
        Shared {
            live,
            feeds: FeedFiles::default(),
            archive: archive::ArchivePages::default(),
            sitemaps: sitemap::Sitemaps::default(),
            confirm_rate,
            mail_tasks: TaskTracker::new(),
            stop,
            hub,
        }
    }

    /// Forgets rate-limit entries of clients that are back to a full allowance.
    pub fn forget_idle_clients(&self) {
        self.hub.forget_idle_clients();
    }
}

/// The routes of the public listener; with `with_ops` also `/healthz` and `/metrics`
/// (`http.ops_listen = "public"`).
pub fn router(shared: Arc<Shared>, with_ops: bool) -> Router {
    let routes = Router::new()
        .route("/", get(pages::root))
        .route("/{lang}", get(pages::to_front))
        .route("/{lang}/", get(pages::front))
        .route("/{lang}/sectors/{sector}/", get(pages::sector))
        .route("/{lang}/feed/", get(feed_page::language))
        .route("/{lang}/sectors/{sector}/feed/", get(feed_page::sector))
        .route("/{lang}/archive/", get(history::index))
        .route("/{lang}/archive/{year}/{month}/", get(history::month))
        .route("/{lang}/digests/", get(digests::list))
        .route("/{lang}/digests/atom.xml", get(digests::feed))
        .route("/{lang}/digests/{digest}/{run}/", get(digests::copy_for_all))
        .route("/{lang}/digests/{digest}/{run}/{sectors}/", get(digests::copy_for_sectors))
        .route("/sitemap.xml", get(sitemap::index))
        .route("/robots.txt", get(sitemap::robots))
        .route("/{lang}/articles/{slug}/", get(pages::article))
        .route("/{lang}/articles/{slug}/{name}", get(attachments::file))
        .route("/feeds/{*path}", get(feeds_file))
        .route("/websub", axum::routing::post(crate::websub::hub::post))
        .route("/subscribe", get(account::subscribe_form).post(account::subscribe))
        .route("/confirm", get(account::confirm_page).post(account::confirm))
        .route("/unsubscribe", get(account::unsubscribe_page).post(account::unsubscribe))
        .route("/preferences", get(account::preferences_page).post(account::save_preferences))
        .fallback(pages::not_found);
    let routes = if with_ops { routes.merge(ops_routes()) } else { routes };
    limited(routes).with_state(shared)
}

/// The routes of the operations listener: `/healthz` and `/metrics`, and a plain 404.
pub fn ops_router(shared: Arc<Shared>) -> Router {
    limited(ops_routes().fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "not found\n") })).with_state(shared)
}

fn ops_routes() -> Router<Arc<Shared>> {
    Router::new().route("/healthz", get(status::healthz)).route("/metrics", get(status::metrics))
}

fn limited(routes: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    routes.layer(DefaultBodyLimit::max(limits::BODY_LIMIT)).layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        REQUEST_TIMEOUT,
    ))
}

/// The answer to a `GET` or `HEAD` of a feed file answered moments ago, from memory, or
/// `None` to route the request. The connection asks this before the router, so the answer a
/// feed reader polls for most costs no routing, no timer and no copy of the request's head;
/// anything not kept (another method, an encoded path, a page) goes the usual way.
pub(crate) fn answer_from_memory<B>(
    shared: &Shared,
    request: &axum::http::Request<B>,
) -> Option<axum::response::Response> {
    if !matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD) {
        return None;
    }
    let raw = request.uri().path().strip_prefix("/feeds/")?;
    shared.feeds.respond_recent(raw, request.headers(), shared.live.generation())
}

async fn feeds_file(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    // The raw path, still encoded: encoded separators are refused, not decoded into place.
    let raw = uri.path().strip_prefix("/feeds/").unwrap_or_default();
    // (An answer kept from moments ago was given by `answer_from_memory`, before routing.)
    let generation = shared.live.generation();
    let raw = raw.to_owned();
    if archive::is_archive_path(&raw) {
        let (site, catalog) = (shared.live.site.load_full(), shared.live.catalog.load_full());
        let shared = shared.clone();
        return tokio::task::spawn_blocking(move || shared.archive.respond(site, catalog, &raw, &headers))
            .await
            .unwrap_or_else(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let config = shared.live.site.load().config.clone();
    let dir = config.feeds.dir.clone();
    // WebSub 4: a topic is served with its hubs and its own URL (topics' paths are ASCII).
    let link = crate::websub::link_header(&config, &raw);
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || shared.feeds.respond(&dir, &raw, &headers, link.as_deref(), generation))
        .await
        .unwrap_or_else(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
