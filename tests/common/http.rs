//! A scripted HTTP/1.1 server on 127.0.0.1 for delivery tests: it answers each request with the
//! next status of its script (then 200) and records every request.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Scripted {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Scripted {
    /// Answers with `script[i]` (status, extra headers, body) for request `i`, then `200`.
    pub fn start(script: Vec<(u16, &'static str, &'static str)>) -> Scripted {
        Scripted::start_with_delay(script, Duration::ZERO)
    }

    /// [`Scripted::start`], answering each request `delay` after it was received (and recorded):
    /// a sender killed meanwhile never learns that it arrived.
    pub fn start_with_delay(
        script: Vec<(u16, &'static str, &'static str)>,
        delay: Duration,
    ) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                let mut headers = Vec::new();
                let mut len = 0usize;
                let mut complete = false;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 {
                        break;
                    }
                    if h == "\r\n" {
                        complete = true;
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        headers.push((k.to_owned(), v.trim().to_owned()));
                    }
                }
                let mut body = vec![0u8; len];
                // A sender that died half-way did not deliver anything.
                if !complete || reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let (status, extra, text) = script.get(i).copied().unwrap_or((
                    200,
                    "",
                    "{\"text\":\"Success\",\"code\":0}",
                ));
                log.lock().unwrap().push(Request {
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    status,
                });
                std::thread::sleep(delay);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{text}",
                    text.len()
                );
            }
        });
        Scripted { url, requests }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// `GET url` with a bearer token over HTTP/1.0 (127.0.0.1 only, 10 s timeout): status and body.
pub fn get(url: &str, token: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (addr, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
