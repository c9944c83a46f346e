//! What a `GET` or `HEAD` of a file asks for, given its validators: `304 Not Modified`
//! (`If-None-Match`, else `If-Modified-Since`; RFC 9110 §13.2.2), one byte range (`Range`,
//! honoured only for `GET` and only while `If-Range` still names this version; §14), or the
//! whole file. Several ranges in one request get the whole file, which §14.2 allows.

use std::ops::Range;
use std::time::SystemTime;

use axum::http::{HeaderMap, Method, header};

/// How to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `304`: the client's copy is current.
    NotModified,
    /// `200` with the whole file.
    Whole,
    /// `206` with these bytes.
    Part(Range<u64>),
    /// `416`: the range starts past the end.
    Unsatisfiable,
}

/// The validators of the version being served.
pub struct Version<'a> {
    /// Strong entity tag, quoted.
    pub etag: &'a str,
    /// Modification time.
    pub modified: SystemTime,
    /// Length in bytes.
    pub length: u64,
}

/// The answer to a request with `headers` and `method` for `version`.
pub fn answer(method: &Method, headers: &HeaderMap, version: &Version) -> Answer {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let is_current = match text(header::IF_NONE_MATCH) {
        Some(value) => super::feeds::none_match(value, &[version.etag]),
        // If-Modified-Since counts only without If-None-Match (RFC 9110 §13.1.3).
        None => text(header::IF_MODIFIED_SINCE)
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|since| seconds(version.modified) <= seconds(since)),
    };
    if is_current {
        return Answer::NotModified;
    }
    let Some(range) = text(header::RANGE).filter(|_| method == Method::GET) else { return Answer::Whole };
    // A range of another version would splice two files: send the whole current one (§13.1.5).
    if let Some(if_range) = text(header::IF_RANGE)
        && if_range.trim() != version.etag
        && httpdate::parse_http_date(if_range).ok().is_none_or(|date| seconds(date) != seconds(version.modified))
    {
        return Answer::Whole;
    }
    match parse_range(range, version.length) {
        Some(Ok(part)) => Answer::Part(part),
        Some(Err(())) => Answer::Unsatisfiable,
        None => Answer::Whole,
    }
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// One `bytes=first-last`, `bytes=first-` or `bytes=-suffix` of a file of `length` bytes:
/// `None` when the header is not one such range (ignored), `Err` when it is unsatisfiable.
fn parse_range(value: &str, length: u64) -> Option<Result<Range<u64>, ()>> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    if first.trim().is_empty() {
        let suffix = number(last)?;
        return Some(if suffix == 0 || length == 0 { Err(()) } else { Ok(length.saturating_sub(suffix)..length) });
    }
    let first = number(first)?;
    let end = match last.trim() {
        "" => length,
        last => {
            let last = number(last)?;
            if last < first {
                return None;
            }
            last.saturating_add(1).min(length)
        }
    };
    Some(if first >= length { Err(()) } else { Ok(first..end) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn byte_ranges_parse_as_rfc_9110_says() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok(0..10)));
        assert_eq!(parse_range("bytes=90-200", 100), Some(Ok(90..100)));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok(90..100)));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok(90..100)));
        assert_eq!(parse_range("bytes=-500", 100), Some(Ok(0..100)));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=-0", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-", 0), Some(Err(())));
        for ignored in ["bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=a-b", "bytes=+1-2", "bytes=-", "bytes=1"] {
            assert_eq!(parse_range(ignored, 100), None, "{ignored}");
        }
        assert_eq!(parse_range("bytes=0-99999999999999999999999", 100), None);
    }

    #[test]
    fn validators_decide_between_304_206_and_200() {
        let modified = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let version = Version { etag: "\"v1\"", modified, length: 100 };
        let ask = |method: Method, pairs: &[(header::HeaderName, &str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(name, HeaderValue::from_str(value).expect("ascii"));
            }
            answer(&method, &headers, &version)
        };
        assert_eq!(ask(Method::GET, &[]), Answer::Whole);
        assert_eq!(ask(Method::GET, &[(header::IF_NONE_MATCH, "\"v1\"")]), Answer::NotModified);
        assert_eq!(ask(Method::HEAD, &[(header::IF_NONE_MATCH, "W/\"v1\"")]), Answer::NotModified);
        assert_eq!(ask(Method::GET, &[(header::IF_NONE_MATCH, "\"v0\"")]), Answer::Whole);
        let date = httpdate::fmt_http_date(modified);
        assert_eq!(ask(Method::GET, &[(header::IF_MODIFIED_SINCE, &date)]), Answer::NotModified);
        assert_eq!(ask(Method::GET, &[(header::RANGE, "bytes=0-9")]), Answer::Part(0..10));
        assert_eq!(ask(Method::HEAD, &[(header::RANGE, "bytes=0-9")]), Answer::Whole);
        assert_eq!(
            ask(Method::GET, &[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, "\"v1\"")]),
            Answer::Part(0..10)
        );
        assert_eq!(ask(Method::GET, &[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, &date)]), Answer::Part(0..10));
        assert_eq!(ask(Method::GET, &[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, "\"v0\"")]), Answer::Whole);
        assert_eq!(ask(Method::GET, &[(header::RANGE, "bytes=200-")]), Answer::Unsatisfiable);
    }
}
