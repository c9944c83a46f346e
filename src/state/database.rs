//! The state opened once from `state.url` and handed down (as miniflux hands its storage to
//! the daemon): the backend's connections, kept open for the next use, and the locks that
//! keep two senders of one digest apart. Nothing else in gazette opens the database.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};

use super::State;
use super::{postgres, sqlite};
use crate::config::{StateConfig, StateUrl};

/// Idle connections kept at most (as many as requests and a digest run use at once is plenty).
const IDLE: usize = 8;

/// The open state: cheap to clone, one per process.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    url: StateUrl,
    sender: String,
    backend: Backend,
    idle: Mutex<Vec<State>>,
}

enum Backend {
    Sqlite(sqlite::Location),
    Postgres(Box<postgres::Server>),
}

impl Database {
    /// Opens the database `config` names, creating it if need be, and brings its schema up to
    /// date: a database that cannot be reached or read fails here, naming `state.url`.
    pub fn open(config: &StateConfig) -> Result<Database> {
        let opened = match &config.url {
            StateUrl::Sqlite(path) => {
                let location = sqlite::Location::new(path);
                location.create().map(|first| (Backend::Sqlite(location), State::Sqlite(first)))
            }
            StateUrl::Postgres(url) => postgres::Server::new(url).and_then(|server| {
                server.create().map(|first| (Backend::Postgres(Box::new(server)), State::Postgres(Box::new(first))))
            }),
        };
        let (backend, first) = opened.with_context(|| format!("state.url {}", config.url))?;
        let inner = Inner { url: config.url.clone(), sender: sender_id(), backend, idle: Mutex::new(vec![first]) };
        Ok(Database { inner: Arc::new(inner) })
    }

    /// Where the state is, fit to show.
    pub fn url(&self) -> &StateUrl {
        &self.inner.url
    }

    /// This process as a sender of digest runs, which other processes on the same database
    /// (other instances) tell apart from themselves: host, process id and a random part.
    pub fn sender(&self) -> &str {
        &self.inner.sender
    }

    /// A connection, idle or new; it goes back when dropped.
    pub fn get(&self) -> Result<Pooled> {
        let idle = self.inner.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let state = match idle {
            Some(state) => state,
            None => match &self.inner.backend {
                Backend::Sqlite(location) => State::Sqlite(location.connect()?),
                Backend::Postgres(server) => State::Postgres(Box::new(server.connect()?)),
            },
        };
        Ok(Pooled { state: Some(state), db: self.clone() })
    }

    /// Runs `work` on a connection on tokio's blocking threads, so a busy database never
    /// stalls the async ones.
    pub async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut State) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || work(&mut *db.get()?))
            .await
            .map_err(|_| anyhow::anyhow!("a database task panicked"))?
    }

    /// Holds digest `digest`'s sending for as long as the lock lives. On SQLite one process
    /// sends a digest at a time (cron and an operator, the daemon and the command line are
    /// told it is being sent); on PostgreSQL any number send one run together, each the
    /// deliveries it claimed ([`State::claim`]), and the lock holds nothing.
    pub fn lock_digest(&self, digest: &str) -> Result<DigestLock> {
        match &self.inner.backend {
            Backend::Sqlite(location) => Ok(DigestLock::File(location.lock(digest)?)),
            // Instances on one server send a run together, each the deliveries it claimed.
            Backend::Postgres(_) => Ok(DigestLock::Shared),
        }
    }
}

fn sender_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}:{}:{random}", host.trim(), std::process::id())
}

/// Whether `error` says the database could not be reached or dropped the connection (a
/// restart, a network cut), or gave up a transaction to break a deadlock, rather than refused
/// what was asked: worth waiting and trying again on a new connection.
pub fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if let Some(e) = cause.downcast_ref::<::postgres::Error>() {
            let code = e.code().map(|c| c.code());
            return e.is_closed()
                || code.is_some_and(|c| {
                    c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "40P01" | "40001")
                })
                || (code.is_none() && std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()));
        }
        cause.is::<std::io::Error>()
    })
}

/// A connection out of the pool; derefs to [`State`].
pub struct Pooled {
    state: Option<State>,
    db: Database,
}

impl Deref for Pooled {
    type Target = State;

    fn deref(&self) -> &State {
        self.state.as_ref().expect("a pooled connection is there until it is dropped")
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut State {
        self.state.as_mut().expect("a pooled connection is there until it is dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else { return };
        // A connection the server dropped (a restart) is not handed out again.
        if state.is_broken() {
            return discard(vec![state]);
        }
        let mut idle = self.db.inner.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE {
            idle.push(state);
        } else {
            drop(idle);
            discard(vec![state]);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        discard(std::mem::take(self.idle.get_mut().unwrap_or_else(PoisonError::into_inner)));
    }
}

/// Closes `connections`. A PostgreSQL one blocks on a runtime of its own while it closes,
/// which must not happen on one of tokio's async threads (the last handle to a database may
/// be dropped there at shutdown): those are closed on a thread of their own.
fn discard(connections: Vec<State>) {
    if connections.iter().any(|c| matches!(c, State::Postgres(_))) {
        let _ = std::thread::Builder::new().name("gazette-db-close".into()).spawn(move || drop(connections));
    }
}

/// Held while a digest is being sent (see [`Database::lock_digest`]); released when dropped.
pub enum DigestLock {
    /// A file beside the SQLite database, locked.
    File(std::fs::File),
    /// Nothing: the run is shared.
    Shared,
}
