//! Where alerts leave: the dispatcher drains the outbox and hands each alert to its notifier
//! (one file per kind), then records the attempt.
//!
//! Delivery is at least once: an alert is marked sent only after its notifier succeeded, so a
//! crash between the two sends it again, with the same id for the receiver to drop.

mod log;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, NotifierKind};
use crate::store::{AlertContext, Store, outbox};

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
}

pub struct Dispatcher {
    store: Arc<Store>,
    config: Arc<Config>,
    http: reqwest::Client,
}

const BATCH: usize = 100;
const MAX_RETRY_DELAY: Duration = Duration::from_secs(6 * 3600);

impl Dispatcher {
    pub fn new(store: Arc<Store>, config: Arc<Config>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(&config.daemon.user_agent)
            .timeout(config.daemon.timeout)
            .connect_timeout(config.daemon.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| anyhow::anyhow!("building the notifier HTTP client: {e}"))?;
        Ok(Self {
            store,
            config,
            http,
        })
    }

    /// Deliver every alert due now, once each.
    pub async fn deliver_due(&self) -> anyhow::Result<PassStats> {
        let mut stats = PassStats::default();
        loop {
            let now = Utc::now();
            let due = self
                .store
                .run(move |c| outbox::due_alerts(c, now, BATCH))
                .await?;
            let n = due.len();
            for alert in due {
                let outcome = self.deliver(&alert).await;
                self.record(&alert, outcome, &mut stats).await?;
            }
            if n < BATCH {
                return Ok(stats);
            }
        }
    }

    async fn deliver(&self, alert: &AlertContext) -> Delivery {
        let Some(notifier) = self.config.notifier(&alert.notifier) else {
            return Delivery::Permanent {
                error: format!("notifier `{}` is no longer configured", alert.notifier),
            };
        };
        match &notifier.kind {
            NotifierKind::Log => log::send(alert),
            NotifierKind::Webhook {
                url,
                secret,
                headers,
            } => webhook::send(&self.http, url, secret.as_ref(), headers, alert).await,
        }
    }

    async fn record(
        &self,
        alert: &AlertContext,
        outcome: Delivery,
        stats: &mut PassStats,
    ) -> anyhow::Result<()> {
        let id = alert.id;
        let now = Utc::now();
        let attempts = alert.attempts + 1;
        match outcome {
            Delivery::Sent => {
                tracing::info!(alert = %alert.uid, topic = %alert.topic, notifier = %alert.notifier, attempts, "alert delivered");
                stats.sent += 1;
                self.store.run(move |c| outbox::mark_sent(c, id, now)).await
            }
            Delivery::Retry { error, not_before }
                if attempts < self.config.daemon.alert_attempts =>
            {
                let retry_at =
                    retry_time(self.config.daemon.alert_backoff, attempts, now, not_before);
                tracing::warn!(alert = %alert.uid, notifier = %alert.notifier, attempts, %error, retry_at = %retry_at.to_rfc3339(), "alert delivery failed; will retry");
                stats.retrying += 1;
                self.store
                    .run(move |c| outbox::mark_attempt_failed(c, id, &error, Some(retry_at)))
                    .await
            }
            Delivery::Retry { error, .. } | Delivery::Permanent { error } => {
                tracing::error!(alert = %alert.uid, notifier = %alert.notifier, attempts, %error, "alert delivery failed for good (feedwatch alerts retry requeues it)");
                stats.failed += 1;
                self.store
                    .run(move |c| outbox::mark_attempt_failed(c, id, &error, None))
                    .await
            }
        }
    }

    /// Deliver until shutdown: wakes when an ingest queued alerts (`wake`) or a retry is due.
    pub async fn run(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::error!(error = %format!("{e:#}"), "alert dispatcher");
            }
            let next = self.store.run(|c| outbox::next_due(c)).await.ok().flatten();
            let wait = next
                .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600))
                .max(Duration::from_millis(20));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Exponential backoff from `base` (doubling per attempt, capped), never before the
/// receiver's Retry-After.
pub fn retry_time(
    base: Duration,
    attempts: u32,
    now: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let factor = 1u32 << attempts.saturating_sub(1).min(16);
    let delay = base.saturating_mul(factor).min(MAX_RETRY_DELAY);
    let t = now + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::hours(6));
    not_before.map_or(t, |nb| t.max(nb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_honour_retry_after() {
        let now = Utc::now();
        let base = Duration::from_secs(30);
        assert_eq!(
            retry_time(base, 1, now, None),
            now + chrono::Duration::seconds(30)
        );
        assert_eq!(
            retry_time(base, 3, now, None),
            now + chrono::Duration::seconds(120)
        );
        assert_eq!(
            retry_time(base, 30, now, None),
            now + chrono::Duration::hours(6)
        );
        let later = now + chrono::Duration::hours(1);
        assert_eq!(retry_time(base, 1, now, Some(later)), later);
    }
}
