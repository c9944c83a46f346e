//! `/feeds/...`: the files of the feed folder, served the way feed readers and caches expect:
//! the registered `Content-Type` with `charset=utf-8`, a strong `ETag` made from the content,
//! `Last-Modified`, `304 Not Modified` for `If-None-Match` and `If-Modified-Since`, gzip for
//! clients that ask (a separate entity, so a separate tag), and `HEAD` (axum answers it from
//! the `GET` route without the body). Nothing outside the folder can be reached: `..`, `.`,
//! empty and encoded separators are refused before the file system is asked, and no path
//! component may be a symbolic link.
//!
//! Files are read once per version: the bytes, the tag, the compressed copy and the headers
//! are kept until the file changes (a new build replaces it by rename, so its inode changes).
//! A path asked for again is answered from memory, without asking the file system, while
//! nothing was swapped in [`crate::live::Live`] (the daemon's own builds) and the file was
//! looked at less than [`RECHECK`] ago (a `gazette build` run beside the service). Caches may
//! keep them for a minute. (Archive pages are rendered when asked for: `super::archive`.)

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use sha2::Digest as _;

/// Files kept in memory at most; beyond it the cache starts again.
const CACHE_FILES: usize = 4096;
/// How long a path is answered from memory before the file system is asked again.
const RECHECK: Duration = Duration::from_secs(1);
/// How long caches may reuse a feed without asking again.
pub(super) const MAX_AGE: &str = "public, max-age=60";
/// A sealed archive page changes only if an article of its month is edited or deleted.
pub(super) const SEALED: &str = "public, max-age=31536000, immutable";

/// What decides a file's version: its inode, length and mtime.
type Identity = (u64, u64, i64, i64);

/// One version of one document, as served.
pub(super) struct Cached {
    identity: Identity,
    cache_control: &'static str,
    etag: Tag,
    /// The tag of the gzip copy: another entity, so another tag.
    gzip_etag: Tag,
    last_modified: SystemTime,
    /// `last_modified` as the header carries it.
    last_modified_header: HeaderValue,
    content_type: &'static str,
    body: Bytes,
    gzip: OnceLock<Option<Bytes>>,
}

/// An entity tag, as compared and as sent.
struct Tag {
    text: String,
    header: HeaderValue,
}

impl Tag {
    fn new(text: String) -> Tag {
        // The tags are ASCII made here; the fallback cannot happen.
        let header = HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("\"\""));
        Tag { text, header }
    }
}

/// `time` as `Last-Modified` carries it.
fn date_header(time: SystemTime) -> HeaderValue {
    // An HTTP date is ASCII; the fallback cannot happen.
    HeaderValue::from_str(&httpdate::fmt_http_date(time)).unwrap_or(HeaderValue::from_static(""))
}

/// A path's answer, kept for [`RECHECK`] while the generation it was made in lasts.
struct Recent {
    file: Arc<Cached>,
    link: Option<HeaderValue>,
    checked: Instant,
}

/// The feed folder's files, read once per version.
#[derive(Default)]
pub struct FeedFiles {
    cache: Mutex<HashMap<PathBuf, Arc<Cached>>>,
    recent: RwLock<RecentAnswers>,
}

/// The answers of one generation by the path as requested (after `/feeds/`), for paths sent
/// with no percent-encoding: so no stranger can fill the map with spellings of one path.
#[derive(Default)]
struct RecentAnswers {
    generation: u64,
    by_path: HashMap<Box<str>, Recent>,
}

/// The media type a feed file (`en/atom.xml`) is served and delivered with.
pub(crate) fn content_type_of(rel: &str) -> &'static str {
    content_type(Path::new(rel)).unwrap_or("application/octet-stream")
}

/// The registered media type of a feed file, by name.
fn content_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "xml" if path.file_stem().is_some_and(|s| s == "rss") => Some("application/rss+xml; charset=utf-8"),
        "xml" => Some("application/atom+xml; charset=utf-8"),
        "json" => Some("application/feed+json; charset=utf-8"),
        "opml" => Some("text/x-opml; charset=utf-8"),
        _ => None,
    }
}

/// The relative path `raw` (still percent-encoded, as in the request line) names under the
/// folder, or `None` if it tries to leave it or names something that is not a plain file name.
fn safe_relative(raw: &str) -> Option<PathBuf> {
    let lower = raw.to_ascii_lowercase();
    // An encoded separator or NUL is never part of a feed's name.
    if ["%2f", "%5c", "%00"].iter().any(|bad| lower.contains(bad)) {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().ok()?;
    let mut path = PathBuf::new();
    for segment in decoded.split('/') {
        let is_plain = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && !segment.starts_with('.')
            && !segment.contains(['\\', '\0']);
        if !is_plain {
            return None;
        }
        path.push(segment);
    }
    Some(path)
}

/// The answer to a file-system error caused by what the request named, or `None` for a fault
/// of the server. A path through a file (`atom.xml/x.xml`, ENOTDIR), a name over 255 bytes or
/// a path over 4096 (ENAMETOOLONG) and a file removed meanwhile do not exist as far as the
/// client can tell; a file or folder the service may not read (EACCES) is forbidden.
fn refusal(e: &std::io::Error) -> Option<StatusCode> {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::InvalidFilename => Some(StatusCode::NOT_FOUND),
        ErrorKind::PermissionDenied => Some(StatusCode::FORBIDDEN),
        _ => None,
    }
}

/// Is `name` one of the tags in an `If-None-Match` value (weak comparison, RFC 9110 13.1.2)?
pub(super) fn none_match(value: &str, tags: &[&str]) -> bool {
    value.split(',').map(str::trim).any(|t| t == "*" || tags.contains(&t.trim_start_matches("W/")))
}

/// Does the client accept gzip (`Accept-Encoding` lists `gzip` or `*` without `q=0`)?
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else { return false };
    value.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()).is_some_and(|q| q <= 0.0));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

impl FeedFiles {
    /// The response to `raw` (after `/feeds/`, as sent) if it was answered moments ago in
    /// `generation` of the live site and catalog: no file system call, nothing made anew.
    pub fn respond_recent(&self, raw: &str, headers: &HeaderMap, generation: u64) -> Option<Response> {
        let (file, link) = {
            let recent = self.recent.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if recent.generation != generation {
                return None;
            }
            let entry = recent.by_path.get(raw).filter(|r| r.checked.elapsed() < RECHECK)?;
            (entry.file.clone(), entry.link.clone())
        };
        let mut response = respond_with(&file, headers);
        if let Some(link) = link {
            response.headers_mut().insert(header::LINK, link);
        }
        Some(response)
    }

    /// The response to a `GET` or `HEAD` of `raw` (the part of the path after `/feeds/`, as
    /// sent) under the folder `dir`, with a `Link` header `link` when given; kept for
    /// [`FeedFiles::respond_recent`] as of `generation` (read before `dir` and `link` were).
    pub fn respond(&self, dir: &Path, raw: &str, headers: &HeaderMap, link: Option<&str>, generation: u64) -> Response {
        let checked = Instant::now();
        match self.file(dir, raw) {
            Ok(Some(file)) => {
                let link = link.and_then(|l| HeaderValue::from_str(l).ok());
                let mut response = respond_with(&file, headers);
                if let Some(value) = &link {
                    response.headers_mut().insert(header::LINK, value.clone());
                }
                if !raw.contains('%') {
                    // The gzip copy is made here, on the blocking pool, so that an answer from
                    // memory never compresses.
                    file.gzip();
                    let mut recent = self.recent.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                    // Made in an older generation: of no use, and not to clear the newer ones.
                    if generation >= recent.generation {
                        if generation > recent.generation || recent.by_path.len() >= CACHE_FILES {
                            recent.by_path.clear();
                            recent.generation = generation;
                        }
                        recent.by_path.insert(raw.into(), Recent { file, link, checked });
                    }
                }
                response
            }
            Ok(None) => StatusCode::NOT_FOUND.into_response(),
            Err(e) => match refusal(&e) {
                // The client chose the path: what it names is its own affair, logged only for
                // debugging, so no request can write errors into the log.
                Some(status) => {
                    tracing::debug!(error = %e, path = ?raw, status = status.as_u16(), "a feed path the file system refused");
                    status.into_response()
                }
                None => {
                    // A fault of this server (a failing disk, the folder gone): the operator
                    // needs to know, and the path shows which file (quoted, as sent).
                    tracing::error!(error = %e, path = ?raw, "cannot serve a feed file");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            },
        }
    }

    /// The current version of the file, or `None` when there is no such servable file.
    fn file(&self, dir: &Path, raw: &str) -> std::io::Result<Option<Arc<Cached>>> {
        let Some(relative) = safe_relative(raw) else { return Ok(None) };
        let Some(content_type) = content_type(&relative) else { return Ok(None) };
        // Every component must be a real folder or file: a symbolic link planted in the
        // folder must not lead out of it.
        let mut path = dir.to_path_buf();
        let mut metadata = None;
        for component in relative.components() {
            path.push(component);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => return Ok(None),
                Ok(m) => metadata = Some(m),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let Some(metadata) = metadata.filter(std::fs::Metadata::is_file) else { return Ok(None) };
        let identity = (metadata.ino(), metadata.len(), metadata.mtime(), metadata.mtime_nsec());
        if let Some(cached) = self.lock().get(&path).filter(|c| c.identity == identity) {
            return Ok(Some(cached.clone()));
        }
        let body = Bytes::from(std::fs::read(&path)?);
        let hash = sha2::Sha256::digest(&body);
        let etag = format!("\"{}\"", base16(&hash[..16]));
        let mut cached = Cached::new(body, etag, metadata.modified()?, content_type, MAX_AGE);
        cached.identity = identity;
        let cached = Arc::new(cached);
        let mut cache = self.lock();
        if cache.len() >= CACHE_FILES {
            cache.clear();
        }
        cache.insert(path, cached.clone());
        Ok(Some(cached))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Cached>>> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn base16(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Cached {
    /// A document made in memory (no file behind it), with its tag.
    pub(super) fn new(
        body: Bytes,
        etag: String,
        last_modified: SystemTime,
        content_type: &'static str,
        cache_control: &'static str,
    ) -> Cached {
        Cached {
            identity: (0, 0, 0, 0),
            cache_control,
            gzip_etag: Tag::new(gzip_etag(&etag)),
            etag: Tag::new(etag),
            last_modified,
            last_modified_header: date_header(last_modified),
            content_type,
            body,
            gzip: OnceLock::new(),
        }
    }

    /// The length of the plain copy.
    pub(super) fn len(&self) -> usize {
        self.body.len()
    }

    /// The gzip copy (made on first request), unless compressing fails.
    fn gzip(&self) -> Option<&Bytes> {
        self.gzip
            .get_or_init(|| {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(&self.body).and_then(|()| encoder.finish()).ok().map(Bytes::from)
            })
            .as_ref()
    }
}

/// The tag of the gzip copy of the entity tagged `etag`: a different entity, so a different
/// strong tag.
fn gzip_etag(etag: &str) -> String {
    format!("{}-gzip\"", etag.trim_end_matches('"'))
}

/// Does the client hold the version tagged `etag`, last modified at `last_modified`?
fn is_not_modified(etag: &str, last_modified: SystemTime, headers: &HeaderMap) -> bool {
    match headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        // Only the tag of the version being served: a cache holding the gzip copy must not
        // get a 304 for the plain one.
        Some(value) => none_match(value, &[etag]),
        // If-Modified-Since counts only without If-None-Match (RFC 9110 13.1.3).
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|since| {
                let modified = last_modified.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                let since = since.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                modified.as_secs() <= since.as_secs()
            }),
    }
}

/// The headers every answer about a document carries.
fn describe(response: &mut Response, etag: HeaderValue, last_modified: HeaderValue, cache_control: &'static str) {
    let h = response.headers_mut();
    h.insert(header::ETAG, etag);
    h.insert(header::LAST_MODIFIED, last_modified);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// A `304 Not Modified` for a client that holds the version of a document tagged `etag` (in
/// the encoding it would be sent in), before the document itself is at hand; `None` when the
/// client needs the body.
pub(super) fn unchanged(
    etag: &str,
    last_modified: SystemTime,
    cache_control: &'static str,
    headers: &HeaderMap,
) -> Option<Response> {
    let etag = if accepts_gzip(headers) { gzip_etag(etag) } else { etag.to_owned() };
    if !is_not_modified(&etag, last_modified, headers) {
        return None;
    }
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    describe(&mut response, Tag::new(etag).header, date_header(last_modified), cache_control);
    Some(response)
}

/// The answer to a `GET` or `HEAD` of `file`: the body (gzip when the client accepts it) or
/// `304 Not Modified`.
pub(super) fn respond_with(file: &Cached, headers: &HeaderMap) -> Response {
    let gzip = if accepts_gzip(headers) { file.gzip() } else { None };
    let etag = if gzip.is_some() { &file.gzip_etag } else { &file.etag };
    let mut response = if is_not_modified(&etag.text, file.last_modified, headers) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(gzip.unwrap_or(&file.body).clone()));
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.content_type));
        if gzip.is_some() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    describe(&mut response, etag.header.clone(), file.last_modified_header.clone(), file.cache_control);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        assert_eq!(safe_relative("en/trade/atom.xml"), Some(PathBuf::from("en/trade/atom.xml")));
        assert_eq!(safe_relative("zh/%E7%BB%8F/atom.xml"), Some(PathBuf::from("zh/经/atom.xml")));
        for bad in [
            "../config.toml",
            "en/../../etc/passwd",
            "en/%2e%2e/%2e%2e/x.xml",
            "en%2fatom.xml",
            "en%5C..%5Catom.xml",
            "/etc/passwd",
            "en//atom.xml",
            "en/./atom.xml",
            ".cache/x",
            "en/atom.xml%00.txt",
            "%ff%fe",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn media_types_follow_the_file_names() {
        assert_eq!(content_type(Path::new("en/atom.xml")), Some("application/atom+xml; charset=utf-8"));
        assert_eq!(content_type(Path::new("en/rss.xml")), Some("application/rss+xml; charset=utf-8"));
        assert_eq!(content_type(Path::new("en/feed.json")), Some("application/feed+json; charset=utf-8"));
        assert_eq!(content_type(Path::new("index.opml")), Some("text/x-opml; charset=utf-8"));
        assert_eq!(content_type(Path::new("gazette.db")), None);
    }

    #[test]
    fn conditional_and_encoding_headers_parse() {
        assert!(none_match("\"a\", W/\"b\"", &["\"b\""]));
        assert!(none_match("*", &["\"x\""]));
        assert!(!none_match("\"a\"", &["\"b\""]));
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br;q=1.0, gzip;q=0.5"));
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, identity"));
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn symlinks_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let feeds = dir.path().join("feeds");
        std::fs::create_dir_all(feeds.join("en")).unwrap();
        std::fs::write(dir.path().join("secret.xml"), "secret").unwrap();
        std::fs::write(feeds.join("en/atom.xml"), "<feed/>").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.xml"), feeds.join("en/leak.xml")).unwrap();
        std::os::unix::fs::symlink(dir.path(), feeds.join("up")).unwrap();
        let files = FeedFiles::default();
        assert!(files.file(&feeds, "en/atom.xml").unwrap().is_some());
        assert!(files.file(&feeds, "en/leak.xml").unwrap().is_none());
        assert!(files.file(&feeds, "up/secret.xml").unwrap().is_none());
    }

    #[test]
    fn a_recent_answer_lasts_only_while_its_generation_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("en")).unwrap();
        let path = dir.path().join("en/atom.xml");
        std::fs::write(&path, "<feed>one</feed>").unwrap();
        let files = FeedFiles::default();
        let headers = HeaderMap::new();
        let tag = |r: &Response| r.headers().get(header::ETAG).cloned();
        assert!(files.respond_recent("en/atom.xml", &headers, 0).is_none(), "nothing asked for yet");
        let first = files.respond(dir.path(), "en/atom.xml", &headers, Some("<https://hub/>; rel=\"hub\""), 0);
        assert_eq!(first.status(), StatusCode::OK);
        // A build replaces the file by rename; until the generation moves on (or a second
        // passes) the answer in memory stands, Link header and all.
        std::fs::write(dir.path().join("en/.tmp"), "<feed>two</feed>").unwrap();
        std::fs::rename(dir.path().join("en/.tmp"), &path).unwrap();
        let recent = files.respond_recent("en/atom.xml", &headers, 0).expect("answered from memory");
        assert_eq!(tag(&recent), tag(&first));
        assert!(recent.headers().contains_key(header::LINK));
        assert!(files.respond_recent("en/atom.xml", &headers, 1).is_none(), "a new generation asks the folder");
        let second = files.respond(dir.path(), "en/atom.xml", &headers, None, 1);
        assert_ne!(tag(&second), tag(&first));
        assert_eq!(tag(&files.respond_recent("en/atom.xml", &headers, 1).unwrap()), tag(&second));
        files.respond(dir.path(), "en/%61tom.xml", &headers, None, 1);
        assert!(files.respond_recent("en/%61tom.xml", &headers, 1).is_none(), "encoded paths are not kept");
        // A `gazette build` beside the service swaps nothing: the folder is asked again after
        // a second.
        std::thread::sleep(RECHECK);
        assert!(files.respond_recent("en/atom.xml", &headers, 1).is_none(), "looked at over a second ago");
    }

    #[test]
    fn paths_the_file_system_refuses_are_the_clients_affair() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("en")).unwrap();
        std::fs::write(dir.path().join("en/atom.xml"), "<feed/>").unwrap();
        let files = FeedFiles::default();
        let through_a_file = files.file(dir.path(), "en/atom.xml/x.xml").map(|_| ()).unwrap_err();
        assert_eq!(refusal(&through_a_file), Some(StatusCode::NOT_FOUND));
        let long = format!("en/{}.xml", "a".repeat(300));
        let too_long = files.file(dir.path(), &long).map(|_| ()).unwrap_err();
        assert_eq!(refusal(&too_long), Some(StatusCode::NOT_FOUND));
        for (errno, status) in
            [(20, Some(404)), (36, Some(404)), (2, Some(404)), (13, Some(403)), (5, None), (28, None)]
        {
            let e = std::io::Error::from_raw_os_error(errno);
            assert_eq!(refusal(&e).map(|s| s.as_u16()), status, "errno {errno}");
        }
    }
}
