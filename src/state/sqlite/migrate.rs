//! Migration steps that SQL alone cannot do: storing every address in its normalised spelling
//! ([`Address`]), so that rows which were different spellings of one mailbox become one.

use rusqlite::{Transaction, params};
use rusqlite_migration::{HookError, HookResult};

use crate::state::Status;
use crate::subscription::{Address, Giver};

/// Rewrites each subscriber's address and key in the normalised form. Rows that turn out to
/// be one mailbox are merged into the oldest, which keeps the strongest "stop" any of them
/// said (unsubscribed, then bounced), so a merge never mails someone who asked not to be.
/// An address that no longer parses is left as it was.
pub fn normalise_addresses(tx: &Transaction) -> HookResult {
    let rows: Vec<(i64, String, String)> = {
        let mut stmt = tx.prepare("SELECT id, email, status FROM subscribers ORDER BY id")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?
    };
    let mut kept: std::collections::HashMap<String, (i64, Status)> = std::collections::HashMap::new();
    let mut changes = Vec::new();
    for (id, email, status) in rows {
        let Ok(address) = Address::parse(&email, Giver::Operator) else { continue };
        let status: Status = status.parse().map_err(HookError::Hook)?;
        match kept.get_mut(&address.key()) {
            Some((first, strongest)) => {
                if rank(status) > rank(*strongest) {
                    *strongest = status;
                }
                tx.execute("DELETE FROM subscribers WHERE id = ?1", [id])?;
                tracing::info!(subscriber = id, merged_into = *first, "one mailbox stored twice: merged");
            }
            None => {
                kept.insert(address.key(), (id, status));
                changes.push((id, address));
            }
        }
    }
    // Through a placeholder key first: a row's new key may still be another row's old one.
    for (id, _) in &changes {
        tx.execute("UPDATE subscribers SET email_key = '#' || id WHERE id = ?1", [id])?;
    }
    for (id, address) in &changes {
        let status = kept.get(&address.key()).map_or(Status::Pending, |(_, s)| *s);
        tx.execute(
            "UPDATE subscribers SET email = ?2, email_key = ?3, status = ?4 WHERE id = ?1",
            params![id, address.as_str(), address.key(), status.as_str()],
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
