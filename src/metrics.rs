//! Process-wide counters for `/metrics` (Prometheus text format, through the official
//! `prometheus-client`): feed builds, feeds and articles published, digest messages sent,
//! retried and failed, and when each scheduled job last ran. The jobs update them as they
//! work; the HTTP server adds the subscriber counts, read from the database when scraped.

use std::sync::LazyLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of one series, such as `[("outcome", "ok")]`.
type Labels = Vec<(&'static str, String)>;

/// Every metric gazette keeps.
pub struct Metrics {
    registry: Registry,
    /// Feed builds by outcome (`ok`, `error`).
    pub builds: Family<Labels, Counter>,
    /// Feed files in the last build.
    pub feeds: Gauge,
    /// Article versions published in the last build.
    pub articles: Gauge,
    /// Articles that could not be published in the last build.
    pub article_errors: Gauge,
    /// Digest messages by outcome (`sent`, `failed`, `skipped`).
    pub messages: Family<Labels, Counter>,
    /// Sending attempts tried again after a transient failure.
    pub retries: Counter,
    /// Confirmation emails sent from the subscribe form.
    pub confirmations: Counter,
    /// Sign-ups deleted because their confirmation link expired unused.
    pub signups_expired: Counter,
    /// Returned messages handled, by what they were (`hard bounce`, `complaint`, …).
    pub returns: Family<Labels, Counter>,
    /// When each job last started (Unix seconds), by job (`build`, `digest:daily`).
    pub job_last_run: Family<Labels, Gauge>,
    /// Whether each job's last run succeeded (1) or not (0).
    pub job_last_success: Family<Labels, Gauge>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// One label.
pub fn label(name: &'static str, value: &str) -> Labels {
    vec![(name, value.to_owned())]
}

impl Metrics {
    fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("gazette"),
            builds: Family::default(),
            feeds: Gauge::default(),
            articles: Gauge::default(),
            article_errors: Gauge::default(),
            messages: Family::default(),
            retries: Counter::default(),
            confirmations: Counter::default(),
            signups_expired: Counter::default(),
            returns: Family::default(),
            job_last_run: Family::default(),
            job_last_success: Family::default(),
        };
        metrics.registry.register("builds", "Feed builds, by outcome", metrics.builds.clone());
        metrics.registry.register("feeds", "Feed files written by the last build", metrics.feeds.clone());
        metrics.registry.register("articles", "Article versions published by the last build", metrics.articles.clone());
        metrics.registry.register(
            "article_errors",
            "Article files that could not be published in the last build",
            metrics.article_errors.clone(),
        );
        metrics.registry.register("messages", "Digest messages, by outcome", metrics.messages.clone());
        metrics.registry.register(
            "send_retries",
            "Sending attempts tried again after a transient failure",
            metrics.retries.clone(),
        );
        metrics.registry.register("confirmations", "Confirmation emails sent", metrics.confirmations.clone());
        metrics.registry.register("returns", "Returned messages handled, by kind", metrics.returns.clone());
        metrics.registry.register(
            "signups_expired",
            "Sign-ups deleted unconfirmed once their link expired",
            metrics.signups_expired.clone(),
        );
        metrics.registry.register(
            "job_last_run_timestamp_seconds",
            "When each scheduled job last started",
            metrics.job_last_run.clone(),
        );
        metrics.registry.register(
            "job_last_success",
            "Whether each job's last run succeeded",
            metrics.job_last_success.clone(),
        );
        metrics
    }

    /// The metrics in Prometheus text format, with `extra` (already formatted series, such as
    /// the subscriber counts) before the end marker.
    pub fn render(&self, extra: &str) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        match out.strip_suffix("# EOF\n") {
            Some(body) => format!("{body}{extra}# EOF\n"),
            None => out + extra,
        }
    }

    /// Records that `job` started now.
    pub fn job_started(&self, job: &str, now: i64) {
        self.job_last_run.get_or_create(&label("job", job)).set(now);
    }

    /// Records how `job` ended.
    pub fn job_ended(&self, job: &str, ok: bool) {
        self.job_last_success.get_or_create(&label("job", job)).set(i64::from(ok));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_extra_series() {
        let m = metrics();
        m.builds.get_or_create(&label("outcome", "ok")).inc();
        m.job_started("digest:daily", 1_700_000_000);
        let text = m.render("# TYPE gazette_subscribers gauge\ngazette_subscribers{status=\"confirmed\"} 3\n");
        assert!(text.contains("gazette_builds_total{outcome=\"ok\"}"), "{text}");
        assert!(text.contains("gazette_job_last_run_timestamp_seconds{job=\"digest:daily\"} 1700000000"), "{text}");
        assert!(text.contains("gazette_subscribers{status=\"confirmed\"} 3\n# EOF\n"), "{text}");
    }
}
