//! Email addresses as the mail server will use them (RFC 5321 §4.1.2, RFC 6531 for UTF-8):
//! parsed, then normalised to the one spelling that goes into `RCPT TO`, so every spelling of
//! one mailbox (`"target"@Example.ORG`, `"t\arget"@example.org`, `target@example.org`) is one
//! subscriber with one set of limits. Public sign-up refuses more than an operator's command
//! line does: nothing that needs quoting, no IP literals, no names that cannot be on the
//! internet.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Who gives the address, which decides how much is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Giver {
    /// A stranger on the subscribe form: only addresses that plainly belong to the internet.
    Public,
    /// An operator (command line, import): anything the relay can be handed.
    Operator,
}

/// Why an address was refused. The web form shows each in the reader's language
/// ([`AddressError::string_key`]); the command line shows the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not an address at all.
    #[error("'{0}' is not an email address")]
    Syntax(String),
    /// A local part (or the whole) over the limits of RFC 5321 §4.5.3.1.
    #[error("'{0}' is too long for an email address")]
    TooLong(String),
    /// A local part that only works quoted (`"a b"@example.org`).
    #[error("'{0}' has a quoted local part that cannot be written without quotes")]
    NeedsQuoting(String),
    /// A domain that is an IP address (`user@[192.0.2.1]`).
    #[error("'{0}' names an IP address instead of a domain")]
    IpLiteral(String),
    /// A domain no message from the internet can reach (`localhost`, `*.invalid`, no dot).
    #[error("'{0}' has a domain that cannot be mailed from the internet")]
    NotPublic(String),
    /// A UTF-8 local part: only relays with SMTPUTF8 (RFC 6531) take it.
    #[error("'{0}' has a local part with non-ASCII letters, which many mail servers refuse")]
    Unmailable(String),
}

impl AddressError {
    /// The key of the interface string that explains this refusal (`templates/strings.toml`).
    pub fn string_key(&self) -> &'static str {
        match self {
            AddressError::Syntax(_) | AddressError::TooLong(_) => "bad_email",
            AddressError::NeedsQuoting(_) => "email_needs_quoting",
            AddressError::IpLiteral(_) => "email_ip_literal",
            AddressError::NotPublic(_) => "email_not_public",
            AddressError::Unmailable(_) => "email_unmailable",
        }
    }
}

/// A normalised address: the local part unquoted where quoting changes nothing, the domain
/// lowercased and IDNA-encoded (A-labels). What is stored, keyed on and sent to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    text: String,
    /// Byte index of the `@` that separates local part and domain.
    at: usize,
}

/// Longest local part in octets (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL: usize = 64;
/// Longest domain in octets, as A-labels (RFC 1035: 253 without the root dot).
const MAX_DOMAIN: usize = 253;
/// Longest address: a path is at most 256 octets with its angle brackets (§4.5.3.1.3).
const MAX_ADDRESS: usize = 254;

impl Address {
    /// Parses and normalises `input` (surrounding white space ignored; no display name, no
    /// comments, no line breaks).
    pub fn parse(input: &str, giver: Giver) -> Result<Address, AddressError> {
        let input = input.trim();
        let shown = || crate::text::one_line(input).chars().take(120).collect::<String>();
        let syntax = || AddressError::Syntax(shown());
        let at = input.rfind('@').ok_or_else(syntax)?;
        let (local, domain) = (&input[..at], &input[at + 1..]);
        let local = normalise_local(local).ok_or_else(syntax)?;
        if !local.is_ascii() && giver == Giver::Public {
            return Err(AddressError::Unmailable(shown()));
        }
        if local.starts_with('"') && giver == Giver::Public {
            return Err(AddressError::NeedsQuoting(shown()));
        }
        let domain = match domain.strip_prefix('[') {
            Some(literal) => {
                let literal = normalise_literal(literal.strip_suffix(']').ok_or_else(syntax)?).ok_or_else(syntax)?;
                if giver == Giver::Public {
                    return Err(AddressError::IpLiteral(shown()));
                }
                literal
            }
            None => {
                let domain = normalise_domain(domain).ok_or_else(syntax)?;
                if giver == Giver::Public {
                    // `127.1`, `0x7f.0.0.1`, `example.123`: what inet_aton and some resolvers
                    // read as an IPv4 address (RFC 3696 §2: a top-level label is never numeric).
                    let tld = domain.rsplit('.').next().unwrap_or(&domain);
                    if domain.parse::<Ipv4Addr>().is_ok()
                        || tld.bytes().all(|b| b.is_ascii_digit())
                        || tld.starts_with("0x")
                    {
                        return Err(AddressError::IpLiteral(shown()));
                    }
                    if !is_public(&domain) {
                        return Err(AddressError::NotPublic(shown()));
                    }
                }
                domain
            }
        };
        if local.len() > MAX_LOCAL || domain.len() > MAX_DOMAIN || local.len() + 1 + domain.len() > MAX_ADDRESS {
            return Err(AddressError::TooLong(shown()));
        }
        let address = Address { at: local.len(), text: format!("{local}@{domain}") };
        // The message builder must take it too, or the confirmation could never be sent.
        if giver == Giver::Public && address.text.parse::<lettre::Address>().is_err() {
            return Err(AddressError::Unmailable(shown()));
        }
        Ok(address)
    }

    /// The address as sent (`RCPT TO`, `To:`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The domain (A-labels, or an address literal in brackets).
    pub fn domain(&self) -> &str {
        &self.text[self.at + 1..]
    }

    /// What one mailbox is unique by: the normalised address, lowercased (almost every mail
    /// server treats local parts without regard to case, and so do subscription lists).
    pub fn key(&self) -> String {
        self.text.to_lowercase()
    }

    /// The inbox an address most likely lands in, for limits on how often it is mailed: the
    /// key without a `+tag` (subaddressing, RFC 5233), and for Gmail without dots in the local
    /// part. Different addresses, stored apart, but one person's inbox.
    pub fn inbox_key(&self) -> String {
        let key = self.key();
        let (local, domain) = key.split_at(self.at);
        let local = local.split('+').next().filter(|l| !l.is_empty()).unwrap_or(local);
        match &domain[1..] {
            "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
            domain => format!("{local}@{domain}"),
        }
    }

    /// The domain a sign-up counts against in the per-domain limit: the registrable domain
    /// (one below a public suffix, so `a.attacker.example.com` and `b.attacker.example.com`
    /// are one), else the domain itself.
    pub fn registrable_domain(&self) -> &str {
        let domain = self.domain();
        psl::domain_str(domain).unwrap_or(domain)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `atext` (RFC 5322 §3.2.3), with UTF-8 beyond ASCII as RFC 6531 allows.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || (!c.is_ascii() && !c.is_control())
}

/// `Dot-string`: atoms of `atext` separated by single dots.
fn is_dot_string(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// The local part in its one spelling: a `Dot-string` as it is; a `Quoted-string` unquoted
/// when its content is a `Dot-string` (`"t\arget"` is `target`), else quoted again with only
/// the backslashes it needs. `None` when it is neither.
fn normalise_local(local: &str) -> Option<String> {
    if is_dot_string(local) {
        return Some(local.to_owned());
    }
    let quoted = local.strip_prefix('"')?.strip_suffix('"')?;
    let mut content = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            // quoted-pairSMTP: a backslash and any printable ASCII character.
            '\\' => match chars.next() {
                Some(escaped @ ' '..='~') => content.push(escaped),
                _ => return None,
            },
            '"' => return None,
            // qtextSMTP, and UTF-8 beyond ASCII (RFC 6531).
            ' '..='~' => content.push(c),
            c if !c.is_ascii() && !c.is_control() => content.push(c),
            _ => return None,
        }
    }
    if is_dot_string(&content) {
        return Some(content);
    }
    if content.is_empty() {
        return None;
    }
    Some(crate::text::quoted_string(&content))
}

/// The domain as A-labels, lowercased (UTS #46, as browsers and mail clients map it), each
/// label letters, digits and inner hyphens. `None` when it is not a host name.
fn normalise_domain(domain: &str) -> Option<String> {
    if domain.is_empty() || domain.ends_with('.') {
        return None;
    }
    // UTS #46 mapping without its length check: length is checked by the caller, which says
    // "too long" rather than "not an address".
    let ascii = idna::domain_to_ascii(domain).ok()?;
    let is_host = ascii.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    is_host.then_some(ascii)
}

/// An address literal's content (`192.0.2.1`, `IPv6:2001:db8::1`) in its canonical form.
fn normalise_literal(literal: &str) -> Option<String> {
    if let Some(v6) = literal.get(..5).filter(|p| p.eq_ignore_ascii_case("ipv6:")).map(|_| &literal[5..]) {
        let ip: Ipv6Addr = v6.parse().ok()?;
        return Some(format!("[IPv6:{ip}]"));
    }
    match literal.parse::<IpAddr>().ok()? {
        IpAddr::V4(ip) => Some(format!("[{ip}]")),
        // RFC 5321 §4.1.3: an IPv6 literal carries its tag.
        IpAddr::V6(_) => None,
    }
}

/// Can mail from the internet reach this domain? Not a single label (no TLD holds mail for
/// its subscribers), and not a name reserved for special use: `localhost` and `invalid`
/// (RFC 6761), `test` and `example` (RFC 2606), `local` (mDNS, RFC 6762), `onion` (RFC 7686),
/// `alt` (RFC 9476), `internal` (ICANN, 2024) and `home.arpa` (RFC 8375).
fn is_public(domain: &str) -> bool {
    let tld = domain.rsplit('.').next().unwrap_or(domain);
    let is_special =
        matches!(tld, "localhost" | "invalid" | "test" | "example" | "local" | "onion" | "alt" | "internal")
            || domain == "home.arpa"
            || domain.ends_with(".home.arpa");
    domain.contains('.') && !is_special
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> Result<String, AddressError> {
        Address::parse(s, Giver::Public).map(|a| a.to_string())
    }

    fn operator(s: &str) -> Result<String, AddressError> {
        Address::parse(s, Giver::Operator).map(|a| a.to_string())
    }

    #[test]
    fn every_spelling_of_one_mailbox_is_one_address() {
        for spelling in [
            "target@example.org",
            " target@Example.ORG ",
            "\"target\"@example.org",
            "\"t\\arget\"@example.org",
            "\"\\t\\a\\r\\g\\e\\t\"@EXAMPLE.org",
        ] {
            assert_eq!(public(spelling).unwrap(), "target@example.org", "{spelling}");
        }
        let a = Address::parse("Li.Wei@Example.ORG", Giver::Public).unwrap();
        assert_eq!(
            (a.as_str(), a.key().as_str(), a.domain()),
            ("Li.Wei@example.org", "li.wei@example.org", "example.org")
        );
        assert_eq!(public("\"li.wei\"@example.org").unwrap(), "li.wei@example.org");
    }

    #[test]
    fn limits_count_one_inbox_and_one_registrable_domain() {
        let inbox = |s: &str| Address::parse(s, Giver::Public).unwrap().inbox_key();
        assert_eq!(inbox("Target+news@example.org"), "target@example.org");
        assert_eq!(inbox("t.a.r.g.e.t+x@googlemail.com"), inbox("target@gmail.com"));
        assert_eq!(inbox("t.arget@example.org"), "t.arget@example.org", "dots matter outside Gmail");
        assert_eq!(inbox("+x@example.org"), "+x@example.org");
        let domain = |s: &str| Address::parse(s, Giver::Public).unwrap().registrable_domain().to_owned();
        assert_eq!(domain("a@s1.attacker.com"), "attacker.com");
        assert_eq!(domain("a@mail.fao.shenyang.gov.cn"), "shenyang.gov.cn");
        assert_eq!(domain("a@example.org"), "example.org");
    }

    #[test]
    fn domains_are_idna_encoded() {
        assert_eq!(public("info@外办.中国").unwrap(), "info@xn--wfr73m.xn--fiqs8s");
        assert_eq!(public("info@BÜCHER.de").unwrap(), "info@xn--bcher-kva.de");
    }

    #[test]
    fn public_sign_up_refuses_what_cannot_or_should_not_be_mailed() {
        let refused = |s: &str| public(s).unwrap_err();
        assert!(matches!(refused("\"a b\"@example.org"), AddressError::NeedsQuoting(_)));
        assert!(matches!(refused("\"a@b\"@example.org"), AddressError::NeedsQuoting(_)));
        assert!(matches!(refused("a@[192.0.2.1]"), AddressError::IpLiteral(_)));
        assert!(matches!(refused("a@[IPv6:2001:db8::1]"), AddressError::IpLiteral(_)));
        for disguised in ["a@192.0.2.1", "a@127.1", "a@0x7f.0.0.1", "a@999.1", "a@example.123"] {
            assert!(matches!(refused(disguised), AddressError::IpLiteral(_)), "{disguised}");
        }
        for domain in [
            "localhost",
            "mail.localhost",
            "example.invalid",
            "INVALID",
            "org",
            "intranet",
            "printer.local",
            "mail.test",
            "flood.example",
            "hidden.onion",
            "corp.internal",
            "nas.home.arpa",
        ] {
            assert!(matches!(refused(&format!("a@{domain}")), AddressError::NotPublic(_)), "{domain}");
        }
        assert!(matches!(refused("王伟@example.cn"), AddressError::Unmailable(_)));
        assert!(matches!(refused(&format!("{}@example.org", "a".repeat(65))), AddressError::TooLong(_)));
        let long_domain = format!("{}.example.org", vec!["a".repeat(63); 4].join("."));
        assert!(matches!(refused(&format!("a@{long_domain}")), AddressError::TooLong(_)));
    }

    #[test]
    fn operators_may_add_what_a_relay_accepts() {
        assert_eq!(operator("\"a b\"@example.org").unwrap(), "\"a b\"@example.org");
        assert_eq!(operator("\"a\\ b\"@example.org").unwrap(), "\"a b\"@example.org", "one spelling");
        assert_eq!(operator("\"say \\\"hi\\\"\"@example.org").unwrap(), "\"say \\\"hi\\\"\"@example.org");
        assert_eq!(operator("root@[192.0.2.1]").unwrap(), "root@[192.0.2.1]");
        assert_eq!(operator("root@[ipv6:2001:DB8:0::1]").unwrap(), "root@[IPv6:2001:db8::1]");
        assert_eq!(operator("root@localhost").unwrap(), "root@localhost");
        assert_eq!(operator("王伟@example.cn").unwrap(), "王伟@example.cn");
    }

    #[test]
    fn what_is_not_an_address_is_refused_by_everyone() {
        for bad in [
            "",
            "no-at-sign",
            "li wei@example.org",
            "a@b\r\nBcc: x@evil.example",
            "Li <li@example.org>",
            "a..b@example.org",
            ".a@example.org",
            "a.@example.org",
            "a@example.org.",
            "a@-example.org",
            "a@exa_mple.org",
            "a@",
            "@example.org",
            "\"\"@example.org",
            "\"a\"b\"@example.org",
            "\"a\\\"@example.org",
            "\"a\rb\"@example.org",
            "a@[192.0.2]",
            "a@[2001:db8::1]",
            "a@[192.0.2.1",
        ] {
            assert!(matches!(operator(bad), Err(AddressError::Syntax(_))), "{bad:?}");
        }
    }

    #[test]
    fn errors_name_the_address_on_one_line() {
        let e = operator("a@b\r\nBcc: x").unwrap_err().to_string();
        assert!(!e.contains('\n') && e.contains("a@b Bcc: x"), "{e}");
    }
}
