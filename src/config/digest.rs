//! `[[digests]]`, `[tokens]` and `[templates]`: which email digests exist and when each is
//! sent, where the key that signs links is kept, and where the templates are. Validated here;
//! sending digests is the digest module's job.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::schedule::CronSchedule;

/// One digest newsletter, e.g. `daily`.
#[derive(Debug, Clone)]
pub struct Digest {
    /// The id subscribers choose (`daily`), also used in list ids and message ids.
    pub id: String,
    /// When it is sent.
    pub schedule: CronSchedule,
    /// The zone the schedule is read in.
    pub timezone: Tz,
    /// Most articles in one message.
    pub max_items: usize,
    /// Whether a subscriber with no new articles still gets a message.
    pub send_empty: bool,
    /// How late the daemon may still send a run it missed while it was down; older ones are
    /// skipped (a stale digest should not land days late).
    pub catch_up: std::time::Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDigest {
    id: String,
    schedule: String,
    timezone: Option<String>,
    #[serde(default = "default_max_items")]
    max_items: usize,
    #[serde(default)]
    send_empty: bool,
    #[serde(default = "default_catch_up")]
    catch_up: String,
}

fn default_catch_up() -> String {
    "6h".to_owned()
}

/// `[templates]`: the folder of email and page templates and their interface strings, and a
/// folder of local copies that win over them (the package ships the first in `/usr/share`,
/// the administrator edits the second in `/etc`).
#[derive(Debug, Clone)]
pub struct TemplatesConfig {
    /// The folder (`digest/`, `email/`, `strings.toml`).
    pub dir: PathBuf,
    /// A folder whose files win over `dir`'s, name by name.
    pub override_dir: Option<PathBuf>,
}

impl TemplatesConfig {
    /// Where the file `name` (`digest/body.html`, `strings.toml`) is read from: the override
    /// folder when it holds one, else `dir`.
    pub fn file(&self, name: &str) -> PathBuf {
        match &self.override_dir {
            Some(local) if local.join(name).exists() => local.join(name),
            _ => self.dir.join(name),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTemplates {
    #[serde(default = "default_templates_dir")]
    dir: PathBuf,
    override_dir: Option<PathBuf>,
}

impl Default for RawTemplates {
    fn default() -> Self {
        RawTemplates { dir: default_templates_dir(), override_dir: None }
    }
}

fn default_templates_dir() -> PathBuf {
    PathBuf::from("templates")
}

impl RawTemplates {
    pub(super) fn validate(self, base: &Path) -> TemplatesConfig {
        TemplatesConfig { dir: base.join(self.dir), override_dir: self.override_dir.map(|d| base.join(d)) }
    }
}

/// `[tokens]`: the key that signs confirm, unsubscribe and preference links.
#[derive(Debug, Clone)]
pub struct TokensConfig {
    /// The file holding the key, created (mode 0600) on first use; `GAZETTE_TOKEN_SECRET`
    /// overrides it.
    pub secret_file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTokens {
    #[serde(default = "default_secret_file")]
    secret_file: PathBuf,
}

impl Default for RawTokens {
    fn default() -> Self {
        RawTokens { secret_file: default_secret_file() }
    }
}

fn default_secret_file() -> PathBuf {
    PathBuf::from("secrets/token-secret")
}

impl RawTokens {
    pub(super) fn validate(self, base: &Path) -> TokensConfig {
        TokensConfig { secret_file: base.join(self.secret_file) }
    }
}

fn default_max_items() -> usize {
    20
}

/// Checks every `[[digests]]` table; `site_zone` is the default time zone.
pub(super) fn validate(raw: Vec<RawDigest>, site_zone: Tz) -> Result<Vec<Digest>> {
    let mut digests: Vec<Digest> = Vec::with_capacity(raw.len());
    for (i, d) in raw.into_iter().enumerate() {
        let at = format!("digests[{i}]");
        let is_id = !d.id.is_empty()
            && d.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !is_id {
            bail!("{at}.id: '{}' must be non-empty and hold only a-z, 0-9, '-' and '_'", d.id);
        }
        if digests.iter().any(|other| other.id == d.id) {
            bail!("{at}.id: digest '{}' is defined twice", d.id);
        }
        let schedule = CronSchedule::parse(&d.schedule).with_context(|| format!("{at}.schedule"))?;
        let timezone = match d.timezone {
            Some(zone) => zone.parse().map_err(|_| anyhow::anyhow!("{at}.timezone: unknown time zone '{zone}'"))?,
            None => site_zone,
        };
        if d.max_items == 0 {
            bail!("{at}.max_items: must be at least 1");
        }
        let catch_up = humantime::parse_duration(&d.catch_up)
            .with_context(|| format!("{at}.catch_up: '{}' is not a duration such as '6h' or '90min'", d.catch_up))?;
        digests.push(Digest {
            id: d.id,
            schedule,
            timezone,
            max_items: d.max_items,
            send_empty: d.send_empty,
            catch_up,
        });
    }
    Ok(digests)
}
