//! Which story a new item joins, inside the writer's transaction.
//!
//! An item joins the story of an earlier item of another feed with the same canonical URL seen
//! within the story window — unless that URL is not an article's address: a URL that several
//! items of one feed share (a homepage, a live blog, a feed that links every item to its front
//! page) joins nothing. Otherwise a new story starts.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::fmt_time;
use super::ingest::NewItem;

/// The story for `item` of feed `feed_id`, first seen at `now`; `window` bounds how far back a
/// join looks.
pub fn story_for(
    conn: &Connection,
    feed_id: i64,
    item: &NewItem,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> anyhow::Result<i64> {
    if let Some(id) = url_join(conn, feed_id, item, now, window)? {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO stories (title, first_seen) VALUES (?1, ?2)")?
        .execute(params![item.title, fmt_time(now)])?;
    Ok(conn.last_insert_rowid())
}

fn url_join(
    conn: &Connection,
    feed_id: i64,
    item: &NewItem,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> anyhow::Result<Option<i64>> {
    let Some(url) = &item.canonical_url else {
        return Ok(None);
    };
    // Another item of this feed already has this URL: it names a page, not this article.
    let shared_here: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM items WHERE canonical_url = ?1 AND feed_id = ?2)",
        )?
        .query_row(params![url, feed_id], |r| r.get(0))?;
    if shared_here {
        return Ok(None);
    }
    let since = fmt_time(now - window);
    let candidate: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT story_id, feed_id FROM items WHERE canonical_url = ?1 AND first_seen >= ?2
             ORDER BY id LIMIT 1",
        )?
        .query_row(params![url, since], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((story, other_feed)) = candidate else {
        return Ok(None);
    };
    // ...nor does one that several items of the other feed share.
    let shared_there: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM (SELECT 1 FROM items WHERE canonical_url = ?1 AND feed_id = ?2 LIMIT 2)",
        )?
        .query_row(params![url, other_feed], |r| r.get(0))?;
    Ok((shared_there < 2).then_some(story))
}
