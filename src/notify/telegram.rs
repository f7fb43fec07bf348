//! The `telegram` notifier: the Bot API's `sendMessage` with `chat_id`, HTML parse mode
//! (only the tags Telegram knows, everything else escaped) and link previews for single
//! alerts. A 429's `parameters.retry_after` is honoured. The token is in the URL's path, so
//! messages never show the URL beyond its host.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use url::Url;

use super::format;
use super::render;
use super::template::Templates;
use super::{Content, Delivery, Message, Notifier, http};
use crate::config::TelegramConfig;

/// Telegram's limit is 4096 characters of text after entity parsing.
const TEXT_MAX: usize = 4000;

pub struct Telegram {
    config: TelegramConfig,
    templates: Templates,
    http: reqwest::Client,
}

impl Telegram {
    pub fn new(config: TelegramConfig, templates: Templates, http: reqwest::Client) -> Self {
        Self {
            config,
            templates,
            http,
        }
    }

    fn url(&self) -> Url {
        let mut url = self.config.url.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty()
                .push(&format!("bot{}", self.config.token.expose()))
                .push("sendMessage");
        }
        url
    }
}

fn retry_after(v: &Value) -> Option<Duration> {
    v.pointer("/parameters/retry_after")
        .and_then(Value::as_u64)
        .map(|s| Duration::from_secs(s.min(86_400)))
}

impl Notifier for Telegram {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let doc = render::doc(msg, &self.templates);
            let digest = matches!(msg.content, Content::Digest { .. });
            let body = json!({
                "chat_id": self.config.chat_id,
                "text": format::fit(&doc, TEXT_MAX, format::telegram_html),
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": digest || doc.link.is_none()},
            });
            let req = self
                .http
                .post(self.url())
                .header("Idempotency-Key", &msg.id)
                .json(&body);
            http::exchange("telegram", &self.config.url, req, retry_after).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_comes_from_parameters() {
        let v: Value = serde_json::from_str(r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#).unwrap();
        assert_eq!(retry_after(&v), Some(Duration::from_secs(5)));
    }
}
