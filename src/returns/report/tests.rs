//! The returned-mail samples in `tests/fixtures/returns/`, built from the RFCs' examples and
//! the forms real servers send, each read back.

use super::*;

fn sample(name: &str) -> Report {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/returns").join(name);
    read(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn bounces(name: &str) -> Vec<Bounce> {
    match sample(name) {
        Report::Bounces(bounces) => bounces,
        other => panic!("{name}: expected bounces, got {other:?}"),
    }
}

#[test]
fn a_dsn_failure_with_a_5xx_status_is_hard() {
    let found = bounces("postfix-failed.eml");
    assert_eq!(found.len(), 1);
    let b = &found[0];
    assert_eq!(
        (b.recipient.as_deref(), b.severity, b.status.as_deref()),
        (Some("li@example.org"), Severity::Hard, Some("5.1.1"))
    );
    assert_eq!(
        b.diagnostic.as_deref(),
        Some("550 5.1.1 <li@example.org>: Recipient address rejected: User unknown"),
        "continuation lines are folded into one"
    );
}

#[test]
fn a_delayed_delivery_is_soft() {
    let found = bounces("postfix-delayed.eml");
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].recipient.as_deref(), found[0].severity), (Some("wang@example.cn"), Severity::Soft));
    assert_eq!(found[0].status.as_deref(), Some("4.4.1"));
}

#[test]
fn each_recipient_of_a_report_is_read_and_deliveries_are_ignored() {
    let found = bounces("rfc3464-several.eml");
    let read: Vec<(&str, Severity, Option<&str>)> =
        found.iter().map(|b| (b.recipient.as_deref().unwrap_or("?"), b.severity, b.status.as_deref())).collect();
    assert_eq!(
        read,
        [
            ("ann@example.org", Severity::Hard, Some("5.2.2")),
            ("carl@example.org", Severity::Soft, Some("4.2.2")),
            ("dora@example.org", Severity::Unclassified, None),
        ]
    );
}

#[test]
fn a_complaint_names_the_original_by_its_return_path_and_unsubscribe_link() {
    let Report::Complaint(c) = sample("rfc5965-abuse.eml") else { panic!("not a complaint") };
    assert_eq!(c.feedback_type, "abuse");
    assert_eq!(c.original_return_path.as_deref(), Some("bounces+d-12-345-0123456789abcdef0123@news.example.gov.cn"));
    assert!(c.original_list_unsubscribe.as_deref().is_some_and(|l| l.contains("/unsubscribe?token=345.")), "{c:?}");
}

#[test]
fn bounces_that_predate_dsns_are_read_from_their_text() {
    let qmail = bounces("qmail.eml");
    assert_eq!((qmail[0].recipient.as_deref(), qmail[0].severity), (Some("old@example.net"), Severity::Hard));
    assert_eq!(qmail[0].status.as_deref(), Some("5.1.1"));
    let exchange = bounces("exchange-ndr.eml");
    assert_eq!((exchange[0].severity, exchange[0].status.as_deref()), (Severity::Hard, Some("5.1.10")));
    let unknown = bounces("unclassified.eml");
    assert_eq!(unknown[0].severity, Severity::Unclassified, "never counted as hard without a code");
}

#[test]
fn auto_replies_and_other_mail_do_nothing() {
    assert_eq!(sample("out-of-office.eml"), Report::AutoReply);
    assert_eq!(sample("vacation-zh.eml"), Report::AutoReply);
    assert_eq!(sample("reply.eml"), Report::Other);
    assert_eq!(read(b""), Report::Other);
    assert_eq!(read(b"\xff\xfe not a message at all"), Report::Other);
}

#[test]
fn status_codes_are_found_only_in_their_own_form() {
    assert_eq!(status_code("smtp; 550 5.1.1 User unknown").as_deref(), Some("5.1.1"));
    assert_eq!(status_code("(#4.4.1)").as_deref(), Some("4.4.1"));
    assert_eq!(status_code("192.0.2.1 refused"), None);
    assert_eq!(status_code("version 1.2.3"), None);
    assert_eq!(status_code("5.1234.1"), None);
}

#[test]
fn words_that_look_like_codes_never_make_a_hard_bounce() {
    let office = b"From: postmaster@example.org\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\n\
                   Back Monday. Last week 550 people attended the fair.\r\n";
    assert!(matches!(read(office), Report::Bounces(b) if b[0].severity == Severity::Unclassified));
    let answer = b"From: Li <li@example.org>\r\nSubject: Re: Returned mail: see transcript\r\n\r\n\
                   Why did I get this? It said 5.1.1 but my address works.\r\n";
    assert_eq!(read(answer), Report::Other);
    let quoting = b"From: MAILER-DAEMON@mx.example.net\r\nSubject: failure notice\r\n\r\n\
                    I wasn't able to deliver your message.\r\n\r\n--- Below this line is a copy of the message.\r\n\r\n\
                    Regulation 5.2.1 takes effect.\r\nRemote host said: 500 new jobs at the park.\r\n";
    assert!(
        matches!(read(quoting), Report::Bounces(b) if b[0].severity == Severity::Unclassified && b[0].status.is_none())
    );
    let newsletter =
        b"From: postmaster-news@example.org\r\nSubject: Weekly\r\n\r\nRemote host said: 550 reasons to visit.\r\n";
    assert_eq!(read(newsletter), Report::Other, "postmaster-news is not the postmaster");
}

#[test]
fn reports_that_ask_nothing_are_not_acted_on() {
    let delivered = b"From: MAILER-DAEMON@relay.example\r\nSubject: Successful Mail Delivery Report\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivered.\r\n\
        --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n\r\n\
        Final-Recipient: rfc822; li@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n--b--\r\n";
    assert_eq!(read(delivered), Report::Other);
    let not_spam = String::from_utf8(
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/returns/rfc5965-abuse.eml"),
        )
        .unwrap(),
    )
    .unwrap()
    .replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
    assert_eq!(read(not_spam.as_bytes()), Report::Other);
}

#[test]
fn gmail_and_exim_failures_are_read() {
    let gmail = bounces("gmail-failure.eml");
    assert_eq!(gmail.len(), 1);
    assert_eq!((gmail[0].recipient.as_deref(), gmail[0].severity), (Some("nobody@gmail.com"), Severity::Hard));
    let exim = bounces("exim-failure.eml");
    assert_eq!(
        (exim[0].severity, exim[0].status.as_deref()),
        (Severity::Hard, Some("5.1.1")),
        "not 4.4.7 from the quoted copy"
    );
}
