//! The reference of every `config.toml` key: the one text the README's table and the
//! `gazette-config(5)` man page are both made from. A test traces the raw config structs and
//! fails when a key they read is missing here, when a key here no longer exists, or when the
//! README's copy of the table is stale.

/// One documented key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The key's path: `site.base_url`; `<code>` or `<id>` stands for a table's own name and
    /// `digests[]` for each `[[digests]]` table.
    pub key: &'static str,
    /// What it means and its default, in Markdown with only `code` spans.
    pub meaning: &'static str,
}

/// Every key, in the order the README and the man page list them.
pub const KEYS: &[Key] = &[
    Key {
        key: "site.base_url",
        meaning: "absolute URL every link in the feeds, pages and emails is built from. A host under `.invalid` (the packaged `https://news.example.invalid`) is a placeholder: `gazette check` reports it as an error and `gazette run` warns until it is set",
    },
    Key {
        key: "site.timezone",
        meaning: "IANA zone; a date without a time is midnight here, and feed dates are written in it",
    },
    Key { key: "site.default_language", meaning: "the language of `<slug>.md` files without a language suffix" },
    Key {
        key: "site.tag_authority",
        meaning: "optional: the authority in entry ids (`tag:AUTHORITY,DATE:…`); default the host of `base_url`. Set it before the site moves to another host, so ids stay the same",
    },
    Key { key: "languages.<code>.title", meaning: "one table per published language; its feeds' and pages' title" },
    Key { key: "languages.<code>.description", meaning: "the feeds' description (default empty)" },
    Key {
        key: "languages.<code>.author",
        meaning: "the publisher, named as the feeds' author and as the author of a press-release half that names none",
    },
    Key {
        key: "languages.<code>.locale",
        meaning: "optional: the CLDR locale its dates and plural forms follow (default: the code; the example sets `en-GB` for `16 April 2026`)",
    },
    Key {
        key: "languages.<code>.fallback",
        meaning: "optional: a language whose strings stand in for those its table in `strings.toml` lacks (default none: a missing string is an error)",
    },
    Key {
        key: "sectors.<id>.name",
        meaning: "the sector's name per language, `{ zh = \"经贸\", en = \"Trade\" }`; a language without one shows the default language's. At most 64 sectors",
    },
    Key {
        key: "sectors.<id>.keywords",
        meaning: "words that put an article with no `sectors` in its front matter into this sector (substring match on title and text, ignoring case in every script by Unicode case folding, so `ТОРГОВЛЯ` matches `торговля`; translations share what their texts matched)",
    },
    Key { key: "store.dir", meaning: "the article folder (default `articles`)" },
    Key { key: "store.index", meaning: "the index cache (default `.cache/store-index`)" },
    Key { key: "store.watch", meaning: "rebuild the feeds when the store folder changes (default true)" },
    Key {
        key: "store.press_release.strip",
        meaning: "regular expressions (Rust `regex` syntax) matching whole trimmed lines of page chrome that press releases drop, added to the built-in patterns (default none)",
    },
    Key {
        key: "store.press_release.default_strip",
        meaning: "use the built-in chrome patterns as well as `strip` (default true)",
    },
    Key { key: "feeds.dir", meaning: "output folder (default `feeds`)" },
    Key { key: "feeds.items", meaning: "entries per feed (default 50)" },
    Key { key: "feeds.summary_chars", meaning: "longest generated summary in characters (default 200)" },
    Key {
        key: "feeds.archive_files",
        meaning: "also write every feed's monthly archive pages into `feeds.dir`, for serving the folder with another web server (default false: `gazette run` renders them when asked)",
    },
    Key {
        key: "feeds.schedule",
        meaning: "optional: cron expression for the service's rebuilds (5 fields, or 6 with seconds first; weekdays numbered as in crontab, 0 or 7 = Sunday; unlike crontab, a restricted day of month and a restricted weekday must both match)",
    },
    Key {
        key: "digests[].id",
        meaning: "one `[[digests]]` table per digest: the id subscribers choose (`daily`; a-z, 0-9, `-`, `_`)",
    },
    Key { key: "digests[].schedule", meaning: "when it is sent (cron, as `feeds.schedule`)" },
    Key { key: "digests[].timezone", meaning: "the zone the schedule is read in (default `site.timezone`)" },
    Key { key: "digests[].max_items", meaning: "most articles in one message (default 20)" },
    Key { key: "digests[].send_empty", meaning: "send a message with no new articles (default false)" },
    Key {
        key: "digests[].catch_up",
        meaning: "how late a run missed while gazette was down is still sent at start; older ones are skipped (default `6h`)",
    },
    Key {
        key: "state.url",
        meaning: "the database of subscribers and digest runs: `sqlite://FILE`, a path from the config's folder or `sqlite:///absolute`, or `postgres://USER@HOST[:PORT]/DB` for several instances on one database (default `sqlite://gazette.db`)",
    },
    Key {
        key: "state.password_file",
        meaning: "a file holding the PostgreSQL password, read when `GAZETTE_DB_PASSWORD` is not set; never put the password in `state.url`",
    },
    Key {
        key: "state.ca_file",
        meaning: "with `sslmode=require` in `state.url`: the certificates (PEM) to trust for the PostgreSQL server's, alone (a private CA; without it, the web's root certificates); the server's name is checked too",
    },
    Key { key: "state.path", meaning: "the older spelling of `state.url = \"sqlite://PATH\"`; give one of the two" },
    Key {
        key: "state.lease",
        meaning: "on PostgreSQL, how long an instance holds the deliveries of a digest run it claimed without renewing them (it renews every third of it); those of an instance that died are taken over by the others after this (3s to 1d, default `60s`)",
    },
    Key {
        key: "state.keep_runs",
        meaning: "how long `gazette run` keeps the delivery rows of finished digest runs (who was sent what); pruned once a day. The runs and the articles each offered stay: they are the past digests at `B/{lang}/digests/` (default `90d`)",
    },
    Key {
        key: "websub.hub",
        meaning: "gazette is a WebSub hub itself, at `B/websub`, named in every feed (default true)",
    },
    Key {
        key: "websub.hubs",
        meaning: "external hubs (`[\"https://hub.example/\"]`), named in every feed too and pinged (`hub.mode=publish`, a `hub.url` per changed feed) after each build that changed a feed (default none)",
    },
    Key {
        key: "websub.lease_min",
        meaning: "the shortest lease a subscription is given (default `1h`); no lease is perpetual",
    },
    Key { key: "websub.lease_default", meaning: "the lease when a subscription request names none (default `10d`)" },
    Key { key: "websub.lease_max", meaning: "the longest lease a subscription is given (default `30d`)" },
    Key {
        key: "websub.retry_first",
        meaning: "the wait before a failed delivery's first retry, doubling after each failure (default `10s`)",
    },
    Key { key: "websub.retry_max", meaning: "the longest wait between retries (default `1h`)" },
    Key {
        key: "websub.give_up_after",
        meaning: "a delivery still failing this long after the change it carries is dropped (default `1d`)",
    },
    Key {
        key: "websub.callback_timeout",
        meaning: "the time one request to a callback may take, connecting included (default `10s`)",
    },
    Key {
        key: "websub.callback_max_bytes",
        meaning: "the most of a callback's answer that is read; more fails the request (default 65536)",
    },
    Key { key: "websub.per_topic", meaning: "subscriptions one topic may have (default 10000)" },
    Key {
        key: "websub.per_callback_host",
        meaning: "subscriptions one callback host may have over all topics (default 100)",
    },
    Key { key: "websub.requests_per_minute", meaning: "hub requests per client address per minute (default 60)" },
    Key {
        key: "websub.allow_private_callbacks",
        meaning: "call callbacks on loopback, private, link-local and multicast addresses (default false; the tests set it)",
    },
    Key {
        key: "tokens.secret_file",
        meaning: "the key that signs confirm, unsubscribe and preference links and return paths, created (mode 0600) when missing (default `secrets/token-secret`); `GAZETTE_TOKEN_SECRET` overrides it. Keep it: a new key invalidates every link already mailed",
    },
    Key {
        key: "subscriptions.confirm_within",
        meaning: "how long a confirmation link works; sign-ups left unconfirmed that long are deleted (default `7d`)",
    },
    Key {
        key: "subscriptions.pending_per_domain",
        meaning: "sign-ups that may wait for confirmation in one registrable mail domain at once (default 1000)",
    },
    Key {
        key: "subscriptions.pending_max",
        meaning: "sign-ups that may wait for confirmation in all (default 100000)",
    },
    Key {
        key: "mail.url",
        meaning: "where messages go: `file://DIR` (one `.eml` file each, default `file://outbox`) or `smtp://[USER@]HOST[:PORT][?tls=none|starttls|tls]` (`smtps://` for TLS from the first byte); `GAZETTE_MAIL_URL` overrides it",
    },
    Key { key: "mail.from", meaning: "the sender, `Name <address>` (default `gazette <gazette@localhost>`)" },
    Key { key: "mail.reply_to", meaning: "optional: where replies go" },
    Key {
        key: "mail.password_file",
        meaning: "optional: a file holding the SMTP password, read when `GAZETTE_SMTP_PASSWORD` is not set (the password is never in the config)",
    },
    Key { key: "mail.pool_size", meaning: "SMTP connections at once (default 4)" },
    Key { key: "mail.rate", meaning: "messages per second at most (default 100)" },
    Key {
        key: "mail.retries",
        meaning: "attempts per message on transient failures; waits double from 1 s to 60 s (default 10)",
    },
    Key {
        key: "mail.bounce_limit",
        meaning: "the bounce score (hard 1, soft 0.5, at most one a day) that marks a subscriber bounced (default 3)",
    },
    Key { key: "mail.bounce_window", meaning: "a bounce score lapses when this passes with no bounce (default `30d`)" },
    Key { key: "mail.ca_file", meaning: "optional: extra trusted CA certificates (PEM) for a relay with a private CA" },
    Key {
        key: "mail.dkim.selector",
        meaning: "with a `[mail.dkim]` table every message is signed; the key is published at `SELECTOR._domainkey.DOMAIN`",
    },
    Key { key: "mail.dkim.domain", meaning: "optional: the signing domain (default the domain of `mail.from`)" },
    Key {
        key: "mail.dkim.key_file",
        meaning: "the private key: PKCS#1 PEM for `rsa`, the base64 of the 32-byte seed for `ed25519`",
    },
    Key { key: "mail.dkim.algorithm", meaning: "`rsa` (default) or `ed25519`" },
    Key {
        key: "mail.returns.address",
        meaning: "with a `[mail.returns]` table every message goes out with its own signed envelope sender, `LOCAL+TOKEN@DOMAIN` (VERP), for returned mail",
    },
    Key {
        key: "mail.returns.listen",
        meaning: "optional: address and port where `gazette run` takes returned mail over LMTP (`127.0.0.1:8024`)",
    },
    Key { key: "mail.returns.max_size", meaning: "the largest returned message taken, in bytes (default 10485760)" },
    Key {
        key: "templates.dir",
        meaning: "the folder of email and page templates and `strings.toml` (default `templates`; the package's `/usr/share/gazette/templates`)",
    },
    Key {
        key: "templates.override_dir",
        meaning: "optional: a folder whose files win over those of `templates.dir`, name by name (the package's `/etc/gazette/templates`): copy one template or `strings.toml` there to change it",
    },
    Key { key: "http.listen", meaning: "address and port the service listens on (default `127.0.0.1:8080`)" },
    Key {
        key: "http.ops_listen",
        meaning: "address and port of `/healthz` and `/metrics` (default `127.0.0.1:9464`); `\"public\"` serves them on `http.listen` instead",
    },
    Key {
        key: "http.behind_proxy",
        meaning: "a reverse proxy is in front: the client is the last entry of `http.proxy_header` (default false)",
    },
    Key {
        key: "http.proxy_header",
        meaning: "the header the proxy writes: `\"x-forwarded-for\"` (default) or `\"forwarded\"` (RFC 7239); the other is ignored",
    },
    Key {
        key: "http.trusted_proxies",
        meaning: "optional, with `behind_proxy`: the proxies' addresses or networks (`[\"127.0.0.1\", \"10.0.0.0/8\"]`); headers count only from these peers, and the client is the rightmost entry not in the list",
    },
    Key {
        key: "http.check_host",
        meaning: "refuse (400) a `Host` that is neither the host of `site.base_url` nor the `http.listen` address (default false)",
    },
    Key { key: "http.subscribe_per_hour", meaning: "sign-ups per client address per hour (default 10)" },
];

/// The README's table: a Markdown table of every key.
pub fn markdown_table() -> String {
    let mut out = String::from("| key | meaning |\n| --- | --- |\n");
    for key in KEYS {
        out.push_str(&format!("| `{}` | {} |\n", key.key, key.meaning.replace('|', "\\|")));
    }
    out
}

/// `text` in pieces: plain text, and the inside of each `code` span (`true`).
pub fn spans(text: &str) -> impl Iterator<Item = (&str, bool)> {
    text.split('`').enumerate().filter(|(_, s)| !s.is_empty()).map(|(i, s)| (s, i % 2 == 1))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_reflection::{ContainerFormat, Format, Registry, Samples, Tracer, TracerConfig};

    use super::*;

    /// The key paths `format` reads under `prefix`: a table's fields by name, a map of tables
    /// as `*`, an array of tables as `[]`. A map or array of plain values is one key.
    fn paths(registry: &Registry, format: &Format, prefix: &str, out: &mut BTreeSet<String>) {
        match format {
            Format::Option(inner) => paths(registry, inner, prefix, out),
            Format::TypeName(name) => match registry.get(name) {
                Some(ContainerFormat::Struct(fields)) => {
                    for field in fields {
                        let key =
                            if prefix.is_empty() { field.name.clone() } else { format!("{prefix}.{}", field.name) };
                        paths(registry, &field.value, &key, out);
                    }
                }
                _ => {
                    out.insert(prefix.to_owned());
                }
            },
            Format::Map { value, .. } if is_table(registry, value) => {
                paths(registry, value, &format!("{prefix}.*"), out)
            }
            Format::Seq(inner) if is_table(registry, inner) => paths(registry, inner, &format!("{prefix}[]"), out),
            _ => {
                out.insert(prefix.to_owned());
            }
        }
    }

    fn is_table(registry: &Registry, format: &Format) -> bool {
        matches!(format, Format::TypeName(name) if matches!(registry.get(name), Some(ContainerFormat::Struct(_))))
    }

    fn config_keys() -> BTreeSet<String> {
        let mut tracer = Tracer::new(TracerConfig::default());
        // Every enum's variants, then the tables that hold them.
        tracer.trace_simple_type::<super::super::mail::DkimAlgorithm>().expect("the DKIM algorithm traces");
        let (format, _) =
            tracer.trace_type_once::<super::super::RawConfig>(&Samples::new()).expect("the raw config traces");
        let registry = tracer.registry().expect("every type of the raw config is known");
        let mut keys = BTreeSet::new();
        paths(&registry, &format, "", &mut keys);
        keys
    }

    fn documented_keys() -> BTreeSet<String> {
        let placeholder = regex::Regex::new("<[a-z]+>").unwrap();
        KEYS.iter().map(|k| placeholder.replace_all(k.key, "*").into_owned()).collect()
    }

    #[test]
    fn every_key_the_config_reads_is_documented_and_no_other() {
        let read = config_keys();
        let documented = documented_keys();
        assert!(read.contains("site.base_url") && read.contains("digests[].catch_up"), "{read:?}");
        let undocumented: Vec<_> = read.difference(&documented).collect();
        assert!(undocumented.is_empty(), "keys the config reads but src/config/reference.rs lacks: {undocumented:?}");
        let stale: Vec<_> = documented.difference(&read).collect();
        assert!(stale.is_empty(), "keys src/config/reference.rs documents but the config does not read: {stale:?}");
        assert_eq!(documented.len(), KEYS.len(), "a key is documented twice");
    }

    #[test]
    fn readme_carries_the_current_table() {
        const START: &str = "<!-- config-reference: made from src/config/reference.rs -->\n";
        const END: &str = "<!-- end of config-reference -->";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let start = readme.find(START).expect("README has the config-reference start marker") + START.len();
        let end = start + readme[start..].find(END).expect("README has the config-reference end marker");
        let table = markdown_table();
        if readme[start..end] != table {
            if std::env::var_os("GAZETTE_UPDATE_README").is_some() {
                std::fs::write(path, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
            } else {
                panic!(
                    "README.md's configuration table is not the one src/config/reference.rs makes; \
                     run `GAZETTE_UPDATE_README=1 cargo test --lib readme_carries_the_current_table`"
                );
            }
        }
    }
}
