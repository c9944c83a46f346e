//! Sending one message until it goes: a transient failure (4xx, a dropped connection, a
//! timeout) is tried again after waits that double from 1 s up to 60 s; a refusal is final at
//! once. The rate limit is waited on before every attempt, so retries count against it too.
//! A stop (a signal) ends the waiting, never a message half sent.

use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota};
use tokio_util::sync::CancellationToken;

use super::message::Outgoing;
use super::transport::{Connection, SendError};

/// The first wait after a transient failure.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// Messages per second for a whole run, shared by its connections.
pub fn rate_limiter(per_second: f64, burst: u32) -> DefaultDirectRateLimiter {
    let period = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_nanos(1));
    let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(std::num::NonZeroU32::MIN));
    DefaultDirectRateLimiter::direct(
        quota.allow_burst(std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN)),
    )
}

/// Sends `message` through `conn`, up to `attempts` times while the server is unavailable.
/// Returns the last error when it stays unavailable, or the refusal.
pub async fn send_with_retries(
    conn: &mut Connection,
    message: &Outgoing,
    attempts: u32,
    pace: &super::pace::Pace,
    gate: &mut super::transport::Gate<'_>,
    stop: &CancellationToken,
) -> Result<(), SendError> {
    let mut wait = FIRST_WAIT;
    let mut attempt = 1;
    loop {
        tokio::select! {
            () = stop.cancelled() => return Err(SendError::Unavailable("stopped".into())),
            () = pace.until_ready() => {}
        }
        // Once started, a message is sent to the end: stopping halfway would leave the server
        // not knowing whether it was sent.
        match conn.send(message, gate).await {
            Err(SendError::Unavailable(error)) if attempt < attempts => {
                crate::metrics::metrics().retries.inc();
                // Server replies may quote the recipient: logs do not name people.
                let error = message.envelope.to().iter().fold(error, |e, to| e.replace(&to.to_string(), "<address>"));
                tracing::warn!(attempt, error, "sending failed; trying again in {}s", wait.as_secs());
                tokio::select! {
                    () = stop.cancelled() => return Err(SendError::Unavailable("stopped".into())),
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(LONGEST_WAIT);
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limiter_spaces_messages_at_the_configured_rate() {
        let limiter = rate_limiter(200.0, 1);
        let started = tokio::time::Instant::now();
        for _ in 0..21 {
            limiter.until_ready().await;
        }
        // 20 waits of 5 ms after the first message.
        assert!(started.elapsed() >= Duration::from_millis(95), "{:?}", started.elapsed());
    }
}
