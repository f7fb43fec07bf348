//! Retention: items first seen before the cut-off are deleted with their text and search
//! entries, but their keys stay behind as tombstones, so an item a feed still lists never
//! becomes new again. Nothing a pending alert refers to is pruned. A tombstone goes once its
//! feed has stopped listing the item for a whole retention period.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::fmt_time;

/// Items pruned per transaction at most: a large prune never holds the write lock for long.
pub const BATCH: usize = 2000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub items: usize,
    pub stories: usize,
    pub alerts: usize,
    pub tombstones: usize,
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, o: Self) {
        self.items += o.items;
        self.stories += o.stories;
        self.alerts += o.alerts;
        self.tombstones += o.tombstones;
    }
}

/// One batch of pruning; `items == BATCH` means there may be more.
pub fn prune_batch(
    conn: &Connection,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Pruned> {
    let before_s = fmt_time(before);
    let now_s = fmt_time(now);
    let doomed: Vec<(i64, i64, String)> = conn
        .prepare_cached(
            "SELECT id, feed_id, key FROM items i WHERE first_seen < ?1
             AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.story_id = i.story_id AND a.status = 'pending')
             ORDER BY id LIMIT ?2",
        )?
        .query_map(params![before_s, BATCH as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Pruned::default();
    for (id, feed_id, key) in &doomed {
        conn.prepare_cached(
            "INSERT INTO tombstones (feed_id, key, last_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET last_seen = excluded.last_seen",
        )?
        .execute(params![feed_id, key, now_s])?;
        super::ingest::fts_delete(conn, *id)?;
        conn.prepare_cached("DELETE FROM items WHERE id = ?1")?
            .execute([id])?;
        out.items += 1;
    }
    // Delivered or given-up alerts of the retention period go with their items; a story goes
    // when nothing refers to it any more.
    out.alerts = conn
        .prepare_cached("DELETE FROM alerts WHERE status != 'pending' AND created < ?1")?
        .execute([&before_s])?;
    out.stories = conn
        .prepare_cached(
            "DELETE FROM stories WHERE first_seen < ?1
             AND NOT EXISTS (SELECT 1 FROM items WHERE story_id = stories.id)
             AND NOT EXISTS (SELECT 1 FROM alerts WHERE story_id = stories.id)",
        )?
        .execute([&before_s])?;
    out.tombstones = conn
        .prepare_cached("DELETE FROM tombstones WHERE last_seen < ?1")?
        .execute([&before_s])?;
    Ok(out)
}
