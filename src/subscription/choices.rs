//! What a subscriber chooses (language, sectors, digest, name) checked against config: an
//! unknown language, sector or digest is an error naming it and what is configured.

use crate::config::Config;
use crate::state::Preferences;
use crate::text::one_line;

/// Checks preferences against `config`. `sectors` is a list separated by commas, semicolons or
/// spaces; empty means every sector.
pub fn preferences(
    config: &Config,
    name: Option<&str>,
    language: &str,
    sectors: &str,
    digest: &str,
) -> Result<Preferences, String> {
    let language = language.trim();
    if config.language(language).is_none() {
        let known: Vec<&str> = config.languages.iter().map(|l| l.code.as_str()).collect();
        return Err(format!("unknown language '{language}' (configured: {})", known.join(", ")));
    }
    let listed: Vec<&str> = sectors.split([',', ';', ' ']).map(str::trim).filter(|s| !s.is_empty()).collect();
    if let Some(unknown) = listed.iter().find(|s| config.sector(s).is_none()) {
        let known: Vec<&str> = config.sectors.iter().map(|s| s.id.as_str()).collect();
        return Err(format!("unknown sector '{unknown}' (configured: {})", known.join(", ")));
    }
    let digest = digest.trim();
    if config.digest(digest).is_none() {
        let known: Vec<&str> = config.digests.iter().map(|d| d.id.as_str()).collect();
        return Err(format!("unknown digest '{digest}' (configured: {})", known.join(", ")));
    }
    // One line: a name ends up in a `To:` header.
    let name = name.map(one_line).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err("name is longer than 200 characters".into());
    }
    Ok(Preferences {
        name,
        language: language.to_owned(),
        sectors: config.sectors.iter().filter(|s| listed.contains(&s.id.as_str())).map(|s| s.id.clone()).collect(),
        digest: digest.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(include_str!("../../config.toml"), Path::new("/srv/config.toml")).unwrap()
    }

    #[test]
    fn unknown_language_sector_or_digest_is_named() {
        let c = config();
        assert!(preferences(&c, None, "fr", "", "daily").unwrap_err().contains("unknown language 'fr'"));
        assert!(preferences(&c, None, "en", "trade,sport", "daily").unwrap_err().contains("unknown sector 'sport'"));
        assert!(preferences(&c, None, "en", "", "hourly").unwrap_err().contains("unknown digest 'hourly'"));
        let p = preferences(&c, Some("Li\r\nWei"), "en", "trade; foreign-affairs", "daily").unwrap();
        assert_eq!(p.sectors, vec!["foreign-affairs", "trade"]);
        assert_eq!(p.name.as_deref(), Some("Li Wei"));
    }
}
