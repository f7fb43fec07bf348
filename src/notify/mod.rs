//! Where alerts leave: the [`Dispatcher`] drains the outbox and hands each message to its
//! notifier (one [`Notifier`] per kind, one file each), then records the attempt.
//!
//! Delivery is at least once: an alert is marked sent only after its notifier succeeded, so a
//! crash between the two sends it again, with the same id for the receiver to drop. Digests
//! and rate limits only move `next_attempt` of rows that stay pending, so a crash loses
//! nothing there either. The decisions (digest ticks, rate-limit slots, backoff, grouping)
//! are pure, in `plan.rs`.

mod discord;
mod dispatcher;
mod email;
mod exec;
pub mod format;
mod http;
mod lock;
mod log;
mod matrix;
mod ntfy;
pub mod plan;
pub mod render;
mod slack;
mod telegram;
pub mod template;
mod webhook;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use crate::config::{NotifierConfig, NotifierKind};
use crate::store::AlertContext;

pub use dispatcher::{Dispatcher, PreparedNotifiers};
pub use lock::{DeliveryLock, Holder, Role};
pub use plan::retry_time;
pub use webhook::{payload as webhook_payload, signature};

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Sent,
    /// Worth trying again (network error, 408, 429, 5xx), not before `not_before` if given.
    Retry {
        error: String,
        not_before: Option<DateTime<Utc>>,
    },
    /// Retrying cannot help (another 4xx, or a notifier that no longer exists).
    Permanent {
        error: String,
    },
}

/// Alerts handled in one pass, for `poll`'s summary and the logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassStats {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Waiting for a digest's tick or a rate limit's next slot.
    pub waiting: usize,
}

impl std::ops::AddAssign for PassStats {
    fn add_assign(&mut self, o: Self) {
        self.sent += o.sent;
        self.retrying += o.retrying;
        self.failed += o.failed;
        self.waiting += o.waiting;
    }
}

/// One message to one notifier: an alert, a feed-health event, or a digest of alerts.
#[derive(Debug, Clone)]
pub struct Message {
    /// The id receivers see (`Idempotency-Key`, the webhook body's `id`, Matrix's txnId, the
    /// email's Message-ID): the alert's uid, or for a digest one derived from its alerts'.
    pub id: String,
    pub content: Content,
    /// Alerts of this notifier that its rate limit held back and that were still undelivered
    /// when this message left (0 when none).
    pub held_back: usize,
    pub max_per_hour: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum Content {
    Alert(Box<AlertContext>),
    /// A digest's alerts of one topic.
    Digest {
        topic: String,
        alerts: Vec<AlertContext>,
    },
}

impl Message {
    pub fn alerts(&self) -> &[AlertContext] {
        match &self.content {
            Content::Alert(a) => std::slice::from_ref(a.as_ref()),
            Content::Digest { alerts, .. } => alerts,
        }
    }
}

/// A notifier kind: sends one message, and says what became of it. Never panics and never
/// logs a secret; an error message names the receiver by scheme, host and port at most.
pub trait Notifier: Send + Sync {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery>;
}

/// The notifier for `cfg`. `http` is shared by every HTTP kind (no redirects followed).
pub fn build(
    cfg: &NotifierConfig,
    http: &reqwest::Client,
    timeout: std::time::Duration,
) -> anyhow::Result<Box<dyn Notifier>> {
    let t = cfg.templates.clone();
    Ok(match &cfg.kind {
        NotifierKind::Log => Box::new(log::Log::new(&cfg.name, t)),
        NotifierKind::Webhook(c) => Box::new(webhook::Webhook::new(c.clone(), t, http.clone())),
        NotifierKind::Ntfy(c) => Box::new(ntfy::Ntfy::new(c.clone(), t, http.clone())),
        NotifierKind::Email(c) => Box::new(email::Email::new(c, t, timeout)?),
        NotifierKind::Slack { url } => Box::new(slack::Slack::new(url.clone(), t, http.clone())),
        NotifierKind::Discord { url } => {
            Box::new(discord::Discord::new(url.clone(), t, http.clone()))
        }
        NotifierKind::Matrix(c) => Box::new(matrix::Matrix::new(c.clone(), t, http.clone())),
        NotifierKind::Telegram(c) => Box::new(telegram::Telegram::new(c.clone(), t, http.clone())),
        NotifierKind::Exec(c) => Box::new(exec::Exec::new(&cfg.name, c.clone(), t)),
    })
}
