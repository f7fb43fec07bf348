//! `feedwatch migrate --copy-from FILE`: a SQLite database into a new PostgreSQL one, so an
//! installation outgrowing one machine keeps its history: feeds with their state (validators,
//! backoff, next poll), stories, items (with their keys, so nothing becomes new again),
//! matches, the outbox (sent, failed and pending alerts keep their uids) and tombstones.
//! Row ids are kept, then each sequence moves past them. One transaction: a copy that fails
//! leaves the PostgreSQL database as it was.
//!
//! Stop the SQLite daemon first; start the nodes after. The copy refuses a PostgreSQL
//! database that already has feeds.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::lease;
use super::pg::client;
use super::pg::feeds::bucket_of_url;
use crate::config::Config;
use crate::store::{Store, parse_time};

/// How many rows of each kind were copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub feeds: usize,
    pub stories: usize,
    pub items: usize,
    pub alerts: usize,
    pub tombstones: usize,
}

impl std::fmt::Display for Copied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} feeds, {} stories, {} items, {} alerts, {} tombstones",
            self.feeds, self.stories, self.items, self.alerts, self.tombstones
        )
    }
}

fn t(s: Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref().and_then(parse_time)
}

type Params = Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>;

/// Rows of one SQLite query, each turned into PostgreSQL parameters by `row`.
fn rows(
    store: &Store,
    sql: &str,
    row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Params>,
) -> anyhow::Result<Vec<Params>> {
    store.read(|c| {
        let mut stmt = c.prepare(sql)?;
        let out = stmt
            .query_map([], |r| row(r))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    })
}

/// Copy the SQLite database at `path` into `pool`'s (already migrated) database.
pub async fn from_sqlite(path: &Path, pool: &Pool, config: &Config) -> anyhow::Result<Copied> {
    let store = Store::open_existing(path, config.daemon.store)
        .with_context(|| format!("opening {}", path.display()))?;
    let lease_cfg = config
        .daemon
        .cluster
        .as_ref()
        .map_or(std::time::Duration::from_secs(75), |c| c.lease);
    let now = Utc::now();
    let feeds = rows(
        &store,
        "SELECT id, name, config_url, url, title, state, etag, last_modified, http_status, last_poll,
                last_ok, error, consecutive_errors, next_poll, retry_after, schedule, key_mode,
                held_by, repairs, doc_hint FROM feeds ORDER BY id",
        |r| {
            let name: String = r.get(1)?;
            let url: String = r.get(3)?;
            let interval = config.feed(&name).and_then(|f| {
                config
                    .schedule_of(f)
                    .period_after(now, config.daemon.timezone)
            });
            let poll_lease = lease::poll_lease(lease_cfg, config.daemon.timeout, interval);
            Ok(vec![
                Box::new(r.get::<_, i64>(0)?),
                Box::new(name),
                Box::new(r.get::<_, String>(2)?),
                Box::new(bucket_of_url(&url).unwrap_or(0)),
                Box::new(url),
                Box::new(r.get::<_, Option<String>>(4)?),
                Box::new(r.get::<_, String>(5)?),
                Box::new(r.get::<_, Option<String>>(6)?),
                Box::new(r.get::<_, Option<String>>(7)?),
                Box::new(r.get::<_, Option<i32>>(8)?),
                Box::new(t(r.get(9)?)),
                Box::new(t(r.get(10)?)),
                Box::new(r.get::<_, Option<String>>(11)?),
                Box::new(r.get::<_, i32>(12)?),
                Box::new(t(r.get(13)?)),
                Box::new(t(r.get(14)?)),
                Box::new(r.get::<_, Option<String>>(15)?),
                Box::new(r.get::<_, Option<String>>(16)?),
                Box::new(r.get::<_, Option<String>>(17)?),
                Box::new(r.get::<_, Option<String>>(18)?),
                Box::new(r.get::<_, Option<String>>(19)?),
                Box::new(poll_lease.as_millis() as i64),
            ])
        },
    )?;
    let stories = rows(
        &store,
        "SELECT id, title, first_seen FROM stories ORDER BY id",
        |r| {
            Ok(vec![
                Box::new(r.get::<_, i64>(0)?),
                Box::new(r.get::<_, String>(1)?),
                Box::new(t(r.get(2)?).unwrap_or(now)),
            ])
        },
    )?;
    let items = rows(
        &store,
        "SELECT id, feed_id, key, guid, title, url, canonical_url, author, summary, content,
                categories, published, first_seen, updated, content_hash, raw_hash, signature, story_id
         FROM items ORDER BY id",
        |r| {
            Ok(vec![
                Box::new(r.get::<_, i64>(0)?),
                Box::new(r.get::<_, i64>(1)?),
                Box::new(r.get::<_, String>(2)?),
                Box::new(r.get::<_, Option<String>>(3)?),
                Box::new(r.get::<_, String>(4)?),
                Box::new(r.get::<_, Option<String>>(5)?),
                Box::new(r.get::<_, Option<String>>(6)?),
                Box::new(r.get::<_, Option<String>>(7)?),
                Box::new(r.get::<_, String>(8)?),
                Box::new(r.get::<_, String>(9)?),
                Box::new(r.get::<_, String>(10)?),
                Box::new(t(r.get(11)?)),
                Box::new(t(r.get(12)?).unwrap_or(now)),
                Box::new(t(r.get(13)?)),
                Box::new(r.get::<_, String>(14)?),
                Box::new(r.get::<_, Option<Vec<u8>>>(15)?),
                Box::new(r.get::<_, Option<Vec<u8>>>(16)?),
                Box::new(r.get::<_, i64>(17)?),
            ])
        },
    )?;
    let topics = rows(
        &store,
        "SELECT item_id, topic, matched_terms FROM item_topics",
        |r| {
            Ok(vec![
                Box::new(r.get::<_, i64>(0)?),
                Box::new(r.get::<_, String>(1)?),
                Box::new(r.get::<_, String>(2)?),
            ])
        },
    )?;
    let alerts = rows(
        &store,
        "SELECT id, uid, event, story_id, item_id, topic, notifier, matched_terms, feed_event,
                status, attempts, last_error, created, sent, next_attempt, held FROM alerts ORDER BY id",
        |r| {
            Ok(vec![
                Box::new(r.get::<_, i64>(0)?),
                Box::new(r.get::<_, String>(1)?),
                Box::new(r.get::<_, String>(2)?),
                Box::new(r.get::<_, Option<i64>>(3)?),
                Box::new(r.get::<_, Option<i64>>(4)?),
                Box::new(r.get::<_, Option<String>>(5)?),
                Box::new(r.get::<_, String>(6)?),
                Box::new(r.get::<_, String>(7)?),
                Box::new(r.get::<_, Option<String>>(8)?),
                Box::new(r.get::<_, String>(9)?),
                Box::new(r.get::<_, i32>(10)?),
                Box::new(r.get::<_, Option<String>>(11)?),
                Box::new(t(r.get(12)?).unwrap_or(now)),
                Box::new(t(r.get(13)?)),
                Box::new(t(r.get(14)?).unwrap_or(now)),
                Box::new(r.get::<_, i64>(15)? != 0),
            ])
        },
    )?;
    let tombstones = rows(
        &store,
        "SELECT feed_id, key, last_seen FROM tombstones",
        |r| {
            Ok(vec![
                Box::new(r.get::<_, i64>(0)?),
                Box::new(r.get::<_, String>(1)?),
                Box::new(t(r.get(2)?).unwrap_or(now)),
            ])
        },
    )?;

    let mut c = client(pool).await?;
    let tx = c.transaction().await?;
    let existing: i64 = tx
        .query_one("SELECT COUNT(*) FROM feeds", &[])
        .await?
        .try_get(0)?;
    if existing > 0 {
        anyhow::bail!(
            "the PostgreSQL database already has {existing} feeds: copy into a new database"
        );
    }
    let steps: [(&str, &Vec<Params>); 6] = [
        (
            "INSERT INTO feeds (id, name, config_url, bucket, url, title, state, etag, last_modified,
               http_status, last_poll, last_ok, error, consecutive_errors, next_poll, retry_after,
               schedule, key_mode, held_by, repairs, doc_hint, poll_lease_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
            &feeds,
        ),
        (
            "INSERT INTO stories (id, title, first_seen) VALUES ($1, $2, $3)",
            &stories,
        ),
        (
            "INSERT INTO items (id, feed_id, key, guid, title, url, canonical_url, author, summary,
               content, categories, published, first_seen, updated, content_hash, raw_hash, signature, story_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            &items,
        ),
        (
            "INSERT INTO item_topics (item_id, topic, matched_terms) VALUES ($1, $2, $3)",
            &topics,
        ),
        (
            "INSERT INTO alerts (id, uid, event, story_id, item_id, topic, notifier, matched_terms,
               feed_event, status, attempts, last_error, created, sent, next_attempt, held)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            &alerts,
        ),
        (
            "INSERT INTO tombstones (feed_id, key, last_seen) VALUES ($1, $2, $3)",
            &tombstones,
        ),
    ];
    for (sql, rows) in steps {
        let stmt = tx.prepare(sql).await?;
        for row in rows {
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = row
                .iter()
                .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            tx.execute(&stmt, &params)
                .await
                .with_context(|| format!("copying into {}", table_of(sql)))?;
        }
    }
    for table in ["feeds", "stories", "items", "alerts"] {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
            ),
            &[],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Copied {
        feeds: feeds.len(),
        stories: stories.len(),
        items: items.len(),
        alerts: alerts.len(),
        tombstones: tombstones.len(),
    })
}

fn table_of(sql: &str) -> &str {
    sql.split_whitespace().nth(2).unwrap_or("?")
}
