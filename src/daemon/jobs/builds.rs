//! The feed build job: the worker that takes build requests one at a time, rebuilds only the
//! files the watcher named when the last build's records can be reused (else the whole store),
//! publishes the catalog, and tells the WebSub hub which feeds changed.

use std::sync::Arc;

use chrono::Utc;

use super::super::changes::Build;
use super::super::systemd;
use super::{BUILD, Jobs, blocking, record_end, record_start};
use crate::metrics::{label, metrics};
use std::sync::atomic::Ordering;

impl Jobs {
    /// Builds when asked, one build at a time, until the process stops.
    pub async fn build_worker(self: Arc<Self>) {
        loop {
            let request = tokio::select! {
                () = self.stop.cancelled() => return,
                request = self.build_requests.next() => request,
            };
            self.work.track_future(self.clone().build(request)).await;
        }
    }

    async fn build(self: Arc<Self>, request: Build) {
        let config = self.live.site.load().config.clone();
        let now = Utc::now();
        let fingerprint = crate::store::index::fingerprint(&config);
        let is_same_settings =
            self.built_with.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_deref() == Some(&fingerprint);
        let changed = match request {
            Build::Paths(paths) if is_same_settings => Some(paths),
            _ => None,
        };
        let previous = self.live.catalog.load_full();
        metrics().job_started(BUILD, now.timestamp());
        let db = self.live.db.clone();
        let result = blocking(move || {
            record_start(&db, BUILD, now.timestamp(), now.timestamp(), None);
            // The files the watcher named alone, when that is enough; else the whole store.
            let rebuilt = match &changed {
                Some(paths) => crate::build::rebuild(&config, now, &previous, paths).transpose(),
                None => None,
            };
            drop(previous);
            let result = match rebuilt {
                Some(Err(e)) => {
                    tracing::warn!(error = format!("{e:#}"), "rebuilding the changed files failed: full build");
                    crate::build::build(&config, now)
                }
                Some(Ok(report)) => Ok(report),
                None => crate::build::build(&config, now),
            };
            let outcome = match &result {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("error: {e:#}"),
            };
            record_end(&db, BUILD, &outcome);
            result
        })
        .await
        .and_then(|r| r);
        if result.is_ok() {
            *self.built_with.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fingerprint);
        }
        let m = metrics();
        match result {
            Ok(report) => {
                let survey = report.survey;
                let errors = survey.errors().count() + report.published.problems.len();
                for problem in survey.errors().chain(&report.published.problems) {
                    tracing::error!("{problem}");
                }
                let articles = survey.catalog.len();
                self.next_release.store(survey.catalog.next_release.unwrap_or(0), Ordering::Relaxed);
                // Pages and attachments answer from the new catalog before anyone is told the
                // build is done.
                self.live.set_catalog(survey.catalog);
                self.release_changed.notify_one();
                tracing::info!(
                    feeds = report.published.feeds,
                    articles,
                    changed = report.published.changed.len(),
                    errors,
                    elapsed_ms = report.elapsed.as_millis() as u64,
                    "feeds built"
                );
                m.builds.get_or_create(&label("outcome", "ok")).inc();
                m.feeds.set(i64::try_from(report.published.feeds).unwrap_or(i64::MAX));
                m.articles.set(i64::try_from(articles).unwrap_or(i64::MAX));
                m.article_errors.set(i64::try_from(errors).unwrap_or(i64::MAX));
                m.job_ended(BUILD, true);
                systemd::status(&format!(
                    "serving; feeds built at {} with {} articles",
                    now.format("%H:%M:%S"),
                    articles
                ));
                self.feeds_changed(&report.published.changed).await;
                // The pages' lookups, made before a request has to wait for them.
                let catalog = self.live.catalog.load_full();
                tokio::task::spawn_blocking(move || catalog.prepare_lookups());
            }
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "feed build failed");
                m.builds.get_or_create(&label("outcome", "error")).inc();
                m.job_ended(BUILD, false);
            }
        }
    }

    /// Queues the WebSub deliveries of the feeds a build changed.
    async fn feeds_changed(&self, changed: &[std::path::PathBuf]) {
        let changed: Vec<String> = changed.iter().filter_map(|p| p.to_str()).map(str::to_owned).collect();
        let now_ms = Utc::now().timestamp_millis();
        match crate::websub::feeds_changed(&self.hub, changed, now_ms).await {
            Ok(0) => {}
            Ok(queued) => tracing::debug!(queued, "websub deliveries queued"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot queue websub deliveries"),
        }
    }
}
