//! A WebSub subscriber for the hub tests: a real HTTP/1.1 server on loopback in the test
//! process that answers verification requests (echoing the challenge, or a wrong one when
//! told to), records every request, and answers content deliveries with a chosen status.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the subscriber received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `GET` or `POST`.
    pub method: String,
    /// The query, decoded.
    pub query: HashMap<String, String>,
    /// Headers, names lowercased.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

/// The running subscriber; it stops with the test process.
#[derive(Clone)]
pub struct Subscriber {
    /// Its port on 127.0.0.1.
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    /// Echo a wrong challenge.
    pub is_lying: Arc<AtomicBool>,
    /// The status content deliveries get.
    pub post_status: Arc<AtomicU16>,
}

impl Subscriber {
    /// Starts one on a free loopback port.
    pub fn start() -> Subscriber {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let s = Subscriber {
            port,
            received: Arc::default(),
            is_lying: Arc::default(),
            post_status: Arc::new(AtomicU16::new(200)),
        };
        let server = s.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        s
    }

    /// The callback URL for `path`.
    pub fn callback(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// The requests with `method` so far.
    pub fn of(&self, method: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.method == method).collect()
    }

    /// Waits up to `limit` until `count` requests with `method` arrived; returns them.
    pub fn wait_for(&self, method: &str, count: usize, limit: Duration) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.of(method);
            if got.len() >= count {
                return got;
            }
            assert!(started.elapsed() < limit, "{count} {method} requests not received within {limit:?}: {got:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn serve(&self, stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let query: HashMap<String, String> = match target.split_once('?') {
            Some((_, q)) => url::form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
            None => HashMap::new(),
        };
        let (status, answer) = if method == "GET" {
            match query.get("hub.challenge") {
                Some(c) if self.is_lying.load(Ordering::SeqCst) => (200, format!("{c}-not")),
                Some(c) => (200, c.clone()),
                None => (200, String::new()),
            }
        } else {
            (self.post_status.load(Ordering::SeqCst), String::new())
        };
        self.received.lock().expect("lock").push(Received { method, query, headers, body });
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        );
        let _ = stream.flush();
    }
}
