//! The daemon's limits as the README states them, over raw HTTP/1.1: request heads over
//! 32 KiB get 431 however they are written, a declared body over 16 KiB gets 413 before it is
//! sent, a request needs a `Host` (with `http.check_host`, this site's); paths the file
//! system refuses are 404 and leave nothing above debug in the log; the operations port is
//! bound at start (or the operations endpoints served on the public one).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use crate::helpers::{Site, table};
use crate::service::{Daemon, Response, get, served_site};

fn started(edit: impl FnOnce(&mut toml::Table)) -> (Site, Daemon) {
    let (site, port) = served_site("file://outbox", edit);
    let daemon = Daemon::start(&site, port, &[]);
    daemon.wait_log("feeds built", Duration::from_secs(20));
    (site, daemon)
}

/// Writes `raw` to the daemon in pieces of `piece` bytes, then reads the answer (a few
/// seconds at most: a limit that holds the client is what these tests look for).
fn exchange_in_pieces(daemon: &Daemon, raw: &[u8], piece: usize) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", daemon.port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    for chunk in raw.chunks(piece) {
        // The server may refuse and close before the last piece: what it answered is read below.
        if stream.write_all(chunk).is_err() {
            break;
        }
        if piece < raw.len() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    Response::parse(&answer)
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}\n{}", String::from_utf8_lossy(&answer), daemon.log()))
}

/// A `GET /en/` whose head (request line, headers and the blank line) is exactly `size` bytes.
fn head_of(size: usize) -> Vec<u8> {
    let start = "GET /en/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Pad: ";
    let end = "\r\n\r\n";
    let head = format!("{start}{}{end}", "p".repeat(size - start.len() - end.len()));
    assert_eq!(head.len(), size);
    head.into_bytes()
}

#[test]
fn request_heads_over_32_kib_get_431_in_one_write_or_in_pieces() {
    let (_site, daemon) = started(|_| {});
    let whole = usize::MAX;
    for (size, piece, status) in [
        (31 * 1024, whole, 200),
        (31 * 1024, 700, 200),
        (32 * 1024, whole, 200),
        (32 * 1024 + 1, whole, 431),
        (33 * 1024, whole, 431),
        (33 * 1024, 512, 431),
        (40 * 1000, whole, 431),
    ] {
        let r = exchange_in_pieces(&daemon, &head_of(size), piece.min(size));
        assert_eq!(r.status, status, "a head of {size} bytes in pieces of {piece}");
    }
    assert_eq!(daemon.send(&get("/en/")).status, 200, "the server goes on");
}

#[test]
fn a_declared_body_over_16_kib_gets_413_before_it_is_sent() {
    let (_site, daemon) = started(|_| {});
    let head = "POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                Content-Length: 100000\r\n\r\n";
    // No body follows: an answer within the read timeout is a 413, not a 408 after 30 s.
    let r = exchange_in_pieces(&daemon, head.as_bytes(), head.len());
    assert_eq!(r.status, 413, "{}", r.text());
    let expecting = "POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n\
                     Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n";
    let r = exchange_in_pieces(&daemon, expecting.as_bytes(), expecting.len());
    assert_eq!(r.status, 413, "no 100 Continue for a body that will be refused");
}

#[test]
fn a_request_without_host_is_400() {
    let (_site, daemon) = started(|_| {});
    for raw in ["GET /en/ HTTP/1.1\r\nConnection: close\r\n\r\n", "GET /en/ HTTP/1.0\r\n\r\n"] {
        assert_eq!(daemon.send(raw.as_bytes()).status, 400, "{raw:?}");
    }
    let two = "GET /en/ HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
    assert_eq!(daemon.send(two.as_bytes()).status, 400, "two Host lines");
    assert_eq!(daemon.ops_send(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n").status, 400);
    // check_host is off by default: any name is served.
    let other = b"GET /en/ HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n";
    assert_eq!(daemon.send(other).status, 200);
}

#[test]
fn with_check_host_a_foreign_host_is_400() {
    let (_site, daemon) = started(|config| {
        table(config, "http").insert("check_host".into(), true.into());
    });
    let raw = |host: &str| format!("GET /en/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes();
    let ours = format!("127.0.0.1:{}", daemon.port);
    assert_eq!(daemon.send(&raw(&ours)).status, 200);
    for foreign in ["evil.example", "127.0.0.1:1", "localhost"] {
        let r = daemon.send(&raw(foreign));
        assert_eq!(r.status, 400, "{foreign}: {}", r.text());
    }
    let absolute = format!("GET http://evil.example/en/ HTTP/1.1\r\nHost: {ours}\r\nConnection: close\r\n\r\n");
    assert_eq!(daemon.send(absolute.as_bytes()).status, 400, "the target's authority counts");
    // The scraper reaches the operations port by any name.
    let scrape = b"GET /metrics HTTP/1.1\r\nHost: prometheus.internal\r\nConnection: close\r\n\r\n";
    assert_eq!(daemon.ops_send(scrape).status, 200);
}

#[test]
fn paths_the_file_system_refuses_are_404_and_leave_no_error_in_the_log() {
    let (_site, daemon) = started(|_| {});
    let long = "n".repeat(300);
    let paths = [
        "/feeds/en/atom.xml/x.xml".to_owned(),
        "/feeds/en/atom.xml/".to_owned(),
        "/feeds/index.opml/en/atom.xml".to_owned(),
        format!("/feeds/en/{long}.xml"),
        format!("/feeds/{long}/atom.xml"),
        format!("/feeds/en/{}/atom.xml", vec!["n".repeat(250); 20].join("/")),
        format!("/en/articles/{long}/"),
        format!("/en/sectors/{long}/"),
        format!("/{long}/"),
        format!("/{long}"),
    ];
    for path in &paths {
        let r = daemon.send(&get(path));
        assert_eq!(r.status, 404, "{path}: {}", r.text());
    }
    assert_eq!(daemon.send(&get("/feeds/en/atom.xml")).status, 200, "the server goes on");
    let log = daemon.log();
    let loud: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .filter(|l| l.contains("atom.xml/") || l.contains("index.opml/") || l.contains("nnnnnnnnnn"))
        .collect();
    assert!(loud.is_empty(), "a client wrote into the log above debug:\n{}", loud.join("\n"));
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn an_operations_port_in_use_fails_the_start_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = taken.local_addr().expect("address").to_string();
    let (site, _port) = served_site("file://outbox", |config| {
        table(config, "http").insert("ops_listen".into(), address.clone().into());
    });
    let run = site.run(["run"].map(std::ffi::OsStr::new));
    assert_ne!(run.code, Some(0), "{run}");
    assert!(run.stderr.contains(&format!("cannot listen on {address} (http.ops_listen)")), "{run}");
}

#[test]
fn ops_listen_public_serves_health_and_metrics_on_the_public_port() {
    let (_site, daemon) = started(|config| {
        table(config, "http").insert("ops_listen".into(), "public".into());
    });
    assert_eq!(daemon.ops_port, daemon.port);
    assert_eq!(daemon.send(&get("/healthz")).text(), "ok\n");
    assert_eq!(daemon.send(&get("/metrics")).status, 200);
    assert_eq!(daemon.send(&get("/en/")).status, 200);
}
