//! One digest run, the job `gazette digest send` and the daemon's schedule both run: open the
//! run (or resume the unfinished one after a crash), then for each pending subscriber pick the
//! articles, render, send with retries, and record the outcome before the next subscriber.
//!
//! Nothing is sent twice and nothing is skipped: deliveries are rows made when the run opens,
//! and each is marked as soon as its message is accepted. The one window that cannot be closed
//! is between the server's `250` reply and the local commit: if the process dies exactly there,
//! that one message is sent again when the run resumes.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::render::{DigestView, ItemView, Renderer};
use super::select::{Item, select};
use crate::build;
use crate::config::{Config, Digest};
use crate::links;
use crate::mail::message::{Body, Envelope, digest_message, message_id};
use crate::mail::transport::{SendError, Sender};
use crate::state::{Outcome, Run, State, Status, Subscriber};
use crate::store::classify::Classifier;
use crate::store::dates::in_zone;
use crate::store::{self, ParseContext};
use crate::tokens::{Purpose, Signer};

/// Subscribers read from the database at a time.
const PAGE: usize = 500;

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The run's id.
    pub run: i64,
    /// Whether an unfinished run was resumed.
    pub is_resumed: bool,
    /// Messages sent.
    pub sent: usize,
    /// Subscribers with nothing to send (or no longer confirmed).
    pub skipped: usize,
    /// Messages refused for good (hard bounces).
    pub failed: usize,
    /// Whether every delivery of the run is done.
    pub is_finished: bool,
}

/// Everything a run needs besides the database, loaded once.
struct Kit<'a> {
    config: &'a Config,
    digest: &'a Digest,
    renderer: Renderer,
    signer: Signer,
    summaries: HashMap<(String, String), String>,
}

impl<'a> Kit<'a> {
    /// Loads the templates and the signing key for sending `digest`.
    fn load(config: &'a Config, digest: &'a Digest) -> Result<Kit<'a>> {
        Ok(Kit {
            config,
            digest,
            renderer: Renderer::load(config)?,
            signer: Signer::load(&config.tokens)?,
            summaries: HashMap::new(),
        })
    }
}

/// Sends digest `digest_id` as of `now`.
pub fn send(config: &Config, digest_id: &str, now: DateTime<Utc>) -> Result<RunReport> {
    let digest = config.digest(digest_id).with_context(|| format!("unknown digest '{digest_id}'"))?;
    let survey = build::survey(config, now)?;
    let classifier = Classifier::new(&config.sectors)?;
    let ctx = ParseContext { config, classifier: &classifier };
    let mut kit = Kit::load(config, digest)?;
    let sender = Sender::new(config)?;
    let _lock = lock(config, digest_id)?;
    let mut state = State::open(&config.state.path)?;
    let run = state.open_run(digest_id, now.timestamp())?;
    tracing::info!(digest = digest_id, run = run.id, resumed = run.is_resumed, "digest run started");
    let mut report = RunReport { run: run.id, is_resumed: run.is_resumed, ..RunReport::default() };
    let mut after = 0;
    loop {
        let page = state.pending(run.id, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for subscriber in &page {
            let outcome = deliver(&mut kit, &ctx, &survey.catalog, &state, &sender, &run, subscriber)?;
            match &outcome {
                Outcome::Sent => report.sent += 1,
                Outcome::Skipped => report.skipped += 1,
                Outcome::Failed { error, .. } => {
                    // Server replies quote the address; logs name the subscriber by id only.
                    let error = error.replace(&subscriber.email, "<address>");
                    tracing::warn!(run = run.id, subscriber = subscriber.id, error, "digest not delivered");
                    report.failed += 1;
                }
            }
            state.record(run.id, subscriber.id, &outcome, config.mail.bounce_limit, Utc::now().timestamp())?;
        }
        tracing::info!(run = run.id, sent = report.sent, skipped = report.skipped, failed = report.failed, "progress");
    }
    report.is_finished = state.finish_run(run.id, Utc::now().timestamp())?;
    tracing::info!(
        digest = digest_id,
        run = run.id,
        sent = report.sent,
        skipped = report.skipped,
        failed = report.failed,
        "digest run finished"
    );
    Ok(report)
}

/// Holds the lock of digest `digest_id` for as long as the returned file lives: two processes
/// sending the same digest (cron and an operator, the daemon and the command line) would
/// otherwise work through the same pending deliveries and send them twice.
fn lock(config: &Config, digest_id: &str) -> Result<std::fs::File> {
    let mut name = config.state.path.clone().into_os_string();
    name.push(format!(".{digest_id}.lock"));
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!("digest '{digest_id}' is being sent by another process (lock {})", path.display())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// Picks, renders and sends one subscriber's digest.
fn deliver(
    kit: &mut Kit,
    ctx: &ParseContext,
    catalog: &store::Catalog,
    state: &State,
    sender: &Sender,
    run: &Run,
    subscriber: &Subscriber,
) -> Result<Outcome> {
    // Read again now, not when the page was read: an unsubscribe takes effect at once.
    if state.status_of(subscriber.id)? != Some(Status::Confirmed) {
        return Ok(Outcome::Skipped);
    }
    let since = state.since(subscriber, &kit.digest.id)?;
    let items: Vec<Item> =
        select(kit.config, catalog, &subscriber.preferences, since, run.cutoff, kit.digest.max_items);
    if items.is_empty() && !kit.digest.send_empty {
        return Ok(Outcome::Skipped);
    }
    let message = match compose(kit, ctx, subscriber, &items, run) {
        Ok((_, message)) => message,
        // One subscriber's broken message (a name the mail library refuses, say) must not stop
        // everyone else's.
        Err(e) => return Ok(Outcome::Failed { error: format!("{e:#}"), is_permanent: false }),
    };
    let id = message_id(kit.config, &kit.digest.id, run.id, subscriber.id);
    send_with_retries(sender, &message, &id, kit.config.mail.retries)
}

/// The digest for `subscriber` holding `items`: rendered, and as a message.
fn compose(
    kit: &mut Kit,
    ctx: &ParseContext,
    subscriber: &Subscriber,
    items: &[Item],
    run: &Run,
) -> Result<(Body, lettre::Message)> {
    let config = kit.config;
    let prefs = &subscriber.preferences;
    let strings = kit.renderer.strings(&prefs.language);
    let date_format = strings.get("date_format").cloned().unwrap_or_else(|| "%Y-%m-%d".to_owned());
    let mut views = Vec::with_capacity(items.len());
    for item in items {
        let meta = item.meta;
        let key = (meta.lang.to_owned(), meta.slug.to_owned());
        if !kit.summaries.contains_key(&key) {
            // Each article is read once per run, however many subscribers get it.
            let summary = store::load_article(ctx, meta).map(|a| a.summary).unwrap_or_default();
            kit.summaries.insert(key.clone(), summary);
        }
        views.push(ItemView {
            title: meta.title.to_owned(),
            url: links::article_link(config, &meta),
            summary: kit.summaries.get(&key).cloned().unwrap_or_default(),
            date: in_zone(meta.published, config.site.timezone).format(&date_format).to_string(),
            sectors: meta
                .sectors
                .iter()
                .filter_map(|i| config.sectors.get(i))
                .map(|s| s.name(&prefs.language, &config.site.default_language).to_owned())
                .collect(),
            fallback: item.is_fallback,
            lang: meta.lang.to_owned(),
        });
    }
    // Tokens are dated by the run, so a message resent after a crash is the same message.
    let unsubscribe = kit.signer.sign(Purpose::Unsubscribe, subscriber.id, &subscriber.email, run.cutoff);
    let preferences = kit.signer.sign(Purpose::Preferences, subscriber.id, &subscriber.email, run.cutoff);
    let unsubscribe_url = links::unsubscribe_url(config, &unsubscribe);
    let view = DigestView {
        lang: prefs.language.clone(),
        digest: kit.digest.id.clone(),
        name: prefs.name.clone(),
        items: views,
        unsubscribe_url: unsubscribe_url.clone(),
        preferences_url: links::preferences_url(config, &preferences),
    };
    let rendered = kit.renderer.digest(&view)?;
    let envelope = Envelope {
        email: &subscriber.email,
        name: prefs.name.as_deref(),
        lang: &prefs.language,
        digest: &kit.digest.id,
        run: run.id,
        subscriber: subscriber.id,
        unsubscribe_url: &unsubscribe_url,
        date: UNIX_EPOCH + Duration::from_secs(u64::try_from(run.cutoff).unwrap_or(0)),
    };
    let message = digest_message(config, &envelope, &rendered)?;
    Ok((rendered, message))
}

/// Sends `message`, retrying while the server is unavailable with waits that double from 1 s
/// to 60 s. If it stays unavailable through every attempt, or refuses to send for us at all,
/// that is an error: the run stops with the delivery still pending, and the next run of the
/// digest resumes it, so nothing is lost.
fn send_with_retries(sender: &Sender, message: &lettre::Message, id: &str, attempts: u32) -> Result<Outcome> {
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=attempts {
        match sender.send(message, id) {
            Ok(()) => return Ok(Outcome::Sent),
            Err(SendError::Bounced(error)) => return Ok(Outcome::Failed { error, is_permanent: true }),
            Err(SendError::Failed(error)) => return Ok(Outcome::Failed { error, is_permanent: false }),
            Err(SendError::Refused(error)) => {
                anyhow::bail!(
                    "the mail server refuses to send for gazette ({error}); check mail.url and the credentials"
                )
            }
            Err(SendError::Unavailable(error)) if attempt == attempts => {
                anyhow::bail!(
                    "the mail server is unavailable after {attempts} attempts ({error}); the run resumes next time"
                )
            }
            Err(SendError::Unavailable(error)) => {
                tracing::warn!(attempt, error, "sending failed; trying again in {}s", wait.as_secs());
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        }
    }
    anyhow::bail!("no attempt to send was allowed (mail.retries is 0)")
}

/// What a run would send now, without sending or recording anything: (confirmed subscribers,
/// those with articles to receive).
pub fn dry_run(config: &Config, digest_id: &str, now: DateTime<Utc>) -> Result<(usize, usize)> {
    let digest = config.digest(digest_id).with_context(|| format!("unknown digest '{digest_id}'"))?;
    let survey = build::survey(config, now)?;
    let state = State::open(&config.state.path)?;
    let (mut confirmed, mut with_items) = (0, 0);
    let mut after = 0;
    loop {
        let page = state.confirmed(digest_id, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for subscriber in &page {
            confirmed += 1;
            let since = state.since(subscriber, digest_id)?;
            let has_items =
                !select(config, &survey.catalog, &subscriber.preferences, since, now.timestamp(), 1).is_empty();
            if has_items || digest.send_empty {
                with_items += 1;
            }
        }
    }
    Ok((confirmed, with_items))
}

/// Writes the digest `digest_id` that `email` would get now to `out/<email>.eml` and
/// `out/<email>.html` (to open in a browser); sends and records nothing. An address that is not
/// subscribed previews the default language, every sector, and the last week's articles.
pub fn preview(
    config: &Config,
    digest_id: &str,
    email: &str,
    out: &std::path::Path,
    now: DateTime<Utc>,
) -> Result<Vec<std::path::PathBuf>> {
    let digest = config.digest(digest_id).with_context(|| format!("unknown digest '{digest_id}'"))?;
    let survey = build::survey(config, now)?;
    let classifier = Classifier::new(&config.sectors)?;
    let ctx = ParseContext { config, classifier: &classifier };
    let state = State::open(&config.state.path)?;
    let subscriber = match state.subscriber(email)? {
        Some(s) => s,
        None => Subscriber {
            id: 0,
            email: email.to_owned(),
            preferences: crate::state::Preferences {
                name: None,
                language: config.site.default_language.clone(),
                sectors: Vec::new(),
                digest: digest_id.to_owned(),
            },
            status: Status::Confirmed,
            consent: "preview".into(),
            created_at: now.timestamp() - 7 * 24 * 3600,
            confirmed_at: None,
            unsubscribed_at: None,
        },
    };
    let since = if subscriber.id == 0 { subscriber.created_at } else { state.since(&subscriber, digest_id)? };
    let items = select(config, &survey.catalog, &subscriber.preferences, since, now.timestamp(), digest.max_items);
    let mut kit = Kit::load(config, digest)?;
    let run = Run { id: 0, cutoff: now.timestamp(), is_resumed: false };
    let (rendered, message) = compose(&mut kit, &ctx, &subscriber, &items, &run)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // An address's local part may hold '/': not in a file name.
    let stem: String = subscriber.email.chars().map(|c| if c == '/' || c == '\\' { '_' } else { c }).collect();
    let eml = out.join(format!("{stem}.eml"));
    let html = out.join(format!("{stem}.html"));
    crate::atomic::write(&eml, &message.formatted())?;
    crate::atomic::write(&html, rendered.html.as_bytes())?;
    Ok(vec![eml, html])
}
