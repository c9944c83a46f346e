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
