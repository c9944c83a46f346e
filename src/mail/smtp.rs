//! One SMTP connection, through lettre's SMTP client on a socket gazette opens itself: with
//! `TCP_NODELAY`, since the client writes a message and its final `.` separately and Nagle's
//! algorithm would otherwise hold that last small write for the server's delayed ACK (40 ms a
//! message). A connection is opened on first use, kept for the next message, and opened again
//! after an error; TLS is STARTTLS, implicit (from the first byte) or none, verified against
//! the web's root certificates and `mail.ca_file`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

use super::transport::{Gate, SendError, WITHHELD, classify};
use crate::config::Tls;

/// How long connecting (greeting, EHLO, TLS, AUTH) may take before the server counts as away.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one message may take, the server's reply to its final `.` included: RFC 5321
/// §4.5.3.2.6 gives the server ten minutes there (a content scan), and giving up sooner would
/// send again a message the server may well accept.
const SEND_TIMEOUT: Duration = Duration::from_secs(600);
/// A connection idle this long is checked (NOOP) before it is used again: servers close idle
/// ones (Postfix after 300 s), and a message should not spend an attempt finding out.
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// How long the server's answer to QUIT is waited for before the connection is closed anyway.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to connect: shared by every connection of a run.
pub struct SmtpClient {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// For implicit TLS, which gazette sets up itself.
    connector: TlsConnector,
    /// For STARTTLS, which lettre sets up.
    starttls: Option<TlsParameters>,
}

impl SmtpClient {
    /// A client for `host:port`; `ca_pem` adds trusted roots (a private relay's CA) to the
    /// web's; `hello` names this host in EHLO.
    pub fn new(
        host: &str,
        port: u16,
        tls: Tls,
        credentials: Option<Credentials>,
        ca_pem: Option<&[u8]>,
        hello: &str,
    ) -> Result<SmtpClient> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let mut starttls = TlsParameters::builder(host.to_owned());
        if let Some(pem) = ca_pem {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.context("mail.ca_file holds a certificate that cannot be read")?;
                roots.add(cert).context("mail.ca_file holds a certificate rustls refuses")?;
            }
            starttls = starttls.add_root_certificate(
                Certificate::from_pem(pem).context("mail.ca_file holds a certificate that cannot be read")?,
            );
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS set-up")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let starttls = match tls {
            Tls::StartTls => Some(starttls.build_rustls().with_context(|| format!("TLS for {host}"))?),
            _ => None,
        };
        Ok(SmtpClient {
            host: host.to_owned(),
            port,
            tls,
            credentials,
            hello: ClientId::Domain(hello.to_owned()),
            connector: TlsConnector::from(Arc::new(config)),
            starttls,
        })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| SendError::Unavailable(format!("cannot connect to {}:{}: {e}", self.host, self.port)))?;
        tcp.set_nodelay(true).map_err(|e| SendError::Unavailable(format!("TCP_NODELAY: {e}")))?;
        let stream: Box<dyn AsyncTokioStream> = match self.tls {
            Tls::Implicit => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| SendError::Refused(format!("'{}' is not a TLS server name: {e}", self.host)))?;
                let tls = self.connector.connect(name, tcp).await.map_err(|e| tls_error(&self.host, &e))?;
                Box::new(ImplicitTls(tls))
            }
            Tls::None | Tls::StartTls => Box::new(tcp),
        };
        let mut conn =
            AsyncSmtpConnection::connect_with_transport(stream, &self.hello).await.map_err(|e| classify(&e))?;
        if let Some(parameters) = &self.starttls {
            if !conn.can_starttls() {
                return Err(SendError::Refused(format!("{} does not offer STARTTLS", self.host)));
            }
            conn.starttls(parameters.clone(), &self.hello).await.map_err(|e| match is_certificate_error(&e) {
                true => SendError::Refused(format!("TLS with {}: {e}", self.host)),
                false => refused_unless_transient(&e),
            })?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await.map_err(|e| refused_unless_transient(&e))?;
        }
        Ok(conn)
    }
}

/// An error while connecting: unless it may pass (4xx, the network), the server will not take
/// mail from us at all (a `554` greeting, no AUTH mechanism in common), whatever the message.
fn refused_unless_transient(e: &lettre::transport::smtp::Error) -> SendError {
    match classify(e) {
        SendError::Unavailable(said) => SendError::Unavailable(said),
        SendError::Bounced(said) | SendError::Failed(said) | SendError::Refused(said) | SendError::Withheld(said) => {
            SendError::Refused(said)
        }
    }
}

/// Whether `e` comes from a certificate rustls refused (lettre reports it as a connection error).
fn is_certificate_error(e: &lettre::transport::smtp::Error) -> bool {
    let is_refused_certificate = |error: &(dyn std::error::Error + 'static)| {
        matches!(error.downcast_ref(), Some(rustls::Error::InvalidCertificate(_)))
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        // tokio-rustls wraps the handshake's error in an io::Error, whose source() skips it.
        let wrapped = error.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
        if is_refused_certificate(error) || wrapped.is_some_and(|inner| is_refused_certificate(inner)) {
            return true;
        }
        source = error.source();
    }
    e.is_tls()
}

/// A TLS handshake that fails on the certificate is a setting to fix, not a server to wait for.
fn tls_error(host: &str, e: &std::io::Error) -> SendError {
    match e.kind() {
        std::io::ErrorKind::InvalidData => SendError::Refused(format!("TLS with {host}: {e}")),
        _ => SendError::Unavailable(format!("TLS with {host}: {e}")),
    }
}

/// One connection to the server, opened when first needed.
pub struct SmtpConnection {
    client: Arc<SmtpClient>,
    /// The open connection and when it was last used.
    open: Option<(AsyncSmtpConnection, tokio::time::Instant)>,
}

impl SmtpConnection {
    /// A connection through `client`, not yet open.
    pub fn new(client: Arc<SmtpClient>) -> SmtpConnection {
        SmtpConnection { client, open: None }
    }

    /// Sends `bytes` to the envelope's recipients, the content once `gate` opens.
    pub async fn send(&mut self, envelope: &Envelope, bytes: &[u8], gate: &mut Gate<'_>) -> Result<(), SendError> {
        let mut conn = match self.open.take() {
            Some((mut conn, used)) if !conn.has_broken() => {
                if used.elapsed() >= IDLE_CHECK
                    && !tokio::time::timeout(CONNECT_TIMEOUT, conn.test_connected()).await.unwrap_or(false)
                {
                    self.connect().await?
                } else {
                    conn
                }
            }
            _ => self.connect().await?,
        };
        let result = transaction(&mut conn, envelope, bytes, gate).await;
        // After an error the connection is closed; the next message opens another.
        if result.is_ok() {
            self.open = Some((conn, tokio::time::Instant::now()));
        }
        result
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        tokio::time::timeout(CONNECT_TIMEOUT, self.client.connect())
            .await
            .map_err(|_| SendError::Unavailable(format!("connecting to {} timed out", self.client.host)))?
    }

    /// Says goodbye to the server, if connected.
    pub async fn quit(&mut self) {
        if let Some((mut conn, _)) = self.open.take() {
            let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.quit()).await;
        }
    }
}

/// One mail transaction, as lettre's `send` makes it (`SMTPUTF8` and `8BITMIME` asked for
/// when the envelope or the content needs them) but with the content held until `gate`
/// opens. The envelope and the content are each timed (`SEND_TIMEOUT`), the wait at the gate
/// is not. Any error
/// closes the connection.
async fn transaction(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    bytes: &[u8],
    gate: &mut Gate<'_>,
) -> Result<(), SendError> {
    let mut options = Vec::new();
    let mut addresses = envelope.from().into_iter().chain(envelope.to());
    if addresses.any(|a| !AsRef::<str>::as_ref(a).is_ascii()) {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            quit(conn).await;
            return Err(SendError::Failed("the address is not ASCII and the server does not take SMTPUTF8".into()));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            quit(conn).await;
            return Err(SendError::Failed("the message is not ASCII and the server does not take 8BITMIME".into()));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let envelope_sent = tokio::time::timeout(SEND_TIMEOUT, async {
        conn.command(Mail::new(envelope.from().cloned(), options)).await?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), Vec::new())).await?;
        }
        conn.command(Data).await.map(drop)
    })
    .await;
    finished(conn, envelope_sent).await?;
    if !gate.open().await {
        // The server waits for the content: a connection closed before its end leaves no
        // message (a server cancels a transaction cut short, RFC 5321 3.8): dropped, not told QUIT
        // (that would be content).
        return Err(SendError::Withheld(WITHHELD.into()));
    }
    let content_sent = tokio::time::timeout(SEND_TIMEOUT, async { conn.message(bytes).await.map(drop) }).await;
    finished(conn, content_sent).await
}

/// The outcome of a timed part of a transaction; on an error or a timeout the connection is
/// closed (the caller drops it).
async fn finished(
    conn: &mut AsyncSmtpConnection,
    result: Result<Result<(), lettre::transport::smtp::Error>, tokio::time::error::Elapsed>,
) -> Result<(), SendError> {
    match result {
        Ok(Ok(())) => Ok(()),
        // The server answered: it waits for a command, and is told QUIT.
        Ok(Err(e)) => {
            quit(conn).await;
            Err(classify(&e))
        }
        // It did not: it may be reading content (after `DATA`), where QUIT would be content and
        // its answer never come. The connection is closed without it, which cancels what the
        // server has of the transaction (RFC 5321 3.8).
        Err(_) => Err(SendError::Unavailable("the server did not answer in time".into())),
    }
}

/// Tells the server QUIT and closes the connection, waiting a little for its answer at most.
async fn quit(conn: &mut AsyncSmtpConnection) {
    let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.abort()).await;
}

/// A TLS stream as lettre's client takes one.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}
