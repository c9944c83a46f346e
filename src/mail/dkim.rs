//! DKIM signing (RFC 6376) with lettre: the key is read from `mail.dkim.key_file` when a run
//! starts, and the signature covers the headers a receiver judges a bulk message by,
//! `List-Unsubscribe` and `List-Unsubscribe-Post` among them (RFC 8058 §4 asks for both).

use anyhow::{Context, Result};
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;

use crate::config::{Config, DkimAlgorithm};

/// Headers signed, each present once in every digest. Not `Content-Type`: lettre writes a
/// multipart message's after signing, so its signature would cover an empty one.
const SIGNED: [&str; 9] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// The signing set-up `config.mail.dkim` describes, or `None` when there is none.
pub fn load(config: &Config) -> Result<Option<DkimConfig>> {
    let Some(settings) = &config.mail.dkim else { return Ok(None) };
    let path = &settings.key_file;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read mail.dkim.key_file {}", path.display()))?;
    let algorithm = match settings.algorithm {
        DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
        DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
    };
    let key = DkimSigningKey::new(text.trim(), algorithm).map_err(|e| {
        anyhow::anyhow!(
            "mail.dkim.key_file {}: not a {} key ({e}); rsa takes a PKCS#1 PEM file \
             (BEGIN RSA PRIVATE KEY), ed25519 the base64 of the 32-byte seed",
            path.display(),
            match settings.algorithm {
                DkimAlgorithm::Rsa => "rsa",
                DkimAlgorithm::Ed25519 => "ed25519",
            }
        )
    })?;
    let domain = settings.domain.clone().unwrap_or_else(|| config.mail.from.email.domain().to_owned());
    Ok(Some(DkimConfig::new(
        settings.selector.clone(),
        domain,
        key,
        SIGNED.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect(),
        DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed },
    )))
}
