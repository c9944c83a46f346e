//! The deliveries one sender holds in a run, and until when its lease on each is known to
//! hold: what fences sending by the lease. A message is sent only while its delivery's lease
//! has a third of its length left, so the send ends before another instance could take the
//! delivery over; while renewals fail (the database is away) sending waits. A delivery the
//! database no longer renews for this sender (it was recorded, or another instance took it
//! over when this one's lease ran out) is dropped, never sent.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a held delivery stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    /// Its lease holds long enough to send it.
    Good,
    /// Its lease is running out and has not been renewed: wait for a renewal.
    Lapsed,
    /// Not this sender's any more: drop it.
    Lost,
}

/// The deliveries (by subscriber id) this sender claimed and has not recorded, each with the
/// moment its lease ends at the latest.
pub struct Held {
    lease: Duration,
    claims: Mutex<HashMap<i64, Instant>>,
}

impl Held {
    /// None held yet, with leases of `lease`.
    pub fn new(lease: Duration) -> Held {
        Held { lease, claims: Mutex::default() }
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Instant>> {
        // Every change leaves the map whole: a panic elsewhere does not spoil it.
        self.claims.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The deliveries held, to renew or to leave out of the next claim.
    pub fn ids(&self) -> Vec<i64> {
        self.claims().keys().copied().collect()
    }

    /// `ids` were claimed by a statement sent at `since`: their leases end `lease` after it.
    pub fn add(&self, ids: impl IntoIterator<Item = i64>, since: Instant) {
        let ends = since + self.lease;
        self.claims().extend(ids.into_iter().map(|id| (id, ends)));
    }

    /// A renewal sent at `since` for `asked` renewed `renewed`: theirs end `lease` after it,
    /// and the rest of `asked` are no longer held.
    pub fn renewed(&self, asked: &[i64], renewed: &[i64], since: Instant) {
        let ends = since + self.lease;
        let renewed: HashSet<i64> = renewed.iter().copied().collect();
        let mut claims = self.claims();
        for id in asked {
            if renewed.contains(id) {
                if let Some(end) = claims.get_mut(id) {
                    *end = (*end).max(ends);
                }
            } else {
                claims.remove(id);
            }
        }
    }

    /// `ids` were recorded (or were not this sender's to record): no longer held.
    pub fn forget(&self, ids: impl IntoIterator<Item = i64>) {
        let mut claims = self.claims();
        for id in ids {
            claims.remove(&id);
        }
    }

    /// Where the delivery of subscriber `id` stands now.
    pub fn standing(&self, id: i64) -> Standing {
        match self.claims().get(&id) {
            None => Standing::Lost,
            Some(end) if end.saturating_duration_since(Instant::now()) >= self.lease / 3 => Standing::Good,
            Some(_) => Standing::Lapsed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_good_until_two_thirds_of_its_lease_and_lost_once_not_renewed() {
        let held = Held::new(Duration::from_secs(60));
        let now = Instant::now();
        held.add([1, 2, 3], now);
        assert_eq!(held.standing(1), Standing::Good);
        assert_eq!(held.standing(9), Standing::Lost, "never claimed");
        // Claimed 41 s ago and never renewed: less than a third of the lease is left.
        held.add([4], now - Duration::from_secs(41));
        assert_eq!(held.standing(4), Standing::Lapsed);
        // A renewal sent now for 2, 3 and 4 renews 2 and 4: 3 was taken over or recorded.
        held.renewed(&[2, 3, 4], &[2, 4], now);
        assert_eq!(held.standing(4), Standing::Good);
        assert_eq!(held.standing(3), Standing::Lost);
        assert_eq!(held.standing(1), Standing::Good, "not asked about: unchanged");
        // An old renewal's answer never shortens a newer claim.
        held.renewed(&[1], &[1], now - Duration::from_secs(50));
        assert_eq!(held.standing(1), Standing::Good);
        held.forget([1, 2]);
        let mut ids = held.ids();
        ids.sort_unstable();
        assert_eq!(ids, [4]);
    }
}
