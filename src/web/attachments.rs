//! `/{lang}/articles/{slug}/{name}`: the files a press release publishes. Only a name the
//! catalog lists for a published version is served, opened beside its article file without
//! following a link and only when it is a regular file (`store::attachment::open`), so no URL
//! reaches outside the store. The body is streamed, never read whole; `ETag`, `304` and one
//! byte range are [`conditional`](super::conditional)'s. The download keeps its name, Chinese
//! or not, through RFC 6266 `Content-Disposition` with an RFC 8187 `filename*`, and a
//! sandboxing CSP keeps any file from running as a page of this site.

use std::os::unix::fs::MetadataExt as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::Shared;
use super::conditional::{Answer, Version, answer};
use crate::store::attachment;

/// RFC 8187 `attr-char` keeps `!#$&+-.^_`|~` and alphanumerics; everything else is encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// Attachments change rarely and keep their URL while their name does: an hour, like feeds.
const MAX_AGE: &str = "public, max-age=3600";

/// Nothing in an attachment may load, run or submit anything as this origin, should a browser
/// ever render one (a PDF viewer, an image opened in a tab).
const CSP: &str = "default-src 'none'; sandbox";

/// Bytes read from the file at a time while streaming.
const CHUNK: usize = 64 * 1024;

/// An attachment opened to serve, and how.
struct Opened {
    name: String,
    file: std::fs::File,
    etag: String,
    modified: std::time::SystemTime,
    length: u64,
    answer: Answer,
}

/// Serves one attachment, or 404 for anything the catalog does not list.
pub async fn file(
    State(shared): State<Arc<Shared>>,
    Path((lang, slug, name)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let catalog = shared.live.catalog.load_full();
    let store = shared.live.site.load().config.store.dir.clone();
    let opened = tokio::task::spawn_blocking(move || -> std::io::Result<Option<Opened>> {
        let Some(meta) = catalog.find(&lang, &slug) else { return Ok(None) };
        if !meta.attachments.contains(&name) {
            return Ok(None);
        }
        let folder = attachment::folder_of(&store, meta.path);
        let Some((mut file, metadata)) = attachment::open(&folder, &name)? else { return Ok(None) };
        let modified = metadata.modified()?;
        // A new version is a new inode (replaced) or a new length or time (rewritten).
        let (length, mtime) = (metadata.len(), (metadata.mtime(), metadata.mtime_nsec()));
        let etag = format!("\"{:x}-{length:x}-{:x}.{:x}\"", metadata.ino(), mtime.0, mtime.1);
        let answer = answer(&method, &headers, &Version { etag: &etag, modified, length });
        if let Answer::Part(range) = &answer {
            use std::io::Seek as _;
            file.seek(std::io::SeekFrom::Start(range.start))?;
        }
        Ok(Some(Opened { name, file, etag, modified, length, answer }))
    });
    match opened.await {
        Ok(Ok(Some(opened))) => respond(opened),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        Ok(Err(e)) => {
            // The name is one the catalog lists, so the operator's, not the client's: log it.
            tracing::error!(error = %e, "cannot serve an attachment");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn respond(opened: Opened) -> Response {
    let Opened { name, file, etag, modified, length, answer } = opened;
    let (status, range) = match answer {
        Answer::NotModified => (StatusCode::NOT_MODIFIED, None),
        Answer::Whole => (StatusCode::OK, Some(0..length)),
        Answer::Part(range) => (StatusCode::PARTIAL_CONTENT, Some(range)),
        Answer::Unsatisfiable => {
            let mut response = (StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n").into_response();
            insert(response.headers_mut(), header::CONTENT_RANGE, format!("bytes */{length}"));
            return response;
        }
    };
    let mut response = match &range {
        Some(range) => {
            use tokio::io::AsyncReadExt as _;
            let reader = tokio::fs::File::from_std(file).take(range.end - range.start);
            Response::new(Body::from_stream(tokio_util::io::ReaderStream::with_capacity(reader, CHUNK)))
        }
        None => Response::new(Body::empty()),
    };
    *response.status_mut() = status;
    let h = response.headers_mut();
    insert(h, header::ETAG, etag);
    insert(h, header::LAST_MODIFIED, httpdate::fmt_http_date(modified));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    let Some(range) = range else { return response };
    if status == StatusCode::PARTIAL_CONTENT {
        insert(h, header::CONTENT_RANGE, format!("bytes {}-{}/{length}", range.start, range.end - 1));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(range.end - range.start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // The catalog lists only names of a kind published; the fallback is for a catalog made
    // by an older build.
    let media_type = attachment::media_type(&name).unwrap_or("application/octet-stream");
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    // Never inline: without this header a browser would show the file as a page of the site.
    let disposition = HeaderValue::from_str(&content_disposition(&name));
    h.insert(header::CONTENT_DISPOSITION, disposition.unwrap_or(HeaderValue::from_static("attachment")));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}

/// Sets a header made here from ASCII (a tag, a date, a range); it cannot fail to be one.
fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}

/// `attachment; filename="…"; filename*=UTF-8''…`: RFC 6266 §4.3 has senders give an ASCII
/// `filename` for old clients and the real name in `filename*` (RFC 8187 encoding), which
/// clients that know it prefer. The fallback keeps printable ASCII but quotes, backslashes and
/// `%` (Appendix D: some clients decode `%41` there); the rest becomes `_`.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\\' | '%') { c } else { '_' })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{}", utf8_percent_encode(name, ATTR_CHAR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_keep_chinese_through_rfc_8187() {
        assert_eq!(
            content_disposition("参会回执.docx"),
            "attachment; filename=\"____.docx\"; filename*=UTF-8''%E5%8F%82%E4%BC%9A%E5%9B%9E%E6%89%A7.docx"
        );
        assert_eq!(
            content_disposition("a \"b\".pdf"),
            "attachment; filename=\"a _b_.pdf\"; filename*=UTF-8''a%20%22b%22.pdf"
        );
        assert_eq!(
            content_disposition("50%41 off.pdf"),
            "attachment; filename=\"50_41 off.pdf\"; filename*=UTF-8''50%2541%20off.pdf"
        );
    }
}
