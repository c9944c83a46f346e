//! `[state]`: where subscriber state lives (`state.url`, with `state.path` the older spelling of
//! a SQLite file) and how long finished runs keep their delivery rows. Opening it is
//! [`crate::state::Database`]'s job.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// `[state]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    /// The database.
    pub url: StateUrl,
    /// How long the daemon keeps the delivery rows of finished digest runs (the runs
    /// themselves stay, as past digests).
    pub keep_runs: std::time::Duration,
}

/// Which database holds the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUrl {
    /// A SQLite file (`sqlite://gazette.db`, relative to the config's folder, or
    /// `sqlite:///var/lib/gazette/gazette.db`).
    Sqlite(PathBuf),
}

impl StateUrl {
    /// Reads `url`; a relative SQLite path is taken from `base`.
    pub fn parse(url: &str, base: &Path) -> Result<StateUrl> {
        match url.split_once("://") {
            Some(("sqlite", path)) if !path.is_empty() => Ok(StateUrl::Sqlite(base.join(path))),
            Some(("sqlite", _)) => bail!("state.url: '{url}' names no file (write sqlite://gazette.db)"),
            _ => bail!("state.url: '{url}' is not a database URL gazette knows (write sqlite://FILE)"),
        }
    }

    /// The SQLite file, if the state is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            StateUrl::Sqlite(path) => Some(path),
        }
    }
}

/// Shown in logs and errors: never holds a password.
impl fmt::Display for StateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawState {
    url: Option<String>,
    path: Option<PathBuf>,
    keep_runs: Option<String>,
}

const DEFAULT_URL: &str = "sqlite://gazette.db";
const DEFAULT_KEEP_RUNS: &str = "90d";

impl RawState {
    pub(super) fn validate(self, base: &Path) -> Result<StateConfig> {
        let url = match (self.url, self.path) {
            (Some(_), Some(_)) => bail!("state: give `url` or `path` (the older spelling of a SQLite file), not both"),
            (Some(url), None) => StateUrl::parse(&url, base)?,
            (None, Some(path)) => StateUrl::Sqlite(base.join(path)),
            (None, None) => StateUrl::parse(DEFAULT_URL, base)?,
        };
        let keep_runs = self.keep_runs.as_deref().unwrap_or(DEFAULT_KEEP_RUNS);
        let keep_runs = humantime::parse_duration(keep_runs)
            .with_context(|| format!("state.keep_runs: '{keep_runs}' is not a duration such as '90d'"))?;
        if keep_runs < std::time::Duration::from_secs(24 * 3600) {
            bail!("state.keep_runs: keep runs at least a day (the newest run of each digest is always kept)");
        }
        Ok(StateConfig { url, keep_runs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(toml: &str) -> Result<StateConfig> {
        let raw: RawState = toml::from_str(toml)?;
        raw.validate(Path::new("/srv/gazette"))
    }

    #[test]
    fn the_state_is_a_sqlite_file_beside_the_config_unless_told_otherwise() {
        let url = |toml| state(toml).unwrap().url;
        assert_eq!(url(""), StateUrl::Sqlite("/srv/gazette/gazette.db".into()));
        assert_eq!(url("url = \"sqlite://data/g.db\""), StateUrl::Sqlite("/srv/gazette/data/g.db".into()));
        assert_eq!(url("url = \"sqlite:///var/lib/gazette/g.db\""), StateUrl::Sqlite("/var/lib/gazette/g.db".into()));
        assert_eq!(url("path = \"old.db\""), StateUrl::Sqlite("/srv/gazette/old.db".into()));
        assert_eq!(url("").to_string(), "sqlite:///srv/gazette/gazette.db");
    }

    #[test]
    fn a_url_gazette_cannot_open_is_named() {
        for (toml, says) in [
            ("url = \"mysql://db/gazette\"", "mysql://db/gazette"),
            ("url = \"gazette.db\"", "'gazette.db'"),
            ("url = \"sqlite://\"", "names no file"),
            ("url = \"sqlite://a.db\"\npath = \"b.db\"", "not both"),
        ] {
            let err = format!("{:#}", state(toml).unwrap_err());
            assert!(err.contains(says), "{toml}: {err}");
        }
    }
}
