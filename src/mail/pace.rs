//! The pace of sending (`mail.rate`), held by every instance on one database together: each
//! takes a slice of the rate's time from the state (half a second's worth of messages at a
//! time, [`crate::subscription::allowance::reserve`]) and spends it at the rate, so that any
//! number of instances send no faster than one.

use std::time::Duration;

use governor::DefaultDirectRateLimiter;

use super::retry::rate_limiter;
use crate::state::Database;

/// A rate shared through the state under a name of its own (`digest`, `confirm`).
pub struct Pace {
    local: DefaultDirectRateLimiter,
    db: Database,
    key: String,
    /// How long a slice lasts at the rate (milliseconds).
    slice_ms: i64,
    slice: u32,
    /// Messages left in the slice taken, and when the slice starts (Unix milliseconds).
    left: tokio::sync::Mutex<(u32, i64)>,
}

impl Pace {
    /// `per_second` messages a second for `name`, across every instance on `db`, with
    /// `burst` at once within one.
    pub fn new(db: &Database, name: &str, per_second: f64, burst: u32) -> Pace {
        let slice = ((per_second / 2.0).ceil() as u32).max(1);
        Pace {
            local: rate_limiter(per_second, burst),
            db: db.clone(),
            key: format!("rate:{name}"),
            slice_ms: ((f64::from(slice) * 1000.0 / per_second).round() as i64).max(1),
            slice,
            left: tokio::sync::Mutex::new((0, 0)),
        }
    }

    /// Waits until one more message may go.
    pub async fn until_ready(&self) {
        let start = {
            let mut left = self.left.lock().await;
            if left.0 == 0 {
                *left = (self.slice, self.take_slice().await);
            }
            left.0 -= 1;
            left.1
        };
        let now = chrono::Utc::now().timestamp_millis();
        if start > now {
            tokio::time::sleep(Duration::from_millis(u64::try_from(start - now).unwrap_or(0))).await;
        }
        self.local.until_ready().await;
    }

    /// Takes the next slice of the shared rate; returns when it starts. A database that does
    /// not answer does not stop the sending: the slice starts now, at this instance's rate.
    async fn take_slice(&self) -> i64 {
        let now = chrono::Utc::now().timestamp_millis();
        let (db, key) = (self.db.clone(), self.key.clone());
        let length = self.slice_ms;
        let taken = tokio::task::spawn_blocking(move || {
            db.get()?.write(|tx| crate::subscription::allowance::reserve(tx, &key, length, now))
        })
        .await;
        match taken {
            Ok(Ok(start)) => start,
            Ok(Err(e)) => {
                tracing::warn!(error = format!("{e:#}"), "cannot share the send rate: sending at this instance's");
                now
            }
            Err(_) => now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_instances_together_send_no_faster_than_the_rate() {
        // Opened off the runtime: a PostgreSQL connection blocks on a runtime of its own.
        for scratch in [crate::state::scratch_sqlite(), crate::state::scratch_postgres()] {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            let _entered = runtime.enter();
            // Two instances at 100 a second each would send 60 messages in 0.3 s; sharing the
            // rate, the second waits for the half second the first took.
            let (a, b) = (Pace::new(&scratch.db, "digest", 100.0, 1), Pace::new(&scratch.db, "digest", 100.0, 1));
            let started = tokio::time::Instant::now();
            let send = |pace: Pace| async move {
                for _ in 0..30 {
                    pace.until_ready().await;
                }
            };
            runtime.block_on(async { tokio::join!(send(a), send(b)) });
            assert!(started.elapsed() >= Duration::from_millis(500), "{}: {:?}", scratch.db.url(), started.elapsed());
        }
    }
}
