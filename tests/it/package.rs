//! The Debian package: `scripts/package` run on the binary these tests built (no second release
//! build), checked by lintian, then installed with dpkg into a fresh Debian root (a minbase tree
//! made once by mmdebstrap and kept in `target/tmp`), upgraded to a higher version with an
//! edited config, and purged. dpkg and chroot need root: without it the tests say so and skip.

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::helpers::repo;

/// The two builds: the changelog's version, and a higher one to upgrade to.
struct Packages {
    first: PathBuf,
    second: PathBuf,
    first_version: String,
    second_version: String,
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs `command`, failing the test with its output when it fails.
fn run(command: &mut Command) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Both packages, built once for every test here.
fn packages() -> &'static Packages {
    static PACKAGES: OnceLock<Packages> = OnceLock::new();
    PACKAGES.get_or_init(|| {
        // One folder, emptied at each run: a static is never dropped, so a TempDir would stay.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gazette-deb");
        let _ = std::fs::remove_dir_all(&dir);
        let version = text(&run(Command::new("dpkg-parsechangelog").args(["-S", "Version"]).current_dir(repo())));
        let first_version = version.trim().to_owned();
        let second_version = format!("{first_version}+upgrade1");
        let build = |version: &str, out: &str| {
            let started = std::time::Instant::now();
            let output = run(Command::new(repo().join("scripts/package"))
                .args(["--binary", env!("CARGO_BIN_EXE_gazette"), "--version", version, "--compression", "gzip"])
                .arg("--out")
                .arg(dir.join(out)));
            let deb = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim().lines().last().expect("a path"));
            eprintln!("package: built {} in {:.1?}", deb.display(), started.elapsed());
            deb
        };
        let first = build(&first_version, "first");
        let second = build(&second_version, "second");
        Packages { first, second, first_version, second_version }
    })
}

#[test]
fn package_passes_lintian_with_no_error_or_unexplained_warning() {
    if !is_root() {
        eprintln!("skipped: building the Debian package needs root (dpkg-deb --root-owner-group, then dpkg)");
        return;
    }
    let deb = &packages().first;
    let out = Command::new("lintian")
        .args(["--fail-on", "error,warning", "--display-info"])
        .arg(deb)
        .output()
        .expect("lintian runs (scripts/test installs it)");
    let report = text(&out);
    eprintln!("lintian {}:\n{report}", deb.display());
    assert!(out.status.success(), "lintian found errors or warnings:\n{report}");
}

#[test]
fn package_contents_are_where_debian_puts_them() {
    if !is_root() {
        eprintln!("skipped: building the Debian package needs root");
        return;
    }
    let packages = packages();
    let listing = text(&run(Command::new("dpkg-deb").arg("--contents").arg(&packages.first)));
    for path in [
        "./usr/bin/gazette",
        "./usr/share/gazette/templates/strings.toml",
        "./usr/share/gazette/templates/digest/body.html",
        "./etc/gazette/config.toml",
        "./etc/gazette/templates/",
        "./usr/lib/systemd/system/gazette.service",
        "./usr/share/doc/gazette/copyright",
        "./usr/share/doc/gazette/changelog.Debian.gz",
        "./usr/share/man/man1/gazette.1.gz",
        "./usr/share/man/man1/gazette-digest-send.1.gz",
        "./usr/share/man/man5/gazette-config.5.gz",
        "./usr/share/bash-completion/completions/gazette",
        "./usr/share/zsh/vendor-completions/_gazette",
        "./usr/share/fish/vendor_completions.d/gazette.fish",
    ] {
        assert!(listing.lines().any(|l| l.ends_with(path)), "{path} is not in the package:\n{listing}");
    }
    assert!(!listing.contains("var/lib/gazette"), "the state is made by postinst, never shipped:\n{listing}");
    for line in listing.lines() {
        assert!(line.contains(" root/root "), "not owned by root: {line}");
    }
    let control = text(&run(Command::new("dpkg-deb").arg("--info").arg(&packages.first)));
    assert!(control.contains(&format!("Version: {}", packages.first_version)), "{control}");
    assert!(control.contains("Depends: adduser, procps, libc6"), "{control}");
    let conffiles = text(&run(Command::new("sh")
        .arg("-c")
        .arg(format!("dpkg-deb --ctrl-tarfile '{}' | tar -xO ./conffiles", packages.first.display()))));
    assert_eq!(conffiles.trim(), "/etc/gazette/config.toml");
}

/// What the root holds beyond minbase: the package's dependencies, and systemd, whose units
/// `systemd-analyze verify` checks the package's against (a server's, not running here).
const ROOT_PACKAGES: &str = "adduser,procps,systemd";

/// A fresh Debian root to install into: the minbase tree of the machine's own release with
/// [`ROOT_PACKAGES`], made once with mmdebstrap and unpacked per test.
fn fresh_root(into: &Path) {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debian-root");
    let codename = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("VERSION_CODENAME=").map(str::to_owned)))
        .unwrap_or_else(|| "bookworm".to_owned());
    let tarball = cache.join(format!("{codename}-minbase-{}.tar", ROOT_PACKAGES.replace(',', "-")));
    if !tarball.exists() {
        std::fs::create_dir_all(&cache).expect("cache folder");
        let partial = tarball.with_extension("partial");
        let started = std::time::Instant::now();
        run(Command::new("mmdebstrap")
            .args(["--quiet", "--variant=minbase", "--format=tar", &format!("--include={ROOT_PACKAGES}"), &codename])
            .arg(&partial));
        std::fs::rename(&partial, &tarball).expect("rename the root tarball");
        eprintln!("package: made a {codename} root with mmdebstrap in {:.1?}", started.elapsed());
    }
    std::fs::create_dir_all(into).expect("root folder");
    run(Command::new("tar").arg("-xf").arg(&tarball).arg("-C").arg(into));
}

/// Every path under `root` but dpkg's, the logs', and the runtime ones (`/run` is a tmpfs on a
/// server: adduser's lock file is there), relative to it.
fn tree(root: &Path) -> BTreeSet<String> {
    let out = run(Command::new("find").arg(".").current_dir(root));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|p| !["./var/lib/dpkg", "./var/log", "./tmp/", "./run/"].iter().any(|skip| p.starts_with(skip)))
        .map(str::to_owned)
        .collect()
}

/// A command run inside `root`.
fn chroot(root: &Path, user: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new("chroot");
    if let Some(user) = user {
        command.arg(format!("--userspec={user}:{user}"));
    }
    command.arg(root).args(args).env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").env("LANG", "C.UTF-8");
    command.output().unwrap_or_else(|e| panic!("cannot chroot {args:?}: {e}"))
}

fn chroot_ok(root: &Path, user: Option<&str>, args: &[&str]) -> String {
    let out = chroot(root, user, args);
    assert!(out.status.success(), "{args:?} in the root failed ({}):\n{}", out.status, text(&out));
    text(&out)
}

const CONFIG: &str = "/etc/gazette/config.toml";

fn uid_of(root: &Path, user: &str) -> Option<u32> {
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("passwd");
    passwd.lines().find_map(|l| {
        let fields: Vec<&str> = l.split(':').collect();
        (fields.first() == Some(&user)).then(|| fields[2].parse().expect("uid"))
    })
}

#[test]
fn package_installs_upgrades_keeping_config_and_state_and_purges_only_its_own() {
    if !is_root() {
        eprintln!("skipped: installing the Debian package into a fresh root needs root (dpkg, chroot)");
        return;
    }
    let packages = packages();
    let work = tempfile::Builder::new().prefix("gazette-root-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp");
    let root = work.path().join("root");
    fresh_root(&root);
    let before = tree(&root);
    for deb in [&packages.first, &packages.second] {
        std::fs::copy(deb, root.join("tmp").join(deb.file_name().expect("name"))).expect("copy the package in");
    }
    let in_root = |deb: &Path| format!("/tmp/{}", deb.file_name().expect("name").to_string_lossy());

    // Install: no systemd runs in the root, as on a CI machine or in a container.
    let installed = chroot_ok(&root, None, &["dpkg", "-i", &in_root(&packages.first)]);
    eprintln!("dpkg -i:\n{installed}");
    for path in [
        "usr/bin/gazette",
        "usr/share/gazette/templates/pages/layout.html",
        "usr/lib/systemd/system/gazette.service",
        "usr/share/man/man1/gazette.1.gz",
        "usr/share/man/man5/gazette-config.5.gz",
        "usr/share/doc/gazette/copyright",
        "etc/gazette/config.toml",
        // Enabled by deb-systemd-helper although systemd is not running.
        "etc/systemd/system/multi-user.target.wants/gazette.service",
    ] {
        // symlink_metadata: the enablement link is absolute, meant for inside the root.
        assert!(root.join(path).symlink_metadata().is_ok(), "/{path} is not installed");
    }
    let uid = uid_of(&root, "gazette").expect("postinst made the user gazette");
    assert!(uid < 1000, "gazette is a system user (uid {uid})");
    let state = root.join("var/lib/gazette");
    let meta = std::fs::metadata(&state).expect("/var/lib/gazette");
    assert_eq!((meta.uid(), meta.permissions().mode() & 0o777), (uid, 0o750), "/var/lib/gazette");
    let secret_path = state.join("token-secret");
    let secret = std::fs::read_to_string(&secret_path).expect("postinst made the token secret");
    assert!(secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()), "{secret:?}");
    let meta = std::fs::metadata(&secret_path).expect("token secret");
    assert_eq!((meta.uid(), meta.permissions().mode() & 0o777), (uid, 0o600), "the token secret");
    let config_text = std::fs::read_to_string(root.join("etc/gazette/config.toml")).expect("config");
    assert!(config_text.contains("secret_file = \"/var/lib/gazette/token-secret\""), "{config_text}");
    assert!(!config_text.lines().any(|l| l.trim_start().starts_with("secret =")), "no secret in config.toml");

    // The installed unit verifies against the installed binary.
    let verify = Command::new("systemd-analyze")
        .arg(format!("--root={}", root.display()))
        // The man pages are checked as files above; man-db is not in the root.
        .args(["verify", "--man=no", "/usr/lib/systemd/system/gazette.service"])
        .output()
        .expect("systemd-analyze runs");
    let report = text(&verify);
    assert!(verify.status.success(), "systemd-analyze verify failed:\n{report}");
    assert!(!report.lines().any(|l| l.contains("gazette.service")), "warnings about the unit:\n{report}");

    // check runs on the packaged config and names the placeholder until it is set.
    let gazette = ["/usr/bin/gazette", "--config", CONFIG];
    let with = |args: &[&'static str]| -> Vec<&'static str> { gazette.iter().chain(args).copied().collect() };
    let out = chroot(&root, Some("gazette"), &with(&["check"]));
    assert_eq!(out.status.code(), Some(1), "check fails on the placeholder:\n{}", text(&out));
    assert!(text(&out).contains("error: site.base_url:") && text(&out).contains("placeholder"), "{}", text(&out));
    let edited = config_text.replace("https://news.example.invalid", "https://news.example.gov.cn");
    assert_ne!(edited, config_text, "the packaged config has the placeholder");
    std::fs::write(root.join("etc/gazette/config.toml"), &edited).expect("edit the config");
    chroot_ok(&root, Some("gazette"), &with(&["check"]));
    std::fs::write(
        root.join("var/lib/gazette/articles/visit.en.md"),
        "+++\ntitle = \"A visit\"\ndate = 2024-05-01\nsectors = [\"trade\"]\n+++\nText.\n",
    )
    .expect("an article");
    chroot_ok(&root, Some("gazette"), &with(&["build"]));
    assert!(state.join("feeds/en/atom.xml").exists(), "build wrote under /var/lib/gazette/feeds");
    chroot_ok(
        &root,
        Some("gazette"),
        &with(&[
            "subscribers",
            "add",
            "li.wei@example.org",
            "--lang",
            "en",
            "--sectors",
            "trade",
            "--digest",
            "daily",
            "--confirmed",
        ]),
    );
    let database = std::fs::read(state.join("gazette.db")).expect("the state database");
    // An administrator's own template, kept by the upgrade and by purge.
    std::fs::create_dir_all(root.join("etc/gazette/templates/pages")).expect("local templates");
    let layout = std::fs::read_to_string(root.join("usr/share/gazette/templates/pages/layout.html")).expect("layout");
    std::fs::write(root.join("etc/gazette/templates/pages/layout.html"), layout.replace("<body", "<body data-local"))
        .expect("a local template");
    chroot_ok(&root, Some("gazette"), &with(&["check"]));

    // Upgrade: the edited conffile, the token secret and the database stay.
    let upgraded = chroot_ok(&root, None, &["dpkg", "-i", &in_root(&packages.second)]);
    eprintln!("dpkg -i (upgrade):\n{upgraded}");
    let status = chroot_ok(&root, None, &["dpkg-query", "-W", "-f=${Version} ${db:Status-Status}", "gazette"]);
    assert_eq!(status.trim(), format!("{} installed", packages.second_version));
    assert_eq!(std::fs::read_to_string(root.join("etc/gazette/config.toml")).expect("config"), edited);
    assert_eq!(std::fs::read_to_string(&secret_path).expect("token secret"), secret, "the token secret is kept");
    assert_eq!(std::fs::read(state.join("gazette.db")).expect("database"), database, "the database is kept");
    let listed = chroot_ok(&root, Some("gazette"), &with(&["subscribers", "list"]));
    assert!(listed.contains("li.wei@example.org"), "{listed}");
    chroot_ok(&root, Some("gazette"), &with(&["check"]));

    // Remove keeps config and state; purge takes them, and nothing that is not the package's.
    chroot_ok(&root, None, &["dpkg", "--remove", "gazette"]);
    assert!(!root.join("usr/bin/gazette").exists());
    assert!(root.join("etc/gazette/config.toml").exists() && secret_path.exists(), "remove keeps config and state");
    let purged = chroot_ok(&root, None, &["dpkg", "--purge", "gazette"]);
    eprintln!("dpkg --purge:\n{purged}");
    assert!(!state.exists(), "purge deletes /var/lib/gazette");
    assert!(!root.join("etc/gazette/config.toml").exists(), "purge deletes the conffile");
    assert!(root.join("etc/gazette/templates/pages/layout.html").exists(), "the administrator's template stays");
    assert!(uid_of(&root, "gazette").is_some(), "the system user stays, as Debian leaves system users");
    let after = tree(&root);
    let local: BTreeSet<String> = [
        "./etc/gazette",
        "./etc/gazette/templates",
        "./etc/gazette/templates/pages",
        "./etc/gazette/templates/pages/layout.html",
    ]
    .map(str::to_owned)
    .into();
    // adduser's backups of the account files it changed.
    let accounts: BTreeSet<String> =
        ["./etc/passwd-", "./etc/group-", "./etc/shadow-", "./etc/gshadow-"].map(str::to_owned).into();
    let left: Vec<&String> =
        after.difference(&before).filter(|p| !local.contains(*p) && !accounts.contains(*p)).collect();
    assert!(left.is_empty(), "purge left these behind: {left:?}");
    let taken: Vec<&String> = before.difference(&after).collect();
    assert!(taken.is_empty(), "install and purge took these away: {taken:?}");
}
