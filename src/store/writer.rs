//! The single writer: one thread owns the read-write connection and applies [`WriteOp`]s sent
//! over a bounded channel.
//!
//! Group commit: the writer takes every message already waiting (up to [`MAX_BATCH`]) into one
//! transaction, each inside its own savepoint, so a sweep's many small results share a commit
//! while one bad message fails alone. Nobody waits for a linger timer: under load messages
//! queue while the previous batch commits, and an idle writer commits a lone message at once.
//! A caller gets its answer only after the commit, so "recorded" means durable.
//!
//! The bounded channel is the back-pressure of the whole pipeline: when the disk is slow,
//! polls wait to hand over their results instead of piling them up in memory.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::ingest::{self, IngestSummary, PollOutcome};
use super::stories::Stories;
use super::{outbox, queries};
use crate::failpoint;

/// Everything the daemon and the CLI write.
#[derive(Debug)]
pub enum WriteOp {
    /// Make the feeds table follow the config (see [`queries::sync_feeds`]).
    SyncFeeds(Vec<queries::FeedSync>),
    /// One finished poll: the feed's new state, and its new and edited items with their
    /// matches and alerts.
    Poll(Box<PollOutcome>),
    /// `feeds reset NAME`.
    ResetFeed { name: String },
    /// Alerts delivered in one message (one alert, or a digest's): all marked together.
    AlertsSent { ids: Vec<i64>, at: DateTime<Utc> },
    /// A failed attempt at one message: retry at `retry_at`, or (`None`) give up and mark its
    /// alerts failed.
    AlertFailed {
        ids: Vec<i64>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
    /// Not before `until`: waiting for a digest's tick, or (`held`) for a rate limit.
    AlertsDeferred {
        ids: Vec<i64>,
        until: DateTime<Utc>,
        held: bool,
    },
    /// A receiver that keeps failing: none of its alerts is tried before `until`.
    NotifierBackoff {
        notifier: String,
        until: DateTime<Utc>,
    },
    /// `alerts retry [ID...]`.
    RetryAlerts {
        ids: Vec<String>,
        now: DateTime<Utc>,
    },
    /// Nothing: an empty transaction, to learn whether the database takes writes again.
    Probe,
    /// Delete (a batch of) items first seen before `before`, keeping their keys.
    Prune {
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    },
}

/// What a [`WriteOp`] came to.
#[derive(Debug)]
pub enum Reply {
    Done,
    Ingested(IngestSummary),
    /// `ResetFeed`: whether the feed was found.
    Found(bool),
    /// `RetryAlerts`: how many were requeued, and the given ids that named no failed alert.
    Retried(usize, Vec<String>),
    Pruned(super::prune::Pruned),
}

struct Request {
    op: WriteOp,
    reply: oneshot::Sender<Result<Reply, String>>,
}

/// Messages per transaction at most: bounds the time one commit holds the lock.
pub const MAX_BATCH: usize = 256;
/// Messages waiting for the writer at most; senders wait beyond that.
const QUEUE: usize = 64;

/// How the writer is doing, for the watchdog and the health endpoint. Times are milliseconds
/// since the writer started; 0 means "not set".
#[derive(Default)]
pub struct WriterHealth {
    started: std::sync::OnceLock<Instant>,
    /// Set while a batch is being applied.
    busy_since: AtomicI64,
    /// Set when a commit failed, cleared by the next successful one.
    failing_since: AtomicI64,
    last_error: std::sync::Mutex<Option<String>>,
    stopped: AtomicBool,
}

impl WriterHealth {
    fn now_ms(&self) -> i64 {
        let start = self.started.get_or_init(Instant::now);
        (start.elapsed().as_millis() as i64).max(1)
    }

    fn since(&self, v: &AtomicI64) -> Option<Duration> {
        match v.load(Ordering::Relaxed) {
            0 => None,
            t => Some(Duration::from_millis((self.now_ms() - t).max(0) as u64)),
        }
    }

    /// How long the current batch has been running, if one is.
    pub fn busy_for(&self) -> Option<Duration> {
        self.since(&self.busy_since)
    }

    /// How long commits have been failing without a success in between, if they are.
    pub fn failing_for(&self) -> Option<Duration> {
        self.since(&self.failing_since)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The writer thread has ended (it panicked, or its channel closed).
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn committed(&self, ok: Result<(), &str>) {
        match ok {
            Ok(()) => self.failing_since.store(0, Ordering::Relaxed),
            Err(e) => {
                let _ = self.failing_since.compare_exchange(
                    0,
                    self.now_ms(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                *self
                    .last_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
            }
        }
    }
}

/// The handle to the writer thread: cheap to share, one per store.
pub struct Writer {
    tx: mpsc::Sender<Request>,
    health: Arc<WriterHealth>,
    /// Resolves when the writer thread ends, however it ends.
    ended: tokio::sync::watch::Receiver<bool>,
}

/// Sends `true` when dropped: the thread's end, also on a panic (drops run while unwinding).
struct EndSignal(tokio::sync::watch::Sender<bool>, Arc<WriterHealth>);

impl Drop for EndSignal {
    fn drop(&mut self) {
        self.1.stopped.store(true, Ordering::Relaxed);
        let _ = self.0.send(true);
    }
}

impl Writer {
    /// Start the writer thread on `conn` (already migrated).
    pub fn start(conn: Connection, options: super::StoreOptions) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let health = Arc::new(WriterHealth::default());
        health.now_ms();
        let (end_tx, ended) = tokio::sync::watch::channel(false);
        let h = Arc::clone(&health);
        std::thread::Builder::new()
            .name("feedwatch-writer".into())
            .spawn(move || {
                let _end = EndSignal(end_tx, Arc::clone(&h));
                run(conn, rx, &h, &options);
            })
            .context("starting the database writer thread")?;
        Ok(Self { tx, health, ended })
    }

    pub fn health(&self) -> &Arc<WriterHealth> {
        &self.health
    }

    /// Resolves once the writer thread has ended.
    pub async fn ended(&self) {
        let mut ended = self.ended.clone();
        let _ = ended.wait_for(|e| *e).await;
    }

    /// Apply `op` and wait until it is committed (or failed).
    pub async fn call(&self, op: WriteOp) -> anyhow::Result<Reply> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { op, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the database writer has stopped"))?;
        match answer.await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(anyhow::anyhow!(e)),
            Err(_) => anyhow::bail!("the database writer stopped before answering"),
        }
    }

    pub async fn poll(&self, outcome: PollOutcome) -> anyhow::Result<IngestSummary> {
        match self.call(WriteOp::Poll(Box::new(outcome))).await? {
            Reply::Ingested(s) => Ok(s),
            other => anyhow::bail!("unexpected writer reply {other:?}"),
        }
    }

    pub async fn sync_feeds(&self, feeds: Vec<queries::FeedSync>) -> anyhow::Result<()> {
        self.call(WriteOp::SyncFeeds(feeds)).await.map(drop)
    }

    pub async fn reset_feed(&self, name: &str) -> anyhow::Result<bool> {
        match self
            .call(WriteOp::ResetFeed {
                name: name.to_string(),
            })
            .await?
        {
            Reply::Found(found) => Ok(found),
            other => anyhow::bail!("unexpected writer reply {other:?}"),
        }
    }

    /// Apply retention: prune in batches (one transaction each, so the lock is never held long)
    /// until nothing older than `before` is left.
    pub async fn prune(&self, before: DateTime<Utc>) -> anyhow::Result<super::prune::Pruned> {
        let mut total = super::prune::Pruned::default();
        loop {
            match self
                .call(WriteOp::Prune {
                    before,
                    now: Utc::now(),
                })
                .await?
            {
                Reply::Pruned(p) => {
                    let more = p.items == super::prune::BATCH;
                    total += p;
                    if !more {
                        return Ok(total);
                    }
                }
                other => anyhow::bail!("unexpected writer reply {other:?}"),
            }
        }
    }

    pub async fn retry_alerts(
        &self,
        ids: Vec<String>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(usize, Vec<String>)> {
        match self.call(WriteOp::RetryAlerts { ids, now }).await? {
            Reply::Retried(n, missing) => Ok((n, missing)),
            other => anyhow::bail!("unexpected writer reply {other:?}"),
        }
    }
}

fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Request>,
    health: &WriterHealth,
    options: &super::StoreOptions,
) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    // The story index is built when the first new item needs a story (from the committed
    // items of the window): a sweep of 304s never reads the window's signatures.
    let mut stories = Stories::new(options.story_window);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        health.busy_since.store(health.now_ms(), Ordering::Relaxed);
        let started = Instant::now();
        if batch.iter().any(|r| matches!(&r.op, WriteOp::Poll(o) if failpoint::active_for("writer-die", &o.state.name))) {
            // The thread itself dies (not one message): the daemon must notice and exit.
            panic!("failpoint writer-die");
        }
        let results = commit(&mut conn, &batch, health, &mut stories);
        crate::metrics::writer_batch(started.elapsed());
        health.busy_since.store(0, Ordering::Relaxed);
        for (req, result) in batch.drain(..).zip(results) {
            // A caller that gave up waiting (a cancelled poll) is not an error.
            let _ = req.reply.send(result);
        }
    }
}

/// Apply a batch in one transaction. A message that fails or panics is isolated: the
/// transaction rolls back, and the messages are applied again one transaction each (rare, so
/// the common path needs no savepoints — which matters: the search index flushes its pending
/// words at every savepoint).
fn commit(
    conn: &mut Connection,
    batch: &[Request],
    health: &WriterHealth,
    stories: &mut Stories,
) -> Vec<Result<Reply, String>> {
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| apply_batch(conn, batch, stories)));
    // Whatever rolled back may have touched the story index: rebuild it from what committed.
    if !matches!(&outcome, Ok(Ok(Applied::All(_)))) {
        stories.mark_stale();
    }
    match outcome {
        Ok(Ok(Applied::All(replies))) => {
            health.committed(Ok(()));
            replies.into_iter().map(Ok).collect()
        }
        Ok(Ok(Applied::Failed(_))) | Err(_) if batch.len() > 1 => batch
            .iter()
            .flat_map(|r| commit(conn, std::slice::from_ref(r), health, stories))
            .collect(),
        Ok(Ok(Applied::Failed(e))) => {
            // A message can fail for its own reasons (a feed left the config); the database
            // is failing only when SQLite itself says so.
            let text = format!("{e:#}");
            health.committed(if is_database_failure(&e) {
                Err(&text)
            } else {
                Ok(())
            });
            vec![Err(text)]
        }
        Ok(Err(e)) => {
            let e = format!("{e:#}");
            health.committed(Err(&e));
            batch.iter().map(|_| Err(e.clone())).collect()
        }
        Err(panic) => vec![Err(format!(
            "internal error while writing: {}",
            panic_message(&panic)
        ))],
    }
}

pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".to_string())
}

/// Errors that mean the database cannot be written (as opposed to one message's problem).
fn is_database_failure(e: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode as C;
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(f, _)) if matches!(
                f.code,
                C::DatabaseBusy | C::DatabaseLocked | C::DiskFull | C::SystemIoFailure
                    | C::DatabaseCorrupt | C::NotADatabase | C::ReadOnly | C::CannotOpen
                    | C::OutOfMemory | C::FileLockingProtocolFailed
            )
        )
    })
}

/// How a batch went, when its transaction could run.
enum Applied {
    /// Every message applied and committed.
    All(Vec<Reply>),
    /// A message failed: nothing was committed.
    Failed(anyhow::Error),
}

/// `Err` only when the transaction itself failed (begin or commit): then nothing was written.
fn apply_batch(
    conn: &mut Connection,
    batch: &[Request],
    stories: &mut Stories,
) -> anyhow::Result<Applied> {
    // IMMEDIATE: take the write lock first (waiting on the busy timeout). A deferred
    // transaction that reads and then writes fails at once if another process wrote meanwhile.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut replies = Vec::with_capacity(batch.len());
    for req in batch {
        match apply(&tx, &req.op, stories) {
            Ok(r) => replies.push(r),
            // Dropping the transaction rolls the whole batch back.
            Err(e) => return Ok(Applied::Failed(e)),
        }
    }
    tx.commit()?;
    Ok(Applied::All(replies))
}

fn apply(tx: &Connection, op: &WriteOp, stories: &mut Stories) -> anyhow::Result<Reply> {
    match op {
        WriteOp::SyncFeeds(feeds) => queries::sync_feeds(tx, feeds).map(|()| Reply::Done),
        WriteOp::Poll(outcome) => ingest::complete_poll(tx, outcome, stories).map(Reply::Ingested),
        WriteOp::Prune { before, now } => {
            let pruned = super::prune::prune_batch(tx, *before, *now)?;
            if pruned.stories > 0 {
                // A retention shorter than the story window can remove stories it indexes.
                stories.mark_stale();
            }
            Ok(Reply::Pruned(pruned))
        }
        WriteOp::ResetFeed { name } => queries::reset_feed(tx, name).map(Reply::Found),
        WriteOp::AlertsSent { ids, at } => outbox::mark_sent(tx, ids, *at).map(|()| Reply::Done),
        WriteOp::AlertFailed {
            ids,
            error,
            retry_at,
        } => outbox::mark_attempt_failed(tx, ids, error, *retry_at).map(|()| Reply::Done),
        WriteOp::AlertsDeferred { ids, until, held } => {
            outbox::defer(tx, ids, *until, *held).map(|()| Reply::Done)
        }
        WriteOp::NotifierBackoff { notifier, until } => {
            outbox::back_off(tx, notifier, *until).map(|()| Reply::Done)
        }
        WriteOp::RetryAlerts { ids, now } => {
            outbox::retry(tx, ids, *now).map(|(n, missing)| Reply::Retried(n, missing))
        }
        WriteOp::Probe => Ok(Reply::Done),
    }
}
