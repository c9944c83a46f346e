//! The subscription lifecycle, every rule of it in this one module; the web pages and the
//! command line call it, and storage ([`crate::state`]) only does what it is told.
//!
//! - **Addresses** are normalised ([`Address`]): one mailbox is one subscriber, and every
//!   limit counts the mailbox, however its address was spelled.
//! - **Sign up** (the public form, [`sign_up`]): a confirmed subscriber is left exactly as is
//!   and mailed a link to their preferences; anyone else gets a *sign-up*, a row of its own
//!   holding the choices made on the form, and a confirmation link bound to that row. A new
//!   sign-up of an address replaces the one before (whose link then dies). At most
//!   [`allowance::MAIL_PER_INBOX`] emails per inbox, `subscriptions.pending_per_domain` sign-ups waiting per
//!   registrable domain and `subscriptions.pending_max` in all; a sign-up over a limit changes
//!   nothing, and the domain limits answer alike whether or not the address is subscribed.
//! - **Confirm** ([`confirm`]): only through the link mailed for that sign-up, within
//!   `subscriptions.confirm_within`; the sign-up's choices become the subscriber's, the address
//!   leaves the suppression list (its owner asked), and every sign-up of the address dies.
//! - **Preferences** ([`change_preferences`]): only through the subscriber's own link.
//! - **Unsubscribe** ([`unsubscribe`]): at once, and every sign-up of the address dies, so no
//!   link mailed earlier can subscribe it again.
//! - **Operators** ([`add`], [`list::import`], [`remove`]): add or update any address the relay
//!   accepts. An address that unsubscribed or bounced is left alone (only its owner can come
//!   back); one that was removed is not brought back by a list, but may be by hand. Removing
//!   keeps only a hash, on the suppression list.
//! - **Returned mail** ([`bounces`], [`complaint`]): bounces raise a score that marks the
//!   subscriber bounced at `mail.bounce_limit`; a spam complaint unsubscribes at once and
//!   suppresses the address.
//! - **Purge** ([`purge_expired`]): sign-ups never confirmed are deleted once their link
//!   has expired, and allowances whole again are forgotten.

mod address;
pub mod allowance;
pub mod bounces;
mod choices;
mod list;

use anyhow::{Context, Result};

pub use address::{Address, AddressError, Giver};
pub use choices::preferences;
pub use list::{ImportReport, export, import};

use crate::config::SubscriptionsConfig;
use crate::state::{Preferences, Saved, SignUp, State, Status, Subscriber, Tx};

/// What a sign-up on the form comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedUp {
    /// A new sign-up: mail it its confirmation link.
    Pending(SignUp),
    /// The address is subscribed: nothing changed; mail them a link to their preferences.
    Subscribed(Subscriber),
    /// The inbox was mailed twice in the last minutes: nothing changed, nothing to send.
    MailLimited,
    /// Too many sign-ups wait for confirmation in the address's domain, or in all: nothing
    /// changed.
    Full,
}

/// Signs `address` up with `choices` (see the module's rules). `consent` says where it came
/// from (`web:CLIENT`).
pub fn sign_up(
    state: &mut State,
    address: &Address,
    choices: &Preferences,
    consent: &str,
    now: i64,
    limits: &SubscriptionsConfig,
) -> Result<SignedUp> {
    // One allowance per inbox, however many instances and spellings ask.
    let mail_key = format!("mail:{}", address.inbox_key());
    let allows = |tx: &Tx| allowance::take(tx, &mail_key, allowance::MAIL_PER_INBOX, now.saturating_mul(1000));
    state.write(|tx| {
        // First, for every address alike: whether a domain is full must not tell whether an
        // address in it is subscribed.
        let is_full = tx.signups_in_domain(address.registrable_domain())? >= limits.pending_per_domain
            || tx.count_signups()? >= limits.pending_max;
        if is_full {
            return Ok(SignedUp::Full);
        }
        if let Some(subscriber) = tx.subscriber(address)?.filter(|s| s.status == Status::Confirmed) {
            return Ok(if allows(tx)? { SignedUp::Subscribed(subscriber) } else { SignedUp::MailLimited });
        }
        // Checked before the sign-up before it is replaced: a link already mailed keeps
        // working when no new one can be sent.
        if !allows(tx)? {
            return Ok(SignedUp::MailLimited);
        }
        tx.delete_signups(address)?;
        Ok(SignedUp::Pending(tx.add_signup(address, choices, consent, now)?))
    })
}

/// How long a confirmation link works, in seconds.
fn link_lifetime(limits: &SubscriptionsConfig) -> i64 {
    i64::try_from(limits.confirm_within.as_secs()).unwrap_or(i64::MAX)
}

/// Is `signup`'s link, issued at `issued`, the one mailed for it, and still valid at `now`?
fn is_live(signup: &SignUp, issued: i64, now: i64, limits: &SubscriptionsConfig) -> bool {
    signup.created_at == issued && now.saturating_sub(signup.created_at) <= link_lifetime(limits)
}

/// The sign-up a confirmation link (sign-up `id`, issued at `issued`) names, if the link still
/// works: `None` once the sign-up was replaced, confirmed, withdrawn by an unsubscribe, or its
/// time is over.
pub fn pending_signup(
    state: &State,
    id: i64,
    issued: i64,
    now: i64,
    limits: &SubscriptionsConfig,
) -> Result<Option<SignUp>> {
    Ok(state.signup(id)?.filter(|s| is_live(s, issued, now, limits)))
}

/// Confirms the sign-up a confirmation link names; `None` when the link no longer works (see
/// [`pending_signup`]). Returns the subscriber as stored afterwards.
pub fn confirm(
    state: &mut State,
    id: i64,
    issued: i64,
    now: i64,
    limits: &SubscriptionsConfig,
) -> Result<Option<Subscriber>> {
    state.write(|tx| {
        let Some(signup) = tx.signup(id)?.filter(|s| is_live(s, issued, now, limits)) else { return Ok(None) };
        let address = stored_address(&signup.email)?;
        let id = match tx.subscriber(&address)? {
            None => tx.add_subscriber(&address, &signup.preferences, Status::Confirmed, &signup.consent, now)?,
            Some(subscriber) => {
                let name = signup.preferences.name.clone().or(subscriber.preferences.name);
                tx.set_preferences(subscriber.id, &Preferences { name, ..signup.preferences.clone() })?;
                if subscriber.status != Status::Confirmed {
                    tx.mark_confirmed(subscriber.id, &signup.consent, now)?;
                }
                subscriber.id
            }
        };
        tx.delete_signups(&address)?;
        tx.unsuppress(&address)?;
        tx.subscriber_by_id(id)?.context("the confirmed subscriber is gone").map(Some)
    })
}

/// Unsubscribes subscriber `id` (their own link): no digest from now on, in a run under way
/// too, and every sign-up of their address dies. False when they were not subscribed.
pub fn unsubscribe(state: &mut State, id: i64, now: i64) -> Result<bool> {
    state.write(|tx| {
        let Some(subscriber) = tx.subscriber_by_id(id)? else { return Ok(false) };
        // By the stored key, not by parsing the address again: a row kept from an earlier
        // release may hold one today's rules refuse, and its owner must still be able to leave.
        tx.delete_signups_of_subscriber(id)?;
        let is_subscribed = matches!(subscriber.status, Status::Pending | Status::Confirmed);
        if is_subscribed {
            tx.mark_unsubscribed(id, now)?;
        }
        Ok(is_subscribed)
    })
}

/// Subscriber `id` reported a message as spam (a feedback loop's complaint): unsubscribed at
/// once, every sign-up of the address ended, and the address put on the suppression list
/// (reason `complaint`), so no list brings it back. False when there is no such subscriber.
pub fn complaint(tx: &Tx, id: i64, now: i64) -> Result<bool> {
    let Some(subscriber) = tx.subscriber_by_id(id)? else { return Ok(false) };
    tx.delete_signups_of_subscriber(id)?;
    if matches!(subscriber.status, Status::Pending | Status::Confirmed) {
        tx.mark_unsubscribed(id, now)?;
    }
    tx.suppress_key(&subscriber.email.to_lowercase(), "complaint", now)?;
    Ok(true)
}

/// Saves `choices` for subscriber `id` (their own preferences link); the name stays when
/// `choices` has none. Returns the subscriber as stored, `None` when there is no such one.
pub fn change_preferences(state: &mut State, id: i64, choices: &Preferences) -> Result<Option<Subscriber>> {
    state.write(|tx| {
        let Some(subscriber) = tx.subscriber_by_id(id)? else { return Ok(None) };
        let name = choices.name.clone().or(subscriber.preferences.name);
        tx.set_preferences(id, &Preferences { name, ..choices.clone() })?;
        tx.subscriber_by_id(id)
    })
}

/// An operator adds `address` (or updates its preferences) with `status`: see [`save`]. One
/// address at a time is a deliberate act, so an address removed before may come back.
pub fn add(
    state: &mut State,
    address: &Address,
    preferences: &Preferences,
    status: Status,
    consent: &str,
    now: i64,
) -> Result<Saved> {
    state.write(|tx| save(tx, address, preferences, status, consent, now, false))
}

/// Saves an operator's `preferences` for `address`: adds a new subscriber with `status`, or
/// updates a pending or confirmed one (`--confirmed` confirms a pending one). An address
/// that unsubscribed or bounced is left alone: only its owner can subscribe again. An address
/// removed before is not brought back `from_list`.
fn save(
    tx: &Tx,
    address: &Address,
    preferences: &Preferences,
    status: Status,
    consent: &str,
    now: i64,
    from_list: bool,
) -> Result<Saved> {
    let saved = match tx.subscriber(address)? {
        None if from_list && tx.is_suppressed(address)? => return Ok(Saved::Suppressed),
        None => {
            tx.add_subscriber(address, preferences, status, consent, now)?;
            tx.unsuppress(address)?;
            Saved::Added
        }
        Some(old) if matches!(old.status, Status::Unsubscribed | Status::Bounced) => {
            return Ok(Saved::Kept(old.status));
        }
        Some(old) if old.status == Status::Pending && status == Status::Confirmed => {
            tx.set_preferences(old.id, preferences)?;
            tx.mark_confirmed(old.id, consent, now)?;
            Saved::Updated
        }
        Some(old) if old.preferences == *preferences => Saved::Unchanged,
        Some(old) => {
            tx.set_preferences(old.id, preferences)?;
            Saved::Updated
        }
    };
    // Confirmed now by the operator: a confirmation link mailed before has nothing left to do.
    if status == Status::Confirmed {
        tx.delete_signups(address)?;
    }
    Ok(saved)
}

/// An operator removes `address`: the subscriber, their deliveries and sign-ups are deleted
/// (overwritten on disk) and only a hash of the address stays, so that no list brings it
/// back. False when nothing was kept about it.
pub fn remove(state: &mut State, address: &Address, now: i64) -> Result<bool> {
    remove_key(state, &address.key(), now)
}

/// [`remove`] by the key an address is stored under, for a row kept from an earlier release
/// whose address today's parser refuses (`input` as the operator typed it).
pub fn remove_unparsed(state: &mut State, input: &str, now: i64) -> Result<bool> {
    remove_key(state, &input.trim().to_lowercase(), now)
}

fn remove_key(state: &mut State, key: &str, now: i64) -> Result<bool> {
    let removed = state.write(|tx| {
        let subscriber = tx.subscriber_by_key(key)?;
        let signups = tx.delete_signups_by_key(key)?;
        if let Some(subscriber) = &subscriber {
            tx.delete_subscriber(subscriber.id)?;
        }
        if subscriber.is_none() && signups == 0 {
            return Ok(false);
        }
        let reason =
            subscriber.map_or_else(|| "removed while signing up".to_owned(), |s| format!("removed while {}", s.status));
        tx.suppress_key(key, &reason, now)?;
        Ok(true)
    })?;
    if removed {
        state.checkpoint()?;
    }
    Ok(removed)
}

/// Records how the deliveries `sender` holds in `run` ended (one transaction for the batch),
/// counting each hard refusal as a bounce ([`bounces`]); returns the subscribers whose were
/// recorded (a delivery another sender took over is not). A batch with no hard refusal
/// changes no subscriber's status, so on PostgreSQL it is recorded without the write lock
/// ([`State::record_outcomes`]).
pub fn record_outcomes(
    state: &mut State,
    run: &crate::state::Run,
    sender: &str,
    outcomes: &[(i64, crate::state::Outcome)],
    now: i64,
    mail: &crate::config::MailConfig,
) -> Result<Vec<i64>> {
    use crate::state::Outcome;
    let is_refused = |outcome: &Outcome| matches!(outcome, Outcome::Failed { is_permanent: true, .. });
    if !outcomes.iter().any(|(_, outcome)| is_refused(outcome)) {
        return state.record_outcomes(run, sender, outcomes, now);
    }
    state.write(|tx| {
        let recorded = tx.record_outcomes(run, sender, outcomes, now)?;
        for (subscriber, outcome) in outcomes {
            if is_refused(outcome) && recorded.contains(subscriber) {
                bounces::count_bounce(tx, *subscriber, bounces::Weight::Hard, now, mail)?;
            }
        }
        Ok(recorded)
    })
}

/// Deletes the sign-ups whose confirmation link expired by `now`; returns how many.
pub fn purge_expired(state: &mut State, now: i64, limits: &SubscriptionsConfig) -> Result<usize> {
    state.write(|tx| {
        // Allowances whole again are as good as none: their rows go too.
        tx.forget_allowances(now.saturating_mul(1000))?;
        tx.delete_signups_before(now.saturating_sub(link_lifetime(limits)))
    })
}

/// An address read back from the database, stored normalised.
fn stored_address(email: &str) -> Result<Address> {
    Address::parse(email, Giver::Operator).context("the stored address of a subscriber does not parse")
}

#[cfg(test)]
mod tests;
