//! The `slack` notifier: a Slack incoming webhook, `{"text": mrkdwn}` with link unfurling off
//! (the message already says what the story is).

use futures_util::future::BoxFuture;
use serde_json::json;
use url::Url;

use super::format;
use super::render;
use super::template::Templates;
use super::{Delivery, Message, Notifier, http};

/// Slack truncates `text` past 40,000 characters; stay well inside.
const TEXT_MAX: usize = 35_000;

pub struct Slack {
    url: Url,
    templates: Templates,
    http: reqwest::Client,
}

impl Slack {
    pub fn new(url: Url, templates: Templates, http: reqwest::Client) -> Self {
        Self {
            url,
            templates,
            http,
        }
    }
}

impl Notifier for Slack {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let doc = render::doc(msg, &self.templates);
            let body = json!({
                "text": format::fit(&doc, TEXT_MAX, format::slack_mrkdwn),
                "mrkdwn": true,
                "unfurl_links": false,
                "unfurl_media": false,
            });
            let req = self
                .http
                .post(self.url.clone())
                .header("Idempotency-Key", &msg.id)
                .json(&body);
            http::exchange("slack", &self.url, req, http::no_hint).await
        })
    }
}
