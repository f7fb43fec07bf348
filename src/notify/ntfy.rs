//! The `ntfy` notifier: ntfy's JSON publish API (POST to the server's root with `topic`,
//! `title`, `message`, `tags`, `priority`, and `click` = the story's link), with a bearer
//! token or basic auth.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::format;
use super::render;
use super::template::Templates;
use super::{Delivery, Message, Notifier, http};
use crate::config::{HttpAuth, NtfyConfig};

/// ntfy turns longer messages into attachments.
const MESSAGE_MAX: usize = 3800;

pub struct Ntfy {
    config: NtfyConfig,
    templates: Templates,
    http: reqwest::Client,
}

impl Ntfy {
    pub fn new(config: NtfyConfig, templates: Templates, http: reqwest::Client) -> Self {
        Self {
            config,
            templates,
            http,
        }
    }

    pub fn body(&self, msg: &Message) -> Value {
        let doc = render::doc(msg, &self.templates);
        let mut v = json!({
            "topic": self.config.topic,
            "title": format::truncate(&doc.title, 250),
            "message": format::fit(&doc, MESSAGE_MAX, format::plain),
        });
        if !self.config.tags.is_empty() {
            v["tags"] = json!(self.config.tags);
        }
        if let Some(p) = self.config.priority {
            v["priority"] = json!(p);
        }
        if let Some(link) = &doc.link {
            v["click"] = json!(link);
        }
        v
    }
}

impl Notifier for Ntfy {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let url = &self.config.url;
            let mut req = self
                .http
                .post(url.clone())
                .header("Idempotency-Key", &msg.id)
                .json(&self.body(msg));
            req = match &self.config.auth {
                Some(HttpAuth::Bearer(t)) => req.bearer_auth(t.expose()),
                Some(HttpAuth::Basic { username, password }) => {
                    req.basic_auth(username, Some(password.expose()))
                }
                None => req,
            };
            http::exchange("ntfy", url, req, http::no_hint).await
        })
    }
}
