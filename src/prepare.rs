//! The CPU stage: a fetched body becomes everything the writer stores — parsed entries,
//! identity keys, plain text, hashes, topic matches and alert ids.
//!
//! It runs on a pool as large as the machine has cores ([`CpuPool`]), so parsing never starves
//! the async fetchers and never grows threads without bound. Entries the feed sent unchanged
//! (same key, same raw hash as stored) are dropped before their text is extracted: on a busy
//! feed that is almost every entry of every poll. Only that lookup touches the database, over
//! a read-only connection. The document's [`Deadline`] (its CPU budget, shared with its
//! parse) is checked per entry: past it the feed fails and the worker moves on.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Semaphore;

use crate::config::{Config, FeedConfig};
use crate::failpoint;
use crate::identity::{KeyInput, KeyMode, alert_uid, canonical_url, content_hash, content_key};
use crate::parse::{Deadline, ParsedFeed, RawItem};
use crate::store::{ItemMatch, NewItem};
use crate::topics::ItemText;

/// At most one CPU job per core at a time; the others wait for a permit (holding nothing but
/// their fetched body, whose number the poll limits bound).
#[derive(Clone)]
pub struct CpuPool {
    permits: Arc<Semaphore>,
}

/// A CPU job that panicked: a bug met on this input, reported as the feed's error.
#[derive(Debug)]
pub struct Panicked(pub String);

impl CpuPool {
    pub fn new(threads: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(threads.max(1))),
        }
    }

    /// One job per core of this machine.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Run `f` on the blocking pool within the pool's limit. A panic inside `f` is caught and
    /// returned: one feed must never take a worker, or the daemon, down.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Panicked>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let _permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Panicked("the CPU pool is closed".into()))?;
        let joined = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(AssertUnwindSafe(f))
                .map_err(|p| Panicked(crate::store::writer::panic_message(&p)))
        })
        .await;
        match joined {
            Ok(r) => r,
            Err(e) => Err(Panicked(format!("CPU task failed: {e}"))),
        }
    }
}

/// What the CPU stage made of one document.
#[derive(Debug, Default)]
pub struct Prepared {
    pub items: Vec<NewItem>,
    pub title: Option<String>,
    /// The key mode in effect (`None` for a document without items).
    pub key_mode: Option<KeyMode>,
    /// Entries recognised as stored and unchanged (or pruned).
    pub unchanged: usize,
    /// Keys of pruned entries the feed still lists whose tombstones need confirming.
    pub still_listed: Vec<String>,
    /// What the document needed repaired (stable names), and its own freshness hint.
    pub repairs: Vec<String>,
    pub doc_hint: Option<crate::hints::DocHint>,
}

/// What the store knows of an entry's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Stored, with this raw hash.
    Stored(Vec<u8>),
    /// Pruned by retention; `stale` when its tombstone was last confirmed over a day ago.
    Pruned { stale: bool },
}

/// What the store knows of each of `keys` in feed `feed_id` (keys it does not know are absent).
pub fn known_entries(
    conn: &Connection,
    feed_id: i64,
    keys: impl Iterator<Item = impl AsRef<str>>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<HashMap<String, Known>> {
    let mut stored = conn.prepare_cached(
        "SELECT raw_hash FROM items WHERE feed_id = ?1 AND key = ?2 AND raw_hash IS NOT NULL",
    )?;
    let mut pruned =
        conn.prepare_cached("SELECT last_seen FROM tombstones WHERE feed_id = ?1 AND key = ?2")?;
    let day_ago = crate::store::fmt_time(now - chrono::Duration::days(1));
    let mut out = HashMap::new();
    for key in keys {
        let key = key.as_ref();
        if let Some(h) = stored
            .query_row(params![feed_id, key], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
        {
            out.insert(key.to_string(), Known::Stored(h));
        } else if let Some(seen) = pruned
            .query_row(params![feed_id, key], |r| r.get::<_, String>(0))
            .optional()?
        {
            out.insert(
                key.to_string(),
                Known::Pruned {
                    stale: seen < day_ago,
                },
            );
        }
    }
    Ok(out)
}

/// Everything about `doc` that the writer needs. `known` answers, for the keys of the
/// document, the raw hashes stored for them. Fails with [`crate::parse::OverBudget`] once
/// `deadline` has passed.
pub fn prepare(
    doc: ParsedFeed,
    config: &Config,
    feed: &FeedConfig,
    known_mode: Option<KeyMode>,
    known: impl FnOnce(&[&str]) -> anyhow::Result<HashMap<String, Known>>,
    deadline: &Deadline,
) -> anyhow::Result<Prepared> {
    if failpoint::active_for("cpu-panic", &feed.name) {
        panic!("failpoint cpu-panic for feed {}", feed.name);
    }
    let links: Vec<Option<String>> = doc
        .items
        .iter()
        .map(|i| i.link.as_deref().and_then(canonical_url))
        .collect();
    let inputs: Vec<KeyInput<'_>> = doc
        .items
        .iter()
        .zip(&links)
        .map(|(i, l)| KeyInput {
            guid: i.guid.as_deref(),
            canonical_link: l.as_deref(),
        })
        .collect();
    let (plans, key_mode) = crate::identity::plan_keys(feed.dedup, known_mode, &inputs);
    let planned: Vec<&str> = plans.iter().filter_map(|p| p.key.as_deref()).collect();
    let stored = known(&planned)?;

    let mut out = Prepared {
        title: doc.title,
        key_mode,
        repairs: doc.repairs.iter().map(|r| r.name()).collect(),
        doc_hint: crate::hints::DocHint::new(doc.hints.ttl, doc.hints.update_interval),
        ..Default::default()
    };
    for ((raw, plan), link) in doc.items.into_iter().zip(plans).zip(links) {
        deadline.check()?;
        let raw_hash = raw.raw_hash();
        match plan
            .key
            .as_ref()
            .and_then(|k| stored.get(k).map(|known| (k, known)))
        {
            Some((_, Known::Stored(h))) if h[..] == raw_hash[..] => {
                out.unchanged += 1;
                continue;
            }
            Some((key, Known::Pruned { stale })) => {
                out.unchanged += 1;
                if *stale {
                    out.still_listed.push(key.clone());
                }
                continue;
            }
            _ => {}
        }
        out.items.push(new_item(
            raw, plan.key, plan.alias, link, raw_hash, feed, config,
        ));
    }
    Ok(out)
}

fn new_item(
    raw: RawItem,
    key: Option<String>,
    alias: Option<String>,
    canonical: Option<String>,
    raw_hash: [u8; 16],
    feed: &FeedConfig,
    config: &Config,
) -> NewItem {
    let p = raw.normalize();
    let text = if p.content.is_empty() {
        &p.summary
    } else {
        &p.content
    };
    let published = p.published.map(|t| t.to_rfc3339());
    let key = key.unwrap_or_else(|| content_key(&p.title, published.as_deref(), text));
    let mut item = NewItem {
        content_hash: content_hash(
            &p.title,
            p.link.as_deref().unwrap_or(""),
            &p.summary,
            &p.content,
        ),
        canonical_url: canonical,
        key,
        alias,
        guid: p.guid,
        title: p.title,
        url: p.link,
        author: p.author,
        summary: p.summary,
        content: p.content,
        categories: p.categories,
        published: p.published,
        raw_hash,
        matches: Vec::new(),
        signature: None,
        signature_bytes: None,
        index_text: Default::default(),
    };
    item.index_text = crate::store::search::index_text(
        &item.title,
        &item.summary,
        &item.content,
        item.author.as_deref().unwrap_or(""),
        &item.categories,
    );
    let sig = crate::stories::Signature::new(
        &item.title,
        crate::store::stories::text_of(&item.summary, &item.content),
    );
    if !sig.is_empty() {
        item.signature_bytes = Some(sig.to_bytes());
        item.signature = Some(sig);
    }
    item.matches = match_topics(&item, feed, config);
    item
}

/// The topics `item` matches, with one alert id per (topic, notifier).
fn match_topics(item: &NewItem, feed: &FeedConfig, config: &Config) -> Vec<ItemMatch> {
    if config.topics.is_empty() {
        return Vec::new();
    }
    let text = ItemText {
        title: &item.title,
        summary: &item.summary,
        content: &item.content,
        author: item.author.as_deref().unwrap_or(""),
        categories: &item.categories,
        feed: &feed.name,
        url: item.url.as_deref().unwrap_or(""),
    };
    config
        .matcher
        .matches(&text, |i| config.topics[i].applies_to(feed))
        .into_iter()
        .map(|m| {
            let topic = &config.topics[m.topic];
            ItemMatch {
                topic: Arc::from(topic.name.as_str()),
                terms: serde_json::to_string(&m.matched_terms).unwrap_or_else(|_| "[]".into()),
                alerts: topic
                    .notify
                    .iter()
                    .map(|n| {
                        (
                            Arc::from(n.as_str()),
                            alert_uid(&item.key, &feed.name, &topic.name, n),
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_feed;

    #[test]
    fn preparing_stops_at_the_deadline() {
        let src = "[[feed]]\nname = \"f\"\nurl = \"https://x.example/feed\"\n";
        let config = crate::config::parse(
            std::path::Path::new("fw.toml"),
            src,
            crate::config::Secrets::Skip,
        )
        .expect("config");
        let base = url::Url::parse("https://x.example/feed").expect("url");
        let xml = "<rss version=\"2.0\"><channel><title>T</title><item><title>A</title><guid>1</guid></item></channel></rss>";
        let run = |deadline: &Deadline| {
            let doc = parse_feed(xml.as_bytes(), None, &base).expect("reads");
            prepare(
                doc,
                &config,
                &config.feeds[0],
                None,
                |_| Ok(HashMap::new()),
                deadline,
            )
        };
        let e = run(&Deadline::after(std::time::Duration::ZERO)).unwrap_err();
        assert!(
            format!("{e:#}").starts_with("this document took more than 0 ms to read; "),
            "{e:#}"
        );
        assert_eq!(run(&Deadline::none()).expect("prepared").items.len(), 1);
    }
}
