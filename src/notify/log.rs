//! The `log` notifier: one structured log line per alert (journald keeps it).

use super::Delivery;
use crate::store::AlertContext;

pub fn send(alert: &AlertContext) -> Delivery {
    let sources: Vec<&str> = alert
        .story
        .sources
        .iter()
        .map(|s| s.feed.as_str())
        .collect();
    tracing::info!(
        target: "feedwatch::alert",
        alert = %alert.uid,
        topic = %alert.topic,
        story = alert.story.id,
        title = %alert.item.title,
        url = alert.item.url.as_deref().unwrap_or(""),
        matched = %alert.matched_terms.join(", "),
        sources = %sources.join(", "),
        "topic match"
    );
    Delivery::Sent
}
