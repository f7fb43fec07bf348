//! Which story a new item joins, inside the writer's transaction.
//!
//! First by link: the story of an earlier item of the window with the same canonical URL,
//! unless that URL does not name one article ([`stories::url_join_allowed`]: a homepage, a live
//! blog, a URL several items of one feed share). Then by text: the best near-duplicate in the
//! window, found through the in-memory [`StoryIndex`] (the signatures come from the CPU stage).
//! Otherwise a new story starts.
//!
//! The index lives in the writer's memory and is rebuilt from the stored signatures when the
//! writer starts. It must never name a story that a rolled-back transaction created (SQLite
//! would hand that id to the next, unrelated story), so the writer marks it stale on any
//! rollback and it is rebuilt from what was committed.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::fmt_time;
use super::ingest::NewItem;
use crate::stories::{self, Features, Signature, StoryIndex};

/// The text a story is recognised by: the article, else its summary.
pub fn text_of<'a>(summary: &'a str, content: &'a str) -> &'a str {
    if content.is_empty() { summary } else { content }
}

/// The writer's story state: the candidate index of the window.
pub struct Stories {
    index: StoryIndex,
    window: std::time::Duration,
    /// Set when a transaction that touched the index rolled back.
    stale: bool,
}

impl Stories {
    pub fn new(window: std::time::Duration) -> Self {
        Self {
            index: StoryIndex::new(window),
            window,
            stale: true,
        }
    }

    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// Rebuild the index from the stored items of the window, if it is stale. Called by
    /// [`story_for`](Self::story_for), so a batch without new items never pays for it; rows
    /// it reads from a transaction that then rolls back are dropped with the index, as the
    /// writer marks it stale on every rollback.
    fn refresh(&mut self, conn: &Connection, now: DateTime<Utc>) -> anyhow::Result<()> {
        if !self.stale {
            return Ok(());
        }
        let mut index = StoryIndex::new(self.window);
        let since = now - chrono::Duration::from_std(self.window).unwrap_or_default();
        let mut stmt = conn.prepare(
            "SELECT story_id, feed_id, first_seen, signature, title, summary, content FROM items
             WHERE first_seen >= ?1 ORDER BY first_seen, id",
        )?;
        let mut rows = stmt.query([fmt_time(since)])?;
        while let Some(r) = rows.next()? {
            let at = super::parse_time(&r.get::<_, String>(2)?).map_or(0, |t| t.timestamp());
            let stored: Option<Vec<u8>> = r.get(3)?;
            // Items stored before signatures existed (or by an older format) are signed anew.
            let sig = match stored.as_deref().and_then(Signature::from_bytes) {
                Some(s) => s,
                None => {
                    let (summary, content): (String, String) = (r.get(5)?, r.get(6)?);
                    Signature::new(&r.get::<_, String>(4)?, text_of(&summary, &content))
                }
            };
            index.insert(r.get(0)?, r.get(1)?, at, &sig);
        }
        self.index = index;
        self.stale = false;
        Ok(())
    }

    /// The story for `item` of feed `feed_id`, first seen at `now`.
    pub fn story_for(
        &mut self,
        conn: &Connection,
        feed_id: i64,
        item: &NewItem,
        now: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        self.refresh(conn, now)?;
        let at = now.timestamp();
        self.index
            .evict_older_than(at - self.window.as_secs() as i64);
        let joined = match self.url_join(conn, feed_id, item, now)? {
            Some(id) => Some(id),
            None => self.text_join(conn, feed_id, item, now)?,
        };
        let story = match joined {
            Some(id) => id,
            None => {
                conn.prepare_cached("INSERT INTO stories (title, first_seen) VALUES (?1, ?2)")?
                    .execute(params![item.title, fmt_time(now)])?;
                crate::metrics::story_created();
                conn.last_insert_rowid()
            }
        };
        if let Some(sig) = &item.signature {
            self.index.insert(story, feed_id, at, sig);
        }
        Ok(story)
    }

    /// The index proposes the closest story by its compact sketches; the join is decided on the
    /// exact features of the texts, since sketches of short, templated items (a feed's
    /// generated briefs) overestimate their overlap, and a wrong join would swallow an alert.
    fn text_join(
        &self,
        conn: &Connection,
        feed_id: i64,
        item: &NewItem,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<i64>> {
        let Some(sig) = &item.signature else {
            return Ok(None);
        };
        let Some((story, _)) = self.index.best(sig, feed_id, now.timestamp()) else {
            return Ok(None);
        };
        let new = Features::new(&item.title, text_of(&item.summary, &item.content));
        let since = fmt_time(now - chrono::Duration::from_std(self.window).unwrap_or_default());
        let mut stmt = conn.prepare_cached(
            "SELECT feed_id, title, summary, content FROM items WHERE story_id = ?1 AND first_seen >= ?2",
        )?;
        let mut rows = stmt.query(params![story, since])?;
        while let Some(r) = rows.next()? {
            let (feed, title, summary, content): (i64, String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let same_feed = feed == feed_id;
            if same_feed && !stories::same_feed_titles_agree(&item.title, &title) {
                continue;
            }
            let old = Features::new(&title, text_of(&summary, &content));
            if new.similarity(&old).joins(same_feed) {
                return Ok(Some(story));
            }
        }
        Ok(None)
    }

    fn url_join(
        &self,
        conn: &Connection,
        feed_id: i64,
        item: &NewItem,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<i64>> {
        let Some(url) = &item.canonical_url else {
            return Ok(None);
        };
        let since = fmt_time(now - chrono::Duration::from_std(self.window).unwrap_or_default());
        let candidate: Option<(i64, i64, String)> = conn
            .prepare_cached(
                // The index keeps equal URLs in rowid order: the first row is the oldest. (An
                // explicit `ORDER BY id` made SQLite recompile the statement at every step.)
                "SELECT story_id, feed_id, first_seen FROM items
                 WHERE canonical_url = ?1 AND feed_id != ?2 AND first_seen >= ?3 LIMIT 1",
            )?
            .query_row(params![url, feed_id, since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((story, other_feed, seen)) = candidate else {
            return Ok(None);
        };
        let count = |feed: i64| -> anyhow::Result<usize> {
            Ok(conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM items WHERE canonical_url = ?1 AND feed_id = ?2 LIMIT 3)",
                )?
                .query_row(params![url, feed], |r| r.get::<_, i64>(0))? as usize)
        };
        let apart = super::parse_time(&seen).map_or(0, |t| (now - t).num_seconds());
        // The new item counts itself in its own feed's tally.
        let allowed = stories::url_join_allowed(
            url,
            count(feed_id)? + 1,
            count(other_feed)?,
            apart,
            self.window,
        );
        Ok(allowed.then_some(story))
    }
}
