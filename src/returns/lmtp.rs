//! The LMTP listener (RFC 2033) that `gazette run` opens on `mail.returns.listen`, the way
//! Mailman 3 receives list mail: the mail server routes the return domain here and hands over
//! each returned message. Only return addresses are accepted as recipients (550 for anything
//! else: no relay); after the data, one reply per recipient, each sent only once what the
//! message caused is committed ([`super::process::handle`]), so a message the server saw no
//! reply for is handed over again and counted once. Sizes, line lengths, recipients and time
//! are bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::process::{Handled, handle};
use super::verp::returned_for;
use crate::live::{Live, Site};
use crate::state::{Database, Pooled};

/// Longest command or text line read (RFC 5321 §4.5.3.1.6 allows 1000 with CRLF).
const MAX_LINE: usize = 4096;
/// Recipients of one message at most.
const MAX_RECIPIENTS: usize = 100;
/// How long a client may stay silent between commands (RFC 5321 §4.5.3.2.7: 5 minutes).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the data of one message may take, in all.
const DATA_TIMEOUT: Duration = Duration::from_secs(600);
/// Sessions at once; past it a client is told to come back later (421). A mail server keeps
/// a few connections (Postfix: `lmtp_destination_concurrency_limit`, 20 by default).
const MAX_SESSIONS: usize = 32;

/// Binds `address` (before the service starts, so a port in use fails the start).
pub async fn bind(address: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address} (mail.returns.listen)"))
}

/// Serves LMTP until `stop`; sessions in flight finish the message they are on.
pub async fn serve(listener: TcpListener, live: Arc<Live>, stop: CancellationToken) {
    let sessions = TaskTracker::new();
    let room = Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS));
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept an LMTP connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = room.clone().try_acquire_owned() else {
            let mut stream = stream;
            let _ = stream.write_all(b"421 4.3.2 too many connections, try again later\r\n").await;
            continue;
        };
        let (live, stop) = (live.clone(), stop.clone());
        sessions.spawn(async move {
            let _permit = permit;
            if let Err(e) = session(stream, live, stop).await {
                tracing::debug!(peer = %peer, error = format!("{e:#}"), "LMTP session ended with an error");
            }
        });
    }
    sessions.close();
    sessions.wait().await;
}

/// One line read, or why not.
enum Line {
    Text(Vec<u8>),
    TooLong,
    Closed,
}

async fn read_line(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, limit: Duration) -> Result<Line> {
    let mut line = Vec::new();
    let read = tokio::time::timeout(limit, async {
        loop {
            let buffer = reader.fill_buf().await?;
            if buffer.is_empty() {
                return Ok::<_, std::io::Error>(false);
            }
            let (taken, done) = match buffer.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buffer.len(), false),
            };
            if line.len() < MAX_LINE + 2 {
                line.extend_from_slice(&buffer[..taken.min(MAX_LINE + 2 - line.len())]);
            }
            reader.consume(taken);
            if done {
                return Ok(true);
            }
        }
    })
    .await
    .context("the client was silent too long")??;
    if !read {
        return Ok(Line::Closed);
    }
    if line.len() > MAX_LINE {
        return Ok(Line::TooLong);
    }
    while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
        line.pop();
    }
    Ok(Line::Text(line))
}

/// The address in `FROM:<…>` or `TO:<…>` after the command word, and what follows it.
fn path_argument<'a>(rest: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let rest = rest.trim_start();
    let after =
        rest.get(..keyword.len()).filter(|k| k.eq_ignore_ascii_case(keyword)).map(|_| &rest[keyword.len()..])?;
    let after = after.trim_start().strip_prefix('<')?;
    let end = after.find('>')?;
    Some((&after[..end], &after[end + 1..]))
}

async fn session(stream: TcpStream, live: Arc<Live>, stop: CancellationToken) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let host = live.site.load().config.mail.from.email.domain().to_owned();
    write.write_all(format!("220 {host} LMTP gazette ready\r\n").as_bytes()).await?;
    let mut state: Option<Pooled> = None;
    let mut greeted = false;
    let mut has_sender = false;
    let mut recipients: Vec<String> = Vec::new();
    loop {
        let line = tokio::select! {
            () = stop.cancelled() => {
                write.write_all(b"421 4.3.2 gazette is stopping\r\n").await?;
                return Ok(());
            }
            line = read_line(&mut reader, COMMAND_TIMEOUT) => line?,
        };
        let line = match line {
            Line::Closed => return Ok(()),
            Line::TooLong => {
                write.write_all(b"500 5.5.2 line too long\r\n").await?;
                continue;
            }
            Line::Text(line) => String::from_utf8_lossy(&line).into_owned(),
        };
        let (verb, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let site = live.site.load_full();
        let Some(returns) = site.config.mail.returns.clone() else {
            write.write_all(b"421 4.3.0 returned mail is not configured\r\n").await?;
            return Ok(());
        };
        let reply: String = match verb.to_ascii_uppercase().as_str() {
            "LHLO" => {
                greeted = true;
                has_sender = false;
                recipients.clear();
                format!(
                    "250-{host}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE {}\r\n",
                    returns.max_size
                )
            }
            "MAIL" if !greeted => "503 5.5.1 LHLO first\r\n".into(),
            "MAIL" if has_sender => "503 5.5.1 nested MAIL command\r\n".into(),
            "MAIL" => match path_argument(rest, "FROM:") {
                Some((_, params)) if declared_size(params).is_some_and(|size| size > returns.max_size) => {
                    "552 5.3.4 message too big\r\n".into()
                }
                Some(_) => {
                    has_sender = true;
                    recipients.clear();
                    "250 2.1.0 Ok\r\n".into()
                }
                None => "501 5.5.4 syntax: MAIL FROM:<address>\r\n".into(),
            },
            "RCPT" if !has_sender => "503 5.5.1 MAIL first\r\n".into(),
            "RCPT" => match path_argument(rest, "TO:") {
                Some(_) if recipients.len() >= MAX_RECIPIENTS => "452 4.5.3 too many recipients\r\n".into(),
                Some((address, _)) if is_return_address(&site, &returns.address, address) => {
                    recipients.push(address.to_owned());
                    "250 2.1.5 Ok\r\n".into()
                }
                Some(_) => "550 5.1.1 not a return address here\r\n".into(),
                None => "501 5.5.4 syntax: RCPT TO:<address>\r\n".into(),
            },
            "DATA" if recipients.is_empty() => "503 5.5.1 no valid recipients\r\n".into(),
            "DATA" => {
                write.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await?;
                let data = read_data(&mut reader, returns.max_size).await?;
                let mut replies = String::new();
                match data {
                    None => {
                        for _ in &recipients {
                            replies.push_str("552 5.3.4 message too big\r\n");
                        }
                    }
                    Some(raw) => {
                        let (back, outcomes) =
                            deliver(&live.db, state.take(), site.clone(), raw, recipients.clone()).await;
                        state = back;
                        for outcome in outcomes {
                            replies.push_str(match outcome {
                                Ok(_) => "250 2.0.0 Ok\r\n",
                                Err(_) => "451 4.3.0 cannot record it now; try again later\r\n",
                            });
                        }
                    }
                }
                has_sender = false;
                recipients.clear();
                replies
            }
            "RSET" => {
                has_sender = false;
                recipients.clear();
                "250 2.0.0 Ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 Ok\r\n".into(),
            "VRFY" => "252 2.5.2 cannot verify\r\n".into(),
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            "HELO" | "EHLO" => "500 5.5.1 this is LMTP: use LHLO\r\n".into(),
            _ => "502 5.5.2 command not recognised\r\n".into(),
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// `SIZE=n` among the `MAIL FROM` parameters.
fn declared_size(params: &str) -> Option<usize> {
    params
        .split_whitespace()
        .find_map(|p| p.get(..5).filter(|k| k.eq_ignore_ascii_case("size=")).and_then(|_| p[5..].parse().ok()))
}

/// The plain return address (complaints come to it) or one of its signed return paths.
fn is_return_address(site: &Site, base: &crate::subscription::Address, address: &str) -> bool {
    address.eq_ignore_ascii_case(base.as_str()) || returned_for(&site.signer, base, address).is_some()
}

/// The message after `DATA`, dots unstuffed (RFC 5321 §4.5.2), within [`DATA_TIMEOUT`] in
/// all; `None` when it is larger than `max` or has a line longer than [`MAX_LINE`] (read to
/// its end all the same, so the session goes on).
async fn read_data(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, max: usize) -> Result<Option<Vec<u8>>> {
    tokio::time::timeout(DATA_TIMEOUT, read_data_lines(reader, max)).await.context("the message took too long")?
}

async fn read_data_lines(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    max: usize,
) -> Result<Option<Vec<u8>>> {
    let mut message = Vec::new();
    let mut too_big = false;
    loop {
        let line = match read_line(reader, DATA_TIMEOUT).await? {
            Line::Closed => anyhow::bail!("the connection closed in the middle of a message"),
            // Longer than any mail server sends (RFC 5321 §4.5.3.1.6): refused with the rest.
            Line::TooLong => {
                too_big = true;
                continue;
            }
            Line::Text(line) => line,
        };
        if line == b"." {
            return Ok(if too_big { None } else { Some(message) });
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if message.len() + line.len() + 2 > max {
            too_big = true;
            message.clear();
        }
        if !too_big {
            message.extend_from_slice(line);
            message.extend_from_slice(b"\r\n");
        }
    }
}

/// Handles `raw` once per recipient, off the async threads, on the session's database
/// connection (opened on first use); returns it with one outcome per recipient.
async fn deliver(
    db: &Database,
    state: Option<Pooled>,
    site: Arc<Site>,
    raw: Vec<u8>,
    recipients: Vec<String>,
) -> (Option<Pooled>, Vec<Result<Handled>>) {
    let count = recipients.len();
    let db = db.clone();
    let done = tokio::task::spawn_blocking(move || {
        let mut state = match state.map_or_else(|| db.get(), Ok) {
            Ok(state) => state,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "cannot open the database for returned mail");
                return (None, recipients.iter().map(|_| Err(anyhow::anyhow!("no database"))).collect());
            }
        };
        let now = chrono::Utc::now().timestamp();
        let outcomes = recipients
            .iter()
            .map(|recipient| {
                let handled = handle(&mut state, &site.config, &site.signer, &raw, Some(recipient), now);
                match &handled {
                    Ok(what) => tracing::info!(what = what.as_str(), "returned message"),
                    Err(e) => tracing::error!(error = format!("{e:#}"), "cannot record a returned message"),
                }
                handled
            })
            .collect();
        // A connection the database dropped is not kept for the session's next message.
        ((!state.is_broken()).then_some(state), outcomes)
    })
    .await;
    done.unwrap_or_else(|_| (None, (0..count).map(|_| Err(anyhow::anyhow!("the handler panicked"))).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sizes_are_read_from_their_commands() {
        assert_eq!(path_argument("FROM:<> SIZE=100", "FROM:"), Some(("", " SIZE=100")));
        assert_eq!(path_argument("to: <a@b>", "TO:"), Some(("a@b", "")));
        assert_eq!(path_argument("TO:a@b", "TO:"), None);
        assert_eq!(declared_size(" SIZE=2048 BODY=8BITMIME"), Some(2048));
        assert_eq!(declared_size(" BODY=8BITMIME"), None);
    }
}
