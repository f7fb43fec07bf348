//! The `matrix` notifier: `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}`
//! with the message id as txnId, so the homeserver drops a resend; plain `body` plus
//! `org.matrix.custom.html`. A 429's `retry_after_ms` is honoured.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use url::Url;

use super::format;
use super::render;
use super::template::Templates;
use super::{Delivery, Message, Notifier, http};
use crate::config::MatrixConfig;

pub struct Matrix {
    config: MatrixConfig,
    templates: Templates,
    http: reqwest::Client,
}

impl Matrix {
    pub fn new(config: MatrixConfig, templates: Templates, http: reqwest::Client) -> Self {
        Self {
            config,
            templates,
            http,
        }
    }
}

/// The send URL; every part is one path segment, percent-encoded as needed.
pub fn send_url(base: &Url, room: &str, txn: &str) -> Url {
    let mut url = base.clone();
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty().extend([
            "_matrix",
            "client",
            "v3",
            "rooms",
            room,
            "send",
            "m.room.message",
            txn,
        ]);
    }
    url
}

fn retry_after(v: &Value) -> Option<Duration> {
    v.get("retry_after_ms")
        .and_then(Value::as_u64)
        .map(|ms| Duration::from_millis(ms.min(86_400_000)))
}

impl Notifier for Matrix {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let doc = render::doc(msg, &self.templates);
            let body = json!({
                "msgtype": "m.text",
                "body": format!("{}\n\n{}", doc.title, format::plain(&doc)),
                "format": "org.matrix.custom.html",
                "formatted_body": format::html(&doc),
            });
            let url = send_url(&self.config.url, &self.config.room, &msg.id);
            let req = self
                .http
                .put(url)
                .bearer_auth(self.config.token.expose())
                .header("Idempotency-Key", &msg.id)
                .json(&body);
            http::exchange("matrix", &self.config.url, req, retry_after).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_id_is_one_encoded_segment() {
        let base = Url::parse("https://matrix.example.org/").unwrap();
        let u = send_url(&base, "!abc/def:example.org", "0123abcd");
        assert_eq!(
            u.path(),
            "/_matrix/client/v3/rooms/!abc%2Fdef:example.org/send/m.room.message/0123abcd"
        );
        assert_eq!(
            retry_after(&json!({"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2000})),
            Some(Duration::from_secs(2))
        );
    }
}
