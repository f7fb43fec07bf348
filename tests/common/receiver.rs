//! A recording receiver for the notifier tests: a wiremock server on 127.0.0.1 whose answers
//! follow a script (or chance), and which keeps every request with the time it arrived.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

/// What the receiver answers to the n-th request (from 0): a status and the response (see
/// [`answer`]).
pub type Script = Arc<dyn Fn(usize) -> (u16, ResponseTemplate) + Send + Sync>;

/// A plain answer with `status`.
pub fn answer(status: u16) -> (u16, ResponseTemplate) {
    (status, ResponseTemplate::new(status))
}

#[derive(Clone)]
pub struct Recorder {
    pub log: Arc<Mutex<Vec<(Instant, Request, u16)>>>,
    script: Script,
}

impl Respond for Recorder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut log = self.log.lock().unwrap();
        let (status, answer) = (self.script)(log.len());
        log.push((Instant::now(), request.clone(), status));
        answer
    }
}

/// A server answering every request by `script`.
pub async fn receiver(
    script: impl Fn(usize) -> (u16, ResponseTemplate) + Send + Sync + 'static,
) -> (MockServer, Recorder) {
    let server = MockServer::start().await;
    let rec = Recorder {
        log: Arc::default(),
        script: Arc::new(script),
    };
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(rec.clone())
        .mount(&server)
        .await;
    (server, rec)
}

impl Recorder {
    pub fn requests(&self) -> Vec<(Instant, Request, u16)> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Bodies of the requests that were answered 2xx, as JSON.
    pub fn delivered(&self) -> Vec<(Request, Value)> {
        self.requests()
            .into_iter()
            .filter(|(_, _, s)| (200..300).contains(s))
            .map(|(_, r, _)| {
                let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                (r, v)
            })
            .collect()
    }
}

pub fn header(r: &Request, name: &str) -> String {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A small deterministic generator for chance in tests (xorshift).
pub struct Chance(u64);

impl Chance {
    pub fn seeded() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(42);
        Self(seed | 1)
    }

    pub fn from_seed(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

const WORDS: &[&str] = &[
    "harbour",
    "grain",
    "cabinet",
    "tariff",
    "pipeline",
    "summit",
    "railway",
    "drought",
    "vaccine",
    "election",
    "satellite",
    "currency",
    "refinery",
    "glacier",
    "festival",
    "court",
    "border",
    "shipyard",
    "orchestra",
    "wildfire",
    "copper",
    "treaty",
    "airport",
    "reservoir",
    "museum",
    "strike",
    "budget",
    "reactor",
    "monsoon",
    "fishery",
    "parliament",
    "bridge",
    "telescope",
    "vineyard",
    "uranium",
    "ferry",
    "cathedral",
    "census",
    "quarry",
    "locust",
    "lottery",
    "canal",
    "embassy",
    "tunnel",
    "harvest",
    "pension",
    "stadium",
    "volcano",
    "cotton",
    "archive",
];

/// An RSS document with `n` different stories, each mentioning China and Russia, so each is
/// its own story and each matches the test topic.
pub fn rss_stories(n: usize) -> String {
    let mut items = String::new();
    for i in 0..n {
        let w = |k: usize| WORDS[(i * 7 + k * 13 + i / WORDS.len()) % WORDS.len()];
        let title = format!("China and Russia discuss {} {} (report {i})", w(0), w(1));
        let text = format!(
            "Item {i}: officials from Beijing and Moscow met over the {} of the {} near the {}; a {} and a {} were also on the agenda, with the {} {i} to follow.",
            w(2),
            w(3),
            w(4),
            w(5),
            w(6),
            w(7)
        );
        items.push_str(&format!(
            "<item><title>{title}</title><link>https://news.example/{i}/{}</link><guid isPermaLink=\"false\">story-{i}</guid><description>{text}</description></item>\n",
            w(8)
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title><link>https://news.example/</link><description>d</description>
{items}</channel></rss>"#
    )
}
