//! Where alerts leave: the dispatcher drains the outbox and hands each alert to its notifier
//! (one file per kind), then records the attempt.
//!
//! Delivery is at least once: an alert is marked sent only after its notifier succeeded, so a
//! crash between the two sends it again, with the same id for the receiver to drop.

mod log;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, NotifierKind};
use crate::store::{AlertContext, Store, WriteOp, outbox};

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

impl std::ops::AddAssign for PassStats {
    fn add_assign(&mut self, o: Self) {
        self.sent += o.sent;
        self.retrying += o.retrying;
        self.failed += o.failed;
    }
}

/// Only one process delivers from a database at a time, or two could send the same alert
/// (the `log` notifier has no idempotency key to save the receiver). The daemon holds this
/// lock for its lifetime; `feedwatch poll` delivers only when it can take it. An advisory file
/// lock beside the database: the kernel releases it when the process dies, however it dies.
pub struct DeliveryLock {
    _file: std::fs::File,
}

impl DeliveryLock {
    /// `Ok(None)` when another process holds it.
    pub fn try_acquire(database: &std::path::Path) -> anyhow::Result<Option<Self>> {
        use anyhow::Context;
        let mut path = database.as_os_str().to_owned();
        path.push(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| {
                format!(
                    "opening lock file {}",
                    std::path::Path::new(&path).display()
                )
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", std::path::Path::new(&path).display()))
            }
        }
    }
}

pub struct Dispatcher {
    store: Arc<Store>,
    config: Arc<Config>,
    http: reqwest::Client,
    /// Alerts delivered whose `sent` mark could not be written (a locked database): never
    /// sent again by this process, and written as soon as the database lets us.
    unrecorded: std::sync::Mutex<Vec<(i64, DateTime<Utc>)>>,
}

const BATCH: usize = 100;
/// How soon delivery marks that could not be written are tried again.
const UNRECORDED_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(6 * 3600);

impl Dispatcher {
    pub fn new(store: Arc<Store>, config: Arc<Config>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(&config.daemon.user_agent)
            .timeout(config.daemon.timeout)
            .connect_timeout(config.daemon.connect_timeout)
            // A redirected POST would become a GET without the body (and carry our headers to
            // another host): a redirect is a failure to report, not to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("building the notifier HTTP client: {e}"))?;
        Ok(Self {
            store,
            config,
            http,
            unrecorded: Default::default(),
        })
    }

    /// Deliver every alert due now, once each: one queue per notifier, side by side, so a slow
    /// receiver delays only its own alerts. On `stop`, sends in progress are abandoned: their
    /// alerts stay pending and go out again later, with the same id.
    pub async fn deliver_due(&self, stop: &CancellationToken) -> anyhow::Result<PassStats> {
        self.write_unrecorded().await?;
        let mut stats = PassStats::default();
        loop {
            let now = Utc::now();
            let due = self
                .store
                .read_async(move |c| outbox::due_alerts(c, now, BATCH))
                .await?;
            let n = due.len();
            let mut queues: BTreeMap<String, Vec<AlertContext>> = BTreeMap::new();
            for alert in due {
                queues
                    .entry(alert.notifier.clone())
                    .or_default()
                    .push(alert);
            }
            let passes = futures_util::future::join_all(
                queues.into_values().map(|q| self.deliver_queue(q, stop)),
            )
            .await;
            for pass in passes {
                stats += pass?;
            }
            if n < BATCH || stop.is_cancelled() || !self.unrecorded_is_empty() {
                return Ok(stats);
            }
        }
    }

    async fn deliver_queue(
        &self,
        alerts: Vec<AlertContext>,
        stop: &CancellationToken,
    ) -> anyhow::Result<PassStats> {
        let mut stats = PassStats::default();
        for alert in alerts {
            let outcome = tokio::select! {
                _ = stop.cancelled() => break,
                outcome = self.deliver(&alert) => outcome,
            };
            self.record(&alert, outcome, &mut stats).await?;
        }
        Ok(stats)
    }

    fn unrecorded_is_empty(&self) -> bool {
        self.unrecorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }

    /// Write the `sent` marks that failed earlier; until they are written, no delivery pass runs
    /// (it could pick those alerts up again).
    async fn write_unrecorded(&self) -> anyhow::Result<()> {
        let pending: Vec<(i64, DateTime<Utc>)> = std::mem::take(
            &mut *self
                .unrecorded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if pending.is_empty() {
            return Ok(());
        }
        let mut result = Ok(());
        for (id, at) in &pending {
            result = self.mark_sent(*id, *at).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_err() {
            self.unrecorded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(pending);
        }
        result.context("recording alerts already delivered")
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
                stats.sent += 1;
                match self.mark_sent(id, now).await {
                    Ok(()) => {
                        tracing::info!(alert = %alert.uid, topic = %alert.topic, notifier = %alert.notifier, attempts, "alert delivered");
                    }
                    Err(e) => {
                        tracing::error!(alert = %alert.uid, notifier = %alert.notifier, error = %format!("{e:#}"),
                            "alert delivered, but recording it failed; it will not be sent again by this process");
                        self.unrecorded
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((id, now));
                    }
                }
                Ok(())
            }
            Delivery::Retry { error, not_before }
                if attempts < self.config.daemon.alert_attempts =>
            {
                let retry_at =
                    retry_time(self.config.daemon.alert_backoff, attempts, now, not_before);
                tracing::warn!(alert = %alert.uid, notifier = %alert.notifier, attempts, %error, retry_at = %retry_at.to_rfc3339(), "alert delivery failed; will retry");
                stats.retrying += 1;
                self.store
                    .writer()
                    .call(WriteOp::AlertFailed {
                        id,
                        error,
                        retry_at: Some(retry_at),
                    })
                    .await
                    .map(drop)
            }
            Delivery::Retry { error, .. } | Delivery::Permanent { error } => {
                tracing::error!(alert = %alert.uid, notifier = %alert.notifier, attempts, %error, "alert delivery failed for good (feedwatch alerts retry requeues it)");
                stats.failed += 1;
                self.store
                    .writer()
                    .call(WriteOp::AlertFailed {
                        id,
                        error,
                        retry_at: None,
                    })
                    .await
                    .map(drop)
            }
        }
    }

    async fn mark_sent(&self, id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.store
            .writer()
            .call(WriteOp::AlertSent { id, at })
            .await
            .map(drop)
    }

    /// Deliver until shutdown. Sleeps until woken (`wake`: an ingest queued alerts, or another
    /// process asked through the control socket) or until the next retry is due; an idle
    /// daemon with nothing pending does not wake at all.
    pub async fn run(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.deliver_due(&shutdown).await {
                tracing::error!(error = %format!("{e:#}"), "alert dispatcher; trying again in 5 s");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(UNRECORDED_RETRY) => continue,
                }
            }
            let next = match self.store.read_async(outbox::next_due).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "alert dispatcher: reading the outbox");
                    Some(
                        Utc::now()
                            + chrono::Duration::from_std(UNRECORDED_RETRY).unwrap_or_default(),
                    )
                }
            };
            let mut wait = next.map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO));
            if !self.unrecorded_is_empty() {
                wait = Some(wait.map_or(UNRECORDED_RETRY, |w| w.min(UNRECORDED_RETRY)));
            }
            let sleep = async {
                match wait {
                    Some(w) => tokio::time::sleep(w.max(Duration::from_millis(20))).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wake.notified() => {}
                _ = sleep => {}
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
