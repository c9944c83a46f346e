//! `config.toml`: the raw TOML shape (strict: unknown keys are errors) and the validated
//! [`Config`] the rest of gazette uses, with time zone, URLs and schedules parsed and every
//! relative path resolved against the folder that holds the config file.

mod digest;
mod http;
mod mail;
pub mod reference;
mod state;
mod subscriptions;
mod websub;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono_tz::Tz;
use serde::Deserialize;
use url::Url;

pub use digest::{Digest, TemplatesConfig, TokensConfig};
pub use http::{HttpConfig, IpNetwork, OpsListen, ProxyHeader};
pub use mail::{DkimAlgorithm, DkimSettings, MAIL_URL_ENV, MailConfig, PASSWORD_ENV, ReturnsConfig, Tls, Transport};
pub use state::{DB_PASSWORD_ENV, PostgresUrl, StateConfig, StateUrl};
pub use subscriptions::SubscriptionsConfig;
pub use websub::WebSubConfig;

use crate::locale::Writing;
use crate::schedule::CronSchedule;
use crate::store::press_release::Chrome;
use crate::text::{line_col, one_line};

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file this was read from (used in messages).
    pub path: PathBuf,
    /// Site-wide settings.
    pub site: Site,
    /// Published languages, in a stable order (the default language first).
    pub languages: Vec<Language>,
    /// Sectors in a stable order (sorted by id).
    pub sectors: Vec<Sector>,
    /// The article store.
    pub store: StoreConfig,
    /// The feed writer.
    pub feeds: FeedsConfig,
    /// The email digests, in config order.
    pub digests: Vec<Digest>,
    /// Where subscribers and digest runs are kept.
    pub state: StateConfig,
    /// The key that signs links.
    pub tokens: TokensConfig,
    /// Limits of sign-up and confirmation.
    pub subscriptions: SubscriptionsConfig,
    /// Where digests go and who sends them.
    pub mail: MailConfig,
    /// Email and page templates.
    pub templates: TemplatesConfig,
    /// The daemon's HTTP server.
    pub http: HttpConfig,
    /// The WebSub hub and the external hubs.
    pub websub: WebSubConfig,
}

/// `[site]`: where the site lives and how its dates read.
#[derive(Debug, Clone)]
pub struct Site {
    /// Absolute base URL with no trailing slash, e.g. `https://news.example.gov.cn`.
    pub base_url: String,
    /// The base URL's host is under `.invalid` (RFC 2606): the packaged config's placeholder,
    /// not yet set to the site's address.
    pub is_placeholder: bool,
    /// The authority of entry ids (`tag:AUTHORITY,DATE:…`, RFC 4151): `site.tag_authority`,
    /// else the host of `base_url`. Set it to keep ids when the site moves to another host.
    pub tag_authority: String,
    /// The time zone in which dates without a time or offset are read and feed dates are written.
    pub timezone: Tz,
    /// The language of `<slug>.md` files that carry no language suffix.
    pub default_language: String,
}

/// `[languages.<code>]`: one published language.
#[derive(Debug, Clone)]
pub struct Language {
    /// The language code used in file names, URLs and `xml:lang` (`zh`, `en`).
    pub code: String,
    /// Feed title.
    pub title: String,
    /// Feed description / subtitle.
    pub description: String,
    /// The publisher named as the feed's author.
    pub author: String,
    /// Its CLDR locale, script and direction (`locale = "en-GB"`, else the code).
    pub writing: Writing,
    /// The language whose strings stand in for those this one's table lacks (`fallback`);
    /// without one, a missing string is an error when the templates load.
    pub fallback: Option<String>,
}

/// `[sectors.<id>]`: a topic with a feed of its own.
#[derive(Debug, Clone)]
pub struct Sector {
    /// The id used in front matter, URLs and feed paths (`trade`).
    pub id: String,
    /// Display names by language code.
    pub names: BTreeMap<String, String>,
    /// Words that put an article with no `sectors` in its front matter into this sector.
    pub keywords: Vec<String>,
}

/// `[store]`: where articles are read from.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The article folder, read recursively.
    pub dir: PathBuf,
    /// The index cache file that lets a rebuild skip unchanged articles.
    pub index: PathBuf,
    /// Whether the daemon watches the folder and rebuilds the feeds on a change.
    pub watch: bool,
    /// The page-chrome lines press releases drop (`[store.press_release] strip`, and the
    /// defaults unless `default_strip = false`).
    pub chrome: Chrome,
}

/// `[feeds]`: what is written and where.
#[derive(Debug, Clone)]
pub struct FeedsConfig {
    /// Output folder.
    pub dir: PathBuf,
    /// Entries per feed.
    pub items: usize,
    /// Longest generated summary, in characters.
    pub summary_chars: usize,
    /// When the daemon rebuilds the feeds.
    pub schedule: Option<CronSchedule>,
    /// Whether builds also write every feed's archive pages into the folder (for a web server
    /// other than gazette's own, which renders them when asked).
    pub archive_files: bool,
}

impl Sector {
    /// The sector's name in `lang`, falling back to the default language's name, then the id.
    pub fn name<'a>(&'a self, lang: &str, default_language: &str) -> &'a str {
        self.names.get(lang).or_else(|| self.names.get(default_language)).map_or(self.id.as_str(), String::as_str)
    }
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        Config::parse(&text, path).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Parses config text; `path` locates the file (relative paths resolve against its folder).
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let base = if base.as_os_str().is_empty() { Path::new(".") } else { base };
        raw.validate(path, base)
    }

    /// The language with code `code`, if it is published.
    pub fn language(&self, code: &str) -> Option<&Language> {
        self.languages.iter().find(|l| l.code == code)
    }

    /// The digest with id `id`, if configured.
    pub fn digest(&self, id: &str) -> Option<&Digest> {
        self.digests.iter().find(|d| d.id == id)
    }

    /// What to say while `site.base_url` is still a placeholder (a host under `.invalid`).
    pub fn placeholder_problem(&self) -> Option<String> {
        self.site.is_placeholder.then(|| {
            format!(
                "site.base_url: '{}' is a placeholder (its host is under .invalid); set it to the site's public \
                 address in {}",
                self.site.base_url,
                self.path.display()
            )
        })
    }

    /// The sector with id `id`, if configured.
    pub fn sector(&self, id: &str) -> Option<&Sector> {
        self.sectors.iter().find(|s| s.id == id)
    }
}

/// Turns a TOML error into one line naming the line and column, plus the parser's message.
fn toml_error(text: &str, e: &toml::de::Error) -> anyhow::Error {
    let mut msg = String::new();
    if let Some(span) = e.span() {
        let (line, col) = line_col(text, span.start);
        let _ = write!(msg, "line {line}, column {col}: ");
    }
    msg.push_str(e.message());
    anyhow::anyhow!(msg)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: RawSite,
    languages: BTreeMap<String, RawLanguage>,
    #[serde(default)]
    sectors: BTreeMap<String, RawSector>,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    feeds: RawFeeds,
    #[serde(default)]
    digests: Vec<digest::RawDigest>,
    #[serde(default)]
    state: state::RawState,
    #[serde(default)]
    tokens: digest::RawTokens,
    #[serde(default)]
    subscriptions: subscriptions::RawSubscriptions,
    #[serde(default)]
    mail: mail::RawMail,
    #[serde(default)]
    templates: digest::RawTemplates,
    #[serde(default)]
    http: http::RawHttp,
    #[serde(default)]
    websub: websub::RawWebSub,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    base_url: String,
    timezone: String,
    default_language: String,
    tag_authority: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLanguage {
    title: String,
    #[serde(default)]
    description: String,
    author: String,
    locale: Option<String>,
    fallback: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSector {
    #[serde(default)]
    name: BTreeMap<String, String>,
    #[serde(default)]
    keywords: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(default = "default_store_dir")]
    dir: PathBuf,
    #[serde(default = "default_index")]
    index: PathBuf,
    #[serde(default = "default_true")]
    watch: bool,
    #[serde(default)]
    press_release: RawPressRelease,
}

/// `[store.press_release]`: page chrome patterns (see `store::press_release::chrome`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPressRelease {
    #[serde(default)]
    strip: Vec<String>,
    #[serde(default = "default_true")]
    default_strip: bool,
}

impl Default for RawPressRelease {
    fn default() -> Self {
        RawPressRelease { strip: Vec::new(), default_strip: true }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeeds {
    #[serde(default = "default_feeds_dir")]
    dir: PathBuf,
    #[serde(default = "default_items")]
    items: usize,
    #[serde(default = "default_summary_chars")]
    summary_chars: usize,
    schedule: Option<String>,
    #[serde(default)]
    archive_files: bool,
}

fn default_store_dir() -> PathBuf {
    PathBuf::from("articles")
}
fn default_index() -> PathBuf {
    PathBuf::from(".cache/store-index")
}
fn default_true() -> bool {
    true
}
fn default_feeds_dir() -> PathBuf {
    PathBuf::from("feeds")
}
fn default_items() -> usize {
    50
}
fn default_summary_chars() -> usize {
    200
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            dir: default_store_dir(),
            index: default_index(),
            watch: true,
            press_release: RawPressRelease::default(),
        }
    }
}

impl Default for RawFeeds {
    fn default() -> Self {
        RawFeeds {
            dir: default_feeds_dir(),
            items: default_items(),
            summary_chars: default_summary_chars(),
            schedule: None,
            archive_files: false,
        }
    }
}

/// Is `code` usable as a language code in file names and `xml:lang` (`zh`, `en`, `zh-hant`)?
pub fn is_language_code(code: &str) -> bool {
    let mut parts = code.split('-');
    let primary_ok =
        parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase()));
    primary_ok && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Every `fallback` names another configured language, and following them ends.
fn check_fallbacks(languages: &[Language]) -> Result<()> {
    for language in languages {
        let mut seen = vec![language.code.as_str()];
        let mut next = language.fallback.as_deref();
        while let Some(code) = next {
            let Some(target) = languages.iter().find(|l| l.code == code) else {
                bail!("languages.{}.fallback: '{code}' is not a configured language", language.code);
            };
            if seen.contains(&code) {
                bail!(
                    "languages.{}.fallback: the fallbacks go round in a circle ({})",
                    language.code,
                    seen.join(" → ")
                );
            }
            seen.push(code);
            next = target.fallback.as_deref();
        }
    }
    Ok(())
}

/// Is `id` usable as a sector id (a URL path segment)?
fn is_sector_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl RawConfig {
    fn validate(self, path: &Path, base: &Path) -> Result<Config> {
        let url = Url::parse(&self.site.base_url)
            .with_context(|| format!("site.base_url: not an absolute URL: '{}'", self.site.base_url))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("site.base_url: must be http or https, not '{}'", url.scheme());
        }
        if url.query().is_some() || url.fragment().is_some() {
            bail!("site.base_url: must not have a query or fragment: '{}'", self.site.base_url);
        }
        let host = url.host_str().context("site.base_url: has no host")?.to_owned();
        let is_placeholder = host == "invalid" || host.ends_with(".invalid");
        let tag_authority = match self.site.tag_authority {
            Some(a) if !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.@".contains(&b)) => a,
            Some(a) => bail!("site.tag_authority: '{a}' is not a domain name or e-mail address"),
            None => host,
        };
        let base_url = url.as_str().trim_end_matches('/').to_owned();

        let timezone: Tz = self
            .site
            .timezone
            .parse()
            .map_err(|_| anyhow::anyhow!("site.timezone: unknown time zone '{}'", self.site.timezone))?;

        if self.languages.is_empty() {
            bail!("languages: at least one [languages.<code>] table is required");
        }
        for code in self.languages.keys() {
            if !is_language_code(code) {
                bail!("languages.{code}: not a language code (expected e.g. 'zh', 'en', 'zh-hant')");
            }
        }
        let default_language = self.site.default_language;
        if !self.languages.contains_key(&default_language) {
            bail!("site.default_language: '{default_language}' has no [languages.{default_language}] table");
        }
        let mut languages: Vec<Language> = self
            .languages
            .into_iter()
            .map(|(code, raw)| {
                for (key, value) in [("title", &raw.title), ("author", &raw.author)] {
                    if value.trim().is_empty() {
                        bail!("languages.{code}.{key}: must not be empty");
                    }
                }
                let tag = raw.locale.as_deref().unwrap_or(&code);
                let writing = Writing::of(tag).with_context(|| {
                    let key = if raw.locale.is_some() { "locale" } else { "(its code as a locale)" };
                    format!("languages.{code}.{key}")
                })?;
                // Feed-level text goes into XML: no control characters, one line each.
                Ok(Language {
                    title: one_line(&raw.title),
                    description: one_line(&raw.description),
                    author: one_line(&raw.author),
                    writing,
                    fallback: raw.fallback,
                    code,
                })
            })
            .collect::<Result<_>>()?;
        // The default language first, then the rest by code: a stable order for every listing.
        languages.sort_by_key(|l| (l.code != default_language, l.code.clone()));
        check_fallbacks(&languages)?;

        // Sectors and languages are kept as small sets and indexes in the index cache.
        if self.sectors.len() > 64 {
            bail!("sectors: at most 64 sectors can be configured (found {})", self.sectors.len());
        }
        if languages.len() > 255 {
            bail!("languages: at most 255 languages can be configured (found {})", languages.len());
        }
        let mut sectors = Vec::with_capacity(self.sectors.len());
        for (id, raw) in self.sectors {
            if !is_sector_id(&id) {
                bail!("sectors.{id}: a sector id may hold only a-z, 0-9, '-' and '_'");
            }
            for lang in raw.name.keys() {
                if !languages.iter().any(|l| &l.code == lang) {
                    bail!("sectors.{id}.name.{lang}: '{lang}' is not a configured language");
                }
            }
            if let Some(k) = raw.keywords.iter().find(|k| k.trim().is_empty()) {
                bail!("sectors.{id}.keywords: empty keyword {k:?}");
            }
            let names = raw.name.into_iter().map(|(lang, name)| (lang, one_line(&name))).collect();
            sectors.push(Sector { id, names, keywords: raw.keywords });
        }

        if self.feeds.items == 0 {
            bail!("feeds.items: must be at least 1");
        }
        if self.feeds.summary_chars < 10 {
            bail!("feeds.summary_chars: must be at least 10");
        }
        let schedule =
            self.feeds.schedule.as_deref().map(|s| CronSchedule::parse(s).context("feeds.schedule")).transpose()?;

        let digests = digest::validate(self.digests, timezone)?;
        Ok(Config {
            path: path.to_path_buf(),
            digests,
            state: self.state.validate(base)?,
            tokens: self.tokens.validate(base),
            subscriptions: self.subscriptions.validate()?,
            templates: self.templates.validate(base),
            http: self.http.validate()?,
            websub: self.websub.validate()?,
            mail: self.mail.validate(base, std::env::var(mail::MAIL_URL_ENV).ok())?,
            site: Site { base_url, is_placeholder, tag_authority, timezone, default_language },
            languages,
            sectors,
            store: StoreConfig {
                dir: base.join(self.store.dir),
                index: base.join(self.store.index),
                watch: self.store.watch,
                chrome: Chrome::new(self.store.press_release.default_strip, &self.store.press_release.strip)?,
            },
            feeds: FeedsConfig {
                dir: base.join(self.feeds.dir),
                items: self.feeds.items,
                summary_chars: self.feeds.summary_chars,
                schedule,
                archive_files: self.feeds.archive_files,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[site]
base_url = "https://news.example.gov.cn/"
timezone = "Asia/Shanghai"
default_language = "zh"
[languages.zh]
title = "新闻"
author = "外办"
[languages.en]
title = "News"
author = "FAO"
[sectors.trade]
name = { zh = "经贸", en = "Trade" }
keywords = ["trade"]
"#;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/srv/gazette/config.toml"))
    }

    #[test]
    fn resolves_relative_paths_against_the_config_folder() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.store.dir, Path::new("/srv/gazette/articles"));
        assert_eq!(config.feeds.dir, Path::new("/srv/gazette/feeds"));
        assert_eq!(config.site.base_url, "https://news.example.gov.cn");
        assert_eq!(config.site.tag_authority, "news.example.gov.cn");
        assert_eq!(config.languages[0].code, "zh");
        assert_eq!(config.feeds.items, 50);
    }

    #[test]
    fn rejects_unknown_key_naming_it_and_the_line() {
        let text = MINIMAL.replace("[store]", "").to_owned() + "[feeds]\nitemz = 3\n";
        let err = format!("{:#}", parse(&text).unwrap_err());
        assert!(err.contains("itemz"), "{err}");
        assert!(err.contains("line 16"), "{err}");
    }

    #[test]
    fn state_keep_runs_is_a_duration_of_a_day_or_more() {
        assert_eq!(parse(MINIMAL).unwrap().state.keep_runs, std::time::Duration::from_secs(90 * 86_400));
        let week = parse(&format!("{MINIMAL}[state]\nkeep_runs = \"1week\"\n")).unwrap();
        assert_eq!(week.state.keep_runs, std::time::Duration::from_secs(7 * 86_400));
        for bad in ["1h", "forever"] {
            let err = format!("{:#}", parse(&format!("{MINIMAL}[state]\nkeep_runs = \"{bad}\"\n")).unwrap_err());
            assert!(err.contains("state.keep_runs"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_base_url_under_invalid_is_a_placeholder_named_by_its_key() {
        assert!(parse(MINIMAL).unwrap().placeholder_problem().is_none());
        let config = parse(&MINIMAL.replace("news.example.gov.cn", "news.example.invalid")).unwrap();
        let problem = config.placeholder_problem().unwrap();
        assert!(problem.starts_with("site.base_url:") && problem.contains("/srv/gazette/config.toml"), "{problem}");
    }

    #[test]
    fn rejects_bad_time_zone() {
        let err = format!("{:#}", parse(&MINIMAL.replace("Asia/Shanghai", "Asia/Shangai")).unwrap_err());
        assert!(err.contains("site.timezone") && err.contains("Asia/Shangai"), "{err}");
    }

    #[test]
    fn rejects_bad_cron_expression_naming_the_key() {
        let err = format!("{:#}", parse(&format!("{MINIMAL}[feeds]\nschedule = \"61 * * * *\"\n")).unwrap_err());
        assert!(err.contains("feeds.schedule"), "{err}");
    }

    #[test]
    fn rejects_missing_required_value() {
        let err = format!("{:#}", parse(&MINIMAL.replace("timezone = \"Asia/Shanghai\"\n", "")).unwrap_err());
        assert!(err.contains("timezone"), "{err}");
    }

    #[test]
    fn reads_digests_with_their_own_zone_and_rejects_duplicates() {
        let text = format!(
            "{MINIMAL}[[digests]]\nid = \"daily\"\nschedule = \"0 8 * * *\"\n[[digests]]\nid = \"weekly\"\nschedule = \"0 9 * * 1\"\ntimezone = \"Europe/Moscow\"\nmax_items = 40\n"
        );
        let config = parse(&text).unwrap();
        assert_eq!(config.digest("daily").unwrap().timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(config.digest("weekly").unwrap().timezone, chrono_tz::Europe::Moscow);
        assert_eq!(config.digest("weekly").unwrap().max_items, 40);
        assert_eq!(config.state.url, StateUrl::Sqlite("/srv/gazette/gazette.db".into()));
        let twice = format!(
            "{MINIMAL}[[digests]]\nid = \"daily\"\nschedule = \"0 8 * * *\"\n[[digests]]\nid = \"daily\"\nschedule = \"0 9 * * *\"\n"
        );
        let err = format!("{:#}", parse(&twice).unwrap_err());
        assert!(err.contains("digests[1].id") && err.contains("twice"), "{err}");
        let bad = format!("{MINIMAL}[[digests]]\nid = \"daily\"\nschedule = \"0 25 * * *\"\n");
        let err = format!("{:#}", parse(&bad).unwrap_err());
        assert!(err.contains("digests[0].schedule"), "{err}");
    }

    #[test]
    fn rejects_default_language_without_table() {
        let err = format!(
            "{:#}",
            parse(&MINIMAL.replace("default_language = \"zh\"", "default_language = \"ru\"")).unwrap_err()
        );
        assert!(err.contains("site.default_language") && err.contains("ru"), "{err}");
    }

    #[test]
    fn sector_name_falls_back_to_default_language_then_id() {
        let config =
            parse(&MINIMAL.replace("name = { zh = \"经贸\", en = \"Trade\" }", "name = { zh = \"经贸\" }")).unwrap();
        let trade = config.sector("trade").unwrap();
        assert_eq!(trade.name("en", "zh"), "经贸");
        let bare = Sector { id: "x".into(), names: BTreeMap::new(), keywords: vec![] };
        assert_eq!(bare.name("en", "zh"), "x");
    }
}
