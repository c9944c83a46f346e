//! `[subscriptions]`: how long a sign-up may wait for its confirmation, and how many may wait
//! at once in one mail domain. The rules that use them are [`crate::subscription`]'s.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The limits of the subscription lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionsConfig {
    /// How long a confirmation link works; sign-ups older than this are deleted.
    pub confirm_within: Duration,
    /// Sign-ups that may wait for confirmation in one registrable domain at once (a flood
    /// from many addresses cannot fill the database).
    pub pending_per_domain: u64,
    /// Sign-ups that may wait for confirmation in all (a flood from many domains cannot
    /// either).
    pub pending_max: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSubscriptions {
    confirm_within: String,
    pending_per_domain: u64,
    pending_max: u64,
}

impl Default for RawSubscriptions {
    fn default() -> Self {
        RawSubscriptions { confirm_within: "7d".to_owned(), pending_per_domain: 1000, pending_max: 100_000 }
    }
}

impl RawSubscriptions {
    pub(super) fn validate(self) -> Result<SubscriptionsConfig> {
        let confirm_within = humantime::parse_duration(&self.confirm_within).with_context(|| {
            format!("subscriptions.confirm_within: '{}' is not a duration such as '7d'", self.confirm_within)
        })?;
        if confirm_within < Duration::from_secs(1) {
            bail!("subscriptions.confirm_within: must be at least a second");
        }
        if self.pending_per_domain == 0 {
            bail!("subscriptions.pending_per_domain: must be at least 1");
        }
        if self.pending_max < self.pending_per_domain {
            bail!("subscriptions.pending_max: must be at least subscriptions.pending_per_domain");
        }
        Ok(SubscriptionsConfig {
            confirm_within,
            pending_per_domain: self.pending_per_domain,
            pending_max: self.pending_max,
        })
    }
}
