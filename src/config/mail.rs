//! `[mail]`: where digests go and who sends them. `mail.url` (or `GAZETTE_MAIL_URL`) is
//! `file://DIR` (each message written as an `.eml` file, the embedded default) or
//! `smtp://[USER@]HOST[:PORT][?tls=none|starttls|tls]` (`smtps://` for implicit TLS). The SMTP
//! password never sits in config.toml: it comes from `GAZETTE_SMTP_PASSWORD` or `password_file`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lettre::message::Mailbox;
use serde::Deserialize;
use url::Url;

/// The environment variable that overrides `mail.url`.
pub const MAIL_URL_ENV: &str = "GAZETTE_MAIL_URL";
/// The environment variable that holds the SMTP password.
pub const PASSWORD_ENV: &str = "GAZETTE_SMTP_PASSWORD";

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain text (a relay on localhost).
    None,
    /// STARTTLS after connecting (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// Where messages go.
#[derive(Clone, PartialEq, Eq)]
pub enum Transport {
    /// One `.eml` file per message in a folder.
    File {
        /// The folder.
        dir: PathBuf,
    },
    /// An SMTP server.
    Smtp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// Connection security.
        tls: Tls,
        /// User name for AUTH, if any (the password comes from the environment or a file).
        user: Option<String>,
        /// A password given in `GAZETTE_MAIL_URL` (never accepted from config.toml).
        password_in_url: Option<String>,
    },
}

impl std::fmt::Debug for Transport {
    /// Never prints a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::File { dir } => f.debug_struct("File").field("dir", dir).finish(),
            Transport::Smtp { host, port, tls, user, password_in_url } => f
                .debug_struct("Smtp")
                .field("host", host)
                .field("port", port)
                .field("tls", tls)
                .field("user", user)
                .field("password_in_url", &password_in_url.as_ref().map(|_| "(hidden)"))
                .finish(),
        }
    }
}

/// The validated `[mail]` table.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// Where messages go.
    pub transport: Transport,
    /// The sender.
    pub from: Mailbox,
    /// Where replies go, if not to the sender.
    pub reply_to: Option<Mailbox>,
    /// A file holding the SMTP password (used when `GAZETTE_SMTP_PASSWORD` is not set).
    pub password_file: Option<PathBuf>,
    /// SMTP connections kept open at once.
    pub pool_size: u32,
    /// Messages per second at most.
    pub rate: f64,
    /// Attempts per message before a transient failure is recorded as failed; waits between
    /// them double from 1 s up to 60 s (10 attempts wait about four minutes in all).
    pub retries: u32,
    /// The bounce score (a hard bounce 1, a soft one 0.5, at most one a day) at which a
    /// subscriber is marked bounced.
    pub bounce_limit: u32,
    /// How long a bounce counts: a score lapses when this passes with no bounce.
    pub bounce_window: std::time::Duration,
    /// Extra trusted root certificates (PEM) for the SMTP server's TLS: a relay with a
    /// private CA.
    pub ca_file: Option<PathBuf>,
    /// DKIM signing, when configured.
    pub dkim: Option<DkimSettings>,
    /// Where returned mail comes back, when configured: each message then gets its own
    /// envelope sender (VERP).
    pub returns: Option<ReturnsConfig>,
}

/// `[mail.returns]`: the address returned mail (bounces, complaints) comes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnsConfig {
    /// `bounces@news.example.gov.cn`: messages go out with envelope senders
    /// `bounces+TOKEN@news.example.gov.cn`, and the mail server routes that domain back.
    pub address: crate::subscription::Address,
    /// Where `gazette run` listens for LMTP (RFC 2033), if it does.
    pub listen: Option<std::net::SocketAddr>,
    /// The largest returned message taken, in bytes.
    pub max_size: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReturns {
    address: String,
    listen: Option<String>,
    #[serde(default = "default_returns_max_size")]
    max_size: usize,
}

fn default_returns_max_size() -> usize {
    10 * 1024 * 1024
}

/// `[mail.dkim]`: sign every message (RFC 6376) with a key from a file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The selector: the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The signing domain (`d=`); the sender's domain when not given.
    #[serde(default)]
    pub domain: Option<String>,
    /// The private key: PKCS#1 PEM for `rsa`, the base64 32-byte seed for `ed25519`.
    pub key_file: PathBuf,
    /// `rsa` (the default, what every receiver checks) or `ed25519` (much faster to sign).
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
}

/// A DKIM signing algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimAlgorithm {
    /// rsa-sha256.
    #[default]
    Rsa,
    /// ed25519-sha256 (RFC 8463).
    Ed25519,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMail {
    #[serde(default = "default_url")]
    url: String,
    #[serde(default = "default_from")]
    from: String,
    reply_to: Option<String>,
    password_file: Option<PathBuf>,
    #[serde(default = "default_pool_size")]
    pool_size: u32,
    #[serde(default = "default_rate")]
    rate: f64,
    #[serde(default = "default_retries")]
    retries: u32,
    #[serde(default = "default_bounce_limit")]
    bounce_limit: u32,
    #[serde(default = "default_bounce_window")]
    bounce_window: String,
    ca_file: Option<PathBuf>,
    dkim: Option<DkimSettings>,
    returns: Option<RawReturns>,
}

impl Default for RawMail {
    fn default() -> Self {
        RawMail {
            url: default_url(),
            from: default_from(),
            reply_to: None,
            password_file: None,
            pool_size: default_pool_size(),
            rate: default_rate(),
            retries: default_retries(),
            bounce_limit: default_bounce_limit(),
            bounce_window: default_bounce_window(),
            ca_file: None,
            dkim: None,
            returns: None,
        }
    }
}

fn default_url() -> String {
    "file://outbox".into()
}
fn default_from() -> String {
    "gazette <gazette@localhost>".into()
}
fn default_pool_size() -> u32 {
    4
}
fn default_rate() -> f64 {
    100.0
}
fn default_retries() -> u32 {
    10
}
fn default_bounce_limit() -> u32 {
    3
}

fn default_bounce_window() -> String {
    "30d".into()
}

impl RawMail {
    /// Validates the table; `url_override` is `GAZETTE_MAIL_URL` when set.
    pub(super) fn validate(self, base: &Path, url_override: Option<String>) -> Result<MailConfig> {
        let from_env = url_override.is_some();
        let url = url_override.unwrap_or(self.url);
        let key = if from_env { MAIL_URL_ENV } else { "mail.url" };
        let transport = parse_url(&url, base, from_env).context(key)?;
        let from: Mailbox =
            self.from.parse().map_err(|e| anyhow::anyhow!("mail.from: '{}' is not a mailbox ({e})", self.from))?;
        let reply_to = self
            .reply_to
            .map(|r| r.parse::<Mailbox>().map_err(|e| anyhow::anyhow!("mail.reply_to: '{r}' is not a mailbox ({e})")))
            .transpose()?;
        if self.pool_size == 0 {
            bail!("mail.pool_size: must be at least 1");
        }
        if !(self.rate > 0.0 && self.rate.is_finite()) {
            bail!("mail.rate: must be a positive number of messages per second");
        }
        if let Some(dkim) = &self.dkim
            && (dkim.selector.is_empty()
                || !dkim.selector.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            bail!("mail.dkim.selector: '{}' is not a DNS label", dkim.selector);
        }
        let returns = self.returns.map(validate_returns).transpose()?;
        let bounce_window = humantime::parse_duration(&self.bounce_window)
            .with_context(|| format!("mail.bounce_window: '{}' is not a duration such as '30d'", self.bounce_window))?;
        if self.retries == 0 || self.bounce_limit == 0 {
            bail!("mail.retries and mail.bounce_limit: must be at least 1");
        }
        Ok(MailConfig {
            transport,
            from,
            reply_to,
            password_file: self.password_file.map(|p| base.join(p)),
            pool_size: self.pool_size,
            rate: self.rate,
            retries: self.retries,
            bounce_limit: self.bounce_limit,
            bounce_window,
            ca_file: self.ca_file.map(|p| base.join(p)),
            dkim: self.dkim.map(|d| DkimSettings { key_file: base.join(&d.key_file), ..d }),
            returns,
        })
    }
}

/// `mail.returns.address`: a plain address whose local part can carry `+TOKEN`.
fn validate_returns(raw: RawReturns) -> Result<ReturnsConfig> {
    use crate::subscription::{Address, Giver};
    let address = raw.address.as_str();
    let listen = raw
        .listen
        .map(|l| {
            l.parse::<std::net::SocketAddr>().map_err(|_| {
                anyhow::anyhow!("mail.returns.listen: '{l}' is not an address and port such as 127.0.0.1:8024")
            })
        })
        .transpose()?;
    if raw.max_size < 1024 {
        bail!("mail.returns.max_size: must be at least 1024 bytes");
    }
    let parsed = Address::parse(address, Giver::Operator).map_err(|e| anyhow::anyhow!("mail.returns.address: {e}"))?;
    let local = &parsed.as_str()[..parsed.as_str().len() - parsed.domain().len() - 1];
    if local.starts_with('"') || local.contains('+') || local.len() > 20 {
        bail!(
            "mail.returns.address: '{address}' needs a plain local part of at most 20 characters with no '+' \
             (tokens are added after a '+')"
        );
    }
    Ok(ReturnsConfig { address: parsed, listen, max_size: raw.max_size })
}

/// Reads a mail URL; a password is accepted only from the environment.
fn parse_url(text: &str, base: &Path, from_env: bool) -> Result<Transport> {
    if let Some(path) = text.strip_prefix("file://") {
        if path.is_empty() {
            bail!("'{text}' names no folder");
        }
        return Ok(Transport::File { dir: base.join(path) });
    }
    let url = Url::parse(text).map_err(|e| anyhow::anyhow!("'{text}' is not a URL ({e})"))?;
    let implicit = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        other => bail!("'{text}': the scheme must be file, smtp or smtps, not {other}"),
    };
    let host = url.host_str().filter(|h| !h.is_empty()).with_context(|| format!("'{text}' has no host"))?.to_owned();
    let mut tls = None;
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("tls", "none") => tls = Some(Tls::None),
            ("tls", "starttls") => tls = Some(Tls::StartTls),
            ("tls", "tls") => tls = Some(Tls::Implicit),
            ("tls", other) => bail!("tls={other}: expected none, starttls or tls"),
            (other, _) => bail!("unknown URL parameter '{other}' (only tls is known)"),
        }
    }
    let tls = tls.unwrap_or(if implicit { Tls::Implicit } else { Tls::StartTls });
    let port = url.port().unwrap_or(match tls {
        Tls::Implicit => 465,
        Tls::StartTls => 587,
        Tls::None => 25,
    });
    let user = (!url.username().is_empty()).then(|| percent_decode(url.username()));
    let password_in_url = url.password().map(percent_decode);
    if password_in_url.is_some() && !from_env {
        bail!("no password in config.toml: set {PASSWORD_ENV} or mail.password_file instead");
    }
    Ok(Transport::Smtp { host, port, tls, user, password_in_url })
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Result<Transport> {
        parse_url(text, Path::new("/srv/gazette"), false)
    }

    #[test]
    fn reads_file_and_smtp_urls() {
        assert_eq!(url("file://outbox").unwrap(), Transport::File { dir: "/srv/gazette/outbox".into() });
        assert_eq!(
            url("smtp://news%40fao@mail.example.org:587?tls=starttls").unwrap(),
            Transport::Smtp {
                host: "mail.example.org".into(),
                port: 587,
                tls: Tls::StartTls,
                user: Some("news@fao".into()),
                password_in_url: None
            }
        );
        let Transport::Smtp { port, tls, .. } = url("smtps://mail.example.org").unwrap() else { panic!() };
        assert_eq!((port, tls), (465, Tls::Implicit));
        let Transport::Smtp { port, tls, .. } = url("smtp://127.0.0.1:2525?tls=none").unwrap() else { panic!() };
        assert_eq!((port, tls), (2525, Tls::None));
    }

    #[test]
    fn refuses_a_password_in_config_but_not_in_the_environment() {
        let err = format!("{:#}", url("smtp://u:secret@mail.example.org").unwrap_err());
        assert!(err.contains(PASSWORD_ENV) && !err.contains("secret@"), "{err}");
        let env = parse_url("smtp://u:s%40cret@mail.example.org", Path::new("/"), true).unwrap();
        assert!(matches!(env, Transport::Smtp { password_in_url: Some(p), .. } if p == "s@cret"));
    }

    #[test]
    fn refuses_unknown_schemes_and_parameters() {
        assert!(format!("{:#}", url("http://mail.example.org").unwrap_err()).contains("scheme"));
        assert!(format!("{:#}", url("smtp://mail.example.org?tls=maybe").unwrap_err()).contains("tls=maybe"));
        assert!(format!("{:#}", url("smtp://mail.example.org?pool=3").unwrap_err()).contains("pool"));
    }
}
