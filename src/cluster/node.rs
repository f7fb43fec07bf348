//! One node of a cluster: what `feedwatch run` does when `database` is a postgres:// URL.
//!
//! Instead of SQLite's in-memory heap over every feed, the node claims due feeds of the host
//! buckets it holds, a few more than it can start at once, queues them per host
//! (`limits::Admission`: per-host limits hold exactly, since a host's feeds are all in one
//! bucket) and polls them with the same `Poller` as SQLite. A claim that waited in its host's
//! queue for a quarter of its lease is confirmed before the fetch. Beside the polls run the
//! heartbeat (node row and buckets), the clusterer (if elected) and the dispatcher over the
//! shared outbox.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::clusterer::Clusterer;
use super::lease::{self, heartbeat_every, needs_confirm, plan_buckets};
use super::pg::feeds::{self as pgfeeds, Claimed, SyncRow};
use super::pg::ingest::{Completion, complete_poll};
use super::pg::outbox::PgOutbox;
use super::pg::{self, client};
use crate::config::{ClusterConfig, Config, FeedConfig};
use crate::limits::Admission;
use crate::notify::Dispatcher;
use crate::poll::{PollStore, Poller, host_of};
use crate::prepare::Known;
use crate::store::queries::FeedSync;
use crate::store::{IngestSummary, PollOutcome};

/// The poll results of a node go to PostgreSQL, under the claim each feed was polled with.
pub struct PgPolls {
    pool: Pool,
    me: String,
    /// Feed id → epoch of this node's claim.
    claims: Mutex<HashMap<i64, i64>>,
    handle: tokio::runtime::Handle,
    /// Notified when a poll stored new items (the clusterer has work).
    stored: Arc<Notify>,
}

impl PgPolls {
    fn claim(&self, feed: i64, epoch: i64) {
        self.claims
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(feed, epoch);
    }

    fn unclaim(&self, feed: i64) -> Option<i64> {
        self.claims
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&feed)
    }
}

impl PollStore for PgPolls {
    async fn record(&self, outcome: PollOutcome) -> anyhow::Result<IngestSummary> {
        let Some(epoch) = self.unclaim(outcome.state.id) else {
            anyhow::bail!("no claim on this feed: result dropped");
        };
        let mut c = client(&self.pool).await?;
        match complete_poll(&mut c, &self.me, epoch, &outcome).await? {
            Completion::Recorded(s) => {
                if s.new_items + s.updated_items > 0 {
                    self.stored.notify_one();
                }
                Ok(s)
            }
            Completion::LeaseLost => anyhow::bail!(
                "this node's lease on the feed ended before the result was recorded (another node polls it now): result dropped"
            ),
        }
    }

    fn known_entries(&self, feed_id: i64, keys: &[&str]) -> anyhow::Result<HashMap<String, Known>> {
        // On the CPU pool (a blocking thread): wait for the async query here.
        self.handle.block_on(async {
            let c = client(&self.pool).await?;
            pgfeeds::known_entries(&c, feed_id, keys, Utc::now()).await
        })
    }
}

/// This process's id in `nodes`: the configured name, the pid and the start time, so a
/// restarted node never inherits the claims of the process it replaces.
pub fn node_id(name: &str, started: DateTime<Utc>) -> String {
    format!(
        "{name}:{}:{}",
        std::process::id(),
        started.timestamp_millis()
    )
}

/// The lease of each feed's polls, from its schedule's interval.
fn sync_rows<'a>(config: &Config, list: &'a [FeedSync], lease: Duration) -> Vec<SyncRow<'a>> {
    let now = Utc::now();
    // By name once: `Config::feed` is a scan, and a node may carry 100,000 feeds.
    let by_name: HashMap<&str, &FeedConfig> =
        config.feeds.iter().map(|f| (f.name.as_str(), f)).collect();
    list.iter()
        .map(|f| {
            let interval = by_name.get(f.name.as_str()).and_then(|fc| {
                config
                    .schedule_of(fc)
                    .period_after(now, config.daemon.timezone)
            });
            SyncRow {
                feed: f,
                poll_lease: lease::poll_lease(lease, config.daemon.timeout, interval),
            }
        })
        .collect()
}

/// Run this node until SIGTERM/SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // First of all, so that a SIGHUP never meets the default action (terminate).
    let stop = CancellationToken::new();
    spawn_signal_handler(stop.clone())?;
    let config = Arc::new(config);
    let _sink = crate::logging::apply(config.daemon.log_format);
    let cluster = config
        .daemon
        .cluster
        .clone()
        .context("not a cluster configuration")?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let pool = pg::connect(&cluster, config.daemon.concurrency + 8)?;
    let (before, now_at) = pg::migrate(&pool)
        .await
        .with_context(|| format!("migrating {}", cluster.url))?;
    if before != now_at {
        tracing::info!(from = before, to = now_at, "database schema migrated");
    }
    let started = Utc::now();
    let me = node_id(&cluster.node, started);
    {
        let mut c = client(&pool).await?;
        let list = FeedSync::from_config(&config, started);
        pgfeeds::sync_feeds(&mut c, &sync_rows(&config, &list, cluster.lease))
            .await
            .context("recording feeds in the database")?;
        pgfeeds::heartbeat(&c, &me, &cluster.node, started).await?;
    }
    tracing::info!(node = %me, database = %cluster.url, feeds = config.feeds.len(),
        lease_ms = cluster.lease.as_millis() as u64, "feedwatch node starting");

    let buckets_changed = Arc::new(Notify::new());
    let stored = Arc::new(Notify::new());
    let alerts = Arc::new(Notify::new());
    let mut background = JoinSet::new();
    {
        let hb = Heartbeat {
            pool: pool.clone(),
            me: me.clone(),
            name: cluster.node.clone(),
            started,
            lease: cluster.lease,
            hold: lease::poll_lease(cluster.lease, config.daemon.timeout, None),
            changed: Arc::clone(&buckets_changed),
        };
        background.spawn(hb.run(stop.clone()));
    }
    {
        let c = Clusterer::new(pool.clone(), &me, cluster.lease, config.daemon.story_window);
        background.spawn(c.run(Arc::clone(&stored), Arc::clone(&alerts), stop.clone()));
    }
    {
        let outbox = Arc::new(PgOutbox::new(
            pool.clone(),
            &me,
            lease::delivery_lease(cluster.lease, config.daemon.timeout),
            heartbeat_every(cluster.lease),
        ));
        let dispatcher = Dispatcher::new(outbox, Arc::clone(&config))?;
        let (wake, s) = (Arc::clone(&alerts), stop.clone());
        background.spawn(async move { dispatcher.run(wake, s).await });
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);

    let polls = Arc::new(PgPolls {
        pool: pool.clone(),
        me: me.clone(),
        claims: Mutex::new(HashMap::new()),
        handle: tokio::runtime::Handle::current(),
        stored,
    });
    let poller = Poller::new(Arc::clone(&polls), Arc::clone(&config))?;
    let result = PollLoop {
        poller,
        polls,
        cluster: cluster.clone(),
        feed_index: config
            .feeds
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect(),
        admission: Admission::new(config.daemon.concurrency, config.daemon.per_host),
        in_hand: HashSet::new(),
        tasks: JoinSet::new(),
    }
    .run(&stop, &buckets_changed)
    .await;

    stop.cancel();
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    while background.join_next().await.is_some() {}
    // What this node held is free at once for the others (a killed node's leases expire).
    match client(&pool).await {
        Ok(c) => {
            if let Err(e) = pgfeeds::leave(&c, &me).await {
                tracing::warn!(error = %format!("{e:#}"), "could not hand back this node's leases; they expire by themselves");
            }
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "could not hand back this node's leases; they expire by themselves")
        }
    }
    result?;
    tracing::info!(node = %me, "feedwatch node stopped");
    Ok(())
}

/// The node's row and its buckets, renewed three times a lease.
struct Heartbeat {
    pool: Pool,
    me: String,
    name: String,
    started: DateTime<Utc>,
    lease: Duration,
    /// How long a released bucket waits before another node may take it: the longest lease
    /// a poll in it can have.
    hold: Duration,
    changed: Arc<Notify>,
}

impl Heartbeat {
    async fn run(self, stop: CancellationToken) {
        let mut held: Vec<i32> = Vec::new();
        loop {
            match self.beat().await {
                Ok(now) => {
                    if now != held {
                        tracing::info!(buckets = now.len(), "host buckets held");
                        held = now;
                        self.changed.notify_one();
                    }
                }
                Err(e) => tracing::error!(error = %format!("{e:#}"), "heartbeat failed"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(heartbeat_every(self.lease)) => {}
            }
        }
    }

    async fn beat(&self) -> anyhow::Result<Vec<i32>> {
        let c = client(&self.pool).await?;
        pgfeeds::heartbeat(&c, &self.me, &self.name, self.started).await?;
        let (rows, live) = pgfeeds::bucket_view(&c, self.lease).await?;
        let plan = plan_buckets(&self.me, &rows, live);
        // A bucket's lease outlasts every poll lease in it by the renewal margin, so a feed is
        // only ever claimed while its bucket will still be ours when the claim ends.
        pgfeeds::apply_buckets(&c, &self.me, &plan, self.lease + self.hold, self.hold).await
    }
}

/// A claimed feed waiting for its host's turn.
struct Job {
    feed: FeedConfig,
    claimed: Claimed,
    at: Instant,
}

struct PollLoop {
    poller: Poller<PgPolls>,
    polls: Arc<PgPolls>,
    cluster: ClusterConfig,
    /// Index in the config's feeds by name (a claim names its feed).
    feed_index: HashMap<String, usize>,
    admission: Admission<Job>,
    /// Feeds claimed and not finished.
    in_hand: HashSet<i64>,
    tasks: JoinSet<(i64, String)>,
}

/// How long a feed whose claim could not be used waits before it is due again.
const HOLD: chrono::Duration = chrono::Duration::seconds(60);

impl PollLoop {
    async fn run(
        mut self,
        stop: &CancellationToken,
        buckets_changed: &Notify,
    ) -> anyhow::Result<()> {
        let d = &self.poller.config.daemon;
        // Claim a little more than can run, so a host's queue never runs dry between rounds.
        let room_for = d.concurrency * 2;
        loop {
            let room = room_for.saturating_sub(self.in_hand.len());
            let mut more_due = false;
            if room > 0 && !stop.is_cancelled() {
                match self.claim(room).await {
                    Ok(n) => more_due = n == room,
                    Err(e) => tracing::error!(error = %format!("{e:#}"), "claiming due feeds"),
                }
            }
            while let Some((host, job)) = self.admission.pop() {
                self.start(host, job, stop);
            }
            let wait = if more_due {
                None
            } else {
                Some(self.until_next_due().await)
            };
            let sleep = async {
                match wait {
                    Some(w) => tokio::time::sleep(w).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = buckets_changed.notified() => {}
                _ = sleep => {}
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    self.finish(done);
                    while let Some(done) = self.tasks.try_join_next() {
                        self.finish(done);
                    }
                }
            }
        }
        while let Some(done) = self.tasks.join_next().await {
            self.finish(done);
        }
        Ok(())
    }

    async fn claim(&mut self, room: usize) -> anyhow::Result<usize> {
        let c = client(&self.polls.pool).await?;
        let busy: Vec<i64> = self.in_hand.iter().copied().collect();
        let claimed = pgfeeds::claim_due(&c, &self.polls.me, room, &busy).await?;
        let n = claimed.len();
        for cl in claimed {
            let feed = self
                .feed_index
                .get(&cl.state.name)
                .and_then(|&i| self.poller.config.feeds.get(i));
            let Some(feed) = feed.cloned() else {
                // Configured on another node only (a config being rolled out).
                pgfeeds::release(&c, &self.polls.me, cl.state.id, cl.epoch, Utc::now() + HOLD)
                    .await?;
                continue;
            };
            self.in_hand.insert(cl.state.id);
            self.polls.claim(cl.state.id, cl.epoch);
            let host = host_of(&cl.state.url, &feed);
            self.admission.push(
                &host,
                Job {
                    feed,
                    claimed: cl,
                    at: Instant::now(),
                },
            );
        }
        Ok(n)
    }

    fn start(&mut self, host: String, job: Job, stop: &CancellationToken) {
        let (poller, polls, stop) = (self.poller.clone(), Arc::clone(&self.polls), stop.clone());
        let lease = self.cluster.lease;
        self.tasks.spawn(async move {
            let id = job.claimed.state.id;
            if needs_confirm(job.at.elapsed(), lease) {
                let ok = match client(&polls.pool).await {
                    Ok(c) => pgfeeds::confirm(&c, &polls.me, id, job.claimed.epoch)
                        .await
                        .unwrap_or(false),
                    Err(_) => false,
                };
                if !ok {
                    tracing::info!(feed = %job.feed.name, "claim lost while waiting; another node polls it");
                    polls.unclaim(id);
                    return (id, host);
                }
            }
            tokio::select! {
                // Dropping a poll mid-way is safe: its result commits in one transaction or not at all.
                _ = stop.cancelled() => {}
                _ = poller.poll_guarded(&job.feed, &job.claimed.state) => {}
            }
            (id, host)
        });
    }

    fn finish(&mut self, done: Result<(i64, String), tokio::task::JoinError>) {
        match done {
            Ok((id, host)) => {
                self.admission.finish(&host);
                self.in_hand.remove(&id);
                // A poll that recorded nothing (skipped for Retry-After, or failed to write)
                // keeps its claim: it comes due when the lease ends.
                self.polls.unclaim(id);
            }
            Err(e) => tracing::error!(error = %e, "poll task failed"),
        }
    }

    /// Until the next feed of our buckets is due, at most a heartbeat (buckets change).
    async fn until_next_due(&self) -> Duration {
        let cap = heartbeat_every(self.cluster.lease);
        let next = match client(&self.polls.pool).await {
            Ok(c) => pgfeeds::next_due(&c, &self.polls.me).await.ok().flatten(),
            Err(_) => None,
        };
        match next {
            Some(t) => (t - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(20), cap),
            None => cap,
        }
    }
}

/// SIGTERM (systemd stop) and SIGINT (Ctrl-C) both ask for a clean stop. SIGHUP (the unit's
/// ExecReload) is not yet supported on a cluster node: it is logged and otherwise ignored, so
/// a `systemctl reload` never kills a node.
fn spawn_signal_handler(stop: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => tracing::warn!(
                    "SIGHUP ignored: a cluster node does not reload its config yet; restart the node to apply a change"
                ),
            }
        }
        tracing::info!("stopping: no new claims; handing back this node's leases");
        stop.cancel();
    });
    Ok(())
}
