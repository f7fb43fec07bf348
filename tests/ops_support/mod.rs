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
    pub async fn wait_for(
        &self,
        from: usize,
        what: &str,
        cond: impl Fn(&str) -> bool,
    ) -> Vec<String> {
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
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Parse the Prometheus text exposition format (version 0.0.4) strictly: every line is a
/// `# HELP`, a `# TYPE` or a sample; names and labels well-formed; values numbers; every
/// sample's family typed before it (histograms by their `_bucket`, `_sum` and `_count`).
/// Returns the families' types and the samples, or the first bad line.
pub fn parse_prometheus(
    text: &str,
) -> Result<(std::collections::BTreeMap<String, String>, Vec<Sample>), String> {
    let mut types = std::collections::BTreeMap::new();
    let mut samples = Vec::new();
    let is_name = |s: &str| {
        let mut c = s.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
    };
    for (n, line) in text.lines().enumerate() {
        let bad = |why: &str| Err(format!("line {}: {why}: {line:?}", n + 1));
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), Some(_)) if is_name(name) => {}
                (Some("TYPE"), Some(name), Some(t)) if is_name(name) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                        return bad("unknown type");
                    }
                    if types.insert(name.to_string(), t.to_string()).is_some() {
                        return bad("family typed twice");
                    }
                }
                _ => return bad("comment is neither HELP nor TYPE"),
            }
            continue;
        }
        let (head, value) = match line.rfind('}') {
            Some(close) => (&line[..=close], line[close + 1..].trim()),
            None => match line.split_once(' ') {
                Some((h, v)) => (h, v.trim()),
                None => return bad("no value"),
            },
        };
        let value = value.split(' ').next().unwrap_or("");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => match v.parse() {
                Ok(x) => x,
                Err(_) => return bad("value is not a number"),
            },
        };
        let (name, labels) = match head.split_once('{') {
            None => (head, Vec::new()),
            Some((name, rest)) => {
                let Some(body) = rest.strip_suffix('}') else {
                    return bad("labels not closed");
                };
                let mut labels = Vec::new();
                let mut chars = body.chars().peekable();
                while chars.peek().is_some() {
                    let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    if !is_name(&key) || chars.next() != Some('"') {
                        return bad("bad label");
                    }
                    let mut v = String::new();
                    loop {
                        match chars.next() {
                            Some('\\') => match chars.next() {
                                Some('n') => v.push('\n'),
                                Some(c @ ('\\' | '"')) => v.push(c),
                                _ => return bad("bad escape in a label value"),
                            },
                            Some('"') => break,
                            Some(c) => v.push(c),
                            None => return bad("label value not closed"),
                        }
                    }
                    labels.push((key, v));
                    match chars.next() {
                        Some(',') | None => {}
                        Some(_) => return bad("labels not separated by commas"),
                    }
                }
                (name, labels)
            }
        };
        if !is_name(name) {
            return bad("bad metric name");
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s).filter(|f| {
                    types
                        .get(*f)
                        .is_some_and(|t| t == "histogram" || t == "summary")
                })
            })
            .unwrap_or(name);
        if !types.contains_key(family) {
            return bad("sample before its # TYPE");
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok((types, samples))
}

/// The value of `name` with exactly `labels`, if present.
pub fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .map(|s| s.value)
}
