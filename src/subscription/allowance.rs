//! Allowances kept in the state, so that every instance on one database counts against one:
//! sign-ups per client and confirmation emails per inbox. Each is a generic cell rate
//! (GCRA, as the in-memory limiters use): one number per key, the moment its allowance is
//! used up to, moved forward by each use. Keys are stored hashed (SHA-256): the table holds no
//! client address or inbox in clear, though a guessed one can be checked against it.

use anyhow::Result;

use crate::state::Tx;

/// So many uses per `period`, all of them at once if need be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Uses at most in a burst.
    pub burst: u32,
    /// The time one use takes to come back (milliseconds).
    pub every_ms: i64,
}

impl Quota {
    /// `count` uses per `period`, all of them at once if need be.
    pub fn per(count: u32, period: std::time::Duration) -> Quota {
        let count = count.max(1);
        let period = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
        Quota { burst: count, every_ms: (period / i64::from(count)).max(1) }
    }
}

/// Confirmation emails one inbox may be sent: two at once, then one every five minutes.
pub const MAIL_PER_INBOX: Quota = Quota { burst: 2, every_ms: 300_000 };

/// Takes one use of `key`'s allowance under `quota` at `now_ms`; false (and nothing taken)
/// when none is left.
pub fn take(tx: &Tx, key: &str, quota: Quota, now_ms: i64) -> Result<bool> {
    let key = hashed(key);
    let used_to = tx.allowance(&key)?.unwrap_or(now_ms).max(now_ms);
    let next = used_to.saturating_add(quota.every_ms);
    if next - now_ms > quota.every_ms.saturating_mul(i64::from(quota.burst)) {
        return Ok(false);
    }
    tx.set_allowance(&key, next)?;
    Ok(true)
}

/// Reserves the next `length_ms` of `key`'s time (a rate several processes share) and
/// returns when it starts: at `now_ms`, or when the time reserved before it ends.
pub fn reserve(tx: &Tx, key: &str, length_ms: i64, now_ms: i64) -> Result<i64> {
    let key = hashed(key);
    let start = tx.allowance(&key)?.unwrap_or(now_ms).max(now_ms);
    tx.set_allowance(&key, start.saturating_add(length_ms))?;
    Ok(start)
}

/// How long until `key` has a use again under `quota` (milliseconds; 0 when it has one).
pub fn wait_ms(tx: &Tx, key: &str, quota: Quota, now_ms: i64) -> Result<i64> {
    let used_to = tx.allowance(&hashed(key))?.unwrap_or(now_ms);
    let full_after = used_to.saturating_add(quota.every_ms) - quota.every_ms.saturating_mul(i64::from(quota.burst));
    Ok((full_after - now_ms).max(0))
}

fn hashed(key: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(key.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_use_per_interval_on_every_backend() {
        for (_db, mut state) in crate::state::each_backend() {
            let quota = Quota::per(3, std::time::Duration::from_secs(3600));
            let take_at = |state: &mut crate::state::State, now| {
                state.write(|tx| take(tx, "signup:192.0.2.1", quota, now)).unwrap()
            };
            assert!(take_at(&mut state, 0) && take_at(&mut state, 1) && take_at(&mut state, 2), "a burst of three");
            assert!(!take_at(&mut state, 3), "then none");
            assert!(state.write(|tx| take(tx, "signup:192.0.2.2", quota, 3)).unwrap(), "another key has its own");
            assert_eq!(state.write(|tx| wait_ms(tx, "signup:192.0.2.1", quota, 3)).unwrap(), 1_200_000 - 3);
            assert!(!take_at(&mut state, 1_199_999));
            assert!(take_at(&mut state, 1_200_000), "one comes back after 20 minutes");
            assert!(!take_at(&mut state, 1_200_001));
            // A shared rate: each reservation starts where the one before ends.
            let reserve_at =
                |state: &mut crate::state::State, now| state.write(|tx| reserve(tx, "rate:digest", 500, now)).unwrap();
            assert_eq!(reserve_at(&mut state, 1_000), 1_000);
            assert_eq!(reserve_at(&mut state, 1_010), 1_500, "after the first slice");
            assert_eq!(reserve_at(&mut state, 5_000), 5_000, "idle meanwhile: at once");
            state.write(|tx| tx.forget_allowances(10_000_000)).unwrap();
            assert!(take_at(&mut state, 10_000_000) && take_at(&mut state, 10_000_000));
        }
    }
}
