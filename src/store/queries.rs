//! Reads for the CLI and the scheduler, and small feed-state writes outside a poll.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{fmt_time, parse_time};
use crate::config::Config;
use crate::feed_state::{FeedState, Status};
use crate::fetch::Validators;
use crate::identity::KeyMode;
use crate::schedule;

/// One configured feed, as [`sync_feeds`] records it.
#[derive(Debug, Clone)]
pub struct FeedSync {
    pub name: String,
    pub url: String,
    /// "cron|zone": a change moves the next poll to the new schedule's next tick.
    pub schedule: String,
    pub next_tick: DateTime<Utc>,
}

impl FeedSync {
    /// Every feed of `config`, with its next tick after `now`.
    pub fn from_config(config: &Config, now: DateTime<Utc>) -> Vec<FeedSync> {
        config
            .feeds
            .iter()
            .map(|f| {
                let cron = config.schedule_of(f);
                let tz = config.daemon.timezone;
                FeedSync {
                    name: f.name.clone(),
                    url: f.url.to_string(),
                    schedule: format!("{}|{}", cron.source(), tz.name()),
                    next_tick: schedule::next_poll(
                        cron,
                        tz,
                        &f.name,
                        now,
                        schedule::LastPoll::default(),
                    ),
                }
            })
            .collect()
    }
}

/// Make the feeds table follow the config. New feeds are added (due at once). A feed whose
/// configured URL changed starts over at the new URL, state and backoff cleared (a permanent
/// redirect only moves the URL *in use*). A feed whose schedule or zone changed is due no later
/// than the new schedule's next tick.
pub fn sync_feeds(conn: &Connection, feeds: &[FeedSync]) -> anyhow::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO feeds (name, config_url, url, schedule) VALUES (?1, ?2, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET
           url = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.url ELSE excluded.config_url END,
           etag = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.etag END,
           last_modified = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.last_modified END,
           state = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.state ELSE 'new' END,
           error = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.error END,
           consecutive_errors = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.consecutive_errors ELSE 0 END,
           key_mode = CASE WHEN feeds.config_url = excluded.config_url THEN feeds.key_mode END,
           next_poll = CASE
             WHEN feeds.config_url != excluded.config_url THEN NULL
             WHEN feeds.schedule IS NOT excluded.schedule AND feeds.consecutive_errors = 0
                  AND feeds.next_poll > ?4 THEN ?4
             ELSE feeds.next_poll END,
           schedule = excluded.schedule,
           config_url = excluded.config_url",
    )?;
    for f in feeds {
        stmt.execute(params![f.name, f.url, f.schedule, fmt_time(f.next_tick)])?;
    }
    Ok(())
}

const STATE_COLUMNS: &str = "id, name, url, state, title, etag, last_modified, http_status,
    last_poll, last_ok, error, consecutive_errors, next_poll, retry_after, key_mode, held_by,
    repairs, doc_hint";

fn state_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedState> {
    let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(r.get::<_, Option<String>>(i)?
            .as_deref()
            .and_then(parse_time))
    };
    Ok(FeedState {
        id: r.get(0)?,
        name: r.get(1)?,
        url: r.get(2)?,
        status: Status::parse(&r.get::<_, String>(3)?),
        title: r.get(4)?,
        validators: Validators {
            etag: r.get(5)?,
            last_modified: r.get(6)?,
        },
        http_status: r.get(7)?,
        last_poll: time(8)?,
        last_ok: time(9)?,
        error: r.get(10)?,
        consecutive_errors: r.get(11)?,
        next_poll: time(12)?,
        retry_after: time(13)?,
        key_mode: r
            .get::<_, Option<String>>(14)?
            .as_deref()
            .and_then(KeyMode::parse),
        held_by: r.get(15)?,
        repairs: r
            .get::<_, Option<String>>(16)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
        doc_hint: r
            .get::<_, Option<String>>(17)?
            .as_deref()
            .and_then(crate::hints::DocHint::from_stored),
    })
}

/// Every stored feed's state: read once when the daemon starts.
pub fn feed_states(conn: &Connection) -> anyhow::Result<Vec<FeedState>> {
    let mut stmt = conn.prepare(&format!("SELECT {STATE_COLUMNS} FROM feeds"))?;
    let rows = stmt.query_map([], state_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn feed_state(conn: &Connection, name: &str) -> anyhow::Result<Option<FeedState>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {STATE_COLUMNS} FROM feeds WHERE name = ?1"
        ))?
        .query_row([name], state_from_row)
        .optional()?)
}

/// Clear a gone or failing state so the feed is polled again at once, at its configured URL.
pub fn reset_feed(conn: &Connection, name: &str) -> anyhow::Result<bool> {
    let Some(mut state) = feed_state(conn, name)? else {
        return Ok(false);
    };
    let config_url: String = conn.query_row(
        "SELECT config_url FROM feeds WHERE id = ?1",
        [state.id],
        |r| r.get(0),
    )?;
    state.reset(&config_url);
    super::ingest::write_feed_state(conn, &state)?;
    Ok(true)
}

/// One row of `feeds --json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedView {
    pub name: String,
    pub url: String,
    pub state: String,
    pub http_status: Option<u16>,
    pub last_poll: Option<String>,
    pub last_ok: Option<String>,
    pub error: Option<String>,
    pub consecutive_errors: u32,
    pub next_poll: Option<String>,
    pub items: i64,
    /// The publisher's hint holding the next poll later than the schedule, if any.
    pub held_by: Option<String>,
    /// What the last document needed repaired to be read (tell the publisher).
    pub repairs: Vec<String>,
}

pub fn list_feeds(conn: &Connection, config: &Config) -> anyhow::Result<Vec<FeedView>> {
    let mut stmt = conn.prepare(
        "SELECT url, state, http_status, last_poll, last_ok, error, consecutive_errors, next_poll,
                (SELECT COUNT(*) FROM items WHERE feed_id = feeds.id), held_by, repairs
         FROM feeds WHERE name = ?1",
    )?;
    let mut out = Vec::new();
    for f in &config.feeds {
        let row = stmt
            .query_row([&f.name], |r| {
                Ok(FeedView {
                    name: f.name.clone(),
                    url: r.get(0)?,
                    state: r.get(1)?,
                    http_status: r.get(2)?,
                    last_poll: r.get(3)?,
                    last_ok: r.get(4)?,
                    error: r.get(5)?,
                    consecutive_errors: r.get(6)?,
                    next_poll: r.get(7)?,
                    items: r.get(8)?,
                    held_by: r.get(9)?,
                    repairs: r
                        .get::<_, Option<String>>(10)?
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default(),
                })
            })
            .optional()?;
        out.push(row.unwrap_or(FeedView {
            name: f.name.clone(),
            url: f.url.to_string(),
            state: "new".into(),
            ..Default::default()
        }));
    }
    Ok(out)
}

/// One row of `items --json`.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    pub id: i64,
    pub feed: String,
    pub guid: Option<String>,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<String>,
    pub first_seen: String,
    pub story: i64,
    pub topics: Vec<String>,
    pub author: Option<String>,
    pub categories: Vec<String>,
    pub summary: String,
    pub content: String,
}

#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub feed: Option<String>,
    pub topic: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// The columns [`item_from_row`] reads, from `items i JOIN feeds fe`.
pub const ITEM_COLUMNS: &str = "i.id, fe.name, i.guid, i.title, i.url, i.published, i.first_seen, i.story_id,
    (SELECT json_group_array(topic) FROM (SELECT topic FROM item_topics WHERE item_id = i.id ORDER BY topic)),
    i.author, i.categories, i.summary, i.content";

pub fn item_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ItemView> {
    Ok(ItemView {
        id: r.get(0)?,
        feed: r.get(1)?,
        guid: r.get(2)?,
        title: r.get(3)?,
        url: r.get(4)?,
        published: r.get(5)?,
        first_seen: r.get(6)?,
        story: r.get(7)?,
        topics: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
        author: r.get(9)?,
        categories: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or_default(),
        summary: r.get(11)?,
        content: r.get(12)?,
    })
}

pub fn list_items(conn: &Connection, f: &ItemFilter) -> anyhow::Result<Vec<ItemView>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ITEM_COLUMNS}
         FROM items i JOIN feeds fe ON fe.id = i.feed_id
         WHERE (?1 IS NULL OR fe.name = ?1)
           AND (?2 IS NULL OR EXISTS (SELECT 1 FROM item_topics t WHERE t.item_id = i.id AND t.topic = ?2))
           AND (?3 IS NULL OR i.first_seen >= ?3)
         ORDER BY i.first_seen DESC, i.id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![f.feed, f.topic, f.since.map(fmt_time), f.limit as i64],
        item_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One row of `alerts --json`.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub id: i64,
    pub uid: String,
    /// `topic.match`, or a feed-health event (`feed.failing`, `feed.gone`, `feed.recovered`).
    pub event: String,
    /// `None` for feed-health events, which have no topic, story or item.
    pub topic: Option<String>,
    /// For feed-health events: the feed.
    pub feed: Option<String>,
    pub notifier: String,
    pub story: Option<i64>,
    pub item: Option<i64>,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created: String,
    pub sent: Option<String>,
    pub next_attempt: Option<String>,
    pub matched_terms: Vec<String>,
    /// The story's title (none for feed-health events).
    pub story_title: Option<String>,
    /// The feeds that carry the story, in the order they brought it.
    pub outlets: Vec<String>,
}

pub fn list_alerts(conn: &Connection, status: Option<&str>) -> anyhow::Result<Vec<AlertView>> {
    query_alerts(conn, status, None)
}

/// Alerts with `status` (any when `None`), or just alert `id`.
fn query_alerts(
    conn: &Connection,
    status: Option<&str>,
    id: Option<i64>,
) -> anyhow::Result<Vec<AlertView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.uid, a.topic, a.notifier, a.story_id, a.item_id, a.status, a.attempts,
                a.last_error, a.created, a.sent, a.next_attempt, a.matched_terms, a.event,
                json_extract(a.feed_event, '$.name'), s.title,
                (SELECT json_group_array(name) FROM (
                   SELECT f.name FROM items i JOIN feeds f ON f.id = i.feed_id
                   WHERE i.story_id = a.story_id GROUP BY f.id ORDER BY MIN(i.first_seen), f.id))
         FROM alerts a LEFT JOIN stories s ON s.id = a.story_id
         WHERE (?1 IS NULL OR a.status = ?1) AND (?2 IS NULL OR a.id = ?2) ORDER BY a.id",
    )?;
    let rows = stmt.query_map(params![status, id], |r| {
        let status: String = r.get(6)?;
        let next: Option<String> = r.get(11)?;
        Ok(AlertView {
            id: r.get(0)?,
            uid: r.get(1)?,
            topic: r.get(2)?,
            notifier: r.get(3)?,
            story: r.get(4)?,
            item: r.get(5)?,
            next_attempt: next.filter(|_| status == "pending"),
            status,
            attempts: r.get(7)?,
            last_error: r.get(8)?,
            created: r.get(9)?,
            sent: r.get(10)?,
            matched_terms: serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default(),
            event: r.get(13)?,
            feed: r.get(14)?,
            story_title: r.get(15)?,
            outlets: r
                .get::<_, Option<String>>(16)?
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One copy of a story: which outlet carried it, under which title and link, when.
#[derive(Debug, Clone, Serialize)]
pub struct CopyView {
    pub item: i64,
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<String>,
    pub first_seen: String,
}

/// One row of `stories --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StoryView {
    pub id: i64,
    pub title: String,
    pub first_seen: String,
    /// Topics any copy matched.
    pub topics: Vec<String>,
    pub sources: Vec<CopyView>,
}

/// Stories with a copy first seen since `since`, newest first, each with every copy.
pub fn list_stories(
    conn: &Connection,
    since: Option<DateTime<Utc>>,
    limit: usize,
) -> anyhow::Result<Vec<StoryView>> {
    let mut stmt = conn.prepare(
        "SELECT s.id, s.title, s.first_seen,
                (SELECT json_group_array(topic) FROM (SELECT DISTINCT t.topic FROM item_topics t
                   JOIN items x ON x.id = t.item_id WHERE x.story_id = s.id ORDER BY t.topic))
         FROM stories s
         WHERE EXISTS (SELECT 1 FROM items i WHERE i.story_id = s.id AND (?1 IS NULL OR i.first_seen >= ?1))
         ORDER BY (SELECT MAX(first_seen) FROM items i WHERE i.story_id = s.id) DESC, s.id DESC
         LIMIT ?2",
    )?;
    let mut stories: Vec<StoryView> = stmt
        .query_map(params![since.map(fmt_time), limit as i64], |r| {
            Ok(StoryView {
                id: r.get(0)?,
                title: r.get(1)?,
                first_seen: r.get(2)?,
                topics: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                sources: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut copies = conn.prepare_cached(
        "SELECT i.id, f.name, i.title, i.url, i.published, i.first_seen
         FROM items i JOIN feeds f ON f.id = i.feed_id WHERE i.story_id = ?1 ORDER BY i.first_seen, i.id",
    )?;
    for s in &mut stories {
        s.sources = copies
            .query_map([s.id], |r| {
                Ok(CopyView {
                    item: r.get(0)?,
                    feed: r.get(1)?,
                    title: r.get(2)?,
                    url: r.get(3)?,
                    published: r.get(4)?,
                    first_seen: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
    }
    Ok(stories)
}

/// Polling and new items over the last hour and day, for `status`. There is no poll log: a
/// feed polled twice in the hour counts once.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Activity {
    pub feeds_polled_last_hour: i64,
    pub feeds_polled_last_day: i64,
    pub new_items_last_hour: i64,
    pub new_items_last_day: i64,
    pub last_poll: Option<String>,
    pub last_new_item: Option<String>,
}

pub fn activity(conn: &Connection, now: DateTime<Utc>) -> anyhow::Result<Activity> {
    let hour = fmt_time(now - chrono::Duration::hours(1));
    let day = fmt_time(now - chrono::Duration::days(1));
    let (polled_hour, polled_day, last_poll) = conn.query_row(
        "SELECT count(*) FILTER (WHERE last_poll >= ?1), count(*) FILTER (WHERE last_poll >= ?2),
                max(last_poll)
         FROM feeds",
        params![hour, day],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    // first_seen is indexed: the day's items are counted without a scan of older ones.
    let (new_hour, new_day) = conn.query_row(
        "SELECT count(*) FILTER (WHERE first_seen >= ?1), count(*) FROM items WHERE first_seen >= ?2",
        params![hour, day],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let last_new_item = conn.query_row("SELECT max(first_seen) FROM items", [], |r| r.get(0))?;
    Ok(Activity {
        feeds_polled_last_hour: polled_hour,
        feeds_polled_last_day: polled_day,
        new_items_last_hour: new_hour,
        new_items_last_day: new_day,
        last_poll,
        last_new_item,
    })
}

/// One notifier's part of the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxDepth {
    pub notifier: String,
    pub pending: i64,
    pub failed: i64,
    /// When its oldest pending alert was created.
    pub oldest_pending: Option<String>,
}

/// Pending and failed alerts per notifier (notifiers with neither are left out).
pub fn outbox_depth(conn: &Connection) -> anyhow::Result<Vec<OutboxDepth>> {
    let mut stmt = conn.prepare(
        "SELECT notifier, count(*) FILTER (WHERE status = 'pending'),
                count(*) FILTER (WHERE status = 'failed'),
                min(created) FILTER (WHERE status = 'pending')
         FROM alerts WHERE status IN ('pending', 'failed') GROUP BY notifier ORDER BY notifier",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(OutboxDepth {
            notifier: r.get(0)?,
            pending: r.get(1)?,
            failed: r.get(2)?,
            oldest_pending: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The pending alert waiting longest, if any.
pub fn oldest_pending_alert(conn: &Connection) -> anyhow::Result<Option<AlertView>> {
    let id: Option<i64> = conn
        .query_row(
            "SELECT id FROM alerts WHERE status = 'pending' ORDER BY created, id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    Ok(query_alerts(conn, None, Some(id))?.into_iter().next())
}
