//! The `log` notifier: one structured log line per message, target `feedwatch::alert`
//! (journald keeps it). Delivered only if the line is written: when the log filter drops the
//! target at info, the line goes out at warn; when it drops that too, the alert fails with a
//! message saying how to let it through, instead of counting as sent.

use futures_util::future::BoxFuture;
use tracing::Level;

use super::format;
use super::render::{self, Doc};
use super::template::Templates;
use super::{Delivery, Message, Notifier};

pub struct Log {
    name: String,
    templates: Templates,
}

impl Log {
    pub fn new(name: &str, templates: Templates) -> Self {
        Self {
            name: name.to_string(),
            templates,
        }
    }
}

impl Notifier for Log {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move { write(&self.name, msg, &render::doc(msg, &self.templates)) })
    }
}

fn write(notifier: &str, msg: &Message, doc: &Doc) -> Delivery {
    let event = msg.alerts().first().map(|a| a.event_name()).unwrap_or("");
    let sources: Vec<String> = doc
        .sections
        .iter()
        .flat_map(|s| s.sources.iter().map(|src| src.feed.clone()))
        .collect();
    let url = doc.link.as_deref().unwrap_or("");
    // One line: feed text must not be able to forge log lines.
    let text = crate::text::one_line(&format::plain(doc));
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                target: "feedwatch::alert",
                $level,
                alert = %msg.id,
                notifier,
                event,
                alerts = msg.alerts().len(),
                title = %doc.title,
                url,
                sources = %sources.join(", "),
                text = %text,
                "alert"
            )
        };
    }
    if tracing::enabled!(target: "feedwatch::alert", Level::INFO) {
        line!(Level::INFO);
    } else if tracing::enabled!(target: "feedwatch::alert", Level::WARN) {
        line!(Level::WARN);
    } else {
        return Delivery::Permanent {
            error: "the log filter drops `feedwatch::alert` lines, so a log alert cannot be written; add `feedwatch::alert=info` to RUST_LOG".to_string(),
        };
    }
    Delivery::Sent
}
