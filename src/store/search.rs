//! `feedwatch search` and `feedwatch match --since`: the topic language over stored items.
//!
//! FTS5 narrows the candidates (a necessary condition derived from the query, see
//! [`crate::topics::fts`]), and each candidate is checked with the same matcher that decides
//! alerts, so a search shows exactly what a topic with that query would have caught.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::fmt_time;
use super::queries::{ITEM_COLUMNS, ItemView, item_from_row};
use crate::topics::{ItemText, Matcher, Query, fts};

/// What the search index holds for an item: each field's words as the matcher folds them,
/// space-separated (title, summary, content, author, categories).
pub fn index_text(
    title: &str,
    summary: &str,
    content: &str,
    author: &str,
    categories: &[String],
) -> [String; 5] {
    let fold = crate::topics::normalize::fold;
    [
        fold(title),
        fold(summary),
        fold(content),
        fold(author),
        categories
            .iter()
            .map(|c| fold(c))
            .collect::<Vec<_>>()
            .join(" "),
    ]
}

/// Index every stored item (once, when the index is created).
pub fn index_all(conn: &Connection) -> anyhow::Result<()> {
    let mut rows =
        conn.prepare("SELECT id, title, summary, content, author, categories FROM items")?;
    let mut insert = conn.prepare(
        "INSERT INTO items_fts (rowid, title, summary, content, author, categories)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut q = rows.query([])?;
    while let Some(r) = q.next()? {
        let categories: Vec<String> =
            serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default();
        let author: Option<String> = r.get(4)?;
        let [t, s, c, a, k] = index_text(
            &r.get::<_, String>(1)?,
            &r.get::<_, String>(2)?,
            &r.get::<_, String>(3)?,
            author.as_deref().unwrap_or(""),
            &categories,
        );
        insert.execute(params![r.get::<_, i64>(0)?, t, s, c, a, k])?;
    }
    Ok(())
}

/// A stored item the query matches, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    #[serde(flatten)]
    pub item: ItemView,
    pub matched_terms: Vec<String>,
}

/// Which way to walk the stored items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

/// The items first seen since `since` that `query` matches and `keep` accepts, in `order`,
/// until `wanted` says enough.
pub fn matching(
    conn: &Connection,
    query: &Query,
    since: Option<DateTime<Utc>>,
    order: Order,
    mut keep: impl FnMut(&ItemView) -> bool,
    mut wanted: impl FnMut(&[Found]) -> bool,
) -> anyhow::Result<Vec<Found>> {
    let dir = match order {
        Order::NewestFirst => "DESC",
        Order::OldestFirst => "ASC",
    };
    let prefilter = fts::prefilter(query);
    let sql = match &prefilter {
        Some(_) => format!(
            "SELECT {ITEM_COLUMNS} FROM items_fts f JOIN items i ON i.id = f.rowid
             JOIN feeds fe ON fe.id = i.feed_id
             WHERE items_fts MATCH ?1 AND (?2 IS NULL OR i.first_seen >= ?2) ORDER BY i.id {dir}"
        ),
        None => format!(
            "SELECT {ITEM_COLUMNS} FROM items i JOIN feeds fe ON fe.id = i.feed_id
             WHERE ?1 IS NULL AND (?2 IS NULL OR i.first_seen >= ?2) ORDER BY i.id {dir}"
        ),
    };
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params![prefilter, since.map(fmt_time)])?;
    // The same compiled matcher that decides alerts.
    let matcher = Matcher::new(std::iter::once(query));
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let item = item_from_row(r)?;
        if !keep(&item) {
            continue;
        }
        let text = ItemText {
            title: &item.title,
            summary: &item.summary,
            content: &item.content,
            author: item.author.as_deref().unwrap_or(""),
            categories: &item.categories,
            feed: &item.feed,
            url: item.url.as_deref().unwrap_or(""),
        };
        if let Some(m) = matcher.matches(&text, |_| true).into_iter().next() {
            let matched_terms = m.matched_terms;
            out.push(Found {
                item,
                matched_terms,
            });
            if !wanted(&out) {
                break;
            }
        }
    }
    Ok(out)
}
