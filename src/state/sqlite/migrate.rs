//! Migration steps that SQL alone cannot do: storing every address in its normalised spelling
//! ([`Address`]), so that rows which were different spellings of one mailbox become one.

use std::collections::HashMap;

use rusqlite::{Transaction, params};
use rusqlite_migration::{HookError, HookResult};

use crate::state::Status;
use crate::subscription::{Address, Giver};

/// Rewrites each subscriber's address and key in the normalised form, keeping the old spelling
/// in `link_email` (links already mailed were signed over it). Rows that turn out to be one
/// mailbox are merged: the row whose status says the most (unsubscribed, then bounced, then
/// confirmed; the oldest among equals) is kept whole, so a merge never mails someone who asked
/// not to be, and the others are deleted. An address that no longer parses is left as it was
/// and logged: its owner can still unsubscribe, and an operator remove it.
pub fn normalise_addresses(tx: &Transaction) -> HookResult {
    let rows: Vec<(i64, String, String)> = {
        let mut stmt = tx.prepare("SELECT id, email, status FROM subscribers ORDER BY id")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?
    };
    // Per normalised key: the row kept so far, its status, and its address.
    let mut kept: HashMap<String, (i64, Status, Address, String)> = HashMap::new();
    for (id, email, status) in rows {
        let Ok(address) = Address::parse(&email, Giver::Operator) else {
            tracing::warn!(subscriber = id, "a stored address does not parse as an address: left as it was");
            continue;
        };
        let status: Status = status.parse().map_err(HookError::Hook)?;
        match kept.get_mut(&address.key()) {
            Some(first) => {
                let loser = if rank(status) > rank(first.1) {
                    let loser = first.0;
                    *first = (id, status, address, email);
                    loser
                } else {
                    id
                };
                tx.execute("DELETE FROM subscribers WHERE id = ?1", [loser])?;
                tracing::info!(subscriber = loser, merged_into = first.0, "one mailbox stored twice: merged");
            }
            None => {
                kept.insert(address.key(), (id, status, address, email));
            }
        }
    }
    // Through a placeholder key first: a row's new key may still be another row's old one.
    for (id, ..) in kept.values() {
        tx.execute("UPDATE subscribers SET email_key = '#' || id WHERE id = ?1", [id])?;
    }
    for (id, _, address, old) in kept.values() {
        let link_email = (old != address.as_str()).then_some(old);
        tx.execute(
            "UPDATE subscribers SET email = ?2, email_key = ?3, link_email = ?4 WHERE id = ?1",
            params![id, address.as_str(), address.key(), link_email],
        )?;
    }
    Ok(())
}

/// Which status wins when rows merge: a stop over a subscription, a subscription over none.
fn rank(status: Status) -> u8 {
    match status {
        Status::Pending => 0,
        Status::Confirmed => 1,
        Status::Bounced => 2,
        Status::Unsubscribed => 3,
    }
}
