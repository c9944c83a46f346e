//! `gazette generate`: the man pages and shell completions, made from the clap definitions
//! (so they say what `--help` says) and from the config reference (`config::reference`, the
//! README table's source too). Hidden: `scripts/package` runs it on the binary it packages.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{CommandFactory, Subcommand};
use clap_complete::Shell;
use clap_mangen::roff::{Roff, bold, roman};

use super::Cli;
use crate::config::reference::{self, KEYS};

/// What to write.
#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Man pages: gazette(1), one gazette-COMMAND(1) per subcommand, and gazette-config(5).
    Man {
        /// The folder to write them to (created if missing).
        dir: PathBuf,
    },
    /// Shell completions: gazette.bash, _gazette (zsh) and gazette.fish.
    Completions {
        /// The folder to write them to (created if missing).
        dir: PathBuf,
    },
}

/// Writes what `command` asks for.
pub fn run(command: &GenerateCommand) -> Result<()> {
    match command {
        GenerateCommand::Man { dir } => man_pages(dir),
        GenerateCommand::Completions { dir } => completions(dir),
    }
}

fn create(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))
}

/// gazette(1) and its subcommands' pages, then gazette-config(5).
pub fn man_pages(dir: &Path) -> Result<()> {
    create(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    let main = dir.join("gazette.1");
    let mut page = std::fs::read_to_string(&main).with_context(|| format!("cannot read {}", main.display()))?;
    page.push_str(&main_page_tail());
    std::fs::write(&main, page).with_context(|| format!("cannot write {}", main.display()))?;
    let config = dir.join("gazette-config.5");
    std::fs::write(&config, config_page()).with_context(|| format!("cannot write {}", config.display()))
}

/// The sections gazette(1) has beyond what clap knows: environment, files, see also.
fn main_page_tail() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in &ENVIRONMENT {
        roff.control("TP", [] as [&str; 0]).text([bold(*name)]).text([roman(*meaning)]);
    }
    files_section(&mut roff);
    roff.control("SH", ["SEE ALSO"]);
    let mut see_also: Vec<String> = vec!["gazette-config(5)".into(), "systemctl(1)".into(), "journalctl(1)".into()];
    collect_pages(&built_command(), &mut see_also);
    roff.text([roman(see_also.join(", "))]);
    roff.to_roff()
}

/// The command line as clap_mangen builds it for its pages (no `help` subcommands).
fn built_command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `gazette-digest-send(1)` and the like, for every subcommand clap_mangen wrote a page for.
fn collect_pages(cmd: &clap::Command, out: &mut Vec<String>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push(format!("{}(1)", sub.get_display_name().unwrap_or(sub.get_name())));
        collect_pages(sub, out);
    }
}

const ENVIRONMENT: [(&str, &str); 5] = [
    ("GAZETTE_CONFIG", "the configuration file, as --config"),
    ("GAZETTE_LOG", "the log filter (default info; gazette=debug shows the time each phase takes)"),
    ("GAZETTE_MAIL_URL", "overrides mail.url"),
    ("GAZETTE_SMTP_PASSWORD", "the SMTP password (else mail.password_file)"),
    ("GAZETTE_TOKEN_SECRET", "the key that signs links (else tokens.secret_file)"),
];

fn files_section(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    for (path, meaning) in [
        ("/etc/gazette/config.toml", "the configuration (a conffile: an upgrade keeps your edits)"),
        ("/etc/gazette/templates/", "local templates and strings.toml, each winning over the packaged one of its name"),
        ("/usr/share/gazette/templates/", "the packaged templates"),
        ("/var/lib/gazette/", "the state: database, token secret, index cache, feeds, outbox"),
        ("/usr/lib/systemd/system/gazette.service", "the unit: systemctl status gazette"),
    ] {
        roff.control("TP", [] as [&str; 0]).text([bold(path)]).text([roman(meaning)]);
    }
}

/// gazette-config(5): every key of `config::reference`.
pub fn config_page() -> String {
    let mut roff = Roff::new();
    roff.control("TH", ["GAZETTE-CONFIG", "5", "", &format!("gazette {}", env!("CARGO_PKG_VERSION"))]);
    roff.control("SH", ["NAME"]);
    roff.text([roman("gazette-config - the configuration file of gazette(1)")]);
    roff.control("SH", ["SYNOPSIS"]);
    roff.text([bold("/etc/gazette/config.toml")]);
    roff.control("SH", ["DESCRIPTION"]);
    roff.text([roman(
        "A TOML file, read strictly: an unknown key, a bad time zone or cron expression, or a missing required \
         value is an error that names the key and the file. Relative paths resolve against the folder holding \
         the config file. Secrets are never in it: the SMTP password and the token key come from files or the \
         environment. gazette check reads it and reports what is wrong; systemctl reload gazette makes the \
         service read it again (http.* changes need a restart).",
    )]);
    roff.control("SH", ["KEYS"]);
    for key in KEYS {
        roff.control("TP", [] as [&str; 0]).text([bold(key.key)]);
        let line: Vec<_> = reference::spans(key.meaning)
            .map(|(text, is_code)| if is_code { bold(text) } else { roman(text) })
            .collect();
        roff.text(line);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in &ENVIRONMENT[1..] {
        roff.control("TP", [] as [&str; 0]).text([bold(*name)]).text([roman(*meaning)]);
    }
    files_section(&mut roff);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman("gazette(1), gazette-check(1)")]);
    roff.to_roff()
}

/// Completions for bash, zsh and fish.
pub fn completions(dir: &Path) -> Result<()> {
    create(dir)?;
    let mut written = String::new();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut Cli::command(), "gazette", dir)
            .with_context(|| format!("cannot write the {shell} completions into {}", dir.display()))?;
        let _ = writeln!(written, "{}", path.display());
    }
    tracing::debug!(files = %written.trim_end(), "wrote completions");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_page_names_every_key() {
        let page = config_page();
        for key in KEYS {
            // roff escapes '-' as '\-'.
            assert!(page.contains(&key.key.replace('-', "\\-")), "{} missing from gazette-config(5)", key.key);
        }
    }

    #[test]
    fn man_pages_cover_every_command() {
        let dir = tempfile::tempdir().unwrap();
        man_pages(dir.path()).unwrap();
        let mut expected = vec!["gazette(1)".to_owned()];
        collect_pages(&built_command(), &mut expected);
        assert!(expected.contains(&"gazette-digest-send(1)".to_owned()), "{expected:?}");
        for page in expected {
            let file = page.replace("(1)", ".1");
            assert!(dir.path().join(&file).is_file(), "{file} not written");
        }
        assert!(!dir.path().join("gazette-generate.1").exists(), "the hidden command has no page");
        let main = std::fs::read_to_string(dir.path().join("gazette.1")).unwrap();
        assert!(main.contains("gazette\\-config(5)") && main.contains("GAZETTE_TOKEN_SECRET"), "{main}");
    }
}
