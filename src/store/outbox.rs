//! The alert outbox: what is due, and recording each delivery attempt.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{fmt_time, parse_time};

/// Everything a notifier needs to render one alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertContext {
    #[serde(skip)]
    pub id: i64,
    pub uid: String,
    pub topic: String,
    pub notifier: String,
    pub matched_terms: Vec<String>,
    pub attempts: u32,
    pub story: StoryInfo,
    pub item: ItemInfo,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoryInfo {
    pub id: i64,
    pub title: String,
    pub first_seen: String,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Source {
    pub feed: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemInfo {
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<String>,
    pub author: Option<String>,
    pub summary: String,
    pub categories: Vec<String>,
}

/// Pending alerts whose next attempt is due, oldest first, with their story's sources as known
/// now (so the alert lists every outlet seen by the time it leaves).
pub fn due_alerts(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: usize,
) -> anyhow::Result<Vec<AlertContext>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.uid, a.topic, a.notifier, a.matched_terms, a.attempts,
                s.id, s.title, s.first_seen,
                f.name, i.title, i.url, i.published, i.author, i.summary, i.content, i.categories
         FROM alerts a
         JOIN stories s ON s.id = a.story_id
         LEFT JOIN items i ON i.id = a.item_id
         LEFT JOIN feeds f ON f.id = i.feed_id
         WHERE a.status = 'pending' AND a.next_attempt <= ?1
         ORDER BY a.next_attempt, a.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![super::fmt_time(now), limit as i64], |r| {
        let summary: Option<String> = r.get(14)?;
        let content: Option<String> = r.get(15)?;
        Ok(AlertContext {
            id: r.get(0)?,
            uid: r.get(1)?,
            topic: r.get(2)?,
            notifier: r.get(3)?,
            matched_terms: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
            attempts: r.get(5)?,
            story: StoryInfo {
                id: r.get(6)?,
                title: r.get(7)?,
                first_seen: r.get(8)?,
                sources: Vec::new(),
            },
            item: ItemInfo {
                feed: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                title: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                url: r.get(11)?,
                published: r.get(12)?,
                author: r.get(13)?,
                summary: summary_or_excerpt(
                    summary.unwrap_or_default(),
                    content.unwrap_or_default(),
                ),
                categories: serde_json::from_str(
                    &r.get::<_, Option<String>>(16)?.unwrap_or_default(),
                )
                .unwrap_or_default(),
            },
        })
    })?;
    let mut out = rows.collect::<Result<Vec<_>, _>>()?;
    for a in &mut out {
        a.story.sources = story_sources(conn, a.story.id)?;
    }
    Ok(out)
}

/// Feeds without a summary put the article in the content; an alert carries an excerpt of it.
fn summary_or_excerpt(summary: String, content: String) -> String {
    let text = if summary.is_empty() { content } else { summary };
    crate::text::excerpt(&text, 600)
}

pub fn story_sources(conn: &Connection, story_id: i64) -> anyhow::Result<Vec<Source>> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.name, i.url FROM items i JOIN feeds f ON f.id = i.feed_id
         WHERE i.story_id = ?1 ORDER BY i.first_seen, i.id",
    )?;
    let rows = stmt.query_map([story_id], |r| {
        Ok(Source {
            feed: r.get(0)?,
            url: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// When the earliest pending alert is due, if any.
pub fn next_due(conn: &Connection) -> anyhow::Result<Option<DateTime<Utc>>> {
    let t: Option<String> = conn
        .query_row(
            "SELECT MIN(next_attempt) FROM alerts WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(t.as_deref().and_then(parse_time))
}

pub fn mark_sent(conn: &Connection, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE alerts SET status = 'sent', attempts = attempts + 1, sent = ?2, last_error = NULL WHERE id = ?1",
        params![id, fmt_time(now)],
    )?;
    Ok(())
}

/// A failed attempt: retry at `retry_at`, or give up (`None`) and mark the alert failed.
pub fn mark_attempt_failed(
    conn: &Connection,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    match retry_at {
        Some(t) => conn.execute(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3 WHERE id = ?1",
            params![id, error, fmt_time(t)],
        )?,
        None => conn.execute(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?2, status = 'failed' WHERE id = ?1",
            params![id, error],
        )?,
    };
    Ok(())
}

/// Requeue failed alerts: the given ones (by row id, or by the uid that webhooks carry as
/// `id`), or all failed ones. Returns how many were requeued, and the given ids that named no
/// failed alert.
pub fn retry(
    conn: &Connection,
    ids: &[String],
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, Vec<String>)> {
    let now = fmt_time(now);
    if ids.is_empty() {
        let n = conn.execute(
            "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt = ?1 WHERE status = 'failed'",
            [now],
        )?;
        return Ok((n, Vec::new()));
    }
    let mut stmt = conn.prepare(
        "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt = ?2
         WHERE (CAST(id AS TEXT) = ?1 OR uid = ?1) AND status = 'failed'",
    )?;
    let (mut n, mut missing) = (0, Vec::new());
    for id in ids {
        match stmt.execute(params![id, now])? {
            0 => missing.push(id.clone()),
            k => n += k,
        }
    }
    Ok((n, missing))
}

pub fn count_pending(conn: &Connection) -> anyhow::Result<usize> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM alerts WHERE status = 'pending'",
        [],
        |r| r.get::<_, i64>(0),
    )? as usize)
}
