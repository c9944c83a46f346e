//! Press releases shaped like real government CMS exports (`tests/fixtures/press-releases-cms/`):
//! page chrome dropped in both halves, metadata lines as fields, salutations kept out of
//! summaries, attachments published as enclosures in every feed format and served over HTTP
//! with their type, length and download name; `check --explain` snapshotted.

use std::ffi::OsStr;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Site, copy_dir, fixture};
use crate::readback::assert_reads_back;
use crate::service::{Daemon, get, served_site};
use crate::validators::{feed_rs, feedparser, validate_all};

/// Chrome that must never reach a feed.
const CHROME: [&str; 10] =
    ["字体", "打印", "关闭窗口", "分享到", "扫一扫", "上一篇", "下一篇", "相关新闻", "Share to", "责任编辑"];

fn cms_site() -> Site {
    let site = Site::empty();
    copy_dir(&fixture("press-releases-cms"), &site.store);
    site
}

/// The JSON Feed item titled `title` in feed folder `dir`.
fn item(site: &Site, dir: &str, title: &str) -> Value {
    let feed = site.json_feed(dir);
    let items = feed["items"].as_array().expect("items");
    items.iter().find(|i| i["title"] == title).unwrap_or_else(|| panic!("no {title:?} in {dir}: {feed:#}")).clone()
}

fn assert_no_chrome(item: &Value) {
    let text = format!("{} {}", item["content_html"], item["summary"]);
    for chrome in CHROME {
        assert!(!text.contains(chrome), "{chrome:?} in {item:#}");
    }
}

#[test]
fn cms_exports_publish_clean_text_fields_and_summaries_in_every_feed() {
    let site = cms_site();
    let run = site.build();
    run.success();
    assert_eq!(run.summary_field("errors"), 0, "{run}");
    validate_all(&site.out);
    let zh = assert_reads_back(&site, "zh");
    let en = assert_reads_back(&site, "en");
    assert_eq!((zh.len(), en.len()), (4, 3), "{zh:#?}\n{en:#?}");

    // A news item: chrome before and after the body and in the English half; fields per half.
    let news = item(&site, "zh", "市外办会见韩国驻沈阳总领事");
    assert_no_chrome(&news);
    assert!(news["summary"].as_str().expect("summary").starts_with("3月18日，市外办主任会见韩国驻沈阳总领事一行"));
    assert_eq!(news["content_html"].as_str().expect("html").matches("<p>").count(), 2, "{news:#}");
    assert_eq!(news["authors"][0]["name"], "孙悦");
    assert_eq!(news["date_published"], "2024-03-18T15:20:00+08:00");
    let news_en =
        item(&site, "en", "Shenyang Foreign Affairs Office Meets Consul General of the Republic of Korea in Shenyang");
    assert_no_chrome(&news_en);
    assert!(news_en["summary"].as_str().expect("summary").starts_with("On March 18, the Director-General"));
    // Never the Chinese half's 作者: the language's own publisher.
    assert_eq!(news_en["authors"][0]["name"], "Foreign Affairs Office of Shenyang Municipal Government");
    assert!(!news_en["content_html"].as_str().expect("html").contains("Source:"));

    // A notice: the salutation stays in the text but does not start the summary.
    let notice = item(&site, "zh", "关于举办2024年沈阳国际友城合作交流会的通知");
    assert!(notice["summary"].as_str().expect("summary").starts_with("为深化与国际友好城市的务实合作"), "{notice:#}");
    assert!(notice["content_html"].as_str().expect("html").starts_with("<p>各有关单位：</p>"));
    assert!(!notice["content_html"].as_str().expect("html").contains("附件"));
    assert_eq!(notice["authors"][0]["name"], "李华");
    let notice_en = item(&site, "en", "Notice on the 2024 Shenyang International Sister-City Cooperation Conference");
    assert!(
        notice_en["summary"].as_str().expect("summary").starts_with("The Shenyang Foreign Affairs Office will hold")
    );

    // Chinese only, GB18030 with CRLF and full-width indents.
    let only = item(&site, "zh", "市外办2024年第一季度因公出国（境）团组信息公开");
    assert_no_chrome(&only);
    assert!(!only["content_html"].as_str().expect("html").contains("阅读"));
    assert_eq!(only["summary"], "根据有关规定，现将2024年第一季度因公出国（境）团组信息予以公开。");

    // Chrome on the metadata line: the fields come out clean.
    let meta = item(&site, "zh", "市外办组织开展外事法规培训");
    assert_no_chrome(&meta);
    assert_eq!(meta["date_published"], "2024-01-09T10:30:00+08:00");
    assert_eq!(meta["content_html"].as_str().expect("html").matches("<p>").count(), 2);
}

#[test]
fn attachments_are_enclosures_in_atom_rss_and_json_feed() {
    let site = cms_site();
    site.build().success();
    validate_all(&site.out);
    let notice = item(&site, "zh", "关于举办2024年沈阳国际友城合作交流会的通知");
    let attachments = notice["attachments"].as_array().expect("attachments");
    let size = |name: &str| std::fs::metadata(site.store.join(name)).expect("attachment").len();
    let names: Vec<&str> = attachments.iter().map(|a| a["title"].as_str().expect("title")).collect();
    assert_eq!(names, ["参会回执.docx", "日程安排.pdf"]);
    let page = notice["url"].as_str().expect("url");
    let docx = &attachments[0];
    assert_eq!(docx["url"], format!("{page}%E5%8F%82%E4%BC%9A%E5%9B%9E%E6%89%A7.docx"));
    assert_eq!(docx["mime_type"], "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    assert_eq!(docx["size_in_bytes"], size("参会回执.docx"));
    assert_eq!(attachments[1]["mime_type"], "application/pdf");

    let atom = feedparser(&site.out.join("zh/atom.xml"));
    let entry =
        atom["entries"].as_array().expect("entries").iter().find(|e| e["title"] == notice["title"]).expect("entry");
    let enclosures = entry["enclosures"].as_array().expect("enclosures");
    assert_eq!(enclosures.len(), 2, "{entry:#}");
    assert_eq!(enclosures[0]["href"], docx["url"]);
    assert_eq!(enclosures[0]["length"], size("参会回执.docx").to_string());
    assert_eq!(enclosures[1]["type"], "application/pdf");

    let rss = feedparser(&site.out.join("zh/rss.xml"));
    let item_rss =
        rss["entries"].as_array().expect("entries").iter().find(|e| e["title"] == notice["title"]).expect("item");
    let enclosures = item_rss["enclosures"].as_array().expect("enclosures");
    assert_eq!(enclosures.len(), 1, "RSS carries the first attachment only: {item_rss:#}");
    assert_eq!(enclosures[0]["href"], docx["url"]);
    assert_eq!(enclosures[0]["length"], size("参会回执.docx").to_string());

    let parsed = feed_rs(&site.out.join("zh/atom.xml"));
    let entry =
        parsed.entries.iter().find(|e| e.title.as_ref().is_some_and(|t| t.content == notice["title"])).expect("entry");
    let enclosure = entry.links.iter().find(|l| l.rel.as_deref() == Some("enclosure")).expect("enclosure link");
    assert_eq!(enclosure.length, Some(size("参会回执.docx")));

    // The English half names its own files; one is shared with the Chinese half.
    let notice_en = item(&site, "en", "Notice on the 2024 Shenyang International Sister-City Cooperation Conference");
    let names: Vec<&str> = notice_en["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .map(|a| a["title"].as_str().expect("title"))
        .collect();
    assert_eq!(names, ["Reply Form.docx", "日程安排.pdf"]);
    assert!(notice_en["attachments"][0]["url"].as_str().expect("url").ends_with("/Reply%20Form.docx"));
    // No attachment block, no enclosures.
    assert!(item(&site, "zh", "市外办会见韩国驻沈阳总领事").get("attachments").is_none());
}

#[test]
fn a_missing_or_escaping_attachment_stays_text_and_is_a_notice() {
    let site = Site::empty();
    let text = "标题\n时间：2024-05-06\n正文。\n附件：1.不存在.docx\n附件：../../etc/passwd\n";
    site.write_article("notice.txt", text);
    std::fs::write(site.root.join("passwd"), "secret").expect("outside file");
    let check = site.check();
    check.success();
    let path = site.store.join("notice.txt");
    for notice in [
        "line 4: attachment '不存在.docx' is not a file beside the press release; kept as text",
        "line 5: attachment '../../etc/passwd' is not a file beside the press release; kept as text",
    ] {
        let line = format!("notice: {}: {notice}", path.display());
        assert!(check.stdout.lines().any(|l| l == line), "no {line:?}\n{check}");
    }
    site.build().success();
    validate_all(&site.out);
    let item = &site.json_feed("zh")["items"][0];
    assert!(item.get("attachments").is_none(), "{item:#}");
    let html = item["content_html"].as_str().expect("html");
    assert!(html.contains("附件：1.不存在.docx") && html.contains("附件：../../etc/passwd"), "{html}");
}

#[test]
fn attachment_is_served_with_its_type_length_and_chinese_download_name() {
    let (site, port) = served_site("file://outbox", |_| {});
    copy_dir(&fixture("press-releases-cms"), &site.store.join("cms"));
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", Duration::from_secs(20));
    let notice = site.json_feed("zh")["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["title"] == "关于举办2024年沈阳国际友城合作交流会的通知")
        .expect("notice")
        .clone();
    let url = notice["attachments"][0]["url"].as_str().expect("url");
    let path = url.strip_prefix(&format!("http://127.0.0.1:{port}")).expect("own site");
    let r = daemon.send(&get(path));
    let bytes = std::fs::read(site.store.join("cms/参会回执.docx")).expect("attachment");
    assert_eq!(r.status, 200, "{path}");
    assert_eq!(r.body, bytes);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    );
    assert_eq!(r.header("content-length"), Some(bytes.len().to_string().as_str()));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"____.docx\"; filename*=UTF-8''%E5%8F%82%E4%BC%9A%E5%9B%9E%E6%89%A7.docx")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));

    // The article page links it.
    let page_path =
        notice["url"].as_str().expect("url").strip_prefix(&format!("http://127.0.0.1:{port}")).expect("own");
    let page = daemon.send(&get(page_path));
    assert!(String::from_utf8_lossy(&page.body).contains(url), "the page links the attachment");

    // Only listed names, only from the article's folder.
    let folder = page_path.trim_end_matches('/');
    for refused in [
        format!("{folder}/news-item.txt"),
        format!("{folder}/..%2f..%2fconfig.toml"),
        format!("{folder}/%2e%2e"),
        format!("{folder}/%E4%B8%8D%E5%AD%98%E5%9C%A8.docx"),
    ] {
        assert_eq!(daemon.send(&get(&refused)).status, 404, "{refused}");
    }
}

#[test]
fn check_explain_shows_each_files_parse() {
    let site = cms_site();
    let files = ["news-item.txt", "notice-attachments.txt", "chinese-only.txt", "chrome-in-metadata.txt"];
    let mut args: Vec<&OsStr> = vec![OsStr::new("check"), OsStr::new("--explain")];
    let paths: Vec<_> = files.iter().map(|f| site.store.join(f)).collect();
    args.extend(paths.iter().map(|p| p.as_os_str()));
    let run = site.run(args);
    run.success();
    let store = format!("{}/", site.store.display());
    insta::assert_snapshot!("check_explain", run.stdout.replace(&store, "store/"));
}
