//! The feeds table on PostgreSQL: following the config, leased claims of due feeds, the
//! buckets and heartbeats that decide who may claim what, and the lookups the CPU stage makes.
//!
//! The claim (the job-queue pattern): a CTE picks due feeds of the buckets this node holds
//! `FOR UPDATE SKIP LOCKED`, and the `UPDATE … RETURNING` marks them taken: owner, a new
//! epoch, and `next_poll` moved to the lease's end, a visibility timeout: if the node dies,
//! the feed comes due again by itself. A bucket must outlive the lease of every feed claimed
//! in it, so a bucket handed over has no claim of the old holder left.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::cluster::lease::{BucketRow, bucket_of};
use crate::feed_state::{FeedState, Status};
use crate::fetch::Validators;
use crate::identity::KeyMode;
use crate::prepare::Known;
use crate::store::queries::FeedSync;

/// The columns [`state_from_row`] reads, in order.
pub const STATE_COLUMNS: &str = "f.id, f.name, f.url, f.state, f.title, f.etag, f.last_modified,
    f.http_status, f.last_poll, f.last_ok, f.error, f.consecutive_errors, f.next_poll,
    f.retry_after, f.key_mode, f.held_by, f.repairs, f.doc_hint";

pub fn state_from_row(r: &Row) -> anyhow::Result<FeedState> {
    Ok(FeedState {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        url: r.try_get(2)?,
        status: Status::parse(r.try_get(3)?),
        title: r.try_get(4)?,
        validators: Validators {
            etag: r.try_get(5)?,
            last_modified: r.try_get(6)?,
        },
        http_status: r
            .try_get::<_, Option<i32>>(7)?
            .and_then(|s| u16::try_from(s).ok()),
        last_poll: r.try_get(8)?,
        last_ok: r.try_get(9)?,
        error: r.try_get(10)?,
        consecutive_errors: u32::try_from(r.try_get::<_, i32>(11)?).unwrap_or(0),
        next_poll: r.try_get(12)?,
        retry_after: r.try_get(13)?,
        key_mode: r.try_get::<_, Option<&str>>(14)?.and_then(KeyMode::parse),
        held_by: r.try_get(15)?,
        repairs: r
            .try_get::<_, Option<&str>>(16)?
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default(),
        doc_hint: r
            .try_get::<_, Option<&str>>(17)?
            .and_then(crate::hints::DocHint::from_stored),
    })
}

/// The bucket of a URL's host, if it has one.
pub fn bucket_of_url(url: &str) -> Option<i32> {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(bucket_of))
}

/// One configured feed with the lease its polls get (from its schedule's interval).
pub struct SyncRow<'a> {
    pub feed: &'a FeedSync,
    pub poll_lease: Duration,
}

/// Make the feeds table follow the config, as `store::queries::sync_feeds` does on SQLite: a
/// new feed is due at once; a changed URL starts the feed over; a changed schedule is due no
/// later than its next tick. Several nodes may run it together (the upsert is one statement
/// per chunk of feeds).
pub async fn sync_feeds(
    client: &mut tokio_postgres::Client,
    rows: &[SyncRow<'_>],
) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    // Existing feeds first (the old schedule and URL are at hand in the SET expressions),
    // then the new ones; a node syncing at the same moment makes the insert a no-op.
    let update = tx
        .prepare(
            "UPDATE feeds f SET
               url = CASE WHEN f.config_url = t.u THEN f.url ELSE t.u END,
               bucket = CASE WHEN f.config_url = t.u THEN f.bucket ELSE t.b END,
               etag = CASE WHEN f.config_url = t.u THEN f.etag END,
               last_modified = CASE WHEN f.config_url = t.u THEN f.last_modified END,
               state = CASE WHEN f.config_url = t.u THEN f.state ELSE 'new' END,
               error = CASE WHEN f.config_url = t.u THEN f.error END,
               consecutive_errors = CASE WHEN f.config_url = t.u THEN f.consecutive_errors ELSE 0 END,
               key_mode = CASE WHEN f.config_url = t.u THEN f.key_mode END,
               next_poll = CASE
                 WHEN f.config_url <> t.u THEN now()
                 WHEN f.schedule IS DISTINCT FROM t.s AND f.consecutive_errors = 0
                      AND f.next_poll > t.tick THEN t.tick
                 ELSE f.next_poll END,
               schedule = t.s, poll_lease_ms = t.l, config_url = t.u
             FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::timestamptz[])
               AS t(n, u, s, b, l, tick)
             WHERE f.name = t.n",
        )
        .await?;
    let insert = tx
        .prepare(
            "INSERT INTO feeds (name, config_url, url, schedule, bucket, poll_lease_ms, next_poll)
             SELECT n, u, u, s, b, l, now()
             FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[]) AS t(n, u, s, b, l)
             ON CONFLICT (name) DO NOTHING",
        )
        .await?;
    for chunk in rows.chunks(5000) {
        let names: Vec<&str> = chunk.iter().map(|r| r.feed.name.as_str()).collect();
        let urls: Vec<&str> = chunk.iter().map(|r| r.feed.url.as_str()).collect();
        let schedules: Vec<&str> = chunk.iter().map(|r| r.feed.schedule.as_str()).collect();
        let buckets: Vec<i32> = chunk
            .iter()
            .map(|r| bucket_of_url(&r.feed.url).unwrap_or(0))
            .collect();
        let leases: Vec<i64> = chunk
            .iter()
            .map(|r| r.poll_lease.as_millis() as i64)
            .collect();
        let ticks: Vec<DateTime<Utc>> = chunk.iter().map(|r| r.feed.next_tick).collect();
        let params: [&(dyn ToSql + Sync); 6] =
            [&names, &urls, &schedules, &buckets, &leases, &ticks];
        tx.execute(&update, &params).await?;
        tx.execute(&insert, &params[..5]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A feed this node claimed: its state and the epoch that fences its completion.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub state: FeedState,
    pub epoch: i64,
    pub bucket: i32,
}

/// Claim up to `limit` due feeds of the buckets `me` holds, leaving out `busy` (polls this
/// node already has in hand).
pub async fn claim_due(
    client: &deadpool_postgres::ClientWrapper,
    me: &str,
    limit: usize,
    busy: &[i64],
) -> anyhow::Result<Vec<Claimed>> {
    let sql = format!(
        "WITH due AS (
           SELECT f.id FROM feeds f JOIN buckets b ON b.id = f.bucket
           WHERE b.owner = $1 AND b.lease_until > now() + f.poll_lease_ms * interval '1 ms'
             AND f.state <> 'gone' AND COALESCE(f.next_poll, '-infinity'::timestamptz) <= now()
             AND COALESCE(f.retry_after, '-infinity') <= now()
             AND NOT (f.id = ANY($3))
           -- the order of the index feeds_due: only due rows are read
           ORDER BY COALESCE(f.next_poll, '-infinity'::timestamptz), f.id
           LIMIT $2
           FOR UPDATE OF f SKIP LOCKED
         )
         UPDATE feeds f SET lease_owner = $1, lease_epoch = f.lease_epoch + 1,
           lease_until = now() + f.poll_lease_ms * interval '1 ms',
           next_poll = now() + f.poll_lease_ms * interval '1 ms'
         FROM due WHERE f.id = due.id
         RETURNING {STATE_COLUMNS}, f.lease_epoch, f.bucket"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &[&me, &(limit as i64), &busy]).await?;
    rows.iter()
        .map(|r| {
            Ok(Claimed {
                state: state_from_row(r)?,
                epoch: r.try_get(18)?,
                bucket: r.try_get(19)?,
            })
        })
        .collect()
}

/// Confirm and extend a claim before acting on it; `false` when it is no longer ours (the
/// lease expired and another node claimed the feed, or our bucket went).
pub async fn confirm(
    client: &tokio_postgres::Client,
    me: &str,
    feed_id: i64,
    epoch: i64,
) -> anyhow::Result<bool> {
    let n = client
        .execute(
            "UPDATE feeds f SET lease_until = now() + f.poll_lease_ms * interval '1 ms',
               next_poll = now() + f.poll_lease_ms * interval '1 ms'
             WHERE f.id = $2 AND f.lease_owner = $1 AND f.lease_epoch = $3
               AND EXISTS (SELECT 1 FROM buckets b WHERE b.id = f.bucket AND b.owner = $1
                           AND b.lease_until > now() + f.poll_lease_ms * interval '1 ms')",
            &[&me, &feed_id, &epoch],
        )
        .await?;
    Ok(n == 1)
}

/// Let go of a claim without a result (the feed is not in this node's config, or the node
/// stops): due again at `next_poll`.
pub async fn release(
    client: &tokio_postgres::Client,
    me: &str,
    feed_id: i64,
    epoch: i64,
    next_poll: DateTime<Utc>,
) -> anyhow::Result<()> {
    client
        .execute(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, next_poll = $4
             WHERE id = $2 AND lease_owner = $1 AND lease_epoch = $3",
            &[&me, &feed_id, &epoch, &next_poll],
        )
        .await?;
    Ok(())
}

/// When the next feed of `me`'s buckets is due, if any.
pub async fn next_due(
    client: &tokio_postgres::Client,
    me: &str,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(client
        .query_opt(
            // In the index's order, so that the first of our buckets' feeds ends the scan.
            "SELECT COALESCE(f.next_poll, '-infinity'::timestamptz) FROM feeds f
             JOIN buckets b ON b.id = f.bucket
             WHERE b.owner = $1 AND b.lease_until > now() AND f.state <> 'gone'
             ORDER BY COALESCE(f.next_poll, '-infinity'::timestamptz), f.id LIMIT 1",
            &[&me],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
}

/// What the store knows of `keys` in feed `feed_id` (as `prepare::known_entries` on SQLite).
pub async fn known_entries(
    client: &tokio_postgres::Client,
    feed_id: i64,
    keys: &[&str],
    now: DateTime<Utc>,
) -> anyhow::Result<HashMap<String, Known>> {
    let mut out = HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let stored = client
        .query(
            "SELECT key, raw_hash FROM items WHERE feed_id = $1 AND key = ANY($2) AND raw_hash IS NOT NULL",
            &[&feed_id, &keys],
        )
        .await?;
    for r in stored {
        out.insert(r.try_get::<_, String>(0)?, Known::Stored(r.try_get(1)?));
    }
    let pruned = client
        .query(
            "SELECT key, last_seen FROM tombstones WHERE feed_id = $1 AND key = ANY($2)",
            &[&feed_id, &keys],
        )
        .await?;
    let day_ago = now - chrono::Duration::days(1);
    for r in pruned {
        let key: String = r.try_get(0)?;
        let seen: DateTime<Utc> = r.try_get(1)?;
        out.entry(key).or_insert(Known::Pruned {
            stale: seen < day_ago,
        });
    }
    Ok(out)
}

/// Record that node `id` (named `name`) is alive.
pub async fn heartbeat(
    client: &tokio_postgres::Client,
    id: &str,
    name: &str,
    started: DateTime<Utc>,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO nodes (id, name, pid, version, started, heartbeat) VALUES ($1, $2, $3, $4, $5, now())
             ON CONFLICT (id) DO UPDATE SET heartbeat = now(), stopped = NULL",
            &[
                &id,
                &name,
                &(std::process::id() as i32),
                &env!("CARGO_PKG_VERSION"),
                &started,
            ],
        )
        .await?;
    Ok(())
}

/// The bucket table as `lease::plan_buckets` needs it, and how many nodes are live (a
/// heartbeat within `lease`, not stopped).
pub async fn bucket_view(
    client: &tokio_postgres::Client,
    lease: Duration,
) -> anyhow::Result<(Vec<BucketRow>, usize)> {
    let rows = client
        .query(
            "SELECT id, owner, lease_until > now() FROM buckets ORDER BY id",
            &[],
        )
        .await?;
    let buckets = rows
        .iter()
        .map(|r| {
            Ok(BucketRow {
                id: r.try_get(0)?,
                owner: r.try_get(1)?,
                live: r.try_get(2)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let live: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM nodes WHERE stopped IS NULL AND heartbeat > now() - $1 * interval '1 ms'",
            &[&(lease.as_millis() as f64)],
        )
        .await?
        .try_get(0)?;
    Ok((buckets, usize::try_from(live).unwrap_or(1).max(1)))
}

/// Apply a bucket plan: renew what is still ours, take what is still free, release the
/// extra (held for `hold` more, so the polls in flight end before another node claims). Returns
/// the buckets held afterwards.
pub async fn apply_buckets(
    client: &tokio_postgres::Client,
    me: &str,
    plan: &crate::cluster::lease::BucketPlan,
    lease: Duration,
    hold: Duration,
) -> anyhow::Result<Vec<i32>> {
    let ms = |d: Duration| d.as_millis() as f64;
    let mut held: Vec<i32> = Vec::new();
    if !plan.renew.is_empty() {
        for r in client
            .query(
                "UPDATE buckets SET lease_until = now() + $3 * interval '1 ms'
                 WHERE id = ANY($2) AND owner = $1 AND lease_until > now() RETURNING id",
                &[&me, &plan.renew, &ms(lease)],
            )
            .await?
        {
            held.push(r.try_get(0)?);
        }
    }
    if !plan.take.is_empty() {
        for r in client
            .query(
                "UPDATE buckets SET owner = $1, epoch = epoch + 1, lease_until = now() + $3 * interval '1 ms'
                 WHERE id = ANY($2) AND lease_until <= now() RETURNING id",
                &[&me, &plan.take, &ms(lease)],
            )
            .await?
        {
            held.push(r.try_get(0)?);
        }
    }
    if !plan.release.is_empty() {
        client
            .execute(
                "UPDATE buckets SET owner = NULL, lease_until = now() + $3 * interval '1 ms'
                 WHERE id = ANY($2) AND owner = $1",
                &[&me, &plan.release, &ms(hold)],
            )
            .await?;
    }
    held.sort_unstable();
    Ok(held)
}

/// A clean stop: the node's buckets and claims are let go at once (a killed node's expire).
pub async fn leave(client: &tokio_postgres::Client, me: &str) -> anyhow::Result<()> {
    client
        .execute(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, next_poll = now()
             WHERE lease_owner = $1 AND lease_until > now()",
            &[&me],
        )
        .await?;
    client
        .execute(
            "UPDATE buckets SET owner = NULL, lease_until = now() WHERE owner = $1",
            &[&me],
        )
        .await?;
    client
        .execute(
            "UPDATE leases SET owner = NULL, lease_until = now() WHERE owner = $1",
            &[&me],
        )
        .await?;
    client
        .execute("UPDATE nodes SET stopped = now() WHERE id = $1", &[&me])
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::lease::{BUCKETS, plan_buckets};
    use crate::cluster::pg::ingest::{Completion, complete_poll};
    use crate::cluster::pg::{client, migrate, testing};
    use crate::store::PollOutcome;

    fn feeds(n: usize) -> Vec<FeedSync> {
        (0..n)
            .map(|i| FeedSync {
                name: format!("f{i}"),
                url: format!("http://host{i}.example/feed.xml"),
                schedule: "*/15 * * * *|UTC".into(),
                next_tick: Utc::now() + chrono::Duration::minutes(15),
            })
            .collect()
    }

    async fn take_all(c: &tokio_postgres::Client, me: &str) -> Vec<i32> {
        let (rows, live) = bucket_view(c, Duration::from_secs(2)).await.unwrap();
        let plan = plan_buckets(me, &rows, live);
        let s = Duration::from_secs(2);
        apply_buckets(c, me, &plan, s, s).await.unwrap()
    }

    #[tokio::test]
    async fn claims_are_leased_fenced_and_come_due_again_when_they_expire() {
        let Some((pool, _)) = testdb().await else {
            return;
        };
        let latest = crate::cluster::pg::schema::latest();
        assert_eq!(
            migrate(&pool).await.unwrap(),
            (latest, latest),
            "a second migrate does nothing"
        );
        let mut c = client(&pool).await.unwrap();
        let list = feeds(3);
        let rows: Vec<SyncRow> = list
            .iter()
            .map(|f| SyncRow {
                feed: f,
                poll_lease: Duration::from_millis(300),
            })
            .collect();
        sync_feeds(&mut c, &rows).await.unwrap();
        sync_feeds(&mut c, &rows).await.unwrap();

        // No buckets, no claims.
        assert!(claim_due(&c, "a", 10, &[]).await.unwrap().is_empty());
        heartbeat(&c, "a", "a", Utc::now()).await.unwrap();
        assert_eq!(take_all(&c, "a").await.len(), BUCKETS as usize);
        // b is live too but finds nothing free: a's buckets are live.
        heartbeat(&c, "b", "b", Utc::now()).await.unwrap();
        assert!(take_all(&c, "b").await.is_empty());

        let first = claim_due(&c, "a", 10, &[]).await.unwrap();
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|f| f.epoch == 1));
        assert!(
            claim_due(&c, "a", 10, &[]).await.unwrap().is_empty(),
            "a claimed feed is not due again while its lease runs"
        );

        // A completion under the claim is recorded and ends it.
        let mut state = first[0].state.clone();
        state.last_poll = Some(Utc::now());
        state.next_poll = Some(Utc::now() + chrono::Duration::minutes(15));
        let outcome = PollOutcome {
            state: state.clone(),
            ..Default::default()
        };
        assert_eq!(
            complete_poll(&mut c, "b", 1, &outcome).await.unwrap(),
            Completion::LeaseLost,
            "another node's result is dropped"
        );
        assert!(matches!(
            complete_poll(&mut c, "a", first[0].epoch, &outcome)
                .await
                .unwrap(),
            Completion::Recorded(_)
        ));

        // The others' leases expire: they come due again, under a new epoch, and the old
        // claim's result is refused.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let again = claim_due(&c, "a", 10, &[]).await.unwrap();
        assert_eq!(
            again.len(),
            2,
            "the recorded feed is not due for 15 minutes"
        );
        assert!(again.iter().all(|f| f.epoch == 2));
        let stale = PollOutcome {
            state: again[0].state.clone(),
            ..Default::default()
        };
        assert_eq!(
            complete_poll(&mut c, "a", 1, &stale).await.unwrap(),
            Completion::LeaseLost
        );
        assert!(confirm(&c, "a", again[0].state.id, 2).await.unwrap());
        assert!(!confirm(&c, "a", again[0].state.id, 1).await.unwrap());

        // A clean stop lets everything go at once.
        leave(&c, "a").await.unwrap();
        assert_eq!(take_all(&c, "b").await.len(), BUCKETS as usize);
        let b = claim_due(&c, "b", 10, &[]).await.unwrap();
        assert_eq!(b.len(), 2);
    }

    async fn testdb() -> Option<(deadpool_postgres::Pool, crate::config::ClusterConfig)> {
        testing::db("a").await
    }
}
