//! The end of a poll, inside the writer's transaction: feed state, new and edited items,
//! stories, topic matches and outbox rows. Because the outbox row commits with its item, a
//! crash can lose neither; and a poll that fails half-way writes nothing but its error.
//!
//! Everything here was decided before the message reached the writer (keys, text, hashes,
//! topic matches, alert ids): this code only looks up what it must and binds.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::fmt_time;
use super::outbox::{self, FeedEventAlert};
use super::stories::Stories;
use crate::failpoint;
use crate::feed_state::FeedState;

/// An item ready to store: normalized text, identity, and the topics it matches.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub key: String,
    /// Another key this item may have been stored under (see `identity::ItemKey`).
    pub alias: Option<String>,
    pub guid: Option<String>,
    pub title: String,
    pub url: Option<String>,
    pub canonical_url: Option<String>,
    pub author: Option<String>,
    pub summary: String,
    pub content: String,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    /// What a reader sees (title, link, text): a change under the same key is an edit.
    pub content_hash: String,
    /// Hash of the entry as the feed sent it: the same raw entry next time is skipped before
    /// any text is extracted.
    pub raw_hash: [u8; 16],
    pub matches: Vec<ItemMatch>,
    /// The near-duplicate signature that joins copies of one story (`None` for items too
    /// short to compare), and its stored form.
    pub signature: Option<crate::stories::Signature>,
    pub signature_bytes: Option<Vec<u8>>,
    /// The words the search index holds (see `search::index_text`).
    pub index_text: [String; 5],
}

/// One topic an item matches, and the alerts that follow from it.
#[derive(Debug, Clone)]
pub struct ItemMatch {
    pub topic: Arc<str>,
    /// JSON array of the matched terms.
    pub terms: String,
    /// (notifier, alert uid) for each notifier of the topic.
    pub alerts: Vec<(Arc<str>, String)>,
}

/// Everything one poll decided, as the writer stores it.
#[derive(Debug, Clone, Default)]
pub struct PollOutcome {
    /// The feed's state after the poll (see `FeedState::after_poll`).
    pub state: FeedState,
    /// New and edited items (known unchanged ones are left out before they get here).
    pub items: Vec<NewItem>,
    /// Keys of pruned items the feed still lists: their tombstones must stay.
    pub still_listed: Vec<String>,
    /// Feed-health events this poll caused (see `feed_state::health_event`), queued in the
    /// same transaction as the state that caused them.
    pub events: Vec<FeedEventAlert>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub new_items: usize,
    pub updated_items: usize,
    pub alerts_created: usize,
}

/// Record one poll: its feed's state and its items.
pub fn complete_poll(
    conn: &Connection,
    outcome: &PollOutcome,
    stories: &mut Stories,
) -> anyhow::Result<IngestSummary> {
    if failpoint::active_for("writer-panic", &outcome.state.name) {
        panic!("failpoint writer-panic for feed {}", outcome.state.name);
    }
    if failpoint::active_for("writer-stall", &outcome.state.name) {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
    write_feed_state(conn, &outcome.state)?;
    let now = outcome.state.last_poll.unwrap_or_else(Utc::now);
    let mut summary = IngestSummary::default();
    let at = At {
        feed_id: outcome.state.id,
        now,
        now_text: fmt_time(now),
    };
    for item in &outcome.items {
        store_item(conn, &at, item, stories, &mut summary)?;
    }
    for key in &outcome.still_listed {
        conn.prepare_cached(
            "UPDATE tombstones SET last_seen = ?3 WHERE feed_id = ?1 AND key = ?2",
        )?
        .execute(params![at.feed_id, key, at.now_text])?;
    }
    summary.alerts_created += outbox::insert_feed_events(conn, &outcome.events, &at.now_text)?;
    Ok(summary)
}

/// Persist the whole state the poller computed: the rules live in `FeedState`, not in SQL.
pub fn write_feed_state(conn: &Connection, s: &FeedState) -> anyhow::Result<()> {
    let n = conn
        .prepare_cached(
            "UPDATE feeds SET url = ?2, state = ?3, title = ?4, etag = ?5, last_modified = ?6,
             http_status = ?7, last_poll = ?8, last_ok = ?9, error = ?10, consecutive_errors = ?11,
             next_poll = ?12, retry_after = ?13, key_mode = ?14, held_by = ?15, repairs = ?16,
             doc_hint = ?17 WHERE id = ?1",
        )?
        .execute(params![
            s.id,
            s.url,
            s.status.as_str(),
            s.title,
            s.validators.etag,
            s.validators.last_modified,
            s.http_status,
            s.last_poll.map(fmt_time),
            s.last_ok.map(fmt_time),
            s.error,
            s.consecutive_errors,
            s.next_poll.map(fmt_time),
            s.retry_after.map(fmt_time),
            s.key_mode.map(|k| k.as_str()),
            s.held_by,
            (!s.repairs.is_empty()).then(|| serde_json::to_string(&s.repairs).unwrap_or_default()),
            s.doc_hint.as_ref().map(|d| d.to_stored()),
        ])?;
    anyhow::ensure!(n == 1, "feed `{}` is not in the database", s.name);
    Ok(())
}

/// Where and when a poll's items are stored.
struct At {
    feed_id: i64,
    now: DateTime<Utc>,
    now_text: String,
}

/// The stored row an item is, if any: by key, or by its alias when the links agree.
fn existing(
    conn: &Connection,
    feed_id: i64,
    item: &NewItem,
) -> anyhow::Result<Option<(i64, String)>> {
    let found = conn
        .prepare_cached("SELECT id, content_hash FROM items WHERE feed_id = ?1 AND key = ?2")?
        .query_row(params![feed_id, item.key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let (None, Some(alias), Some(url)) = (&found, &item.alias, &item.canonical_url) {
        // Stored earlier under a property this document shares between items: the same item
        // only if the link agrees too.
        return Ok(conn
            .prepare_cached(
                "SELECT id, content_hash FROM items WHERE feed_id = ?1 AND key = ?2 AND canonical_url = ?3",
            )?
            .query_row(params![feed_id, alias, url], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?);
    }
    if let (None, Some(published)) = (&found, item.published)
        && item.key.starts_with("c:")
    {
        // A content key hashes the extracted text, which changes when text extraction
        // improves: an item stored by an earlier version under its old content key is the
        // one with the same title and date in the same feed. It takes the new key.
        let legacy: Option<(i64, String)> = conn
            .prepare_cached(
                "SELECT id, content_hash FROM items WHERE feed_id = ?1 AND key LIKE 'c:%'
                 AND title = ?2 AND published = ?3 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![feed_id, item.title, fmt_time(published)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((id, _)) = &legacy {
            conn.prepare_cached("UPDATE OR IGNORE items SET key = ?2 WHERE id = ?1")?
                .execute(params![id, item.key])?;
        }
        return Ok(legacy);
    }
    Ok(found)
}

fn store_item(
    conn: &Connection,
    at: &At,
    item: &NewItem,
    stories: &mut Stories,
    summary: &mut IngestSummary,
) -> anyhow::Result<()> {
    let raw_hash = &item.raw_hash[..];
    match existing(conn, at.feed_id, item)? {
        // The same text in a new wrapping (markup, whitespace): remember the new raw form so
        // the next poll skips it early.
        Some((id, hash)) if hash == item.content_hash => {
            conn.prepare_cached("UPDATE items SET raw_hash = ?2 WHERE id = ?1")?
                .execute(params![id, raw_hash])?;
        }
        Some((id, _)) => {
            // An edit: keep the row, its story and its alerts. It is matched again: a topic it
            // matches for the first time alerts once (a one-line "URGENT" filled in later).
            fts_delete(conn, id)?;
            let categories = serde_json::to_string(&item.categories)?;
            conn.prepare_cached(
                "UPDATE items SET guid = ?2, title = ?3, url = ?4, canonical_url = ?5, author = ?6,
                 summary = ?7, content = ?8, categories = ?9, published = COALESCE(?10, published),
                 updated = ?11, content_hash = ?12, raw_hash = ?13, signature = ?14 WHERE id = ?1",
            )?
            .execute(params![
                id,
                item.guid,
                item.title,
                item.url,
                item.canonical_url,
                item.author,
                item.summary,
                item.content,
                categories,
                item.published.map(fmt_time),
                at.now_text,
                item.content_hash,
                raw_hash,
                item.signature_bytes
            ])?;
            fts_insert(conn, id, item)?;
            let story_id: i64 = conn
                .prepare_cached("SELECT story_id FROM items WHERE id = ?1")?
                .query_row([id], |r| r.get(0))?;
            summary.updated_items += 1;
            summary.alerts_created += record_matches(conn, item, id, story_id, &at.now_text)?;
        }
        None if pruned(conn, at.feed_id, &item.key)? => {}
        None => {
            let story_id = stories.story_for(conn, at.feed_id, item, at.now)?;
            let categories = serde_json::to_string(&item.categories)?;
            // An item without a (readable) date is dated when first seen.
            let published = item.published.map(fmt_time);
            conn.prepare_cached(
                "INSERT INTO items (feed_id, key, guid, title, url, canonical_url, author, summary,
                 content, categories, published, first_seen, content_hash, story_id, raw_hash, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
                at.feed_id,
                item.key,
                item.guid,
                item.title,
                item.url,
                item.canonical_url,
                item.author,
                item.summary,
                item.content,
                categories,
                published.as_deref().unwrap_or(&at.now_text),
                at.now_text,
                item.content_hash,
                story_id,
                raw_hash,
                item.signature_bytes
            ])?;
            let item_id = conn.last_insert_rowid();
            fts_insert(conn, item_id, item)?;
            summary.new_items += 1;
            summary.alerts_created += record_matches(conn, item, item_id, story_id, &at.now_text)?;
        }
    }
    Ok(())
}

/// Whether `key` belongs to an item pruned by retention: never new again.
fn pruned(conn: &Connection, feed_id: i64, key: &str) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM tombstones WHERE feed_id = ?1 AND key = ?2)")?
        .query_row(params![feed_id, key], |r| r.get(0))?)
}

/// Index an item's words for `feedwatch search`.
fn fts_insert(conn: &Connection, id: i64, item: &NewItem) -> anyhow::Result<()> {
    let [t, s, c, a, k] = &item.index_text;
    conn.prepare_cached(
        "INSERT INTO items_fts (rowid, title, summary, content, author, categories)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, t, s, c, a, k])?;
    Ok(())
}

/// Remove an item from the search index (before its row changes or goes).
pub fn fts_delete(conn: &Connection, id: i64) -> anyhow::Result<()> {
    conn.prepare_cached("DELETE FROM items_fts WHERE rowid = ?1")?
        .execute([id])?;
    Ok(())
}

/// Record which topics the item matches and queue one alert per (story, topic, notifier);
/// the unique constraint makes a story that already alerted a no-op.
fn record_matches(
    conn: &Connection,
    item: &NewItem,
    item_id: i64,
    story_id: i64,
    now: &str,
) -> anyhow::Result<usize> {
    let mut created = 0;
    for m in &item.matches {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO item_topics (item_id, topic, matched_terms) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![item_id, &*m.topic, m.terms])?;
        for (notifier, uid) in &m.alerts {
            created += conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO alerts (uid, story_id, item_id, topic, notifier, matched_terms, created, next_attempt)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                )?
                .execute(params![uid, story_id, item_id, &*m.topic, &**notifier, m.terms, now])?;
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed_state::FeedState;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut c).unwrap();
        c.execute(
            "INSERT INTO feeds (id, name, config_url, url) VALUES (1, 'f', 'http://x/', 'http://x/')",
            [],
        )
        .unwrap();
        c
    }

    fn item(key: &str, title: &str, hash: &str) -> NewItem {
        NewItem {
            key: key.into(),
            alias: None,
            guid: None,
            title: title.into(),
            url: None,
            canonical_url: None,
            author: None,
            summary: String::new(),
            content: "text".into(),
            categories: vec![],
            published: Some(
                DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            content_hash: hash.into(),
            raw_hash: [0; 16],
            matches: vec![],
            signature: None,
            signature_bytes: None,
            index_text: Default::default(),
        }
    }

    fn poll(c: &Connection, items: Vec<NewItem>) -> IngestSummary {
        let state = FeedState {
            id: 1,
            name: "f".into(),
            url: "http://x/".into(),
            last_poll: Some(Utc::now()),
            ..Default::default()
        };
        complete_poll(
            c,
            &PollOutcome {
                state,
                items,
                still_listed: vec![],
                events: Vec::new(),
            },
            &mut Stories::new(std::time::Duration::from_secs(72 * 3600)),
        )
        .unwrap()
    }

    #[test]
    fn an_item_stored_under_an_older_content_key_is_found_by_title_and_date() {
        let c = db();
        assert_eq!(poll(&c, vec![item("c:old", "Briefing", "h1")]).new_items, 1);
        let again = poll(&c, vec![item("c:new", "Briefing", "h2")]);
        assert_eq!((again.new_items, again.updated_items), (0, 1));
        // It took the new key: the next poll finds it directly, unchanged.
        let third = poll(&c, vec![item("c:new", "Briefing", "h2")]);
        assert_eq!((third.new_items, third.updated_items), (0, 0));
        // Another day's briefing under the same title is a new item.
        let mut next_day = item("c:other", "Briefing", "h3");
        next_day.published = Some(next_day.published.unwrap() + chrono::Duration::days(1));
        assert_eq!(poll(&c, vec![next_day]).new_items, 1);
    }
}
