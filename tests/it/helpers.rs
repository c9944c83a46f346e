//! Running the real `gazette` binary in a temporary site: a copy of a fixture store, a config
//! made from the repository's `config.toml`, an output folder and the index cache, all under one
//! temp dir. Also listing and reading what a build wrote.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The base URL every test site publishes under.
pub const BASE_URL: &str = "https://news.example.gov.cn";

/// The repository root (where `Cargo.toml` is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}

/// The repository's `config.toml` with `site.base_url` set to [`BASE_URL`], edited by `edit`.
pub fn config_text(edit: impl FnOnce(&mut toml::Table)) -> String {
    let path = repo().join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut config: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    table(&mut config, "site").insert("base_url".into(), BASE_URL.into());
    edit(&mut config);
    toml::to_string(&config).expect("config serialises")
}

/// The languages the repository's config publishes, as gazette orders them: the default
/// language first, then the others by code.
pub fn configured_languages() -> Vec<String> {
    let config: toml::Table = toml::from_str(&config_text(|_| {})).expect("config");
    let default = config["site"]["default_language"].as_str().expect("site.default_language").to_owned();
    let mut codes: Vec<String> = config["languages"].as_table().expect("languages").keys().cloned().collect();
    codes.sort_by_key(|c| (c != &default, c.clone()));
    codes
}

/// The sub-table `key` of `t`, created when missing.
pub fn table<'a>(t: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
    t.entry(key.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap_or_else(|| panic!("config key '{key}' is not a table"))
}

/// Copies the folder `from` into `to` (created), recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()));
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&source, &target);
        } else {
            std::fs::copy(&source, &target)
                .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", source.display(), target.display()));
        }
    }
}

/// A temporary site: `config.toml`, `store/`, `out/` and `.cache/store-index` in one temp dir.
pub struct Site {
    _dir: TempDir,
    /// The temp dir.
    pub root: PathBuf,
    /// The config file.
    pub config: PathBuf,
    /// The article store.
    pub store: PathBuf,
    /// The feeds output folder.
    pub out: PathBuf,
}

impl Site {
    /// A site with an empty store.
    pub fn empty() -> Site {
        let dir = tempfile::Builder::new().prefix("gazette-it-").tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        let site = Site {
            config: root.join("config.toml"),
            store: root.join("store"),
            out: root.join("out"),
            root,
            _dir: dir,
        };
        std::fs::create_dir_all(&site.store).expect("store folder");
        // `check` and every command that writes for people load the templates.
        copy_dir(&repo().join("templates"), &site.root.join("templates"));
        site.write_config(|_| {});
        site
    }

    /// A site whose store is a copy of `tests/fixtures/stores/<name>`.
    pub fn with_store(name: &str) -> Site {
        Site::copy_of(&fixture(&format!("stores/{name}")))
    }

    /// A site whose store is a copy of the folder `store`.
    pub fn copy_of(store: &Path) -> Site {
        assert!(store.is_dir(), "no store folder {}", store.display());
        let site = Site::empty();
        copy_dir(store, &site.store);
        site
    }

    /// Rewrites the config from the repository's, edited by `edit`.
    pub fn write_config(&self, edit: impl FnOnce(&mut toml::Table)) {
        std::fs::write(&self.config, config_text(edit)).expect("write config");
    }

    /// The index cache (the config's default `.cache/store-index`, next to the config).
    pub fn index(&self) -> PathBuf {
        self.root.join(".cache/store-index")
    }

    /// `gazette --config CONFIG build --store STORE --out OUT`.
    pub fn build(&self) -> Run {
        self.run(["build".as_ref(), "--store".as_ref(), self.store.as_os_str(), "--out".as_ref(), self.out.as_os_str()])
    }

    /// `gazette --config CONFIG check --store STORE`.
    pub fn check(&self) -> Run {
        self.run(["check".as_ref(), "--store".as_ref(), self.store.as_os_str()])
    }

    /// `gazette --config CONFIG ARGS…`.
    pub fn run<'a>(&'a self, args: impl IntoIterator<Item = &'a OsStr>) -> Run {
        let mut all: Vec<&OsStr> = vec!["--config".as_ref(), self.config.as_os_str()];
        all.extend(args);
        gazette(&all)
    }

    /// `gazette --config CONFIG subscribers ARGS…`.
    pub fn subscribers(&self, args: &[&str]) -> Run {
        self.run(std::iter::once(OsStr::new("subscribers")).chain(args.iter().map(OsStr::new)))
    }

    /// The site's state, opened through gazette's own interface from its config.
    pub fn state(&self) -> gazette::state::Database {
        let config = gazette::config::Config::from_file(&self.config).expect("the site's config");
        gazette::state::Database::open(&config.state).expect("the state opens")
    }

    /// How many rows the state's table `name` holds, counted through gazette's interface (as
    /// `gazette state copy` counts a copy).
    pub fn rows(&self, name: &str) -> u64 {
        let tables = gazette::state::copy::TABLES;
        let table = tables.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no table {name} in the state"));
        self.state().get().expect("a connection").count_rows(table).unwrap_or_else(|e| panic!("count {name}: {e:#}"))
    }

    /// Runs SQL on the site's state database (`gazette.db` beside the config): for what no
    /// interface does, setting times back (a confirmation a year ago, a run long finished).
    pub fn sql(&self, statement: &str) {
        let db = rusqlite::Connection::open(self.root.join("gazette.db")).expect("open the state");
        db.execute_batch(statement).unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// Where `email` stands: its subscriber row's status, language, sectors and digest, or
    /// `pending` with the choices of a sign-up waiting for confirmation, or `absent`. Read from
    /// the file: no interface finds a sign-up by its address (a link names it by id).
    pub fn subscription(&self, email: &str) -> (String, String, String, String) {
        let db = rusqlite::Connection::open(self.root.join("gazette.db")).expect("open the state");
        let row = |table: &str, status: &str| {
            db.query_row(
                &format!("SELECT {status}, language, sectors, digest FROM {table} WHERE email = ?1 ORDER BY id DESC"),
                [email],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .ok()
        };
        row("subscribers", "status")
            .or_else(|| row("signups", "'pending'"))
            .unwrap_or_else(|| ("absent".into(), String::new(), String::new(), String::new()))
    }

    /// Writes `text` to the store-relative path `rel`.
    pub fn write_article(&self, rel: &str, text: &str) {
        let path = self.store.join(rel);
        std::fs::create_dir_all(path.parent().expect("a file has a folder")).expect("article folder");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// The text of the output file `rel` (e.g. `en/atom.xml`).
    pub fn read(&self, rel: &str) -> String {
        let path = self.out.join(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// The JSON Feed `dir/feed.json` (`dir` is `en` or `en/trade`).
    pub fn json_feed(&self, dir: &str) -> serde_json::Value {
        let text = self.read(&format!("{dir}/feed.json"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{dir}/feed.json is not JSON: {e}\n{text}"))
    }

    /// Every output file, relative to the output folder, sorted.
    pub fn files(&self) -> Vec<String> {
        files(&self.out)
    }
}

/// Every file under `dir`, relative and `/`-separated, sorted; hidden files (the build's own
/// bookkeeping, which the server never serves) left out.
pub fn files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
            let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let rel = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().expect("file type").is_dir() {
                walk(&entry.path(), &format!("{rel}/"), found);
            } else {
                found.push(rel);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, "", &mut found);
    found.sort();
    found
}

/// What one run of the binary did.
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error (log lines), colour codes removed.
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\nexit code: {:?}\n--- stdout\n{}--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Panics with the whole run unless it exited 0.
    #[track_caller]
    pub fn success(&self) -> &Run {
        self.code(0)
    }

    /// Panics with the whole run unless it exited with `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        self
    }

    /// The `key=value` field of the build's summary log line, as a number.
    #[track_caller]
    pub fn summary_field(&self, key: &str) -> u64 {
        let line = self.stderr.lines().find(|l| l.contains("built feeds into")).unwrap_or_else(|| {
            panic!("no 'built feeds into' line\n{self}");
        });
        let value = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key}= in the summary line {line:?}"));
        value.parse().unwrap_or_else(|_| panic!("{key}={value} is not a number in {line:?}"))
    }
}

/// Runs the `gazette` binary with `args`, colour off and logging at info.
pub fn gazette(args: &[&OsStr]) -> Run {
    gazette_with(args, &[])
}

/// Runs the `gazette` binary with `args` and the extra environment `env` (a password).
pub fn gazette_with(args: &[&OsStr], env: &[(&str, &str)]) -> Run {
    let binary = env!("CARGO_BIN_EXE_gazette");
    let output = Command::new(binary)
        .args(args)
        .env_remove("GAZETTE_CONFIG")
        .envs(env.iter().copied())
        .env("GAZETTE_LOG", "info")
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    Run {
        command: format!("gazette {}", words.join(" ")),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: strip_ansi(&String::from_utf8_lossy(&output.stderr)),
    }
}

/// Removes ANSI colour sequences (`ESC [ … m`), in case the logger colours anyway.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
