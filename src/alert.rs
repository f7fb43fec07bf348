//! What an alert says: the shapes the outbox stores and every notifier renders (a story
//! matching a topic, or a feed's health changing). Plain data, apart from the store that reads
//! them from its rows and the notifiers that render them, so the config (which compiles
//! templates over them) needs neither.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::feed_state::HealthEvent;

/// One pending outbox row, with everything a notifier needs to render it.
#[derive(Debug, Clone)]
pub struct AlertContext {
    pub id: i64,
    pub uid: String,
    pub notifier: String,
    pub attempts: u32,
    pub created: DateTime<Utc>,
    /// Waiting because the notifier's `max_per_hour` was reached.
    pub held: bool,
    pub event: AlertEvent,
}

#[derive(Debug, Clone)]
pub enum AlertEvent {
    Match(TopicMatch),
    Feed(FeedEvent),
}

impl AlertContext {
    pub fn topic_match(&self) -> Option<&TopicMatch> {
        match &self.event {
            AlertEvent::Match(m) => Some(m),
            AlertEvent::Feed(_) => None,
        }
    }

    /// `topic.match`, `feed.failing`, ...
    pub fn event_name(&self) -> &'static str {
        match &self.event {
            AlertEvent::Match(_) => "topic.match",
            AlertEvent::Feed(f) => f.kind.as_str(),
        }
    }
}

/// A story matching a topic.
#[derive(Debug, Clone, Serialize)]
pub struct TopicMatch {
    pub topic: String,
    pub matched_terms: Vec<String>,
    pub story: StoryInfo,
    pub item: ItemInfo,
}

/// A feed that started failing, is gone, or works again.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    pub kind: HealthEvent,
    pub feed: FeedInfo,
}

/// The feed's state a health event reports, as the webhook body's `feed`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeedInfo {
    pub name: String,
    pub url: String,
    pub error: Option<String>,
    pub consecutive_errors: u32,
    pub http_status: Option<u16>,
    /// The last successful poll, if any.
    pub last_ok: Option<String>,
    /// When the poll that caused the event ran.
    pub at: String,
}

/// A feed-health event to queue for one notifier, decided by the poll.
#[derive(Debug, Clone)]
pub struct FeedEventAlert {
    pub uid: String,
    pub notifier: String,
    pub kind: HealthEvent,
    pub feed: FeedInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoryInfo {
    pub id: i64,
    pub title: String,
    pub first_seen: String,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Source {
    pub feed: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemInfo {
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<String>,
    pub author: Option<String>,
    pub summary: String,
    pub categories: Vec<String>,
}
