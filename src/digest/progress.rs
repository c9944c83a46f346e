//! How a long run shows that it is moving: a progress bar when a person watches a terminal,
//! a log line every ten seconds otherwise (under systemd, cron, or with output redirected),
//! so the journal tells how far a run got.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often progress is logged when there is no bar.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Counts of a run so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Messages sent.
    pub sent: usize,
    /// Subscribers with nothing to send.
    pub skipped: usize,
    /// Messages refused or not made.
    pub failed: usize,
}

impl Counts {
    /// Deliveries done.
    pub fn done(&self) -> usize {
        self.sent + self.skipped + self.failed
    }
}

/// The progress of one run.
pub struct Progress {
    bar: Option<ProgressBar>,
    run: i64,
    total: usize,
    started: Instant,
    last_log: Instant,
}

impl Progress {
    /// Progress of run `run` over `total` deliveries: a bar if stderr is a terminal and this
    /// is not a systemd service.
    pub fn new(run: i64, total: usize) -> Progress {
        let is_service = std::env::var_os("INVOCATION_ID").is_some() || std::env::var_os("JOURNAL_STREAM").is_some();
        let bar = (std::io::stderr().is_terminal() && !is_service).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        let now = Instant::now();
        Progress { bar, run, total, started: now, last_log: now }
    }

    /// Shows `counts`.
    pub fn update(&mut self, counts: Counts) {
        if let Some(bar) = &self.bar {
            bar.set_position(counts.done() as u64);
            bar.set_message(format!("sent {} skipped {} failed {}", counts.sent, counts.skipped, counts.failed));
        } else if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let per_second = counts.done() as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
            tracing::info!(
                run = self.run,
                done = counts.done(),
                total = self.total,
                sent = counts.sent,
                skipped = counts.skipped,
                failed = counts.failed,
                per_second = per_second.round() as u64,
                "digest progress"
            );
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
