//! A PostgreSQL server of a test's own: a new cluster (`initdb`) in a temporary folder,
//! listening on one loopback port, with trust authentication for the user `gazette` (with
//! [`PgServer::start_with_tls`], over TLS only). As root
//! it runs as `nobody`, since the server refuses to run as root. Stopped when dropped, and
//! killed with the thread that started it if that dies first. Shared by the library's unit
//! tests and the integration tests (`#[path]`), so there is one way to start one.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server and its cluster's folder.
pub struct PgServer {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
    child: Option<Child>,
    /// The user the server runs as, when the tests run as root.
    user: Option<(libc::uid_t, libc::gid_t)>,
    /// Whether it takes TCP connections over TLS only (its certificate and key in the cluster).
    is_tls: bool,
}

/// Debian's server binaries (`/usr/lib/postgresql/N/bin`, the newest N), or `GAZETTE_PG_BIN`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GAZETTE_PG_BIN") {
        return dir.into();
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL's server is not installed: scripts/test installs Debian's postgresql (or set GAZETTE_PG_BIN)",
    )
}

/// `nobody`'s ids when running as root.
fn server_user() -> Option<(libc::uid_t, libc::gid_t)> {
    // SAFETY: geteuid has no preconditions; getpwnam returns a pointer into static storage,
    // read at once, and tests do not call it from other threads meanwhile.
    unsafe {
        if libc::geteuid() != 0 {
            return None;
        }
        let entry = libc::getpwnam(c"nobody".as_ptr());
        assert!(!entry.is_null(), "no user 'nobody' to run PostgreSQL as");
        Some(((*entry).pw_uid, (*entry).pw_gid))
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Deletes the clusters of test processes that ended without dropping their server (a
/// server kept in a `static` is never dropped): no server runs on them, and they are not new.
fn sweep() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = entry.file_name().to_str().is_some_and(|n| n.starts_with("gazette-pg-"));
        let age = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        let pid = std::fs::read_to_string(path.join("data/postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().and_then(|l| l.trim().parse::<i32>().ok()));
        // SAFETY: signal 0 only asks whether the process exists.
        let is_running = pid.is_some_and(|pid| unsafe { libc::kill(pid, 0) } == 0);
        if is_ours && !is_running && age.is_some_and(|a| a > Duration::from_secs(600)) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

impl PgServer {
    /// Makes a cluster and starts the server on it.
    pub fn start() -> PgServer {
        let mut server = PgServer::init();
        server.run();
        server
    }

    /// Makes a cluster whose server takes TCP connections over TLS only, with the certificate
    /// `cert` and its key `key` (PEM), and starts it.
    pub fn start_with_tls(cert: &std::path::Path, key: &std::path::Path) -> PgServer {
        let mut server = PgServer::init();
        let data = server.dir.path().join("data");
        for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
            std::fs::copy(from, data.join(to)).expect("the server's certificate and key");
            // The server takes a key only its own user can read.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data.join(to), std::fs::Permissions::from_mode(0o600)).expect("chmod");
            if let Some((uid, gid)) = server.user {
                std::os::unix::fs::chown(data.join(to), Some(uid), Some(gid)).expect("chown");
            }
        }
        let hba = "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n";
        std::fs::write(data.join("pg_hba.conf"), hba).expect("pg_hba.conf");
        server.is_tls = true;
        server.run();
        server
    }

    fn init() -> PgServer {
        sweep();
        let dir = tempfile::Builder::new().prefix("gazette-pg-").tempdir().expect("a folder for the cluster");
        let user = server_user();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("the cluster folder for nobody");
        }
        let server = PgServer { dir, port: free_port(), bin: bin_dir(), child: None, user, is_tls: false };
        let data = server.dir.path().join("data");
        let mut initdb = server.command("initdb");
        initdb.arg("-D").arg(&data).args(["-U", "gazette", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
        let out = initdb.output().expect("initdb runs");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        server
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        let user = self.user;
        // SAFETY: only async-signal-safe calls between fork and exec. The death signal is set
        // last: changing the user clears it.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                if let Some((uid, gid)) = user
                    && (libc::setgid(gid) != 0 || libc::setuid(uid) != 0)
                {
                    return Err(std::io::Error::last_os_error());
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        command
    }

    /// Starts the server on the cluster (again) and waits until it takes connections.
    fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("the server's log");
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(self.dir.path().join("server.log"), Some(uid), Some(gid)).expect("chown log");
        }
        let mut postgres = self.command("postgres");
        postgres
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("unix_socket_directories={}", self.dir.path().display()))
            // A test's cluster is thrown away: it need not survive the machine crashing.
            .args(["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"])
            .args(if self.is_tls { &["-c", "ssl=on"][..] } else { &[] })
            .stdout(log.try_clone().expect("the log again"))
            .stderr(log);
        self.child = Some(postgres.spawn().expect("postgres starts"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.admin().is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("postgres exited ({status}): {}", self.log());
            }
            assert!(Instant::now() < deadline, "postgres did not start in 30 s: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A connection to the database `postgres` through the server's Unix socket (which takes
    /// one without TLS even from a server that takes TCP connections over TLS only).
    fn admin(&self) -> Result<postgres::Client, postgres::Error> {
        let socket = format!("host={} port={} user=gazette dbname=postgres", self.dir.path().display(), self.port);
        postgres::Client::connect(&socket, postgres::NoTls)
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The URL of database `db` on it, as user `gazette` (no password: trust on loopback).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://gazette@127.0.0.1:{}/{db}", self.port)
    }

    /// Makes a new, empty database `name`; returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let mut admin = self.admin().expect("connect as admin");
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create the database");
        self.url(name)
    }

    /// Stops the server (fast shutdown: clients are disconnected) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling a child process of ours by its id.
            unsafe {
                libc::kill(i32::try_from(child.id()).unwrap_or(0), libc::SIGINT);
            }
            let _ = child.wait();
        }
    }

    /// Stops the server and starts it again on the same cluster and port.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}
