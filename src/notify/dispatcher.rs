//! The dispatcher: drains the outbox, one queue per notifier side by side (a slow or dead
//! receiver delays only its own alerts), and records every attempt through the writer.
//!
//! Per queue: digest alerts whose tick has not come are moved to it; the rest become messages
//! ([`plan::messages`]); a rate limit that is full moves the remaining messages' alerts to its
//! next free slot (marked held, so the next message says how many); a receiver-wide failure
//! (network, 408, 429, 5xx) backs the whole notifier off, so a dead receiver gets one probe
//! per backoff step rather than one attempt per pending alert.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::plan::{self, DIGEST_MAX};
use super::{Delivery, Message, Notifier, PassStats};
use crate::config::{Config, NotifierConfig};
use crate::store::{AlertContext, AlertEvent, Store, WriteOp, outbox};

const BATCH: usize = 100;
/// How soon delivery marks that could not be written are tried again.
const UNRECORDED_RETRY: Duration = Duration::from_secs(5);
/// A rate limit's window.
const RATE_WINDOW: Duration = Duration::from_secs(3600);
/// Tests shorten the rate window with this variable (e.g. "2s"); nothing else reads it.
const RATE_WINDOW_ENV: &str = "FEEDWATCH_TEST_RATE_WINDOW";

pub struct Dispatcher {
    store: Arc<Store>,
    /// The config and the notifiers built from it; replaced whole by a reload, so a pass
    /// that started with one keeps it to its end.
    setup: RwLock<Arc<Setup>>,
    /// Alerts delivered whose `sent` mark could not be written (a locked database): never
    /// sent again by this process, and written as soon as the database lets us.
    unrecorded: Mutex<Vec<(Vec<i64>, DateTime<Utc>)>>,
    /// Failed probes in a row, per notifier backed off as a whole.
    failing: Mutex<HashMap<String, u32>>,
    rate_window: Duration,
}

/// Notifiers built for a new config, ready for [`Dispatcher::reconfigure`].
pub struct PreparedNotifiers(Arc<Setup>);

/// What one config makes of the notifiers.
struct Setup {
    config: Arc<Config>,
    notifiers: HashMap<String, Result<Box<dyn Notifier>, String>>,
}

impl Setup {
    fn new(config: Arc<Config>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(&config.daemon.user_agent)
            .timeout(config.daemon.timeout)
            .connect_timeout(config.daemon.connect_timeout)
            // A redirected POST would become a GET without the body (and carry our headers to
            // another host): a redirect is a failure to report, not to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("building the notifier HTTP client: {e}"))?;
        let notifiers = config
            .notifiers
            .iter()
            .map(|n| {
                let built = super::build(n, &http, config.daemon.timeout)
                    .map_err(|e| format!("notifier `{}` cannot be set up: {e:#}", n.name));
                if let Err(e) = &built {
                    tracing::error!(notifier = %n.name, error = %e, "notifier unusable; its alerts wait");
                }
                (n.name.clone(), built)
            })
            .collect();
        Ok(Self { config, notifiers })
    }
}

impl Dispatcher {
    pub fn new(store: Arc<Store>, config: Arc<Config>) -> anyhow::Result<Self> {
        let setup = Setup::new(config)?;
        let rate_window = match std::env::var(RATE_WINDOW_ENV) {
            Ok(v) => {
                humantime::parse_duration(&v).with_context(|| format!("{RATE_WINDOW_ENV}={v}"))?
            }
            Err(_) => RATE_WINDOW,
        };
        Ok(Self {
            store,
            setup: RwLock::new(Arc::new(setup)),
            unrecorded: Default::default(),
            failing: Default::default(),
            rate_window,
        })
    }

    /// The notifiers of `config`, built (secrets read again) for [`reconfigure`]; an error
    /// leaves the running ones in place.
    ///
    /// [`reconfigure`]: Self::reconfigure
    pub fn prepare(config: Arc<Config>) -> anyhow::Result<PreparedNotifiers> {
        Setup::new(config).map(|s| PreparedNotifiers(Arc::new(s)))
    }

    /// Deliver with `prepared` from the next pass on (a reload). Alerts of a notifier it no
    /// longer has are failed by that pass, with a message saying so; `alerts retry` requeues
    /// them once the notifier is back.
    pub fn reconfigure(&self, prepared: PreparedNotifiers) {
        *self.setup.write().unwrap_or_else(PoisonError::into_inner) = prepared.0;
    }

    fn setup(&self) -> Arc<Setup> {
        Arc::clone(&self.setup.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Deliver every alert due now: one queue per notifier, side by side. On `stop`, sends in
    /// progress are abandoned: their alerts stay pending and go out again later, with the
    /// same id.
    pub async fn deliver_due(&self, stop: &CancellationToken) -> anyhow::Result<PassStats> {
        self.write_unrecorded().await?;
        let mut stats = PassStats::default();
        loop {
            let now = Utc::now();
            let due = self
                .store
                .read_async(move |c| outbox::due_alerts(c, now, BATCH))
                .await?;
            let n = due.alerts.len() + due.unreadable.len();
            self.fail_unreadable(due.unreadable, &mut stats).await?;
            let mut queues: BTreeMap<String, Vec<AlertContext>> = BTreeMap::new();
            for alert in due.alerts {
                queues
                    .entry(alert.notifier.clone())
                    .or_default()
                    .push(alert);
            }
            let passes = futures_util::future::join_all(
                queues
                    .into_iter()
                    .map(|(name, q)| self.deliver_queue(name, q, stop)),
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

    /// Rows this version cannot render fail at once (`alerts` shows why) instead of being
    /// found due on every pass.
    async fn fail_unreadable(
        &self,
        rows: Vec<(i64, String)>,
        stats: &mut PassStats,
    ) -> anyhow::Result<()> {
        for (id, why) in rows {
            tracing::error!(alert = id, error = %why, "alert cannot be read; marked failed");
            stats.failed += 1;
            self.store
                .writer()
                .call(WriteOp::AlertFailed {
                    ids: vec![id],
                    error: format!("this alert cannot be read: {why}"),
                    retry_at: None,
                })
                .await?;
        }
        Ok(())
    }

    /// One notifier's due alerts, in order, until its receiver fails as a whole or its rate
    /// limit is full.
    async fn deliver_queue(
        &self,
        name: String,
        alerts: Vec<AlertContext>,
        stop: &CancellationToken,
    ) -> anyhow::Result<PassStats> {
        let mut stats = PassStats::default();
        let setup = self.setup();
        let Some(cfg) = setup.config.notifier(&name) else {
            let error = format!(
                "notifier `{name}` is not in the config any more; `feedwatch alerts retry` requeues this alert once it is back"
            );
            let all: Vec<&AlertContext> = alerts.iter().collect();
            self.record_failure(&all, &name, error, None, true, &mut stats)
                .await?;
            return Ok(stats);
        };
        let notifier = match setup.notifiers.get(&name) {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                // One probe, as for a receiver that is down.
                let probe: Vec<&AlertContext> = alerts.iter().take(1).collect();
                self.receiver_failed(cfg, &probe, e.clone(), None, &mut stats)
                    .await?;
                return Ok(stats);
            }
            None => return Ok(stats),
        };
        let alerts = self.digest_ready(cfg, alerts, &mut stats).await?;
        let messages = plan::messages(alerts, cfg.digest.is_some(), cfg.max_per_hour);
        let mut limit = match cfg.max_per_hour {
            Some(max) => Some(self.rate_state(&name, max).await?),
            None => None,
        };
        for (i, mut msg) in messages.iter().cloned().enumerate() {
            if let Some(limit) = &mut limit {
                if self
                    .hold_if_full(&name, limit, &messages[i..], &mut stats)
                    .await?
                {
                    break;
                }
                msg.held_back = limit.held;
            }
            let started = std::time::Instant::now();
            let outcome = tokio::select! {
                _ = stop.cancelled() => break,
                outcome = notifier.send(&msg) => outcome,
            };
            crate::metrics::delivery_took(&name, started.elapsed());
            if !self
                .settle(cfg, &msg, outcome, limit.as_mut(), &mut stats)
                .await?
            {
                break;
            }
        }
        Ok(stats)
    }

    /// When the rate limit is full, hold `rest` back until its next free slot: `true` then.
    async fn hold_if_full(
        &self,
        name: &str,
        limit: &RateState,
        rest: &[Message],
        stats: &mut PassStats,
    ) -> anyhow::Result<bool> {
        let Some(slot) = plan::rate_slot(&limit.sent, limit.max, self.rate_window, Utc::now())
        else {
            return Ok(false);
        };
        let ids: Vec<i64> = rest
            .iter()
            .flat_map(|m| m.alerts().iter().map(|a| a.id))
            .collect();
        tracing::info!(notifier = %name, alerts = ids.len(), until = %slot.to_rfc3339(),
            max_per_hour = limit.max, "rate limit reached; holding alerts back");
        stats.waiting += ids.len();
        self.store
            .writer()
            .call(WriteOp::AlertsDeferred {
                ids,
                until: slot,
                held: true,
            })
            .await?;
        Ok(true)
    }

    /// Record what one message came to; `false` when the rest of the queue must wait (the
    /// receiver failed as a whole).
    async fn settle(
        &self,
        cfg: &NotifierConfig,
        msg: &Message,
        outcome: Delivery,
        limit: Option<&mut RateState>,
        stats: &mut PassStats,
    ) -> anyhow::Result<bool> {
        let members: Vec<&AlertContext> = msg.alerts().iter().collect();
        match outcome {
            Delivery::Sent => {
                let now = Utc::now();
                self.failing
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&cfg.name);
                if let Some(limit) = limit {
                    limit.sent.push(now);
                    let held = members.iter().filter(|a| a.held).count();
                    limit.held = limit.held.saturating_sub(held);
                }
                self.record_sent(msg, now, stats).await;
                Ok(true)
            }
            Delivery::Retry { error, not_before } => {
                self.receiver_failed(cfg, &members, error, not_before, stats)
                    .await?;
                Ok(false)
            }
            Delivery::Permanent { error } => {
                self.record_failure(&members, &cfg.name, error, None, true, stats)
                    .await?;
                Ok(true)
            }
        }
    }

    /// A digest notifier's topic matches whose tick has not come are moved to it; when any
    /// are ready, all the notifier's ready alerts are gathered (the batch may hold only some).
    async fn digest_ready(
        &self,
        cfg: &NotifierConfig,
        alerts: Vec<AlertContext>,
        stats: &mut PassStats,
    ) -> anyhow::Result<Vec<AlertContext>> {
        let Some(cron) = &cfg.digest else {
            return Ok(alerts);
        };
        let tz = self.setup().config.daemon.timezone;
        let now = Utc::now();
        let is_ready = |a: &AlertContext| match a.event {
            AlertEvent::Feed(_) => Ok(()),
            AlertEvent::Match(_) => plan::digest_ready(cron, tz, a.created, now),
        };
        let mut later: BTreeMap<DateTime<Utc>, Vec<i64>> = BTreeMap::new();
        let mut any_ready = false;
        for a in &alerts {
            match is_ready(a) {
                Ok(()) => any_ready = true,
                Err(tick) => later.entry(tick).or_default().push(a.id),
            }
        }
        for (tick, ids) in later {
            stats.waiting += ids.len();
            tracing::debug!(notifier = %cfg.name, alerts = ids.len(), tick = %tick.to_rfc3339(), "digest alerts wait for the tick");
            self.store
                .writer()
                .call(WriteOp::AlertsDeferred {
                    ids,
                    until: tick,
                    held: false,
                })
                .await?;
        }
        if !any_ready {
            return Ok(Vec::new());
        }
        let name = cfg.name.clone();
        let all = self
            .store
            .read_async(move |c| outbox::due_for_notifier(c, &name, now, DIGEST_MAX * 4))
            .await?;
        // Unreadable rows are failed by the pass that met them in its batch.
        Ok(all
            .alerts
            .into_iter()
            .filter(|a| is_ready(a).is_ok())
            .collect())
    }

    async fn rate_state(&self, name: &str, max: u32) -> anyhow::Result<RateState> {
        let since = Utc::now() - chrono::Duration::from_std(self.rate_window).unwrap_or_default();
        let n = name.to_string();
        let (sent, held) = self
            .store
            .read_async(move |c| {
                Ok((
                    outbox::sent_since(c, &n, since)?,
                    outbox::held_pending(c, &n)?,
                ))
            })
            .await?;
        Ok(RateState { max, sent, held })
    }

    /// The receiver failed as a whole: this message's alerts are retried later, and none of
    /// the notifier's alerts is tried again before its next backoff step.
    async fn receiver_failed(
        &self,
        cfg: &NotifierConfig,
        members: &[&AlertContext],
        error: String,
        not_before: Option<DateTime<Utc>>,
        stats: &mut PassStats,
    ) -> anyhow::Result<()> {
        let step = {
            let mut f = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
            let s = f.entry(cfg.name.clone()).or_insert(0);
            *s = s.saturating_add(1);
            *s
        };
        let now = Utc::now();
        let until = plan::receiver_backoff(
            self.setup().config.daemon.alert_backoff,
            step,
            now,
            not_before,
        );
        self.record_failure(members, &cfg.name, error.clone(), Some(until), false, stats)
            .await?;
        tracing::warn!(notifier = %cfg.name, failed_probes = step, next_probe = %until.to_rfc3339(), %error, "receiver failing; its alerts wait for the next probe");
        self.store
            .writer()
            .call(WriteOp::NotifierBackoff {
                notifier: cfg.name.clone(),
                until,
            })
            .await
            .map(drop)
    }

    /// Record a failed attempt for `members`: retried (not before `floor`) while they have
    /// attempts left, else failed for good. `permanent` fails them at once.
    async fn record_failure(
        &self,
        members: &[&AlertContext],
        notifier: &str,
        error: String,
        floor: Option<DateTime<Utc>>,
        permanent: bool,
        stats: &mut PassStats,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let daemon = &self.setup().config.daemon;
        let (max, backoff) = (daemon.alert_attempts, daemon.alert_backoff);
        let (retry, give_up): (Vec<&&AlertContext>, Vec<&&AlertContext>) = members
            .iter()
            .partition(|a| !permanent && a.attempts + 1 < max);
        if !retry.is_empty() {
            let attempts = retry.iter().map(|a| a.attempts + 1).max().unwrap_or(1);
            let retry_at = plan::retry_time(backoff, attempts, now, floor);
            for a in &retry {
                tracing::warn!(alert = %a.uid, notifier, attempts = a.attempts + 1, %error, retry_at = %retry_at.to_rfc3339(), "alert delivery failed; will retry");
            }
            stats.retrying += retry.len();
            crate::metrics::alerts_failed(notifier, retry.len(), false);
            self.store
                .writer()
                .call(WriteOp::AlertFailed {
                    ids: retry.iter().map(|a| a.id).collect(),
                    error: error.clone(),
                    retry_at: Some(retry_at),
                })
                .await?;
        }
        if !give_up.is_empty() {
            for a in &give_up {
                tracing::error!(alert = %a.uid, notifier, attempts = a.attempts + 1, %error, "alert delivery failed for good (feedwatch alerts retry requeues it)");
            }
            stats.failed += give_up.len();
            crate::metrics::alerts_failed(notifier, give_up.len(), true);
            self.store
                .writer()
                .call(WriteOp::AlertFailed {
                    ids: give_up.iter().map(|a| a.id).collect(),
                    error,
                    retry_at: None,
                })
                .await?;
        }
        Ok(())
    }

    async fn record_sent(&self, msg: &Message, now: DateTime<Utc>, stats: &mut PassStats) {
        let ids: Vec<i64> = msg.alerts().iter().map(|a| a.id).collect();
        stats.sent += ids.len();
        let notifier = msg
            .alerts()
            .first()
            .map(|a| a.notifier.as_str())
            .unwrap_or("");
        match self.mark_sent(ids.clone(), now).await {
            Ok(()) => {
                crate::metrics::alerts_sent(notifier, ids.len());
                for a in msg.alerts() {
                    tracing::info!(alert = %a.uid, event = a.event_name(), notifier, attempts = a.attempts + 1, message = %msg.id, "alert delivered");
                }
            }
            Err(e) => {
                tracing::error!(message = %msg.id, notifier, error = %format!("{e:#}"),
                    "alert delivered, but recording it failed; it will not be sent again by this process");
                self.unrecorded
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((ids, now));
            }
        }
    }

    async fn mark_sent(&self, ids: Vec<i64>, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.store
            .writer()
            .call(WriteOp::AlertsSent { ids, at })
            .await
            .map(drop)
    }

    fn unrecorded_is_empty(&self) -> bool {
        self.unrecorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Write the `sent` marks that failed earlier; until they are written, no delivery pass runs
    /// (it could pick those alerts up again).
    async fn write_unrecorded(&self) -> anyhow::Result<()> {
        let pending: Vec<(Vec<i64>, DateTime<Utc>)> = std::mem::take(
            &mut *self
                .unrecorded
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if pending.is_empty() {
            return Ok(());
        }
        let mut result = Ok(());
        for (ids, at) in &pending {
            result = self.mark_sent(ids.clone(), *at).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_err() {
            self.unrecorded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(pending);
        }
        result.context("recording alerts already delivered")
    }

    /// Deliver until shutdown. Sleeps until woken (`wake`: an ingest queued alerts, or another
    /// process asked through the control socket) or until the next alert is due (a retry, a
    /// digest's tick, a rate limit's slot); an idle daemon with nothing pending does not wake.
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

/// A rate-limited notifier's recent messages and held-back alerts, kept current during a pass.
struct RateState {
    max: u32,
    sent: Vec<DateTime<Utc>>,
    held: usize,
}
