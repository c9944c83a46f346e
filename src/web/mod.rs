//! The HTTP server of `gazette run` (axum): the feed folder under `/feeds/`, the article and
//! front pages the feeds and emails link to, the subscription pages (subscribe, confirm,
//! unsubscribe including RFC 8058 one-click, preferences), `/healthz` and `/metrics`.
//!
//! What the pages show comes from [`Live`]: the loaded config and templates (swapped whole
//! on SIGHUP) and the catalog of the last feed build (swapped after each build).

mod account;
mod db;
mod feeds;
mod guard;
mod pages;
mod status;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::response::IntoResponse as _;
use axum::routing::get;
use governor::DefaultKeyedRateLimiter;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
pub use crate::live::{Live, Site};

pub use feeds::FeedFiles;

/// Largest request body accepted (a form is a few hundred bytes).
const BODY_LIMIT: usize = 16 * 1024;
/// Longest a request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) read.
const HEADER_LIMIT: usize = 32 * 1024;

/// State shared by every request.
pub struct Shared {
    /// The loaded config and templates, and the articles of the last feed build.
    pub live: Arc<Live>,
    feeds: FeedFiles,
    /// Database connections for requests, kept open.
    db: Arc<db::Connections>,
    signups: DefaultKeyedRateLimiter<IpAddr>,
    /// Confirmation emails per address, however many sign-ups ask.
    mail_limit: crate::subscription::MailLimit,
    /// `mail.rate` for all confirmation emails together.
    confirm_rate: governor::DefaultDirectRateLimiter,
    /// Confirmation emails being sent (waited for at shutdown).
    pub mail_tasks: TaskTracker,
    /// Cancelled at shutdown: confirmation emails waiting for the mail server give up.
    pub stop: CancellationToken,
}

impl Shared {
    /// The shared state of a server showing `live`.
    pub fn new(live: Arc<Live>, stop: CancellationToken) -> Shared {
        let site = live.site.load_full();
        let per_hour =
            std::num::NonZeroU32::new(site.config.http.subscribe_per_hour).unwrap_or(std::num::NonZeroU32::MIN);
        let confirm_rate = crate::mail::retry::rate_limiter(site.config.mail.rate, 1);
        Shared {
            live,
            feeds: FeedFiles::default(),
            db: Arc::default(),
            signups: DefaultKeyedRateLimiter::keyed(governor::Quota::per_hour(per_hour)),
            mail_limit: crate::subscription::MailLimit::default(),
            confirm_rate,
            mail_tasks: TaskTracker::new(),
            stop,
        }
    }

    /// Forgets rate-limit entries of clients that are back to a full allowance.
    pub fn forget_idle_clients(&self) {
        self.signups.retain_recent();
        self.mail_limit.forget_idle();
    }
}

/// Every route.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(pages::root))
        .route("/{lang}", get(pages::to_front))
        .route("/{lang}/", get(pages::front))
        .route("/{lang}/sectors/{sector}/", get(pages::sector))
        .route("/{lang}/articles/{slug}/", get(pages::article))
        .route("/feeds/{*path}", get(feeds_file))
        .route("/subscribe", get(account::subscribe_form).post(account::subscribe))
        .route("/confirm", get(account::confirm_page).post(account::confirm))
        .route("/unsubscribe", get(account::unsubscribe_page).post(account::unsubscribe))
        .route("/preferences", get(account::preferences_page).post(account::save_preferences))
        .route("/healthz", get(status::healthz))
        .route("/metrics", get(status::metrics))
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(shared)
}

async fn feeds_file(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    // The raw path, still encoded: encoded separators are refused, not decoded into place.
    let raw = uri.path().strip_prefix("/feeds/").unwrap_or_default().to_owned();
    let dir = shared.live.site.load().config.feeds.dir.clone();
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || shared.feeds.respond(&dir, &raw, &headers))
        .await
        .unwrap_or_else(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Binds the listening socket of `config` (before anything else starts, so a port in use
/// fails the start).
pub async fn bind(config: &Config) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {} (http.listen)", config.http.listen))
}

/// Serves until `stop` is cancelled, then lets requests in flight finish. Connections are
/// HTTP/1.1 through hyper with limits a public server needs: headers must arrive within
/// [`HEADER_TIMEOUT`] (a slow client cannot hold a connection open for free) and fit in
/// [`HEADER_LIMIT`] (larger ones get 431).
pub async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>, stop: CancellationToken) -> Result<()> {
    let app = router(shared);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), request.map(axum::body::Body::new))
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_buf_size(HEADER_LIMIT);
        let connection = graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
