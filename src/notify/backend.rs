//! What the dispatcher needs of a database: due alerts, a notifier's recent messages, the
//! next due time, recording attempts (the writer's alert messages) and, right before a message
//! leaves, whether its alerts are still ours to send. The SQLite store answers from its
//! read pool and writer; a cluster node claims due rows with a lease (`cluster::pg::outbox`).

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::store::outbox::{self, Due};
use crate::store::{Store, WriteOp};

pub trait OutboxStore: Send + Sync + 'static {
    /// Pending alerts due at `now`, oldest first, at most `limit`.
    fn due(
        self: &Arc<Self>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = anyhow::Result<Due>> + Send;

    /// As [`due`](Self::due), for one notifier (a digest gathers all of its due alerts).
    fn due_for_notifier(
        self: &Arc<Self>,
        notifier: String,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = anyhow::Result<Due>> + Send;

    /// When this notifier's messages went out since `since`, and how many of its pending
    /// alerts its rate limit holds.
    fn rate_state(
        self: &Arc<Self>,
        notifier: String,
        since: DateTime<Utc>,
    ) -> impl Future<Output = anyhow::Result<(Vec<DateTime<Utc>>, usize)>> + Send;

    /// When the dispatcher should look again, if ever.
    fn next_due(
        self: &Arc<Self>,
    ) -> impl Future<Output = anyhow::Result<Option<DateTime<Utc>>>> + Send;

    /// Record an attempt: one of the writer's alert messages.
    fn write(&self, op: WriteOp) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Right before a message with these alerts leaves: are they still this process's to
    /// send? (A cluster node confirms and extends its claims; one process alone always is.)
    fn confirm(&self, ids: Vec<i64>) -> impl Future<Output = anyhow::Result<bool>> + Send;
}

impl OutboxStore for Store {
    async fn due(self: &Arc<Self>, now: DateTime<Utc>, limit: usize) -> anyhow::Result<Due> {
        self.read_async(move |c| outbox::due_alerts(c, now, limit))
            .await
    }

    async fn due_for_notifier(
        self: &Arc<Self>,
        notifier: String,
        now: DateTime<Utc>,
        limit: usize,
    ) -> anyhow::Result<Due> {
        self.read_async(move |c| outbox::due_for_notifier(c, &notifier, now, limit))
            .await
    }

    async fn rate_state(
        self: &Arc<Self>,
        notifier: String,
        since: DateTime<Utc>,
    ) -> anyhow::Result<(Vec<DateTime<Utc>>, usize)> {
        self.read_async(move |c| {
            Ok((
                outbox::sent_since(c, &notifier, since)?,
                outbox::held_pending(c, &notifier)?,
            ))
        })
        .await
    }

    async fn next_due(self: &Arc<Self>) -> anyhow::Result<Option<DateTime<Utc>>> {
        self.read_async(outbox::next_due).await
    }

    async fn write(&self, op: WriteOp) -> anyhow::Result<()> {
        self.writer().call(op).await.map(drop)
    }

    async fn confirm(&self, _ids: Vec<i64>) -> anyhow::Result<bool> {
        Ok(true)
    }
}
