//! `templates/strings.toml`: the interface strings of every configured language, read and
//! checked against what each language needs. Every language has every key some configured
//! language has (or declares a `fallback` language that has it), every plural form its CLDR
//! rules use, and a `date_format` CLDR knows; anything less is an error naming the language,
//! the key and the file, so it stops a start or a reload, never a run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use icu_plurals::PluralCategory;
use serde::Deserialize;

use crate::config::{Config, Language};
use crate::locale::{self, DateStyle, Formats};

/// One value of a strings table: a plain string, or one string per plural form
/// (`{ one = "…", few = "…", many = "…", other = "…" }`).
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawText {
    Plain(String),
    Plural(BTreeMap<String, String>),
}

type RawTables = BTreeMap<String, BTreeMap<String, RawText>>;

/// The strings of one language, complete, with its date formats and plural rules.
pub struct Strings {
    /// Every key as a plain string (a plural key by its `other` form), for templates.
    pub plain: BTreeMap<String, String>,
    /// Plural keys: the string of each form the language has.
    plural: BTreeMap<String, Vec<(PluralCategory, String)>>,
    /// Dates and plural rules from CLDR.
    pub formats: Formats,
    /// Keys this language takes from its fallback, with the language they come from.
    pub borrowed: Vec<(String, String)>,
    /// Written right to left (from CLDR, through the config's language).
    pub is_rtl: bool,
}

impl Strings {
    /// The form of plural key `key` that `count` takes, with `{count}` filled in; `None` when
    /// `key` is not a plural key.
    pub fn count(&self, key: &str, count: u64) -> Option<String> {
        let forms = self.plural.get(key)?;
        let category = self.formats.plural(count);
        let form = forms
            .iter()
            .find(|(c, _)| *c == category)
            .or_else(|| forms.iter().find(|(c, _)| *c == PluralCategory::Other));
        form.map(|(_, text)| text.replace("{count}", &count.to_string()))
    }
}

/// Reads `path` and builds the strings of every language `config` publishes.
pub fn load(path: &Path, config: &Config) -> Result<BTreeMap<String, Strings>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let raw: RawTables = toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
    build(&raw, config).with_context(|| format!("{}", path.display()))
}

fn build(raw: &RawTables, config: &Config) -> Result<BTreeMap<String, Strings>> {
    // Every key any published language has is a key every one of them needs; a digest's name
    // is needed whether or not any table has it yet.
    let mut keys: BTreeSet<String> =
        config.languages.iter().filter_map(|l| raw.get(&l.code)).flat_map(|table| table.keys().cloned()).collect();
    keys.extend(config.digests.iter().map(|d| format!("digest_{}", d.id)));
    keys.insert("date_format".to_owned());
    let plural_keys: BTreeSet<&String> = config
        .languages
        .iter()
        .filter_map(|l| raw.get(&l.code))
        .flat_map(|table| table.iter().filter(|(_, v)| matches!(v, RawText::Plural(_))).map(|(k, _)| k))
        .collect();
    let mut all = BTreeMap::new();
    for language in &config.languages {
        let code = &language.code;
        if !raw.contains_key(code) && language.fallback.is_none() {
            bail!("no [{code}] table (languages.{code} declares no fallback)");
        }
        let mut values = BTreeMap::new();
        let mut borrowed = Vec::new();
        for key in &keys {
            let (value, from) = lookup(raw, config, language, key).with_context(|| {
                format!("[{code}] has no '{key}', and languages.{code} declares no fallback that has it")
            })?;
            if from != *code {
                borrowed.push((key.clone(), from.clone()));
            }
            values.insert(key.clone(), (value, from));
        }
        let style_text = match &values["date_format"].0 {
            RawText::Plain(text) => text.clone(),
            RawText::Plural(_) => bail!("[{code}] date_format: must be a string"),
        };
        let style = DateStyle::parse(&style_text).with_context(|| {
            format!(
                "[{code}] date_format: '{style_text}' is not one of full, long, medium, short (CLDR's date lengths)"
            )
        })?;
        let formats = Formats::new(&language.writing.locale, style).with_context(|| format!("[{code}]"))?;
        let mut plain = BTreeMap::new();
        let mut plural = BTreeMap::new();
        for (key, (value, from)) in values {
            let forms = match value {
                RawText::Plain(text) if !plural_keys.contains(&key) => {
                    plain.insert(key, text);
                    continue;
                }
                // A plain string for a plural key is its `other` form: enough for a language
                // with no other form (Chinese), too little for one with more.
                RawText::Plain(text) => vec![(PluralCategory::Other, text)],
                RawText::Plural(forms) => parse_forms(&forms).with_context(|| format!("[{from}] {key}"))?,
            };
            for category in formats.categories() {
                if !forms.iter().any(|(c, _)| *c == category) {
                    bail!(
                        "[{from}] {key}: no '{}' form, which {} ({}) needs",
                        locale::category_name(category),
                        code,
                        language.writing.locale
                    );
                }
            }
            let other = forms.iter().find(|(c, _)| *c == PluralCategory::Other).map(|(_, t)| t.clone());
            plain.insert(key.clone(), other.unwrap_or_default());
            plural.insert(key, forms);
        }
        all.insert(code.clone(), Strings { plain, plural, formats, borrowed, is_rtl: language.writing.is_rtl });
    }
    Ok(all)
}

/// `key` in `language`'s table, else in its fallback's (and theirs), with the language it
/// was found in.
fn lookup(raw: &RawTables, config: &Config, language: &Language, key: &str) -> Option<(RawText, String)> {
    let mut at = Some(language);
    // Config checked that the chain ends; the bound guards against a hand-built config.
    for _ in 0..=config.languages.len() {
        let here = at?;
        if let Some(value) = raw.get(&here.code).and_then(|t| t.get(key)) {
            return Some((value.clone(), here.code.clone()));
        }
        at = here.fallback.as_deref().and_then(|code| config.language(code));
    }
    None
}

fn parse_forms(forms: &BTreeMap<String, String>) -> Result<Vec<(PluralCategory, String)>> {
    forms
        .iter()
        .map(|(name, text)| {
            let category = locale::PLURAL_CATEGORIES.iter().find(|(n, _)| n == name).map(|(_, c)| *c);
            let category = category
                .with_context(|| format!("'{name}' is not a plural form (zero, one, two, few, many, other)"))?;
            Ok((category, text.clone()))
        })
        .collect()
}
