//! gazette publishes a news office's articles as per-language, per-sector feeds and email digests.
//!
//! The data flows through the modules in this order:
//! - [`config`]: `config.toml` → a validated [`config::Config`].
//! - [`store`]: the article folder → article records (cached in an index) → the [`store::Catalog`].
//! - [`feeds`]: the catalog → Atom, RSS, JSON Feed and OPML files, written atomically.
//! - [`build`]: one build (store → catalog → feeds), the job commands and schedules run.
//! - [`state`]: SQLite: migrations and every query (subscribers, digest runs, deliveries).
//! - [`subscription`]: the subscription lifecycle's rules: addresses, sign-up, confirmation,
//!   preferences, unsubscribe, suppression, purge; CSV import and export.
//! - [`tokens`]: HMAC-signed tokens for confirm, unsubscribe and preference links.
//! - [`digest`]: which articles each subscriber gets, rendered; one run, durable and resumable.
//! - [`render`]: templates and interface strings: digests, confirmation emails, pages.
//! - [`mail`]: digest messages (MIME) and the outbox and SMTP transports.
//! - [`returns`]: returned mail: return paths that name each delivery (VERP).
//! - [`locale`]: what CLDR says about each language: script, direction, dates, plural forms.
//! - [`live`]: what the running service knows now: the loaded site and the last catalog.
//! - [`web`]: the HTTP server: feeds, article pages, and the subscription pages; `/healthz` and
//!   `/metrics` on their own listener.
//! - [`websub`]: the WebSub hub: subscriptions, verification of intent, content distribution
//!   after each build, the callback address policy; pings to external hubs.
//! - [`daemon`]: `gazette run`: schedules, the store watcher, signals and systemd.
//! - [`metrics`]: counters for `/metrics`.
//! - [`atomic`]: files replaced whole, through a temporary file and a rename.
//! - [`text`]: XML-safe, one-line and shortened text, applied wherever input enters.
//! - [`links`]: the URLs of articles, feeds and pages, shared by every writer.
//! - [`schedule`]: cron expressions as users write them.
//! - [`cli`]: the subcommands.

pub mod atomic;
pub mod build;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod digest;
pub mod feeds;
pub mod links;
pub mod live;
pub mod locale;
pub mod mail;
pub mod metrics;
pub mod render;
pub mod returns;
pub mod schedule;
pub mod state;
pub mod store;
pub mod subscription;
pub mod text;
pub mod tokens;
pub mod web;
pub mod websub;
