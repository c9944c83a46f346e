//! Everything gazette writes for people from `templates/`, with minijinja and the interface
//! strings of `templates/strings.toml` (checked complete for every language: see
//! [`strings`]), dates and plural forms from CLDR: digest messages (subject, plain text and email-safe
//! HTML extending `email/layout.html`), confirmation emails (`confirm/`), and the service's
//! pages (`pages/`). Every template is parsed, and every language's strings checked, when the
//! renderer loads, so a typo stops a start or a reload, not a run.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use minijinja::Environment;
use serde::Serialize;

use crate::config::Config;
use crate::mail::message::Body;
use crate::text::{escape_html, one_line};

mod strings;
use strings::Strings;

/// The templates of digests, confirmation emails and pages, checked when the renderer loads.
const TEMPLATES: [&str; 16] = [
    "digest/subject.txt",
    "digest/body.txt",
    "digest/body.html",
    "email/layout.html",
    "confirm/subject.txt",
    "confirm/body.txt",
    "confirm/body.html",
    "pages/layout.html",
    "pages/list.html",
    "pages/article.html",
    "pages/form.html",
    "pages/message.html",
    "pages/archive.html",
    "pages/feed.html",
    "pages/digests.html",
    "pages/digest.html",
];

/// One article as a digest shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    /// Title, plain text.
    pub title: String,
    /// Absolute link.
    pub url: String,
    /// Plain-text summary (may be empty).
    pub summary: String,
    /// Publication date, written for the reader's language.
    pub date: String,
    /// Sector names in the reader's language.
    pub sectors: Vec<String>,
    /// True when shown in the default language because the reader's has no version.
    pub fallback: bool,
    /// The language the item is written in.
    pub lang: String,
}

/// What one subscriber's digest says, before templating.
#[derive(Debug, Clone)]
pub struct DigestView {
    /// The subscriber's language.
    pub lang: String,
    /// The digest id (`daily`).
    pub digest: String,
    /// The subscriber's name, if known.
    pub name: Option<String>,
    /// The articles.
    pub items: Vec<ItemView>,
    /// Absolute one-click unsubscribe page.
    pub unsubscribe_url: String,
    /// Absolute preferences page.
    pub preferences_url: String,
    /// A banner above the greeting: what a preview shows instead of the new articles. A digest
    /// that is sent has none.
    pub notice: Option<String>,
    /// The digest's copy on the web ("View online"); a preview has none.
    pub online_url: Option<String>,
}

/// Loaded templates and strings.
pub struct Renderer {
    env: Environment<'static>,
    /// Interface strings, date formats and plural rules by language, each complete.
    strings: BTreeMap<String, Strings>,
    /// Site titles by language.
    site_titles: BTreeMap<String, String>,
    default_language: String,
}

impl Renderer {
    /// Loads the templates folder of `config`, checking that every template parses and every
    /// configured language has its strings.
    pub fn load(config: &Config) -> Result<Renderer> {
        let templates = &config.templates;
        let mut env = Environment::new();
        // The path loaders refuse names that would leave their folder; a file in the override
        // folder wins over the packaged one of the same name.
        let local = templates.override_dir.as_deref().map(minijinja::path_loader);
        let packaged = minijinja::path_loader(&templates.dir);
        env.set_loader(move |name| match local.as_ref().map(|load| load(name)).transpose()?.flatten() {
            Some(source) => Ok(Some(source)),
            None => packaged(name),
        });
        env.set_keep_trailing_newline(true);
        // minijinja's HTML escaping also turns '/' into `&#x2f;`, which link scanners and some
        // mail clients trip over in `href`; escaping `& < > "` is what HTML needs (the templates
        // quote every attribute with `"`).
        env.set_formatter(|out, state, value| match (state.auto_escape(), value.as_str()) {
            (minijinja::AutoEscape::Html, Some(text)) if !value.is_safe() => {
                out.write_str(&escape_html(text)).map_err(minijinja::Error::from)
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        for name in TEMPLATES {
            env.get_template(name).with_context(|| format!("template {}", templates.file(name).display()))?;
        }
        let strings = strings::load(&templates.file("strings.toml"), config)?;
        let site_titles = config.languages.iter().map(|l| (l.code.clone(), l.title.clone())).collect();
        let default_language = config.site.default_language.clone();
        Ok(Renderer { env, strings, site_titles, default_language })
    }

    /// The strings of `lang` (the default language's for a language that is not published).
    fn table(&self, lang: &str) -> &Strings {
        self.strings.get(lang).or_else(|| self.strings.get(&self.default_language)).unwrap_or_else(|| {
            // `load` made an entry for every language, the default one included.
            unreachable!("strings for the default language are loaded")
        })
    }

    /// The interface strings of `lang`, for templates.
    pub fn strings(&self, lang: &str) -> &BTreeMap<String, String> {
        &self.table(lang).plain
    }

    /// The interface string `key` in `lang` (the key itself when no language has it: a key
    /// only the code names, which the strings check cannot know of).
    pub fn string(&self, lang: &str, key: &str) -> String {
        self.strings(lang).get(key).cloned().unwrap_or_else(|| key.to_owned())
    }

    /// Plural key `key` in `lang`, in the form `count` takes, `{count}` filled in.
    pub fn count(&self, lang: &str, key: &str, count: u64) -> String {
        self.table(lang)
            .count(key, count)
            .unwrap_or_else(|| self.string(lang, key).replace("{count}", &count.to_string()))
    }

    /// `date` as a reader of `lang` writes it (`date_format` of its strings).
    pub fn date(&self, lang: &str, date: chrono::NaiveDate) -> String {
        self.table(lang).formats.date(date)
    }

    /// A month (given by a day in it) as a reader of `lang` names it: `November 2026`.
    pub fn year_month(&self, lang: &str, date: chrono::NaiveDate) -> String {
        self.table(lang).formats.year_month(date)
    }

    /// A local day and time of day as a reader of `lang` writes them.
    pub fn date_time(&self, lang: &str, at: chrono::NaiveDateTime) -> String {
        self.table(lang).formats.date_time(at)
    }

    /// `rtl` or `ltr`: the direction `lang` is written in, for `dir` attributes.
    pub fn direction(&self, lang: &str) -> &'static str {
        if self.table(lang).is_rtl { "rtl" } else { "ltr" }
    }

    /// Strings each language takes from its declared fallback: (language, key, from).
    pub fn borrowed(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.strings
            .iter()
            .flat_map(|(lang, s)| s.borrowed.iter().map(move |(k, f)| (lang.as_str(), k.as_str(), f.as_str())))
    }

    /// The site's title in `lang`.
    pub fn site_title(&self, lang: &str) -> &str {
        self.site_titles.get(lang).or_else(|| self.site_titles.get(&self.default_language)).map_or("", String::as_str)
    }

    /// Renders template `name` (a page) with `context`.
    pub fn render(&self, name: &str, context: &minijinja::Value) -> Result<String> {
        let template = self.env.get_template(name).with_context(|| format!("template {name}"))?;
        template.render(context).with_context(|| format!("cannot render {name}"))
    }

    /// The confirmation email in `lang`: `link` confirms the subscription, or, when the
    /// address was `already` confirmed, opens the preferences page.
    pub fn confirmation(&self, lang: &str, link: &str, already: bool) -> Result<Body> {
        let site_title = self.site_title(lang);
        let subject_key = if already { "already_subject" } else { "confirm_subject" };
        let subject = self.string(lang, subject_key);
        let context = minijinja::context! { lang, dir => self.direction(lang), t => self.strings(lang), subject, site_title, link, already };
        Ok(Body {
            subject: one_line(&self.render("confirm/subject.txt", &context)?),
            text: self.render("confirm/body.txt", &context)?,
            html: self.render("confirm/body.html", &context)?,
        })
    }

    /// Renders `view`.
    pub fn digest(&self, view: &DigestView) -> Result<Body> {
        let lang = view.lang.as_str();
        let site_title = self.site_titles.get(lang).cloned().unwrap_or_default();
        let digest_name = self.string(lang, &format!("digest_{}", view.digest));
        let count = u64::try_from(view.items.len()).unwrap_or(u64::MAX);
        let subject = self
            .string(lang, "subject")
            .replace("{digest}", &digest_name)
            .replace("{articles}", &self.count(lang, "articles", count));
        let greeting = match &view.name {
            Some(name) => self.string(lang, "greeting").replace("{name}", name),
            None => self.string(lang, "greeting_anonymous"),
        };
        let context = minijinja::context! {
            lang,
            dir => self.direction(lang),
            t => self.strings(lang),
            subject => &subject,
            greeting,
            notice => &view.notice,
            why => self.string(lang, "why").replace("{site}", &site_title),
            site_title,
            items => &view.items,
            unsubscribe_url => &view.unsubscribe_url,
            preferences_url => &view.preferences_url,
            online_url => &view.online_url,
        };
        let render = |name: &str| -> Result<String> {
            let template = self.env.get_template(name).with_context(|| format!("template {name}"))?;
            template.render(&context).with_context(|| format!("cannot render {name}"))
        };
        Ok(Body {
            // A subject is one header line, whatever the template or the data hold.
            subject: one_line(&render("digest/subject.txt")?),
            text: render("digest/body.txt")?,
            html: render("digest/body.html")?,
        })
    }
}
