//! The daemon as a process: `gazette run` started on a free port for a temp site, talked to
//! over raw HTTP/1.1 (so malformed and hostile requests can be sent too), signalled and killed.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Site, copy_dir, repo, table};
use crate::mailsink::free_port;
use mail_parser::MessageParser;

/// A temp site with a copy of the example store and templates, serving on a free port (and
/// `/healthz` and `/metrics` on another), with mail going to `mail_url` and `edit` applied to
/// the config last.
pub fn served_site(mail_url: &str, edit: impl FnOnce(&mut toml::Table)) -> (Site, u16) {
    let port = free_port();
    let ops_port = free_port();
    let site = Site::copy_of(&repo().join("articles"));
    copy_dir(&repo().join("templates"), &site.root.join("templates"));
    site.write_config(|config| {
        table(config, "site").insert("base_url".into(), format!("http://127.0.0.1:{port}").into());
        table(config, "store").insert("dir".into(), "store".into());
        table(config, "feeds").insert("dir".into(), "out".into());
        table(config, "http").insert("listen".into(), format!("127.0.0.1:{port}").into());
        table(config, "http").insert("ops_listen".into(), format!("127.0.0.1:{ops_port}").into());
        table(config, "mail").insert("url".into(), mail_url.into());
        edit(config);
    });
    (site, port)
}

/// A running `gazette run`; killed when dropped.
pub struct Daemon {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The port of `/healthz` and `/metrics` (`http.ops_listen`); the public one with
    /// `ops_listen = "public"`.
    pub ops_port: u16,
    /// Its stderr, appended across restarts.
    pub log: PathBuf,
}

impl Daemon {
    /// Starts the daemon for `site` on `port` with extra environment `env`, and waits until
    /// `/healthz` answers. If another process took a port meanwhile (the public one or the
    /// operations one), the site moves to a new one (its config is rewritten) and the daemon
    /// starts again.
    pub fn start(site: &Site, port: u16, env: &[(&str, &str)]) -> Daemon {
        Daemon::start_as(&site.config, &site.root.join("daemon.log"), port, env)
    }

    /// Starts the daemon with the config file `config` (one of several instances on one site),
    /// logging to `log`, as [`Daemon::start`] does.
    pub fn start_as(config: &Path, log: &Path, port: u16, env: &[(&str, &str)]) -> Daemon {
        let mut port = port;
        for _ in 0..3 {
            let ops_port = ops_port(config).unwrap_or(port);
            match Daemon::try_start(config, log, port, ops_port, env) {
                Ok(daemon) => return daemon,
                Err(log) => {
                    let taken =
                        [port, ops_port].into_iter().find(|p| log.contains(&format!("cannot listen on 127.0.0.1:{p}")));
                    let Some(taken) = taken else { panic!("gazette run did not start:\n{log}") };
                    let moved = free_port();
                    let text = std::fs::read_to_string(config).expect("config");
                    let text = text.replace(&format!("127.0.0.1:{taken}"), &format!("127.0.0.1:{moved}"));
                    std::fs::write(config, text).expect("config");
                    if taken == port {
                        port = moved;
                    }
                }
            }
        }
        panic!("no free port for the daemon");
    }

    fn try_start(config: &Path, log: &Path, port: u16, ops_port: u16, env: &[(&str, &str)]) -> Result<Daemon, String> {
        let log = log.to_path_buf();
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_gazette"))
            .args(["--config", config.to_str().expect("utf-8"), "run"])
            .env("GAZETTE_LOG", "info,gazette=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("gazette runs");
        let running = format!("gazette is running listen=127.0.0.1:{port}");
        let before = std::fs::read_to_string(&log).unwrap_or_default().matches(&running).count();
        let mut daemon = Daemon { child: Some(child), port, ops_port, log };
        let started = Instant::now();
        loop {
            // Its own log says it listens (not some other process on the port), and it answers.
            let is_up = daemon.log().matches(&running).count() > before;
            if is_up && let Ok(response) = daemon.try_ops_request(&get("/healthz")) {
                assert_eq!(response.status, 200, "{}", daemon.log());
                return Ok(daemon);
            }
            if let Some(status) = daemon.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                daemon.child = None;
                return Err(format!("exited with {status}:\n{}", daemon.log()));
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the daemon did not serve:\n{}", daemon.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `limit` for `needle` in the log.
    pub fn wait_log(&self, needle: &str, limit: Duration) {
        let started = Instant::now();
        while !self.log().contains(needle) {
            assert!(started.elapsed() < limit, "'{needle}' not logged within {limit:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `limit` for `done`; on timeout fails showing the daemon's log.
    pub fn wait(&self, what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < limit, "{what}: not within {limit:?}; the daemon logged:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        started.elapsed()
    }

    /// Sends signal `name` (`TERM`, `HUP`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.pid().to_string()]).status().expect("kill runs");
        assert!(status.success());
    }

    /// `kill -9`, and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM; waits up to `limit` for the exit and returns its status and how long it took.
    pub fn terminate(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        self.signal("TERM");
        let started = Instant::now();
        let mut child = self.child.take().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return (status, started.elapsed());
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                panic!("the daemon did not exit within {limit:?} of SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends raw `request` and reads the whole response.
    pub fn try_request(&self, request: &[u8]) -> std::io::Result<Response> {
        exchange(self.port, request)
    }

    /// Sends `request` (built with [`get`] or [`request`]).
    pub fn send(&self, request: &[u8]) -> Response {
        self.try_request(request).unwrap_or_else(|e| panic!("request failed: {e}\n{}", self.log()))
    }

    /// Sends raw `request` to the operations port and reads the whole response.
    pub fn try_ops_request(&self, request: &[u8]) -> std::io::Result<Response> {
        exchange(self.ops_port, request)
    }

    /// Sends `request` to the operations port (`/healthz`, `/metrics`).
    pub fn ops_send(&self, request: &[u8]) -> Response {
        self.try_ops_request(request).unwrap_or_else(|e| panic!("request failed: {e}\n{}", self.log()))
    }
}

/// The operations port the config file `config` names, if it names one.
fn ops_port(config: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(config).ok()?;
    let config: toml::Table = toml::from_str(&text).ok()?;
    let address = config.get("http")?.get("ops_listen")?.as_str()?;
    address.rsplit_once(':')?.1.parse().ok()
}

/// Sends raw `request` to 127.0.0.1:`port` and reads the whole response.
fn exchange(port: u16, request: &[u8]) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Response::parse(&raw).ok_or_else(|| std::io::Error::other(format!("not HTTP: {:?}", String::from_utf8_lossy(&raw))))
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP response, body de-chunked (not decompressed).
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// Parses a whole raw response.
    pub fn parse(raw: &[u8]) -> Option<Response> {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[end + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        Some(Response { status, headers, body })
    }

    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|&s| s > 0) else { break };
        let start = line_end + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

/// A `GET` of `path` with `Connection: close`.
pub fn get(path: &str) -> Vec<u8> {
    request("GET", path, &[], b"")
}

/// A request with `headers` and `body` (`Content-Length` is added when there is a body).
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A form post of `fields` (URL-encoded) to `path`.
pub fn post_form(path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Vec<u8> {
    let body: String = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    request("POST", path, &all, body.as_bytes())
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The one-click unsubscribe URL (path and query) from a digest `email` would get.
pub fn unsubscribe_url_of(site: &Site, email: &str) -> String {
    let out = site.root.join("preview");
    site.run(
        ["digest", "preview", "daily", "--to", email, "--out", out.to_str().expect("utf-8")].map(std::ffi::OsStr::new),
    )
    .success();
    let raw = std::fs::read(out.join(format!("{email}.eml"))).expect("preview eml");
    let message = MessageParser::default().parse(&raw).expect("MIME");
    let header = message.header_raw("List-Unsubscribe").expect("List-Unsubscribe").to_owned();
    let start = header.find("<http").expect("an HTTP URL") + 1;
    let end = start + header[start..].find('>').expect("closing bracket");
    header[start..end].to_owned()
}
