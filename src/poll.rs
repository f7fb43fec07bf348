//! One poll of one feed through the stages: fetch (async) → CPU stage (parse, text, keys,
//! matches) → writer (one message, committed with other polls' results). Used by the daemon's
//! scheduler and by `feedwatch poll`; neither reads the database to poll: the feed's state
//! comes from memory and the new state goes back with the result.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::task::JoinSet;
use url::Url;

use crate::config::{Config, FeedConfig};
use crate::feed_state::{FeedState, PollRecord, PollResult, health_event};
use crate::fetch::{FetchSettings, Fetcher, Outcome, Reach, Validators};
use crate::limits::Admission;
use crate::parse::{Deadline, ParseError, parse_feed_within};
use crate::prepare::{CpuPool, Prepared, known_entries, prepare};
use crate::schedule;
use crate::store::{FeedEventAlert, FeedInfo, IngestSummary, NewItem, PollOutcome, Store};

/// What a poll came to, as shown by `poll --json`.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    pub name: String,
    /// ok | not_modified | gone | error | skipped
    pub status: String,
    pub http_status: Option<u16>,
    pub new_items: usize,
    pub updated_items: usize,
    pub error: Option<String>,
    #[serde(skip)]
    pub alerts_created: usize,
}

impl FeedReport {
    /// What the poll counters count of this report.
    pub fn tally(&self) -> crate::metrics::PollTally<'_> {
        crate::metrics::PollTally {
            status: &self.status,
            http_status: self.http_status,
            new_items: self.new_items,
            updated_items: self.updated_items,
            alerts_created: self.alerts_created,
        }
    }
}

impl FeedReport {
    /// A feed that was not polled, and why.
    pub fn skipped(name: &str, why: String) -> Self {
        Self {
            name: name.to_string(),
            status: "skipped".into(),
            http_status: None,
            new_items: 0,
            updated_items: 0,
            error: Some(why),
            alerts_created: 0,
        }
    }
}

/// The end of one poll, for the scheduler.
#[derive(Debug)]
pub struct PollDone {
    pub report: FeedReport,
    /// The feed's state after the poll, once committed. `None` when nothing was recorded (the
    /// poll was skipped, or recording failed): the scheduler keeps the old state.
    pub state: Option<FeedState>,
    /// Set when the poll could not be recorded: do not poll this feed again before then.
    pub hold_until: Option<DateTime<Utc>>,
}

/// How long a feed whose poll could not be recorded is held back.
const HOLD: chrono::Duration = chrono::Duration::seconds(60);

/// Where a poll's result goes and what the CPU stage asks about stored entries: the SQLite
/// store (its writer thread), or a cluster node's PostgreSQL (`cluster::node`).
pub trait PollStore: Send + Sync + 'static {
    /// Record one poll's outcome durably; what it stored.
    fn record(
        &self,
        outcome: PollOutcome,
    ) -> impl std::future::Future<Output = anyhow::Result<IngestSummary>> + Send;

    /// What the store knows of `keys` in feed `feed_id`. Called on the CPU pool: may block.
    fn known_entries(
        &self,
        feed_id: i64,
        keys: &[&str],
    ) -> anyhow::Result<std::collections::HashMap<String, crate::prepare::Known>>;
}

impl PollStore for Store {
    async fn record(&self, outcome: PollOutcome) -> anyhow::Result<IngestSummary> {
        self.writer().poll(outcome).await
    }

    fn known_entries(
        &self,
        feed_id: i64,
        keys: &[&str],
    ) -> anyhow::Result<std::collections::HashMap<String, crate::prepare::Known>> {
        self.read(|c| known_entries(c, feed_id, keys.iter(), Utc::now()))
    }
}

/// Shared by every poll: the store, the config, one HTTP client and the CPU pool.
pub struct Poller<S: PollStore = Store> {
    pub store: Arc<S>,
    pub config: Arc<Config>,
    fetcher: Fetcher,
    cpu: CpuPool,
}

impl<S: PollStore> Clone for Poller<S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            config: Arc::clone(&self.config),
            fetcher: self.fetcher.clone(),
            cpu: self.cpu.clone(),
        }
    }
}

impl<S: PollStore> Poller<S> {
    pub fn new(store: Arc<S>, config: Arc<Config>) -> anyhow::Result<Self> {
        let d = &config.daemon;
        let fetcher = Fetcher::new(FetchSettings {
            user_agent: d.user_agent.clone(),
            timeout: d.timeout,
            connect_timeout: d.connect_timeout,
            max_body: d.max_body,
            allow_private_networks: d.allow_private_networks,
        })?;
        Ok(Self {
            store,
            config,
            fetcher,
            cpu: CpuPool::for_this_machine(),
        })
    }

    /// Poll `feed` from `state`. Never fails: every problem becomes the feed's error, recorded
    /// in the store; if even that fails (a locked database, say), the result says how long to
    /// hold the feed back, so it is not re-fetched in a loop.
    pub async fn poll(&self, feed: &FeedConfig, state: &FeedState) -> PollDone {
        if let Some(t) = state.retry_after.filter(|t| *t > Utc::now()) {
            // The publisher said when it wants us back; a manual poll does not overrule that.
            let why = format!(
                "the server asked not to be polled before {} (Retry-After)",
                t.to_rfc3339()
            );
            return PollDone {
                report: FeedReport::skipped(&feed.name, why),
                state: None,
                hold_until: None,
            };
        }
        let url = Url::parse(&state.url).unwrap_or_else(|_| feed.url.clone());
        let attempt = self.attempt(feed, &url, state).await;
        self.record(feed, state, &url, attempt).await
    }

    /// [`poll`](Self::poll), with a panic anywhere in it recorded as the feed's error (its
    /// next poll pushed back like any failure's), so one feed cannot stall or crash the rest.
    pub async fn poll_guarded(&self, feed: &FeedConfig, state: &FeedState) -> PollDone {
        use futures_util::FutureExt;
        match std::panic::AssertUnwindSafe(self.poll(feed, state))
            .catch_unwind()
            .await
        {
            Ok(done) => done,
            Err(panic) => {
                let why = crate::store::writer::panic_message(&panic);
                tracing::error!(feed = %feed.name, error = %why, "poll panicked");
                let url = Url::parse(&state.url).unwrap_or_else(|_| feed.url.clone());
                let attempt = Attempt::failed(
                    format!("internal error while polling (please report it): {why}"),
                    None,
                    None,
                );
                self.record(feed, state, &url, attempt).await
            }
        }
    }

    /// Turn an attempt into the feed's next state and hand it, with the items, to the writer.
    async fn record(
        &self,
        feed: &FeedConfig,
        state: &FeedState,
        url: &Url,
        attempt: Attempt,
    ) -> PollDone {
        let now = Utc::now();
        let failed = matches!(attempt.result, PollResult::Failed { .. });
        let scheduled = schedule::next_poll(
            self.config.schedule_of(feed),
            self.config.daemon.timezone,
            &feed.name,
            now,
            schedule::LastPoll {
                consecutive_errors: if failed {
                    state.consecutive_errors.saturating_add(1)
                } else {
                    0
                },
                not_before: attempt.not_before,
            },
        );
        // A publisher's freshness hint holds a successful poll's next one back (capped): the
        // response's, or the document's own (kept from the last body when this was a 304).
        let doc_hint = match &attempt.result {
            PollResult::Fetched { doc_hint, .. } => doc_hint.as_ref(),
            _ => state.doc_hint.as_ref(),
        };
        let hint = crate::hints::longest(attempt.hint.clone(), doc_hint.and_then(|d| d.hint(now)));
        let hint = hint
            .as_ref()
            .filter(|_| !failed && feed.respects_cache_headers(&self.config.daemon));
        let (next_poll, held_by) =
            crate::hints::hold(scheduled, hint, now, self.config.daemon.cache_max);
        let announced = attempt.announced;
        let record = PollRecord {
            now,
            http_status: attempt.http_status,
            next_poll,
            held_by,
            result: attempt.result,
            moved_to: attempt.moved_to,
            retry_after: attempt.not_before,
        };
        let new_state = state.after_poll(&record);
        let events = self.health_events(feed, state, &new_state, now);
        let outcome = PollOutcome {
            state: new_state.clone(),
            items: attempt.items,
            still_listed: attempt.still_listed,
            events,
        };
        let matched: Vec<std::sync::Arc<str>> = outcome
            .items
            .iter()
            .flat_map(|i| i.matches.iter().map(|m| m.topic.clone()))
            .collect();
        match self.store.record(outcome).await {
            Ok(summary) => {
                crate::metrics::matched(matched.iter().map(|t| &**t));
                let report = report(feed, &record, url, &summary, &new_state, !announced);
                PollDone {
                    report,
                    state: Some(new_state),
                    hold_until: None,
                }
            }
            Err(e) => {
                let error = format!("{e:#}");
                tracing::error!(feed = %feed.name, %error, "could not record the poll");
                PollDone {
                    report: FeedReport {
                        name: feed.name.clone(),
                        status: "error".into(),
                        http_status: record.http_status,
                        new_items: 0,
                        updated_items: 0,
                        error: Some(error),
                        alerts_created: 0,
                    },
                    state: None,
                    hold_until: Some(now + HOLD),
                }
            }
        }
    }

    /// The feed-health event this poll causes, once for each notifier told about the feed's
    /// health (`[daemon] notify_errors` and its topics' `notify_errors`).
    fn health_events(
        &self,
        feed: &FeedConfig,
        before: &FeedState,
        after: &FeedState,
        now: DateTime<Utc>,
    ) -> Vec<FeedEventAlert> {
        let Some(kind) = health_event(before, after, self.config.daemon.failing_after) else {
            return Vec::new();
        };
        let info = FeedInfo {
            name: feed.name.clone(),
            url: after.url.clone(),
            error: after.error.clone(),
            consecutive_errors: after.consecutive_errors,
            http_status: after.http_status,
            last_ok: after.last_ok.map(crate::store::fmt_time),
            at: crate::store::fmt_time(now),
        };
        self.config
            .error_notifiers(feed)
            .into_iter()
            .map(|notifier| FeedEventAlert {
                // Unique per feed, event, poll and notifier; stored once, so every resend
                // carries it.
                uid: crate::identity::alert_uid(&info.at, &feed.name, kind.as_str(), notifier),
                notifier: notifier.to_string(),
                kind,
                feed: info.clone(),
            })
            .collect()
    }

    /// Fetch and run the CPU stage: everything a poll does before it writes. An HTML page that
    /// names its feed (autodiscovery) is followed at once, and the feed is kept like a
    /// permanent move: polled at its own address from then on.
    async fn attempt(&self, feed: &FeedConfig, url: &Url, state: &FeedState) -> Attempt {
        // Judged by the URL the operator wrote, also when polling the one it moved to.
        let reach = Reach::written(&feed.url);
        let (mut attempt, discovered) = self
            .fetch_and_read(feed, url, state, &state.validators, reach)
            .await;
        let Some((link, reach)) = discovered else {
            return attempt;
        };
        // The link is fetched with the page's reach: a public page cannot name a private feed.
        let (mut found, _) = self
            .fetch_and_read(feed, &link, state, &Validators::default(), reach)
            .await;
        match &found.result {
            PollResult::Fetched { .. } => {
                tracing::warn!(feed = %feed.name, page = %url, feed_url = %link,
                    "the address serves an HTML page that names its feed: polling the feed from now on");
                found.moved_to = Some(found.moved_to.take().unwrap_or_else(|| link.to_string()));
                found.announced = true;
                found
            }
            PollResult::Failed { error } => {
                attempt.result = PollResult::Failed {
                    error: format!(
                        "the server sent an HTML page naming the feed {link}, which failed: {error}"
                    ),
                };
                attempt
            }
            _ => {
                attempt.result = PollResult::Failed {
                    error: format!(
                        "the server sent an HTML page naming the feed {link}, which gave no feed"
                    ),
                };
                attempt
            }
        }
    }

    /// One fetch and its CPU stage; the second value is the feed an HTML page names, if the
    /// body was such a page.
    async fn fetch_and_read(
        &self,
        feed: &FeedConfig,
        url: &Url,
        state: &FeedState,
        validators: &Validators,
        reach: Reach,
    ) -> (Attempt, Option<(Url, Reach)>) {
        let resp = match self.fetcher.fetch(url, validators, reach).await {
            Ok(resp) => resp,
            Err(e) => {
                return (
                    Attempt::failed(e.to_string(), e.http_status(), e.retry_after()),
                    None,
                );
            }
        };
        let moved_to = resp.moved_to.as_ref().map(Url::to_string);
        let mut discovered = None;
        let (result, prepared) = match resp.outcome {
            Outcome::NotModified => (PollResult::NotModified, Prepared::default()),
            Outcome::Gone => (PollResult::Gone, Prepared::default()),
            Outcome::Body {
                body,
                content_type,
                validators,
            } => {
                let base = resp.moved_to.clone().unwrap_or_else(|| url.clone());
                match self.process(feed, state, body, content_type, base).await {
                    Ok(mut p) => (
                        PollResult::Fetched {
                            validators,
                            title: p.title.take(),
                            key_mode: p.key_mode,
                            repairs: std::mem::take(&mut p.repairs),
                            doc_hint: p.doc_hint.take(),
                        },
                        p,
                    ),
                    // Validators are not kept: the next poll must fetch the body again.
                    Err(ReadFailure::Discovered(link, error)) => {
                        discovered = Some((link, resp.reach));
                        (PollResult::Failed { error }, Prepared::default())
                    }
                    Err(ReadFailure::Error(error)) => {
                        (PollResult::Failed { error }, Prepared::default())
                    }
                }
            }
        };
        let attempt = Attempt {
            result,
            http_status: Some(resp.status),
            moved_to,
            items: prepared.items,
            still_listed: prepared.still_listed,
            not_before: None,
            hint: resp.hint,
            announced: false,
        };
        (attempt, discovered)
    }

    /// The CPU stage for one body, on the CPU pool.
    async fn process(
        &self,
        feed: &FeedConfig,
        state: &FeedState,
        body: Vec<u8>,
        content_type: Option<String>,
        base: Url,
    ) -> Result<Prepared, ReadFailure> {
        let (config, store) = (Arc::clone(&self.config), Arc::clone(&self.store));
        let (feed, feed_id, key_mode) = (feed.clone(), state.id, state.key_mode);
        let job = move || -> Result<Prepared, ReadFailure> {
            // Counted from here, on the worker: waiting for one is not this document's doing.
            let deadline = Deadline::for_cpu_stage();
            let doc = match parse_feed_within(&body, content_type.as_deref(), &base, &deadline) {
                Ok(doc) => doc,
                Err(e) => {
                    return Err(match &e {
                        ParseError::Html { feeds } if !feeds.is_empty() => {
                            ReadFailure::Discovered(feeds[0].clone(), e.to_string())
                        }
                        _ => ReadFailure::Error(e.to_string()),
                    });
                }
            };
            drop(body);
            let known = |keys: &[&str]| store.known_entries(feed_id, keys);
            prepare(doc, &config, &feed, key_mode, known, &deadline)
                .map_err(|e| ReadFailure::Error(format!("{e:#}")))
        };
        match self.cpu.run(job).await {
            Ok(r) => r,
            Err(p) => Err(ReadFailure::Error(format!(
                "internal error while reading this feed (please report it): {}",
                p.0
            ))),
        }
    }

    /// Poll every feed of `feeds` now, within the configured limits, and report in their order;
    /// `on_done` sees each report as its poll ends (for progress).
    pub async fn sweep(
        &self,
        feeds: Vec<(FeedConfig, FeedState)>,
        mut on_done: impl FnMut(&FeedReport),
    ) -> Vec<(FeedReport, Option<FeedState>)> {
        let d = &self.config.daemon;
        let mut admission = Admission::new(d.concurrency, d.per_host);
        for (i, (feed, state)) in feeds.iter().enumerate() {
            admission.push(&host_of(&state.url, feed), i);
        }
        let mut slots: Vec<Option<(FeedReport, Option<FeedState>)>> =
            feeds.iter().map(|_| None).collect();
        let feeds = Arc::new(feeds);
        let mut tasks: JoinSet<(usize, String, PollDone)> = JoinSet::new();
        loop {
            while let Some((host, i)) = admission.pop() {
                let (poller, feeds) = (self.clone(), Arc::clone(&feeds));
                tasks.spawn(async move {
                    let (feed, state) = &feeds[i];
                    (i, host, poller.poll_guarded(feed, state).await)
                });
            }
            let Some(done) = tasks.join_next().await else {
                break;
            };
            match done {
                Ok((i, host, done)) => {
                    admission.finish(&host);
                    on_done(&done.report);
                    slots[i] = Some((done.report, done.state));
                }
                // Only cancellation ends a guarded poll task early.
                Err(e) => tracing::error!(error = %e, "poll task failed"),
            }
        }
        slots
            .into_iter()
            .zip(feeds.iter())
            .map(|(s, (f, _))| {
                s.unwrap_or_else(|| {
                    (
                        FeedReport::skipped(&f.name, "internal error: the poll task failed".into()),
                        None,
                    )
                })
            })
            .collect()
    }
}

/// The host a feed's polls count against.
pub fn host_of(url: &str, feed: &FeedConfig) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .or_else(|| feed.url.host_str().map(str::to_string))
        .unwrap_or_default()
}

fn report(
    feed: &FeedConfig,
    record: &PollRecord,
    url: &Url,
    summary: &IngestSummary,
    state: &FeedState,
    announce_move: bool,
) -> FeedReport {
    let (status, error) = match &record.result {
        PollResult::Fetched { .. } => ("ok", None),
        PollResult::NotModified => ("not_modified", None),
        PollResult::Gone => ("gone", Some("410 Gone: polling stopped".to_string())),
        PollResult::Failed { error } => ("error", Some(error.clone())),
    };
    if let (Some(to), None, true) = (&record.moved_to, &error, announce_move) {
        tracing::warn!(feed = %feed.name, from = %url, to = %to, "feed moved permanently; polling the new address from now on");
    }
    let next_poll = record.next_poll.to_rfc3339();
    match &error {
        None => tracing::info!(feed = %feed.name, status, new = summary.new_items,
            updated = summary.updated_items, alerts = summary.alerts_created, %next_poll, "polled"),
        Some(err) if status == "gone" => {
            tracing::warn!(feed = %feed.name, error = %err, "feed is gone; `feedwatch feeds reset` resumes it")
        }
        Some(err) => tracing::warn!(feed = %feed.name, status, error = %err,
            consecutive_errors = state.consecutive_errors, %next_poll, "poll failed"),
    }
    FeedReport {
        name: feed.name.clone(),
        status: status.into(),
        http_status: record.http_status,
        new_items: summary.new_items,
        updated_items: summary.updated_items,
        error,
        alerts_created: summary.alerts_created,
    }
}

/// Why a body gave no items.
enum ReadFailure {
    Error(String),
    /// An HTML page that names this feed (and the error to show if it cannot be followed).
    Discovered(Url, String),
}

/// What one fetch and CPU stage came to, before it is recorded.
struct Attempt {
    result: PollResult,
    http_status: Option<u16>,
    moved_to: Option<String>,
    items: Vec<NewItem>,
    still_listed: Vec<String>,
    /// A server's Retry-After.
    not_before: Option<DateTime<Utc>>,
    /// How long the publisher says the feed stays fresh (response headers).
    hint: Option<crate::hints::Hint>,
    /// The move was already logged (autodiscovery).
    announced: bool,
}

impl Attempt {
    fn failed(error: String, http_status: Option<u16>, not_before: Option<DateTime<Utc>>) -> Self {
        Self {
            result: PollResult::Failed { error },
            http_status,
            moved_to: None,
            items: Vec::new(),
            still_listed: Vec::new(),
            not_before,
            hint: None,
            announced: false,
        }
    }
}
