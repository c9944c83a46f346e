//! Article file names: `<slug>.<lang>.md`, `<slug>.md` (default language) and `<slug>.txt`
//! (a bilingual press release). Files with the same path apart from the language suffix are
//! translations of one article and share a key.

use super::article::Format;
use crate::config::is_language_code;

/// What a file name says about the article inside (slices of the path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArticleName<'a> {
    /// Which parser reads it.
    pub format: Format,
    /// Relative path without language suffix and extension: the translation group.
    pub key: &'a str,
    /// The URL slug.
    pub slug: &'a str,
    /// The language suffix, when the name has one.
    pub lang: Option<&'a str>,
}

/// Reads `rel` (relative to the store, `/`-separated). `None` for files that are not articles
/// (images, notes, hidden and editor files).
pub fn parse(rel: &str) -> Option<ArticleName<'_>> {
    let file = rel.rsplit_once('/').map_or(rel, |(_, file)| file);
    if file.starts_with('.') || file.starts_with('#') || file.ends_with('~') {
        return None;
    }
    let (stem, format) = if let Some(stem) = file.strip_suffix(".md") {
        (stem, Format::Markdown)
    } else if let Some(stem) = file.strip_suffix(".txt") {
        (stem, Format::PressRelease)
    } else {
        return None;
    };
    let (slug, lang) = match (format, stem.rsplit_once('.')) {
        (Format::Markdown, Some((slug, lang))) if is_language_code(lang) && !slug.is_empty() => (slug, Some(lang)),
        _ => (stem, None),
    };
    if slug.is_empty() {
        return None;
    }
    // The key is the path up to the end of the slug: the folder and the slug.
    let key = &rel[..rel.len() - file.len() + slug.len()];
    Some(ArticleName { format, key, slug, lang })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_language_suffix_and_translation_key() {
        let name = parse("2023/consul-visit.en.md").unwrap();
        assert_eq!(name.key, "2023/consul-visit");
        assert_eq!(name.slug, "consul-visit");
        assert_eq!(name.lang, Some("en"));
        assert_eq!(parse("2023/consul-visit.md").unwrap().key, name.key);
    }

    #[test]
    fn a_dotted_slug_without_language_keeps_its_dots() {
        let name = parse("expo.2024.md").unwrap();
        assert_eq!((name.slug, name.lang), ("expo.2024", None));
    }

    #[test]
    fn press_releases_are_bilingual_txt_files() {
        let name = parse("press-release-2022-10-11.txt").unwrap();
        assert_eq!((name.format, name.lang), (Format::PressRelease, None));
    }

    #[test]
    fn ignores_non_articles() {
        for rel in ["logo.png", ".draft.md", "notes/#autosave.md#", "a.md~", "README"] {
            assert_eq!(parse(rel), None, "{rel}");
        }
    }
}
