//! A real Postfix for tests, one instance per call: its own `config_directory`, queue, data
//! directory and log file in a temp dir, listening on free loopback ports, started with
//! `postfix -c DIR start` and stopped (then its leftovers killed) when dropped. Two kinds: the
//! relay gazette submits to (STARTTLS with a private CA, Cyrus SASL from a sasldb) and a next
//! hop that refuses or defers chosen recipients.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::mailsink::free_port;

/// The SMTP AUTH user gazette submits as (its realm is added by `smtpd_sasl_local_domain`).
pub const USER: &str = "gazette";
/// Its password, in the instance's sasldb.
pub const PASSWORD: &str = "relay-secret-7";

/// A running Postfix instance; stopped when dropped.
pub struct Postfix {
    _dir: TempDir,
    /// The temp dir: `conf/`, `queue/`, `data/`, `maillog`, certificates.
    pub root: PathBuf,
    conf: PathBuf,
    /// Plain SMTP for loopback clients (`mynetworks`): the instance's port 25.
    pub smtp_port: u16,
    /// Submission: STARTTLS, then AUTH, both required (the relay only).
    pub submission_port: u16,
    /// Submission again, with a certificate for another host name (the relay only).
    pub misnamed_port: u16,
}

/// What every instance shares: loopback only, its own queue, log and name, no local delivery,
/// fast retries and a queue lifetime that a test can wait out.
fn main_cf(root: &Path, name: &str) -> String {
    let r = root.display();
    format!(
        "compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
syslog_name = {name}
maillog_file_prefixes = {r}
maillog_file = {r}/maillog
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
myhostname = {name}.example.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
smtputf8_enable = no
smtp_dns_support_level = disabled
smtp_tls_security_level = none
maximal_queue_lifetime = 10s
bounce_queue_lifetime = 10s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"
    )
}

/// The services Postfix needs to queue, relay and bounce; no chroot (the queue is a temp dir).
const MASTER_CF: &str = "\
cleanup   unix  n  -  n  -     0  cleanup
qmgr      unix  n  -  n  300   1  qmgr
tlsmgr    unix  -  -  n  1000? 1  tlsmgr
rewrite   unix  -  -  n  -     -  trivial-rewrite
bounce    unix  -  -  n  -     0  bounce
defer     unix  -  -  n  -     0  bounce
trace     unix  -  -  n  -     0  bounce
verify    unix  -  -  n  -     1  verify
proxymap  unix  -  -  n  -     -  proxymap
smtp      unix  -  -  n  -     -  smtp
relay     unix  -  -  n  -     -  smtp
showq     unix  n  -  n  -     -  showq
error     unix  -  -  n  -     -  error
retry     unix  -  -  n  -     -  error
discard   unix  -  -  n  -     -  discard
lmtp      unix  -  -  n  -     -  lmtp
anvil     unix  -  -  n  -     1  anvil
scache    unix  -  -  n  -     1  scache
postlog   unix-dgram n - n -   1  postlogd
";

impl Postfix {
    /// The relay: accepts from loopback on `smtp_port` and, after STARTTLS and AUTH, on the
    /// submission ports; sends everything to 127.0.0.1:`next_hop` except the return domain,
    /// which goes to gazette's LMTP listener on `lmtp`. `extra` lines end main.cf.
    pub fn relay(next_hop: u16, lmtp: u16, extra: &[&str]) -> Postfix {
        let dir = temp_dir("gazette-relay-");
        let root = dir.path().to_path_buf();
        let r = root.display();
        certificates(&root);
        let conf = root.join("conf");
        // Debian's Postfix reads smtpd.conf from $config_directory/sasl/ whatever
        // cyrus_sasl_config_path says; both point there.
        std::fs::create_dir_all(conf.join("sasl")).expect("sasl folder");
        let sasldb = root.join("sasldb2");
        std::fs::write(
            conf.join("sasl/smtpd.conf"),
            format!(
                "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {}\nmech_list: PLAIN LOGIN\n",
                sasldb.display()
            ),
        )
        .expect("smtpd.conf");
        let mut saslpasswd = Command::new("saslpasswd2")
            .args(["-p", "-c", "-f"])
            .arg(&sasldb)
            .args(["-u", "relay.example.test", USER])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("saslpasswd2 runs (scripts/test installs sasl2-bin)");
        std::io::Write::write_all(&mut saslpasswd.stdin.take().expect("stdin"), PASSWORD.as_bytes()).expect("password");
        assert!(saslpasswd.wait().expect("saslpasswd2").success(), "saslpasswd2 failed");
        // smtpd reads the sasldb as the postfix user, at AUTH time.
        chown_postfix(&sasldb);
        std::fs::write(root.join("transport"), format!("news.example.gov.cn lmtp:inet:127.0.0.1:{lmtp}\n"))
            .expect("transport map");

        let (smtp_port, submission_port, misnamed_port) = (free_port(), free_port(), free_port());
        let main = format!(
            "{}relayhost = [127.0.0.1]:{next_hop}
transport_maps = texthash:{r}/transport
smtpd_tls_cert_file = {r}/server.pem
smtpd_tls_key_file = {r}/server.key
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {r}/conf/sasl
smtpd_sasl_local_domain = relay.example.test
{}
",
            main_cf(&root, &format!("relay-{}", short_name(&root))),
            extra.join("\n")
        );
        let submission = "-o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes -o smtpd_sasl_auth_enable=yes \
             -o smtpd_client_restrictions=permit_sasl_authenticated,reject \
             -o smtpd_relay_restrictions=permit_sasl_authenticated,reject";
        let master = format!(
            "{MASTER_CF}127.0.0.1:{smtp_port} inet n - n - - smtpd
127.0.0.1:{submission_port} inet n - n - - smtpd {submission}
127.0.0.1:{misnamed_port} inet n - n - - smtpd {submission} -o smtpd_tls_cert_file={r}/misnamed.pem -o smtpd_tls_key_file={r}/misnamed.key
"
        );
        Postfix::start(dir, &main, &master, [smtp_port, submission_port, misnamed_port])
    }

    /// A next hop that answers RCPT for each `(address, reply)` in `replies` with that reply
    /// (`550 5.1.1 …`, `450 4.2.0 …`) and forwards the rest to 127.0.0.1:`forward_to`.
    pub fn next_hop(forward_to: u16, replies: &[(String, String)]) -> Postfix {
        let dir = temp_dir("gazette-next-hop-");
        let root = dir.path().to_path_buf();
        let r = root.display();
        let access: String = replies.iter().map(|(address, reply)| format!("{address} {reply}\n")).collect();
        std::fs::write(root.join("access"), access).expect("access map");
        let smtp_port = free_port();
        let main = format!(
            "{}relayhost = [127.0.0.1]:{forward_to}
smtpd_recipient_restrictions = check_recipient_access texthash:{r}/access, permit_mynetworks, reject
",
            main_cf(&root, &format!("next-hop-{}", short_name(&root)))
        );
        let master = format!("{MASTER_CF}127.0.0.1:{smtp_port} inet n - n - - smtpd\n");
        Postfix::start(dir, &main, &master, [smtp_port, 0, 0])
    }

    fn start(dir: TempDir, main: &str, master: &str, [smtp_port, submission_port, misnamed_port]: [u16; 3]) -> Postfix {
        let root = dir.path().to_path_buf();
        let conf = root.join("conf");
        std::fs::create_dir_all(&conf).expect("config folder");
        std::fs::write(conf.join("main.cf"), main).expect("main.cf");
        std::fs::write(conf.join("master.cf"), master).expect("master.cf");
        // postfix start makes the queue's folders (owned by postfix) in queue_directory, which
        // must exist, and leaves data_directory as it finds it: the master's lock file and the
        // TLS cache are written as postfix.
        std::fs::create_dir_all(root.join("queue")).expect("queue folder");
        let data = root.join("data");
        std::fs::create_dir_all(&data).expect("data folder");
        chown_postfix(&data);
        let postfix = Postfix { _dir: dir, conf, smtp_port, submission_port, misnamed_port, root };
        let out = postfix.command("start");
        assert!(
            out.status.success(),
            "postfix start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            postfix.maillog()
        );
        // `postfix start` returns once the master runs; its listeners are open by then.
        for port in [smtp_port, submission_port, misnamed_port].into_iter().filter(|&p| p != 0) {
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
                "postfix does not listen on {port}:\n{}",
                postfix.maillog()
            );
        }
        postfix
    }

    fn command(&self, verb: &str) -> std::process::Output {
        Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg(verb)
            .output()
            .expect("postfix runs (scripts/test installs it)")
    }

    /// The CA that signed the relay's certificates.
    pub fn ca(&self) -> PathBuf {
        self.root.join("ca.pem")
    }

    /// Another CA, which signed nothing the relay shows.
    pub fn other_ca(&self) -> PathBuf {
        self.root.join("other-ca.pem")
    }

    /// Everything the instance logged so far.
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.root.join("maillog")).unwrap_or_default()
    }

    /// The process ids of this instance: every process whose environment names its config
    /// directory (the master passes `MAIL_CONFIG` on to each service it starts).
    fn processes(&self) -> Vec<u32> {
        let needle = format!("MAIL_CONFIG={}", self.conf.display());
        let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()))
            })
            .collect()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if !self.command("stop").status.success() {
            let _ = self.command("abort");
        }
        for pid in self.processes() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

fn temp_dir(prefix: &str) -> TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().expect("temp dir");
    // The postfix user reaches the queue, the maps, the certificates and sasl/smtpd.conf.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
    dir
}

/// The temp dir's random part: the instance's log name, distinct among parallel tests.
fn short_name(root: &Path) -> String {
    root.file_name().and_then(|n| n.to_str()).and_then(|n| n.rsplit('-').next()).unwrap_or("x").to_owned()
}

fn chown_postfix(path: &Path) {
    let status = Command::new("chown").arg("postfix").arg(path).status().expect("chown runs");
    assert!(status.success(), "chown postfix {}", path.display());
}

/// A CA (`ca.pem`), the server's certificate for 127.0.0.1 and localhost signed by it
/// (`server.pem`, `server.key`), one for another name (`misnamed.*`), and a second CA
/// (`other-ca.pem`); P-256 keys, which are quick to make.
pub fn certificates(root: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(root).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ca = |name: &str| {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=gazette test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    };
    ca("ca");
    ca("other-ca");
    for (name, names) in [("server", "IP:127.0.0.1,DNS:localhost"), ("misnamed", "DNS:mail.elsewhere.example")] {
        let ext = format!(
            "subjectAltName={names}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        );
        std::fs::write(root.join(format!("{name}.ext")), ext).expect("extensions");
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={}", names.split(',').next().unwrap_or_default().split(':').nth(1).unwrap_or_default()),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ]);
        std::fs::set_permissions(root.join(format!("{name}.key")), std::fs::Permissions::from_mode(0o644))
            .expect("chmod key");
    }
}
