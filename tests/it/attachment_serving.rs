//! How attachments are served, checked over TCP against the real server: download names read
//! back by Python's RFC 2231 parser with a safe ASCII fallback, headers that keep any file
//! from running as a page of the site, large files streamed (HEAD, ranges) and revalidated.

use std::process::Command;

use crate::attachments::{NOTICE, encode, feed_names, serve, write_release};
use crate::service::{Response, get, request};
use crate::validators::python;

/// Names that stress `Content-Disposition`: quotes, a percent escape, an apostrophe and a
/// semicolon, accents, Chinese with spaces and brackets.
const NAMES: [&str; 6] = [
    "a \"quoted\" name.pdf",
    "50%41 off.pdf",
    "O'Brien & Co=v2.pdf",
    "Résumé.pdf",
    "参会回执 (最终版).docx",
    "ünï-名.xlsx",
];

/// The two download names Python's `email` package reads from a `Content-Disposition`: the
/// RFC 8187 `filename*`, decoded (which RFC 6266 §4.3 has recipients prefer), and the plain
/// `filename`.
fn python_filenames(value: &str) -> (String, String) {
    let script = "import json, sys, email.message, email.utils\n\
                  m = email.message.Message()\nm['Content-Disposition'] = sys.argv[1]\n\
                  ps = [v for k, v in m.get_params(header='content-disposition') if k == 'filename']\n\
                  ext = [email.utils.collapse_rfc2231_value(v) for v in ps if isinstance(v, tuple)]\n\
                  plain = [v for v in ps if not isinstance(v, tuple)]\n\
                  print(json.dumps([ext, plain]))\n";
    let out = Command::new(python()).args(["-c", script, value]).output().expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (ext, plain): (Vec<String>, Vec<String>) = serde_json::from_slice(&out.stdout).expect("json");
    match (&ext[..], &plain[..]) {
        ([ext], [plain]) => (ext.clone(), plain.clone()),
        _ => panic!("not one of each in {value}: {ext:?} {plain:?}"),
    }
}

/// The quoted `filename="…"` of a `Content-Disposition`.
fn fallback(value: &str) -> &str {
    let start = value.find("filename=\"").expect("filename") + "filename=\"".len();
    let end = value[start..].find('"').expect("closing quote");
    &value[start..start + end]
}

fn assert_safe_headers(r: &Response, path: &str) {
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
    let csp = r.header("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP: {:?}", r.headers));
    assert!(csp.contains("sandbox") && csp.contains("default-src 'none'"), "{path}: {csp}");
    let disposition = r.header("content-disposition").expect("disposition");
    assert!(disposition.starts_with("attachment;"), "{path}: {disposition}");
}

#[test]
fn download_names_read_back_through_rfc_2231_with_a_plain_ascii_fallback() {
    let (site, daemon) = serve(|_, cms| {
        for name in NAMES {
            std::fs::write(cms.join(name), name).expect("attachment");
        }
        write_release(cms, "names.txt", "名字古怪的附件", "2024-05-06", &NAMES);
    });
    assert_eq!(feed_names(&site, "名字古怪的附件"), NAMES);
    for name in NAMES {
        let path = format!("/zh/articles/names/{}", encode(name));
        let r = daemon.send(&get(&path));
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.body, name.as_bytes());
        assert_safe_headers(&r, &path);
        let disposition = r.header("content-disposition").expect("disposition");
        let (ext, plain) = python_filenames(disposition);
        assert_eq!(ext, name, "{disposition}");
        assert_eq!(plain, fallback(disposition), "{disposition}");
        assert!(
            plain.chars().all(|c| c.is_ascii_graphic() || c == ' ') && !plain.contains(['"', '\\', '%']),
            "{disposition}"
        );
    }
}

/// The peak resident memory of a process, in KiB (`VmHWM`).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
}

#[test]
fn a_large_attachment_is_streamed_ranged_and_revalidated() {
    const LEN: u64 = 256 << 20;
    let (_site, daemon) = serve(|_, cms| {
        // Sparse: no disk used, but every byte a read.
        let file = std::fs::File::create(cms.join("archive.zip")).expect("create");
        file.set_len(LEN).expect("sparse file");
        write_release(cms, "big.txt", "大附件", "2024-05-06", &["archive.zip"]);
    });
    let path = "/zh/articles/big/archive.zip";
    let before = peak_kib(daemon.pid());

    let head = daemon.send(&request("HEAD", path, &[], b""));
    assert_eq!(head.status, 200, "{:?}", head.headers);
    assert_eq!(head.header("content-length"), Some(LEN.to_string().as_str()));
    assert_eq!(head.header("accept-ranges"), Some("bytes"));
    assert_safe_headers(&head, path);
    assert!(head.body.is_empty());
    let grew = peak_kib(daemon.pid()).saturating_sub(before);
    assert!(grew < 64 << 10, "the daemon grew by {grew} KiB answering HEAD of a {LEN}-byte file");

    let part = daemon.send(&request("GET", path, &[("Range", "bytes=1000-1009")], b""));
    assert_eq!(part.status, 206, "{:?}", part.headers);
    assert_eq!(part.header("content-range"), Some(format!("bytes 1000-1009/{LEN}").as_str()));
    assert_eq!(part.body, [0; 10]);
    let tail = daemon.send(&request("GET", path, &[("Range", "bytes=-3")], b""));
    assert_eq!((tail.status, tail.body.len()), (206, 3));
    assert_eq!(tail.header("content-range"), Some(format!("bytes {}-{}/{LEN}", LEN - 3, LEN - 1).as_str()));
    let beyond = daemon.send(&request("GET", path, &[("Range", &format!("bytes={LEN}-"))], b""));
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some(format!("bytes */{LEN}").as_str()));

    let etag = head.header("etag").expect("etag").to_owned();
    let again = daemon.send(&request("GET", path, &[("If-None-Match", &etag)], b""));
    assert_eq!((again.status, again.body.len()), (304, 0));
    // A range of a version the client no longer has is the whole new file (If-Range).
    let stale = daemon.send(&request("HEAD", path, &[("Range", "bytes=0-9"), ("If-Range", "\"old\"")], b""));
    assert_eq!(stale.status, 200);

    let grew = peak_kib(daemon.pid()).saturating_sub(before);
    assert!(grew < 64 << 10, "the daemon grew by {grew} KiB serving ranges of a {LEN}-byte file");
    drop(daemon);
}

#[test]
fn attachments_carry_the_type_the_feeds_announce() {
    let (site, daemon) = serve(|_, _| {});
    let feed = site.json_feed("zh");
    let items = feed["items"].as_array().expect("items");
    let notice = items.iter().find(|i| i["url"].as_str().is_some_and(|u| u.ends_with(NOTICE))).expect("notice");
    for attachment in notice["attachments"].as_array().expect("attachments") {
        let url = attachment["url"].as_str().expect("url");
        let path = &url[url.find(NOTICE).expect("own page")..];
        let r = daemon.send(&get(path));
        assert_eq!(r.header("content-type"), attachment["mime_type"].as_str(), "{path}");
        assert_eq!(r.header("content-length").map(str::to_owned), Some(attachment["size_in_bytes"].to_string()));
        assert_safe_headers(&r, path);
    }
}
