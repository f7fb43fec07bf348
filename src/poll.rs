//! One poll of one feed, start to finish: fetch → parse → identity → store (with matching and
//! outbox) → next poll time. Used by the daemon's scheduler and by `feedwatch poll`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::{Config, FeedConfig};
use crate::fetch::{FetchSettings, Fetcher, Outcome};
use crate::identity::{IdentityInput, KeyMode, canonical_url, content_hash, item_keys};
use crate::parse::{ParsedItem, parse_feed};
use crate::schedule;
use crate::store::{
    FeedRow, IngestSummary, NewItem, PollRecord, PollResult, Store, ingest, queries,
};

/// What a poll came to, as shown by `poll --json`.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub name: String,
    /// ok | not_modified | gone | error | skipped
    pub status: String,
    pub http_status: Option<u16>,
    pub new_items: usize,
    pub error: Option<String>,
    #[serde(skip)]
    pub alerts_created: usize,
    /// Set when the poll could not even be recorded: do not poll this feed again before then.
    #[serde(skip)]
    pub hold_until: Option<DateTime<Utc>>,
}

impl FeedReport {
    /// A feed that was not polled, and why.
    pub fn skipped(name: &str, why: String) -> Self {
        Self {
            name: name.to_string(),
            status: "skipped".into(),
            http_status: None,
            new_items: 0,
            error: Some(why),
            alerts_created: 0,
            hold_until: None,
        }
    }
}

/// Shared by every poll: the store, the config and one HTTP client.
#[derive(Clone)]
pub struct Poller {
    pub store: Arc<Store>,
    pub config: Arc<Config>,
    fetcher: Fetcher,
    limits: Arc<Limits>,
}

impl Poller {
    pub fn new(store: Arc<Store>, config: Arc<Config>) -> anyhow::Result<Self> {
        let d = &config.daemon;
        let fetcher = Fetcher::new(FetchSettings {
            user_agent: d.user_agent.clone(),
            timeout: d.timeout,
            connect_timeout: d.connect_timeout,
            max_body: d.max_body,
        })?;
        let limits = Arc::new(Limits::new(d.concurrency, d.per_host));
        Ok(Self {
            store,
            config,
            fetcher,
            limits,
        })
    }

    /// Poll `feed` within the global and per-host limits. Never fails: every problem becomes
    /// the feed's error, recorded in the store; if even that fails (a locked database, say),
    /// the report says how long to hold the feed back, so it is not re-fetched in a loop.
    pub async fn poll(&self, feed: &FeedConfig) -> FeedReport {
        match self.poll_inner(feed).await {
            Ok(r) => r,
            Err(e) => {
                let error = format!("{e:#}");
                tracing::error!(feed = %feed.name, %error, "could not record the poll");
                FeedReport {
                    name: feed.name.clone(),
                    status: "error".into(),
                    http_status: None,
                    new_items: 0,
                    error: Some(error),
                    alerts_created: 0,
                    hold_until: Some(Utc::now() + chrono::Duration::seconds(60)),
                }
            }
        }
    }

    async fn poll_inner(&self, feed: &FeedConfig) -> anyhow::Result<FeedReport> {
        let name = feed.name.clone();
        let row = self.store.run(move |c| queries::feed_row(c, &name)).await?;
        let row =
            row.ok_or_else(|| anyhow::anyhow!("feed `{}` is not in the database", feed.name))?;
        if let Some(t) = row.retry_after.filter(|t| *t > Utc::now()) {
            // The publisher said when it wants us back; a manual poll does not overrule that.
            return Ok(FeedReport::skipped(
                &feed.name,
                format!(
                    "the server asked not to be polled before {} (Retry-After)",
                    t.to_rfc3339()
                ),
            ));
        }
        let url = Url::parse(&row.url).unwrap_or_else(|_| feed.url.clone());
        let attempt = {
            let _permits = self.limits.acquire(url.host_str().unwrap_or("")).await;
            self.attempt(feed, &url, &row).await?
        };
        let now = Utc::now();
        let failed = matches!(attempt.result, PollResult::Failed { .. });
        let consecutive_errors = if failed {
            row.consecutive_errors + 1
        } else {
            0
        };
        let next_poll = schedule::next_poll(
            self.config.schedule_of(feed),
            self.config.daemon.timezone,
            &feed.name,
            now,
            schedule::LastPoll {
                consecutive_errors,
                not_before: attempt.not_before,
            },
        );
        let record = PollRecord {
            now,
            http_status: attempt.http_status,
            result: attempt.result.clone(),
            moved_to: attempt.moved_to.clone(),
            retry_after: attempt.not_before,
            next_poll,
        };
        let config = Arc::clone(&self.config);
        let feed_name = feed.name.clone();
        let items = attempt.items;
        let summary: IngestSummary = self
            .store
            .run(move |c| {
                let feed = config
                    .feed(&feed_name)
                    .ok_or_else(|| anyhow::anyhow!("feed `{feed_name}` left the config"))?;
                ingest::complete_poll(c, feed, &config.topics, &items, &record)
            })
            .await?;

        let (status, error) = match &attempt.result {
            PollResult::Fetched { .. } => ("ok", None),
            PollResult::NotModified => ("not_modified", None),
            PollResult::Gone => ("gone", Some("410 Gone: polling stopped".to_string())),
            PollResult::Failed { error } => ("error", Some(error.clone())),
        };
        if let (Some(to), None) = (&attempt.moved_to, &error) {
            tracing::warn!(feed = %feed.name, from = %url, to = %to, "feed moved permanently; polling the new address from now on");
        }
        match &error {
            None => {
                tracing::info!(feed = %feed.name, status, new = summary.new_items, updated = summary.updated_items,
                alerts = summary.alerts_created, next_poll = %next_poll.to_rfc3339(), "polled")
            }
            Some(err) if status == "gone" => {
                tracing::warn!(feed = %feed.name, error = %err, "feed is gone; `feedwatch feeds reset` resumes it")
            }
            Some(err) => {
                tracing::warn!(feed = %feed.name, status, error = %err, consecutive_errors,
                next_poll = %next_poll.to_rfc3339(), "poll failed")
            }
        }
        Ok(FeedReport {
            name: feed.name.clone(),
            status: status.into(),
            http_status: attempt.http_status,
            new_items: summary.new_items,
            error,
            alerts_created: summary.alerts_created,
            hold_until: None,
        })
    }

    /// Fetch and parse: everything a poll does before it writes.
    async fn attempt(
        &self,
        feed: &FeedConfig,
        url: &Url,
        row: &FeedRow,
    ) -> anyhow::Result<Attempt> {
        let resp = match self.fetcher.fetch(url, &row.validators).await {
            Ok(resp) => resp,
            Err(e) => {
                return Ok(Attempt {
                    result: PollResult::Failed {
                        error: e.to_string(),
                    },
                    http_status: e.http_status(),
                    moved_to: None,
                    items: Vec::new(),
                    not_before: e.retry_after(),
                });
            }
        };
        let base = resp.moved_to.clone().unwrap_or_else(|| url.clone());
        let (result, items) = match resp.outcome {
            Outcome::NotModified => (PollResult::NotModified, Vec::new()),
            Outcome::Gone => (PollResult::Gone, Vec::new()),
            Outcome::Body {
                body,
                content_type,
                validators,
            } => {
                let parsed = tokio::task::spawn_blocking(move || {
                    parse_feed(&body, content_type.as_deref(), &base)
                })
                .await?;
                match parsed {
                    Ok(doc) => {
                        let (items, key_mode) = new_items(feed, row.key_mode, doc.items);
                        (
                            PollResult::Fetched {
                                validators,
                                title: doc.title,
                                key_mode,
                            },
                            items,
                        )
                    }
                    // Validators are not kept: the next poll must fetch the body again.
                    Err(e) => (
                        PollResult::Failed {
                            error: e.to_string(),
                        },
                        Vec::new(),
                    ),
                }
            }
        };
        Ok(Attempt {
            result,
            http_status: Some(resp.status),
            moved_to: resp.moved_to.as_ref().map(Url::to_string),
            items,
            not_before: None,
        })
    }
}

/// What one fetch and parse came to, before it is recorded.
struct Attempt {
    result: PollResult,
    http_status: Option<u16>,
    moved_to: Option<String>,
    items: Vec<NewItem>,
    /// A server's Retry-After.
    not_before: Option<DateTime<Utc>>,
}

/// Parsed entries → items with identity keys, canonical URLs and content hashes.
pub fn new_items(
    feed: &FeedConfig,
    known: Option<KeyMode>,
    parsed: Vec<ParsedItem>,
) -> (Vec<NewItem>, Option<KeyMode>) {
    let published: Vec<Option<String>> = parsed
        .iter()
        .map(|p| p.published.map(|t| t.to_rfc3339()))
        .collect();
    let inputs: Vec<IdentityInput<'_>> = parsed
        .iter()
        .zip(&published)
        .map(|(p, date)| IdentityInput {
            guid: p.guid.as_deref(),
            link: p.link.as_deref(),
            title: &p.title,
            published: date.as_deref(),
            text: if p.content.is_empty() {
                &p.summary
            } else {
                &p.content
            },
        })
        .collect();
    let (keys, mode) = item_keys(feed.dedup, known, &inputs);
    let items = parsed
        .into_iter()
        .zip(keys)
        .map(|(p, id)| NewItem {
            content_hash: content_hash(
                &p.title,
                p.link.as_deref().unwrap_or(""),
                &p.summary,
                &p.content,
            ),
            canonical_url: p.link.as_deref().and_then(canonical_url),
            key: id.key,
            alias: id.alias,
            guid: p.guid,
            title: p.title,
            url: p.link,
            author: p.author,
            summary: p.summary,
            content: p.content,
            categories: p.categories,
            published: p.published,
        })
        .collect();
    (items, mode)
}

/// Polls in flight: at most `concurrency` in all and `per_host` against any one host.
pub struct Limits {
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limits {
    pub fn new(concurrency: usize, per_host: usize) -> Self {
        Self {
            global: Arc::new(Semaphore::new(concurrency)),
            per_host,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    pub async fn acquire(
        &self,
        host: &str,
    ) -> (Option<OwnedSemaphorePermit>, Option<OwnedSemaphorePermit>) {
        let host_sem = match self.hosts.lock() {
            Ok(mut m) => Arc::clone(
                m.entry(host.to_ascii_lowercase())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
            ),
            Err(_) => Arc::new(Semaphore::new(self.per_host)),
        };
        // Take the host's permit first, so a slow host does not hold global slots while waiting.
        let h = host_sem.acquire_owned().await.ok();
        let g = Arc::clone(&self.global).acquire_owned().await.ok();
        (g, h)
    }
}
