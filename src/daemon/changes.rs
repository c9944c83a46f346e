//! What the build worker is asked for: a full build (start, schedule, reload, a held-back
//! article due, a change the watcher cannot name) or only the files the watcher saw change,
//! gathered until the worker takes them, so a burst makes one build.

use std::collections::BTreeSet;
use std::sync::Mutex;

use tokio::sync::Notify;

/// The next build to make.
#[derive(Debug, PartialEq, Eq)]
pub enum Build {
    /// Walk the whole store.
    Full,
    /// Only these store-relative paths changed.
    Paths(Vec<String>),
}

#[derive(Default)]
struct Pending {
    is_full: bool,
    paths: BTreeSet<String>,
}

/// Build requests waiting for the worker.
#[derive(Default)]
pub struct BuildRequests {
    pending: Mutex<Pending>,
    notify: Notify,
}

impl BuildRequests {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks for a full build.
    pub fn full(&self) {
        self.lock().is_full = true;
        self.notify.notify_one();
    }

    /// Asks for a build of the files at `paths` (relative to the store).
    pub fn paths(&self, paths: impl IntoIterator<Item = String>) {
        self.lock().paths.extend(paths);
        self.notify.notify_one();
    }

    /// Waits for a request and takes everything asked for since the last one.
    pub async fn next(&self) -> Build {
        loop {
            self.notify.notified().await;
            let mut pending = self.lock();
            let taken = std::mem::take(&mut *pending);
            if taken.is_full {
                return Build::Full;
            }
            if !taken.paths.is_empty() {
                return Build::Paths(taken.paths.into_iter().collect());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paths_gather_until_taken_and_a_full_request_wins() {
        let requests = BuildRequests::default();
        requests.paths(["b.en.md".to_owned()]);
        requests.paths(["a.en.md".to_owned(), "b.en.md".to_owned()]);
        assert_eq!(requests.next().await, Build::Paths(vec!["a.en.md".into(), "b.en.md".into()]));
        requests.paths(["c.en.md".to_owned()]);
        requests.full();
        assert_eq!(requests.next().await, Build::Full);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), requests.next()).await;
        assert!(waited.is_err(), "nothing was asked for");
    }
}
