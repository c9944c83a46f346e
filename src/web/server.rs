//! The listeners of `gazette run` and the connections on them: the public one (`http.listen`)
//! and the operations one (`http.ops_listen`), bound before anything starts and served until
//! shutdown, HTTP/1.1 through hyper with the limits a public server needs. Which routes each
//! serves is `web`'s; what a request's head must hold is `limits`'.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Shared, limits};
use crate::config::{Config, OpsListen};

/// Longest a client may take to send a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line, headers and the blank line) accepted; larger gets 431.
const HEADER_LIMIT: usize = 32 * 1024;

/// The bound sockets.
pub struct Listeners {
    public: TcpListener,
    /// `None` when the operations endpoints are served on the public listener.
    ops: Option<TcpListener>,
}

impl Listeners {
    /// The public listener's address.
    pub fn public_address(&self) -> Result<SocketAddr> {
        self.public.local_addr().context("the listening socket has no address")
    }

    /// Where `/healthz` and `/metrics` are served, for the log.
    pub fn ops_address(&self) -> Result<String> {
        match &self.ops {
            Some(ops) => Ok(ops.local_addr().context("the operations socket has no address")?.to_string()),
            None => Ok("public".to_owned()),
        }
    }
}

/// Binds the sockets of `config` (before anything else starts, so a port in use fails the
/// start with the key to change).
pub async fn bind(config: &Config) -> Result<Listeners> {
    let listen = config.http.listen;
    let public = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen} (http.listen)"))?;
    let ops = match config.http.ops {
        OpsListen::Public => None,
        OpsListen::Separate(address) => Some(
            TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (http.ops_listen)"))?,
        ),
    };
    Ok(Listeners { public, ops })
}

/// Serves both listeners until `stop` is cancelled, then lets requests in flight finish.
pub async fn serve(listeners: Listeners, shared: Arc<Shared>, stop: CancellationToken) -> Result<()> {
    let graceful = GracefulShutdown::new();
    let public = super::router(shared.clone(), listeners.ops.is_none());
    let ops = listeners.ops.map(|listener| (listener, super::ops_router(shared.clone())));
    tokio::join!(accept(listeners.public, public, true, &shared, &stop, &graceful), async {
        if let Some((listener, app)) = ops {
            accept(listener, app, false, &shared, &stop, &graceful).await;
        }
    });
    graceful.shutdown().await;
    Ok(())
}

/// Accepts connections on `listener` for `app` until `stop`.
///
/// The head limit is hyper's `max_header_size`, which counts the bytes of the head itself:
/// while it is incomplete (so a head sent in many small writes is cut off as soon as it
/// passes the limit) and once parsed (so one sent in a single write is too). `max_buf_size`,
/// used for this before, bounds hyper's read buffer, which a single read may overfill, so
/// the limit it gave moved with how the client wrote. Counting the parsed headers in the
/// service instead would miss the whitespace hyper trims and would come after hyper had
/// buffered everything.
async fn accept(
    listener: TcpListener,
    app: Router,
    is_public: bool,
    shared: &Arc<Shared>,
    stop: &CancellationToken,
    graceful: &GracefulShutdown,
) {
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let shared = shared.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            let refused = limits::refusal(&shared.live.site.load().config, is_public, &request);
            // A feed answered moments ago is answered again before routing (public only: the
            // operations listener serves no feeds).
            let answered =
                refused.or_else(|| if is_public { super::answer_from_memory(&shared, &request) } else { None });
            let app = app.clone();
            async move {
                match answered {
                    Some(response) => Ok(response),
                    None => {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        tower::ServiceExt::oneshot(app, request.map(axum::body::Body::new)).await
                    }
                }
            }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_header_size(HEADER_LIMIT);
        let connection = graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
}
