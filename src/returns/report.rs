//! What a returned message says, read with a MIME parser and never guessed from its sender:
//! a delivery status notification (RFC 3464, per recipient `Action` and `Status`, RFC 3463),
//! the bounce forms that predate it and are still sent (qmail, old Exim, Exchange), a
//! complaint (ARF, RFC 5965), an auto-reply (RFC 3834), or none of these. Who it is about is
//! decided elsewhere, from the return path it came to ([`super::verp`]).

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// How a failed delivery counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Permanent (`failed` with 5.x.x, or a 5xx reply): the address does not work.
    Hard,
    /// Transient (`delayed`, or `failed` with 4.x.x): it may work later.
    Soft,
    /// A failure whose code could not be found: kept for an operator, never counted as hard.
    Unclassified,
}

/// One recipient's failure in a bounce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The recipient the report names (`Final-Recipient`), if it names one.
    pub recipient: Option<String>,
    /// How it counts.
    pub severity: Severity,
    /// The status code (`5.1.1`), when there is one.
    pub status: Option<String>,
    /// The remote server's words (`Diagnostic-Code`), one line, when given.
    pub diagnostic: Option<String>,
}

/// A complaint: a recipient reported a message as spam (or another abuse type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    /// `Feedback-Type` (`abuse`, `fraud`, …).
    pub feedback_type: String,
    /// Where the original message said it came from: its `Return-Path`, else the report's
    /// `Original-Mail-From` (both hold the VERP address gazette sent it with).
    pub original_return_path: Option<String>,
    /// The original's `List-Unsubscribe` header, whose signed link names the subscriber.
    pub original_list_unsubscribe: Option<String>,
}

/// What a returned message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Delivery failed for these recipients (a report of only successes holds none).
    Bounces(Vec<Bounce>),
    /// A spam complaint about a message gazette sent.
    Complaint(Complaint),
    /// An automatic answer (out of office, vacation): recorded, does nothing.
    AutoReply,
    /// None of these: logged and dropped.
    Other,
}

/// Reads `raw` (one whole message).
pub fn read(raw: &[u8]) -> Report {
    let Some(message) = MessageParser::default().parse(raw) else { return Report::Other };
    let report_type = message
        .content_type()
        .filter(|t| {
            t.ctype().eq_ignore_ascii_case("multipart") && t.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|t| t.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    match report_type.as_deref() {
        Some("delivery-status") => {
            // `global-delivery-status`: the same fields in UTF-8 (RFC 6533).
            let fields = part_of_type(&message, "message", "delivery-status")
                .or_else(|| part_of_type(&message, "message", "global-delivery-status"));
            if let Some(fields) = fields {
                let bounces = delivery_status(&fields);
                // A report of deliveries that went well says nothing to act on.
                return if bounces.is_empty() { Report::Other } else { Report::Bounces(bounces) };
            }
        }
        Some("feedback-report") => {
            if let Some(fields) = part_of_type(&message, "message", "feedback-report") {
                let complaint = complaint(&message, &fields);
                if !COMPLAINT_TYPES.contains(&complaint.feedback_type.as_str()) {
                    return Report::Other;
                }
                return Report::Complaint(complaint);
            }
        }
        _ => {}
    }
    // Old-style bounces often say `Auto-Submitted` too: they are asked about first.
    if is_bounce(&message) {
        return Report::Bounces(vec![legacy_bounce(&message)]);
    }
    if is_auto_reply(&message) {
        return Report::AutoReply;
    }
    Report::Other
}

/// The text of the first part of type `ctype/subtype`, in any case.
fn part_of_type(message: &Message, ctype: &str, subtype: &str) -> Option<String> {
    message.parts.iter().find_map(|part| {
        let t = part.content_type()?;
        let is_it =
            t.ctype().eq_ignore_ascii_case(ctype) && t.subtype().is_some_and(|s| s.eq_ignore_ascii_case(subtype));
        is_it.then(|| String::from_utf8_lossy(part.contents()).into_owned())
    })
}

/// The field groups of a delivery-status or feedback-report body: header-style fields,
/// continuation lines folded, groups separated by blank lines (RFC 3464 §2.1).
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if groups.last().is_some_and(|g| !g.is_empty()) {
                groups.push(Vec::new());
            }
            continue;
        }
        let Some(group) = groups.last_mut() else { continue };
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// `rfc822; li@example.org` → `li@example.org`.
fn address_of(value: &str) -> String {
    let address = value.split_once(';').map_or(value, |(_, a)| a).trim();
    address.trim_start_matches('<').trim_end_matches('>').to_owned()
}

/// The per-recipient groups of a DSN (those with an `Action`), failures only.
fn delivery_status(text: &str) -> Vec<Bounce> {
    field_groups(text)
        .iter()
        .filter_map(|group| {
            let action = field(group, "action")?.to_ascii_lowercase();
            let status = field(group, "status").and_then(status_code);
            let severity = match (action.as_str(), status.as_deref().and_then(|s| s.chars().next())) {
                ("failed", Some('5')) => Severity::Hard,
                ("failed", Some('4')) | ("delayed", _) => Severity::Soft,
                ("failed", _) => Severity::Unclassified,
                // delivered, relayed, expanded: not a failure.
                _ => return None,
            };
            let recipient =
                field(group, "final-recipient").or_else(|| field(group, "original-recipient")).map(address_of);
            let diagnostic = field(group, "diagnostic-code").map(|d| shortened(&crate::text::one_line(&address_of(d))));
            Some(Bounce { recipient, severity, status, diagnostic })
        })
        .collect()
}

/// The first enhanced status code (RFC 3463: `class.subject.detail`) in `text`.
fn status_code(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.')).find_map(|word| {
        let parts: Vec<&str> = word.split('.').collect();
        let is_code = parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1..].iter().all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
        is_code.then(|| word.to_owned())
    })
}

/// Feedback types that are complaints about a message (RFC 5965 §7.3); `not-spam` and
/// `auth-failure` ask for nothing to be done to the recipient.
const COMPLAINT_TYPES: [&str; 4] = ["abuse", "fraud", "virus", "other"];

fn complaint(message: &Message, fields: &str) -> Complaint {
    let groups = field_groups(fields);
    let report: Vec<(String, String)> = groups.into_iter().flatten().collect();
    let feedback_type = crate::text::one_line(field(&report, "feedback-type").unwrap_or("abuse")).to_ascii_lowercase();
    // The original: a nested message, or its headers as text/rfc822-headers.
    let original_headers: Option<String> = message.parts.iter().find_map(|part| match &part.body {
        PartType::Message(original) => Some(String::from_utf8_lossy(original.raw_message()).into_owned()),
        _ => {
            let t = part.content_type()?;
            let is_headers = t.subtype().is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"));
            is_headers.then(|| String::from_utf8_lossy(part.contents()).into_owned())
        }
    });
    let original = original_headers.as_deref().map(|text| {
        let head = text.split("\r\n\r\n").next().unwrap_or(text);
        let head = head.split("\n\n").next().unwrap_or(head);
        field_groups(head).into_iter().next().unwrap_or_default()
    });
    let original = original.unwrap_or_default();
    Complaint {
        feedback_type,
        original_return_path: field(&original, "return-path")
            .or_else(|| field(&report, "original-mail-from"))
            .map(address_of)
            .filter(|a| !a.is_empty()),
        original_list_unsubscribe: field(&original, "list-unsubscribe").map(str::to_owned),
    }
}

/// An automatic reply (RFC 3834 §5: `Auto-Submitted` other than `no`), or one of the
/// vacation programs that predate it.
fn is_auto_reply(message: &Message) -> bool {
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if let Some(value) = header("Auto-Submitted") {
        return value != "no";
    }
    header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("Precedence").is_some_and(|p| p == "auto_reply")
        || message.subject().is_some_and(|s| {
            let s = s.to_lowercase();
            ["out of office", "automatic reply", "auto-reply", "autoreply", "自动回复", "vacation"]
                .iter()
                .any(|w| s.contains(w))
        })
}

/// Does it look like a bounce in a pre-RFC 3464 form: from the mailer daemon or postmaster,
/// or a subject servers give their failure notices?
fn is_bounce(message: &Message) -> bool {
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let local = from.rsplit_once('@').map_or(from.as_str(), |(local, _)| local);
    let from_daemon = matches!(local, "mailer-daemon" | "postmaster" | "mail-daemon" | "mailerdaemon");
    let subject = message.subject().map(str::to_lowercase).unwrap_or_default();
    // A person's answer quoting a notice is no notice.
    let is_answer = ["re:", "fw:", "fwd:", "回复", "答复", "转发"].iter().any(|p| subject.trim_start().starts_with(p));
    let failure_subject = [
        "undeliver",
        "delivery status notification",
        "delivery failure",
        "failure notice",
        "returned mail",
        "mail delivery failed",
        "delivery has failed",
        "退信",
        "投递失败",
    ]
    .iter()
    .any(|w| subject.contains(w));
    from_daemon || (failure_subject && !is_answer)
}

/// Where bounce notices start quoting the message that failed: nothing after it is the
/// server's own words (a digest's text may say "5.2.1" or "500 new jobs").
const QUOTE_MARKERS: [&str; 6] = [
    "--- below this line is a copy of the message",
    "------ this is a copy of the message",
    "original message headers:",
    "-----original message-----",
    "--- original message ---",
    "------- returned message",
];

/// A bounce without a delivery-status part: the status found in the server's own words (the
/// text before any quoted copy: an enhanced code, else a 5xx or 4xx reply after "said:"), or
/// unclassified. An automatic answer that names no code is unclassified, never hard.
fn legacy_bounce(message: &Message) -> Bounce {
    let text: String = (0..message.text_body.len().max(1))
        .filter_map(|i| message.body_text(i))
        .map(|t| t.into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let lower = text.to_lowercase();
    let end = QUOTE_MARKERS.iter().filter_map(|m| lower.find(m)).min().unwrap_or(text.len());
    let text = text.get(..end).unwrap_or(&text);
    let status = status_code(text);
    let reply = text.lines().find_map(|line| {
        let (_, after_said) = line.split_once("said:")?;
        let after_said = after_said.trim();
        let code = after_said.get(..3).filter(|c| c.bytes().all(|b| b.is_ascii_digit()))?;
        matches!(code.as_bytes()[0], b'4' | b'5').then(|| (code.to_owned(), crate::text::one_line(after_said)))
    });
    let severity =
        match (status.as_deref().and_then(|s| s.chars().next()), reply.as_ref().map(|(c, _)| c.as_bytes()[0])) {
            (Some('5'), _) | (None, Some(b'5')) => Severity::Hard,
            (Some('4'), _) | (None, Some(b'4')) => Severity::Soft,
            _ => Severity::Unclassified,
        };
    // qmail names the recipient on a line of its own: `<li@example.org>:`.
    let recipient = text.lines().find_map(|line| {
        let line = line.trim();
        let inner = line.strip_prefix('<')?.strip_suffix(">:")?;
        inner.contains('@').then(|| inner.to_owned())
    });
    Bounce { recipient, severity, status, diagnostic: reply.map(|(_, words)| shortened(&words)) }
}

/// A server's words as kept: at most 500 characters.
fn shortened(words: &str) -> String {
    words.chars().take(500).collect()
}

#[cfg(test)]
mod tests;
