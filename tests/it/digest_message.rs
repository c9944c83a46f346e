//! Digest messages parsed back with a real MIME parser (`mail-parser`): headers, parts,
//! encodings, absolute links, the signed unsubscribe link in both parts, and hostile names and
//! titles that must not inject headers. Display names and subjects are also read back by
//! Python's `email` parser (`tests/mail_headers.py`), which keeps the space between adjacent
//! encoded-words of a name (issue 9).

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use gazette::config::Config;
use gazette::links;
use gazette::mail::message::{Body, Envelope, digest_message};
use gazette::render::{DigestView, ItemView, Renderer};
use gazette::tokens::{Purpose, Signer};
use mail_parser::MessageParser;

fn config() -> Config {
    let text = crate::helpers::config_text(|_| {});
    Config::parse(&text, &crate::helpers::repo().join("config.toml")).expect("the repository config parses")
}

fn item(title: &str, url: &str, lang: &str, fallback: bool) -> ItemView {
    ItemView {
        title: title.into(),
        url: url.into(),
        summary: "Summary with <b>markup</b> & ampersands".into(),
        date: "2026-11-24".into(),
        sectors: vec!["Trade".into()],
        fallback,
        lang: lang.into(),
    }
}

struct Sent {
    raw: Vec<u8>,
    token: String,
}

fn send(config: &Config, lang: &str, name: Option<&str>, items: Vec<ItemView>) -> Sent {
    let signer = Signer::from_key(b"test key of at least thirty-two bytes").unwrap();
    let token = signer.sign(Purpose::Unsubscribe, 42, "li@example.org", 1_700_000_000);
    let unsubscribe_url = links::unsubscribe_url(config, &token);
    let view = DigestView {
        lang: lang.into(),
        digest: "daily".into(),
        name: name.map(str::to_owned),
        items,
        unsubscribe_url: unsubscribe_url.clone(),
        preferences_url: links::preferences_url(config, &signer.sign(Purpose::Preferences, 42, "li@example.org", 1)),
        notice: None,
        online_url: Some(links::digest_copy(config, lang, "daily", 7, None)),
    };
    let rendered = Renderer::load(config).expect("templates load").digest(&view).expect("renders");
    let envelope = Envelope {
        email: "li@example.org",
        name,
        lang,
        digest: "daily",
        run: 7,
        subscriber: 42,
        unsubscribe_url: &unsubscribe_url,
        date: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
    };
    let message = digest_message(config, &envelope, &rendered).expect("message builds");
    Sent { raw: message.formatted(), token }
}

/// A header's value as written (unfolded, trimmed).
fn header_text(parsed: &mail_parser::Message, name: &str) -> String {
    let raw = parsed.header_raw(name).unwrap_or_else(|| panic!("no {name} header"));
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn an_english_digest_has_every_header_and_both_parts() {
    let config = config();
    let sent = send(
        &config,
        "en",
        Some("Li Wei"),
        vec![item("Trade fair & expo <2026>", "https://news.example.gov.cn/en/articles/fair/", "en", false)],
    );
    let parsed = MessageParser::default().parse(&sent.raw).expect("a MIME message");
    assert_eq!(parsed.subject(), Some("Daily news: 1 new article"));
    let to = parsed.to().and_then(|a| a.first()).expect("To");
    assert_eq!((to.name(), to.address()), (Some("Li Wei"), Some("li@example.org")));
    assert_eq!(parsed.message_id(), Some("gazette.daily.7.42@fao.example.gov.cn"));
    assert!(parsed.date().is_some());
    assert_eq!(header_text(&parsed, "List-Id"), "<daily.fao.example.gov.cn>");
    assert_eq!(header_text(&parsed, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    assert_eq!(header_text(&parsed, "Content-Language"), "en");
    let unsubscribe = format!("https://news.example.gov.cn/unsubscribe?token={}", sent.token);
    assert_eq!(
        header_text(&parsed, "List-Unsubscribe"),
        format!("<{unsubscribe}>, <mailto:news@fao.example.gov.cn?subject=unsubscribe>")
    );

    let text = parsed.body_text(0).expect("a text part");
    let html = parsed.body_html(0).expect("an HTML part");
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
    for body in [&text, &html] {
        assert!(body.contains(&unsubscribe), "the unsubscribe link is in every part:\n{body}");
        assert!(body.contains("https://news.example.gov.cn/en/articles/fair/"));
    }
    assert!(text.contains("Trade fair & expo <2026>"), "plain text is not escaped:\n{text}");
    assert!(html.contains("Trade fair &amp; expo &lt;2026&gt;"), "HTML escapes the title:\n{html}");
    assert!(html.contains("Summary with &lt;b&gt;markup&lt;/b&gt;"), "summaries are text, not HTML:\n{html}");
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("<style"), "email-safe HTML");
    let hrefs: Vec<&str> = html.split("href=\"").skip(1).filter_map(|s| s.split('"').next()).collect();
    assert!(!hrefs.is_empty() && hrefs.iter().all(|h| h.starts_with("https://")), "every link is absolute: {hrefs:?}");
}

#[test]
fn a_chinese_digest_encodes_subject_and_name_and_marks_fallback_items() {
    let config = config();
    let sent = send(
        &config,
        "zh",
        Some("王伟"),
        vec![
            item("中俄经贸合作产业园", "https://news.example.gov.cn/zh/articles/park/", "zh", false),
            item("Notice only in English", "https://news.example.gov.cn/en/articles/notice/", "en", true),
        ],
    );
    let raw = String::from_utf8_lossy(&sent.raw);
    assert!(raw.is_ascii(), "headers are encoded, bodies transfer-encoded:\n{raw}");
    let parsed = MessageParser::default().parse(&sent.raw).expect("a MIME message");
    assert_eq!(parsed.subject(), Some("每日外事新闻：2 条新闻"));
    assert_eq!(parsed.to().and_then(|a| a.first()).and_then(|a| a.name()), Some("王伟"));
    let from = parsed.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.name(), Some("沈阳市人民政府外事办公室 Foreign Affairs Office"));
    let text = parsed.body_text(0).expect("text");
    assert!(text.contains("王伟，您好") && text.contains("中俄经贸合作产业园"), "{text}");
    assert!(text.contains("Notice only in English （本文暂无您所选语言的版本）"), "{text}");
    let html = parsed.body_html(0).expect("html");
    assert!(html.contains("<html lang=\"zh\" dir=\"ltr\">") && html.contains("lang=\"en\""), "{html}");
}

#[test]
fn hostile_names_and_titles_cannot_inject_headers() {
    let config = config();
    let sent = send(
        &config,
        "en",
        Some("Eve\r\nBcc: victim@example.org"),
        vec![item("Title\r\nBcc: other@example.org", "https://news.example.gov.cn/en/articles/x/", "en", false)],
    );
    let raw = String::from_utf8_lossy(&sent.raw);
    let headers = raw.split("\r\n\r\n").next().expect("a header block");
    assert!(!headers.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{headers}");
    let parsed = MessageParser::default().parse(&sent.raw).expect("a MIME message");
    assert!(parsed.bcc().is_none());
    assert_eq!(parsed.to().and_then(|a| a.first()).and_then(|a| a.name()), Some("Eve Bcc: victim@example.org"));
}

/// A digest to `name` with `subject`, from the repository's `mail.from` and with `reply_to`.
fn message_to(name: &str, subject: &str, reply_to: &str) -> Vec<u8> {
    let text = crate::helpers::config_text(|c| {
        crate::helpers::table(c, "mail").insert("reply_to".into(), reply_to.into());
    });
    let config = Config::parse(&text, &crate::helpers::repo().join("config.toml")).expect("the config parses");
    let envelope = Envelope {
        email: "li@example.org",
        name: Some(name),
        lang: "zh",
        digest: "daily",
        run: 7,
        subscriber: 42,
        unsubscribe_url: "https://news.example.gov.cn/unsubscribe?token=t",
        date: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
    };
    let body = Body { subject: subject.into(), text: "text".into(), html: "<p>html</p>".into() };
    digest_message(&config, &envelope, &body).expect("message builds").formatted()
}

/// (display name, address) of the first mailbox of an address header, as mail-parser reads it.
fn first(address: Option<&mail_parser::Address>) -> (String, String) {
    let a = address.and_then(|a| a.first()).expect("an address");
    (a.name().unwrap_or_default().to_owned(), a.address().unwrap_or_default().to_owned())
}

#[test]
fn display_names_and_subjects_read_back_exactly_in_python_and_mail_parser() {
    const OFFICE: &str = "沈阳市人民政府外事办公室 Foreign Affairs Office";
    let reply_to = r#"王伟 Ann "A" O'Neil, Jr."#;
    let names = [
        "沈阳市人民政府外事办公室 Foreign Affairs Office",
        r#"Ann "A" O'Neil, Jr."#,
        "Li 王伟 Wei",
        "Zoë Müller-Lüdenscheidt",
        "王伟 李娜 Li Na (press)",
        "Li Wei",
    ];
    // lettre cuts the encoded-words of a subject inside words too, but an unstructured header
    // joins adjacent encoded-words in every reader tried: it reads back exactly.
    let subject = "每日外事新闻 Daily Foreign Affairs News：沈阳市人民政府外事办公室 Foreign Affairs Office, Zoë Müller-Lüdenscheidt Ångström 2026年12月";
    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<std::path::PathBuf> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let raw = message_to(name, subject, r#""王伟 Ann \"A\" O'Neil, Jr." <desk@fao.example.gov.cn>"#);
            let parsed = MessageParser::default().parse(&raw).expect("a MIME message");
            assert_eq!(first(parsed.from()), (OFFICE.into(), "news@fao.example.gov.cn".into()));
            assert_eq!(first(parsed.to()), ((*name).into(), "li@example.org".into()));
            assert_eq!(first(parsed.reply_to()), (reply_to.into(), "desk@fao.example.gov.cn".into()));
            assert_eq!(parsed.subject(), Some(subject));
            let file = dir.path().join(format!("{i}.eml"));
            std::fs::write(&file, raw).expect("write");
            file
        })
        .collect();
    let output = std::process::Command::new(crate::validators::python())
        .arg(crate::helpers::repo().join("tests/mail_headers.py"))
        .args(&files)
        .output()
        .expect("python runs");
    assert!(output.status.success(), "mail_headers.py: {}", String::from_utf8_lossy(&output.stderr));
    let lines = String::from_utf8(output.stdout).expect("utf-8");
    let read: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(read.len(), names.len());
    for (name, read) in names.iter().zip(&read) {
        assert_eq!(read["from"], serde_json::json!([[OFFICE, "news@fao.example.gov.cn"]]), "{read}");
        assert_eq!(read["to"], serde_json::json!([[name, "li@example.org"]]), "{read}");
        assert_eq!(read["reply_to"], serde_json::json!([[reply_to, "desk@fao.example.gov.cn"]]), "{read}");
        assert_eq!(read["subject"], subject, "{read}");
    }
}

#[test]
fn templates_that_do_not_parse_are_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    crate::helpers::copy_dir(&crate::helpers::repo().join("templates"), dir.path());
    std::fs::write(dir.path().join("digest/body.html"), "{% for x in %}").unwrap();
    let mut config = config();
    config.templates.dir = dir.path().to_path_buf();
    let err = format!("{:#}", Renderer::load(&config).err().expect("a broken template is refused"));
    assert!(err.contains(&Path::new("digest/body.html").display().to_string()), "{err}");
}
