//! gazette's integration tests: one binary that runs the real `gazette` on fixture stores in
//! temporary folders and checks what it writes with outside validators (jing, xmllint,
//! feedparser, feed-rs) and by reading every value back. `scripts/test` installs the tools.
//!
//! - [`helpers`]: temp sites, running the binary, listing output.
//! - [`validators`]: one function per outside validator, plus gazette's own safety rules.
//! - [`mailsink`], [`postfix`], [`postgres`]: smtp-sink, Postfix instances of the test's own (a relay,
//!   a next hop), and PostgreSQL servers of the test's own.
//! - [`readback`]: feedparser and feed-rs must read what the JSON Feed says was written.
//! - the rest: the tests, one file per concern.

mod chromium;
mod helpers;
mod mailsink;
mod postfix;
#[path = "../support/postgres.rs"]
mod postgres;
mod readback;
mod service;
mod subscriber;
mod validators;

mod archives;
mod attachment_serving;
mod attachments;
mod broken;
mod browser;
mod browsing;
mod config;
mod daemon;
mod dates;
mod digest_message;
mod digest_run;
mod dkim;
mod example_store;
mod harness;
mod hostile;
mod http;
mod http_limits;
mod http_proxy;
mod instances;
mod languages;
mod package;
mod press_cms;
mod press_releases;
mod rebuild;
mod relay;
mod returns;
mod signup;
mod smtp;
mod snapshots;
mod subscribers;
mod translations;
mod websub;
