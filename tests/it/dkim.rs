//! DKIM signing, checked as a receiving server checks it: dkimpy verifies every digest against
//! the public key served for the selector, for RSA and Ed25519 keys; the signature covers the
//! List-Unsubscribe headers; a message changed in transit fails.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use crate::helpers::{Site, copy_dir, repo, table};
use crate::validators::python;

/// Runs `tests/dkim_check.py` with `args`; its standard output.
fn dkim_check(args: &[&OsStr]) -> String {
    let output =
        Command::new(python()).arg(repo().join("tests/dkim_check.py")).args(args).output().expect("python runs");
    assert!(output.status.success(), "dkim_check.py {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Each file's verdict: (ok, signed header names).
fn verify(name: &str, record: &str, files: &[std::path::PathBuf]) -> Vec<(bool, Vec<String>)> {
    let mut args: Vec<&OsStr> = vec![OsStr::new("verify"), OsStr::new(name), OsStr::new(record)];
    args.extend(files.iter().map(|f| f.as_os_str()));
    dkim_check(&args)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            let signed = v["signed"].as_array().expect("signed").iter().map(|h| h.as_str().unwrap_or("").to_owned());
            (v["ok"].as_bool().expect("ok"), signed.collect())
        })
        .collect()
}

fn site_signing_with(keys: &Path, algorithm: &str, key_file: &str) -> Site {
    let site = Site::copy_of(&repo().join("articles"));
    let key = keys.join(key_file);
    site.write_config(|config| {
        table(config, "store").insert("dir".into(), "store".into());
        let dkim = table(table(config, "mail"), "dkim");
        dkim.insert("selector".into(), "news2026".into());
        dkim.insert("key_file".into(), key.to_str().expect("utf-8").into());
        dkim.insert("algorithm".into(), algorithm.into());
    });
    copy_dir(&repo().join("templates"), &site.root.join("templates"));
    for (email, lang, name) in [("li@example.org", "en", "Li Wei"), ("wang@example.cn", "zh", "王伟")] {
        site.subscribers(&["add", email, "--lang", lang, "--name", name, "--confirmed"]).success();
    }
    site.sql("UPDATE subscribers SET confirmed_at = 0");
    site
}

#[test]
fn signed_digests_verify_and_cover_the_unsubscribe_headers() {
    let keys = tempfile::tempdir().expect("tempdir");
    dkim_check(&[OsStr::new("keygen"), keys.path().as_os_str()]);
    let records: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(keys.path().join("records.json")).expect("records"))
            .expect("json");
    let name = "news2026._domainkey.fao.example.gov.cn";
    for (algorithm, key_file) in [("rsa", "rsa.pem"), ("ed25519", "ed25519.key")] {
        let record = records[algorithm].as_str().expect("record");
        let site = site_signing_with(keys.path(), algorithm, key_file);
        let sent = site.run(["digest", "send", "daily"].map(OsStr::new));
        assert!(sent.success().stdout.contains("2 sent"), "{sent}");
        let outbox = site.root.join("outbox");
        let files: Vec<_> = crate::helpers::files(&outbox).iter().map(|f| outbox.join(f)).collect();
        assert_eq!(files.len(), 2);
        for (ok, signed) in verify(name, record, &files) {
            assert!(ok, "{algorithm}: the signature verifies");
            for header in ["from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"] {
                assert!(signed.contains(&header.to_owned()), "{algorithm}: {header} is signed: {signed:?}");
            }
        }
        // Changed in transit: another unsubscribe address.
        let raw = std::fs::read_to_string(&files[0]).expect("read");
        let tampered = raw.replacen("List-Unsubscribe: <https://", "List-Unsubscribe: <https://evil.", 1);
        assert_ne!(raw, tampered, "the message has a List-Unsubscribe header");
        let changed = site.root.join("tampered.eml");
        std::fs::write(&changed, tampered).expect("write");
        assert!(!verify(name, record, &[changed])[0].0, "{algorithm}: a changed header fails");
        // The key published under another selector does not verify.
        assert!(!verify("old._domainkey.fao.example.gov.cn", record, &files[..1])[0].0);
    }
}

#[test]
fn a_key_that_cannot_be_read_stops_the_run_before_anything_is_sent() {
    let keys = tempfile::tempdir().expect("tempdir");
    std::fs::write(keys.path().join("bad.pem"), "not a key").expect("write");
    let site = site_signing_with(keys.path(), "rsa", "bad.pem");
    let sent = site.run(["digest", "send", "daily"].map(OsStr::new));
    let stderr = &sent.code(2).stderr;
    assert!(stderr.contains("mail.dkim.key_file") && stderr.contains("bad.pem"), "{sent}");
    let outbox = site.root.join("outbox");
    assert!(!outbox.exists() || crate::helpers::files(&outbox).is_empty(), "nothing was sent");
}
