//! The `discord` notifier: a Discord webhook with one embed (title, link, description in
//! Discord markdown, alert id in the footer). Mentions are disabled, so feed text cannot ping
//! anyone; a 429's `retry_after` (seconds, in the body) is honoured.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use url::Url;

use super::format;
use super::render::{self, Doc};
use super::template::Templates;
use super::{Delivery, Message, Notifier, http};

const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4000;

pub struct Discord {
    url: Url,
    templates: Templates,
    http: reqwest::Client,
}

impl Discord {
    pub fn new(url: Url, templates: Templates, http: reqwest::Client) -> Self {
        Self {
            url,
            templates,
            http,
        }
    }
}

fn description(doc: &Doc) -> String {
    let mut parts: Vec<String> = doc.sections.iter().map(format::discord_section).collect();
    parts.extend(
        doc.notes
            .iter()
            .map(|n| format!("*{}*", format::discord_escape(n))),
    );
    parts.join("\n\n")
}

pub fn body(doc: &Doc) -> Value {
    let mut embed = json!({
        "title": format::truncate(&doc.title, TITLE_MAX),
        "description": format::fit(doc, DESCRIPTION_MAX, description),
        "footer": {"text": format::truncate(&doc.footer, 2000)},
    });
    if let Some(link) = &doc.link {
        embed["url"] = json!(link);
    }
    json!({
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

/// Discord's 429 body: `{"retry_after": 1.5, "global": false}` (seconds).
fn retry_after(v: &Value) -> Option<Duration> {
    v.get("retry_after")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

impl Notifier for Discord {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let doc = render::doc(msg, &self.templates);
            let req = self
                .http
                .post(self.url.clone())
                .header("Idempotency-Key", &msg.id)
                .json(&body(&doc));
            http::exchange("discord", &self.url, req, retry_after).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds() {
        let v: Value = serde_json::from_str(
            r#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#,
        )
        .unwrap();
        assert_eq!(retry_after(&v), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&json!({"retry_after": -1})), None);
    }
}
