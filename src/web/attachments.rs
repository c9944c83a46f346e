//! `/{lang}/articles/{slug}/{name}`: the files a press release publishes. Only a name the
//! catalog lists for that version is served, from the folder of its article file and only as a
//! regular file there (no links), so no URL reaches outside the store; the download keeps its
//! name, Chinese or not, through RFC 6266 `Content-Disposition` with an RFC 5987 `filename*`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::Shared;
use crate::store::attachment;

/// RFC 5987 `attr-char` keeps `!#$&+-.^_`|~` and alphanumerics; everything else is encoded.
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

/// Serves one attachment, or 404 for anything the catalog does not list.
pub async fn file(
    State(shared): State<Arc<Shared>>,
    Path((lang, slug, name)): Path<(String, String, String)>,
) -> Response {
    let catalog = shared.live.catalog.load_full();
    let store = shared.live.site.load().config.store.dir.clone();
    let read = tokio::task::spawn_blocking(move || {
        let meta = catalog.find(&lang, &slug)?;
        if !meta.attachments.contains(&name) {
            return None;
        }
        let (path, _) = attachment::file(&attachment::folder_of(&store, meta.path), &name)?;
        let bytes = std::fs::read(&path).ok()?;
        Some((name, bytes))
    });
    match read.await {
        Ok(Some((name, bytes))) => respond(&name, bytes),
        Ok(None) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn respond(name: &str, bytes: Vec<u8>) -> Response {
    let length = bytes.len();
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(attachment::media_type(name).unwrap_or("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(name)) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// `attachment; filename="…"; filename*=UTF-8''…`: RFC 6266 §4.3 has senders give an ASCII
/// `filename` for old clients and the real name in `filename*` (RFC 5987 encoding), which
/// clients that know it prefer.
pub fn content_disposition(name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{}", utf8_percent_encode(name, ATTR_CHAR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_keep_chinese_through_rfc_5987() {
        assert_eq!(
            content_disposition("参会回执.docx"),
            "attachment; filename=\"____.docx\"; filename*=UTF-8''%E5%8F%82%E4%BC%9A%E5%9B%9E%E6%89%A7.docx"
        );
        assert_eq!(
            content_disposition("a \"b\".pdf"),
            "attachment; filename=\"a _b_.pdf\"; filename*=UTF-8''a%20%22b%22.pdf"
        );
    }
}
