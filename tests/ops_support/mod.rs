//! Helpers for the operations tests (`tests/ops_*.rs`): the systemd notify socket as systemd
//! would hold it, small RSS documents, an HTTP client for the endpoint, database counts.
#![allow(dead_code)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `$NOTIFY_SOCKET`: every datagram the daemon sends, kept in order by a thread.
pub struct NotifySocket {
    pub path: PathBuf,
    messages: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let keep = Arc::clone(&messages);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 8192];
            while let Ok(n) = sock.recv(&mut buf) {
                keep.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        Self {
            path,
            messages,
            _dir: dir,
        }
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Messages from index `from` on, once one of them satisfies `cond` (up to 20 s).
    pub async fn wait_for(&self, from: usize, what: &str, cond: impl Fn(&str) -> bool) -> Vec<String> {
        let start = Instant::now();
        loop {
            let all = self.messages();
            if all.iter().skip(from).any(|m| cond(m)) {
                return all[from..].to_vec();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {what} on the notify socket; got {all:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// An RSS 2.0 document with one item per (guid, title, description).
pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut body = String::new();
    for (guid, title, desc) in items {
        body.push_str(&format!(
            "<item><title>{}</title><link>https://outlet.example/{}</link><guid isPermaLink=\"false\">{}</guid>\
             <pubDate>Tue, 01 Apr 2025 09:30:00 GMT</pubDate><description>{}</description></item>",
            xml(title),
            xml(guid),
            xml(guid),
            xml(desc)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <link>https://outlet.example/</link><description>d</description>{body}</channel></rss>"
    )
}

/// A port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `url`: status and body, or `None` while nothing answers.
pub async fn get(url: &str) -> Option<(u16, String)> {
    let resp = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

/// One number from the database, or -1 while it cannot be read.
pub fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(-1)
}

/// Requests the server got for `route`.
pub async fn gets(s: &wiremock::MockServer, route: &str) -> usize {
    s.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == route)
        .count()
}
