//! `gazette run`: the product as deployed, a long-running service that serves the feeds and
//! pages over HTTP, keeps the feeds current (schedule, store watcher, held-back articles) and
//! sends each digest on its schedule.
//!
//! Signals: SIGTERM or SIGINT stop new work, let a digest run in flight finish and record its
//! current messages, drain HTTP and exit 0, within 10 seconds. SIGHUP reloads the config and
//! templates; an invalid new config is logged and the old one kept. Under systemd
//! (`Type=notify`) the [`systemd`] messages tell the service manager how things stand.

mod changes;
mod jobs;
pub mod systemd;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::live::{Live, Site};
use crate::state::Database;
use crate::web::{self, Shared};
use jobs::Jobs;
pub use jobs::{Missed, missed};

/// Threads for blocking work in the HTTP server.
const BLOCKING_THREADS: usize = 16;
/// How long shutdown may take in all (systemd's default stop timeout is 90 s; the promise
/// is 10).
const SHUTDOWN: Duration = Duration::from_secs(9);

/// Runs the daemon with `config`, read from `config_path` (read again on SIGHUP), until a
/// stop signal.
pub fn run(config_path: &Path, config: Config) -> Result<()> {
    // Few threads for blocking work (file reads, SQLite): each keeps its own allocator heap,
    // and hundreds of them under load hold hundreds of megabytes.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gazette")
        .max_blocking_threads(BLOCKING_THREADS)
        .build()?;
    // Opened before serving, off the runtime (a PostgreSQL connection blocks on a runtime of
    // its own): a broken database fails the start, not a request.
    let db = Database::open(&config.state)?;
    let result = runtime.block_on(daemon(config_path.to_path_buf(), config, db));
    // Blocking work still running (a request waiting on SQLite's lock) must not hold the exit
    // past the promised 10 seconds.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

/// The tasks that follow the config: respawned on reload.
struct Generation {
    stop: CancellationToken,
    _watch: Option<watch::Watch>,
}

fn start_generation(jobs: &Arc<Jobs>, config: &Config, parent: &CancellationToken, at_start: bool) -> Generation {
    let stop = parent.child_token();
    if let Some(schedule) = &config.feeds.schedule {
        tokio::spawn(jobs.clone().feed_schedule(schedule.clone(), config.site.timezone, stop.clone()));
    }
    for digest in &config.digests {
        tokio::spawn(jobs.clone().digest_schedule(digest.clone(), stop.clone(), at_start));
    }
    let watch = if config.store.watch {
        match watch::watch(&config.store.dir, jobs.build_requests.clone()) {
            Ok(watch) => Some(watch),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "the store is not watched; feeds rebuild on schedule only");
                None
            }
        }
    } else {
        None
    };
    Generation { stop, _watch: watch }
}

async fn daemon(config_path: PathBuf, config: Config, db: Database) -> Result<()> {
    // Handlers first: a signal that comes while gazette starts must not kill it (SIGHUP's
    // default action is to end the process).
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let stop = CancellationToken::new();
    let config = Arc::new(config);
    let site = Site::load(config.clone())?;
    let listeners = web::bind(&config).await?;
    let lmtp = match config.mail.returns.as_ref().and_then(|r| r.listen) {
        Some(address) => Some(crate::returns::lmtp::bind(address).await?),
        None => None,
    };
    let address = listeners.public_address()?;
    let ops = listeners.ops_address()?;
    let live = Arc::new(Live::new(site, db));
    let hub = crate::websub::Hub::new(live.clone(), stop.clone());
    let shared = Arc::new(Shared::new(live.clone(), hub.clone(), stop.clone()));
    let jobs = Jobs::new(live.clone(), hub.clone(), stop.clone());

    let server = tokio::spawn(web::serve(listeners, shared.clone(), stop.clone()));
    let lmtp = lmtp.map(|listener| tokio::spawn(crate::returns::lmtp::serve(listener, live.clone(), stop.clone())));
    tokio::spawn(jobs.clone().build_worker());
    tokio::spawn(jobs.clone().release_timer());
    tokio::spawn(jobs.clone().prune_daily());
    tokio::spawn(jobs.clone().purge_signups());
    hub.tasks.spawn(crate::websub::deliver::run(hub.clone()));
    jobs.build_requests.full();
    let mut generation = start_generation(&jobs, &config, &stop, true);
    tracing::info!(listen = %address, ops = %ops, config = %config_path.display(), "gazette is running");
    systemd::ready(&format!("serving on http://{address}"));
    tokio::spawn(watchdog(shared.clone(), stop.clone()));

    loop {
        tokio::select! {
            _ = terminate.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = interrupt.recv() => { tracing::info!("SIGINT: stopping"); break; }
            _ = hangup.recv() => {
                if let Some(next) = reload(&config_path, &shared, &jobs, &stop) {
                    generation.stop.cancel();
                    generation = next;
                }
            }
        }
    }

    systemd::stopping();
    stop.cancel();
    generation.stop.cancel();
    jobs.work.close();
    shared.mail_tasks.close();
    hub.tasks.close();
    let drained = tokio::time::timeout(SHUTDOWN, async {
        let _ = server.await;
        if let Some(lmtp) = lmtp {
            let _ = lmtp.await;
        }
        jobs.work.wait().await;
        shared.mail_tasks.wait().await;
        hub.tasks.wait().await;
    })
    .await;
    match drained {
        Ok(()) => tracing::info!("stopped"),
        Err(_) => tracing::warn!("stopped with work still in flight after {}s", SHUTDOWN.as_secs()),
    }
    Ok(())
}

/// Loads the config again (SIGHUP): on success swaps it in and restarts the scheduled tasks;
/// on failure logs why and keeps everything as it was.
fn reload(path: &Path, shared: &Arc<Shared>, jobs: &Arc<Jobs>, stop: &CancellationToken) -> Option<Generation> {
    systemd::reloading();
    let loaded = Config::from_file(path).and_then(|config| {
        let config = Arc::new(config);
        Ok((Site::load(config.clone())?, config))
    });
    let result = match loaded {
        Ok((site, config)) => {
            let old = shared.live.site.load();
            if old.config.http != config.http {
                tracing::warn!("[http] changes take effect when gazette is restarted");
            }
            if old.config.state.url != config.state.url {
                tracing::warn!(
                    url = %shared.live.db.url(),
                    "state.url changes take effect when gazette is restarted: still on the database it opened"
                );
            }
            shared.live.set_site(site);
            let generation = start_generation(jobs, &config, stop, false);
            jobs.build_requests.full();
            tracing::info!(config = %path.display(), "SIGHUP: config and templates reloaded");
            Some(generation)
        }
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "SIGHUP: the new config is not valid; still running on the old one"
            );
            None
        }
    };
    systemd::ready("serving");
    result
}

/// Tells systemd gazette is alive while the database answers; also forgets idle rate-limit
/// entries once a minute.
async fn watchdog(shared: Arc<Shared>, stop: CancellationToken) {
    let period = systemd::watchdog_period().unwrap_or(Duration::from_secs(60)).min(Duration::from_secs(60));
    let is_watched = systemd::watchdog_period().is_some();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        shared.forget_idle_clients();
        if !is_watched {
            continue;
        }
        match shared.live.db.with(|state| state.ping()).await {
            Ok(()) => systemd::watchdog(),
            Err(e) => tracing::error!(error = format!("{e:#}"), "unhealthy: the database does not answer"),
        }
    }
}
