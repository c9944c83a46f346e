//! SQLite connections for request handlers: each opened once (that is when the schema is
//! checked and the PRAGMAs set) and kept for the next request, and used on tokio's blocking
//! threads so a busy database never stalls the async ones.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use crate::state::State;

/// Idle connections kept at most (as many as requests can use at once is plenty).
const IDLE: usize = 8;

/// Open connections waiting for a request, with the database file each belongs to.
#[derive(Default)]
pub struct Connections {
    idle: Mutex<Vec<(PathBuf, State)>>,
}

impl Connections {
    /// Runs `work` on a connection to the database at `path`, off the async threads.
    pub async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        path: &Path,
        work: impl FnOnce(&mut State) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let pool = self.clone();
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut state = match pool.take(&path) {
                Some(state) => state,
                None => State::open(&path)?,
            };
            let result = work(&mut state);
            pool.give_back(path, state);
            result
        })
        .await
        .map_err(|_| anyhow::anyhow!("a database task panicked"))?
    }

    fn take(&self, path: &Path) -> Option<State> {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Connections to a file the config no longer names (after a reload) are dropped.
        idle.retain(|(p, _)| p == path);
        idle.pop().map(|(_, state)| state)
    }

    fn give_back(&self, path: PathBuf, state: State) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE {
            idle.push((path, state));
        }
    }
}
