//! `[state]`: where subscriber state lives (`state.url`: a SQLite file, with `state.path` its
//! older spelling, or a PostgreSQL server, whose password is never in the config) and how long
//! finished runs keep their delivery rows. Opening it is [`crate::state::Database`]'s job.

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
    /// How long a sender of a digest run holds the deliveries it claimed without renewing
    /// them (it renews every third of it): another instance takes over those of one that died
    /// once this has passed.
    pub lease: std::time::Duration,
}

/// Which database holds the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUrl {
    /// A SQLite file (`sqlite://gazette.db`, relative to the config's folder, or
    /// `sqlite:///var/lib/gazette/gazette.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://gazette@db.example.org/gazette`).
    Postgres(PostgresUrl),
}

/// A PostgreSQL database and where its password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    /// The URL as given, which holds no password.
    pub url: String,
    /// `state.password_file`: a file holding the password, when `GAZETTE_DB_PASSWORD` is not
    /// set (a systemd credential, say).
    pub password_file: Option<PathBuf>,
    /// `state.ca_file`: the certificates (PEM) to trust for the server's, alone (without it,
    /// the web's roots), with `sslmode=require`.
    pub ca_file: Option<PathBuf>,
}

impl PostgresUrl {
    /// Whether the URL asks for TLS (`sslmode=require`).
    pub fn requires_tls(&self) -> bool {
        self.url
            .parse::<postgres::Config>()
            .is_ok_and(|config| config.get_ssl_mode() == postgres::config::SslMode::Require)
    }
}

/// The environment variable that holds the PostgreSQL password.
pub const DB_PASSWORD_ENV: &str = "GAZETTE_DB_PASSWORD";

impl StateUrl {
    /// Reads `url`, given as `key` (named in errors); a relative SQLite path is taken from
    /// `base`.
    pub fn parse(url: &str, base: &Path, key: &str) -> Result<StateUrl> {
        match url.split_once("://") {
            Some(("sqlite", path)) if !path.is_empty() => Ok(StateUrl::Sqlite(base.join(path))),
            Some(("sqlite", _)) => bail!("{key}: '{url}' names no file (write sqlite://gazette.db)"),
            Some(("postgres" | "postgresql", _)) => {
                // The URL is shown in logs and errors: a password in it would be too. Until it is
                // known to hold none, it is not repeated in an error either.
                let parsed = url::Url::parse(url)
                    .map_err(|e| anyhow::anyhow!("{key}: the PostgreSQL URL does not parse ({e})"))?;
                let in_query = parsed.query_pairs().any(|(k, _)| matches!(k.as_ref(), "password" | "sslpassword"));
                if parsed.password().is_some() || in_query {
                    bail!(
                        "{key}: the URL holds a password; give it in {DB_PASSWORD_ENV} or a file named by \
                         state.password_file instead"
                    );
                }
                url.parse::<postgres::Config>().map_err(|e| anyhow::anyhow!("{key}: '{url}': {e}"))?;
                // libpq's `prefer` talks TLS to a server it does not verify, and plain TCP to one
                // that offers none: either, unnoticed. gazette does one or the other, as told.
                if parsed.query_pairs().any(|(k, v)| k == "sslmode" && v == "prefer") {
                    bail!(
                        "{key}: sslmode=prefer is not offered: write sslmode=require (TLS, the server's \
                         certificate verified) or sslmode=disable (plain TCP)"
                    );
                }
                Ok(StateUrl::Postgres(PostgresUrl { url: url.to_owned(), password_file: None, ca_file: None }))
            }
            _ => bail!(
                "{key}: '{url}' is not a database URL gazette knows (write sqlite://FILE or postgres://USER@HOST/DB)"
            ),
        }
    }

    /// The SQLite file, if the state is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            StateUrl::Sqlite(path) => Some(path),
            StateUrl::Postgres(_) => None,
        }
    }
}

/// Shown in logs and errors: never holds a password.
impl fmt::Display for StateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StateUrl::Postgres(postgres) => f.write_str(&postgres.url),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawState {
    url: Option<String>,
    path: Option<PathBuf>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    keep_runs: Option<String>,
    lease: Option<String>,
}

const DEFAULT_URL: &str = "sqlite://gazette.db";
const DEFAULT_KEEP_RUNS: &str = "90d";
const DEFAULT_LEASE: &str = "60s";

impl RawState {
    pub(super) fn validate(self, base: &Path) -> Result<StateConfig> {
        let url = match (self.url, self.path) {
            (Some(_), Some(_)) => bail!("state: give `url` or `path` (the older spelling of a SQLite file), not both"),
            (Some(url), None) => StateUrl::parse(&url, base, "state.url")?,
            (None, Some(path)) => StateUrl::Sqlite(base.join(path)),
            (None, None) => StateUrl::parse(DEFAULT_URL, base, "state.url")?,
        };
        let url = match (url, self.password_file) {
            (StateUrl::Postgres(postgres), Some(file)) => {
                StateUrl::Postgres(PostgresUrl { password_file: Some(base.join(file)), ..postgres })
            }
            (StateUrl::Sqlite(_), Some(_)) => bail!("state.password_file: a SQLite file has no password"),
            (url, None) => url,
        };
        let url = match (url, self.ca_file) {
            (StateUrl::Postgres(postgres), Some(file)) => {
                if !postgres.requires_tls() {
                    bail!("state.ca_file: the URL does not ask for TLS (add sslmode=require to state.url)");
                }
                StateUrl::Postgres(PostgresUrl { ca_file: Some(base.join(file)), ..postgres })
            }
            (StateUrl::Sqlite(_), Some(_)) => bail!("state.ca_file: a SQLite file has no server to verify"),
            (url, None) => url,
        };
        let keep_runs = self.keep_runs.as_deref().unwrap_or(DEFAULT_KEEP_RUNS);
        let keep_runs = humantime::parse_duration(keep_runs)
            .with_context(|| format!("state.keep_runs: '{keep_runs}' is not a duration such as '90d'"))?;
        if keep_runs < std::time::Duration::from_secs(24 * 3600) {
            bail!("state.keep_runs: keep runs at least a day (the newest run of each digest is always kept)");
        }
        let lease = self.lease.as_deref().unwrap_or(DEFAULT_LEASE);
        let lease = humantime::parse_duration(lease)
            .with_context(|| format!("state.lease: '{lease}' is not a duration such as '60s'"))?;
        if lease < std::time::Duration::from_secs(3) {
            bail!("state.lease: at least 3s (it is renewed every third of it)");
        }
        if lease > std::time::Duration::from_secs(24 * 3600) {
            bail!("state.lease: at most a day (a dead instance's deliveries wait this long)");
        }
        Ok(StateConfig { url, keep_runs, lease })
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
        let postgres = url("url = \"postgres://gazette@db.example.org:5433/gazette\"\npassword_file = \"db-pass\"");
        assert_eq!(
            postgres,
            StateUrl::Postgres(PostgresUrl {
                url: "postgres://gazette@db.example.org:5433/gazette".into(),
                password_file: Some("/srv/gazette/db-pass".into()),
                ca_file: None,
            })
        );
        assert_eq!(postgres.to_string(), "postgres://gazette@db.example.org:5433/gazette");
        let StateUrl::Postgres(tls) =
            url("url = \"postgres://gazette@db.example.org/gazette?sslmode=require\"\nca_file = \"ca.pem\"")
        else {
            panic!("a PostgreSQL URL")
        };
        assert!(tls.requires_tls());
        assert_eq!(tls.ca_file, Some("/srv/gazette/ca.pem".into()));
    }

    #[test]
    fn a_url_gazette_cannot_open_is_named() {
        for (toml, says) in [
            ("url = \"mysql://db/gazette\"", "mysql://db/gazette"),
            ("url = \"gazette.db\"", "'gazette.db'"),
            ("url = \"sqlite://\"", "names no file"),
            ("url = \"sqlite://a.db\"\npath = \"b.db\"", "not both"),
            ("url = \"postgres://gazette:hunter2@db/gazette\"", "GAZETTE_DB_PASSWORD"),
            ("url = \"postgres://gazette@db/gazette?password=hunter2\"", "GAZETTE_DB_PASSWORD"),
            ("url = \"postgres://gazette:hunter2@db:99999/gazette\"", "does not parse"),
            ("password_file = \"pw\"", "no password"),
            ("url = \"postgres://gazette@db/gazette?sslmode=prefer\"", "sslmode=require"),
            ("url = \"postgres://gazette@db/gazette\"\nca_file = \"ca.pem\"", "does not ask for TLS"),
            ("ca_file = \"ca.pem\"", "no server to verify"),
        ] {
            let err = format!("{:#}", state(toml).unwrap_err());
            assert!(err.contains(says), "{toml}: {err}");
            assert!(!err.contains("hunter2"), "a password is never repeated: {err}");
        }
    }
}
