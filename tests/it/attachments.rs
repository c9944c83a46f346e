//! Press-release attachments under attack, against the real server: URLs that try to leave
//! the folder or reach files no attachment block names, blocks that name what must never be
//! published (links, folders, FIFOs, article sources, the site's own files, active content),
//! articles not (or no longer) published, and names that would break `Content-Disposition`.

use std::path::Path;
use std::time::Duration;

use crate::helpers::{Site, copy_dir, fixture};
use crate::service::{Daemon, Response, get, served_site};

/// The Chinese notice's page, as served.
pub const NOTICE: &str = "/zh/articles/notice-attachments/";

/// Written into every file that must never be served, so a leak shows in any body.
const SECRET: &str = "SECRET-MUST-NOT-LEAK";

/// A served site whose store holds the CMS fixtures under `cms/`, edited by `prepare` (given
/// the site and that folder) before the daemon starts and builds.
pub fn serve(prepare: impl FnOnce(&Site, &Path)) -> (Site, Daemon) {
    let (site, port) = served_site("file://outbox", |_| {});
    let cms = site.store.join("cms");
    copy_dir(&fixture("press-releases-cms"), &cms);
    prepare(&site, &cms);
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", Duration::from_secs(30));
    (site, daemon)
}

/// Waits for a build after the `before`-th, the count of `feeds built` lines so far.
pub fn wait_for_build(daemon: &Daemon, before: usize) {
    daemon.wait("a rebuild", Duration::from_secs(30), || daemon.log().matches("feeds built").count() > before);
}

/// Percent-encodes every byte of `name` that is not unreserved, as a client would.
pub fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn assert_refused(r: &Response, path: &str) {
    assert!(matches!(r.status, 400 | 404), "{path}: {} {:?}", r.status, r.headers);
    assert!(!r.text().contains(SECRET), "{path} leaked: {}", r.text());
}

#[test]
fn no_url_reaches_a_file_that_no_published_block_names() {
    let (site, daemon) = serve(|site, cms| {
        std::fs::write(site.root.join("config.toml.bak"), SECRET).expect("outside file");
        std::fs::write(cms.join("secret.docx"), SECRET).expect("unnamed file");
        std::fs::write(cms.join(".hidden.pdf"), SECRET).expect("hidden file");
        std::fs::write(cms.join("Résumé.pdf"), SECRET).expect("unnamed nfc file");
    });
    assert_eq!(daemon.send(&get(&format!("{NOTICE}{}", encode("参会回执.docx")))).status, 200);
    let config = site.root.join("config.toml");
    let absolute = encode(config.to_str().expect("utf-8"));
    for attack in [
        "news-item.txt".to_owned(),
        "notice-attachments.txt".to_owned(),
        "secret.docx".to_owned(),
        ".hidden.pdf".to_owned(),
        "..".to_owned(),
        "%2e%2e".to_owned(),
        "..%2f..%2f..%2fconfig.toml".to_owned(),
        "%2e%2e%2f%2e%2e%2f%2e%2e%2fconfig.toml".to_owned(),
        "..%5c..%5c..%5cconfig.toml".to_owned(),
        "%252e%252e%252f%252e%252e%252fconfig.toml".to_owned(),
        "%c0%ae%c0%ae%c0%afconfig.toml".to_owned(),
        "%e0%80%ae%e0%80%ae%2fconfig.toml".to_owned(),
        format!("{}%00.pdf", encode("参会回执.docx")),
        format!("{}%00", encode("参会回执.docx")),
        format!("{}%2f", encode("参会回执.docx")),
        format!("{}%20", encode("参会回执.docx")),
        encode("参会回执.DOCX"),
        absolute,
        "%2fetc%2fpasswd".to_owned(),
        "..\\..\\..\\config.toml".to_owned(),
        "%ef%bc%8e%ef%bc%8e%ef%bc%8fconfig.toml".to_owned(),
        // `Résumé.pdf` decomposed (NFD): a different name, never normalised into one listed.
        "Re%CC%81sume%CC%81.pdf".to_owned(),
        "R%C3%A9sum%C3%A9.pdf".to_owned(),
        // The English half's own file through the Chinese version.
        "Reply%20Form.docx".to_owned(),
    ] {
        let path = format!("{NOTICE}{attack}");
        assert_refused(&daemon.send(&get(&path)), &path);
    }
    // A file another article names, through an article that does not name it; and paths the
    // router must not resolve into the folder.
    for path in [
        format!("/zh/articles/news-item/{}", encode("参会回执.docx")),
        format!("/zh/articles/no-such-article/{}", encode("参会回执.docx")),
        format!("/xx/articles/notice-attachments/{}", encode("参会回执.docx")),
        format!("{NOTICE}../../../config.toml"),
        format!("{NOTICE}a/../{}", encode("参会回执.docx")),
        "/zh/articles/%2e%2e/config.toml".to_owned(),
    ] {
        assert_refused(&daemon.send(&get(&path)), &path);
    }
}

/// A press release in `cms/` titled `title` whose block names `names`, one a line.
pub fn write_release(cms: &Path, file: &str, title: &str, date: &str, names: &[&str]) {
    let mut text = format!("{title}\n时间：{date}\n正文第一段。\n附件：\n");
    for (i, name) in names.iter().enumerate() {
        text.push_str(&format!("{}.{name}\n", i + 1));
    }
    std::fs::write(cms.join(file), text).expect("press release");
}

/// The attachment names the JSON Feed `zh/feed.json` gives the item titled `title`.
pub fn feed_names(site: &Site, title: &str) -> Vec<String> {
    let feed = site.json_feed("zh");
    let item = feed["items"].as_array().expect("items").iter().find(|i| i["title"] == title).cloned();
    let item = item.unwrap_or_else(|| panic!("no {title:?}: {feed:#}"));
    item["attachments"]
        .as_array()
        .map(|a| a.iter().map(|a| a["title"].as_str().expect("title").to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn a_block_never_publishes_links_folders_fifos_sources_site_files_or_active_content() {
    let refused = [
        "link.pdf",
        "dir.pdf",
        "fifo.pdf",
        "hostile.txt",
        "draft.md",
        "other.txt",
        "page.html",
        "logo.svg",
        "feed.xml",
        "script.js",
        "config.toml",
        "gazette.db",
    ];
    let (site, daemon) = serve(|site, cms| {
        std::fs::write(site.root.join("outside.pdf"), SECRET).expect("outside");
        std::os::unix::fs::symlink(site.root.join("outside.pdf"), cms.join("link.pdf")).expect("symlink");
        std::fs::create_dir(cms.join("dir.pdf")).expect("folder");
        let fifo = std::process::Command::new("mkfifo").arg(cms.join("fifo.pdf")).status().expect("mkfifo");
        assert!(fifo.success());
        std::fs::write(
            cms.join("draft.md"),
            format!("+++\ntitle = \"草稿\"\ndate = 2024-05-01T09:00:00+08:00\ndraft = true\n+++\n{SECRET}\n"),
        )
        .expect("draft");
        std::fs::write(cms.join("other.txt"), format!("未来的新闻\n时间：2099-01-01\n{SECRET}\n")).expect("future");
        for name in ["page.html", "logo.svg", "feed.xml", "script.js", "config.toml", "gazette.db"] {
            std::fs::write(
                cms.join(name),
                format!("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'>{SECRET}</svg>"),
            )
            .expect("file");
        }
        std::fs::write(cms.join("good.pdf"), "%PDF-1.4\n").expect("good");
        let mut names = refused.to_vec();
        names.push("good.pdf");
        write_release(cms, "hostile.txt", "有附件的通知", "2024-05-06", &names);
    });
    assert_eq!(feed_names(&site, "有附件的通知"), ["good.pdf"]);
    let page = "/zh/articles/hostile/";
    assert_eq!(daemon.send(&get(&format!("{page}good.pdf"))).status, 200);
    for name in refused {
        let path = format!("{page}{}", encode(name));
        assert_refused(&daemon.send(&get(&path)), &path);
    }
    let html = daemon.send(&get(page)).text();
    assert!(!html.contains("hostile/page.html"), "{html}");
}

#[test]
fn attachments_of_held_back_and_deleted_articles_are_not_served() {
    let docx = format!("{NOTICE}{}", encode("参会回执.docx"));
    let (site, daemon) = serve(|_, cms| {
        std::fs::write(cms.join("plan.pdf"), SECRET).expect("attachment");
        write_release(cms, "future.txt", "明年的通知", "2099-01-01", &["plan.pdf"]);
    });
    for path in ["/zh/articles/future/plan.pdf", "/zh/articles/future/"] {
        assert_refused(&daemon.send(&get(path)), path);
    }
    assert_eq!(daemon.send(&get(&docx)).status, 200);

    // A file changed after the build: the next build announces what is served.
    let pdf = format!("{NOTICE}{}", encode("日程安排.pdf"));
    let before = daemon.log().matches("feeds built").count();
    std::fs::write(site.store.join("cms/日程安排.pdf"), vec![b'x'; 4321]).expect("rewrite");
    wait_for_build(&daemon, before);
    let served = daemon.send(&get(&pdf));
    assert_eq!(served.body.len(), 4321);
    let feed = site.json_feed("zh");
    let item = feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["url"].as_str().is_some_and(|u| u.ends_with(NOTICE)))
        .cloned();
    let item = item.expect("notice item");
    let announced =
        item["attachments"].as_array().expect("attachments").iter().find(|a| a["title"] == "日程安排.pdf").cloned();
    assert_eq!(announced.expect("pdf")["size_in_bytes"], 4321);

    // A file removed is gone at once; the article removed takes its files with it.
    std::fs::remove_file(site.store.join("cms/日程安排.pdf")).expect("remove");
    assert_eq!(daemon.send(&get(&pdf)).status, 404);
    let before = daemon.log().matches("feeds built").count();
    std::fs::remove_file(site.store.join("cms/notice-attachments.txt")).expect("remove");
    wait_for_build(&daemon, before);
    assert_eq!(daemon.send(&get(&docx)).status, 404);
    assert!(site.store.join("cms/参会回执.docx").is_file());
}

#[test]
fn a_block_of_ten_thousand_names_or_a_two_gigabyte_file_stops_no_other_article() {
    let site = Site::empty();
    let cms = site.store.clone();
    copy_dir(&fixture("press-releases-cms"), &cms);
    let names: Vec<String> = (0..10_000).map(|i| format!("file-{i:05}.pdf")).collect();
    for name in &names {
        std::fs::write(cms.join(name), "%PDF-1.4\n").expect("attachment");
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // One a line, unnumbered (list numbers stop at two digits).
    let block = format!("一万个附件\n时间：2024-05-06\n正文第一段。\nAttachments:\n{}\n", refs.join("\n"));
    std::fs::write(cms.join("many.txt"), block).expect("press release");
    let huge = std::fs::File::create(cms.join("huge.zip")).expect("create");
    huge.set_len(2 << 30).expect("sparse file");
    write_release(&cms, "huge.txt", "两个G的附件", "2024-05-06", &["huge.zip"]);

    let started = std::time::Instant::now();
    let run = site.build();
    run.success();
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}\n{run}", started.elapsed());
    assert_eq!(feed_names(&site, "两个G的附件"), ["huge.zip"]);
    assert_eq!(
        site.json_feed("zh")["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["title"] == "两个G的附件")
            .expect("item")["attachments"][0]["size_in_bytes"],
        2u64 << 30
    );
    assert_eq!(feed_names(&site, "关于举办2024年沈阳国际友城合作交流会的通知"), ["参会回执.docx", "日程安排.pdf"]);
    // A release names a reasonable number of files; the rest of a runaway block is text, told.
    let many = feed_names(&site, "一万个附件");
    assert_eq!(many.len(), 100, "{} attachments", many.len());
    assert_eq!(many[..], refs[..100]);
    let feed_bytes = std::fs::metadata(site.out.join("zh/feed.json")).expect("feed").len();
    assert!(feed_bytes < 1 << 20, "zh/feed.json is {feed_bytes} bytes");
    let check = site.check();
    check.success();
    assert!(check.stdout.contains("attachments: more than 100"), "{check}");
}
