//! `POST /websub` (WebSub 5.1): a subscriber asks to subscribe or unsubscribe a callback to a
//! topic. A well-formed request gets 202 at once, whatever then comes of it: the topic is
//! checked, the callback's address is vetted and its intent verified later ([`super::verify`]).
//! A malformed one gets 400 with the reason; more than `websub.requests_per_minute` from one
//! client 429; too many verifications waiting 503.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use url::Url;

use super::{Hub, WAITING, guard, verify};
use crate::web::Shared;

/// What a subscriber asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `hub.mode=subscribe`: a new subscription, or a renewal.
    Subscribe,
    /// `hub.mode=unsubscribe`.
    Unsubscribe,
}

impl Mode {
    /// The `hub.mode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// A well-formed request, waiting for verification.
#[derive(Debug, Clone)]
pub struct Intent {
    /// Subscribe or unsubscribe.
    pub mode: Mode,
    /// Where the subscriber listens (scheme and host checked, not yet resolved).
    pub callback: Url,
    /// The topic URL as sent.
    pub topic: String,
    /// The lease asked for, in seconds.
    pub lease_seconds: Option<u64>,
    /// The HMAC key for deliveries.
    pub secret: Option<String>,
}

/// The longest `hub.secret` (WebSub 5.1: less than 200 bytes).
const SECRET_MAX: usize = 199;

/// Reads a request body; the error is the reason for a 400.
pub fn parse(body: &[u8]) -> Result<Intent, String> {
    let (mut mode, mut callback, mut topic, mut lease, mut secret) = (None, None, None, None, None);
    for (key, value) in url::form_urlencoded::parse(body) {
        let slot = match key.as_ref() {
            "hub.mode" => &mut mode,
            "hub.callback" => &mut callback,
            "hub.topic" => &mut topic,
            "hub.lease_seconds" => &mut lease,
            "hub.secret" => &mut secret,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(format!("{key} is given twice"));
        }
    }
    let mode = match mode.as_deref() {
        Some("subscribe") => Mode::Subscribe,
        Some("unsubscribe") => Mode::Unsubscribe,
        _ => return Err("hub.mode must be subscribe or unsubscribe".to_owned()),
    };
    let callback = callback.ok_or("hub.callback is missing")?;
    let callback = guard::check_url(&callback).map_err(|e| format!("hub.callback: {e}"))?;
    let topic = topic.filter(|t| !t.is_empty()).ok_or("hub.topic is missing")?;
    let lease_seconds = match lease.filter(|l| !l.is_empty()) {
        Some(text) => Some(text.parse::<u64>().map_err(|_| "hub.lease_seconds must be a whole number of seconds")?),
        None => None,
    };
    let secret = secret.filter(|s| !s.is_empty());
    if secret.as_ref().is_some_and(|s| s.len() > SECRET_MAX) {
        return Err("hub.secret must be shorter than 200 bytes".to_owned());
    }
    Ok(Intent { mode, callback, topic, lease_seconds, secret })
}

fn answer(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{text}\n")).into_response()
}

/// The `POST /websub` handler.
pub async fn post(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let hub: &Arc<Hub> = &shared.hub;
    let config = hub.config();
    if !config.websub.is_hub {
        return answer(StatusCode::NOT_FOUND, "not found");
    }
    let client = crate::web::client_ip(&config, peer, &headers);
    if hub.requests.check_key(&crate::web::rate_key(client)).is_err() {
        tracing::info!(client = %client, "hub request refused: rate limit");
        let mut response = answer(StatusCode::TOO_MANY_REQUESTS, "too many requests");
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        return response;
    }
    let intent = match parse(&body) {
        Ok(intent) => intent,
        Err(reason) => return answer(StatusCode::BAD_REQUEST, &reason),
    };
    if hub.waiting.fetch_add(1, Ordering::AcqRel) >= WAITING {
        hub.waiting.fetch_sub(1, Ordering::AcqRel);
        let mut response = answer(StatusCode::SERVICE_UNAVAILABLE, "too many requests waiting");
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        return response;
    }
    tracing::debug!(
        mode = intent.mode.as_str(),
        callback_host = intent.callback.host_str().unwrap_or_default(),
        "hub request accepted"
    );
    hub.tasks.spawn(verify::verify(hub.clone(), intent));
    answer(StatusCode::ACCEPTED, "accepted: the callback will be asked to verify")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_ones_say_why() {
        let ok = parse(b"hub.mode=subscribe&hub.callback=https%3A%2F%2Fr.example%2Fcb%3Fx%3D1&hub.topic=t&hub.lease_seconds=60&hub.secret=s").unwrap();
        assert_eq!(
            (ok.mode, ok.callback.as_str(), ok.lease_seconds),
            (Mode::Subscribe, "https://r.example/cb?x=1", Some(60))
        );
        assert_eq!(ok.secret.as_deref(), Some("s"));
        for (body, reason) in [
            (&b"hub.mode=publish&hub.callback=https://r.example/&hub.topic=t"[..], "hub.mode"),
            (b"hub.mode=subscribe&hub.topic=t", "hub.callback is missing"),
            (b"hub.mode=subscribe&hub.callback=gopher://r.example/&hub.topic=t", "scheme"),
            (b"hub.mode=subscribe&hub.callback=https://r.example/", "hub.topic"),
            (b"hub.mode=subscribe&hub.callback=https://r.example/&hub.topic=t&hub.lease_seconds=-1", "lease"),
            (b"hub.mode=subscribe&hub.mode=unsubscribe&hub.callback=https://r.example/&hub.topic=t", "twice"),
        ] {
            let e = parse(body).unwrap_err();
            assert!(e.contains(reason), "{e}");
        }
        let long =
            format!("hub.mode=subscribe&hub.callback=https://r.example/&hub.topic=t&hub.secret={}", "x".repeat(200));
        assert!(parse(long.as_bytes()).unwrap_err().contains("secret"));
    }
}
