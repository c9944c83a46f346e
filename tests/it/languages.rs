//! Languages as data (issue 10): Russian everywhere a language reaches, with CLDR's dates and
//! plural forms; a fourth language added by config and strings alone; and strings that lack a
//! key or a plural form stop gazette with an error naming the language, the key and the file.

use std::ffi::OsStr;

use mail_parser::MessageParser;

use crate::helpers::{Run, Site, repo, table};
use crate::readback::assert_reads_back;
use crate::service::{Daemon, get, request, served_site};
use crate::validators::validate_all;

fn digest(site: &Site, args: &[&str]) -> Run {
    site.run(std::iter::once(OsStr::new("digest")).chain(args.iter().map(OsStr::new)))
}

/// Every message in the site's outbox, raw.
fn outbox(site: &Site) -> Vec<Vec<u8>> {
    let dir = site.root.join("outbox");
    crate::helpers::files(&dir).iter().map(|name| std::fs::read(dir.join(name)).expect("read .eml")).collect()
}

/// Points the config's store at the site's own, so that `digest` reads it (`build` and `check`
/// are told with `--store`), with `edit` applied last.
fn configure(site: &Site, edit: impl FnOnce(&mut toml::Table)) {
    site.write_config(|config| {
        table(config, "store").insert("dir".into(), "store".into());
        edit(config);
    });
}

fn add_confirmed(site: &Site, email: &str, args: &[&str]) {
    let mut all = vec!["add", email, "--confirmed"];
    all.extend(args);
    site.subscribers(&all).success();
    site.sql("UPDATE subscribers SET confirmed_at = 0 WHERE status = 'confirmed'");
}

#[test]
fn russian_digest_subjects_take_the_plural_form_cldr_gives_each_count() {
    for (count, want) in [
        (1, "Еженедельные новости: 1 новая статья"),
        (3, "Еженедельные новости: 3 новые статьи"),
        (5, "Еженедельные новости: 5 новых статей"),
        (21, "Еженедельные новости: 21 новая статья"),
    ] {
        let site = Site::empty();
        configure(&site, |_| {});
        for i in 0..count {
            site.write_article(
                &format!("a{i}.ru.md"),
                &format!("+++\ntitle = \"Новость номер {i}\"\ndate = 2026-04-16\n+++\nТекст новости.\n"),
            );
        }
        add_confirmed(&site, "ivan@example.org", &["--lang", "ru", "--digest", "weekly"]);
        digest(&site, &["send", "weekly"]).success();
        let raw = outbox(&site).pop().expect("one message");
        assert!(raw.is_ascii(), "headers are encoded, bodies transfer-encoded");
        let parsed = MessageParser::default().parse(&raw).expect("a MIME message");
        assert_eq!(parsed.subject(), Some(want));
        let language = parsed.header_raw("Content-Language").map(str::trim);
        assert_eq!(language, Some("ru"));
        let text = parsed.body_text(0).expect("text");
        assert!(text.contains("16 апреля 2026\u{202f}г."), "dates as Russian readers write them:\n{text}");
        assert_eq!(text.matches("Новость номер").count(), count, "{text}");
    }
}

#[test]
fn a_russian_reader_gets_chinese_only_news_in_the_default_language_marked_so() {
    let site = Site::copy_of(&repo().join("articles"));
    configure(&site, |_| {});
    add_confirmed(&site, "olga@example.org", &["--lang", "ru", "--sectors", "foreign-affairs"]);
    digest(&site, &["send", "daily"]).success();
    let raw = outbox(&site).pop().expect("one message");
    let parsed = MessageParser::default().parse(&raw).expect("a MIME message");
    let text = parsed.body_text(0).expect("text");
    assert!(text.contains("领事提醒：春节期间出境旅行请提前办理签证 (пока нет на вашем языке)"), "{text}");
    assert!(text.contains("/ru/articles/sino-german-park-consulate/"), "its own language where it has one:\n{text}");
    let html = parsed.body_html(0).expect("html");
    assert!(html.contains("<html lang=\"ru\" dir=\"ltr\">") && html.contains("lang=\"zh\""), "{html}");
}

#[test]
fn pages_pick_russian_from_accept_language_and_write_dates_per_language() {
    let (site, port) = served_site("file://outbox", |_| {});
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", std::time::Duration::from_secs(20));
    let subscribe =
        |accept: &str| daemon.send(&request("GET", "/subscribe", &[("Accept-Language", accept)], b"")).text();
    assert!(subscribe("ru-RU,ru;q=0.9,en;q=0.8").contains("<html lang=\"ru\""));
    // Unlisted languages are passed over by quality among the configured ones.
    assert!(subscribe("fr-FR, de;q=0.9, en;q=0.5, ru;q=0.7").contains("<html lang=\"ru\""));
    assert!(subscribe("fr-FR, de;q=0.9").contains("<html lang=\"zh\""), "else the default language");
    for (lang, date) in [("ru", "16 апреля 2026\u{202f}г."), ("zh", "2026年4月16日"), ("en", "16 April 2026")]
    {
        let page = daemon.send(&get(&format!("/{lang}/"))).text();
        assert!(page.contains(date), "/{lang}/ lacks {date:?}:\n{page}");
        assert!(page.contains(&format!("<html lang=\"{lang}\" dir=\"ltr\">")), "{page}");
    }
    let article = daemon.send(&get("/ru/articles/sino-german-park-consulate/")).text();
    for lang in ["zh", "en"] {
        assert!(article.contains(&format!("hreflang=\"{lang}\"")), "the Russian page links its {lang} version");
    }
}

/// The site's strings with `edit` applied to the text of `templates/strings.toml`.
fn edit_strings(site: &Site, edit: impl FnOnce(String) -> String) {
    let path = site.root.join("templates/strings.toml");
    let text = std::fs::read_to_string(&path).expect("strings");
    std::fs::write(&path, edit(text)).expect("write strings");
}

#[test]
fn strings_missing_a_key_or_a_plural_form_stop_gazette_naming_language_key_and_file() {
    let site = Site::empty();
    configure(&site, |_| {});
    let path = site.root.join("templates/strings.toml");
    edit_strings(&site, |text| text.replace("few = \"{count} новые статьи\", ", ""));
    let check = site.check();
    check.code(1);
    let wanted = format!("{}: [ru] articles: no 'few' form, which ru (ru) needs", path.display());
    assert!(check.stdout.contains(&wanted), "{check}");
    let preview = digest(&site, &["preview", "daily", "--to", "x@example.org"]);
    assert!(preview.stderr.contains("no 'few' form"), "{preview}");

    let site = Site::empty();
    edit_strings(&site, |text| {
        let (head, ru) = text.split_once("[ru]").expect("a [ru] table");
        format!("{head}[ru]{}", ru.replace("read_more = \"Читать далее\"\n", ""))
    });
    let check = site.check();
    check.code(1);
    assert!(check.stdout.contains("[ru] has no 'read_more'") && check.stdout.contains("strings.toml"), "{check}");

    // A declared fallback lends the key, and check says so.
    configure(&site, |config| {
        table(table(config, "languages"), "ru").insert("fallback".into(), "en".into());
    });
    let check = site.check();
    check.success();
    assert!(check.stdout.contains("notice: strings: [ru] takes 1 from [en] (its fallback): read_more"), "{check}");
}

const KOREAN_STRINGS: &str = r#"
[ko]
digest_daily = "일일 뉴스"
digest_weekly = "주간 뉴스"
subject = "{digest}: {articles}"
articles = { other = "새 기사 {count}건" }
greeting_anonymous = "안녕하세요."
language_name = "한국어"
date_format = "long"
in_default_language = "(아직 한국어판이 없습니다)"
"#;

/// Korean added to a site's config, as an operator adds a language: a table, sector names,
/// and a fallback for the strings its small table lacks.
pub fn add_korean(config: &mut toml::Table) {
    let ko = table(table(config, "languages"), "ko");
    ko.insert("title".into(), "선양시 외사판공실 뉴스".into());
    ko.insert("author".into(), "선양시 인민정부 외사판공실".into());
    ko.insert("fallback".into(), "en".into());
    for (sector, name) in [("foreign-affairs", "외사"), ("trade", "경제·무역")] {
        table(table(table(config, "sectors"), sector), "name").insert("ko".into(), name.into());
    }
}

/// Korean strings in the site's templates and two Korean articles in its store.
pub fn add_korean_text(site: &Site) {
    edit_strings(site, |text| text + KOREAN_STRINGS);
    site.write_article(
        "2025/korea-business-matchmaking.ko.md",
        "+++\ntitle = \"한중 기업 비즈니스 매칭 상담회 개최\"\ndate = 2025-09-09\nsectors = [\"trade\"]\n+++\n\
         외사판공실은 9월 9일 한국 기업 30여 곳과 선양 기업의 비즈니스 매칭 상담회를 열었다.\n",
    );
    site.write_article(
        "2026/korea-consul-visit.ko.md",
        "+++\ntitle = \"주선양 대한민국 총영사 외사판공실 방문\"\ndate = 2026-03-12\nsectors = [\"foreign-affairs\"]\n+++\n\
         총영사는 영사 업무 협력에 대해 의견을 나누었다.\n",
    );
}

#[test]
fn a_fourth_language_takes_only_config_and_strings() {
    let site = Site::copy_of(&repo().join("articles"));
    configure(&site, add_korean);
    add_korean_text(&site);
    let check = site.check();
    check.success();
    assert!(check.stdout.contains("notice: strings: [ko] takes "), "check lists what ko borrows:\n{check}");
    site.build().success();
    let dirs = ["ko", "ko/trade", "ko/foreign-affairs"];
    let count = validate_all(&site.out);
    let archive_files = site.files().iter().filter(|f| f.contains("/archive/")).count();
    assert_eq!(count - archive_files, 4 * 3 * 3 + 1, "three feeds per language and sector, and index.opml");
    for dir in dirs {
        let entries = assert_reads_back(&site, dir);
        assert!(!entries.is_empty(), "{dir} has entries");
    }
    assert!(site.read("index.opml").contains("language=\"ko\""));
    let matchmaking = site.json_feed("ko/trade");
    let links = matchmaking["items"][0].to_string();
    assert!(links.contains("/en/articles/korea-business-matchmaking/"), "the ko entry links its translations: {links}");

    add_confirmed(&site, "kim@example.org", &["--lang", "ko"]);
    digest(&site, &["send", "daily"]).success();
    let raw = outbox(&site).pop().expect("one message");
    let parsed = MessageParser::default().parse(&raw).expect("a MIME message");
    assert_eq!(parsed.header_raw("Content-Language").map(str::trim), Some("ko"));
    let subject = parsed.subject().expect("subject");
    assert!(subject.starts_with("일일 뉴스: 새 기사 ") && subject.ends_with("건"), "{subject}");
    let text = parsed.body_text(0).expect("text");
    assert!(text.contains("2025년 9월 9일"), "Korean dates from CLDR:\n{text}");
    assert!(text.contains("(아직 한국어판이 없습니다)"), "fallback items marked in Korean:\n{text}");
}
