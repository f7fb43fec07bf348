//! The long-running service: the scheduler loop, the alert dispatcher, signals and systemd.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::notify::Dispatcher;
use crate::poll::Poller;
use crate::store::{Store, queries};

/// Longest sleep of the scheduler, so a clock jump or a hand-edited database is noticed.
const MAX_IDLE: Duration = Duration::from_secs(300);

pub async fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let store = Arc::new(Store::open(&config.daemon.database)?);
    let cfg = Arc::clone(&config);
    store
        .run(move |c| queries::sync_feeds(c, &cfg))
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
    schedule_loop(poller, wake_dispatcher, shutdown.clone()).await?;

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    dispatcher_task.await.context("alert dispatcher task")?;
    tracing::info!("feedwatch stopped");
    Ok(())
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
async fn schedule_loop(
    poller: Poller,
    wake_dispatcher: Arc<Notify>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut tasks: JoinSet<String> = JoinSet::new();
    let watchdog = sd_notify::watchdog_enabled();
    let mut ready_sent = false;
    loop {
        let now = Utc::now();
        let rows = poller.store.run(|c| queries::schedule_rows(c)).await?;
        let rows: HashMap<String, queries::ScheduleRow> =
            rows.into_iter().map(|r| (r.name.clone(), r)).collect();
        let mut earliest: Option<chrono::DateTime<Utc>> = None;
        for feed in &poller.config.feeds {
            if in_flight.contains(&feed.name) {
                continue;
            }
            let row = rows.get(&feed.name);
            if row.is_some_and(|r| r.state == "gone") {
                continue;
            }
            let due = row.and_then(|r| r.next_poll).unwrap_or(now);
            if due > now {
                earliest = Some(earliest.map_or(due, |e| e.min(due)));
                continue;
            }
            in_flight.insert(feed.name.clone());
            let (poller, feed, stop, wake) = (
                poller.clone(),
                feed.clone(),
                shutdown.clone(),
                Arc::clone(&wake_dispatcher),
            );
            tasks.spawn(async move {
                tokio::select! {
                    // Dropping a poll mid-way is safe: its results commit in one transaction or not at all.
                    _ = stop.cancelled() => {}
                    report = poller.poll(&feed) => if report.alerts_created > 0 { wake.notify_one() },
                }
                feed.name
            });
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
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(name) = done {
                    in_flight.remove(&name);
                }
                while let Some(done) = tasks.try_join_next() {
                    if let Ok(name) = done { in_flight.remove(&name); }
                }
            }
        }
    }
    // Polls see the cancellation and stop; an ingest already running finishes its transaction.
    while tasks.join_next().await.is_some() {}
    Ok(())
}
