//! Schema migrations, tracked in `PRAGMA user_version`. Append new steps; never edit old ones.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: feeds, stories, items, topic matches and the alert outbox.
    r#"
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        config_url TEXT NOT NULL,          -- as written in the config
        url TEXT NOT NULL,                 -- in use: differs after a permanent redirect
        title TEXT,
        state TEXT NOT NULL DEFAULT 'new', -- new | ok | failing | gone
        etag TEXT,
        last_modified TEXT,
        http_status INTEGER,
        last_poll TEXT,
        last_ok TEXT,
        error TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        next_poll TEXT,
        retry_after TEXT,                  -- the server's "not before" (429/503 Retry-After)
        schedule TEXT,                     -- "cron|zone" the next_poll was computed from
        key_mode TEXT                      -- guid | link | content: how `auto` keys this feed
    );
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        first_seen TEXT NOT NULL
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        guid TEXT,
        title TEXT NOT NULL,
        url TEXT,
        canonical_url TEXT,
        author TEXT,
        summary TEXT NOT NULL,
        content TEXT NOT NULL,
        categories TEXT NOT NULL DEFAULT '[]',
        published TEXT,
        first_seen TEXT NOT NULL,
        updated TEXT,
        content_hash TEXT NOT NULL,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        UNIQUE (feed_id, key)
    );
    CREATE INDEX items_canonical_url ON items(canonical_url) WHERE canonical_url IS NOT NULL;
    CREATE INDEX items_story ON items(story_id);
    CREATE INDEX items_first_seen ON items(first_seen);
    CREATE TABLE item_topics (
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        topic TEXT NOT NULL,
        matched_terms TEXT NOT NULL,
        PRIMARY KEY (item_id, topic)
    );
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,          -- sent as Idempotency-Key
        story_id INTEGER NOT NULL REFERENCES stories(id),
        item_id INTEGER REFERENCES items(id) ON DELETE SET NULL,
        topic TEXT NOT NULL,
        notifier TEXT NOT NULL,
        matched_terms TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending', -- pending | sent | failed
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created TEXT NOT NULL,
        sent TEXT,
        next_attempt TEXT NOT NULL,
        UNIQUE (story_id, topic, notifier)
    );
    CREATE INDEX alerts_due ON alerts(status, next_attempt);
    "#,
    // 2: the raw form of each item, so a poll recognises unchanged entries before extracting
    // their text.
    r#"
    ALTER TABLE items ADD COLUMN raw_hash BLOB;
    "#,
    // 3: feed-health events share the outbox (no story, item or topic); rate limits and
    // digests. SQLite cannot drop a NOT NULL, so the table is rebuilt with its rows.
    //   event: topic.match | feed.failing | feed.gone | feed.recovered
    //   feed_event: JSON of the feed's state the event reports (feed events only)
    //   held: 1 while the alert waits because its notifier's max_per_hour was reached
    r#"
    CREATE TABLE alerts_v3 (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        event TEXT NOT NULL DEFAULT 'topic.match',
        story_id INTEGER REFERENCES stories(id),
        item_id INTEGER REFERENCES items(id) ON DELETE SET NULL,
        topic TEXT,
        notifier TEXT NOT NULL,
        matched_terms TEXT NOT NULL DEFAULT '[]',
        feed_event TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created TEXT NOT NULL,
        sent TEXT,
        next_attempt TEXT NOT NULL,
        held INTEGER NOT NULL DEFAULT 0,
        UNIQUE (story_id, topic, notifier)
    );
    INSERT INTO alerts_v3 (id, uid, story_id, item_id, topic, notifier, matched_terms, status,
                           attempts, last_error, created, sent, next_attempt)
        SELECT id, uid, story_id, item_id, topic, notifier, matched_terms, status, attempts,
               last_error, created, sent, next_attempt FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v3 RENAME TO alerts;
    CREATE INDEX alerts_due ON alerts(status, next_attempt);
    CREATE INDEX alerts_notifier_sent ON alerts(notifier, sent) WHERE sent IS NOT NULL;
    "#,
    // 4: full-text search over items (external content: the text lives once, in `items`), the
    // keys of pruned items (so a feed that still lists them never makes them new again), and
    // what story joining needs (a near-duplicate signature per item, and when a story was last
    // joined).
    r#"
    -- Contentless: it holds the words of each item as our matcher folds them (see
    -- `search::index_text`), so search and topics agree; the text itself lives in `items`.
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, summary, content, author, categories,
        content = '', contentless_delete = 1, detail = column, detail = column,
        tokenize = "unicode61 remove_diacritics 0 categories 'L* N* Co M*'"
    );
    -- Merge segments less eagerly: the index grows by thousands of items a sweep, and each
    -- merge rewrites what it merges.
    INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);
    INSERT INTO items_fts (items_fts, rank) VALUES ('crisismerge', 64);
    CREATE TABLE tombstones (
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        last_seen TEXT NOT NULL,           -- last time a poll found the feed still listing it
        PRIMARY KEY (feed_id, key)
    ) WITHOUT ROWID;
    ALTER TABLE items ADD COLUMN signature BLOB;
    CREATE INDEX items_feed_first_seen ON items(feed_id, first_seen);
    CREATE INDEX alerts_story ON alerts(story_id);
    ALTER TABLE feeds ADD COLUMN held_by TEXT;     -- the publisher hint holding next_poll back
    ALTER TABLE feeds ADD COLUMN repairs TEXT;     -- JSON: what the last document needed repaired
    ALTER TABLE feeds ADD COLUMN doc_hint TEXT;    -- the document's <ttl> or sy:updatePeriod
    -- Plain indexes, not partial ones: with a partial index SQLite needs the bound value to
    -- know it applies, and so recompiles the statement at every execution.
    DROP INDEX items_canonical_url;
    CREATE INDEX items_canonical_url ON items(canonical_url);
    DROP INDEX alerts_notifier_sent;
    CREATE INDEX alerts_notifier_sent ON alerts(notifier, sent);
    "#,
];

pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let current = |conn: &Connection| -> anyhow::Result<usize> {
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(usize::try_from(v).unwrap_or(usize::MAX))
    };
    let version = current(conn)?;
    if version > MIGRATIONS.len() {
        anyhow::bail!(
            "database schema version {version} is newer than this feedwatch knows ({}); upgrade feedwatch",
            MIGRATIONS.len()
        );
    }
    if version == MIGRATIONS.len() {
        return Ok(());
    }
    // IMMEDIATE takes the write lock up front (waiting on the busy timeout), and the version is
    // read again under it: another process may have migrated meanwhile.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version = current(&tx)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        // Steps SQL cannot do alone.
        if i + 1 == 4 {
            super::search::index_all(&tx)?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 3 rebuilds the outbox: a database of version 2 keeps its alerts.
    #[test]
    fn items_stored_before_the_search_index_are_indexed_by_the_migration() {
        let mut c = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..3] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 3).unwrap();
        c.execute_batch(
            "INSERT INTO feeds (id, name, config_url, url) VALUES (1, 'f', 'x', 'x');
             INSERT INTO stories (id, title, first_seen) VALUES (1, 's', '2026-01-01T00:00:00.000Z');
             INSERT INTO items (feed_id, key, title, summary, content, first_seen, content_hash, story_id)
             VALUES (1, 'k', 'Lavrov’s visit', '', 'Talks in the Hauptstraße', '2026-01-01T00:00:00.000Z', 'h', 1);",
        )
        .unwrap();
        migrate(&mut c).unwrap();
        let hits = |q: &str| -> i64 {
            c.query_row(
                "SELECT COUNT(*) FROM items_fts WHERE items_fts MATCH ?1",
                [q],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(hits("lavrov"), 1);
        assert_eq!(hits("hauptstrasse"), 1);
        assert_eq!(hits("moscow"), 0);
    }

    #[test]
    fn alerts_survive_the_outbox_rebuild() {
        let mut c = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..2] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 2).unwrap();
        c.execute_batch(
            "INSERT INTO stories (id, title, first_seen) VALUES (1, 's', '2026-01-01T00:00:00.000Z');
             INSERT INTO alerts (uid, story_id, topic, notifier, matched_terms, status, attempts,
                                 created, next_attempt)
             VALUES ('u1', 1, 't', 'n', '[\"x\"]', 'failed', 4, '2026-01-01T00:00:00.000Z',
                     '2026-01-01T00:00:00.000Z');",
        )
        .unwrap();
        migrate(&mut c).unwrap();
        let row: (String, String, Option<i64>, u32, i64) = c
            .query_row(
                "SELECT uid, event, story_id, attempts, held FROM alerts",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(row, ("u1".into(), "topic.match".into(), Some(1), 4, 0));
        // Feed-health events need no story.
        c.execute(
            "INSERT INTO alerts (uid, event, notifier, created, next_attempt)
             VALUES ('e', 'feed.gone', 'n', 'now', 'now')",
            [],
        )
        .unwrap();
    }
}
