//! What the command line and config decide: unknown keys are errors that name the key and the
//! file; `--store` and `--out` override the config's folders.

use crate::helpers::{Site, copy_dir, fixture, table};

#[test]
fn unknown_config_key_is_an_error_naming_key_and_file() {
    let site = Site::with_store("snapshot");
    site.write_config(|config| {
        table(config, "feeds").insert("itemz".into(), 3.into());
    });
    for run in [site.build(), site.check()] {
        run.code(2);
        assert!(run.stderr.contains("itemz"), "the error does not name the key\n{run}");
        assert!(run.stderr.contains(&site.config.display().to_string()), "the error does not name the file\n{run}");
        assert!(run.stderr.starts_with("error: "), "{run}");
    }
    assert!(!site.out.exists(), "a build with a bad config wrote feeds");

    site.write_config(|config| {
        table(&mut *table(config, "languages"), "en").insert("titel".into(), "News".into());
    });
    let run = site.build();
    run.code(2);
    assert!(run.stderr.contains("titel") && run.stderr.contains(&site.config.display().to_string()), "{run}");
}

#[test]
fn store_and_out_flags_override_config() {
    let site = Site::with_store("snapshot");
    // The config points at another store and output folder.
    let config_store = site.root.join("config-store");
    copy_dir(&fixture("stores/broken"), &config_store);
    site.write_config(|config| {
        table(config, "store").insert("dir".into(), "config-store".into());
        table(config, "feeds").insert("dir".into(), "config-out".into());
    });

    site.build().success();
    assert!(!site.root.join("config-out").exists(), "--out was ignored");
    let en = site.read("en/feed.json");
    assert!(en.contains("Office Hours During the Summer Break"), "--store was ignored: {en}");
    assert!(!en.contains("First Visit Story"), "the config's store was read: {en}");
    site.check().success();

    // Without the flags, the config's folders are used (relative to the config file).
    let run = site.run(["build".as_ref()]);
    run.success();
    let out = site.root.join("config-out/en/feed.json");
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{}: {e}\n{run}", out.display()));
    assert!(text.contains("First Visit Story"), "{text}");
    site.run(["check".as_ref()]).code(1);
}

#[test]
fn missing_store_folder_is_an_error_naming_it() {
    let site = Site::empty();
    std::fs::remove_dir(&site.store).expect("remove store");
    let run = site.build();
    run.code(2);
    assert!(run.stderr.contains(&site.store.display().to_string()), "{run}");
    assert!(!site.out.exists());
}

#[test]
fn a_file_in_templates_override_dir_wins_over_the_packaged_one_by_name() {
    let site = Site::with_store("snapshot");
    let local = site.root.join("local-templates");
    std::fs::create_dir_all(local.join("digest")).expect("local templates folder");
    site.write_config(|config| {
        table(config, "templates").insert("override_dir".into(), "local-templates".into());
        table(config, "store").insert("dir".into(), "store".into());
    });
    let preview = |to: &str| {
        let out = site.root.join("preview");
        let args = ["digest", "preview", "daily", "--to", to, "--out"].map(std::ffi::OsStr::new);
        site.run(args.into_iter().chain([out.as_os_str()])).success();
        std::fs::read_to_string(out.join(format!("{to}.html"))).expect("the preview's HTML")
    };
    // An empty override folder changes nothing.
    site.check().success();
    assert!(!preview("before@example.org").contains("LOCAL-BODY"));

    // A broken local template stops check, and the error names the local file.
    let body = local.join("digest/body.html");
    std::fs::write(&body, "<p>LOCAL-BODY {{ subject</p>").expect("write template");
    let run = site.check();
    run.code(1);
    assert!(run.stdout.contains(&body.display().to_string()), "check names {}\n{run}", body.display());

    // A good one is used in place of the packaged one.
    std::fs::write(&body, "<p>LOCAL-BODY {{ subject }}</p>").expect("write template");
    site.check().success();
    let html = preview("after@example.org");
    assert!(html.contains("LOCAL-BODY"), "the local template is used:\n{html}");

    // strings.toml is a template file too: a local copy wins whole.
    let strings = std::fs::read_to_string(site.root.join("templates/strings.toml")).expect("strings.toml");
    std::fs::write(local.join("strings.toml"), strings.replacen("[en]", "[en]\nextra_local_key = \"x\"", 1))
        .expect("write strings");
    let run = site.check();
    run.code(1);
    let named = local.join("strings.toml").display().to_string();
    assert!(run.stdout.contains("extra_local_key") && run.stdout.contains(&named), "{run}");
}
