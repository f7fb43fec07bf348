//! The long-running service: the scheduler loop, the alert dispatcher, signals and systemd.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::notify::{DeliveryLock, Dispatcher, MAX_IDLE};
use crate::poll::Poller;
use crate::store::{Store, queries};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let store = Arc::new(Store::open(&config.daemon.database)?);
    let _lock = acquire_delivery_lock(&config.daemon.database).await?;
    let cfg = Arc::clone(&config);
    store
        .run(move |c| queries::sync_feeds(c, &cfg, Utc::now()))
        .await
        .context("recording feeds in the database")?;
    tracing::info!(
        config = %config.path.display(),
        database = %store.path().display(),
        feeds = config.feeds.len(),
        topics = config.topics.len(),
        notifiers = config.notifiers.len(),
        "feedwatch starting"
    );

    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone())?;

    let wake_dispatcher = Arc::new(Notify::new());
    let dispatcher = Dispatcher::new(Arc::clone(&store), Arc::clone(&config))?;
    let dispatcher_task = {
        let (wake, stop) = (Arc::clone(&wake_dispatcher), shutdown.clone());
        tokio::spawn(async move { dispatcher.run(wake, stop).await })
    };

    let poller = Poller::new(Arc::clone(&store), Arc::clone(&config))?;
    schedule_loop(poller, wake_dispatcher, shutdown.clone()).await;

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    dispatcher_task.await.context("alert dispatcher task")?;
    tracing::info!("feedwatch stopped");
    Ok(())
}

/// One daemon per database. A `feedwatch poll` may hold the lock for its delivery pass, so
/// wait a little before deciding another daemon owns it.
async fn acquire_delivery_lock(database: &std::path::Path) -> anyhow::Result<DeliveryLock> {
    for _ in 0..20 {
        if let Some(lock) = DeliveryLock::try_acquire(database)? {
            return Ok(lock);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!(
        "another feedwatch daemon is running on {}",
        database.display()
    )
}

/// SIGTERM (systemd stop) and SIGINT (Ctrl-C) both ask for a clean stop.
fn spawn_signal_handler(shutdown: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::spawn(async move {
        let which = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = which,
            "stopping: no new polls; finishing or abandoning the ones in flight"
        );
        shutdown.cancel();
    });
    Ok(())
}

/// Start every due feed's poll (never two of one feed at once), then sleep until the next is
/// due or a poll finishes. A feed never polled, or reset, is due at once.
async fn schedule_loop(poller: Poller, wake_dispatcher: Arc<Notify>, shutdown: CancellationToken) {
    let mut in_flight: HashMap<tokio::task::Id, String> = HashMap::new();
    // Feeds whose last poll could not be recorded: not before this, whatever the database says.
    let mut held: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut tasks: JoinSet<Option<DateTime<Utc>>> = JoinSet::new();
    let watchdog = sd_notify::watchdog_enabled();
    let mut ready_sent = false;
    loop {
        let now = Utc::now();
        let mut earliest: Option<DateTime<Utc>> = None;
        match poller.store.run(|c| queries::schedule_rows(c)).await {
            Ok(rows) => {
                let rows: HashMap<String, queries::ScheduleRow> =
                    rows.into_iter().map(|r| (r.name.clone(), r)).collect();
                let busy: HashSet<&String> = in_flight.values().collect();
                let mut start = Vec::new();
                for feed in &poller.config.feeds {
                    let row = rows.get(&feed.name);
                    if busy.contains(&feed.name) || row.is_some_and(|r| r.is_gone()) {
                        continue;
                    }
                    let mut due = row.and_then(|r| r.next_poll).unwrap_or(now);
                    if let Some(hold) = held.get(&feed.name) {
                        due = due.max(*hold);
                    }
                    if due > now {
                        earliest = Some(earliest.map_or(due, |e| e.min(due)));
                    } else {
                        start.push(feed.clone());
                    }
                }
                for feed in start {
                    held.remove(&feed.name);
                    let (poller, stop, wake) = (
                        poller.clone(),
                        shutdown.clone(),
                        Arc::clone(&wake_dispatcher),
                    );
                    let name = feed.name.clone();
                    let handle = tasks.spawn(async move {
                        tokio::select! {
                            // Dropping a poll mid-way is safe: its results commit in one
                            // transaction or not at all.
                            _ = stop.cancelled() => None,
                            report = poller.poll(&feed) => {
                                if report.alerts_created > 0 {
                                    wake.notify_one();
                                }
                                report.hold_until
                            }
                        }
                    });
                    in_flight.insert(handle.id(), name);
                }
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "scheduler: reading feed states; retrying shortly");
                earliest = Some(now + chrono::Duration::seconds(5));
            }
        }
        if !ready_sent {
            // The config loaded, the database migrated and the first schedule is computed.
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
            ready_sent = true;
        }
        if watchdog.is_some() {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
        let status = format!(
            "{} feeds, {} polling",
            poller.config.feeds.len(),
            in_flight.len()
        );
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&status)]);

        let mut sleep = earliest
            .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_IDLE)
            .min(MAX_IDLE);
        if let Some(w) = watchdog {
            sleep = sleep.min(w / 2);
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(sleep) => {}
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                finish(done, &mut in_flight, &mut held);
                while let Some(done) = tasks.try_join_next_with_id() {
                    finish(done, &mut in_flight, &mut held);
                }
            }
        }
    }
    // Polls see the cancellation and stop; an ingest already running finishes its transaction.
    while tasks.join_next().await.is_some() {}
}

/// A poll task ended: free its feed, and hold it back if its poll could not be recorded or
/// the task panicked (a feed must not take the daemon down, nor be retried in a tight loop).
fn finish(
    done: Result<(tokio::task::Id, Option<DateTime<Utc>>), tokio::task::JoinError>,
    in_flight: &mut HashMap<tokio::task::Id, String>,
    held: &mut HashMap<String, DateTime<Utc>>,
) {
    let (id, hold) = match done {
        Ok((id, hold)) => (id, hold),
        Err(e) => {
            let hold = Utc::now() + chrono::Duration::seconds(60);
            if e.is_panic() {
                tracing::error!(
                    feed = in_flight.get(&e.id()).map(String::as_str).unwrap_or("?"),
                    "poll task panicked"
                );
            }
            (e.id(), Some(hold))
        }
    };
    if let Some(name) = in_flight.remove(&id)
        && let Some(hold) = hold
    {
        held.insert(name, hold);
    }
}
