//! The office's bilingual press-release text files (fixtures in `tests/fixtures/press-releases/`,
//! copied into a temp store): both halves are published, linked as translations.

use crate::helpers::{Site, fixture};
use crate::readback::{assert_reads_back, utc_iso};
use crate::validators::{feedparser, validate_all};

const ZH_TITLE: &str = "市外办接待日本川崎市友好交流代表团";
const EN_TITLE: &str = "Shenyang Foreign Affairs Office Receives Friendship Delegation from Kawasaki";

fn press_site(names: &[&str]) -> Site {
    let site = Site::empty();
    for name in names {
        std::fs::copy(fixture(&format!("press-releases/{name}")), site.store.join(name)).expect("copy press release");
    }
    site
}

#[test]
fn gb18030_press_release_is_published_in_both_languages() {
    let site = press_site(&["gb18030.txt"]);
    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("errors"), 0, "{run}");
    validate_all(&site.out);

    let zh = assert_reads_back(&site, "zh");
    let en = assert_reads_back(&site, "en");
    assert_eq!(zh.len(), 1);
    assert_eq!(en.len(), 1);
    let (zh, en) = (&zh[0], &en[0]);
    assert_eq!(zh.title, ZH_TITLE);
    assert_eq!(en.title, EN_TITLE);
    // U+20BB7 is outside GBK: it only survives a real GB18030 decoder.
    assert!(zh.content_html.contains("代表团团长𠮷田一郎表示"), "{}", zh.content_html);
    assert!(!zh.content_html.contains('\u{fffd}'));
    assert!(en.content_html.contains("received a friendship delegation from Kawasaki"), "{}", en.content_html);
    // 时间：2023-07-12 is midnight in Asia/Shanghai.
    assert_eq!(utc_iso(zh.published), "2023-07-11T16:00:00Z");
    assert_eq!(zh.published, en.published);
    assert_eq!(zh.translations, [("en".to_owned(), en.url.clone(), EN_TITLE.to_owned())]);
    assert_eq!(en.translations, [("zh".to_owned(), zh.url.clone(), ZH_TITLE.to_owned())]);

    let parsed = feedparser(&site.out.join("zh/atom.xml"));
    let entry = &parsed["entries"][0];
    assert!(entry["content"][0].as_str().expect("content").contains("𠮷田一郎"), "{entry:#}");
    assert_eq!(entry["title"], ZH_TITLE);
}

#[test]
fn chinese_only_press_release_has_no_english_entry() {
    let site = press_site(&["zh-only.txt", "gb18030.txt"]);
    site.build().success();
    validate_all(&site.out);
    let zh = assert_reads_back(&site, "zh");
    let en = assert_reads_back(&site, "en");
    assert_eq!((zh.len(), en.len()), (2, 1));
    let notice = zh.iter().find(|e| e.title.starts_with("关于2023年因公出国")).expect("zh-only entry");
    assert!(notice.translations.is_empty(), "{notice:?}");
}

#[test]
fn broken_press_releases_are_reported_with_their_lines_and_the_rest_published() {
    let mut names: Vec<String> = std::fs::read_dir(fixture("press-releases"))
        .expect("press-release fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let site = press_site(&names.iter().map(String::as_str).collect::<Vec<_>>());
    let check = site.check();
    check.code(1);
    for (name, line, message) in [
        ("broken-impossible-date.txt", 3, "impossible date '2023-02-30'"),
        ("broken-no-date.txt", 3, "no date in the metadata line"),
        ("broken-undecodable.txt", 6, "undecodable bytes"),
    ] {
        let prefix = format!("error: {}:{line}: {message}", site.store.join(name).display());
        assert!(check.stdout.lines().any(|l| l.starts_with(&prefix)), "no {prefix:?}\n{check}");
    }
    assert_eq!(check.stdout.lines().filter(|l| l.starts_with("error: ")).count(), 3, "{check}");

    site.build().success();
    validate_all(&site.out);
    let zh = assert_reads_back(&site, "zh");
    let good = names.iter().filter(|n| !n.starts_with("broken-")).count();
    assert_eq!(zh.len(), good, "one zh entry per readable press release: {zh:#?}");
    for dir in ["en", "zh/trade", "zh/foreign-affairs", "en/trade", "en/foreign-affairs"] {
        assert_reads_back(&site, dir);
    }
}

#[test]
fn russian_half_is_published_as_a_translation_of_both_others() {
    let site = press_site(&["three-halves.txt"]);
    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("errors"), 0, "{run}");
    validate_all(&site.out);
    let [zh, en, ru] = ["zh", "en", "ru"].map(|lang| {
        let entries = assert_reads_back(&site, lang);
        assert_eq!(entries.len(), 1, "{lang}: {entries:#?}");
        entries.into_iter().next().expect("one entry")
    });
    assert_eq!(
        ru.title,
        "Канцелярия по иностранным делам г. Шэньян провела российско-китайскую встречу деловых партнёров"
    );
    assert!(ru.content_html.contains("более 40 компаний"), "{}", ru.content_html);
    assert_eq!(ru.published, zh.published);
    let langs = |entry: &crate::readback::Expected| -> Vec<String> {
        let mut langs: Vec<String> = entry.translations.iter().map(|(lang, _, _)| lang.clone()).collect();
        langs.sort();
        langs
    };
    assert_eq!(langs(&zh), ["en", "ru"]);
    assert_eq!(langs(&en), ["ru", "zh"]);
    assert_eq!(langs(&ru), ["en", "zh"]);
    assert!(ru.translations.contains(&("zh".to_owned(), zh.url.clone(), zh.title.clone())));
    let parsed = feedparser(&site.out.join("ru/atom.xml"));
    assert_eq!(parsed["feed"]["language"], "ru");
}

#[test]
fn gb18030_press_release_with_a_cyrillic_half_is_published_in_russian() {
    let site = press_site(&["gb18030-cyrillic.txt"]);
    site.build().success();
    validate_all(&site.out);
    let ru = assert_reads_back(&site, "ru");
    assert_eq!(ru.len(), 1);
    assert_eq!(ru[0].title, "Генеральное консульство России в Шэньяне открыло Неделю русского языка и культуры");
    assert!(ru[0].content_html.contains("Ёлка, щи и «Катюша»"), "{}", ru[0].content_html);
    assert!(!ru[0].content_html.contains('\u{fffd}'));
    assert!(assert_reads_back(&site, "en").is_empty());
}

#[test]
fn russian_half_is_skipped_with_a_notice_when_russian_is_not_configured() {
    let site = press_site(&["three-halves.txt"]);
    site.write_config(|config| {
        crate::helpers::table(config, "languages").remove("ru");
        for (_, sector) in crate::helpers::table(config, "sectors").iter_mut() {
            if let Some(name) = sector.get_mut("name").and_then(toml::Value::as_table_mut) {
                name.remove("ru");
            }
        }
    });
    let check = site.check();
    check.success();
    let notice = format!(
        "notice: {}: no configured language is written in Cyrl;",
        site.store.join("three-halves.txt").display()
    );
    assert!(check.stdout.lines().any(|l| l.starts_with(&notice)), "no {notice:?}\n{check}");
    site.build().success();
    validate_all(&site.out);
    assert_eq!(assert_reads_back(&site, "zh").len(), 1);
    assert_eq!(assert_reads_back(&site, "en").len(), 1);
    assert!(!site.out.join("ru").exists());
}
