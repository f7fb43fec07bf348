//! The clusterer: one node at a time gives new items their story and turns their matches
//! into alerts, with the same rules and in-memory candidate index as the SQLite writer
//! (`store::stories`).
//!
//! The role is a row of `leases`, taken when its lease has expired and renewed by its holder
//! (not an advisory lock: those belong to a session, which PgBouncer's transaction pooling
//! shares between clients). Every batch runs in one transaction whose first statement renews
//! the lease under the holder's epoch; a node that lost the role (stopped past its lease) has
//! its batch refused. A node that takes the role over rebuilds the index from the stored
//! signatures of the window, so a failover costs one read of the window's items.
//!
//! The alternative is a band table: each signature's LSH bands stored as rows
//! `(band, hash, story_id)` with an index, candidates found by a join, so any node could assign
//! stories without shared memory. It would remove the failover rebuild and the single
//! clusterer's throughput limit, at the price of a table several times the size of the items
//! and an index write per band per item on every insert. One clusterer assigns thousands of
//! items a second (the same code as SQLite's writer), more than the polling of a million
//! feeds produces, so the band table waits until that is measured to be the limit.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Pool, Transaction};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::lease::heartbeat_every;
use super::pg::client;
use crate::store::stories::text_of;
use crate::stories::{self, Features, Signature, StoryIndex};

/// Items assigned per transaction at most.
const BATCH: i64 = 500;

pub struct Clusterer {
    pool: Pool,
    me: String,
    lease: Duration,
    window: Duration,
    index: StoryIndex,
    /// The epoch under which `index` was built; `None` when it must be rebuilt.
    epoch: Option<i64>,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub leader: bool,
    pub assigned: usize,
    pub alerts: usize,
}

impl Clusterer {
    pub fn new(pool: Pool, me: &str, lease: Duration, window: Duration) -> Self {
        Self {
            pool,
            me: me.to_string(),
            lease,
            window,
            index: StoryIndex::new(window),
            epoch: None,
        }
    }

    /// Take or keep the role and assign every pending item, every heartbeat (sooner when
    /// `work` is notified: this node stored new items). `alerts` is notified when alerts
    /// were created.
    pub async fn run(mut self, work: Arc<Notify>, alerts: Arc<Notify>, stop: CancellationToken) {
        loop {
            match self.round().await {
                Ok(r) if r.alerts > 0 => alerts.notify_one(),
                Ok(_) => {}
                Err(e) => {
                    // Whatever the index saw may not have committed.
                    self.epoch = None;
                    tracing::error!(error = %format!("{e:#}"), "clusterer round failed; trying again");
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = work.notified() => {}
                _ = tokio::time::sleep(heartbeat_every(self.lease)) => {}
            }
        }
    }

    /// One round: the role, then batches until no item waits.
    pub async fn round(&mut self) -> anyhow::Result<Round> {
        let mut round = Round::default();
        let Some(epoch) = self.acquire().await? else {
            self.epoch = None;
            return Ok(round);
        };
        round.leader = true;
        if self.epoch != Some(epoch) {
            let n = self.rebuild().await?;
            tracing::info!(epoch, indexed = n, "this node is the clusterer now");
            self.epoch = Some(epoch);
        }
        loop {
            match self.batch(epoch).await {
                Ok(Some((assigned, alerts))) => {
                    round.assigned += assigned;
                    round.alerts += alerts;
                    if (assigned as i64) < BATCH {
                        return Ok(round);
                    }
                }
                Ok(None) => {
                    tracing::warn!(epoch, "lost the clusterer role");
                    self.epoch = None;
                    round.leader = false;
                    return Ok(round);
                }
                Err(e) => {
                    self.epoch = None;
                    return Err(e);
                }
            }
        }
    }

    /// Take the role if it is free (a new epoch) or renew it if ours; the epoch, or `None`
    /// when another node holds it.
    async fn acquire(&self) -> anyhow::Result<Option<i64>> {
        let c = client(&self.pool).await?;
        let row = c
            .query_opt(
                "UPDATE leases SET
                   epoch = CASE WHEN owner = $1 AND lease_until > now() THEN epoch ELSE epoch + 1 END,
                   owner = $1, lease_until = now() + $2 * interval '1 ms'
                 WHERE name = 'clusterer'
                   AND ((owner = $1 AND lease_until > now()) OR lease_until <= now())
                 RETURNING epoch",
                &[&self.me, &(self.lease.as_millis() as f64)],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// The index from the stored signatures of the window's assigned items.
    async fn rebuild(&mut self) -> anyhow::Result<usize> {
        let c = client(&self.pool).await?;
        let since = Utc::now() - chrono::Duration::from_std(self.window).unwrap_or_default();
        let rows = c
            .query(
                "SELECT story_id, feed_id, first_seen, signature, title, summary, content FROM items
                 WHERE first_seen >= $1 AND story_id IS NOT NULL ORDER BY first_seen, id",
                &[&since],
            )
            .await?;
        let mut index = StoryIndex::new(self.window);
        for r in &rows {
            let at: DateTime<Utc> = r.try_get(2)?;
            let stored: Option<&[u8]> = r.try_get(3)?;
            let sig = match stored.and_then(Signature::from_bytes) {
                Some(s) => s,
                None => {
                    let (title, summary, content): (&str, &str, &str) =
                        (r.try_get(4)?, r.try_get(5)?, r.try_get(6)?);
                    Signature::new(title, text_of(summary, content))
                }
            };
            if !sig.is_empty() {
                index.insert(r.try_get(0)?, r.try_get(1)?, at.timestamp(), &sig);
            }
        }
        self.index = index;
        Ok(rows.len())
    }

    /// One transaction: renew the role under `epoch` (else `None`), give up to [`BATCH`]
    /// items their story, move the matches of every item that has one into the outbox.
    async fn batch(&mut self, epoch: i64) -> anyhow::Result<Option<(usize, usize)>> {
        let mut c = client(&self.pool).await?;
        let tx = c.transaction().await?;
        let renewed = tx
            .execute(
                "UPDATE leases SET lease_until = now() + $3 * interval '1 ms'
                 WHERE name = 'clusterer' AND owner = $1 AND epoch = $2 AND lease_until > now()",
                &[&self.me, &epoch, &(self.lease.as_millis() as f64)],
            )
            .await?;
        if renewed != 1 {
            return Ok(None);
        }
        let items = tx
            .query(
                "SELECT id, feed_id, title, summary, content, canonical_url, first_seen, signature
                 FROM items WHERE story_id IS NULL ORDER BY id LIMIT $1",
                &[&BATCH],
            )
            .await?;
        for r in &items {
            let item = Pending {
                id: r.try_get(0)?,
                feed_id: r.try_get(1)?,
                title: r.try_get(2)?,
                summary: r.try_get(3)?,
                content: r.try_get(4)?,
                canonical_url: r.try_get(5)?,
                first_seen: r.try_get(6)?,
                signature: r
                    .try_get::<_, Option<&[u8]>>(7)?
                    .and_then(Signature::from_bytes),
            };
            let story = self.story_for(&tx, &item).await?;
            tx.execute(
                "UPDATE items SET story_id = $2 WHERE id = $1",
                &[&item.id, &story],
            )
            .await?;
        }
        // One statement (one snapshot): a match committed meanwhile is either moved here or
        // left for the next round, never deleted unmoved.
        let alerts = tx
            .execute(
                "WITH moved AS (
                   DELETE FROM pending_alerts p USING items i
                   WHERE i.id = p.item_id AND i.story_id IS NOT NULL
                   RETURNING p.uid, i.story_id, p.item_id, p.topic, p.notifier, p.matched_terms, p.created
                 )
                 INSERT INTO alerts (uid, story_id, item_id, topic, notifier, matched_terms, created, next_attempt)
                 SELECT uid, story_id, item_id, topic, notifier, matched_terms, created, created
                 FROM moved ORDER BY created, item_id, uid
                 ON CONFLICT DO NOTHING",
                &[],
            )
            .await?;
        tx.commit().await?;
        Ok(Some((items.len(), alerts as usize)))
    }

    /// The story of `item`: by link, then by text, else a new one (the rules of
    /// `store::stories::Stories::story_for`).
    async fn story_for(&mut self, tx: &Transaction<'_>, item: &Pending) -> anyhow::Result<i64> {
        let at = item.first_seen.timestamp();
        self.index
            .evict_older_than(at - self.window.as_secs() as i64);
        let joined = match self.url_join(tx, item).await? {
            Some(s) => Some(s),
            None => self.text_join(tx, item).await?,
        };
        let story = match joined {
            Some(s) => s,
            None => tx
                .query_one(
                    "INSERT INTO stories (title, first_seen) VALUES ($1, $2) RETURNING id",
                    &[&item.title, &item.first_seen],
                )
                .await?
                .try_get(0)?,
        };
        if let Some(sig) = &item.signature {
            self.index.insert(story, item.feed_id, at, sig);
        }
        Ok(story)
    }

    fn since(&self, item: &Pending) -> DateTime<Utc> {
        item.first_seen - chrono::Duration::from_std(self.window).unwrap_or_default()
    }

    async fn text_join(&self, tx: &Transaction<'_>, item: &Pending) -> anyhow::Result<Option<i64>> {
        let Some(sig) = &item.signature else {
            return Ok(None);
        };
        let Some((story, _)) = self
            .index
            .best(sig, item.feed_id, item.first_seen.timestamp())
        else {
            return Ok(None);
        };
        let new = Features::new(&item.title, text_of(&item.summary, &item.content));
        let rows = tx
            .query(
                "SELECT feed_id, title, summary, content FROM items WHERE story_id = $1 AND first_seen >= $2",
                &[&story, &self.since(item)],
            )
            .await?;
        for r in &rows {
            let (feed, title, summary, content): (i64, &str, &str, &str) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            let same_feed = feed == item.feed_id;
            if same_feed && !stories::same_feed_titles_agree(&item.title, title) {
                continue;
            }
            let old = Features::new(title, text_of(summary, content));
            if new.similarity(&old).joins(same_feed) {
                return Ok(Some(story));
            }
        }
        Ok(None)
    }

    async fn url_join(&self, tx: &Transaction<'_>, item: &Pending) -> anyhow::Result<Option<i64>> {
        let Some(url) = &item.canonical_url else {
            return Ok(None);
        };
        let Some(r) = tx
            .query_opt(
                "SELECT story_id, feed_id, first_seen FROM items
                 WHERE canonical_url = $1 AND feed_id <> $2 AND first_seen >= $3 AND story_id IS NOT NULL
                 ORDER BY id LIMIT 1",
                &[url, &item.feed_id, &self.since(item)],
            )
            .await?
        else {
            return Ok(None);
        };
        let (story, other, seen): (i64, i64, DateTime<Utc>) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let count = async |feed: i64| -> anyhow::Result<usize> {
            let n: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM items WHERE canonical_url = $1 AND feed_id = $2 LIMIT 3) t",
                    &[url, &feed],
                )
                .await?
                .try_get(0)?;
            Ok(usize::try_from(n).unwrap_or(0))
        };
        let apart = (item.first_seen - seen).num_seconds();
        // The item itself is stored already: its feed's count includes it.
        let allowed = stories::url_join_allowed(
            url,
            count(item.feed_id).await?,
            count(other).await?,
            apart,
            self.window,
        );
        Ok(allowed.then_some(story))
    }
}

/// An item waiting for its story.
struct Pending {
    id: i64,
    feed_id: i64,
    title: String,
    summary: String,
    content: String,
    canonical_url: Option<String>,
    first_seen: DateTime<Utc>,
    signature: Option<Signature>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::pg::testing;

    /// Two outlets' copies of one article (same link) and an unrelated item, each with a
    /// pending alert for the same topic and notifier.
    async fn seed(c: &tokio_postgres::Client) {
        c.batch_execute(
            "INSERT INTO feeds (id, name, config_url, url, bucket, poll_lease_ms) VALUES
               (1, 'a', 'http://a/', 'http://a/', 0, 1000), (2, 'b', 'http://b/', 'http://b/', 0, 1000);
             INSERT INTO items (id, feed_id, key, title, canonical_url, summary, content, first_seen, content_hash) VALUES
               (1, 1, 'k1', 'Talks in Beijing', 'https://wire.example/story-1', '', 'Lavrov met Wang in Beijing', now(), 'h'),
               (2, 2, 'k2', 'Beijing talks', 'https://wire.example/story-1', '', 'Lavrov and Wang met', now(), 'h'),
               (3, 2, 'k3', 'Harvest report', 'https://wire.example/story-2', '', 'Wheat prices fell', now(), 'h');
             INSERT INTO pending_alerts (uid, item_id, topic, notifier, matched_terms, created) VALUES
               ('u1', 1, 't', 'n', '[]', now()), ('u2', 2, 't', 'n', '[]', now()), ('u3', 3, 't', 'n', '[]', now());",
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn one_clusterer_assigns_stories_and_a_deposed_one_writes_nothing() {
        let Some((pool, _)) = testing::db("a").await else {
            return;
        };
        let c = client(&pool).await.unwrap();
        seed(&c).await;
        let lease = Duration::from_secs(30);
        let window = Duration::from_secs(72 * 3600);
        let mut a = Clusterer::new(pool.clone(), "a", lease, window);
        let mut b = Clusterer::new(pool.clone(), "b", lease, window);

        let r = a.round().await.unwrap();
        assert_eq!(
            r,
            Round {
                leader: true,
                assigned: 3,
                alerts: 2
            },
            "the two copies share a story: one alert for it, one for the other story"
        );
        assert!(!b.round().await.unwrap().leader, "a holds the role");
        let stories: i64 = c
            .query_one("SELECT COUNT(DISTINCT story_id) FROM items", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(stories, 2);
        let waiting: i64 = c
            .query_one("SELECT COUNT(*) FROM pending_alerts", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(waiting, 0, "every match left pending_alerts");

        // a's lease runs out (a was stopped): b takes over under a new epoch and assigns a
        // new copy; a, resumed, finds the role gone and writes nothing.
        c.batch_execute("UPDATE leases SET lease_until = now() - interval '1 second'")
            .await
            .unwrap();
        c.batch_execute(
            "INSERT INTO items (id, feed_id, key, title, canonical_url, summary, content, first_seen, content_hash)
             VALUES (4, 1, 'k4', 'Wheat falls', 'https://wire.example/story-2', '', 'Prices of wheat fell', now(), 'h');
             INSERT INTO pending_alerts (uid, item_id, topic, notifier, matched_terms, created)
             VALUES ('u4', 4, 't', 'n', '[]', now());",
        )
        .await
        .unwrap();
        let r = b.round().await.unwrap();
        assert!(r.leader);
        assert_eq!((r.assigned, r.alerts), (1, 0), "the story already alerted");
        assert!(!a.round().await.unwrap().leader);
        let joined: i64 = c
            .query_one(
                "SELECT COUNT(DISTINCT story_id) FROM items WHERE canonical_url = 'https://wire.example/story-2'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            joined, 1,
            "the new leader's rebuilt index and link rule joined it"
        );
        let alerts: i64 = c
            .query_one("SELECT COUNT(*) FROM alerts", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(alerts, 2);
    }
}
