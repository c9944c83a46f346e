//! End-to-end tests in a real browser ([`crate::chromium`]) against `gazette run`, with mail
//! caught by `smtp-sink`: the subscription clicked through as a reader does it, the account
//! pages in both languages (tampered links change nothing), the pages and the digest at phone
//! width, with screenshots in `target/browser-screenshots/` to look at, and every page checked
//! with Deque's axe-core against WCAG 2.1 A and AA.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use serde_json::json;

use crate::chromium::{Browser, PATIENCE};
use crate::helpers::{Site, configured_languages, repo};
use crate::mailsink::{Sink, free_port, sink};
use crate::service::{Daemon, get, post_form, served_site};

/// The interface strings of `templates/strings.toml`, which the pages must show.
struct Strings(toml::Table);

impl Strings {
    fn load() -> Strings {
        let path = repo().join("templates/strings.toml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Strings(toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    fn get(&self, lang: &str, key: &str) -> &str {
        self.0.get(lang).and_then(|t| t.get(key)).and_then(toml::Value::as_str).unwrap_or_else(|| {
            panic!("no string {lang}.{key} in templates/strings.toml");
        })
    }
}

/// A served site mailing to its own `smtp-sink`, and whose schedule sends nothing while a
/// test runs (only the test's own `digest send` does).
struct Mailing {
    sink: Sink,
    site: Site,
    daemon: Daemon,
    /// `http://127.0.0.1:PORT`.
    base: String,
    /// Where the sink writes (removed when the test ends).
    _dumps: tempfile::TempDir,
}

fn mailing_site() -> Mailing {
    let dumps = tempfile::tempdir().expect("temp dir");
    let sink_port = free_port();
    let sink = sink(sink_port, &dumps.path().join("dump"), &[]);
    let (site, port) = served_site(&format!("smtp://127.0.0.1:{sink_port}?tls=none"), |config| {
        // The tests post the form more often than a reader would.
        crate::helpers::table(config, "http").insert("subscribe_per_hour".into(), 100.into());
        if let Some(toml::Value::Array(digests)) = config.get_mut("digests") {
            for digest in digests.iter_mut().filter_map(toml::Value::as_table_mut) {
                digest.insert("schedule".into(), "17 3 1 1 *".into());
            }
        }
    });
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", PATIENCE);
    let base = format!("http://127.0.0.1:{}", daemon.port);
    Mailing { sink, site, daemon, base, _dumps: dumps }
}

/// `(status, language, sectors, digest)` of a subscriber, from the database.
fn subscriber(site: &Site, email: &str) -> (String, String, String, String) {
    site.subscription(email)
}

fn status_of(site: &Site, email: &str) -> String {
    subscriber(site, email).0
}

/// Adds articles dated now to the store, a second after anything before (a digest holds what
/// was published after the subscriber confirmed) and a second before anything after (a run's
/// cutoff). Each is `(file stem, title, sectors, text)`; the stem ends in the language.
fn publish(site: &Site, articles: &[(&str, &str, &str, &str)]) {
    std::thread::sleep(Duration::from_millis(1100));
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"));
    for (stem, title, sectors, text) in articles {
        let date = now.format("%Y-%m-%dT%H:%M:%S%:z");
        let article = format!("+++\ntitle = \"{title}\"\ndate = {date}\nsectors = [{sectors}]\n+++\n{text}\n");
        site.write_article(&format!("browser/{stem}.md"), &article);
    }
    std::thread::sleep(Duration::from_millis(1100));
}

fn send_daily(site: &Site) {
    site.run(["digest", "send", "daily"].map(OsStr::new)).success();
}

/// The HTML and text parts of a raw message.
fn parts(raw: &[u8]) -> (String, String) {
    let message = MessageParser::default().parse(raw).expect("a MIME message");
    let html = message.body_html(0).expect("an HTML part").into_owned();
    let text = message.body_text(0).expect("a text part").into_owned();
    (html, text)
}

/// The one URL in `text` that starts with `prefix`.
fn link_in(text: &str, prefix: &str) -> String {
    let found: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .filter(|word| word.starts_with(prefix))
        .collect();
    assert!(!found.is_empty(), "no link {prefix}… in:\n{text}");
    assert!(found.iter().all(|l| *l == found[0]), "different links {prefix}…: {found:?}");
    found[0].replace("&amp;", "&")
}

/// `link` with one character of its token changed.
fn tampered(link: &str) -> String {
    let (head, token) = link.split_once("token=").expect("a token in the link");
    let mut chars: Vec<char> = token.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    format!("{head}token={}", chars.into_iter().collect::<String>())
}

/// How many digests (`subject` holds "Daily news") the sink holds for `to`.
fn digests_to(sink: &Sink, to: &str) -> usize {
    sink.messages()
        .iter()
        .filter_map(|raw| MessageParser::default().parse(raw))
        .filter(|m| m.to().and_then(|a| a.first()).and_then(|a| a.address()) == Some(to))
        .filter(|m| m.subject().is_some_and(|s| s.contains("Daily news")))
        .count()
}

#[test]
fn a_reader_subscribes_confirms_gets_a_digest_and_unsubscribes_in_the_browser() {
    let t = Strings::load();
    let Mailing { sink, site, daemon: _daemon, base, _dumps: mail } = mailing_site();
    // Gets every digest: proof that the last run did send, to everyone still subscribed.
    site.subscribers(&["add", "control@example.org", "--lang", "en", "--confirmed"]).success();
    let browser = Browser::open();

    browser.goto(&format!("{base}/subscribe?lang=en"));
    browser.expect_page("en", "Subscribe to the news digest");
    browser.fill("#email", "reader@example.org");
    browser.choose("#language", "en");
    browser.click("input[name=sectors][value=trade]");
    browser.click("form button[type=submit]");
    browser.expect_page("en", "Check your inbox");
    let (status, language, sectors, digest) = subscriber(&site, "reader@example.org");
    assert_eq!(
        (status.as_str(), language.as_str(), sectors.as_str(), digest.as_str()),
        ("pending", "en", "trade", "daily")
    );

    let confirmation = sink.wait_for("reader@example.org", t.get("en", "confirm_subject"), PATIENCE);
    let (html, text) = parts(&confirmation);
    let link = link_in(&text, &format!("{base}/confirm?token="));
    assert_eq!(link_in(&html, &format!("{base}/confirm?token=")), link, "both parts hold the same link");
    browser.open_html(mail.path(), "confirmation.html", &html);
    browser.click_link(t.get("en", "confirm_button"));
    browser.expect_page("en", "Confirm your subscription");
    assert_eq!(browser.url(), link);
    assert_eq!(status_of(&site, "reader@example.org"), "pending", "opening the link confirms nothing");
    browser.click("main form button");
    browser.expect_page("en", "Subscribed");
    assert_eq!(status_of(&site, "reader@example.org"), "confirmed");

    let title = "Shenyang and Osaka Sign a Trade Memorandum";
    publish(&site, &[("osaka-trade.en", title, "\"trade\"", "The two cities agreed to expand trade.")]);
    send_daily(&site);
    let digest = sink.wait_for("reader@example.org", "Daily news: 1 new article", PATIENCE);
    let (html, text) = parts(&digest);
    assert!(html.contains(title) && text.contains(title), "the digest holds the new article:\n{text}");
    let unsubscribe = link_in(&text, &format!("{base}/unsubscribe?token="));
    browser.open_html(mail.path(), "digest.html", &html);
    browser.click_link(t.get("en", "unsubscribe"));
    browser.expect_page("en", "Unsubscribe");
    assert_eq!(browser.url(), unsubscribe, "the HTML part links where the text part does");
    assert!(browser.text("main").contains("reader@example.org"), "{}", browser.text("main"));
    assert_eq!(status_of(&site, "reader@example.org"), "confirmed", "opening the link unsubscribes nobody");
    browser.click("main form button");
    browser.expect_page("en", "Unsubscribed");
    assert_eq!(status_of(&site, "reader@example.org"), "unsubscribed");

    publish(&site, &[("dalian-expo.en", "Trade Expo Opens", "\"trade\"", "The expo opened with 300 exhibitors.")]);
    send_daily(&site);
    let started = Instant::now();
    while digests_to(&sink, "control@example.org") < 2 {
        assert!(started.elapsed() < PATIENCE, "the control subscriber got no second digest");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(digests_to(&sink, "reader@example.org"), 1, "no digest after unsubscribing");
    assert_eq!(status_of(&site, "reader@example.org"), "unsubscribed");
}

/// Writes the digest `to` would get now with `gazette digest preview`; returns its HTML file.
fn preview(site: &Site, to: &str) -> PathBuf {
    let out = site.root.join("preview");
    let args: [&OsStr; 6] =
        ["digest".as_ref(), "preview".as_ref(), "daily".as_ref(), "--to".as_ref(), to.as_ref(), "--out".as_ref()];
    site.run(args.into_iter().chain([out.as_os_str()])).success();
    out.join(format!("{to}.html"))
}

/// Opens `link` and checks its page (`title`, `button`); then a changed token, opened and
/// posted from the real page's form, gets the invalid-link page in `lang` both ways.
fn refuses_tampered(browser: &Browser, link: &str, lang: &str, title: &str, button: &str, t: &Strings) {
    browser.goto(link);
    browser.expect_page(lang, title);
    assert_eq!(browser.text("main form button"), button);
    browser.goto(&format!("{}&lang={lang}", tampered(link)));
    browser.expect_page(lang, t.get(lang, "invalid_link_title"));
    browser.goto(link);
    browser.expect_page(lang, title);
    browser.js(
        "document.querySelector('input[name=token]').value = arguments[0]",
        vec![json!(tampered(link).split_once("token=").expect("token").1)],
    );
    browser.click("main form button");
    // The form carries the page's language, so the refusal is in it too.
    browser.expect_page(lang, t.get(lang, "invalid_link_title"));
}

#[test]
fn account_pages_speak_the_readers_language_and_tampered_links_change_nothing() {
    let t = Strings::load();
    let Mailing { sink, site, daemon: _daemon, base, _dumps } = mailing_site();
    let browser = Browser::open();
    // The browser asks for English: the Chinese token pages below follow the subscriber.
    browser.goto(&format!("{base}/en/"));
    assert_eq!(browser.js("return navigator.language", vec![]), json!("en-US"));

    for lang in configured_languages() {
        let lang = lang.as_str();
        let s = |key: &str| t.get(lang, key).to_owned();
        let email = format!("{lang}.reader@example.org");
        browser.goto(&format!("{base}/subscribe?lang={lang}"));
        browser.expect_page(lang, &s("subscribe_title"));
        assert_eq!(browser.text("form button[type=submit]"), s("subscribe_button"));
        browser.fill("#email", &email);
        browser.choose("#language", lang);
        browser.click("input[name=sectors][value=foreign-affairs]");
        browser.click("form button[type=submit]");
        browser.expect_page(lang, &s("subscribe_sent_title"));

        let confirmation = sink.wait_for(&email, &s("confirm_subject"), PATIENCE);
        let confirm = link_in(&parts(&confirmation).1, &format!("{base}/confirm?token="));
        // A changed token, opened or posted from the page, is refused and changes nothing.
        refuses_tampered(&browser, &confirm, lang, &s("confirm_title"), &s("confirm_button"), &t);
        assert_eq!(status_of(&site, &email), "pending");
        browser.goto(&confirm);
        browser.click("main form button");
        browser.expect_page(lang, &s("confirmed_title"));
        assert_eq!(status_of(&site, &email), "confirmed");

        let digest = std::fs::read_to_string(preview(&site, &email)).expect("the preview's HTML");
        let preferences = link_in(&digest, &format!("{base}/preferences?token="));
        let unsubscribe = link_in(&digest, &format!("{base}/unsubscribe?token="));

        browser.goto(&preferences);
        browser.expect_page(lang, &s("preferences_title"));
        assert!(browser.text("main form").contains(&email));
        assert!(browser.is_checked("input[name=sectors][value=foreign-affairs]"));
        assert!(!browser.is_checked("input[name=sectors][value=trade]"));
        assert!(browser.is_checked("input[name=digest][value=daily]"));
        browser.click("input[name=sectors][value=foreign-affairs]");
        browser.click("input[name=sectors][value=trade]");
        browser.click("input[name=digest][value=weekly]");
        browser.click("main form button[type=submit]");
        browser.expect_text("main p", &s("preferences_saved"));
        browser.expect_page(lang, &s("preferences_title"));
        assert_eq!(subscriber(&site, &email), ("confirmed".into(), lang.into(), "trade".into(), "weekly".into()));
        browser.goto(&preferences);
        browser.expect_page(lang, &s("preferences_title"));
        assert!(browser.is_checked("input[name=sectors][value=trade]"), "the saved choice is shown");
        assert!(!browser.is_checked("input[name=sectors][value=foreign-affairs]"));
        assert!(browser.is_checked("input[name=digest][value=weekly]"));
        // The preferences page's own unsubscribe link works.
        browser.click_link(&s("unsubscribe"));
        browser.expect_page(lang, &s("unsubscribe_title"));
        browser.goto(&format!("{}&lang={lang}", tampered(&preferences)));
        browser.expect_page(lang, &s("invalid_link_title"));

        refuses_tampered(&browser, &unsubscribe, lang, &s("unsubscribe_title"), &s("unsubscribe_button"), &t);
        assert_eq!(status_of(&site, &email), "confirmed", "a tampered unsubscribe changes nothing");
        browser.goto(&unsubscribe);
        browser.click("main form button");
        browser.expect_page(lang, &s("unsubscribed_title"));
        assert_eq!(status_of(&site, &email), "unsubscribed");
    }
}

/// Body text on the site's pages: paragraphs, lists, headings, form labels and controls.
const PAGE_TEXT: &str = "main p, main li, main h1, main h2, main label, main legend, main input[type=email], \
                         main select, main button, main .meta";
/// Links that stand alone as navigation, to be tapped: languages, sectors, feeds.
const NAV_TARGETS: &str = "header nav a, main .sectors a, main .feeds a";
/// Tap targets of a form: the button, the fields, and the labels that hold the boxes.
const FORM_TARGETS: &str = "main button, main input[type=email], main select, main fieldset label";

#[test]
fn pages_and_the_digest_fit_a_phone_screen() {
    let Mailing { sink, site, daemon, base, _dumps } = mailing_site();
    site.subscribers(&["add", "phone@example.org", "--lang", "en", "--confirmed"]).success();
    site.subscribers(&["add", "phone.zh@example.org", "--lang", "zh", "--confirmed"]).success();
    let title = "Consular Authentication Office Extends Its Opening Hours for Companies Preparing Trade Fair Documents";
    // Real news has long titles, and links that do not break at spaces.
    let long_link = "https://www.shenyang.gov.cn/english/news/2026/consular-authentication-office-hours-notice.html";
    publish(
        &site,
        &[
            (
                "consular-hours.en",
                title,
                "\"foreign-affairs\", \"trade\"",
                &format!("The office now opens on Saturdays. The notice is at {long_link} with the forms."),
            ),
            (
                "consular-hours.zh",
                "市外办领事认证窗口延长办公时间 方便企业准备展会材料",
                "\"foreign-affairs\", \"trade\"",
                &format!("认证窗口周六开放。通知全文见{long_link}。"),
            ),
            // Only in Chinese: the English digest carries it in Chinese, marked.
            ("expo-opens.zh", "东北亚博览会开幕", "\"trade\"", "本届博览会共有300家企业参展。"),
        ],
    );
    let browser = Browser::open();
    browser.phone();

    let digest = preview(&site, "phone@example.org");
    let html = std::fs::read_to_string(&digest).expect("the preview's HTML");
    assert!(html.contains("东北亚博览会开幕") && html.contains(long_link), "{html}");
    browser.goto(url::Url::from_file_path(&digest).expect("an absolute path").as_str());
    assert!(browser.text("body").contains("(not yet available in your language)"), "{}", browser.text("body"));
    browser.assert_fits_a_phone("phone-digest-en", "p", "");
    let digest_zh = preview(&site, "phone.zh@example.org");
    browser.goto(url::Url::from_file_path(&digest_zh).expect("an absolute path").as_str());
    assert!(browser.text("body").contains("东北亚博览会开幕"), "{}", browser.text("body"));
    browser.assert_fits_a_phone("phone-digest-zh", "p", "");

    browser.goto(&format!("{base}/subscribe?lang=en"));
    browser.expect_page("en", "Subscribe to the news digest");
    browser.assert_fits_a_phone("phone-subscribe-en", PAGE_TEXT, FORM_TARGETS);
    browser.goto(&format!("{base}/subscribe?lang=zh"));
    browser.expect_page("zh", "订阅新闻摘要");
    browser.assert_fits_a_phone("phone-subscribe-zh", PAGE_TEXT, FORM_TARGETS);
    // Russian has long words and long strings: its digest, form and front page fit too.
    site.subscribers(&["add", "phone.ru@example.org", "--lang", "ru", "--confirmed"]).success();
    let digest_ru = preview(&site, "phone.ru@example.org");
    browser.goto(url::Url::from_file_path(&digest_ru).expect("an absolute path").as_str());
    assert!(browser.text("body").contains("(пока нет на вашем языке)"), "{}", browser.text("body"));
    browser.assert_fits_a_phone("phone-digest-ru", "p", "");
    browser.goto(&format!("{base}/subscribe?lang=ru"));
    browser.expect_page("ru", "Подписка на рассылку новостей");
    browser.assert_fits_a_phone("phone-subscribe-ru", PAGE_TEXT, FORM_TARGETS);

    let started = Instant::now();
    while !daemon.send(&get("/en/")).text().contains(title) {
        assert!(started.elapsed() < PATIENCE, "the new articles never reached the front page:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    browser.goto(&format!("{base}/en/"));
    browser.assert_fits_a_phone("phone-front-en", PAGE_TEXT, NAV_TARGETS);
    browser.click_link(title);
    browser.expect_page("en", title);
    browser.assert_fits_a_phone("phone-article-en", PAGE_TEXT, "header nav a");
    browser.goto(&format!("{base}/zh/"));
    browser.assert_fits_a_phone("phone-front-zh", PAGE_TEXT, NAV_TARGETS);

    let signup = post_form("/subscribe", &[("email", "new@example.org"), ("language", "en"), ("digest", "daily")], &[]);
    assert_eq!(daemon.send(&signup).status, 200);
    let confirmation = sink.wait_for("new@example.org", "Confirm", PATIENCE);
    browser.goto(&link_in(&parts(&confirmation).1, &format!("{base}/confirm?token=")));
    browser.expect_page("en", "Confirm your subscription");
    browser.assert_fits_a_phone("phone-confirm-en", PAGE_TEXT, "main button");

    browser.goto(&link_in(&html, &format!("{base}/unsubscribe?token=")));
    browser.expect_page("en", "Unsubscribe");
    browser.assert_fits_a_phone("phone-unsubscribe-en", PAGE_TEXT, "main button");
}

/// A string of the repository's config, the one the served site runs with, at `keys`
/// (`["languages", "en", "title"]`).
fn config_string(keys: &[&str]) -> String {
    let path = repo().join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let config: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value = keys.iter().fold(&config, |v, key| &v[key]);
    value.as_str().unwrap_or_else(|| panic!("no string {} in {}", keys.join("."), path.display())).to_owned()
}

/// Runs axe on the page the browser shows; keeps what it found, under `name`, for one report.
struct Audit<'a> {
    browser: &'a Browser,
    checked: usize,
    found: Vec<String>,
}

impl Audit<'_> {
    fn check(&mut self, name: &str) {
        let violations = self.browser.axe();
        self.checked += 1;
        println!("axe: {name}: {} violation(s)", violations.len());
        if !violations.is_empty() {
            let listed: String = violations.iter().map(ToString::to_string).collect();
            self.found.push(format!("{name}, at {}:\n{listed}", self.browser.url()));
        }
    }
}

/// Deque's axe-core finds nothing against WCAG 2.0 and 2.1, A and AA, on every page a reader
/// meets, in each language: front, sector and article pages, the subscribe form (and its
/// error), check-your-inbox, the pages of signed links (confirm, preferences, unsubscribe, and
/// what their buttons lead to) and the invalid-link page, and every reason an address is
/// refused. All that axe reports is printed.
#[test]
fn every_page_passes_axe_wcag_2_1_aa_in_every_language() {
    let t = Strings::load();
    let Mailing { sink, site, daemon: _daemon, base, _dumps } = mailing_site();
    let browser = Browser::open();
    let mut audit = Audit { browser: &browser, checked: 0, found: Vec::new() };

    // axe is live: a button with no name, planted in a page, is found.
    browser.goto(&format!("{base}/en/"));
    browser.js("document.querySelector('main').insertAdjacentHTML('beforeend', '<button></button>')", vec![]);
    let planted = browser.axe();
    assert!(planted.iter().any(|v| v.id == "button-name"), "axe missed a button with no name: {planted:#?}");

    for lang in configured_languages() {
        let lang = lang.as_str();
        let s = |key: &str| t.get(lang, key).to_owned();
        let title = config_string(&["languages", lang, "title"]);
        browser.goto(&format!("{base}/{lang}/"));
        browser.expect_page(lang, &title);
        audit.check(&format!("{lang} front page"));

        let trade = config_string(&["sectors", "trade", "name", lang]);
        browser.click_link(&trade);
        browser.expect_page(lang, &format!("{trade} · {title}"));
        audit.check(&format!("{lang} sector page"));

        // The page a feed link leads to, the month archive and one month of it.
        browser.goto(&format!("{base}/{lang}/"));
        browser.click("main .feeds a");
        browser.expect_page(lang, &s("feed_page_title").replace("{feed}", &title));
        audit.check(&format!("{lang} feed page"));
        browser.goto(&format!("{base}/{lang}/"));
        browser.click(&format!("main a[href='/{lang}/archive/']"));
        browser.expect_page(lang, &s("archive_title"));
        audit.check(&format!("{lang} archive"));
        browser.click("main .months a");
        audit.check(&format!("{lang} archive month"));
        browser.goto(&format!("{base}/{lang}/"));
        browser.click_link(&trade);

        // The article in both languages, with a table: the "also in" link and the table are
        // on the page.
        let article = "main a[href*='sino-german-park-consulate']";
        let heading = browser.text(article);
        browser.click(article);
        browser.expect_page(lang, &heading);
        audit.check(&format!("{lang} article page"));

        browser.goto(&format!("{base}/subscribe?lang={lang}"));
        browser.expect_page(lang, &s("subscribe_title"));
        audit.check(&format!("{lang} subscribe form"));
        // The browser would not send an address this wrong: the server's refusal is what is
        // checked, as a browser that does not validate forms gets it.
        browser.js("document.querySelector('main form').noValidate = true", vec![]);
        browser.fill("#email", "not an address");
        browser.click("form button[type=submit]");
        browser.expect_text("main .error", &s("bad_email"));
        browser.expect_page(lang, &s("subscribe_title"));
        audit.check(&format!("{lang} subscribe form, invalid address"));
        // Addresses a form accepts but no one should be mailed at: each refusal says why.
        for (refused, why) in [
            ("\"a b\"@example.org", "email_needs_quoting"),
            ("reader@[192.0.2.1]", "email_ip_literal"),
            ("reader@localhost", "email_not_public"),
            ("reader@example.invalid", "email_not_public"),
            ("王伟@example.cn", "email_unmailable"),
        ] {
            browser.js("document.querySelector('main form').noValidate = true", vec![]);
            browser.js("document.querySelector('#email').value = ''", vec![]);
            browser.fill("#email", refused);
            browser.click("form button[type=submit]");
            browser.expect_text("main .error", &s(why));
            browser.expect_page(lang, &s("subscribe_title"));
            audit.check(&format!("{lang} subscribe form, {why}"));
        }

        let email = format!("axe.{lang}@example.org");
        browser.js("document.querySelector('#email').value = ''", vec![]);
        browser.fill("#email", &email);
        browser.choose("#language", lang);
        browser.click("form button[type=submit]");
        browser.expect_page(lang, &s("subscribe_sent_title"));
        audit.check(&format!("{lang} check-your-inbox page"));

        let confirmation = sink.wait_for(&email, &s("confirm_subject"), PATIENCE);
        let confirm = link_in(&parts(&confirmation).1, &format!("{base}/confirm?token="));
        browser.goto(&confirm);
        browser.expect_page(lang, &s("confirm_title"));
        audit.check(&format!("{lang} confirm page"));
        browser.click("main form button");
        browser.expect_page(lang, &s("confirmed_title"));
        audit.check(&format!("{lang} confirmed page"));

        let digest = std::fs::read_to_string(preview(&site, &email)).expect("the preview's HTML");
        let preferences = link_in(&digest, &format!("{base}/preferences?token="));
        let unsubscribe = link_in(&digest, &format!("{base}/unsubscribe?token="));
        browser.goto(&preferences);
        browser.expect_page(lang, &s("preferences_title"));
        audit.check(&format!("{lang} preferences page"));
        browser.click("input[name=digest][value=weekly]");
        browser.click("main form button[type=submit]");
        browser.expect_text("main p", &s("preferences_saved"));
        audit.check(&format!("{lang} preferences page, saved"));

        browser.goto(&unsubscribe);
        browser.expect_page(lang, &s("unsubscribe_title"));
        audit.check(&format!("{lang} unsubscribe page"));
        browser.click("main form button");
        browser.expect_page(lang, &s("unsubscribed_title"));
        audit.check(&format!("{lang} unsubscribed page"));

        browser.goto(&format!("{}&lang={lang}", tampered(&confirm)));
        browser.expect_page(lang, &s("invalid_link_title"));
        audit.check(&format!("{lang} invalid-link page"));
    }

    assert!(
        audit.found.is_empty(),
        "axe-core found WCAG 2.1 A/AA violations on {} of {} pages:\n\n{}",
        audit.found.len(),
        audit.checked,
        audit.found.join("\n")
    );
}

/// A language added by config and strings alone (Korean, with English as its declared
/// fallback) gets pages axe finds nothing on, at desktop and phone width.
#[test]
fn a_fourth_language_from_config_alone_passes_axe_and_fits_a_phone() {
    let (site, port) = served_site("file://outbox", crate::languages::add_korean);
    crate::languages::add_korean_text(&site);
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", Duration::from_secs(20));
    let base = format!("http://127.0.0.1:{port}");
    let browser = Browser::open();
    let mut audit = Audit { browser: &browser, checked: 0, found: Vec::new() };
    let title = "선양시 외사판공실 뉴스";
    browser.goto(&format!("{base}/ko/"));
    browser.expect_page("ko", title);
    assert!(browser.text("main").contains("2026년 3월 12일"), "CLDR's Korean dates: {}", browser.text("main"));
    audit.check("ko front page");
    browser.click_link("경제·무역");
    browser.expect_page("ko", &format!("경제·무역 · {title}"));
    audit.check("ko sector page");
    let article = "main a[href*='korea-business-matchmaking']";
    let heading = browser.text(article);
    browser.click(article);
    browser.expect_page("ko", &heading);
    audit.check("ko article page");
    browser.goto(&format!("{base}/subscribe?lang=ko"));
    browser.expect_page("ko", "Subscribe to the news digest");
    audit.check("ko subscribe form (English strings, Korean page)");
    browser.phone();
    for path in ["/ko/", "/subscribe?lang=ko"] {
        browser.goto(&format!("{base}{path}"));
        browser.assert_fits_a_phone(&format!("phone-ko{}", path.replace(['/', '?', '='], "-")), PAGE_TEXT, "");
    }
    assert!(audit.found.is_empty(), "axe-core found violations:\n{}", audit.found.join("\n"));
}

/// The links in `html` that contain `part`, each once, in order.
fn hrefs(html: &str, part: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for link in html.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()) {
        if link.contains(part) && !seen.iter().any(|s| s == link) {
            seen.push(link.to_owned());
        }
    }
    seen
}

/// Each digest a subscriber gets has a copy on the web, its "View online" link: the articles
/// of their message, for everyone with their language and sectors, and nothing of them (no
/// name, address, signed link or unsubscribe link). Each language lists its past digests,
/// newest first, with an Atom feed of them that the validators and feedparser accept; the
/// pages pass axe. A preview has no copy.
#[test]
fn each_digest_has_a_web_copy_and_each_language_lists_its_past_digests() {
    let t = Strings::load();
    let Mailing { sink, site, daemon, base, _dumps } = mailing_site();
    let browser = Browser::open();
    let mut audit = Audit { browser: &browser, checked: 0, found: Vec::new() };
    let languages = configured_languages();
    for lang in &languages {
        let email = format!("copy.{lang}@example.org");
        site.subscribers(&["add", &email, "--lang", lang, "--sectors", "trade", "--name", "Wang Wei", "--confirmed"])
            .success();
    }
    let served = |title: &str| {
        daemon.wait(&format!("{title} served"), PATIENCE, || daemon.send(&get("/en/")).text().contains(title));
    };
    publish(
        &site,
        &[
            ("copy-fair.en", "Copy fair opens", "\"trade\"", "A trade fair."),
            ("copy-consul.en", "Copy consul visits", "\"foreign-affairs\"", "A visit."),
            ("copy-fair.zh", "复制贸易展开幕", "\"trade\"", "贸易展。"),
        ],
    );
    served("Copy fair opens");
    send_daily(&site);

    let mut first_copy = String::new();
    for lang in &languages {
        let lang = lang.as_str();
        let email = format!("copy.{lang}@example.org");
        let (html, text) = parts(&sink.wait_for(&email, t.get(lang, "digest_daily"), PATIENCE));
        let online = link_in(&html, &format!("{base}/{lang}/digests/daily/"));
        assert_eq!(link_in(&text, &format!("{base}/{lang}/digests/daily/")), online, "the text part links it too");
        assert!(online.ends_with("/trade/"), "the copy of the subscriber's sectors: {online}");
        assert!(html.contains(t.get(lang, "view_online")), "{lang}: the link says what it is");
        let path = online.strip_prefix(&base).expect("on the site").to_owned();
        let page = daemon.send(&get(&path));
        assert_eq!(page.status, 200, "{path}");
        let copy = page.text();
        assert_eq!(
            hrefs(&copy, "/articles/"),
            hrefs(&html, "/articles/"),
            "{lang}: the copy holds the message's articles"
        );
        assert!(!hrefs(&copy, "/articles/").is_empty(), "{lang}: the message had articles");
        for private in ["Wang Wei", &email, "token=", "/unsubscribe", "/preferences"] {
            assert!(!copy.contains(private), "{lang}: the web copy shows {private:?}:\n{copy}");
        }
        browser.goto(&online);
        let heading = browser.text("main h1");
        assert!(heading.contains(t.get(lang, "digest_daily")), "{lang}: the copy is titled by its digest: {heading}");
        audit.check(&format!("{lang} digest copy"));
        browser.goto(&format!("{base}/{lang}/digests/"));
        browser.expect_page(lang, t.get(lang, "digests_title"));
        audit.check(&format!("{lang} past digests"));
        if lang == "en" {
            first_copy = path;
        }
    }

    // The English copy for every sector has both articles; the subscriber's (trade) only one.
    let run_path = first_copy.trim_end_matches("trade/").to_owned();
    let everything = daemon.send(&get(&run_path)).text();
    assert!(everything.contains("Copy fair opens") && everything.contains("Copy consul visits"), "{everything}");
    let trade = daemon.send(&get(&first_copy)).text();
    assert!(trade.contains("Copy fair opens") && !trade.contains("Copy consul visits"), "{trade}");
    // One spelling per sector set; what is not a copy is not found.
    let both = daemon.send(&get(&format!("{run_path}trade+foreign-affairs/")));
    assert_eq!(both.status, 308, "another order is sent to the one spelling");
    assert_eq!(both.header("location"), Some(format!("{base}{run_path}foreign-affairs+trade/").as_str()));
    for missing in [
        format!("{run_path}sport/"),
        run_path.replace("/daily/", "/weekly/"),
        "/en/digests/daily/999999/".to_owned(),
        "/en/digests/daily/abc/".to_owned(),
        "/xx/digests/".to_owned(),
        "/en/digests/?before=abc".to_owned(),
    ] {
        assert_eq!(daemon.send(&get(&missing)).status, 404, "{missing}");
    }

    // A second run: the list and its feed show both, newest first. A reader who confirmed
    // between its two articles gets only the second: there is no copy of that, so no link.
    publish(&site, &[("copy-park.en", "Copy park signs", "\"trade\"", "A park.")]);
    site.subscribers(&["add", "mid.en@example.org", "--lang", "en", "--sectors", "trade", "--confirmed"]).success();
    publish(&site, &[("copy-port.en", "Copy port opens", "\"trade\"", "A port.")]);
    served("Copy port opens");
    send_daily(&site);
    let (mid, _) = parts(&sink.wait_for("mid.en@example.org", t.get("en", "digest_daily"), PATIENCE));
    assert!(mid.contains("Copy port opens") && !mid.contains("Copy park signs"), "{mid}");
    assert!(!mid.contains("/digests/"), "a message unlike every copy links none:\n{mid}");
    let second = sink
        .messages()
        .into_iter()
        .filter(|raw| String::from_utf8_lossy(raw).contains("copy.en@example.org"))
        .map(|raw| parts(&raw).0)
        .find(|html| html.contains("Copy port opens"))
        .expect("copy.en's second digest");
    let online = link_in(&second, &format!("{base}/en/digests/daily/"));
    let copy = daemon.send(&get(online.strip_prefix(&base).expect("on the site"))).text();
    assert_eq!(hrefs(&copy, "/articles/"), hrefs(&second, "/articles/"), "both articles, as in the message");
    let list = daemon.send(&get("/en/digests/")).text();
    let runs: Vec<String> = hrefs(&list, "/en/digests/daily/")
        .into_iter()
        .map(|l| l.strip_prefix(&base).unwrap_or(&l).to_owned())
        .collect();
    assert_eq!(runs.len(), 2, "two past digests listed:\n{list}");
    assert_eq!(runs[1], run_path, "the first run listed last");
    assert!(
        list.contains("Copy park signs") && list.contains("Copy port opens"),
        "each listed with its articles' titles"
    );
    let feed = daemon.send(&get("/en/digests/atom.xml"));
    assert_eq!(feed.status, 200);
    assert_eq!(feed.header("content-type"), Some("application/atom+xml; charset=utf-8"));
    let etag = feed.header("etag").expect("an ETag").to_owned();
    let file = site.root.join("digests.atom.xml");
    std::fs::write(&file, feed.text()).expect("write the feed");
    crate::validators::jing_atom(&file);
    crate::validators::schematron_atom(&file);
    let parsed = crate::validators::feedparser(&file);
    let entries = parsed["entries"].as_array().expect("entries");
    let entry_links: Vec<&str> = entries.iter().filter_map(|e| e["link"].as_str()).collect();
    assert_eq!(entry_links, [format!("{base}{}", runs[0]), format!("{base}{}", runs[1])], "{parsed:#}");
    assert!(entries[0]["title"].as_str().is_some_and(|t| t.contains("Daily news")), "{parsed:#}");
    let again = daemon.send(&crate::service::request("GET", "/en/digests/atom.xml", &[("If-None-Match", &etag)], b""));
    assert_eq!(again.status, 304, "the same runs give the same feed");

    // A preview is of no run: it has no copy to link.
    let preview = std::fs::read_to_string(preview(&site, "copy.en@example.org")).expect("the preview's HTML");
    assert!(!preview.contains("/digests/"), "{preview}");

    assert!(audit.found.is_empty(), "axe-core found violations:\n{}", audit.found.join("\n"));
}
