//! One subscriber's digest as a message ready to go: the chosen articles turned into the
//! templates' view (titles, links, summaries, dates and sector names in the reader's language),
//! signed links, the rendered parts, the MIME message, and its DKIM signature. A preview also
//! says, in a banner, what it shows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Result;
use lettre::message::dkim::DkimConfig;

use super::copy;
use super::select::{Item, Reader};
use crate::config::{Config, Digest};
use crate::links;
use crate::mail::message::{Body, Envelope, Outgoing, digest_message, message_id};
use crate::render::{DigestView, ItemView, Renderer};
use crate::returns::verp::{ReturnOf, return_path};
use crate::state::{Run, Subscriber};
use crate::store::classify::Classifier;
use crate::store::dates::in_zone;
use crate::store::{self, ParseContext};
use crate::tokens::{Purpose, Signer};

/// What a preview shows in place of the new articles, said in a banner above them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preview {
    /// Nothing is new for the subscriber yet: the latest articles they would get.
    Latest,
    /// The articles after this instant (Unix seconds), as asked for.
    Since(i64),
}

/// `item` as a digest shows it to a reader of `lang`, with its article's `summary`.
pub fn item_view(config: &Config, renderer: &Renderer, lang: &str, item: &Item, summary: &str) -> ItemView {
    let meta = item.meta;
    ItemView {
        title: meta.title.to_owned(),
        url: links::article_link(config, &meta),
        summary: summary.to_owned(),
        date: renderer.date(lang, in_zone(meta.published, config.site.timezone).date_naive()),
        sectors: meta.sector_names(config, lang),
        fallback: item.is_fallback,
        lang: meta.lang.to_owned(),
    }
}

/// Everything that makes a digest's messages, loaded once per run.
pub struct Composer<'a> {
    config: &'a Config,
    digest: &'a Digest,
    renderer: Renderer,
    signer: Signer,
    dkim: Option<DkimConfig>,
    classifier: Classifier,
    /// Article summaries by (language, slug): each article is read once per run, however many
    /// subscribers get it.
    summaries: Mutex<HashMap<(String, String), Arc<str>>>,
}

impl<'a> Composer<'a> {
    /// Loads the templates, the token key and the DKIM key for sending `digest`.
    pub fn load(config: &'a Config, digest: &'a Digest) -> Result<Composer<'a>> {
        Ok(Composer {
            config,
            digest,
            renderer: Renderer::load(config)?,
            signer: Signer::load(&config.tokens)?,
            dkim: crate::mail::dkim::load(config)?,
            classifier: Classifier::new(&config.sectors)?,
            summaries: Mutex::new(HashMap::new()),
        })
    }

    /// The digest for `subscriber` holding `items` in `run`: rendered, and as a message;
    /// `preview` when it is one that shows something other than the new articles; with a
    /// "View online" link when `has_copy` (the run's web copy for the subscriber's language and
    /// sectors holds exactly `items`).
    pub fn compose(
        &self,
        subscriber: &Subscriber,
        items: &[Item],
        run: &Run,
        preview: Option<Preview>,
        has_copy: bool,
    ) -> Result<(Body, Outgoing)> {
        let config = self.config;
        let prefs = &subscriber.preferences;
        let views = items
            .iter()
            .map(|item| item_view(config, &self.renderer, &prefs.language, item, &self.summary(item)))
            .collect();
        let online_url = has_copy.then(|| {
            let sectors = Reader::of(config, prefs).sectors;
            links::digest_copy(
                config,
                &prefs.language,
                &self.digest.id,
                run.id,
                copy::sectors_segment(config, &sectors),
            )
        });
        // Tokens are dated by the run, so a message resent after a crash is the same message.
        let unsubscribe = self.signer.sign(Purpose::Unsubscribe, subscriber.id, subscriber.link_binding(), run.cutoff);
        let preferences = self.signer.sign(Purpose::Preferences, subscriber.id, subscriber.link_binding(), run.cutoff);
        let unsubscribe_url = links::unsubscribe_url(config, &unsubscribe);
        let view = DigestView {
            lang: prefs.language.clone(),
            digest: self.digest.id.clone(),
            name: prefs.name.clone(),
            items: views,
            unsubscribe_url: unsubscribe_url.clone(),
            preferences_url: links::preferences_url(config, &preferences),
            notice: preview.map(|p| self.notice(p, &prefs.language)),
            online_url,
        };
        let rendered = self.renderer.digest(&view)?;
        let envelope = Envelope {
            email: &subscriber.email,
            name: prefs.name.as_deref(),
            lang: &prefs.language,
            digest: &self.digest.id,
            run: run.id,
            subscriber: subscriber.id,
            unsubscribe_url: &unsubscribe_url,
            date: UNIX_EPOCH + Duration::from_secs(u64::try_from(run.cutoff).unwrap_or(0)),
        };
        let message = digest_message(config, &envelope, &rendered)?;
        let id = message_id(config, &self.digest.id, run.id, subscriber.id);
        let mut outgoing = Outgoing::new(id, message, self.dkim.as_ref());
        if let Some(returns) = &config.mail.returns {
            let what = ReturnOf::Delivery { run: run.id, subscriber: subscriber.id };
            outgoing = outgoing.returning_to(return_path(&self.signer, &returns.address, what));
        }
        Ok((rendered, outgoing))
    }

    /// The banner of `preview` in `lang`.
    fn notice(&self, preview: Preview, lang: &str) -> String {
        match preview {
            Preview::Latest => self.renderer.string(lang, "preview_notice"),
            Preview::Since(since) => {
                let local = in_zone(since, self.config.site.timezone).naive_local();
                // A time was asked for: the date alone would hide it.
                let shown = if local.time() == chrono::NaiveTime::MIN {
                    self.renderer.date(lang, local.date())
                } else {
                    self.renderer.date_time(lang, local)
                };
                self.renderer.string(lang, "preview_since_notice").replace("{since}", &shown)
            }
        }
    }

    /// The summary of `item`'s article, read from the store the first time it is asked for.
    /// An article that can no longer be read has none: its title and link still go out.
    fn summary(&self, item: &Item) -> Arc<str> {
        let meta = item.meta;
        let key = (meta.lang.to_owned(), meta.slug.to_owned());
        if let Some(summary) = self.lock_summaries().get(&key) {
            return summary.clone();
        }
        let ctx = ParseContext { config: self.config, classifier: &self.classifier };
        let summary: Arc<str> = store::load_article(&ctx, meta).map(|a| a.summary).unwrap_or_default().into();
        self.lock_summaries().insert(key, summary.clone());
        summary
    }

    fn lock_summaries(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<str>>> {
        // A panic while holding the lock leaves a cache of finished entries: still good.
        self.summaries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
