//! A real SMTP server for tests: Postfix's `smtp-sink` on a loopback port, which writes every
//! message it accepts to a file and can be told to refuse (4xx, 5xx).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mail_parser::MessageParser;

/// A running `smtp-sink`, stopped when dropped.
pub struct Sink {
    child: Child,
    /// The folder each accepted message is written to.
    pub dump: PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    // Never the same port twice in this process: tests run in parallel, and the system may
    // hand a port just released to the next caller.
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Starts `smtp-sink` on `port` with extra `options` (e.g. `-f RCPT`), dumping into `dump`.
pub fn sink(port: u16, dump: &Path, options: &[&str]) -> Sink {
    std::fs::create_dir_all(dump).expect("dump folder");
    // smtp-sink drops root privileges to `nobody`, who must be able to write the dumps.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dump, std::fs::Permissions::from_mode(0o777)).expect("chmod dump folder");
    let template = format!("{}/message.", dump.display());
    let child = Command::new("smtp-sink")
        .args(["-u", "nobody", "-d", &template])
        .args(options)
        .arg(format!("127.0.0.1:{port}"))
        .arg("100")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("smtp-sink runs (scripts/test installs postfix)");
    let mut sink = Sink { child, dump: dump.to_path_buf() };
    let started = Instant::now();
    loop {
        // Something answering is not enough: it must be this smtp-sink, not another process
        // that took the port first.
        let exited = sink.child.try_wait().expect("smtp-sink status");
        assert!(exited.is_none(), "smtp-sink could not listen on port {port} ({exited:?}): taken by another process?");
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
            if sink.child.try_wait().expect("smtp-sink status").is_none() {
                return sink;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10), "smtp-sink did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Sink {
    /// Every message dumped so far, raw, oldest first.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut names = crate::helpers::files(&self.dump);
        names.sort_by_key(|name| std::fs::metadata(self.dump.join(name)).and_then(|m| m.modified()).ok());
        names.iter().map(|name| std::fs::read(self.dump.join(name)).expect("read dump")).collect()
    }

    /// Waits up to `limit` for a message to `to` whose subject contains `subject`; returns it.
    pub fn wait_for(&self, to: &str, subject: &str, limit: Duration) -> Vec<u8> {
        let started = Instant::now();
        loop {
            let found = self.messages().into_iter().find(|raw| {
                let Some(m) = MessageParser::default().parse(raw) else { return false };
                let is_to = m.to().and_then(|a| a.first()).and_then(|a| a.address()) == Some(to);
                is_to && m.subject().is_some_and(|s| s.contains(subject))
            });
            if let Some(raw) = found {
                return raw;
            }
            assert!(started.elapsed() < limit, "no message to {to} with subject '{subject}' within {limit:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Each recipient's envelope sender (with `[mail.returns]`, its signed return path), as
    /// smtp-sink recorded the envelope of every message dumped so far.
    pub fn return_paths(&self) -> std::collections::HashMap<String, String> {
        let mut paths = std::collections::HashMap::new();
        for raw in self.messages() {
            let text = String::from_utf8_lossy(&raw).into_owned();
            let arg = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|l| l.trim().strip_prefix('<'))
                    .and_then(|l| l.split('>').next())
                    .expect("smtp-sink records the envelope")
                    .to_owned()
            };
            paths.insert(arg("X-Rcpt-Args:"), arg("X-Mail-Args:"));
        }
        paths
    }

    /// The recipients of every message dumped so far, sorted.
    pub fn recipients(&self) -> Vec<String> {
        let mut found: Vec<String> = crate::helpers::files(&self.dump)
            .iter()
            .map(|name| {
                let raw = std::fs::read(self.dump.join(name)).expect("read dump");
                let message = MessageParser::default().parse(&raw).unwrap_or_else(|| panic!("{name} is not MIME"));
                assert!(message.header_raw("List-Unsubscribe").is_some(), "{name} has no List-Unsubscribe");
                message.to().and_then(|a| a.first()).and_then(|a| a.address()).expect("To").to_owned()
            })
            .collect();
        found.sort();
        found
    }
}
