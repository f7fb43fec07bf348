//! The end of a poll on PostgreSQL, in one transaction (one statement when there is nothing
//! but the state, as after a 304): the feed's new state (fenced: only while the claim is
//! still this node's), new and edited items, topic matches waiting for a story, feed-health
//! events. As on SQLite everything was decided before (keys, text, hashes,
//! matches, alert uids); this code looks up what it must and binds.
//!
//! Inserts are idempotent (`ON CONFLICT DO NOTHING RETURNING`): a feed polled again after an
//! expired lease finds its items stored and adds nothing. Alerts of topic matches are not
//! created here: the item has no story yet. They wait in `pending_alerts` until the
//! clusterer has assigned one (see `cluster::clusterer`).

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;

use crate::feed_state::FeedState;
use crate::store::{FeedEventAlert, IngestSummary, NewItem, PollOutcome};

/// What became of a poll's result.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    Recorded(IngestSummary),
    /// The claim was no longer ours: nothing was written.
    LeaseLost,
}

/// Record `outcome`, polled under the claim (`me`, `epoch`).
pub async fn complete_poll(
    client: &mut deadpool_postgres::Object,
    me: &str,
    epoch: i64,
    outcome: &PollOutcome,
) -> anyhow::Result<Completion> {
    let fence = Some((me, epoch));
    if outcome.items.is_empty() && outcome.still_listed.is_empty() && outcome.events.is_empty() {
        // A 304 or an unchanged feed: one statement, atomic by itself, in one round trip
        // instead of three (most polls of a large sweep).
        let stmt = client.prepare_cached(UPDATE_FEED_STATE).await?;
        let p = StateParams::new(&outcome.state, fence);
        return Ok(if client.execute(&stmt, &p.params()).await? == 1 {
            Completion::Recorded(IngestSummary::default())
        } else {
            Completion::LeaseLost
        });
    }
    let tx = client.transaction().await?;
    if !write_feed_state(&tx, &outcome.state, fence).await? {
        return Ok(Completion::LeaseLost);
    }
    let now = outcome.state.last_poll.unwrap_or_else(Utc::now);
    let mut summary = IngestSummary::default();
    for item in &outcome.items {
        store_item(&tx, outcome.state.id, now, item, &mut summary).await?;
    }
    if !outcome.still_listed.is_empty() {
        tx.execute(
            "UPDATE tombstones SET last_seen = $3 WHERE feed_id = $1 AND key = ANY($2)",
            &[&outcome.state.id, &outcome.still_listed, &now],
        )
        .await?;
    }
    summary.alerts_created += insert_feed_events(&tx, &outcome.events, now).await?;
    tx.commit().await?;
    Ok(Completion::Recorded(summary))
}

const UPDATE_FEED_STATE: &str = "UPDATE feeds SET url = $2, state = $3, title = $4, etag = $5,
     last_modified = $6, http_status = $7, last_poll = $8, last_ok = $9, error = $10,
     consecutive_errors = $11, next_poll = $12, retry_after = $13, key_mode = $14, held_by = $15,
     repairs = $16, doc_hint = $17, bucket = COALESCE($18, bucket), lease_owner = NULL,
     lease_until = NULL
     WHERE id = $1 AND ($19::text IS NULL OR (lease_owner = $19 AND lease_epoch = $20))";

/// The values `UPDATE_FEED_STATE` binds that are not fields of the state as they are.
struct StateParams<'a> {
    s: &'a FeedState,
    status: &'static str,
    http_status: Option<i32>,
    consecutive_errors: i32,
    key_mode: Option<&'static str>,
    repairs: Option<String>,
    doc_hint: Option<String>,
    bucket: Option<i32>,
    owner: Option<&'a str>,
    epoch: i64,
}

impl<'a> StateParams<'a> {
    fn new(s: &'a FeedState, fence: Option<(&'a str, i64)>) -> Self {
        let (owner, epoch) = match fence {
            Some((o, e)) => (Some(o), e),
            None => (None, 0),
        };
        StateParams {
            s,
            status: s.status.as_str(),
            http_status: s.http_status.map(i32::from),
            consecutive_errors: s.consecutive_errors.min(i32::MAX as u32) as i32,
            key_mode: s.key_mode.map(|k| k.as_str()),
            repairs: (!s.repairs.is_empty())
                .then(|| serde_json::to_string(&s.repairs).unwrap_or_default()),
            doc_hint: s.doc_hint.as_ref().map(|d| d.to_stored()),
            bucket: super::feeds::bucket_of_url(&s.url),
            owner,
            epoch,
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 20] {
        let s = self.s;
        [
            &s.id,
            &s.url,
            &self.status,
            &s.title,
            &s.validators.etag,
            &s.validators.last_modified,
            &self.http_status,
            &s.last_poll,
            &s.last_ok,
            &s.error,
            &self.consecutive_errors,
            &s.next_poll,
            &s.retry_after,
            &self.key_mode,
            &s.held_by,
            &self.repairs,
            &self.doc_hint,
            &self.bucket,
            &self.owner,
            &self.epoch,
        ]
    }
}

/// Persist the state the poller computed; with a fence, only while the claim is ours (and the
/// claim ends with it). `false` when the fence refused.
pub async fn write_feed_state(
    tx: &Transaction<'_>,
    s: &FeedState,
    fence: Option<(&str, i64)>,
) -> anyhow::Result<bool> {
    let stmt = tx.prepare_cached(UPDATE_FEED_STATE).await?;
    let p = StateParams::new(s, fence);
    Ok(tx.execute(&stmt, &p.params()).await? == 1)
}

/// The stored row an item is, if any: by key, or by its alias when the links agree.
async fn existing(
    tx: &Transaction<'_>,
    feed_id: i64,
    item: &NewItem,
) -> anyhow::Result<Option<(i64, String)>> {
    let by_key = tx
        .prepare_cached("SELECT id, content_hash FROM items WHERE feed_id = $1 AND key = $2")
        .await?;
    if let Some(r) = tx.query_opt(&by_key, &[&feed_id, &item.key]).await? {
        return Ok(Some((r.try_get(0)?, r.try_get(1)?)));
    }
    if let (Some(alias), Some(url)) = (&item.alias, &item.canonical_url) {
        let by_alias = tx
            .prepare_cached(
                "SELECT id, content_hash FROM items WHERE feed_id = $1 AND key = $2 AND canonical_url = $3",
            )
            .await?;
        if let Some(r) = tx.query_opt(&by_alias, &[&feed_id, alias, url]).await? {
            return Ok(Some((r.try_get(0)?, r.try_get(1)?)));
        }
    }
    Ok(None)
}

async fn store_item(
    tx: &Transaction<'_>,
    feed_id: i64,
    now: DateTime<Utc>,
    item: &NewItem,
    summary: &mut IngestSummary,
) -> anyhow::Result<()> {
    let raw_hash = &item.raw_hash[..];
    match existing(tx, feed_id, item).await? {
        Some((id, hash)) if hash == item.content_hash => {
            let stmt = tx
                .prepare_cached("UPDATE items SET raw_hash = $2 WHERE id = $1")
                .await?;
            tx.execute(&stmt, &[&id, &raw_hash]).await?;
        }
        Some((id, _)) => {
            // An edit: the row, its story and its alerts stay; a topic it matches for the
            // first time alerts once (through the clusterer, like a new item's).
            let stmt = tx
                .prepare_cached(
                    "UPDATE items SET guid = $2, title = $3, url = $4, canonical_url = $5, author = $6,
                     summary = $7, content = $8, categories = $9, published = COALESCE($10, published),
                     updated = $11, content_hash = $12, raw_hash = $13, signature = $14 WHERE id = $1",
                )
                .await?;
            let categories = serde_json::to_string(&item.categories)?;
            tx.execute(
                &stmt,
                &[
                    &id,
                    &item.guid,
                    &item.title,
                    &item.url,
                    &item.canonical_url,
                    &item.author,
                    &item.summary,
                    &item.content,
                    &categories,
                    &item.published,
                    &now,
                    &item.content_hash,
                    &raw_hash,
                    &item.signature_bytes,
                ],
            )
            .await?;
            summary.updated_items += 1;
            summary.alerts_created += record_matches(tx, item, id, now).await?;
        }
        None => {
            let pruned = tx
                .prepare_cached("SELECT 1 FROM tombstones WHERE feed_id = $1 AND key = $2")
                .await?;
            if tx
                .query_opt(&pruned, &[&feed_id, &item.key])
                .await?
                .is_some()
            {
                return Ok(());
            }
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO items (feed_id, key, guid, title, url, canonical_url, author, summary,
                     content, categories, published, first_seen, content_hash, raw_hash, signature)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11::timestamptz, $12), $12, $13, $14, $15)
                     ON CONFLICT (feed_id, key) DO NOTHING RETURNING id",
                )
                .await?;
            let categories = serde_json::to_string(&item.categories)?;
            let inserted = tx
                .query_opt(
                    &stmt,
                    &[
                        &feed_id,
                        &item.key,
                        &item.guid,
                        &item.title,
                        &item.url,
                        &item.canonical_url,
                        &item.author,
                        &item.summary,
                        &item.content,
                        &categories,
                        &item.published,
                        &now,
                        &item.content_hash,
                        &raw_hash,
                        &item.signature_bytes,
                    ],
                )
                .await?;
            // Nothing returned: a concurrent poll of the same feed stored it first.
            if let Some(r) = inserted {
                let id: i64 = r.try_get(0)?;
                summary.new_items += 1;
                summary.alerts_created += record_matches(tx, item, id, now).await?;
            }
        }
    }
    Ok(())
}

/// Which topics the item matches, and its alerts waiting for the item's story.
async fn record_matches(
    tx: &Transaction<'_>,
    item: &NewItem,
    item_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut pending = 0;
    for m in &item.matches {
        let topic = tx
            .prepare_cached(
                "INSERT INTO item_topics (item_id, topic, matched_terms) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        tx.execute(&topic, &[&item_id, &&*m.topic, &m.terms])
            .await?;
        let alert = tx
            .prepare_cached(
                "INSERT INTO pending_alerts (uid, item_id, topic, notifier, matched_terms, created)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .await?;
        for (notifier, uid) in &m.alerts {
            pending += tx
                .execute(
                    &alert,
                    &[uid, &item_id, &&*m.topic, &&**notifier, &m.terms, &now],
                )
                .await? as usize;
        }
    }
    Ok(pending)
}

/// Feed-health events have no story: straight into the outbox (the uid is unique).
async fn insert_feed_events(
    tx: &Transaction<'_>,
    events: &[FeedEventAlert],
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for e in events {
        let feed = serde_json::to_string(&e.feed)?;
        n += tx
            .execute(
                "INSERT INTO alerts (uid, event, notifier, feed_event, created, next_attempt)
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
                &[&e.uid, &e.kind.as_str(), &e.notifier, &feed, &now],
            )
            .await? as usize;
    }
    Ok(n)
}
