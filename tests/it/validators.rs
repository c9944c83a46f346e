//! The outside validators, each run on one generated file and panicking with the tool's full
//! output when it objects: jing with the RFC 4287 RELAX NG schema and xmllint with its Schematron
//! rules (from `shared/validators/`), xmllint for well-formedness, Python feedparser (through
//! `tests/feedparser_dump.py`) and the `feed-rs` crate. Also gazette's own safety rules: no
//! script, event handler or `javascript:` URL and no XML-forbidden character in any file.

use std::path::{Path, PathBuf};
use std::process::Command;

use quick_xml::events::Event;
use serde_json::Value;

use crate::helpers::repo;

/// `shared/validators/`, beside the repository.
pub fn shared_validators() -> PathBuf {
    let dir = repo().join("../shared/validators");
    assert!(dir.join("atom.rnc").is_file(), "no {}/atom.rnc: shared/ must sit beside the repository", dir.display());
    dir
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(program: &str, args: &[&std::ffi::OsStr]) -> Output {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {program}: {e} (scripts/test installs it; run the tests through scripts/test)")
    });
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// jing's start-up noise about optional Java libraries Debian does not install.
fn is_jing_noise(line: &str) -> bool {
    line.starts_with("[warning]") && line.contains("Unable to locate")
}

/// RFC 4287's RELAX NG schema: `jing -c atom.rnc FILE` must exit 0 and say nothing.
#[track_caller]
pub fn jing_atom(file: &Path) {
    let schema = shared_validators().join("atom.rnc");
    let out = run("jing", &["-c".as_ref(), schema.as_os_str(), file.as_os_str()]);
    let complaints: Vec<&str> =
        out.stdout.lines().chain(out.stderr.lines()).filter(|l| !l.trim().is_empty() && !is_jing_noise(l)).collect();
    assert!(
        out.code == Some(0) && complaints.is_empty(),
        "jing: {} is not valid Atom (exit {:?}):\n{}\n--- stdout\n{}--- stderr\n{}",
        file.display(),
        out.code,
        complaints.join("\n"),
        out.stdout,
        out.stderr
    );
}

/// The Schematron rules of RFC 4287: `xmllint --noout --schematron atom-rules.sch FILE` must
/// say "FILE validates" and nothing else.
#[track_caller]
pub fn schematron_atom(file: &Path) {
    let rules = shared_validators().join("atom-rules.sch");
    let out = run("xmllint", &["--noout".as_ref(), "--schematron".as_ref(), rules.as_os_str(), file.as_os_str()]);
    let said: Vec<&str> = out.stdout.lines().chain(out.stderr.lines()).filter(|l| !l.trim().is_empty()).collect();
    let expected = format!("{} validates", file.display());
    assert!(
        out.code == Some(0) && said == [expected.as_str()],
        "xmllint --schematron: {} breaks an Atom rule (exit {:?}):\n--- stdout\n{}--- stderr\n{}",
        file.display(),
        out.code,
        out.stdout,
        out.stderr
    );
}

/// `xmllint --noout FILE`: well-formed XML, silently.
#[track_caller]
pub fn xmllint_well_formed(file: &Path) {
    let out = run("xmllint", &["--noout".as_ref(), file.as_os_str()]);
    assert!(
        out.code == Some(0) && out.stdout.trim().is_empty() && out.stderr.trim().is_empty(),
        "xmllint: {} is not well-formed XML (exit {:?}):\n--- stdout\n{}--- stderr\n{}",
        file.display(),
        out.code,
        out.stdout,
        out.stderr
    );
}

/// The Python that has feedparser: `$GAZETTE_PYTHON`, else `.venv/bin/python`.
pub fn python() -> PathBuf {
    let python = std::env::var_os("GAZETTE_PYTHON").map_or_else(|| repo().join(".venv/bin/python"), PathBuf::from);
    assert!(
        python.is_file(),
        "no Python with feedparser at {} (GAZETTE_PYTHON or .venv/bin/python): run the tests through scripts/test, \
         which installs it",
        python.display()
    );
    python
}

/// What feedparser read from `file`, as printed by `tests/feedparser_dump.py`, bozo or not.
#[track_caller]
pub fn feedparser_any(file: &Path) -> Value {
    let script = repo().join("tests/feedparser_dump.py");
    let python = python();
    let out = run(&python.to_string_lossy(), &[script.as_os_str(), file.as_os_str()]);
    assert!(
        out.code == Some(0),
        "feedparser_dump.py failed on {} (exit {:?}); if feedparser is missing, run scripts/test:\n{}{}",
        file.display(),
        out.code,
        out.stdout,
        out.stderr
    );
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("feedparser_dump.py printed no JSON for {}: {e}\n{}", file.display(), out.stdout))
}

/// What feedparser read from `file`; panics if feedparser flags it (`bozo`) or finds no version.
#[track_caller]
pub fn feedparser(file: &Path) -> Value {
    let parsed = feedparser_any(file);
    assert_eq!(
        parsed["bozo"],
        Value::Bool(false),
        "feedparser: {} is bozo: {}\n{parsed:#}",
        file.display(),
        parsed["bozo_exception"]
    );
    assert!(
        parsed["version"].as_str().is_some_and(|v| !v.is_empty()),
        "feedparser does not recognise {} as a feed:\n{parsed:#}",
        file.display()
    );
    parsed
}

/// `file` parsed by the `feed-rs` crate.
#[track_caller]
pub fn feed_rs(file: &Path) -> feed_rs::model::Feed {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    feed_rs::parser::parse(bytes.as_slice()).unwrap_or_else(|e| panic!("feed-rs cannot parse {}: {e}", file.display()))
}

/// Strings that must never reach a reader's screen as markup or a URL, matched ignoring case.
const HAZARDS: [&str; 5] = ["<script", "onerror", "onload", "javascript:", "<iframe"];

/// Is `c` forbidden in an XML 1.0 document (and so in any text gazette publishes)?
pub fn is_forbidden_char(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The text a reader of the XML `bytes` gets: every text node, CDATA section and attribute
/// value with the entity and character references resolved, one per line.
pub fn xml_text(bytes: &[u8], file: &Path) -> String {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let decoder = reader.decoder();
    let mut out = String::new();
    let fail = |e: &dyn std::fmt::Display| -> ! { panic!("{}: {e}", file.display()) };
    loop {
        match reader.read_event().unwrap_or_else(|e| fail(&e)) {
            Event::Start(e) | Event::Empty(e) => {
                out.push('\n');
                for attr in e.attributes() {
                    let attr = attr.unwrap_or_else(|e| fail(&e));
                    out.push_str(
                        &attr
                            .decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, decoder)
                            .unwrap_or_else(|e| fail(&e)),
                    );
                    out.push('\n');
                }
            }
            Event::End(_) => out.push('\n'),
            Event::Text(t) => out.push_str(&t.decode().unwrap_or_else(|e| fail(&e))),
            Event::CData(t) => out.push_str(&t.decode().unwrap_or_else(|e| fail(&e))),
            Event::GeneralRef(r) => match r.resolve_char_ref().unwrap_or_else(|e| fail(&e)) {
                Some(c) => out.push(c),
                None => out.push_str(match r.decode().unwrap_or_else(|e| fail(&e)).as_ref() {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    other => fail(&format!("undeclared entity &{other};")),
                }),
            },
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// Every string in a JSON document, one per line.
fn json_strings(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        Value::Object(fields) => fields.iter().for_each(|(k, v)| {
            out.push_str(k);
            out.push('\n');
            json_strings(v, out);
        }),
        _ => {}
    }
}

/// No script, event handler, `javascript:` URL or XML-forbidden character in `file`, looking
/// at the bytes and at the text once XML (or JSON) escapes are resolved.
#[track_caller]
pub fn no_hazards(file: &Path) {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let raw = std::str::from_utf8(&bytes).unwrap_or_else(|e| panic!("{} is not UTF-8: {e}", file.display()));
    let text = if file.extension() == Some("json".as_ref()) {
        let value: Value = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        let mut text = String::new();
        json_strings(&value, &mut text);
        text
    } else {
        xml_text(&bytes, file)
    };
    for (what, s) in [("bytes", raw), ("unescaped text", text.as_str())] {
        if let Some((at, c)) = s.char_indices().find(|&(_, c)| is_forbidden_char(c)) {
            let context: String = s[at.saturating_sub(60)..].chars().take(120).collect();
            panic!("{}: XML-forbidden character {c:?} in its {what}: {context:?}", file.display());
        }
        let lower = s.to_lowercase();
        for hazard in HAZARDS {
            if let Some(at) = lower.find(hazard) {
                let context: String = s[at.saturating_sub(80).min(at)..].chars().take(160).collect();
                panic!("{}: {hazard:?} in its {what}: {context:?}", file.display());
            }
        }
    }
}

/// Every validator that applies to the output file `rel` under `out`, by its name.
#[track_caller]
pub fn validate_file(out: &Path, rel: &str) {
    let file = out.join(rel);
    no_hazards(&file);
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    match name {
        "atom.xml" => {
            xmllint_well_formed(&file);
            jing_atom(&file);
            schematron_atom(&file);
            let parsed = feedparser(&file);
            assert_eq!(parsed["version"], "atom10", "{rel}");
            what_jing_misses(&file, &parsed);
            feed_rs(&file);
        }
        "rss.xml" => {
            xmllint_well_formed(&file);
            let parsed = feedparser(&file);
            assert_eq!(parsed["version"], "rss20", "{rel}");
            what_jing_misses(&file, &parsed);
            feed_rs(&file);
        }
        "feed.json" => {
            json_feed_shape(&file);
            feed_rs(&file);
        }
        "index.opml" => xmllint_well_formed(&file),
        _ => panic!("unexpected output file {rel}"),
    }
}

/// Is `id` an absolute URI of a kind feeds use: `http(s)://…`, `urn:…`, or an RFC 4151 `tag:`
/// URI (`tag:host,YYYY[-MM[-DD]]:specific`)?
pub fn is_entry_id(id: &str) -> bool {
    if let Some(rest) = id.strip_prefix("tag:") {
        let Some((authority, specific)) = rest.split_once(':') else { return false };
        let Some((host, date)) = authority.rsplit_once(',') else { return false };
        let date_ok = [4, 7, 10].contains(&date.len())
            && date.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        return !host.is_empty() && date_ok && !specific.is_empty() && !id.contains(char::is_whitespace);
    }
    (id.starts_with("https://") || id.starts_with("http://") || id.starts_with("urn:"))
        && !id.contains(char::is_whitespace)
}

/// What the README says jing does not check, read from feedparser's view of an Atom or RSS
/// file: entry ids unique and URIs; dates with a zone; no two `alternate` links of an entry with
/// the same type and hreflang (RFC 4287 §4.1.1).
#[track_caller]
pub fn what_jing_misses(file: &Path, parsed: &Value) {
    let at = file.display();
    let entries = parsed["entries"].as_array().expect("entries");
    let mut ids = std::collections::BTreeSet::new();
    for entry in entries {
        let id = entry["id"].as_str().unwrap_or_else(|| panic!("{at}: an entry has no id: {entry:#}"));
        assert!(is_entry_id(id), "{at}: entry id {id:?} is not a tag: or http(s) URI");
        assert!(ids.insert(id), "{at}: duplicate entry id {id:?}");
        for key in ["published_raw", "updated_raw"] {
            if let Some(date) = entry[key].as_str() {
                let zone_ok = chrono::DateTime::parse_from_rfc3339(date).is_ok()
                    || crate::readback::has_numeric_offset(date) && chrono::DateTime::parse_from_rfc2822(date).is_ok();
                assert!(zone_ok, "{at}: {id}: date {date:?} is neither RFC 3339 nor RFC 2822 with a numeric offset");
            }
        }
        let mut alternates = std::collections::BTreeSet::new();
        for link in entry["links"].as_array().expect("links").iter().filter(|l| l["rel"] == "alternate") {
            let key = (link["type"].to_string(), link["hreflang"].to_string());
            assert!(alternates.insert(key), "{at}: {id}: two alternate links with one type and hreflang: {link}");
        }
    }
}

/// Every validator on every file under `out`; returns how many files there were.
#[track_caller]
pub fn validate_all(out: &Path) -> usize {
    let files = crate::helpers::files(out);
    assert!(!files.is_empty(), "no files in {}", out.display());
    for rel in &files {
        validate_file(out, rel);
    }
    files.len()
}

/// The members JSON Feed 1.1 requires, with the right types (no outside validator exists).
#[track_caller]
pub fn json_feed_shape(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let feed: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
    let at = file.display();
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1", "{at}");
    assert!(feed["title"].as_str().is_some_and(|t| !t.is_empty()), "{at}: no title");
    for key in ["home_page_url", "feed_url"] {
        let url = feed[key].as_str().unwrap_or_else(|| panic!("{at}: no {key}"));
        assert!(url.starts_with("https://"), "{at}: {key} {url} is not absolute");
    }
    let items = feed["items"].as_array().unwrap_or_else(|| panic!("{at}: items is not an array"));
    for item in items {
        assert!(item["id"].as_str().is_some_and(|s| !s.is_empty()), "{at}: item without id: {item}");
        assert!(
            item["content_html"].is_string() || item["content_text"].is_string(),
            "{at}: item without content: {item}"
        );
        for key in ["date_published", "date_modified"] {
            let date = item[key].as_str().unwrap_or_else(|| panic!("{at}: item without {key}: {item}"));
            chrono::DateTime::parse_from_rfc3339(date)
                .unwrap_or_else(|e| panic!("{at}: {key} {date:?} is not RFC 3339: {e}"));
        }
    }
}

/// The metric family names the Prometheus project's own parser (`prometheus_client`'s
/// OpenMetrics parser) reads from `text`; panics with its error if it refuses the text.
#[track_caller]
pub fn openmetrics(text: &str) -> Vec<String> {
    use std::io::Write as _;
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
                  for f in text_string_to_metric_families(sys.stdin.read()):\n    print(f.name)\n";
    let mut child = std::process::Command::new(python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write metrics");
    let output = child.wait_with_output().expect("python ends");
    assert!(
        output.status.success(),
        "the OpenMetrics parser refused:\n{}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}
