//! Watching the article store: a change (a file written, renamed or deleted) asks for a feed
//! build of the files it names once the burst of events has been quiet for a quarter of a
//! second, so an editor saving or a sync copying a hundred files makes one build, not a
//! hundred. Events the watcher could not keep up with ask for a full build.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, NoCache, new_debouncer_opt};

use super::changes::BuildRequests;

/// How long events must be quiet before a build.
const QUIET: Duration = Duration::from_millis(250);

/// A running watch; dropping it stops watching.
pub type Watch = Debouncer<notify::RecommendedWatcher, NoCache>;

/// Watches `dir` recursively and asks `builds` for a build of the changed paths after each
/// burst of changes to files that are not hidden (editors' swap files and the like start
/// with a dot).
pub fn watch(dir: &Path, builds: Arc<BuildRequests>) -> Result<Watch> {
    // Events name paths under the path watched: watch the canonical one, so that the names
    // inside the store are what follows it (`../store` would otherwise look hidden).
    let root = dir.canonicalize().with_context(|| format!("cannot watch {}", dir.display()))?;
    let watched = root.clone();
    // No file-id cache: it pairs renames by walking the whole store when watching starts
    // (100,000 files), and any change here means the same thing, a build.
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            let mut paths = Vec::new();
            let mut is_full = false;
            for event in events.iter().filter(|e| !e.kind.is_access()) {
                is_full |= event.need_rescan();
                for p in &event.paths {
                    let inside = p.strip_prefix(&root).unwrap_or(p);
                    let Some(rel) = inside.to_str() else {
                        is_full = true;
                        continue;
                    };
                    if rel.is_empty() {
                        // The store folder itself: renamed, removed, or its contents unknown.
                        is_full |= !event.kind.is_modify();
                    } else if !rel.split('/').any(|c| c.starts_with('.')) {
                        paths.push(rel.to_owned());
                    }
                }
            }
            if is_full {
                tracing::debug!(events = events.len(), "the store changed: full build");
                builds.full();
            } else if !paths.is_empty() {
                tracing::debug!(events = events.len(), files = paths.len(), "the store changed");
                builds.paths(paths);
            }
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!(error = %e, "watching the store");
            }
        }
    };
    let mut debouncer =
        new_debouncer_opt::<_, notify::RecommendedWatcher, _>(QUIET, None, handler, NoCache, notify::Config::default())
            .context("cannot start watching the store")?;
    debouncer.watch(&watched, RecursiveMode::Recursive).with_context(|| format!("cannot watch {}", dir.display()))?;
    Ok(debouncer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_under_a_store_named_through_dot_dot_asks_for_a_build() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("site")).unwrap();
        std::fs::create_dir_all(dir.path().join("store/2026")).unwrap();
        let build = Arc::new(BuildRequests::default());
        let _watch = watch(&dir.path().join("site/../store"), build.clone()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        std::fs::write(dir.path().join("store/2026/new.en.md"), "+++\ntitle = \"x\"\n+++\n").unwrap();
        let heard = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), build.next()).await });
        assert_eq!(heard.ok(), Some(super::super::changes::Build::Paths(vec!["2026/new.en.md".to_owned()])));
        // Hidden files (an editor's swap file) ask for nothing.
        std::fs::write(dir.path().join("store/2026/.new.en.md.swp"), "x").unwrap();
        let heard = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(2), build.next()).await });
        assert!(heard.is_err(), "a hidden file asked for a build");
    }
}
