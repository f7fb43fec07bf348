//! The shared outbox on PostgreSQL. Alert uids are unique, and so is (story, topic,
//! notifier): two nodes deciding the same alert collide instead of creating two.
//!
//! Delivery claims due rows the way polls claim feeds (`FOR UPDATE SKIP LOCKED`, then
//! `UPDATE … RETURNING` setting owner, a new epoch and the claim's end) and every record of an
//! attempt is fenced by (owner, epoch). Right before a message leaves, its claims are
//! confirmed and extended by one delivery lease, so no two nodes send one alert inside its
//! lease; a node stopped mid-send may still finish that one send after its claim ended, and
//! the receiver sees the same id twice (at least once, as on SQLite).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio_postgres::Row;

use super::client;
use crate::feed_state::HealthEvent;
use crate::notify::OutboxStore;
use crate::store::outbox::Due;
use crate::store::{
    AlertContext, AlertEvent, FeedEvent, FeedInfo, ItemInfo, Source, StoryInfo, TopicMatch, WriteOp,
};

/// A node's view of the outbox: its claims, by alert id, with their epochs.
pub struct PgOutbox {
    pool: Pool,
    me: String,
    lease: Duration,
    /// How long an idle dispatcher waits before looking again: alerts created on other nodes
    /// wake nobody here.
    look_again: Duration,
    claims: Mutex<HashMap<i64, i64>>,
}

const SELECT: &str =
    "SELECT a.id, a.uid, a.event, a.topic, a.notifier, a.matched_terms, a.attempts,
        a.created, a.held, a.feed_event,
        s.id, s.title, s.first_seen,
        f.name, i.title, i.url, i.published, i.author, i.summary, i.content, i.categories
     FROM alerts a
     LEFT JOIN stories s ON s.id = a.story_id
     LEFT JOIN items i ON i.id = a.item_id
     LEFT JOIN feeds f ON f.id = i.feed_id
     WHERE a.id = ANY($1)
     ORDER BY a.next_attempt, a.id";

impl PgOutbox {
    pub fn new(pool: Pool, me: &str, lease: Duration, look_again: Duration) -> Self {
        Self {
            pool,
            me: me.to_string(),
            lease,
            look_again,
            claims: Mutex::new(HashMap::new()),
        }
    }

    fn ms(&self) -> f64 {
        self.lease.as_millis() as f64
    }

    /// Claim due rows (of one notifier, or all) and read them as notifiers render them.
    async fn claim(&self, notifier: Option<&str>, limit: usize) -> anyhow::Result<Due> {
        let c = client(&self.pool).await?;
        let stmt = c
            .prepare_cached(
                "WITH due AS (
                   SELECT id FROM alerts
                   WHERE status = 'pending' AND next_attempt <= now()
                     AND (claim_until IS NULL OR claim_until <= now() OR claimed_by = $1)
                     AND ($3::text IS NULL OR notifier = $3)
                   ORDER BY next_attempt, id LIMIT $2
                   FOR UPDATE SKIP LOCKED
                 )
                 UPDATE alerts a SET claimed_by = $1, claim_epoch = a.claim_epoch + 1,
                   claim_until = now() + $4 * interval '1 ms'
                 FROM due WHERE a.id = due.id
                 RETURNING a.id, a.claim_epoch",
            )
            .await?;
        let rows = c
            .query(&stmt, &[&self.me, &(limit as i64), &notifier, &self.ms()])
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        {
            let mut claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
            for r in &rows {
                let (id, epoch): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                claims.insert(id, epoch);
                ids.push(id);
            }
        }
        let mut due = Due::default();
        if ids.is_empty() {
            return Ok(due);
        }
        for r in c.query(SELECT, &[&ids]).await? {
            match row_to_alert(&r)? {
                Ok(a) => due.alerts.push(a),
                Err(bad) => due.unreadable.push(bad),
            }
        }
        for a in &mut due.alerts {
            if let AlertEvent::Match(m) = &mut a.event {
                m.story.sources = story_sources(&c, m.story.id).await?;
            }
        }
        Ok(due)
    }

    /// The (id, epoch) pairs of `ids` this node claimed; the claims end with this record.
    fn take_claims(&self, ids: &[i64]) -> (Vec<i64>, Vec<i64>) {
        let mut claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
        ids.iter()
            .filter_map(|id| claims.remove(id).map(|e| (*id, e)))
            .unzip()
    }

    fn epochs(&self, ids: &[i64]) -> (Vec<i64>, Vec<i64>) {
        let claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
        ids.iter()
            .filter_map(|id| claims.get(id).map(|e| (*id, *e)))
            .unzip()
    }

    /// `UPDATE alerts SET {set}` for the claimed `ids`, fenced by owner and epoch.
    async fn fenced(
        &self,
        set: &str,
        ids: &[i64],
        extra: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> anyhow::Result<()> {
        let (ids, epochs) = self.take_claims(ids);
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE alerts a SET {set}, claim_until = NULL
             FROM unnest($1::bigint[], $2::bigint[]) AS c(id, epoch)
             WHERE a.id = c.id AND a.claimed_by = $3 AND a.claim_epoch = c.epoch"
        );
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&ids, &epochs, &self.me];
        params.extend_from_slice(extra);
        let c = client(&self.pool).await?;
        let n = c.execute(&sql, &params).await? as usize;
        if n < ids.len() {
            tracing::warn!(
                lost = ids.len() - n,
                "delivery claims ended before their result was recorded (this node was stopped or slow); another node owns those alerts now"
            );
        }
        Ok(())
    }
}

impl OutboxStore for PgOutbox {
    async fn due(self: &Arc<Self>, _now: DateTime<Utc>, limit: usize) -> anyhow::Result<Due> {
        self.claim(None, limit).await
    }

    async fn due_for_notifier(
        self: &Arc<Self>,
        notifier: String,
        _now: DateTime<Utc>,
        limit: usize,
    ) -> anyhow::Result<Due> {
        self.claim(Some(&notifier), limit).await
    }

    async fn rate_state(
        self: &Arc<Self>,
        notifier: String,
        since: DateTime<Utc>,
    ) -> anyhow::Result<(Vec<DateTime<Utc>>, usize)> {
        let c = client(&self.pool).await?;
        let sent = c
            .query(
                "SELECT DISTINCT sent FROM alerts WHERE notifier = $1 AND sent >= $2 ORDER BY sent",
                &[&notifier, &since],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<Vec<DateTime<Utc>>, _>>()?;
        let held: i64 = c
            .query_one(
                "SELECT COUNT(*) FROM alerts WHERE notifier = $1 AND status = 'pending' AND held",
                &[&notifier],
            )
            .await?
            .try_get(0)?;
        Ok((sent, usize::try_from(held).unwrap_or(0)))
    }

    async fn next_due(self: &Arc<Self>) -> anyhow::Result<Option<DateTime<Utc>>> {
        let c = client(&self.pool).await?;
        let t: Option<DateTime<Utc>> = c
            .query_one(
                "SELECT MIN(GREATEST(next_attempt, COALESCE(claim_until, '-infinity')))
                 FROM alerts WHERE status = 'pending'",
                &[],
            )
            .await?
            .try_get(0)?;
        let again = Utc::now() + chrono::Duration::from_std(self.look_again).unwrap_or_default();
        Ok(Some(t.map_or(again, |t| t.min(again))))
    }

    async fn write(&self, op: WriteOp) -> anyhow::Result<()> {
        match op {
            WriteOp::AlertsSent { ids, at } => {
                self.fenced(
                    "status = 'sent', attempts = a.attempts + 1, sent = $4, last_error = NULL, held = false",
                    &ids,
                    &[&at],
                )
                .await
            }
            WriteOp::AlertFailed {
                ids,
                error,
                retry_at: Some(t),
            } => {
                self.fenced(
                    "attempts = a.attempts + 1, last_error = $4, next_attempt = $5",
                    &ids,
                    &[&error, &t],
                )
                .await
            }
            WriteOp::AlertFailed {
                ids,
                error,
                retry_at: None,
            } => {
                self.fenced(
                    "attempts = a.attempts + 1, last_error = $4, status = 'failed', held = false",
                    &ids,
                    &[&error],
                )
                .await
            }
            WriteOp::AlertsDeferred { ids, until, held } => {
                self.fenced(
                    "next_attempt = $4, held = a.held OR $5",
                    &ids,
                    &[&until, &held],
                )
                .await
            }
            WriteOp::NotifierBackoff { notifier, until } => {
                let c = client(&self.pool).await?;
                c.execute(
                    "UPDATE alerts SET next_attempt = GREATEST(next_attempt, $2)
                     WHERE notifier = $1 AND status = 'pending'",
                    &[&notifier, &until],
                )
                .await?;
                Ok(())
            }
            other => anyhow::bail!("not an outbox record: {other:?}"),
        }
    }

    async fn confirm(&self, ids: Vec<i64>) -> anyhow::Result<bool> {
        let (ids, epochs) = self.epochs(&ids);
        if ids.is_empty() {
            return Ok(false);
        }
        let c = client(&self.pool).await?;
        let n = c
            .execute(
                "UPDATE alerts a SET claim_until = now() + $4 * interval '1 ms'
                 FROM unnest($1::bigint[], $2::bigint[]) AS c(id, epoch)
                 WHERE a.id = c.id AND a.claimed_by = $3 AND a.claim_epoch = c.epoch
                   AND a.status = 'pending'",
                &[&ids, &epochs, &self.me, &self.ms()],
            )
            .await? as usize;
        Ok(n == ids.len())
    }
}

fn text(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(crate::store::fmt_time)
}

/// A row as a notifier sees it, or its id and why it cannot be read (as on SQLite).
fn row_to_alert(r: &Row) -> anyhow::Result<Result<AlertContext, (i64, String)>> {
    let id: i64 = r.try_get(0)?;
    let event: String = r.try_get(2)?;
    let event = if event == "topic.match" {
        let Some(story_id) = r.try_get::<_, Option<i64>>(10)? else {
            return Ok(Err((id, "its story is no longer in the database".into())));
        };
        let summary: Option<String> = r.try_get(18)?;
        let content: Option<String> = r.try_get(19)?;
        let body = match summary.unwrap_or_default() {
            s if s.is_empty() => content.unwrap_or_default(),
            s => s,
        };
        AlertEvent::Match(TopicMatch {
            topic: r.try_get::<_, Option<String>>(3)?.unwrap_or_default(),
            matched_terms: serde_json::from_str(r.try_get(5)?).unwrap_or_default(),
            story: StoryInfo {
                id: story_id,
                title: r.try_get::<_, Option<String>>(11)?.unwrap_or_default(),
                first_seen: text(r.try_get(12)?).unwrap_or_default(),
                sources: Vec::new(),
            },
            item: ItemInfo {
                feed: r.try_get::<_, Option<String>>(13)?.unwrap_or_default(),
                title: r.try_get::<_, Option<String>>(14)?.unwrap_or_default(),
                url: r.try_get(15)?,
                published: text(r.try_get(16)?),
                author: r.try_get(17)?,
                summary: crate::text::excerpt(&body, 600),
                categories: r
                    .try_get::<_, Option<&str>>(20)?
                    .and_then(|c| serde_json::from_str(c).ok())
                    .unwrap_or_default(),
            },
        })
    } else {
        let Some(kind) = HealthEvent::parse(&event) else {
            return Ok(Err((id, format!("unknown event `{event}`"))));
        };
        let Some(feed) = r
            .try_get::<_, Option<&str>>(9)?
            .and_then(|j| serde_json::from_str::<FeedInfo>(j).ok())
        else {
            return Ok(Err((id, "its feed details cannot be read".into())));
        };
        AlertEvent::Feed(FeedEvent { kind, feed })
    };
    Ok(Ok(AlertContext {
        id,
        uid: r.try_get(1)?,
        notifier: r.try_get(4)?,
        attempts: u32::try_from(r.try_get::<_, i32>(6)?).unwrap_or(0),
        created: r.try_get(7)?,
        held: r.try_get(8)?,
        event,
    }))
}

async fn story_sources(c: &tokio_postgres::Client, story: i64) -> anyhow::Result<Vec<Source>> {
    let rows = c
        .query(
            "SELECT f.name, i.url FROM items i JOIN feeds f ON f.id = i.feed_id
             WHERE i.story_id = $1 ORDER BY i.first_seen, i.id",
            &[&story],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Source {
                feed: r.try_get(0)?,
                url: r.try_get(1)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::pg::testing;

    async fn status(c: &tokio_postgres::Client) -> Vec<String> {
        c.query("SELECT status FROM alerts ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    #[tokio::test]
    async fn a_delivery_claim_is_exclusive_and_a_lost_one_records_nothing() {
        let Some((pool, _)) = testing::db("a").await else {
            return;
        };
        let c = client(&pool).await.unwrap();
        c.batch_execute(
            "INSERT INTO alerts (uid, event, notifier, feed_event, created, next_attempt) VALUES
               ('e1', 'feed.failing', 'ops', '{\"name\":\"f\",\"url\":\"http://f/\",\"error\":\"HTTP 500\",\"consecutive_errors\":3,\"http_status\":500,\"last_ok\":null,\"at\":\"2026-01-01T00:00:00.000Z\"}', now(), now()),
               ('e2', 'feed.gone', 'ops', '{\"name\":\"g\",\"url\":\"http://g/\",\"error\":null,\"consecutive_errors\":0,\"http_status\":410,\"last_ok\":null,\"at\":\"2026-01-01T00:00:00.000Z\"}', now(), now());",
        )
        .await
        .unwrap();
        let lease = Duration::from_secs(30);
        let a = Arc::new(PgOutbox::new(pool.clone(), "a", lease, lease));
        let b = Arc::new(PgOutbox::new(pool.clone(), "b", lease, lease));
        let due = a.due(Utc::now(), 10).await.unwrap();
        assert_eq!(due.alerts.len(), 2);
        assert_eq!(due.alerts[0].event_name(), "feed.failing");
        assert!(
            b.due(Utc::now(), 10).await.unwrap().alerts.is_empty(),
            "claimed by a"
        );
        let ids: Vec<i64> = due.alerts.iter().map(|x| x.id).collect();
        assert!(a.confirm(ids.clone()).await.unwrap());

        // a's claims run out (a was stopped); b claims them, a may no longer send or record.
        c.batch_execute("UPDATE alerts SET claim_until = now() - interval '1 second'")
            .await
            .unwrap();
        assert_eq!(b.due(Utc::now(), 10).await.unwrap().alerts.len(), 2);
        assert!(!a.confirm(ids.clone()).await.unwrap());
        a.write(WriteOp::AlertsSent {
            ids: ids.clone(),
            at: Utc::now(),
        })
        .await
        .unwrap();
        assert_eq!(
            status(&c).await,
            ["pending", "pending"],
            "a's ack was fenced out"
        );
        assert!(b.confirm(ids.clone()).await.unwrap());
        b.write(WriteOp::AlertsSent {
            ids,
            at: Utc::now(),
        })
        .await
        .unwrap();
        assert_eq!(status(&c).await, ["sent", "sent"]);
        assert_eq!(
            b.rate_state("ops".into(), Utc::now() - chrono::Duration::hours(1))
                .await
                .unwrap()
                .0
                .len(),
            1,
            "one message time"
        );
    }
}
