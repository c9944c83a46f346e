//! Signed tokens for the links in emails and pages (confirm, unsubscribe, preferences):
//! HMAC-SHA256 over the purpose, the subscriber and the moment of issue, keyed with a secret from
//! `GAZETTE_TOKEN_SECRET` or a file created (mode 0600) on first use. A token for one
//! subscriber or purpose never verifies for another, and a tampered one never verifies.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::TokensConfig;

/// The environment variable that holds the secret instead of the file.
pub const SECRET_ENV: &str = "GAZETTE_TOKEN_SECRET";

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm a subscription (double opt-in); valid for a week.
    Confirm,
    /// Unsubscribe; valid as long as the subscriber exists (links in old digests must work).
    Unsubscribe,
    /// Change preferences; valid as long as the subscriber exists.
    Preferences,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::Unsubscribe => "unsubscribe",
            Purpose::Preferences => "preferences",
        }
    }

    /// How long a token stays valid, in seconds (`None`: for as long as the subscriber exists).
    fn lifetime(self) -> Option<i64> {
        match self {
            Purpose::Confirm => Some(7 * 24 * 3600),
            Purpose::Unsubscribe | Purpose::Preferences => None,
        }
    }
}

/// Why a token was refused. Pages show every variant the same way; logs tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token gazette made, or altered, or made for another subscriber or purpose.
    #[error("invalid token")]
    Invalid,
    /// A genuine token past its lifetime.
    #[error("expired token")]
    Expired,
}

/// Signs and verifies tokens with one key.
#[derive(Clone)]
pub struct Signer {
    /// The keyed MAC, cloned for each token; the raw key is not kept.
    mac: Hmac<Sha256>,
}

/// Bytes of a newly made secret.
const SECRET_BYTES: usize = 32;

impl Signer {
    /// The signer for `config`: the key from `GAZETTE_TOKEN_SECRET`, else from the secret file,
    /// which is created with a random key (mode 0600) when missing.
    pub fn load(config: &TokensConfig) -> Result<Signer> {
        if let Some(secret) = std::env::var_os(SECRET_ENV) {
            let secret = secret.into_encoded_bytes();
            if secret.len() < 32 {
                bail!("{SECRET_ENV} must hold at least 32 bytes");
            }
            return Signer::from_key(&secret);
        }
        Signer::from_key(&load_or_create(&config.secret_file)?)
    }

    /// A signer keyed with `key` (at least 32 bytes).
    pub fn from_key(key: &[u8]) -> Result<Signer> {
        if key.len() < 32 {
            bail!("a token key must hold at least 32 bytes");
        }
        Ok(Signer { mac: Hmac::<Sha256>::new_from_slice(key).context("cannot key HMAC-SHA256")? })
    }

    fn tag(&self, purpose: Purpose, subscriber: i64, email: &str, issued: i64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        // Every field is separated by NUL, which none of them can hold.
        for part in ["gazette-token-v1", purpose.label(), &subscriber.to_string(), &issued.to_string()] {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac.update(email.to_lowercase().as_bytes());
        mac
    }

    /// A token for `purpose` on behalf of subscriber `subscriber` with address `email`, issued
    /// at `issued` (Unix seconds). URL-safe.
    pub fn sign(&self, purpose: Purpose, subscriber: i64, email: &str, issued: i64) -> String {
        let tag = self.tag(purpose, subscriber, email, issued).finalize().into_bytes();
        format!("{subscriber}.{issued}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The subscriber a token names, read without verifying: the caller looks up their address
    /// and then calls [`Signer::verify`].
    pub fn subscriber_of(token: &str) -> Result<i64, TokenError> {
        token.split('.').next().and_then(|id| id.parse().ok()).ok_or(TokenError::Invalid)
    }

    /// Checks that `token` was made for `purpose` and the subscriber `subscriber` whose address
    /// is `email`, and has not expired at `now`.
    pub fn verify(
        &self,
        token: &str,
        purpose: Purpose,
        subscriber: i64,
        email: &str,
        now: i64,
    ) -> Result<(), TokenError> {
        let mut parts = token.split('.');
        let (Some(id), Some(issued), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Invalid);
        };
        let (Ok(id), Ok(issued)) = (id.parse::<i64>(), issued.parse::<i64>()) else {
            return Err(TokenError::Invalid);
        };
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Invalid)?;
        if id != subscriber {
            return Err(TokenError::Invalid);
        }
        // Constant-time comparison.
        self.tag(purpose, subscriber, email, issued).verify_slice(&tag).map_err(|_| TokenError::Invalid)?;
        match purpose.lifetime() {
            Some(lifetime) if now.saturating_sub(issued) > lifetime => Err(TokenError::Expired),
            _ => Ok(()),
        }
    }
}

/// The key in `path`, or a new random one written there with mode 0600.
fn load_or_create(path: &Path) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => bail!("the token secret {} is shorter than 32 bytes", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read the token secret {}", path.display())),
    }
    let mut raw = [0u8; SECRET_BYTES];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("cannot get random bytes: {e}"))?;
    // Hex, so the file can be copied and pasted as text.
    let key: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    // tempfile creates the file 0600; the rename keeps a concurrent reader from a half key, and
    // `persist_noclobber` keeps a key another process made meanwhile.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(key.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write the token secret {}", path.display()))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            tracing::info!(path = %path.display(), "created a new token secret");
            Ok(key.into_bytes())
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).with_context(|| format!("cannot read the token secret {}", path.display()))
        }
        Err(e) => Err(e.error).with_context(|| format!("cannot create the token secret {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::from_key(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn a_token_verifies_only_for_its_subscriber_address_and_purpose() {
        let s = signer();
        let token = s.sign(Purpose::Unsubscribe, 7, "Li@example.org", 1000);
        assert_eq!(s.verify(&token, Purpose::Unsubscribe, 7, "li@example.org", 9_999_999), Ok(()));
        assert_eq!(s.verify(&token, Purpose::Preferences, 7, "li@example.org", 1000), Err(TokenError::Invalid));
        assert_eq!(s.verify(&token, Purpose::Unsubscribe, 8, "li@example.org", 1000), Err(TokenError::Invalid));
        assert_eq!(s.verify(&token, Purpose::Unsubscribe, 7, "ann@example.org", 1000), Err(TokenError::Invalid));
        let other = Signer::from_key(b"another key, also thirty-two bytes long").unwrap();
        assert_eq!(other.verify(&token, Purpose::Unsubscribe, 7, "li@example.org", 1000), Err(TokenError::Invalid));
        assert_eq!(Signer::subscriber_of(&token), Ok(7));
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let s = signer();
        let token = s.sign(Purpose::Confirm, 7, "li@example.org", 1000);
        let forged_id = token.replacen("7.", "8.", 1);
        assert_eq!(s.verify(&forged_id, Purpose::Confirm, 8, "li@example.org", 1000), Err(TokenError::Invalid));
        let later = token.replacen(".1000.", ".2000.", 1);
        assert_eq!(s.verify(&later, Purpose::Confirm, 7, "li@example.org", 1000), Err(TokenError::Invalid));
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(s.verify(&flipped, Purpose::Confirm, 7, "li@example.org", 1000), Err(TokenError::Invalid));
        for junk in ["", "7", "7.1000", "7.1000.!!", "x.y.z", "7.1000.abc.def"] {
            assert_eq!(s.verify(junk, Purpose::Confirm, 7, "li@example.org", 1000), Err(TokenError::Invalid), "{junk}");
        }
    }

    #[test]
    fn confirm_tokens_expire_after_a_week() {
        let s = signer();
        let token = s.sign(Purpose::Confirm, 7, "li@example.org", 0);
        assert_eq!(s.verify(&token, Purpose::Confirm, 7, "li@example.org", 7 * 24 * 3600), Ok(()));
        assert_eq!(
            s.verify(&token, Purpose::Confirm, 7, "li@example.org", 7 * 24 * 3600 + 1),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn the_secret_file_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets/token-secret");
        let first = load_or_create(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create(&path).unwrap(), first, "the key is made once, then read");
        std::fs::write(&path, b"short").unwrap();
        assert!(load_or_create(&path).is_err());
    }
}
