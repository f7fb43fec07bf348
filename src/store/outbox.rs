//! The alert outbox: what is due, what a notifier renders, and recording each delivery
//! attempt. One row per (story, topic, notifier) for topic matches and one per feed-health
//! event and notifier; a digest or a rate limit only moves rows' `next_attempt`, so a crash
//! at any moment leaves every undelivered alert pending.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::{fmt_time, parse_time};
pub use crate::alert::{
    AlertContext, AlertEvent, FeedEvent, FeedEventAlert, FeedInfo, ItemInfo, Source, StoryInfo,
    TopicMatch,
};
use crate::feed_state::HealthEvent;

/// Due rows: those a notifier can render, and those this version cannot read (a match whose
/// story is gone, an event it does not know), with why: the dispatcher fails those instead of
/// finding them due again and again.
#[derive(Debug, Default)]
pub struct Due {
    pub alerts: Vec<AlertContext>,
    pub unreadable: Vec<(i64, String)>,
}

const DUE_SELECT: &str =
    "SELECT a.id, a.uid, a.event, a.topic, a.notifier, a.matched_terms, a.attempts,
        a.created, a.held, a.feed_event,
        s.id, s.title, s.first_seen,
        f.name, i.title, i.url, i.published, i.author, i.summary, i.content, i.categories
     FROM alerts a
     LEFT JOIN stories s ON s.id = a.story_id
     LEFT JOIN items i ON i.id = a.item_id
     LEFT JOIN feeds f ON f.id = i.feed_id";

/// Pending alerts whose next attempt is due, oldest first, with their story's sources as known
/// now (so the alert lists every outlet seen by the time it leaves).
pub fn due_alerts(conn: &Connection, now: DateTime<Utc>, limit: usize) -> anyhow::Result<Due> {
    let sql = format!(
        "{DUE_SELECT} WHERE a.status = 'pending' AND a.next_attempt <= ?1
         ORDER BY a.next_attempt, a.id LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![fmt_time(now), limit as i64], row_to_alert)?;
    finish_rows(conn, rows)
}

/// As [`due_alerts`], for one notifier only: a digest gathers all its due alerts at once.
pub fn due_for_notifier(
    conn: &Connection,
    notifier: &str,
    now: DateTime<Utc>,
    limit: usize,
) -> anyhow::Result<Due> {
    let sql = format!(
        "{DUE_SELECT} WHERE a.status = 'pending' AND a.notifier = ?3 AND a.next_attempt <= ?1
         ORDER BY a.next_attempt, a.id LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![fmt_time(now), limit as i64, notifier], row_to_alert)?;
    finish_rows(conn, rows)
}

fn finish_rows(
    conn: &Connection,
    rows: impl Iterator<Item = rusqlite::Result<Result<AlertContext, (i64, String)>>>,
) -> anyhow::Result<Due> {
    let mut due = Due::default();
    for row in rows {
        match row? {
            Ok(a) => due.alerts.push(a),
            Err(bad) => due.unreadable.push(bad),
        }
    }
    for a in &mut due.alerts {
        if let AlertEvent::Match(m) = &mut a.event {
            m.story.sources = story_sources(conn, m.story.id)?;
        }
    }
    Ok(due)
}

/// A row as a notifier sees it, or its id and why this version cannot read it.
fn row_to_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<AlertContext, (i64, String)>> {
    let id: i64 = r.get(0)?;
    let event: String = r.get(2)?;
    let created: String = r.get(7)?;
    let event = if event == "topic.match" {
        let Some(story_id) = r.get::<_, Option<i64>>(10)? else {
            return Ok(Err((id, "its story is no longer in the database".into())));
        };
        let summary: Option<String> = r.get(18)?;
        let content: Option<String> = r.get(19)?;
        AlertEvent::Match(TopicMatch {
            topic: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            matched_terms: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
            story: StoryInfo {
                id: story_id,
                title: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                first_seen: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                sources: Vec::new(),
            },
            item: ItemInfo {
                feed: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                title: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
                url: r.get(15)?,
                published: r.get(16)?,
                author: r.get(17)?,
                summary: summary_or_excerpt(
                    summary.unwrap_or_default(),
                    content.unwrap_or_default(),
                ),
                categories: serde_json::from_str(
                    &r.get::<_, Option<String>>(20)?.unwrap_or_default(),
                )
                .unwrap_or_default(),
            },
        })
    } else {
        let Some(kind) = HealthEvent::parse(&event) else {
            return Ok(Err((id, format!("unknown event `{event}`"))));
        };
        let Some(feed) = r
            .get::<_, Option<String>>(9)?
            .and_then(|j| serde_json::from_str::<FeedInfo>(&j).ok())
        else {
            return Ok(Err((id, "its feed details cannot be read".into())));
        };
        AlertEvent::Feed(FeedEvent { kind, feed })
    };
    Ok(Ok(AlertContext {
        id,
        uid: r.get(1)?,
        notifier: r.get(4)?,
        attempts: r.get(6)?,
        created: parse_time(&created).unwrap_or_else(Utc::now),
        held: r.get::<_, i64>(8)? != 0,
        event,
    }))
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

/// Queue feed-health events (inside the poll's transaction, with the feed's new state). The
/// uid is unique, so an event recorded twice is one row.
pub fn insert_feed_events(
    conn: &Connection,
    events: &[FeedEventAlert],
    now: &str,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for e in events {
        let feed = serde_json::to_string(&e.feed)?;
        n += conn
            .prepare_cached(
                "INSERT OR IGNORE INTO alerts (uid, event, notifier, feed_event, created, next_attempt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![e.uid, e.kind.as_str(), e.notifier, feed, now])?;
    }
    Ok(n)
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

/// `UPDATE alerts SET {set} WHERE id IN (ids)`, with `?1`, `?2`... bound to `values` first.
fn update_ids(
    conn: &Connection,
    set: &str,
    values: &[&dyn rusqlite::ToSql],
    ids: &[i64],
) -> anyhow::Result<()> {
    for chunk in ids.chunks(500) {
        let first = values.len() + 1;
        let placeholders: Vec<String> = (first..first + chunk.len())
            .map(|i| format!("?{i}"))
            .collect();
        let sql = format!(
            "UPDATE alerts SET {set} WHERE id IN ({})",
            placeholders.join(",")
        );
        let mut bound: Vec<&dyn rusqlite::ToSql> = values.to_vec();
        bound.extend(chunk.iter().map(|id| id as &dyn rusqlite::ToSql));
        conn.execute(&sql, params_from_iter(bound))?;
    }
    Ok(())
}

/// These alerts were delivered, together (one message, or a digest): one `sent` time for all,
/// which is also how a rate limit counts messages.
pub fn mark_sent(conn: &Connection, ids: &[i64], now: DateTime<Utc>) -> anyhow::Result<()> {
    update_ids(
        conn,
        "status = 'sent', attempts = attempts + 1, sent = ?1, last_error = NULL, held = 0",
        &[&fmt_time(now)],
        ids,
    )
}

/// A failed attempt: retry at `retry_at`, or give up (`None`) and mark the alerts failed.
pub fn mark_attempt_failed(
    conn: &Connection,
    ids: &[i64],
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    match retry_at {
        Some(t) => update_ids(
            conn,
            "attempts = attempts + 1, last_error = ?1, next_attempt = ?2",
            &[&error, &fmt_time(t)],
            ids,
        ),
        None => update_ids(
            conn,
            "attempts = attempts + 1, last_error = ?1, status = 'failed', held = 0",
            &[&error],
            ids,
        ),
    }
}

/// Not before `until`: a digest's next tick, or (`held`) the next free slot of a rate limit.
pub fn defer(
    conn: &Connection,
    ids: &[i64],
    until: DateTime<Utc>,
    held: bool,
) -> anyhow::Result<()> {
    update_ids(
        conn,
        "next_attempt = ?1, held = MAX(held, ?2)",
        &[&fmt_time(until), &(held as i64)],
        ids,
    )
}

/// A receiver that keeps failing: none of its pending alerts is tried before `until`.
pub fn back_off(conn: &Connection, notifier: &str, until: DateTime<Utc>) -> anyhow::Result<()> {
    conn.prepare_cached(
        "UPDATE alerts SET next_attempt = MAX(next_attempt, ?2)
         WHERE notifier = ?1 AND status = 'pending'",
    )?
    .execute(params![notifier, fmt_time(until)])?;
    Ok(())
}

/// When this notifier's messages went out since `since`, oldest first (a digest's alerts
/// share one time: one message).
pub fn sent_since(
    conn: &Connection,
    notifier: &str,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<DateTime<Utc>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT sent FROM alerts WHERE notifier = ?1 AND sent >= ?2 ORDER BY sent",
    )?;
    let rows = stmt.query_map(params![notifier, fmt_time(since)], |r| {
        r.get::<_, String>(0)
    })?;
    Ok(rows
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .filter_map(|s| parse_time(s))
        .collect())
}

/// Pending alerts of this notifier that its rate limit held back.
pub fn held_pending(conn: &Connection, notifier: &str) -> anyhow::Result<usize> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM alerts WHERE notifier = ?1 AND status = 'pending' AND held = 1",
        )?
        .query_row([notifier], |r| r.get::<_, i64>(0))? as usize)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut c).unwrap();
        c
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    fn feed_event(uid: &str, notifier: &str) -> FeedEventAlert {
        FeedEventAlert {
            uid: uid.into(),
            notifier: notifier.into(),
            kind: HealthEvent::Failing,
            feed: FeedInfo {
                name: "wire".into(),
                url: "https://x.example/feed".into(),
                error: Some("HTTP 500".into()),
                consecutive_errors: 3,
                http_status: Some(500),
                last_ok: None,
                at: "2026-01-01T10:00:00.000Z".into(),
            },
        }
    }

    #[test]
    fn a_row_that_cannot_be_read_is_reported_not_skipped() {
        let c = db();
        c.execute(
            "INSERT INTO alerts (uid, event, notifier, created, next_attempt)
             VALUES ('x', 'feed.exploded', 'ops', '2026-01-01T10:00:00.000Z', '2026-01-01T10:00:00.000Z')",
            [],
        )
        .unwrap();
        let due = due_alerts(&c, at("2026-01-01T10:00:00.000Z"), 10).unwrap();
        assert!(due.alerts.is_empty());
        assert_eq!(due.unreadable.len(), 1);
        assert!(due.unreadable[0].1.contains("feed.exploded"));
    }

    #[test]
    fn feed_events_are_read_back_once_each_and_digest_ticks_and_backoff_move_them() {
        let c = db();
        let now = "2026-01-01T10:00:00.000Z";
        let events = [
            feed_event("e1", "ops"),
            feed_event("e1", "ops"),
            feed_event("e2", "mail"),
        ];
        assert_eq!(insert_feed_events(&c, &events, now).unwrap(), 2);
        let due = due_alerts(&c, at(now), 10).unwrap().alerts;
        assert_eq!(due.len(), 2);
        match &due[0].event {
            AlertEvent::Feed(f) => {
                assert_eq!(f.kind, HealthEvent::Failing);
                assert_eq!(f.feed.http_status, Some(500));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(due[0].event_name(), "feed.failing");

        // Backing off one receiver leaves the other's alert due.
        back_off(&c, "ops", at("2026-01-01T11:00:00.000Z")).unwrap();
        let due = due_alerts(&c, at("2026-01-01T10:30:00.000Z"), 10)
            .unwrap()
            .alerts;
        assert_eq!(
            due.iter().map(|a| a.uid.as_str()).collect::<Vec<_>>(),
            ["e2"]
        );
        assert_eq!(
            next_due(&c).unwrap(),
            Some(at(now)),
            "the other receiver's alert is still the earliest"
        );

        // A held alert counts as held until it is sent; sending marks all ids at one time.
        let ids: Vec<i64> = due_alerts(&c, at("2026-01-01T12:00:00.000Z"), 10)
            .unwrap()
            .alerts
            .iter()
            .map(|a| a.id)
            .collect();
        defer(&c, &ids, at("2026-01-01T13:00:00.000Z"), true).unwrap();
        assert_eq!(held_pending(&c, "ops").unwrap(), 1);
        assert!(
            due_alerts(&c, at("2026-01-01T12:59:00.000Z"), 10)
                .unwrap()
                .alerts
                .is_empty()
        );
        mark_sent(&c, &ids, at("2026-01-01T13:00:01.000Z")).unwrap();
        assert_eq!(held_pending(&c, "ops").unwrap(), 0);
        assert_eq!(count_pending(&c).unwrap(), 0);
        assert_eq!(
            sent_since(&c, "ops", at("2026-01-01T12:00:00.000Z")).unwrap(),
            [at("2026-01-01T13:00:01.000Z")]
        );
    }
}
