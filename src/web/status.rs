//! `/healthz` (the database opens and answers) and `/metrics` (Prometheus text format: the
//! process's counters plus subscribers by status, read when scraped).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Shared;
use crate::state::State as Db;

/// `GET /healthz`: 200 `ok` when the database answers, else 503 with the reason.
pub async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.live.db.with(|db: &mut Db| db.ping()).await {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "the database does not answer\n").into_response()
        }
    }
}

/// `GET /metrics`.
pub async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let counts = shared.live.db.with(|db: &mut Db| Ok((db.count_by_status()?, db.count_signups()?))).await;
    let mut extra = String::new();
    if let Ok((counts, signups)) = counts {
        extra.push_str("# HELP gazette_subscribers Subscribers, by status.\n# TYPE gazette_subscribers gauge\n");
        for (status, n) in counts {
            let _ = writeln!(extra, "gazette_subscribers{{status=\"{status}\"}} {n}");
        }
        extra.push_str("# HELP gazette_signups_pending Sign-ups waiting for confirmation.\n");
        let _ = writeln!(extra, "# TYPE gazette_signups_pending gauge\ngazette_signups_pending {signups}");
    }
    let body = crate::metrics::metrics().render(&extra);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
