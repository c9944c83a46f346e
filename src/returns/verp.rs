//! Return paths that name the delivery (VERP): with `[mail.returns]`, every message goes out
//! with its own envelope sender `LOCAL+TOKEN@DOMAIN`, the token naming what was sent (a
//! digest delivery, a sign-up's confirmation, a subscriber's preferences link) and signed with
//! the token key, so that a returned message is attributed exactly, never by guessing from its
//! text, and a forged return path names nothing.

use crate::subscription::Address;
use crate::tokens::Signer;

/// What a returned message was sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnOf {
    /// The digest of run `run` to subscriber `subscriber`.
    Delivery {
        /// The digest run.
        run: i64,
        /// The subscriber's row id.
        subscriber: i64,
    },
    /// The confirmation email of sign-up `id`.
    SignUp(i64),
    /// An email with a link to the preferences of the subscriber with row id `id`, made at
    /// `since` (their row's `created_at`: a row id can be given again once a row is deleted,
    /// the pair never).
    Subscriber {
        /// Row id.
        id: i64,
        /// When the row was made.
        since: i64,
    },
}

impl ReturnOf {
    /// The token's fields: a letter for the kind, then the numbers.
    fn parts(self) -> (char, Vec<String>) {
        match self {
            ReturnOf::Delivery { run, subscriber } => ('d', vec![run.to_string(), subscriber.to_string()]),
            ReturnOf::SignUp(id) => ('s', vec![id.to_string()]),
            ReturnOf::Subscriber { id, since } => ('u', vec![id.to_string(), since.to_string()]),
        }
    }
}

/// The envelope sender for a message sent for `what`: `base` with `+TOKEN` added to its
/// local part (`bounces+d-12-345-0f3a…@news.example.gov.cn`).
pub fn return_path(signer: &Signer, base: &Address, what: ReturnOf) -> lettre::Address {
    let (kind, numbers) = what.parts();
    let kind = kind.to_string();
    let mut fields: Vec<&str> = vec![&kind];
    fields.extend(numbers.iter().map(String::as_str));
    let tag = signer.return_tag(&fields);
    let local = &base.as_str()[..base.as_str().len() - base.domain().len() - 1];
    let token = format!("{}-{tag}", fields.join("-"));
    // A plain local part (checked at config load), digits, letters and hyphens: always valid.
    lettre::Address::new(format!("{local}+{token}"), base.domain())
        .unwrap_or_else(|_| lettre::Address::new_dangerous(format!("{local}+{token}"), base.domain()))
}

/// What `recipient` (the address a returned message came to) names, if it is one of `base`'s
/// return paths with a valid tag. Case does not matter: some servers change it.
pub fn returned_for(signer: &Signer, base: &Address, recipient: &str) -> Option<ReturnOf> {
    let recipient = recipient.trim().trim_start_matches('<').trim_end_matches('>').to_ascii_lowercase();
    let (local, domain) = recipient.rsplit_once('@')?;
    if domain != base.domain().to_ascii_lowercase() {
        return None;
    }
    let base_local = base.as_str()[..base.as_str().len() - base.domain().len() - 1].to_ascii_lowercase();
    let token = local.strip_prefix(&base_local)?.strip_prefix('+')?;
    let fields: Vec<&str> = token.split('-').collect();
    let (tag, fields) = fields.split_last()?;
    if !signer.is_return_tag(fields, tag) {
        return None;
    }
    let number = |i: usize| fields.get(i).and_then(|f| canonical(f));
    match (fields.first().copied(), fields.len()) {
        (Some("d"), 3) => Some(ReturnOf::Delivery { run: number(1)?, subscriber: number(2)? }),
        (Some("s"), 2) => Some(ReturnOf::SignUp(number(1)?)),
        (Some("u"), 3) => Some(ReturnOf::Subscriber { id: number(1)?, since: number(2)? }),
        _ => None,
    }
}

/// A number as return paths write it, and only so.
fn canonical(field: &str) -> Option<i64> {
    let is_canonical =
        !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit()) && (field == "0" || !field.starts_with('0'));
    if is_canonical { field.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscription::Giver;

    fn signer() -> Signer {
        Signer::from_key(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn base() -> Address {
        Address::parse("bounces@News.Example.gov.cn", Giver::Operator).unwrap()
    }

    #[test]
    fn a_return_path_names_its_delivery_and_reads_back_in_any_case() {
        let s = signer();
        for what in [
            ReturnOf::Delivery { run: 12, subscriber: 345 },
            ReturnOf::SignUp(7),
            ReturnOf::Subscriber { id: 9, since: 1_796_188_223 },
        ] {
            let path = return_path(&s, &base(), what).to_string();
            assert!(path.starts_with("bounces+") && path.ends_with("@news.example.gov.cn"), "{path}");
            assert!(path.len() < 64 + 21, "{path}");
            assert_eq!(returned_for(&s, &base(), &path), Some(what));
            assert_eq!(returned_for(&s, &base(), &format!("<{}>", path.to_uppercase())), Some(what));
        }
    }

    #[test]
    fn forged_or_foreign_return_paths_name_nothing() {
        let s = signer();
        let path = return_path(&s, &base(), ReturnOf::Delivery { run: 12, subscriber: 345 }).to_string();
        let (token, _) = path.split_once('@').unwrap();
        let other_subscriber = path.replacen("-345-", "-346-", 1);
        let other_key = Signer::from_key(b"another key, also thirty-two bytes long").unwrap();
        for forged in [
            other_subscriber.as_str(),
            &path.replacen("-12-", "-012-", 1),
            &format!("{token}@elsewhere.example.org"),
            &path.replacen("bounces+", "bouncesx+", 1),
            "bounces@news.example.gov.cn",
            "bounces+d-12-345@news.example.gov.cn",
            "bounces+d-12-345-zz@news.example.gov.cn",
            "",
        ] {
            assert_eq!(returned_for(&s, &base(), forged), None, "{forged}");
        }
        assert_eq!(returned_for(&other_key, &base(), &path), None);
    }
}
