//! The `webhook` notifier: POST of the DESIGN.md §4 JSON, with `Idempotency-Key` and, when a
//! secret is set, an HMAC-SHA256 signature of the exact body. A digest is
//! `{"event": "topic.digest", "id", "topic", "alerts": [...]}`; a feed-health event is
//! `{"event": "feed.failing", "id", "feed": {...}}`. With templates, each alert also carries
//! the rendered `title` and `body`; `held_back` appears when a rate limit held alerts back.

use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::template::{self, Part, Templates};
use super::{Content, Delivery, Message, Notifier, http};
use crate::config::{Secret, WebhookConfig};
use crate::store::{AlertContext, AlertEvent};

pub struct Webhook {
    config: WebhookConfig,
    templates: Templates,
    http: reqwest::Client,
}

impl Webhook {
    pub fn new(config: WebhookConfig, templates: Templates, http: reqwest::Client) -> Self {
        Self {
            config,
            templates,
            http,
        }
    }
}

/// The JSON of one alert (a topic match or a feed-health event).
fn alert_json(a: &AlertContext, templates: &Templates, held_back: usize) -> Value {
    match &a.event {
        AlertEvent::Match(m) => {
            let mut v = json!({
                "event": "topic.match",
                "id": a.uid,
                "topic": m.topic,
                "matched_terms": m.matched_terms,
                "story": m.story,
                "item": m.item,
            });
            let ctx = template::context(a, m, held_back);
            for (part, key) in [(Part::Title, "title"), (Part::Body, "body")] {
                if let Some(Ok(s)) = templates.render(part, &ctx) {
                    v[key] = Value::from(s);
                }
            }
            v
        }
        AlertEvent::Feed(f) => json!({
            "event": f.kind.as_str(),
            "id": a.uid,
            "feed": f.feed,
        }),
    }
}

/// The body of a message, as webhooks receive it and as `exec` programs read it on stdin.
pub fn payload(msg: &Message, templates: &Templates) -> Value {
    let mut v = match &msg.content {
        Content::Alert(a) => alert_json(a, templates, msg.held_back),
        Content::Digest { topic, alerts } => json!({
            "event": "topic.digest",
            "id": msg.id,
            "topic": topic,
            "alerts": alerts.iter().map(|a| alert_json(a, templates, msg.held_back)).collect::<Vec<_>>(),
        }),
    };
    if msg.held_back > 0 {
        v["held_back"] = Value::from(msg.held_back);
    }
    v
}

pub fn signature(secret: &Secret, body: &[u8]) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Notifier for Webhook {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let body = match serde_json::to_vec(&payload(msg, &self.templates)) {
                Ok(b) => b,
                Err(e) => {
                    return Delivery::Permanent {
                        error: format!("encoding the payload: {e}"),
                    };
                }
            };
            let url = &self.config.url;
            let mut req = self
                .http
                .post(url.clone())
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", &msg.id);
            for (k, v) in &self.config.headers {
                req = req.header(k, v.expose());
            }
            if let Some(secret) = &self.config.secret {
                req = req.header("X-Feedwatch-Signature", signature(secret, &body));
            }
            http::exchange("webhook", url, req.body(body), http::no_hint).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        let s = signature(&Secret::for_tests("Jefe"), b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn digests_nest_the_alerts_in_the_documented_shape() {
        use crate::notify::render::tests::alert;
        let alerts = vec![alert("u1", "A"), alert("u2", "B")];
        let msgs = crate::notify::plan::messages(alerts, true, None);
        let mut msg = msgs[0].clone();
        msg.held_back = 3;
        let v = payload(&msg, &Templates::default());
        assert_eq!(v["event"], "topic.digest");
        assert_eq!(v["topic"], "china-russia");
        assert_eq!(v["id"], msg.id);
        assert_eq!(v["alerts"].as_array().unwrap().len(), 2);
        assert_eq!(v["alerts"][1]["id"], "u2");
        assert_eq!(v["alerts"][1]["event"], "topic.match");
        assert_eq!(v["alerts"][0]["story"]["title"], "A");
        assert_eq!(v["held_back"], 3);
    }
}
