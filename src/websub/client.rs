//! The hub's HTTP client for callbacks strangers name: it resolves the host itself, refuses
//! addresses the policy ([`super::guard`]) does not allow, connects only to the addresses it
//! checked and checks the connected peer again (a DNS answer that changes between the check
//! and the connection cannot slip a private address through), follows no redirects, and
//! bounds each exchange's time and the size of the answer it reads.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::http::{HeaderName, HeaderValue, Method};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, rustls};
use url::Url;

use super::guard;

/// What a callback answered: its status and at most the configured bytes of its body.
#[derive(Debug)]
pub struct Answer {
    /// The status code (a redirect is just a status: never followed).
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The guarded client.
#[derive(Clone)]
pub struct Client {
    tls: TlsConnector,
    timeout: Duration,
    max_bytes: usize,
    allow_private: bool,
}

impl Client {
    /// A client that gives each exchange `timeout`, reads at most `max_bytes` of an answer,
    /// and (unless `allow_private`) connects only to public addresses.
    pub fn new(timeout: Duration, max_bytes: usize, allow_private: bool) -> Result<Client> {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS set-up")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Client { tls: TlsConnector::from(Arc::new(config)), timeout, max_bytes, allow_private })
    }

    /// Sends `method` to `url` with `headers` and `body`; an error when the policy refuses
    /// the address (a [`guard::Refused`] in the chain), the exchange fails or takes too long.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Answer> {
        tokio::time::timeout(self.timeout, self.exchange(method, url, headers, body))
            .await
            .map_err(|_| anyhow!("no answer within {}s", self.timeout.as_secs_f32()))?
    }

    async fn exchange(
        &self,
        method: Method,
        url: &Url,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Answer> {
        let addresses = guard::resolve(url, self.allow_private).await?;
        let mut last = None;
        let mut stream = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(e).context("cannot connect to the callback"),
            (None, None) => bail!("cannot connect to the callback"),
        };
        // The address connected to, not the one looked up, is what counts.
        let peer = stream.peer_addr().context("the callback connection has no peer")?;
        if !guard::is_allowed(peer.ip(), self.allow_private) {
            return Err(guard::Refused::Private(peer.ip()).into());
        }
        let _ = stream.set_nodelay(true);
        let host = url.host_str().unwrap_or_default();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, concat!("gazette-websub/", env!("CARGO_PKG_VERSION")))
            .header(hyper::header::CONTENT_LENGTH, body.len());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body)).context("cannot make the request")?;
        if url.scheme() == "https" {
            let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_owned())
                .context("the callback host is not a TLS server name")?;
            let tls = self.tls.connect(name, stream).await.context("TLS with the callback")?;
            self.over(tls, request).await
        } else {
            self.over(stream, request).await
        }
    }

    async fn over<S>(&self, io: S, request: Request<Full<Bytes>>) -> Result<Answer>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await.context("HTTP with the callback")?;
        let connection = tokio::spawn(connection);
        let result = async {
            let response = sender.send_request(request).await.context("the callback did not answer")?;
            let status = response.status().as_u16();
            let mut body = response.into_body();
            let mut read = BytesMut::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.context("reading the callback's answer")?;
                if let Some(data) = frame.data_ref() {
                    if read.len() + data.len() > self.max_bytes {
                        bail!("the callback's answer is longer than {} bytes", self.max_bytes);
                    }
                    read.extend_from_slice(data);
                }
            }
            Ok(Answer { status, body: read.freeze() })
        }
        .await;
        connection.abort();
        result
    }
}
