//! Signed tokens for the links in emails and pages (confirm, unsubscribe, preferences):
//! HMAC-SHA256 over the purpose, the row the link acts on and the moment of issue (and for
//! unsubscribe and preference links, the subscriber's address), keyed with a secret from
//! `GAZETTE_TOKEN_SECRET` or a file created (mode 0600) on first use. A token for one row or
//! purpose never verifies for another, a tampered one never verifies, and each token has one
//! spelling. Whether the row still allows what the link asks is [`crate::subscription`]'s.

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

/// What a token allows, and which row it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm one sign-up (double opt-in): names the sign-up, and works while it waits.
    Confirm,
    /// Unsubscribe: names the subscriber; valid as long as they exist (links in old digests
    /// must work).
    Unsubscribe,
    /// Change preferences: names the subscriber; valid as long as they exist.
    Preferences,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            // Not "confirm": links of releases that bound confirmation to a subscriber row
            // must not verify for a sign-up with the same number.
            Purpose::Confirm => "signup",
            Purpose::Unsubscribe => "unsubscribe",
            Purpose::Preferences => "preferences",
        }
    }
}

/// Why a token was refused. Pages tell the two apart; neither changes anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token gazette made, or altered, or made for another row or purpose.
    #[error("invalid token")]
    Invalid,
    /// A genuine token that no longer works: its time is over, or what it was for is done.
    #[error("expired token")]
    Expired,
}

/// A token read in its one canonical spelling, not yet verified: `ID.ISSUED.TAG`, the numbers
/// in plain decimal (no sign, no leading zero), the tag 32 bytes of unpadded URL-safe base64.
// No `PartialEq`: the tag is compared only in constant time, by `Signer::verify`.
#[derive(Debug, Clone)]
pub struct Token {
    /// The row it names (a sign-up or a subscriber, by purpose).
    pub id: i64,
    /// When it was issued (Unix seconds).
    pub issued: i64,
    tag: Vec<u8>,
}

/// A number as tokens write it, and only so.
fn canonical_number(s: &str) -> Option<i64> {
    let is_canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if is_canonical { s.parse().ok() } else { None }
}

impl Token {
    /// Reads `text`; anything but a token's one spelling is invalid.
    pub fn parse(text: &str) -> Result<Token, TokenError> {
        let mut parts = text.split('.');
        let (Some(id), Some(issued), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Invalid);
        };
        let (Some(id), Some(issued)) = (canonical_number(id), canonical_number(issued)) else {
            return Err(TokenError::Invalid);
        };
        // The decoder refuses padding and stray trailing bits: one tag, one spelling.
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Invalid)?;
        if tag.len() != 32 {
            return Err(TokenError::Invalid);
        }
        Ok(Token { id, issued, tag })
    }
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

    fn tag(&self, purpose: Purpose, id: i64, bound: &str, issued: i64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        // Every field is separated by NUL, which none of them can hold.
        for part in ["gazette-token-v1", purpose.label(), &id.to_string(), &issued.to_string()] {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac.update(bound.to_lowercase().as_bytes());
        mac
    }

    /// A token for `purpose` on row `id`, bound to `bound` as well (the subscriber's address
    /// for unsubscribe and preference links; nothing for a sign-up, whose row is never
    /// numbered twice), issued at `issued` (Unix seconds). URL-safe.
    pub fn sign(&self, purpose: Purpose, id: i64, bound: &str, issued: i64) -> String {
        let tag = self.tag(purpose, id, bound, issued).finalize().into_bytes();
        format!("{id}.{issued}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Checks that `token` was made for `purpose` and its row, bound to `bound`. `None` is a
    /// row that does not exist: the work is done all the same and the token refused, so a
    /// refusal takes as long whether the row exists or not.
    pub fn verify(&self, token: &Token, purpose: Purpose, bound: Option<&str>) -> Result<(), TokenError> {
        // Constant-time comparison.
        let matches = self.tag(purpose, token.id, bound.unwrap_or(""), token.issued).verify_slice(&token.tag).is_ok();
        if matches && bound.is_some() { Ok(()) } else { Err(TokenError::Invalid) }
    }
}

/// Bytes of a return-path tag: 80 bits, as 20 hex digits (a local part is short, and some
/// servers change its case, so no base64). Guessing one takes an SMTP delivery per try.
const RETURN_TAG_BYTES: usize = 10;

impl Signer {
    fn return_mac(&self, parts: &[&str]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        for part in std::iter::once("gazette-return-v1").chain(parts.iter().copied()) {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac
    }

    /// The tag of a return path naming `parts` (see [`crate::returns`]): lowercase hex.
    pub fn return_tag(&self, parts: &[&str]) -> String {
        let tag = self.return_mac(parts).finalize().into_bytes();
        tag[..RETURN_TAG_BYTES].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `tag` (hex, any case) is the return-path tag of `parts`; compared in constant
    /// time.
    pub fn is_return_tag(&self, parts: &[&str], tag: &str) -> bool {
        let Some(bytes) = decode_hex(tag).filter(|b| b.len() == RETURN_TAG_BYTES) else { return false };
        self.return_mac(parts).verify_truncated_left(&bytes).is_ok()
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    // Only hex digits: `from_str_radix` would take a leading `+` too.
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
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

    fn check(s: &Signer, token: &str, purpose: Purpose, id: i64, bound: &str) -> Result<(), TokenError> {
        let token = Token::parse(token)?;
        if token.id != id {
            return Err(TokenError::Invalid);
        }
        s.verify(&token, purpose, Some(bound))
    }

    #[test]
    fn a_token_verifies_only_for_its_row_binding_and_purpose() {
        let s = signer();
        let token = s.sign(Purpose::Unsubscribe, 7, "Li@example.org", 1000);
        assert_eq!(check(&s, &token, Purpose::Unsubscribe, 7, "li@example.org"), Ok(()));
        assert_eq!(check(&s, &token, Purpose::Preferences, 7, "li@example.org"), Err(TokenError::Invalid));
        assert_eq!(check(&s, &token, Purpose::Unsubscribe, 8, "li@example.org"), Err(TokenError::Invalid));
        assert_eq!(check(&s, &token, Purpose::Unsubscribe, 7, "ann@example.org"), Err(TokenError::Invalid));
        let other = Signer::from_key(b"another key, also thirty-two bytes long").unwrap();
        assert_eq!(check(&other, &token, Purpose::Unsubscribe, 7, "li@example.org"), Err(TokenError::Invalid));
        let parsed = Token::parse(&token).unwrap();
        assert_eq!((parsed.id, parsed.issued), (7, 1000));
        assert_eq!(s.verify(&parsed, Purpose::Unsubscribe, None), Err(TokenError::Invalid), "no row, no token");
    }

    #[test]
    fn links_mailed_by_earlier_releases_keep_working() {
        // An unsubscribe token as release 0.1 made it (HMAC over the same fields).
        let s = signer();
        let old = "7.1000.".to_owned()
            + &URL_SAFE_NO_PAD.encode(s.tag(Purpose::Unsubscribe, 7, "li@example.org", 1000).finalize().into_bytes());
        assert_eq!(check(&s, &old, Purpose::Unsubscribe, 7, "li@example.org"), Ok(()));
        // A confirmation token bound to a subscriber row never confirms a sign-up.
        let mut mac = s.mac.clone();
        for part in ["gazette-token-v1", "confirm", "7", "1000"] {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac.update(b"li@example.org");
        let old_confirm = format!("7.1000.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        assert_eq!(check(&s, &old_confirm, Purpose::Confirm, 7, ""), Err(TokenError::Invalid));
    }

    #[test]
    fn tampered_and_respelled_tokens_are_refused() {
        let s = signer();
        let token = s.sign(Purpose::Confirm, 7, "", 1000);
        assert_eq!(check(&s, &token, Purpose::Confirm, 7, ""), Ok(()));
        let forged_id = token.replacen("7.", "8.", 1);
        assert_eq!(check(&s, &forged_id, Purpose::Confirm, 8, ""), Err(TokenError::Invalid));
        let later = token.replacen(".1000.", ".2000.", 1);
        assert_eq!(check(&s, &later, Purpose::Confirm, 7, ""), Err(TokenError::Invalid));
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(check(&s, &flipped, Purpose::Confirm, 7, ""), Err(TokenError::Invalid));
        let tag = token.rsplit('.').next().unwrap();
        for respelled in [
            format!("+7.1000.{tag}"),
            format!("07.1000.{tag}"),
            format!("7.01000.{tag}"),
            format!("7.+1000.{tag}"),
            format!("7.1000.{tag}="),
            format!(" 7.1000.{tag}"),
        ] {
            assert!(Token::parse(&respelled).is_err(), "{respelled}");
        }
        for junk in ["", "7", "7.1000", "7.1000.!!", "x.y.z", "7.1000.abc.def", "-7.1000.abc", "7.1000.YWJj"] {
            assert!(Token::parse(junk).is_err(), "{junk}");
        }
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
