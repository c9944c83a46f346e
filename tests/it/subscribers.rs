//! `gazette subscribers …` against a real SQLite file: add, list, remove, CSV import (bad rows
//! reported by line, good rows imported, idempotent, never resubscribing) and export.

use std::ffi::OsStr;

use gazette::subscription::{self, Address, Giver};

use crate::helpers::Site;

fn site() -> Site {
    let site = Site::empty();
    site.write_config(|_| {});
    site
}

fn run<'a>(site: &'a Site, args: &'a [&'a str]) -> crate::helpers::Run {
    site.run(std::iter::once(OsStr::new("subscribers")).chain(args.iter().map(OsStr::new)))
}

fn write_csv(site: &Site, name: &str, text: &str) -> String {
    let path = site.root.join(name);
    std::fs::write(&path, text).expect("write csv");
    path.display().to_string()
}

#[test]
fn subscribers_are_added_listed_and_removed_in_the_state_file() {
    let site = site();
    let added = run(&site, &["add", "Li.Wei@Example.ORG", "--lang", "en", "--sectors", "trade", "--name", "Li Wei"]);
    assert!(added.success().stdout.contains("added Li.Wei@example.org (pending)"), "{added}");
    run(&site, &["add", "ann@example.org", "--lang", "zh", "--digest", "weekly", "--confirmed"]).success();
    assert!(site.root.join("gazette.db").is_file(), "state.path defaults to gazette.db beside the config");

    let list = run(&site, &["list"]);
    let lines: Vec<&str> = list.success().stdout.lines().collect();
    assert_eq!(
        lines,
        ["Li.Wei@example.org\tLi Wei\ten\ttrade\tdaily\tpending", "ann@example.org\t-\tzh\tall\tweekly\tconfirmed"]
    );

    assert!(run(&site, &["remove", "LI.WEI@example.org"]).success().stdout.contains("removed"));
    assert!(!run(&site, &["list"]).success().stdout.contains("Li.Wei"));
    run(&site, &["remove", "nobody@example.org"]).code(1);
}

#[test]
fn unknown_language_sector_digest_or_bad_address_is_an_error_naming_it() {
    let site = site();
    for (args, named) in [
        (&["add", "a@example.org", "--lang", "fr"][..], "unknown language 'fr'"),
        (&["add", "a@example.org", "--sectors", "trade,sport"][..], "unknown sector 'sport'"),
        (&["add", "a@example.org", "--digest", "hourly"][..], "unknown digest 'hourly'"),
        (&["add", "a@b\r\nBcc: c@example.org"][..], "is not an email address"),
    ] {
        let run = run(&site, args);
        assert!(run.code(2).stderr.contains(named), "{named}\n{run}");
    }
    assert_eq!(run(&site, &["list"]).success().stdout, "");
}

#[test]
fn import_reports_bad_rows_by_line_imports_the_rest_and_is_idempotent() {
    let site = site();
    let csv = write_csv(
        &site,
        "subscribers.csv",
        "email,name,language,sectors,digest\n\
         ann@example.org,Ann,en,\"trade,foreign-affairs\",daily\n\
         not-an-address,Bob,en,trade,daily\n\
         carl@example.org,Carl,fr,trade,daily\n\
         dora@example.org,\"Dora, Ltd\",zh,,weekly\n\
         erik@example.org,Erik,en,sport,daily\n\
         ANN@example.org,Ann,zh,,daily\n",
    );
    let first = run(&site, &["import", &csv]);
    let out = &first.code(1).stdout;
    assert!(out.contains(&format!("error: {csv}:3: 'not-an-address' is not an email address")), "{first}");
    assert!(out.contains(&format!("error: {csv}:4: unknown language 'fr'")), "{first}");
    assert!(out.contains(&format!("error: {csv}:6: unknown sector 'sport'")), "{first}");
    assert!(out.contains(&format!("error: {csv}:7: ANN@example.org is already on line 2")), "{first}");
    assert!(out.contains("2 added, 0 updated, 0 unchanged, 0 left alone, 4 errors"), "{first}");

    let export_before = run(&site, &["export"]).success().stdout.clone();
    let second = run(&site, &["import", &csv]);
    assert!(second.code(1).stdout.contains("0 added, 0 updated, 2 unchanged, 0 left alone, 4 errors"), "{second}");
    assert_eq!(run(&site, &["export"]).success().stdout, export_before);
    assert_eq!(
        export_before,
        "email,name,language,sectors,digest,status\n\
         ann@example.org,Ann,en,\"foreign-affairs,trade\",daily,pending\n\
         dora@example.org,\"Dora, Ltd\",zh,,weekly,pending\n"
    );
}

#[test]
fn export_imports_back_into_an_empty_state_unchanged() {
    let site = site();
    run(&site, &["add", "ann@example.org", "--lang", "en", "--sectors", "trade", "--name", "Ann \"A\" O'Neil, Jr."])
        .success();
    run(&site, &["add", "王伟@example.cn", "--lang", "zh"]).success();
    let exported = run(&site, &["export"]).success().stdout.clone();

    let other = self::site();
    let csv = write_csv(&other, "export.csv", &exported);
    let import = run(&other, &["import", &csv, "--confirmed"]);
    assert!(import.success().stdout.contains("2 added"), "{import}");
    let reexported = run(&other, &["export"]).success().stdout.replace(",confirmed\n", ",pending\n");
    assert_eq!(reexported, exported);
}

#[test]
fn an_unsubscribed_address_is_never_subscribed_again_by_an_import() {
    let site = site();
    run(&site, &["add", "ann@example.org", "--lang", "en", "--confirmed"]).success();
    // Ann leaves, as her unsubscribe link makes her.
    let mut state = site.state().get().expect("a connection");
    let ann = Address::parse("ann@example.org", Giver::Operator).expect("an address");
    let id = state.subscriber(&ann).expect("read the subscriber").expect("Ann subscribes").id;
    assert!(subscription::unsubscribe(&mut state, id, chrono::Utc::now().timestamp()).expect("unsubscribe"));
    drop(state);
    let csv = write_csv(&site, "again.csv", "email,language,digest\nANN@example.org,zh,daily\n");
    let import = run(&site, &["import", &csv, "--confirmed"]);
    assert!(
        import.success().stdout.contains(&format!("left alone: {csv}:2: ANN@example.org (unsubscribed)")),
        "{import}"
    );
    assert!(run(&site, &["list"]).success().stdout.contains("ann@example.org\t-\ten\tall\tdaily\tunsubscribed"));
}

#[test]
fn an_import_with_an_unknown_column_is_refused_whole() {
    let site = site();
    let csv = write_csv(&site, "odd.csv", "email,language,digest,phone\na@example.org,en,daily,123\n");
    let run = run(&site, &["import", &csv]);
    assert!(run.code(2).stderr.contains(&format!("{csv}:1: unknown column 'phone'")), "{run}");
    assert_eq!(self::run(&site, &["list"]).success().stdout, "");
}

#[test]
fn a_removed_address_is_not_brought_back_by_an_import_but_can_be_added_by_hand() {
    let site = site();
    run(&site, &["add", "li@example.org", "--lang", "en", "--confirmed"]).success();
    run(&site, &["remove", "li@example.org"]).success();
    // Only a hash is kept, not the address.
    for file in ["gazette.db", "gazette.db-wal"] {
        let bytes = std::fs::read(site.root.join(file)).unwrap_or_default();
        assert!(!bytes.windows(14).any(|w| w == b"li@example.org"), "the address itself is gone from {file}");
    }

    let csv =
        write_csv(&site, "list.csv", "email,language,digest\nLI@example.org,en,daily\nann@example.org,en,daily\n");
    let import = run(&site, &["import", &csv, "--confirmed"]);
    let out = &import.success().stdout;
    assert!(out.contains("left alone: ") && out.contains(":2: LI@example.org (removed before)"), "{import}");
    assert!(out.contains("1 added"), "{import}");
    assert!(!run(&site, &["list"]).success().stdout.contains("li@"), "not imported");

    let added = run(&site, &["add", "li@example.org", "--lang", "en"]);
    assert!(added.success().stdout.contains("added li@example.org (pending)"), "{added}");
    run(&site, &["remove", "li@example.org"]).success();
    run(&site, &["add", "li@example.org", "--lang", "en"]).success();
    assert!(run(&site, &["import", &csv]).success().stdout.contains("0 added, 0 updated, 2 unchanged"));
}
