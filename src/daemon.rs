//! The long-running service: the scheduler loop, the alert dispatcher, signals (SIGHUP
//! reloads the config: `daemon/reload.rs`), the control socket, the health and metrics
//! endpoint and systemd.
//!
//! It fails loudly rather than live on as a zombie: if the writer thread ends, or the database
//! keeps refusing writes for longer than `[daemon] give_up_after`, `run` returns an error (exit
//! 1, and systemd restarts it); and `WATCHDOG=1` is sent only while the scheduler and the
//! writer make progress.

mod reload;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::control;
use crate::http::{self, Pulse};
use crate::notify::{DeliveryLock, Dispatcher, Holder, Role};
use crate::poll::{PollDone, Poller};
use crate::scheduler::{Schedule, Start};
use crate::store::{Store, WriterHealth, queries};

pub use reload::{FeedChanges, feed_changes};

pub async fn run(config: Config) -> anyhow::Result<()> {
    if config.daemon.cluster.is_some() {
        // One node of several on PostgreSQL: claims instead of the in-memory schedule.
        return crate::cluster::node::run(config).await;
    }
    // First of all, so that a SIGHUP never meets the default action (terminate).
    let shutdown = CancellationToken::new();
    let reloads = spawn_signal_handler(shutdown.clone())?;
    let config = Arc::new(config);
    let sink = crate::logging::apply(config.daemon.log_format);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    if config.http.is_some() {
        crate::metrics::install(&config)?;
    }
    let store = Arc::new(Store::open(&config.daemon.database, config.daemon.store)?);
    let _lock = acquire_delivery_lock(&config.daemon.database).await?;
    store
        .writer()
        .sync_feeds(queries::FeedSync::from_config(&config, Utc::now()))
        .await
        .context("recording feeds in the database")?;
    let states = store
        .read_async(queries::feed_states)
        .await
        .context("reading feed states")?;
    let schedule = Schedule::new(
        Arc::clone(&config),
        states.into_iter().map(|s| (s.name.clone(), s)).collect(),
        Utc::now(),
    );
    release_startup_memory();
    tracing::info!(
        config = %config.path.display(),
        database = %store.path().display(),
        feeds = config.feeds.len(),
        topics = config.topics.len(),
        notifiers = config.notifiers.len(),
        log = sink.as_str(),
        "feedwatch starting"
    );

    // The one place the running config is swapped is `Loop::reload`; the rest follows this.
    let (config_tx, config_rx) = watch::channel(Arc::clone(&config));
    let pulse = Arc::new(Pulse::default());
    let shared = Arc::new(http::Shared {
        store: Arc::clone(&store),
        config: config_rx.clone(),
        pulse: Arc::clone(&pulse),
    });
    // An endpoint that cannot listen stops the start: the operator asked for it.
    let endpoint = match &config.http {
        Some(h) => Some(http::start(h.listen, Arc::clone(&shared)).await?),
        None => None,
    };
    let http_task = tokio::spawn(http::follow(endpoint, shared, shutdown.clone()));
    let (_control, control_rx) = match control::listen(&config.daemon.database) {
        Ok((server, rx)) => (Some(server), rx),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"),
                "no control socket: `feeds reset` and `alerts retry` take effect at the next restart");
            (None, mpsc::channel(1).1)
        }
    };

    let wake_dispatcher = Arc::new(Notify::new());
    let dispatcher = Arc::new(Dispatcher::new(Arc::clone(&store), Arc::clone(&config))?);
    let dispatcher_task = {
        let (d, wake, stop) = (
            Arc::clone(&dispatcher),
            Arc::clone(&wake_dispatcher),
            shutdown.clone(),
        );
        tokio::spawn(async move { d.run(wake, stop).await })
    };

    let poller = Poller::new(Arc::clone(&store), Arc::clone(&config))?;
    let outcome = Loop {
        poller,
        schedule,
        wake_dispatcher,
        control: control_rx,
        tasks: JoinSet::new(),
        in_flight: HashMap::new(),
        polls: control::PollWaiters::default(),
        config: config_tx,
        reloads,
        pulse,
        dispatcher,
    }
    .run(shutdown.clone())
    .await;

    shutdown.cancel();
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    dispatcher_task.await.context("alert dispatcher task")?;
    let _ = http_task.await;
    outcome?;
    tracing::info!("feedwatch stopped");
    Ok(())
}

/// The config and the feeds table are read once at start and the memory is freed, but glibc
/// keeps freed pages mapped: hand them back, so an idle daemon's RSS is what it really uses.
fn release_startup_memory() {
    // SAFETY: malloc_trim only walks glibc's own free lists.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// One daemon per database: a second one refuses at once. A `feedwatch poll` holds the lock
/// only for its delivery pass, so that is waited out.
async fn acquire_delivery_lock(database: &std::path::Path) -> anyhow::Result<DeliveryLock> {
    let mut waited = Duration::ZERO;
    loop {
        match DeliveryLock::try_acquire(database, Role::Daemon)? {
            Ok(lock) => return Ok(lock),
            Err(holder @ Holder::Daemon(_)) => {
                anyhow::bail!(
                    "another feedwatch daemon is running on {}: {holder}",
                    database.display()
                )
            }
            Err(holder) if waited >= Duration::from_secs(30) => anyhow::bail!(
                "{holder} has held the delivery lock of {} for 30 s; is another feedwatch daemon running?",
                database.display()
            ),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                waited += Duration::from_millis(200);
            }
        }
    }
}

/// SIGTERM (systemd stop) and SIGINT (Ctrl-C) both ask for a clean stop; SIGHUP (`systemctl
/// reload`) asks for a config reload, on the returned channel (several at once are one).
fn spawn_signal_handler(shutdown: CancellationToken) -> anyhow::Result<mpsc::Receiver<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let (reload_tx, reload_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let which = loop {
            tokio::select! {
                _ = term.recv() => break "SIGTERM",
                _ = int.recv() => break "SIGINT",
                _ = hup.recv() => {
                    let _ = reload_tx.try_send(());
                }
            }
        };
        tracing::info!(
            signal = which,
            "stopping: no new polls; finishing or abandoning the ones in flight"
        );
        shutdown.cancel();
    });
    Ok(reload_rx)
}

/// The scheduler loop's state.
struct Loop {
    poller: Poller,
    schedule: Schedule,
    wake_dispatcher: Arc<Notify>,
    control: mpsc::Receiver<control::Incoming>,
    tasks: JoinSet<PollDone>,
    /// Poll task → (slot, host), to hand its result back to the schedule.
    in_flight: HashMap<tokio::task::Id, (usize, String)>,
    /// `feedwatch poll` requests waiting for their feeds.
    polls: control::PollWaiters,
    /// The running config, for everything that follows it; only `reload` sends.
    config: watch::Sender<Arc<Config>>,
    /// SIGHUP.
    reloads: mpsc::Receiver<()>,
    /// When the loop plans to run next, for `/healthz`.
    pulse: Arc<Pulse>,
    /// Switched to a reloaded config together with the schedule and the poller.
    dispatcher: Arc<Dispatcher>,
}

impl Loop {
    /// Start due polls, then sleep until the next is due, a poll ends, a control request
    /// arrives or the stop signal; `Err` when the database writer can no longer work.
    async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let store = Arc::clone(&self.poller.store);
        let health = Arc::clone(store.writer().health());
        let watchdog = sd_notify::watchdog_enabled();
        let mut ready_sent = false;
        let mut status = String::new();
        let mut probe: Option<tokio::task::JoinHandle<()>> = None;
        // Histogram samples are folded while the loop is awake anyway, at most once a minute.
        let mut upkeep = Instant::now();
        // Retention runs at start and then once a day, in the background.
        let mut next_prune = Utc::now();
        let result = loop {
            // Read each time: a reload may change it.
            let give_up = self.poller.config.daemon.give_up_after;
            let now = Utc::now();
            for start in self.schedule.start_due(now) {
                self.spawn(start, &shutdown);
            }
            if now >= next_prune {
                next_prune = now + chrono::Duration::days(1);
                spawn_prune(Arc::clone(&store), self.poller.config.daemon.retention);
            }
            if let Err(e) = writer_trouble(&health, give_up) {
                break Err(e);
            }
            if !ready_sent {
                // The config loaded, the database migrated and the first schedule is computed.
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
                ready_sent = true;
            }
            if watchdog.is_some() && writer_progressing(&health, give_up) {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
            let now_status = format!(
                "{} feeds, {} polling",
                self.schedule.len(),
                self.schedule.polling()
            );
            if now_status != status {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&now_status)]);
                crate::metrics::in_flight(self.schedule.polling());
                status = now_status;
            }
            if upkeep.elapsed() >= Duration::from_secs(60) {
                crate::metrics::upkeep();
                upkeep = Instant::now();
            }

            let wake_at = self
                .schedule
                .next_due()
                .map_or(next_prune, |t| t.min(next_prune));
            let mut sleep = Some((wake_at - Utc::now()).to_std().unwrap_or(Duration::ZERO));
            if let Some(w) = watchdog {
                sleep = Some(sleep.map_or(w / 2, |s| s.min(w / 2)));
            }
            if health.failing_for().is_some() {
                // Learn soon whether the database takes writes again, or it is time to give up.
                if probe.as_ref().is_none_or(|p| p.is_finished()) {
                    let s = Arc::clone(&store);
                    probe = Some(tokio::spawn(async move {
                        let _ = s.writer().call(crate::store::WriteOp::Probe).await;
                    }));
                }
                sleep =
                    Some(sleep.map_or(Duration::from_secs(1), |s| s.min(Duration::from_secs(1))));
            }
            self.pulse
                .expect_by(sleep.and_then(|d| Instant::now().checked_add(d)));
            let sleep = async {
                match sleep {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                _ = store.writer().ended() => break Err(anyhow::anyhow!(
                    "the database writer stopped unexpectedly; exiting so that the service restarts")),
                _ = sleep => {}
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finish(done);
                    while let Some(done) = self.tasks.try_join_next_with_id() {
                        self.finish(done);
                    }
                }
                Some(req) = self.control.recv() => self.handle(req).await,
                Some(()) = self.reloads.recv() => self.reload().await,
            }
        };
        // Polls see the cancellation and stop; a result already handed to the writer commits.
        shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        result
    }

    fn spawn(&mut self, start: Start, shutdown: &CancellationToken) {
        let (poller, stop, wake) = (
            self.poller.clone(),
            shutdown.clone(),
            Arc::clone(&self.wake_dispatcher),
        );
        let Start {
            slot,
            host,
            feed,
            state,
        } = start;
        let handle = self.tasks.spawn(async move {
            tokio::select! {
                // Dropping a poll mid-way is safe: its results commit in one message or not at all.
                _ = stop.cancelled() => PollDone {
                    report: crate::poll::FeedReport::skipped(&feed.name, "stopping".into()),
                    state: None,
                    hold_until: None,
                },
                done = async {
                    let started = Instant::now();
                    let done = poller.poll_guarded(&feed, &state).await;
                    crate::metrics::poll_done(&done.report.tally(), started.elapsed());
                    done
                } => {
                    if done.report.alerts_created > 0 {
                        wake.notify_one();
                    }
                    done
                }
            }
        });
        self.in_flight.insert(handle.id(), (slot, host));
    }

    fn finish(&mut self, done: Result<(tokio::task::Id, PollDone), tokio::task::JoinError>) {
        let (id, done) = match done {
            Ok((id, done)) => (id, done),
            // poll_guarded catches panics; a task can only end this way when cancelled.
            Err(e) => (
                e.id(),
                PollDone {
                    report: crate::poll::FeedReport::skipped("", e.to_string()),
                    state: None,
                    hold_until: Some(Utc::now() + chrono::Duration::seconds(60)),
                },
            ),
        };
        if let Some((slot, host)) = self.in_flight.remove(&id) {
            self.schedule.finished(slot, &host, &done, Utc::now());
        }
        self.polls.finished(&done.report);
    }

    /// A request from a CLI command (see [`control`]): the work is done with this daemon's
    /// config and schedule, and answered on the request's connection.
    async fn handle(&mut self, incoming: control::Incoming) {
        use control::{Answer, Request};
        let control::Incoming { request, reply } = incoming;
        let store = Arc::clone(&self.poller.store);
        let config = Arc::clone(&self.poller.config);
        match request {
            Request::Deliver => {
                self.wake_dispatcher.notify_one();
                reply.ok("");
            }
            Request::FeedsChanged { feeds } => {
                let states = store
                    .read_async(move |c| {
                        feeds
                            .iter()
                            .filter_map(|n| queries::feed_state(c, n).transpose())
                            .collect::<anyhow::Result<Vec<_>>>()
                    })
                    .await;
                match states {
                    Ok(states) => {
                        for s in states {
                            tracing::info!(feed = %s.name, state = s.status.as_str(), "feed state changed by another process");
                            self.schedule.replace(s, Utc::now());
                        }
                        reply.ok("");
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "reading changed feeds");
                        reply.refuse(format!("reading the changed feeds failed: {e:#}"));
                    }
                }
            }
            Request::Status => reply.answer(Answer::Status(control::DaemonStatus::of(
                &config,
                &store,
                self.schedule.len(),
                self.schedule.polling(),
            ))),
            Request::Poll { feeds } => {
                let now = Utc::now();
                let schedule = &mut self.schedule;
                match control::plan_poll(&config, feeds, |name, named| {
                    schedule.poll_now(name, now, named)
                }) {
                    Ok(plan) => {
                        tracing::info!(feeds = plan.waiting.len(), "polling now, as asked");
                        self.polls.wait(plan, reply);
                    }
                    Err(message) => reply.refuse(message),
                }
            }
            Request::Reset { feed } => match control::requests::reset(&store, &config, &feed).await
            {
                Ok(state) => {
                    tracing::info!(feed = %feed, "feed reset, as asked; polling it now");
                    self.schedule.replace(state, Utc::now());
                    reply.ok(format!("{feed}: reset; the daemon polls it now"));
                }
                Err(message) => reply.refuse(message),
            },
            Request::Retry { ids } => {
                let wake = Arc::clone(&self.wake_dispatcher);
                tokio::spawn(control::requests::retry(store, wake, ids, reply));
            }
            Request::Prune => {
                let retention = config.daemon.retention;
                tokio::spawn(control::requests::prune(store, retention, reply));
            }
        }
    }
}

/// Apply retention without holding up the scheduler (the writer prunes in small batches).
fn spawn_prune(store: Arc<Store>, retention: Duration) {
    tokio::spawn(async move {
        let Ok(age) = chrono::Duration::from_std(retention) else {
            return;
        };
        match store.writer().prune(Utc::now() - age).await {
            Ok(p) if p.items > 0 || p.tombstones > 0 => tracing::info!(
                items = p.items,
                stories = p.stories,
                alerts = p.alerts,
                tombstones = p.tombstones,
                "pruned what is older than the retention period"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %format!("{e:#}"), "pruning"),
        }
    });
}

/// `Err` when the writer cannot work any more: the daemon must exit and be restarted.
fn writer_trouble(health: &WriterHealth, give_up: Duration) -> anyhow::Result<()> {
    if health.stopped() {
        anyhow::bail!(
            "the database writer stopped unexpectedly; exiting so that the service restarts"
        );
    }
    if let Some(f) = health.failing_for().filter(|f| *f >= give_up) {
        anyhow::bail!(
            "the database has refused every write for {}s (last error: {}); exiting so that the service restarts",
            f.as_secs(),
            health.last_error().unwrap_or_default()
        );
    }
    Ok(())
}

/// Whether the writer is alive and not stuck: only then is the watchdog fed.
fn writer_progressing(health: &WriterHealth, give_up: Duration) -> bool {
    !health.stopped()
        && health.busy_for().is_none_or(|b| b < give_up)
        && health.failing_for().is_none_or(|f| f < give_up)
}
