//! TLS to the PostgreSQL server, for a `state.url` with `sslmode=require`: rustls, the server's
//! certificate checked against `state.ca_file` (or, without one, the web's root certificates),
//! and its name against the URL's host, which a `subjectAltName` must hold (rustls never falls
//! back to the common name): what libpq calls `verify-full`. gazette never talks TLS to a
//! server it has not verified.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use anyhow::{Context, Result};
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, InvalidDnsNameError, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls;

/// Makes a verified TLS connection to each server the URL names.
#[derive(Clone)]
pub struct MakeRustls {
    config: Arc<rustls::ClientConfig>,
}

impl MakeRustls {
    /// Trusting the certificates in `ca_file` (PEM) alone when given, as libpq trusts
    /// `sslrootcert` alone, or else the web's root certificates.
    pub fn new(ca_file: Option<&Path>) -> Result<MakeRustls> {
        let mut roots = rustls::RootCertStore::empty();
        if ca_file.is_none() {
            roots.roots = webpki_roots::TLS_SERVER_ROOTS.to_vec();
        }
        if let Some(file) = ca_file {
            let pem = std::fs::read(file).with_context(|| format!("state.ca_file: cannot read {}", file.display()))?;
            let mut found = 0;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.with_context(|| {
                    format!("state.ca_file: {} holds a certificate that cannot be read", file.display())
                })?;
                roots
                    .add(cert)
                    .with_context(|| format!("state.ca_file: {} holds a certificate rustls refuses", file.display()))?;
                found += 1;
            }
            if found == 0 {
                anyhow::bail!("state.ca_file: {} holds no PEM certificate", file.display());
            }
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .context("TLS set-up")?
                .with_root_certificates(roots)
                .with_no_client_auth();
        // What PostgreSQL 17 asks of a client that starts with TLS (`sslnegotiation=direct`);
        // older servers ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(MakeRustls { config: Arc::new(config) })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> MakeTlsConnect<S> for MakeRustls {
    type Stream = Tls<S>;
    type TlsConnect = Connect;
    type Error = InvalidDnsNameError;

    fn make_tls_connect(&mut self, host: &str) -> Result<Connect, InvalidDnsNameError> {
        Ok(Connect { config: self.config.clone(), name: ServerName::try_from(host.to_owned())? })
    }
}

/// One TLS handshake with the server `name`.
pub struct Connect {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> TlsConnect<S> for Connect {
    type Stream = Tls<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Tls<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(self.config);
        Box::pin(async move { Ok(Tls(connector.connect(self.name, stream).await?)) })
    }
}

/// A connection to the server over TLS.
pub struct Tls<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Tls<S> {
    /// None: the password exchange (SCRAM) is not bound to the channel, which the verified
    /// certificate already protects (binding needs the hash its signature used).
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Tls<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Tls<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
