//! The end of a poll, in one transaction: feed state, new and edited items, stories, topic
//! matches and outbox rows. Because the outbox row commits with its item, a crash can lose
//! neither; and a poll that fails half-way writes nothing but its error.

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::fmt_time;
use crate::config::{FeedConfig, TopicConfig};
use crate::fetch::Validators;
use crate::identity::{KeyMode, alert_uid};
use crate::topics::{ItemText, Matcher};

/// An item ready to store: normalized text plus its identity.
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
    pub content_hash: String,
}

#[derive(Debug, Clone)]
pub enum PollResult {
    /// A complete body was parsed; its validators may be kept.
    Fetched {
        validators: Validators,
        title: Option<String>,
        /// How the items were keyed: recorded for a feed that had no mode yet.
        key_mode: Option<KeyMode>,
    },
    NotModified,
    Gone,
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone)]
pub struct PollRecord {
    pub now: DateTime<Utc>,
    pub http_status: Option<u16>,
    pub result: PollResult,
    /// A permanent redirect's target: the feed's address from now on.
    pub moved_to: Option<String>,
    /// The server's Retry-After, if it sent one with an error.
    pub retry_after: Option<DateTime<Utc>>,
    pub next_poll: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub new_items: usize,
    pub updated_items: usize,
    pub alerts_created: usize,
}

/// Record the poll of `feed` and store `items` (empty unless the body was fetched).
pub fn complete_poll(
    conn: &mut rusqlite::Connection,
    feed: &FeedConfig,
    topics: &[TopicConfig],
    items: &[NewItem],
    rec: &PollRecord,
) -> anyhow::Result<IngestSummary> {
    // IMMEDIATE: take the write lock first (waiting on the busy timeout). A deferred
    // transaction that reads and then writes fails at once if another process wrote meanwhile.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let feed_id: i64 = tx
        .query_row("SELECT id FROM feeds WHERE name = ?1", [&feed.name], |r| {
            r.get(0)
        })
        .with_context(|| format!("feed `{}` is not in the database", feed.name))?;
    update_feed(&tx, feed_id, rec)?;
    let mut summary = IngestSummary::default();
    // Built here for now, once per poll and only when there is something new to match.
    let matcher = std::cell::OnceCell::new();
    let topics = Topics {
        configs: topics,
        matcher: &matcher,
    };
    for item in items {
        store_item(&tx, feed_id, feed, &topics, item, rec.now, &mut summary)?;
    }
    tx.commit()?;
    Ok(summary)
}

fn update_feed(tx: &Transaction<'_>, feed_id: i64, rec: &PollRecord) -> anyhow::Result<()> {
    let now = fmt_time(rec.now);
    let next = fmt_time(rec.next_poll);
    // Move only when the new address served a feed: retired feeds often 301 to a homepage.
    let served_feed = matches!(
        rec.result,
        PollResult::Fetched { .. } | PollResult::NotModified
    );
    if let Some(url) = rec.moved_to.as_ref().filter(|_| served_feed) {
        // Validators belong to the old address.
        tx.execute(
            "UPDATE feeds SET url = ?2, etag = NULL, last_modified = NULL WHERE id = ?1",
            params![feed_id, url],
        )?;
    }
    match &rec.result {
        PollResult::Fetched {
            validators,
            title,
            key_mode,
        } => {
            tx.execute(
                "UPDATE feeds SET state = 'ok', etag = ?2, last_modified = ?3, title = COALESCE(?4, title),
                 http_status = ?5, last_poll = ?6, last_ok = ?6, error = NULL, consecutive_errors = 0,
                 next_poll = ?7, key_mode = COALESCE(key_mode, ?8), retry_after = NULL WHERE id = ?1",
                params![
                    feed_id,
                    validators.etag,
                    validators.last_modified,
                    title,
                    rec.http_status,
                    now,
                    next,
                    key_mode.map(KeyMode::as_str)
                ],
            )?;
        }
        PollResult::NotModified => {
            tx.execute(
                "UPDATE feeds SET state = 'ok', http_status = ?2, last_poll = ?3, last_ok = ?3, error = NULL,
                 consecutive_errors = 0, next_poll = ?4, retry_after = NULL WHERE id = ?1",
                params![feed_id, rec.http_status, now, next],
            )?;
        }
        PollResult::Gone => {
            tx.execute(
                "UPDATE feeds SET state = 'gone', http_status = ?2, last_poll = ?3,
                 error = 'the server answered 410 Gone: polling stopped (feedwatch feeds reset NAME to resume)',
                 next_poll = NULL WHERE id = ?1",
                params![feed_id, rec.http_status, now],
            )?;
        }
        PollResult::Failed { error } => {
            tx.execute(
                "UPDATE feeds SET state = 'failing', http_status = ?2, last_poll = ?3, error = ?4,
                 consecutive_errors = consecutive_errors + 1, next_poll = ?5, retry_after = ?6 WHERE id = ?1",
                params![feed_id, rec.http_status, now, error, next, rec.retry_after.map(fmt_time)],
            )?;
        }
    }
    Ok(())
}

/// The configured topics and their matcher, compiled on first use.
struct Topics<'a> {
    configs: &'a [TopicConfig],
    matcher: &'a std::cell::OnceCell<Matcher>,
}

fn store_item(
    tx: &Transaction<'_>,
    feed_id: i64,
    feed: &FeedConfig,
    topics: &Topics<'_>,
    item: &NewItem,
    now: DateTime<Utc>,
    summary: &mut IngestSummary,
) -> anyhow::Result<()> {
    let mut existing: Option<(i64, String)> = tx
        .prepare_cached("SELECT id, content_hash FROM items WHERE feed_id = ?1 AND key = ?2")?
        .query_row(params![feed_id, item.key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let (None, Some(alias), Some(url)) = (&existing, &item.alias, &item.canonical_url) {
        // Stored earlier under a property this document shares between items: the same item
        // only if the link agrees too.
        existing = tx
            .prepare_cached("SELECT id, content_hash FROM items WHERE feed_id = ?1 AND key = ?2 AND canonical_url = ?3")?
            .query_row(params![feed_id, alias, url], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
    }
    // Seen again unchanged, the common case of every poll: nothing to prepare or write.
    if existing
        .as_ref()
        .is_some_and(|(_, hash)| *hash == item.content_hash)
    {
        return Ok(());
    }
    let categories = serde_json::to_string(&item.categories)?;
    let published = item.published.map(fmt_time);
    let now_s = fmt_time(now);
    match existing {
        Some((id, _)) => {
            // An edit: keep the row, its story and its alerts; no new alert.
            tx.prepare_cached("UPDATE items SET guid = ?2, title = ?3, url = ?4, canonical_url = ?5, author = ?6, summary = ?7,
                 content = ?8, categories = ?9, published = COALESCE(?10, published), updated = ?11, content_hash = ?12
                 WHERE id = ?1")?.execute(
                params![
                    id, item.guid, item.title, item.url, item.canonical_url, item.author, item.summary,
                    item.content, categories, published, now_s, item.content_hash
                ],
            )?;
            summary.updated_items += 1;
            Ok(())
        }
        None => {
            let story_id = story_for(tx, item, &now_s)?;
            tx.prepare_cached("INSERT INTO items (feed_id, key, guid, title, url, canonical_url, author, summary, content,
                 categories, published, first_seen, content_hash, story_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")?.execute(
                params![
                    feed_id, item.key, item.guid, item.title, item.url, item.canonical_url, item.author,
                    // An item without a (readable) date is dated when first seen.
                    item.summary, item.content, categories, published.as_deref().unwrap_or(&now_s), now_s,
                    item.content_hash, story_id
                ],
            )?;
            let item_id = tx.last_insert_rowid();
            summary.new_items += 1;
            summary.alerts_created +=
                match_topics(tx, feed, topics, item, item_id, story_id, &now_s)?;
            Ok(())
        }
    }
}

/// The story a new item belongs to: the story of an earlier item with the same canonical URL
/// (in any feed), else a new one. Near-duplicate text joins stories in a later stage.
fn story_for(tx: &Transaction<'_>, item: &NewItem, now: &str) -> anyhow::Result<i64> {
    if let Some(url) = &item.canonical_url {
        let found: Option<i64> = tx
            .prepare_cached(
                "SELECT story_id FROM items WHERE canonical_url = ?1 ORDER BY id LIMIT 1",
            )?
            .query_row([url], |r| r.get(0))
            .optional()?;
        if let Some(id) = found {
            return Ok(id);
        }
    }
    tx.prepare_cached("INSERT INTO stories (title, first_seen) VALUES (?1, ?2)")?
        .execute(params![item.title, now])?;
    Ok(tx.last_insert_rowid())
}

/// Record which topics the item matches and queue one alert per (story, topic, notifier);
/// the unique constraint makes a story that already alerted a no-op.
fn match_topics(
    tx: &Transaction<'_>,
    feed: &FeedConfig,
    topics: &Topics<'_>,
    item: &NewItem,
    item_id: i64,
    story_id: i64,
    now: &str,
) -> anyhow::Result<usize> {
    if topics.configs.is_empty() {
        return Ok(0);
    }
    let matcher = topics
        .matcher
        .get_or_init(|| Matcher::new(topics.configs.iter().map(|t| &t.query)));
    let text = ItemText {
        title: &item.title,
        summary: &item.summary,
        content: &item.content,
        author: item.author.as_deref().unwrap_or(""),
        categories: &item.categories,
        feed: &feed.name,
        url: item.url.as_deref().unwrap_or(""),
    };
    let mut created = 0;
    for hit in matcher.matches(&text, |i| topics.configs[i].applies_to(feed)) {
        let topic = &topics.configs[hit.topic];
        let terms = serde_json::to_string(&hit.matched_terms)?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO item_topics (item_id, topic, matched_terms) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![item_id, topic.name, terms])?;
        for notifier in &topic.notify {
            created += tx.prepare_cached("INSERT OR IGNORE INTO alerts (uid, story_id, item_id, topic, notifier, matched_terms, created, next_attempt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)")?.execute(
                params![alert_uid(&item.key, &feed.name, &topic.name, notifier), story_id, item_id, topic.name, notifier, terms, now],
            )?;
        }
    }
    Ok(created)
}
